/**
 * The one way `discovery/proc/` touches `/proc/<pid>/…`: bounded reads of
 * pseudo-files and links, with errors that name the path and say the fix.
 *
 * Why a loop of reads: `/proc` files report `st_size` 0 and are generated as
 * they are read (seq_file), so "stat, then read that many bytes" reads
 * nothing. Why a cap: the files describe another, possibly hostile, process
 * (a process can create hundreds of thousands of mappings or mounts), and
 * probec may run as root (PITFALLS 24).
 *
 * Consistency: a seq_file is regenerated chunk by chunk across `read(2)`
 * calls, so a process that changes its mappings while we read may produce a
 * file that is not one snapshot. Large reads make that rarer; callers that
 * need certainty re-check what they found (by inode through `map_files`).
 */
import { closeSync, openSync, readSync, readlinkSync, statSync, constants as fsConstants } from "node:fs";
import { IoError, LimitError, NotFoundError, UsageError } from "../../errors.js";
import { ioErrorFor } from "../../io/file-source.js";

/** Where procfs is mounted unless a caller says otherwise (tests pass a fixture tree). */
export const DEFAULT_PROC_ROOT = "/proc";

/** Default byte cap for one `/proc` file: far above any sane status/environ/cgroup file. */
export const DEFAULT_MAX_PROC_BYTES = 4 * 1024 * 1024;

/** A process id as `/proc` names it: a positive integer, or `"self"` for the caller. */
export type ProcPid = number | "self";

/** Options shared by every reader in `discovery/proc/`. */
export interface ProcReadOptions {
  /** Where procfs is mounted (default `/proc`); tests point this at a fixture tree. */
  procRoot?: string;
  /** Refuse files larger than this many bytes with a {@link LimitError}. */
  maxBytes?: number;
}

/** Checks `pid` and returns `<procRoot>/<pid>/<file>`; a bad pid is the caller's mistake, not the OS's. */
export function procPath(pid: ProcPid, file: string, procRoot: string = DEFAULT_PROC_ROOT): string {
  if (pid !== "self" && !(Number.isSafeInteger(pid) && pid > 0)) {
    throw new UsageError(`invalid process id ${JSON.stringify(pid)}: expected a positive integer`);
  }
  return `${procRoot}/${pid}/${file}`;
}

/**
 * Reads all of `/proc/<pid>/<file>` as bytes, in a loop of reads, refusing
 * more than `maxBytes`.
 *
 * @throws NotFoundError when the process does not exist (or exited meanwhile).
 * @throws IoError for any other refusal, naming the path (EACCES says to run as root).
 * @throws LimitError when the file is larger than `maxBytes`.
 */
export function readProcFile(pid: ProcPid, file: string, options: ProcReadOptions = {}): Buffer {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PROC_BYTES;
  const path = procPath(pid, file, procRoot);
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOCTTY);
  } catch (error) {
    throw procErrorFor(pid, path, error, procRoot);
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    // 64 KiB per read: big enough that a seq_file rarely splits a snapshot, small enough to not waste memory on tiny files.
    const chunkSize = Math.min(64 * 1024, maxBytes + 1);
    for (;;) {
      const chunk = Buffer.allocUnsafe(chunkSize);
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunkSize, null);
      } catch (error) {
        throw procErrorFor(pid, path, error, procRoot);
      }
      if (n === 0) break;
      total += n;
      if (total > maxBytes) {
        throw new LimitError(
          `${path}: larger than the limit of ${maxBytes} bytes; refusing to read it (raise maxBytes if this process is legitimately that large)`,
        );
      }
      chunks.push(n === chunkSize ? chunk : chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** {@link readProcFile} decoded as UTF-8 (invalid sequences become U+FFFD; paths that need exact bytes go through `map_files`). */
export function readProcText(pid: ProcPid, file: string, options: ProcReadOptions = {}): string {
  return readProcFile(pid, file, options).toString("utf8");
}

/** Reads the symbolic link `/proc/<pid>/<file>` (`exe`, `ns/mnt`, `map_files/…`), with the same error mapping as {@link readProcFile}. */
export function readProcLink(pid: ProcPid, file: string, procRoot: string = DEFAULT_PROC_ROOT): string {
  const path = procPath(pid, file, procRoot);
  try {
    return readlinkSync(path);
  } catch (error) {
    throw procErrorFor(pid, path, error, procRoot);
  }
}

/**
 * The error to throw for an fs failure on `path` inside `/proc/<pid>/`.
 *
 * ENOENT is ambiguous: the process may be gone, or just this file (a kernel
 * thread has no `exe`). We stat `/proc/<pid>` to tell which. ESRCH is what
 * some files return when the process exits between open and read.
 */
export function procErrorFor(pid: ProcPid, path: string, error: unknown, procRoot: string = DEFAULT_PROC_ROOT): IoError | NotFoundError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ESRCH" || (code === "ENOENT" && !processExists(pid, procRoot))) {
    return new NotFoundError(`process ${pid} does not exist (it may have exited)`, [
      "check the pid, or name the target by container so probec finds its current processes",
    ]);
  }
  if (code === "EACCES" || code === "EPERM") {
    return new IoError(`${path}: permission denied`, code, ["run as root (reading another process's /proc files needs CAP_SYS_PTRACE)"]);
  }
  return ioErrorFor(path, error);
}

/** True for the refusal {@link procErrorFor} makes of EACCES/EPERM: the process is there, its /proc entries are not ours to read. */
export function isPermissionRefusal(error: unknown): error is IoError {
  return error instanceof IoError && (error.errno === "EACCES" || error.errno === "EPERM");
}

function processExists(pid: ProcPid, procRoot: string): boolean {
  try {
    return statSync(`${procRoot}/${pid}`).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Splits text into lines, refusing more than `maxLines`. A trailing newline
 * does not make an extra empty line. Shared by the line-oriented parsers so
 * the cap is counted before any per-line work is done.
 */
export function splitLines(text: string, maxLines: number, source: string, what: string): string[] {
  const lines: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    if (lines.length >= maxLines) {
      throw new LimitError(`${source}: more than ${maxLines} ${what}; refusing to parse further (raise maxLines if this process is legitimately that large)`);
    }
    lines.push(text.slice(start, end));
    start = end + 1;
  }
  return lines;
}
