/**
 * How `probec run`/`trace` print aggregation reports (src/cli/aggregate-output.ts,
 * aggregate-session.ts, stack-output.ts): exact text of hist, lhist, the
 * value tables and stacks, human time units for latency, `--json` objects,
 * the dropped-hits warning, interval blocks, `--folded` lines and the
 * `--flamegraph` file. The printers are pure formatting of snapshots, so
 * the snapshots are made here; the real kernel's reports go through
 * test/attach/e2e.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  bucketLabel,
  droppedLine,
  formatDuration,
  planAggregates,
  powerOfTwoUnits,
  renderAggregate,
  renderSnapshot,
  renderSnapshotJson,
  type AggregateInfo,
} from "../src/cli/aggregate-output.js";
import { AggregateOutput } from "../src/cli/aggregate-session.js";
import { StringSink } from "../src/cli/io.js";
import { StackCollector } from "../src/cli/stack-output.js";
import type { AggregateResult, AggregateRow, AggregateSnapshot, AttachPlan, PlanAggregate, PlanProbe, ProbeEvent, StackKey } from "../src/index.js";
import { histBucketRange, lhistBucketRange, type LhistParams } from "../src/plan/aggregates.js";
import { parseSvg } from "./symbolize/svg.js";

const hist = (counts: [number, bigint][]) => counts.map(([index, count]) => ({ index, count, ...histBucketRange(index) }));
const lhist = (p: LhistParams, counts: [number, bigint][]) => counts.map(([index, count]) => ({ index, count, ...lhistBucketRange(index, p) }));
const info = (
  fn: AggregateInfo["fn"],
  text: string,
  keyNames: string[] = [],
  unit: "ns" | null = null,
  lhistParams: LhistParams | null = null,
): AggregateInfo => ({
  probeId: "p",
  index: 0,
  fn,
  text,
  keyNames,
  lhist: lhistParams,
  unit,
});
const row = (keys: AggregateRow["keys"], count: bigint, sum = 0n, min = 0n, max = 0n, buckets?: AggregateRow["buckets"]): AggregateRow => ({
  keys,
  count,
  sum,
  min,
  max,
  ...(buckets === undefined ? {} : { buckets }),
});
const stack = (pid: number, frames: string[]): StackKey => ({
  kind: "stack",
  pid,
  frames,
  functions: frames.map((f) => f.replace(/\+0x[0-9a-f]+$/, "")),
  addresses: frames.map((_, i) => 0x1000n + BigInt(i)),
});

describe("histograms", () => {
  it("hist: range, count and a 52-wide bar from the first non-empty bucket to the last, bpftrace's K units", () => {
    const text = renderAggregate(info("hist", "hist(arg0)"), [
      row(
        [],
        45n,
        0n,
        0n,
        0n,
        hist([
          [3, 12n],
          [4, 30n],
          [6, 2n],
          [12, 1n],
        ]),
      ),
    ]);
    expect(text).toBe(
      [
        "p: hist(arg0)",
        "[2, 4)      12 |@@@@@@@@@@@@@@@@@@@@                                |",
        "[4, 8)      30 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
        "[8, 16)      0 |                                                    |",
        "[16, 32)     2 |@@@                                                 |",
        "[32, 64)     0 |                                                    |",
        "[64, 128)    0 |                                                    |",
        "[128, 256)   0 |                                                    |",
        "[256, 512)   0 |                                                    |",
        "[512, 1K)    0 |                                                    |",
        "[1K, 2K)     1 |@                                                   |",
        "",
      ].join("\n"),
    );
  });

  it("hist(latency) by comm: a histogram per key, ranges in ns, µs, ms to three digits", () => {
    const buckets = hist([
      [10, 3n],
      [11, 25n],
      [13, 4n],
      [21, 1n],
    ]);
    const text = renderAggregate(info("hist", "hist(latency) by comm", ["comm"], "ns"), [
      row(["curl"], 33n, 0n, 0n, 0n, buckets),
      row(["wget"], 28n, 0n, 0n, 0n, buckets.slice(0, 2)),
    ]);
    expect(text).toBe(
      [
        "p: hist(latency) by comm",
        "comm=curl:",
        "[256ns, 512ns)     3 |@@@@@@                                              |",
        "[512ns, 1.02µs)   25 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
        "[1.02µs, 2.05µs)   0 |                                                    |",
        "[2.05µs, 4.1µs)    4 |@@@@@@@@                                            |",
        "[4.1µs, 8.19µs)    0 |                                                    |",
        "[8.19µs, 16.4µs)   0 |                                                    |",
        "[16.4µs, 32.8µs)   0 |                                                    |",
        "[32.8µs, 65.5µs)   0 |                                                    |",
        "[65.5µs, 131µs)    0 |                                                    |",
        "[131µs, 262µs)     0 |                                                    |",
        "[262µs, 524µs)     0 |                                                    |",
        "[524µs, 1.05ms)    1 |@@                                                  |",
        "",
        "comm=wget:",
        "[256ns, 512ns)    3 |@@@@@@                                              |",
        "[512ns, 1.02µs)  25 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
        "",
      ].join("\n"),
    );
  });

  it("lhist: below MIN, the steps, at or above MAX", () => {
    const p = { min: 0, max: 100, step: 10 };
    const text = renderAggregate(info("lhist", "lhist(arg0, 0, 100, 10)", [], null, p), [
      row(
        [],
        26n,
        0n,
        0n,
        0n,
        lhist(p, [
          [0, 1n],
          [1, 10n],
          [2, 10n],
          [5, 3n],
          [11, 2n],
        ]),
      ),
    ]);
    expect(text).toBe(
      [
        "p: lhist(arg0, 0, 100, 10)",
        "(..., 0)     1 |@@@@@                                               |",
        "[0, 10)     10 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
        "[10, 20)    10 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
        "[20, 30)     0 |                                                    |",
        "[30, 40)     0 |                                                    |",
        "[40, 50)     3 |@@@@@@@@@@@@@@@                                     |",
        "[50, 60)     0 |                                                    |",
        "[60, 70)     0 |                                                    |",
        "[70, 80)     0 |                                                    |",
        "[80, 90)     0 |                                                    |",
        "[90, 100)    0 |                                                    |",
        "[100, ...)   2 |@@@@@@@@@@                                          |",
        "",
      ].join("\n"),
    );
  });

  it("lhist of a latency: steps in time units; one-value buckets as [v]; a bucket of 1 among thousands draws no @ (as bpftrace)", () => {
    const p = { min: 0, max: 3_000_000, step: 1_000_000 };
    expect(
      renderAggregate(info("lhist", "lhist(latency, 0, 3000000, 1000000)", [], "ns", p), [
        row(
          [],
          5001n,
          0n,
          0n,
          0n,
          lhist(p, [
            [1, 5000n],
            [3, 1n],
          ]),
        ),
      ]),
    ).toBe(
      [
        "p: lhist(latency, 0, 3000000, 1000000)",
        "[0ns, 1ms)  5000 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
        "[1ms, 2ms)     0 |                                                    |",
        "[2ms, 3ms)     1 |                                                    |",
        "",
      ].join("\n"),
    );
    expect(bucketLabel(histBucketRange(0), "hist", null)).toBe("(..., 0)");
    expect(bucketLabel(histBucketRange(1), "hist", null)).toBe("[0]");
    expect(bucketLabel(histBucketRange(2), "hist", null)).toBe("[1]");
    expect(bucketLabel(histBucketRange(2), "hist", "ns")).toBe("[1ns]");
    expect(bucketLabel(histBucketRange(64), "hist", null)).toBe("[4E, ...)");
    expect(bucketLabel(histBucketRange(33), "hist", "ns")).toBe("[2.15s, 4.29s)");
  });

  it("units: bpftrace's powers of 1024 for plain numbers, time to three significant digits for latency", () => {
    expect([0n, 512n, 1024n, 1536n, 1n << 20n, 1n << 30n, 1n << 40n, 1n << 50n, 1n << 62n].map(powerOfTwoUnits)).toEqual([
      "0",
      "512",
      "1K",
      "1536",
      "1M",
      "1G",
      "1T",
      "1P",
      "4E",
    ]);
    expect([0n, 999n, 1000n, 1024n, 999_499n, 999_700n, 1_500_000n, 2_147_483_648n, 5_000_000_000_000n, -1500n].map(formatDuration)).toEqual([
      "0ns",
      "999ns",
      "1µs",
      "1.02µs",
      "999µs",
      "1ms",
      "1.5ms",
      "2.15s",
      "5000s",
      "-1.5µs",
    ]);
  });
});

describe("values and stacks", () => {
  it("stats by comm: COUNT, AVG, TOTAL, largest first; a latency's in time units", () => {
    expect(
      renderAggregate(info("stats", "stats(latency) by comm", ["comm"], "ns"), [row(["a"], 3n, 4500n, 1n, 4000n), row(["bb"], 10n, 45_000_000n, 1n, 4000n)]),
    ).toBe(["p: stats(latency) by comm", "COMM  COUNT    AVG  TOTAL", "bb       10  4.5ms   45ms", "a         3  1.5µs  4.5µs", ""].join("\n"));
  });

  it("count by comm, arg0: the count table, keys as they print in events (integers to the right, a fault as (fault), a container outside any as -)", () => {
    const rows = [row(["loop", 1n], 7n), row(["loop", 0n], 7n), row([null, -3n], 1n)];
    expect(renderAggregate(info("count", "count by comm, arg0 % 2", ["comm", "arg0 % 2"]), rows)).toBe(
      ["p: count by comm, arg0 % 2", "COMM     ARG0 % 2  COUNT", "loop            1      7", "loop            0      7", "(fault)        -3      1", ""].join(
        "\n",
      ),
    );
    expect(renderAggregate(info("count", "count by container", ["container"]), [row(["web"], 2n), row([null], 1n)])).toBe(
      ["p: count by container", "CONTAINER  COUNT", "web            2", "-              1", ""].join("\n"),
    );
  });

  it("sum, avg, min and max tables sort by their value; without keys a line each; nothing to show is said", () => {
    expect(renderAggregate(info("sum", "sum(arg0) by comm", ["comm"]), [row(["many"], 9n, 9n), row(["big"], 1n, 500n)])).toBe(
      ["p: sum(arg0) by comm", "COMM  SUM", "big   500", "many    9", ""].join("\n"),
    );
    expect(renderAggregate(info("avg", "avg(latency)", [], "ns"), [row([], 4n, 6_000_000n)])).toBe("p: avg(latency): 1.5ms\n");
    expect(renderAggregate(info("min", "min(arg0)"), [row([], 4n, 0n, -7n, 9n)])).toBe("p: min(arg0): -7\n");
    expect(renderAggregate(info("max", "max(arg0)"), [row([], 4n, 0n, -7n, 9n)])).toBe("p: max(arg0): 9\n");
    expect(renderAggregate(info("stats", "stats(arg0)"), [row([], 3n, 4500n)])).toBe("p: stats(arg0): count: 3, avg: 1500, total: 4500\n");
    expect(renderAggregate(info("count", "count"), [])).toBe("p: count: 0\n");
    expect(renderAggregate(info("avg", "avg(arg0)"), [])).toBe("p: avg(arg0): no hits\n");
    expect(renderAggregate(info("count", "count by comm", ["comm"]), [])).toBe("p: count by comm: no hits\n");
    expect(renderAggregate(info("hist", "hist(arg0)"), [])).toBe("p: hist(arg0): no hits\n");
  });

  it("count by comm, ustack: a block per row, the frames indented under its keys and count", () => {
    const rows = [row(["app", stack(1, ["c+0xb", "b+0x14", "main+0x32"])], 3n), row(["app", stack(2, ["[unknown]"])], 1n)];
    expect(renderAggregate(info("count", "count by comm, ustack", ["comm", "ustack"]), rows)).toBe(
      ["p: count by comm, ustack", "comm=app  count 3", "    c+0xb", "    b+0x14", "    main+0x32", "", "comm=app  count 1", "    [unknown]", ""].join("\n"),
    );
    expect(renderAggregate(info("hist", "hist(arg0) by ustack", ["ustack"]), [row([stack(1, ["f+0x1", "main+0x2"])], 2n, 0n, 0n, 0n, hist([[3, 2n]]))])).toBe(
      ["p: hist(arg0) by ustack", "    f+0x1", "    main+0x2", "[2, 4)  2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|", ""].join("\n"),
    );
  });
});

function aggregate(fn: PlanAggregate["fn"], text: string, by: PlanAggregate["by"] = [], lhistParams: LhistParams | null = null): PlanAggregate {
  return { fn, value: fn === "count" ? null : { op: "capture", name: "latency" }, by, lhist: lhistParams, text };
}

/** Only what the printers read of a plan: ids, programs, the aggregation settings. */
function planOf(
  probes: Record<string, { aggregates?: PlanAggregate[]; fields?: NonNullable<PlanProbe["program"]>["fields"] }>,
  intervalMs: number | null = null,
): AttachPlan {
  return {
    planVersion: 2,
    aggregation: { intervalMs, mapKeys: 10240 },
    probes: Object.entries(probes).map(
      ([id, p]) =>
        ({ id, program: { fields: p.fields ?? [], filter: null, format: null, aggregates: p.aggregates ?? [], strlen: 64 } }) as unknown as PlanProbe,
    ),
  };
}

const result = (
  probeId: string,
  index: number,
  fn: AggregateResult["fn"],
  text: string,
  keyNames: string[],
  rows: AggregateRow[],
  dropped = 0n,
): AggregateResult => ({
  probeId,
  index,
  fn,
  text,
  keyNames,
  lhist: null,
  unit: fn === "count" ? null : "ns",
  rows,
  dropped,
});

describe("reports", () => {
  const plan = planOf({
    lat: { aggregates: [aggregate("count", "count"), aggregate("hist", "hist(latency)")] },
    other: { aggregates: [aggregate("count", "count by comm", [{ op: "capture", name: "comm" }])] },
  });
  const snapshot: AggregateSnapshot = {
    seq: 3,
    final: false,
    reset: true,
    results: [
      result("lat", 0, "count", "count", [], [row([], 5n)]),
      result(
        "lat",
        1,
        "hist",
        "hist(latency)",
        [],
        [
          row(
            [],
            5n,
            3000n,
            100n,
            2000n,
            hist([
              [9, 2n],
              [12, 3n],
            ]),
          ),
        ],
        4n,
      ),
    ],
  };

  it("every aggregation of the plan in every report, a missing one as having no hits, under the time heading", () => {
    expect(planAggregates(plan).map((a) => [a.probeId, a.index, a.text, a.keyNames, a.unit])).toEqual([
      ["lat", 0, "count", [], null],
      ["lat", 1, "hist(latency)", [], "ns"],
      ["other", 0, "count by comm", ["comm"], null],
    ]);
    expect(renderSnapshot(planAggregates(plan), snapshot, "13:52:01")).toBe(
      [
        "13:52:01",
        "p: count: 5".replace("p:", "lat:"),
        "",
        "lat: hist(latency)",
        "[128ns, 256ns)    2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                  |",
        "[256ns, 512ns)    0 |                                                    |",
        "[512ns, 1.02µs)   0 |                                                    |",
        "[1.02µs, 2.05µs)  3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
        "",
        "other: count by comm: no hits",
        "",
      ].join("\n"),
    );
  });

  it("--json: one object per aggregation of the report, 64-bit values as numbers when exact, else strings", () => {
    const big: AggregateSnapshot = {
      seq: 1,
      final: true,
      reset: false,
      results: [
        result("other", 0, "count", "count by comm, ustack", ["comm", "ustack"], [row(["app", stack(9, ["c+0xb", "main+0x2"])], 2n)]),
        result("lat", 1, "sum", "sum(latency)", [], [row([], 2n, 2n ** 60n, 1n, 2n ** 60n - 1n)]),
      ],
    };
    const lines = renderSnapshotJson(big, new Date("2026-12-03T13:52:01.000Z")).split("\n");
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0] as string)).toEqual({
      probe: "other",
      aggregate: "count by comm, ustack",
      fn: "count",
      seq: 1,
      final: true,
      reset: false,
      time: "2026-12-03T13:52:01.000Z",
      unit: null,
      dropped: 0,
      rows: [{ keys: { comm: "app", ustack: { pid: 9, frames: ["c+0xb", "main+0x2"], addresses: ["0x1000", "0x1001"] } }, count: 2 }],
    });
    expect(JSON.parse(lines[1] as string).rows).toEqual([
      { keys: {}, count: 2, sum: "1152921504606846976", min: 1, max: "1152921504606846975", avg: "576460752303423488" },
    ]);
    // With the plan's aggregations: the one without hits too, in plan order.
    expect(
      renderSnapshotJson(snapshot, new Date(0), planAggregates(plan))
        .trimEnd()
        .split("\n")
        .map((l) => [JSON.parse(l).probe, JSON.parse(l).aggregate, JSON.parse(l).rows.length]),
    ).toEqual([
      ["lat", "count", 1],
      ["lat", "hist(latency)", 1],
      ["other", "count by comm", 0],
    ]);
    expect(JSON.parse(renderSnapshotJson(snapshot, new Date(0)).split("\n")[1] as string).rows[0].buckets).toEqual([
      { low: 128, high: 256, count: 2 },
      { low: 1024, high: 2048, count: 3 },
    ]);
  });

  it("hits a full map could not count: a warning naming the probe, the aggregation and the option that raises the size", () => {
    expect(droppedLine(snapshot.results[1] as AggregateResult, 10240, 1048576)).toBe(
      "probec: probe lat: 4 hits of hist(latency) were not counted: the aggregation map's 10240 keys were all taken (option mapkeys = 20480 raises it)\n",
    );
    expect(droppedLine({ ...(snapshot.results[1] as AggregateResult), dropped: 1n }, 1048576, 1048576)).toBe(
      "probec: probe lat: 1 hit of hist(latency) was not counted: the aggregation map's 1048576 keys were all taken (1048576 is the largest; fewer distinct keys (a coarser by) fit)\n",
    );
    expect(droppedLine(snapshot.results[0] as AggregateResult, 10240, 1048576)).toBeUndefined();
  });

  it("a session: interval blocks with a time heading, the final one too, the warning on stderr; a report asked for without reset is not printed", () => {
    const stdout = new StringSink();
    const stderr = new StringSink();
    const output = new AggregateOutput(
      planOf({ lat: { aggregates: [aggregate("count", "count")] } }, 1000),
      { json: false, folded: false, flamegraph: undefined },
      { stdout, stderr },
    );
    output.snapshot({ seq: 1, final: false, reset: true, results: [result("lat", 0, "count", "count", [], [row([], 2n)], 3n)] });
    output.snapshot({ seq: 2, final: false, reset: false, results: [result("lat", 0, "count", "count", [], [row([], 9n)])] });
    output.snapshot({ seq: 3, final: true, reset: false, results: [] });
    expect(stdout.text).toMatch(/^\d\d:\d\d:\d\d\nlat: count: 2\n\n\d\d:\d\d:\d\d\nlat: count: 0\n$/);
    expect(stderr.text).toBe(
      "probec: probe lat: 3 hits of count were not counted: the aggregation map's 10240 keys were all taken (option mapkeys = 20480 raises it)\n",
    );
    expect(output.finish()).toBeUndefined();
  });
});

describe("--folded and --flamegraph", () => {
  const dir = mkdtempSync(join(tmpdir(), "probec-flamegraph-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const ustack = { op: "ustack" as const, frames: 32 };
  const comm = { op: "capture" as const, name: "comm" as const };

  it("count by comm, ustack summed over interval reports: folded lines root first, the comm below the stack", () => {
    const plan = planOf({ allocs: { aggregates: [aggregate("count", "count by comm, ustack", [comm, ustack])] } }, 1000);
    const stdout = new StringSink();
    const output = new AggregateOutput(plan, { json: false, folded: true, flamegraph: undefined }, { stdout, stderr: new StringSink() });
    const abc = stack(1, ["c+0xb", "b+0x14", "a+0x1", "main+0x32"]);
    // The same frames at another offset in c: one folded line (functions, not offsets).
    const abc2 = stack(2, ["c+0x20", "b+0x14", "a+0x1", "main+0x32"]);
    output.snapshot({
      seq: 1,
      final: false,
      reset: true,
      results: [result("allocs", 0, "count", "count by comm, ustack", ["comm", "ustack"], [row(["app", abc], 3n), row(["app", abc2], 2n)])],
    });
    output.snapshot({
      seq: 2,
      final: true,
      reset: false,
      results: [result("allocs", 0, "count", "count by comm, ustack", ["comm", "ustack"], [row(["app", abc], 4n), row(["sh", stack(3, ["main+0x1"])], 1n)])],
    });
    expect(stdout.text).toBe("");
    output.finish();
    expect(stdout.text).toBe("app;main;a;b;c 9\nsh;main 1\n");
  });

  it("ustack fields of events and a sum by ustack: each stack rooted at its source when there are several; the SVG holds the frames", () => {
    const plan = planOf({
      events: { fields: [{ name: "st", type: "stack", expr: ustack }] },
      bytes: { aggregates: [aggregate("sum", "sum(arg0) by ustack", [ustack])] },
    });
    const file = join(dir, "out.svg");
    const stdout = new StringSink();
    const output = new AggregateOutput(plan, { json: false, folded: true, flamegraph: file }, { stdout, stderr: new StringSink() });
    const event = { probeId: "events", fields: { st: stack(5, ["leaf+0x3", "main+0x9"]) } } as unknown as ProbeEvent;
    expect(output.event(event)).toBe(true);
    expect(output.event(event)).toBe(true);
    output.snapshot({
      seq: 1,
      final: true,
      reset: false,
      results: [result("bytes", 0, "sum", "sum(arg0) by ustack", ["ustack"], [row([stack(5, ["malloc+0x1", "main+0x9"])], 2n, 4096n)])],
    });
    expect(output.finish()).toBe(`flame graph of 2 stacks written to ${file}`);
    expect(stdout.text).toBe("bytes sum(arg0) by ustack;main;malloc 4096\nevents st;main;leaf 2\n");
    const boxes = parseSvg(readFileSync(file, "utf8"));
    const titles = boxes.map((b) => b.title.replace(/ \(.*$/, ""));
    expect(titles).toEqual(expect.arrayContaining(["all", "bytes sum(arg0) by ustack", "events st", "main", "malloc", "leaf"]));
    expect(boxes.find((b) => b.title.startsWith("malloc"))?.title).toBe("malloc (4096 hits, 99.95%)");
  });

  it("StackCollector.captures: only plans with a ustack field or key", () => {
    expect(StackCollector.captures(planOf({ p: { aggregates: [aggregate("count", "count by comm", [comm])] } }))).toBe(false);
    expect(StackCollector.captures(planOf({ p: { aggregates: [aggregate("count", "count by ustack", [ustack])] } }))).toBe(true);
  });
});
