/**
 * Counts as `attach()` users and `probec run` get them now that the kernel
 * keeps them (issue 15; they were tallied event by event before): the
 * attacher's reports of `count` and `count by KEY` decoded into snapshots
 * (src/attach/aggregates.ts), added up over `interval` reports by the
 * public AggregateTotals, and printed by the CLI's count table
 * (src/cli/aggregate-output.ts). The reports are written here as the
 * contract says the helper writes them; the kernel's own are checked in
 * test/attach/e2e.
 */
import { describe, expect, it } from "vitest";
import { AggregateDecoder } from "../../src/attach/aggregates.js";
import { parseStatus } from "../../src/attach/status.js";
import { planAggregates, renderAggregate } from "../../src/cli/aggregate-output.js";
import { AggregateTotals, type AggregateSnapshot, type AttachPlan, type PlanAggregate, type PlanProbe } from "../../src/index.js";
import { FAKE_LIBC_BINARY } from "../support/plan-binary.js";

function probe(id: string, aggregates: PlanAggregate[]): PlanProbe {
  return {
    id,
    kind: "uprobe",
    specText: "uprobe pid/1:libc:f",
    source: { file: "<inline>", line: 1, col: 1 },
    strategy: "fd",
    target: { spec: "pid/1:libc:f", runtime: "pid", containerId: null, containerName: null, mntNs: 1, processes: [] },
    binary: FAKE_LIBC_BINARY,
    points: [],
    filter: { kind: "process", containerId: null, cgroupPaths: [], pids: [1] },
    program: { fields: [], filter: null, format: null, aggregates, strlen: 64 },
  };
}

const byKey: PlanAggregate = {
  fn: "count",
  value: null,
  by: [
    { op: "capture", name: "comm" },
    { op: "binary", operator: "%", left: { op: "arg", index: 0 }, right: { op: "int", value: "2" } },
  ],
  lhist: null,
  text: "count by comm, arg0 % 2",
};
const total: PlanAggregate = { fn: "count", value: null, by: [], lhist: null, text: "count" };
// Two entries of "byKey" (two binaries): their rows add up.
const plan: AttachPlan = {
  planVersion: 2,
  aggregation: { intervalMs: 1000, mapKeys: 10240 },
  probes: [probe("byKey", [byKey]), probe("byKey", [byKey]), probe("total", [total])],
};

/** One report as the helper writes it: per entry its rows of [comm, arg0 % 2, count]; `total` its count. */
function report(seq: number, reset: boolean, entries: [number, [string, string, number][]][], totalCount: number): Promise<AggregateSnapshot> {
  const decoder = new AggregateDecoder(plan);
  const status = (s: object) => parseStatus(Buffer.from(JSON.stringify({ seq, final: !reset, reset, ...s })));
  for (const [entry, rows] of entries)
    decoder.take(
      status({
        type: "aggregate",
        entry,
        aggregate: 0,
        dropped: "0",
        rows: rows.map(([comm, parity, count]) => ({ keys: [comm, parity], count: String(count), sum: "0", min: "0", max: "0" })),
      }),
    );
  decoder.take(
    status({ type: "aggregate", entry: 2, aggregate: 0, dropped: "0", rows: [{ keys: [], count: String(totalCount), sum: "0", min: "0", max: "0" }] }),
  );
  const done = decoder.take(status({ type: "aggregatesDone" }));
  if (done === undefined) throw new Error("no report");
  return decoder.resolve(done, () => Promise.reject(new Error("no stacks")));
}

describe("count and count by: one report, and a session's reports added up", () => {
  it("a report merges the probe's entries: one row per key, most hits first, ties in key order", async () => {
    const one = await report(
      1,
      true,
      [
        [
          0,
          [
            ["loop", "1", 4],
            ["loop", "0", 3],
          ],
        ],
        [
          1,
          [
            ["loop", "0", 2],
            ["sh", "1", 1],
          ],
        ],
      ],
      10,
    );
    expect(one.results.map((r) => [r.probeId, r.rows.map((row) => [...row.keys, row.count])])).toEqual([
      [
        "byKey",
        [
          ["loop", 0n, 5n],
          ["loop", 1n, 4n],
          ["sh", 1n, 1n],
        ],
      ],
      ["total", [[10n]]],
    ]);
  });

  it("AggregateTotals adds the interval reports up, and takes a later report without reset as what it holds", async () => {
    const totals = new AggregateTotals();
    totals.add(await report(1, true, [[0, [["loop", "1", 4]]]], 4));
    totals.add(
      await report(
        2,
        true,
        [
          [
            1,
            [
              ["loop", "1", 2],
              ["sh", "0", 7],
            ],
          ],
        ],
        9,
      ),
    );
    totals.add(await report(3, false, [[0, [["sh", "0", 1]]]], 1));
    const results = totals.results();
    expect(results.map((r) => [r.probeId, r.rows.map((row) => [...row.keys, row.count])])).toEqual([
      [
        "byKey",
        [
          ["sh", 0n, 8n],
          ["loop", 1n, 6n],
        ],
      ],
      ["total", [[14n]]],
    ]);
    // What probec run prints for them at exit.
    const [keyed, plain] = planAggregates(plan);
    expect(renderAggregate(keyed as NonNullable<typeof keyed>, results[0]?.rows ?? [])).toBe(
      ["byKey: count by comm, arg0 % 2", "COMM  ARG0 % 2  COUNT", "sh           0      8", "loop         1      6", ""].join("\n"),
    );
    expect(renderAggregate(plain as NonNullable<typeof plain>, results[1]?.rows ?? [])).toBe("total: count: 14\n");
  });
});
