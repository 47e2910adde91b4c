/**
 * Totals over a session's aggregation reports. With `interval N` each
 * report holds only the hits since the one before (the kernel maps are
 * reset after it); adding the reports up gives what the session saw in all,
 * which is what a flame graph of the whole run, or a library user's
 * end-of-run table, wants:
 *
 *     const totals = new AggregateTotals();
 *     attachment.onAggregates((snapshot) => totals.add(snapshot));
 *     await attachment.closed;
 *     for (const result of totals.results()) console.log(result.text, result.rows.length);
 *
 * A report that did not reset the maps (`report({ reset: false })`, or the
 * final one of a session without `interval`) holds everything since the
 * last reset: it replaces what was added since then instead of adding to it.
 */
import { RowAccumulator } from "./aggregate-rows.js";
import type { AggregateResult, AggregateSnapshot } from "./aggregate-types.js";

/** Adds up aggregation reports. */
export class AggregateTotals {
  /** What the reports that reset the maps held, in all. */
  private done: AggregateResult[] = [];
  /** The last report that did not reset them: everything since the last reset. */
  private open: readonly AggregateResult[] = [];

  /** Takes one report, in the order they came. */
  add(snapshot: AggregateSnapshot): void {
    if (snapshot.reset) {
      this.done = sum([...this.done, ...snapshot.results]);
      this.open = [];
    } else {
      this.open = snapshot.results;
    }
  }

  /** Every aggregation's totals so far, in plan order, rows most hits first. */
  results(): AggregateResult[] {
    return sum([...this.done, ...this.open]);
  }
}

/** Results of the same aggregation (probe and index) added into one each; first-seen order (plan order). */
function sum(results: readonly AggregateResult[]): AggregateResult[] {
  const groups = new Map<string, { first: AggregateResult; rows: RowAccumulator; dropped: bigint }>();
  for (const result of results) {
    const id = `${result.probeId}\0${result.index}`;
    let group = groups.get(id);
    if (group === undefined) {
      group = { first: result, rows: new RowAccumulator(result.fn, result.lhist), dropped: 0n };
      groups.set(id, group);
    }
    group.dropped += result.dropped;
    for (const row of result.rows) group.rows.add(row.keys, { ...row, buckets: row.buckets?.map((b) => [b.index, b.count] as const) });
  }
  return [...groups.values()].map(({ first, rows, dropped }) => ({ ...first, rows: rows.rows(), dropped }));
}
