/**
 * `--metrics` for one attach session: listens first (a bad address fails
 * before anything is attached), then is told about the attachment, whose
 * statuses it reads (lost counts), and about each event the session
 * consumes (hits). The session owns the event loop; this only watches.
 */
import type { Attachment } from "../attach/attach.js";
import type { ProbeEvent } from "../attach/events.js";
import type { AttachPlan } from "../plan/index.js";
import { parseMetricsAddress } from "./address.js";
import { ProbeMetrics, type ProbeMetricsOptions } from "./probe-metrics.js";
import { serveMetrics, type MetricsServer } from "./server.js";

/** The metrics of a session, served at {@link SessionMetrics.url}. */
export interface SessionMetrics {
  /** `http://HOST:PORT/metrics`. */
  readonly url: string;
  /** The counters behind it. */
  readonly metrics: ProbeMetrics;
  /**
   * Watches an attachment's statuses and aggregation reports. `plan` is
   * its plan (whose entries are the attachment's); or, for a `follow()`
   * attachment, a function giving the probes' shape once known
   * (`Following.shape`). Each scrape of a plan with aggregations first
   * asks the attachment for a report without reset (`report({ reset: false })`,
   * a command for a following attachment, a signal for a plain one): the
   * counts are those of the moment.
   */
  watch(attachment: Attachment, plan?: AttachPlan | (() => AttachPlan | undefined)): void;
  /** Learns a plan's probes (each shown from then on, with 0 hits until it has some). */
  describe(plan: AttachPlan): void;
  /** Counts one event the session received. */
  event(event: ProbeEvent): void;
  /** Stops serving. */
  close(): Promise<void>;
}

/**
 * Parses ADDR and listens on it; rejects with a UsageError naming ADDR when
 * it is malformed or cannot be listened on (port in use, not an address of
 * this machine).
 */
export async function startSessionMetrics(addressText: string, options: ProbeMetricsOptions = {}): Promise<SessionMetrics> {
  const address = parseMetricsAddress(addressText);
  const metrics = new ProbeMetrics(options);
  const server: MetricsServer = await serveMetrics(address, metrics);
  return {
    url: server.url,
    metrics,
    watch(attachment, plan) {
      attachment.onAggregates((snapshot) => metrics.snapshot(snapshot));
      let shape: AttachPlan | undefined = typeof plan === "function" ? undefined : plan;
      if (shape !== undefined) metrics.describe(shape);
      server.beforeScrape = async () => {
        if (shape === undefined && typeof plan === "function" && (shape = plan()) !== undefined) metrics.describe(shape, false);
        // The report also reaches onAggregates; the metrics take each report once (by its number).
        if (shape !== undefined && aggregates(shape)) metrics.snapshot(await attachment.report({ reset: false }));
      };
      const onStatus = (status: { type: string; entries?: unknown }): void => {
        if (status.type === "lost" && typeof status.entries === "object" && status.entries !== null)
          metrics.lostCounts(status.entries as Record<string, unknown>);
      };
      for (const status of attachment.statuses) onStatus(status);
      attachment.onStatus(onStatus);
    },
    describe: (plan) => metrics.describe(plan),
    event: (event) => metrics.event(event),
    close: () => server.close(),
  };
}

/** True when some probe of the plan aggregates in the kernel. */
function aggregates(plan: AttachPlan): boolean {
  return plan.probes.some((p) => (p.program?.aggregates.length ?? 0) > 0);
}
