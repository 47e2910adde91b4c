/**
 * containerd's event stream, through `ctr events` (probec speaks to
 * containerd only through ctr: its API is gRPC). ctr prints one event a
 * line, for every namespace, as long as it runs:
 *
 *     2026-12-03 10:29:40.752542776 +0000 UTC probec-ctr-test /tasks/start {"container_id":"probec-evt","pid":9017}
 *     2026-12-03 10:29:41.784486242 +0000 UTC probec-ctr-test /tasks/exit {"container_id":"probec-evt","id":"probec-evt","pid":9017,"exited_at":"…"}
 *
 * (date, time, zone offset, zone, namespace, topic, the event as JSON).
 * Topics used: `/containers/create`, `/tasks/start`, `/tasks/exit` of the
 * container's own task (an exec's exit has another `id`), and
 * `/containers/delete`; the other `/tasks/…` and `/containers/…` events
 * (execs, OOM, pauses) are `other`. ctr is asked for those two families
 * only (its filters), so images, snapshots and content stay away.
 *
 * When the stream is live (every event from then on sure to come) is
 * learnt from an event of probec's own, sent through containerd
 * ({@link containerdEvents}).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { IoError } from "../../errors.js";
import { containerdSocketPath, DEFAULT_CTR_TIMEOUT_MS, type ContainerdOptions } from "./containerd.js";
import { publishEvent } from "./containerd-publish.js";
import type { EventOptions, RuntimeEvent, RuntimeEventAction } from "./runtime.js";

const LINE = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,9}))? ([+-]\d{4}) \S+ (\S+) (\/\S+) (.*)$/;

/**
 * The containerd namespace of probec's sync events. No namespace of that
 * name is made (the exchange does not look it up), and none of
 * containerd's usual subscribers asks for its topic: the CRI plugin's are
 * `/tasks/…` topics and those holding `/images/`, dockerd's its own
 * namespace's `/tasks/…`.
 */
export const SYNC_NAMESPACE = "probec-follow";
/** The first wait for a sync event before it is sent again; each next wait doubles, up to {@link SYNC_RETRY_MAX_MS}. */
const SYNC_RETRY_FIRST_MS = 5;
const SYNC_RETRY_MAX_MS = 500;

/**
 * Container events from containerd, from now until the signal aborts or
 * the caller stops iterating. Runs `ctr events` for as long as the stream
 * is read.
 *
 * `onLive` is called once every event from then on is sure to come. Nothing
 * else says so: containerd's Subscribe handler sends nothing (not even its
 * headers) before the first event it forwards. So probec sends one of its
 * own: an empty event (`google.protobuf.Empty`, which ctr can print) on a
 * topic of its own, `/probec/live/<random>`, in {@link SYNC_NAMESPACE},
 * through the Events service's `Publish` (containerd-publish.ts); this
 * stream's filters let that one topic through, and no other subscriber's
 * filters do. Why its coming back is exact: containerd's exchange is one
 * go-events Broadcaster (events/exchange/exchange.go), whose single loop
 * adds subscriptions and hands out events one at a time, in order
 * (docker/go-events broadcast.go). The sync event reached this stream, so
 * the subscription was added before the loop took it; every event
 * published after it, the start of any container not yet running when the
 * caller lists them, is handed to this stream too. A sync event sent
 * before containerd has added the subscription (ctr is still starting) is
 * simply lost, as nothing can tell a subscriber it is registered; so it is
 * sent again, at doubling intervals, until one comes back. Those intervals
 * decide only how soon `onLive` comes, never whether an event is missed.
 *
 * @throws IoError when ctr cannot run or stops with an error, or prints a line that is not an event; when the sync event cannot be published, or none comes back within the timeout.
 */
export async function* containerdEvents(options: ContainerdOptions = {}, events: EventOptions = {}): AsyncGenerator<RuntimeEvent> {
  const { signal, onLive } = events;
  if (signal?.aborted === true) return;
  const socket = containerdSocketPath(options);
  const ctr = options.ctr ?? "ctr";
  const syncTopic = `/probec/live/${randomBytes(8).toString("hex")}`;
  const filters = ['topic~="^/tasks/"', 'topic~="^/containers/"', `namespace==${SYNC_NAMESPACE},topic=="${syncTopic}"`];
  const child = spawn(ctr, ["--address", socket, "events", ...filters], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    if (stderr.length < 4096) stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on("error", (error) => resolve({ code: null, error }));
    child.on("exit", (code) => resolve({ code }));
  });
  const onAbort = (): void => void child.kill("SIGTERM");
  signal?.addEventListener("abort", onAbort, { once: true });
  const sync = onLive === undefined ? undefined : new SyncSender(socket, syncTopic, options.timeoutMs ?? DEFAULT_CTR_TIMEOUT_MS);
  // A sync that fails ends the stream: ctr is stopped, and the failure is what the caller hears.
  sync?.run().catch(() => child.kill("SIGTERM"));
  const lines = createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) {
      if (line.trim() === "") continue;
      if (sync !== undefined && isSyncLine(line, syncTopic)) {
        if (sync.arrived()) onLive?.();
        continue;
      }
      const event = parseCtrEvent(line);
      if (event !== undefined) yield event;
    }
    if (isAborted(signal)) return;
    if (sync?.failure !== undefined) throw sync.failure;
    const end = await exited;
    if (end.error !== undefined) {
      const errno = (end.error as NodeJS.ErrnoException).code;
      throw new IoError(`containerd: cannot run ${ctr}: ${end.error.message}`, errno, ["install containerd's ctr (the containerd or docker.io package)"]);
    }
    throw new IoError(`containerd: ctr events on ${socket} stopped (exit ${String(end.code)}): ${stderr.trim().split("\n").pop() ?? ""}`, undefined, [
      "is containerd running, and are you root?",
    ]);
  } finally {
    sync?.stop();
    signal?.removeEventListener("abort", onAbort);
    lines.close();
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  }
}

/** Whether a line of `ctr events` is this stream's own sync event. */
function isSyncLine(line: string, syncTopic: string): boolean {
  const m = LINE.exec(line);
  return m !== null && m[5] === SYNC_NAMESPACE && m[6] === syncTopic;
}

/** Sends a stream's sync event until it comes back (see {@link containerdEvents}). */
class SyncSender {
  private done = false;
  private wake: (() => void) | undefined;
  /** Why it gave up, when it did. */
  failure: IoError | undefined;

  constructor(
    private readonly socket: string,
    private readonly topic: string,
    private readonly timeoutMs: number,
  ) {}

  /** Sends, waits, sends again, until {@link arrived} or {@link stop}; rejects (and keeps {@link failure}) when publishing fails or nothing comes back in time. */
  async run(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    let wait = SYNC_RETRY_FIRST_MS;
    try {
      while (!this.done) {
        await publishEvent(this.socket, { namespace: SYNC_NAMESPACE, topic: this.topic, typeUrl: "google.protobuf.Empty" }, this.timeoutMs);
        if (this.done) return;
        if (Date.now() > deadline)
          throw new IoError(
            `containerd: probec's sync event ${this.topic} did not come back through ctr events on ${this.socket} within ${this.timeoutMs} ms`,
            "ETIMEDOUT",
            [`check that "ctr --address ${this.socket} events" prints the events of a container you start`],
          );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wait = Math.min(wait * 2, SYNC_RETRY_MAX_MS);
      }
    } catch (error) {
      if (this.done) return;
      this.failure = error instanceof IoError ? error : new IoError(`containerd: publishing ${this.topic}: ${String(error)}`);
      throw this.failure;
    }
  }

  /** Marks the sync event come; true the first time only. */
  arrived(): boolean {
    if (this.done) return false;
    this.stop();
    return true;
  }

  /** Stops sending. */
  stop(): void {
    this.done = true;
    this.wake?.();
  }
}

/** One line of `ctr events` as a {@link RuntimeEvent}; undefined for an event that is not about a container. */
export function parseCtrEvent(line: string): RuntimeEvent | undefined {
  const m = LINE.exec(line);
  if (m === null) throw new IoError(`containerd: ctr events printed a line that is not an event: ${line.slice(0, 80)}`);
  const [, date, time, fraction, offset, namespace, topic, body] = m as unknown as [string, string, string, string | undefined, string, string, string, string];
  let json: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(body);
    json = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    // Some topics print their payload in Go's %v form, not JSON; none of those is about a container's life.
    return undefined;
  }
  const action = actionOf(topic, json);
  if (action === undefined) return undefined;
  const id = topic.startsWith("/containers/") ? json["id"] : json["container_id"];
  if (typeof id !== "string") return undefined;
  const seconds = Date.parse(`${date}T${time}${offset.slice(0, 3)}:${offset.slice(3)}`) / 1000;
  const timeNs = Number.isFinite(seconds) ? BigInt(seconds) * 1_000_000_000n + BigInt((fraction ?? "").padEnd(9, "0")) : 0n;
  const pid = json["pid"];
  return {
    runtime: "containerd",
    action,
    rawAction: topic,
    id,
    name: undefined,
    namespace,
    pid: typeof pid === "number" && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined,
    timeNs,
  };
}

function actionOf(topic: string, json: Record<string, unknown>): RuntimeEventAction | undefined {
  switch (topic) {
    case "/containers/create":
      return "create";
    case "/tasks/start":
      return "start";
    case "/tasks/exit":
      // An exec's exit carries the exec's id; the container's own task has id == container_id.
      return json["id"] === undefined || json["id"] === json["container_id"] ? "exit" : "other";
    case "/containers/delete":
      return "destroy";
    default:
      return topic.startsWith("/tasks/") || topic.startsWith("/containers/") ? "other" : undefined;
  }
}

/** Whether the stream was asked to stop (read afresh: the signal changes while the stream runs). */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
