/**
 * zstd layers: decoded one block at a time, so a layer that expands a
 * thousandfold is held back by its reader (no gigabyte buffered before the
 * first chunk is read), and a frame asking for a huge window is refused
 * before the decoder allocates it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FormatError, LimitError } from "../../src/index.js";
import { tarBytes } from "../../src/image/decompress.js";
import { ZstdFrames } from "../../src/image/zstd-frames.js";

const dir = mkdtempSync(join(tmpdir(), "probec-zstd-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function blobFile(name: string, bytes: Uint8Array): { path: string; offset: number; size: number; what: string } {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, offset: 0, size: bytes.length, what: `layer 1 (${name})` };
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of chunks) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

describe("zstd layers", () => {
  it("a 256 MiB run of zeros (8 KiB compressed) is not decoded ahead of its reader", async () => {
    const zst = execFileSync("sh", ["-c", "head -c 268435456 /dev/zero | zstd -3 -q -c"], { maxBuffer: 1 << 20 });
    expect(zst.length).toBeLessThan(64 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    const iterator = tarBytes(blobFile("zeros.zst", zst), "zstd")[Symbol.asyncIterator]();
    let read = 0;
    let peak = 0;
    // Read 4 MiB, then stop: what the decoder holds meanwhile is what it decoded ahead.
    while (read < 4 * 1024 * 1024) {
      const r = await iterator.next();
      if (r.done === true) break;
      read += r.value.length;
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }
    await iterator.return?.();
    expect(read).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(peak).toBeLessThan(32 * 1024 * 1024);
  });

  it("reads several frames and a skippable frame the same at every chunk size", async () => {
    const a = Buffer.from("first frame ".repeat(5000));
    const b = Buffer.alloc(300_000, 7);
    const za = execFileSync("zstd", ["-q", "-c", "--check"], { input: a });
    const zb = execFileSync("zstd", ["-q", "-c", "--no-check"], { input: b });
    const skippable = Buffer.concat([Buffer.from([0x53, 0x2a, 0x4d, 0x18, 3, 0, 0, 0]), Buffer.from("xyz")]);
    const all = Buffer.concat([za, skippable, zb]);
    const expected = Buffer.concat([a, b]);
    expect((await collect(tarBytes(blobFile("multi.zst", all), "zstd"))).equals(expected)).toBe(true);
    for (const size of [1, 2, 3, 7, 4096]) {
      const frames = new ZstdFrames("test");
      const pieces: Uint8Array[] = [];
      for (let i = 0; i < all.length; i += size) pieces.push(...frames.split(all.subarray(i, i + size)));
      expect(Buffer.concat(pieces).equals(all)).toBe(true);
      expect(frames.atFrameEnd).toBe(true);
    }
  });

  it("refuses a frame that asks for a 1 GiB window, before decoding it", async () => {
    // Magic, descriptor 0 (no content size, no checksum), window exponent 20 (2^30), then an RLE block.
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3, 0x03 | (1024 << 3), 0x00, 0x00, 0x41]);
    await expect(collect(tarBytes(blobFile("window.zst", frame), "zstd"))).rejects.toThrow(LimitError);
    await expect(collect(tarBytes(blobFile("window.zst", frame), "zstd"))).rejects.toThrow(/1073741824-byte window \(limit 8388608/);
  });

  it("a stream cut inside a frame is a FormatError naming the layer", async () => {
    const z = execFileSync("zstd", ["-q", "-c"], { input: Buffer.from("some bytes ".repeat(1000)) });
    await expect(collect(tarBytes(blobFile("cut.zst", z.subarray(0, z.length - 5)), "zstd"))).rejects.toThrow(FormatError);
    await expect(collect(tarBytes(blobFile("cut.zst", z.subarray(0, z.length - 5)), "zstd"))).rejects.toThrow(/layer 1 \(cut\.zst\): corrupt zstd data/);
  });
});
