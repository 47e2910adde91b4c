/**
 * `explainPlan(plan)`: for each attach point, how its path and offset were
 * derived, as text (`probec compile --explain`). Pure: everything comes from
 * the plan's provenance fields.
 *
 *     probe1 uprobe pid/42:libc:malloc (spec.probe:3:8), mount namespace 4026531841
 *       binary: libc → mapped → /usr/lib/x86_64-linux-gnu/libc.so.6 → fd: open /usr/lib/…/libc.so.6 in /proc/42/root
 *       code: c
 *       point #1 entry malloc@GLIBC_2.2.5: address 0xa0c50 → file offset 0xa0c50 (segment: address − 0x0); abi sysv
 *
 * A Go function's return side is one `return-instruction` point per return
 * instruction (never a kernel return probe, PITFALLS 29), each at that
 * instruction's address.
 *
 * An entry that aggregates says so, one line per aggregation with the index
 * its reports carry, and a plan with aggregations starts with how they are
 * kept and reported (issue 15):
 *
 *     aggregation: in the kernel, reported every 5 s and reset, and at exit; map of 10240 keys
 *     probe1 uprobe+ret pid/42:libc:getaddrinfo (…)
 *       …
 *       aggregate #0: hist(latency) by comm (no events: kept in the kernel)
 */
import { AGGREGATION_DEFAULTS, type AttachPlan, type AttachPoint, type PlanAggregation, type PlanProbe } from "./plan.js";

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

/** The explanation of every entry and point of `plan`, one line each, ending in a newline. */
export function explainPlan(plan: AttachPlan): string {
  const lines: string[] = [];
  if (plan.aggregation !== undefined || plan.probes.some((p) => (p.program?.aggregates.length ?? 0) > 0))
    lines.push(aggregationText(plan.aggregation ?? AGGREGATION_DEFAULTS, plan.aggregation === undefined));
  for (const entry of plan.probes) {
    lines.push(`${entry.id} ${entry.kind} ${entry.target.spec} (${entry.source.file}:${entry.source.line}:${entry.source.col}), ${scopeText(entry)}`);
    lines.push(`  binary: ${entry.binary.request} → ${entry.binary.how} → ${entry.binary.containerPath} → ${kernelText(entry)}`);
    for (const w of entry.binary.warnings) lines.push(`  warning: ${w}`);
    const code = entry.binary.code;
    if (code !== undefined) lines.push(`  code: ${code.language}${code.goVersion === null ? "" : ` (${code.goVersion})`}`);
    for (const point of entry.points) lines.push(`  ${pointText(point)}`);
    entry.program?.aggregates.forEach((a, i) => lines.push(`  aggregate #${i}: ${a.text} (no events: kept in the kernel)`));
  }
  return lines.map((l) => `${l}\n`).join("");
}

function aggregationText(a: PlanAggregation, defaulted: boolean): string {
  const when = a.intervalMs === null ? "reported at exit" : `reported every ${a.intervalMs / 1000} s and reset, and at exit`;
  return `aggregation: in the kernel, ${when}; map of ${a.mapKeys} keys${defaulted ? " (the defaults)" : ""}`;
}

function scopeText(entry: PlanProbe): string {
  const t = entry.target;
  const container = t.containerId === null ? "" : `container ${t.containerName ?? t.containerId.slice(0, 12)} (${t.containerId.slice(0, 12)}), `;
  const pids = t.processes.map((p) => p.pid);
  const procs =
    t.runtime === "host"
      ? "host scope"
      : `mount namespace ${t.mntNs}, pid${pids.length === 1 ? "" : "s"} ${pids.slice(0, 8).join(",")}${pids.length > 8 ? ",…" : ""}`;
  const filter = entry.filter === null ? "no filter" : `${entry.filter.kind} filter`;
  return `${t.runtime} ${container}${procs}; ${filter}`;
}

function kernelText(entry: PlanProbe): string {
  const b = entry.binary;
  switch (entry.strategy) {
    case "fd":
      return `fd: open ${b.kernelPath} in ${b.openRoot ?? "/"} and attach through /proc/self/fd/N`;
    case "root":
      return `root: ${b.kernelPath}`;
    case "layer":
      return `layer: ${b.kernelPath} (the overlay layer that holds it)`;
    case "map":
      return `map: ${b.kernelPath}`;
    case "host":
      return `host: ${b.kernelPath}`;
  }
}

function pointText(p: AttachPoint): string {
  const address = BigInt(p.site.address);
  const bias = address - BigInt(p.fileOffset);
  const segment = `segment: address ${bias >= 0n ? "−" : "+"} ${hex(bias >= 0n ? bias : -bias)}`;
  const paired = p.pairedWith === null ? "" : `, paired with #${p.pairedWith}`;
  const abi = p.abi === undefined ? "" : `; abi ${p.abi}`;
  if (p.site.kind === "symbol") {
    const name = p.site.version === null ? p.site.name : `${p.site.name}@${p.site.version}`;
    return `point #${p.cookie} ${p.side} ${name}: address ${p.site.address} → file offset ${hex(p.fileOffset)} (${segment})${paired}${abi}`;
  }
  const sem =
    p.site.semaphoreAddress === null
      ? "no semaphore"
      : `semaphore ${p.site.semaphoreAddress} → ref_ctr_offset ${p.refCtrOffset === null ? "none" : hex(p.refCtrOffset)}`;
  return `point #${p.cookie} ${p.side} usdt ${p.site.provider}:${p.site.name}: address ${p.site.address} → file offset ${hex(p.fileOffset)} (${segment}); ${sem}; ${p.site.args.length} args "${p.site.argsText}"`;
}
