/**
 * Docker containers, asked of the Docker Engine API over its unix socket
 * (see `docker-api.ts` for the transport): which containers run, their host
 * PID, labels (with Kubernetes' `io.kubernetes.*` when the kubelet made them)
 * and overlay layers, and every process they hold.
 *
 * `findContainer` resolves a reference the way `docker inspect` does, in
 * this order: a full id, an exact name (`web` or `/web`; the API stores names
 * with a leading slash), then a unique id prefix. Unlike Docker, a prefix
 * must have at least {@link MIN_ID_PREFIX} hex digits: a privileged tracer
 * should not attach to whichever container happens to start with `a`.
 *
 * PIDs are as the daemon sees them, which is the host's PID namespace when
 * dockerd runs on the host. A caller in another PID namespace translates
 * them (see `NSpid` in `/proc/<pid>/status`).
 */
import { AmbiguousError, IoError, NotFoundError, ProbecError, UsageError } from "../../errors.js";
import { nearest } from "../../suggest.js";
import { dockerGet, type DockerOptions } from "./docker-api.js";

export { DEFAULT_DOCKER_SOCKET, dockerSocketPath, type DockerOptions } from "./docker-api.js";

/** Fewest hex digits accepted as an id prefix (`docker ps` shows 12). */
export const MIN_ID_PREFIX = 4;

/** A running container as `GET /containers/json` lists it. */
export interface ContainerSummary {
  /** The full 64-hex-digit id. */
  readonly id: string;
  /** Its names without the API's leading `/` (normally exactly one). */
  readonly names: readonly string[];
  /** The image reference it was started from, as given (`nginx:1.25`). */
  readonly image: string;
  /** `running`, `paused`, `restarting`, … */
  readonly state: string;
  /** Container labels, including `io.kubernetes.*` when the kubelet created it. */
  readonly labels: Readonly<Record<string, string>>;
}

/** The storage driver's view of a container's root filesystem. */
export interface GraphDriver {
  /** The storage driver, `overlay2` on any current kernel (`vfs`, `btrfs`, `zfs` elsewhere). */
  readonly name: string;
  /**
   * overlay2's read-only layers, top first (the container's `-init` layer,
   * then the image's). Shared with every container of the same image.
   */
  readonly lowerDirs: readonly string[];
  /** overlay2's writable layer: files the container created or copied up. */
  readonly upperDir: string | undefined;
  /** overlay2's merged view: the container's `/` while it runs. */
  readonly mergedDir: string | undefined;
  /** Everything the driver reported, unparsed (`LowerDir`, `UpperDir`, `MergedDir`, `WorkDir`, …). */
  readonly data: Readonly<Record<string, string>>;
}

/** One container as `GET /containers/{id}/json` describes it. */
export interface ContainerInfo {
  /** The full 64-hex-digit id. */
  readonly id: string;
  /** Its name without the API's leading `/`. */
  readonly name: string;
  /** The image reference it was started from, as given (`Config.Image`). */
  readonly image: string;
  /** The image's id, `sha256:…`. */
  readonly imageId: string;
  /** Whether it runs, and the host PID of its first process (0 when it does not run). */
  readonly state: { readonly status: string; readonly running: boolean; readonly pid: number };
  /** Container labels, including `io.kubernetes.*` when the kubelet created it. */
  readonly labels: Readonly<Record<string, string>>;
  /** Where its files are on the host. */
  readonly graphDriver: GraphDriver;
}

/** The running containers (`docker ps`). */
export async function listContainers(options?: DockerOptions): Promise<ContainerSummary[]> {
  const path = "/containers/json";
  const reply = await dockerGet(path, options);
  if (!Array.isArray(reply)) throw unexpected(path, "not an array");
  return reply.map((item: unknown): ContainerSummary => {
    const o = object(item, path, "container");
    return {
      id: string(o, "Id", path),
      names: stringArray(o["Names"], path, "Names").map(stripSlash),
      image: string(o, "Image", path),
      state: string(o, "State", path),
      labels: stringRecord(o["Labels"], path, "Labels"),
    };
  });
}

/**
 * One container, running or not, by anything the daemon resolves (name, id,
 * or any id prefix: use {@link findContainer} for probec's stricter rules).
 *
 * @throws NotFoundError when the daemon knows no such container.
 */
export async function inspectContainer(nameOrId: string, options?: DockerOptions): Promise<ContainerInfo> {
  const path = `/containers/${encodeURIComponent(nameOrId)}/json`;
  const o = object(await dockerGet(path, options), path, "reply");
  const state = object(o["State"], path, "State");
  const config = object(o["Config"], path, "Config");
  const graph = object(o["GraphDriver"], path, "GraphDriver");
  const data = stringRecord(graph["Data"], path, "GraphDriver.Data");
  const pid = state["Pid"];
  if (typeof pid !== "number" || !Number.isSafeInteger(pid) || pid < 0) {
    throw unexpected(path, "State.Pid is not a PID");
  }
  return {
    id: string(o, "Id", path),
    name: stripSlash(string(o, "Name", path)),
    image: string(config, "Image", path),
    imageId: string(o, "Image", path),
    state: { status: string(state, "Status", path), running: state["Running"] === true, pid },
    labels: stringRecord(config["Labels"], path, "Config.Labels"),
    graphDriver: {
      name: string(graph, "Name", path),
      // Layers are joined with ':' like overlayfs's lowerdir= option; Docker's paths never contain one.
      lowerDirs: data["LowerDir"] === undefined || data["LowerDir"] === "" ? [] : data["LowerDir"].split(":"),
      upperDir: data["UpperDir"],
      mergedDir: data["MergedDir"],
      data,
    },
  };
}

/**
 * Every host PID in the container at this moment, including processes
 * started later with `docker exec` and their children, sorted.
 *
 * Asks the daemon (`GET /containers/{id}/top?ps_args=-eo pid`) rather than
 * reading `cgroup.procs`: the cgroup's path depends on cgroup v1 or v2, on
 * the cgroupfs or systemd driver (`docker-<id>.scope`), on `--cgroup-parent`
 * and on our own cgroup namespace, while the daemon knows its containers'
 * cgroups in every case. (It takes the PIDs from containerd, which reads the
 * cgroup, and runs the host's `ps` to format them.)
 *
 * @throws IoError when the container does not run (the daemon answers 409).
 */
export async function containerPids(id: string, options?: DockerOptions): Promise<number[]> {
  const path = `/containers/${encodeURIComponent(id)}/top?ps_args=${encodeURIComponent("-eo pid")}`;
  const o = object(await dockerGet(path, options), path, "reply");
  const column = stringArray(o["Titles"], path, "Titles").indexOf("PID");
  if (column < 0) throw unexpected(path, "no PID column");
  const rows = o["Processes"] ?? [];
  if (!Array.isArray(rows)) throw unexpected(path, "Processes is not an array");
  const pids = rows.map((row: unknown) => {
    const text = Array.isArray(row) ? row[column] : undefined;
    const pid = typeof text === "string" && /^\d{1,10}$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(pid) || pid <= 0) throw unexpected(path, `bad PID ${JSON.stringify(text)}`);
    return pid;
  });
  return pids.sort((a, b) => a - b);
}

/**
 * The running container `ref` names: a full id, a name (with or without the
 * leading `/`), or a unique id prefix of at least {@link MIN_ID_PREFIX} hex digits.
 *
 * @throws NotFoundError naming the nearest running containers, or saying the container is stopped.
 * @throws AmbiguousError when a prefix matches several ids; lists them.
 * @throws UsageError for an id prefix shorter than {@link MIN_ID_PREFIX}.
 */
export async function findContainer(ref: string, options?: DockerOptions): Promise<ContainerInfo> {
  // A name or a full id needs one request; prefixes (and every error message) need the list.
  if (!/^[0-9a-f]{1,63}$/.test(ref)) {
    const direct = await inspectContainer(stripSlash(ref), options).catch((error: unknown) => {
      if (error instanceof ProbecError && error.code !== "E_IO") return undefined;
      throw error;
    });
    if (direct?.state.running === true) return direct;
  }
  const running = await listContainers(options);
  const found = resolveContainerRef(ref, running);
  if (found !== undefined) return inspectContainer(found.id, options);
  // Not running: say so if the daemon knows it stopped, rather than "no such container".
  // Only for a better message, so any refusal here (an ambiguous prefix among stopped
  // containers is a 400) falls through to "not found".
  const stopped = await inspectContainer(stripSlash(ref), options).catch((error: unknown) => {
    if (error instanceof ProbecError) return undefined;
    throw error;
  });
  if (stopped !== undefined && !stopped.state.running) {
    throw new NotFoundError(`docker: container "${stopped.name}" is not running (${stopped.state.status})`, [`start it: docker start ${stopped.name}`]);
  }
  throw notFound(ref, running);
}

/**
 * The pure half of {@link findContainer}: which of `containers` `ref` names,
 * or `undefined`. Docker's order: full id, exact name, unique id prefix.
 *
 * @throws AmbiguousError when a prefix matches several ids.
 * @throws UsageError when `ref` is a too-short prefix of some id.
 */
export function resolveContainerRef(ref: string, containers: readonly ContainerSummary[]): ContainerSummary | undefined {
  const byId = containers.find((c) => c.id === ref);
  if (byId !== undefined) return byId;
  const name = stripSlash(ref);
  const byName = containers.find((c) => c.names.includes(name));
  if (byName !== undefined) return byName;
  if (!/^[0-9a-f]+$/.test(ref)) return undefined;
  const matches = containers.filter((c) => c.id.startsWith(ref));
  if (matches.length === 0) return undefined;
  if (ref.length < MIN_ID_PREFIX) {
    throw new UsageError(`docker: id prefix "${ref}" is too short; give at least ${MIN_ID_PREFIX} hex digits`, ["or name the container"]);
  }
  if (matches.length > 1) {
    throw new AmbiguousError(
      `docker: id prefix "${ref}" matches ${matches.length} containers`,
      matches.map((c) => `${c.id.slice(0, 12)} (${c.names[0] ?? "unnamed"})`),
      ["give more digits of the id, or the name"],
    );
  }
  return matches[0];
}

function notFound(ref: string, running: readonly ContainerSummary[]): NotFoundError {
  const names = running.flatMap((c) => c.names);
  const near = nearest(stripSlash(ref), names);
  let hints: string[];
  if (near.length > 0) hints = [`did you mean ${near.map((n) => `"${n}"`).join(" or ")}?`];
  else if (names.length === 0) hints = ["no containers are running (docker ps)"];
  else hints = [`running: ${names.slice(0, 10).join(", ")}${names.length > 10 ? ", …" : ""}`];
  return new NotFoundError(`docker: no running container named "${stripSlash(ref)}" or with that id`, hints);
}

function stripSlash(name: string): string {
  return name.startsWith("/") ? name.slice(1) : name;
}

// The daemon is trusted to be a daemon, not to be bug-free: check the shape of what is read.

function unexpected(path: string, problem: string): IoError {
  return new IoError(`docker: GET ${path}: unexpected reply: ${problem}`);
}

function object(value: unknown, path: string, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw unexpected(path, `${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

function string(o: Record<string, unknown>, key: string, path: string): string {
  const value = o[key];
  if (typeof value !== "string") throw unexpected(path, `${key} is not a string`);
  return value;
}

function stringArray(value: unknown, path: string, what: string): string[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw unexpected(path, `${what} is not a list of strings`);
  }
  return value as string[];
}

/** Labels and driver data: `null` when empty, as Go encodes a nil map. */
function stringRecord(value: unknown, path: string, what: string): Record<string, string> {
  if (value === null || value === undefined) return {};
  const o = object(value, path, what);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, v] of Object.entries(o)) {
    if (typeof v !== "string") throw unexpected(path, `${what}.${key} is not a string`);
    out[key] = v;
  }
  return out;
}
