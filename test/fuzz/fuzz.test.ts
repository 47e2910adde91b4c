/**
 * Deterministic mutation fuzzing of the pure ELF reader, seeded from every
 * fixture (docs/style.md house rule 11; PITFALLS 24: container files are hostile
 * input, and a crafted note crashed another tool).
 *
 * Each case takes one fixture (good, corrupt/ or cross-arch), applies 1–4
 * structure-aware mutations (header fields, section and program headers,
 * note headers and stapsdt descriptors, symbols, hash and version tables,
 * dynamic entries, strings, random bytes, truncation) and runs the full
 * accessor sweep (`sweep.ts`). The only acceptable exceptions are
 * `ProbecError`s; each case must also finish within CASE_LIMIT_MS. A failure
 * names the seed, the case number, the fixture and the mutations, and
 * shows a minimised reproducer, so that it can be replayed exactly:
 *
 *     FUZZ_SEED=<seed> FUZZ_FIRST=<case> FUZZ_CASES=1 npx vitest run test/fuzz -t survives
 *
 * With FUZZ_SAVE_REGRESSIONS=1 every minimised crash is also written to
 * test/fuzz/regressions/, whose files regressions.test.ts replays on every
 * run (add the file's row to the README there).
 *
 * Environment: FUZZ_CASES (default 10000), FUZZ_SEED (default 0x5eed2024),
 * FUZZ_FIRST (first case number, default 0).
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { minimize } from "./minimize.js";
import { layoutOf, mutate, type Layout } from "./mutate.js";
import { caseSeed, Prng } from "./prng.js";
import { sweep, sweepAll, type Crash } from "./sweep.js";
import { ElfFile } from "../../src/elf/elf-file.js";
import { BufferSource, type ByteSource } from "../../src/io/byte-source.js";
import { Watchdog } from "./watchdog.js";

const CASES = envInt("FUZZ_CASES", 10_000);
const SEED = envInt("FUZZ_SEED", 0x5eed2024);
const FIRST = envInt("FUZZ_FIRST", 0);
/** A case slower than this is a failure (the sweep of a ~16 KB file takes well under 10 ms). */
const CASE_LIMIT_MS = 2_000;
/** If no case finishes for this long, the watchdog kills the run and prints the stuck case. */
const HANG_LIMIT_MS = 20_000;
/** Distinct failures reported (and minimised) per run. */
const MAX_REPORTED = 8;

const FIXTURES = join(import.meta.dirname, "../../fixtures/elf/bin");
const REGRESSIONS = join(import.meta.dirname, "regressions");

function envInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, not ${JSON.stringify(text)}`);
  return value;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) out.push(...filesUnder(path));
    else if (stat.isFile()) out.push(path);
  }
  return out;
}

interface Seed {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly layout: Layout;
}

const seeds: Seed[] = filesUnder(FIXTURES).map((path) => {
  const bytes = new Uint8Array(readFileSync(path));
  return { name: relative(FIXTURES, path), bytes, layout: layoutOf(bytes) };
});

/** A short, stable signature of a crash: the accessor family, the error class and message shape, and the first src/ frame. */
function signature(crash: Crash): string {
  const error = crash.error;
  const accessor = crash.accessor.replace(/\(.*$/, "").replace(/ .*$/, "");
  if (!(error instanceof Error)) return `${accessor}: non-Error ${typeof error}`;
  const frame = /\/src\/[^\s)]+/.exec(error.stack ?? "")?.[0] ?? "?";
  return `${accessor}: ${error.name}: ${error.message.replace(/0x[0-9a-f]+|\d+/g, "N").slice(0, 80)} @ ${frame.replace(/:\d+$/, "")}`;
}

function describeCrash(crash: Crash): string {
  const error = crash.error;
  return error instanceof Error ? `${crash.accessor}\n${error.stack ?? `${error.name}: ${error.message}`}` : `${crash.accessor}\nthrew ${String(error)}`;
}

async function crashesWith(bytes: Uint8Array, wanted: string): Promise<boolean> {
  return (await sweepAll(bytes)).crashes.some((c) => signature(c) === wanted);
}

describe("fuzz: every accessor on mutated fixtures throws only ProbecError", () => {
  it("has seeds: every fixture, including corrupt/ and cross-arch", () => {
    expect(seeds.length).toBeGreaterThanOrEqual(65);
    expect(seeds.some((s) => s.name.startsWith("corrupt/"))).toBe(true);
    expect(seeds.some((s) => s.name.includes("cross"))).toBe(true);
    // The layout reader found targets of every kind somewhere.
    for (const kind of ["header", "sectionHeaders", "programHeaders", "notes", "symbols", "hashes", "versions", "dynamic", "strings", "blobs"] as const) {
      expect(
        seeds.some((s) => s.layout[kind].length > 0),
        kind,
      ).toBe(true);
    }
  });

  it("the unmutated seeds pass the sweep", async () => {
    const crashes: string[] = [];
    for (const s of seeds) crashes.push(...(await sweepAll(s.bytes)).crashes.map((c) => `${s.name}: ${describeCrash(c)}`));
    expect(crashes).toEqual([]);
  });

  it(`survives ${CASES} mutated files (seed 0x${SEED.toString(16)})`, async () => {
    const watchdog = new Watchdog(HANG_LIMIT_MS);
    const failures = new Map<string, { text: string; seed: Seed; bytes: Uint8Array }>();
    let failedCases = 0;
    let opened = 0;
    let calls = 0;
    let resolved = 0;
    let usdtSites = 0;
    let located = 0;
    let slowest = { ms: 0, label: "" };
    // Distinct refusals reached (error code and message shape): a measure of how deep the mutants go.
    const refusals = new Set<string>();
    const started = performance.now();
    try {
      for (let i = FIRST; i < FIRST + CASES; i++) {
        const rng = new Prng(caseSeed(SEED, i));
        const seed = rng.pick(seeds);
        const mutant = mutate(seed.bytes, seed.layout, rng);
        const label = `case ${i} (replay: FUZZ_SEED=0x${SEED.toString(16)} FUZZ_FIRST=${i} FUZZ_CASES=1): ${seed.name}; ${mutant.steps.join("; ")}`;
        watchdog.beat(label);
        const t0 = performance.now();
        const result = await sweepAll(mutant.bytes);
        const ms = performance.now() - t0;
        calls += result.calls;
        resolved += result.resolved;
        usdtSites += result.usdtSites;
        located += result.located;
        if (result.opened) opened++;
        for (const shape of result.refusals) refusals.add(shape);
        if (ms > slowest.ms) slowest = { ms, label };
        const problems: Array<{ key: string; text: string }> = result.crashes.map((c) => ({ key: signature(c), text: describeCrash(c) }));
        if (ms > CASE_LIMIT_MS) problems.push({ key: `slow case: ${seed.name}`, text: `took ${ms.toFixed(0)} ms (limit ${CASE_LIMIT_MS} ms)` });
        if (problems.length > 0) failedCases++;
        for (const p of problems) {
          if (failures.has(p.key) || failures.size >= MAX_REPORTED) continue;
          failures.set(p.key, { text: `${label}\n  ${p.key}\n  ${p.text.replace(/\n/g, "\n  ")}`, seed, bytes: mutant.bytes });
        }
      }
    } finally {
      await watchdog.stop();
    }
    const elapsed = performance.now() - started;
    console.log(
      `fuzz: ${CASES} cases in ${(elapsed / 1000).toFixed(1)} s (${opened} opened, ${refusals.size} distinct refusals, ${calls} accessor calls, ${resolved} symbols resolved, ${located} functions located, ${usdtSites} USDT sites decoded); slowest case ${slowest.ms.toFixed(1)} ms: ${slowest.label}`,
    );

    const reports: string[] = [];
    for (const [key, failure] of failures) {
      let reproducer = "";
      if (!key.startsWith("slow case")) {
        const small = await minimize(failure.seed.bytes, failure.bytes, (bytes) => crashesWith(bytes, key));
        reproducer = `\n  minimised reproducer (from ${failure.seed.name}): ${small.diff.join(", ") || "the seed itself"}`;
        if (process.env.FUZZ_SAVE_REGRESSIONS === "1") {
          mkdirSync(REGRESSIONS, { recursive: true });
          const file = join(REGRESSIONS, `${failure.seed.name.replace(/[^A-Za-z0-9_.-]+/g, "_")}-${key.replace(/[^A-Za-z0-9]+/g, "_").slice(0, 60)}.bin`);
          writeFileSync(file, small.bytes);
          reproducer += `\n  saved as ${relative(process.cwd(), file)}`;
        }
      }
      reports.push(failure.text + reproducer);
    }
    expect(reports, `${failedCases} of ${CASES} cases failed; distinct failures:\n\n${reports.join("\n\n")}`).toEqual([]);
    // The mutants are not all refused at the door: the deep accessors ran (checked on full runs only).
    if (CASES < 1000) return;
    expect(opened, "mutants that still open").toBeGreaterThan(CASES / 4);
    expect(resolved, "symbols resolved in mutants").toBeGreaterThan(CASES);
    expect(located, "functions located in mutants").toBeGreaterThan(CASES / 10);
    expect(usdtSites, "USDT sites decoded in mutants").toBeGreaterThan(CASES / 10);
  }, 300_000);
});

describe("fuzz harness self-test", () => {
  it("the sweep reports a non-ProbecError with the accessor that threw it", () => {
    const seed = seeds.find((s) => s.name === "libusdt_same.so");
    expect(seed).toBeDefined();
    if (seed === undefined) return;
    // A source that breaks (as a parser bug would) once ElfFile.open has read the headers.
    let reads = 0;
    let limit = Infinity;
    const breaking = (bytes: Uint8Array): ByteSource => {
      const inner = new BufferSource(bytes);
      return {
        get size() {
          return inner.size;
        },
        get bytesRead() {
          return inner.bytesRead;
        },
        readAt(offset: number, length: number): Uint8Array {
          if (++reads > limit) throw new TypeError("simulated parser bug");
          return inner.readAt(offset, length);
        },
        close: () => inner.close(),
      };
    };
    ElfFile.open(breaking(seed.bytes));
    limit = reads + 2;
    reads = 0;
    const result = sweep(seed.bytes, breaking);
    expect(result.opened).toBe(true);
    expect(result.crashes.length).toBeGreaterThan(0);
    expect(result.crashes.filter((c) => !(c.error instanceof TypeError)).map((c) => `${c.accessor}: ${String(c.error)}`)).toEqual([]);
    expect(signature(result.crashes[0] as Crash)).toMatch(/TypeError: simulated parser bug/);
  });

  it("minimize shrinks a crash to the bytes that matter", async () => {
    const seed = new Uint8Array(4096).fill(7);
    const crashing = seed.slice();
    for (let i = 0; i < crashing.length; i += 3) crashing[i] = 0x55;
    crashing[100] = 0x42;
    crashing[2000] = 0x43;
    const small = await minimize(seed, crashing, async (b) => b[100] === 0x42 && b[2000] === 0x43);
    expect(small.diff).toEqual(["0x64: 0x7 -> 0x42", "0x7d0: 0x7 -> 0x43", "length 4096 -> 2001"]);
  });

  it("cases are reproducible: a case's mutations depend only on (seed, case number)", () => {
    const describeCase = (i: number): string => {
      const rng = new Prng(caseSeed(SEED, i));
      const seed = rng.pick(seeds);
      return `${seed.name}: ${mutate(seed.bytes, seed.layout, rng).steps.join("; ")}`;
    };
    expect([describeCase(0), describeCase(12345)]).toEqual([describeCase(0), describeCase(12345)]);
    expect(describeCase(0)).not.toBe(describeCase(1));
  });
});

/**
 * Known hostile files, replayed through the same sweep on every run: the
 * hand-made corrupt fixtures (fixtures/elf/bin/corrupt, PITFALLS 24). Each
 * must be refused somewhere, with ProbecErrors only, within the time limit.
 * The minimised crash reproducers the fuzzer saves (FUZZ_SAVE_REGRESSIONS=1
 * writes them to test/fuzz/regressions/) are replayed by regressions.test.ts.
 */
describe("fuzz regressions: known hostile files pass the sweep", () => {
  const corrupt = filesUnder(join(FIXTURES, "corrupt"));
  it("replays the corrupt fixtures", () => {
    expect(corrupt.length).toBeGreaterThanOrEqual(27);
  });
  for (const file of corrupt) {
    it(relative(join(import.meta.dirname, "../.."), file), async () => {
      const bytes = new Uint8Array(readFileSync(file));
      const t0 = performance.now();
      const result = await sweepAll(bytes);
      const ms = performance.now() - t0;
      expect(result.crashes.map(describeCrash)).toEqual([]);
      expect(ms).toBeLessThan(CASE_LIMIT_MS);
      // Still hostile: something in it is refused (with a ProbecError).
      expect(result.refused).toBeGreaterThan(0);
    });
  }
});
