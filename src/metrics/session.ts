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
   * (`Following.shape`). Such an attachment takes commands, so each scrape
   * of a shape with aggregations first asks it for a report without reset
   * (`report({ reset: false })`): the counts are those of the moment. A
   * plain attachment takes none, and its counts are those of its last
   * `interval` report (or the final one).
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
      if (typeof plan === "function") {
        let shape: AttachPlan | undefined;
        server.beforeScrape = async () => {
          if (shape === undefined && (shape = plan()) !== undefined) metrics.describe(shape, false);
          // The report also reaches onAggregates; the metrics take each report once (by its number).
          if (shape !== undefined && aggregates(shape)) metrics.snapshot(await attachment.report({ reset: false }));
        };
      } else if (plan !== undefined) metrics.describe(plan);
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
