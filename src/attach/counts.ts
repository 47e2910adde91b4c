/**
 * Tallies of `count` and `count by KEY, …` probes: the library computes
 * them, so that `attach()` users get the same counts as `probec run` (which
 * only renders them, src/cli/counts.ts). A counting probe's events carry
 * the values the kernel computed for `count.by` as their fields, in order;
 * each distinct tuple of values is one row.
 *
 *     const tally = new CountTally(plan);
 *     for await (const event of attachment) tally.add(event);
 *     for (const probe of tally.results()) console.log(probe.probeId, probe.total);
 *
 * or `await tallyCounts(plan, attachment)` to read a whole attachment.
 */
import type { AttachPlan, PlanExpr } from "../plan/index.js";
import type { ProbeEvent } from "./events.js";

/** One value of a key: an integer, a string, or null when reading it faulted in the target. */
export type CountKeyValue = bigint | string | null;

/** One distinct key of a counting probe and how many events had it. */
export interface CountRow {
  /** The key's values, one per `count by` expression (empty for a plain `count`). */
  readonly keys: readonly CountKeyValue[];
  /** Events with this key. */
  readonly count: number;
}

/** The counts of one counting probe. */
export interface ProbeCounts {
  /** The probe's id. */
  readonly probeId: string;
  /** The key expressions as the probe file would write them (`comm`, `arg0 % 4`): names for columns. */
  readonly keyNames: readonly string[];
  /** Every distinct key, most frequent first (ties: integers ascending, other values by their text). */
  readonly rows: readonly CountRow[];
  /** Events counted in all. */
  readonly total: number;
}

interface MutableRow {
  keys: CountKeyValue[];
  count: number;
}

/** Tallies the events of a plan's counting probes (the plan's other probes are ignored). */
export class CountTally {
  private readonly probes = new Map<string, { keyNames: string[]; rows: Map<string, MutableRow> }>();

  constructor(plan: AttachPlan) {
    for (const p of plan.probes) {
      const count = p.program?.count;
      if (count == null || this.probes.has(p.id)) continue;
      this.probes.set(p.id, { keyNames: count.by.map(exprText), rows: new Map() });
    }
  }

  /** True when `probeId` counts instead of printing. */
  counts(probeId: string): boolean {
    return this.probes.has(probeId);
  }

  /** True when the plan has at least one counting probe. */
  get any(): boolean {
    return this.probes.size > 0;
  }

  /** Adds one event; returns false (and counts nothing) when its probe does not count. */
  add(event: ProbeEvent): boolean {
    const probe = this.probes.get(event.probeId);
    if (probe === undefined) return false;
    const keys = Object.values(event.fields);
    // A key made of its values' types and texts: "1" the integer and "1" the string stay apart.
    const id = JSON.stringify(keys.map((k) => (typeof k === "bigint" ? `i${k}` : k === null ? null : `s${k}`)));
    const row = probe.rows.get(id);
    if (row === undefined) probe.rows.set(id, { keys, count: 1 });
    else row.count++;
    return true;
  }

  /** Every counting probe's counts so far, in plan order. */
  results(): ProbeCounts[] {
    return [...this.probes].map(([probeId, probe]) => {
      const rows = [...probe.rows.values()]
        .sort((a, b) => b.count - a.count || compareKeys(a.keys, b.keys))
        .map((r) => ({ keys: [...r.keys], count: r.count }));
      return { probeId, keyNames: probe.keyNames, rows, total: rows.reduce((sum, r) => sum + r.count, 0) };
    });
  }
}

/** Reads `events` to the end (an attachment, or any list of a plan's events) and returns the counts of the plan's counting probes. */
export async function tallyCounts(plan: AttachPlan, events: AsyncIterable<ProbeEvent> | Iterable<ProbeEvent>): Promise<ProbeCounts[]> {
  const tally = new CountTally(plan);
  for await (const event of events) tally.add(event);
  return tally.results();
}

function compareKeys(a: readonly CountKeyValue[], b: readonly CountKeyValue[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (typeof x === "bigint" && typeof y === "bigint") return x < y ? -1 : 1;
    return keyText(x) < keyText(y) ? -1 : 1;
  }
  return 0;
}

/** A value's text for ordering: decimal, `(fault)`, or the string with control characters escaped (as the CLI prints it). */
function keyText(value: CountKeyValue): string {
  if (value === null) return "(fault)";
  if (typeof value !== "string") return value.toString();
  return /[\u0000-\u001f\u007f]/.test(value) ? JSON.stringify(value).slice(1, -1) : value;
}

/** An expression as the probe file would write it, for a column header: `comm`, `arg0 % 4`, `str(arg1, 32)`. */
export function exprText(e: PlanExpr): string {
  switch (e.op) {
    case "int":
      return e.value;
    case "capture":
      return e.name;
    case "arg":
      return `arg${e.index}`;
    case "str":
      return `str(${exprText(e.arg)}, ${e.maxLen})`;
    case "gostr":
      return `gostr(arg${e.index}, ${e.maxLen})`;
    case "cast":
      return `${operand(e.expr)} as ${e.to}`;
    case "unary":
      return `${e.operator}${operand(e.operand)}`;
    case "binary":
      return `${operand(e.left)} ${e.operator} ${operand(e.right)}`;
  }
}

function operand(e: PlanExpr): string {
  return e.op === "binary" || e.op === "cast" ? `(${exprText(e)})` : exprText(e);
}
