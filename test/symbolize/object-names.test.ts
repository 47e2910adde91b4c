/**
 * indexObject on the stripped fixtures of fixtures/elf (build.sh, "stripped
 * variants of strip_orig"): names come back from a debuglink file beside
 * the binary, from its .debug/ directory, from a build-id under a debug
 * root, from .gnu_debugdata, never from a debug file of another build; and
 * from Go's pclntab for a Go binary linked with -s -w. The reference is the
 * unstripped strip_orig's own .symtab.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { ElfFile } from "../../src/elf/elf-file.js";
import { FileSource } from "../../src/io/file-source.js";
import { goNames } from "../../src/symbolize/go-names.js";
import { indexObject } from "../../src/symbolize/object-names.js";
import { go, GO_FIXTURE_SRC } from "../support/go.js";

const BIN = new URL("../../fixtures/elf/bin/", import.meta.url).pathname;
const DEBUG_ROOT = new URL("../../fixtures/elf/debug-root", import.meta.url).pathname;

const open = (name: string): ElfFile => ElfFile.open(FileSource.open(join(BIN, name)), name);

/** Every function of the unstripped original with a size, name → address. */
function reference(): Map<string, bigint> {
  const elf = open("strip_orig");
  const table = elf.symbolTable("symtab");
  const out = new Map<string, bigint>();
  for (const raw of table?.raw() ?? []) {
    const sym = table?.resolve(raw);
    if (sym !== undefined && sym.type === 2 && sym.size > 0n) out.set(sym.name, sym.value);
  }
  elf.close();
  return out;
}

describe("indexObject", () => {
  const functions = reference();

  // All four share strip_orig's build-id, which DEBUG_ROOT holds and which is tried first: the debuglink cases get no debug root.
  test.each([
    ["strip_debuglink", "debuglink:", []],
    ["strip_dotdebug", "debuglink:", []],
    ["strip_buildid", "build-id:", [DEBUG_ROOT]],
    ["strip_minidebug", "gnu_debugdata", []],
  ])("%s: every function of the original is named (via %s)", async (file, via, debugRoots) => {
    const elf = open(file);
    const warnings: string[] = [];
    const names = await indexObject(elf, join(BIN, file), { root: "/", debugRoots, onWarning: (m) => warnings.push(m) });
    expect(names.sources.some((s) => s.startsWith(via))).toBe(true);
    expect(names.complete).toBe(true);
    expect(functions.size).toBeGreaterThan(2);
    for (const [name, address] of functions) expect(names.index.lookup(address + 1n)?.name).toBe(name);
    expect(warnings).toEqual([]);
    elf.close();
  });

  test("a debuglink file of another build is skipped with the reason, and the local functions stay unnamed", async () => {
    const elf = open("strip_badcrc");
    const warnings: string[] = [];
    const names = await indexObject(elf, join(BIN, "strip_badcrc"), { root: "/", debugRoots: [], onWarning: (m) => warnings.push(m) });
    expect(names.complete).toBe(false);
    expect(warnings.join("\n")).toMatch(/strip_badcrc\.debug not used: its CRC 0x[0-9a-f]+ differs from the debuglink's/);
    expect(names.index.lookup((functions.get("gamma_local") as bigint) + 1n)).toBeUndefined();
    elf.close();
  });

  test(".dynsym is read only when .symtab is not a full one: a library whose .symtab kept one name still names its exports", async () => {
    const dir = mkdtempSync(join(tmpdir(), "probec-symbolize-dynsym-"));
    try {
      const source = join(dir, "lib.c");
      writeFileSync(
        source,
        "int one(int x) { return x + 1; }\nint two(int x) { return x * 2; }\nstatic int hidden(int x) { return x - 3; }\nint three(int x) { return hidden(x); }\n",
      );
      const full = join(dir, "libfull.so");
      execFileSync("gcc", ["-shared", "-fPIC", "-O0", "-o", full, source]);
      const partial = join(dir, "libpartial.so");
      // strip -K keeps .symtab with only the names given: fewer entries than .dynsym.
      execFileSync("strip", ["-K", "one", "-o", partial, full]);
      const address = (elf: ElfFile, name: string): bigint => {
        const table = elf.symbolTable("dynsym");
        const raw = [...(table?.raw() ?? [])].find((r) => table?.strings.get(r.st_name) === name);
        if (raw === undefined) throw new Error(`${name} is not in .dynsym`);
        return raw.st_value;
      };
      const fullElf = ElfFile.open(FileSource.open(full), full);
      const fullNames = await indexObject(fullElf, full, { root: "/", debugRoots: [] });
      // A full .symtab: .dynsym's copies are not read, and every function is still named, the static one too.
      expect(fullNames.sources).toEqual(["symtab"]);
      for (const name of ["one", "two", "three"]) expect(fullNames.index.lookup(address(fullElf, name) + 1n)?.name).toBe(name);
      const symtab = fullElf.symbolTable("symtab");
      const hidden = [...(symtab?.raw() ?? [])].find((r) => symtab?.strings.get(r.st_name) === "hidden");
      expect(fullNames.index.lookup((hidden?.st_value as bigint) + 1n)?.name).toBe("hidden");

      const partialElf = ElfFile.open(FileSource.open(partial), partial);
      expect(partialElf.symbolTable("symtab")?.count).toBeLessThan(partialElf.symbolTable("dynsym")?.count as number);
      const partialNames = await indexObject(partialElf, partial, { root: "/", debugRoots: [] });
      expect(partialNames.sources).toEqual(["symtab", "dynsym"]);
      for (const name of ["one", "two", "three"]) expect(partialNames.index.lookup(address(partialElf, name) + 1n)?.name).toBe(name);
      fullElf.close();
      partialElf.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a Go binary linked with -s -w is named from its pclntab", async () => {
    const dir = mkdtempSync(join(tmpdir(), "probec-symbolize-go-"));
    const out = join(dir, "app");
    go(["build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "."], { cwd: GO_FIXTURE_SRC });
    const elf = ElfFile.open(FileSource.open(out), out);
    expect(elf.symbolTable("symtab")).toBeUndefined();
    const names = await indexObject(elf, out, { root: "/", debugRoots: [], providers: [goNames] });
    expect(names.sources).toContain("provider");
    const work = goNames(elf).find((f) => f.name === "main.work");
    expect(work).toBeDefined();
    expect(names.index.lookup((work?.start as bigint) + 4n)?.name).toBe("main.work");
    expect(names.index.lookup((work?.start as bigint) + 4n)?.start).toBe(work?.start);
    elf.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
