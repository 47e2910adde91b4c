/**
 * What an attachment reports of its probes' in-kernel aggregations (issue
 * 15): the library's view of the attacher's `aggregate` reports
 * (native/PROTOCOL.md, "Aggregations"), merged over the plan entries of each
 * probe (one probe over several binaries or containers has several
 * entries) and with `container` keys named and `ustack` keys symbolized.
 *
 * Types only; decoding and merging are in aggregates.ts.
 */
import type { AggregateFn, LhistParams } from "../plan/index.js";

/** One symbolized user stack, innermost frame first. */
export interface StackKey {
  readonly kind: "stack";
  /**
   * The process it was taken in (a stack's addresses mean something only
   * there). When stacks of several processes name the same frames (one
   * program run by several processes) they are one row, and this is the
   * process of the first of them.
   */
  readonly pid: number;
  /** Each frame as `formatFrame` prints it: `malloc+0x1a`, `libfoo.so+0x1234`, `[unknown]`. */
  readonly frames: readonly string[];
  /**
   * Each frame without the offset into its function (`malloc`), as folded
   * stacks and flame graphs print them so that calls from different spots
   * of a function merge; an unnamed frame keeps its `module+0xOFFSET`.
   */
  readonly functions: readonly string[];
  /** The raw return addresses, innermost first. */
  readonly addresses: readonly bigint[];
}

/**
 * One value of a key: an integer, a string (also `comm`, and `container` as
 * the container's name, else its id), a stack, or null: the read faulted in
 * the target, or a `container` key outside any container.
 */
export type AggregateKeyValue = bigint | string | StackKey | null;

/** One bucket of a histogram: values in [low, high) (`low` null: below the first; `high` null: at or above the last). */
export interface HistogramBucket {
  readonly index: number;
  readonly low: bigint | null;
  readonly high: bigint | null;
  readonly count: bigint;
}

/** One row: one distinct tuple of `by` values. */
export interface AggregateRow {
  readonly keys: readonly AggregateKeyValue[];
  /** Hits with this key. */
  readonly count: bigint;
  /** Sum, minimum and maximum of the value (0n for `count`; `min`/`max` meaningless when `count` is 0). */
  readonly sum: bigint;
  readonly min: bigint;
  readonly max: bigint;
  /** `hist`/`lhist` only: the non-empty buckets, ascending by index; else undefined. */
  readonly buckets?: readonly HistogramBucket[];
}

/** One aggregation of one probe in one report. */
export interface AggregateResult {
  readonly probeId: string;
  /** Its index in the probe's `program.aggregates`. */
  readonly index: number;
  readonly fn: AggregateFn;
  /** Its heading: `hist(latency) by comm`. */
  readonly text: string;
  /** The key expressions as the probe file writes them (`comm`, `ustack`): column names. */
  readonly keyNames: readonly string[];
  readonly lhist: LhistParams | null;
  /**
   * The unit of the aggregated value: `ns` when it is the `latency` capture
   * (also through a cast), so that printers can show `1.5ms`; null for a
   * plain number.
   */
  readonly unit: "ns" | null;
  /** Rows, most hits first (ties: keys ascending). */
  readonly rows: readonly AggregateRow[];
  /**
   * Hits not counted since the last reset because the kernel map was full
   * when their key was new (`option mapkeys` raises its size): they are not
   * in `rows`.
   */
  readonly dropped: bigint;
}

/** One report of every aggregation: periodic (`interval`), asked for (`report()`), or the final one at detach. */
export interface AggregateSnapshot {
  /** The attacher's report number, from 1 (0 for a report that the attacher never sent). */
  readonly seq: number;
  /** True for the report sent at detach. */
  readonly final: boolean;
  /** True when the kernel maps were reset after it (each `interval` report): the next holds only later hits. */
  readonly reset: boolean;
  /** Every aggregation of the plan that has rows or dropped hits, in plan order (probe, then index). */
  readonly results: readonly AggregateResult[];
}
