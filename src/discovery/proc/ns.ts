/**
 * `/proc/<pid>/ns/<kind>`: the identity of a process's namespaces.
 *
 * Each entry is a magic link whose text is `<type>:[<inode>]`, e.g.
 * `mnt:[4026531840]`; the inode (also `stat().ino` of the link's target) is
 * the namespace's identity, what the AttachPlan records and what the
 * attacher checks before `setns`. Two processes are in the same namespace
 * exactly when the inodes are equal (on one host: the device is nsfs's).
 */
import { FormatError } from "../../errors.js";
import { DEFAULT_PROC_ROOT, readProcLink, type ProcPid } from "./read.js";

/** The entries of `/proc/<pid>/ns/`. */
export type NamespaceKind = "cgroup" | "ipc" | "mnt" | "net" | "pid" | "pid_for_children" | "time" | "time_for_children" | "user" | "uts";

/**
 * Parses the text of a namespace link. The `*_for_children` entries print
 * the plain type (`pid_for_children` → `pid:[…]`), so that is what is
 * expected of them.
 *
 * @throws FormatError when the text is not `<type>:[<decimal inode>]` for `kind`.
 */
export function parseNamespaceLink(text: string, kind: NamespaceKind, source = `ns/${kind}`): number {
  const type = kind.replace(/_for_children$/, "");
  const match = /^([a-z_]+):\[(\d{1,10})\]$/.exec(text);
  if (match === null || match[1] !== type) {
    throw new FormatError(`${source}: expected "${type}:[<inode>]"`, 0, text, false);
  }
  // Namespace inodes are proc inode numbers, 32-bit (ns_common.inum is unsigned int), so a number is exact.
  return Number(match[2]);
}

/**
 * The inode of `/proc/<pid>/ns/<kind>`, e.g. 4026531840 for `mnt:[4026531840]`;
 * equal to `fs.statSync("/proc/<pid>/ns/<kind>").ino`.
 *
 * @throws NotFoundError when the process does not exist; IoError when the
 * kernel lacks that namespace type (ENOENT: `time` needs Linux 5.6) or refuses (EACCES: run as root).
 */
export function namespaceInode(pid: ProcPid, kind: NamespaceKind, procRoot: string = DEFAULT_PROC_ROOT): number {
  return parseNamespaceLink(readProcLink(pid, `ns/${kind}`, procRoot), kind, `${procRoot}/${pid}/ns/${kind}`);
}
