/**
 * containerd containers, asked of the daemon through its `ctr` CLI.
 *
 * containerd's own API is gRPC over its unix socket, which needs protobuf
 * encoding and the containerd service definitions; `ctr` (shipped with
 * containerd, and with Debian's `docker.io`) is what is installed here, so
 * this client drives it, bounding every run by a timeout and an output cap.
 * `ctr` is an "unsupported debug client" whose output may change between
 * releases; what is parsed here is the stable part of 1.6/1.7: `-q` id lists,
 * the JSON of `containers info`, and the `TASK PID STATUS` table.
 *
 * The socket: {@link ContainerdOptions.address}, else `$CONTAINERD_ADDRESS`,
 * else {@link DEFAULT_CONTAINERD_SOCKET}. A system containerd listens there;
 * a dockerd that was not given `--containerd` starts its own *managed*
 * containerd at `<exec-root>/containerd/containerd.sock`
 * (`/var/run/docker/containerd/containerd.sock` by default), whose
 * containers live in the `moby` namespace. Kubernetes' CRI plugin puts its
 * containers in the `k8s.io` namespace.
 *
 * Container ids are whatever the creator chose: 64 hex digits from the CRI
 * plugin, nerdctl and dockerd, but any name from `ctr run`. So a reference is
 * a full id or a unique prefix of at least {@link MIN_REF_PREFIX} characters,
 * in one namespace or across all of them.
 *
 * PIDs are as the daemon sees them: the host's PID namespace when containerd
 * runs on the host.
 */
import { execFile } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { AmbiguousError, IoError, NotFoundError, UsageError } from "../../errors.js";
import { nearest } from "../../suggest.js";

/** Where a system containerd listens. */
export const DEFAULT_CONTAINERD_SOCKET = "/run/containerd/containerd.sock";
/** Fewest characters accepted as an id prefix: a tracer should not attach to whatever starts with `a`. */
export const MIN_REF_PREFIX = 4;
/** Default bound on each `ctr` run. */
export const DEFAULT_CTR_TIMEOUT_MS = 10_000;
/** Bound on each `ctr` run's output (a container's `info` holds its whole OCI spec). */
export const MAX_CTR_OUTPUT = 16 * 1024 * 1024;

/** How containerd is reached. */
export interface ContainerdOptions {
  /** The socket path (or `unix://` address); default `$CONTAINERD_ADDRESS`, then {@link DEFAULT_CONTAINERD_SOCKET}. */
  readonly address?: string;
  /** The `ctr` binary; default `ctr` on `PATH`. */
  readonly ctr?: string;
  /** Bound on each `ctr` run, in ms; default {@link DEFAULT_CTR_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
}

/** A container as listed: its id, image and labels. */
export interface CtrContainer {
  readonly namespace: string;
  readonly id: string;
  /** The image reference it was created from (`docker.io/library/nginx:1.25`); empty when none. */
  readonly image: string;
  /** Container labels, including `io.kubernetes.*` when the CRI plugin made it. */
  readonly labels: Readonly<Record<string, string>>;
}

/** A container as `ctr containers info` describes it. */
export interface CtrContainerInfo extends CtrContainer {
  /** The snapshotter holding its root filesystem (`overlayfs`). */
  readonly snapshotter: string;
  /** Its snapshot's key in that snapshotter. */
  readonly snapshotKey: string;
  /** The runtime (shim) name, `io.containerd.runc.v2`. */
  readonly runtime: string;
}

/** One task (a container's running process tree) as `ctr tasks ls` lists it. */
export interface CtrTask {
  readonly id: string;
  /** The PID of its init process, as containerd sees it. */
  readonly pid: number;
  /** `RUNNING`, `STOPPED`, `PAUSED`, `CREATED`, … */
  readonly status: string;
}

/** The socket path `options` (or the environment) names. */
export function containerdSocketPath(options: ContainerdOptions = {}): string {
  const address = options.address ?? process.env["CONTAINERD_ADDRESS"] ?? DEFAULT_CONTAINERD_SOCKET;
  return address.startsWith("unix://") ? address.slice("unix://".length) : address;
}

/** Whether the `ctr` binary `options` name can be run (found on `PATH` when it has no `/`). */
export function ctrInstalled(options: ContainerdOptions = {}): boolean {
  const ctr = options.ctr ?? "ctr";
  const candidates = ctr.includes("/")
    ? [ctr]
    : (process.env["PATH"] ?? "")
        .split(delimiter)
        .filter((d) => d !== "")
        .map((d) => join(d, ctr));
  return candidates.some((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Every namespace, sorted. */
export async function listNamespaces(options?: ContainerdOptions): Promise<string[]> {
  return lines(await runCtr(["namespaces", "ls", "-q"], options)).sort();
}

/** The ids of `namespace`'s containers, optionally filtered (containerd filter syntax, `labels."k"==v`). */
export async function listContainerIds(namespace: string, options?: ContainerdOptions, filter?: string): Promise<string[]> {
  return lines(await runCtr(["-n", namespace, "containers", "ls", "-q", ...(filter === undefined ? [] : [filter])], options)).sort();
}

/**
 * `namespace`'s containers with their image and labels (one `ctr containers
 * info` per container: `ls` does not print labels). `filter` as for
 * {@link listContainerIds}. Containers removed meanwhile are skipped.
 */
export async function listContainers(namespace: string, options?: ContainerdOptions, filter?: string): Promise<CtrContainer[]> {
  const found: CtrContainer[] = [];
  for (const id of await listContainerIds(namespace, options, filter)) {
    try {
      const { snapshotter: _s, snapshotKey: _k, runtime: _r, ...summary } = await containerInfo(namespace, id, options);
      found.push(summary);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }
  return found;
}

/**
 * One container.
 *
 * @throws NotFoundError when `namespace` has no container `id`.
 */
export async function containerInfo(namespace: string, id: string, options?: ContainerdOptions): Promise<CtrContainerInfo> {
  const args = ["-n", namespace, "containers", "info", "--", id];
  const text = await runCtr(args, options, (stderr) =>
    /not found/i.test(stderr) ? new NotFoundError(`containerd: no container "${id}" in namespace "${namespace}"`) : undefined,
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw unexpected(args, "not JSON");
  }
  const o = object(parsed, args, "reply");
  const runtime = o["Runtime"] === undefined || o["Runtime"] === null ? {} : object(o["Runtime"], args, "Runtime");
  return {
    namespace,
    id: string(o, "ID", args),
    image: optionalString(o, "Image", args),
    labels: stringRecord(o["Labels"], args, "Labels"),
    snapshotter: optionalString(o, "Snapshotter", args),
    snapshotKey: optionalString(o, "SnapshotKey", args),
    runtime: optionalString(runtime, "Name", args),
  };
}

/** `namespace`'s tasks (`ctr tasks ls`), by container id. */
export async function listTasks(namespace: string, options?: ContainerdOptions): Promise<Map<string, CtrTask>> {
  const args = ["-n", namespace, "tasks", "ls"];
  const tasks = new Map<string, CtrTask>();
  const [header, ...rows] = lines(await runCtr(args, options));
  if (header === undefined) return tasks;
  if (!/^TASK\s+PID\s+STATUS\b/.test(header)) throw unexpected(args, `header is ${JSON.stringify(header)}`);
  for (const row of rows) {
    const match = /^(\S+)\s+(\d{1,10})\s+(\S+)/.exec(row);
    if (match === null) throw unexpected(args, `row ${JSON.stringify(row)}`);
    const [, id, pid, status] = match as unknown as [string, string, string, string];
    tasks.set(id, { id, pid: Number(pid), status });
  }
  return tasks;
}

/** The PID of container `id`'s running task, or undefined when it has no task or the task does not run. */
export async function taskPid(namespace: string, id: string, options?: ContainerdOptions): Promise<number | undefined> {
  const task = (await listTasks(namespace, options)).get(id);
  return task !== undefined && task.status === "RUNNING" && task.pid > 0 ? task.pid : undefined;
}

/** Every PID in container `id`'s task (`ctr tasks ps`), sorted; empty when it has no task. */
export async function taskPids(namespace: string, id: string, options?: ContainerdOptions): Promise<number[]> {
  const args = ["-n", namespace, "tasks", "ps", "--", id];
  const text = await runCtr(args, options, (stderr) =>
    /not found/i.test(stderr) ? new NotFoundError(`containerd: ${namespace}/${id} has no task`) : undefined,
  ).catch((error: unknown) => {
    if (error instanceof NotFoundError) return "";
    throw error;
  });
  const [header, ...rows] = lines(text);
  if (header === undefined) return [];
  if (!/^PID\b/.test(header)) throw unexpected(args, `header is ${JSON.stringify(header)}`);
  return rows
    .map((row) => {
      const pid = Number(/^(\d{1,10})\b/.exec(row)?.[1] ?? NaN);
      if (!Number.isSafeInteger(pid) || pid <= 0) throw unexpected(args, `row ${JSON.stringify(row)}`);
      return pid;
    })
    .sort((a, b) => a - b);
}

/**
 * The overlay layers of an `overlayfs` snapshot, upper first, then the lowers
 * in order (as `ctr snapshots mounts` prints the mount it would do:
 * `mount -t overlay overlay TARGET -o index=off,workdir=…,upperdir=…,lowerdir=A:B`);
 * empty for other snapshotters, or a snapshot with no overlay mount.
 */
export async function snapshotLayers(namespace: string, snapshotter: string, key: string, options?: ContainerdOptions): Promise<string[]> {
  if (snapshotter !== "overlayfs" || key === "") return [];
  const args = ["-n", namespace, "snapshots", "--snapshotter", snapshotter, "mounts", "/", "--", key];
  const text = await runCtr(args, options, (stderr) =>
    /not found|does not exist/i.test(stderr) ? new NotFoundError(`containerd: no snapshot "${key}"`) : undefined,
  ).catch((error: unknown) => {
    if (error instanceof NotFoundError) return "";
    throw error;
  });
  const mountOptions = /^mount -t overlay \S+ \S+ -o (\S+)$/m.exec(text)?.[1];
  if (mountOptions === undefined) return [];
  const values = new Map<string, string>();
  for (const option of mountOptions.split(",")) {
    const eq = option.indexOf("=");
    if (eq > 0) values.set(option.slice(0, eq), option.slice(eq + 1));
  }
  const upper = values.get("upperdir");
  const lowers = values.get("lowerdir")?.split(":") ?? [];
  return [...(upper === undefined ? [] : [upper]), ...lowers].filter((d) => d !== "");
}

/**
 * The container `ref` names: a full id, or a unique id prefix of at least
 * {@link MIN_REF_PREFIX} characters; in `ref.namespace` when given, else in
 * every namespace (a full id wins over prefixes; the same full id in two
 * namespaces is ambiguous).
 *
 * @throws NotFoundError naming the nearest ids (or the namespaces, for an unknown one).
 * @throws AmbiguousError listing `namespace/id` of every match.
 * @throws UsageError for a prefix shorter than {@link MIN_REF_PREFIX}.
 * @throws IoError when `ctr` is missing, the socket is absent, or ctr fails.
 */
export async function findContainerdContainer(
  ref: { readonly namespace?: string | undefined; readonly id: string },
  options?: ContainerdOptions,
): Promise<CtrContainerInfo> {
  const all = await listNamespaces(options);
  if (ref.namespace !== undefined && !all.includes(ref.namespace)) {
    const near = nearest(ref.namespace, all);
    throw new NotFoundError(`containerd: no namespace "${ref.namespace}"`, [
      near.length > 0 ? `did you mean ${near.map((n) => `"${n}"`).join(" or ")}?` : `namespaces: ${all.join(", ") || "none"}`,
    ]);
  }
  const namespaces = ref.namespace === undefined ? all : [ref.namespace];
  const containers: { namespace: string; id: string }[] = [];
  for (const namespace of namespaces) {
    for (const id of await listContainerIds(namespace, options)) containers.push({ namespace, id });
  }
  const named = (c: { namespace: string; id: string }): string => `${c.namespace}/${c.id}`;
  let matches = containers.filter((c) => c.id === ref.id);
  if (matches.length === 0) {
    matches = containers.filter((c) => c.id.startsWith(ref.id));
    if (matches.length > 0 && ref.id.length < MIN_REF_PREFIX) {
      throw new UsageError(`containerd: id prefix "${ref.id}" is too short; give at least ${MIN_REF_PREFIX} characters`, ["or the full id"]);
    }
  }
  if (matches.length > 1) {
    throw new AmbiguousError(`containerd: "${ref.id}" matches ${matches.length} containers`, matches.map(named), [
      "give more of the id, or its namespace (containerd/NAMESPACE/ID)",
    ]);
  }
  const match = matches[0];
  if (match === undefined) {
    const where = ref.namespace === undefined ? `any of the namespaces ${namespaces.join(", ") || "(none)"}` : `namespace "${ref.namespace}"`;
    // A 64-hex id is compared by as many digits as were given: a mistyped prefix is near its id's prefix.
    const near = nearest(
      ref.id,
      containers.map((c) => (/^[0-9a-f]{64}$/.test(c.id) ? c.id.slice(0, ref.id.length) : c.id)),
    );
    const hints =
      near.length > 0
        ? [`did you mean ${near.map((n) => `"${n}"`).join(" or ")}?`]
        : containers.length === 0
          ? ["there are no containers (ctr containers ls)"]
          : [`containers: ${containers.slice(0, 10).map(named).join(", ")}${containers.length > 10 ? ", …" : ""}`];
    throw new NotFoundError(`containerd: no container "${ref.id}" in ${where}`, hints);
  }
  return containerInfo(match.namespace, match.id, options);
}

/**
 * Runs `ctr --address SOCKET --connect-timeout … args`, bounded in time and
 * output; returns stdout. `classify` may turn ctr's stderr into a specific error.
 *
 * @throws IoError when ctr is missing, the socket is absent, ctr times out or fails.
 */
export async function runCtr(args: readonly string[], options: ContainerdOptions = {}, classify?: (stderr: string) => Error | undefined): Promise<string> {
  const socket = containerdSocketPath(options);
  const ctr = options.ctr ?? "ctr";
  if (!existsSync(socket)) {
    throw new IoError(`containerd: no socket at ${socket}`, "ENOENT", [
      "start containerd, or point probec at its socket with CONTAINERD_ADDRESS (dockerd's own is <exec-root>/containerd/containerd.sock)",
    ]);
  }
  const timeout = options.timeoutMs ?? DEFAULT_CTR_TIMEOUT_MS;
  const seconds = Math.max(1, Math.ceil(timeout / 1000));
  const full = ["--address", socket, "--connect-timeout", `${seconds}s`, "--timeout", `${seconds}s`, ...args];
  return new Promise((resolve, reject) => {
    execFile(ctr, full, { encoding: "utf8", timeout, killSignal: "SIGKILL", maxBuffer: MAX_CTR_OUTPUT }, (error, stdout, stderr) => {
      if (error === null) {
        resolve(stdout);
        return;
      }
      const e = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: unknown };
      const command = `ctr ${args.join(" ")}`;
      if (e.code === "ENOENT") {
        reject(new IoError(`containerd: cannot run ${ctr}: not found`, "ENOENT", ["install containerd's ctr (the containerd or docker.io package)"]));
      } else if (e.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER") {
        reject(new IoError(`containerd: ${command}: printed more than ${MAX_CTR_OUTPUT} bytes`));
      } else if (e.killed === true || e.signal === "SIGKILL") {
        reject(new IoError(`containerd: ${command}: no answer within ${timeout} ms on ${socket}`, "ETIMEDOUT", ["is containerd alive? (ctr version)"]));
      } else {
        const message =
          stderr
            .trim()
            .split("\n")
            .pop()
            ?.replace(/^ctr: /, "") ?? "";
        const specific = classify?.(stderr);
        if (specific !== undefined) reject(specific);
        else if (/dial|connection refused|permission denied/i.test(message)) {
          reject(new IoError(`containerd: cannot reach ${socket}: ${message}`, undefined, ["is containerd running, and are you root?"]));
        } else reject(new IoError(`containerd: ${command}: ${message || `exit ${String(e.code)}`}`));
      }
    });
  });
}

function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l !== "");
}

// The daemon is trusted to be a daemon, not to be bug-free: check the shape of what is read.

function unexpected(args: readonly string[], problem: string): IoError {
  return new IoError(`containerd: ctr ${args.join(" ")}: unexpected output: ${problem}`);
}

function object(value: unknown, args: readonly string[], what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw unexpected(args, `${what} is not an object`);
  return value as Record<string, unknown>;
}

function string(o: Record<string, unknown>, key: string, args: readonly string[]): string {
  const value = o[key];
  if (typeof value !== "string") throw unexpected(args, `${key} is not a string`);
  return value;
}

function optionalString(o: Record<string, unknown>, key: string, args: readonly string[]): string {
  return o[key] === undefined || o[key] === null ? "" : string(o, key, args);
}

/** Labels: `null` when empty, as Go encodes a nil map. */
function stringRecord(value: unknown, args: readonly string[], what: string): Record<string, string> {
  if (value === null || value === undefined) return {};
  const o = object(value, args, what);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, v] of Object.entries(o)) {
    if (typeof v !== "string") throw unexpected(args, `${what}.${key} is not a string`);
    out[key] = v;
  }
  return out;
}
