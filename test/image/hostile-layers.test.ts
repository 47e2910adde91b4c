/**
 * Layers crafted to exhaust the reader (PITFALLS 24) and layers whose
 * meaning is easy to get wrong, read through {@link openImage}: long names
 * are refused as they are read, the loader's small files cannot pile up in
 * memory, a failing layer stops the others and leaves no temporary file,
 * and whiteouts and symlinked parents follow what Docker and containerd do.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LimitError } from "../../src/index.js";
import { openImage } from "../../src/image/open-image.js";
import { TarStream } from "../../src/image/tar-stream.js";
import { tarOf, writeOciLayout, type ImageSpec, type LayerCompression, type TarMember } from "../support/image.js";
import { fixture } from "./fixture.js";

const dir = mkdtempSync(join(tmpdir(), "probec-hostile-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let images = 0;

function image(
  layers: readonly (readonly TarMember[] | { tar: Buffer; compression: LayerCompression; mediaType?: string })[],
  compression: LayerCompression = "none",
): string {
  const spec: ImageSpec = {
    architecture: "amd64",
    layers: layers.map((l) => ("tar" in l ? l : { tar: tarOf(l), compression })),
    config: { entrypoint: ["/usr/bin/app"] },
  };
  return writeOciLayout(join(dir, `image-${images++}`), [spec]);
}

async function* once(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}

describe("hostile layers", () => {
  it("a pax path longer than PATH_MAX is refused by the tar reader, before the member is returned", async () => {
    const tar = new TarStream(once(tarOf([{ name: `${"d/".repeat(3000)}f`, type: "file", data: Buffer.from("x") }])), "layer 1");
    await expect(tar.next()).rejects.toThrow(LimitError);
    const gnu = new TarStream(once(tarOf([{ name: "l", type: "symlink", linkname: "x/".repeat(3000) }], "gnu")), "layer 1");
    await expect(gnu.next()).rejects.toThrow(/layer 1: a member name or link target of 6000 bytes at offset 0x0 \(limit 4096/);
  });

  it("160 MiB of ld.so.cache copies in one layer are not all kept in memory, and the last one is the one read", async () => {
    // Made by tar and gzip in a shell, so that this process never holds the 160 MiB itself.
    const files = mkdtempSync(join(dir, "small-"));
    const copies = Array.from({ length: 10 }, () => `-C ${files}/big etc/ld.so.cache`).join(" ");
    const layer = execFileSync(
      "sh",
      [
        "-c",
        `mkdir -p big/etc real/etc && truncate -s 16M big/etc/ld.so.cache && printf 'the real one' > real/etc/ld.so.cache && tar --hard-dereference -cf - ${copies} -C ${files}/real etc/ld.so.cache | gzip -1`,
      ],
      { cwd: files, maxBuffer: 1 << 26 },
    );
    const path = image([{ tar: layer, compression: "none", mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" }]);
    const before = process.memoryUsage().rss;
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss - before);
    }, 1);
    try {
      const tree = await openImage(path);
      peak = Math.max(peak, process.memoryUsage().rss - before);
      const canonical = tree.resolve("/etc/ld.so.cache");
      const small = tree.readSmall(canonical);
      if (small === undefined) {
        await tree.fetch([canonical]);
        const source = tree.open(canonical);
        expect(Buffer.from(source.readAt(0, source.size)).toString()).toBe("the real one");
      } else expect(Buffer.from(small).toString()).toBe("the real one");
      tree.close();
    } finally {
      clearInterval(sampler);
    }
    // Before: all ten copies held until the layer was read (RSS grew by 150 MiB and more).
    expect(peak).toBeLessThan(100 * 1024 * 1024);
  });

  it("a layer that fails stops the others, and no temporary file is left behind, even later", async () => {
    const bad = tarOf([{ name: "etc/hostname", type: "file", data: Buffer.from("x") }]);
    bad[0] = 0x41; // the checksum no longer matches
    const elf = fixture("libver.so");
    const many: TarMember[] = Array.from({ length: 300 }, (_, i) => ({ name: `usr/lib/lib${i}.so`, type: "file" as const, data: elf }));
    const path = image([
      { tar: bad, compression: "none" },
      { tar: tarOf(many), compression: "gzip" },
      { tar: tarOf(many), compression: "zstd" },
    ]);
    const temp = mkdtempSync(join(dir, "temp-"));
    await expect(openImage(path, { tempDir: temp, prefetch: () => () => true })).rejects.toThrow(/not a tar archive \(header checksum mismatch\)/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(readdirSync(temp)).toEqual([]);
  });
});
