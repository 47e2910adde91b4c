/**
 * A streaming tar reader: members one at a time from a stream of chunks
 * (a decompressing layer), without ever holding more than the current
 * chunk and what the caller asks for.
 *
 *     const tar = new TarStream(chunks, "layer 2");
 *     for (let h = await tar.next(); h !== undefined; h = await tar.next()) {
 *       const head = await tar.readHead(4096);   // optional: the first bytes
 *       for await (const chunk of tar.body()) …  // optional: the rest
 *     }                                          // unread data is skipped
 *
 * `close()` stops the underlying stream early (a check that has found
 * every file it needs need not decompress the rest of a layer).
 */
import { FormatError, InternalError, LimitError } from "../errors.js";
import { BLOCK, MAX_TAR_ENTRIES, PendingExtensions, isMetaType, metaSize, paddedSize, parseHeaderBlock, type TarHeader } from "./tar-header.js";

/** Reads tar members from `chunks`. */
export class TarStream {
  readonly #what: string;
  readonly #iterator: AsyncIterator<Uint8Array>;
  /** Buffered chunks not yet consumed, and the offset into the first. */
  #chunks: Uint8Array[] = [];
  #head = 0;
  #buffered = 0;
  #done = false;
  /** Bytes consumed from the stream so far. */
  #position = 0;
  /** Data bytes of the current member still unread, and its padding. */
  #remaining = 0;
  #padding = 0;
  #headRead = false;
  #entries = 0;
  #ended = false;
  readonly #extensions = new PendingExtensions();

  /** @param what names the stream in messages (`layer 2 (sha256:…)`). */
  constructor(chunks: AsyncIterable<Uint8Array>, what: string) {
    this.#iterator = chunks[Symbol.asyncIterator]();
    this.#what = what;
  }

  /** The next member, or `undefined` at the end of the archive. Skips what is left of the current one. */
  async next(): Promise<TarHeader | undefined> {
    if (this.#ended) return undefined;
    await this.#skip(this.#remaining + this.#padding);
    this.#remaining = 0;
    this.#padding = 0;
    for (;;) {
      const offset = this.#position;
      if (!(await this.#fill(BLOCK))) {
        // GNU tar accepts an archive that ends without its two zero blocks; so do we, but not one cut mid-header.
        if (this.#buffered === 0) return this.#end();
        throw new FormatError(`${this.#what}: truncated tar archive (the stream ends inside a header)`, offset);
      }
      const block = this.#take(BLOCK);
      const parsed = parseHeaderBlock(block, offset, this.#what);
      if (parsed.end) return this.#end();
      this.#entries += 1;
      if (this.#entries > MAX_TAR_ENTRIES) throw new LimitError(`${this.#what}: more than ${MAX_TAR_ENTRIES} tar entries`);
      const raw = parsed.raw;
      if (isMetaType(raw.typeflag)) {
        const size = metaSize(raw, offset, this.#what);
        if (!(await this.#fill(paddedSize(size)))) throw this.#truncated(offset);
        const body = this.#take(size);
        await this.#skip(paddedSize(size) - size);
        this.#extensions.add(raw, body, offset, this.#what);
        continue;
      }
      const header = this.#extensions.finish(raw, offset);
      this.#remaining = header.size;
      this.#padding = paddedSize(header.size) - header.size;
      this.#headRead = false;
      return header;
    }
  }

  /** Up to `max` bytes from the start of the current member's data; call it before {@link body}, at most once. */
  async readHead(max: number): Promise<Uint8Array> {
    if (this.#headRead) throw new InternalError("TarStream.readHead called twice for one member");
    this.#headRead = true;
    const length = Math.min(max, this.#remaining);
    if (!(await this.#fill(length))) throw this.#truncated(this.#position);
    this.#remaining -= length;
    return this.#take(length);
  }

  /** The current member's data not yet read, in chunks (views valid until the next call). */
  async *body(): AsyncGenerator<Uint8Array> {
    this.#headRead = true;
    while (this.#remaining > 0) {
      if (this.#buffered === 0 && !(await this.#pull())) throw this.#truncated(this.#position);
      const first = this.#chunks[0] as Uint8Array;
      const n = Math.min(first.length - this.#head, this.#remaining);
      const view = first.subarray(this.#head, this.#head + n);
      this.#consume(n);
      this.#remaining -= n;
      yield view;
    }
  }

  /** Stops reading: the underlying stream is told to stop (a gunzip or a file read is destroyed). */
  async close(): Promise<void> {
    this.#ended = true;
    this.#chunks = [];
    this.#buffered = 0;
    await this.#iterator.return?.();
  }

  async #end(): Promise<undefined> {
    this.#ended = true;
    await this.#iterator.return?.();
    return undefined;
  }

  #truncated(offset: number): FormatError {
    return new FormatError(`${this.#what}: truncated tar archive (a member's data ends early)`, offset);
  }

  /** Pulls one more chunk; false at the end of the stream. */
  async #pull(): Promise<boolean> {
    if (this.#done) return false;
    for (;;) {
      const r = await this.#iterator.next();
      if (r.done === true) {
        this.#done = true;
        return false;
      }
      const chunk = r.value;
      if (chunk.length === 0) continue;
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      return true;
    }
  }

  /** Makes `n` bytes available; false when the stream ends first. */
  async #fill(n: number): Promise<boolean> {
    while (this.#buffered < n) if (!(await this.#pull())) return false;
    return true;
  }

  /** Takes `n` buffered bytes (copied when they span chunks). */
  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first !== undefined && first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n);
      this.#consume(n);
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0] as Uint8Array;
      const k = Math.min(chunk.length - this.#head, n - filled);
      out.set(chunk.subarray(this.#head, this.#head + k), filled);
      filled += k;
      this.#consume(k);
    }
    return out;
  }

  /** Drops `n` bytes, pulling chunks as needed, without copying any. */
  async #skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.#buffered === 0 && !(await this.#pull())) throw this.#truncated(this.#position);
      const first = this.#chunks[0] as Uint8Array;
      const k = Math.min(first.length - this.#head, left);
      this.#consume(k);
      left -= k;
    }
  }

  #consume(n: number): void {
    this.#head += n;
    this.#buffered -= n;
    this.#position += n;
    const first = this.#chunks[0];
    if (first !== undefined && this.#head >= first.length) {
      this.#chunks.shift();
      this.#head = 0;
    }
  }
}
