/**
 * The in-kernel aggregations (issue 15), defined once: the functions a
 * probe body may aggregate with, their bucket rules and their limits.
 * The DSL checks against this table (src/dsl/semantic.ts), the compiler
 * writes {@link PlanAggregate}s from it, the attacher's BPF program
 * computes the same buckets (native/bpf/probec.bpf.c), and the printers
 * draw them (src/cli/). The bucket functions here are the reference the
 * native side is tested against.
 *
 * Pure data and arithmetic: no I/O.
 */

/** Every aggregation function, in the order help lists them. */
export const AGGREGATE_FNS = ["count", "sum", "avg", "min", "max", "stats", "hist", "lhist"] as const;

/** An aggregation function's name. */
export type AggregateFn = (typeof AGGREGATE_FNS)[number];

/** True when `name` is an aggregation function. */
export function isAggregateFn(name: string): name is AggregateFn {
  return (AGGREGATE_FNS as readonly string[]).includes(name);
}

/**
 * Named limits (PITFALLS 27); exceeding one is an error that names it.
 *
 * - `maxAggregatesPerProbe` 8: the BPF program updates each of a probe's
 *   aggregations per hit in a bounded loop.
 * - `maxAggregateKeys` 8: `by` keys of one aggregation (as `count by` had).
 * - `maxKeyBytes` 256: bytes of one aggregation key in the kernel (strings
 *   are cut to fit; a `ustack` key is held by its stack id, 8 bytes).
 * - `maxLhistBuckets` 1000: (MAX - MIN) / STEP of one `lhist`.
 * - `defaultMapKeys` 10240 and `maxMapKeys` 1048576: the aggregation map's
 *   size (`option mapkeys = N` in a probe file); a key that does not fit is
 *   counted as dropped and reported, never silently lost.
 * - `defaultStackFrames` 32, `maxStackFrames` 127: `ustack` / `ustack(N)`
 *   (127 is the kernel's sysctl_perf_event_max_stack default).
 */
export const AGGREGATE_LIMITS = {
  maxAggregatesPerProbe: 8,
  maxAggregateKeys: 8,
  maxKeyBytes: 256,
  maxLhistBuckets: 1000,
  defaultMapKeys: 10240,
  maxMapKeys: 1048576,
  defaultStackFrames: 32,
  maxStackFrames: 127,
} as const;

/**
 * The bucket of `value` in a power-of-two histogram (`hist`), as the BPF
 * program computes it: 0 for a negative value, 1 for 0, and `k + 2` for a
 * value in [2^k, 2^(k+1)), k = 0…62 (so 64 is the last index for a signed
 * 64-bit value).
 */
export function histBucket(value: bigint): number {
  if (value < 0n) return 0;
  if (value === 0n) return 1;
  return value.toString(2).length + 1;
}

/** The values bucket `index` of `hist` holds: [low, high) with `high` null for "and above" (never reached) and `low` null for negatives. */
export function histBucketRange(index: number): { low: bigint | null; high: bigint | null } {
  if (index === 0) return { low: null, high: 0n };
  if (index === 1) return { low: 0n, high: 1n };
  const k = BigInt(index - 2);
  return { low: 1n << k, high: index >= 64 ? null : 1n << (k + 1n) };
}

/** `lhist(EXPR, MIN, MAX, STEP)`'s parameters. */
export interface LhistParams {
  readonly min: number;
  readonly max: number;
  readonly step: number;
}

/** How many buckets an `lhist` has: one below MIN, ceil((MAX - MIN) / STEP), one at or above MAX. */
export function lhistBucketCount(p: LhistParams): number {
  return Math.ceil((p.max - p.min) / p.step) + 2;
}

/**
 * The bucket of `value` in `lhist(…, MIN, MAX, STEP)`, as the BPF program
 * computes it: 0 below MIN, `1 + floor((value - MIN) / STEP)` from MIN up
 * to MAX (exclusive), and the last index ({@link lhistBucketCount} - 1) at
 * or above MAX.
 */
export function lhistBucket(value: bigint, p: LhistParams): number {
  if (value < BigInt(p.min)) return 0;
  if (value >= BigInt(p.max)) return lhistBucketCount(p) - 1;
  return 1 + Number((value - BigInt(p.min)) / BigInt(p.step));
}

/** The values bucket `index` of an `lhist` holds: [low, high), `low` null below MIN, `high` null at or above MAX. */
export function lhistBucketRange(index: number, p: LhistParams): { low: bigint | null; high: bigint | null } {
  const last = lhistBucketCount(p) - 1;
  if (index === 0) return { low: null, high: BigInt(p.min) };
  if (index >= last) return { low: BigInt(p.max), high: null };
  const low = BigInt(p.min) + BigInt(index - 1) * BigInt(p.step);
  const high = low + BigInt(p.step);
  return { low, high: high > BigInt(p.max) ? BigInt(p.max) : high };
}
