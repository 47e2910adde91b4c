/**
 * One attach session of `probec run` / `probec trace`: attach the plan,
 * print status lines (stderr), events (stdout) and aggregation reports
 * (stdout: every `interval`, and at exit) as they come, stop on
 * `--duration`, `--count`, an interrupt or the targets' exit, then print a
 * summary per probe (stderr) and write what `--folded`/`--flamegraph` ask.
 */
import { accessSync, constants as fsConstants } from "node:fs";
import { dirname } from "node:path";
import { AttachError, UsageError, attach, type AttachMode, type AttachPlan, type AttachStatus, type AttachSummary, type Attachment } from "../index.js";
import type { AggregateOutput } from "./aggregate-session.js";
import { JsonPrinter, TablePrinter, type EventPrinter } from "./event-output.js";
import { EXIT, type CliIo } from "./io.js";
import type { SessionMetrics } from "./metrics.js";
import { renderTable } from "./table.js";

/** What `run` and `trace` share. */
export interface SessionOptions {
  /** One JSON object per event instead of a table. */
  readonly json: boolean;
  /** Stop after this many seconds. */
  readonly duration: number | undefined;
  /** Stop after this many events. */
  readonly count: number | undefined;
  /** The attach mode (`--mode`). */
  readonly mode: AttachMode | undefined;
  /** No status lines. */
  readonly quiet: boolean;
  /** Keep running and attach the containers the scope names as they start (`--follow`, src/cli/follow-session.ts). */
  readonly follow?: boolean;
  /** Serve Prometheus metrics at http://ADDR/metrics (`--metrics ADDR`, src/metrics/). */
  readonly metrics?: string;
  /** `--folded`: print only the captured user stacks, folded, at exit. */
  readonly folded?: boolean;
  /** `--flamegraph FILE`: write a flame graph SVG of the captured user stacks at exit. */
  readonly flamegraph?: string | undefined;
}

/**
 * The printer of aggregations and stacks, when the plan has any (loaded
 * only then). Throws a UsageError when `--folded`/`--flamegraph` are asked
 * of a plan that captures no stack, or the flame graph's directory cannot
 * be written to.
 */
export async function aggregateOutput(plan: AttachPlan, options: SessionOptions, io: CliIo, what: string): Promise<AggregateOutput | undefined> {
  const stacksWanted = options.folded === true || options.flamegraph !== undefined;
  if (options.flamegraph !== undefined) {
    try {
      accessSync(dirname(options.flamegraph), fsConstants.W_OK);
    } catch (error) {
      throw new UsageError(`--flamegraph ${options.flamegraph}: its directory cannot be written to (${(error as NodeJS.ErrnoException).code})`, [
        "name a file in a directory you can write to",
      ]);
    }
  }
  const { AggregateOutput } = await import("./aggregate-session.js");
  if (!AggregateOutput.wanted(plan) && !stacksWanted) return undefined;
  if (stacksWanted && !AggregateOutput.capturesStacks(plan))
    throw new UsageError(`${options.folded === true ? "--folded" : "--flamegraph"}: no probe of ${what} captures a user stack`, [
      "capture one: a ustack field (uprobe …:malloc { stack = ustack }) or count by ustack",
    ]);
  return new AggregateOutput(plan, { json: options.json, folded: options.folded === true, flamegraph: options.flamegraph }, io);
}

/** Runs `plan` until it is stopped; returns the exit code. Attach failures are thrown as `AttachError`s for the reporter. */
export async function runSession(plan: AttachPlan, options: SessionOptions, io: CliIo, what = "the plan"): Promise<number> {
  // CLOCK_MONOTONIC, the clock of the events' timestamps: rows show seconds since the command started.
  const startNs = process.hrtime.bigint();
  const status = (line: string): void => {
    if (!options.quiet) io.stderr.write(`probec: ${line}\n`);
  };
  if (options.count !== undefined && plan.probes.length > 0 && plan.probes.every((p) => (p.program?.aggregates.length ?? 0) > 0))
    throw new UsageError(`--count ${options.count}: every probe of ${what} aggregates in the kernel and sends no events to count`, [
      "stop it with --duration SECONDS or Ctrl-C: the aggregations print then",
    ]);
  // Loaded only for plans that aggregate or capture stacks; before attaching, so that a bad --folded is a usage error.
  const output = await aggregateOutput(plan, options, io, what);
  // --metrics listens before anything is attached (a bad ADDR is an error, exit 2, not a session without metrics), and after
  // the usage checks above, which would otherwise leave it listening.
  const metrics = options.metrics === undefined ? undefined : await (await import("./metrics.js")).startMetrics(options.metrics, status);
  const attachment = attach(plan, { ...(options.mode === undefined ? {} : { mode: options.mode }), onWarning: status });
  metrics?.watch(attachment, plan);
  const lost = { reported: 0 };
  attachment.onStatus((s) => statusLine(plan, s, status, lost));
  if (output !== undefined) attachment.onAggregates((snapshot) => output.snapshot(snapshot));

  let stopReason: string | undefined;
  const stop = (reason: string): void => {
    stopReason ??= reason;
    void attachment.close().catch(() => undefined);
  };
  const onAbort = (): void => stop("interrupted");
  io.signal?.addEventListener("abort", onAbort, { once: true });
  if (io.signal?.aborted === true) onAbort();
  let timer: NodeJS.Timeout | undefined;
  try {
    const ready = await attachment.ready.catch((error: unknown) => {
      // Interrupted while attaching: the helper detached before `ready`; that is a stop, not a failure.
      if (stopReason === undefined) throw error;
      return undefined;
    });
    if (ready === undefined) return finish(attachment, stopReason, startNs, io, output, status);
    if (ready.attached === 0) {
      await attachment.close().catch(() => undefined);
      const entries = `${ready.failed} entr${ready.failed === 1 ? "y" : "ies"}`;
      throw new AttachError(
        `no probe could be attached (${entries} failed${options.quiet ? "" : "; the reasons are above"})`,
        options.quiet ? ["run without -q to see each failure's reason"] : [],
      );
    }
    const binaries = binariesAttached(plan, attachment.statuses);
    const failed = ready.failed > 0 ? `; ${ready.failed} entr${ready.failed === 1 ? "y" : "ies"} failed` : "";
    status(
      `attached ${ready.points} point${ready.points === 1 ? "" : "s"} on ${binaries} binar${binaries === 1 ? "y" : "ies"}${failed}${lineSemaphoreNote(plan)}${stopHint(options, stopReason !== undefined)}`,
    );
    if (options.duration !== undefined) timer = setTimeout(() => stop(`--duration ${options.duration} s reached`), options.duration * 1000);
    await stream(plan, attachment, options, io, startNs, () => stop(`--count ${options.count} reached`), metrics, output);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    io.signal?.removeEventListener("abort", onAbort);
    await metrics?.close();
  }
  return finish(attachment, stopReason, startNs, io, output, status);
}

/** Detaches (if the helper has not already), prints the summary and writes the stacks asked for. */
async function finish(
  attachment: Attachment,
  stopReason: string | undefined,
  startNs: bigint,
  io: CliIo,
  output: AggregateOutput | undefined,
  status: (line: string) => void,
): Promise<number> {
  // The final report comes before the helper's `detached`: it is printed by the time close() resolves.
  const summary = await attachment.close();
  printSummary(summary, stopReason, process.hrtime.bigint() - startNs, io);
  const written = output?.finish();
  if (written !== undefined) status(written);
  return EXIT.ok;
}

/** Prints events until the attachment ends (or `--count` is reached, when it calls `stopAtCount`). */
async function stream(
  plan: AttachPlan,
  attachment: Attachment,
  options: SessionOptions,
  io: CliIo,
  startNs: bigint,
  stopAtCount: () => void,
  metrics: SessionMetrics | undefined,
  output: AggregateOutput | undefined,
): Promise<void> {
  const printer: EventPrinter = options.json ? new JsonPrinter() : new TablePrinter(plan, startNs);
  let seen = 0;
  for await (const event of attachment) {
    metrics?.event(event);
    if (options.count !== undefined && seen >= options.count) continue; // queued before the stop: not wanted
    seen++;
    if (output?.event(event) !== true) io.stdout.write(printer.print(event));
    if (options.count !== undefined && seen === options.count) stopAtCount();
  }
}

/** A status as a line on stderr: failures with their reasons, targets that exited, losses. */
function statusLine(plan: AttachPlan, s: AttachStatus, status: (line: string) => void, lost: { reported: number }): void {
  const probeOf = (entry: unknown): string => {
    const p = plan.probes[Number(entry)];
    return p === undefined ? `entry ${String(entry)}` : `${p.id} (${p.target.spec})`;
  };
  switch (s.type) {
    case "failed":
      status(
        `${probeOf(s.entry)}: not attached${typeof s.cookie === "number" ? ` at cookie ${s.cookie}` : ""}: ${String(s.reason)}${typeof s.errno === "string" ? ` (${s.errno})` : ""}`,
      );
      return;
    case "targetExited":
      status(`every target process exited${Array.isArray(s.pids) ? ` (${s.pids.join(", ")})` : ""}`);
      return;
    case "lost": {
      // The helper repeats its cumulative counts every second: say so only when they grew.
      const total = Object.values((s.entries ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0);
      if (total <= lost.reported) return;
      lost.reported = total;
      status(`${total} event${total === 1 ? "" : "s"} lost so far (the kernel's ring buffer was full: the output could not keep up)`);
      return;
    }
    default:
      return;
  }
}

/** Distinct binaries (device and inode) among the attached entries. */
function binariesAttached(plan: AttachPlan, statuses: readonly AttachStatus[]): number {
  const binaries = new Set<string>();
  for (const s of statuses) {
    if (s.type !== "attached") continue;
    const b = plan.probes[Number(s.entry)]?.binary;
    if (b !== undefined) binaries.add(`${b.dev}:${b.ino}`);
  }
  return binaries.size;
}

/**
 * The entries the compiler added so that CPython 3.11 fires its
 * function__entry (src/compile/cpython-tracing.ts names them `<probe>.python-line`):
 * said on the status line, since they slow every traced line down.
 */
function lineSemaphoreNote(plan: AttachPlan): string {
  const silent = plan.probes.filter((p) => p.id.endsWith(".python-line")).length;
  if (silent === 0) return "";
  return `; python:line's semaphore raised in ${silent} binar${silent === 1 ? "y" : "ies"} so that CPython 3.11 fires function__entry (no line events reported)`;
}

function stopHint(options: SessionOptions, stopping: boolean): string {
  if (stopping) return "";
  if (options.duration !== undefined) return `; tracing for ${options.duration} s`;
  if (options.count !== undefined) return `; until ${options.count} event${options.count === 1 ? "" : "s"}`;
  return "; Ctrl-C to stop";
}

/** Per probe: hits and lost events, on stderr. */
function printSummary(summary: AttachSummary, stopReason: string | undefined, elapsedNs: bigint, io: CliIo): void {
  const why = stopReason ?? (summary.reason === "targetExited" ? "the target exited" : `the helper detached (${summary.reason})`);
  io.stderr.write(`probec: stopped after ${(Number(elapsedNs) / 1e9).toFixed(1)} s: ${why}\n`);
  io.stderr.write(
    renderTable(
      [{ header: "PROBE" }, { header: "HITS", align: "right" }, { header: "LOST", align: "right" }],
      summary.probes.map((p) => [p.id, String(p.hits), String(p.lost)]),
    ),
  );
}
