/**
 * CRI-O as a {@link ContainerRuntimeClient}, from the containers/storage
 * files it leaves on disk (crio.ts): list, find and inspect. It has no
 * event stream yet: CRI-O's only one is CRI's `GetContainerEvents`, a gRPC
 * stream probec does not speak (it would need protobuf), so `events` is
 * undefined and callers say so.
 */
import { join } from "node:path";
import {
  crioStorageExists,
  DEFAULT_CRIO_STORAGE_ROOT,
  described,
  findCrioContainer,
  listStorageContainers,
  type CrioContainer,
  type CrioOptions,
} from "./crio.js";
import type { ContainerRuntimeClient, RuntimeContainerDetails } from "./runtime.js";

/** CRI-O's store at `options.storageRoot` (else /var/lib/containers/storage) and `runRoot`. */
export function crioRuntime(options: CrioOptions = {}): ContainerRuntimeClient {
  const endpoint = join(options.storageRoot ?? DEFAULT_CRIO_STORAGE_ROOT, `${options.driver ?? "overlay"}-containers`);
  return {
    name: "crio",
    endpoint,
    present: () => crioStorageExists(options),
    list: async () =>
      listStorageContainers(options)
        .map((c) => described(c, options))
        .filter((c) => c.pid !== undefined)
        .map((c) => crioDetails(c)),
    find: async (ref) => crioDetails(findCrioContainer(ref, options)),
    inspect: async (id) => crioDetails(findCrioContainer(id, options)),
    processIds: async (container) => {
      const pid = crioDetails(findCrioContainer(container.id, options)).pid;
      return pid === undefined ? [] : [pid];
    },
    events: undefined,
  };
}

/** A store container, in the runtime-neutral shape (annotations as labels; no layers: the store's layer ids are not paths). */
export function crioDetails(c: CrioContainer): RuntimeContainerDetails {
  return {
    runtime: "crio",
    id: c.id,
    name: c.name,
    namespace: undefined,
    image: c.image,
    running: c.pid !== undefined,
    labels: c.annotations,
    layers: [],
    pid: c.pid,
    exitCode: c.exitCode,
  };
}
