/**
 * Rows of one aggregation merged by key: the rows of one probe's entries in
 * one report (a probe over several binaries or containers), and the
 * reports of an interval session added up (aggregate-totals.ts). Rows
 * whose keys are equal after naming (two mount namespaces of one
 * container, two processes whose stacks name the same frames) are one row.
 */
import type { AggregateFn, LhistParams } from "../plan/index.js";
import { histBucketRange, lhistBucketRange } from "../plan/index.js";
import type { AggregateKeyValue, AggregateRow, HistogramBucket } from "./aggregate-types.js";

interface MutableRow {
  readonly keys: readonly AggregateKeyValue[];
  count: bigint;
  sum: bigint;
  min: bigint;
  max: bigint;
  /** Whether min and max hold a value yet (a row of no hits has none). */
  seen: boolean;
  readonly buckets: Map<number, bigint> | undefined;
}

/** What one row adds. */
export interface RowPart {
  readonly count: bigint;
  readonly sum: bigint;
  readonly min: bigint;
  readonly max: bigint;
  /** For hist/lhist: the bucket counts it adds. */
  readonly buckets?: Iterable<readonly [number, bigint]>;
}

/** Merges rows of one aggregation by key. */
export class RowAccumulator {
  private readonly byKey = new Map<string, MutableRow>();

  constructor(
    private readonly fn: AggregateFn,
    private readonly lhist: LhistParams | null,
  ) {}

  /** Adds one row's numbers under `keys`. */
  add(keys: readonly AggregateKeyValue[], part: RowPart): void {
    const id = keyIdentity(keys);
    let row = this.byKey.get(id);
    if (row === undefined) {
      row = { keys, count: 0n, sum: 0n, min: 0n, max: 0n, seen: false, buckets: this.histogram ? new Map() : undefined };
      this.byKey.set(id, row);
    }
    row.count += part.count;
    row.sum += part.sum;
    if (part.count > 0n) {
      row.min = row.seen && row.min < part.min ? row.min : part.min;
      row.max = row.seen && row.max > part.max ? row.max : part.max;
      row.seen = true;
    }
    if (row.buckets !== undefined && part.buckets !== undefined)
      for (const [index, count] of part.buckets) row.buckets.set(index, (row.buckets.get(index) ?? 0n) + count);
  }

  /** True when nothing was added. */
  get empty(): boolean {
    return this.byKey.size === 0;
  }

  /** The merged rows, most hits first (ties: keys ascending). */
  rows(): AggregateRow[] {
    const rows = [...this.byKey.values()].map((r): AggregateRow => {
      const row = { keys: r.keys, count: r.count, sum: r.sum, min: r.min, max: r.max };
      if (r.buckets === undefined) return row;
      return { ...row, buckets: this.bucketList(r.buckets) };
    });
    return rows.sort((a, b) => (a.count === b.count ? compareKeys(a.keys, b.keys) : a.count > b.count ? -1 : 1));
  }

  private get histogram(): boolean {
    return this.fn === "hist" || this.fn === "lhist";
  }

  private bucketList(counts: ReadonlyMap<number, bigint>): HistogramBucket[] {
    const lhist = this.lhist;
    return [...counts]
      .filter(([, count]) => count > 0n)
      .sort(([a], [b]) => a - b)
      .map(([index, count]) => ({ index, count, ...(lhist === null ? histBucketRange(index) : lhistBucketRange(index, lhist)) }));
  }
}

/** A string equal for equal keys: the integer 1 and the string "1" differ; stacks are equal when they name the same frames. */
export function keyIdentity(keys: readonly AggregateKeyValue[]): string {
  return JSON.stringify(keys.map((k) => (k === null ? null : typeof k === "bigint" ? `i${k}` : typeof k === "string" ? `s${k}` : k.frames)));
}

/** Keys in order: integers by value, anything else by its text (a stack by its frames). */
export function compareKeys(a: readonly AggregateKeyValue[], b: readonly AggregateKeyValue[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (typeof x === "bigint" && typeof y === "bigint") {
      if (x !== y) return x < y ? -1 : 1;
      continue;
    }
    const tx = sortText(x);
    const ty = sortText(y);
    if (tx !== ty) return tx < ty ? -1 : 1;
  }
  return 0;
}

function sortText(value: AggregateKeyValue): string {
  if (value === null) return "";
  if (typeof value === "string" || typeof value === "bigint") return String(value);
  return value.frames.join("\n");
}
