/**
 * The Docker Engine API's event stream, `GET /events`, which Podman's
 * Docker-compatible service serves too: one JSON object per line for as
 * long as the connection stays open (Engine API reference, "Monitor
 * events"). Only container events are asked for
 * (`filters={"type":["container"]}`); each is
 *
 *     {"status":"start","id":"<64 hex>","from":"<image>","Type":"container","Action":"start",
 *      "Actor":{"ID":"<64 hex>","Attributes":{"image":"…","name":"web"}},"scope":"local",
 *      "time":1764756000,"timeNano":1764756000123456789}
 *
 * Actions used: `create`, `start`, `die` (the main process exited),
 * `destroy`; the others (`exec_start`, `health_status: …`, `kill`) are
 * passed on as `other`.
 *
 * The stream is asked for `since` a moment taken before the request, so
 * that it misses nothing between the request and the daemon's subscription
 * (see {@link engineEvents}): the 200 answer alone does not say the
 * subscription is there.
 */
import { request, type IncomingMessage } from "node:http";
import { createInterface } from "node:readline";
import { IoError } from "../../errors.js";
import type { ContainerRuntime } from "../../plan/index.js";
import { DEFAULT_DOCKER_TIMEOUT_MS, socketError } from "./docker-api.js";
import type { EventOptions, RuntimeEvent, RuntimeEventAction } from "./runtime.js";

/** The longest event line accepted; real ones are under 2 KiB (labels included). */
export const MAX_EVENT_LINE = 1024 * 1024;

const ACTIONS: Readonly<Record<string, RuntimeEventAction>> = { create: "create", start: "start", die: "exit", destroy: "destroy" };

/**
 * Container events from the daemon at `socketPath`, from now until the
 * signal aborts or the caller stops iterating. `runtime` labels them.
 *
 * `onLive` is called once every event from then on is sure to come. The
 * daemon's answer alone would not say so: dockerd sends its 200 before it
 * subscribes (moby api/server/router/system/system_routes.go, getEvents:
 * the headers are flushed, then SubscribeToEvents), so an event in between
 * would be lost. The request asks for the events `since` a moment taken
 * before it was sent: the daemon replays those it logged since then and
 * streams the rest, under one lock (moby daemon/events/events.go,
 * SubscribeTopic; it keeps the last 256 events, far more than the
 * milliseconds between the two). So from the 200 on, no event after that
 * moment is missed; some just before it may come twice (replayed, and
 * seen by whoever listed the containers), which the caller must bear.
 * Podman's compatible service honours `since` the same way (it reads its
 * event log from that time).
 *
 * @throws IoError when the daemon cannot be reached or answers with an error, or a line is not an event.
 */
export async function* engineEvents(
  runtime: ContainerRuntime,
  socketPath: string,
  options: EventOptions = {},
  timeoutMs = DEFAULT_DOCKER_TIMEOUT_MS,
): AsyncGenerator<RuntimeEvent> {
  const { signal } = options;
  // Whole milliseconds, rounded down: never later than now.
  const since = sinceParameter(Date.now());
  const path = `/events?since=${since}&filters=${encodeURIComponent(JSON.stringify({ type: ["container"] }))}`;
  const what = `${runtime}: GET /events on ${socketPath}`;
  if (signal?.aborted === true) return;
  const res = await open(socketPath, path, timeoutMs, what, signal);
  if (res === undefined) return;
  const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
  const onAbort = (): void => {
    // Closing the reader ends the loop below: a destroyed response never emits the `end` readline waits for.
    lines.close();
    res.destroy();
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    options.onLive?.();
    // Aborted since the answer came (or by onLive itself): the listener above came too late to hear it.
    if (isAborted(signal)) return;
    for await (const line of lines) {
      if (line.trim() === "") continue;
      if (line.length > MAX_EVENT_LINE) throw new IoError(`${what}: an event line exceeds ${MAX_EVENT_LINE} bytes`);
      const event = parseEngineEvent(runtime, line, what);
      if (event !== undefined) yield event;
    }
  } catch (error) {
    // Aborting destroys the response: that is the end of the stream, not a failure.
    if (isAborted(signal)) return;
    throw error instanceof IoError ? error : socketError(error as Error, socketPath, what);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    lines.close();
    res.destroy();
  }
}

/** The Engine API's `since` for a time in milliseconds since the epoch: seconds, then nanoseconds (`1764756000.123000000`). */
export function sinceParameter(ms: number): string {
  const whole = Math.floor(ms);
  return `${Math.floor(whole / 1000)}.${String((whole % 1000) * 1_000_000).padStart(9, "0")}`;
}

/** One line of the stream as a {@link RuntimeEvent}; undefined for an event that is not about a container. */
export function parseEngineEvent(runtime: ContainerRuntime, line: string, what = `${runtime}: /events`): RuntimeEvent | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new IoError(`${what}: a line of the stream is not JSON: ${line.slice(0, 80)}`);
  }
  if (typeof json !== "object" || json === null) throw new IoError(`${what}: an event is not an object`);
  const o = json as Record<string, unknown>;
  if (o["Type"] !== undefined && o["Type"] !== "container") return undefined;
  const actor = (typeof o["Actor"] === "object" && o["Actor"] !== null ? o["Actor"] : {}) as Record<string, unknown>;
  const attributes = (typeof actor["Attributes"] === "object" && actor["Attributes"] !== null ? actor["Attributes"] : {}) as Record<string, unknown>;
  const id = typeof actor["ID"] === "string" ? actor["ID"] : o["id"];
  const raw = typeof o["Action"] === "string" ? o["Action"] : o["status"];
  if (typeof id !== "string" || typeof raw !== "string") throw new IoError(`${what}: an event has no container id or action: ${line.slice(0, 80)}`);
  const nano = o["timeNano"];
  const seconds = o["time"];
  const timeNs = typeof nano === "number" ? BigInt(Math.trunc(nano)) : typeof seconds === "number" ? BigInt(Math.trunc(seconds)) * 1_000_000_000n : 0n;
  return {
    runtime,
    action: ACTIONS[raw] ?? "other",
    rawAction: raw,
    id,
    name: typeof attributes["name"] === "string" ? attributes["name"] : undefined,
    namespace: undefined,
    pid: undefined,
    timeNs,
  };
}

/** Opens the stream; resolves once the daemon answered 200 (undefined when aborted first). */
function open(socketPath: string, path: string, timeoutMs: number, what: string, signal: AbortSignal | undefined): Promise<IncomingMessage | undefined> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: "GET", headers: { Host: "docker" }, agent: false });
    // The timeout covers the answer only: once streaming, silence is normal.
    const timer = setTimeout(() => req.destroy(new IoError(`${what}: no answer within ${timeoutMs} ms`, "ETIMEDOUT")), timeoutMs);
    const onAbort = (): void => {
      clearTimeout(timer);
      req.destroy();
      resolve(undefined);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (error) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (signal?.aborted === true) resolve(undefined);
      else reject(error instanceof IoError ? error : socketError(error, socketPath, what));
    });
    req.on("response", (res) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      const status = res.statusCode ?? 0;
      if (status === 200) {
        resolve(res);
        return;
      }
      res.resume();
      res.destroy();
      reject(new IoError(`${what}: the daemon answered ${status}`));
    });
    req.end();
  });
}

/** Whether the stream was asked to stop (read afresh: the signal changes while the stream runs). */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
