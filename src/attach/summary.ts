/**
 * What one attachment did, per probe id: events received (counted here, as
 * they are decoded), events lost (the helper's cumulative `lost` counts),
 * points attached and points that failed (from its `attached`, `failed` and
 * `ready` statuses). A probe with several entries (several containers or
 * binaries) sums them.
 */
import type { AttachPlan, PlanProbe } from "../plan/index.js";
import type { AggregateSnapshot } from "./aggregate-types.js";
import type { AttachStatus } from "./status.js";

/** One probe's totals. */
export interface ProbeSummary {
  /** The probe's id. */
  id: string;
  /**
   * Events received from the helper. After `close()` the helper may still
   * deliver what the kernel had buffered: those count here, but only as
   * many as the event queue holds are handed to the iterator. A probe that
   * aggregates sends no events: its hits are those the kernel counted in
   * its first aggregation (with those a full map dropped), over every
   * report that reset the maps and the final one.
   */
  hits: number;
  /** Events the kernel could not hand over (ring buffer full), as the helper last reported. */
  lost: number;
  /** Points attached. */
  attached: number;
  /** Points that could not be attached. */
  failed: number;
}

/** How an attachment ended, and its totals per probe id. */
export interface AttachSummary {
  /** The `detached` reason (`SIGTERM`, `targetExited`, `error`, …), or what ended the helper when it sent none. */
  reason: string;
  /** Per probe id, in plan order. */
  probes: ProbeSummary[];
  /**
   * The last aggregation report: the one the attacher sends at detach
   * (`final`), with every aggregation's values since the last `interval`
   * reset. Absent when the plan has no aggregation, or the attacher sent
   * no report (it failed).
   */
  aggregates?: AggregateSnapshot;
}

interface EntryTally {
  hits: number;
  lost: number;
  /** Points from the entry's `attached` status, when there was one. */
  attachedPoints: number | undefined;
  /** The whole entry failed (a `failed` status without a cookie). */
  entryFailed: boolean;
  /** Points that failed one by one. */
  failedCookies: Set<number>;
}

/** Accumulates one attachment's statuses and hits. */
export class SummaryTally {
  private readonly tallies: EntryTally[];
  /** The entry at each index: the plan's, then those added while running (`--follow`), none where one was removed. */
  private readonly probes: PlanProbe[];
  /** Probe ids in the order they first came, which the summary keeps. */
  private readonly order = new Set<string>();
  /** Hits and losses of entries removed while running, per probe id: they stay in the probe's totals. */
  private readonly removed = new Map<string, { hits: number; lost: number }>();
  private ready = false;
  /** Per probe id: hits its aggregations counted in reports that reset the maps (and the final one). */
  private readonly aggregated = new Map<string, number>();

  constructor(plan: AttachPlan) {
    this.probes = [...plan.probes];
    this.tallies = plan.probes.map(newTally);
    for (const probe of plan.probes) this.order.add(probe.id);
  }

  /** An entry added while running (the helper's `add`): tallied from now on, under its probe's id. */
  setEntry(index: number, probe: PlanProbe): void {
    this.probes[index] = probe;
    this.tallies[index] = newTally();
    this.order.add(probe.id);
  }

  /** An entry removed while running (the helper's `remove`): its hits and losses stay in its probe's totals, its index may be given again. */
  dropEntry(index: number): void {
    const probe = this.probes[index];
    const tally = this.tallies[index];
    if (probe === undefined || tally === undefined) return;
    const totals = this.removed.get(probe.id) ?? { hits: 0, lost: 0 };
    totals.hits += tally.hits;
    totals.lost += tally.lost;
    this.removed.set(probe.id, totals);
    delete this.probes[index];
    delete this.tallies[index];
  }

  /** One event of `entry` was received. */
  hit(entry: number): void {
    const tally = this.tallies[entry];
    if (tally !== undefined) tally.hits++;
  }

  /** Takes in a status message. */
  status(status: AttachStatus): void {
    switch (status.type) {
      case "attached": {
        const tally = this.tallies[Number(status.entry)];
        if (tally !== undefined && typeof status.points === "number") tally.attachedPoints = status.points;
        return;
      }
      case "failed": {
        const tally = this.tallies[Number(status.entry)];
        if (tally === undefined) return;
        if (typeof status.cookie === "number") tally.failedCookies.add(status.cookie);
        else tally.entryFailed = true;
        return;
      }
      case "lost": {
        const entries = status.entries;
        if (typeof entries !== "object" || entries === null) return;
        for (const [entry, count] of Object.entries(entries as Record<string, unknown>)) {
          const tally = this.tallies[Number(entry)];
          // Counts are cumulative: the latest replaces the one before.
          if (tally !== undefined && typeof count === "number") tally.lost = count;
        }
        return;
      }
      case "ready":
        this.ready = true;
        return;
      default:
        return;
    }
  }

  /**
   * Takes one aggregation report: its hits add to its probes' when the
   * report ends a span of them (an `interval` report, which resets the maps,
   * or the final one); a report asked for without reset is a look only.
   */
  report(snapshot: AggregateSnapshot): void {
    if (!snapshot.reset && !snapshot.final) return;
    for (const result of snapshot.results) {
      // Every hit updates each of the probe's aggregations: the first one counts them.
      if (result.index !== 0) continue;
      const hits = result.rows.reduce((n, row) => n + row.count, result.dropped);
      this.aggregated.set(result.probeId, (this.aggregated.get(result.probeId) ?? 0) + Number(hits));
    }
  }

  /** Points attached and failed for one entry, as far as the statuses so far tell. */
  points(entry: number): { attached: number; failed: number } {
    const tally = this.tallies[entry];
    const total = this.probes[entry]?.points.length ?? 0;
    if (tally === undefined) return { attached: 0, failed: 0 };
    if (tally.entryFailed) return { attached: 0, failed: total };
    const failed = tally.failedCookies.size;
    // `attached` comes only for entries whose every point attached; after `ready`, the rest of a partly failed entry is attached.
    const attached = tally.attachedPoints ?? (this.ready ? total - failed : 0);
    return { attached, failed };
  }

  /** The totals per probe id, in plan order (with the last aggregation report, when there was one). */
  summary(reason: string, aggregates?: AggregateSnapshot): AttachSummary {
    const byId = new Map<string, ProbeSummary>();
    for (const id of this.order) {
      const removed = this.removed.get(id);
      byId.set(id, { id, hits: removed?.hits ?? 0, lost: removed?.lost ?? 0, attached: 0, failed: 0 });
    }
    // forEach skips the indices of removed entries.
    this.probes.forEach((probe, entry) => {
      const probeSummary = byId.get(probe.id) as ProbeSummary;
      const tally = this.tallies[entry] as EntryTally;
      const points = this.points(entry);
      probeSummary.hits += tally.hits;
      probeSummary.lost += tally.lost;
      probeSummary.attached += points.attached;
      probeSummary.failed += points.failed;
    });
    for (const [id, hits] of this.aggregated) {
      const probeSummary = byId.get(id);
      if (probeSummary !== undefined) probeSummary.hits += hits;
    }
    return { reason, probes: [...byId.values()], ...(aggregates === undefined ? {} : { aggregates }) };
  }
}

function newTally(): EntryTally {
  return { hits: 0, lost: 0, attachedPoints: undefined, entryFailed: false, failedCookies: new Set() };
}
