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
import { STB_GLOBAL, STB_WEAK, STT_FUNC, STT_GNU_IFUNC, SHN_UNDEF } from "../elf/constants.js";
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

interface Pending {
  start: number;
  size: number;
  rank: number;
  source: number;
  ref: number;
}

/** Builds a {@link SymbolIndex}: add entries from any number of sources, then {@link build}. */
export class SymbolIndexBuilder {
  readonly #pending: Pending[] = [];
  readonly #sources: NameSource[] = [];

  /** Number of entries added so far. */
  get size(): number {
    return this.#pending.length;
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
    if (this.#pending.length >= MAX_INDEX_ENTRIES) throw new LimitError(`${what}: more than ${MAX_INDEX_ENTRIES} functions to index`);
    this.#pending.push({ start: Number(start), size: Number(size), rank, source, ref });
  }

  /**
   * Adds every defined function of `.symtab` or `.dynsym` of `elf`. Names
   * are not read now: ranks come from binding and the name's leading
   * underscores, read for aliases only when {@link build} needs them.
   */
  addElfTable(elf: ElfFile, kind: "symtab" | "dynsym"): number {
    const table = elf.symbolTable(kind);
    if (table === undefined) return 0;
    const id = this.addSource({ nameOf: (ref) => table.resolve(table.rawAt(ref)).name });
    let added = 0;
    const accept = (info: number, shndx: number): boolean => {
      const type = info & 0xf;
      return (type === STT_FUNC || type === STT_GNU_IFUNC) && shndx !== SHN_UNDEF;
    };
    for (const batch of table.batches(accept)) {
      for (const raw of batch) {
        const binding = raw.st_info >> 4;
        // .symtab names beat .dynsym ones only through the alias rank; both name the same code.
        const rank = (binding === STB_GLOBAL ? 0 : binding === STB_WEAK ? 1 : 2) * 2 + (kind === "symtab" ? 0 : 1);
        this.add(raw.st_value, raw.st_size, rank, id, raw.index, `${elf.name}: ${table.section.name}`);
        added++;
      }
    }
    return added;
  }

  /** Sorts, merges aliases and duplicates (the same function from two tables), and freezes the index. */
  build(): SymbolIndex {
    const sources = this.#sources;
    const nameOf = (p: Pending): string => (sources[p.source] as NameSource).nameOf(p.ref);
    const entries = this.#pending.sort((a, b) => a.start - b.start || b.size - a.size || a.rank - b.rank);
    const kept: Pending[] = [];
    for (let i = 0; i < entries.length; ) {
      // A run of entries with one start: keep the best-ranked of each distinct size.
      let j = i;
      while (j < entries.length && (entries[j] as Pending).start === (entries[i] as Pending).start) j++;
      if (j - i === 1) kept.push(entries[i] as Pending);
      else kept.push(...bestPerSize(entries.slice(i, j), nameOf));
      i = j;
    }
    return new SymbolIndex(kept, sources);
  }
}

function bestPerSize(run: Pending[], nameOf: (p: Pending) => string): Pending[] {
  const bySize = new Map<number, Pending[]>();
  for (const p of run) {
    const list = bySize.get(p.size);
    if (list === undefined) bySize.set(p.size, [p]);
    else list.push(p);
  }
  const out: Pending[] = [];
  for (const list of bySize.values()) {
    if (list.length === 1) {
      out.push(list[0] as Pending);
      continue;
    }
    const named = list.map((p) => ({ p, name: nameOf(p) }));
    named.sort((a, b) => a.p.rank - b.p.rank || underscores(a.name) - underscores(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    out.push((named[0] as { p: Pending }).p);
  }
  // Larger first, as the main sort left them: the walk-back in lookup relies on it only through maxSize.
  return out.sort((a, b) => b.size - a.size);
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
  readonly #names = new Map<number, string>();

  /** @internal use {@link SymbolIndexBuilder}. */
  constructor(entries: readonly Pending[], sources: readonly NameSource[]) {
    const n = entries.length;
    this.#starts = new Float64Array(n);
    this.#sizes = new Float64Array(n);
    this.#source = new Uint16Array(n);
    this.#ref = new Uint32Array(n);
    let maxSize = 0;
    entries.forEach((e, i) => {
      this.#starts[i] = e.start;
      this.#sizes[i] = e.size;
      this.#source[i] = e.source;
      this.#ref[i] = e.ref;
      if (e.size > maxSize) maxSize = e.size;
    });
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

  #hit(i: number): SymbolHit {
    let name = this.#names.get(i);
    if (name === undefined) {
      name = (this.#sources[this.#source[i] as number] as NameSource).nameOf(this.#ref[i] as number);
      this.#names.set(i, name);
    }
    return { name, start: BigInt(this.#starts[i] as number), size: BigInt(this.#sizes[i] as number) };
  }
}
