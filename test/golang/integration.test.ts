/**
 * Stripped Go binaries (`-ldflags='-s -w'`, no `.symtab`) through the
 * commands and lookups that use functions: `locateIn` (names as Go prints
 * them, globs, `sym+off`), `probec list --functions` (the Go header line
 * and JSON fields) and `probec check --image` on an OCI image whose
 * entrypoint is the stripped program.
 */
import { readFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ElfFile } from "../../src/elf/elf-file.js";
import { goFunctionsNamed } from "../../src/golang/index.js";
import { FileSource } from "../../src/io/file-source.js";
import { locateIn } from "../../src/locate/locate.js";
import { probec } from "../support/cli.js";
import { buildGoFixtures, type GoBinary } from "../support/go.js";
import { tarOf, writeOciLayout } from "../support/image.js";

let binaries: GoBinary[] = [];
beforeAll(() => {
  binaries = buildGoFixtures();
});
const stripped = (goarch: "amd64" | "arm64" = "amd64") => binaries.find((b) => b.goarch === goarch && b.stripped)!.path;

describe("locateIn on a stripped Go binary", () => {
  it("finds a method, a closure and a plain function by their Go names, and sym+off", () => {
    const path = stripped();
    const elf = ElfFile.open(FileSource.open(path), path);
    try {
      expect(elf.symbolTable("symtab")).toBeUndefined();
      for (const name of ["main.(*Counter).Add", "main.main.func1", "main.work"]) {
        const { symbols } = locateIn(elf, name);
        const fn = goFunctionsNamed(elf, name)[0]!;
        expect(symbols).toEqual([expect.objectContaining({ name, address: fn.entry, fileOffset: fn.fileOffset, type: "func", binding: "go" })]);
      }
      const plus = locateIn(elf, "main.work+0x4").symbols![0]!;
      expect(plus.address).toBe(goFunctionsNamed(elf, "main.work")[0]!.entry + 4n);
      expect(
        locateIn(elf, "main.*")
          .symbols!.map((s) => s.name)
          .sort(),
      ).toEqual(["main.(*Counter).Add", "main.classify", "main.main", "main.main.func1", "main.work"]);
      expect(locateIn(elf, "runtime.gopark").symbols).toHaveLength(1);
      expect(() => locateIn(elf, "main.nosuch")).toThrow(/main\.nosuch/);
      expect(() => locateIn(elf, "main.(*Counter).Ad")).toThrow(/no function matches "main\.\(\*Counter\)\.Ad"/);
      try {
        locateIn(elf, "main.wrok");
        expect.unreachable();
      } catch (error) {
        expect((error as Error).message).toMatch(/Go function "main\.wrok" not found in the pclntab/);
        expect((error as { hints: string[] }).hints[0]).toBe('did you mean "main.work"?');
      }
    } finally {
      elf.close();
    }
  });
});

describe("probec list --functions on a stripped Go binary", () => {
  it("prints the Go version and module above the table", async () => {
    const r = await probec("list", stripped(), "main.*", "--functions");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("Go go1.19.8, module example.com/probec-gofixture (pclntab 1.18, ABIInternal)");
    expect(lines[1]).toMatch(/^FUNCTION +ADDRESS +OFFSET +SIZE +TYPE +BIND$/);
    expect(lines[2]).toMatch(/^main\.\(\*Counter\)\.Add +0x[0-9a-f]+ +0x[0-9a-f]+ +\d+ +func +go$/);
    expect(lines.filter((l) => l.startsWith("main."))).toHaveLength(5);
  });

  it("gives goVersion and goModule in --json, for arm64 too", async () => {
    const r = await probec("list", stripped("arm64"), "main.work", "--functions", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      expect.objectContaining({ name: "main.work", type: "func", binding: "go", goVersion: "go1.19.8", goModule: "example.com/probec-gofixture" }),
    ]);
  });
});

describe("probec check --image with a stripped Go program", () => {
  it("finds its functions by their Go names", async () => {
    const dir = mkdtempSync(join(tmpdir(), "probec-go-image-"));
    const tar = tarOf([
      { name: "app", type: "dir" },
      { name: "app/server", type: "file", data: new Uint8Array(readFileSync(stripped())), mode: 0o755 },
    ]);
    writeOciLayout(dir, [{ architecture: "amd64", layers: [{ tar, compression: "gzip" }], config: { entrypoint: ["/app/server"] } }]);
    const r = await probec("check", "--image", dir, "exe:main.(*Counter).Add", "exe:main.main.func1", "exe:main.*", "exe:main.nosuch");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/exe:main\.\(\*Counter\)\.Add +found +\/app\/server/);
    expect(r.stdout).toMatch(/exe:main\.main\.func1 +found +\/app\/server/);
    expect(r.stdout).toMatch(/exe:main\.nosuch +missing/);
    expect(r.stdout).toContain("3 of 4 targets found");
  });
});
