/**
 * The probe kinds, defined once: the DSL's keyword, the plan's `kind`, and
 * what each side of a function it attaches. The JSON schema and the native
 * plan reader (native/src/plan.c) spell the same names; test/plan/drift.test.ts
 * fails when they disagree with this table.
 *
 * Pure data: no I/O.
 */

/**
 * Every probe kind, in the order the native plan reader numbers them
 * (native/src/plan.c, `kinds[]`): `uprobe` (entry), `uretprobe` (return),
 * `uprobe+ret` (entry and return paired per thread: the return side sees the
 * entry's arguments and the latency), `usdt` (a USDT site, entry only).
 */
export const PROBE_KINDS = ["uprobe", "uretprobe", "uprobe+ret", "usdt"] as const;

/** A probe kind (see {@link PROBE_KINDS}). */
export type ProbeKind = (typeof PROBE_KINDS)[number];
