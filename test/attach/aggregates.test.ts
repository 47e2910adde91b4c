/**
 * The JS side of the aggregation reports (native/PROTOCOL.md, "Aggregations"):
 * `aggregate`/`aggregatesDone` statuses as the helper
 * writes them, built here, decoded into snapshots by AggregateDecoder —
 * checked members, bucket ranges from src/plan/aggregates.ts, entries of a
 * probe merged, `container` keys named from the plan, and rows whose keys
 * become equal once named merged. Stack keys are named by StackNamer with
 * the real symbolizer, on real processes (test/symbolize's stack program):
 * two runs of one PIE program give different addresses and the same
 * frames, so one row; a process snapshotted at `stackProcess` and gone by
 * the report still names its frames.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AggregateDecoder, type NameStack } from "../../src/attach/aggregates.js";
import type { AggregateSnapshot, StackKey } from "../../src/attach/aggregate-types.js";
import { parseStatus, type AttachStatus } from "../../src/attach/status.js";
import { StackNamer } from "../../src/attach/stacks.js";
import { AttachError } from "../../src/errors.js";
import type { AttachPlan, PlanAggregate, PlanExpr, PlanProbe, PlanTarget } from "../../src/plan/index.js";
import { buildStackProgram, runOnHost, type BuiltProgram, type RunningProgram } from "../symbolize/stack-program.js";
import { FAKE_LIBC_BINARY } from "../support/plan-binary.js";

const COMM: PlanExpr = { op: "capture", name: "comm" };
const CONTAINER: PlanExpr = { op: "capture", name: "container" };
const ARG0: PlanExpr = { op: "arg", index: 0 };
const LATENCY: PlanExpr = { op: "capture", name: "latency" };
const USTACK: PlanExpr = { op: "ustack", frames: 32 };

function aggregate(fn: PlanAggregate["fn"], value: PlanExpr | null, by: PlanExpr[], text: string, lhist: PlanAggregate["lhist"] = null): PlanAggregate {
  return { fn, value, by, lhist, text };
}

function probe(id: string, aggregates: PlanAggregate[], target: Partial<PlanTarget> = {}): PlanProbe {
  return {
    id,
    kind: "uprobe+ret",
    specText: `uprobe+ret pid/1:libc:f`,
    source: { file: "<inline>", line: 1, col: 1 },
    strategy: "fd",
    target: { spec: "pid/1:libc:f", runtime: "pid", containerId: null, containerName: null, mntNs: 1, processes: [], ...target },
    binary: FAKE_LIBC_BINARY,
    points: [],
    filter: null,
    program: { fields: [], filter: null, format: null, aggregates, strlen: 64 },
  };
}

/** A status as the helper's bytes would parse. */
const status = (s: object): AttachStatus => parseStatus(Buffer.from(JSON.stringify(s)));

/** Row numbers as the contract writes them: decimal strings. */
function row(keys: unknown[], count: number, sum: number, min: number, max: number, bucket?: number): object {
  return { keys, ...(bucket === undefined ? {} : { bucket }), count: String(count), sum: String(sum), min: String(min), max: String(max) };
}

const noStacks: NameStack = () => Promise.reject(new Error("this plan has no stacks"));

/** Feeds statuses; returns the snapshot of the one report they make. */
async function decodeReport(decoder: AggregateDecoder, statuses: object[], nameStack: NameStack = noStacks): Promise<AggregateSnapshot> {
  let report: ReturnType<AggregateDecoder["take"]>;
  for (const s of statuses) {
    expect(report).toBeUndefined();
    report = decoder.take(status(s));
  }
  if (report === undefined) throw new Error("no aggregatesDone");
  return decoder.resolve(report, nameStack);
}

describe("AggregateDecoder: reports to snapshots", () => {
  const web: Partial<PlanTarget> = {
    spec: "docker/app=web:libc:f",
    runtime: "docker",
    containerId: "aaa",
    containerName: "web-1",
    mntNs: 101,
    containers: [
      { mntNs: 101, containerId: "aaa", containerName: "web-1" },
      { mntNs: 102, containerId: "bbb", containerName: null },
    ],
  };
  const plan: AttachPlan = {
    planVersion: 2,
    probes: [
      probe("lat", [aggregate("hist", LATENCY, [], "hist(latency)"), aggregate("count", null, [CONTAINER], "count by container")], web),
      // The same probe on a second binary of the same containers: its rows merge with entry 0's.
      probe("lat", [aggregate("hist", LATENCY, [], "hist(latency)"), aggregate("count", null, [CONTAINER], "count by container")], web),
      probe("sizes", [
        aggregate("lhist", ARG0, [COMM], "lhist(arg0, 0, 100, 10) by comm", { min: 0, max: 100, step: 10 }),
        aggregate("stats", ARG0, [ARG0], "stats(arg0) by arg0"),
      ]),
      probe("host", [aggregate("count", null, [CONTAINER], "count by container")]),
    ],
  };

  it("merges a probe's entries: bucket counts add up, ranges are histBucketRange's, and the unit of latency is ns", async () => {
    const snapshot = await decodeReport(new AggregateDecoder(plan), [
      { type: "aggregate", seq: 1, final: false, reset: true, entry: 0, aggregate: 0, dropped: "0", rows: [row([], 3, 9, 2, 4, 3), row([], 1, 0, 0, 0, 1)] },
      {
        type: "aggregate",
        seq: 1,
        final: false,
        reset: true,
        entry: 1,
        aggregate: 0,
        dropped: "2",
        rows: [row([], 2, 5, 2, 3, 3), row([], 1, 100, 100, 100, 8)],
      },
      { type: "aggregatesDone", seq: 1, final: false, reset: true },
    ]);
    expect(snapshot).toMatchObject({ seq: 1, final: false, reset: true });
    expect(snapshot.results).toHaveLength(1);
    const [hist] = snapshot.results;
    expect(hist).toMatchObject({ probeId: "lat", index: 0, fn: "hist", text: "hist(latency)", keyNames: [], unit: "ns", lhist: null, dropped: 2n });
    expect(hist?.rows).toEqual([
      {
        keys: [],
        count: 7n,
        sum: 114n,
        min: 0n,
        max: 100n,
        buckets: [
          { index: 1, low: 0n, high: 1n, count: 1n },
          { index: 3, low: 2n, high: 4n, count: 5n },
          { index: 8, low: 64n, high: 128n, count: 1n },
        ],
      },
    ]);
  });

  it("names container keys from target.containers (else the id), merges equal names, and gives null outside containers", async () => {
    const snapshot = await decodeReport(new AggregateDecoder(plan), [
      {
        type: "aggregate",
        seq: 4,
        final: true,
        reset: false,
        entry: 0,
        aggregate: 1,
        dropped: "0",
        rows: [row([{ mntns: "101" }], 5, 0, 0, 0), row([{ mntns: "102" }], 7, 0, 0, 0)],
      },
      {
        type: "aggregate",
        seq: 4,
        final: true,
        reset: false,
        entry: 1,
        aggregate: 1,
        dropped: "0",
        rows: [row([{ mntns: "101" }], 4, 0, 0, 0), row([{ mntns: "999" }], 1, 0, 0, 0)],
      },
      { type: "aggregate", seq: 4, final: true, reset: false, entry: 3, aggregate: 0, dropped: "0", rows: [row([{ mntns: "4026531841" }], 2, 0, 0, 0)] },
      { type: "aggregatesDone", seq: 4, final: true, reset: false },
    ]);
    expect(snapshot).toMatchObject({ seq: 4, final: true, reset: false });
    expect(snapshot.results.map((r) => [r.probeId, r.text, r.keyNames, r.unit])).toEqual([
      ["lat", "count by container", ["container"], null],
      ["host", "count by container", ["container"], null],
    ]);
    expect(snapshot.results[0]?.rows.map((r) => [r.keys[0], r.count])).toEqual([
      ["web-1", 9n],
      ["bbb", 7n],
      ["mntns:999", 1n],
    ]);
    expect(snapshot.results[1]?.rows.map((r) => [r.keys[0], r.count])).toEqual([[null, 2n]]);
  });

  it("lhist ranges, string and integer keys, faulted keys, and rows most hits first with ties in key order", async () => {
    const snapshot = await decodeReport(new AggregateDecoder(plan), [
      {
        type: "aggregate",
        seq: 2,
        final: false,
        reset: true,
        entry: 2,
        aggregate: 0,
        dropped: "0",
        rows: [row(["sh"], 1, 5, 5, 5, 1), row(["app"], 2, 200, 100, 100, 11), row(["app"], 1, -1, -1, -1, 0), row([null], 1, 15, 15, 15, 2)],
      },
      {
        type: "aggregate",
        seq: 2,
        final: false,
        reset: true,
        entry: 2,
        aggregate: 1,
        dropped: "0",
        rows: [row(["-5"], 1, -5, -5, -5), row(["18446744073709551615"], 1, 7, 7, 7), row(["3"], 2, 6, 3, 3)],
      },
      { type: "aggregatesDone", seq: 2, final: false, reset: true },
    ]);
    const [lhist, stats] = snapshot.results;
    expect(lhist?.rows).toEqual([
      {
        keys: ["app"],
        count: 3n,
        sum: 199n,
        min: -1n,
        max: 100n,
        buckets: [
          { index: 0, low: null, high: 0n, count: 1n },
          { index: 11, low: 100n, high: null, count: 2n },
        ],
      },
      { keys: [null], count: 1n, sum: 15n, min: 15n, max: 15n, buckets: [{ index: 2, low: 10n, high: 20n, count: 1n }] },
      { keys: ["sh"], count: 1n, sum: 5n, min: 5n, max: 5n, buckets: [{ index: 1, low: 0n, high: 10n, count: 1n }] },
    ]);
    expect(stats?.rows.map((r) => r.keys[0])).toEqual([3n, -5n, 18446744073709551615n]);
    expect(stats?.rows[0]).toEqual({ keys: [3n], count: 2n, sum: 6n, min: 3n, max: 3n });
  });

  it("an empty report is a snapshot with no results", async () => {
    const snapshot = await decodeReport(new AggregateDecoder(plan), [{ type: "aggregatesDone", seq: 9, final: true, reset: false }]);
    expect(snapshot).toEqual({ seq: 9, final: true, reset: false, results: [] });
  });

  it("an entry added while running (follow) decodes with its own probe", async () => {
    const decoder = new AggregateDecoder({ planVersion: 2, probes: [] });
    expect(decoder.any).toBe(false);
    decoder.setEntry(0, probe("added", [aggregate("sum", ARG0, [], "sum(arg0)")]));
    expect(decoder.any).toBe(true);
    const snapshot = await decodeReport(decoder, [
      { type: "aggregate", seq: 1, final: false, reset: false, entry: 0, aggregate: 0, dropped: "0", rows: [row([], 4, 10, 1, 4)] },
      { type: "aggregatesDone", seq: 1, final: false, reset: false },
    ]);
    expect(snapshot.results[0]).toMatchObject({ probeId: "added", fn: "sum", rows: [{ keys: [], count: 4n, sum: 10n, min: 1n, max: 4n }] });
  });

  it.each([
    [{ type: "aggregate", seq: 0, entry: 0, aggregate: 0, dropped: "0", rows: [] }, /aggregate status has no valid seq/],
    [{ type: "aggregate", seq: 1, entry: 7, aggregate: 0, dropped: "0", rows: [] }, /names entry 7, which the plan does not have/],
    [{ type: "aggregate", seq: 1, entry: 0, aggregate: 5, dropped: "0", rows: [] }, /names aggregation 5 of entry 0, which has 2/],
    [{ type: "aggregate", seq: 1, entry: 0, aggregate: 0, dropped: 3, rows: [] }, /hist\(latency\)\): dropped: expected a decimal string, got 3/],
    [{ type: "aggregate", seq: 1, entry: 0, aggregate: 0, dropped: "0", rows: [row([], 1, 1, 1, 1)] }, /rows\[0\]: a hist row needs a bucket index/],
    [{ type: "aggregate", seq: 1, entry: 0, aggregate: 1, dropped: "0", rows: [row([], 1, 1, 1, 1)] }, /keys should be an array of 1/],
    [{ type: "aggregate", seq: 1, entry: 0, aggregate: 1, dropped: "0", rows: [row(["101"], 1, 1, 1, 1)] }, /keys\[0\]: expected a container key/],
    [{ type: "aggregate", seq: 1, entry: 2, aggregate: 1, dropped: "0", rows: [row(["1.5"], 1, 1, 1, 1)] }, /keys\[0\]: expected a decimal string, got "1.5"/],
    [{ type: "aggregate", seq: 1, entry: 2, aggregate: 0, dropped: "0", rows: [row([7], 1, 1, 1, 1, 1)] }, /keys\[0\]: expected a string key, got 7/],
    [
      { type: "aggregate", seq: 1, entry: 0, aggregate: 0, dropped: "0", rows: [{ ...row([], 1, 1, 1, 1, 3), count: "x" }] },
      /rows\[0\]\.count: expected a decimal string/,
    ],
  ])("a malformed report is an AttachError naming the member: %j", (bad, message) => {
    const decoder = new AggregateDecoder(plan);
    let caught: unknown;
    try {
      decoder.take(status({ final: false, reset: false, ...bad }));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AttachError);
    expect((caught as AttachError).message).toMatch(message);
    expect((caught as AttachError).message).toMatch(/^probec-attach output: /);
  });

  it("a report that begins before the last one was done is a protocol error", () => {
    const decoder = new AggregateDecoder(plan);
    decoder.take(status({ type: "aggregate", seq: 1, final: false, reset: true, entry: 0, aggregate: 0, dropped: "1", rows: [] }));
    expect(() => decoder.take(status({ type: "aggregatesDone", seq: 2, final: false, reset: true }))).toThrow(/report 2 began before report 1 was done/);
  });
});

describe("ustack keys named by StackNamer from the processes' own files", () => {
  let built: BuiltProgram;
  let first: RunningProgram;
  let second: RunningProgram;

  beforeAll(async () => {
    built = buildStackProgram();
    first = await runOnHost(built);
    second = await runOnHost(built);
  });

  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    built?.remove();
  });

  const stackOf = (p: RunningProgram): string[] =>
    ["inside_c", "ret_in_b", "ret_in_a", "ret_in_main"].map((n) => `0x${(p.addresses.get(n) as bigint).toString(16)}`);

  it("two processes of one program: different addresses, the same frames, one row; the process gone since its stackProcess still names", async () => {
    const plan: AttachPlan = { planVersion: 2, probes: [probe("stacks", [aggregate("count", null, [USTACK], "count by ustack")])] };
    const warnings: string[] = [];
    const namer = new StackNamer({ onWarning: (w) => warnings.push(w) });
    // As an attachment does: the symbolizer loads while the helper attaches, before any stack.
    namer.want();
    await namer.ready();
    // What `stackProcess` does, for both; then the second exits before the report.
    namer.process(first.pid);
    namer.process(second.pid);
    const secondStack = stackOf(second);
    await second.stop();
    expect(stackOf(first)).not.toEqual(secondStack);
    const snapshot = await decodeReport(
      new AggregateDecoder(plan),
      [
        {
          type: "aggregate",
          seq: 1,
          final: true,
          reset: false,
          entry: 0,
          aggregate: 0,
          dropped: "0",
          rows: [row([{ pid: first.pid, frames: stackOf(first) }], 3, 0, 0, 0), row([{ pid: second.pid, frames: secondStack }], 2, 0, 0, 0)],
        },
        { type: "aggregatesDone", seq: 1, final: true, reset: false },
      ],
      (pid, addresses) => namer.name(pid, addresses),
    );
    namer.close();
    const rows = snapshot.results[0]?.rows ?? [];
    expect(rows).toHaveLength(1);
    const key = rows[0]?.keys[0] as StackKey;
    expect(rows[0]?.count).toBe(5n);
    expect(key.kind).toBe("stack");
    expect(key.functions).toEqual(["c", "b", "a", "main"]);
    expect(key.frames[0]).toBe(`c+0x${((first.addresses.get("inside_c") as bigint) - (first.addresses.get("fn_c") as bigint)).toString(16)}`);
    expect(key.frames.slice(1).map((f) => f.replace(/\+0x[0-9a-f]+$/, ""))).toEqual(["b", "a", "main"]);
    expect(key.pid).toBe(first.pid);
    expect(key.addresses.map((a) => `0x${a.toString(16)}`)).toEqual(stackOf(first));
    expect(warnings).toEqual([]);
  });

  it("a process gone before its stackProcess: a warning, and its frames print as [unknown]", async () => {
    const gone = await runOnHost(built);
    const stack = stackOf(gone).map((a) => BigInt(a));
    await gone.stop();
    const warnings: string[] = [];
    const namer = new StackNamer({ onWarning: (w) => warnings.push(w) });
    namer.process(gone.pid);
    await new Promise((resolve) => setTimeout(resolve, 0));
    const key = await namer.name(gone.pid, stack);
    namer.close();
    expect(key.frames).toEqual(["[unknown]", "[unknown]", "[unknown]", "[unknown]"]);
    expect(warnings.join("\n")).toMatch(new RegExp(`process ${gone.pid}`));
  });
});
