/**
 * Every running container on the machine, whatever its runtime: what
 * `probec resolve` with no scope shows, as a library call.
 *
 * Two sources, merged: the cgroups of running processes (one pass over
 * /proc; finds every container whose cgroup path names its id, whether or
 * not its runtime answers), and each runtime of the registry that is present
 * (names, and the containers a cgroup path does not name, such as
 * `ctr run NAME` ones, with the pids the runtime reports). A runtime that
 * does not answer is skipped: the cgroup scan still shows its containers.
 */
import { ProbecError } from "../errors.js";
import type { ContainerRuntime } from "../plan/index.js";
import { inspectProcess, runningContainers, type ProcessInfo } from "./processes.js";
import { containerRuntimes, type RuntimeOptions } from "./runtimes/registry.js";

/** One running container. */
export interface RunningContainer {
  /** The runtime: from the cgroup path's naming scheme, else the runtime that listed it. */
  readonly runtime: ContainerRuntime;
  /** The full container id. */
  readonly id: string;
  /** Its name, from the first runtime (in registry order) that names it; null when none does. */
  readonly name: string | null;
  /** containerd's namespace, when containerd listed it. */
  readonly namespace?: string;
  /** Its processes, by pid in probec's pid namespace, ascending. */
  readonly processes: readonly ProcessInfo[];
}

/** Every running container, sorted by name (else id). */
export async function listRunningContainers(options: RuntimeOptions = {}): Promise<RunningContainer[]> {
  const found = new Map<string, { runtime: ContainerRuntime; name: string | null; namespace?: string; processes: ProcessInfo[] }>();
  for (const { container, processes } of runningContainers().values()) found.set(container.id, { runtime: container.runtime, name: null, processes });
  for (const client of containerRuntimes(options)) {
    if (!client.present()) continue;
    let listed: Awaited<ReturnType<typeof client.list>>;
    try {
      listed = await client.list();
    } catch (error) {
      if (!(error instanceof ProbecError)) throw error;
      continue;
    }
    for (const c of listed) {
      const known = found.get(c.id);
      if (known !== undefined) {
        if (known.name === null && c.name !== undefined) known.name = c.name;
        if (known.namespace === undefined && c.namespace !== undefined) known.namespace = c.namespace;
        continue;
      }
      const processes = (
        await client.processIds(c).catch((error: unknown) => {
          if (error instanceof ProbecError) return [];
          throw error;
        })
      ).flatMap((pid) => {
        try {
          return [inspectProcess(pid)];
        } catch (error) {
          if (error instanceof ProbecError) return []; // exited meanwhile
          throw error;
        }
      });
      if (processes.length === 0) continue;
      found.set(c.id, { runtime: c.runtime, name: c.name ?? null, ...(c.namespace === undefined ? {} : { namespace: c.namespace }), processes });
    }
  }
  return [...found.entries()]
    .map(([id, c]) => ({
      runtime: c.runtime,
      id,
      name: c.name,
      ...(c.namespace === undefined ? {} : { namespace: c.namespace }),
      processes: [...c.processes].sort((a, b) => a.pid - b.pid),
    }))
    .sort((a, b) => (a.name ?? a.id).localeCompare(b.name ?? b.id));
}
