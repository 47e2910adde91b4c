/**
 * Task (l): launch → first event (issue 13). A target (`trace-target.c`)
 * calls `probec_bench_tick(seq)` once a millisecond; the tracer is launched
 * against it and timed from spawn to its first event line on stdout:
 *
 * - `probec trace 'uprobe host:TARGET:probec_bench_tick { x = arg0 }' --count 1`
 *   (the package's bin, dist/cli/probec.cjs, as a user runs it);
 * - `bpftrace -e 'uprobe:TARGET:probec_bench_tick { printf("%d\n", arg0); exit(); }'`.
 *
 * Both stop by themselves after that event. Rounds alternate the two; the
 * note gives the median time to exit (detach included). Target: probec's
 * median no slower than bpftrace's in the same run.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { medianOf, which, type Sample } from "../measure.js";
import { formatMs, printTask, type Row } from "../table.js";
import { buildProgram, lastLines, printSkipped, withTempDir } from "./attach-support.js";

const BIN = fileURLToPath(new URL("../../cli/probec.cjs", import.meta.url));
const ROUNDS = 7;
const TITLE = "(l) launch → first event: probec trace beside bpftrace on a function called every 1 ms";

/** One launch: ms to the first line matching `event`, ms to exit, or why it failed. */
interface Launch {
  readonly firstMs: number | undefined;
  readonly exitMs: number | undefined;
  readonly failure: string | undefined;
}

/** Spawns `argv` and times it to its first stdout line matching `event` and to its exit (capped at `timeoutMs`). */
function launch(argv: readonly string[], event: RegExp, timeoutMs: number): Promise<Launch> {
  return new Promise((resolve) => {
    const began = performance.now();
    const child = spawn(argv[0] ?? "", argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BPFTRACE_MAX_PROBES: "512" } });
    let firstMs: number | undefined;
    let partial = "";
    let stderr = "";
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = `no exit after ${timeoutMs / 1000} s: killed`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      if (firstMs !== undefined) return;
      partial += chunk.toString();
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      if (lines.some((l) => event.test(l))) firstMs = performance.now() - began;
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", (error) => (failure = error.message));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const exitMs = performance.now() - began;
      if (failure === undefined && code !== 0) failure = `exited with ${code ?? signal}: ${lastLines(stderr)}`;
      if (failure === undefined && firstMs === undefined) failure = `exited without an event: ${lastLines(stderr)}`;
      resolve({ firstMs: failure === undefined ? firstMs : undefined, exitMs, failure });
    });
  });
}

/** Runs task (l) and prints its table. */
export async function traceStartTask(print: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) return printSkipped(print, TITLE, "needs root (BPF and uprobes)");
  await withTempDir(async (dir) => {
    const target = buildProgram("trace-target", dir);
    const running = spawn(target, [], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const tools = [
        {
          tool: "probec trace 'uprobe host:T:probec_bench_tick { x = arg0 }' --count 1",
          argv: [process.execPath, BIN, "trace", `uprobe host:${target}:probec_bench_tick { x = arg0 }`, "--count", "1"],
          // A table row: TIME, PROBE, PID, COMM, X.
          event: /^\s*\d+\.\d+\s+probe1\s+\d+/,
        },
        {
          tool: "bpftrace -e 'uprobe:T:probec_bench_tick { printf(arg0); exit() }'",
          argv: ["bpftrace", "-e", `uprobe:${target}:probec_bench_tick { printf("%d\\n", arg0); exit(); }`],
          event: /^\d+$/,
        },
      ];
      const firsts = tools.map(() => [] as Sample[]);
      const exits = tools.map(() => [] as number[]);
      const failures: (string | undefined)[] = tools.map((t) =>
        which(t.argv[0] ?? "") === undefined ? `${t.argv[0]} is not installed (scripts/bootstrap.sh --bench)` : undefined,
      );
      // Round 0 is a warm-up (page cache, the kernel's BTF, the helper binary), not counted.
      for (let round = 0; round <= ROUNDS; round++) {
        for (const [i, t] of tools.entries()) {
          if (failures[i] !== undefined) continue;
          const r = await launch(t.argv, t.event, 60_000);
          if (r.failure !== undefined) failures[i] = r.failure;
          else if (round > 0 && r.firstMs !== undefined) {
            firsts[i]?.push({ ms: r.firstMs, peakRssGrowth: undefined, bytesRead: undefined });
            if (r.exitMs !== undefined) exits[i]?.push(r.exitMs);
          }
        }
      }
      const rows: Row[] = tools.map((t, i) => ({
        tool: t.tool,
        scope: "whole process",
        samples: failures[i] === undefined ? (firsts[i] ?? []) : [],
        bytesHow: "n/a",
        answer: failures[i] === undefined ? "first event" : "",
        note:
          failures[i] !== undefined
            ? `skipped: ${failures[i]}`
            : `spawn → first event line; spawn → exit (detached), median ${formatMs(medianOf(exits[i] ?? []))}`,
      }));
      const probec = medianOf(rows[0]?.samples.map((s) => s.ms) ?? []);
      const bpftrace = medianOf(rows[1]?.samples.map((s) => s.ms) ?? []);
      printTask(print, `${TITLE}, ${ROUNDS} alternating rounds`, rows, [
        {
          what: "probec median / bpftrace median (launch → first event)",
          value: probec === undefined || bpftrace === undefined ? undefined : probec / bpftrace,
          limit: 1,
          unit: "×",
        },
      ]);
    } finally {
      running.kill("SIGKILL");
    }
  });
}
