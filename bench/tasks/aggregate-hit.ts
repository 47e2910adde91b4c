/**
 * Tasks (p) and (q): the per-hit cost of a probe that aggregates in the
 * kernel (issue 15, "Speed": probec / bpftrace ≤ 1.0), beside bpftrace
 * doing the same on the same loop in the same run.
 *
 * - (p) `hist(latency)` on `uprobe+ret` beside bpftrace's
 *   `uprobe:…{ @s[tid] = nsecs } uretprobe:…{ @ = hist(nsecs - @s[tid]) }`;
 * - (q) `count by ustack` beside bpftrace's `@[ustack] = count()`.
 *
 * `aggregate-loop.c` calls a noinline function {@link HITS} times through
 * five frames (built with frame pointers, so both tracers' kernel stack
 * walks see the same stack) and prints the loop's own time. It runs bare,
 * under probec and under bpftrace, {@link REPS} runs each, alternating
 * over {@link ROUNDS} rounds so that a change in the machine's load falls
 * on all three; each tracer is attached before and detached after its
 * runs. Per-hit cost = (median traced − median bare) / hits. Both tracers
 * keep everything in the kernel and print once at the end, so the notes
 * give what each counted (all hits, or how many it missed), read from
 * probec's final report and from bpftrace's printed map.
 *
 * The notes also give each tracer's BPF programs' own time per call: the
 * kernel's run_time_ns / run_cnt of every program the tracer's process
 * holds (/proc/<pid>/fdinfo), counted during the traced runs with
 * kernel.bpf_stats_enabled set for the task (and put back after). That
 * figure leaves out the uprobe trap both tracers share, so it compares the
 * two programs more precisely than loop timings on a loaded machine; the
 * counting itself adds two clock reads per program run, to both.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { attach, type AggregateSnapshot, type AttachPlan, type Attachment } from "../../src/index.js";
import { quantile } from "../measure.js";
import { printTask, type Row } from "../table.js";
import { compileTimed, drain, lastLines, messageOf, printSkipped, printTarget, runToEnd, withTempDir } from "./attach-support.js";

/** Calls per run: a uprobe+ret hit costs 2–8 µs here, so one traced run takes 1–4 s. */
const HITS = 500_000;
const REPS = 2;
/** Four rounds: with two, one loaded round moved the ratio by ±7% between runs of the bench (1.07× and 0.94× for (q) on one day). */
const ROUNDS = 4;
/** The probed function. */
const FUNCTION = "probec_bench_agg";
const SOURCE = fileURLToPath(new URL("../../../bench/tasks/aggregate-loop.c", import.meta.url));

/** One of the two comparisons. */
interface Variant {
  readonly title: string;
  readonly probecLabel: string;
  readonly bpftraceLabel: string;
  readonly probec: (binary: string) => string;
  readonly bpftrace: (binary: string) => string;
  /** What bpftrace's printed maps say it counted. */
  readonly bpftraceCounted: (stdout: string) => number;
}

const VARIANTS: Record<"p" | "q", Variant> = {
  p: {
    title: `(p) per-hit cost of hist(latency) on uprobe+ret, ${HITS.toLocaleString("en")} calls in a tight loop`,
    probecLabel: "aggregate-loop + probec (uprobe+ret, hist(latency))",
    bpftraceLabel: "aggregate-loop + bpftrace (uprobe/uretprobe, hist(nsecs - @s[tid]))",
    probec: (binary) => `uprobe+ret host:${binary}:${FUNCTION} {\n  hist(latency)\n}\n`,
    bpftrace: (binary) =>
      `BEGIN { printf("ready\\n"); } uprobe:${binary}:${FUNCTION} { @s[tid] = nsecs; } uretprobe:${binary}:${FUNCTION} { @h = hist(nsecs - @s[tid]); }`,
    // Histogram lines: "[512, 1K)   343353 |@@@@   |" (also "(..., 0)", "[0]", "[1]").
    bpftraceCounted: (out) => sumMatches(out, /^[[(][^\])]*[\])]\s+(\d+)\s+\|/gm),
  },
  q: {
    title: `(q) per-hit cost of count by ustack, ${HITS.toLocaleString("en")} calls in a tight loop`,
    probecLabel: "aggregate-loop + probec (uprobe, count by ustack)",
    bpftraceLabel: "aggregate-loop + bpftrace (uprobe, @[ustack] = count())",
    probec: (binary) => `uprobe host:${binary}:${FUNCTION} {\n  count by ustack\n}\n`,
    bpftrace: (binary) => `BEGIN { printf("ready\\n"); } uprobe:${binary}:${FUNCTION} { @[ustack] = count(); }`,
    // Each map entry ends "]: 12345".
    bpftraceCounted: (out) => sumMatches(out, /^\]: (\d+)$/gm),
  },
};

function sumMatches(text: string, re: RegExp): number {
  let n = 0;
  for (const m of text.matchAll(re)) n += Number(m[1]);
  return n;
}

/** Builds aggregate-loop.c with frame pointers and no sibling calls (the stack walk needs both). */
function buildLoop(dir: string): string {
  const out = join(dir, "aggregate-loop");
  const r = spawnSync("gcc", ["-O2", "-g", "-Wall", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls", "-o", out, SOURCE], { encoding: "utf8" });
  if (r.error !== undefined) throw new Error(`gcc could not be run (${r.error.message}): install gcc`);
  if (r.status !== 0) throw new Error(`gcc aggregate-loop.c failed: ${r.stderr.trim().split("\n").slice(0, 3).join(" / ")}`);
  return out;
}

/** One run of the loop: its elapsed milliseconds. */
async function loop(binary: string): Promise<number> {
  const out = await runToEnd([binary, String(HITS)], 300_000);
  const [n, ns] = out.trim().split(/\s+/).map(Number);
  if (n !== HITS || ns === undefined || !Number.isFinite(ns)) throw new Error(`aggregate-loop printed "${out.trim()}"`);
  return ns / 1e6;
}

/**
 * bpftrace with its whole stdout kept (an aggregating program prints only
 * its maps, at exit): ready at its BEGIN line "ready", stopped with
 * SIGINT, after which it prints the maps.
 */
function startBpftraceKeepingOutput(
  program: string,
  timeoutMs: number,
): { pid: number | undefined; ready: Promise<boolean>; stop: () => Promise<string>; failure: () => string } {
  const child: ChildProcess = spawn("bpftrace", ["-e", program], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let why = "";
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  child.on("error", (error) => (why = `bpftrace could not be run: ${error.message} (install bpftrace: scripts/bootstrap.sh --bench)`));
  child.stderr?.on("data", (c: Buffer) => (err += c.toString()));
  const ready = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      why = `not ready after ${timeoutMs / 1000} s: stopped`;
      child.kill("SIGINT");
      resolve(false);
    }, timeoutMs);
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      if (/^ready$/m.test(out)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      if (why === "") why = `exited before it was ready: ${lastLines(err)}`;
      resolve(false);
    });
  });
  return {
    pid: child.pid,
    ready,
    failure: () => why,
    stop: async () => {
      child.kill("SIGINT");
      await exited;
      return out;
    },
  };
}

/** Nanoseconds and runs of the BPF programs process `pid` holds, as the kernel counts them (bpf_stats). */
interface BpfTime {
  ns: bigint;
  runs: bigint;
}

function bpfTimeOf(pid: number): BpfTime {
  const total = { ns: 0n, runs: 0n };
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return total;
  }
  for (const fd of fds) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    } catch {
      continue; // closed meanwhile
    }
    const ns = /^run_time_ns:\s+(\d+)$/m.exec(info);
    const runs = /^run_cnt:\s+(\d+)$/m.exec(info);
    if (ns === null || runs === null) continue;
    total.ns += BigInt(ns[1] as string);
    total.runs += BigInt(runs[1] as string);
  }
  return total;
}

/** The probec-attach child of this process (the attachment's helper). */
function helperPid(): number | undefined {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (stat.includes("(probec-attach)") && Number(fields[1]) === process.pid) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** One traced run of the loop, adding its BPF time (of the tracer `pid`) to `into`. */
async function tracedLoop(binary: string, pid: number | undefined, into: BpfTime): Promise<number> {
  const before = pid === undefined ? undefined : bpfTimeOf(pid);
  const ms = await loop(binary);
  if (pid !== undefined && before !== undefined) {
    const after = bpfTimeOf(pid);
    into.ns += after.ns - before.ns;
    into.runs += after.runs - before.runs;
  }
  return ms;
}

const BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled";

/** Turns the kernel's BPF run-time counting on for `work`, then back to what it was; without it (not root), no BPF times. */
async function withBpfStats<T>(work: () => Promise<T>): Promise<T> {
  let previous: string | undefined;
  try {
    previous = readFileSync(BPF_STATS, "utf8").trim();
    writeFileSync(BPF_STATS, "1");
  } catch {
    previous = undefined;
  }
  try {
    return await work();
  } finally {
    if (previous !== undefined) writeFileSync(BPF_STATS, previous);
  }
}

/** "BPF 0.52 µs per call (2 program runs)" from the time counted over `calls` calls; empty when nothing was counted. */
function bpfPerCall(t: BpfTime, calls: number): string {
  if (t.runs === 0n || calls === 0) return "";
  const perCall = Number(t.ns) / calls;
  const runsPerCall = Number(t.runs) / calls;
  return `; its BPF programs ${(perCall / 1000).toFixed(3)} µs per call (${runsPerCall.toFixed(1)} runs, run_time_ns)`;
}

/** Hits an aggregation report counted (every row's count) and dropped. */
function countedIn(snapshot: AggregateSnapshot | undefined): { counted: bigint; dropped: bigint; rows: number } {
  let counted = 0n;
  let dropped = 0n;
  let rows = 0;
  for (const result of snapshot?.results ?? []) {
    for (const row of result.rows) counted += row.count;
    dropped += result.dropped;
    rows += result.rows.length;
  }
  return { counted, dropped, rows };
}

interface Measured {
  bare: number[];
  probec: number[];
  bpftrace: number[];
  probecCounted: bigint;
  probecDropped: bigint;
  probecRows: number;
  bpftraceCounted: number;
  /** One of probec's stacks, as it named it (task q). */
  probecStack: string | undefined;
  /** What each tracer's BPF programs ran, over its traced runs. */
  probecBpf: BpfTime;
  bpftraceBpf: BpfTime;
  failures: { probec?: string; bpftrace?: string };
}

/** The final report of an attachment that was just closed. */
async function finalReport(attachment: Attachment): Promise<AggregateSnapshot | undefined> {
  const summary = await attachment.close();
  return summary.aggregates;
}

/** Runs one variant and prints its table. */
async function aggregateHitTask(print: (line: string) => void, variant: Variant): Promise<void> {
  await withBpfStats(() => aggregateHitRuns(print, variant));
}

async function aggregateHitRuns(print: (line: string) => void, variant: Variant): Promise<void> {
  await withTempDir(async (dir) => {
    let binary: string;
    try {
      binary = buildLoop(dir);
    } catch (error) {
      return printSkipped(print, variant.title, messageOf(error));
    }
    const m: Measured = {
      bare: [],
      probec: [],
      bpftrace: [],
      probecCounted: 0n,
      probecDropped: 0n,
      probecRows: 0,
      bpftraceCounted: 0,
      probecStack: undefined,
      probecBpf: { ns: 0n, runs: 0n },
      bpftraceBpf: { ns: 0n, runs: 0n },
      failures: {},
    };
    let plan: AttachPlan | undefined;
    try {
      plan = (await compileTimed(variant.probec(binary))).plan;
    } catch (error) {
      m.failures.probec = messageOf(error);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < REPS; i++) m.bare.push(await loop(binary));

      if (plan !== undefined && m.failures.probec === undefined) {
        const attachment = attach(plan);
        const draining = drain(attachment, { events: 0 });
        try {
          await attachment.ready;
          const helper = helperPid();
          for (let i = 0; i < REPS; i++) m.probec.push(await tracedLoop(binary, helper, m.probecBpf));
          const report = await finalReport(attachment);
          await draining;
          const { counted, dropped, rows } = countedIn(report);
          m.probecCounted += counted;
          m.probecDropped += dropped;
          m.probecRows = Math.max(m.probecRows, rows);
          const stack = report?.results[0]?.rows[0]?.keys[0];
          if (typeof stack === "object" && stack !== null) m.probecStack = stack.functions.join(" ← ");
        } catch (error) {
          m.failures.probec = messageOf(error);
          await attachment.close().catch(() => undefined);
          await draining;
        }
      }

      if (m.failures.bpftrace === undefined) {
        const bpftrace = startBpftraceKeepingOutput(variant.bpftrace(binary), 60_000);
        if (!(await bpftrace.ready)) {
          m.failures.bpftrace = bpftrace.failure();
          await bpftrace.stop();
        } else {
          for (let i = 0; i < REPS; i++) m.bpftrace.push(await tracedLoop(binary, bpftrace.pid, m.bpftraceBpf));
          m.bpftraceCounted += variant.bpftraceCounted(await bpftrace.stop());
        }
      }
    }
    report(print, variant, m);
  });
}

const median = (xs: readonly number[]): number | undefined => (xs.length === 0 ? undefined : quantile(xs, 0.5));

function report(print: (line: string) => void, variant: Variant, m: Measured): void {
  const bare = median(m.bare);
  const perHit = (xs: number[]): number | undefined => {
    const t = median(xs);
    return t === undefined || bare === undefined ? undefined : ((t - bare) * 1e6) / HITS; // ns
  };
  const probecNs = perHit(m.probec);
  const bpftraceNs = perHit(m.bpftrace);
  const hits = HITS * REPS * ROUNDS;
  const sample = (ms: number): { ms: number; peakRssGrowth: undefined; bytesRead: undefined } => ({ ms, peakRssGrowth: undefined, bytesRead: undefined });
  const perHitText = (ns: number | undefined): string => (ns === undefined ? "" : `${(ns / 1000).toFixed(2)} µs per hit`);
  const rows: Row[] = [
    {
      tool: "aggregate-loop, bare",
      scope: "whole process",
      samples: m.bare.map(sample),
      bytesHow: "n/a",
      answer: bare === undefined ? "" : `${((bare * 1e6) / HITS).toFixed(1)} ns per call`,
    },
    {
      tool: variant.probecLabel,
      scope: "whole process",
      samples: m.probec.map(sample),
      bytesHow: "n/a",
      answer: perHitText(probecNs),
      note:
        m.failures.probec ??
        `counted ${m.probecCounted.toLocaleString("en")} of ${hits.toLocaleString("en")} hits in ${m.probecRows} row(s), ${m.probecDropped.toLocaleString("en")} dropped${bpfPerCall(m.probecBpf, m.probec.length * HITS)}${m.probecStack === undefined ? "" : `; stack: ${m.probecStack}`}`,
    },
    {
      tool: variant.bpftraceLabel,
      scope: "whole process",
      samples: m.bpftrace.map(sample),
      bytesHow: "n/a",
      answer: perHitText(bpftraceNs),
      note:
        m.failures.bpftrace ??
        `counted ${m.bpftraceCounted.toLocaleString("en")} of ${hits.toLocaleString("en")} hits${bpfPerCall(m.bpftraceBpf, m.bpftrace.length * HITS)}`,
    },
  ];
  printTask(print, `${variant.title} (the loop's own time; ${REPS}×${ROUNDS} runs each)`, rows, []);
  const ratio = probecNs === undefined || bpftraceNs === undefined || bpftraceNs <= 0 ? undefined : probecNs / bpftraceNs;
  printTarget(print, "per-hit cost, probec / bpftrace", ratio, 1.0, (v) => `${v.toFixed(2)}×`);
  if (m.probecBpf.runs > 0n && m.bpftraceBpf.runs > 0n && m.probec.length > 0 && m.bpftrace.length > 0) {
    const bpfRatio = Number(m.probecBpf.ns) / (m.probec.length * HITS) / (Number(m.bpftraceBpf.ns) / (m.bpftrace.length * HITS));
    print(`  BPF programs' own time per call (run_time_ns), probec / bpftrace: ${bpfRatio.toFixed(2)}×`);
  }
}

/** Task (p): hist(latency) on uprobe+ret. */
export const histLatencyHitTask = (print: (line: string) => void): Promise<void> => aggregateHitTask(print, VARIANTS.p);

/** Task (q): count by ustack. */
export const ustackCountHitTask = (print: (line: string) => void): Promise<void> => aggregateHitTask(print, VARIANTS.q);
