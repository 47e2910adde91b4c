/**
 * An address → function index for one ELF object, built once and searched
 * by binary search: what turns "0x1149 in libfoo.so" into "foo+0x9".
 *
 * Several tables feed one index (the object's own `.symtab` and `.dynsym`,
 * a separate debug file's `.symtab`, MiniDebugInfo, Go's pclntab); their
 * addresses are all link-time virtual addresses of the same build, so they
 * merge. What is kept, and why:
 *
 * - functions only (`STT_FUNC`, `STT_GNU_IFUNC`), defined (`st_shndx` not
 *   `SHN_UNDEF`): an address on a stack is code, and data or section
 *   symbols would name it wrongly;
 * - a symbol covers `[st_value, st_value + st_size)`. An address past the
 *   end is *not* that symbol (it is padding, or an unnamed function such
 *   as a stripped static one): the lookup answers "none" rather than the
 *   nearest name below, which is the wrong-name bug of symbolizers that
 *   take the closest lower symbol (perf's old `symbols__fixup_end` does);
 * - a zero-size function symbol (hand-written assembly without `.size`)
 *   names only its own first byte: its extent is unknown;
 * - aliases at one address (`malloc`/`__libc_malloc`) resolve to one name,
 *   chosen by binding (global, then weak, then local), then by fewer leading
 *   underscores, then by name, so the answer does not depend on table order;
 * - nested or overlapping symbols (a local label function inside a larger
 *   one) are handled by walking back from the binary-search hit while a
 *   covering candidate can still exist (the largest size seen bounds it).
 *
 * The cost is paid where stacks are: building reads no name at all (aliases
 * that only a name can separate keep every candidate, and the name is
 * chosen the first time the function is hit, so the answer is the one the
 * rules give whenever it is read), the entries are typed arrays sorted
 * through one packed numeric key, and a lookup starts from a bucket table
 * over the address range, so its binary search runs over a few entries
 * instead of 17 steps across node's 1.8 MiB of entries (each start beside
 * its size and where its name is: a lookup, and the name read at a
 * function's first hit, are then a few cache misses, which is what they
 * cost).
 *
 * Addresses are stored as doubles: a user-space virtual address fits in 53
 * bits on every 64-bit Linux (at most 57 bits of address space, and ELF
 * link addresses are far below); an entry that does not fit is skipped.
 *
 * Pure: no `node:*`.
 */
import { SHN_UNDEF, STB_GLOBAL, STB_WEAK, STT_FUNC, STT_GNU_IFUNC } from "../elf/constants.js";
import type { ElfFile } from "../elf/elf-file.js";
import type { SymbolTable } from "../elf/symbols.js";
import { InternalError, LimitError } from "../errors.js";

/** Most function entries one object's index holds (hostile input: PITFALLS 24). Real objects have at most a few hundred thousand. */
export const MAX_INDEX_ENTRIES = 4_000_000;

/** Most name sources one index takes (the source id is kept in 16 bits; real objects have at most five). */
const MAX_SOURCES = 0xffff;

/** A name source added to an index: where names are read from, lazily. */
export interface NameSource {
  /** The name of entry `ref` (an index the source chose when adding it). */
  nameOf(ref: number): string;
}

/** A lookup hit. */
export interface SymbolHit {
  /** The symbol's name as stored (mangled, without a version suffix). */
  readonly name: string;
  /** Link-time address of the symbol's first byte. */
  readonly start: bigint;
  /** Its size in bytes (0 for a zero-size symbol hit exactly). */
  readonly size: bigint;
}

/**
 * Builds a {@link SymbolIndex}: add entries from any number of sources, then
 * {@link build}. Entries are kept in one typed array that grows by
 * doubling, four numbers each ({@link STRIDE}), never as an object each:
 * indexing node's 153k table entries is then a decode loop and one
 * numeric sort, and the merge after the sort reads each entry it visits
 * from one place (one cache miss, where a column each cost four).
 */
export class SymbolIndexBuilder {
  /** Entry `e` at `e * STRIDE`: start, size, ref, rank * 2^16 + source. */
  #records = new Float64Array(INITIAL_CAPACITY * STRIDE);
  #count = 0;
  /** The lowest and highest start added (the sort packs starts relative to the lowest). */
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;
  readonly #sources: NameSource[] = [];

  /** Number of entries added so far. */
  get size(): number {
    return this.#count;
  }

  /** Registers a source of names; returns its id for {@link add}. */
  addSource(source: NameSource): number {
    if (this.#sources.length >= MAX_SOURCES) throw new LimitError(`more than ${MAX_SOURCES} name sources for one index`);
    this.#sources.push(source);
    return this.#sources.length - 1;
  }

  /**
   * Adds one function `[start, start + size)`. `rank` (0-255) orders aliases
   * at one address (lower wins); `ref` (below 2^32) is handed back to the
   * source's `nameOf`. Throws a LimitError past {@link MAX_INDEX_ENTRIES}.
   */
  add(start: bigint, size: bigint, rank: number, source: number, ref: number, what: string): void {
    if (start > MAX_SAFE || size > MAX_SAFE) return;
    this.#reserve(1, what);
    const at = this.#count++ * STRIDE;
    const records = this.#records;
    const s = Number(start);
    records[at] = s;
    records[at + 1] = Number(size);
    records[at + 2] = ref;
    records[at + 3] = rank * SOURCE_SPAN + source;
    if (s < this.#min) this.#min = s;
    if (s > this.#max) this.#max = s;
  }

  /** Room for `more` entries, or a LimitError naming `what`. */
  #reserve(more: number, what: string): void {
    const want = this.#count + more;
    if (want > MAX_INDEX_ENTRIES) throw new LimitError(`${what}: more than ${MAX_INDEX_ENTRIES} functions to index`);
    if (want * STRIDE <= this.#records.length) return;
    const capacity = Math.min(MAX_INDEX_ENTRIES, Math.max(want, (this.#records.length / STRIDE) * 2));
    const records = new Float64Array(capacity * STRIDE);
    records.set(this.#records.subarray(0, this.#count * STRIDE));
    this.#records = records;
  }

  /**
   * Adds every defined function of `.symtab` or `.dynsym` of `elf`, decoded
   * straight from the section's bytes (gABI `Elf64_Sym`/`Elf32_Sym`
   * layouts). Names are not read now; the ref kept is `st_name`, handed to
   * `names` when given (see table-names.ts), else read through the table's
   * own `StringTable`.
   */
  addElfTable(elf: ElfFile, kind: "symtab" | "dynsym", names?: (table: SymbolTable) => NameSource): number {
    const table = elf.symbolTable(kind);
    if (table === undefined) return 0;
    const what = `${elf.name}: ${table.section.name || kind}`;
    const id = this.addSource(names === undefined ? retainedNames(table) : names(table));
    const bytes = elf.readSection(table.section);
    const le = elf.header.littleEndian;
    const is64 = elf.header.bits === 64;
    const entsize = is64 ? 24 : 16;
    const tableRank = kind === "symtab" ? 0 : 1;
    // Entry 0 is the reserved null symbol.
    const entries = Math.max(0, Math.floor(bytes.length / entsize) - 1);
    this.#reserve(Math.min(entries, MAX_INDEX_ENTRIES - this.#count), what);
    const before = this.#count;
    // Locals for the loop over every entry (node: 86k), mostly run before V8 optimises it; written back after.
    const records = this.#records;
    let count = this.#count;
    let min = this.#min;
    let max = this.#max;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // A little-endian ELF64 table read on a little-endian host: its words as a Uint32Array (element loads, where each
    // DataView read is a call until V8 optimises the loop). `Elf64_Sym` words: st_name; st_info | st_other << 8 |
    // st_shndx << 16; st_value low, high; st_size low, high.
    const words = is64 && le && HOST_LITTLE_ENDIAN ? wordsOf(bytes) : undefined;
    for (let o = entsize; o + entsize <= bytes.length; o += entsize) {
      let info: number;
      let start: number;
      let size: number;
      let name: number;
      if (words !== undefined) {
        const w = o >>> 2;
        const second = words[w + 1] as number;
        info = second & 0xff;
        const type = info & 0xf;
        if (type !== STT_FUNC && type !== STT_GNU_IFUNC) continue;
        if (second >>> 16 === SHN_UNDEF) continue;
        const vHi = words[w + 3] as number;
        const sHi = words[w + 5] as number;
        // Above 2^53: not a user-space address (see the module comment); skipped.
        if (vHi >= 0x200000 || sHi >= 0x200000) continue;
        start = vHi * 0x100000000 + (words[w + 2] as number);
        size = sHi * 0x100000000 + (words[w + 4] as number);
        name = words[w] as number;
      } else {
        info = view.getUint8(o + (is64 ? 4 : 12));
        const type = info & 0xf;
        if (type !== STT_FUNC && type !== STT_GNU_IFUNC) continue;
        if (view.getUint16(o + (is64 ? 6 : 14), le) === SHN_UNDEF) continue;
        if (is64) {
          const vHi = view.getUint32(o + (le ? 12 : 8), le);
          const sHi = view.getUint32(o + (le ? 20 : 16), le);
          if (vHi >= 0x200000 || sHi >= 0x200000) continue;
          start = vHi * 0x100000000 + view.getUint32(o + (le ? 8 : 12), le);
          size = sHi * 0x100000000 + view.getUint32(o + (le ? 16 : 20), le);
        } else {
          start = view.getUint32(o + 4, le);
          size = view.getUint32(o + 8, le);
        }
        name = view.getUint32(o, le);
      }
      const binding = info >> 4;
      // .symtab names beat .dynsym ones only through the alias rank; both name the same code.
      const rank = (binding === STB_GLOBAL ? 0 : binding === STB_WEAK ? 1 : 2) * 2 + tableRank;
      // Reserved above for every entry the table has, so only the cap can stop it here (#reserve throws).
      if (count * STRIDE >= records.length) {
        this.#count = count;
        this.#reserve(1, what);
      }
      const at = count++ * STRIDE;
      records[at] = start;
      records[at + 1] = size;
      records[at + 2] = name;
      records[at + 3] = rank * SOURCE_SPAN + id;
      if (start < min) min = start;
      if (start > max) max = start;
    }
    this.#count = count;
    this.#min = min;
    this.#max = max;
    return count - before;
  }

  /** Sorts, merges aliases and duplicates (the same function from two tables), and freezes the index. */
  build(): SymbolIndex {
    const n = this.#count;
    // Locals and no calls per entry: this loop runs once, over every entry (node: 153k), mostly before V8 optimises it.
    const records = this.#records;
    const order = orderByStart(records, n, this.#min, this.#max);
    const out = new IndexColumns(n);
    const entries = out.entries;
    const ties = new Map<number, NameRef[]>();
    let k = 0;
    for (let i = 0; i < n; ) {
      const first = (order[i] as number) * STRIDE;
      const start = records[first] as number;
      let j = i + 1;
      while (j < n && records[(order[j] as number) * STRIDE] === start) j++;
      let kept = first;
      if (j - i === 2) {
        // The common run (node: 56k of them): one function in both .symtab and .dynsym, or two sizes at one start.
        const second = (order[i + 1] as number) * STRIDE;
        const firstSize = records[first + 1] as number;
        const secondSize = records[second + 1] as number;
        if (firstSize !== secondSize) {
          // Both kept, the larger first (as a lookup's walk back expects).
          const larger = firstSize > secondSize ? first : second;
          entries[ENTRY * k] = start;
          entries[ENTRY * k + 1] = records[larger + 1] as number;
          entries[ENTRY * k + 2] = ((records[larger + 3] as number) & SOURCE_MASK) * REF_SPAN + (records[larger + 2] as number);
          k++;
          kept = larger === first ? second : first;
        } else {
          const firstRank = (records[first + 3] as number) >>> SOURCE_BITS;
          const secondRank = (records[second + 3] as number) >>> SOURCE_BITS;
          kept = firstRank !== secondRank ? (firstRank < secondRank ? first : second) : -1;
        }
      } else if (j - i > 2) kept = -1;
      if (kept >= 0) {
        entries[ENTRY * k] = start;
        entries[ENTRY * k + 1] = records[kept + 1] as number;
        entries[ENTRY * k + 2] = ((records[kept + 3] as number) & SOURCE_MASK) * REF_SPAN + (records[kept + 2] as number);
        k++;
      } else {
        // Aliases only a name can separate, or three or more entries at one start.
        out.length = k;
        mergeRun(records, order, i, j, out, ties);
        k = out.length;
      }
      i = j;
    }
    out.length = k;
    return new SymbolIndex(out.trimmed(), ties, this.#sources);
  }
}

/**
 * Entries sharing one start: per distinct size (larger first, as a
 * lookup's walk back expects), the best-ranked entry; when several share
 * that rank, every one of them is kept as a candidate and the name
 * decides at the first hit (see {@link SymbolIndex}).
 */
function mergeRun(records: Float64Array, order: Uint32Array, from: number, to: number, out: IndexColumns, ties: Map<number, NameRef[]>): void {
  // Larger first, then better rank, then the order added. Runs are short (node: 6k runs of 3 or more, mostly the
  // C1/C2 constructor aliases in both tables), so an insertion sort in place beats a copy and a comparator sort.
  for (let x = from + 1; x < to; x++) {
    const e = order[x] as number;
    const eSize = records[e * STRIDE + 1] as number;
    const eRank = (records[e * STRIDE + 3] as number) >>> SOURCE_BITS;
    let y = x - 1;
    for (; y >= from; y--) {
      const f = order[y] as number;
      const fSize = records[f * STRIDE + 1] as number;
      const fRank = (records[f * STRIDE + 3] as number) >>> SOURCE_BITS;
      const before = eSize > fSize || (eSize === fSize && (eRank < fRank || (eRank === fRank && e < f)));
      if (!before) break;
      order[y + 1] = f;
    }
    order[y + 1] = e;
  }
  for (let g = from; g < to; ) {
    const best = (order[g] as number) * STRIDE;
    const bestSize = records[best + 1] as number;
    const bestRank = (records[best + 3] as number) >>> SOURCE_BITS;
    let h = g + 1;
    while (h < to && records[(order[h] as number) * STRIDE + 1] === bestSize) h++;
    const at = out.push(records[best] as number, bestSize, (records[best + 3] as number) & SOURCE_MASK, records[best + 2] as number);
    let tied = g + 1;
    while (tied < h && (records[(order[tied] as number) * STRIDE + 3] as number) >>> SOURCE_BITS === bestRank) tied++;
    if (tied - g > 1) {
      const candidates: NameRef[] = [];
      for (let c = g; c < tied; c++) {
        const e = (order[c] as number) * STRIDE;
        candidates.push({ source: (records[e + 3] as number) & SOURCE_MASK, ref: records[e + 2] as number });
      }
      ties.set(at, candidates);
      out.markTied(at);
    }
    g = h;
  }
}

/**
 * Names through the table's StringTable, held in memory from the first name
 * on (names of neighbouring functions lie far apart in it, so reading them
 * one by one through the block cache re-reads the same blocks: 1.5 GiB for
 * 150k lookups in node's 7 MiB .strtab).
 */
function retainedNames(table: SymbolTable): NameSource {
  let retained = false;
  return {
    nameOf: (ref) => {
      if (!retained) {
        table.strings.retain();
        retained = true;
      }
      // .symtab spells versions into the name (`memcpy@@GLIBC_2.14`); .dynsym keeps them apart.
      const name = table.strings.get(ref);
      const at = name.indexOf("@");
      return at > 0 ? name.slice(0, at) : name;
    },
  };
}

const INITIAL_CAPACITY = 256;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Numbers per entry of the builder's records: start, size, ref, rank * 2^16 + source. */
const STRIDE = 4;
const SOURCE_BITS = 16;
const SOURCE_SPAN = 2 ** SOURCE_BITS;
const SOURCE_MASK = SOURCE_SPAN - 1;

/** Whether typed arrays are little-endian here (x86-64 and arm64 are): the sort below and the word reads above rely on it. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes as 32-bit words, copied first when they do not start on a 4-byte boundary. */
function wordsOf(bytes: Uint8Array): Uint32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >>> 2);
}

/**
 * Entry ids `0..n-1` ordered by start, ties by id (the order they were
 * added). One sort of packed 64-bit integer keys `(start - min) * 2^bits
 * + id`, written and read back as 32-bit words: no bigint and no double
 * arithmetic, so nothing is boxed per entry while V8 still interprets the
 * loops, and a BigUint64Array sorts faster than the same keys as doubles
 * (node's 153k: 8 ms against 13). For starts spread over 2 GiB or more
 * (no real object), a comparator sort.
 */
function orderByStart(records: Float64Array, n: number, min: number, max: number): Uint32Array {
  const order = new Uint32Array(n);
  if (n === 0) return order;
  const bits = 32 - Math.clz32(n);
  if (HOST_LITTLE_ENDIAN && max - min < 2 ** 31) {
    const keys = new BigUint64Array(n);
    const words = new Uint32Array(keys.buffer);
    const idMask = 2 ** bits - 1;
    for (let i = 0; i < n; i++) {
      const offset = (records[i * STRIDE] as number) - min;
      words[2 * i] = (offset << bits) | i;
      words[2 * i + 1] = offset >>> (32 - bits);
    }
    keys.sort();
    for (let i = 0; i < n; i++) order[i] = (words[2 * i] as number) & idMask;
    return order;
  }
  const ids = Array.from({ length: n }, (_, i) => i);
  ids.sort((a, b) => (records[a * STRIDE] as number) - (records[b * STRIDE] as number) || a - b);
  order.set(ids);
  return order;
}

/** One name candidate of an alias set: which source, which ref. */
interface NameRef {
  readonly source: number;
  readonly ref: number;
}

/** Numbers per entry of a frozen index: start, size, source * 2^32 + ref. */
const ENTRY = 3;
const REF_SPAN = 2 ** 32;
/** The source id marking an entry whose name is chosen among tied aliases (ids stop below it: {@link MAX_SOURCES}). */
const TIED = MAX_SOURCES;

/**
 * @internal The frozen entries of an index, in lookup order (start
 * ascending, larger first at one start), {@link ENTRY} numbers each:
 * start, size, and `source * 2^32 + ref` (exact: below 2^48). Side by side,
 * so that a lookup reads a start and its size from one cache line, and the
 * first hit of a function finds where its name is on that same line.
 */
export class IndexColumns {
  entries: Float64Array;
  length = 0;

  constructor(capacity: number) {
    this.entries = new Float64Array(capacity * ENTRY);
  }

  /** Appends an entry; returns its position. */
  push(start: number, size: number, source: number, ref: number): number {
    const i = this.length++;
    this.entries[ENTRY * i] = start;
    this.entries[ENTRY * i + 1] = size;
    this.entries[ENTRY * i + 2] = source * REF_SPAN + ref;
    return i;
  }

  /** Marks entry `i` as one whose name is chosen among tied aliases (see {@link SymbolIndex}). */
  markTied(i: number): void {
    this.entries[ENTRY * i + 2] = TIED * REF_SPAN;
  }

  /** A copy cut to length (merged duplicates leave the tail unused; the builder's larger array can then be dropped). */
  trimmed(): IndexColumns {
    const out = new IndexColumns(0);
    out.entries = this.entries.slice(0, ENTRY * this.length);
    out.length = this.length;
    return out;
  }
}

/**
 * Entries a lookup inspects below its binary-search hit looking for an
 * enclosing symbol. Real nesting is one or two deep; a crafted table of
 * thousands of symbols inside one huge one then costs a bounded walk and
 * answers "unnamed", never a wrong name.
 */
const MAX_WALK_BACK = 256;

/** The frozen, searchable index. */
export class SymbolIndex {
  /** `[start0, size0, source0 * 2^32 + ref0, start1, …]`, see {@link IndexColumns}. */
  readonly #entries: Float64Array;
  readonly #count: number;
  /** Entries whose name is chosen among several equally ranked aliases at the first hit (see {@link SymbolIndexBuilder}). */
  readonly #ties: ReadonlyMap<number, readonly NameRef[]>;
  readonly #sources: readonly NameSource[];
  readonly #maxSize: number;
  /** Where the bucket table starts and how wide a bucket is (a power of two, so the division is exact). */
  readonly #base: number;
  readonly #width: number;
  /** `#bucketFirst[b]`: the first entry whose start is at or above bucket b's first address; one more than the buckets. */
  readonly #bucketFirst: Uint32Array;
  /** Made on first use: the symbolizer asks for neither (it keeps its own per function), and each is a slot per entry for the collector to scan. */
  #hits: (SymbolHit | undefined)[] | undefined;
  #names: (string | undefined)[] | undefined;

  /** @internal use {@link SymbolIndexBuilder}. */
  constructor(columns: IndexColumns, ties: ReadonlyMap<number, readonly NameRef[]>, sources: readonly NameSource[]) {
    this.#entries = columns.entries;
    this.#count = columns.length;
    this.#ties = ties;
    this.#sources = sources;
    let maxSize = 0;
    const entries = columns.entries;
    for (let i = 1; i < entries.length; i += ENTRY) if ((entries[i] as number) > maxSize) maxSize = entries[i] as number;
    this.#maxSize = maxSize;
    const n = columns.length;
    // About one bucket per four entries: the search inside a bucket is then over a few neighbouring entries (one or
    // two cache lines), and the table (node: 80 KiB) stays in cache where one bucket per entry missed it on every lookup.
    const base = n === 0 ? 0 : (entries[0] as number);
    const span = n === 0 ? 0 : (entries[ENTRY * (n - 1)] as number) - base;
    let width = 1;
    while (span / width > n / 4) width *= 2;
    const buckets = Math.floor(span / width) + 1;
    const first = new Uint32Array(buckets + 1);
    let e = 0;
    for (let b = 0; b < buckets; b++) {
      // Exact: base + b * width is at most the last start, below 2^53.
      const from = base + b * width;
      while (e < n && (entries[ENTRY * e] as number) < from) e++;
      first[b] = e;
    }
    first[buckets] = n;
    this.#base = base;
    this.#width = width;
    this.#bucketFirst = first;
  }

  /** Number of functions indexed. */
  get size(): number {
    return this.#count;
  }

  /** Bytes held by the index arrays (names resolved so far not counted). */
  get byteLength(): number {
    return this.#entries.byteLength + this.#bucketFirst.byteLength;
  }

  /** The function holding link-time address `vaddr`, or undefined when none does (see the module comment). */
  lookup(vaddr: bigint): SymbolHit | undefined {
    const entry = this.entryAt(vaddr);
    return entry < 0 ? undefined : this.hitAt(entry);
  }

  /**
   * The position of the function holding `vaddr` (what {@link lookup}
   * finds), or -1: for a caller that keeps its own data per function in
   * an array of {@link size} slots.
   */
  entryAt(vaddr: bigint): number {
    if (vaddr < 0n || vaddr > MAX_SAFE) return -1;
    return this.#find(Number(vaddr));
  }

  /** {@link entryAt} for an address given as a number: -1 unless it is an integer from 0 to 2^53 - 1. */
  entryAtNumber(vaddr: number): number {
    if (!Number.isSafeInteger(vaddr) || vaddr < 0) return -1;
    return this.#find(vaddr);
  }

  /** The entry covering `address`, or -1. */
  #find(address: number): number {
    const entries = this.#entries;
    const n = this.#count;
    if (n === 0 || address < this.#base) return -1;
    // Entries before the bucket's first start below address; entries from the next bucket's first start above it.
    const bucket = Math.floor((address - this.#base) / this.#width);
    const first = this.#bucketFirst;
    let lo: number;
    let hi: number;
    if (bucket + 1 < first.length) {
      lo = first[bucket] as number;
      hi = first[bucket + 1] as number;
    } else {
      lo = n;
      hi = n;
    }
    // First entry with start > address.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((entries[ENTRY * mid] as number) <= address) lo = mid + 1;
      else hi = mid;
    }
    const maxSize = this.#maxSize;
    for (let i = lo - 1, steps = 0; i >= 0 && steps < MAX_WALK_BACK; i--, steps++) {
      const start = entries[ENTRY * i] as number;
      if (address - start >= maxSize && address !== start) break;
      const size = entries[ENTRY * i + 1] as number;
      if (address < start + size || (size === 0 && address === start)) return i;
    }
    return -1;
  }

  /**
   * The function at position `i` (from {@link entryAt}), its name read on
   * first use. One object per entry, kept: callers may cache derived data
   * (a demangled name) by its identity.
   */
  hitAt(i: number): SymbolHit {
    this.#hits ??= new Array<SymbolHit | undefined>(this.#count);
    let hit = this.#hits[i];
    if (hit === undefined) {
      hit = { name: this.nameAt(i), start: BigInt(this.#entries[ENTRY * i] as number), size: BigInt(this.#entries[ENTRY * i + 1] as number) };
      this.#hits[i] = hit;
    }
    return hit;
  }

  /**
   * The name of the function at position `i`, read on first use and kept:
   * what {@link hitAt} holds, for a caller that needs no hit object (the
   * symbolizer: node's 66k functions hit made 66k objects and 132k bigints
   * that outlived the young generation).
   */
  nameAt(i: number): string {
    this.#names ??= new Array<string | undefined>(this.#count);
    let name = this.#names[i];
    if (name === undefined) {
      name = this.readNameAt(i);
      this.#names[i] = name;
    }
    return name;
  }

  /**
   * The name of the function at position `i` read now and not kept here:
   * for a caller that keeps its own per function (the symbolizer), so that
   * each name is held in one place (each is one more slot to scan for the
   * collector while names are young).
   */
  readNameAt(i: number): string {
    if (!(i >= 0 && i < this.#count)) throw new InternalError(`symbol index: no entry ${i} (the index has ${this.#count})`);
    const where = this.#entries[ENTRY * i + 2] as number;
    const source = Math.floor(where / REF_SPAN);
    if (source !== TIED) return this.#nameOf(source, where - source * REF_SPAN);
    return this.#choose(this.#ties.get(i) as readonly NameRef[]);
  }

  /** Link-time address of the first byte of the function at position `i`, as a number (exact: see the module comment). */
  startAt(i: number): number {
    if (!(i >= 0 && i < this.#count)) throw new InternalError(`symbol index: no entry ${i} (the index has ${this.#count})`);
    return this.#entries[ENTRY * i] as number;
  }

  #nameOf(source: number, ref: number): string {
    return (this.#sources[source] as NameSource).nameOf(ref);
  }

  /** Among equally ranked aliases: fewer leading underscores, then the smaller name (`malloc` over `__libc_malloc`). */
  #choose(tied: readonly NameRef[]): string {
    let best: string | undefined;
    for (const { source, ref } of tied) {
      const name = this.#nameOf(source, ref);
      if (best === undefined) best = name;
      else {
        const by = underscores(name) - underscores(best);
        if (by < 0 || (by === 0 && name < best)) best = name;
      }
    }
    return best as string;
  }
}

function underscores(name: string): number {
  let n = 0;
  while (name[n] === "_") n++;
  return n;
}
