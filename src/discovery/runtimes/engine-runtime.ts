/**
 * Docker and Podman as {@link ContainerRuntimeClient}s: both speak the
 * Docker Engine API (Podman through its compatible service), so one
 * adapter over the Docker client serves both, with each runtime's socket,
 * error wording and name.
 */
import { existsSync } from "node:fs";
import type { DockerOptions } from "./docker-api.js";
import { dockerSocketPath } from "./docker-api.js";
import { engineEvents } from "./docker-events.js";
import { findContainer, inspectContainer, listContainers, type ContainerInfo } from "./docker.js";
import { findPodmanContainer, podmanSocketPath, type PodmanOptions } from "./podman.js";
import type { ContainerRuntimeClient, RuntimeContainerDetails } from "./runtime.js";

/** dockerd, at `options.host`, else `DOCKER_HOST`, else /var/run/docker.sock. */
export function dockerRuntime(options: DockerOptions = {}): ContainerRuntimeClient {
  const endpoint = dockerSocketPath(options.host);
  return engineRuntime("docker", endpoint, options, (ref) => findContainer(ref, options));
}

/** Podman's API service, at `options.host`, else `CONTAINER_HOST`, else the user's default socket. */
export function podmanRuntime(options: PodmanOptions = {}): ContainerRuntimeClient {
  const endpoint = podmanSocketPath(options.host);
  const docker: DockerOptions = options.timeoutMs === undefined ? { host: `unix://${endpoint}` } : { host: `unix://${endpoint}`, timeoutMs: options.timeoutMs };
  return engineRuntime("podman", endpoint, docker, (ref) => findPodmanContainer(ref, options));
}

function engineRuntime(
  name: "docker" | "podman",
  endpoint: string,
  options: DockerOptions,
  find: (ref: string) => Promise<ContainerInfo>,
): ContainerRuntimeClient {
  return {
    name,
    endpoint,
    present: () => existsSync(endpoint),
    list: async () =>
      (await listContainers(options))
        .filter((c) => c.state === "running")
        .map((c) => ({ runtime: name, id: c.id, name: c.names[0], namespace: undefined, image: c.image, running: true, labels: c.labels })),
    find: async (ref) => details(name, await find(ref)),
    inspect: async (id) => details(name, await inspectContainer(id, options)),
    // The daemon reports the first process; the others are found through cgroups.
    processIds: async (container) => {
      const info = await inspectContainer(container.id, options);
      return info.state.running && info.state.pid > 0 ? [info.state.pid] : [];
    },
    events: (eventOptions) => engineEvents(name, endpoint, eventOptions, options.timeoutMs),
  };
}

/** A Docker API description, in the runtime-neutral shape. */
export function details(runtime: "docker" | "podman", info: ContainerInfo): RuntimeContainerDetails {
  const g = info.graphDriver;
  return {
    runtime,
    id: info.id,
    name: info.name,
    namespace: undefined,
    image: info.image,
    running: info.state.running,
    labels: info.labels,
    layers: [g.upperDir, ...g.lowerDirs].filter((d): d is string => d !== undefined),
    pid: info.state.pid > 0 ? info.state.pid : undefined,
    exitCode: undefined,
  };
}
