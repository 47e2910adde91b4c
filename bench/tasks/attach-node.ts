/**
 * Task (h): attaching uprobes on every `uv_*` function of /usr/bin/node
 * (issue 5, "Speed": at most 0.5 s; bpftrace 0.17 took 66 s when the issue
 * was written).
 *
 * The target is an idle `node` started for the task (`pid/N:exe:uv_*`, so
 * that the bench's own Node, which runs the same inode's uv_* code all the
 * time, produces no events). probec: `compile()` of that one probe, timed
 * on its own, then `attach(plan)` until `ready` (every point attached), in
 * the modes `multi` (one uprobe_multi link for all points) and `pmu` (one
 * perf event per point), 5 times each, detaching in between. bpftrace: the
 * issue's program, `uprobe:NODE:uv_* { @[probe] = count(); }`, plus the BEGIN
 * line that says it is ready; timed from spawn to "Attaching N probes..."
 * and to ready, once, capped at {@link BPFTRACE_CAP_MS}.
 */
import { spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { attach, type AttachMode, type AttachPlan } from "../../src/index.js";
import { quantile } from "../measure.js";
import { formatMs, printTask, type Row } from "../table.js";
import { compileTimed, messageOf, pointsOf, printSkipped, startBpftrace } from "./attach-support.js";

/** bpftrace is given this long to be ready (it took 66 s on this machine once). */
const BPFTRACE_CAP_MS = 180_000;
/**
 * Runs per mode. The PMU path's detach is slow (the kernel unregisters each
 * perf event's uprobe with its own RCU synchronisation: minutes for 546
 * points), so it is attached once.
 */
const RUNS: Record<AttachMode, number> = { auto: 5, multi: 5, pmu: 1, legacy: 1 };

/** One attach: milliseconds from attach(plan) to ready, then how the detach went. Rejects with the AttachError when it does not get ready. */
async function timeAttach(plan: AttachPlan, mode: AttachMode): Promise<{ ms: number; points: number; closeMs: number; closeFailure: string | undefined }> {
  const began = performance.now();
  const attachment = attach(plan, { mode });
  let ready: Awaited<typeof attachment.ready>;
  try {
    ready = await attachment.ready;
  } catch (error) {
    await attachment.close().catch(() => undefined);
    throw error;
  }
  const ms = performance.now() - began;
  const closing = performance.now();
  let closeFailure: string | undefined;
  await attachment.close().catch((error: unknown) => (closeFailure = messageOf(error, 1)));
  if (ready.failed > 0)
    throw new Error(`${ready.failed} entries failed: ${JSON.stringify(attachment.statuses.filter((s) => s.type === "failed").slice(0, 2))}`);
  return { ms, points: ready.points, closeMs: performance.now() - closing, closeFailure };
}

/** Task (h). */
export async function attachNodeTask(print: (line: string) => void): Promise<void> {
  const node = realpathSync("/usr/bin/node");
  const title = `(h) attach uprobes on every uv_* function of ${node}`;
  // An idle node to attach to: it runs nothing, so no event disturbs the timing.
  const idle = spawn(node, ["-e", "setInterval(() => {}, 1 << 30)"], { stdio: "ignore" });
  try {
    await new Promise((r) => setTimeout(r, 200));
    if (idle.pid === undefined || idle.exitCode !== null) return printSkipped(print, title, "could not start an idle node to attach to");
    let compiled: { plan: AttachPlan; ms: number };
    try {
      compiled = await compileTimed(`uprobe pid/${idle.pid}:exe:uv_* {\n  count\n}\n`);
    } catch (error) {
      return printSkipped(print, title, messageOf(error));
    }
    const functions = pointsOf(compiled.plan);
    const rows: Row[] = [
      {
        tool: "probec compile(), first call",
        scope: "in process",
        samples: [{ ms: compiled.ms, peakRssGrowth: undefined, bytesRead: undefined }],
        bytesHow: "n/a",
        answer: `${functions} points`,
      },
    ];
    const medians: Partial<Record<AttachMode, number>> = {};
    for (const mode of ["multi", "pmu"] as const) {
      const samples: Awaited<ReturnType<typeof timeAttach>>[] = [];
      let note: string | undefined;
      for (let i = 0; i < RUNS[mode]; i++) {
        try {
          samples.push(await timeAttach(compiled.plan, mode));
        } catch (error) {
          note = messageOf(error);
          break;
        }
      }
      const closeMs = quantile(
        samples.map((s) => s.closeMs),
        0.5,
      );
      const closeFailure = samples.find((s) => s.closeFailure !== undefined)?.closeFailure;
      medians[mode] =
        samples.length === 0
          ? undefined
          : quantile(
              samples.map((s) => s.ms),
              0.5,
            );
      rows.push({
        tool: `probec attach(plan) → ready, --mode ${mode}`,
        scope: "in process",
        samples: samples.map((s) => ({ ms: s.ms, peakRssGrowth: undefined, bytesRead: undefined })),
        bytesHow: "n/a",
        answer: samples.length === 0 ? "" : `${samples[0]?.points} points attached`,
        note:
          note ??
          (closeFailure !== undefined ? `detach: ${closeFailure}` : samples.length === 0 ? undefined : `detach (close() to exit): median ${formatMs(closeMs)}`),
      });
    }
    const bpftrace = startBpftrace(`BEGIN { printf("ready\\n"); } uprobe:${node}:uv_* { @[probe] = count(); }`, BPFTRACE_CAP_MS);
    const attaching = await bpftrace.attaching;
    const readyMs = await bpftrace.ready;
    const stopping = performance.now();
    await bpftrace.stop();
    const stopMs = performance.now() - stopping;
    const failure = bpftrace.failure();
    const probes = attaching === undefined ? "" : `${attaching.probes - 1} uv_* probes (+ BEGIN)`;
    rows.push({
      tool: 'bpftrace: spawn → "Attaching N probes"',
      scope: "whole process",
      samples: attaching === undefined ? [] : [{ ms: attaching.ms, peakRssGrowth: undefined, bytesRead: undefined }],
      bytesHow: "n/a",
      answer: probes,
      note: attaching === undefined ? failure : undefined,
    });
    rows.push({
      tool: 'bpftrace: "Attaching" → ready (BEGIN fired)',
      scope: "whole process",
      samples: readyMs === undefined || attaching === undefined ? [] : [{ ms: readyMs - attaching.ms, peakRssGrowth: undefined, bytesRead: undefined }],
      bytesHow: "n/a",
      answer: readyMs === undefined ? "" : `spawn → ready ${(readyMs / 1000).toFixed(1)} s`,
      note: failure ?? `detach (SIGINT to exit): ${formatMs(stopMs)}`,
    });
    printTask(print, `${title} (${functions} functions match)`, rows, [
      { what: "probec attach → ready, multi, median", value: medians.multi, limit: 500, unit: "ms" },
      { what: "probec attach → ready, pmu, median", value: medians.pmu, limit: 500, unit: "ms" },
    ]);
  } finally {
    idle.kill("SIGKILL");
  }
}
