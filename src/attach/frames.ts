/**
 * The helper's stdout, cut into frames (native/PROTOCOL.md, "stdout: frames"):
 * an 8-byte header — payload length (u32), frame type (u32), both in host
 * byte order — then the payload.
 *
 * A pipe delivers bytes in chunks that have nothing to do with frames: one
 * chunk may hold many frames, and a frame may span many chunks. The decoder
 * keeps only the unfinished tail between chunks, and refuses a length above
 * {@link MAX_FRAME_BYTES} or an unknown type instead of buffering garbage.
 */
import { protocolError } from "./status.js";

/** Frame type 1: one ring-buffer record, verbatim. */
export const FRAME_EVENT = 1;
/** Frame type 2: one JSON status object. */
export const FRAME_STATUS = 2;

/** Bytes of a frame header. */
export const FRAME_HEADER_BYTES = 8;

/**
 * Largest payload accepted: 16 MiB. An event is at most PROBEC_MAX_EVENT
 * (16 KiB) and a status a few KiB; anything near this is a corrupt stream,
 * and failing beats allocating whatever a bad length says.
 */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** One decoded frame. The payload is a view into the chunk it came in (or a copy when it spanned chunks). */
export interface Frame {
  readonly type: typeof FRAME_EVENT | typeof FRAME_STATUS;
  readonly payload: Buffer;
}

// The helper writes in host byte order; this code runs on the same host.
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A streaming frame decoder: feed it chunks in order, get whole frames back. */
export class FrameDecoder {
  /** The bytes of an unfinished frame carried over from earlier chunks. */
  private tail: Buffer = Buffer.alloc(0);
  /** Total bytes consumed before `tail`, for error offsets. */
  private consumed = 0;
  private failed = false;

  /**
   * Decodes every whole frame in `chunk` (after what earlier chunks left).
   * Throws an `AttachError` naming the offset and the bad value on a
   * corrupt stream; after that the decoder refuses further input.
   */
  push(chunk: Buffer): Frame[] {
    if (this.failed) throw protocolError("the stream is already corrupt; no frame after the error can be trusted");
    const data = this.tail.length === 0 ? chunk : Buffer.concat([this.tail, chunk]);
    const frames: Frame[] = [];
    let at = 0;
    while (data.length - at >= FRAME_HEADER_BYTES) {
      const length = littleEndian ? data.readUInt32LE(at) : data.readUInt32BE(at);
      const type = littleEndian ? data.readUInt32LE(at + 4) : data.readUInt32BE(at + 4);
      if (type !== FRAME_EVENT && type !== FRAME_STATUS) this.fail(`unknown frame type ${type}`, at);
      if (length > MAX_FRAME_BYTES) this.fail(`frame length ${length} exceeds the ${MAX_FRAME_BYTES}-byte limit`, at);
      if (data.length - at - FRAME_HEADER_BYTES < length) break;
      const start = at + FRAME_HEADER_BYTES;
      frames.push({ type: type as Frame["type"], payload: data.subarray(start, start + length) });
      at = start + length;
    }
    // Copy the tail: keeping a view would pin the whole (possibly large) chunk until the next one.
    this.tail = at === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(at));
    this.consumed += at;
    return frames;
  }

  /** Bytes of an unfinished frame waiting for more input (0 at a frame boundary). */
  get pending(): number {
    return this.tail.length;
  }

  private fail(problem: string, at: number): never {
    this.failed = true;
    throw protocolError(`${problem} at byte ${this.consumed + at}; the helper and this probec do not speak the same protocol, or its stdout was corrupted`);
  }
}
