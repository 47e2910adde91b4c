/**
 * Layer blobs as streams of tar bytes: gzip (node:zlib), zstd (the pure-JS
 * streaming decoder `fzstd`: Node 20's zlib has no zstd) or plain tar.
 *
 * The compression is decided by the blob's magic bytes, checked against
 * its media type: registries and `docker save` are known to label blobs
 * loosely (a `…tar` media type on a gzip blob happens), so the bytes win
 * when they name a known format, and a blob that is none of them is an
 * error naming both.
 */
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { Decompress } from "fzstd";
import { FormatError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { ZstdFrames } from "./zstd-frames.js";

/** How a layer is compressed. */
export type Compression = "gzip" | "zstd" | "none";

/** Where a blob's bytes are: a range of a file on disk. */
export interface BlobLocation {
  /** The file holding it (the blob file, or the archive it is a member of). */
  readonly path: string;
  readonly offset: number;
  readonly size: number;
  /** How messages name it (`layer 2 (sha256:1a2b…)`). */
  readonly what: string;
}

const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];

/** Decides a blob's compression from its first bytes and its media type. */
export function detectCompression(source: ByteSource, blob: BlobLocation, mediaType: string | undefined): Compression {
  const head = readRange(source, blob.offset, Math.min(blob.size, 512), blob.what);
  if (starts(head, GZIP)) return "gzip";
  if (starts(head, ZSTD)) return "zstd";
  // A tar starts with a header whose "ustar" magic is at 257; an empty layer is 1024 zero bytes.
  const isTar = blob.size === 0 || (head.length === 512 && (new TextDecoder().decode(head.subarray(257, 262)) === "ustar" || head.every((b) => b === 0)));
  if (isTar) return "none";
  throw new FormatError(
    `${blob.what}: neither gzip, zstd nor tar (media type ${mediaType ?? "not given"}; first bytes ${[...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ")})`,
    blob.offset,
    undefined,
    false,
  );
}

/**
 * The compression a layer media type declares (`…tar+gzip`, `…tar+zstd`,
 * `…tar`, Docker's `…rootfs.diff.tar.gzip`), or undefined when it says
 * nothing about it (absent, or a type probec does not know).
 */
export function declaredCompression(mediaType: string | undefined): Compression | undefined {
  if (mediaType === undefined) return undefined;
  if (/(\+|\.)gzip$/.test(mediaType)) return "gzip";
  if (/(\+|\.)zstd$/.test(mediaType)) return "zstd";
  if (/\.tar$/.test(mediaType)) return "none";
  return undefined;
}

/** The blob's decompressed bytes, streamed from disk in 1 MiB reads. */
export function tarBytes(blob: BlobLocation, compression: Compression): AsyncIterable<Uint8Array> {
  const raw = (): NodeJS.ReadableStream =>
    blob.size === 0 ? emptyStream() : createReadStream(blob.path, { start: blob.offset, end: blob.offset + blob.size - 1, highWaterMark: 1 << 18 });
  switch (compression) {
    case "none":
      return raw() as unknown as AsyncIterable<Uint8Array>;
    case "gzip":
      return gunzip(raw(), blob);
    case "zstd":
      return unzstd(raw() as unknown as AsyncIterable<Uint8Array>, blob);
  }
}

async function* gunzip(input: NodeJS.ReadableStream, blob: BlobLocation): AsyncGenerator<Uint8Array> {
  const stream = input.pipe(createGunzip({ chunkSize: 1 << 16 }));
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array>) yield chunk;
  } catch (error) {
    throw new FormatError(`${blob.what}: corrupt gzip data (${(error as Error).message})`, blob.offset, undefined, false);
  } finally {
    (input as unknown as { destroy?: () => void }).destroy?.();
    (stream as unknown as { destroy?: () => void }).destroy?.();
  }
}

/**
 * zstd through `fzstd`, fed one block at a time (see zstd-frames.ts): each
 * block's output is yielded before the next block is decoded, so a layer
 * that expands a thousandfold is held back by its consumer like gzip is.
 */
/** Decoded bytes after which the zstd decoder lets the event loop run. */
const YIELD_EVERY = 4 * 1024 * 1024;

async function* unzstd(input: AsyncIterable<Uint8Array>, blob: BlobLocation): AsyncGenerator<Uint8Array> {
  let out: Uint8Array[] = [];
  const decoder = new Decompress((data) => {
    if (data.length > 0) out.push(data);
  });
  const frames = new ZstdFrames(blob.what);
  const push = (piece: Uint8Array, final: boolean): Uint8Array[] => {
    try {
      decoder.push(piece, final);
    } catch (error) {
      throw new FormatError(`${blob.what}: corrupt zstd data (${(error as Error).message})`, blob.offset, undefined, false);
    }
    const ready = out;
    out = [];
    return ready;
  };
  const iterator = input[Symbol.asyncIterator]();
  let produced = 0;
  try {
    for (;;) {
      const r = await iterator.next();
      if (r.done === true) {
        if (!frames.atFrameEnd) throw new FormatError(`${blob.what}: corrupt zstd data (the stream ends inside a frame)`, blob.offset, undefined, false);
        yield* push(new Uint8Array(0), true);
        return;
      }
      for (const piece of frames.split(r.value)) {
        for (const chunk of push(piece, false)) {
          yield chunk;
          produced += chunk.length;
        }
        // Decoding is synchronous: without a turn of the event loop now and then, a small blob that expands
        // to gigabytes would keep signals, timers and the other layers' reads waiting until it ends.
        if (produced >= YIELD_EVERY) {
          produced = 0;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    }
  } finally {
    await iterator.return?.();
  }
}

async function* emptyGenerator(): AsyncGenerator<Uint8Array> {
  // An empty blob: no bytes at all.
}

function emptyStream(): NodeJS.ReadableStream {
  return emptyGenerator() as unknown as NodeJS.ReadableStream;
}

function starts(bytes: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}
