/**
 * String tables (`SHT_STRTAB`), resolved one name at a time.
 *
 * A name is read only when asked for, by offset, through the source's block
 * cache; nothing decodes the whole table. Comparing a name against a wanted
 * one is done on bytes, so scanning a 100k-symbol table for one name never
 * builds 100k strings.
 */
import { FormatError } from "../errors.js";
import type { ByteSource } from "../io/byte-source.js";
import { readReusing } from "./read-into.js";

/** Longest name probec accepts (mangled C++ names run to a few KiB; hostile ones do not end). */
export const MAX_NAME_LENGTH = 64 * 1024;

const decoder = new TextDecoder("utf-8");
const AT_SIGN = 0x40;
/** Largest string table {@link StringTable.retain} keeps in memory. */
export const MAX_RESIDENT_BYTES = 64 * 1024 * 1024;
const encoder = new TextEncoder();

/** Encodes a wanted name once, for repeated byte comparisons. */
export function nameBytes(name: string): Uint8Array {
  return encoder.encode(name);
}

/** One string table: a byte range of the file. */
export class StringTable {
  readonly #source: ByteSource;
  readonly #offset: number;
  readonly #size: number;
  readonly #what: string;
  /** The whole table while a listing holds it, see {@link retain}. */
  #resident: Uint8Array | undefined;

  /** @param what how errors name the table, e.g. `.dynstr`. */
  constructor(source: ByteSource, offset: number, size: number, what: string) {
    if (offset + size > source.size) throw new FormatError(`${what} extends past the end of the file`, offset, size);
    this.#source = source;
    this.#offset = offset;
    this.#size = size;
    this.#what = what;
  }

  /** Size of the table in bytes. */
  get size(): number {
    return this.#size;
  }

  /**
   * The NUL-terminated string at `index`. Throws a FormatError for an index
   * past the end or an unterminated string.
   */
  get(index: number): string {
    const resident = this.#resident;
    if (resident !== undefined && index < resident.length) {
      const nul = resident.indexOf(0, index);
      if (nul >= 0) return decoder.decode(resident.subarray(index, nul));
    }
    return decoder.decode(this.#bytesAt(index));
  }

  /**
   * A 30-bit FNV-1a hash of the name at `index` up to its NUL or its first
   * `@` (so `foo` and `foo@@VER` hash alike), computed on the bytes without
   * building a string.
   */
  baseNameHash(index: number): number {
    const resident = this.#resident;
    const bytes = resident !== undefined && index < resident.length ? resident : this.#bytesAt(index);
    let at = bytes === resident ? index : 0;
    let h = 0x811c9dc5;
    for (let c = bytes[at]; c !== undefined && c !== 0 && c !== AT_SIGN; c = bytes[++at]) h = Math.imul(h ^ c, 0x01000193);
    return (h >>> 2) & 0x3fffffff;
  }

  /**
   * `length` bytes of the table from `start` (clipped to its end), for a
   * reader that takes many names from one region: see
   * {@link scanName} and {@link decodeNameIn}. With `reuse`, the bytes
   * may be a view of it, valid until it is reused (see read-into.ts).
   */
  bytes(start: number, length: number, reuse?: Uint8Array): Uint8Array {
    const end = Math.min(this.#size, start + length);
    if (start >= end) return new Uint8Array(0);
    return readReusing(this.#source, this.#offset + start, end - start, reuse, this.#what);
  }

  /**
   * Keeps the whole table in memory until {@link release}, for a pass
   * that resolves names in entry order: names are not stored in entry
   * order, so reading them one by one would fetch the same blocks many
   * times over (a listing of every symbol reads names a window at a time
   * instead, see list-symbols.ts). Tables above {@link MAX_RESIDENT_BYTES}
   * stay on disk.
   */
  retain(): void {
    if (this.#resident === undefined && this.#size <= MAX_RESIDENT_BYTES) {
      this.#resident = this.#source.readAt(this.#offset, this.#size);
    }
  }

  /** Drops what {@link retain} loaded. */
  release(): void {
    this.#resident = undefined;
  }

  /**
   * True when the string at `index` is exactly `wanted` (bytes from
   * {@link nameBytes}), or, with `orVersioned`, `wanted` followed by `@`:
   * GNU ld writes versioned names into `.symtab` as `name@VER`/`name@@VER`.
   */
  equals(index: number, wanted: Uint8Array, orVersioned = false): boolean {
    if (index + wanted.length >= this.#size) return false;
    const chunk = this.#source.readAt(this.#offset + index, wanted.length + 1);
    for (let i = 0; i < wanted.length; i++) if (chunk[i] !== wanted[i]) return false;
    const next = chunk[wanted.length];
    return next === 0 || (orVersioned && next === AT_SIGN);
  }

  #bytesAt(index: number): Uint8Array {
    if (index >= this.#size) throw new FormatError(`${this.#what}: string index past the end of the table`, this.#offset, index);
    let want = Math.min(256, this.#size - index);
    for (;;) {
      const chunk = this.#source.readAt(this.#offset + index, want);
      const nul = chunk.indexOf(0);
      if (nul >= 0) return chunk.subarray(0, nul);
      if (index + want >= this.#size) throw new FormatError(`${this.#what}: unterminated string`, this.#offset + index);
      if (want >= MAX_NAME_LENGTH) throw new FormatError(`${this.#what}: string longer than ${MAX_NAME_LENGTH} bytes`, this.#offset + index);
      want = Math.min(want * 4, MAX_NAME_LENGTH, this.#size - index);
    }
  }
}

/**
 * The name starting at `at` in `bytes`: where it ends (its NUL; -1 when
 * `bytes` ends first) and {@link StringTable.baseNameHash} of it (the same
 * 30-bit FNV-1a up to its first `@`), found in one pass over its bytes.
 * The hash is written to `out.hash`, so that a caller in a loop allocates
 * nothing.
 */
export function scanName(bytes: Uint8Array, at: number, out: { hash: number }): number {
  let h = 0x811c9dc5;
  let i = at;
  for (; i < bytes.length; i++) {
    const c = bytes[i] as number;
    if (c === 0 || c === AT_SIGN) break;
    h = Math.imul(h ^ c, 0x01000193);
  }
  out.hash = (h >>> 2) & 0x3fffffff;
  if (i >= bytes.length) return -1;
  return bytes[i] === 0 ? i : bytes.indexOf(0, i);
}

/** The UTF-8 name in `bytes` from `at` to `end`. */
export function decodeNameIn(bytes: Uint8Array, at: number, end: number): string {
  return decoder.decode(bytes.subarray(at, end));
}
