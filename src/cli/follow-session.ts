/**
 * `probec run FILE --follow` / `probec trace … --follow`: the session of
 * attach-session.ts, kept running while the followed containers come and
 * go (src/follow/). Each change is a status line on stderr,
 * `+ docker/web-2 (3 points)` / `- docker/web-1 (exited)`, and with
 * `--json` also an object on stdout among the events
 * (`{"container":"attached","scope":"docker/web-2","id":…,"points":3}`), so
 * that one stream says which events came while what was attached.
 */
import { follow, type AttachPlan, type FollowChange, type Following } from "../index.js";
import type { PathStrategy } from "../index.js";
import type { AggregateOutput } from "./aggregate-session.js";
import { JsonPrinter, TablePrinter, type EventPrinter } from "./event-output.js";
import { EXIT, type CliIo } from "./io.js";
import type { SessionOptions } from "./attach-session.js";
import type { SessionMetrics } from "./metrics.js";
import { renderTable } from "./table.js";

/** Follows `source` until interrupted, `--duration` or `--count`; returns the exit code. */
export async function runFollowSession(
  source: string,
  file: string,
  options: SessionOptions & { strategy: PathStrategy | undefined },
  io: CliIo,
): Promise<number> {
  const startNs = process.hrtime.bigint();
  const status = (line: string): void => {
    if (!options.quiet) io.stderr.write(`probec: ${line}\n`);
  };
  const onChange = (change: FollowChange): void => {
    status(changeLine(change));
    if (options.json) io.stdout.write(`${JSON.stringify(changeObject(change))}\n`);
  };
  // --metrics listens before anything is attached: a bad ADDR is an error (exit 2), not a session without metrics.
  const metrics = options.metrics === undefined ? undefined : await (await import("./metrics.js")).startMetrics(options.metrics, status);
  const following = await follow(source, {
    file,
    onChange,
    // Each container's plan names its pod: the count labels of a `container` key take it (namespace, pod).
    ...(metrics === undefined ? {} : { onContainerPlan: (plan: AttachPlan) => metrics.metrics.describe(plan, false) }),
    ...(options.mode === undefined ? {} : { mode: options.mode }),
    ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
  }).catch(async (error: unknown) => {
    await metrics?.close();
    throw error;
  });
  metrics?.watch(following.attachment, () => following.shape);
  // The printer of aggregations and stacks takes its shape from the first container's plan, like the event printer.
  const { AggregateOutput } = await import("./aggregate-session.js");
  let output: AggregateOutput | undefined;
  const outputNow = (): AggregateOutput => {
    output ??= new AggregateOutput(
      following.shape ?? { planVersion: 2, probes: [] },
      { json: options.json, folded: options.folded === true, flamegraph: options.flamegraph },
      io,
    );
    return output;
  };
  following.attachment.onAggregates((snapshot) => outputNow().snapshot(snapshot));
  let stopReason: string | undefined;
  const stop = (reason: string): void => {
    stopReason ??= reason;
    void following.close().catch(() => undefined);
  };
  const onAbort = (): void => stop("interrupted");
  io.signal?.addEventListener("abort", onAbort, { once: true });
  if (io.signal?.aborted === true) onAbort();
  status(`following ${following.scope}${options.duration !== undefined ? `; for ${options.duration} s` : "; Ctrl-C to stop"}`);
  const timer = options.duration === undefined ? undefined : setTimeout(() => stop(`--duration ${options.duration} s reached`), options.duration * 1000);
  try {
    await stream(following, options, io, startNs, () => stop(`--count ${options.count} reached`), metrics, outputNow);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    io.signal?.removeEventListener("abort", onAbort);
    await metrics?.close();
  }
  const summary = await following.close();
  const why = stopReason ?? `the helper detached (${summary.reason})`;
  io.stderr.write(`probec: stopped after ${(Number(process.hrtime.bigint() - startNs) / 1e9).toFixed(1)} s: ${why}\n`);
  io.stderr.write(
    renderTable(
      [{ header: "PROBE" }, { header: "HITS", align: "right" }, { header: "LOST", align: "right" }],
      summary.probes.map((p) => [p.id, String(p.hits), String(p.lost)]),
    ),
  );
  const written = output?.finish();
  if (written !== undefined) status(written);
  return EXIT.ok;
}

/** The status line of a change. */
export function changeLine(change: FollowChange): string {
  switch (change.type) {
    case "attached":
      return `+ ${change.scope} (${change.points} point${change.points === 1 ? "" : "s"}${change.failed > 0 ? `; ${change.failed} entr${change.failed === 1 ? "y" : "ies"} failed` : ""})`;
    case "detached":
      return `- ${change.scope} (${change.reason})`;
    case "failed":
      return `! ${change.scope}: not attached: ${change.message}`;
    case "waiting":
    case "warning":
      return change.message;
  }
}

/** The `--json` object of a change. */
export function changeObject(change: FollowChange): Record<string, unknown> {
  const { type, ...rest } = change;
  return { container: type, ...rest };
}

/** Events as they come; the printer takes its shape from the first container's plan. */
async function stream(
  following: Following,
  options: SessionOptions,
  io: CliIo,
  startNs: bigint,
  stopAtCount: () => void,
  metrics: SessionMetrics | undefined,
  output: () => AggregateOutput,
): Promise<void> {
  let printer: EventPrinter | undefined;
  let seen = 0;
  for await (const event of following) {
    metrics?.event(event);
    if (options.count !== undefined && seen >= options.count) continue;
    seen++;
    printer ??= options.json ? new JsonPrinter() : new TablePrinter(following.shape as AttachPlan, startNs);
    if (!output().event(event)) io.stdout.write(printer.print(event));
    if (options.count !== undefined && seen === options.count) stopAtCount();
  }
}
