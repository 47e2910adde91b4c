/**
 * Issue 15, "Tests": in-kernel aggregations, exact, on this kernel, through
 * the library (`attach()`'s reports) and through the `probec` a user runs
 * (dist/cli/probec.cjs: its text and its `--json`).
 *
 * agg_app (test/attach/aggregate-fixtures/agg_app.c) runs on the host and
 * makes known calls each round:
 *
 * - `agg_value(1..1000)`: `hist(arg0)`, `lhist(arg0, 0, 100, 10)`, `sum`,
 *   `avg`, `min`, `max`, `stats` and `count` are all known in advance;
 * - `agg_signed` on a fixed set with negatives, zero, bucket edges and a
 *   value past MAX (written out here by hand, bucket by bucket);
 * - `agg_named(1)` 300 times from thread "agg-left", 700 from "agg-right",
 *   50 from the main thread ("agg_app"): `count by comm` is exact;
 * - mode `keys 1000`: `agg_key(0..999)` once each, into a map of 64 keys
 *   (`option mapkeys = 64`): 64 rows, 936 hits reported dropped;
 * - mode `ticks 35 100`: `agg_tick` 35 times 100 ms apart, under `interval 1`:
 *   a report about every second, each holding only its own hits (the maps
 *   are reset), all of them together exactly 35.
 *
 * The expected buckets are computed twice: with src/plan/aggregates.ts's
 * histBucket/lhistBucket (the reference the BPF program must match) and,
 * for the edges, by hand.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { AggregateResult, AggregateSnapshot, AttachPlan } from "../../../src/index.js";
import { histBucket, histBucketRange, lhistBucket, lhistBucketRange, type LhistParams } from "../../../src/plan/aggregates.js";
import { buildAggregateFixtures, type AggregateFixtures } from "./support/aggregate-fixtures.js";
import { startProbec, type ProbecRun } from "./support/bundled-cli.js";
import { Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const targets = new Targets();
let fixtures: AggregateFixtures;
let values: Target;
let keys: Target;
let ticks: Target;
let dir: string;

/** What agg_app's `values` round calls agg_signed with: [value, times]. Copied from LHIST_SET in agg_app.c. */
const SIGNED_SET: [bigint, number][] = [
  [-7n, 1],
  [-1n, 2],
  [0n, 3],
  [9n, 4],
  [10n, 5],
  [55n, 6],
  [99n, 7],
  [100n, 8],
  [12345n, 9],
];
const LHIST: LhistParams = { min: 0, max: 100, step: 10 };
const KEYS = 1000;
const MAP_KEYS = 64;
const TICKS = 35;

beforeAll(async () => {
  fixtures = buildAggregateFixtures();
  values = await targets.host(fixtures.path("agg_app"), ["values"]);
  keys = await targets.host(fixtures.path("agg_app"), ["keys", String(KEYS)]);
  ticks = await targets.host(fixtures.path("agg_app"), ["ticks", String(TICKS), "100"]);
  dir = mkdtempSync(join(tmpdir(), "probec-aggregations-"));
}, 120_000);

afterAll(async () => {
  await targets.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

// ---- the expectations ----------------------------------------------------------------------------------------

/** Every value of a round of agg_value. */
const ONE_TO_1000 = Array.from({ length: 1000 }, (_, i) => BigInt(i + 1));
/** Every value of a round of agg_signed. */
const SIGNED = SIGNED_SET.flatMap(([v, n]) => Array.from({ length: n }, () => v));

/** bucket index → count, through the reference bucket function. */
function bucketsOf(values: readonly bigint[], bucket: (v: bigint) => number): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const v of values) out.set(bucket(v), (out.get(bucket(v)) ?? 0n) + 1n);
  return new Map([...out.entries()].sort(([a], [b]) => a - b));
}

/** A result's only row's buckets as index → count. */
function bucketMap(result: AggregateResult): Map<number, bigint> {
  expect(result.rows).toHaveLength(1);
  return new Map((result.rows[0]!.buckets ?? []).map((b) => [b.index, b.count]));
}

const sum = (xs: readonly bigint[]): bigint => xs.reduce((a, b) => a + b, 0n);

describe("the expectations themselves (reference functions beside a hand count)", () => {
  test("hist of 1..1000: [1] 1, [2,4) 2, [4,8) 4, … [256,512) 256, [512,1K) 489", () => {
    const byHand = new Map<number, bigint>([
      [2, 1n],
      [3, 2n],
      [4, 4n],
      [5, 8n],
      [6, 16n],
      [7, 32n],
      [8, 64n],
      [9, 128n],
      [10, 256n],
      [11, 489n],
    ]);
    expect(bucketsOf(ONE_TO_1000, histBucket)).toEqual(byHand);
    expect(histBucketRange(11)).toEqual({ low: 512n, high: 1024n });
  });

  test("lhist(0, 100, 10) of 1..1000: [0,10) 9, nine buckets of 10, [100, …) 901", () => {
    const byHand = new Map<number, bigint>([[1, 9n], ...Array.from({ length: 9 }, (_, i): [number, bigint] => [i + 2, 10n]), [11, 901n]]);
    expect(bucketsOf(ONE_TO_1000, (v) => lhistBucket(v, LHIST))).toEqual(byHand);
  });

  test("the signed set: lhist below 0: 3, [0,10) 7, [10,20) 5, [50,60) 6, [90,100) 7, [100,…) 17; hist (…,0) 3, [0] 3, [8,16) 9, [32,64) 6, [64,128) 15, [8K,16K) 9", () => {
    expect(bucketsOf(SIGNED, (v) => lhistBucket(v, LHIST))).toEqual(
      new Map([
        [0, 3n],
        [1, 7n],
        [2, 5n],
        [6, 6n],
        [10, 7n],
        [11, 17n],
      ]),
    );
    expect(bucketsOf(SIGNED, histBucket)).toEqual(
      new Map([
        [0, 3n],
        [1, 3n],
        [5, 9n],
        [7, 6n],
        [8, 15n],
        [15, 9n],
      ]),
    );
    expect(sum(SIGNED)).toBe(113005n);
  });
});

// ---- the library ---------------------------------------------------------------------------------------------

function valuesSource(pid: number): string {
  return `uprobe pid/${pid}:exe:agg_value {
  hist(arg0)
  lhist(arg0, 0, 100, 10)
  sum(arg0)
  avg(arg0)
  min(arg0)
  max(arg0)
  stats(arg0)
  count
}

uprobe pid/${pid}:exe:agg_signed {
  lhist(arg0 as i64, 0, 100, 10)
  hist(arg0 as i64)
  stats(arg0 as i64)
  min(arg0 as i64)
  max(arg0 as i64)
}

uprobe pid/${pid}:exe:agg_named {
  count by comm
  sum(arg0) by comm
}
`;
}

/** Attaches `plan`, runs `rounds` of `app`, detaches; returns the final report and every report before it. */
async function session(plan: AttachPlan, app: Target, rounds = 1): Promise<{ final: AggregateSnapshot; all: AggregateSnapshot[] }> {
  const trace = await Trace.start(plan);
  const all: AggregateSnapshot[] = [];
  trace.attachment.onAggregates((s) => all.push(s));
  let summaryFinal: AggregateSnapshot | undefined;
  try {
    for (let i = 0; i < rounds; i++) await app.round();
  } finally {
    summaryFinal = (await trace.close()).aggregates;
  }
  // An aggregating probe sends no events.
  expect(trace.events).toEqual([]);
  expect(summaryFinal, "AttachSummary.aggregates: the final report").toBeDefined();
  expect(all.at(-1), "the final report also went to onAggregates, last").toBe(summaryFinal);
  return { final: summaryFinal!, all };
}

function result(snapshot: AggregateSnapshot, probeId: string, index: number): AggregateResult {
  const found = snapshot.results.find((r) => r.probeId === probeId && r.index === index);
  expect(found, `${probeId} aggregation ${index} in ${JSON.stringify(snapshot.results.map((r) => [r.probeId, r.index, r.text]))}`).toBeDefined();
  return found!;
}

describe("through the library (attach())", () => {
  test("hist, lhist, sum, avg, min, max, stats and count of agg_value(1..1000), twice over: exact", async () => {
    const plan = await compilePlan("aggregates", valuesSource(values.pid));
    expect(plan.probes.map((p) => p.program?.aggregates.map((a) => a.fn))).toEqual([
      ["hist", "lhist", "sum", "avg", "min", "max", "stats", "count"],
      ["lhist", "hist", "stats", "min", "max"],
      ["count", "sum"],
    ]);
    // Two rounds: every figure doubles, nothing is reset without `interval`.
    const { final, all } = await session(plan, values, 2);
    expect(all).toHaveLength(1);
    expect(final).toMatchObject({ final: true, reset: false });

    const hist = result(final, "probe1", 0);
    expect(hist).toMatchObject({ fn: "hist", text: "hist(arg0)", keyNames: [], unit: null, dropped: 0n });
    const twice = (m: Map<number, bigint>): Map<number, bigint> => new Map([...m].map(([k, v]) => [k, 2n * v]));
    expect(bucketMap(hist)).toEqual(twice(bucketsOf(ONE_TO_1000, histBucket)));
    for (const b of hist.rows[0]!.buckets!) expect({ low: b.low, high: b.high }).toEqual(histBucketRange(b.index));
    expect(hist.rows[0]).toMatchObject({ keys: [], count: 2000n, sum: 1001000n, min: 1n, max: 1000n });

    const lhist = result(final, "probe1", 1);
    expect(lhist).toMatchObject({ fn: "lhist", text: "lhist(arg0, 0, 100, 10)", lhist: LHIST, dropped: 0n });
    expect(bucketMap(lhist)).toEqual(twice(bucketsOf(ONE_TO_1000, (v) => lhistBucket(v, LHIST))));
    for (const b of lhist.rows[0]!.buckets!) expect({ low: b.low, high: b.high }).toEqual(lhistBucketRange(b.index, LHIST));

    for (const [index, fn] of [
      [2, "sum"],
      [3, "avg"],
      [4, "min"],
      [5, "max"],
      [6, "stats"],
    ] as const) {
      const r = result(final, "probe1", index);
      expect(r.fn).toBe(fn);
      expect(r.rows, fn).toHaveLength(1);
      expect(r.rows[0], fn).toMatchObject({ keys: [], count: 2000n, sum: 1001000n, min: 1n, max: 1000n });
      expect(r.rows[0]!.buckets, fn).toBeUndefined();
    }
    expect(result(final, "probe1", 7).rows).toEqual([{ keys: [], count: 2000n, sum: 0n, min: expect.any(BigInt), max: expect.any(BigInt) }]);

    // The signed set: negatives in the first buckets, 12345 past lhist's MAX.
    const signedLhist = result(final, "probe2", 0);
    expect(bucketMap(signedLhist)).toEqual(
      new Map([
        [0, 6n],
        [1, 14n],
        [2, 10n],
        [6, 12n],
        [10, 14n],
        [11, 34n],
      ]),
    );
    expect(signedLhist.rows[0]!.buckets![0]).toEqual({ index: 0, low: null, high: 0n, count: 6n });
    expect(signedLhist.rows[0]!.buckets!.at(-1)).toEqual({ index: 11, low: 100n, high: null, count: 34n });
    expect(bucketMap(result(final, "probe2", 1))).toEqual(twice(bucketsOf(SIGNED, histBucket)));
    for (const index of [2, 3, 4]) expect(result(final, "probe2", index).rows[0]).toMatchObject({ count: 90n, sum: 226010n, min: -7n, max: 12345n });

    // count by comm: one row per thread name, most hits first.
    const byComm = result(final, "probe3", 0);
    expect(byComm).toMatchObject({ fn: "count", keyNames: ["comm"], dropped: 0n });
    expect(byComm.rows.map((r) => [r.keys, r.count])).toEqual([
      [["agg-right"], 1400n],
      [["agg-left"], 600n],
      [["agg_app"], 100n],
    ]);
    expect(result(final, "probe3", 1).rows.map((r) => [r.keys, r.sum])).toEqual([
      [["agg-right"], 1400n],
      [["agg-left"], 600n],
      [["agg_app"], 100n],
    ]);
  });

  test("hist(latency) by comm on uprobe+ret: one histogram per thread name, its hits exact, in nanoseconds", async () => {
    const plan = await compilePlan("latency", `uprobe+ret pid/${values.pid}:exe:agg_named {\n  hist(latency) by comm\n}\n`);
    const { final } = await session(plan, values);
    const hist = result(final, "probe1", 0);
    expect(hist).toMatchObject({ fn: "hist", unit: "ns", keyNames: ["comm"], dropped: 0n });
    expect(hist.rows.map((r) => [r.keys, r.count])).toEqual([
      [["agg-right"], 700n],
      [["agg-left"], 300n],
      [["agg_app"], 50n],
    ]);
    for (const row of hist.rows) {
      expect(sum(row.buckets!.map((b) => b.count))).toBe(row.count);
      // A call takes time: no bucket below [1, 2) ns; min and max in the buckets they fall in.
      expect(row.buckets![0]!.index).toBeGreaterThanOrEqual(2);
      expect(row.min).toBeGreaterThan(0n);
      expect(histBucket(row.min)).toBe(row.buckets![0]!.index);
      expect(histBucket(row.max)).toBe(row.buckets!.at(-1)!.index);
    }
  });

  test(`a map of ${MAP_KEYS} keys and ${KEYS} distinct keys: the first ${MAP_KEYS} counted, ${KEYS - MAP_KEYS} hits reported dropped`, async () => {
    const plan = await compilePlan("mapkeys", `option mapkeys = ${MAP_KEYS}\n\nuprobe pid/${keys.pid}:exe:agg_key {\n  count by arg0\n}\n`);
    expect(plan.aggregation?.mapKeys).toBe(MAP_KEYS);
    const { final } = await session(plan, keys);
    const counted = result(final, "probe1", 0);
    expect(counted.dropped).toBe(BigInt(KEYS - MAP_KEYS));
    // One thread calls agg_key(0), agg_key(1), …: the map fills with the first 64 keys.
    expect(counted.rows.map((r) => r.keys[0]).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: MAP_KEYS }, (_, i) => BigInt(i)));
    expect(counted.rows.every((r) => r.count === 1n)).toBe(true);
  });

  test(`interval 1: a report about every second, each reset, ${TICKS} hits in all`, async () => {
    const plan = await compilePlan("interval", `interval 1\n\nuprobe pid/${ticks.pid}:exe:agg_tick {\n  count\n}\n`);
    expect(plan.aggregation?.intervalMs).toBe(1000);
    const trace = await Trace.start(plan);
    const reports: { at: number; snapshot: AggregateSnapshot }[] = [];
    trace.attachment.onAggregates((snapshot) => reports.push({ at: Date.now(), snapshot }));
    const began = Date.now();
    let final: AggregateSnapshot | undefined;
    try {
      await ticks.round();
      // One more period, so that the last ticks are in a periodic report too, not only the final one.
      const seen = reports.length;
      while (reports.length === seen) await new Promise((r) => setTimeout(r, 50));
    } finally {
      final = (await trace.close()).aggregates;
    }
    const elapsedS = (Date.now() - began) / 1000;
    const periodic = reports.filter((r) => !r.snapshot.final);
    expect(reports.at(-1)?.snapshot).toBe(final);
    expect(final?.final).toBe(true);
    // Numbered from 1 without a gap; every periodic report resets the maps.
    expect(reports.map((r) => r.snapshot.seq)).toEqual(reports.map((_, i) => i + 1));
    for (const r of periodic) expect(r.snapshot.reset).toBe(true);
    // About one a second: the ticks took 3.5 s or more.
    expect(periodic.length).toBeGreaterThanOrEqual(3);
    expect(periodic.length).toBeLessThanOrEqual(Math.ceil(elapsedS) + 1);
    const counts = reports.map((r) => r.snapshot.results.find((x) => x.probeId === "probe1")?.rows[0]?.count ?? 0n);
    expect(sum(counts)).toBe(BigInt(TICKS));
    // Reset for real: no report holds the whole run.
    expect(counts.filter((c) => c > 0n).length).toBeGreaterThanOrEqual(3);
    for (const c of counts) expect(c).toBeLessThan(BigInt(TICKS));
  });
});

// ---- the CLI a user runs ---------------------------------------------------------------------------------------

/** `probec run FILE ...options` over `source`: attached, `rounds` rounds of `app`, then Ctrl-C. */
async function cli(name: string, source: string, app: Target, options: string[] = [], rounds = 1): Promise<ProbecRun> {
  const file = join(dir, `${name}.probe`);
  writeFileSync(file, source);
  const probec = startProbec(["run", file, ...options]);
  try {
    await probec.waitFor(/attached \d+ points?/, "it attached");
    for (let i = 0; i < rounds; i++) await app.round();
    const run = await probec.interrupt();
    expect(run.code, run.stderr).toBe(0);
    return run;
  } finally {
    probec.kill();
  }
}

/** The histogram lines of `text` under heading `title`: `label → count`, in order, until the next heading. */
function histogramLines(text: string, title: string): [string, number][] {
  const lines = text.split("\n");
  const at = lines.indexOf(title);
  expect(at, `"${title}" in:\n${text}`).toBeGreaterThanOrEqual(0);
  const out: [string, number][] = [];
  for (const line of lines.slice(at + 1)) {
    const m = /^(\S.*?)\s+(\d+) \|(@*) *\|$/.exec(line);
    if (m === null) break;
    out.push([m[1]!, Number(m[2])]);
  }
  return out;
}

describe("through the probec CLI (dist/cli/probec.cjs)", () => {
  test("text: the histograms drawn bucket by bucket with bpftrace's labels, the values and the comm table exact", async () => {
    const { stdout } = await cli("aggregates-text", valuesSource(values.pid), values);
    // hist: from the first non-empty bucket to the last, power-of-two labels (1K = 1024).
    expect(histogramLines(stdout, "probe1: hist(arg0)")).toEqual([
      ["[1]", 1],
      ["[2, 4)", 2],
      ["[4, 8)", 4],
      ["[8, 16)", 8],
      ["[16, 32)", 16],
      ["[32, 64)", 32],
      ["[64, 128)", 64],
      ["[128, 256)", 128],
      ["[256, 512)", 256],
      ["[512, 1K)", 489],
    ]);
    expect(histogramLines(stdout, "probe1: lhist(arg0, 0, 100, 10)")).toEqual([
      ["[0, 10)", 9],
      ...Array.from({ length: 9 }, (_, i): [string, number] => [`[${(i + 1) * 10}, ${(i + 2) * 10})`, 10]),
      ["[100, ...)", 901],
    ]);
    // The bar of the largest bucket is full width; the others in proportion.
    expect(stdout).toMatch(/^\[100, \.\.\.\)\s+901 \|@{52}\|$/m);
    expect(stdout).toMatch(/^\[10, 20\)\s+10 \|\s{52}\|$/m);
    expect(stdout).toContain("probe1: sum(arg0): 500500\n");
    expect(stdout).toContain("probe1: avg(arg0): 500\n");
    expect(stdout).toContain("probe1: min(arg0): 1\n");
    expect(stdout).toContain("probe1: max(arg0): 1000\n");
    expect(stdout).toContain("probe1: stats(arg0): count: 1000, avg: 500, total: 500500\n");
    expect(stdout).toContain("probe1: count: 1000\n");
    // The signed set, empty buckets between drawn as 0.
    expect(histogramLines(stdout, "probe2: lhist(arg0 as i64, 0, 100, 10)")).toEqual([
      ["(..., 0)", 3],
      ["[0, 10)", 7],
      ["[10, 20)", 5],
      ["[20, 30)", 0],
      ["[30, 40)", 0],
      ["[40, 50)", 0],
      ["[50, 60)", 6],
      ["[60, 70)", 0],
      ["[70, 80)", 0],
      ["[80, 90)", 0],
      ["[90, 100)", 7],
      ["[100, ...)", 17],
    ]);
    expect(stdout).toContain("probe2: stats(arg0 as i64): count: 45, avg: 2511, total: 113005\n");
    expect(stdout).toContain("probe2: min(arg0 as i64): -7\n");
    expect(stdout).toContain("probe2: max(arg0 as i64): 12345\n");
    const comm = stdout.split("\n");
    const at = comm.indexOf("probe3: count by comm");
    expect(comm.slice(at + 1, at + 5).map((l) => l.trim().split(/\s+/))).toEqual([
      ["COMM", "COUNT"],
      ["agg-right", "700"],
      ["agg-left", "300"],
      ["agg_app", "50"],
    ]);
  });

  test("--json: one object per aggregation, buckets as numbers, values exact", async () => {
    const { stdout } = await cli("aggregates-json", valuesSource(values.pid), values, ["--json"]);
    const objects = stdout
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const of = (probe: string, aggregate: string): Record<string, unknown> => {
      const found = objects.filter((o) => o["probe"] === probe && o["aggregate"] === aggregate);
      expect(found, `${probe} ${aggregate} in ${stdout}`).toHaveLength(1);
      return found[0]!;
    };
    const hist = of("probe1", "hist(arg0)");
    expect(hist).toMatchObject({ fn: "hist", final: true, reset: false, dropped: 0, unit: null });
    const expectedHist = [...bucketsOf(ONE_TO_1000, histBucket)].map(([index, count]) => {
      const { low, high } = histBucketRange(index);
      return { low: low === null ? null : Number(low), high: high === null ? null : Number(high), count: Number(count) };
    });
    expect(hist["rows"]).toEqual([{ keys: {}, count: 1000, sum: 500500, min: 1, max: 1000, avg: 500, buckets: expectedHist }]);
    expect((of("probe1", "lhist(arg0, 0, 100, 10)")["rows"] as { buckets: unknown }[])[0]!.buckets).toEqual([
      { low: 0, high: 10, count: 9 },
      ...Array.from({ length: 9 }, (_, i) => ({ low: (i + 1) * 10, high: (i + 2) * 10, count: 10 })),
      { low: 100, high: null, count: 901 },
    ]);
    for (const a of ["sum(arg0)", "avg(arg0)", "min(arg0)", "max(arg0)", "stats(arg0)"])
      expect(of("probe1", a)["rows"], a).toEqual([{ keys: {}, count: 1000, sum: 500500, min: 1, max: 1000, avg: 500 }]);
    expect(of("probe1", "count")["rows"]).toEqual([{ keys: {}, count: 1000 }]);
    expect((of("probe2", "lhist(arg0 as i64, 0, 100, 10)")["rows"] as { buckets: unknown }[])[0]!.buckets).toEqual([
      { low: null, high: 0, count: 3 },
      { low: 0, high: 10, count: 7 },
      { low: 10, high: 20, count: 5 },
      { low: 50, high: 60, count: 6 },
      { low: 90, high: 100, count: 7 },
      { low: 100, high: null, count: 17 },
    ]);
    expect(of("probe2", "stats(arg0 as i64)")["rows"]).toEqual([{ keys: {}, count: 45, sum: 113005, min: -7, max: 12345, avg: 2511 }]);
    expect(of("probe3", "count by comm")["rows"]).toEqual([
      { keys: { comm: "agg-right" }, count: 700 },
      { keys: { comm: "agg-left" }, count: 300 },
      { keys: { comm: "agg_app" }, count: 50 },
    ]);
  });

  test("hist(latency) by comm: a histogram per key, ranges in ns/µs/ms/s, --json in plain ns with the unit", async () => {
    const source = `uprobe+ret pid/${values.pid}:exe:agg_named {\n  hist(latency) by comm\n}\n`;
    const { stdout } = await cli("latency-text", source, values);
    const lines = stdout.split("\n");
    expect(lines[0]).toBe("probe1: hist(latency) by comm");
    const human = /^\[(\d+(\.\d+)?)(ns|µs|ms|s), (\d+(\.\d+)?)(ns|µs|ms|s)\)$/;
    const perKey = new Map<string, number>();
    let key: string | undefined;
    for (const line of lines.slice(1)) {
      const heading = /^comm=(.+):$/.exec(line);
      if (heading !== null) {
        key = heading[1]!;
        continue;
      }
      const bucket = /^(\S+(?:, \S+)?)\s+(\d+) \|@*\s*\|$/.exec(line);
      if (bucket === null) continue;
      expect(bucket[1], line).toMatch(human);
      perKey.set(key!, (perKey.get(key!) ?? 0) + Number(bucket[2]));
    }
    expect([...perKey]).toEqual([
      ["agg-right", 700],
      ["agg-left", 300],
      ["agg_app", 50],
    ]);

    const json = await cli("latency-json", source, values, ["--json"]);
    const [object] = json.stdout
      .split("\n")
      .filter((l) => l !== "")
      .map(
        (l) => JSON.parse(l) as { unit: string; rows: { keys: { comm: string }; count: number; buckets: { low: number; high: number; count: number }[] }[] },
      );
    expect(object!.unit).toBe("ns");
    expect(object!.rows.map((r) => [r.keys.comm, r.count, r.buckets.reduce((n, b) => n + b.count, 0)])).toEqual([
      ["agg-right", 700, 700],
      ["agg-left", 300, 300],
      ["agg_app", 50, 50],
    ]);
    // Power-of-two buckets in plain nanoseconds.
    for (const row of object!.rows) for (const b of row.buckets) expect(b.high).toBe(2 * b.low);
  });

  test(`option mapkeys = ${MAP_KEYS}: the ${KEYS - MAP_KEYS} dropped hits on stderr with the fix, and in --json`, async () => {
    const source = `option mapkeys = ${MAP_KEYS}\n\nuprobe pid/${keys.pid}:exe:agg_key {\n  count by arg0\n}\n`;
    const text = await cli("mapkeys-text", source, keys);
    expect(text.stderr).toContain(
      `probec: probe probe1: ${KEYS - MAP_KEYS} hits of count by arg0 were not counted: the aggregation map's ${MAP_KEYS} keys were all taken (option mapkeys = ${2 * MAP_KEYS} raises it)\n`,
    );
    const table = text.stdout.split("\n");
    const at = table.indexOf("probe1: count by arg0");
    expect(table.slice(at + 2, at + 2 + MAP_KEYS + 1).filter((l) => /^\s*\d+\s+1$/.test(l))).toHaveLength(MAP_KEYS);

    const json = await cli("mapkeys-json", source, keys, ["--json"]);
    const [object] = json.stdout
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { dropped: number; rows: { keys: { arg0: number }; count: number }[] });
    expect(object!.dropped).toBe(KEYS - MAP_KEYS);
    expect(object!.rows.map((r) => r.keys.arg0).sort((a, b) => a - b)).toEqual(Array.from({ length: MAP_KEYS }, (_, i) => i));
  });

  test(`interval 1: a block about every second, each holding only its own ticks, ${TICKS} in all (text and --json)`, async () => {
    const source = `interval 1\n\nuprobe pid/${ticks.pid}:exe:agg_tick {\n  count\n}\n`;
    const text = await cli("interval-text", source, ticks);
    const blocks = [...text.stdout.matchAll(/^probe1: count: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(blocks.length, text.stdout).toBeGreaterThanOrEqual(4);
    expect(blocks.reduce((a, b) => a + b, 0)).toBe(TICKS);
    expect(Math.max(...blocks)).toBeLessThan(TICKS);
    // Each block headed by the time it was printed.
    expect(text.stdout.split("\n").filter((l) => /^\d\d:\d\d:\d\d$/.test(l))).toHaveLength(blocks.length);

    const json = await cli("interval-json", source, ticks, ["--json"]);
    const reports = json.stdout
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { seq: number; final: boolean; reset: boolean; rows: { count: number }[] });
    // A report without hits has no object: the final one is there only when ticks came after the last periodic one.
    expect(reports.length).toBeGreaterThanOrEqual(3);
    expect(reports.filter((r) => r.final).length).toBeLessThanOrEqual(1);
    for (const r of reports.filter((r) => !r.final)) expect(r.reset).toBe(true);
    expect(reports.map((r) => r.seq)).toEqual([...reports.map((r) => r.seq)].sort((a, b) => a - b));
    expect(reports.reduce((n, r) => n + (r.rows[0]?.count ?? 0), 0)).toBe(TICKS);
  });
});
