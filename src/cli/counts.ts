/**
 * `count` and `count by KEY, …` probes: events are tallied per key (the
 * values the kernel computed for `count.by`, which arrive as the event's
 * fields in order) and printed once, at exit, most frequent first.
 */
import type { AttachPlan, PlanExpr, ProbeEvent } from "../index.js";
import { jsonValue, textValue } from "./event-output.js";
import { renderTable } from "./table.js";

interface Tally {
  keys: (bigint | string | null)[];
  count: number;
}

interface CountingProbe {
  /** The key expressions as written, for headers. */
  keyNames: string[];
  tallies: Map<string, Tally>;
}

/** Tallies the events of a plan's counting probes. */
export class Counts {
  private readonly probes = new Map<string, CountingProbe>();

  constructor(plan: AttachPlan) {
    for (const p of plan.probes) {
      const count = p.program?.count;
      if (count == null || this.probes.has(p.id)) continue;
      this.probes.set(p.id, { keyNames: count.by.map(exprText), tallies: new Map() });
    }
  }

  /** True when `probeId` counts instead of printing. */
  counts(probeId: string): boolean {
    return this.probes.has(probeId);
  }

  /** Adds one event of a counting probe. */
  add(event: ProbeEvent): void {
    const probe = this.probes.get(event.probeId);
    if (probe === undefined) return;
    const keys = Object.values(event.fields);
    // A key made of its values' types and texts: "1" the integer and "1" the string stay apart.
    const id = JSON.stringify(keys.map((k) => (typeof k === "bigint" ? `i${k}` : k === null ? null : `s${k}`)));
    const tally = probe.tallies.get(id);
    if (tally === undefined) probe.tallies.set(id, { keys, count: 1 });
    else tally.count++;
  }

  /** True when there is at least one counting probe. */
  get any(): boolean {
    return this.probes.size > 0;
  }

  /** Each counting probe's totals as a table (`PROBE: TOTAL` for a plain `count`), most frequent first. */
  renderTables(): string {
    const out: string[] = [];
    for (const [id, probe] of this.probes) {
      const rows = sorted(probe);
      if (probe.keyNames.length === 0 || rows.length === 0) {
        out.push(`${id}: ${rows[0]?.count ?? 0}\n`);
        continue;
      }
      out.push(`${id}:\n`);
      out.push(renderTable([...probe.keyNames.map((header) => ({ header: header.toUpperCase() })), { header: "COUNT", align: "right" as const }], rows.map((r) => [...r.keys.map(textValue), String(r.count)])));
    }
    return out.join("");
  }

  /** Each key's total as a JSON line: `{"probe":…,"count":…,"keys":{…}}`. */
  renderJson(): string {
    let out = "";
    for (const [id, probe] of this.probes) {
      for (const r of sorted(probe)) {
        const keys = Object.fromEntries(probe.keyNames.map((name, i) => [name, jsonValue(r.keys[i] ?? null)]));
        out += `${JSON.stringify({ probe: id, count: r.count, keys })}\n`;
      }
    }
    return out;
  }
}

function sorted(probe: CountingProbe): Tally[] {
  return [...probe.tallies.values()].sort((a, b) => b.count - a.count || compareKeys(a.keys, b.keys));
}

function compareKeys(a: readonly (bigint | string | null)[], b: readonly (bigint | string | null)[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (typeof x === "bigint" && typeof y === "bigint") return x < y ? -1 : 1;
    return textValue(x) < textValue(y) ? -1 : 1;
  }
  return 0;
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
