/**
 * A {@link ByteSource} over a byte range of another: a file stored in an
 * uncompressed image layer is a range of the layer blob, itself a range of
 * a `docker save` archive, and is read in place, never copied out.
 */
import { FormatError } from "../errors.js";
import type { ByteSource } from "./byte-source.js";

/** `length` bytes of `parent` from `start`; closing it leaves the parent open. */
export class SliceSource implements ByteSource {
  readonly size: number;
  readonly #parent: ByteSource;
  readonly #start: number;
  #read = 0;

  constructor(parent: ByteSource, start: number, length: number) {
    if (start < 0 || length < 0 || start + length > parent.size) throw new FormatError("slice lies outside its source", start, length);
    this.#parent = parent;
    this.#start = start;
    this.size = length;
  }

  get bytesRead(): number {
    return this.#read;
  }

  readAt(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.size) throw new FormatError("read past the end of the data", offset, length);
    this.#read += length;
    return this.#parent.readAt(this.#start + offset, length);
  }

  close(): void {
    // The parent is shared (one archive, many files): its owner closes it.
  }
}
