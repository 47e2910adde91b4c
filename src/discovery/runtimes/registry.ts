/**
 * The one registry of container runtimes: every {@link ContainerRuntimeClient}
 * probec has, and the order a bare container name is looked up in. Scope
 * resolution (`docker/web`, a bare `web`), `probec resolve` and the coming
 * `--follow` all go through here, so they agree on which runtimes exist.
 * A new runtime is one adapter file and one line in {@link FACTORIES}.
 */
import { NotFoundError } from "../../errors.js";
import type { ContainerRuntime } from "../../plan/index.js";
import type { ContainerdOptions } from "./containerd.js";
import { containerdRuntime } from "./containerd-runtime.js";
import type { CrioOptions } from "./crio.js";
import { crioRuntime } from "./crio-runtime.js";
import type { DockerOptions } from "./docker-api.js";
import { dockerRuntime, podmanRuntime } from "./engine-runtime.js";
import type { PodmanOptions } from "./podman.js";
import type { ContainerRuntimeClient, RuntimeContainerDetails } from "./runtime.js";

/** Where each runtime is reached; every field optional (each runtime's defaults and environment variables apply). */
export interface RuntimeOptions {
  readonly docker?: DockerOptions;
  readonly containerd?: ContainerdOptions;
  readonly podman?: PodmanOptions;
  readonly crio?: CrioOptions;
}

/** The runtimes with a client. `cri` has none: it is a cgroup path that does not say which CRI runtime made it. */
export type ClientRuntime = Exclude<ContainerRuntime, "cri">;

/** One line per runtime; the `Record` makes a runtime added to src/plan/runtimes.ts fail to compile until it has one. */
const FACTORIES: { readonly [K in ClientRuntime]: (options: RuntimeOptions) => ContainerRuntimeClient } = {
  docker: (o) => dockerRuntime(o.docker),
  podman: (o) => podmanRuntime(o.podman),
  containerd: (o) => containerdRuntime(o.containerd),
  crio: (o) => crioRuntime(o.crio),
};

/**
 * The order a bare NAME is looked up in. CRI-O is not in it: its store is
 * containers/storage, the same files Podman uses, so a name found there may
 * be a Podman container; `crio/NAME` names it explicitly.
 */
export const BARE_NAME_RUNTIMES: readonly ClientRuntime[] = ["docker", "podman", "containerd"];

/** The client of one runtime. */
export function containerRuntime(name: ClientRuntime, options: RuntimeOptions = {}): ContainerRuntimeClient {
  return FACTORIES[name](options);
}

/** Every runtime's client, in registry order (docker, podman, containerd, crio), present here or not. */
export function containerRuntimes(options: RuntimeOptions = {}): ContainerRuntimeClient[] {
  return (Object.keys(FACTORIES) as ClientRuntime[]).map((name) => containerRuntime(name, options));
}

/**
 * A bare container name, looked up in each runtime of
 * {@link BARE_NAME_RUNTIMES} that is present, in order; the first that has
 * it wins.
 *
 * @throws NotFoundError when none has it, saying what each runtime answered
 *   or where its socket was looked for, with each runtime's hints.
 */
export async function findContainerByName(
  name: string,
  options: RuntimeOptions = {},
): Promise<{ client: ContainerRuntimeClient; container: RuntimeContainerDetails }> {
  const tried: string[] = [];
  const hints: string[] = [];
  for (const runtime of BARE_NAME_RUNTIMES) {
    const client = containerRuntime(runtime, options);
    if (!client.present()) {
      tried.push(`${runtime} (no socket at ${client.endpoint})`);
      continue;
    }
    try {
      return { client, container: await client.find(name) };
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      tried.push(`${runtime} (no such container)`);
      hints.push(...error.hints.map((h) => `${runtime}: ${h}`));
    }
  }
  throw new NotFoundError(`no running container is called "${name}"; tried ${tried.join(", ")}`, [
    ...hints,
    "name the runtime (docker/NAME, podman/NAME, containerd/ID, pid/N), start its daemon, or set DOCKER_HOST, CONTAINER_HOST or CONTAINERD_ADDRESS",
  ]);
}
