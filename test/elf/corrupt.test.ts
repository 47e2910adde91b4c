/**
 * Hostile input (PITFALLS 24): every file in facts.json `corrupt.files`,
 * each made from the good `libusdt_same.so` by one patch or cut.
 *
 * Every accessor of an opened file either succeeds (a partial result) or
 * throws a `ProbecError` with a stable code (`E_FORMAT` or `E_LIMIT`) whose
 * message names the file, never a TypeError, RangeError or other crash.
 * `expect: "not-elf"` files are refused at open. Through the CLI, a failure
 * is exit code 2 and one `probec: <file>: …` line (plus hints), never a stack
 * trace, and the exit code agrees with what the API returned.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { FormatError, ProbecError, openElf, type ElfFile } from "../../src/index.js";
import { run } from "../../src/cli/run.js";
import { StringSink } from "../../src/cli/io.js";
import { findSymbolIn } from "../../src/elf/find-symbol.js";
import { listSymbolsIn } from "../../src/elf/list-symbols.js";
import { nameBytes } from "../../src/elf/string-table.js";
import { readUsdtSites } from "../../src/usdt/notes.js";

interface Patch {
  field: string;
  file_offset: string;
  size: number;
  old: string;
  new: string;
}
interface CorruptFacts {
  path: string;
  description: string;
  size: number;
  patches: Patch[];
  expect: "not-elf" | "error-or-partial";
  sha256: string;
}

const FIXTURES = fileURLToPath(new URL("../../fixtures/elf/", import.meta.url));
const corrupt = (JSON.parse(readFileSync(join(FIXTURES, "facts.json"), "utf8")) as { corrupt: { base: string; files: CorruptFacts[] } }).corrupt;
/** `bin/corrupt/x` (a facts.json path) → `fixtures/elf/bin/corrupt/x`, relative to where vitest runs (the repo root). */
const fixture = (factsPath: string): string => relative(process.cwd(), join(FIXTURES, factsPath));

/** A name every lookup below asks for: a function of the good base file. */
const KNOWN_FUNCTION = "same_lib_fn";
/** Generous bound on all accessors of one file together; each takes milliseconds. */
const TIME_LIMIT_MS = 5_000;

type Outcome = { ok: unknown } | { error: unknown };

function attempt(body: () => unknown): Outcome {
  try {
    return { ok: body() };
  } catch (error) {
    return { error };
  }
}

/** Every accessor of an opened file, each run to completion (iterators drained). */
function accessors(elf: ElfFile): Record<string, () => unknown> {
  const table = (kind: "symtab" | "dynsym") => () => {
    const t = elf.symbolTable(kind);
    if (t === undefined) return 0;
    let n = 0;
    for (const raw of t.raw()) {
      t.resolve(raw);
      n++;
    }
    if (t.count > 1) t.resolve(t.rawAt(t.count - 1));
    return n;
  };
  return {
    header: () => [elf.header.e_machine, elf.header.e_phnum, elf.header.e_shnum],
    programHeaders: () => elf.programHeaders.length,
    sections: () => elf.sections.map((s) => s.name),
    'symbolTable("symtab") + iterate + resolve': table("symtab"),
    'symbolTable("dynsym") + iterate + resolve': table("dynsym"),
    "dynamicHash().lookup": () => elf.dynamicHash()?.lookup(nameBytes(KNOWN_FUNCTION)),
    "notes()": () => [...elf.notes()].length,
    "buildId()": () => elf.buildId(),
    "debugLink()": () => elf.debugLink(),
    findSymbolIn: () => findSymbolIn(elf, KNOWN_FUNCTION).fileOffset,
    listSymbolsIn: () => listSymbolsIn(elf).length,
    readUsdtSites: () => readUsdtSites(elf).length,
  };
}

/** What is wrong with a thrown error, or undefined when it is an acceptable typed one naming `path`. */
function problem(path: string, error: unknown, allowNotFound: boolean): string | undefined {
  const shown = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
  if (!(error instanceof ProbecError)) return `untyped ${shown}`;
  const allowed = allowNotFound ? ["E_FORMAT", "E_LIMIT", "E_NOT_FOUND"] : ["E_FORMAT", "E_LIMIT"];
  if (!allowed.includes(error.code)) return `${error.code} ${shown}`;
  if (!error.message.startsWith(`${path}: `)) return `message does not name the file: ${shown}`;
  return undefined;
}

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}
async function cli(argv: string[]): Promise<CliRun> {
  const io = { stdout: new StringSink(), stderr: new StringSink() };
  const code = await run(argv, io);
  return { code, stdout: io.stdout.text, stderr: io.stderr.text };
}

/** The shape of a failed CLI run: exit 2, nothing on stdout, one `probec:` line naming the file, then only hints. */
function expectCliFailure(result: CliRun, path: string): void {
  const lines = result.stderr.split("\n").filter((l) => l !== "");
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: "" });
  expect(lines.filter((l) => l.startsWith("probec: "))).toEqual([expect.stringContaining(`probec: ${path}: `)]);
  expect(lines[0]).toMatch(/^probec: /);
  expect(lines.slice(1).filter((l) => !l.startsWith("  hint: "))).toEqual([]);
}

test("facts.json lists the corrupt files made from the good base", () => {
  expect(corrupt.base).toBe("bin/libusdt_same.so");
  expect(corrupt.files.length).toBeGreaterThan(20);
});

for (const c of corrupt.files) {
  const path = fixture(c.path);
  const name = c.path.slice(c.path.lastIndexOf("/") + 1);

  describe(`${name}: ${c.description}`, () => {
    test("the file is the one facts.json describes (size, sha256, patched bytes)", () => {
      const bytes = readFileSync(path);
      expect({ size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") }).toEqual({ size: c.size, sha256: c.sha256 });
      for (const p of c.patches) {
        const at = Number(p.file_offset);
        if (!/^0x[0-9a-f]+$/i.test(p.new)) {
          // The one textual patch ("every NUL … replaced by A"): the range now holds no NUL.
          expect({ field: p.field, nul: bytes.subarray(at, at + p.size).indexOf(0) }).toEqual({ field: p.field, nul: -1 });
          continue;
        }
        let value = 0n;
        for (let i = p.size - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[at + i] ?? 0);
        expect(`${p.field} = 0x${value.toString(16)}`).toBe(`${p.field} = 0x${BigInt(p.new).toString(16)}`);
      }
    });

    if (c.expect === "not-elf") {
      test('refused at open: FormatError E_FORMAT "<file>: not an ELF file …" (or naming the bad class or the truncation)', () => {
        const outcome = attempt(() => openElf(path));
        expect("error" in outcome).toBe(true);
        const error = (outcome as { error: unknown }).error;
        expect(error).toBeInstanceOf(FormatError);
        expect((error as FormatError).code).toBe("E_FORMAT");
        expect((error as FormatError).message).toMatch(
          new RegExp(`^${path.replace(/[.]/g, "\\.")}: (not an ELF file\\b|invalid ELF class\\b|ELF header is truncated\\b)`),
        );
      });
    } else {
      test("open and every accessor: success, or FormatError/LimitError naming the file (never a crash)", () => {
        const started = performance.now();
        const opened = attempt(() => openElf(path));
        const problems: string[] = [];
        if ("error" in opened) {
          const p = problem(path, opened.error, false);
          if (p !== undefined) problems.push(`open: ${p}`);
        } else {
          const elf = opened.ok as ElfFile;
          try {
            for (const [what, body] of Object.entries(accessors(elf))) {
              const outcome = attempt(body);
              // A lookup in a damaged table may also simply not find the name.
              const p = "error" in outcome ? problem(path, outcome.error, what === "findSymbolIn") : undefined;
              if (p !== undefined) problems.push(`${what}: ${p}`);
            }
          } finally {
            elf.close();
          }
        }
        expect(problems).toEqual([]);
        expect(performance.now() - started).toBeLessThan(TIME_LIMIT_MS);
      });
    }

    test("CLI list / list --functions / list --json: exit 2 with one `probec: <file>: …` line, or a result that agrees with the API", async () => {
      const opened = attempt(() => openElf(path));
      const api = (body: (elf: ElfFile) => number): Outcome => {
        if ("error" in opened) return opened;
        return attempt(() => body(opened.ok as ElfFile));
      };
      const usdt = api((elf) => readUsdtSites(elf).length);
      const functions = api((elf) => listSymbolsIn(elf).length);
      if ("ok" in opened) (opened.ok as ElfFile).close();
      const exitFor = (o: Outcome): number => ("error" in o ? 2 : (o.ok as number) > 0 ? 0 : 1);

      for (const [argv, expected] of [
        [["list", path], usdt],
        [["list", path, "--json"], usdt],
        [["list", path, "--functions"], functions],
      ] as const) {
        const result = await cli([...argv]);
        expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
        expect({ argv: argv.join(" "), code: result.code }).toEqual({ argv: argv.join(" "), code: exitFor(expected) });
        if (result.code === 2) expectCliFailure(result, path);
        if (result.code !== 2 && argv.includes("--json")) expect(Array.isArray(JSON.parse(result.stdout))).toBe(true);
      }
    });
  });
}

describe("targeted", () => {
  test("phnum_huge: e_phnum = PN_XNUM (0xffff) with section 0's sh_info = 0 is malformed, not 'zero program headers' (binutils: too many program headers)", () => {
    const path = fixture("bin/corrupt/phnum_huge");
    const outcome = attempt(() => openElf(path));
    if ("ok" in outcome) (outcome.ok as ElfFile).close();
    expect("error" in outcome ? (outcome.error as ProbecError).code : `opened with ${(outcome.ok as ElfFile).programHeaders.length} program headers`).toBe(
      "E_FORMAT",
    );
  });

  test("strtab_index_past_end: the FormatError from a lazily read .strtab name names the file, in-process and in the CLI", async () => {
    const path = fixture("bin/corrupt/strtab_index_past_end");
    const elf = openElf(path);
    try {
      const outcome = attempt(() => listSymbolsIn(elf));
      expect("error" in outcome ? (outcome.error as Error).message : "listed").toMatch(new RegExp(`^${path.replace(/[.]/g, "\\.")}: \\.strtab: `));
    } finally {
      elf.close();
    }
    expect((await cli(["list", path, "--functions"])).stderr).toMatch(new RegExp(`^probec: ${path.replace(/[.]/g, "\\.")}: \\.strtab: `));
  });

  test("symtab_entsize0: sh_entsize 0 is tolerated and the symbols still resolve (the size comes from the class)", () => {
    const elf = openElf(fixture("bin/corrupt/symtab_entsize0"));
    try {
      expect(elf.symbolTable("symtab")?.section.sh_entsize).toBe(0);
      expect(findSymbolIn(elf, KNOWN_FUNCTION).name).toBe(KNOWN_FUNCTION);
    } finally {
      elf.close();
    }
  });

  test("note_unterminated: the damaged first note is reported at its own offset, by name", () => {
    const path = fixture("bin/corrupt/note_unterminated");
    const elf = openElf(path);
    try {
      const outcome = attempt(() => readUsdtSites(elf));
      // Either the good second note survives, or the error points at the bad first one.
      if ("ok" in outcome) expect((outcome.ok as { name: string }[]).map((s) => s.name)).toContain("second");
      else expect((outcome.error as Error).message).toMatch(new RegExp(`^${path.replace(/[.]/g, "\\.")}: .*NUL`));
    } finally {
      elf.close();
    }
  });

  test("a missing file is an IoError (E_IO) naming the path, not a FormatError", () => {
    const path = fixture("bin/corrupt/does_not_exist");
    const outcome = attempt(() => openElf(path));
    const error = "error" in outcome ? (outcome.error as ProbecError) : undefined;
    expect({ code: error?.code, message: error?.message }).toEqual({ code: "E_IO", message: `${path}: no such file` });
  });
});
