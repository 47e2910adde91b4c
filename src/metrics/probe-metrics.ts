/**
 * What `--metrics` exposes, kept as Prometheus counters (prom-client):
 *
 * - `probec_hits_total{probe}`: hits per probe: events received for a
 *   printing probe, hits the kernel aggregated for an aggregating one;
 * - `probec_lost_total{probe}`: events the kernel could not hand over (the
 *   helper's cumulative `lost` counts, per entry, summed per probe);
 * - `probec_count_total{probe, namespace, pod, container, KEY…}`: each
 *   `count [by KEY, …]` probe per key, from the kernel's aggregation
 *   reports (issue 15); the key names follow label-names.ts;
 * - `probec_dropped_total{probe}`: hits whose key the kernel's aggregation
 *   map had no room for (not in the counts; `option mapkeys` raises it);
 * - Node's process metrics (`process_*`, `nodejs_*`), unless turned off.
 *
 * Aggregation reports carry values since the kernel maps were last reset:
 * a periodic report (`interval N`) resets them, one asked for by the
 * scrape (`reset: false`) does not. So each series is `base + current`:
 * a resetting report is added to `base`, a non-resetting one replaces
 * `current`; the counter then only grows, as Prometheus expects.
 */
import { collectDefaultMetrics, Counter, Registry } from "prom-client";
import type { AggregateKeyValue, AggregateResult, AggregateSnapshot } from "../attach/aggregate-types.js";
import type { ProbeEvent } from "../attach/events.js";
import type { AttachPlan } from "../plan/index.js";
import { FIXED_LABELS, keyLabelNames } from "./label-names.js";

/** Options of {@link ProbeMetrics}. */
export interface ProbeMetricsOptions {
  /** Node's own process metrics (CPU, memory, event loop): default true. */
  readonly processMetrics?: boolean;
}

type Labels = Record<string, string>;

/** One series whose value is what resetting reports added up, plus what the latest report since holds. */
interface Series {
  readonly labels: Labels;
  base: number;
  current: number;
  /** Its value in the report being taken. */
  reported: number;
}

/** The metrics of one session; feed it events, statuses and aggregation reports, render it on scrape. */
export class ProbeMetrics {
  readonly registry = new Registry();
  private readonly hits = new Counter({
    name: "probec_hits_total",
    help: "Hits of each probe: events received, or hits the kernel aggregated",
    labelNames: ["probe"],
    registers: [],
  });
  private readonly lost = new Counter({
    name: "probec_lost_total",
    help: "Events of each probe the kernel could not hand over (its ring buffer was full)",
    labelNames: ["probe"],
    registers: [],
  });
  private readonly dropped = new Counter({
    name: "probec_dropped_total",
    help: "Hits of each aggregating probe whose key did not fit in the kernel's aggregation map (not in probec_count_total; option mapkeys raises it)",
    labelNames: ["probe"],
    registers: [],
  });
  private counts: Counter | undefined;
  /** The label names {@link counts} was made with. */
  private countLabelNames = 0;
  /** Probe ids in the order they were first seen (plan order when a plan was described). */
  private readonly probes = new Set<string>();
  private readonly eventHits = new Map<string, number>();
  /** Per (probe, aggregate index): its hits (rows + dropped). */
  private readonly aggregateHits = new Map<string, Series & { probe: string }>();
  private readonly droppedSeries = new Map<string, Series & { probe: string }>();
  private readonly countSeries = new Map<string, Series>();
  /** Entry → probe id: from the plan, else learnt from the entry's events (entries `--follow` added). */
  private readonly entryProbes = new Map<number, string>();
  /** Entry → its cumulative lost count, as the helper last reported it. */
  private readonly lostByEntry = new Map<number, number>();
  /** Per probe: losses of entries since removed. */
  private readonly lostBefore = new Map<string, number>();
  private lastSeq = 0;
  /** A pod's container, by the name (else id) a `container` key reports: its namespace and pod, for the count labels. */
  private readonly pods = new Map<string, { readonly namespace: string; readonly name: string }>();

  constructor(options: ProbeMetricsOptions = {}) {
    for (const metric of [this.hits, this.lost, this.dropped]) this.registry.registerMetric(metric);
    // The event-loop lag monitor samples once a second, not every 10 ms (its default): at 10 ms it woke the idle agent 100 times a
    // second, which was most of its CPU (bench task (t): 50 followed containers, 20 → 410 ms of CPU a minute).
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1000 });
  }

  /**
   * Learns a plan's probes (each shown with 0 hits from now on) and the
   * pods of its containers; with `entries`, also which probe each of its
   * entries is (false for a plan whose entries are not the attachment's,
   * as `--follow`'s per-container plans).
   */
  describe(plan: AttachPlan, entries = true): void {
    plan.probes.forEach((probe, entry) => {
      this.probes.add(probe.id);
      if (entries && !this.entryProbes.has(entry)) this.entryProbes.set(entry, probe.id);
      const t = probe.target;
      for (const c of [{ containerId: t.containerId, containerName: t.containerName, pod: t.pod }, ...(t.containers ?? [])])
        if (c.pod !== undefined && c.containerId !== null) this.pods.set(c.containerName ?? c.containerId, c.pod);
    });
  }

  /** One event received. */
  event(event: ProbeEvent): void {
    this.probes.add(event.probeId);
    this.entryProbes.set(event.entry, event.probeId);
    if (event.pod !== undefined && event.container !== null) this.pods.set(event.container, event.pod);
    this.eventHits.set(event.probeId, (this.eventHits.get(event.probeId) ?? 0) + 1);
  }

  /** A `lost` status: the helper's cumulative counts per entry. */
  lostCounts(entries: Readonly<Record<string, unknown>>): void {
    for (const [key, count] of Object.entries(entries)) {
      if (typeof count !== "number") continue;
      const entry = Number(key);
      // A count that falls is a new entry at a removed one's index (`--follow`): the removed one's losses are kept.
      const before = this.lostByEntry.get(entry) ?? 0;
      if (count < before) {
        const probe = this.probeOf(entry);
        this.lostBefore.set(probe, (this.lostBefore.get(probe) ?? 0) + before);
      }
      this.lostByEntry.set(entry, count);
    }
  }

  private probeOf(entry: number): string {
    return this.entryProbes.get(entry) ?? `entry ${entry}`;
  }

  /** One aggregation report; reports older than one already taken are ignored. */
  snapshot(snapshot: AggregateSnapshot): void {
    if (snapshot.seq <= this.lastSeq) return;
    this.lastSeq = snapshot.seq;
    for (const result of snapshot.results) this.takeResult(result);
    for (const map of [this.aggregateHits, this.droppedSeries, this.countSeries]) for (const series of map.values()) settle(series, snapshot.reset);
  }

  /** The Prometheus text exposition of everything so far. */
  async render(): Promise<string> {
    this.hits.reset();
    for (const probe of this.probes) this.hits.inc({ probe }, (this.eventHits.get(probe) ?? 0) + this.aggregatedHits(probe));
    this.lost.reset();
    const lost = new Map<string, number>(this.lostBefore);
    for (const [entry, count] of this.lostByEntry) {
      const probe = this.probeOf(entry);
      lost.set(probe, (lost.get(probe) ?? 0) + count);
    }
    for (const probe of this.probes) this.lost.inc({ probe }, lost.get(probe) ?? 0);
    for (const [probe, count] of lost) if (!this.probes.has(probe)) this.lost.inc({ probe }, count);
    this.dropped.reset();
    for (const s of this.droppedSeries.values()) this.dropped.inc({ probe: s.probe }, s.base + s.current);
    this.renderCounts();
    return this.registry.metrics();
  }

  /** The content type of {@link render}'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** A probe's aggregated hits: the largest of its aggregations' (each counts every hit that passed `where`, dropped or not). */
  private aggregatedHits(probe: string): number {
    let most = 0;
    for (const s of this.aggregateHits.values()) if (s.probe === probe) most = Math.max(most, s.base + s.current);
    return most;
  }

  private takeResult(result: AggregateResult): void {
    const probe = result.probeId;
    this.probes.add(probe);
    const id = `${probe}\u0000${result.index}`;
    const rowHits = result.rows.reduce((sum, r) => sum + Number(r.count), 0);
    add(this.aggregateHits, id, { probe }, rowHits + Number(result.dropped)).probe = probe;
    if (result.dropped > 0n || this.droppedSeries.has(id)) add(this.droppedSeries, id, { probe }, Number(result.dropped)).probe = probe;
    if (result.fn !== "count") return;
    const names = keyLabelNames(result.keyNames);
    for (const row of result.rows) {
      const labels: Labels = { probe };
      row.keys.forEach((key, i) => {
        const name = names[i] ?? `key_${i}`;
        Object.assign(labels, keyLabels(name, key));
        const pod = name === "container" && typeof key === "string" ? this.pods.get(key) : undefined;
        if (pod !== undefined) Object.assign(labels, { namespace: pod.namespace, pod: pod.name });
      });
      add(this.countSeries, JSON.stringify([probe, result.index, labels]), labels, Number(row.count));
    }
  }

  /** `probec_count_total`, its label names the union of every count probe's (a series leaves out those it lacks). */
  private renderCounts(): void {
    if (this.countSeries.size === 0) return;
    const names = new Set<string>(FIXED_LABELS);
    for (const s of this.countSeries.values()) for (const name of Object.keys(s.labels)) names.add(name);
    if (this.counts === undefined || names.size !== this.countLabelNames) {
      if (this.counts !== undefined) this.registry.removeSingleMetric("probec_count_total");
      this.countLabelNames = names.size;
      this.counts = new Counter({
        name: "probec_count_total",
        help: "Hits of each count probe per key, as the kernel counted them",
        labelNames: [...names],
        registers: [this.registry],
      });
    }
    this.counts.reset();
    for (const s of this.countSeries.values()) this.counts.inc(s.labels, s.base + s.current);
  }
}

/** Adds a report's value to a series: to its base when the report reset the maps, else as its current value. */
/** Notes a series' value in the report being taken (a series the report leaves out has 0). */
function add<S extends Series>(map: Map<string, S>, id: string, labels: Labels, value: number): S {
  let series = map.get(id);
  if (series === undefined) {
    series = { labels, base: 0, current: 0, reported: 0 } as S;
    map.set(id, series);
  }
  series.reported += value;
  return series;
}

/**
 * Takes a series' value in a whole report. Every report holds the hits
 * since the last reset: a resetting one is added to `base` for good,
 * another replaces `current`. Less than `current` means entries went away
 * since (`--follow` removes a stopped container's entries, and the kernel
 * forgets their counts): what they had is kept in `base`. That is exact
 * for a series of one container (`count by container`, or one container
 * followed); for a series merged over several, the others' hits up to the
 * last report are then counted twice.
 */
function settle(series: Series, reset: boolean): void {
  const value = series.reported;
  series.reported = 0;
  if (value < series.current) series.base += series.current;
  if (reset) {
    series.base += value;
    series.current = 0;
  } else series.current = value;
}

/**
 * The labels of one key value: integers in decimal, strings as they are, a
 * key whose read faulted `(fault)` (as the CLI prints it), a stack as its
 * frames outermost first joined by `;` (the folded format). The key
 * `container` is named `container` by keyLabelNames; a pod's container
 * also gets `namespace` and `pod` (from the plans and events seen).
 */
function keyLabels(name: string, key: AggregateKeyValue): Labels {
  if (key === null) return { [name]: "(fault)" };
  if (typeof key === "bigint") return { [name]: key.toString() };
  if (typeof key === "string") return { [name]: key };
  return { [name]: [...key.frames].reverse().join(";") };
}
