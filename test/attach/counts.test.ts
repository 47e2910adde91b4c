/**
 * The library's count tallies (src/attach/counts.ts), on events made by
 * hand: what `attach()` users get without the CLI, and what `probec run`
 * renders (src/cli/counts.ts, checked here against the same tallies). The
 * events a real kernel sends are counted in test/cli-run.test.ts.
 */
import { describe, expect, it } from "vitest";
import { CountTally, tallyCounts, type AttachPlan, type PlanProbe, type ProbeEvent } from "../../src/index.js";
import { Counts, renderCountJson } from "../../src/cli/counts.js";

function probe(id: string, count: NonNullable<PlanProbe["program"]>["count"]): PlanProbe {
  return {
    id,
    kind: "uprobe",
    specText: `uprobe pid/1:libc:f`,
    source: { file: "<inline>", line: 1, col: 1 },
    strategy: "fd",
    target: { spec: "pid/1:libc:f", runtime: "pid", containerId: null, containerName: null, mntNs: 1, processes: [] },
    binary: {
      request: "libc",
      how: "maps",
      containerPath: "/lib/libc.so.6",
      kernelPath: "/lib/libc.so.6",
      openRoot: "/",
      dev: "1",
      ino: "2",
      size: 3,
      mtimeNs: "4",
      buildId: null,
      mapped: true,
      replaced: false,
      warnings: [],
    },
    points: [],
    filter: { kind: "process", containerId: null, cgroupPaths: [], pids: [1] },
    program: { fields: [], filter: null, format: null, count, strlen: 64 },
  } as PlanProbe;
}

const plan: AttachPlan = {
  planVersion: 2,
  probes: [
    probe("byKey", {
      by: [
        { op: "capture", name: "comm" },
        { op: "binary", operator: "%", left: { op: "arg", index: 0 }, right: { op: "int", value: "2" } },
      ],
    }),
    probe("total", { by: [] }),
    probe("printing", null),
  ],
};

function event(probeId: string, fields: Record<string, bigint | string | null>): ProbeEvent {
  return {
    probeId,
    entry: 0,
    cookie: 1,
    side: "entry",
    pid: 1,
    tid: 1,
    cpu: 0,
    comm: "x",
    container: null,
    timestamp: 0n,
    latency: null,
    retval: null,
    fields,
  };
}

const events = [
  event("byKey", { key0: "sh", key1: 1n }),
  event("byKey", { key0: "sh", key1: 0n }),
  event("byKey", { key0: "sh", key1: 1n }),
  event("byKey", { key0: "1", key1: 0n }),
  event("byKey", { key0: null, key1: 0n }),
  event("total", {}),
  event("total", {}),
  event("printing", { a: 1n }),
];

describe("CountTally and tallyCounts", () => {
  it("count each distinct key, most frequent first, ties by key; other probes are not counted", () => {
    const tally = new CountTally(plan);
    expect(tally.any).toBe(true);
    expect([tally.counts("byKey"), tally.counts("total"), tally.counts("printing")]).toEqual([true, true, false]);
    expect(events.map((e) => tally.add(e))).toEqual([true, true, true, true, true, true, true, false]);
    expect(tally.results()).toEqual([
      {
        probeId: "byKey",
        keyNames: ["comm", "arg0 % 2"],
        rows: [
          { keys: ["sh", 1n], count: 2 },
          { keys: [null, 0n], count: 1 }, // "(fault)" sorts before "1" and "sh"
          { keys: ["1", 0n], count: 1 },
          { keys: ["sh", 0n], count: 1 },
        ],
        total: 5,
      },
      { probeId: "total", keyNames: [], rows: [{ keys: [], count: 2 }], total: 2 },
    ]);
  });

  it('keeps the integer 1 and the string "1" apart', () => {
    const tally = new CountTally(plan);
    tally.add(event("byKey", { key0: "1", key1: 1n }));
    tally.add(event("byKey", { key0: "1", key1: "1" }));
    expect(tally.results()[0]?.rows).toHaveLength(2);
  });

  it("tallyCounts reads an async iterable (an attachment) to its end", async () => {
    async function* stream(): AsyncGenerator<ProbeEvent> {
      yield* events;
    }
    expect(await tallyCounts(plan, stream())).toEqual(await tallyCounts(plan, events));
    expect((await tallyCounts(plan, stream())).map((p) => [p.probeId, p.total])).toEqual([
      ["byKey", 5],
      ["total", 2],
    ]);
  });

  it("the CLI renders the library's tallies, unchanged", () => {
    const counts = new Counts(plan);
    for (const e of events) counts.add(e);
    expect(counts.renderTables()).toBe(
      [
        "byKey:",
        "COMM     ARG0 % 2  COUNT",
        "sh       1             2",
        "(fault)  0             1",
        "1        0             1",
        "sh       0             1",
        "total: 2",
        "",
      ].join("\n"),
    );
    expect(renderCountJson(counts.results()).split("\n")[0]).toBe('{"probe":"byKey","count":2,"keys":{"comm":"sh","arg0 % 2":1}}');
  });
});
