/**
 * Reading a range into a buffer the caller reuses, when the source can
 * (`ByteSource.readInto`), else as {@link readRange} does. A pass that reads
 * a 7.5 MB string table a window at a time then holds one window's memory,
 * not every window's until the next GC (issue 13).
 */
import { type ByteSource, readRange } from "../io/byte-source.js";

/**
 * `length` bytes at `offset`: a view of `buffer` (valid until the caller
 * reads into it again) when it is large enough and the source offers
 * `readInto`, else fresh bytes. The range is checked as {@link readRange}
 * checks it, errors naming `what`.
 */
export function readReusing(source: ByteSource, offset: number, length: number, buffer: Uint8Array | undefined, what: string): Uint8Array {
  if (buffer === undefined || source.readInto === undefined || length > buffer.length || length === 0) return readRange(source, offset, length, what);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > source.size) return readRange(source, offset, length, what);
  const view = buffer.subarray(0, length);
  source.readInto(offset, view);
  return view;
}
