/**
 * SCOPE → processes: which runtime, which container, and every process of
 * it as seen from probec's own pid namespace.
 *
 * The container's processes come from the cgroups of running processes
 * (every process, including ones started after the first; pids already in
 * probec's namespace), with the runtime's API only for names and metadata.
 */
import { type IoError, NotFoundError, ProbecError, UsageError } from "../errors.js";
import type { Scope } from "../dsl/target-spec.js";
import type { PlanRuntime } from "../plan/index.js";
import { nearest } from "../suggest.js";
import { inspectProcess, processesOfContainer, runningContainers, type ProcessInfo } from "./processes.js";
import { isPermissionRefusal } from "./proc/read.js";
import { ctrInstalled } from "./runtimes/containerd.js";
import { findK8sContainer } from "./runtimes/k8s.js";
import { selectContainers, type ContainerInfo } from "./select.js";
import { containerRuntime, findContainerByName, type RuntimeOptions } from "./runtimes/registry.js";
import type { ContainerRuntimeClient, RuntimeContainerDetails } from "./runtimes/runtime.js";

/** A scope, resolved. */
export interface ResolvedScope {
  /** `host`, `pid`, or the container runtime (src/plan/runtimes.ts). */
  readonly runtime: PlanRuntime;
  readonly containerId: string | undefined;
  readonly containerName: string | undefined;
  /** Labels (including `io.kubernetes.*`) when the runtime gave them. */
  readonly labels: Readonly<Record<string, string>>;
  /** Overlay layers when the runtime gave them: upper first, then the lowers in order. */
  readonly layers: readonly string[];
  /** Every process, by pid in probec's namespace. Empty for `host`: the host scope filters nothing. */
  readonly processes: readonly ProcessInfo[];
  /**
   * A selector scope's containers (`docker/app=web`, issue 14), each with its
   * mount namespaces and processes; {@link processes} is their union and
   * `containerId` undefined. Absent for every other scope.
   */
  readonly containers?: readonly ScopeContainer[];
}

/** One container of a selector scope, and where its processes are. */
export interface ScopeContainer extends ContainerInfo {
  /** The mount namespaces of its processes (one, unless it runs `unshare -m`). */
  readonly mntNs: readonly number[];
  readonly processes: readonly ProcessInfo[];
}

/** Where runtimes are reached (the registry's options), and whether scopes are followed. */
export interface ScopeOptions extends RuntimeOptions {
  /** `--follow`: a selector that matches nothing now resolves to no container instead of an error. */
  readonly follow?: boolean;
}

/** Resolves a scope to its processes. */
export async function resolveScope(scope: Scope, options: ScopeOptions = {}): Promise<ResolvedScope> {
  switch (scope.kind) {
    case "host":
      return { runtime: "host", containerId: undefined, containerName: undefined, labels: {}, layers: [], processes: [] };
    case "pid": {
      const info = inspectProcess(scope.pid);
      return { runtime: "pid", containerId: info.container?.id, containerName: undefined, labels: {}, layers: [], processes: [info] };
    }
    case "docker": {
      const docker = containerRuntime("docker", options);
      return fromContainer(docker, await docker.find(scope.ref));
    }
    case "name": {
      const { client, container } = await findContainerByName(scope.name, options);
      return fromContainer(client, container);
    }
    case "podman": {
      // With Podman's API service: names, labels and layers too. Without it, only an id (prefix), through cgroups.
      const podman = containerRuntime("podman", options);
      if (podman.present()) return fromContainer(podman, await podman.find(scope.ref));
      if (!/^[0-9a-f]{4,64}$/.test(scope.ref)) {
        throw new NotFoundError(`podman/${scope.ref}: no Podman API socket at ${podman.endpoint} to resolve the name`, [
          "start it (systemctl start podman.socket, or podman system service --time=0), set CONTAINER_HOST, or give the id",
        ]);
      }
      return fromCgroups(scope.kind, scope.ref);
    }
    case "crio": {
      // With CRI-O's containers/storage files: names and annotations too. Without them, only an id (prefix), through cgroups.
      const crio = containerRuntime("crio", options);
      if (crio.present()) return fromContainer(crio, await crio.find(scope.id));
      return fromCgroups(scope.kind, scope.id);
    }
    case "containerd": {
      // Without ctr there is no client: only a 64-hex id (prefix) can be found, through cgroups.
      if (!ctrInstalled(options.containerd)) return fromCgroups(scope.kind, scope.id);
      const containerd = containerRuntime("containerd", options);
      return fromContainer(containerd, await containerd.find(scope.namespace === undefined ? scope.id : `${scope.namespace}/${scope.id}`));
    }
    case "k8s": {
      const found = await findK8sContainer(scope.namespace, scope.pod, scope.container, options);
      const client = containerRuntime(found.runtime, options);
      return fromContainer(client, await client.inspect(found.id, found.runtime === "containerd" ? (found.runtimeNamespace ?? "k8s.io") : undefined));
    }
    case "select": {
      const containers: ScopeContainer[] = [];
      const selected = await selectContainers(scope, options);
      // One cgroup scan for all of them (ids a cgroup path names); the runtime's pids for the others.
      const scanned: ReturnType<typeof runningContainers> = selected.some((c) => /^[0-9a-f]{64}$/.test(c.id)) ? runningContainers() : new Map();
      for (const c of selected) {
        const fromScan = scanned.get(c.id)?.processes ?? [];
        if (fromScan.length > 0) {
          containers.push({ ...c, mntNs: [...new Set(fromScan.map((p) => p.mntNs))], processes: fromScan });
          continue;
        }
        let resolved: ResolvedScope;
        try {
          resolved = await fromContainer(containerRuntime(c.runtime, options), await containerRuntime(c.runtime, options).inspect(c.id, c.runtimeNamespace));
        } catch (error) {
          if (error instanceof NotFoundError) continue; // stopped since it was listed
          throw error;
        }
        if (resolved.processes.length === 0) continue;
        containers.push({ ...c, mntNs: [...new Set(resolved.processes.map((p) => p.mntNs))], processes: resolved.processes });
      }
      if (containers.length === 0 && options.follow !== true) {
        throw new NotFoundError(`${scope.text}: the ${selected.length} container(s) it picked stopped before their processes were read`, ["run it again"]);
      }
      const runtime = scope.runtime === "k8s" ? (containers[0]?.runtime ?? "containerd") : scope.runtime;
      return {
        runtime,
        containerId: undefined,
        containerName: undefined,
        labels: {},
        layers: [],
        processes: containers.flatMap((c) => c.processes),
        containers,
      };
    }
  }
}

/**
 * A container a runtime described: its processes from the cgroups of
 * running processes when its id is one a cgroup path names (64 hex
 * digits), else (`ctr run` names, or cgroups hidden by a cgroup namespace)
 * the pids the runtime knows.
 */
async function fromContainer(client: ContainerRuntimeClient, c: RuntimeContainerDetails): Promise<ResolvedScope> {
  let processes = /^[0-9a-f]{64}$/.test(c.id) ? processesOfContainer(c.id).filter((p) => p.container?.id === c.id) : [];
  let refused: IoError | undefined;
  if (processes.length === 0) {
    processes = (await client.processIds(c)).flatMap((pid) => {
      try {
        return [inspectProcess(pid)];
      } catch (error) {
        // Another user's process without CAP_SYS_PTRACE: its namespaces are hidden, which is not "exited".
        if (isPermissionRefusal(error)) refused ??= error;
        if (error instanceof ProbecError) return []; // exited meanwhile
        throw error;
      }
    });
  }
  if (processes.length === 0 && refused !== undefined) throw refused;
  if (processes.length === 0) notRunning(c);
  return { runtime: c.runtime, containerId: c.id, containerName: c.name, labels: c.labels, layers: c.layers, processes };
}

/** Throws what to do about a container that has no process; a Docker or Podman container the daemon calls running resolves with none. */
function notRunning(c: RuntimeContainerDetails): void {
  if (c.runtime === "containerd") {
    const namespace = c.namespace ?? "default";
    throw new NotFoundError(`containerd/${namespace}/${c.id}: the container does not run (no task)`, [`start it: ctr -n ${namespace} tasks start -d ${c.id}`]);
  }
  if (c.runtime === "crio") {
    const exited = c.exitCode === undefined ? "it has no running process" : `it exited with code ${c.exitCode}`;
    throw new NotFoundError(`crio/${c.name ?? c.id} (${c.id.slice(0, 12)}): the container does not run: ${exited}`, [
      `start it: crictl start ${c.id.slice(0, 12)}`,
    ]);
  }
}

/** A container found by id (prefix) in the cgroups of running processes: runtimes without a client here. */
function fromCgroups(kind: "podman" | "crio" | "containerd", idPrefix: string): ResolvedScope {
  if (!/^[0-9a-f]{4,64}$/.test(idPrefix)) {
    throw new UsageError(`${kind}/${idPrefix}: name the container by at least 4 hex digits of its id`, [`${kind} names are not resolved yet; ids are`]);
  }
  const processes = processesOfContainer(idPrefix);
  const ids = [...new Set(processes.map((p) => p.container?.id))];
  if (ids.length > 1) throw new UsageError(`${kind}/${idPrefix}: the prefix matches ${ids.length} containers: ${ids.join(", ")}`);
  if (processes.length === 0) {
    const running = [...runningContainers().keys()];
    const near = nearest(
      idPrefix,
      running.map((id) => id.slice(0, idPrefix.length)),
    );
    throw new NotFoundError(
      `${kind}/${idPrefix}: no running process belongs to a container with that id`,
      near.length > 0 ? [`did you mean ${near.join(" or ")}?`] : [],
    );
  }
  const container = processes[0]?.container;
  return { runtime: container?.runtime ?? kind, containerId: container?.id, containerName: undefined, labels: {}, layers: [], processes };
}
