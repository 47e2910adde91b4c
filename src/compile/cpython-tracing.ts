/**
 * Makes CPython 3.11's function__entry fire (PITFALLS 34, issue 10): for a
 * planned entry whose binary needs it (src/locate/cpython.ts says which and
 * why), one more entry on `python:line` whose only job is to raise that
 * probe's semaphore while the session runs. Its program's filter is the
 * constant 0, so the BPF program drops every line event before reading an
 * argument or reserving ring-buffer space, and it carries no field: it
 * never reports. Its `specText` says what it is for, so the plan says so.
 *
 * Pure: everything comes from the resolution and the planned entries.
 */
import type { TargetResolution } from "../discovery/resolve-target.js";
import type { CpythonTracing } from "../locate/cpython.js";
import { usdtPoint } from "./from-resolution.js";
import type { AttachPoint, PlanProbe } from "./plan.js";

/** The id suffix of an entry that only raises `python:line`'s semaphore. */
export const LINE_SEMAPHORE_SUFFIX = ".python-line";

/** What {@link lineSemaphoreEntries} adds for one target. */
export interface LineSemaphoreEntries {
  readonly entries: PlanProbe[];
  /** The reason of each binary that needed one, for a warning. */
  readonly reasons: string[];
}

/**
 * One silent `python:line` entry per entry of `planned` (the entries of
 * `resolution`'s groups, in order) whose group needs CPython's tracing
 * semaphore; cookies from `firstCookie` on. `seen` (binary and filter keys)
 * is shared across a compile so that one binary in one scope gets one such
 * entry however many probes ask.
 */
export function lineSemaphoreEntries(
  resolution: TargetResolution,
  planned: readonly PlanProbe[],
  firstCookie: number,
  seen: Set<string>,
): LineSemaphoreEntries {
  const entries: PlanProbe[] = [];
  const reasons: string[] = [];
  let cookie = firstCookie;
  resolution.groups.forEach((group, i) => {
    const tracing: CpythonTracing | undefined = group.cpythonTracing;
    const entry = planned[i];
    if (tracing === undefined || entry === undefined) return;
    reasons.push(tracing.reason);
    const key = `${entry.binary.dev}/${entry.binary.ino}/${entry.binary.size}/${JSON.stringify(entry.filter)}/${entry.strategy}`;
    if (seen.has(key)) return;
    seen.add(key);
    const points: AttachPoint[] = tracing.lineSites.map((site) => usdtPoint(site, cookie++));
    entries.push({
      ...entry,
      id: `${entry.id}${LINE_SEMAPHORE_SUFFIX}`,
      kind: "usdt",
      specText: `usdt ${entry.target.spec.replace(/:[^:]+:[^:]+$/, ":python:line")}: raises python:line's semaphore for ${entry.id} and reports nothing (CPython ${tracing.version} fires function__entry only while tracing is on)`,
      points,
      program: { fields: [], filter: { op: "int", value: "0" }, format: null, aggregates: [], strlen: entry.program?.strlen ?? 64 },
    });
  });
  return { entries, reasons: [...new Set(reasons)] };
}
