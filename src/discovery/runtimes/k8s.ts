/**
 * Kubernetes containers found without an API server: the kubelet's runtime
 * labels every container it creates with
 *
 *     io.kubernetes.pod.namespace    default
 *     io.kubernetes.pod.name         web-7d4b9
 *     io.kubernetes.container.name   nginx
 *
 * so `k8s/NAMESPACE/POD[/CONTAINER]` is answered by asking the runtimes on
 * this node: every containerd namespace (the CRI plugin's is `k8s.io`) and
 * Docker (dockershim / cri-dockerd). Each pod also has a sandbox ("pause")
 * container carrying the same pod labels, which is not an app container and
 * is skipped: containerd's CRI marks it `io.cri-containerd.kind=sandbox`,
 * dockershim `io.kubernetes.docker.type=podsandbox`. Exited containers of
 * earlier restarts keep their labels too; only running ones count.
 *
 * A runtime that is absent (no socket, no `ctr`) is skipped; one that is
 * present but fails is an error.
 */
import { existsSync } from "node:fs";
import { AmbiguousError, IoError, NotFoundError, UsageError } from "../../errors.js";
import type { ContainerRuntime } from "../../plan/index.js";
import { nearest } from "../../suggest.js";
import {
  containerdSocketPath,
  ctrInstalled,
  listContainers as listContainerdContainers,
  listNamespaces,
  listTasks,
  type ContainerdOptions,
} from "./containerd.js";
import { dockerSocketPath, listContainers as listDockerContainers, type DockerOptions } from "./docker.js";

/** The runtimes whose labels probec reads Kubernetes pods from (src/plan/runtimes.ts). */
export type K8sRuntime = Extract<ContainerRuntime, "containerd" | "docker">;

export const POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace";
export const POD_NAME_LABEL = "io.kubernetes.pod.name";
export const CONTAINER_NAME_LABEL = "io.kubernetes.container.name";

/** Where the runtimes are reached. */
export interface K8sOptions {
  readonly containerd?: ContainerdOptions;
  readonly docker?: DockerOptions;
}

/** A running container of a pod, and the runtime that runs it. */
export interface K8sContainer {
  readonly runtime: K8sRuntime;
  /** The containerd namespace (`k8s.io`); undefined for Docker. */
  readonly runtimeNamespace: string | undefined;
  /** The runtime's container id. */
  readonly id: string;
  /** The container's name in the pod (`io.kubernetes.container.name`). */
  readonly name: string;
  readonly podNamespace: string;
  readonly pod: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  /** containerd's task PID (undefined for Docker: inspect the container for it). */
  readonly pid: number | undefined;
}

/** Whether `labels` mark a pod's sandbox (pause) container rather than an app container. */
export function isSandbox(labels: Readonly<Record<string, string>>): boolean {
  return labels["io.cri-containerd.kind"] === "sandbox" || labels["io.kubernetes.docker.type"] === "podsandbox";
}

/**
 * The running app container `container` of pod `namespace/pod`, or, without
 * a container name, the pod's only app container.
 *
 * @throws NotFoundError naming the pods (or the pod's containers) that exist.
 * @throws UsageError when no container is named and the pod runs several; lists their names.
 * @throws AmbiguousError when two running containers share the name (should not happen).
 * @throws IoError when no runtime can be asked, or one fails.
 */
export async function findK8sContainer(namespace: string, pod: string, container: string | undefined, options: K8sOptions = {}): Promise<K8sContainer> {
  const what = `k8s/${namespace}/${pod}`;
  const all = await k8sContainers(options, what);
  const inPod = all.filter((c) => c.podNamespace === namespace && c.pod === pod);
  if (inPod.length === 0) {
    const pods = [...new Set(all.map((c) => `${c.podNamespace}/${c.pod}`))].sort();
    const near = nearest(`${namespace}/${pod}`, pods);
    throw new NotFoundError(`${what}: no running pod "${pod}" in namespace "${namespace}" on this node`, [
      ...(near.length > 0 ? [`did you mean ${near.join(" or ")}?`] : []),
      pods.length === 0 ? "no container here carries io.kubernetes.pod.* labels" : `pods: ${pods.slice(0, 20).join(", ")}${pods.length > 20 ? ", …" : ""}`,
    ]);
  }
  const names = [...new Set(inPod.map((c) => c.name))].sort();
  let matches: K8sContainer[];
  if (container === undefined) {
    if (names.length > 1) {
      throw new UsageError(`${what}: the pod runs ${names.length} containers: ${names.join(", ")}`, [`name one: ${what}/${names[0] ?? "NAME"}`]);
    }
    matches = inPod;
  } else {
    matches = inPod.filter((c) => c.name === container);
    if (matches.length === 0) {
      const near = nearest(container, names);
      throw new NotFoundError(`${what}: the pod has no running container "${container}"`, [
        ...(near.length > 0 ? [`did you mean ${near.map((n) => `"${n}"`).join(" or ")}?`] : []),
        `its containers: ${names.join(", ")}`,
      ]);
    }
  }
  if (matches.length > 1) {
    throw new AmbiguousError(
      `${what}: ${matches.length} running containers are named "${matches[0]?.name ?? ""}"`,
      matches.map((c) => `${c.runtime}${c.runtimeNamespace === undefined ? "" : `/${c.runtimeNamespace}`}/${c.id}`),
      ["name the container by its runtime id instead (containerd/NAMESPACE/ID, docker/ID)"],
    );
  }
  return matches[0] as K8sContainer;
}

/** Every running, non-sandbox container with pod labels, from every runtime present. */
export async function k8sContainers(options: K8sOptions = {}, what = "k8s"): Promise<K8sContainer[]> {
  const found: K8sContainer[] = [];
  const absent: string[] = [];
  const containerdSocket = containerdSocketPath(options.containerd);
  if (!ctrInstalled(options.containerd)) absent.push("containerd (ctr is not installed)");
  else if (!existsSync(containerdSocket)) absent.push(`containerd (no socket at ${containerdSocket})`);
  else {
    for (const ns of await listNamespaces(options.containerd)) {
      // Only containers with pod labels: one `containers info` each.
      const labelled = await listContainerdContainers(ns, options.containerd, `labels."${POD_NAMESPACE_LABEL}"`);
      if (labelled.length === 0) continue;
      const tasks = await listTasks(ns, options.containerd);
      for (const c of labelled) {
        const task = tasks.get(c.id);
        if (task === undefined || task.status !== "RUNNING") continue;
        const entry = fromLabels("containerd", ns, c.id, c.image, c.labels, task.pid);
        if (entry !== undefined) found.push(entry);
      }
    }
  }
  const dockerSocket = dockerSocketPath(options.docker?.host);
  if (!existsSync(dockerSocket)) absent.push(`docker (no socket at ${dockerSocket})`);
  else {
    for (const c of await listDockerContainers(options.docker)) {
      if (c.state !== "running") continue;
      const entry = fromLabels("docker", undefined, c.id, c.image, c.labels, undefined);
      if (entry !== undefined) found.push(entry);
    }
  }
  if (absent.length === 2) {
    throw new IoError(`${what}: no container runtime to ask: ${absent.join("; ")}`, "ENOENT", [
      "set CONTAINERD_ADDRESS or DOCKER_HOST to the node's runtime socket",
    ]);
  }
  return found;
}

function fromLabels(
  runtime: K8sRuntime,
  runtimeNamespace: string | undefined,
  id: string,
  image: string,
  labels: Readonly<Record<string, string>>,
  pid: number | undefined,
): K8sContainer | undefined {
  const podNamespace = labels[POD_NAMESPACE_LABEL];
  const pod = labels[POD_NAME_LABEL];
  const name = labels[CONTAINER_NAME_LABEL];
  if (podNamespace === undefined || pod === undefined || name === undefined || isSandbox(labels)) return undefined;
  return { runtime, runtimeNamespace, id, name, podNamespace, pod, image, labels, pid };
}
