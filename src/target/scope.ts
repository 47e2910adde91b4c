/**
 * SCOPE → processes: which runtime, which container, and every process of
 * it as seen from probec's own pid namespace.
 *
 * The container's processes come from the cgroups of running processes
 * (every process, including ones started after the first; pids already in
 * probec's namespace), with the runtime's API only for names and metadata.
 */
import { existsSync } from "node:fs";
import { NotFoundError, UsageError } from "../errors.js";
import { inspectProcess, processesOfContainer, runningContainers, type ProcessInfo } from "./processes.js";
import { dockerSocketPath, findContainer, type ContainerInfo, type DockerOptions } from "./runtimes/docker.js";
import type { Scope } from "./spec.js";
import { nearest } from "../suggest.js";

/** A scope, resolved. */
export interface ResolvedScope {
  /** `host`, `pid`, or the container runtime. */
  readonly runtime: "host" | "pid" | "docker" | "podman" | "containerd" | "crio" | "cri";
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
    case "name": {
      const socket = dockerSocketPath(options.docker?.host);
      if (!existsSync(socket)) {
        throw new NotFoundError(`no container runtime answered for "${scope.name}": docker (no socket at ${socket})`, [
          "name the runtime (docker/NAME, pid/N), start dockerd, or set DOCKER_HOST",
        ]);
      }
      return fromDocker(await findContainer(scope.name, options.docker));
    }
    case "podman":
      return fromCgroups(scope.kind, scope.ref);
    case "crio":
    case "containerd":
      return fromCgroups(scope.kind, scope.id);
    case "k8s":
      throw new UsageError(`k8s scopes are not supported yet: ${scope.namespace}/${scope.pod}`, [
        "name the container by its runtime id instead (crio/ID, containerd/ID, docker/ID)",
      ]);
  }
}

function fromDocker(info: ContainerInfo): ResolvedScope {
  let processes = processesOfContainer(info.id);
  // A cgroup namespace can hide container paths from probec: fall back to the first process the daemon knows.
  if (processes.length === 0 && info.state.pid > 0) processes = [inspectProcess(info.state.pid)];
  const g = info.graphDriver;
  const layers = [g.upperDir, ...g.lowerDirs].filter((d): d is string => d !== undefined);
  return { runtime: "docker", containerId: info.id, containerName: info.name, labels: info.labels, layers, processes };
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
