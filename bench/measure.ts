/**
 * Measuring helpers shared by the bench entry and its child script.
 *
 * Three kinds of measurement, one shape ({@link Sample}):
 * - in this process: {@link startMark} / {@link sinceMark} around a call,
 *   peak RSS from `VmHWM` after resetting it (`/proc/self/clear_refs` "5",
 *   Linux 4.0+), bytes read from `/proc/self/io` `rchar`;
 * - in a fresh Node process: {@link runChild} runs `child.js` and parses
 *   the JSON lines it prints;
 * - a whole peer process: {@link runPeer} runs `spawn-stats.py`, which
 *   reads each child's `ru_maxrss` (wait4) and `/proc/<pid>/io` `rchar`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** One measured run of one tool. `undefined` means "not measurable", explained in the row's note. */
export interface Sample {
  /** Wall time in milliseconds; NaN for a memory-only run (see `warm` in child.ts). */
  readonly ms: number;
  /** Peak RSS above the RSS just before the run, in bytes. */
  readonly peakRssGrowth: number | undefined;
  /** Bytes the tool read from files (how: see the row's `bytesHow`). */
  readonly bytesRead: number | undefined;
}

// ---------------------------------------------------------------- in process

/** `/proc/self/status` field in bytes (`VmRSS`, `VmHWM`). */
export function procStatus(field: "VmRSS" | "VmHWM"): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/self/status", "utf8"));
  return match === null ? NaN : Number(match[1]) * 1024;
}

/** `rchar` of `/proc/self/io`: bytes returned by every read(2)/pread(2) so far (page-cache hits included). */
export function procRchar(): number {
  const match = /^rchar:\s+(\d+)/m.exec(readFileSync("/proc/self/io", "utf8"));
  return match === null ? NaN : Number(match[1]);
}

/** State captured just before a measured call. */
export interface Mark {
  /** RSS just before the call, or undefined for a timing-only mark. */
  readonly rss: number | undefined;
  readonly rchar: number;
  readonly start: number;
}

/**
 * Collects garbage (with `--expose-gc`), resets the peak-RSS watermark to
 * the current RSS, and starts the clock last so that none of this is timed.
 */
export function startMark(options: { timingOnly?: boolean } = {}): Mark {
  // A timing-only mark leaves the heap as the previous run left it: a full GC
  // before a 1 ms call would make it pay to fault the young generation back in.
  if (options.timingOnly === true) return { rss: undefined, rchar: procRchar(), start: performance.now() };
  (globalThis as { gc?: () => void }).gc?.();
  writeFileSync("/proc/self/clear_refs", "5"); // "5": reset VmHWM to VmRSS (proc(5)).
  const rss = procStatus("VmRSS");
  const rchar = procRchar();
  return { rss, rchar, start: performance.now() };
}

/** Stops the clock first, then reads the peak RSS and the bytes read since `mark`. */
export function sinceMark(mark: Mark): { ms: number; peakRssGrowth: number | undefined; rchar: number } {
  const ms = performance.now() - mark.start;
  const rcharNow = procRchar();
  // The kernel's RSS counters are per-CPU and approximate (a few hundred KiB), so a run that frees memory can read as
  // slightly negative growth: clamp to 0.
  const peakRssGrowth = mark.rss === undefined ? undefined : Math.max(0, procStatus("VmHWM") - mark.rss);
  return { ms, peakRssGrowth, rchar: rcharNow - mark.rchar };
}

// ---------------------------------------------------------------- fresh Node processes

const CHILD = fileURLToPath(new URL("./child.js", import.meta.url));

/** What {@link runChild} returns: the JSON lines the child printed, and why it stopped early if it did. */
export interface ChildResult {
  readonly lines: Record<string, unknown>[];
  readonly failure: string | undefined;
}

/** Runs `node --expose-gc child.js <mode> <json>` with a timeout; never throws. */
export function runChild(mode: string, args: object, timeoutMs: number): ChildResult {
  const r = spawnSync(process.execPath, ["--expose-gc", CHILD, mode, JSON.stringify(args)], { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
  const lines = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  let failure: string | undefined;
  if (r.error !== undefined) failure = (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT" ? `timed out after ${timeoutMs / 1000} s` : r.error.message;
  else if (r.status !== 0) failure = `exited with ${r.status ?? r.signal}: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`;
  return { lines, failure };
}

// ---------------------------------------------------------------- whole peer processes

const SPAWN_STATS = fileURLToPath(new URL("../../bench/spawn-stats.py", import.meta.url));
/** The Debian python3 that bootstrap installs; a pyenv shim on PATH would work too, only slower to start. */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** How to run a peer: a pipeline of argv arrays, and how many runs. */
export interface PeerSpec {
  readonly stages: readonly (readonly string[])[];
  /** Keep the last stage's output (small outputs only) to check the answer. */
  readonly capture?: boolean;
  readonly warmup: number;
  readonly runs: number;
  /** Stop starting runs after this many seconds (at least one run is made). */
  readonly budgetS: number;
  readonly timeoutS: number;
}

/** What {@link runPeer} returns; `failure` says why there are no samples. */
export interface PeerResult {
  readonly samples: Sample[];
  readonly output: string | undefined;
  readonly failure: string | undefined;
}

/**
 * Runs a peer hyperfine-style through `spawn-stats.py`. Peak RSS is the
 * largest `ru_maxrss` of the pipeline's processes (a fresh process grows
 * from zero, so this is its growth); bytes read are the first stage's
 * `rchar` (later stages read a pipe, not the file).
 */
export function runPeer(spec: PeerSpec): PeerResult {
  const { stages, capture = false, warmup, runs, budgetS, timeoutS } = spec;
  const json = JSON.stringify({ stages, stdout: capture ? "capture" : "null", warmup, runs, budgetS, timeoutS });
  const r = spawnSync(PYTHON, [SPAWN_STATS, json], { encoding: "utf8", maxBuffer: 256 << 20 });
  if (r.status !== 0)
    return { samples: [], output: undefined, failure: `spawn-stats.py failed: ${(r.stderr || String(r.error)).trim().split("\n").slice(-1)[0]}` };
  const parsed = JSON.parse(r.stdout) as {
    runs: { wallMs: number; maxRssKiB: number; rchar: (number | null)[]; status: number[] }[];
    timedOut: boolean;
    output: string | null;
  };
  // A final `grep` exits 1 when nothing matched: that is a wrong answer, which the caller's check reports, not a failed run.
  const isGrep = (i: number): boolean => i === stages.length - 1 && stages[i]?.[0] === "grep";
  const bad = parsed.runs.find((run) => run.status.some((s, i) => s !== 0 && !(isGrep(i) && s === 1)));
  const samples = parsed.runs.map((run) => ({ ms: run.wallMs, peakRssGrowth: run.maxRssKiB * 1024, bytesRead: run.rchar[0] ?? undefined }));
  let failure: string | undefined;
  if (parsed.timedOut) failure = `timed out after ${timeoutS} s`;
  else if (bad !== undefined) failure = `exit status ${bad.status.join("|")}`;
  return { samples: failure === undefined ? samples : [], output: parsed.output ?? undefined, failure };
}

/** The absolute path of `command` on PATH, or undefined when it is not installed. */
export function which(command: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

// ---------------------------------------------------------------- statistics

/** The `q`-quantile (0..1) by nearest rank, or NaN for no values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

/** Median of the defined values, or undefined when none is defined. */
export function medianOf(values: readonly (number | undefined)[]): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  return defined.length === 0 ? undefined : quantile(defined, 0.5);
}
