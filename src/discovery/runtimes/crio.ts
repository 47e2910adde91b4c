/**
 * CRI-O containers, read from the state files CRI-O leaves on disk: it has
 * no client here, and its gRPC (CRI) socket would need protobuf. CRI-O keeps
 * its containers in containers/storage, the library (and on-disk format)
 * Podman uses, so these files are Podman's too:
 *
 *     <root>/<driver>-containers/containers.json            stable containers
 *     <root>/<driver>-containers/volatile-containers.json   volatile ones: CRI-O
 *         creates every container volatile, Podman those of `run --rm`
 *     <runroot>/<driver>-containers/volatile-containers.json  the same, with
 *         `transient_store = true`
 *     <root>/<driver>-containers/<id>/userdata/config.json  the OCI runtime spec
 *     <runroot>/<driver>-containers/<id>/userdata/config.json  (CRI-O writes the
 *         spec into both dirs; Podman only into the first)
 *     <runroot>/<driver>-containers/<id>/userdata/pidfile   conmon's
 *         `--container-pidfile`: the container's first process, decimal
 *     <exits dir>/<id>                                      conmon's `--exit-dir`
 *         file: the exit code, decimal, once the container has exited
 *
 * Each list is a JSON array of `{ id, names, image, layer, metadata,
 * created, flags }`; `metadata` is a JSON *string* the creator chose: CRI-O's
 * `RuntimeContainerMetadata` (`pod-name`, `pod-id`, `image-name`,
 * `image-id`, `name`, `metadata-name`, `namespace`, `uid`, `created-at`,
 * `attempt`, `pod`), Podman's `{ image-name, image-id, name, created-at }`.
 * CRI-O names a container `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`
 * in `names`, and fills the spec's `annotations` with `io.kubernetes.*`
 * (`io.kubernetes.container.name`, `io.kubernetes.pod.name`,
 * `io.kubernetes.pod.namespace`) and `io.kubernetes.cri-o.*`.
 *
 * Every read is bounded ({@link MAX_LIST_BYTES}, {@link MAX_CONFIG_BYTES},
 * {@link MAX_SMALL_BYTES}); malformed JSON is a FormatError naming the file.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { AmbiguousError, FormatError, IoError, LimitError, NotFoundError } from "../../errors.js";
import { ioErrorFor } from "../../io/file-source.js";
import { nearest } from "../../suggest.js";

/** CRI-O's (and containers/storage's) default `root`. */
export const DEFAULT_CRIO_STORAGE_ROOT = "/var/lib/containers/storage";
/** CRI-O's default `runroot`. */
export const DEFAULT_CRIO_RUN_ROOT = "/run/containers/storage";
/** CRI-O's default `container_exits_dir`. */
export const DEFAULT_CRIO_EXITS_DIR = "/var/run/crio/exits";
/** Fewest hex digits accepted as an id prefix. */
export const MIN_ID_PREFIX = 4;
/** Cap on a containers list (`containers.json`, `volatile-containers.json`). */
export const MAX_LIST_BYTES = 64 * 1024 * 1024;
/** Cap on a container's `config.json` (an OCI spec is some 10–50 KiB). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** Cap on a pidfile or an exit file. */
export const MAX_SMALL_BYTES = 64;
/** Cap on the containers of one store. */
export const MAX_CONTAINERS = 100_000;

/** Where CRI-O's storage is. */
export interface CrioOptions {
  /** containers/storage `root` (crio.conf `[crio] root`); default {@link DEFAULT_CRIO_STORAGE_ROOT}. */
  readonly storageRoot?: string;
  /** containers/storage `runroot` (crio.conf `[crio] runroot`); default {@link DEFAULT_CRIO_RUN_ROOT}. */
  readonly runRoot?: string;
  /** The storage driver, naming `<driver>-containers`; default `overlay`. */
  readonly driver?: string;
  /** crio.conf `container_exits_dir`; default {@link DEFAULT_CRIO_EXITS_DIR}. */
  readonly exitsDir?: string;
}

/** One container of the store. */
export interface StorageContainer {
  /** 64 hex digits. */
  readonly id: string;
  /** Its names in the store (CRI-O: `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`; a pod's infra container also has the pod's name). */
  readonly names: readonly string[];
  /** The image id. */
  readonly image: string;
  /** The creator's metadata, parsed; undefined when absent or not a JSON object. */
  readonly metadata: Readonly<Record<string, unknown>> | undefined;
  /** The OCI spec's annotations (`io.kubernetes.*` for CRI-O); empty without a config.json. */
  readonly annotations: Readonly<Record<string, string>>;
  /** The list file it came from. */
  readonly source: string;
}

/** A container found by {@link findCrioContainer}. */
export interface CrioContainer extends StorageContainer {
  /** `io.kubernetes.container.name`, else the metadata's `metadata-name`, else its first name. */
  readonly name: string;
  /** The pidfile's pid, when the file is there and that process exists. */
  readonly pid: number | undefined;
  /** The exit code from CRI-O's exits dir, once it exited. */
  readonly exitCode: number | undefined;
}

interface Paths {
  readonly root: string;
  readonly run: string;
  readonly lists: readonly string[];
}

function pathsOf(options: CrioOptions): Paths {
  const dir = `${options.driver ?? "overlay"}-containers`;
  const root = join(options.storageRoot ?? DEFAULT_CRIO_STORAGE_ROOT, dir);
  const run = join(options.runRoot ?? DEFAULT_CRIO_RUN_ROOT, dir);
  return { root, run, lists: [join(root, "containers.json"), join(root, "volatile-containers.json"), join(run, "volatile-containers.json")] };
}

/** Whether a containers/storage store is at the options' paths (any containers list exists). */
export function crioStorageExists(options: CrioOptions = {}): boolean {
  return pathsOf(options).lists.some((p) => existsSync(p));
}

/**
 * Every container of the store, from all its lists, each with its metadata
 * and annotations.
 *
 * @throws IoError naming the paths looked at when there is no store.
 * @throws FormatError naming the file for malformed JSON; LimitError for an oversized file or list.
 */
export function listStorageContainers(options: CrioOptions = {}): StorageContainer[] {
  const paths = pathsOf(options);
  const present = paths.lists.filter((p) => existsSync(p));
  if (present.length === 0) {
    throw new IoError(`crio: no containers/storage store: none of ${paths.lists.join(", ")} exists`, "ENOENT", [
      "set CrioOptions.storageRoot and runRoot to CRI-O's root and runroot (crio.conf [crio] root, runroot; `crio config | grep root` shows them), and driver if it is not overlay",
    ]);
  }
  const found: StorageContainer[] = [];
  const seen = new Set<string>();
  for (const list of present) {
    for (const entry of readList(list)) {
      if (seen.has(entry.id)) continue;
      seen.add(entry.id);
      if (found.length >= MAX_CONTAINERS) throw new LimitError(`crio: more than ${MAX_CONTAINERS} containers in ${present.join(", ")}`);
      found.push({ ...entry, annotations: readAnnotations(paths, entry.id), source: list });
    }
  }
  return found;
}

/**
 * The container `ref` names: a full id, a name (a store name, or
 * `io.kubernetes.container.name`), or a unique id prefix of at least
 * {@link MIN_ID_PREFIX} hex digits; in that order.
 *
 * @throws NotFoundError naming the nearest names; AmbiguousError for a prefix or name matching several.
 * @throws IoError without a store; FormatError / LimitError for hostile files.
 */
export function findCrioContainer(ref: string, options: CrioOptions = {}): CrioContainer {
  const containers = listStorageContainers(options);
  const byId = containers.find((c) => c.id === ref);
  const pick = (c: StorageContainer): CrioContainer => described(c, options);
  if (byId !== undefined) return pick(byId);
  const byName = containers.filter((c) => c.names.includes(ref) || c.annotations["io.kubernetes.container.name"] === ref);
  if (byName.length === 1) return pick(byName[0]!);
  if (byName.length > 1) {
    throw new AmbiguousError(
      `crio/${ref}: ${byName.length} containers have that name`,
      byName.map((c) => `${c.id.slice(0, 12)} (${c.names[0] ?? "unnamed"}${podOf(c)})`),
      ["name it by its id (prefix), or by its full store name"],
    );
  }
  if (/^[0-9a-f]+$/.test(ref) && ref.length >= MIN_ID_PREFIX) {
    const byPrefix = containers.filter((c) => c.id.startsWith(ref));
    if (byPrefix.length === 1) return pick(byPrefix[0]!);
    if (byPrefix.length > 1) {
      throw new AmbiguousError(
        `crio/${ref}: the id prefix matches ${byPrefix.length} containers`,
        byPrefix.map((c) => `${c.id} (${c.names[0] ?? "unnamed"})`),
        ["give more digits of the id"],
      );
    }
  }
  const candidates = containers.flatMap((c) => [
    ...c.names,
    c.annotations["io.kubernetes.container.name"] ?? "",
    c.id.slice(0, Math.max(ref.length, MIN_ID_PREFIX)),
  ]);
  const near = nearest(
    ref,
    candidates.filter((n) => n !== ""),
  );
  const short = /^[0-9a-f]{1,3}$/.test(ref) ? [`an id prefix needs at least ${MIN_ID_PREFIX} hex digits`] : [];
  throw new NotFoundError(`crio/${ref}: no container has that id or name (${containers.length} in the store)`, [
    ...short,
    ...(near.length > 0 ? [`did you mean ${near.map((n) => `"${n}"`).join(" or ")}?`] : []),
  ]);
}

function podOf(c: StorageContainer): string {
  const pod = c.annotations["io.kubernetes.pod.name"] ?? (typeof c.metadata?.["pod-name"] === "string" ? c.metadata["pod-name"] : undefined);
  const ns = c.annotations["io.kubernetes.pod.namespace"];
  return pod === undefined ? "" : ` in pod ${ns === undefined ? "" : `${ns}/`}${pod}`;
}

/** A store entry with its name, its first process (when it runs) and its exit code (when it has exited). */
export function described(c: StorageContainer, options: CrioOptions): CrioContainer {
  const paths = pathsOf(options);
  const metadataName = c.metadata?.["metadata-name"];
  const name = c.annotations["io.kubernetes.container.name"] ?? (typeof metadataName === "string" ? metadataName : undefined) ?? c.names[0] ?? c.id;
  const pidFile = [join(paths.run, c.id, "userdata", "pidfile"), join(paths.root, c.id, "userdata", "pidfile")].find((p) => existsSync(p));
  let pid = pidFile === undefined ? undefined : readNumber(pidFile);
  if (pid !== undefined && (pid <= 0 || !existsSync(`/proc/${pid}`))) pid = undefined;
  const exitFile = join(options.exitsDir ?? DEFAULT_CRIO_EXITS_DIR, c.id);
  const exitCode = existsSync(exitFile) ? readNumber(exitFile) : undefined;
  return { ...c, name, pid, exitCode };
}

/** The entries of one list file, validated. */
function readList(file: string): Omit<StorageContainer, "annotations" | "source">[] {
  const value = parseJson(file, readBounded(file, MAX_LIST_BYTES));
  if (value === null) return []; // containers/storage writes `null` for an empty list
  if (!Array.isArray(value)) throw new FormatError(`${file}: not a JSON array of containers`, 0, undefined, false);
  if (value.length > MAX_CONTAINERS) throw new LimitError(`${file}: more than ${MAX_CONTAINERS} containers`);
  return value.map((raw: unknown, i) => {
    const bad = (what: string): FormatError => new FormatError(`${file}: container ${i}: ${what}`, 0, undefined, false);
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("not an object");
    const e = raw as Record<string, unknown>;
    // The id becomes a path component: only what containers/storage generates.
    if (typeof e["id"] !== "string" || !/^[0-9a-f]{64}$/.test(e["id"])) throw bad(`"id" is not 64 hex digits`);
    const names = e["names"] ?? [];
    if (!Array.isArray(names) || !names.every((n): n is string => typeof n === "string")) throw bad(`"names" is not a list of strings`);
    const image = e["image"] ?? "";
    if (typeof image !== "string") throw bad(`"image" is not a string`);
    const metadata = e["metadata"];
    if (metadata !== undefined && typeof metadata !== "string") throw bad(`"metadata" is not a string`);
    return { id: e["id"], names, image, metadata: parseMetadata(metadata) };
  });
}

/** The creator's metadata string, when it is a JSON object: opaque to containers/storage, so anything else is no metadata. */
function parseMetadata(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined || text === "") return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The string annotations of the container's OCI spec: the storage root's copy, else the run root's; none without either. */
function readAnnotations(paths: Paths, id: string): Record<string, string> {
  const file = [join(paths.root, id, "userdata", "config.json"), join(paths.run, id, "userdata", "config.json")].find((p) => existsSync(p));
  if (file === undefined) return {};
  const spec = parseJson(file, readBounded(file, MAX_CONFIG_BYTES));
  if (typeof spec !== "object" || spec === null || Array.isArray(spec))
    throw new FormatError(`${file}: not an OCI runtime spec (a JSON object)`, 0, undefined, false);
  const annotations = (spec as Record<string, unknown>)["annotations"];
  if (annotations === undefined || annotations === null) return {};
  if (typeof annotations !== "object" || Array.isArray(annotations)) throw new FormatError(`${file}: "annotations" is not an object`, 0, undefined, false);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(annotations)) if (typeof value === "string") out[key] = value;
  return out;
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message)?.[1];
    if (position !== undefined) throw new FormatError(`${file}: malformed JSON (${message})`, Number(position));
    throw new FormatError(`${file}: malformed JSON (${message})`, text.length, undefined, false);
  }
}

/** A decimal number file (pidfile, exit file): a FormatError naming it otherwise. */
function readNumber(file: string): number {
  const text = readBounded(file, MAX_SMALL_BYTES).trim();
  if (!/^-?[0-9]{1,10}$/.test(text)) throw new FormatError(`${file}: not a decimal number`, 0, text.slice(0, 32), false);
  return Number(text);
}

/** A regular file's text, refusing more than `cap` bytes before reading any. */
function readBounded(file: string, cap: number): string {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    throw ioErrorFor(file, error);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new IoError(`${file}: not a regular file`, undefined);
    if (stat.size > cap) throw new LimitError(`${file}: ${stat.size} bytes, more than the ${cap}-byte cap`);
    const chunks: Buffer[] = [];
    let done = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(cap + 1 - done, Math.max(stat.size - done, 0) + 4096));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      done += n;
      if (done > cap) throw new LimitError(`${file}: grew past the ${cap}-byte cap while being read`);
    }
    return Buffer.concat(chunks, done).toString("utf8");
  } finally {
    closeSync(fd);
  }
}
