/**
 * Endian- and class-aware field access over a byte array.
 *
 * Every integer in an ELF file is read through one of these, so that the
 * same table code serves ELF32/ELF64 and little/big endian files. 64-bit
 * fields come back as `bigint` (addresses stay exact); offsets and sizes
 * that must index the file go through {@link toOffset}.
 */
import { FormatError } from "../errors.js";

/** Byte order and word size of one ELF file. */
export interface ElfLayout {
  /** 32 or 64. */
  readonly bits: 32 | 64;
  readonly littleEndian: boolean;
}

/** Typed reads at offsets inside one byte array. */
export class Fields {
  readonly #view: DataView;
  readonly #le: boolean;
  readonly #is64: boolean;

  constructor(bytes: Uint8Array, layout: ElfLayout) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#le = layout.littleEndian;
    this.#is64 = layout.bits === 64;
  }

  get length(): number {
    return this.#view.byteLength;
  }

  u8(offset: number): number {
    return this.#view.getUint8(offset);
  }

  u16(offset: number): number {
    return this.#view.getUint16(offset, this.#le);
  }

  u32(offset: number): number {
    return this.#view.getUint32(offset, this.#le);
  }

  i32(offset: number): number {
    return this.#view.getInt32(offset, this.#le);
  }

  u64(offset: number): bigint {
    return this.#view.getBigUint64(offset, this.#le);
  }

  /** A word-sized field (`Elf32_Addr`/`Elf64_Addr`, `_Off`, `_Xword` in 64-bit files). */
  word(offset: number): bigint {
    return this.#is64 ? this.#view.getBigUint64(offset, this.#le) : BigInt(this.#view.getUint32(offset, this.#le));
  }
}

/**
 * Converts a file-supplied offset or size to a `number`, or throws a
 * {@link FormatError} when it cannot index any real file (beyond 2^53).
 */
export function toOffset(value: bigint, what: string, at: number): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${what} is too large`, at, value);
  return Number(value);
}

/**
 * The 64-bit offset or size at `at` in `view` as a number, like
 * {@link toOffset} of the bigint but without making one: the halves are
 * combined, and a value beyond 2^53 - 1 (a high half of 2^21 or more) is
 * the same FormatError, naming `what` and the file offset `fileAt`.
 */
export function offsetAt(view: DataView, at: number, le: boolean, what: string, fileAt: number): number {
  const high = view.getUint32(le ? at + 4 : at, le);
  if (high >= 0x200000) throw new FormatError(`${what} is too large`, fileAt, view.getBigUint64(at, le));
  return high * 0x100000000 + view.getUint32(le ? at : at + 4, le);
}

/** Formats an address the way probec prints them everywhere: `0x` and lower-case hex. */
export function hex(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}
