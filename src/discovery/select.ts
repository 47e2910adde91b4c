/**
 * Selector scopes (issue 14): `docker/app=web`, `docker/*`,
 * `containerd/[NS/]SELECTOR`, `k8s/NS/SELECTOR[/C1,C2]` pick any number of
 * running containers by label, through the runtime registry. Two entry
 * points, so that `--follow` can reuse them:
 *
 * - {@link selectContainers}: the containers a scope picks now;
 * - {@link scopeMatcher}: the same choice as a predicate over one
 *   {@link ContainerInfo}, to apply to containers a runtime event announces.
 *
 * Pod labels come from the runtime as the kubelet stores them, no API
 * server: the kubelet gives a pod's labels (plus `io.kubernetes.pod.name`,
 * `.namespace`, `.uid`) to its sandbox (CRI `PodSandboxConfig.labels`; in
 * containerd the sandbox container carries them with
 * `io.cri-containerd.kind=sandbox`, in cri-dockerd/dockershim the pause
 * container with `io.kubernetes.docker.type=podsandbox`), and only the
 * `io.kubernetes.*` labels to each app container. An app container's pod
 * labels are therefore its sandbox's: the sandbox of the same runtime, pod
 * namespace and name (and uid when both carry one).
 */
import { NotFoundError } from "../errors.js";
import { matchesLabels } from "../dsl/label-selector.js";
import type { SelectorScope } from "../dsl/target-spec.js";
import { nearest } from "../suggest.js";
import { CONTAINER_NAME_LABEL, isSandbox, POD_NAME_LABEL, POD_NAMESPACE_LABEL } from "./runtimes/k8s.js";
import { containerRuntime, type ClientRuntime, type RuntimeOptions } from "./runtimes/registry.js";
import type { RuntimeContainer } from "./runtimes/runtime.js";

const POD_UID_LABEL = "io.kubernetes.pod.uid";

/** A container as selectors see it: enough to match it and to name it in events. */
export interface ContainerInfo {
  readonly runtime: ClientRuntime;
  readonly id: string;
  /** The runtime's name for it (undefined for containerd, which has none). */
  readonly name: string | undefined;
  /** containerd's namespace; undefined for the others. */
  readonly runtimeNamespace: string | undefined;
  /** The container's own labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** For a pod's app container: its pod and name in the pod, and the pod's labels (its sandbox's). */
  readonly pod:
    | { readonly namespace: string; readonly name: string; readonly container: string; readonly labels: Readonly<Record<string, string>> }
    | undefined;
}

/** Options of {@link selectContainers}. */
export interface SelectOptions extends RuntimeOptions {
  /** With `--follow`, a selector that matches nothing now is an empty set rather than an error (containers may come). */
  readonly follow?: boolean;
}

/** The runtimes a selector scope asks. */
function runtimesOf(scope: SelectorScope): ClientRuntime[] {
  return scope.runtime === "k8s" ? ["containerd", "docker"] : [scope.runtime];
}

/** Whether `c` is one `scope` picks; `c` must come from one of the scope's runtimes. */
export function scopeMatcher(scope: SelectorScope): (c: ContainerInfo) => boolean {
  const runtimes = runtimesOf(scope);
  return (c) => {
    if (!runtimes.includes(c.runtime)) return false;
    if (scope.runtime !== "k8s") {
      if (scope.runtime === "containerd" && scope.namespace !== undefined && c.runtimeNamespace !== scope.namespace) return false;
      return scope.selector === undefined || matchesLabels(scope.selector, c.labels);
    }
    const pod = c.pod;
    if (pod === undefined) return false;
    if (scope.namespace !== undefined && pod.namespace !== scope.namespace) return false;
    if (scope.pod !== undefined && pod.name !== scope.pod) return false;
    if (scope.containers !== undefined && !scope.containers.includes(pod.container)) return false;
    return scope.selector === undefined || matchesLabels(scope.selector, pod.labels);
  };
}

/**
 * The running containers `scope` picks now, sorted by runtime, pod and name.
 *
 * @throws NotFoundError when it picks none (unless `follow`), naming what
 *   exists: the labels of the running containers (or the pods, their
 *   namespaces and labels), and the nearest namespace to a misspelt one.
 */
export async function selectContainers(scope: SelectorScope, options: SelectOptions = {}): Promise<ContainerInfo[]> {
  const all = await runningContainers(scope, options);
  const match = scopeMatcher(scope);
  const picked = all.filter(match).sort((a, b) => key(a).localeCompare(key(b)));
  if (picked.length === 0 && options.follow !== true) throw noMatch(scope, all);
  return picked;
}

function key(c: ContainerInfo): string {
  return `${c.runtime}/${c.pod === undefined ? "" : `${c.pod.namespace}/${c.pod.name}/${c.pod.container}`}/${c.name ?? ""}/${c.id}`;
}

/** Every running container of the scope's runtimes, app containers of pods with their pod's labels; sandboxes left out. */
async function runningContainers(scope: SelectorScope, options: RuntimeOptions): Promise<ContainerInfo[]> {
  const absent: string[] = [];
  const out: ContainerInfo[] = [];
  for (const runtime of runtimesOf(scope)) {
    const client = containerRuntime(runtime, options);
    if (!client.present()) {
      absent.push(`${runtime} (not reachable at ${client.endpoint})`);
      continue;
    }
    const listed = await client.list();
    const sandboxes = listed.filter((c) => isSandbox(c.labels));
    for (const c of listed) {
      if (isSandbox(c.labels)) continue;
      out.push(infoOf(runtime, c, sandboxes));
    }
  }
  if (out.length === 0 && absent.length === runtimesOf(scope).length) {
    throw new NotFoundError(`${scope.text}: no container runtime to ask: ${absent.join("; ")}`, [
      "start the runtime, or set DOCKER_HOST, CONTAINER_HOST or CONTAINERD_ADDRESS to its socket",
    ]);
  }
  return out;
}

function infoOf(runtime: ClientRuntime, c: RuntimeContainer, sandboxes: readonly RuntimeContainer[]): ContainerInfo {
  const base = { runtime, id: c.id, name: c.name, runtimeNamespace: c.namespace, labels: c.labels };
  const namespace = c.labels[POD_NAMESPACE_LABEL];
  const name = c.labels[POD_NAME_LABEL];
  const container = c.labels[CONTAINER_NAME_LABEL];
  if (namespace === undefined || name === undefined || container === undefined) return { ...base, pod: undefined };
  const uid = c.labels[POD_UID_LABEL];
  const sandbox = sandboxes.find(
    (s) =>
      s.namespace === c.namespace &&
      s.labels[POD_NAMESPACE_LABEL] === namespace &&
      s.labels[POD_NAME_LABEL] === name &&
      (uid === undefined || s.labels[POD_UID_LABEL] === undefined || s.labels[POD_UID_LABEL] === uid),
  );
  return { ...base, pod: { namespace, name, container, labels: sandbox?.labels ?? {} } };
}

/** The error for a selector that picks nothing, naming what exists. */
function noMatch(scope: SelectorScope, all: readonly ContainerInfo[]): NotFoundError {
  const what = scope.selector === undefined ? (scope.pod === undefined ? "*" : `pod "${scope.pod}"`) : `"${scope.selector.text}"`;
  if (scope.runtime === "k8s") {
    const pods = all.filter((c) => c.pod !== undefined);
    const namespaces = [...new Set(pods.map((c) => c.pod?.namespace as string))].sort();
    if (scope.namespace !== undefined && !namespaces.includes(scope.namespace)) {
      const near = nearest(scope.namespace, namespaces);
      return new NotFoundError(`${scope.text}: no running pod is in namespace "${scope.namespace}" on this node`, [
        ...(near.length > 0 ? [`did you mean ${near.join(" or ")}?`] : []),
        namespaces.length === 0 ? "no running container here carries io.kubernetes.pod.* labels" : `namespaces with pods: ${namespaces.join(", ")}`,
      ]);
    }
    const inNs = pods.filter((c) => scope.namespace === undefined || c.pod?.namespace === scope.namespace);
    // One entry per pod, its app containers together.
    const byPod = new Map<string, { labels: Readonly<Record<string, string>>; containers: string[] }>();
    for (const c of inNs) {
      const key = `${c.pod?.namespace}/${c.pod?.name}`;
      const entry = byPod.get(key) ?? { labels: c.pod?.labels ?? {}, containers: [] };
      entry.containers.push(c.pod?.container ?? "");
      byPod.set(key, entry);
    }
    const shown = [...byPod]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([pod, { labels, containers }]) => `${pod} (${labelText(podLabelsOnly(labels))}; containers: ${[...new Set(containers)].sort().join(",")})`);
    return new NotFoundError(
      `${scope.text}: no running pod${scope.namespace === undefined ? "" : ` in namespace "${scope.namespace}"`} matches ${what}${scope.containers === undefined ? "" : ` with a container ${scope.containers.join(" or ")}`}`,
      [`pods: ${shown.slice(0, 10).join("; ")}${shown.length > 10 ? "; …" : ""}`],
    );
  }
  const inScope = all.filter((c) => scope.runtime !== "containerd" || scope.namespace === undefined || c.runtimeNamespace === scope.namespace);
  const labels = [...new Set(inScope.flatMap((c) => Object.entries(c.labels).map(([k, v]) => `${k}=${v}`)))].sort();
  return new NotFoundError(
    `${scope.text}: no running ${scope.runtime} container${scope.runtime === "containerd" && scope.namespace !== undefined ? ` in namespace "${scope.namespace}"` : ""} matches ${what}`,
    [
      inScope.length === 0
        ? `${scope.runtime} runs no container${scope.runtime === "containerd" && scope.namespace !== undefined ? " in that namespace" : ""}`
        : `labels of the ${inScope.length} running: ${labels.slice(0, 20).join(", ")}${labels.length > 20 ? ", …" : ""}`,
    ],
  );
}

/** A pod's labels without the kubelet's own `io.kubernetes.*` and the runtime's `io.cri-containerd.*`. */
function podLabelsOnly(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith("io.kubernetes.") && !k.startsWith("io.cri-containerd.")));
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return entries.length === 0 ? "no labels" : entries.join(",");
}
