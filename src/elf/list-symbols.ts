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
import { symbolBinding, type ElfSymbol, type RawSymbol, type SymbolTable } from "./symbols.js";

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
  const glob = options.pattern === undefined ? undefined : compileGlob(options.pattern);
  const wanted = new Set(options.types ?? DEFAULT_TYPES);
  // Section and file symbols name no code or data: never listed, whatever `types` says.
  const types = new Set(
    Object.entries(SYMBOL_TYPE_NAMES)
      .filter(([type, name]) => wanted.has(name) && Number(type) !== STT_SECTION && Number(type) !== STT_FILE)
      .map(([type]) => Number(type)),
  );
  const exported = new ExportedSet();
  const accept = (info: number, shndx: number, name: number): boolean => shndx !== SHN_UNDEF && name !== 0 && types.has(info & 0xf);
  try {
    const symtab = elf.symbolTable("symtab") ?? options.symbolSources?.map((s) => s.symbolTable("symtab")).find((t) => t !== undefined);
    for (const table of [elf.symbolTable("dynsym"), symtab]) {
      if (table === undefined) continue;
      const isDynamic = table.kind === "dynsym";
      // `.dynsym` is ordered by hash bucket, so its names are scattered over
      // `.dynstr`: hold that table. `.symtab` names follow the entries
      // closely and stream well through the block cache.
      table.retain();
      try {
        for (const batch of table.batches(accept)) {
          const matched: ElfSymbol[] = [];
          for (const raw of batch) {
            // A `.symtab` copy of an exported symbol is recognised before its name is even decoded.
            if (!isDynamic && symbolBinding(raw) !== STB_LOCAL && exported.has(raw, table)) continue;
            const symbol = table.resolve(raw);
            if (glob !== undefined && !matches(glob, symbol)) continue;
            if (isDynamic && symtab !== undefined) exported.add(raw, table);
            matched.push(symbol);
          }
          yield* matched;
        }
      } finally {
        table.release();
      }
    }
  } catch (error) {
    throw inFile(error, elf.name);
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
 * checked. Keyed by address, holding a 30-bit hash of base name and size
 * computed from the name's bytes: a 75k-symbol `.dynsym` then costs a map of
 * small integers instead of 75k retained strings, and a duplicate is
 * skipped without decoding its name. A false match needs two aliases at one
 * address with equal sizes and colliding FNV-1a hashes.
 */
class ExportedSet {
  readonly #byAddress = new Map<number, number | number[]>();

  add(raw: RawSymbol, table: SymbolTable): void {
    const key = Number(raw.st_value);
    const hash = identity(raw, table);
    const previous = this.#byAddress.get(key);
    if (previous === undefined) this.#byAddress.set(key, hash);
    else if (typeof previous === "number") this.#byAddress.set(key, [previous, hash]);
    else previous.push(hash);
  }

  has(raw: RawSymbol, table: SymbolTable): boolean {
    const known = this.#byAddress.get(Number(raw.st_value));
    if (known === undefined) return false;
    const hash = identity(raw, table);
    return known === hash || (Array.isArray(known) && known.includes(hash));
  }
}

function identity(raw: RawSymbol, table: SymbolTable): number {
  const h = Math.imul(table.strings.baseNameHash(raw.st_name) ^ Number(raw.st_size & 0xffffffffn), 0x01000193);
  return (h >>> 2) & 0x3fffffff;
}

function matches(glob: Glob, symbol: ElfSymbol): boolean {
  if (!glob.source.includes("@")) return glob.test(symbol.name);
  if (symbol.version === undefined) return glob.test(symbol.name);
  return glob.test(`${symbol.name}${symbol.isDefaultVersion ? "@@" : "@"}${symbol.version}`) || glob.test(`${symbol.name}@${symbol.version}`);
}
