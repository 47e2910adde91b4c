/**
 * indexObject on the stripped fixtures of fixtures/elf (build.sh, "stripped
 * variants of strip_orig"): names come back from a debuglink file beside
 * the binary, from its .debug/ directory, from a build-id under a debug
 * root, from .gnu_debugdata, never from a debug file of another build; and
 * from Go's pclntab for a Go binary linked with -s -w. The reference is the
 * unstripped strip_orig's own .symtab.
 */
import { mkdtempSync, rmSync } from "node:fs";
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
