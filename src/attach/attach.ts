/**
 * `attach(plan)`: runs the native helper on a plan and streams its events.
 *
 * The helper (native/PROTOCOL.md) reads the plan on stdin, attaches, and
 * writes frames on stdout: statuses (JSON) and events (raw records). This
 * module wires the pieces: {@link FrameDecoder} cuts frames, statuses are
 * kept and dispatched, {@link EventDecoder} turns records into typed events
 * with the layouts the helper reported, {@link EventQueue} hands them to the
 * consumer with flow control, and {@link SummaryTally} keeps the totals.
 * Aggregation reports become {@link AggregateSnapshot}s
 * ({@link AggregateDecoder}), and user stacks (`ustack` fields and keys)
 * are named from each process's files ({@link StackNamer}); since naming
 * is asynchronous, events and reports go out through one ordered queue, so
 * that they reach the consumer in the order the helper sent them.
 *
 * It never throws: every failure (no helper, a refused plan, a kernel that
 * says no, a helper that dies) rejects `ready` (when it comes before ready),
 * `closed`, `close()` and the iteration with one `AttachError`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { AttachPlan, PlanContainer, PlanProbe } from "../plan/index.js";
import { AttachError, ProbecError } from "../errors.js";
import type { Symbolizer } from "../symbolize/symbolizer.js";
import type { AggregateSnapshot } from "./aggregate-types.js";
import { AggregateDecoder } from "./aggregates.js";
import { EventDecoder, type ProbeEvent } from "./events.js";
import { EventQueue, HIGH_WATER, LOW_WATER } from "./event-queue.js";
import { usesStack } from "./expr-text.js";
import { SnapshotStream } from "./snapshot-stream.js";
import { StackNamer } from "./stacks.js";
import { FRAME_STATUS, FrameDecoder } from "./frames.js";
import { HELPER_SOLUTIONS, helperError, locateHelper } from "./helper.js";
import { checkLayout, parseStatus, protocolError, type AttachStatus } from "./status.js";
import { checkAttachPlan } from "./plan-check.js";
import { SummaryTally, type AttachSummary } from "./summary.js";

/** How the helper attaches: `auto` picks `uprobe_multi`, then the uprobe PMU, then legacy tracefs. */
export type AttachMode = "auto" | "multi" | "pmu" | "legacy";

/** Options of {@link attach}. */
export interface AttachOptions {
  /** Passed as `--mode` (default `auto`). */
  mode?: AttachMode;
  /** The helper to run; else `$PROBEC_ATTACH`, else the prebuilt binary for this platform. */
  helperPath?: string;
  /** The ring buffer's size in bytes, a power of two (`--ringbuf-bytes`; the helper's default is 16 MiB). */
  ringbufBytes?: number;
  /**
   * Keeps the helper's stdin open for commands that add and remove entries
   * while it runs (`--follow`, native/PROTOCOL.md "Commands"); use
   * {@link attachFollowing}, which returns the commands too.
   */
  follow?: boolean;
  /**
   * Names user stacks (`ustack` fields and keys). Default: a symbolizer
   * made for the attachment when a probe captures a stack, closed with it;
   * one passed here is left open.
   */
  symbolizer?: Symbolizer;
  /** Told once about each thing stack naming could not use (an unreadable object, a process gone before its maps were read). */
  onWarning?: (message: string) => void;
}

/** What an `add` attached: the entry index each probe got, points attached, and the failures of its entries. */
export interface AddedEntries {
  readonly entries: readonly number[];
  readonly points: number;
  readonly failed: readonly { readonly entry: number; readonly reason: string }[];
}

/** The commands of an attachment started with `follow` (src/follow/ drives them). */
export interface FollowCommands {
  /** Attaches more entries; they decode like the plan's. Rejects with an `AttachError` when the helper refuses the command. */
  addProbes(probes: readonly PlanProbe[]): Promise<AddedEntries>;
  /** Detaches entries `addProbes` made; no event of theirs arrives after this resolves. */
  removeEntries(entries: readonly number[]): Promise<void>;
  /**
   * Adds containers to an entry `addProbes` made with a container filter,
   * and removes others (the helper's `filter` command): hits in the mount
   * namespaces of `add` are kept from now on, and their events name that
   * container; hits in the namespaces `remove` lists are dropped.
   */
  filterEntry(entry: number, add: readonly PlanContainer[], remove: readonly number[]): Promise<void>;
}

/** What `ready` reports: entries attached and failed, and points attached. */
export interface AttachReady {
  attached: number;
  failed: number;
  points: number;
}

/** A running attachment: iterate it for events; close it to detach. */
export interface Attachment extends AsyncIterable<ProbeEvent> {
  /** Resolves once every entry was tried (`ready`); rejects with an `AttachError` when the helper fails first. */
  readonly ready: Promise<AttachReady>;
  /** Every status so far, in order. */
  readonly statuses: AttachStatus[];
  /** Calls `listener` with each status from now on. */
  onStatus(listener: (status: AttachStatus) => void): void;
  /**
   * Calls `listener` with each aggregation report from now on: every
   * `interval`, each `report()`, and the final one at detach, which comes
   * before the events' iteration ends (and is also `AttachSummary.aggregates`).
   */
  onAggregates(listener: (snapshot: AggregateSnapshot) => void): void;
  /** The aggregation reports from now on, as an async iterable that ends after the final one (or throws the attachment's failure). */
  aggregates(): AsyncIterable<AggregateSnapshot>;
  /**
   * Asks for a report of every aggregation now and resolves with it;
   * `reset` empties the kernel maps after it, as an `interval` report does.
   * The snapshot also goes to `onAggregates`. An attachment that takes
   * commands (`follow()`'s, {@link attachFollowing}) sends the `report`
   * command; any other signals the helper (SIGUSR1, or SIGUSR2 to reset:
   * native/PROTOCOL.md, "Reports on request") once it is ready.
   */
  report(options?: { readonly reset?: boolean }): Promise<AggregateSnapshot>;
  /** Detaches: SIGTERM to the helper, then waits for its `detached` and its exit. Idempotent. */
  close(): Promise<AttachSummary>;
  /** Settles when the helper exits for any reason (target exited, error, close). */
  readonly closed: Promise<AttachSummary>;
}

/** How long a helper may take to detach after SIGTERM before it is killed, plus {@link DETACH_MS_PER_SLOW_POINT} per PMU or legacy point. */
const DETACH_TIMEOUT_MS = 30_000;
/**
 * Detaching a uprobe PMU or legacy tracefs point costs the kernel a grace
 * period under a global mutex (~125 ms each on 6.18; native/src/teardown.c);
 * a uprobe_multi link goes in one. Killing the helper mid-way would leave
 * the rest to its exit, and legacy events to the next run.
 */
const DETACH_MS_PER_SLOW_POINT = 250;
/** Bytes of the helper's stderr kept for error messages. */
const STDERR_TAIL_BYTES = 4096;
/** Events and reports waiting for their stacks to be named before the helper's output is paused (as the event queue does). */
const NAMING_HIGH_WATER = HIGH_WATER;

/** Attaches the plan's probes. Events arrive through the returned attachment's async iterator. */
export function attach(plan: AttachPlan, options: AttachOptions = {}): Attachment {
  return new HelperAttachment(plan, options);
}

/** Attaches the plan (often one with no probes) and keeps the helper open for {@link FollowCommands}. */
export function attachFollowing(plan: AttachPlan, options: AttachOptions = {}): Attachment & FollowCommands {
  return new HelperAttachment(plan, { ...options, follow: true });
}

/** Helpers still running, killed if Node exits first (they also have PR_SET_PDEATHSIG). */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  running.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // On a plain exit Node does not kill its children; SIGTERM makes each detach on its own.
    process.on("exit", () => {
      for (const c of running) c.kill("SIGTERM");
    });
  }
}

class HelperAttachment implements Attachment, FollowCommands {
  readonly statuses: AttachStatus[] = [];
  readonly ready: Promise<AttachReady>;
  readonly closed: Promise<AttachSummary>;

  private readonly listeners: ((status: AttachStatus) => void)[] = [];
  private readonly aggregateListeners: ((snapshot: AggregateSnapshot) => void)[] = [];
  private readonly aggregateDecoder: AggregateDecoder;
  private readonly stacks: StackNamer;
  /** Events and reports in the order the helper sent them, each handed out once its stacks are named. */
  private ordered: Promise<void> = Promise.resolve();
  private orderedPending = 0;
  /** Why the helper's output is paused: the consumer lags (`queue`), or stacks are being named (`naming`). */
  private readonly holds = new Set<"queue" | "naming">();
  /** The snapshot of the last `aggregatesDone`, as it is being named; what a `reported` reply answers with. */
  private lastReport: Promise<AggregateSnapshot> | undefined;
  /** Callers of a report asked for by signal, oldest first; each `reported` with a null id answers one. */
  private readonly signalReports: ((snapshot: Promise<AggregateSnapshot> | undefined) => void)[] = [];
  private readonly reportedSnapshots = new Map<number, Promise<AggregateSnapshot> | undefined>();
  /** The last snapshot handed out (the final one, once the helper detached). */
  private lastSnapshot: AggregateSnapshot | undefined;
  private readonly frames = new FrameDecoder();
  private readonly events: EventDecoder;
  private readonly queue: EventQueue;
  private readonly tally: SummaryTally;
  private child: ChildProcess | undefined;
  private helperPath = "";
  private resolveReady!: (ready: AttachReady) => void;
  private rejectReady!: (error: unknown) => void;
  private resolveClosed!: (summary: AttachSummary) => void;
  private rejectClosed!: (error: unknown) => void;
  private isReady = false;
  private finished = false;
  private closing = false;
  /** The first failure: a spawn error, an `error` status, or a protocol error. */
  private failure: AttachError | undefined;
  private detachedReason: string | undefined;
  private stderrTail = "";
  private killTimer: NodeJS.Timeout | undefined;
  /** Points attached one perf event each (PMU, legacy): what makes detaching slow. */
  private slowPoints = 0;
  /** Following: the entries `add` made and still attached; commands run one at a time. */
  private readonly liveEntries = new Set<number>();
  private readonly replies = new Map<number, (status: AttachStatus) => void>();
  private nextCommandId = 1;
  private commandChain: Promise<unknown> = Promise.resolve();
  private following = false;

  constructor(
    private readonly plan: AttachPlan,
    options: AttachOptions,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.closed = new Promise((resolve, reject) => {
      this.resolveClosed = resolve;
      this.rejectClosed = reject;
    });
    // Whoever awaits them sees the rejection; nobody awaiting one of them must not crash Node with an unhandled rejection.
    this.ready.catch(() => undefined);
    this.closed.catch(() => undefined);
    let checked: AttachPlan | undefined;
    let planError: AttachError | undefined;
    try {
      checked = checkAttachPlan(plan, "attach(plan)");
    } catch (error) {
      planError = asAttachError(error);
    }
    const usable = checked ?? { planVersion: 2, probes: [] };
    this.events = new EventDecoder(usable);
    this.aggregateDecoder = new AggregateDecoder(usable);
    this.stacks = new StackNamer({
      ...(options.symbolizer === undefined ? {} : { symbolizer: options.symbolizer }),
      ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    });
    // The symbolizer loads while the helper attaches, so that it is there for the first stack.
    if (usable.probes.some(capturesStacks)) this.stacks.want();
    this.tally = new SummaryTally(usable);
    this.queue = new EventQueue({
      pause: () => this.hold("queue", true),
      resume: () => this.hold("queue", false),
    });
    if (planError !== undefined) {
      this.finish(undefined, undefined, planError);
      return;
    }
    try {
      this.helperPath = locateHelper(options.helperPath);
    } catch (error) {
      this.finish(undefined, undefined, asAttachError(error));
      return;
    }
    this.start(options);
  }

  onStatus(listener: (status: AttachStatus) => void): void {
    this.listeners.push(listener);
  }

  onAggregates(listener: (snapshot: AggregateSnapshot) => void): void {
    this.aggregateListeners.push(listener);
  }

  aggregates(): AsyncIterable<AggregateSnapshot> {
    const stream = new SnapshotStream();
    this.aggregateListeners.push((snapshot) => stream.push(snapshot));
    this.closed.then(
      () => stream.end(),
      (error: unknown) => stream.end(error),
    );
    return stream;
  }

  [Symbol.asyncIterator](): AsyncIterator<ProbeEvent> {
    return {
      next: () => this.queue.next(),
      // `break` out of a `for await` ends the attachment, as it destroys a Node stream.
      return: async () => {
        await this.close().catch(() => undefined);
        return { value: undefined, done: true };
      },
    };
  }

  close(): Promise<AttachSummary> {
    if (!this.finished && !this.closing) {
      this.closing = true;
      // The consumer may be gone: stop pausing so the helper is never stuck writing and can detach.
      this.queue.release();
      // Before its `hello` the helper may not have its signal handlers yet, and SIGTERM would kill it
      // before it can clean up; it is sent when the hello comes.
      if (this.statuses.length > 0) this.child?.kill("SIGTERM");
      const timeoutMs = DETACH_TIMEOUT_MS + this.slowPoints * DETACH_MS_PER_SLOW_POINT;
      this.killTimer = setTimeout(() => {
        this.fail(
          new AttachError(
            `probec-attach (pid ${this.child?.pid}) did not detach within ${Math.round(timeoutMs / 1000)} s of SIGTERM; it was killed, and may have left uprobes behind (the next run removes stale legacy events)`,
          ),
        );
        this.child?.kill("SIGKILL");
      }, timeoutMs);
    }
    return this.closed;
  }

  private start(options: AttachOptions): void {
    const args: string[] = [];
    if (options.mode !== undefined) args.push("--mode", options.mode);
    if (options.ringbufBytes !== undefined) args.push("--ringbuf-bytes", String(options.ringbufBytes));
    if (options.follow === true) args.push("--follow");
    const intervalMs = this.plan.aggregation?.intervalMs;
    if (typeof intervalMs === "number" && intervalMs > 0) args.push("--aggregate-interval-ms", String(intervalMs));
    this.following = options.follow === true;
    // Before the spawn: a plan that cannot be serialised (a bigint, a cycle) must not leave a helper waiting on stdin.
    let planText: string;
    try {
      planText = JSON.stringify(this.plan);
    } catch (error) {
      this.finish(
        undefined,
        undefined,
        new AttachError(`attach(plan): the plan cannot be written as JSON: ${error instanceof Error ? error.message : String(error)}`, [
          "plans are JSON documents: numbers, strings and arrays only (no bigint, no cycles)",
        ]),
      );
      return;
    }
    const child = spawn(this.helperPath, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    track(child);
    child.on("error", (error: NodeJS.ErrnoException) => {
      // spawn failed (ENOENT, EACCES, ENOEXEC): the binary is there but cannot run.
      if (child.pid === undefined)
        this.finish(
          undefined,
          undefined,
          helperError("cannot run probec-attach, the native helper that attaches probes", [`${this.helperPath}: ${error.code ?? error.message}`]),
        );
      else this.fail(new AttachError(`probec-attach (pid ${child.pid}): ${error.message}`));
    });
    // The helper reads the whole plan before it attaches anything; EPIPE here means it died first, which `close` reports.
    child.stdin?.on("error", () => undefined);
    // Following, the plan is stdin's first line and commands come after it.
    if (this.following) child.stdin?.write(`${planText}\n`);
    else child.stdin?.end(planText);
    child.stdout?.on("data", (chunk: Buffer) => this.onStdout(chunk));
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_BYTES);
    });
    child.on("close", (code, signal) => {
      running.delete(child);
      this.finish(code, signal);
    });
  }

  private onStdout(chunk: Buffer): void {
    if (this.failure !== undefined) return; // a corrupt stream: drain it while the helper detaches
    const statuses: AttachStatus[] = [];
    try {
      for (const frame of this.frames.push(chunk)) {
        if (frame.type === FRAME_STATUS) {
          const status = parseStatus(frame.payload);
          this.onStatusFrame(status);
          statuses.push(status);
          continue;
        }
        const event = this.events.decode(frame.payload);
        this.tally.hit(event.entry);
        const stacks = this.events.stackFields(event.entry);
        if (stacks.length === 0 && this.orderedPending === 0) this.deliver(event);
        else
          void this.inOrder(async () => {
            for (const name of stacks) {
              const raw = event.fields[name];
              if (typeof raw === "object" && raw !== null) event.fields[name] = await this.stacks.name(raw.pid, raw.addresses);
            }
            this.deliver(event);
          });
      }
    } catch (error) {
      this.fail(asAttachError(error));
    }
    // Listeners run outside the try: their exceptions are theirs, not a protocol error.
    for (const status of statuses) for (const listener of this.listeners) listener(status);
  }

  private onStatusFrame(status: AttachStatus): void {
    this.statuses.push(status);
    this.tally.status(status);
    switch (status.type) {
      case "hello":
        if (status.version !== 1) throw protocolError(`the helper speaks protocol version ${JSON.stringify(status.version)}; this probec speaks 1`);
        if (this.closing) this.child?.kill("SIGTERM");
        return;
      case "layout":
        this.events.setLayout(checkLayout(status));
        return;
      case "attached":
        if (status.mode !== "multi") this.slowPoints += Number(status.points) || 0;
        return;
      case "stackProcess":
        if (!(typeof status.pid === "number" && Number.isSafeInteger(status.pid) && status.pid > 0))
          throw protocolError(`a stackProcess status has no valid pid: ${JSON.stringify(status)}`);
        this.stacks.process(status.pid);
        return;
      case "aggregate":
      case "aggregatesDone": {
        const report = this.aggregateDecoder.take(status);
        if (report === undefined) return;
        const snapshot = this.inOrder(async () => {
          const resolved = await this.aggregateDecoder.resolve(report, (pid, addresses) => this.stacks.name(pid, addresses));
          this.lastSnapshot = resolved;
          this.tally.report(resolved);
          for (const listener of this.aggregateListeners) {
            try {
              listener(resolved);
            } catch (error) {
              // The listener's exception is its own, not a protocol error: thrown where it would have been, outside.
              queueMicrotask(() => {
                throw error;
              });
            }
          }
          return resolved;
        });
        snapshot.catch(() => undefined);
        this.lastReport = snapshot;
        return;
      }
      case "ready":
        this.isReady = true;
        this.resolveReady({ attached: Number(status.attached), failed: Number(status.failed), points: Number(status.points) });
        return;
      case "error": {
        const hint = typeof status.hint === "string" && status.hint !== "" ? [status.hint] : [];
        this.failure ??= new AttachError(`probec-attach: ${String(status.message)}`, hint);
        return;
      }
      case "detached":
        this.detachedReason = String(status.reason);
        return;
      case "added":
      case "removed":
      case "filtered":
      case "rejected":
      case "reported": {
        if (status.type === "reported" && status.id === null) {
          // The answer to a signal (reports on request without commands): the report just before it.
          this.signalReports.shift()?.(this.lastReport);
          return;
        }
        const reply = this.replies.get(Number(status.id));
        // A report's messages came just before its reply: the snapshot they make answers it.
        if (status.type === "reported") this.reportedSnapshots.set(Number(status.id), this.lastReport);
        if (reply === undefined) throw protocolError(`a ${status.type} reply names command ${JSON.stringify(status.id)}, which was not sent`);
        this.replies.delete(Number(status.id));
        reply(status);
        return;
      }
      default:
        return;
    }
  }

  addProbes(probes: readonly PlanProbe[]): Promise<AddedEntries> {
    return this.serial(async () => {
      // The helper gives the lowest free indices from the plan's length up; each entry's layout comes before the reply, so the decoder learns them first.
      const entries: number[] = [];
      for (let i = this.plan.probes.length; entries.length < probes.length; i++) if (!this.liveEntries.has(i)) entries.push(i);
      probes.forEach((probe, k) => {
        this.events.setEntry(entries[k] as number, probe);
        this.aggregateDecoder.setEntry(entries[k] as number, probe);
        this.tally.setEntry(entries[k] as number, probe);
      });
      if (probes.some(capturesStacks)) this.stacks.want();
      const from = this.statuses.length;
      const reply = await this.command({ command: "add", probes });
      if (reply.type === "rejected") {
        for (const entry of entries) {
          this.events.dropEntry(entry);
          this.tally.dropEntry(entry);
        }
        throw new AttachError(`probec-attach refused to add ${probes.length} entr${probes.length === 1 ? "y" : "ies"}: ${String(reply.message)}`);
      }
      if (JSON.stringify(reply.entries) !== JSON.stringify(entries))
        throw protocolError(`added entries ${JSON.stringify(reply.entries)}, expected ${JSON.stringify(entries)}`);
      for (const entry of entries) this.liveEntries.add(entry);
      const failed = this.statuses
        .slice(from)
        .filter((s) => s.type === "failed" && entries.includes(Number(s.entry)))
        .map((s) => ({ entry: Number(s.entry), reason: String(s.reason) }));
      return { entries, points: Number(reply.points), failed };
    });
  }

  removeEntries(entries: readonly number[]): Promise<void> {
    return this.serial(async () => {
      const reply = await this.command({ command: "remove", entries });
      if (reply.type === "rejected") throw new AttachError(`probec-attach refused to remove entries ${entries.join(", ")}: ${String(reply.message)}`);
      for (const entry of entries) {
        this.events.dropEntry(entry);
        this.tally.dropEntry(entry);
        this.liveEntries.delete(entry);
      }
    });
  }

  filterEntry(entry: number, add: readonly PlanContainer[], remove: readonly number[]): Promise<void> {
    return this.serial(async () => {
      for (const c of add) {
        this.events.setContainer(entry, c.mntNs, c);
        this.aggregateDecoder.setContainer(entry, c.mntNs, c);
      }
      const reply = await this.command({ command: "filter", entry, add: add.map((c) => c.mntNs), remove });
      if (reply.type === "rejected") throw new AttachError(`probec-attach refused to filter entry ${entry}: ${String(reply.message)}`);
      // A container is removed once its runtime said it exited: its processes are gone and their hits were delivered as they came.
      for (const ns of remove) this.events.setContainer(entry, ns, undefined);
    });
  }

  report(options: { readonly reset?: boolean } = {}): Promise<AggregateSnapshot> {
    const reset = options.reset === true;
    if (!this.following) return this.serial(() => this.reportBySignal(reset));
    return this.serial(async () => {
      const reply = await this.command({ command: "report", reset });
      if (reply.type === "rejected") throw new AttachError(`probec-attach refused to report the aggregations: ${String(reply.message)}`);
      const id = Number(reply.id);
      const snapshot = this.reportedSnapshots.get(id);
      this.reportedSnapshots.delete(id);
      // A plan without aggregations: the report held nothing.
      return (await snapshot) ?? { seq: 0, final: false, reset, results: [] };
    });
  }

  /** Runs `task` after everything before it was handed out; pauses the helper's output while too much waits. */
  private inOrder<T>(task: () => Promise<T>): Promise<T> {
    this.orderedPending++;
    if (this.orderedPending >= NAMING_HIGH_WATER) this.hold("naming", true);
    const run = this.ordered.then(task);
    this.ordered = run.then(
      () => this.doneInOrder(),
      (error: unknown) => {
        this.doneInOrder();
        this.fail(asAttachError(error));
      },
    );
    return run;
  }

  private doneInOrder(): void {
    this.orderedPending--;
    if (this.orderedPending <= LOW_WATER) this.hold("naming", false);
  }

  /** Hands an event to the consumer. */
  private deliver(event: ProbeEvent): void {
    // After close() nobody may read: keep what fits, so memory stays bounded while the helper detaches.
    if (!this.closing || this.queue.length < HIGH_WATER) this.queue.push(event);
  }

  /** Pauses the helper's output while any reason holds, resumes it when none does. */
  private hold(reason: "queue" | "naming", on: boolean): void {
    const before = this.holds.size;
    if (on) this.holds.add(reason);
    else this.holds.delete(reason);
    if (before === 0 && this.holds.size > 0) this.child?.stdout?.pause();
    else if (before > 0 && this.holds.size === 0) this.child?.stdout?.resume();
  }

  /** Runs commands one after another: each predicts the indices the helper gives. */
  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.commandChain.then(run, run);
    this.commandChain = next.catch(() => undefined);
    return next;
  }

  /**
   * A report asked for with SIGUSR1 (SIGUSR2: and reset), for a helper that
   * reads no commands. One at a time (`serial`): the kernel merges a
   * signal into one still pending, which would leave a caller unanswered.
   */
  private async reportBySignal(reset: boolean): Promise<AggregateSnapshot> {
    await this.ready;
    if (this.finished || this.closing) throw this.failure ?? new AttachError("probec-attach is detaching: no more reports on request");
    const answered = new Promise<Promise<AggregateSnapshot> | undefined>((resolve, reject) => {
      this.signalReports.push(resolve);
      this.closed.then(
        () => reject(new AttachError("probec-attach detached before answering the report request")),
        (error: unknown) => reject(error),
      );
    });
    this.child?.kill(reset ? "SIGUSR2" : "SIGUSR1");
    return (await await answered) ?? { seq: 0, final: false, reset, results: [] };
  }

  /** Sends one command line and waits for its reply. */
  private command(body: Record<string, unknown>): Promise<AttachStatus> {
    if (!this.following) return Promise.reject(new AttachError("this attachment was not started with follow: it takes no commands (use attachFollowing)"));
    if (this.finished || this.closing) return Promise.reject(this.failure ?? new AttachError("probec-attach is detaching: no more commands"));
    const id = this.nextCommandId++;
    return new Promise((resolve, reject) => {
      this.replies.set(id, resolve);
      this.closed.then(
        () => reject(new AttachError(`probec-attach detached before answering command ${id}`)),
        (error: unknown) => reject(error),
      );
      this.child?.stdin?.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }

  /** A failure on our side (protocol) or the helper's: remember the first, and make the helper detach. */
  private fail(error: AttachError): void {
    this.failure ??= error;
    if (!this.finished) this.child?.kill("SIGTERM");
  }

  private finish(code: number | null | undefined, signal: NodeJS.Signals | null | undefined, error?: AttachError): void {
    if (this.finished) return;
    this.finished = true;
    if (this.killTimer !== undefined) clearTimeout(this.killTimer);
    // What is still being named (the final report, the last events) is handed out before the end.
    if (this.orderedPending === 0) this.settle(code, signal, error);
    else void this.ordered.then(() => this.settle(code, signal, error));
  }

  private settle(code: number | null | undefined, signal: NodeJS.Signals | null | undefined, error?: AttachError): void {
    this.stacks.close();
    let failure = error ?? this.failure;
    if (failure === undefined && !(code === 0 && this.detachedReason !== undefined)) {
      const how = signal !== null && signal !== undefined ? `was killed by ${signal}` : `exited with status ${code}`;
      const stderr = this.stderrTail.trim();
      failure = new AttachError(
        `probec-attach ${how}${this.detachedReason === undefined ? " without detaching" : ""}${stderr === "" ? "" : `; it said: ${stderr}`}`,
        code === 127 || code === 126 ? HELPER_SOLUTIONS : [],
      );
    }
    const summary = this.tally.summary(this.detachedReason ?? (failure === undefined ? "exited" : "error"), this.lastSnapshot);
    if (failure !== undefined) {
      if (!this.isReady) this.rejectReady(failure);
      this.queue.end(failure);
      this.rejectClosed(failure);
      return;
    }
    if (!this.isReady) this.rejectReady(new AttachError(`probec-attach detached (${summary.reason}) before every probe was tried`));
    this.queue.end();
    this.resolveClosed(summary);
  }
}

/** True when an entry captures user stacks (a `ustack` field or key): its attachment needs a symbolizer. */
function capturesStacks(probe: PlanProbe): boolean {
  const program = probe.program;
  if (program === undefined) return false;
  return program.fields.some((f) => f.type === "stack" || usesStack(f.expr)) || program.aggregates.some((a) => a.by.some(usesStack));
}

function asAttachError(error: unknown): AttachError {
  if (error instanceof AttachError) return error;
  if (error instanceof ProbecError) return new AttachError(error.message, error.hints);
  return new AttachError(`probec-attach: ${error instanceof Error ? error.message : String(error)}`);
}
