/**
 * The block structure of a zstd stream (RFC 8878, "Zstandard Frames"),
 * tracked beside the decoder so that it is fed one block at a time.
 *
 * `fzstd` decodes every complete block of the bytes it is given before it
 * returns, and allocates the window its frame header asks for: fed a
 * 256 KiB read of a crafted layer (thousands of 4-byte RLE blocks of
 * 128 KiB each), it produced a gigabyte in one call. Cutting its input at
 * block ends bounds each call's output by one block (128 KiB), so the
 * consumer's pace holds the decoder back; reading each frame header first
 * refuses a window past {@link MAX_ZSTD_WINDOW} before it is allocated.
 *
 *     frame     = magic 28 b5 2f fd, header, block…, [checksum 4]
 *     header    = descriptor, [window 1], [dictionary id 0/1/2/4], [content size 0/1/2/4/8]
 *     block     = 3 bytes little-endian: last (bit 0), type (bits 1-2), size (bits 3-23);
 *                 then size bytes (raw, compressed) or 1 byte (RLE)
 *     skippable = magic 5? 2a 4d 18, size 4, size bytes
 */
import { FormatError, LimitError } from "../errors.js";

/**
 * Largest window a layer may ask for: 8 MiB, what `zstd -19` and the Go
 * encoder Docker and containerd use write at most. `fzstd` keeps (and
 * shifts, for every block) a buffer that size, so the window bounds both
 * memory and the work per byte.
 */
export const MAX_ZSTD_WINDOW = 8 * 1024 * 1024;

type State = "magic" | "descriptor" | "frameHeader" | "blockHeader" | "blockBody" | "checksum" | "skipSize" | "skipBody";

/** Splits a zstd stream into pieces that each end at most one block. */
export class ZstdFrames {
  readonly #what: string;
  #state: State = "magic";
  /** Header bytes collected so far, and how many the current state needs. */
  #header: number[] = [];
  #need = 4;
  /** Body bytes left in the current block, checksum or skippable frame. */
  #left = 0;
  #last = false;
  #checksum = false;
  /** Offset of the next byte in the compressed stream. */
  #offset = 0;

  constructor(what: string) {
    this.#what = what;
  }

  /** Whether the stream may end here (between frames). */
  get atFrameEnd(): boolean {
    return this.#state === "magic" && this.#header.length === 0;
  }

  /** `chunk` cut after every block end (the decoder's output per piece is then one block at most). */
  *split(chunk: Uint8Array): Generator<Uint8Array> {
    let start = 0;
    let at = 0;
    while (at < chunk.length) {
      if (this.#state === "blockBody" || this.#state === "checksum" || this.#state === "skipBody") {
        const n = Math.min(this.#left, chunk.length - at);
        at += n;
        this.#offset += n;
        this.#left -= n;
        if (this.#left === 0) {
          if (this.#state === "blockBody") {
            yield chunk.subarray(start, at);
            start = at;
          }
          this.#afterBody();
        }
        continue;
      }
      this.#header.push(chunk[at] as number);
      at += 1;
      this.#offset += 1;
      if (this.#header.length === this.#need) this.#afterHeader();
    }
    if (start < chunk.length) yield chunk.subarray(start);
  }

  #afterBody(): void {
    if (this.#state === "blockBody" && !this.#last) this.#expect("blockHeader", 3);
    else if (this.#state === "blockBody" && this.#checksum) {
      this.#state = "checksum";
      this.#left = 4;
    } else this.#expect("magic", 4);
  }

  #afterHeader(): void {
    const h = this.#header;
    switch (this.#state) {
      case "magic": {
        const magic = ((h[0] as number) | ((h[1] as number) << 8) | ((h[2] as number) << 16) | ((h[3] as number) << 24)) >>> 0;
        if (magic === 0xfd2fb528) this.#expect("descriptor", 1);
        else if ((magic & 0xfffffff0) === 0x184d2a50) this.#expect("skipSize", 4);
        else throw new FormatError(`${this.#what}: corrupt zstd data (no frame magic)`, this.#offset - 4, undefined, true);
        return;
      }
      case "descriptor": {
        const d = h[0] as number;
        const single = (d & 0x20) !== 0;
        const fcsFlag = d >> 6;
        const fcsBytes = fcsFlag === 0 ? (single ? 1 : 0) : 1 << fcsFlag;
        const dictBytes = [0, 1, 2, 4][d & 3] as number;
        this.#checksum = (d & 4) !== 0;
        this.#need = 1 + (single ? 0 : 1) + dictBytes + fcsBytes;
        this.#state = "frameHeader";
        if (this.#need === 1) this.#afterHeader();
        return;
      }
      case "frameHeader": {
        const d = h[0] as number;
        const single = (d & 0x20) !== 0;
        const fcsFlag = d >> 6;
        const fcsAt = 1 + (single ? 0 : 1) + ([0, 1, 2, 4][d & 3] as number);
        let window: number;
        if (single) {
          // The window is the content size (RFC 8878 3.1.1.1.2).
          window = 0;
          for (let i = h.length - 1; i >= fcsAt; i--) window = window * 256 + (h[i] as number);
          if (fcsFlag === 1) window += 256;
        } else {
          const w = h[1] as number;
          const base = 2 ** (10 + (w >> 3));
          window = base + (base / 8) * (w & 7);
        }
        if (window > MAX_ZSTD_WINDOW) {
          throw new LimitError(
            `${this.#what}: a zstd frame at offset 0x${(this.#offset - h.length - 4).toString(16)} asks for a ${window}-byte window (limit ${MAX_ZSTD_WINDOW}, what zstd -19 and Docker's encoder write); recompress the layer without --long or --ultra`,
          );
        }
        this.#expect("blockHeader", 3);
        return;
      }
      case "blockHeader": {
        const v = (h[0] as number) | ((h[1] as number) << 8) | ((h[2] as number) << 16);
        const type = (v >> 1) & 3;
        const size = v >>> 3;
        if (type === 3) throw new FormatError(`${this.#what}: corrupt zstd data (reserved block type)`, this.#offset - 3);
        this.#last = (v & 1) !== 0;
        this.#header = [];
        this.#state = "blockBody";
        this.#left = type === 1 ? 1 : size;
        if (this.#left === 0) this.#afterBody();
        return;
      }
      case "skipSize": {
        this.#header = [];
        this.#state = "skipBody";
        this.#left = ((h[0] as number) | ((h[1] as number) << 8) | ((h[2] as number) << 16) | ((h[3] as number) << 24)) >>> 0;
        if (this.#left === 0) this.#afterBody();
        return;
      }
      default:
        return;
    }
  }

  #expect(state: State, need: number): void {
    this.#state = state;
    this.#need = need;
    this.#header = [];
  }
}
