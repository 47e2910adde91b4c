/**
 * containerd as a {@link ContainerRuntimeClient}, through `ctr`
 * (containerd.ts): containers in every namespace, their overlay layers from
 * the snapshotter, their task's pids, and `ctr events`. containerd has no
 * container names: a container is found by its id (or a unique prefix),
 * `NAMESPACE/ID` to pick a namespace; its name is the Kubernetes one when a
 * kubelet labelled it.
 */
import { existsSync } from "node:fs";
import {
  containerInfo,
  containerdSocketPath,
  ctrInstalled,
  findContainerdContainer,
  listContainerIds,
  listNamespaces,
  listTasks,
  snapshotLayers,
  taskPid,
  taskPids,
  type ContainerdOptions,
  type CtrContainerInfo,
} from "./containerd.js";
import { containerdEvents } from "./containerd-events.js";
import { NotFoundError } from "../../errors.js";
import type { ContainerRuntimeClient, RuntimeContainer, RuntimeContainerDetails } from "./runtime.js";

/** containerd at `options.address`, else `CONTAINERD_ADDRESS`, else /run/containerd/containerd.sock. */
export function containerdRuntime(options: ContainerdOptions = {}): ContainerRuntimeClient {
  const endpoint = containerdSocketPath(options);
  return {
    name: "containerd",
    endpoint,
    present: () => existsSync(endpoint) && ctrInstalled(options),
    list: async () => {
      const out: RuntimeContainer[] = [];
      for (const namespace of await listNamespaces(options)) {
        const tasks = await listTasks(namespace, options);
        for (const id of await listContainerIds(namespace, options)) {
          const task = tasks.get(id);
          if (task === undefined || task.status !== "RUNNING") continue;
          try {
            out.push(summary(await containerInfo(namespace, id, options), true));
          } catch (error) {
            if (!(error instanceof NotFoundError)) throw error; // removed meanwhile
          }
        }
      }
      return out;
    },
    find: async (ref) => {
      const slash = ref.indexOf("/");
      const target = slash < 0 ? { id: ref } : { namespace: ref.slice(0, slash), id: ref.slice(slash + 1) };
      return describe(await findContainerdContainer(target, options), options);
    },
    inspect: async (id, namespace) => {
      if (namespace === undefined) return describe(await findContainerdContainer({ id }, options), options);
      return describe(await containerInfo(namespace, id, options), options);
    },
    processIds: async (container) => {
      const namespace = container.namespace ?? "default";
      const pids = await taskPids(namespace, container.id, options);
      if (pids.length > 0) return pids;
      const pid = await taskPid(namespace, container.id, options);
      return pid === undefined ? [] : [pid];
    },
    events: (eventOptions) => containerdEvents(options, eventOptions),
  };
}

function summary(info: CtrContainerInfo, running: boolean): RuntimeContainer {
  return {
    runtime: "containerd",
    id: info.id,
    name: info.labels["io.kubernetes.container.name"],
    namespace: info.namespace,
    image: info.image,
    running,
    labels: info.labels,
  };
}

async function describe(info: CtrContainerInfo, options: ContainerdOptions): Promise<RuntimeContainerDetails> {
  const pid = await taskPid(info.namespace, info.id, options);
  const layers = await snapshotLayers(info.namespace, info.snapshotter, info.snapshotKey, options);
  return { ...summary(info, pid !== undefined), layers, pid, exitCode: undefined };
}
