/**
 * Task (j): 100,000 events a second for 10 seconds (issue 5, "Speed":
 * nothing lost).
 *
 * `attach-rate.c` fires the USDT probe probec_bench:tick(seq) at a paced
 * {@link RATE} a second for {@link SECONDS} s and prints how many it fired.
 * probec attaches `usdt host:BINARY:probec_bench:tick { seq = arg0 }` and
 * this process counts every event it receives (decoded, then discarded);
 * lost events are the helper's `lost` counts. bpftrace does the same with
 * `printf("%d\n", arg0)`, its lines counted here, its losses from its
 * "Lost N events" messages. Each tracer is attached before the program
 * starts and stopped after it has exited and the stream has gone quiet.
 */
import { attach } from "../../src/index.js";
import { printTask, type Row } from "../table.js";
import { buildProgram, compileTimed, drain, messageOf, printSkipped, printTarget, runToEnd, settle, startBpftrace, withTempDir } from "./attach-support.js";

const RATE = 100_000;
const SECONDS = 10;

/** Runs the paced program: how many it fired and in how many ms. */
async function fire(binary: string): Promise<{ fired: number; ms: number }> {
  const out = await runToEnd([binary, String(RATE), String(SECONDS)], (SECONDS + 60) * 1000);
  const [fired, ns] = out.trim().split(/\s+/).map(Number);
  if (fired === undefined || ns === undefined || !Number.isFinite(fired)) throw new Error(`attach-rate printed "${out.trim()}"`);
  return { fired, ms: ns / 1e6 };
}

interface Outcome {
  fired?: number;
  ms?: number;
  received?: number;
  lost?: number;
  failure?: string;
}

async function withProbec(binary: string): Promise<Outcome> {
  const { plan } = await compileTimed(`usdt host:${binary}:probec_bench:tick {\n  seq = arg0\n}\n`);
  const attachment = attach(plan);
  const counter = { events: 0 };
  const draining = drain(attachment, counter);
  try {
    await attachment.ready;
    const { fired, ms } = await fire(binary);
    await settle(() => counter.events);
    const summary = await attachment.close();
    await draining;
    return { fired, ms, received: counter.events, lost: summary.probes.reduce((n, p) => n + p.lost, 0) };
  } catch (error) {
    await attachment.close().catch(() => undefined);
    await draining;
    return { failure: messageOf(error) };
  }
}

async function withBpftrace(binary: string): Promise<Outcome> {
  const bpftrace = startBpftrace(`BEGIN { printf("ready\\n"); } usdt:${binary}:probec_bench:tick { printf("%d\\n", arg0); }`, 60_000);
  if ((await bpftrace.ready) === undefined) {
    await bpftrace.stop();
    return { failure: bpftrace.failure() ?? "not ready" };
  }
  const { fired, ms } = await fire(binary);
  await settle(() => bpftrace.lines());
  // Count before stopping: at exit bpftrace prints its (empty) maps as blank lines.
  const received = bpftrace.lines();
  const { lost } = await bpftrace.stop();
  return { fired, ms, received, lost };
}

/** Task (j). */
export async function attachRateTask(print: (line: string) => void): Promise<void> {
  const title = `(j) a USDT probe at ${RATE.toLocaleString("en")} events/s for ${SECONDS} s, every event streamed`;
  await withTempDir(async (dir) => {
    let binary: string;
    try {
      binary = buildProgram("attach-rate", dir);
    } catch (error) {
      return printSkipped(print, title, messageOf(error));
    }
    let probec: Outcome;
    try {
      probec = await withProbec(binary);
    } catch (error) {
      probec = { failure: messageOf(error) };
    }
    const bpftrace = await withBpftrace(binary);
    const row = (tool: string, o: Outcome): Row => ({
      tool,
      scope: "whole process",
      samples: o.ms === undefined ? [] : [{ ms: o.ms, peakRssGrowth: undefined, bytesRead: undefined }],
      bytesHow: "n/a",
      answer:
        o.received === undefined ? "" : `${o.received.toLocaleString("en")} of ${o.fired?.toLocaleString("en")} received, ${o.lost?.toLocaleString("en")} lost`,
      note: o.failure,
    });
    printTask(
      print,
      `${title} (time: the firing program's run)`,
      [row("probec (usdt, seq = arg0), events counted in JS", probec), row("bpftrace (printf arg0), lines counted", bpftrace)],
      [],
    );
    const missing = probec.fired === undefined || probec.received === undefined ? undefined : probec.fired - probec.received;
    printTarget(print, "events fired but not received by probec", missing, 0, (v) => v.toLocaleString("en"));
    printTarget(print, "events probec's helper counted lost", probec.lost, 0, (v) => v.toLocaleString("en"));
  });
}
