/**
 * One followed container: how the session learns what it is (from a
 * runtime event, which carries little more than an id), what it is called
 * in status lines, and how the probe file is compiled for it alone.
 *
 * A container announced by an event is inspected for its labels; a pod's
 * app container gets its pod's labels from its sandbox, as
 * src/discovery/select.ts gives them to the containers a selector lists
 * (the kubelet gives a pod's labels to its sandbox only).
 */
import { inspectProcess, processesOfContainer, type runningContainers, type ProcessInfo } from "../discovery/processes.js";
import { newResolutionCache, resolveTarget, type ResolveTargetOptions, type TargetResolution } from "../discovery/resolve-target.js";
import { containerInfo, listContainers as listContainerdContainers } from "../discovery/runtimes/containerd.js";
import { CONTAINER_NAME_LABEL, isSandbox, POD_NAME_LABEL, POD_NAMESPACE_LABEL } from "../discovery/runtimes/k8s.js";
import type { ClientRuntime, RuntimeOptions } from "../discovery/runtimes/registry.js";
import type { ContainerRuntimeClient, RuntimeContainer } from "../discovery/runtimes/runtime.js";
import type { ResolvedScope } from "../discovery/scope.js";
import type { ContainerInfo } from "../discovery/select.js";
import { NotFoundError, ProbecError } from "../errors.js";
import { retarget, type FollowedScope } from "./scope.js";

const POD_UID_LABEL = "io.kubernetes.pod.uid";

/** The session's key for a container: its runtime, containerd namespace and id. */
export function containerKey(c: { readonly runtime: string; readonly id: string; readonly namespace?: string | undefined }): string {
  return `${c.runtime}/${c.namespace ?? ""}/${c.id}`;
}

/** How status lines name a container: `docker/web-2`, `k8s/shop/web-1/app`, `containerd/k8s.io/3f2a…`. */
export function containerLabel(followed: FollowedScope, c: ContainerInfo): string {
  if (followed.selector?.runtime === "k8s" && c.pod !== undefined) return `k8s/${c.pod.namespace}/${c.pod.name}/${c.pod.container}`;
  if (c.runtime === "containerd") return `containerd/${c.runtimeNamespace ?? "default"}/${c.id.slice(0, 12)}`;
  return `${c.runtime}/${c.name ?? c.id.slice(0, 12)}`;
}

/**
 * Describes the containers runtime events announce, as a selector sees
 * them. Pods' sandboxes are remembered as their start events come (the
 * kubelet starts a pod's sandbox before its app containers), so that an app
 * container's pod labels are at hand when it starts; a sandbox that started
 * before the session is looked up in its runtime.
 */
export class ContainerDescriber {
  /** Running sandboxes seen, by {@link containerKey}. */
  private readonly sandboxes = new Map<string, RuntimeContainer>();

  constructor(private readonly options: RuntimeOptions) {}

  /**
   * The container an event names; undefined when it is gone already
   * (removed before it could be inspected) or is a pod's sandbox, which no
   * scope picks.
   */
  async describe(client: ContainerRuntimeClient, id: string, namespace: string | undefined): Promise<ContainerInfo | undefined> {
    const c = await this.inspect(client, id, namespace);
    if (c === undefined) return undefined;
    if (isSandbox(c.labels)) {
      this.sandboxes.set(containerKey(c), c);
      return undefined;
    }
    const runtime = client.name as ClientRuntime;
    const base = { runtime, id: c.id, name: c.name, runtimeNamespace: c.namespace, labels: c.labels };
    const podNamespace = c.labels[POD_NAMESPACE_LABEL];
    const pod = c.labels[POD_NAME_LABEL];
    const container = c.labels[CONTAINER_NAME_LABEL];
    if (podNamespace === undefined || pod === undefined || container === undefined) return { ...base, pod: undefined };
    const labels = (await this.sandboxOf(client, c))?.labels ?? {};
    return { ...base, pod: { namespace: podNamespace, name: pod, container, labels } };
  }

  /** Forgets a container that exited or was destroyed (a sandbox among them). */
  forget(key: string): void {
    this.sandboxes.delete(key);
  }

  /** The container's labels and name: for containerd its `info` alone (one `ctr` run, not the three of a full inspect). */
  private async inspect(client: ContainerRuntimeClient, id: string, namespace: string | undefined): Promise<RuntimeContainer | undefined> {
    try {
      if (client.name === "containerd" && namespace !== undefined) {
        const info = await containerInfo(namespace, id, this.options.containerd);
        return { runtime: "containerd", id, name: info.labels[CONTAINER_NAME_LABEL], namespace, image: info.image, running: true, labels: info.labels };
      }
      return await client.inspect(id, namespace);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /** The sandbox of a pod's app container: same runtime (and containerd namespace), same pod namespace and name, same uid when both have one. */
  private async sandboxOf(client: ContainerRuntimeClient, c: RuntimeContainer): Promise<RuntimeContainer | undefined> {
    const uid = c.labels[POD_UID_LABEL];
    const samePod = (s: RuntimeContainer): boolean =>
      s.runtime === c.runtime &&
      isSandbox(s.labels) &&
      s.namespace === c.namespace &&
      s.labels[POD_NAMESPACE_LABEL] === c.labels[POD_NAMESPACE_LABEL] &&
      s.labels[POD_NAME_LABEL] === c.labels[POD_NAME_LABEL] &&
      (uid === undefined || s.labels[POD_UID_LABEL] === undefined || s.labels[POD_UID_LABEL] === uid);
    const seen = [...this.sandboxes.values()].find(samePod);
    if (seen !== undefined) return seen;
    if (client.name === "containerd" && c.namespace !== undefined) {
      // The pod's containers only (one `ctr` listing and an `info` each), not every container of the namespace.
      const filter = `labels."${POD_NAME_LABEL}"==${JSON.stringify(c.labels[POD_NAME_LABEL] ?? "")}`;
      const listed = await listContainerdContainers(c.namespace, this.options.containerd, filter);
      return listed.map((s) => ({ ...s, runtime: "containerd" as const, name: undefined, running: true })).find(samePod);
    }
    return (await client.list()).find(samePod);
  }
}

/** What is already known of a container's processes, to spare a scan or a runtime call. */
export interface KnownProcesses {
  /** Its first process, when its start event named it (containerd's do). */
  readonly startedPid?: number | undefined;
  /** One scan of every container's processes by cgroup, shared by the containers listed together at the start. */
  readonly scanned?: ReturnType<typeof runningContainers> | undefined;
}

/**
 * The container's processes now, from the cgroups of running processes when
 * its id is one a cgroup path names (64 hex digits), else the pid its start
 * event named, else the pids its runtime knows; empty once it has stopped.
 */
export async function processesOf(client: ContainerRuntimeClient, c: ContainerInfo, known: KnownProcesses = {}): Promise<ProcessInfo[]> {
  if (/^[0-9a-f]{64}$/.test(c.id)) {
    const scanned = known.scanned === undefined ? processesOfContainer(c.id) : (known.scanned.get(c.id)?.processes ?? []);
    const own = scanned.filter((p) => p.container?.id === c.id);
    if (own.length > 0) return own;
  }
  const startedPid = known.startedPid;
  let pids: number[];
  try {
    // Just started, a container is its first process (containerd's start event names it): its mount namespace is the container's.
    pids =
      startedPid !== undefined
        ? [startedPid]
        : await client.processIds({ runtime: c.runtime, id: c.id, name: c.name, namespace: c.runtimeNamespace, image: "", running: true, labels: c.labels });
  } catch (error) {
    if (error instanceof NotFoundError) return [];
    throw error;
  }
  return pids.flatMap((pid) => {
    try {
      return [inspectProcess(pid)];
    } catch (error) {
      if (error instanceof ProbecError) return []; // exited meanwhile
      throw error;
    }
  });
}

/**
 * How compile() resolves the file's targets for one container: a named
 * scope is re-aimed at the container's id (`docker/web` → `docker/<id>`,
 * resolved as without --follow); a selector scope is resolved to this one
 * container, given as the resolution of the scope itself (the resolution
 * cache compile() shares across targets, keyed by the scope as resolveTarget
 * keys it), so that its entries are what the selector would plan for it:
 * named as a selector names its containers (`shop/web-1/app`), pod included.
 */
export function resolverFor(
  followed: FollowedScope,
  c: ContainerInfo,
  processes: readonly ProcessInfo[],
  options: ResolveTargetOptions,
): (text: string) => Promise<TargetResolution> {
  if (followed.selector === undefined) return (text) => resolveTarget(retarget(text, `${c.runtime}/${c.id}`), options);
  const scope: ResolvedScope = {
    runtime: c.runtime,
    containerId: undefined,
    containerName: undefined,
    labels: {},
    layers: [],
    processes,
    containers: [{ ...c, mntNs: [...new Set(processes.map((p) => p.mntNs))], processes }],
  };
  const cache = newResolutionCache();
  return (text) => {
    cache.scopes.set(text.split(":")[0] ?? text, Promise.resolve(scope));
    return resolveTarget(text, { ...options, cache });
  };
}
