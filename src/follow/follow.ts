/**
 * `follow(source)`: a probe file kept attached to the containers its scope
 * names while they come and go (issue 14, `--follow`).
 *
 * One helper for the whole session (attachFollowing: one BPF object, one
 * ring buffer). The runtime's event stream is watched, not polled: a
 * container that starts and matches is compiled alone (compile() with its
 * targets re-aimed at the container's id, src/follow/scope.ts) and its
 * entries are added to the running helper; one that exits or is destroyed
 * has its entries removed, which detaches them in the kernel. A restart is
 * an exit then a start, so it is detached and attached again; a named
 * container re-created under the same name is matched by name.
 *
 * Events are subscribed to before the running containers are listed, so a
 * container that starts in between is seen by one or the other (a
 * container seen twice is attached once: they are keyed by id).
 */
import { compile, type CompileOptions } from "../compile/compile.js";
import { attachFollowing, type AttachOptions, type Attachment, type FollowCommands } from "../attach/attach.js";
import type { ProbeEvent } from "../attach/events.js";
import type { AttachSummary } from "../attach/summary.js";
import { resolveTarget } from "../discovery/resolve-target.js";
import { containerRuntime } from "../discovery/runtimes/registry.js";
import type { ContainerRuntimeClient, RuntimeEvent } from "../discovery/runtimes/runtime.js";
import { NotFoundError, UsageError } from "../errors.js";
import type { AttachPlan, PlanProbe } from "../plan/index.js";
import { followedScope, retarget, type FollowedScope } from "./scope.js";

/** One change of what is followed, as status lines print it (`+ docker/web-2 (3 points)`). */
export type FollowChange =
  | { readonly type: "attached"; readonly scope: string; readonly id: string; readonly points: number; readonly failed: number }
  | { readonly type: "detached"; readonly scope: string; readonly id: string; readonly reason: "exited" | "destroyed" }
  | { readonly type: "failed"; readonly scope: string; readonly id: string; readonly message: string }
  | { readonly type: "waiting"; readonly scope: string; readonly message: string }
  | { readonly type: "warning"; readonly scope: string; readonly message: string };

/** Options of {@link follow}: the attach options, the compile (and runtime) options, and a listener for changes. */
export interface FollowOptions extends Omit<AttachOptions, "follow">, Omit<CompileOptions, "resolve" | "follow"> {
  /** Called with each change: a container attached or detached, a failure, the runtime's stream gone. */
  readonly onChange?: (change: FollowChange) => void;
}

/** A followed probe file: iterate it for events (of every container followed); close it to detach all. */
export interface Following extends AsyncIterable<ProbeEvent> {
  /** The scope followed, as written (`docker/web`). */
  readonly scope: string;
  /** Every change so far, in order. */
  readonly changes: readonly FollowChange[];
  /** The containers attached now: id → the helper's entries. */
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
 * Follows the containers the probe file's scope names. Resolves once the
 * helper is ready and the containers running now are attached (or have
 * failed, which is a change, not an error).
 *
 * @throws UsageError when the file's targets cannot be followed (not one container scope).
 * @throws NotFoundError when the scope's runtime is not reachable or has no event stream.
 */
export async function follow(source: string, options: FollowOptions = {}): Promise<Following> {
  const file = options.file ?? "<inline>";
  const scope = followedScope(source, file);
  const client = containerRuntime(scope.runtime, options);
  if (!client.present())
    throw new NotFoundError(`--follow ${scope.text}: ${scope.runtime} is not reachable (no socket at ${client.endpoint})`, [
      `start ${scope.runtime}, or point probec at it (DOCKER_HOST, CONTAINER_HOST)`,
    ]);
  if (client.events === undefined)
    throw new UsageError(`--follow ${scope.text}: ${scope.runtime} has no event stream probec can watch`, ["run without --follow"]);
  const attachment = attachFollowing({ planVersion: 2, probes: [] }, options);
  await attachment.ready;
  const session = new FollowSession(source, file, scope, client, attachment, options);
  await session.start();
  return session;
}

class FollowSession implements Following {
  readonly changes: FollowChange[] = [];
  readonly attached = new Map<string, readonly number[]>();
  private readonly abort = new AbortController();
  /** Container operations run one after another, in event order. */
  private chain: Promise<void> = Promise.resolve();
  /** Cookies are unique in the session: each container's plan is moved past the ones before. */
  private nextCookie = 1;
  private closing = false;
  shape: AttachPlan | undefined;

  constructor(
    private readonly source: string,
    private readonly file: string,
    private readonly followed: FollowedScope,
    private readonly client: ContainerRuntimeClient,
    readonly attachment: Attachment & FollowCommands,
    private readonly options: FollowOptions,
  ) {}

  get scope(): string {
    return this.followed.text;
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
    const events = (this.client.events as NonNullable<ContainerRuntimeClient["events"]>)({ signal: this.abort.signal });
    const iterator = events[Symbol.asyncIterator]();
    // The first next() opens the stream; it is pending until an event comes.
    void this.watch(iterator);
    const running = await this.client.list();
    const matching = running.filter((c) => this.followed.matches(c));
    for (const c of matching) this.enqueue(() => this.add(c.id, c.name));
    if (matching.length === 0)
      this.change({
        type: "waiting",
        scope: this.followed.text,
        message: `no running ${this.followed.runtime} container matches ${this.followed.text} yet: waiting for one to start`,
      });
    await this.chain;
    // Close detaches everything; the watch ends with the abort.
    void this.attachment.closed.finally(() => this.abort.abort()).catch(() => undefined);
  }

  private async watch(iterator: AsyncIterator<RuntimeEvent>): Promise<void> {
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done === true) break;
        this.onEvent(next.value);
      }
      if (!this.closing) this.streamGone("the event stream ended");
    } catch (error) {
      if (!this.closing) this.streamGone(error instanceof Error ? error.message : String(error));
    }
  }

  private streamGone(why: string): void {
    this.change({
      type: "warning",
      scope: this.followed.text,
      message: `${this.followed.runtime} at ${this.client.endpoint}: ${why}; containers already attached stay attached, new ones are not seen`,
    });
  }

  private onEvent(event: RuntimeEvent): void {
    if (event.action === "start") {
      if (!this.followed.matches(event)) return;
      this.enqueue(() => this.add(event.id, event.name));
    } else if (event.action === "exit" || event.action === "destroy") {
      this.enqueue(() => this.remove(event.id, event.action === "exit" ? "exited" : "destroyed"));
    }
  }

  private enqueue(run: () => Promise<void>): void {
    this.chain = this.chain.then(run).catch((error: unknown) => {
      if (!this.closing) this.change({ type: "warning", scope: this.followed.text, message: error instanceof Error ? error.message : String(error) });
    });
  }

  private label(id: string, name: string | undefined): string {
    return `${this.followed.runtime}/${name ?? id.slice(0, 12)}`;
  }

  private async add(id: string, name: string | undefined): Promise<void> {
    if (this.closing || this.attached.has(id)) return;
    const scope = `${this.followed.runtime}/${id}`;
    const label = this.label(id, name);
    const { plan, diagnostics } = await compile(this.source, {
      ...this.options,
      file: this.file,
      resolve: (text) => resolveTarget(retarget(text, scope), this.options),
    });
    if (plan === undefined) {
      const errors = diagnostics.filter((d) => d.severity === "error").map((d) => d.message);
      this.change({ type: "failed", scope: label, id, message: errors.join("; ") });
      return;
    }
    if (this.closing) return;
    const probes = this.renumber(plan.probes);
    this.shape ??= plan;
    const added = await this.attachment.addProbes(probes);
    this.attached.set(id, added.entries);
    this.change({ type: "attached", scope: label, id, points: added.points, failed: added.failed.length });
  }

  private async remove(id: string, reason: "exited" | "destroyed"): Promise<void> {
    const entries = this.attached.get(id);
    if (entries === undefined || this.closing) return;
    this.attached.delete(id);
    await this.attachment.removeEntries(entries);
    const name = this.changes.find((c) => c.type === "attached" && c.id === id)?.scope ?? this.label(id, undefined);
    this.change({ type: "detached", scope: name, id, reason });
  }

  /** The container's probes with cookies no earlier container used. */
  private renumber(probes: readonly PlanProbe[]): PlanProbe[] {
    const base = this.nextCookie - 1;
    let highest = 0;
    const out = probes.map((probe) => ({
      ...probe,
      points: probe.points.map((point) => {
        highest = Math.max(highest, point.cookie);
        return { ...point, cookie: point.cookie + base, pairedWith: point.pairedWith === null ? null : point.pairedWith + base };
      }),
    }));
    this.nextCookie += highest;
    return out;
  }

  private change(change: FollowChange): void {
    this.changes.push(change);
    this.options.onChange?.(change);
  }
}
