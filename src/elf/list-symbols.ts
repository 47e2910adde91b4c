/**
 * Listing symbols: every defined symbol of the wanted types whose name
 * matches a glob, from `.dynsym` and `.symtab` together, each function
 * once.
 *
 * `.dynsym` is read first because only it carries versym versions; a
 * `.symtab` entry for the same name and address is then skipped. Entries are
 * streamed, so {@link iterateSymbols} holds one chunk of one table at a time.
 */
import { compileGlob, type Glob } from "../glob.js";
import { SHN_UNDEF, STB_LOCAL, STT_FILE, STT_SECTION } from "./constants.js";
import type { ElfFile } from "./elf-file.js";
import { locate, type FoundSymbol } from "./find-symbol.js";
import { symbolType, typeName, type ElfSymbol } from "./symbols.js";

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
  const types = new Set(options.types ?? DEFAULT_TYPES);
  // Exported definitions by address, to skip their `.symtab` copies. Locals
  // never appear in `.dynsym`, so only non-local `.symtab` entries are checked.
  const exported = new Map<number, string | string[]>();
  const symtab = elf.symbolTable("symtab") ?? options.symbolSources?.map((s) => s.symbolTable("symtab")).find((t) => t !== undefined);
  for (const table of [elf.symbolTable("dynsym"), symtab]) {
    if (table === undefined) continue;
    const kind = table.kind;
    table.strings.retain();
    try {
      for (const raw of table.raw()) {
        const type = symbolType(raw);
        if (raw.st_shndx === SHN_UNDEF || raw.st_name === 0 || type === STT_SECTION || type === STT_FILE) continue;
        if (!types.has(typeName(type))) continue;
        const symbol = table.resolve(raw);
        if (glob !== undefined && !matches(glob, symbol)) continue;
        if (kind === "dynsym") remember(exported, symbol);
        else if (symbol.binding !== STB_LOCAL && isExported(exported, symbol)) continue;
        yield symbol;
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
  if (elf.fileOffsetOf(symbol.value, "code") !== undefined) return locate(elf, symbol);
  if (elf.fileOffsetOf(symbol.value, "data") === undefined) return undefined;
  return locate(elf, symbol, "data");
}

function remember(exported: Map<number, string | string[]>, symbol: ElfSymbol): void {
  const address = Number(symbol.value);
  const previous = exported.get(address);
  if (previous === undefined) exported.set(address, symbol.name);
  else if (typeof previous === "string") exported.set(address, [previous, symbol.name]);
  else previous.push(symbol.name);
}

function isExported(exported: Map<number, string | string[]>, symbol: ElfSymbol): boolean {
  const names = exported.get(Number(symbol.value));
  return names === symbol.name || (Array.isArray(names) && names.includes(symbol.name));
}

function matches(glob: Glob, symbol: ElfSymbol): boolean {
  if (!glob.source.includes("@")) return glob.test(symbol.name);
  if (symbol.version === undefined) return glob.test(symbol.name);
  return glob.test(`${symbol.name}${symbol.isDefaultVersion ? "@@" : "@"}${symbol.version}`) || glob.test(`${symbol.name}@${symbol.version}`);
}
