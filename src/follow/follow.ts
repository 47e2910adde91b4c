/**
 * `follow(source)`: a probe file kept attached to the containers its scope
 * names while they come and go (issue 14, `--follow`).
 *
 * One helper for the whole session (attachFollowing: one BPF object, one
 * ring buffer). The runtimes' event streams are watched, not polled
 * (Docker's and Podman's `/events`; containerd's event service, which also
 * carries the CRI plugin's pods; a `k8s/…` scope watches containerd and
 * Docker, whichever is there). A container that starts and matches is
 * inspected, the file is compiled for it alone (src/follow/container.ts),
 * and its entries join the running helper: one entry per distinct binary
 * and probe, which later containers of the same image join by mount
 * namespace (src/follow/shared-entries.ts). One that exits or is
 * destroyed leaves its entries, which detaches them when it was their
 * last. A restart is an exit then a start, so it is detached and attached
 * again; a named container re-created under the same name is matched by
 * name.
 *
 * No container is missed at start-up: the running containers are listed
 * only once every event stream is live, that is once the runtime is sure
 * to deliver every event from then on (EventOptions.onLive: for Docker and
 * Podman the daemon's answer to a request for the events since before it
 * was sent, for containerd probec's own sync event come back through the
 * stream), not merely once it was asked. A container that starts before
 * the listing is in it; one that starts after is in the stream. Seen by
 * both, it is attached once: containers are keyed by runtime and id.
 *
 * The listing runs in the chain of container operations, which handles
 * events in the order they come: an event that comes while the listing
 * runs is handled after the containers it found are attached. So a
 * container listed as running that exits meanwhile is attached, then
 * detached by its exit; and an exit from before the listing that comes
 * late (Docker replays the events since the request was sent) finds either
 * nothing attached or, for a container restarted since, the listing's
 * attachment, which its own later start event then makes again: the last
 * event of each container decides, as it should.
 */
import { compile, type CompileOptions } from "../compile/compile.js";
import { attachFollowing, type AttachOptions, type Attachment, type FollowCommands } from "../attach/attach.js";
import type { ProbeEvent } from "../attach/events.js";
import type { AttachSummary } from "../attach/summary.js";
import { containerRuntime } from "../discovery/runtimes/registry.js";
import type { ContainerRuntimeClient, RuntimeEvent } from "../discovery/runtimes/runtime.js";
import { selectContainers, type ContainerInfo } from "../discovery/select.js";
import { NotFoundError, UsageError } from "../errors.js";
import type { AttachPlan } from "../plan/index.js";
import { runningContainers } from "../discovery/processes.js";
import { ContainerDescriber, containerKey, containerLabel, type KnownProcesses, processesOf, resolverFor } from "./container.js";
import { followedScope, type FollowedScope } from "./scope.js";
import { SharedEntries } from "./shared-entries.js";

/** How many of the latest changes {@link Following.changes} keeps. */
export const MAX_KEPT_CHANGES = 1000;

/** One change of what is followed, as status lines print it (`+ docker/web-2 (3 points)`). */
export type FollowChange =
  | { readonly type: "attached"; readonly scope: string; readonly id: string; readonly points: number; readonly failed: number }
  | { readonly type: "detached"; readonly scope: string; readonly id: string; readonly reason: "exited" | "destroyed" }
  | { readonly type: "failed"; readonly scope: string; readonly id: string; readonly message: string }
  | { readonly type: "waiting"; readonly scope: string; readonly message: string }
  | { readonly type: "warning"; readonly scope: string; readonly message: string };

/** Options of {@link follow}: the attach options, the compile (and runtime) options, and a listener for changes. */
export interface FollowOptions extends Omit<AttachOptions, "follow">, Omit<CompileOptions, "resolve" | "follow"> {
  /** Called with each change: a container attached or detached, a failure, a runtime's stream gone. */
  readonly onChange?: (change: FollowChange) => void;
  /** Called with each container's compiled plan as it is attached (its targets name the container and its pod), before its `attached` change. */
  readonly onContainerPlan?: (plan: AttachPlan) => void;
  /**
   * @internal A test seam, not part of the public API.
   * Awaited at start-up once every event stream is live and the running
   * containers are listed, before they are attached: a container that
   * starts here is missing from the listing and must come from its start
   * event. The seam the start-up tests start a container in
   * (test/follow/startup.test.ts); nothing else needs it.
   */
  readonly afterListing?: () => Promise<void>;
}

/** A followed probe file: iterate it for events (of every container followed); close it to detach all. */
export interface Following extends AsyncIterable<ProbeEvent> {
  /** The scope followed, as written (`docker/web`, `k8s/shop/app=web/app`). */
  readonly scope: string;
  /** The runtimes whose event streams are watched (k8s: containerd and Docker, those that are reachable). */
  readonly runtimes: readonly string[];
  /**
   * The changes so far, in order: the last {@link MAX_KEPT_CHANGES} of them
   * (an agent that follows a busy node for weeks must not grow without
   * bound; `onChange` hears every one).
   */
  readonly changes: readonly FollowChange[];
  /** The containers attached now: id → the helper's entries serving it (shared with the other containers of its image). */
  readonly attached: ReadonlyMap<string, readonly number[]>;
  /** Stops watching and detaches everything. Idempotent. */
  close(): Promise<AttachSummary>;
  /** Settles when the helper exits. */
  readonly closed: Promise<AttachSummary>;
  /** The attachment underneath, for its statuses. */
  readonly attachment: Attachment;
  /**
   * The first container's compiled plan, once one is attached: every
   * container's plan has the same probes and programs, so it tells how to
   * print and count the events of all (undefined until the first attach).
   */
  readonly shape: AttachPlan | undefined;
}

/**
 * Follows the containers the probe file's scope names: a named Docker or
 * Podman container (`docker/web`) or a selector (`docker/app=web`,
 * `docker/*`, `podman/SELECTOR`, `containerd/[NS/]SELECTOR`,
 * `k8s/NAMESPACE/SELECTOR[/CONTAINER,…]`). Resolves once the helper is
 * ready and the containers running now are attached (or have failed,
 * which is a change, not an error). A scope that matches nothing yet is a
 * `waiting` change: containers may come.
 *
 * @throws UsageError when the file has errors, or its targets cannot be followed (not one container scope).
 * @throws NotFoundError when none of the scope's runtimes is reachable.
 */
export async function follow(source: string, options: FollowOptions = {}): Promise<Following> {
  const file = options.file ?? "<inline>";
  const scope = followedScope(source, file);
  const clients = scope.runtimes.map((runtime) => containerRuntime(runtime, options));
  const reachable = clients.filter((c) => c.present());
  if (reachable.length === 0)
    throw new NotFoundError(`--follow ${scope.text}: ${clients.map((c) => `${c.name} is not reachable (no socket at ${c.endpoint})`).join("; ")}`, [
      `start ${clients.map((c) => c.name).join(" or ")}, or point probec at it (DOCKER_HOST, CONTAINER_HOST, CONTAINERD_ADDRESS)`,
    ]);
  const watched = reachable.filter((c) => c.events !== undefined);
  if (watched.length === 0)
    throw new UsageError(`--follow ${scope.text}: ${reachable.map((c) => c.name).join(", ")} has no event stream probec can watch`, ["run without --follow"]);
  const first =
    scope.aggregation === undefined ? { planVersion: 2 as const, probes: [] } : { planVersion: 2 as const, probes: [], aggregation: scope.aggregation };
  const attachment = attachFollowing(first, options);
  await attachment.ready;
  const session = new FollowSession(source, file, scope, watched, attachment, options);
  try {
    for (const absent of clients.filter((c) => !reachable.includes(c)))
      session.warn(`${absent.name} is not reachable (no socket at ${absent.endpoint}): following ${session.runtimes.join(" and ")} only`);
    await session.start();
  } catch (error) {
    await session.close().catch(() => undefined);
    throw error;
  }
  return session;
}

/** A container attached now. */
interface Member {
  readonly id: string;
  readonly label: string;
}

class FollowSession implements Following {
  readonly changes: FollowChange[] = [];
  readonly attached = new Map<string, readonly number[]>();
  private readonly members = new Map<string, Member>();
  private readonly entries: SharedEntries;
  private readonly describer: ContainerDescriber;
  private readonly abort = new AbortController();
  /** Streams still open, by runtime. */
  private readonly live = new Set<string>();
  /** Container operations run one after another, in event order. */
  private chain: Promise<void> = Promise.resolve();
  private closing = false;
  shape: AttachPlan | undefined;

  constructor(
    private readonly source: string,
    private readonly file: string,
    private readonly followed: FollowedScope,
    private readonly clients: readonly ContainerRuntimeClient[],
    readonly attachment: Attachment & FollowCommands,
    private readonly options: FollowOptions,
  ) {
    this.entries = new SharedEntries(attachment);
    this.describer = new ContainerDescriber(options);
  }

  get scope(): string {
    return this.followed.text;
  }

  get runtimes(): readonly string[] {
    return this.clients.map((c) => c.name);
  }

  get closed(): Promise<AttachSummary> {
    return this.attachment.closed;
  }

  [Symbol.asyncIterator](): AsyncIterator<ProbeEvent> {
    return this.attachment[Symbol.asyncIterator]();
  }

  close(): Promise<AttachSummary> {
    this.closing = true;
    this.abort.abort();
    return this.attachment.close();
  }

  async start(): Promise<void> {
    // Each stream says when it is live; one that fails first has warned (streamGone) and is waited for no longer.
    await Promise.all(
      this.clients.map((client) => {
        this.live.add(client.name);
        return new Promise<void>((live) => void this.watch(client, live).finally(live));
      }),
    );
    // In the chain, so that the events that come meanwhile are handled after what it finds (see the top of this file).
    const listing = this.chain.then(() => this.attachRunning());
    this.chain = listing.catch(() => undefined);
    await listing;
    await this.chain;
    // Close detaches everything; the watches end with the abort.
    void this.attachment.closed.finally(() => this.abort.abort()).catch(() => undefined);
  }

  /** Lists the running containers the scope picks and attaches each (a failure is a warning, as for a container an event announces). */
  private async attachRunning(): Promise<void> {
    const running = await this.runningMatches();
    await this.options.afterListing?.();
    // One scan of the cgroups for all of them, rather than one each.
    const scanned = this.followed.selector !== undefined && running.length > 1 ? runningContainers() : undefined;
    for (const { client, info } of running) {
      try {
        await this.add(client, info, { scanned });
      } catch (error) {
        if (!this.closing) this.warn(error instanceof Error ? error.message : String(error));
      }
    }
    if (running.length === 0) this.change({ type: "waiting", scope: this.followed.text, message: await this.waitingMessage() });
  }

  /** What the status line says while nothing matches: for a selector, what exists instead (the error it is without --follow). */
  private async waitingMessage(): Promise<string> {
    const generic = `no running ${this.runtimes.join(" or ")} container matches ${this.followed.text} yet: waiting for one to start`;
    if (this.followed.selector === undefined) return generic;
    try {
      await selectContainers(this.followed.selector, this.options);
      return generic; // one started meanwhile: its start event attaches it
    } catch (error) {
      if (!(error instanceof NotFoundError)) return generic; // the listing failed: the status line stays plain, the session goes on
      return `${error.message}: waiting for one to start${error.hints.length === 0 ? "" : ` (${error.hints.join("; ")})`}`;
    }
  }

  warn(message: string): void {
    this.change({ type: "warning", scope: this.followed.text, message });
  }

  /** The running containers the scope picks now, each with the client of its runtime. */
  private async runningMatches(): Promise<{ client: ContainerRuntimeClient; info: ContainerInfo }[]> {
    const clientOf = (runtime: string) => this.clients.find((c) => c.name === runtime);
    if (this.followed.selector !== undefined) {
      const picked = await selectContainers(this.followed.selector, { ...this.options, follow: true });
      return picked.flatMap((info) => {
        const client = clientOf(info.runtime);
        return client === undefined ? [] : [{ client, info }];
      });
    }
    const out: { client: ContainerRuntimeClient; info: ContainerInfo }[] = [];
    for (const client of this.clients) {
      for (const c of await client.list()) {
        const info: ContainerInfo = {
          runtime: client.name as ContainerInfo["runtime"],
          id: c.id,
          name: c.name,
          runtimeNamespace: c.namespace,
          labels: c.labels,
          pod: undefined,
        };
        if (this.followed.matches(info)) out.push({ client, info });
      }
    }
    return out;
  }

  /** Handles a runtime's events until the session closes; `onLive` as in EventOptions. */
  private async watch(client: ContainerRuntimeClient, onLive: () => void): Promise<void> {
    const events = (client.events as NonNullable<ContainerRuntimeClient["events"]>)({ signal: this.abort.signal, onLive });
    try {
      for await (const event of events) this.onEvent(client, event);
      if (!this.closing) this.streamGone(client, "the event stream ended");
    } catch (error) {
      if (!this.closing) this.streamGone(client, error instanceof Error ? error.message : String(error));
    }
  }

  private streamGone(client: ContainerRuntimeClient, why: string): void {
    this.live.delete(client.name);
    const others = [...this.live];
    this.warn(
      `${client.name} at ${client.endpoint}: ${why}; containers already attached stay attached, new ones are not seen${others.length === 0 ? "" : ` (${others.join(" and ")} still followed)`}`,
    );
  }

  private onEvent(client: ContainerRuntimeClient, event: RuntimeEvent): void {
    if (event.action === "start") {
      // A named scope knows from the event's name alone; a selector needs the container's labels.
      if (this.followed.selector === undefined && event.name !== undefined && !this.followed.matches({ ...eventInfo(event), name: event.name })) return;
      this.enqueue(async () => {
        const info = await this.describer.describe(client, event.id, event.namespace);
        if (info !== undefined && this.followed.matches(info)) await this.add(client, info, { startedPid: event.pid });
      });
    } else if (event.action === "exit" || event.action === "destroy") {
      this.enqueue(async () => {
        this.describer.forget(containerKey(event));
        await this.remove(containerKey(event), event.action === "exit" ? "exited" : "destroyed");
      });
    }
  }

  private enqueue(run: () => Promise<void>): void {
    this.chain = this.chain.then(run).catch((error: unknown) => {
      if (!this.closing) this.warn(error instanceof Error ? error.message : String(error));
    });
  }

  /** Compiles the file for one container and attaches it; `known` spares finding its processes again. */
  private async add(client: ContainerRuntimeClient, info: ContainerInfo, known: KnownProcesses = {}): Promise<void> {
    const key = containerKey({ runtime: info.runtime, id: info.id, namespace: info.runtimeNamespace });
    if (this.closing || this.members.has(key)) return;
    const label = containerLabel(this.followed, info);
    let resolve: ReturnType<typeof resolverFor>;
    if (this.followed.selector === undefined) resolve = resolverFor(this.followed, info, [], this.options);
    else {
      const processes = await processesOf(client, info, known);
      if (processes.length === 0) return; // stopped already: its exit event follows
      resolve = resolverFor(this.followed, info, processes, this.options);
    }
    const { plan, diagnostics } = await compile(this.source, { ...this.options, file: this.file, resolve });
    if (plan === undefined) {
      const errors = diagnostics.filter((d) => d.severity === "error").map((d) => d.message);
      this.change({ type: "failed", scope: label, id: info.id, message: errors.join("; ") });
      return;
    }
    if (this.closing) return;
    const joined = await this.entries.join(key, plan.probes);
    this.shape ??= plan;
    this.options.onContainerPlan?.(plan);
    this.members.set(key, { id: info.id, label });
    this.attached.set(info.id, joined.entries);
    this.change({ type: "attached", scope: label, id: info.id, points: joined.points, failed: joined.failed });
  }

  private async remove(key: string, reason: "exited" | "destroyed"): Promise<void> {
    const member = this.members.get(key);
    if (member === undefined || this.closing) return;
    this.members.delete(key);
    this.attached.delete(member.id);
    await this.entries.leave(key);
    this.change({ type: "detached", scope: member.label, id: member.id, reason });
  }

  private change(change: FollowChange): void {
    this.changes.push(change);
    if (this.changes.length > MAX_KEPT_CHANGES) this.changes.splice(0, this.changes.length - MAX_KEPT_CHANGES);
    this.options.onChange?.(change);
  }
}

/** What an event alone says of its container (no labels). */
function eventInfo(event: RuntimeEvent): ContainerInfo {
  return { runtime: event.runtime as ContainerInfo["runtime"], id: event.id, name: event.name, runtimeNamespace: event.namespace, labels: {}, pod: undefined };
}
