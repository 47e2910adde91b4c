/**
 * The in-root path walk, over any filesystem that can `lstat` and
 * `readlink` by components: a container's root through `/proc/<pid>/root`
 * (resolve.ts) or the merged layers of an image that was never extracted
 * (src/image/tree.ts). Both need the same rules (PITFALLS 15), so they
 * share this one walk:
 *
 * - each component is looked up under the canonical path walked so far,
 *   every earlier component of which is a real directory;
 * - an absolute symlink target restarts the walk at the root, never at the
 *   host's `/`; a relative one is spliced in where the link was;
 * - `..` at the root stays at the root (clamped, as `RESOLVE_IN_ROOT` does);
 * - `.` and empty components are skipped, but, as in the kernel, only after
 *   a directory (`file/.` and `file/` are ENOTDIR);
 * - at most {@link MAXSYMLINKS} symlinks are followed (the kernel's
 *   `MAXSYMLINKS`, include/linux/namei.h).
 *
 * Pure: the filesystem is injected, so this module touches nothing itself.
 */
import { IoError, LimitError, NotFoundError } from "../errors.js";

/** Symlinks followed before giving up; the kernel's `MAXSYMLINKS` (include/linux/namei.h). */
export const MAXSYMLINKS = 40;

/** What the walk needs of a filesystem; `E` is whatever it knows about one entry. */
export interface WalkFs<E> {
  /** The root directory's entry. */
  root(): E;
  /** The entry at `components` (whose parent is a directory), without following a final symlink; throws when absent. */
  lstat(components: readonly string[]): E;
  /** What kind of entry `entry` is. */
  kind(entry: E): "directory" | "symlink" | "other";
  /** The target of the symlink at `components`. */
  readlink(components: readonly string[]): string;
}

/** Where a walk ended: the canonical components and the final entry. */
export interface WalkResult<E> {
  /** Canonical components, no symlinks, `.` or `..`; empty for the root. */
  readonly components: readonly string[];
  readonly entry: E;
}

/**
 * Walks `path` inside `fs`'s root; `where` names the walk in messages
 * (`/usr/lib/libc.so.6 in /proc/1/root`).
 *
 * @throws IoError (ENOTDIR) when a component that must be a directory is not,
 *   LimitError after {@link MAXSYMLINKS} symlinks, NotFoundError for an empty
 *   symlink target, and whatever `fs.lstat` throws for a missing component.
 */
export function walkInRoot<E>(path: string, fs: WalkFs<E>, where: string): WalkResult<E> {
  const rootEntry = fs.root();
  /** Components still to walk, next one last (so `pop` takes it). */
  const pending = path.split("/").reverse();
  const canonical: string[] = [];
  const entries: E[] = [];
  let links = 0;

  for (let component = pending.pop(); component !== undefined; component = pending.pop()) {
    const current = entries.at(-1) ?? rootEntry;
    if (fs.kind(current) !== "directory") {
      const at = containerPathOf(canonical);
      throw new IoError(`${where}: ${at} is not a directory`, "ENOTDIR", [`${at} is a file in the container; check the path`]);
    }
    if (component === "" || component === ".") continue;
    if (component === "..") {
      // Clamped at the root, as RESOLVE_IN_ROOT and chroot do: /../../etc is /etc.
      canonical.pop();
      entries.pop();
      continue;
    }
    const candidate = [...canonical, component];
    const entry = fs.lstat(candidate);
    if (fs.kind(entry) !== "symlink") {
      canonical.push(component);
      entries.push(entry);
      continue;
    }
    links += 1;
    if (links > MAXSYMLINKS) {
      throw new LimitError(`${where}: more than ${MAXSYMLINKS} symbolic links followed, the last at ${containerPathOf(candidate)} (a symlink loop?)`);
    }
    const target = fs.readlink(candidate);
    // Linux refuses empty symlink targets (ENOENT since 2.6.x); treat one as missing rather than as ".".
    if (target === "") throw new NotFoundError(`${where}: ${containerPathOf(candidate)} is a symlink with an empty target`);
    // An absolute target means the *container's* root: restart there, never at the host's /.
    if (target.startsWith("/")) {
      canonical.length = 0;
      entries.length = 0;
    }
    pending.push(...target.split("/").reverse());
  }
  return { components: canonical, entry: entries.at(-1) ?? rootEntry };
}

/** `["usr", "lib"]` → `/usr/lib`. */
export function containerPathOf(components: readonly string[]): string {
  return `/${components.join("/")}`;
}
