/**
 * The one way probec reads bytes: a random-access, synchronous source.
 *
 * Modelled on gimli-rs/object's `ReadRef`: the ELF reader asks for exactly
 * the ranges it needs (a header, a table, one string) and never for a whole
 * file, so a 100 MB binary costs only the bytes that answer the question.
 * Synchronous on purpose: positional reads of a few kilobytes from the page
 * cache cost microseconds, and a sync reader keeps the parser a plain loop.
 *
 * Pure: no `node:*` here; the fd-backed source lives in `file-source.ts`.
 */
import { FormatError, IoError } from "../errors.js";

/** A random-access view of a file's bytes. */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Returns exactly `length` bytes starting at `offset`. The caller has
   * checked the range against {@link size}; implementations throw a
   * {@link FormatError} on a range past the end anyway. The returned bytes
   * are read-only and stay valid: implementations never reuse a buffer they
   * handed out, so callers may keep views without copying.
   */
  readAt(offset: number, length: number): Uint8Array;
  /**
   * Optional: fills `target` with the `target.length` bytes at `offset`,
   * for a pass that reads many large ranges one after another into one
   * buffer of its own (listing every symbol reads a string table a window
   * at a time): a fresh buffer per range would hold memory until a GC.
   * A source whose `readAt` allocates nothing need not offer it.
   */
  readInto?(offset: number, target: Uint8Array): void;
  /** Bytes actually fetched from the underlying storage so far (for benchmarks). */
  readonly bytesRead: number;
  /** Releases the underlying handle, if any. Reading after close throws. */
  close(): void;
}

/**
 * Reads `length` bytes at `offset`, throwing a {@link FormatError} that names
 * `what` when the range does not lie inside the source. Every read of a
 * value taken from the file goes through here, so a lying offset or size
 * becomes a typed error with the offset, never a `RangeError`.
 */
export function readRange(source: ByteSource, offset: number, length: number, what: string): Uint8Array {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new FormatError(`${what}: invalid offset`, 0, offset);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new FormatError(`${what}: invalid size`, offset, length);
  }
  if (offset + length > source.size) {
    throw new FormatError(
      `${what} is truncated: it needs 0x${length.toString(16)} bytes but the file ends 0x${(source.size - Math.min(offset, source.size)).toString(16)} bytes later`,
      offset,
    );
  }
  return source.readAt(offset, length);
}

/** A {@link ByteSource} over bytes already in memory (tests, decompressed debug data, browsers). */
export class BufferSource implements ByteSource {
  readonly size: number;
  #bytes: Uint8Array | undefined;
  #read = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.size = bytes.length;
  }

  get bytesRead(): number {
    return this.#read;
  }

  readAt(offset: number, length: number): Uint8Array {
    const bytes = this.#bytes;
    if (bytes === undefined) throw new IoError("buffer source: read after close");
    if (offset < 0 || length < 0 || offset + length > bytes.length) {
      throw new FormatError("read past the end of the data", offset, length);
    }
    this.#read += length;
    return bytes.subarray(offset, offset + length);
  }

  close(): void {
    this.#bytes = undefined;
  }
}
