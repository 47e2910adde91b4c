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
import type { ElfSymbol, SymbolChunk, SymbolTable } from "./symbols.js";

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
  const typeWanted = new Uint8Array(16);
  for (const [type, name] of Object.entries(SYMBOL_TYPE_NAMES)) {
    if (wanted.has(name) && Number(type) !== STT_SECTION && Number(type) !== STT_FILE) typeWanted[Number(type) & 0xf] = 1;
  }
  try {
    const dynsym = elf.symbolTable("dynsym");
    const symtab = elf.symbolTable("symtab") ?? options.symbolSources?.map((s) => s.symbolTable("symtab")).find((t) => t !== undefined);
    const exported = dynsym !== undefined && symtab !== undefined ? new ExportedSet() : undefined;
    for (const table of [dynsym, symtab]) {
      if (table === undefined) continue;
      const isDynamic = table.kind === "dynsym";
      // `.dynsym` is ordered by hash bucket, so its names are scattered over
      // `.dynstr`: hold that table while it is read. `.strtab` is held too:
      // streaming its names through the block cache read 12% more bytes and
      // cost more time, for no lower peak (measured on node).
      table.retain();
      try {
        const scan = { table, isDynamic, typeWanted, exported, glob, is64: table.entrySize === 24 };
        for (const chunk of table.chunks()) {
          // Small batches: a consumer drops each before the next scavenge, so nothing is promoted
          // to the old generation (a 4096-object batch lived long enough to be, doubling peak RSS).
          for (let start = 0; start < chunk.count; start += 256) yield* scanEntries(scan, chunk, start, Math.min(chunk.count, start + 256));
        }
      } finally {
        table.release();
      }
    }
  } catch (error) {
    throw inFile(error, elf.name);
  }
}

/** What {@link scanEntries} needs of one pass over one table. */
interface Scan {
  readonly table: SymbolTable;
  readonly isDynamic: boolean;
  readonly typeWanted: Uint8Array;
  readonly exported: ExportedSet | undefined;
  readonly glob: Glob | undefined;
  readonly is64: boolean;
}

/**
 * The matching symbols among entries [start, end) of a chunk. A plain
 * function, not the generator's body: V8 optimises it after a few calls,
 * which is most of a cold listing's time.
 */
function scanEntries(scan: Scan, chunk: SymbolChunk, start: number, end: number): ElfSymbol[] {
  const { table, isDynamic, typeWanted, exported, glob, is64 } = scan;
  const f = chunk.fields;
  const size = is64 ? 24 : 16;
  // gABI Elf64_Sym / Elf32_Sym field offsets.
  const infoAt = is64 ? 4 : 12;
  const shndxAt = is64 ? 6 : 14;
  const valueAt = is64 ? 8 : 4;
  const sizeAt = is64 ? 16 : 8;
  const matched: ElfSymbol[] = [];
  for (let i = start; i < end; i++) {
    const o = i * size;
    // Tested on the raw bytes first: a rejected entry costs no object and no bigint.
    const info = f.u8(o + infoAt);
    const nameIndex = f.u32(o);
    if (nameIndex === 0 || typeWanted[info & 0xf] === 0 || f.u16(o + shndxAt) === SHN_UNDEF) continue;
    let key0 = 0;
    let key1 = 0;
    let id = 0;
    if (exported !== undefined) {
      // The entry's address words and a hash of base name and size, see ExportedSet.
      key0 = f.u32(o + valueAt);
      key1 = is64 ? f.u32(o + valueAt + 4) : 0;
      const sizeWord = is64 ? f.u32(o + sizeAt) ^ f.u32(o + sizeAt + 4) : f.u32(o + sizeAt);
      id = identity(table.strings.baseNameHash(nameIndex), sizeWord);
      // A `.symtab` copy of an exported symbol is recognised before its name is even decoded.
      if (!isDynamic && info >> 4 !== STB_LOCAL && exported.has(key0, key1, id)) continue;
    }
    const symbol = table.symbolAt(chunk, i);
    if (glob !== undefined && !matches(glob, symbol)) continue;
    if (isDynamic && exported !== undefined) exported.add(key0, key1, id);
    matched.push(symbol);
  }
  return matched;
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
 * checked. Each definition is three 32-bit words: the two words of its
 * address as stored, and a 30-bit hash of its base name and size computed
 * from the name's characters, in an open-addressing table of typed arrays:
 * a 75k-symbol `.dynsym` costs about 3 MiB and no object per symbol, and a
 * duplicate is skipped without decoding its name. A false match needs two
 * aliases at one address with equal sizes and colliding FNV-1a hashes.
 */
class ExportedSet {
  /** Triples (address word 0, address word 1, identity + 1); identity + 1 of 0 marks a free slot. */
  #slots = new Int32Array(3 * 1024);
  #mask = 1023;
  #used = 0;

  add(key0: number, key1: number, id: number): void {
    if (this.has(key0, key1, id)) return;
    if (2 * (this.#used + 1) > this.#mask + 1) this.#grow();
    this.#put(key0, key1, id);
    this.#used++;
  }

  has(key0: number, key1: number, id: number): boolean {
    const slots = this.#slots;
    for (let slot = slotOf(key0, key1, id) & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const tag = slots[3 * slot + 2];
      if (tag === 0) return false;
      if (tag === id + 1 && slots[3 * slot] === (key0 | 0) && slots[3 * slot + 1] === (key1 | 0)) return true;
    }
  }

  #put(key0: number, key1: number, id: number): void {
    const slots = this.#slots;
    let slot = slotOf(key0, key1, id) & this.#mask;
    while (slots[3 * slot + 2] !== 0) slot = (slot + 1) & this.#mask;
    slots[3 * slot] = key0;
    slots[3 * slot + 1] = key1;
    slots[3 * slot + 2] = id + 1;
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Int32Array(old.length * 2);
    this.#mask = this.#mask * 2 + 1;
    for (let i = 0; i < old.length; i += 3) {
      const tag = old[i + 2] ?? 0;
      if (tag !== 0) this.#put(old[i] ?? 0, old[i + 1] ?? 0, tag - 1);
    }
  }
}

function slotOf(key0: number, key1: number, id: number): number {
  const h = Math.imul(key0 ^ Math.imul(key1, 0x9e3779b1) ^ Math.imul(id, 0x85ebca6b), 0xc2b2ae35);
  return h ^ (h >>> 15);
}

/** A 30-bit hash of a base name's hash and a size word. */
function identity(nameHash: number, size: number): number {
  const h = Math.imul(nameHash ^ size, 0x01000193);
  return (h >>> 2) & 0x3fffffff;
}

function matches(glob: Glob, symbol: ElfSymbol): boolean {
  if (!glob.source.includes("@")) return glob.test(symbol.name);
  if (symbol.version === undefined) return glob.test(symbol.name);
  return glob.test(`${symbol.name}${symbol.isDefaultVersion ? "@@" : "@"}${symbol.version}`) || glob.test(`${symbol.name}@${symbol.version}`);
}
