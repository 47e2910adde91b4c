/**
 * `detectGo` against the Go toolchain: version, main package and module
 * equal what `go version -m` prints, the build ID what `go tool buildid`
 * prints, for the test program (amd64 and arm64, with and without `-s -w`)
 * and the Go toolchain binaries installed here. Also: a C binary is not Go;
 * a file without section headers (sstrip) is still found through the data
 * and read-only segments; the pre-1.18 pointer format of
 * `.go.buildinfo`, rewritten into a real binary's section; and the last
 * resort, `runtime.*` symbols, searched only in a file with a section Go's
 * linker writes (so that node's 110k symbols are not walked).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ElfFile } from "../../src/elf/elf-file.js";
import { detectGo, findPclntab, goFunctions, readGoBuildInfo } from "../../src/golang/index.js";
import { BufferSource } from "../../src/io/byte-source.js";
import { FileSource } from "../../src/io/file-source.js";
import { buildGoFixtures, go, type GoBinary } from "../support/go.js";

let binaries: GoBinary[] = [];
beforeAll(() => {
  binaries = buildGoFixtures();
});

function versionM(path: string): { goVersion: string; path?: string; mod?: string } {
  const lines = go(["version", "-m", path]).split("\n");
  const goVersion = /: (go\S+)$/.exec(lines[0] ?? "")?.[1] ?? "";
  const field = (key: string) => lines.find((l) => l.startsWith(`\t${key}\t`))?.split("\t")[2];
  return { goVersion, path: field("path"), mod: field("mod") };
}

function expectLikeGo(path: string, goarch: string): void {
  const elf = ElfFile.open(FileSource.open(path), path);
  try {
    const info = detectGo(elf);
    const reference = versionM(path);
    expect(info).toBeDefined();
    expect(info!.goVersion).toBe(reference.goVersion);
    expect(info!.mainPackage).toBe(reference.path);
    expect(info!.modulePath).toBe(reference.mod ?? reference.path);
    expect(info!.buildId).toBe(go(["tool", "buildid", path]).trim());
    expect(info!.pclntabVersion).toBe("1.18"); // Go 1.19 writes the 1.18 format
    expect(info!.abi).toBe("ABIInternal");
    expect(info!.goarch).toBe(goarch);
  } finally {
    elf.close();
  }
}

describe("detectGo equals go version -m and go tool buildid", () => {
  for (const goarch of ["amd64", "arm64"] as const) {
    for (const stripped of [false, true]) {
      it(`test program, ${goarch}${stripped ? " -s -w" : ""}`, () => {
        const binary = binaries.find((b) => b.goarch === goarch && b.stripped === stripped)!;
        expectLikeGo(binary.path, goarch);
        expect(versionM(binary.path).mod).toBe("example.com/probec-gofixture");
      });
    }
  }
  for (const path of ["/usr/lib/go-1.19/bin/go", "/usr/lib/go-1.19/pkg/tool/linux_amd64/compile"]) {
    it(`installed ${path}`, () => expectLikeGo(path, "amd64"));
  }

  it("says a C program is not Go", () => {
    const path = join(import.meta.dirname, "../../fixtures/elf/bin/ifunc_user");
    const elf = ElfFile.open(FileSource.open(path), path);
    expect(detectGo(elf)).toBeUndefined();
    expect(goFunctions(elf)).toEqual([]);
    elf.close();
  });
});

describe("files whose section headers are gone (sstrip)", () => {
  it("finds the build info and the pclntab by searching the segments, with the same functions", () => {
    const path = binaries.find((b) => b.goarch === "amd64" && b.stripped)!.path;
    const bytes = new Uint8Array(readFileSync(path));
    const original = ElfFile.open(new BufferSource(bytes), path);
    const expected = goFunctions(original);
    const copy = bytes.slice();
    const view = new DataView(copy.buffer);
    view.setBigUint64(0x28, 0n, true); // e_shoff
    view.setUint16(0x3c, 0, true); // e_shnum
    view.setUint16(0x3e, 0, true); // e_shstrndx
    const elf = ElfFile.open(new BufferSource(copy), "sstripped");
    expect(elf.sections).toEqual([]);
    expect(findPclntab(elf)?.foundBy).toBe("scan");
    const info = detectGo(elf);
    expect(info?.goVersion).toBe(versionM(path).goVersion);
    expect(info?.modulePath).toBe("example.com/probec-gofixture");
    expect(goFunctions(elf)).toEqual(expected);
  });
});

describe(".go.buildinfo before Go 1.18 (pointers to string headers)", () => {
  it("follows the pointers", () => {
    const path = binaries.find((b) => b.goarch === "amd64" && !b.stripped)!.path;
    const bytes = new Uint8Array(readFileSync(path));
    const elf = ElfFile.open(new BufferSource(bytes), path);
    const section = elf.section(".go.buildinfo")!;
    const copy = bytes.slice();
    const view = new DataView(copy.buffer);
    const base = section.sh_offset;
    const addr = section.sh_addr;
    const version = new TextEncoder().encode("go1.16.15");
    const mod = new TextEncoder().encode(`${"0".repeat(16)}path\texample.com/old\nmod\texample.com/old\tv1.2.3\th1:x=\n${"1".repeat(16)}`);
    copy[base + 15] = 0; // flags: pointer format, little endian
    // Two string headers at +32 and +48, the strings after them.
    view.setBigUint64(base + 16, addr + 32n, true);
    view.setBigUint64(base + 24, addr + 48n, true);
    view.setBigUint64(base + 32, addr + 64n, true);
    view.setBigUint64(base + 40, BigInt(version.length), true);
    view.setBigUint64(base + 48, addr + 80n, true);
    view.setBigUint64(base + 56, BigInt(mod.length), true);
    copy.set(version, base + 64);
    copy.set(mod, base + 80);
    expect(section.sh_size).toBeGreaterThanOrEqual(80 + mod.length);
    const info = readGoBuildInfo(ElfFile.open(new BufferSource(copy), "old"));
    expect(info).toMatchObject({ goVersion: "go1.16.15", path: "example.com/old", modulePath: "example.com/old", moduleVersion: "v1.2.3" });
  });
});

/** A copy of `bytes` with section names renamed in `.shstrtab` (each new name as long as the old one). */
function renameSections(bytes: Uint8Array, renames: Record<string, string>): Uint8Array {
  const elf = ElfFile.open(new BufferSource(bytes), "original");
  const names = elf.sections[elf.header.e_shstrndx]!;
  const copy = bytes.slice();
  const table = copy.subarray(names.sh_offset, names.sh_offset + names.sh_size);
  const encoder = new TextEncoder();
  for (const [from, to] of Object.entries(renames)) {
    expect(to.length).toBe(from.length);
    const section = elf.section(from);
    expect(section, from).toBeDefined();
    table.set(encoder.encode(to), section!.sh_name);
  }
  return copy;
}

describe("runtime symbols, the last evidence", () => {
  /** The evidence the build info, the pclntab and the build-ID note give, hidden by renaming their sections. */
  const hideStrongEvidence = { ".go.buildinfo": ".xo.buildinfo", ".gopclntab": ".xopclntab", ".note.go.buildid": ".note.xo.buildid" };

  it("say Go when nothing else does, in a file with Go's linker sections", () => {
    const path = binaries.find((b) => b.goarch === "amd64" && !b.stripped)!.path;
    const copy = renameSections(new Uint8Array(readFileSync(path)), hideStrongEvidence);
    const info = detectGo(ElfFile.open(new BufferSource(copy), "renamed"));
    expect(info?.evidence).toEqual(["runtime-symbols"]);
    expect(info?.goVersion).toBeUndefined();
    expect(info?.goarch).toBe("amd64");
  });

  it("are not searched in a file without any section Go's linker writes", () => {
    const path = binaries.find((b) => b.goarch === "amd64" && !b.stripped)!.path;
    const copy = renameSections(new Uint8Array(readFileSync(path)), {
      ...hideStrongEvidence,
      ".noptrdata": ".xoptrdata",
      ".noptrbss": ".xoptrbss",
      ".typelink": ".xypelink",
      ".itablink": ".xtablink",
      ".gosymtab": ".xosymtab",
    });
    const elf = ElfFile.open(new BufferSource(copy), "renamed");
    expect(elf.symbolTable("symtab")).toBeDefined();
    expect(detectGo(elf)).toBeUndefined();
  });

  it("cost a C++ binary with a full .symtab (node) no read of its symbols", () => {
    const source = FileSource.open(process.execPath);
    const elf = ElfFile.open(source, process.execPath);
    try {
      expect(elf.symbolTable("symtab")!.count).toBeGreaterThan(10_000);
      const before = source.bytesRead;
      expect(detectGo(elf)).toBeUndefined();
      // Headers, notes and a few section lookups: nothing near .symtab's size.
      expect(source.bytesRead - before).toBeLessThan(64 * 1024);
    } finally {
      elf.close();
    }
  });
});
