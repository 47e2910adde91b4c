/**
 * Dynamic-symbol lookup through the hash tables the loader itself uses:
 * `.gnu.hash` (DT_GNU_HASH, the default since glibc 2.5) and the SysV
 * `.hash`. A lookup reads the header, one bloom word, one bucket and a short
 * chain: a few hundred bytes of a multi-megabyte `.dynsym`.
 *
 * Both walks are bounded by the symbol count, so a crafted table cannot loop.
 */
import { FormatError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { Fields, type ElfLayout } from "./fields.js";
import type { SectionHeader } from "./section-headers.js";
import type { SymbolTable } from "./symbols.js";

/** The GNU hash function (dl-lookup.c `dl_new_hash`: djb2, h*33 + c). */
export function gnuHash(name: Uint8Array): number {
  let h = 5381;
  for (const c of name) h = (Math.imul(h, 33) + c) >>> 0;
  return h;
}

/** The System V ABI hash function (gABI "Hash Table" figure). */
export function sysvHash(name: Uint8Array): number {
  let h = 0;
  for (const c of name) {
    h = ((h << 4) + c) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h ^= g >>> 24;
    h &= ~g >>> 0;
  }
  return h >>> 0;
}

/** A hash-table lookup over `.dynsym`, returning the indexes of every entry with the wanted name. */
export interface HashLookup {
  lookup(name: Uint8Array): number[];
}

/**
 * `.gnu.hash` layout: nbuckets, symoffset, bloom_size, bloom_shift (u32 each),
 * bloom[bloom_size] (ELFCLASS-sized words), buckets[nbuckets] (u32),
 * chain[] (u32, one per symbol from symoffset on; low bit set ends a chain).
 */
export class GnuHashTable implements HashLookup {
  readonly #source: ByteSource;
  readonly #layout: ElfLayout;
  readonly #section: SectionHeader;
  readonly #symbols: SymbolTable;
  readonly #nbuckets: number;
  readonly #symoffset: number;
  readonly #bloomSize: number;
  readonly #bloomShift: number;
  readonly #wordBytes: number;

  constructor(source: ByteSource, layout: ElfLayout, section: SectionHeader, symbols: SymbolTable) {
    this.#source = source;
    this.#layout = layout;
    this.#section = section;
    this.#symbols = symbols;
    const f = new Fields(readRange(source, section.sh_offset, 16, ".gnu.hash header"), layout);
    this.#nbuckets = f.u32(0);
    this.#symoffset = f.u32(4);
    this.#bloomSize = f.u32(8);
    this.#bloomShift = f.u32(12);
    this.#wordBytes = layout.bits / 8;
    const needed = 16 + this.#bloomSize * this.#wordBytes + this.#nbuckets * 4;
    if (this.#nbuckets === 0 || this.#bloomSize === 0 || needed > section.sh_size) {
      throw new FormatError(
        `.gnu.hash: ${this.#nbuckets} buckets and ${this.#bloomSize} bloom words do not fit a section of ${section.sh_size} bytes`,
        section.sh_offset,
      );
    }
  }

  lookup(name: Uint8Array): number[] {
    const h = gnuHash(name);
    const bits = this.#wordBytes * 8;
    const bloomAt = 16 + (Math.floor(h / bits) % this.#bloomSize) * this.#wordBytes;
    const word = this.#word(bloomAt);
    const mask = (1n << BigInt(h % bits)) | (1n << BigInt((h >>> this.#bloomShift) % bits));
    if ((word & mask) !== mask) return [];
    const bucketsAt = 16 + this.#bloomSize * this.#wordBytes;
    let index = this.#u32(bucketsAt + (h % this.#nbuckets) * 4);
    if (index === 0) return [];
    if (index < this.#symoffset) throw new FormatError(".gnu.hash: bucket points below symoffset", this.#section.sh_offset, index);
    const chainAt = bucketsAt + this.#nbuckets * 4;
    const found: number[] = [];
    for (; index < this.#symbols.count; index++) {
      const chainOffset = chainAt + (index - this.#symoffset) * 4;
      if (chainOffset + 4 > this.#section.sh_size) throw new FormatError(".gnu.hash: chain runs past the section", this.#section.sh_offset + chainOffset);
      const h2 = this.#u32(chainOffset);
      if ((h2 | 1) === (h | 1) && this.#symbols.strings.equals(this.#symbols.rawAt(index).st_name, name)) found.push(index);
      if (h2 & 1) break;
    }
    return found;
  }

  #u32(at: number): number {
    return new Fields(this.#source.readAt(this.#section.sh_offset + at, 4), this.#layout).u32(0);
  }

  #word(at: number): bigint {
    return new Fields(this.#source.readAt(this.#section.sh_offset + at, this.#wordBytes), this.#layout).word(0);
  }
}

/**
 * SysV `.hash` layout: nbucket, nchain, bucket[nbucket], chain[nchain].
 * Entries are 4 bytes except on s390x and Alpha, where `sh_entsize` is 8.
 */
export class SysvHashTable implements HashLookup {
  readonly #source: ByteSource;
  readonly #layout: ElfLayout;
  readonly #section: SectionHeader;
  readonly #symbols: SymbolTable;
  readonly #entry: number;
  readonly #nbucket: number;
  readonly #nchain: number;

  constructor(source: ByteSource, layout: ElfLayout, section: SectionHeader, symbols: SymbolTable) {
    this.#source = source;
    this.#layout = layout;
    this.#section = section;
    this.#symbols = symbols;
    this.#entry = section.sh_entsize === 8 ? 8 : 4;
    this.#nbucket = this.#at(0);
    this.#nchain = this.#at(1);
    if (this.#nbucket === 0 || (2 + this.#nbucket + this.#nchain) * this.#entry > section.sh_size) {
      throw new FormatError(".hash: bucket or chain count does not fit the section", section.sh_offset, this.#nbucket);
    }
  }

  lookup(name: Uint8Array): number[] {
    const found: number[] = [];
    let index = this.#at(2 + (sysvHash(name) % this.#nbucket));
    for (let steps = 0; index !== 0; steps++) {
      if (steps > this.#nchain || index >= this.#nchain || index >= this.#symbols.count) {
        throw new FormatError(".hash: chain is cyclic or out of range", this.#section.sh_offset, index);
      }
      if (this.#symbols.strings.equals(this.#symbols.rawAt(index).st_name, name)) found.push(index);
      index = this.#at(2 + this.#nbucket + index);
    }
    return found;
  }

  #at(slot: number): number {
    const f = new Fields(this.#source.readAt(this.#section.sh_offset + slot * this.#entry, this.#entry), this.#layout);
    return this.#entry === 8 ? Number(f.u64(0) & 0xffffffffn) : f.u32(0);
  }
}
