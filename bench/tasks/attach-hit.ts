/**
 * Task (i): the cost of one probe hit, probec beside bpftrace doing the same
 * capture (issue 5, "Speed": probec / bpftrace at most 1.1).
 *
 * `attach-loop.c` calls a noinline function {@link HITS} times and prints
 * the loop's own elapsed time. It runs bare, then with probec attached (a
 * uprobe on that function capturing arg0 and comm; the events are decoded
 * in this process and discarded), then with bpftrace attached
 * (`printf("%d %s\n", arg0, comm)`; its lines are read by this process and
 * discarded), {@link REPS} times each, the three alternating over
 * {@link ROUNDS} rounds so that a change in the machine's load falls on all
 * of them. Per-hit cost = (median traced − median bare) / hits. Both tracers
 * probe the binary's file for every process (probec: a `host` scope), and
 * their losses are reported: an event a tracer drops is cheaper for it.
 */
import { attach, type AttachPlan } from "../../src/index.js";
import { quantile } from "../measure.js";
import { printTask, type Row } from "../table.js";
import { buildProgram, compileTimed, drain, messageOf, printSkipped, printTarget, runToEnd, settle, startBpftrace, withTempDir } from "./attach-support.js";

/** Calls per run. bpftrace costs ~15 µs a hit here, so one of its runs takes ~15 s. */
const HITS = 1_000_000;
const REPS = 2;
const ROUNDS = 2;

/** One run of the loop: its elapsed milliseconds. */
async function loop(binary: string): Promise<number> {
  const out = await runToEnd([binary, String(HITS)], 300_000);
  const [n, ns] = out.trim().split(/\s+/).map(Number);
  if (n !== HITS || ns === undefined || !Number.isFinite(ns)) throw new Error(`attach-loop printed "${out.trim()}"`);
  return ns / 1e6;
}

interface Measured {
  bare: number[];
  probec: number[];
  bpftrace: number[];
  probecEvents: number;
  probecLost: number;
  bpftraceLines: number;
  bpftraceLost: number;
  failures: { probec?: string; bpftrace?: string };
}

/** Task (i). */
export async function attachHitTask(print: (line: string) => void): Promise<void> {
  const title = `(i) per-hit cost of a uprobe capturing arg0 and comm, ${HITS.toLocaleString("en")} calls in a tight loop`;
  await withTempDir(async (dir) => {
    let binary: string;
    try {
      binary = buildProgram("attach-loop", dir);
    } catch (error) {
      return printSkipped(print, title, messageOf(error));
    }
    const m: Measured = { bare: [], probec: [], bpftrace: [], probecEvents: 0, probecLost: 0, bpftraceLines: 0, bpftraceLost: 0, failures: {} };
    let plan: AttachPlan | undefined;
    try {
      plan = (await compileTimed(`uprobe host:${binary}:probec_bench_hit {\n  x = arg0\n  comm\n}\n`)).plan;
    } catch (error) {
      m.failures.probec = messageOf(error);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < REPS; i++) m.bare.push(await loop(binary));

      if (plan !== undefined && m.failures.probec === undefined) {
        const attachment = attach(plan);
        const counter = { events: 0 };
        const draining = drain(attachment, counter);
        try {
          await attachment.ready;
          for (let i = 0; i < REPS; i++) m.probec.push(await loop(binary));
          await settle(() => counter.events);
          const summary = await attachment.close();
          await draining;
          m.probecEvents += counter.events;
          m.probecLost += summary.probes.reduce((n, p) => n + p.lost, 0);
        } catch (error) {
          m.failures.probec = messageOf(error);
          await attachment.close().catch(() => undefined);
          await draining;
        }
      }

      if (m.failures.bpftrace === undefined) {
        const bpftrace = startBpftrace(`BEGIN { printf("ready\\n"); } uprobe:${binary}:probec_bench_hit { printf("%d %s\\n", arg0, comm); }`, 60_000);
        if ((await bpftrace.ready) === undefined) {
          m.failures.bpftrace = bpftrace.failure() ?? "not ready";
          await bpftrace.stop();
        } else {
          for (let i = 0; i < REPS; i++) m.bpftrace.push(await loop(binary));
          // Let it print what is still buffered before it is stopped, so the line count is complete.
          await settle(() => bpftrace.lines());
          const { lost } = await bpftrace.stop();
          m.bpftraceLines += bpftrace.lines();
          m.bpftraceLost += lost;
        }
      }
    }
    report(print, title, m);
  });
}

const median = (xs: readonly number[]): number | undefined => (xs.length === 0 ? undefined : quantile(xs, 0.5));

function report(print: (line: string) => void, title: string, m: Measured): void {
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
      tool: "attach-loop, bare",
      scope: "whole process",
      samples: m.bare.map(sample),
      bytesHow: "n/a",
      answer: bare === undefined ? "" : `${((bare * 1e6) / HITS).toFixed(1)} ns per call`,
    },
    {
      tool: "attach-loop + probec (uprobe, arg0, comm)",
      scope: "whole process",
      samples: m.probec.map(sample),
      bytesHow: "n/a",
      answer: perHitText(probecNs),
      note:
        m.failures.probec ??
        `${m.probecEvents.toLocaleString("en")} events received of ${hits.toLocaleString("en")} hits, ${m.probecLost.toLocaleString("en")} lost`,
    },
    {
      tool: "attach-loop + bpftrace (printf arg0, comm)",
      scope: "whole process",
      samples: m.bpftrace.map(sample),
      bytesHow: "n/a",
      answer: perHitText(bpftraceNs),
      note:
        m.failures.bpftrace ??
        `${m.bpftraceLines.toLocaleString("en")} lines received of ${hits.toLocaleString("en")} hits, ${m.bpftraceLost.toLocaleString("en")} lost`,
    },
  ];
  printTask(print, `${title} (the loop's own time; ${REPS}×${ROUNDS} runs each)`, rows, []);
  const ratio = probecNs === undefined || bpftraceNs === undefined || bpftraceNs <= 0 ? undefined : probecNs / bpftraceNs;
  printTarget(print, "per-hit cost, probec / bpftrace", ratio, 1.1, (v) => `${v.toFixed(2)}×`);
}
