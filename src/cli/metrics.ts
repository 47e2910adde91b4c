/**
 * `--metrics ADDR` for `run` and `trace`: the sessions import this module
 * only when the option is given, so that prom-client and src/metrics/ are
 * never loaded (nor, in the bundle, evaluated) otherwise. It imports
 * src/metrics/ itself (its own row in docs/design.md's layer table), not
 * through cli/internal.ts: every command loads that file, and unbundled
 * (dist/src/cli, vitest) it evaluates everything it re-exports.
 */
import { startSessionMetrics, type SessionMetrics } from "../metrics/index.js";

export type { SessionMetrics };

/** Listens on ADDR and says where on the status line; a UsageError (exit 2) naming ADDR when it cannot. */
export async function startMetrics(address: string, status: (line: string) => void): Promise<SessionMetrics> {
  const metrics = await startSessionMetrics(address);
  status(`metrics at ${metrics.url}`);
  return metrics;
}
