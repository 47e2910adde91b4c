/**
 * How `probec run` and `probec trace` print aggregations (issue 15): each
 * report of the attacher, as people know them from bpftrace.
 *
 * - `hist` and `lhist`: one line per bucket from the first non-empty to
 *   the last, range, count and a bar of `@` as long as the count's share of
 *   the largest (`[4, 8)   12 |@@@@@     |`); plain numbers in bpftrace's
 *   units (`[1K, 2K)` is 1024 to 2048), a latency (`hist(latency)`, whose
 *   values are nanoseconds) in ns, µs, ms or s to three digits.
 * - `count`, `sum`, `avg`, `min`, `max`, `stats`: `PROBE: TEXT: VALUE` without
 *   keys, else a table of keys and values, largest value first.
 * - a `ustack` key: each row a block, its other keys and values on one line
 *   and the stack's frames below it, indented, innermost first.
 *
 * Every aggregation of the plan is printed in every report, one with no
 * hits as such, so that an interval's block always has the same shape.
 * With `--json`, each aggregation of each report is one JSON object.
 */
import type { AggregateKeyValue, AggregateResult, AggregateRow, AggregateSnapshot, AttachPlan, StackKey } from "../index.js";
import type { AggregateFn } from "../plan/aggregates.js";
import { histBucketRange, lhistBucketRange } from "../plan/aggregates.js";
import { jsonValue, textValue } from "./event-output.js";
import { exprText, valueUnit } from "./internal.js";
import { renderTable } from "./table.js";

/** Width of a histogram's bar in characters, as bpftrace draws it. */
export const BAR_WIDTH = 52;
/** Indentation of a stack's frames under its row. */
const FRAME_INDENT = "    ";

/** What printing needs of one aggregation of the plan: a result's description, without its rows. */
export type AggregateInfo = Pick<AggregateResult, "probeId" | "index" | "fn" | "text" | "keyNames" | "lhist" | "unit">;

/** Every aggregation of the plan, in plan order, once per probe (a probe's entries share its program). */
export function planAggregates(plan: AttachPlan): AggregateInfo[] {
  const seen = new Set<string>();
  const out: AggregateInfo[] = [];
  for (const probe of plan.probes) {
    if (seen.has(probe.id)) continue;
    seen.add(probe.id);
    (probe.program?.aggregates ?? []).forEach((a, index) =>
      out.push({ probeId: probe.id, index, fn: a.fn, text: a.text, keyNames: a.by.map(exprText), lhist: a.lhist, unit: valueUnit(a.value) }),
    );
  }
  return out;
}

/**
 * One report as text: every aggregation of `aggregations` (the plan's), with
 * its values in `snapshot` or as having no hits. `heading` (a time) comes
 * first when given, for `interval` blocks.
 */
export function renderSnapshot(aggregations: readonly AggregateInfo[], snapshot: AggregateSnapshot, heading?: string): string {
  const blocks: string[] = [];
  for (const info of aggregations) {
    const result = snapshot.results.find((r) => r.probeId === info.probeId && r.index === info.index);
    blocks.push(renderAggregate(info, result?.rows ?? []));
  }
  // An aggregation of an entry added while following that the plan's shape did not list.
  for (const result of snapshot.results)
    if (!aggregations.some((a) => a.probeId === result.probeId && a.index === result.index)) blocks.push(renderAggregate(result, result.rows));
  const body = blocks.join("\n");
  return heading === undefined ? body : `${heading}\n${body}`;
}

/** One aggregation: a line when it has no keys (and is no histogram), else a heading and its table, histograms or blocks. */
export function renderAggregate(info: AggregateInfo, rows: readonly AggregateRow[]): string {
  const title = `${info.probeId}: ${info.text}`;
  const histogram = info.fn === "hist" || info.fn === "lhist";
  // No hits: a count is 0; an average, a minimum or a histogram of nothing is not a number.
  if (rows.length === 0) return `${title}: ${info.fn === "count" && info.keyNames.length === 0 ? "0" : "no hits"}\n`;
  if (info.keyNames.length === 0 && !histogram) return `${title}: ${valueCells(info, rows[0]).join(", ")}\n`;
  if (histogram) {
    const parts = rows.map((row) => {
      const keys = keyLine(info, row.keys);
      const heading = (keys === "" ? "" : `${keys}:\n`) + stackLines(row.keys);
      return heading + renderHistogram(info, row);
    });
    return `${title}\n${parts.join("\n")}`;
  }
  const sorted = sortByValue(info.fn, rows);
  if (sorted.some((row) => row.keys.some(isStack))) {
    const parts = sorted.map((row) => {
      const keys = keyLine(info, row.keys);
      const texts = valueTexts(info, row);
      const values = valueLabels(info.fn)
        .map((label, i) => `${label} ${texts[i]}`)
        .join("  ");
      return `${keys === "" ? values : `${keys}  ${values}`}\n${stackLines(row.keys)}`;
    });
    return `${title}\n${parts.join("\n")}`;
  }
  const labels = valueLabels(info.fn);
  return `${title}\n${renderTable(
    [
      // An integer key's column aligns right, as numbers do.
      ...info.keyNames.map((name, i) => ({
        header: name.toUpperCase(),
        align: sorted.every((r) => typeof r.keys[i] !== "string") ? ("right" as const) : ("left" as const),
      })),
      ...labels.map((header) => ({ header: header.toUpperCase(), align: "right" as const })),
    ],
    sorted.map((row) => [...row.keys.map((k, i) => keyText(info.keyNames[i] as string, k)), ...valueTexts(info, row)]),
  )}`;
}

/** A histogram's lines: from its first non-empty bucket to its last, the empty ones between included. */
export function renderHistogram(info: Pick<AggregateInfo, "fn" | "lhist" | "unit">, row: AggregateRow): string {
  const buckets = row.buckets ?? [];
  if (buckets.length === 0) return "";
  const counts = new Map(buckets.map((b) => [b.index, b.count]));
  const first = buckets[0]?.index as number;
  const last = buckets[buckets.length - 1]?.index as number;
  const lines: { label: string; count: bigint }[] = [];
  for (let index = first; index <= last; index++) {
    const range = info.fn === "lhist" && info.lhist !== null ? lhistBucketRange(index, info.lhist) : histBucketRange(index);
    lines.push({ label: bucketLabel(range, info.fn, info.unit), count: counts.get(index) ?? 0n });
  }
  let max = 0n;
  for (const l of lines) if (l.count > max) max = l.count;
  const labelWidth = Math.max(...lines.map((l) => l.label.length));
  const countWidth = Math.max(...lines.map((l) => l.count.toString().length));
  return lines
    .map(({ label, count }) => {
      const bar = max === 0n ? 0 : Number((count * BigInt(BAR_WIDTH)) / max);
      return `${label.padEnd(labelWidth)}  ${count.toString().padStart(countWidth)} |${"@".repeat(bar).padEnd(BAR_WIDTH)}|\n`;
    })
    .join("");
}

/** `[4, 8)`, `[0]`, `[1K, 2K)`, `(..., 0)`, `[100, ...)`; in human time units for a latency. */
export function bucketLabel(range: { low: bigint | null; high: bigint | null }, fn: AggregateFn, unit: "ns" | null): string {
  const value = (v: bigint): string => (unit === "ns" ? formatDuration(v) : fn === "hist" ? powerOfTwoUnits(v) : v.toString());
  const { low, high } = range;
  if (low === null) return `(..., ${value(high ?? 0n)})`;
  if (high === null) return `[${value(low)}, ...)`;
  if (high - low === 1n) return `[${value(low)}]`;
  return `[${value(low)}, ${value(high)})`;
}

/**
 * A power-of-two bucket boundary as bpftrace writes it: `512`, `1K`, `64M`
 * (K, M, G, T, P, E are powers of 1024); other values in full.
 */
export function powerOfTwoUnits(value: bigint): string {
  const units = ["", "K", "M", "G", "T", "P", "E"];
  let v = value;
  let i = 0;
  while (i < units.length - 1 && v !== 0n && v % 1024n === 0n) {
    v /= 1024n;
    i++;
  }
  return `${v}${units[i]}`;
}

/** Nanoseconds in the largest unit that keeps them at or above 1, to three significant digits: `812ns`, `1.02µs`, `15ms`, `2.5s`. */
export function formatDuration(ns: bigint): string {
  const sign = ns < 0n ? "-" : "";
  const abs = ns < 0n ? -ns : ns;
  if (abs < 1000n) return `${sign}${abs}ns`;
  const units: [number, string][] = [
    [1e3, "µs"],
    [1e6, "ms"],
    [1e9, "s"],
  ];
  for (const [i, [scale, unit]] of units.entries()) {
    const v = Number(abs) / scale;
    // 999.7µs would round to "1.00e+3µs": that is 1ms.
    if (v < 999.5 || i === units.length - 1) return `${sign}${trimZeros(v >= 1000 ? v.toFixed(0) : v.toPrecision(3))}${unit}`;
  }
  return `${sign}${abs}ns`;
}

function trimZeros(text: string): string {
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/** The value columns of a function: `count` COUNT, `stats` COUNT AVG TOTAL, the others their own. */
function valueLabels(fn: AggregateFn): string[] {
  switch (fn) {
    case "count":
      return ["count"];
    case "stats":
      return ["count", "avg", "total"];
    case "hist":
    case "lhist":
      return ["count"];
    default:
      return [fn];
  }
}

/** The values of a row in the function's columns, as text (a latency in human units). */
function valueTexts(info: Pick<AggregateInfo, "fn" | "unit">, row: AggregateRow | undefined): string[] {
  const count = row?.count ?? 0n;
  const sum = row?.sum ?? 0n;
  const value = (v: bigint): string => (info.unit === "ns" ? formatDuration(v) : v.toString());
  const avg = count === 0n ? 0n : sum / count;
  switch (info.fn) {
    case "count":
    case "hist":
    case "lhist":
      return [count.toString()];
    case "sum":
      return [value(sum)];
    case "avg":
      return [value(avg)];
    case "min":
      return [count === 0n ? "-" : value(row?.min ?? 0n)];
    case "max":
      return [count === 0n ? "-" : value(row?.max ?? 0n)];
    case "stats":
      return [count.toString(), value(avg), value(sum)];
  }
}

/** `count: 42`, `avg: 1.5ms`, or for stats `count: 10`, `avg: 5`, `total: 50`. */
function valueCells(info: Pick<AggregateInfo, "fn" | "unit">, row: AggregateRow | undefined): string[] {
  const labels = valueLabels(info.fn);
  const texts = valueTexts(info, row);
  if (labels.length === 1) return [texts[0] as string];
  return labels.map((label, i) => `${label}: ${texts[i]}`);
}

/** The number a table is sorted by, largest first: the function's own value (`stats` and the histograms: the count). */
function sortByValue(fn: AggregateFn, rows: readonly AggregateRow[]): AggregateRow[] {
  const value = (r: AggregateRow): bigint => {
    switch (fn) {
      case "sum":
        return r.sum;
      case "avg":
        return r.count === 0n ? 0n : r.sum / r.count;
      case "min":
        return r.min;
      case "max":
        return r.max;
      default:
        return r.count;
    }
  };
  // Stable: equal values keep the library's order (most hits, then keys).
  return [...rows].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    return x === y ? 0 : x > y ? -1 : 1;
  });
}

function isStack(value: AggregateKeyValue): value is StackKey {
  return typeof value === "object" && value !== null;
}

/** The non-stack keys of a row: `comm=loop, arg0=3`. */
function keyLine(info: Pick<AggregateInfo, "keyNames">, keys: readonly AggregateKeyValue[]): string {
  return keys
    .map((k, i) => (isStack(k) ? undefined : `${info.keyNames[i]}=${keyText(info.keyNames[i] as string, k)}`))
    .filter((k) => k !== undefined)
    .join(", ");
}

/** The frames of each stack key, one a line, indented. */
function stackLines(keys: readonly AggregateKeyValue[]): string {
  return keys
    .filter(isStack)
    .map((stack) => (stack.frames.length === 0 ? `${FRAME_INDENT}(no frames)\n` : stack.frames.map((f) => `${FRAME_INDENT}${f}\n`).join("")))
    .join("");
}

/** A key in a table: a container key outside containers is `-`, a faulted read `(fault)`. */
function keyText(name: string, value: AggregateKeyValue): string {
  if (value === null && name === "container") return "-";
  if (isStack(value)) return value.frames[0] ?? "(no frames)";
  return textValue(value);
}

/**
 * `--json`: one object per aggregation of a report (of the plan, when
 * `aggregations` lists them: one without hits has no rows), one a line:
 * `{"probe","aggregate","fn","seq","final","reset","time","unit","dropped","rows":[…]}`,
 * each row `{"keys":{NAME: value},"count",…}` with `sum`, `min`, `max` and
 * `avg` when the function has a value, and `buckets` (`{"low","high","count"}`,
 * `low`/`high` null for an open end) for histograms. 64-bit numbers are
 * JSON numbers when they are exact as one (|n| ≤ 2^53 - 1), else decimal
 * strings; a stack is `{"pid","frames","addresses"}` (addresses as `0x…`).
 */
export function renderSnapshotJson(snapshot: AggregateSnapshot, time: Date, aggregations: readonly AggregateInfo[] = []): string {
  let out = "";
  // Every aggregation of the plan, as the text shows them: one without hits has no rows.
  const missing = aggregations
    .filter((a) => !snapshot.results.some((r) => r.probeId === a.probeId && r.index === a.index))
    .map((a): AggregateResult => ({ ...a, rows: [], dropped: 0n }));
  const order = (r: AggregateResult): number => {
    const at = aggregations.findIndex((a) => a.probeId === r.probeId && a.index === r.index);
    return at === -1 ? aggregations.length : at;
  };
  const results = [...snapshot.results, ...missing].sort((a, b) => order(a) - order(b));
  for (const result of results) out += `${JSON.stringify(resultJson(result, snapshot, time))}\n`;
  return out;
}

function resultJson(result: AggregateResult, snapshot: AggregateSnapshot, time: Date): Record<string, unknown> {
  const valued = result.fn !== "count";
  return {
    probe: result.probeId,
    aggregate: result.text,
    fn: result.fn,
    seq: snapshot.seq,
    final: snapshot.final,
    reset: snapshot.reset,
    time: time.toISOString(),
    unit: result.unit,
    dropped: jsonValue(result.dropped),
    rows: result.rows.map((row) => ({
      keys: Object.fromEntries(result.keyNames.map((name, i) => [name, keyJson(row.keys[i] ?? null)])),
      count: jsonValue(row.count),
      ...(valued
        ? { sum: jsonValue(row.sum), min: jsonValue(row.min), max: jsonValue(row.max), avg: jsonValue(row.count === 0n ? 0n : row.sum / row.count) }
        : {}),
      ...(row.buckets === undefined
        ? {}
        : {
            buckets: row.buckets.map((b) => ({
              low: b.low === null ? null : jsonValue(b.low),
              high: b.high === null ? null : jsonValue(b.high),
              count: jsonValue(b.count),
            })),
          }),
    })),
  };
}

function keyJson(value: AggregateKeyValue): unknown {
  if (isStack(value)) return { pid: value.pid, frames: value.frames, addresses: value.addresses.map((a) => `0x${a.toString(16)}`) };
  return jsonValue(value);
}

/**
 * The stderr line for hits a full map could not count, never left out:
 * `probec: probe X: 12 hits of count by comm were not counted: the
 * aggregation map's 10240 keys were all taken (option mapkeys = 20480 raises it)`.
 */
export function droppedLine(result: AggregateResult, mapKeys: number, maxMapKeys: number): string | undefined {
  if (result.dropped === 0n) return undefined;
  const more = Math.min(maxMapKeys, mapKeys * 2);
  const fix = more > mapKeys ? `option mapkeys = ${more} raises it` : `${mapKeys} is the largest; fewer distinct keys (a coarser by) fit`;
  const hits = result.dropped === 1n ? "1 hit of" : `${result.dropped} hits of`;
  const were = result.dropped === 1n ? "was" : "were";
  return `probec: probe ${result.probeId}: ${hits} ${result.text} ${were} not counted: the aggregation map's ${mapKeys} keys were all taken (${fix})\n`;
}
