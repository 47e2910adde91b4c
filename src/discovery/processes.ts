/**
 * Processes as probec targets them: their ids in every pid namespace, their
 * mount namespace (processes that share one see the same files), and the
 * container their cgroup names.
 */
import { readdirSync } from "node:fs";
import { containerIdFromCgroup, readCgroup, type CgroupContainer } from "./proc/cgroup.js";
import { namespaceInode } from "./proc/ns.js";
import { DEFAULT_PROC_ROOT, isPermissionRefusal } from "./proc/read.js";
import { readStatus } from "./proc/status.js";
import { type IoError, LimitError, ProbecError } from "../errors.js";

/** One process, as seen from probec's pid namespace. */
export interface ProcessInfo {
  /** The pid in probec's own pid namespace: what a perf pid filter takes (PITFALLS 22). */
  readonly pid: number;
  /** Its pid in each nested namespace, outermost (probec's) first: `[4321, 1]` for a container's init. */
  readonly nsPid: readonly number[];
  /** The command name. */
  readonly comm: string;
  /** Mount-namespace inode: processes with the same one resolve paths alike. */
  readonly mntNs: number;
  /** Pid-namespace inode. */
  readonly pidNs: number;
  /** The container its cgroup names, if any. */
  readonly container: CgroupContainer | undefined;
}

/** Hostile-input cap: the kernel's pid_max limit. */
const MAX_PIDS = 4_194_304;

/** Reads everything probec needs to know about process `pid`. */
export function inspectProcess(pid: number, procRoot = DEFAULT_PROC_ROOT): ProcessInfo {
  const status = readStatus(pid, procRoot);
  return {
    pid,
    nsPid: status.nsTgid ?? [status.tgid],
    comm: status.name,
    mntNs: namespaceInode(pid, "mnt", procRoot),
    pidNs: namespaceInode(pid, "pid", procRoot),
    container: containerIdFromCgroup(readCgroup(pid, { procRoot })),
  };
}

/** Every process id in `procRoot`, ascending. */
export function listPids(procRoot = DEFAULT_PROC_ROOT): number[] {
  const pids: number[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^[1-9][0-9]*$/.test(name)) continue;
    if (pids.length >= MAX_PIDS) throw new LimitError(`${procRoot}: more than ${MAX_PIDS} processes`);
    pids.push(Number(name));
  }
  return pids.sort((a, b) => a - b);
}

/**
 * Every process whose cgroup names a container id starting with `idPrefix`
 * (the runtime-agnostic way to find all of a container's processes,
 * including ones started after attach time is computed). Processes that
 * exit during the scan are skipped.
 */
export function processesOfContainer(idPrefix: string, procRoot = DEFAULT_PROC_ROOT): ProcessInfo[] {
  return containerProcesses((id) => id.startsWith(idPrefix), procRoot);
}

/** Every container id seen in the cgroups of running processes, with its runtime and processes. */
export function runningContainers(procRoot = DEFAULT_PROC_ROOT): Map<string, { container: CgroupContainer; processes: ProcessInfo[] }> {
  const containers = new Map<string, { container: CgroupContainer; processes: ProcessInfo[] }>();
  for (const info of containerProcesses(() => true, procRoot)) {
    const container = info.container as CgroupContainer;
    const entry = containers.get(container.id) ?? { container, processes: [] };
    entry.processes.push(info);
    containers.set(container.id, entry);
  }
  return containers;
}

/**
 * The processes in a container whose id `wanted` accepts. The cgroup file
 * alone decides; status and namespaces are read only for the processes
 * kept. Processes that exit during the scan, and kernel threads without
 * the files, are skipped.
 */
function containerProcesses(wanted: (containerId: string) => boolean, procRoot: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  let refused: IoError | undefined;
  for (const pid of listPids(procRoot)) {
    let matched = false;
    try {
      const id = containerIdFromCgroup(readCgroup(pid, { procRoot }))?.id;
      if (id === undefined || !wanted(id)) continue;
      matched = true;
      found.push(inspectProcess(pid, procRoot));
    } catch (error) {
      // A process of the container whose namespaces the kernel will not show (another user's, without CAP_SYS_PTRACE).
      if (matched && isPermissionRefusal(error)) refused ??= error;
      if (error instanceof ProbecError) continue;
      throw error;
    }
  }
  // Every process refused: say why, rather than that the container has none.
  if (found.length === 0 && refused !== undefined) throw refused;
  return found;
}
