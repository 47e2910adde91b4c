/**
 * What the attach tasks (h), (i) and (j) share: building their small C
 * programs, compiling a probe file to a plan, running bpftrace beside
 * probec and noticing when it is ready, and printing targets that are not
 * times (a ratio, a count of lost events).
 *
 * bpftrace's readiness: each bpftrace program here starts with
 * `BEGIN { printf("ready\n"); }`. bpftrace attaches every probe before it
 * triggers BEGIN, so the line "ready" is the moment its probes are live, as
 * probec's `ready` status is. bpftrace prints "Attaching N probes..."
 * before it starts attaching.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile, renderDiagnostics, type AttachPlan, type Attachment } from "../../src/index.js";

/** Where the C sources of the attach tasks are (beside this file in the repository, not in dist/). */
const SOURCES = fileURLToPath(new URL("../../../bench/tasks/", import.meta.url));

/** Builds `bench/tasks/<name>.c` with gcc -O2 into `dir`; returns the binary's path, or throws with gcc's message. */
export function buildProgram(name: string, dir: string): string {
  const out = join(dir, name);
  const r = spawnSync("gcc", ["-O2", "-g", "-Wall", "-o", out, join(SOURCES, `${name}.c`)], { encoding: "utf8" });
  if (r.error !== undefined) throw new Error(`gcc could not be run (${r.error.message}): install gcc`);
  if (r.status !== 0) throw new Error(`gcc ${name}.c failed: ${r.stderr.trim().split("\n").slice(0, 3).join(" / ")}`);
  return out;
}

/** Runs `body` with a fresh temporary directory, removed afterwards. */
export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "probec-bench-attach-"));
  try {
    return await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** compile() of `source`, timed; throws with the rendered diagnostics when it has errors. */
export async function compileTimed(source: string): Promise<{ plan: AttachPlan; ms: number }> {
  const began = performance.now();
  const { plan, diagnostics } = await compile(source, { file: "bench.probe" });
  const ms = performance.now() - began;
  if (plan === undefined) throw new Error(`the bench's probe file does not compile:\n${renderDiagnostics(source, "bench.probe", diagnostics)}`);
  return { plan, ms };
}

/**
 * Counts an attachment's events until it ends: the consumer every real user
 * has. Never rejects (a failure is the attachment's, reported by `ready` or `close()`).
 */
export async function drain(attachment: Attachment, counter: { events: number }): Promise<void> {
  try {
    for await (const _ of attachment) counter.events++;
  } catch {
    // Reported through ready/close.
  }
}

/** Waits until `count()` has not changed for `quietMs` (the stream is drained), at most `maxMs`. */
export async function settle(count: () => number, quietMs = 500, maxMs = 10_000): Promise<void> {
  const began = performance.now();
  let last = -1;
  while (performance.now() - began < maxMs) {
    const now = count();
    if (now === last) return;
    last = now;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}

/** Attach points in a plan. */
export const pointsOf = (plan: AttachPlan): number => plan.probes.reduce((n, p) => n + p.points.length, 0);

/** A running bpftrace and what it printed so far. */
export interface Bpftrace {
  /** Milliseconds from spawn to "Attaching N probes...", and N. */
  readonly attaching: Promise<{ ms: number; probes: number } | undefined>;
  /** Milliseconds from spawn to the BEGIN line "ready"; undefined when it exited or timed out first (see {@link failure}). */
  readonly ready: Promise<number | undefined>;
  /** Output lines after "ready" (each line of the traced program's output). */
  readonly lines: () => number;
  /** Why it is not ready, when it is not. */
  readonly failure: () => string | undefined;
  /** SIGINT (bpftrace then detaches, prints its maps and exits); resolves with its whole stderr and the events it reported lost ("Lost N events", on stdout or stderr). */
  readonly stop: () => Promise<{ lost: number; stderr: string }>;
}

/**
 * Starts `bpftrace -e PROGRAM` (PROGRAM must begin with the BEGIN "ready"
 * line), reading its stdout line by line and discarding the lines after
 * "ready" (only counted), as the bench discards probec's events. Gives up
 * waiting for "ready" after `timeoutMs` and stops it.
 */
export function startBpftrace(program: string, timeoutMs: number): Bpftrace {
  const began = performance.now();
  // Each uv_* probe is a BPF program: raise bpftrace 0.17's default limits of 512.
  const env = { ...process.env, BPFTRACE_MAX_BPF_PROGS: "4096", BPFTRACE_MAX_PROBES: "4096" };
  const child: ChildProcess = spawn("bpftrace", ["-e", program], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let failure: string | undefined;
  let after = 0;
  let lost = 0;
  let isReady = false;
  let partial = "";
  let resolveAttaching: (v: { ms: number; probes: number } | undefined) => void = () => {};
  let resolveReady: (v: number | undefined) => void = () => {};
  const attaching = new Promise<{ ms: number; probes: number } | undefined>((r) => (resolveAttaching = r));
  const ready = new Promise<number | undefined>((r) => (resolveReady = r));
  const exited = new Promise<void>((r) => child.on("close", () => r()));
  const timer = setTimeout(() => {
    failure = `not ready after ${timeoutMs / 1000} s (the cap): stopped`;
    child.kill("SIGINT");
  }, timeoutMs);
  child.on("error", (error) => {
    failure = `bpftrace could not be run: ${error.message} (install bpftrace: scripts/bootstrap.sh --bench)`;
  });
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.on("data", (chunk: Buffer) => {
    if (isReady) {
      // Lines are counted, not kept: at a million a second this is the bench's own cost.
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) after++;
      // bpftrace 0.17 reports drops on stdout, between the lines ("Lost 123 events"). Only complete
      // lines are searched; the unfinished last one is carried over to the next chunk.
      const text = partial + chunk.toString("latin1");
      const cut = text.lastIndexOf("\n") + 1;
      partial = text.slice(cut);
      if (text.includes("Lost ")) {
        for (const m of text.slice(0, cut).matchAll(/^Lost (\d+) events/gm)) {
          lost += Number(m[1]);
          after--; // a message, not an output line
        }
      }
      return;
    }
    partial += chunk.toString();
    let nl: number;
    while (!isReady && (nl = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      const m = /^Attaching (\d+) probes?/.exec(line);
      if (m !== null) resolveAttaching({ ms: performance.now() - began, probes: Number(m[1]) });
      if (line === "ready") {
        isReady = true;
        clearTimeout(timer);
        resolveReady(performance.now() - began);
        for (const c of partial) if (c === "\n") after++;
      }
    }
  });
  void exited.then(() => {
    clearTimeout(timer);
    if (!isReady && failure === undefined) failure = `exited before it was ready: ${lastLines(stderr)}`;
    resolveAttaching(undefined);
    resolveReady(undefined);
  });
  return {
    attaching,
    ready,
    lines: () => after,
    failure: () => failure,
    stop: async () => {
      child.kill("SIGINT");
      await exited;
      return { lost: lost + [...stderr.matchAll(/Lost (\d+) events/g)].reduce((n, m) => n + Number(m[1]), 0), stderr };
    },
  };
}

/** The last meaningful lines of a tool's stderr, on one line (bpftrace's RLIMIT_MEMLOCK warning is not one). */
export function lastLines(text: string): string {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "" && !/RLIMIT_MEMLOCK/.test(l))
    .slice(-2)
    .join(" / ");
}

/** Runs `argv` to completion and returns its stdout; throws with its stderr when it fails. */
export function runToEnd(argv: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] ?? "", argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv[0]} exited with ${code ?? signal}: ${lastLines(err)}`));
    });
  });
}

/** A target line in printTask's words, for figures that are not times or bytes. */
export function printTarget(print: (line: string) => void, what: string, value: number | undefined, limit: number, show: (v: number) => string): void {
  const met = value !== undefined && Number.isFinite(value) && value <= limit;
  const factor = value !== undefined && Number.isFinite(value) && !met && limit > 0 ? ` (${(value / limit).toFixed(1)}× over)` : "";
  print(`  target: ${what} ≤ ${show(limit)}: ${value === undefined || !Number.isFinite(value) ? "—" : show(value)} → ${met ? "MET" : "MISSED"}${factor}`);
}

/** A skipped task, printed as the other tasks print theirs. */
export function printSkipped(print: (line: string) => void, title: string, reason: string): void {
  print(`\n${title}\n${"=".repeat(title.length)}\n  skipped: ${reason}`);
}

/** The first lines of an error's message (an AttachError lists what it tried and the fixes: keep them). */
export function messageOf(error: unknown, lines = 4): string {
  return error instanceof Error ? error.message.split("\n").slice(0, lines).join(" / ") : String(error);
}
