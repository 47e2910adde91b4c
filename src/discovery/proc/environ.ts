/**
 * `/proc/<pid>/environ`: the environment a process was started with, for
 * resolving libraries the way its loader would (`LD_LIBRARY_PATH`,
 * PITFALLS 23).
 *
 * The file is the initial environment block, `NAME=value` strings each
 * ended by a NUL. It is what the loader saw at startup: later `setenv` calls
 * do not show here, which is exactly what library resolution wants. A
 * process may overwrite the block (setproctitle does), so the last string
 * may lack its NUL and strings may lack `=`.
 */
import { LimitError } from "../../errors.js";
import { DEFAULT_PROC_ROOT, readProcFile, type ProcPid, type ProcReadOptions } from "./read.js";

/** Default cap on variables: Linux bounds the block at a quarter of the stack limit, a few hundred thousand short strings at most. */
export const DEFAULT_MAX_ENV_ENTRIES = 65_536;

/** Caps for {@link parseEnviron}. */
export interface ParseEnvironOptions {
  /** Name used in error messages (the reader passes the path). */
  source?: string;
  /** Refuse blocks with more strings than this (default {@link DEFAULT_MAX_ENV_ENTRIES}). */
  maxEntries?: number;
}

/**
 * Parses an environment block into a map. Where a name repeats, the first
 * wins, as glibc's `getenv` and the loader's `_dl_next_ld_env_entry` scan do.
 * Strings without `=` are skipped. Bytes are decoded as UTF-8 (invalid
 * sequences become U+FFFD).
 *
 * @throws LimitError when the block has more than `maxEntries` strings.
 */
export function parseEnviron(buffer: Uint8Array, options: ParseEnvironOptions = {}): Map<string, string> {
  const source = options.source ?? "environ";
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENV_ENTRIES;
  const decoder = new TextDecoder("utf-8");
  const env = new Map<string, string>();
  let count = 0;
  let start = 0;
  while (start < buffer.length) {
    let end = buffer.indexOf(0, start);
    if (end === -1) end = buffer.length;
    if (end > start) {
      if (++count > maxEntries) {
        throw new LimitError(`${source}: more than ${maxEntries} environment strings; refusing to parse further`);
      }
      const text = decoder.decode(buffer.subarray(start, end));
      const eq = text.indexOf("=");
      if (eq > 0) {
        const name = text.slice(0, eq);
        if (!env.has(name)) env.set(name, text.slice(eq + 1));
      }
    }
    start = end + 1;
  }
  return env;
}

/**
 * Reads and parses `/proc/<pid>/environ` (capped at 4 MiB by default).
 *
 * @throws NotFoundError when the process does not exist; IoError (EACCES: run as root), LimitError.
 */
export function readEnviron(pid: ProcPid, options: ProcReadOptions & { maxEntries?: number } = {}): Map<string, string> {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const buffer = readProcFile(pid, "environ", options);
  return parseEnviron(buffer, { source: `${procRoot}/${pid}/environ`, ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }) });
}
