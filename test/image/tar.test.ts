/**
 * The tar readers and the layer merge on hand-made archives, including
 * hostile ones: every chunking of a stream reads the same; the positional
 * reader agrees with the streaming one; bad checksums, truncation and
 * oversized extension records are typed errors; member names cannot climb
 * out of the image; whiteouts and opaque markers follow the OCI rules.
 */
import { describe, expect, it } from "vitest";
import { FormatError, LimitError, ProbecError } from "../../src/index.js";
import { BufferSource } from "../../src/io/byte-source.js";
import { MergedIndex } from "../../src/image/merge.js";
import { indexTarFile } from "../../src/image/tar-file.js";
import { TarStream } from "../../src/image/tar-stream.js";
import type { TarHeader } from "../../src/image/tar-header.js";
import { Prng } from "../fuzz/prng.js";
import { tarOf, type TarMember } from "../support/image.js";

const LONG = `${"a-long-directory/".repeat(10)}file.bin`;
const MEMBERS: TarMember[] = [
  { name: "dir", type: "dir" },
  { name: "dir/small", type: "file", data: Buffer.from("hello") },
  { name: "dir/block", type: "file", data: Buffer.alloc(512, 7) },
  { name: LONG, type: "file", data: Buffer.alloc(1500, 1) },
  { name: "dir/link", type: "symlink", linkname: `/${LONG}` },
  { name: "dir/hard", type: "hardlink", linkname: "dir/small" },
  { name: "empty", type: "file", data: Buffer.alloc(0) },
];

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function readAll(bytes: Buffer, chunk: number): Promise<{ header: TarHeader; body: Buffer }[]> {
  const tar = new TarStream(chunked(bytes, chunk), "test");
  const out: { header: TarHeader; body: Buffer }[] = [];
  for (let h = await tar.next(); h !== undefined; h = await tar.next()) {
    const head = Buffer.from(await tar.readHead(3));
    const rest: Buffer[] = [];
    for await (const c of tar.body()) rest.push(Buffer.from(c));
    out.push({ header: h, body: Buffer.concat([head, ...rest]) });
  }
  return out;
}

describe("TarStream", () => {
  for (const longNames of ["pax", "gnu"] as const) {
    it(`reads ${longNames} long names the same at every chunk size`, async () => {
      const bytes = tarOf(MEMBERS, longNames);
      const reference = await readAll(bytes, bytes.length);
      expect(reference.map((e) => [e.header.name, e.header.kind, e.header.linkname, e.body.length])).toEqual([
        ["dir/", "directory", "", 0],
        ["dir/small", "file", "", 5],
        ["dir/block", "file", "", 512],
        [LONG, "file", "", 1500],
        ["dir/link", "symlink", `/${LONG}`, 0],
        ["dir/hard", "hardlink", "dir/small", 0],
        ["empty", "file", "", 0],
      ]);
      expect(reference[1]?.body.toString()).toBe("hello");
      for (const size of [1, 7, 511, 512, 513, 4096]) expect(await readAll(bytes, size)).toEqual(reference);
    });
  }

  it("agrees with the positional reader on names and data offsets", async () => {
    const bytes = tarOf(MEMBERS);
    const streamed = (await readAll(bytes, 100)).map((e) => e.header);
    expect(indexTarFile(new BufferSource(bytes), "test")).toEqual(streamed);
    for (const h of streamed.filter((x) => x.name === "dir/small")) expect(bytes.subarray(h.dataOffset, h.dataOffset + 5).toString()).toBe("hello");
  });

  it("refuses a block whose checksum is wrong, naming the offset", async () => {
    const bytes = tarOf(MEMBERS);
    bytes[515] = (bytes[515] ?? 0) ^ 0xff; // inside the second header (dir/small)
    await expect(readAll(bytes, 1000)).rejects.toThrow(/test: not a tar archive \(header checksum mismatch\) at offset 0x200/);
    expect(() => indexTarFile(new BufferSource(bytes), "test")).toThrow(FormatError);
  });

  it("refuses text that is not a tar", async () => {
    const text = Buffer.from("just some text\n".repeat(100));
    await expect(readAll(text, 64)).rejects.toThrow(FormatError);
  });

  it("a stream cut inside a member's data is a truncation error", async () => {
    const bytes = tarOf(MEMBERS).subarray(0, 1024 + 512 + 200);
    await expect(readAll(bytes, 300)).rejects.toThrow(/truncated tar archive/);
    expect(() => indexTarFile(new BufferSource(tarOf(MEMBERS).subarray(0, 3000)), "test")).toThrow(/truncated tar archive/);
  });

  it("caps extension records (a hostile pax header cannot make it allocate gigabytes)", async () => {
    const bytes = tarOf([{ name: "x".repeat(120), type: "file", data: Buffer.from("a") }]);
    // The pax header's size field: claim 2 GiB.
    bytes.write("17777777777\0", 124, "ascii");
    let sum = 0;
    bytes.fill(0x20, 148, 156);
    for (const b of bytes.subarray(0, 512)) sum += b;
    bytes.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
    await expect(readAll(bytes, 512)).rejects.toThrow(LimitError);
  });

  it("a pax hard link that carries the file's data (pax allows it) is read past, for both readers", async () => {
    const bytes = tarOf([
      { name: "a", type: "file", data: Buffer.from("hello") },
      { name: LONG, type: "file", data: Buffer.from("hello") }, // its long name gives it a pax header
      { name: "after", type: "file", data: Buffer.from("xyz") },
    ]);
    // Make the pax member a hard link to "a" that keeps its size and data, as libarchive writes them.
    let at = 0;
    while (
      !bytes
        .subarray(at, at + 99)
        .toString("latin1")
        .startsWith(LONG.slice(0, 99))
    )
      at += 512;
    bytes.write("1", at + 156, "latin1");
    bytes.fill(0, at + 157, at + 257);
    bytes.write("a", at + 157, "latin1");
    bytes.fill(0x20, at + 148, at + 156);
    let sum = 0;
    for (const b of bytes.subarray(at, at + 512)) sum += b;
    bytes.write(`${sum.toString(8).padStart(6, "0")}\0 `, at + 148, "ascii");

    const streamed = await readAll(bytes, 100);
    expect(streamed.map((e) => [e.header.name, e.header.kind])).toEqual([
      ["a", "file"],
      [LONG, "hardlink"],
      ["after", "file"],
    ]);
    expect(streamed[2]?.body.toString()).toBe("xyz");
    const positional = indexTarFile(new BufferSource(bytes), "test");
    expect(positional.map((h) => h.name)).toEqual(["a", LONG, "after"]);
  });

  it("reads GNU base-256 sizes", async () => {
    const bytes = tarOf([{ name: "f", type: "file", data: Buffer.from("abc") }]);
    bytes.fill(0, 124, 136);
    bytes[124] = 0x80;
    bytes[135] = 3;
    let sum = 0;
    bytes.fill(0x20, 148, 156);
    for (const b of bytes.subarray(0, 512)) sum += b;
    bytes.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
    const [entry] = await readAll(bytes, 512);
    expect(entry?.body.toString()).toBe("abc");
  });
});

function header(name: string, kind: TarHeader["kind"], extra: Partial<TarHeader> = {}): TarHeader {
  return { name, kind, typeflag: "0", size: 1, linkname: "", mode: 0o644, dataOffset: 512, headerOffset: 0, ...extra };
}

describe("MergedIndex", () => {
  it("clamps .. so a member cannot land outside the image", () => {
    const index = new MergedIndex();
    index.apply(header("../../etc/passwd", "file"), 0);
    index.apply(header("./usr/../../../bin/sh", "file"), 0);
    expect(index.get("etc/passwd")?.kind).toBe("file");
    expect(index.get("bin/sh")?.kind).toBe("file");
    expect([...(index.children("") ?? [])].sort()).toEqual(["bin", "etc"]);
  });

  it("a whiteout removes a lower directory and everything under it, but not a same-named file added later", () => {
    const index = new MergedIndex();
    index.apply(header("opt/app/lib/a.so", "file"), 0);
    index.apply(header("opt/.wh.app", "file"), 1);
    expect(index.get("opt/app")).toBeUndefined();
    expect(index.get("opt/app/lib/a.so")).toBeUndefined();
    index.apply(header("opt/app/new.so", "file"), 2);
    expect(index.children("opt/app")).toEqual(["new.so"]);
  });

  it("an opaque marker hides lower children wherever it appears in its layer, and keeps the layer's own", () => {
    const index = new MergedIndex();
    index.apply(header("etc/conf/old", "file"), 0);
    index.apply(header("etc/conf/sub/older", "file"), 0);
    index.apply(header("etc/conf/sub/kept", "file"), 1); // same layer as the marker, written before it
    index.apply(header("etc/conf/.wh..wh..opq", "file"), 1);
    expect(index.get("etc/conf/old")).toBeUndefined();
    expect(index.get("etc/conf/sub/older")).toBeUndefined();
    expect(index.get("etc/conf/sub/kept")?.kind).toBe("file");
  });

  it("a file replacing a directory removes the directory's contents", () => {
    const index = new MergedIndex();
    index.apply(header("var/lib/x/y", "file"), 0);
    index.apply(header("var/lib/x", "symlink", { linkname: "/elsewhere" }), 1);
    expect(index.get("var/lib/x")?.kind).toBe("symlink");
    expect(index.get("var/lib/x/y")).toBeUndefined();
  });

  it("refuses names longer than PATH_MAX (they would also make the tree absurdly deep)", () => {
    const index = new MergedIndex();
    expect(() => index.apply(header("a/".repeat(3000), "file"), 0)).toThrow(LimitError);
    expect(() => index.apply(header("link", "symlink", { linkname: "../".repeat(2000) }), 0)).toThrow(/limit 4096, the kernel's PATH_MAX/);
  });

  it("a hard link shares its target's data; one to nothing is a warning, not a crash", () => {
    const index = new MergedIndex();
    index.apply(header("bin/a", "file", { dataOffset: 4096, size: 10 }), 0);
    index.apply(header("bin/b", "hardlink", { linkname: "bin/a" }), 1);
    const b = index.get("bin/b");
    expect(b?.kind === "file" ? b.content : undefined).toEqual({ layer: 0, dataOffset: 4096, size: 10 });
    index.apply(header("bin/c", "hardlink", { linkname: "bin/nothing" }), 1);
    expect(index.get("bin/c")).toBeUndefined();
    expect(index.warnings[0]).toContain("hard link /bin/c");
  });
});

describe("MergedIndex, crafted and tricky layers", () => {
  it("20,000 repeated opaque markers in a directory of 20,000 files of the same layer take well under a second", () => {
    const index = new MergedIndex();
    index.apply(header("d/old", "file"), 0);
    for (let i = 0; i < 20_000; i++) index.apply(header(`d/f${i}`, "file"), 1);
    const start = performance.now();
    for (let i = 0; i < 20_000; i++) index.apply(header("d/.wh..wh..opq", "file"), 1);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(index.get("d/old")).toBeUndefined();
    expect(index.children("d")).toHaveLength(20_000);
  });

  it("2000 files 2040 directories deep take well under a second", () => {
    const index = new MergedIndex();
    const deep = "a/".repeat(2040);
    const start = performance.now();
    for (let i = 0; i < 2000; i++) index.apply(header(`${deep}f${i}`, "file"), 0);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(index.children(deep.slice(0, -1))).toHaveLength(2000);
  });

  it("a whiteout named `.wh.` at the top is ignored: the root stays", () => {
    const index = new MergedIndex();
    index.apply(header("bin/sh", "file"), 0);
    index.apply(header(".wh.", "file"), 1);
    index.apply(header("./.wh..", "file"), 1);
    index.apply(header("usr/.wh..", "file"), 1);
    expect(index.get("")?.kind).toBe("directory");
    expect(index.get("bin/sh")?.kind).toBe("file");
    index.apply(header("etc/x", "file"), 1);
    expect(index.get("etc/x")?.kind).toBe("file");
  });

  it("a whiteout removes the lower layers' content even when its layer wrote under that directory first", () => {
    const index = new MergedIndex();
    index.apply(header("opt/x/old.so", "file"), 0);
    index.apply(header("opt/x/new.so", "file"), 1);
    index.apply(header("opt/.wh.x", "file"), 1);
    expect(index.get("opt/x/old.so")).toBeUndefined();
    expect(index.get("opt/x/new.so")?.kind).toBe("file");
  });

  it("a member under a lower layer's symlinked directory lands where the symlink points", () => {
    const index = new MergedIndex();
    index.apply(header("lib", "symlink", { linkname: "usr/lib" }), 0);
    index.apply(header("usr/lib/libold.so", "file"), 0);
    index.apply(header("lib64", "symlink", { linkname: "/lib" }), 0);
    index.apply(header("lib/libnew.so", "file"), 1);
    index.apply(header("lib64/libnewer.so", "file"), 1);
    expect(index.get("lib")?.kind).toBe("symlink");
    expect(index.get("usr/lib/libold.so")?.kind).toBe("file");
    expect(index.get("usr/lib/libnew.so")?.kind).toBe("file");
    expect(index.get("usr/lib/libnewer.so")?.kind).toBe("file");
    // A whiteout through the symlink deletes the file it names.
    index.apply(header("lib/.wh.libold.so", "file"), 2);
    expect(index.get("usr/lib/libold.so")).toBeUndefined();
  });

  it("a symlink loop in a member's parents is a LimitError, not a hang", () => {
    const index = new MergedIndex();
    index.apply(header("a", "symlink", { linkname: "b" }), 0);
    index.apply(header("b", "symlink", { linkname: "a" }), 0);
    expect(() => index.apply(header("a/x", "file"), 1)).toThrow(/more than 40 symlinks/);
  });
});

describe("mutated archives", () => {
  it("2000 mutations of a tar: every reader either reads it or throws a ProbecError, and both readers agree", async () => {
    const seed = tarOf(
      [...MEMBERS, { name: "a/.wh.b", type: "file", data: new Uint8Array(0) }, { name: "a/.wh..wh..opq", type: "file", data: new Uint8Array(0) }],
      "gnu",
    );
    const rng = new Prng(0x7a2c0de);
    let read = 0;
    for (let n = 0; n < 2000; n++) {
      const bytes = Buffer.from(seed);
      for (let k = rng.between(1, 8); k > 0; k--) {
        const at = rng.below(Math.min(bytes.length, 4096));
        bytes[at] = rng.chance(0.5) ? rng.below(256) : 0x30 + rng.below(10); // a random byte, or an ASCII digit (numeric fields)
      }
      const outcome = async (): Promise<string> => {
        try {
          const index = new MergedIndex();
          const all = await readAll(bytes, 1 + rng.below(700));
          for (const e of all) index.apply(e.header, 0);
          return JSON.stringify(all.map((e) => [e.header.name, e.header.dataOffset, e.header.size]));
        } catch (error) {
          if (!(error instanceof ProbecError)) throw new Error(`case ${n}: ${String(error)}`);
          return "refused";
        }
      };
      const streamed = await outcome();
      let positional: string;
      try {
        positional = JSON.stringify(indexTarFile(new BufferSource(bytes), "fuzz").map((h) => [h.name, h.dataOffset, h.size]));
      } catch (error) {
        if (!(error instanceof ProbecError)) throw new Error(`case ${n}: ${String(error)}`);
        positional = "refused";
      }
      // The positional reader checks that every member fits in the file up front; the stream finds out later. Both agree on what they read.
      if (streamed !== "refused" && positional !== "refused") expect(positional).toBe(streamed);
      if (streamed !== "refused") read++;
    }
    expect(read).toBeGreaterThan(100);
  });
});
