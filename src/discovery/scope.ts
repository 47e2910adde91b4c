/**
 * SCOPE → processes: which runtime, which container, and every process of
 * it as seen from probec's own pid namespace.
 *
 * The container's processes come from the cgroups of running processes
 * (every process, including ones started after the first; pids already in
 * probec's namespace), with the runtime's API only for names and metadata.
 */
import { existsSync } from "node:fs";
import { NotFoundError, ProbecError, UsageError } from "../errors.js";
import { inspectProcess, processesOfContainer, runningContainers, type ProcessInfo } from "./processes.js";
import { containerInfo, containerdSocketPath, ctrInstalled, findContainerdContainer, snapshotLayers, taskPid, taskPids, type ContainerdOptions, type CtrContainerInfo } from "./runtimes/containerd.js";
import { dockerSocketPath, findContainer, inspectContainer, type ContainerInfo, type DockerOptions } from "./runtimes/docker.js";
import { findK8sContainer } from "./runtimes/k8s.js";
import { crioStorageExists, findCrioContainer, type CrioContainer, type CrioOptions } from "./runtimes/crio.js";
import { findPodmanContainer, podmanSocketPath, type PodmanOptions } from "./runtimes/podman.js";
import type { Scope } from "../dsl/target-spec.js";
import type { PlanRuntime } from "../plan/index.js";
import { nearest } from "../suggest.js";

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
}

/** Where runtimes are reached. */
export interface ScopeOptions {
  readonly docker?: DockerOptions;
  readonly containerd?: ContainerdOptions;
  readonly podman?: PodmanOptions;
  readonly crio?: CrioOptions;
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
    case "docker":
      return fromDocker(await findContainer(scope.ref, options.docker));
    case "name":
      return fromName(scope.name, options);
    case "podman": {
      // With Podman's API service: names, labels and layers too. Without it, only an id (prefix), through cgroups.
      const socket = podmanSocketPath(options.podman?.host);
      if (existsSync(socket)) return fromDocker(await findPodmanContainer(scope.ref, options.podman), "podman");
      if (!/^[0-9a-f]{4,64}$/.test(scope.ref)) {
        throw new NotFoundError(`podman/${scope.ref}: no Podman API socket at ${socket} to resolve the name`, [
          "start it (systemctl start podman.socket, or podman system service --time=0), set CONTAINER_HOST, or give the id",
        ]);
      }
      return fromCgroups(scope.kind, scope.ref);
    }
    case "crio":
      // With CRI-O's containers/storage files: names and annotations too. Without them, only an id (prefix), through cgroups.
      if (crioStorageExists(options.crio)) return fromCrio(findCrioContainer(scope.id, options.crio));
      return fromCgroups(scope.kind, scope.id);
    case "containerd": {
      // Without ctr there is no client: only a 64-hex id (prefix) can be found, through cgroups.
      if (!ctrInstalled(options.containerd)) return fromCgroups(scope.kind, scope.id);
      return fromContainerd(await findContainerdContainer(scope, options.containerd), options.containerd);
    }
    case "k8s": {
      const found = await findK8sContainer(scope.namespace, scope.pod, scope.container, options);
      if (found.runtime === "docker") return fromDocker(await inspectContainer(found.id, options.docker));
      return fromContainerd(await containerInfo(found.runtimeNamespace ?? "k8s.io", found.id, options.containerd), options.containerd);
    }
  }
}

/**
 * A bare name, looked up in every runtime present, in order: docker,
 * podman, containerd. When none has it, the error says what each runtime
 * answered, or where its socket was looked for.
 */
async function fromName(name: string, options: ScopeOptions): Promise<ResolvedScope> {
  const tried: string[] = [];
  const hints: string[] = [];
  const attempt = async (runtime: string, socket: string, present: boolean, find: () => Promise<ResolvedScope>): Promise<ResolvedScope | undefined> => {
    if (!present) {
      tried.push(`${runtime} (no socket at ${socket})`);
      return undefined;
    }
    try {
      return await find();
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      tried.push(`${runtime} (no such container)`);
      hints.push(...error.hints.map((h) => `${runtime}: ${h}`));
      return undefined;
    }
  };
  const docker = dockerSocketPath(options.docker?.host);
  const podman = podmanSocketPath(options.podman?.host);
  const containerd = containerdSocketPath(options.containerd);
  const found =
    (await attempt("docker", docker, existsSync(docker), async () => fromDocker(await findContainer(name, options.docker)))) ??
    (await attempt("podman", podman, existsSync(podman), async () => fromDocker(await findPodmanContainer(name, options.podman), "podman"))) ??
    (await attempt("containerd", containerd, existsSync(containerd) && ctrInstalled(options.containerd), async () =>
      fromContainerd(await findContainerdContainer({ id: name }, options.containerd), options.containerd),
    ));
  if (found !== undefined) return found;
  throw new NotFoundError(`no running container is called "${name}"; tried ${tried.join(", ")}`, [
    ...hints,
    "name the runtime (docker/NAME, podman/NAME, containerd/ID, pid/N), start its daemon, or set DOCKER_HOST, CONTAINER_HOST or CONTAINERD_ADDRESS",
  ]);
}

/**
 * A containerd container's processes: from cgroups when its id is one a
 * cgroup path names (64 hex digits: CRI, nerdctl), else (`ctr run` names,
 * or cgroups hidden by a cgroup namespace) every PID of its task.
 */
async function fromContainerd(info: CtrContainerInfo, options: ContainerdOptions | undefined): Promise<ResolvedScope> {
  const { namespace, id, labels } = info;
  let processes = /^[0-9a-f]{64}$/.test(id) ? processesOfContainer(id).filter((p) => p.container?.id === id) : [];
  if (processes.length === 0) {
    let pids = await taskPids(namespace, id, options);
    if (pids.length === 0) pids = [await taskPid(namespace, id, options)].filter((p): p is number => p !== undefined);
    processes = pids.flatMap((pid) => {
      try {
        return [inspectProcess(pid)];
      } catch (error) {
        if (error instanceof ProbecError) return []; // exited meanwhile
        throw error;
      }
    });
  }
  if (processes.length === 0) {
    throw new NotFoundError(`containerd/${namespace}/${id}: the container does not run (no task)`, [`start it: ctr -n ${namespace} tasks start -d ${id}`]);
  }
  const name = labels["io.kubernetes.container.name"];
  const layers = await snapshotLayers(namespace, info.snapshotter, info.snapshotKey, options);
  return { runtime: "containerd", containerId: id, containerName: name, labels, layers, processes };
}

/** A container the Docker API describes: dockerd's, or Podman's through its Docker-compatible API. */
function fromDocker(info: ContainerInfo, runtime: "docker" | "podman" = "docker"): ResolvedScope {
  let processes = processesOfContainer(info.id);
  // A cgroup namespace can hide container paths from probec: fall back to the first process the daemon knows.
  if (processes.length === 0 && info.state.pid > 0) processes = [inspectProcess(info.state.pid)];
  const g = info.graphDriver;
  const layers = [g.upperDir, ...g.lowerDirs].filter((d): d is string => d !== undefined);
  return { runtime, containerId: info.id, containerName: info.name, labels: info.labels, layers, processes };
}

/** A CRI-O container from its storage files: processes from cgroups, else (a cgroup namespace hides them) the pidfile's. */
function fromCrio(info: CrioContainer): ResolvedScope {
  let processes = processesOfContainer(info.id);
  if (processes.length === 0 && info.pid !== undefined) processes = [inspectProcess(info.pid)];
  if (processes.length === 0) {
    const exited = info.exitCode === undefined ? "it has no running process" : `it exited with code ${info.exitCode}`;
    throw new NotFoundError(`crio/${info.name} (${info.id.slice(0, 12)}): the container does not run: ${exited}`, [`start it: crictl start ${info.id.slice(0, 12)}`]);
  }
  return { runtime: "crio", containerId: info.id, containerName: info.name, labels: info.annotations, layers: [], processes };
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
    const near = nearest(idPrefix, running.map((id) => id.slice(0, idPrefix.length)));
    throw new NotFoundError(`${kind}/${idPrefix}: no running process belongs to a container with that id`, near.length > 0 ? [`did you mean ${near.join(" or ")}?`] : []);
  }
  const container = processes[0]?.container;
  return { runtime: container?.runtime ?? kind, containerId: container?.id, containerName: undefined, labels: {}, layers: [], processes };
}
