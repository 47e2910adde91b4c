/**
 * Task (n): the per-call cost of `uprobe+ret` on a Go function beside
 * `uprobe+ret` on a C function (issue 12, "Speed"), both capturing arg0,
 * retval and latency.
 *
 * A Go function's return side is a plain uprobe on each of its return
 * instructions, paired with its entry by goroutine and frame (one more
 * user read, of g.stack.hi); a C function's is the kernel's uretprobe,
 * paired by thread. `go-loop` (bench/tasks/go-loop, built here with the
 * system's Go, CGO_ENABLED=0, offline) and `attach-loop.c` each call a
 * noinline function {@link CALLS} times and print the loop's own time.
 * Each runs bare and traced, {@link REPS} times each, alternating over
 * {@link ROUNDS} rounds; per-call cost = (median traced − median bare) /
 * calls, a call being two hits (entry and return). Losses are reported:
 * an event dropped is cheaper.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { attach, type AttachPlan } from "../../src/index.js";
import { quantile } from "../measure.js";
import { printTask, type Row } from "../table.js";
import { buildProgram, compileTimed, drain, messageOf, printSkipped, runToEnd, settle, withTempDir } from "./attach-support.js";

const CALLS = 200_000;
const REPS = 2;
const ROUNDS = 2;

/** bench/tasks/go-loop, from dist/bench/tasks as from bench/tasks. */
const GO_LOOP = fileURLToPath(new URL("../../../bench/tasks/go-loop/", import.meta.url));

/** Builds go-loop into `dir` with the system's `go`, offline, the Go cache under the temp directory. */
function buildGoLoop(dir: string): string {
  const out = join(dir, "go-loop");
  const cache = join(tmpdir(), "probec-bench-gocache");
  mkdirSync(cache, { recursive: true });
  try {
    execFileSync("go", ["build", "-trimpath", "-buildvcs=false", "-o", out, "."], {
      cwd: GO_LOOP,
      env: { ...process.env, CGO_ENABLED: "0", GOCACHE: cache, GOPATH: join(cache, "gopath"), GOPROXY: "off", GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" },
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? (error as Error).message);
    throw new Error(`go build of bench/tasks/go-loop failed (install golang-go): ${stderr.trim().split("\n").slice(0, 3).join(" / ")}`);
  }
  return out;
}

/** One run of a loop: its elapsed milliseconds. */
async function loop(binary: string): Promise<number> {
  const out = await runToEnd([binary, String(CALLS)], 300_000);
  const [n, ns] = out.trim().split(/\s+/).map(Number);
  if (n !== CALLS || ns === undefined || !Number.isFinite(ns)) throw new Error(`${binary} printed "${out.trim()}"`);
  return ns / 1e6;
}

interface Side {
  readonly label: string;
  readonly binary: string;
  readonly plan: AttachPlan;
  readonly bare: number[];
  readonly traced: number[];
  events: number;
  lost: number;
  failure?: string;
}

/** Task (n). */
export async function goReturnHitTask(print: (line: string) => void): Promise<void> {
  const title = `(n) per-call cost of uprobe+ret (arg0, retval, latency): a Go function (uprobes on its return instructions) beside a C function (uretprobe), ${CALLS.toLocaleString("en")} calls`;
  await withTempDir(async (dir) => {
    const sides: Side[] = [];
    try {
      const go = buildGoLoop(dir);
      const c = buildProgram("attach-loop", dir);
      const body = "{\n  x = arg0\n  rc = retval\n  latency\n}\n";
      sides.push({
        label: "Go main.hit",
        binary: go,
        plan: (await compileTimed(`uprobe+ret host:${go}:main.hit ${body}`)).plan,
        bare: [],
        traced: [],
        events: 0,
        lost: 0,
      });
      sides.push({
        label: "C probec_bench_hit",
        binary: c,
        plan: (await compileTimed(`uprobe+ret host:${c}:probec_bench_hit ${body}`)).plan,
        bare: [],
        traced: [],
        events: 0,
        lost: 0,
      });
    } catch (error) {
      return printSkipped(print, title, messageOf(error));
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of sides) {
        for (let i = 0; i < REPS; i++) side.bare.push(await loop(side.binary));
        if (side.failure !== undefined) continue;
        const attachment = attach(side.plan);
        const counter = { events: 0 };
        const draining = drain(attachment, counter);
        try {
          await attachment.ready;
          for (let i = 0; i < REPS; i++) side.traced.push(await loop(side.binary));
          await settle(() => counter.events);
          const summary = await attachment.close();
          await draining;
          side.events += counter.events;
          side.lost += summary.probes.reduce((n, p) => n + p.lost, 0);
        } catch (error) {
          side.failure = messageOf(error);
          await attachment.close().catch(() => undefined);
          await draining;
        }
      }
    }
    report(print, title, sides);
  });
}

const median = (xs: readonly number[]): number | undefined => (xs.length === 0 ? undefined : quantile(xs, 0.5));

function report(print: (line: string) => void, title: string, sides: readonly Side[]): void {
  const sample = (ms: number): { ms: number; peakRssGrowth: undefined; bytesRead: undefined } => ({ ms, peakRssGrowth: undefined, bytesRead: undefined });
  const perCall = (side: Side): number | undefined => {
    const bare = median(side.bare);
    const traced = median(side.traced);
    return bare === undefined || traced === undefined ? undefined : ((traced - bare) * 1e6) / CALLS; // ns
  };
  const rows: Row[] = [];
  const calls = CALLS * REPS * ROUNDS;
  for (const side of sides) {
    const bare = median(side.bare);
    const ns = perCall(side);
    const points = side.plan.probes[0]?.points.map((p) => p.side).join(", ") ?? "";
    rows.push({
      tool: `${side.label}, bare`,
      scope: "whole process",
      samples: side.bare.map(sample),
      bytesHow: "n/a",
      answer: bare === undefined ? "" : `${((bare * 1e6) / CALLS).toFixed(1)} ns per call`,
    });
    rows.push({
      tool: `${side.label} + probec uprobe+ret`,
      scope: "whole process",
      samples: side.traced.map(sample),
      bytesHow: "n/a",
      answer: ns === undefined ? "" : `${(ns / 1000).toFixed(2)} µs per call`,
      note:
        side.failure ??
        `points: ${points}; ${side.events.toLocaleString("en")} events of ${calls.toLocaleString("en")} calls, ${side.lost.toLocaleString("en")} lost`,
    });
  }
  printTask(print, `${title} (the loop's own time; ${REPS}×${ROUNDS} runs each)`, rows, []);
  const [go, c] = sides.map(perCall);
  print(`  Go / C per-call cost: ${go === undefined || c === undefined || c <= 0 ? "—" : `${(go / c).toFixed(2)}×`}`);
}
