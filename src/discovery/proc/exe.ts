/**
 * `/proc/<pid>/exe`: the main executable of a process.
 *
 * The link's text is the file's path as `d_path` prints it, with
 * ` (deleted)` appended when the file was unlinked (or replaced, as a
 * package upgrade does). It is a path in the *process's* mount namespace,
 * for display and for matching against its maps; never open it on the host
 * (PITFALLS 16). To open the file itself, open `/proc/<pid>/exe`, which
 * works whatever became of the name (PITFALLS 18).
 */
import { NotFoundError } from "../../errors.js";
import { DEFAULT_PROC_ROOT, procPath, readProcLink, type ProcPid } from "./read.js";

/** The main executable of a process. */
export interface ExePath {
  /** The path with any ` (deleted)` suffix removed: a hint, in the process's mount namespace. */
  readonly path: string;
  /** True when the kernel marked the file deleted (a file literally named `x (deleted)` reads alike; compare inodes to be sure). */
  readonly deleted: boolean;
  /** `/proc/<pid>/exe`: what to open to read the executable itself. */
  readonly openPath: string;
}

const DELETED = " (deleted)";

/**
 * Reads `/proc/<pid>/exe`.
 *
 * @throws NotFoundError when the process does not exist, or is a kernel thread (no executable).
 * @throws IoError when the kernel refuses (EACCES: run as root).
 */
export function exePath(pid: ProcPid, procRoot: string = DEFAULT_PROC_ROOT): ExePath {
  let text: string;
  try {
    text = readProcLink(pid, "exe", procRoot);
  } catch (error) {
    // The process exists (else NotFoundError already) but has no exe link: a kernel thread or a zombie.
    if ((error as { errno?: string }).errno === "ENOENT") {
      throw new NotFoundError(`process ${pid} has no executable (a kernel thread or a zombie)`, ["probe a user-space process"]);
    }
    throw error;
  }
  const deleted = text.endsWith(DELETED);
  return { path: deleted ? text.slice(0, -DELETED.length) : text, deleted, openPath: procPath(pid, "exe", procRoot) };
}
