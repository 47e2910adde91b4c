/**
 * `/proc/<pid>/status`: who a process is, and what it is called in each pid
 * namespace (PITFALLS 22).
 *
 * The file is `Key:\tvalue` lines (fs/proc/array.c). We keep every line raw
 * in `fields` and decode the few probec needs. `NSpid` lists the pid in every
 * pid namespace from the one procfs was mounted in (outermost, equal to
 * `Pid`) down to the process's own: for a process in a container seen from
 * the host, `NSpid: 4321 1`. Kernels before 4.1 lack the NS* lines.
 */
import { FormatError } from "../../errors.js";
import { DEFAULT_PROC_ROOT, readProcText, splitLines, type ProcPid, type ProcReadOptions } from "./read.js";

/** Lines in a status file are about 60; this cap only stops hostile or corrupt input. */
export const MAX_STATUS_LINES = 4096;

/** The decoded parts of `/proc/<pid>/status`. */
export interface ProcStatus {
  /** `Name`: the command name (at most 15 bytes for user tasks), with the kernel's `\n` and `\\` escapes undone. */
  readonly name: string;
  /** `Tgid`: the thread-group id, i.e. the process id, in the namespace procfs was mounted in. */
  readonly tgid: number;
  /** `Pid`: this thread's id (equal to `tgid` for a main thread). */
  readonly pid: number;
  /** `PPid`: the parent's process id, 0 when the parent is outside procfs's pid namespace. */
  readonly ppid: number;
  /** `Uid`: real, effective, saved and filesystem user ids. */
  readonly uid: { readonly real: number; readonly effective: number; readonly saved: number; readonly fs: number };
  /** `Gid`, in the same order as `uid`, or undefined when the line is missing. */
  readonly gid: { readonly real: number; readonly effective: number; readonly saved: number; readonly fs: number } | undefined;
  /** `NSpid`: this thread's id in each nested pid namespace, outermost first; undefined before Linux 4.1. */
  readonly nsPid: readonly number[] | undefined;
  /** `NStgid`: the process id in each nested pid namespace, outermost first; undefined before Linux 4.1. */
  readonly nsTgid: readonly number[] | undefined;
  /** Every `Key: value` line, value with surrounding whitespace trimmed, first occurrence kept. */
  readonly fields: ReadonlyMap<string, string>;
}

/**
 * Parses the text of a status file.
 *
 * @param source the name used in error messages (the reader passes the path).
 * @throws FormatError when a required line (Name, Tgid, Pid, PPid, Uid) is missing or not numeric.
 * @throws LimitError when there are more than {@link MAX_STATUS_LINES} lines.
 */
export function parseStatus(text: string, source = "status"): ProcStatus {
  const fields = new Map<string, string>();
  let offset = 0;
  const offsets = new Map<string, number>();
  for (const line of splitLines(text, MAX_STATUS_LINES, source, "lines")) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      const key = line.slice(0, colon);
      if (!fields.has(key)) {
        // Name keeps its inner spacing: only the tab after the colon is separator.
        fields.set(key, key === "Name" ? line.slice(colon + 1).replace(/^\t/, "") : line.slice(colon + 1).trim());
        offsets.set(key, offset);
      }
    }
    offset += line.length + 1;
  }

  const required = (key: string): string => {
    const value = fields.get(key);
    if (value === undefined) throw new FormatError(`${source}: no "${key}:" line; this is not a /proc/<pid>/status file`, 0, undefined, false);
    return value;
  };
  const numbers = (key: string, value: string): number[] => {
    const parts = value === "" ? [] : value.split(/\s+/);
    return parts.map((part) => {
      if (!/^\d{1,15}$/.test(part)) throw new FormatError(`${source}: "${key}:" holds a non-numeric value`, offsets.get(key) ?? 0, part);
      return Number(part);
    });
  };
  const single = (key: string): number => {
    const parts = numbers(key, required(key));
    if (parts.length !== 1) throw new FormatError(`${source}: "${key}:" should hold one number`, offsets.get(key) ?? 0, required(key));
    return parts[0] as number;
  };
  const ids = (key: string) => {
    const value = fields.get(key);
    if (value === undefined) return undefined;
    const parts = numbers(key, value);
    if (parts.length !== 4) throw new FormatError(`${source}: "${key}:" should hold four ids (real, effective, saved, fs)`, offsets.get(key) ?? 0, value);
    const [real, effective, saved, fs] = parts as [number, number, number, number];
    return { real, effective, saved, fs };
  };
  const chain = (key: string): number[] | undefined => {
    const value = fields.get(key);
    if (value === undefined) return undefined;
    const parts = numbers(key, value);
    if (parts.length === 0) throw new FormatError(`${source}: "${key}:" is empty`, offsets.get(key) ?? 0);
    return parts;
  };

  // Checked in the order the kernel prints them, so the error names the first missing line.
  const name = unescapeTaskName(required("Name"));
  const tgid = single("Tgid");
  const pid = single("Pid");
  const ppid = single("PPid");
  required("Uid");
  const uid = ids("Uid") as NonNullable<ReturnType<typeof ids>>;
  return {
    name,
    tgid,
    pid,
    ppid,
    uid,
    gid: ids("Gid"),
    nsPid: chain("NSpid"),
    nsTgid: chain("NStgid"),
    fields,
  };
}

/**
 * Reads and parses `/proc/<pid>/status`.
 *
 * @throws NotFoundError when the process does not exist; IoError/LimitError/FormatError as their names say.
 */
export function readStatus(pid: ProcPid, procRoot: string = DEFAULT_PROC_ROOT, options: Omit<ProcReadOptions, "procRoot"> = {}): ProcStatus {
  const text = readProcText(pid, "status", { ...options, procRoot });
  return parseStatus(text, `${procRoot}/${pid}/status`);
}

/**
 * Undoes `proc_task_name`'s escaping: the kernel escapes only newline and
 * backslash in `Name` (`seq_escape_str(…, ESCAPE_SPACE | ESCAPE_SPECIAL,
 * "\n\\")`, fs/proc/array.c), as `\n` and `\\`. The other C escapes are
 * undone too in case an older kernel escaped more.
 */
function unescapeTaskName(text: string): string {
  const table: Record<string, string> = { n: "\n", t: "\t", r: "\r", f: "\f", v: "\v", a: "\x07", e: "\x1b", "\\": "\\", '"': '"' };
  return text.replace(/\\(.)/g, (whole, c: string) => table[c] ?? whole);
}
