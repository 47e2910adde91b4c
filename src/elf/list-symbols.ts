/**
 * Listing symbols: every defined symbol of the wanted types whose name
 * matches a glob, from `.dynsym` and `.symtab` together, each function
 * once.
 *
 * `.dynsym` is read first because only it carries versym versions; a
 * `.symtab` entry for the same name and address is then skipped.
 *
 * Names are read a window of the string table at a time: a table's
 * entries are read in one piece (up to {@link BATCH_BYTES}), the wanted
 * ones are put in the order of the window their name lies in, and each
 * window is read once. Names are stored in no useful order (`.dynsym` is
 * ordered by hash bucket; `.strtab` shares suffixes), so reading them in
 * entry order either re-reads the same blocks many times or needs the
 * whole string table in memory, 12.8 MB for node (issue 13).
 */
import { inFile } from "../errors.js";
import { compileGlob, type Glob } from "../glob.js";
import { EM_ARM, EM_PPC64, SHN_UNDEF, STB_LOCAL, STT_FILE, STT_SECTION, SYMBOL_TYPE_NAMES } from "./constants.js";
import type { ElfFile } from "./elf-file.js";
import { locateIfInside, type FoundSymbol } from "./find-symbol.js";
import { decodeNameIn, scanName } from "./string-table.js";
import { bindingName, typeName, type ElfSymbol, type SymbolChunk, type SymbolTable } from "./symbols.js";

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
/** Symbol entries read in one piece (174k ELF64 entries: node's 110k-entry `.symtab` is one batch). */
const BATCH_BYTES = 4 * 1024 * 1024;
/** A string table is read in windows of 2^16 bytes, each once per batch. */
const WINDOW_BITS = 16;
/** Bytes read past a window's end, so that a name that starts near it ends in what was read; a longer one is read on its own. */
const WINDOW_SPILL = 4096;
/** Symbols built at a time: a consumer drops each group before the next scavenge, so none reaches the old generation. */
const GROUP = 256;

/**
 * Streams matching symbols as {@link ElfSymbol}s, `.dynsym`'s first, each
 * (name, address) once. Undefined symbols and section/file symbols are
 * skipped. Within a table the order is that of their names in its string
 * table (a window at a time), not the entries' order.
 */
export function* iterateSymbols(elf: ElfFile, options: ListSymbolsOptions = {}): Generator<ElfSymbol> {
  yield* scanTables(elf, options, undefined) as Generator<ElfSymbol>;
}

/**
 * The matching symbols of both tables: as {@link ElfSymbol}s, or with
 * `listing`, as {@link ListedSymbol}s built straight from the entries'
 * bytes (an intermediate ElfSymbol per function was half of what listing
 * node allocated), leaving out those no segment holds.
 */
function* scanTables(elf: ElfFile, options: ListSymbolsOptions, listing: Listing | undefined): Generator<ElfSymbol | ListedSymbol> {
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
    const exported = dynsym !== undefined && symtab !== undefined ? new ExportedSet(dynsym.count) : undefined;
    // One buffer for the entries and one for a window of names, reused by both tables.
    const tables = [dynsym, symtab].filter((t) => t !== undefined);
    const buffers: Buffers = {
      entries: new Uint8Array(Math.min(BATCH_BYTES, Math.max(0, ...tables.map((t) => t.count * t.entrySize)))),
      window: new Uint8Array((1 << WINDOW_BITS) + WINDOW_SPILL),
    };
    for (const table of tables) {
      const scan: Scan = {
        table,
        isDynamic: table.kind === "dynsym",
        typeWanted,
        exported,
        glob,
        is64: table.entrySize === 24,
        littleEndian: elf.header.littleEndian,
        listing,
      };
      table.retain("versions");
      try {
        const perBatch = Math.max(1, Math.floor(BATCH_BYTES / table.entrySize));
        for (let first = 1; first < table.count; first += perBatch) {
          yield* scanBatch(scan, table.entries(first, Math.min(perBatch, table.count - first), buffers.entries), buffers.window);
        }
      } finally {
        table.release();
      }
    }
  } catch (error) {
    throw inFile(error, elf.name);
  }
}

/** The reused buffers of one listing: the batch of entries, and the window of names. */
interface Buffers {
  readonly entries: Uint8Array;
  readonly window: Uint8Array;
}

/** What a pass over one table needs. */
interface Scan {
  readonly table: SymbolTable;
  readonly isDynamic: boolean;
  readonly typeWanted: Uint8Array;
  readonly exported: ExportedSet | undefined;
  readonly glob: Glob | undefined;
  readonly is64: boolean;
  readonly littleEndian: boolean;
  /** Set when the pass builds {@link ListedSymbol}s, see {@link listedAt}. */
  readonly listing: Listing | undefined;
}

/** What building a {@link ListedSymbol} needs besides the entry. */
interface Listing {
  readonly elf: ElfFile;
  /**
   * True where a function's code address is its st_value (all but ARM and
   * ppc64, see `codeAddress`): its offset is then found without building an
   * ElfSymbol first.
   */
  readonly valueIsCode: boolean;
}

/** The wanted entries of a batch grouped by the window of their name: window `w`'s are `entries[starts[w]]` up to `entries[starts[w + 1]]`. */
interface WindowOrder {
  readonly starts: Uint32Array;
  readonly entries: Uint32Array;
}

/** The matching symbols of one batch, window by window. */
function* scanBatch(scan: Scan, chunk: SymbolChunk, windowBuffer: Uint8Array): Generator<ElfSymbol | ListedSymbol> {
  const strings = scan.table.strings;
  const { starts, entries } = windowOrder(scan, chunk);
  for (let w = 0; w + 1 < starts.length; w++) {
    const from = starts[w] as number;
    const to = starts[w + 1] as number;
    if (from === to) continue;
    const base = w * (1 << WINDOW_BITS);
    // Every symbol of a window is built (its name copied into a string) before the next window is read into the buffer.
    const window = { bytes: strings.bytes(base, (1 << WINDOW_BITS) + WINDOW_SPILL, windowBuffer), base };
    for (let k = from; k < to; k += GROUP) yield* scanEntries(scan, chunk, entries, k, Math.min(to, k + GROUP), window);
  }
}

/**
 * Tests every entry of the batch on its raw bytes (defined, a wanted type,
 * named) and sorts the ones that pass by name window, a counting sort that
 * keeps entry order within a window. An `st_name` past the table's end goes
 * in the last window, whose read then fails as a lookup of it would.
 */
function windowOrder(scan: Scan, chunk: SymbolChunk): WindowOrder {
  const view = new DataView(chunk.bytes.buffer, chunk.bytes.byteOffset, chunk.bytes.byteLength);
  const le = scan.littleEndian;
  const size = scan.is64 ? 24 : 16;
  const infoAt = scan.is64 ? 4 : 12;
  const shndxAt = scan.is64 ? 6 : 14;
  const last = scan.table.strings.size >>> WINDOW_BITS;
  // Locals, not property loads, in the loops: they run once per table, mostly before V8 optimises them.
  const typeWanted = scan.typeWanted;
  const count = chunk.count;
  const starts = new Uint32Array(last + 2);
  const windowOf = new Uint32Array(count);
  let wantedCount = 0;
  for (let i = 0; i < count; i++) {
    const o = i * size;
    const nameIndex = view.getUint32(o, le);
    if (nameIndex === 0 || typeWanted[view.getUint8(o + infoAt) & 0xf] === 0 || view.getUint16(o + shndxAt, le) === SHN_UNDEF) {
      windowOf[i] = 0xffffffff;
      continue;
    }
    const w = Math.min(last, nameIndex >>> WINDOW_BITS);
    windowOf[i] = w;
    starts[w + 1] = (starts[w + 1] as number) + 1;
    wantedCount++;
  }
  for (let w = 1; w < starts.length; w++) starts[w] = (starts[w] as number) + (starts[w - 1] as number);
  const next = starts.slice(0, -1);
  const entries = new Uint32Array(wantedCount);
  for (let i = 0; i < count; i++) {
    const w = windowOf[i] as number;
    if (w === 0xffffffff) continue;
    entries[next[w] as number] = i;
    next[w] = (next[w] as number) + 1;
  }
  return { starts, entries };
}

/**
 * The matching symbols among `entries[from, to)` of a batch, their names
 * in `window` (the string table's bytes from `window.base`). A plain
 * function, not a generator: V8 optimises it after a few calls, which is
 * most of a cold listing's time.
 */
function scanEntries(
  scan: Scan,
  chunk: SymbolChunk,
  entries: Uint32Array,
  from: number,
  to: number,
  window: { readonly bytes: Uint8Array; readonly base: number },
): (ElfSymbol | ListedSymbol)[] {
  const { table, isDynamic, exported, glob, is64, littleEndian: le, listing } = scan;
  const view = new DataView(chunk.bytes.buffer, chunk.bytes.byteOffset, chunk.bytes.byteLength);
  const size = is64 ? 24 : 16;
  // gABI Elf64_Sym / Elf32_Sym field offsets.
  const infoAt = is64 ? 4 : 12;
  const valueAt = is64 ? 8 : 4;
  const sizeAt = is64 ? 16 : 8;
  const { bytes, base } = window;
  const name = { hash: 0 };
  const matched: (ElfSymbol | ListedSymbol)[] = [];
  for (let k = from; k < to; k++) {
    const i = entries[k] as number;
    const o = i * size;
    const nameIndex = view.getUint32(o, le);
    const at = nameIndex - base;
    const end = at < bytes.length ? scanName(bytes, at, name) : -1;
    let key0 = 0;
    let key1 = 0;
    let id = 0;
    if (exported !== undefined) {
      // The entry's address words and a hash of base name and size, see ExportedSet.
      key0 = view.getUint32(o + valueAt, le);
      key1 = is64 ? view.getUint32(o + valueAt + 4, le) : 0;
      const sizeWord = is64 ? view.getUint32(o + sizeAt, le) ^ view.getUint32(o + sizeAt + 4, le) : view.getUint32(o + sizeAt, le);
      id = identity(end >= 0 ? name.hash : table.strings.baseNameHash(nameIndex), sizeWord);
      // A `.symtab` copy of an exported symbol is recognised before its name is even decoded.
      if (!isDynamic && view.getUint8(o + infoAt) >> 4 !== STB_LOCAL && exported.has(key0, key1, id)) continue;
    }
    // A name that runs past the window's spill (or an index past the table) is read on its own.
    const fullName = end >= 0 ? decodeNameIn(bytes, at, end) : table.strings.get(nameIndex);
    let found: ElfSymbol | ListedSymbol | undefined;
    if (listing !== undefined && listing.valueIsCode) {
      // listedAt's name and version rules are SymbolTable.symbolNamed's, and its offset locateIfInside's.
      const version = table.versionOf(chunk.first + i);
      let baseName = fullName;
      let versionName: string | null = null;
      let isDefaultVersion = true;
      if (version !== undefined) {
        versionName = version.name;
        isDefaultVersion = version.isDefault;
      } else {
        const atSign = fullName.indexOf("@");
        if (atSign > 0) {
          baseName = fullName.slice(0, atSign);
          isDefaultVersion = fullName[atSign + 1] === "@";
          versionName = fullName.slice(atSign + (isDefaultVersion ? 2 : 1));
        }
      }
      if (glob !== undefined && !matches(glob, baseName, versionName, isDefaultVersion)) continue;
      found = listedAt(listing.elf, view, o, is64, le, baseName, versionName, isDefaultVersion);
    } else {
      const symbol = table.symbolNamed(chunk, i, fullName);
      if (glob !== undefined && !matches(glob, symbol.name, symbol.version, symbol.isDefaultVersion)) continue;
      found = listing === undefined ? symbol : tryLocate(listing.elf, symbol);
    }
    if (isDynamic && exported !== undefined) exported.add(key0, key1, id);
    if (found !== undefined) matched.push(found);
  }
  return matched;
}

/**
 * The {@link ListedSymbol} of the entry at `o`, or undefined when no
 * segment holds it: `locateIfInside` for a machine whose code address is
 * st_value, without the ElfSymbol it takes. The field order is the same,
 * so both print alike.
 */
function listedAt(
  elf: ElfFile,
  view: DataView,
  o: number,
  is64: boolean,
  le: boolean,
  name: string,
  version: string | null,
  isDefaultVersion: boolean,
): ListedSymbol | undefined {
  const info = view.getUint8(o + (is64 ? 4 : 12));
  const address = is64 ? view.getBigUint64(o + 8, le) : BigInt(view.getUint32(o + 4, le));
  // Number(st_size) without a bigint: the high word times 2^32 is exact, and the one rounding of the sum is Number()'s.
  const size = is64 ? view.getUint32(o + (le ? 16 : 20), le) + view.getUint32(o + (le ? 20 : 16), le) * 0x100000000 : view.getUint32(o + 8, le);
  const fileOffset = elf.fileOffsetOf(address, "code") ?? elf.fileOffsetOf(address, "data");
  if (fileOffset === undefined) return undefined;
  const type = info & 0xf;
  const binding = info >> 4;
  return {
    file: elf.name,
    name,
    version,
    isDefaultVersion,
    address,
    fileOffset,
    size,
    type: typeName(type),
    binding: bindingName(binding),
  };
}

/**
 * Every matching symbol with its file offset, sorted by name then address.
 * Symbols whose address lies outside every executable segment (data, TLS)
 * are listed with the offset of the data segment that holds them, or skipped
 * when no segment does.
 */
export function listSymbolsIn(elf: ElfFile, options: ListSymbolsOptions = {}): ListedSymbol[] {
  const machine = elf.header.e_machine;
  const listing: Listing = { elf, valueIsCode: machine !== EM_ARM && machine !== EM_PPC64 };
  const result: ListedSymbol[] = [];
  for (const symbol of scanTables(elf, options, listing)) result.push(symbol as ListedSymbol);
  return result.sort(byNameThenAddress);
}

/**
 * Name, then address. Unequal names are told apart by one `<` (the
 * comparator ran `<` then `>` on half of them); `===` first costs little,
 * as names of different lengths differ at once. For node's 85,797
 * functions this is ~1.5M calls on names that share long prefixes.
 */
function byNameThenAddress(a: ListedSymbol, b: ListedSymbol): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}

function tryLocate(elf: ElfFile, symbol: ElfSymbol): ListedSymbol | undefined {
  return locateIfInside(elf, symbol, "code") ?? locateIfInside(elf, symbol, "data");
}

/**
 * The exported (`.dynsym`) definitions, to skip their `.symtab` copies.
 * Locals never appear in `.dynsym`, so only non-local `.symtab` entries are
 * checked. Each definition is three 32-bit words: the two words of its
 * address as stored, and a 30-bit hash of its base name and size computed
 * from the name's characters, in an open-addressing table of typed arrays:
 * a 75k-symbol `.dynsym` costs 1.5 MiB and no object per symbol, and a
 * duplicate is skipped without decoding its name. A false match needs two
 * aliases at one address with equal sizes and colliding FNV-1a hashes.
 */
class ExportedSet {
  /** Triples (address word 0, address word 1, identity + 1); identity + 1 of 0 marks a free slot. */
  #slots: Int32Array;
  #mask: number;
  #used = 0;

  /**
   * Sized for `expected` definitions (`.dynsym`'s entry count) at most 3/4
   * full: growing by doubling would leave each smaller table allocated
   * until a GC, 2.3 MB more at the peak for node.
   */
  constructor(expected: number) {
    let slots = 1024;
    while (slots * 3 < expected * 4) slots *= 2;
    this.#slots = new Int32Array(3 * slots);
    this.#mask = slots - 1;
  }

  add(key0: number, key1: number, id: number): void {
    if (this.has(key0, key1, id)) return;
    if (4 * (this.#used + 1) > 3 * (this.#mask + 1)) this.#grow();
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

function matches(glob: Glob, name: string, version: string | null | undefined, isDefaultVersion: boolean): boolean {
  if (!glob.source.includes("@")) return glob.test(name);
  if (version === undefined || version === null) return glob.test(name);
  return glob.test(`${name}${isDefaultVersion ? "@@" : "@"}${version}`) || glob.test(`${name}@${version}`);
}
