/**
 * Golden files: `probec list FILE --json` (USDT) and `probec list FILE
 * --functions --json` for every fixture in fixtures/elf/bin (not corrupt/),
 * run in-process through `run()` with repo-relative paths, as from the repo
 * root. Each test/golden/<fixture>.json holds both runs: argv, exit code,
 * stderr and the parsed JSON.
 *
 *     UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts    # rewrite them
 *
 * A golden file only says "nothing changed". Whether the output is *right* is
 * checked separately below, against facts.json and docs/pitfalls.md: addresses and
 * offsets, one argument per item at its own index (10), float arguments
 * marked (the `8f@` suffix), constants exact to 64 bits (12).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { run } from "../src/cli/run.js";
import { StringSink } from "../src/cli/io.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const BIN = join(REPO, "fixtures/elf/bin");
const GOLDEN = join(REPO, "test/golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

interface UsdtFact {
  provider: string;
  name: string;
  pc: string;
  pc_file_offset: string;
  semaphore: string | null;
  semaphore_file_offset: string | null;
  args: string;
}
interface SymbolFact {
  table: string;
  name: string;
  value: string;
  type: string;
  vis?: string;
  file_offset: string | null;
  code_addr?: string;
  code_file_offset?: string;
}
interface FileFacts {
  path: string;
  class: "ELF32" | "ELF64";
  e_machine: number;
  usdt: UsdtFact[];
  symbols: SymbolFact[];
  symbols_read_from: string;
  build_id_debug_file?: string;
  debuglink?: { debug_file: string; crc_matches: boolean };
  gnu_debugdata?: unknown;
}
const facts = JSON.parse(readFileSync(join(REPO, "fixtures/elf/facts.json"), "utf8")) as { files: Record<string, FileFacts> };

/** The fixtures: regular files directly in bin/ (corrupt/ and .debug/ are directories). */
const fixtures = readdirSync(BIN, { withFileTypes: true })
  .filter((d) => d.isFile())
  .map((d) => d.name)
  .sort();

/** How the golden files name a fixture, whatever directory vitest runs in. */
const canonical = (name: string): string => `fixtures/elf/bin/${name}`;
/** The path handed to the CLI: the same, relative to the working directory (the repo root under `npx vitest`). */
const argPath = (name: string): string => relative(process.cwd(), join(BIN, name));
const factsFor = (name: string): FileFacts | undefined => Object.values(facts.files).find((f) => f.path === `bin/${name}`);
/** Only strip_buildid needs a debug root, and the fixture one keeps the run hermetic. */
const debugRootArgs = (name: string): string[] => (factsFor(name)?.build_id_debug_file !== undefined ? ["--debug-root", "fixtures/elf/debug-root"] : []);

interface Recorded {
  argv: string[];
  exitCode: number;
  stderr: string;
  json: unknown;
}
interface Golden {
  fixture: string;
  usdt: Recorded;
  functions: Recorded;
}

async function record(name: string, extra: string[]): Promise<Recorded> {
  const argv = ["list", canonical(name), ...extra, ...debugRootArgs(name)];
  const actual = argPath(name);
  const io = { stdout: new StringSink(), stderr: new StringSink() };
  const exitCode = await run(
    argv.map((a) => (a.startsWith("fixtures/") ? relative(process.cwd(), join(REPO, a)) : a)),
    io,
  );
  const toCanonical = (text: string) => text.split(actual).join(canonical(name));
  const stdout = toCanonical(io.stdout.text);
  return { argv, exitCode, stderr: toCanonical(io.stderr.text), json: stdout === "" ? null : JSON.parse(stdout) };
}

const runs = new Map<string, Promise<Golden>>();
/** Both runs for one fixture, once per test file. */
function golden(name: string): Promise<Golden> {
  let p = runs.get(name);
  if (p === undefined) {
    p = (async () => ({ fixture: canonical(name), usdt: await record(name, ["--json"]), functions: await record(name, ["--functions", "--json"]) }))();
    runs.set(name, p);
  }
  return p;
}

test("the fixtures in bin/ are exactly facts.json's files plus the debug files it names", () => {
  const debugFiles = Object.values(facts.files).flatMap((f) => (f.debuglink === undefined ? [] : [f.debuglink.debug_file]));
  const described = [...Object.values(facts.files).map((f) => f.path), ...debugFiles].filter((p) => /^bin\/[^/]+$/.test(p)).map((p) => p.slice(4));
  expect(fixtures).toEqual([...new Set(described)].sort());
});

describe("golden files (UPDATE_GOLDEN=1 rewrites them)", () => {
  test.each(fixtures)("%s", async (name) => {
    const actual = await golden(name);
    const file = join(GOLDEN, `${name}.json`);
    if (UPDATE) {
      mkdirSync(GOLDEN, { recursive: true });
      writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
    }
    expect(existsSync(file), `${file} is missing: run UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts`).toBe(true);
    expect(actual).toEqual(JSON.parse(readFileSync(file, "utf8")));
  });
});

describe("--json with nothing to print", () => {
  test("a file without USDT notes prints [] and exits 1", async () => {
    const io = { stdout: new StringSink(), stderr: new StringSink() };
    expect(await run(["list", argPath("libver.so"), "--json"], io)).toBe(1);
    expect({ stdout: io.stdout.text, stderr: io.stderr.text }).toEqual({ stdout: "[]\n", stderr: "" });
  });
  test("a pattern that matches nothing prints [] and exits 1", async () => {
    const io = { stdout: new StringSink(), stderr: new StringSink() };
    expect(await run(["list", argPath("usdt_sema"), "nosuch:*", "--json"], io)).toBe(1);
    expect({ stdout: io.stdout.text, stderr: io.stderr.text }).toEqual({ stdout: "[]\n", stderr: "" });
  });
});

// ----------------------------------------------- is the output right?

interface ArgJson {
  spec: string;
  index: number;
  size: number;
  signed: boolean;
  kind: string;
  value?: string;
  reason?: string;
  float?: boolean;
}
interface SiteJson {
  file: string;
  provider: string;
  name: string;
  address: string;
  fileOffset: number;
  semaphore: string | null;
  semaphoreOffset: number | null;
  args: ArgJson[];
}

const hx = (v: string | number | bigint): string => `0x${BigInt(v).toString(16)}`;
/** Items of a note's argument string: split at blanks, except inside `[...]` (aarch64, arm). */
const argItems = (text: string): string[] => text.match(/(?:[^\s[]|\[[^\]]*\])+/g) ?? [];

const withUsdt = Object.entries(facts.files).filter(([, f]) => f.usdt.length > 0);

describe("the USDT JSON agrees with facts.json and docs/pitfalls.md", () => {
  test.each(withUsdt.map(([name, f]) => [name, f.path.slice(4)] as const))(
    "%s: sites, offsets and one argument per item at its own index",
    async (_name, fixture) => {
      const f = factsFor(fixture) as FileFacts;
      const { usdt } = await golden(fixture);
      expect(usdt.exitCode).toBe(0);
      const sites = usdt.json as SiteJson[];
      expect(
        sites.map((s) => ({
          file: s.file,
          probe: `${s.provider}:${s.name}`,
          address: s.address,
          fileOffset: hx(s.fileOffset),
          semaphore: s.semaphore,
          semaphoreOffset: s.semaphoreOffset === null ? null : hx(s.semaphoreOffset),
          args: s.args.map((a) => `${a.index}:${a.spec}`),
        })),
      ).toEqual(
        f.usdt.map((u) => ({
          file: canonical(fixture),
          probe: `${u.provider}:${u.name}`,
          address: hx(u.pc),
          fileOffset: hx(u.pc_file_offset),
          semaphore: u.semaphore === null ? null : hx(u.semaphore),
          semaphoreOffset: u.semaphore_file_offset === null ? null : hx(u.semaphore_file_offset),
          args: argItems(u.args).map((a, i) => `${i}:${a}`),
        })),
      );
      // An unsupported argument says why.
      const unexplained = sites.flatMap((s) => s.args.filter((a) => a.kind === "unsupported" && !(typeof a.reason === "string" && a.reason.length > 0)));
      expect(unexplained).toEqual([]);
    },
  );

  const floats = withUsdt.filter(([, f]) => f.usdt.some((u) => argItems(u.args).some((a) => /^-?\d+f@/.test(a))));
  test.each(floats.map(([name, f]) => [name, f.path.slice(4)] as const))("%s: `8f@` arguments carry float: true, integers do not", async (_name, fixture) => {
    const args = ((await golden(fixture)).usdt.json as SiteJson[]).flatMap((s) => s.args);
    expect(args.map((a) => `${a.spec} float=${a.float === true}`)).toEqual(args.map((a) => `${a.spec} float=${/^-?\d+f@/.test(a.spec)}`));
  });

  test.each(withUsdt.map(([name, f]) => [name, f.path.slice(4)] as const))(
    "%s: constants are exact to 64 bits, reduced to their size and signedness",
    async (_name, fixture) => {
      const constants = ((await golden(fixture)).usdt.json as SiteJson[]).flatMap((s) => s.args.filter((a) => a.kind === "constant"));
      const expected = (a: ArgJson): string => {
        const digits = a.spec.slice(a.spec.indexOf("@") + 1).replace(/^[$#i]/, "");
        const n = BigInt(digits);
        return (a.signed ? BigInt.asIntN(a.size * 8, n) : BigInt.asUintN(a.size * 8, n)).toString();
      };
      expect(constants.map((a) => `${a.spec} = ${a.value}`)).toEqual(constants.map((a) => `${a.spec} = ${expected(a)}`));
    },
  );

  test("ops:bigconst (usdt_ops_gcc_O2): 18446744073709551614, -9223372036854775808 and 4294967295 survive as decimal strings", async () => {
    const site = ((await golden("usdt_ops_gcc_O2")).usdt.json as SiteJson[]).find((s) => s.name === "bigconst");
    expect(site?.args.map((a) => [a.kind, a.value])).toEqual([
      ["constant", "18446744073709551614"],
      ["constant", "-9223372036854775808"],
      ["constant", "4294967295"],
    ]);
  });

  test("ops:badarg: the undecodable arguments 0 and 2 stay in place; 1 (%rdi) and 3 (%rsi) are registers", async () => {
    for (const fixture of ["usdt_ops_gcc_O0", "usdt_ops_gcc_O2", "usdt_ops_clang_O2", "usdt_ops_gcc_O2_nopie"]) {
      const site = ((await golden(fixture)).usdt.json as SiteJson[]).find((s) => s.name === "badarg");
      expect(site?.args.map((a) => `${a.index} ${a.kind}`)).toEqual(["0 unsupported", "1 register", "2 unsupported", "3 register"]);
    }
  });
});

// ------------------------------------------- is the functions JSON right?

interface FunctionJson {
  file: string;
  name: string;
  version: string | null;
  address: string;
  fileOffset: number;
  size: number;
  type: string;
  binding: string;
}

describe("the --functions JSON agrees with facts.json", () => {
  const cases = Object.entries(facts.files).filter(([, f]) => f.symbols.some((s) => s.file_offset !== null && (s.type === "FUNC" || s.type === "IFUNC")));
  test.each(cases.map(([name, f]) => [name, f.path.slice(4)] as const))(
    "%s: every defined function is listed at its facts address and file offset",
    async (_name, fixture) => {
      const f = factsFor(fixture) as FileFacts;
      const listed = ((await golden(fixture)).functions.json ?? []) as FunctionJson[];
      const shown = new Set(listed.map((s) => `${s.name} ${s.address} ${hx(s.fileOffset)} ${s.type}`));
      // An sstripped file keeps only .dynsym; a debug file with the wrong CRC gives nothing.
      const debugData = f.debuglink !== undefined || f.build_id_debug_file !== undefined || f.gnu_debugdata !== undefined;
      const sstripped = f.symbols_read_from !== f.path && !debugData;
      const rejected = f.debuglink?.crc_matches === false;
      const expected = f.symbols.filter((s) => s.file_offset !== null && (s.type === "FUNC" || s.type === "IFUNC") && (!sstripped || s.table === ".dynsym"));
      // ppc64 ELFv2: the probe goes on the local entry point, `[<localentry>: N]` in readelf's Vis column (see facts.test.ts).
      const lep = (s: SymbolFact): bigint => BigInt(/\[<localentry>: (\d+)\]/.exec(s.vis ?? "")?.[1] ?? 0);
      const located = (s: SymbolFact): string =>
        `${s.name} ${hx(BigInt(s.code_addr ?? s.value) + lep(s))} ${hx(BigInt(s.code_file_offset ?? (s.file_offset as string)) + lep(s))} ${s.type.toLowerCase()}`;
      const want = rejected ? [] : [...new Set(expected.map(located))];
      expect(want.filter((w) => !shown.has(w))).toEqual([]);
      if (rejected) expect(listed.filter((s) => expected.some((e) => e.name === s.name))).toEqual([]);
    },
  );
});

test("libver.so --functions JSON tells the hidden vfunc@VER_1 from the default vfunc@@VER_2 (not only by address)", async () => {
  const listed = ((await golden("libver.so")).functions.json as (FunctionJson & { defaultVersion: boolean })[]).filter((s) => s.name === "vfunc");
  expect(listed.map((s) => [s.version, s.defaultVersion, s.address])).toEqual([
    ["VER_1", false, "0x1100"],
    ["VER_2", true, "0x1110"],
  ]);
});

// --------------------------------- 32-bit targets on a 64-bit kernel

/**
 * Where BPF finds a 32-bit process's registers on a 64-bit kernel: i386 in
 * x86_64 `struct pt_regs` (arch/x86/include/asm/ptrace.h), arm in arm64
 * `user_pt_regs` (compat r0-r14 are x0-x14, pc is at 256).
 */
const COMPAT_OFFSETS: Record<number, (name: string) => number | undefined> = {
  3: (name) => ({ ebx: 40, ecx: 88, edx: 96, esi: 104, edi: 112, ebp: 32, eax: 80, eip: 128, esp: 152 })[name],
  40: (name) => {
    const n = /^r(\d+)$/.exec(name)?.[1];
    return n === undefined ? undefined : Number(n) === 15 ? 256 : 8 * Number(n);
  },
};

describe("32-bit targets: every register in the JSON carries compatPtRegsOffset", () => {
  const cases = Object.entries(facts.files).filter(([, f]) => f.class === "ELF32" && f.usdt.length > 0);
  test.each(cases.map(([name, f]) => [name, f.path.slice(4)] as const))("%s", async (_name, fixture) => {
    const f = factsFor(fixture) as FileFacts;
    const offsetOf = COMPAT_OFFSETS[f.e_machine] as (name: string) => number | undefined;
    const registers = ((await golden(fixture)).usdt.json as Record<string, unknown>[][])
      .flatMap((s) => (s as unknown as SiteJson).args as unknown as Record<string, unknown>[])
      .flatMap((a) =>
        [a.register, a.base, a.indexRegister].filter((r): r is { name: string; compatPtRegsOffset?: number } => typeof r === "object" && r !== null),
      );
    expect(registers.length).toBeGreaterThan(0);
    expect(registers.map((r) => `${r.name}:${r.compatPtRegsOffset}`)).toEqual(registers.map((r) => `${r.name}:${offsetOf(r.name)}`));
  });
});
