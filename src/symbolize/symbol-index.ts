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
 * Addresses are stored as doubles: a user-space virtual address fits in 53
 * bits on every 64-bit Linux (at most 57 bits of address space, and ELF
 * link addresses are far below); an entry that does not fit is skipped.
 *
 * Pure: no `node:*`.
 */
import { SHN_UNDEF, STB_GLOBAL, STB_WEAK, STT_FUNC, STT_GNU_IFUNC } from "../elf/constants.js";
import type { ElfFile } from "../elf/elf-file.js";
import { LimitError } from "../errors.js";

/** Most function entries one object's index holds (hostile input: PITFALLS 24). Real objects have at most a few hundred thousand. */
export const MAX_INDEX_ENTRIES = 4_000_000;

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
 * {@link build}. Entries are kept in columns (plain number arrays), never as
 * an object each: indexing node's 110k-entry `.symtab` is then a decode
 * loop and one sort.
 */
export class SymbolIndexBuilder {
  readonly #starts: number[] = [];
  readonly #sizes: number[] = [];
  readonly #ranks: number[] = [];
  readonly #source: number[] = [];
  readonly #refs: number[] = [];
  readonly #sources: NameSource[] = [];

  /** Number of entries added so far. */
  get size(): number {
    return this.#starts.length;
  }

  /** Registers a source of names; returns its id for {@link add}. */
  addSource(source: NameSource): number {
    this.#sources.push(source);
    return this.#sources.length - 1;
  }

  /**
   * Adds one function `[start, start + size)`. `rank` orders aliases at one
   * address (lower wins). Throws a LimitError past {@link MAX_INDEX_ENTRIES}.
   */
  add(start: bigint, size: bigint, rank: number, source: number, ref: number, what: string): void {
    if (start > MAX_SAFE || size > MAX_SAFE) return;
    this.#push(Number(start), Number(size), rank, source, ref, what);
  }

  #push(start: number, size: number, rank: number, source: number, ref: number, what: string): void {
    if (this.#starts.length >= MAX_INDEX_ENTRIES) throw new LimitError(`${what}: more than ${MAX_INDEX_ENTRIES} functions to index`);
    this.#starts.push(start);
    this.#sizes.push(size);
    this.#ranks.push(rank);
    this.#source.push(source);
    this.#refs.push(ref);
  }

  /**
   * Adds every defined function of `.symtab` or `.dynsym` of `elf`, decoded
   * straight from the section's bytes (gABI `Elf64_Sym`/`Elf32_Sym`
   * layouts). Names are not read now; the ref kept is `st_name`.
   */
  addElfTable(elf: ElfFile, kind: "symtab" | "dynsym"): number {
    const table = elf.symbolTable(kind);
    if (table === undefined) return 0;
    const what = `${elf.name}: ${table.section.name || kind}`;
    // The ref is st_name: a name costs one string-table read, and the table is
    // held in memory from the first name on (names of neighbouring functions
    // lie far apart in it, so reading them one by one through the block cache
    // re-reads the same blocks: 1.5 GiB for 150k lookups in node's 7 MiB .strtab).
    let retained = false;
    const id = this.addSource({
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
    });
    const bytes = elf.readSection(table.section);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const le = elf.header.littleEndian;
    const is64 = elf.header.bits === 64;
    const entsize = is64 ? 24 : 16;
    const tableRank = kind === "symtab" ? 0 : 1;
    let added = 0;
    // Entry 0 is the reserved null symbol.
    for (let o = entsize; o + entsize <= bytes.length; o += entsize) {
      const info = view.getUint8(o + (is64 ? 4 : 12));
      const type = info & 0xf;
      if (type !== STT_FUNC && type !== STT_GNU_IFUNC) continue;
      if (view.getUint16(o + (is64 ? 6 : 14), le) === SHN_UNDEF) continue;
      let start: number;
      let size: number;
      if (is64) {
        const vHi = view.getUint32(o + (le ? 12 : 8), le);
        const sHi = view.getUint32(o + (le ? 20 : 16), le);
        // Above 2^53: not a user-space address (see the module comment); skipped.
        if (vHi >= 0x200000 || sHi >= 0x200000) continue;
        start = vHi * 0x100000000 + view.getUint32(o + (le ? 8 : 12), le);
        size = sHi * 0x100000000 + view.getUint32(o + (le ? 16 : 20), le);
      } else {
        start = view.getUint32(o + 4, le);
        size = view.getUint32(o + 8, le);
      }
      const binding = info >> 4;
      // .symtab names beat .dynsym ones only through the alias rank; both name the same code.
      const rank = (binding === STB_GLOBAL ? 0 : binding === STB_WEAK ? 1 : 2) * 2 + tableRank;
      this.#push(start, size, rank, id, view.getUint32(o, le), what);
      added++;
    }
    return added;
  }

  /** Sorts, merges aliases and duplicates (the same function from two tables), and freezes the index. */
  build(): SymbolIndex {
    const starts = this.#starts;
    const sizes = this.#sizes;
    const ranks = this.#ranks;
    const n = starts.length;
    // A plain array: V8's Array#sort (TimSort) with a comparator is several times faster than a typed array's.
    const order: number[] = new Array<number>(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort(
      (a, b) => (starts[a] as number) - (starts[b] as number) || (sizes[b] as number) - (sizes[a] as number) || (ranks[a] as number) - (ranks[b] as number),
    );
    const nameOf = (i: number): string => (this.#sources[this.#source[i] as number] as NameSource).nameOf(this.#refs[i] as number);
    const kept: number[] = [];
    for (let i = 0; i < n; ) {
      // A run of entries with one start: keep the best-ranked of each distinct size.
      let j = i + 1;
      while (j < n && starts[order[j] as number] === starts[order[i] as number]) j++;
      if (j - i === 1) kept.push(order[i] as number);
      else if (j - i === 2 && sizes[order[i] as number] === sizes[order[i + 1] as number] && ranks[order[i] as number] !== ranks[order[i + 1] as number]) {
        // The common run: one function in both .symtab and .dynsym. The sort put the better rank first.
        kept.push(order[i] as number);
      } else for (const e of bestPerSize(order.slice(i, j), sizes, ranks, nameOf)) kept.push(e);
      i = j;
    }
    return new SymbolIndex(
      kept.map((k) => starts[k] as number),
      kept.map((k) => sizes[k] as number),
      kept.map((k) => this.#source[k] as number),
      kept.map((k) => this.#refs[k] as number),
      this.#sources,
    );
  }
}

function bestPerSize(run: number[], sizes: readonly number[], ranks: readonly number[], nameOf: (i: number) => string): number[] {
  const bySize = new Map<number, number[]>();
  for (const e of run) {
    const size = sizes[e] as number;
    const list = bySize.get(size);
    if (list === undefined) bySize.set(size, [e]);
    else list.push(e);
  }
  const out: number[] = [];
  for (const list of bySize.values()) {
    if (list.length === 1) {
      out.push(list[0] as number);
      continue;
    }
    // Names are read only to break a tie of rank (the usual run, one function in .symtab and .dynsym, has none).
    const best = Math.min(...list.map((e) => ranks[e] as number));
    const tied = list.filter((e) => ranks[e] === best);
    if (tied.length === 1) {
      out.push(tied[0] as number);
      continue;
    }
    const named = tied.map((e) => ({ e, name: nameOf(e) }));
    named.sort((a, b) => underscores(a.name) - underscores(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    out.push((named[0] as { e: number }).e);
  }
  // Larger first, as the main sort left them.
  return out.sort((a, b) => (sizes[b] as number) - (sizes[a] as number));
}

function underscores(name: string): number {
  let n = 0;
  while (name[n] === "_") n++;
  return n;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/**
 * Entries a lookup inspects below its binary-search hit looking for an
 * enclosing symbol. Real nesting is one or two deep; a crafted table of
 * thousands of symbols inside one huge one then costs a bounded walk and
 * answers "unnamed", never a wrong name.
 */
const MAX_WALK_BACK = 256;

/** The frozen, searchable index. */
export class SymbolIndex {
  readonly #starts: Float64Array;
  readonly #sizes: Float64Array;
  readonly #source: Uint16Array;
  readonly #ref: Uint32Array;
  readonly #sources: readonly NameSource[];
  readonly #maxSize: number;
  readonly #hits = new Map<number, SymbolHit>();

  /** @internal use {@link SymbolIndexBuilder}. */
  constructor(starts: readonly number[], sizes: readonly number[], source: readonly number[], ref: readonly number[], sources: readonly NameSource[]) {
    this.#starts = Float64Array.from(starts);
    this.#sizes = Float64Array.from(sizes);
    this.#source = Uint16Array.from(source);
    this.#ref = Uint32Array.from(ref);
    let maxSize = 0;
    for (const size of sizes) if (size > maxSize) maxSize = size;
    this.#sources = sources;
    this.#maxSize = maxSize;
  }

  /** Number of functions indexed. */
  get size(): number {
    return this.#starts.length;
  }

  /** Bytes held by the index arrays (names resolved so far not counted). */
  get byteLength(): number {
    return this.#starts.byteLength + this.#sizes.byteLength + this.#source.byteLength + this.#ref.byteLength;
  }

  /** The function holding link-time address `vaddr`, or undefined when none does (see the module comment). */
  lookup(vaddr: bigint): SymbolHit | undefined {
    if (vaddr < 0n || vaddr > MAX_SAFE) return undefined;
    const address = Number(vaddr);
    const starts = this.#starts;
    // Last entry with start <= address.
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((starts[mid] as number) <= address) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1, steps = 0; i >= 0 && steps < MAX_WALK_BACK; i--, steps++) {
      const start = starts[i] as number;
      if (address - start >= this.#maxSize && address !== start) break;
      const size = this.#sizes[i] as number;
      if (address < start + size || (size === 0 && address === start)) return this.#hit(i);
    }
    return undefined;
  }

  /** One hit object per entry, kept: callers may cache derived data (a demangled name) by its identity. */
  #hit(i: number): SymbolHit {
    let hit = this.#hits.get(i);
    if (hit === undefined) {
      const name = (this.#sources[this.#source[i] as number] as NameSource).nameOf(this.#ref[i] as number);
      hit = { name, start: BigInt(this.#starts[i] as number), size: BigInt(this.#sizes[i] as number) };
      this.#hits.set(i, hit);
    }
    return hit;
  }
}
