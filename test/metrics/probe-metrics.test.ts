/**
 * The counters behind `--metrics`, fed directly: label names from `count
 * by` expressions (the documented rule), and aggregation reports turned
 * into counters that only grow, across non-resetting reports (scrapes) and
 * resetting ones (`interval N`). The reports are built here in the shape
 * src/attach/aggregate-types.ts defines; the same path fed by a real
 * helper is in metrics-cli.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { AggregateResult, AggregateSnapshot } from "../../src/attach/aggregate-types.js";
import { keyLabelNames, parseMetricsAddress, ProbeMetrics, sanitizeLabelName } from "../../src/metrics/index.js";
import { parsePrometheusText } from "./prom-text.js";

describe("label names of count keys", () => {
  it("keeps names that are valid, and turns the rest into [a-zA-Z_][a-zA-Z0-9_]* without a leading __", () => {
    expect(["comm", "arg0 % 4", "str(arg1, 32)", "4 * arg0", "-arg0", "__x", "%", "arg0 as u8", "gostr(arg2, 16)"].map(sanitizeLabelName)).toEqual([
      "comm",
      "arg0_4",
      "str_arg1_32",
      "key_4_arg0",
      "arg0",
      "x",
      "key",
      "arg0_as_u8",
      "gostr_arg2_16",
    ]);
  });

  it("renames a key that takes a fixed label or an earlier key's name; container is the container label", () => {
    expect(keyLabelNames(["arg0", "-arg0", "probe", "pod", "container", "container"])).toEqual([
      "arg0",
      "arg0_2",
      "probe_2",
      "pod_2",
      "container",
      "container_2",
    ]);
  });
});

describe("--metrics ADDR", () => {
  it("takes HOST:PORT, :PORT and [IPv6]:PORT", () => {
    expect(parseMetricsAddress("127.0.0.1:9464")).toEqual({ text: "127.0.0.1:9464", host: "127.0.0.1", port: 9464 });
    expect(parseMetricsAddress(":9464")).toEqual({ text: ":9464", host: undefined, port: 9464 });
    expect(parseMetricsAddress("[::1]:0")).toEqual({ text: "[::1]:0", host: "::1", port: 0 });
    expect(parseMetricsAddress("localhost:80")).toEqual({ text: "localhost:80", host: "localhost", port: 80 });
  });

  it("refuses anything else, naming it", () => {
    for (const bad of ["9464", "::1:9464", "host:", "host:port", "host:65536", "http://x:1", "a b:1", ""])
      expect(() => parseMetricsAddress(bad), bad).toThrow(`--metrics ${bad}: `);
  });
});

function result(probeId: string, index: number, fn: AggregateResult["fn"], keyNames: string[], rows: [unknown[], number][], dropped = 0): AggregateResult {
  return {
    probeId,
    index,
    fn,
    text: fn,
    keyNames,
    lhist: null,
    unit: null,
    rows: rows.map(([keys, count]) => ({ keys: keys as AggregateResult["rows"][number]["keys"], count: BigInt(count), sum: 0n, min: 0n, max: 0n })),
    dropped: BigInt(dropped),
  } as AggregateResult;
}

function report(seq: number, reset: boolean, results: AggregateResult[]): AggregateSnapshot {
  return { seq, final: false, reset, results };
}

async function samples(metrics: ProbeMetrics, family: string) {
  return parsePrometheusText(await metrics.render()).get(family)?.samples;
}

describe("aggregation reports as counters", () => {
  it("count by keys: one series per key with sanitised label names; hits are the rows plus the dropped", async () => {
    const m = new ProbeMetrics({ processMetrics: false });
    m.snapshot(
      report(1, false, [
        result(
          "probe1",
          0,
          "count",
          ["comm", "arg0 % 4"],
          [
            [["web", 1n], 5],
            [["db", 3n], 2],
          ],
          4,
        ),
        result("probe2", 0, "count", [], [[[], 9]]),
      ]),
    );
    expect(await samples(m, "probec_count_total")).toEqual([
      { labels: { probe: "probe1", comm: "web", arg0_4: "1" }, value: 5 },
      { labels: { probe: "probe1", comm: "db", arg0_4: "3" }, value: 2 },
      { labels: { probe: "probe2" }, value: 9 },
    ]);
    expect(await samples(m, "probec_hits_total")).toEqual([
      { labels: { probe: "probe1" }, value: 11 },
      { labels: { probe: "probe2" }, value: 9 },
    ]);
    expect(await samples(m, "probec_dropped_total")).toEqual([{ labels: { probe: "probe1" }, value: 4 }]);
  });

  it("a non-resetting report replaces the last; a resetting one is added for good; older reports are ignored", async () => {
    const m = new ProbeMetrics({ processMetrics: false });
    const one = (seq: number, reset: boolean, count: number) => report(seq, reset, [result("probe1", 0, "count", ["comm"], [[["web"], count]])]);
    m.snapshot(one(1, false, 3));
    m.snapshot(one(2, false, 7)); // since the start: 7, not 10
    expect(await samples(m, "probec_count_total")).toEqual([{ labels: { probe: "probe1", comm: "web" }, value: 7 }]);
    m.snapshot(one(3, true, 8)); // an interval report: 8 since the start, then the maps are reset
    m.snapshot(one(4, false, 2)); // 2 since that reset
    expect(await samples(m, "probec_count_total")).toEqual([{ labels: { probe: "probe1", comm: "web" }, value: 10 }]);
    m.snapshot(one(4, false, 1)); // the same report again, or an older one: ignored
    expect(await samples(m, "probec_count_total")).toEqual([{ labels: { probe: "probe1", comm: "web" }, value: 10 }]);
    expect(await samples(m, "probec_hits_total")).toEqual([{ labels: { probe: "probe1" }, value: 10 }]);
  });

  it("a report lower than the one before means entries went away (--follow detached a container): what they counted is kept", async () => {
    const m = new ProbeMetrics({ processMetrics: false });
    const one = (seq: number, reset: boolean, count: number) => report(seq, reset, [result("probe1", 0, "count", ["container"], [[["web"], count]])]);
    m.snapshot(one(1, false, 10)); // web's first run
    m.snapshot(report(2, false, [])); // web stopped: its entries were removed, the kernel forgot its 10
    expect(await samples(m, "probec_count_total")).toEqual([{ labels: { probe: "probe1", container: "web" }, value: 10 }]);
    m.snapshot(one(3, false, 5)); // restarted: 5 more
    expect(await samples(m, "probec_count_total")).toEqual([{ labels: { probe: "probe1", container: "web" }, value: 15 }]);
    m.snapshot(one(4, false, 2)); // restarted again before a scrape saw the 5: the 5 are kept, 2 added
    m.snapshot(one(5, true, 4)); // then an interval report (2 more), which resets
    expect(await samples(m, "probec_count_total")).toEqual([{ labels: { probe: "probe1", container: "web" }, value: 19 }]);
  });

  it("a probe's hits are its aggregations' (the largest, as each sees every hit), plus its events", async () => {
    const m = new ProbeMetrics({ processMetrics: false });
    m.snapshot(
      report(1, false, [
        result(
          "probe1",
          0,
          "hist",
          [],
          [
            [[], 3],
            [[], 4],
          ],
        ),
        result("probe1", 1, "count", ["comm"], [[["web"], 7]]),
      ]),
    );
    expect(await samples(m, "probec_hits_total")).toEqual([{ labels: { probe: "probe1" }, value: 7 }]);
    expect(await samples(m, "probec_dropped_total")).toEqual([]);
  });

  it("a stack key is its frames outermost first, a faulted key (fault)", async () => {
    const m = new ProbeMetrics({ processMetrics: false });
    const stack = { kind: "stack", pid: 1, frames: ["c+0x4", "b+0x8", "main+0x10"], functions: ["c", "b", "main"], addresses: [1n, 2n, 3n] };
    m.snapshot(
      report(1, false, [
        result(
          "probe1",
          0,
          "count",
          ["ustack", "str(arg0, 8)"],
          [
            [[stack, "x"], 2],
            [[stack, null], 1],
          ],
        ),
      ]),
    );
    expect(await samples(m, "probec_count_total")).toEqual([
      { labels: { probe: "probe1", ustack: "main+0x10;b+0x8;c+0x4", str_arg0_8: "x" }, value: 2 },
      { labels: { probe: "probe1", ustack: "main+0x10;b+0x8;c+0x4", str_arg0_8: "(fault)" }, value: 1 },
    ]);
  });

  it("lost events: the helper's cumulative counts per entry, summed per probe; an entry index reused after a removal keeps the removed one's", async () => {
    const m = new ProbeMetrics({ processMetrics: false });
    m.describe({
      planVersion: 2,
      // Only what describe() reads of an entry: its probe id and its target's containers.
      probes: ["probe1", "probe1", "probe2"].map((id) => ({ id, target: { containerId: null, containerName: null } })) as never,
    });
    m.lostCounts({ "0": 3, "1": 4, "2": 0 });
    m.lostCounts({ "0": 5, "1": 4, "2": 1 });
    expect(await samples(m, "probec_lost_total")).toEqual([
      { labels: { probe: "probe1" }, value: 9 },
      { labels: { probe: "probe2" }, value: 1 },
    ]);
    m.lostCounts({ "0": 2, "1": 4, "2": 1 }); // entry 0 was removed and its index given to a new entry: 5 + 2
    expect(await samples(m, "probec_lost_total")).toEqual([
      { labels: { probe: "probe1" }, value: 11 },
      { labels: { probe: "probe2" }, value: 1 },
    ]);
  });
});
