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
 * `/containers/delete`; the others (snapshots, images, execs) are `other`.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { IoError } from "../../errors.js";
import { containerdSocketPath, type ContainerdOptions } from "./containerd.js";
import type { RuntimeEvent, RuntimeEventAction } from "./runtime.js";

const LINE = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,9}))? ([+-]\d{4}) \S+ (\S+) (\/\S+) (.*)$/;

/**
 * Container events from containerd, from now until `signal` aborts or the
 * caller stops iterating. Runs `ctr events` for as long as the stream is read.
 *
 * @throws IoError when ctr cannot run or stops with an error, or prints a line that is not an event.
 */
export async function* containerdEvents(options: ContainerdOptions = {}, signal?: AbortSignal): AsyncGenerator<RuntimeEvent> {
  if (signal?.aborted === true) return;
  const socket = containerdSocketPath(options);
  const ctr = options.ctr ?? "ctr";
  const child = spawn(ctr, ["--address", socket, "events"], { stdio: ["ignore", "pipe", "pipe"] });
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
  const lines = createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) {
      if (line.trim() === "") continue;
      const event = parseCtrEvent(line);
      if (event !== undefined) yield event;
    }
    if (isAborted(signal)) return;
    const end = await exited;
    if (end.error !== undefined) {
      const errno = (end.error as NodeJS.ErrnoException).code;
      throw new IoError(`containerd: cannot run ${ctr}: ${end.error.message}`, errno, ["install containerd's ctr (the containerd or docker.io package)"]);
    }
    throw new IoError(`containerd: ctr events on ${socket} stopped (exit ${String(end.code)}): ${stderr.trim().split("\n").pop() ?? ""}`, undefined, [
      "is containerd running, and are you root?",
    ]);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    lines.close();
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
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
