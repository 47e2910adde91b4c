/**
 * xz decompression with a size cap, through `xz-decompress` (liblzma
 * compiled to WebAssembly: no native build, runs wherever Node does).
 */
import { FormatError, LimitError } from "../errors.js";

/** Decompresses `input`, failing with a {@link LimitError} past `limit` bytes and a {@link FormatError} on corrupt data. */
export async function decompressXz(input: Uint8Array, limit: number, what: string): Promise<Uint8Array> {
  // Loaded on first use: it instantiates a WebAssembly module, which most runs never need.
  const { XzReadableStream } = (await import("xz-decompress")).default;
  const stream = new XzReadableStream(new Blob([input]).stream());
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) {
        await reader.cancel();
        throw new LimitError(`${what}: decompresses to more than ${limit} bytes`);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof LimitError) throw error;
    throw new FormatError(`${what}: invalid xz data (${error instanceof Error ? error.message : String(error)})`, 0);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
