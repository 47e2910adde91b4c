/**
 * What every container runtime client offers, so that code above the
 * runtimes (scope resolution, `probec resolve`, the coming `--follow`) asks
 * one interface and a new runtime is one file and one line in
 * `registry.ts` (the shape of bpftrace's one `Arch` interface per machine,
 * docs/style.md).
 *
 * Operations, and which runtimes have them today:
 *
 * | runtime | list | find (name, id, prefix) | inspect | events |
 * |---|---|---|---|---|
 * | docker | Engine API `GET /containers/json` | yes | `GET /containers/{id}/json` | `GET /events?since=` (streamed; live at the answer) |
 * | podman | its Docker-compatible API | yes | yes | the same |
 * | containerd | `ctr containers ls` / `info`, every namespace | id or prefix (containerd has no names) | `ctr containers info` | `ctr events` (streamed; live once probec's own sync event comes back) |
 * | crio | containers/storage files on disk | yes | yes | none yet: CRI-O's only event source is CRI's `GetContainerEvents` (gRPC) |
 *
 * Containers are described the same way whatever the runtime
 * ({@link RuntimeContainer}); the runtime-specific clients under this folder
 * keep their own richer types for callers that need them.
 */
import type { ContainerRuntime } from "../../plan/index.js";

/** A container as a runtime lists it. */
export interface RuntimeContainer {
  /** The runtime that has it. */
  readonly runtime: ContainerRuntime;
  /** The full id (64 hex digits for docker, podman, crio; any string containerd was given). */
  readonly id: string;
  /** Its name (docker, podman, crio; the Kubernetes container name for containerd), or undefined when it has none. */
  readonly name: string | undefined;
  /** containerd's namespace; undefined for the others. */
  readonly namespace: string | undefined;
  /** The image it was made from, as the runtime names it ("" when unknown). */
  readonly image: string;
  /** True when it runs (has a running process); a listing holds running containers only. */
  readonly running: boolean;
  /** Labels (docker, podman, containerd) or annotations (crio), `io.kubernetes.*` included. */
  readonly labels: Readonly<Record<string, string>>;
}

/** A container inspected: what a listing says, plus what resolving a scope needs. */
export interface RuntimeContainerDetails extends RuntimeContainer {
  /** Overlay layers when the runtime gave them: upper first, then the lowers in order; else empty. */
  readonly layers: readonly string[];
  /** The container's first process as the runtime reports it (host pid), or undefined when it has none. */
  readonly pid: number | undefined;
  /** The exit code when it has exited and the runtime kept it, else undefined. */
  readonly exitCode: number | undefined;
}

/** What a runtime event says happened to a container. */
export type RuntimeEventAction = "create" | "start" | "exit" | "destroy" | "other";

/** One event of a runtime's stream. */
export interface RuntimeEvent {
  /** The runtime that reported it. */
  readonly runtime: ContainerRuntime;
  /** What happened, in probec's words: `start` is the moment a `--follow` attaches. */
  readonly action: RuntimeEventAction;
  /** The runtime's own word for it (docker `die`, containerd `/tasks/exit`). */
  readonly rawAction: string;
  /** The container's id. */
  readonly id: string;
  /** The container's name when the event carries it. */
  readonly name: string | undefined;
  /** containerd's namespace; undefined for the others. */
  readonly namespace: string | undefined;
  /** The pid the event names (containerd's task events), when it names one. */
  readonly pid: number | undefined;
  /** When it happened, in nanoseconds since the Unix epoch. */
  readonly timeNs: bigint;
}

/** How to stop an event stream (abort the signal, or stop iterating), and how to learn that it is live. */
export interface EventOptions {
  readonly signal?: AbortSignal;
  /**
   * Called once, when every event from then on is sure to come: the
   * runtime has registered the subscription, which a request sent is not
   * (Docker and Podman: the daemon's answer to a request that asks for the
   * events since before it was sent; containerd: probec's own sync event
   * come back through the stream). A caller that lists the running
   * containers after it misses none that starts in between. Not called
   * when the stream fails first.
   */
  readonly onLive?: () => void;
}

/** One container runtime, as probec uses it. */
export interface ContainerRuntimeClient {
  /** Its name, as scopes and plans spell it. */
  readonly name: ContainerRuntime;
  /** Where it is reached (a socket path, a storage directory), for messages. */
  readonly endpoint: string;
  /**
   * True when it can be asked on this machine (its socket or files exist,
   * its client is installed). A runtime that is not present is not an error:
   * it is skipped, and messages say where it was looked for.
   */
  present(): boolean;
  /** Every running container, in the runtime's order. */
  list(): Promise<RuntimeContainer[]>;
  /**
   * The running container `ref` names: a name, a full id, or a unique id
   * prefix (each runtime's rules).
   *
   * @throws NotFoundError naming the nearest candidates; AmbiguousError; UsageError for a too-short prefix.
   */
  find(ref: string): Promise<RuntimeContainerDetails>;
  /** The container of exactly this id (and namespace, for containerd). @throws NotFoundError */
  inspect(id: string, namespace?: string): Promise<RuntimeContainerDetails>;
  /**
   * Every pid of the container as the runtime knows them, for when the
   * cgroup scan cannot say (a cgroup namespace hides the paths, or the id is
   * not one a cgroup path names, as with `ctr run NAME`). Sorted; empty when
   * it has no running process.
   */
  processIds(container: RuntimeContainer): Promise<number[]>;
  /**
   * Container events from now on, until the signal aborts or the caller
   * stops iterating; undefined for a runtime that has no event stream yet.
   */
  readonly events: ((options?: EventOptions) => AsyncIterable<RuntimeEvent>) | undefined;
}
