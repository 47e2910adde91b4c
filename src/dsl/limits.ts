/**
 * Named limits of the language (PITFALLS 27); exceeding one is an error
 * that names it. The aggregations' own limits (keys, buckets, map size,
 * stack frames) are the plan's, in src/plan/aggregates.ts.
 *
 * - `maxStrlen` 4096: a string is copied into a per-CPU buffer of one page.
 * - `maxFunctionArgs` 12: the most register arguments a function probe can
 *   read under any ABI probec knows: Go's ABIInternal passes nine integer
 *   arguments in registers on amd64 and sixteen on arm64, and a point keeps
 *   12 argument slots. The x86-64 SysV ABI has only six (`arg0`..`arg5`);
 *   the compiler checks each matched function's own ABI
 *   (src/compile/abi-args.ts).
 * - `maxUsdtArgs` 12: sys/sdt.h has at most 12 (`STAP_PROBE12`).
 * - `maxFields` 32: fields per event.
 * - `maxTargets` 64: targets per probe.
 * - `maxIntervalSeconds` 86400: `interval SECONDS`; a day is beyond any
 *   useful reporting period, and its milliseconds fit a 32-bit timer.
 *
 * Pure data.
 */
export const DSL_LIMITS = {
  maxStrlen: 4096,
  maxFunctionArgs: 12,
  maxUsdtArgs: 12,
  maxFields: 32,
  maxTargets: 64,
  maxIntervalSeconds: 86400,
} as const;
