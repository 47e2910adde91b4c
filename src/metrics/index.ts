/**
 * `--metrics ADDR` (issue 14): a session's probes as Prometheus counters,
 * served over HTTP with prom-client. Loaded only when the option is given.
 */
export { parseMetricsAddress, type MetricsAddress } from "./address.js";
export { FIXED_LABELS, keyLabelNames, sanitizeLabelName } from "./label-names.js";
export { ProbeMetrics, type ProbeMetricsOptions } from "./probe-metrics.js";
export { serveMetrics, type MetricsServer } from "./server.js";
export { startSessionMetrics, type SessionMetrics } from "./session.js";
