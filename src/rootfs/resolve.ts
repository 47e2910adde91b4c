/**
 * Resolving a path inside a container's root without ever leaving it.
 *
 * `/proc/<pid>/root/usr/lib/libfoo.so` looks like a safe way to reach a
 * container's file, but the kernel follows any symlink on the way in the
 * *caller's* root: if the image has `libfoo.so -> /opt/lib/libfoo.so`, a
 * plain `open` or `realpath` reads the host's `/opt/lib/libfoo.so`, or fails
 * (PITFALLS 15, 16). So we walk the path one component at a time, the way
 * the kernel's `openat2(RESOLVE_IN_ROOT)` (Linux 5.6) and `chroot` do:
 *
 * - each component is `lstat`ed at `<root>/<canonical so far>/<component>`,
 *   where every earlier component is already known to be a real directory;
 * - an absolute symlink target restarts the walk at the container root,
 *   never at the host's `/`; a relative one is spliced in where the link was;
 * - `..` at the root stays at the root (clamped, as `RESOLVE_IN_ROOT` does);
 * - `.` and empty components are skipped, but, as in the kernel, only after
 *   a directory (`file/.` and `file/` are ENOTDIR);
 * - at most {@link MAXSYMLINKS} symlinks are followed, like the kernel's
 *   `MAXSYMLINKS` (40, include/linux/namei.h).
 *
 * No `realpath` is ever called on a host path built from the container path,
 * and nothing printed by readlink of `/proc/self/fd/N` is reused.
 *
 * The race, honestly: this is a walk by path name. Between our `lstat` of a
 * directory and the next step, a process in the container can swap that
 * directory for a symlink, and the next `lstat` (which the kernel resolves
 * from our root) would then follow it, possibly out of the container. The
 * result is therefore a *plan*, checked again by identity (device, inode,
 * size, build-id) when the file is opened. The native attacher closes the
 * window with `openat2(RESOLVE_IN_ROOT)` on a directory fd of the root
 * (docs/design.md, "Path strategies"); Node has no `openat2`, so this module
 * cannot.
 */
import { lstatSync, readlinkSync, statSync, type BigIntStats } from "node:fs";
import { IoError, LimitError, NotFoundError, UsageError } from "../errors.js";
import { containerPathOf, walkInRoot } from "./walk.js";

export { MAXSYMLINKS } from "./walk.js";

/** Longest container path accepted, the kernel's `PATH_MAX` (include/uapi/linux/limits.h). */
export const PATH_MAX = 4096;

/** What the resolved path must be. */
export type ExpectedType = "file" | "directory" | "any";

/** Options for {@link resolveInRoot}. */
export interface ResolveOptions {
  /** Required type of the final component (default `file`: a regular file). */
  expect?: ExpectedType;
}

/** Who a file is, as `lstat` saw it: enough to notice that it was swapped later. */
export interface FileIdentity {
  /** `st_dev`. Differs per container on overlayfs: never match on it alone (PITFALLS 21). */
  dev: bigint;
  /** `st_ino`. */
  ino: bigint;
  /** `st_size` in bytes. */
  size: bigint;
  /** `st_mtime` in nanoseconds since the epoch. */
  mtimeNs: bigint;
}

/** The result of {@link resolveInRoot}. */
export interface ResolvedPath {
  /** Canonical absolute path inside the container: no symlinks, `.` or `..`. */
  containerPath: string;
  /** `root` + `containerPath`: a path this process can open (subject to the race above). */
  hostPath: string;
  /** Identity of the final file when it was resolved. */
  identity: FileIdentity;
}

/**
 * Resolves `path` inside the directory `root` (for example `/proc/<pid>/root`)
 * as the container itself would, without ever following a link out of it.
 *
 * Throws {@link NotFoundError} naming the container path and the missing
 * component, {@link IoError} for permission problems and wrong types,
 * {@link LimitError} after {@link MAXSYMLINKS} symlinks, and
 * {@link UsageError} for a path that cannot be a path.
 */
export function resolveInRoot(root: string, path: string, options: ResolveOptions = {}): ResolvedPath {
  const expect = options.expect ?? "file";
  const where = `${path} in ${root}`;
  if (path.includes("\0")) throw new UsageError(`${JSON.stringify(path)}: a path cannot contain a NUL byte`);
  if (path.length > PATH_MAX) throw new LimitError(`${where}: path longer than PATH_MAX (${PATH_MAX})`);
  const base = trimSlashes(root);

  const rootStat = statRoot(root, where);
  const walked = walkInRoot<BigIntStats>(
    path,
    {
      root: () => rootStat,
      lstat: (components) => lstatIn(base, components, where),
      kind: (stat) => (stat.isDirectory() ? "directory" : stat.isSymbolicLink() ? "symlink" : "other"),
      readlink: (components) => readlinkIn(base, components, where),
    },
    where,
  );
  const canonical = walked.components;
  const final = walked.entry;
  const containerPath = containerPathOf(canonical);
  checkType(final, expect, where, containerPath);
  return {
    containerPath,
    hostPath: hostPathOf(base, canonical),
    identity: { dev: final.dev, ino: final.ino, size: final.size, mtimeNs: final.mtimeNs },
  };
}

function checkType(stat: BigIntStats, expect: ExpectedType, where: string, containerPath: string): void {
  if (expect === "file" && !stat.isFile()) {
    const what = stat.isDirectory() ? "a directory" : "not a regular file";
    throw new IoError(`${where}: ${containerPath} is ${what}, expected a regular file`, stat.isDirectory() ? "EISDIR" : "EINVAL", [
      "name a file inside the container (an ELF executable or library)",
    ]);
  }
  if (expect === "directory" && !stat.isDirectory()) {
    throw new IoError(`${where}: ${containerPath} is not a directory`, "ENOTDIR");
  }
}

/** The root itself is followed (it is `/proc/<pid>/root`, a magic link the kernel resolves to the container's root). */
function statRoot(root: string, where: string): BigIntStats {
  let stat: BigIntStats;
  try {
    stat = statSync(root, { bigint: true });
  } catch (error) {
    throw osError(error, where, "/", root);
  }
  if (!stat.isDirectory()) throw new IoError(`${where}: the root ${root} is not a directory`, "ENOTDIR");
  return stat;
}

function lstatIn(base: string, components: readonly string[], where: string): BigIntStats {
  const host = hostPathOf(base, components);
  try {
    return lstatSync(host, { bigint: true });
  } catch (error) {
    throw osError(error, where, containerPathOf(components), host);
  }
}

function readlinkIn(base: string, components: readonly string[], where: string): string {
  const host = hostPathOf(base, components);
  let target: string;
  try {
    target = readlinkSync(host);
  } catch (error) {
    throw osError(error, where, containerPathOf(components), host);
  }
  return target;
}

function osError(error: unknown, where: string, containerPath: string, host: string): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT": {
      const slash = containerPath.lastIndexOf("/");
      const parent = slash <= 0 ? "/" : containerPath.slice(0, slash);
      const component = containerPath.slice(slash + 1);
      return new NotFoundError(`${where}: ${JSON.stringify(component)} not found in ${parent} (looking for ${containerPath})`, [
        `list ${host.slice(0, host.length - component.length - 1) || "/"} to see what the container has there`,
      ]);
    }
    case "EACCES":
    case "EPERM":
      return new IoError(`${where}: permission denied at ${containerPath}`, code, [
        "run as root: reading /proc/<pid>/root needs ptrace access to the process (CAP_SYS_PTRACE) and search permission on every directory",
      ]);
    case "ELOOP":
      return new LimitError(`${where}: too many levels of symbolic links at ${containerPath}`);
    case "ENOTDIR":
      return new IoError(`${where}: a component of ${containerPath} is not a directory`, code);
    default:
      return new IoError(`${where}: ${containerPath}: ${error instanceof Error ? error.message : String(error)}`, code);
  }
}

function hostPathOf(base: string, components: readonly string[]): string {
  return components.length === 0 ? base || "/" : `${base}/${components.join("/")}`;
}

/** `/proc/1/root/` → `/proc/1/root`; `/` → `` (so that joining gives `/usr`, not `//usr`). */
function trimSlashes(root: string): string {
  let end = root.length;
  while (end > 0 && root[end - 1] === "/") end -= 1;
  return root.slice(0, end);
}
