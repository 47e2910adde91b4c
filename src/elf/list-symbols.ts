/**
 * Listing symbols: every defined symbol of the wanted types whose name
 * matches a glob, from `.dynsym` and `.symtab` together, each function
 * once.
 *
 * `.dynsym` is read first because only it carries versym versions; a
 * `.symtab` entry for the same name and address is then skipped. Entries are
 * streamed, so {@link iterateSymbols} holds one chunk of one table at a time
 * (plus, while it reads a table, that table's strings: names are stored in
 * no useful order, so reading them one by one would cost far more I/O).
 */
import { inFile } from "../errors.js";
import { compileGlob, type Glob } from "../glob.js";
import { SHN_UNDEF, STB_LOCAL, STT_FILE, STT_SECTION, SYMBOL_TYPE_NAMES } from "./constants.js";
import type { ElfFile } from "./elf-file.js";
import { codeAddress, locate, type FoundSymbol } from "./find-symbol.js";
import { symbolType, type ElfSymbol } from "./symbols.js";

/** What {@link listSymbolsIn} returns for each match. */
export type ListedSymbol = FoundSymbol;

/** Options for listing symbols. */
export interface ListSymbolsOptions {
  /** Glob on the name (`zoo_*`), or on `name@VERSION` when it contains `@`. Default: everything. */
  readonly pattern?: string;
  /** Symbol types to keep, by friendly name (`func`, `ifunc`, `object`, `notype`, …). Default: `func` and `ifunc`. */
  readonly types?: readonly string[];
  /** Files whose `.symtab` stands in when this one has none (a stripped binary's debug file). */
  readonly symbolSources?: readonly ElfFile[];
}

const DEFAULT_TYPES = ["func", "ifunc"] as const;

/**
 * Streams matching symbols as {@link ElfSymbol}s, `.dynsym` first, each
 * (name, address) once. Undefined symbols and section/file symbols are skipped.
 */
export function* iterateSymbols(elf: ElfFile, options: ListSymbolsOptions = {}): Generator<ElfSymbol> {
  try {
    yield* iterateUnwrapped(elf, options);
  } catch (error) {
    throw inFile(error, elf.name);
  }
}

function* iterateUnwrapped(elf: ElfFile, options: ListSymbolsOptions): Generator<ElfSymbol> {
  const glob = options.pattern === undefined ? undefined : compileGlob(options.pattern);
  const wanted = new Set(options.types ?? DEFAULT_TYPES);
  const types = new Set(Object.entries(SYMBOL_TYPE_NAMES).filter(([, name]) => wanted.has(name)).map(([type]) => Number(type)));
  const exported = new ExportedSet();
  const symtab = elf.symbolTable("symtab") ?? options.symbolSources?.map((s) => s.symbolTable("symtab")).find((t) => t !== undefined);
  for (const table of [elf.symbolTable("dynsym"), symtab]) {
    if (table === undefined) continue;
    const kind = table.kind;
    table.strings.retain();
    try {
      for (const batch of table.batches()) {
        const matched: ElfSymbol[] = [];
        for (const raw of batch) {
          const type = symbolType(raw);
          if (raw.st_shndx === SHN_UNDEF || raw.st_name === 0 || type === STT_SECTION || type === STT_FILE) continue;
          if (!types.has(type)) continue;
          const symbol = table.resolve(raw);
          if (glob !== undefined && !matches(glob, symbol)) continue;
          if (kind === "dynsym") {
            if (symtab !== undefined) exported.add(symbol);
          } else if (symbol.binding !== STB_LOCAL && exported.has(symbol)) continue;
          matched.push(symbol);
        }
        yield* matched;
      }
    } finally {
      table.strings.release();
    }
  }
}

/**
 * Every matching symbol with its file offset, sorted by name then address.
 * Symbols whose address lies outside every executable segment (data, TLS)
 * are listed with the offset of the data segment that holds them, or skipped
 * when no segment does.
 */
export function listSymbolsIn(elf: ElfFile, options: ListSymbolsOptions = {}): ListedSymbol[] {
  const result: ListedSymbol[] = [];
  for (const symbol of iterateSymbols(elf, options)) {
    const listed = tryLocate(elf, symbol);
    if (listed !== undefined) result.push(listed);
  }
  return result.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

function tryLocate(elf: ElfFile, symbol: ElfSymbol): ListedSymbol | undefined {
  if (elf.fileOffsetOf(codeAddress(elf, symbol), "code") !== undefined) return locate(elf, symbol);
  if (elf.fileOffsetOf(symbol.value, "data") === undefined) return undefined;
  return locate(elf, symbol, "data");
}

/**
 * The exported (`.dynsym`) definitions, to skip their `.symtab` copies.
 * Locals never appear in `.dynsym`, so only non-local `.symtab` entries are
 * checked. Keyed by address, holding a 32-bit hash of name and size rather
 * than the names themselves: a 75k-symbol `.dynsym` then costs a map of
 * small integers instead of 75k retained strings. A false match needs two
 * aliases at one address with equal sizes and colliding FNV-1a hashes.
 */
class ExportedSet {
  readonly #byAddress = new Map<number, number | number[]>();

  add(symbol: ElfSymbol): void {
    const key = Number(symbol.value);
    const hash = identity(symbol);
    const previous = this.#byAddress.get(key);
    if (previous === undefined) this.#byAddress.set(key, hash);
    else if (typeof previous === "number") this.#byAddress.set(key, [previous, hash]);
    else previous.push(hash);
  }

  has(symbol: ElfSymbol): boolean {
    const known = this.#byAddress.get(Number(symbol.value));
    if (known === undefined) return false;
    const hash = identity(symbol);
    return known === hash || (Array.isArray(known) && known.includes(hash));
  }
}

/** FNV-1a over the name's UTF-16 units and the size, folded to 30 bits so that V8 keeps it a small integer. */
function identity(symbol: ElfSymbol): number {
  let h = 0x811c9dc5;
  const name = symbol.name;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ Number(symbol.size & 0xffffffffn), 0x01000193);
  return (h >>> 2) & 0x3fffffff;
}

function matches(glob: Glob, symbol: ElfSymbol): boolean {
  if (!glob.source.includes("@")) return glob.test(symbol.name);
  if (symbol.version === undefined) return glob.test(symbol.name);
  return glob.test(`${symbol.name}${symbol.isDefaultVersion ? "@@" : "@"}${symbol.version}`) || glob.test(`${symbol.name}@${symbol.version}`);
}
