/**
 * `probec/discovery`: the live machine, for tools that need more than
 * `resolveScope` and `resolveTarget` (which the main entry offers):
 * processes and what they map, every running container, and the container
 * runtimes behind one interface and one registry (list, find, inspect, and
 * the event streams a `--follow` needs).
 */
export { inspectProcess, processesOfContainer, runningContainers, type ProcessInfo } from "./processes.js";
export { mappedObjectsOf, resolveObject, type ResolvedObject } from "./object.js";
export { mapFilesPath, type MappedObject } from "./proc/maps.js";
export { scopeNamespaces, type ScopeNamespace, type ScopeNamespaceOptions, type ScopeObject } from "./scope-objects.js";
export { openObject } from "./resolve-target.js";
export { listRunningContainers, type RunningContainer } from "./containers.js";
export { resolveScope, type ResolvedScope, type ScopeContainer, type ScopeOptions } from "./scope.js";
/** Selector scopes (`docker/app=web`, `k8s/NS/SELECTOR`): the containers they pick now, and the same choice as a predicate for runtime events. */
export { scopeMatcher, selectContainers, type ContainerInfo, type SelectOptions } from "./select.js";
export { resolveInRoot, type ResolvedPath } from "../rootfs/resolve.js";
export {
  BARE_NAME_RUNTIMES,
  containerRuntime,
  containerRuntimes,
  findContainerByName,
  type ClientRuntime,
  type RuntimeOptions,
} from "./runtimes/registry.js";
export type { ContainerRuntimeClient, EventOptions, RuntimeContainer, RuntimeContainerDetails, RuntimeEvent, RuntimeEventAction } from "./runtimes/runtime.js";
/** Docker's socket path from `DOCKER_HOST`; Docker-only lookups under names that say so. */
export { dockerSocketPath, findContainer as findDockerContainer, listContainers as listDockerContainers, type DockerOptions } from "./runtimes/docker.js";
export { podmanSocketPath, findPodmanContainer, type PodmanOptions } from "./runtimes/podman.js";
export { containerdSocketPath, type ContainerdOptions } from "./runtimes/containerd.js";
export type { CrioOptions } from "./runtimes/crio.js";
