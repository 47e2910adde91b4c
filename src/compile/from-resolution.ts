/**
 * A resolved target → AttachPlan entries, and the plan-wide passes that
 * need every entry at once (semaphore merging, limits).
 *
 * Pure: everything comes from the {@link TargetResolution} the resolver
 * returned, so the same resolution always gives the same entries (no
 * clock, no /proc, no randomness).
 */
import { usdtArgToJson } from "../usdt/json.js";
import { hex } from "../elf/fields.js";
import type { FoundSymbol } from "../elf/find-symbol.js";
import { InternalError, LimitError, UsageError } from "../errors.js";
import type { ObjectGroup, TargetResolution } from "../discovery/resolve-target.js";
import type { ScopeContainer } from "../discovery/scope.js";
import type { FunctionCode } from "../locate/code.js";
import { functionPoints } from "./go-returns.js";
import type { UsdtSite } from "../usdt/notes.js";
import {
  PLAN_LIMITS,
  PLAN_VERSION,
  type AttachPlan,
  type AttachPoint,
  type PathStrategy,
  type PlanBinary,
  type PlanFilter,
  type PlanProbe,
  type PlanTarget,
  type ProbeKind,
  type SourceLocation,
} from "./plan.js";

/** The probe a resolution is planned for. */
export interface ProbeRequest {
  /** The probe's id in the spec. */
  readonly id: string;
  readonly kind: ProbeKind;
  /** The probe's text as written. */
  readonly specText: string;
  readonly source: SourceLocation;
  readonly strategy: PathStrategy;
}

/** Options for {@link planProbesFromResolution}. */
export interface PlanOptions {
  /** The first cookie to hand out (default 1; 0 is never used). The compiler passes one past the last cookie of earlier probes. */
  readonly firstCookie?: number;
}

/**
 * One {@link PlanProbe} per mount-namespace group of `resolution`, with
 * points numbered by cookie from `options.firstCookie` in resolution order.
 *
 * @throws UsageError when the probe kind does not fit the location (a USDT
 *   probe on a function, a uprobe on `provider:name`), when the resolution
 *   has no location, or when the strategy's path is not available (e.g.
 *   `layer` on a root that is not an overlay); the message names the
 *   strategy and the hint names the ones that would work.
 * @throws LimitError naming the limit when a {@link PLAN_LIMITS} limit is exceeded.
 */
export function planProbesFromResolution(resolution: TargetResolution, probe: ProbeRequest, options: PlanOptions = {}): PlanProbe[] {
  let cookie = options.firstCookie ?? 1;
  if (!Number.isSafeInteger(cookie) || cookie < 1) throw new UsageError(`firstCookie must be a positive integer, not ${cookie}`);
  const scopeFilter = resolution.scope.containers === undefined ? filterOf(resolution, probe) : null;
  const entries: PlanProbe[] = [];
  // A selector scope (docker/app=web): the containers that run one binary share one entry, filtered in the kernel to their mount namespaces.
  const buckets = resolution.scope.containers === undefined ? resolution.groups.map((g) => [g]) : sameBinary(resolution.groups);
  for (const bucket of buckets) {
    const group = bucket[0] as ObjectGroup;
    const filter = resolution.scope.containers === undefined ? scopeFilter : selectedFilter(resolution, bucket);
    const points: AttachPoint[] = [];
    for (const site of sitesOf(resolution, group, probe)) {
      if (site.kind === "usdt") {
        points.push(usdtPoint(site.site, cookie++));
        continue;
      }
      const where = symbolSite(site.symbol);
      const abi = site.code?.abi === undefined ? {} : { abi: site.code.abi };
      if (group.code?.language === "go") {
        // Go: no kernel return probe, ever (PITFALLS 29); a uprobe on each return instruction instead.
        const planned = functionPoints(site.symbol, site.code, probe.kind, cookie, `probe ${probe.id}: ${resolution.spec.text}`);
        points.push(...planned.points);
        cookie = planned.nextCookie;
        continue;
      }
      if (probe.kind === "uprobe+ret") {
        const entry = cookie++;
        const ret = cookie++;
        points.push({ cookie: entry, side: "entry", ...abi, fileOffset: site.symbol.fileOffset, refCtrOffset: null, pairedWith: ret, site: where });
        points.push({ cookie: ret, side: "return", ...abi, fileOffset: site.symbol.fileOffset, refCtrOffset: null, pairedWith: entry, site: where });
      } else {
        points.push({
          cookie: cookie++,
          side: probe.kind === "uretprobe" ? "return" : "entry",
          ...abi,
          fileOffset: site.symbol.fileOffset,
          refCtrOffset: null,
          pairedWith: null,
          site: where,
        });
      }
    }
    const entry: PlanProbe = {
      id: probe.id,
      kind: probe.kind,
      specText: probe.specText,
      source: { file: probe.source.file, line: probe.source.line, col: probe.source.col },
      strategy: probe.strategy,
      target: targetOf(resolution, group, bucket),
      binary: binaryOf(resolution, group, probe),
      points,
      filter,
    };
    checkProbeLimits(entry);
    entries.push(entry);
  }
  return entries;
}

/** Wraps entries into a versioned plan, checking the plan-wide limits and that cookies are unique. */
export function assemblePlan(probes: readonly PlanProbe[]): AttachPlan {
  const total = probes.reduce((n, p) => n + p.points.length, 0);
  if (total > PLAN_LIMITS.maxPointsPerPlan) {
    throw new LimitError(`the plan has ${total} attach points, more than maxPointsPerPlan (${PLAN_LIMITS.maxPointsPerPlan})`);
  }
  const seen = new Set<number>();
  for (const p of probes) {
    for (const point of p.points) {
      if (seen.has(point.cookie))
        throw new UsageError(`probe ${p.id}: cookie ${point.cookie} is used twice in the plan`, [
          "number each probe from firstCookie = one past the previous probe's last cookie",
        ]);
      seen.add(point.cookie);
    }
  }
  return { planVersion: PLAN_VERSION, probes: [...probes] };
}

/** Throws a {@link LimitError} naming the first per-probe limit `entry` exceeds. */
export function checkProbeLimits(entry: PlanProbe): void {
  const name = `probe ${entry.id} (${entry.target.spec})`;
  if (entry.points.length > PLAN_LIMITS.maxPointsPerProbe) {
    throw new LimitError(`${name}: ${entry.points.length} attach points, more than maxPointsPerProbe (${PLAN_LIMITS.maxPointsPerProbe}); narrow the glob`);
  }
  for (const point of entry.points) {
    if (point.site.kind === "usdt" && point.site.args.length > PLAN_LIMITS.maxUsdtArgs) {
      throw new LimitError(
        `${name}: ${point.site.provider}:${point.site.name} has ${point.site.args.length} arguments, more than maxUsdtArgs (${PLAN_LIMITS.maxUsdtArgs})`,
      );
    }
  }
  if (entry.filter !== null && entry.filter.pids.length > PLAN_LIMITS.maxFilterPids) {
    throw new LimitError(`${name}: ${entry.filter.pids.length} processes to filter on, more than maxFilterPids (${PLAN_LIMITS.maxFilterPids})`);
  }
}

type Site = { kind: "usdt"; site: UsdtSite } | { kind: "symbol"; symbol: FoundSymbol; code: FunctionCode | undefined };

function sitesOf(resolution: TargetResolution, group: ObjectGroup, probe: ProbeRequest): Site[] {
  const where = `probe ${probe.id}: ${resolution.spec.text}`;
  if (probe.kind === "usdt") {
    if (group.usdt === undefined) {
      throw new UsageError(`${where}: a usdt probe needs a provider:name location`, [
        `write ${resolution.spec.location === undefined ? resolution.spec.text : resolution.spec.text.slice(0, resolution.spec.text.length - resolution.spec.location.length - 1)}:PROVIDER:NAME, or use uprobe for a function`,
      ]);
    }
    return group.usdt.map((site) => ({ kind: "usdt", site }));
  }
  if (group.symbols === undefined) {
    throw new UsageError(
      `${where}: a ${probe.kind} probe needs a function, glob, sym+off or address location`,
      group.usdt === undefined ? ["add the function: SCOPE:OBJECT:FUNCTION"] : ["provider:name is a USDT site: use the usdt kind"],
    );
  }
  return group.symbols.map((symbol, i) => ({ kind: "symbol", symbol, code: group.functions?.[i] }));
}

/** The entry point of one USDT site (its semaphore as `ref_ctr_offset`). */
export function usdtPoint(site: UsdtSite, cookie: number): AttachPoint {
  return {
    cookie,
    side: "entry",
    fileOffset: site.fileOffset,
    refCtrOffset: site.semaphoreOffset ?? null,
    pairedWith: null,
    site: {
      kind: "usdt",
      provider: site.provider,
      name: site.name,
      address: hex(site.address),
      semaphoreAddress: site.semaphore === undefined ? null : hex(site.semaphore),
      argsText: site.argsText,
      args: site.args.map(usdtArgToJson),
    },
  };
}

function symbolSite(s: FoundSymbol): AttachPoint["site"] {
  return { kind: "symbol", name: s.name, version: s.version, address: hex(s.address), size: s.size };
}

function targetOf(resolution: TargetResolution, group: ObjectGroup, bucket: readonly ObjectGroup[] = [group]): PlanTarget {
  const { scope } = resolution;
  const selected = scope.containers === undefined ? undefined : containerOf(resolution, group);
  const processes = bucket.flatMap((g) => g.processes);
  return {
    spec: resolution.spec.text,
    runtime: selected?.runtime ?? scope.runtime,
    containerId: selected?.id ?? scope.containerId ?? null,
    containerName: selected === undefined ? (scope.containerName ?? null) : selectedName(selected),
    mntNs: group.mntNs,
    ...(selected?.pod === undefined ? {} : { pod: { namespace: selected.pod.namespace, name: selected.pod.name, container: selected.pod.container } }),
    ...(bucket.length < 2
      ? {}
      : {
          containers: bucket.map((g) => {
            const c = containerOf(resolution, g);
            return {
              mntNs: g.mntNs,
              containerId: c.id,
              containerName: selectedName(c),
              ...(c.pod === undefined ? {} : { pod: { namespace: c.pod.namespace, name: c.pod.name, container: c.pod.container } }),
            };
          }),
        }),
    processes: [...processes].sort((a, b) => a.pid - b.pid).map((p) => ({ pid: p.pid, nsPid: [...p.nsPid], pidNs: p.pidNs, comm: p.comm })),
  };
}

/**
 * The filter a scope needs: a container filter for every container scope
 * (a `pid/N` whose process is in a container included: it names the
 * container), a process filter for a `pid/N` outside any container, none
 * for the host.
 */
function filterOf(resolution: TargetResolution, probe: ProbeRequest): PlanFilter | null {
  const { scope } = resolution;
  if (scope.runtime === "host") return null;
  const pids = [...new Set(scope.processes.map((p) => p.pid))].sort((a, b) => a - b);
  if (scope.containerId === undefined) {
    if (scope.runtime !== "pid") {
      throw new UsageError(
        `probe ${probe.id}: ${resolution.spec.text}: the ${scope.runtime} scope has no container id, so no container filter can be built (PITFALLS 19)`,
      );
    }
    return { kind: "process", containerId: null, cgroupPaths: [], pids };
  }
  const id = scope.containerId;
  const cgroupPaths = [...new Set(scope.processes.flatMap((p) => (p.container?.id === id ? [p.container.cgroupPath] : [])))].sort();
  return { kind: "container", containerId: id, cgroupPaths, pids };
}

/** The selector scope's container whose mount namespace the group is. */
function containerOf(resolution: TargetResolution, group: ObjectGroup): ScopeContainer {
  const c = resolution.scope.containers?.find((x) => x.mntNs.includes(group.mntNs));
  if (c === undefined) throw new InternalError(`${resolution.spec.text}: mount namespace ${group.mntNs} belongs to no selected container (this is a bug)`);
  return c;
}

/** How events name a selected container: NAMESPACE/POD/CONTAINER for a pod's, else its name (containerd: NAMESPACE/ID). */
function selectedName(c: ScopeContainer): string {
  if (c.pod !== undefined) return `${c.pod.namespace}/${c.pod.name}/${c.pod.container}`;
  return c.name ?? `${c.runtimeNamespace ?? "default"}/${c.id}`;
}

/**
 * The container filter of the selected containers that share one binary:
 * the first's mount namespace is the target's, the others' go in `mntNs`;
 * their cgroups and pids together.
 */
function selectedFilter(resolution: TargetResolution, bucket: readonly ObjectGroup[]): PlanFilter {
  const containers = bucket.map((g) => containerOf(resolution, g));
  const cgroupPaths = [...new Set(containers.flatMap((c) => c.processes.flatMap((p) => (p.container?.id === c.id ? [p.container.cgroupPath] : []))))].sort();
  const pids = [...new Set(containers.flatMap((c) => c.processes.map((p) => p.pid)))].sort((a, b) => a - b);
  const first = bucket[0]?.mntNs;
  const more = [...new Set(bucket.map((g) => g.mntNs))].filter((ns) => ns !== first).sort((a, b) => a - b);
  return { kind: "container", containerId: containers[0]?.id ?? null, cgroupPaths, pids, ...(more.length === 0 ? {} : { mntNs: more }) };
}

/**
 * The groups of a selector scope bucketed by the file the kernel probes:
 * containers of one image map one lower-layer file, which overlayfs reports
 * with the same inode number (its device differs per container, PITFALLS
 * 21), so the key is inode, size, mtime, build-id and path, not the device. A
 * file a container copied up or replaced is another inode: its own entry.
 */
function sameBinary(groups: readonly ObjectGroup[]): ObjectGroup[][] {
  const buckets = new Map<string, ObjectGroup[]>();
  for (const g of groups) {
    const id = g.object.identity;
    const key = `${id.ino}:${id.size}:${id.mtimeNs}:${id.buildId ?? ""}:${g.object.containerPath}`;
    const list = buckets.get(key) ?? [];
    list.push(g);
    buckets.set(key, list);
  }
  return [...buckets.values()];
}

function binaryOf(resolution: TargetResolution, group: ObjectGroup, probe: ProbeRequest): PlanBinary {
  const { object } = group;
  const { kernelPath, openRoot } = kernelPathOf(resolution, group, probe);
  return {
    request: object.request,
    how: object.how,
    containerPath: object.containerPath,
    kernelPath,
    openRoot,
    dev: object.identity.dev.toString(),
    ino: object.identity.ino.toString(),
    size: Number(object.identity.size),
    mtimeNs: object.identity.mtimeNs.toString(),
    buildId: object.identity.buildId ?? null,
    mapped: object.mapped,
    replaced: object.replaced,
    warnings: [...object.warnings],
    ...(group.code === undefined ? {} : { code: { language: group.code.language, goVersion: group.code.goVersion } }),
  };
}

/** The path the strategy hands the kernel, or a UsageError that says why it has none and which strategies would work. */
function kernelPathOf(resolution: TargetResolution, group: ObjectGroup, probe: ProbeRequest): { kernelPath: string; openRoot: string | null } {
  const { object } = group;
  const { scope } = resolution;
  const representative = group.processes[0]?.pid;
  const what = `probe ${probe.id}: ${resolution.spec.text}: ${object.containerPath}`;
  const available = availableStrategies(resolution, group);
  const refuse = (why: string): never => {
    throw new UsageError(`${what}: the ${probe.strategy} path strategy is not available: ${why}`, [
      available.length > 0 ? `use --strategy ${available.join(" or ")}` : "no path strategy can reach this file",
    ]);
  };
  const notReplaced = (): void => {
    if (object.replaced) refuse("the file at that path is not the one the process runs (deleted, replaced or copied up; PITFALLS 18)");
  };
  switch (probe.strategy) {
    case "fd": {
      notReplaced();
      if (representative === undefined) return { kernelPath: object.containerPath, openRoot: "/" };
      if (object.rootPath === undefined) refuse(`it does not exist in the root of process ${representative}`);
      const root = `/proc/${representative}/root`;
      const canonical = object.rootPath !== undefined && object.rootPath.startsWith(`${root}/`) ? object.rootPath.slice(root.length) : object.containerPath;
      return { kernelPath: canonical, openRoot: root };
    }
    case "root":
      if (representative === undefined) return refuse("the host scope has no process whose root to name");
      notReplaced();
      return { kernelPath: object.rootPath ?? refuse(`it does not exist in the root of process ${representative}`), openRoot: null };
    case "layer":
      if (representative === undefined) return refuse("the host scope has no overlay root");
      return {
        kernelPath: object.layerPath ?? refuse("its mount is not an overlay, or the layers are not visible from probec's mount namespace"),
        openRoot: null,
      };
    case "map":
      if (representative === undefined) return refuse("the host scope has no process whose mappings to name");
      if (object.mapFilesPath !== undefined) return { kernelPath: object.mapFilesPath, openRoot: null };
      if (object.how === "exe") return { kernelPath: `/proc/${representative}/exe`, openRoot: null };
      return refuse(`process ${representative} does not map it`);
    case "host":
      if (scope.containerId !== undefined) refuse(`the target runs in container ${scope.containerId.slice(0, 12)}, whose paths are not probec's`);
      notReplaced();
      return { kernelPath: object.containerPath, openRoot: null };
  }
}

/** The strategies that would give a path for `group`, in preference order. */
function availableStrategies(resolution: TargetResolution, group: ObjectGroup): PathStrategy[] {
  const { object } = group;
  const hasProcess = group.processes.length > 0;
  const out: PathStrategy[] = [];
  if (!object.replaced && (!hasProcess || object.rootPath !== undefined)) out.push("fd");
  if (hasProcess && !object.replaced && object.rootPath !== undefined) out.push("root");
  if (hasProcess && object.layerPath !== undefined) out.push("layer");
  if (hasProcess && (object.mapFilesPath !== undefined || object.how === "exe")) out.push("map");
  if (resolution.scope.containerId === undefined && !object.replaced) out.push("host");
  return out;
}

/** A point as {@link mergeSemaphores} sees it: the binary's identity plus the point. */
export interface SemaphorePoint {
  /** `st_ino` of the binary, decimal. */
  readonly ino: string;
  /** The binary's size: with the build-id, tells two files with one inode number on different filesystems apart (PITFALLS 21). */
  readonly size: number;
  /** The binary's build-id, or null. */
  readonly buildId: string | null;
  readonly fileOffset: number;
  readonly refCtrOffset: number | null;
  readonly cookie: number;
}

/** Two or more points at one (inode, offset) that ask for different semaphores. */
export interface SemaphoreConflict {
  readonly ino: string;
  readonly fileOffset: number;
  /** The distinct `ref_ctr_offset`s asked for, ascending. */
  readonly refCtrOffsets: number[];
  /** The cookies of the points involved, ascending. */
  readonly cookies: number[];
}

/**
 * The kernel keeps one uprobe per (inode, offset), and a second one there
 * with another `ref_ctr_offset` fails with EINVAL (PITFALLS 26). So every
 * point at one (inode, offset) gets the one semaphore any of them has (a
 * point without one, e.g. a plain uprobe on a USDT site, shares it). Points
 * that ask for two different semaphores are left as they are and reported.
 * Order and every other field are kept.
 */
export function mergeSemaphores<T extends SemaphorePoint>(points: readonly T[]): { points: T[]; conflicts: SemaphoreConflict[] } {
  const key = (p: SemaphorePoint): string => `${p.ino}/${p.size}/${p.buildId ?? ""}/${p.fileOffset}`;
  const groups = new Map<string, T[]>();
  for (const p of points) {
    const list = groups.get(key(p)) ?? [];
    list.push(p);
    groups.set(key(p), list);
  }
  const chosen = new Map<string, number | null>();
  const conflicts: SemaphoreConflict[] = [];
  for (const [k, list] of groups) {
    const offsets = [...new Set(list.flatMap((p) => (p.refCtrOffset === null ? [] : [p.refCtrOffset])))].sort((a, b) => a - b);
    if (offsets.length > 1) {
      const first = list[0]!;
      conflicts.push({ ino: first.ino, fileOffset: first.fileOffset, refCtrOffsets: offsets, cookies: list.map((p) => p.cookie).sort((a, b) => a - b) });
      continue;
    }
    chosen.set(k, offsets[0] ?? null);
  }
  const merged = points.map((p) => {
    const k = key(p);
    if (!chosen.has(k)) return p;
    const offset = chosen.get(k) ?? null;
    return offset === p.refCtrOffset ? p : { ...p, refCtrOffset: offset };
  });
  return { points: merged, conflicts };
}

/**
 * {@link mergeSemaphores} over every point of every entry (two probes on
 * one site, two containers sharing a layer's inode).
 *
 * @throws UsageError on a conflict, naming the site and the probes.
 */
export function mergePlanSemaphores(probes: readonly PlanProbe[]): PlanProbe[] {
  const flat = probes.flatMap((probe, p) =>
    probe.points.map((point, i) => ({
      ino: probe.binary.ino,
      size: probe.binary.size,
      buildId: probe.binary.buildId,
      fileOffset: point.fileOffset,
      refCtrOffset: point.refCtrOffset,
      cookie: point.cookie,
      p,
      i,
    })),
  );
  const { points, conflicts } = mergeSemaphores(flat);
  const first = conflicts[0];
  if (first !== undefined) {
    const ids = [...new Set(flat.filter((f) => first.cookies.includes(f.cookie)).map((f) => probes[f.p]?.id))];
    throw new UsageError(
      `inode ${first.ino} offset ${first.fileOffset}: probes ${ids.join(", ")} need different semaphores there (ref_ctr_offset ${first.refCtrOffsets.join(" and ")}); the kernel allows one per inode and offset (PITFALLS 26)`,
    );
  }
  const out = probes.map((probe) => ({ ...probe, points: [...probe.points] }));
  for (const m of points) {
    const target = out[m.p];
    const point = target?.points[m.i];
    if (target !== undefined && point !== undefined && point.refCtrOffset !== m.refCtrOffset) target.points[m.i] = { ...point, refCtrOffset: m.refCtrOffset };
  }
  return out;
}
