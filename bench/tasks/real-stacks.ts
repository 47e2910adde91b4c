/**
 * The real stacks of task (o): libc `malloc`'s user stacks in a running
 * `node` doing varied work (`node-workload.cjs`), captured with probec's
 * own library API (`compile` and `attach` of `count by ustack`), as a user
 * of `probec trace … --json` gets them. Capturing is not timed.
 *
 * The workload is started and left waiting; the probe is attached; then
 * the workload is told to run its fixed amount of work, and the probe is
 * closed once it says "done". The workload then idles (its maps stay for
 * the symbolizer) until the caller kills it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { attach, type StackKey } from "../../src/index.js";
import { compileTimed, drain } from "./attach-support.js";

const WORKLOAD = fileURLToPath(new URL("../../../bench/tasks/node-workload.cjs", import.meta.url));
/**
 * Rounds of the workload's steps: 2 gives about 26,000 distinct stacks
 * here (1 about 21,000), all of them inside {@link MAP_KEYS}, so none is dropped.
 */
const ROUNDS = 2;
/** Keys of the aggregation map: room for every stack of the workload (a full 32,768-key report is ~15 MiB, under the helper protocol's 16 MiB frame; 65,536 is not). */
const MAP_KEYS = 32_768;

/** What was captured. */
export interface RealStacks {
  /** The workload, idle and alive: the caller kills it. */
  readonly target: ChildProcess;
  readonly pid: number;
  /** Every distinct stack the probe counted, largest count first (as the report gives them). */
  readonly stacks: readonly StackKey[];
  /** malloc calls counted, and those the full map could not count. */
  readonly hits: bigint;
  readonly dropped: bigint;
}

/** Lines of a child's stdout, one at a time. */
function lineReader(child: ChildProcess): (want: RegExp, timeoutMs: number) => Promise<string> {
  let buffered = "";
  const waiters: (() => void)[] = [];
  child.stdout?.on("data", (c: Buffer) => {
    buffered += c.toString();
    for (const w of waiters.splice(0)) w();
  });
  return async (want, timeoutMs) => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const line = buffered.split("\n").find((l) => want.test(l));
      if (line !== undefined) return line;
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`the workload exited (${child.exitCode ?? child.signalCode}) before printing ${want}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`the workload did not print ${want} within ${timeoutMs / 1000} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
}

/**
 * Starts the workload with `node`, captures its malloc stacks, and leaves
 * it idle. On failure the workload is killed and the error thrown.
 */
export async function captureRealStacks(node: string): Promise<RealStacks> {
  const target = spawn(node, ["--no-warnings", WORKLOAD, String(ROUNDS)], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  target.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      target.once("spawn", resolve);
      target.once("error", reject);
    });
    const pid = target.pid as number;
    const next = lineReader(target);
    await next(/^ready$/, 30_000);
    const { plan } = await compileTimed(`option mapkeys = ${MAP_KEYS}\nuprobe pid/${pid}:libc:malloc {\n  count by ustack\n}\n`);
    const attachment = attach(plan);
    const draining = drain(attachment, { events: 0 });
    let summary: Awaited<ReturnType<typeof attachment.close>>;
    try {
      await attachment.ready;
      target.stdin?.write("go\n");
      await next(/^done /, 300_000);
    } finally {
      summary = await attachment.close();
      await draining;
    }
    const result = summary.aggregates?.results[0];
    if (result === undefined) throw new Error("the attachment's final report has no aggregation (count by ustack)");
    const stacks: StackKey[] = [];
    let hits = 0n;
    for (const row of result.rows) {
      hits += row.count;
      const key = row.keys[0];
      if (typeof key === "object" && key !== null && "kind" in key && key.kind === "stack") stacks.push(key);
    }
    return { target, pid, stacks, hits, dropped: result.dropped };
  } catch (error) {
    target.kill("SIGKILL");
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`${why}${stderr.trim() === "" ? "" : ` (workload stderr: ${stderr.trim().split("\n").slice(-3).join(" / ")})`}`);
  }
}
