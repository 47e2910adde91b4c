/**
 * `/proc/<pid>/cgroup`: which container, if any, a process belongs to.
 *
 * Lines are `hierarchy-ID:controllers:path` (cgroups(7)): cgroup v1 has one
 * line per hierarchy (`4:memory:/docker/<id>`), v2 a single `0::/path`, and
 * hybrid systems both. Paths are relative to the *reader's* cgroup
 * namespace: read from the host they are full; read from inside a container
 * with its own cgroup namespace they are `/` and say nothing.
 *
 * Container runtimes name a container's cgroup after its id, so the id can
 * be read back from the path without asking the runtime:
 *
 * | runtime | cgroupfs driver | systemd driver |
 * |---|---|---|
 * | Docker | `/docker/<id>` | `/system.slice/docker-<id>.scope` |
 * | containerd (CRI) | `/kubepods/burstable/pod<uid>/<id>` | `…/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope` |
 * | CRI-O | `…/pod<uid>/crio-<id>` | `…-pod<uid_>.slice/crio-<id>.scope` |
 * | Podman | `/libpod_parent/libpod-<id>` | `/machine.slice/libpod-<id>.scope/container` |
 * | nerdctl | `/default/<id>` | `/system.slice/nerdctl-<id>.scope` |
 *
 * `<id>` is 64 lower-case hex digits. Under the systemd driver the pod uid's
 * dashes become underscores (systemd reserves `-` for slice nesting); a
 * static pod's "uid" is a 32-hex-digit hash of its manifest
 * (`kubepods-burstable-pod1864dd0546310be9937c37cf88024cb8.slice`). The
 * monitor processes next to a container (`crio-conmon-<id>.scope`,
 * `libpod-conmon-<id>.scope`) are not the container and must not match.
 */
import { FormatError } from "../../errors.js";
import type { ContainerRuntime } from "../../plan/index.js";
import { DEFAULT_PROC_ROOT, readProcText, splitLines, type ProcPid, type ProcReadOptions } from "./read.js";

/** v1 has at most a few dozen hierarchies; this only stops hostile input. */
export const MAX_CGROUP_LINES = 1024;

/** One line of `/proc/<pid>/cgroup`. */
export interface CgroupEntry {
  /** Hierarchy id; 0 for the cgroup v2 unified hierarchy. */
  readonly hierarchyId: number;
  /** Controllers bound to the hierarchy (`cpu`, `cpuacct`, `name=systemd`); empty for v2. */
  readonly controllers: readonly string[];
  /** The cgroup path, relative to the reader's cgroup namespace root. */
  readonly path: string;
}

/**
 * Parses the text of a cgroup file.
 *
 * @throws FormatError naming the line when it is not `id:controllers:path`.
 * @throws LimitError when there are more than {@link MAX_CGROUP_LINES} lines.
 */
export function parseCgroup(text: string, source = "cgroup"): CgroupEntry[] {
  const entries: CgroupEntry[] = [];
  let offset = 0;
  for (const [index, line] of splitLines(text, MAX_CGROUP_LINES, source, "lines").entries()) {
    // The path is everything after the second colon: a cgroup name may itself contain ":".
    const match = /^(\d{1,10}):([^:]*):(\/.*)$/.exec(line);
    if (match === null) {
      throw new FormatError(
        `${source}: line ${index + 1} is not "hierarchy-id:controllers:path"`,
        offset,
        line.length > 120 ? `${line.slice(0, 120)}…` : line,
        false,
      );
    }
    const [, id, controllers, path] = match as unknown as [string, string, string, string];
    entries.push({ hierarchyId: Number(id), controllers: controllers === "" ? [] : controllers.split(","), path });
    offset += line.length + 1;
  }
  return entries;
}

/**
 * Reads and parses `/proc/<pid>/cgroup`.
 *
 * @throws NotFoundError when the process does not exist; IoError, LimitError, FormatError.
 */
export function readCgroup(pid: ProcPid, options: ProcReadOptions = {}): CgroupEntry[] {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  return parseCgroup(readProcText(pid, "cgroup", { ...options, procRoot }), `${procRoot}/${pid}/cgroup`);
}

/**
 * Which runtime made the container (defined in src/plan/runtimes.ts). `cri`
 * is a Kubernetes container under the cgroupfs driver, whose path
 * (`/kubepods/…/pod<uid>/<id>`) does not say which CRI runtime runs it.
 */
export type { ContainerRuntime };

/** A container recognised from a cgroup path. */
export interface CgroupContainer {
  /** The runtime, from the path's naming scheme. */
  readonly runtime: ContainerRuntime;
  /** The full 64-hex-digit container id. */
  readonly id: string;
  /** The Kubernetes pod uid (with dashes, as the API prints it), when the path is under kubepods. */
  readonly podUid?: string;
  /** The cgroup path it was found in. */
  readonly cgroupPath: string;
}

const ID = "([0-9a-f]{64})";
/** Path components that name a container by themselves: prefix, then runtime. Anchored, so `crio-conmon-…` and `libpod-conmon-…` cannot match. */
const SCOPED: readonly [RegExp, ContainerRuntime][] = [
  [new RegExp(`^docker-${ID}\\.scope$`), "docker"],
  [new RegExp(`^cri-containerd-${ID}\\.scope$`), "containerd"],
  [new RegExp(`^crio-${ID}(?:\\.scope)?$`), "crio"],
  [new RegExp(`^libpod-${ID}(?:\\.scope)?$`), "podman"],
  [new RegExp(`^nerdctl-${ID}\\.scope$`), "containerd"],
];
const BARE_ID = new RegExp(`^${ID}$`);
// Static pods (from manifest files) have a 32-hex config hash as their uid, with no dashes to translate.
/** cgroupfs pod directory: `pod` + uid with dashes, or a static pod's hash. */
const POD_CGROUPFS = /^pod([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;
/** systemd pod slice: `kubepods[-qos]-pod` + uid with underscores, or a static pod's hash. */
const POD_SYSTEMD = /^kubepods(?:-burstable|-besteffort)?-pod([0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}|[0-9a-f]{32})\.slice$/;

/**
 * The container a process is in, from its cgroup entries, or undefined for
 * a process in no recognised container (a host process, or a runtime this
 * does not know).
 *
 * The v2 entry is consulted first, then the v1 entries in file order. Within
 * a path the innermost container wins: in a Kubernetes-in-Docker node
 * (`/docker/<node>/kubelet/kubepods/…/pod<uid>/<id>`) the process belongs to
 * the pod's container, not to the node's.
 */
export function containerIdFromCgroup(entries: readonly CgroupEntry[]): CgroupContainer | undefined {
  const ordered = [...entries.filter((e) => e.hierarchyId === 0), ...entries.filter((e) => e.hierarchyId !== 0)];
  for (const entry of ordered) {
    const found = containerInPath(entry.path);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The innermost container named by one cgroup path. */
export function containerInPath(path: string): CgroupContainer | undefined {
  const parts = path.split("/");
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i] as string;
    const parent = parts[i - 1];
    let runtime: ContainerRuntime | undefined;
    let id: string | undefined;
    for (const [pattern, name] of SCOPED) {
      const match = pattern.exec(part);
      if (match !== null) {
        runtime = name;
        id = match[1];
        break;
      }
    }
    if (id === undefined && BARE_ID.test(part) && parent !== undefined) {
      // A bare id is a container only where a runtime puts one: under "docker" or under a pod directory.
      if (parent === "docker") runtime = "docker";
      else if (POD_CGROUPFS.test(parent)) runtime = "cri";
      if (runtime !== undefined) id = part;
    }
    if (runtime === undefined || id === undefined) continue;
    const podUid = podUidIn(parts.slice(0, i));
    return { runtime, id, ...(podUid === undefined ? {} : { podUid }), cgroupPath: path };
  }
  return undefined;
}

/** The pod uid from the nearest enclosing pod directory or slice, if any. */
function podUidIn(parts: readonly string[]): string | undefined {
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i] as string;
    const cgroupfs = POD_CGROUPFS.exec(part);
    if (cgroupfs !== null) return cgroupfs[1];
    const systemd = POD_SYSTEMD.exec(part);
    if (systemd !== null) return (systemd[1] as string).replaceAll("_", "-");
  }
  return undefined;
}
