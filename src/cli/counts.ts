/**
 * How `probec run` prints the tallies of `count` and `count by KEY, …`
 * probes, once, at exit: a table per probe (`PROBE: TOTAL` for a plain
 * `count`), or one JSON line per key. The tallying itself is the library's
 * (`CountTally`, src/attach/counts.ts), so `attach()` users get the same
 * numbers; this file only renders them.
 */
import { CountTally, type ProbeCounts } from "../index.js";
import { jsonValue, textValue } from "./event-output.js";
import { renderTable } from "./table.js";

/** Tallies a plan's counting probes and renders them. */
export class Counts extends CountTally {
  /** Each counting probe's totals as a table (`PROBE: TOTAL` for a plain `count`), most frequent first. */
  renderTables(): string {
    return renderCountTables(this.results());
  }

  /** Each key's total as a JSON line: `{"probe":…,"count":…,"keys":{…}}`. */
  renderJson(): string {
    return renderCountJson(this.results());
  }
}

/** Counts as tables: `PROBE: TOTAL` for a plain `count` (or one with no event), else a table of keys and counts. */
export function renderCountTables(results: readonly ProbeCounts[]): string {
  const out: string[] = [];
  for (const probe of results) {
    if (probe.keyNames.length === 0 || probe.rows.length === 0) {
      out.push(`${probe.probeId}: ${probe.rows[0]?.count ?? 0}\n`);
      continue;
    }
    out.push(`${probe.probeId}:\n`);
    out.push(
      renderTable(
        [...probe.keyNames.map((header) => ({ header: header.toUpperCase() })), { header: "COUNT", align: "right" as const }],
        probe.rows.map((r) => [...r.keys.map(textValue), String(r.count)]),
      ),
    );
  }
  return out.join("");
}

/** Counts as JSON lines, one per key: `{"probe":…,"count":…,"keys":{…}}`. */
export function renderCountJson(results: readonly ProbeCounts[]): string {
  let out = "";
  for (const probe of results) {
    for (const r of probe.rows) {
      const keys = Object.fromEntries(probe.keyNames.map((name, i) => [name, jsonValue(r.keys[i] ?? null)]));
      out += `${JSON.stringify({ probe: probe.probeId, count: r.count, keys })}\n`;
    }
  }
  return out;
}
