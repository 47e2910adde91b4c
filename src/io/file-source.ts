/**
 * A {@link ByteSource} over an open file descriptor, with a small bounded
 * block cache.
 *
 * ELF parsing reads many tiny, clustered pieces (a 24-byte symbol, then a
 * name a few hundred bytes away), so reads smaller than a block go through an
 * LRU of fixed-size blocks; larger reads (a whole symbol table chunk) go
 * straight to `pread` and are not cached. Memory is bounded by
 * `blockSize * maxBlocks` whatever the file size.
 */
import { closeSync, fstatSync, openSync, readSync, constants as fsConstants } from "node:fs";
import { FormatError, IoError } from "../errors.js";
import type { ByteSource } from "./byte-source.js";

/** Tuning for {@link FileSource}. */
export interface FileSourceOptions {
  /** Size of one cached block in bytes (default 4 KiB: a lookup touches a few scattered entries). */
  blockSize?: number;
  /** Blocks kept at most (default 256, i.e. 1 MiB). */
  maxBlocks?: number;
}

/** A positional-read, block-cached view of a regular file. */
export class FileSource implements ByteSource {
  readonly size: number;
  readonly path: string;
  #fd: number | undefined;
  #bytesRead = 0;
  readonly #blockSize: number;
  readonly #maxBlocks: number;
  /** Insertion-ordered map used as an LRU: re-inserted on every hit. */
  readonly #blocks = new Map<number, Uint8Array>();

  private constructor(path: string, fd: number, size: number, options: FileSourceOptions) {
    this.path = path;
    this.#fd = fd;
    this.size = size;
    this.#blockSize = options.blockSize ?? 4 * 1024;
    this.#maxBlocks = options.maxBlocks ?? 256;
  }

  /**
   * Opens `path` read-only. Refuses directories and other non-regular files
   * with an {@link IoError} naming the path; maps ENOENT/EACCES to messages
   * that say what to do.
   */
  static open(path: string, options: FileSourceOptions = {}): FileSource {
    const fd = openReadOnly(path);
    try {
      const stat = fstatSync(fd);
      if (stat.isDirectory()) {
        throw new IoError(`${path}: is a directory, not an ELF file`, "EISDIR", ["name a file inside it"]);
      }
      if (!stat.isFile()) {
        throw new IoError(`${path}: is not a regular file`, "EINVAL");
      }
      return new FileSource(path, fd, stat.size, options);
    } catch (error) {
      closeSync(fd);
      throw error instanceof IoError ? error : ioErrorFor(path, error);
    }
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  readAt(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new FormatError(`${this.path}: read past the end of the file`, offset, length);
    }
    if (length === 0) return new Uint8Array(0);
    const firstBlock = Math.floor(offset / this.#blockSize);
    const lastBlock = Math.floor((offset + length - 1) / this.#blockSize);
    if (length >= this.#blockSize || lastBlock - firstBlock > 1) return this.#pread(offset, length);
    if (firstBlock === lastBlock) {
      const block = this.#block(firstBlock);
      const start = offset - firstBlock * this.#blockSize;
      return block.subarray(start, start + length);
    }
    // Straddles two blocks: stitch them so that repeated small reads stay cached.
    const out = new Uint8Array(length);
    const head = this.#block(firstBlock);
    const start = offset - firstBlock * this.#blockSize;
    const headPart = head.subarray(start);
    out.set(headPart, 0);
    out.set(this.#block(lastBlock).subarray(0, length - headPart.length), headPart.length);
    return out;
  }

  close(): void {
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      this.#fd = undefined;
      this.#blocks.clear();
    }
  }

  #block(index: number): Uint8Array {
    const cached = this.#blocks.get(index);
    if (cached !== undefined) {
      this.#blocks.delete(index);
      this.#blocks.set(index, cached);
      return cached;
    }
    const start = index * this.#blockSize;
    const block = this.#pread(start, Math.min(this.#blockSize, this.size - start));
    this.#blocks.set(index, block);
    if (this.#blocks.size > this.#maxBlocks) {
      const oldest = this.#blocks.keys().next();
      if (!oldest.done) this.#blocks.delete(oldest.value);
    }
    return block;
  }

  readInto(offset: number, target: Uint8Array): void {
    if (offset < 0 || offset + target.length > this.size) {
      throw new FormatError(`${this.path}: read past the end of the file`, offset, target.length);
    }
    this.#preadInto(offset, target);
  }

  #pread(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.#preadInto(offset, out);
    return out;
  }

  #preadInto(offset: number, out: Uint8Array): void {
    const fd = this.#fd;
    if (fd === undefined) throw new IoError(`${this.path}: read after close`);
    const length = out.length;
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) {
        // The file shrank under us (a container replaced it): say so, do not return zeros.
        throw new IoError(`${this.path}: file shrank while being read (at offset 0x${(offset + done).toString(16)})`, "EIO");
      }
      done += n;
    }
    this.#bytesRead += length;
  }
}

/**
 * Opens `path` read-only without following it into a terminal or blocking
 * on a FIFO a hostile container put there; errors become {@link IoError}s
 * naming the path.
 */
export function openReadOnly(path: string): number {
  try {
    return openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOCTTY | fsConstants.O_NONBLOCK);
  } catch (error) {
    throw ioErrorFor(path, error);
  }
}

/** Maps a Node fs error to an {@link IoError} whose message names the path and the fix. */
export function ioErrorFor(path: string, error: unknown): IoError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return new IoError(`${path}: no such file`, code, [
        "check the path; inside a container, name the target (e.g. pid/1234:/usr/lib/libfoo.so) rather than a host path",
      ]);
    case "EACCES":
    case "EPERM":
      return new IoError(`${path}: permission denied`, code, ["run as root, or as a user that can read the file"]);
    case "EISDIR":
      return new IoError(`${path}: is a directory, not an ELF file`, code, ["name a file inside it"]);
    case "ENOTDIR":
      return new IoError(`${path}: a component of the path is not a directory`, code);
    case "ELOOP":
      return new IoError(`${path}: too many levels of symbolic links`, code);
    default: {
      const message = error instanceof Error ? error.message : String(error);
      return new IoError(`${path}: ${message}`, code);
    }
  }
}
