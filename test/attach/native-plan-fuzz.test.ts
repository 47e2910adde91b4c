/**
 * The plan is input the attacher must not trust (PITFALLS 24): it runs as
 * root, and other tools may hand it plans. Real plans compiled for live
 * processes (function arguments, a uprobe+ret pair, a filter, strings, USDT
 * arguments with registers and memory, aggregations with every kind of key,
 * a ustack field) are mutated — members deleted or
 * given values of every wrong type and size, arrays cut or repeated,
 * nesting deepened, the JSON text cut or corrupted — and fed to the real
 * helper. Whatever it gets, it must end as the protocol says: exit 0 or 2
 * (3 only for a kernel refusal it reports), never killed by a signal, its
 * stdout a clean sequence of frames whose last status is `detached`. A
 * plan that survives mutation and still attaches is detached with SIGTERM.
 *
 * Seeded: PROBEC_PLAN_FUZZ_SEED replays a run, PROBEC_PLAN_FUZZ_CASES sets
 * its size (each failure names its case and seed), PROBEC_PLAN_FUZZ_DUMP=DIR
 * writes each case's plan to DIR/case-N.json to run the helper on by hand.
 * (3,000 cases with seed 7 ran clean when this was written.)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { compile } from "../../src/compile/compile.js";
import type { AttachPlan } from "../../src/compile/plan.js";
import { FRAME_STATUS, FrameDecoder } from "../../src/attach/frames.js";
import { parseStatus } from "../../src/attach/status.js";
import { Prng, caseSeed } from "../fuzz/prng.js";

const HELPER = join(import.meta.dirname, "..", "..", "prebuilds", `${process.platform}-${process.arch}`, "probec-attach");
const SEED = Number(process.env["PROBEC_PLAN_FUZZ_SEED"] ?? 20261122);
const CASES = Number(process.env["PROBEC_PLAN_FUZZ_CASES"] ?? 240);
const PARALLEL = 4;

let sleeper: ChildProcess;
let python: ChildProcess;
const plans: string[] = [];

beforeAll(async () => {
  sleeper = spawn("sleep", ["600"], { stdio: "ignore" });
  python = spawn("/usr/bin/python3.11", ["-c", "import time; time.sleep(600)"], { stdio: "ignore" });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const sources = [
    `uprobe+ret pid/${sleeper.pid}:libc:clock_nanosleep {
  where arg0 >= 0 && retval == 0
  clock = arg0 as i32
  rc = retval as i32
  latency
}
uprobe pid/${sleeper.pid}:libc:malloc { size = arg0  text = str(arg0, 16) }`,
    `usdt pid/${python.pid}:exe:python:function__entry {
  file = str(arg0)
  fn = str(arg1, 64)
  line = arg2 as i32
  where arg2 % 2 == 0
}`,
  ];
  for (const source of sources) {
    const { plan, diagnostics } = await compile(source, { file: "fuzz.probe" });
    expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    plans.push(JSON.stringify(plan as AttachPlan));
  }
  // Aggregations and stacks (issue 15): the same entries with hand-written programs.
  const { plan } = await compile(`uprobe pid/${sleeper.pid}:libc:malloc { size = arg0 }\nuprobe pid/${sleeper.pid}:libc:free { p = arg0 }`, {
    file: "fuzz.probe",
  });
  const [malloc, free] = (plan as AttachPlan).probes;
  const size = { op: "arg", index: 0 } as const;
  const aggregating: AttachPlan = {
    planVersion: 2,
    aggregation: { intervalMs: 1000, mapKeys: 64 },
    probes: [
      {
        ...malloc!,
        program: {
          fields: [],
          filter: { op: "binary", operator: ">", left: size, right: { op: "int", value: "0" } },
          format: null,
          strlen: 64,
          aggregates: [
            {
              fn: "count",
              value: null,
              by: [
                { op: "ustack", frames: 8 },
                { op: "capture", name: "comm" },
              ],
              lhist: null,
              text: "count",
            },
            {
              fn: "hist",
              value: size,
              by: [
                { op: "str", arg: size, maxLen: 300 },
                { op: "capture", name: "container" },
              ],
              lhist: null,
              text: "hist",
            },
            { fn: "lhist", value: size, by: [], lhist: { min: 0, max: 4096, step: 64 }, text: "lhist" },
          ],
        },
      },
      {
        ...free!,
        program: { fields: [{ name: "stack", type: "stack", expr: { op: "ustack", frames: 4 } }], filter: null, format: null, aggregates: [], strlen: 64 },
      },
    ],
  };
  plans.push(JSON.stringify(aggregating));
}, 60_000);

afterAll(() => {
  sleeper?.kill();
  python?.kill();
});

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a node of the document, the root first. */
function pathsOf(doc: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(doc)) doc.forEach((v, i) => pathsOf(v, [...at, i], out));
  else if (doc !== null && typeof doc === "object") for (const [k, v] of Object.entries(doc)) pathsOf(v, [...at, k], out);
  return out;
}

/** A value of some wrong kind: the sizes and types a careless or hostile producer writes. */
function strangeValue(rng: Prng): Json {
  switch (rng.below(12)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return -1;
    case 3:
      return 2 ** 64;
    case 4:
      return 1e308;
    case 5:
      return "";
    case 6:
      return "x".repeat(rng.pick([64, 4096, 70_000]));
    case 7:
      return [];
    case 8:
      return {};
    case 9:
      return rng.pick([0, 1, 12, 13, 255, 4096, 65536, 4294967295, 4294967296]);
    case 10: {
      let deep: Json = 1;
      for (let i = 0; i < rng.pick([10, 100, 1000]); i++) deep = [deep];
      return deep;
    }
    default:
      return "0x" + "f".repeat(rng.pick([1, 16, 17, 40]));
  }
}

/** One mutation of a plan's text: at the JSON level most of the time, else of the bytes. */
function mutate(text: string, rng: Prng): string {
  if (rng.chance(0.2)) {
    const at = rng.below(text.length);
    switch (rng.below(3)) {
      case 0:
        return text.slice(0, at);
      case 1:
        return text.slice(0, at) + String.fromCharCode(rng.below(128)) + text.slice(at + 1);
      default:
        return text.slice(0, at) + rng.pick(['"', "{", "]", "\\u0000", "\\", "-"]) + text.slice(at);
    }
  }
  const doc = JSON.parse(text) as Json;
  for (let n = rng.between(1, 3); n > 0; n--) {
    const paths = pathsOf(doc).filter((p) => p.length > 0);
    if (paths.length === 0) break; // every member deleted already
    const path = rng.pick(paths);
    let parent = doc as Record<string | number, Json>;
    for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, Json>;
    const key = path[path.length - 1] as string | number;
    const value = parent[key] as Json;
    const roll = rng.below(4);
    if (roll === 0 && !Array.isArray(parent)) delete parent[key];
    else if (roll === 1 && Array.isArray(value) && value.length > 0) {
      const copies = rng.pick([0, 2, 100, 5000]);
      parent[key] = copies === 0 ? [] : Array.from({ length: copies }, (_, i) => value[i % value.length] as Json);
    } else parent[key] = strangeValue(rng);
  }
  return JSON.stringify(doc);
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  statuses: { type: string }[];
  trailing: number;
  /** The decoder's error when stdout was not a clean sequence of frames. */
  corrupt: string | undefined;
}

/** Runs the helper on `text`; SIGTERM once it is ready (or after 5 s); 20 s in all. */
async function runHelper(text: string): Promise<Outcome> {
  const child = spawn(HELPER, [], { stdio: ["pipe", "pipe", "ignore"] });
  const statuses: { type: string }[] = [];
  const frames = new FrameDecoder();
  let corrupt: string | undefined;
  child.stdout!.on("data", (chunk: Buffer) => {
    if (corrupt !== undefined) return;
    try {
      for (const frame of frames.push(chunk)) {
        if (frame.type !== FRAME_STATUS) continue;
        const status = parseStatus(frame.payload);
        statuses.push(status);
        if (status.type === "ready") child.kill("SIGTERM");
      }
    } catch (error) {
      corrupt = (error as Error).message;
    }
  });
  child.stdin!.on("error", () => undefined); // the helper may refuse a plan before reading it all
  child.stdin!.end(text);
  const stop = setTimeout(() => child.kill("SIGTERM"), 5_000);
  const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
  // "close", not "exit": the last frames may still be in the pipe when the process has exited.
  const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
  clearTimeout(stop);
  clearTimeout(kill);
  return { code, signal, statuses, trailing: frames.pending, corrupt };
}

it(`${CASES} mutated plans: the helper always ends by the protocol, never by a crash`, async () => {
  let next = 0;
  const failures: string[] = [];
  const tally = new Map<string, number>();
  const worker = async (): Promise<void> => {
    while (next < CASES) {
      const index = next++;
      const seed = caseSeed(SEED, index);
      const rng = new Prng(seed);
      const text = mutate(rng.pick(plans), rng);
      if (process.env["PROBEC_PLAN_FUZZ_DUMP"] !== undefined) writeFileSync(`${process.env["PROBEC_PLAN_FUZZ_DUMP"]}/case-${index}.json`, text);
      const out = await runHelper(text);
      const last = out.statuses.at(-1)?.type;
      const how = `exit ${String(out.code ?? out.signal)}`;
      tally.set(how, (tally.get(how) ?? 0) + 1);
      const ok =
        out.signal === null &&
        [0, 2, 3].includes(out.code ?? -1) &&
        last === "detached" &&
        out.trailing === 0 &&
        out.corrupt === undefined &&
        out.statuses[0]?.type === "hello";
      if (!ok)
        failures.push(
          `case ${index} (seed ${SEED}): ${how}, last status ${String(last)}, ${out.trailing} trailing bytes${out.corrupt === undefined ? "" : `, ${out.corrupt}`}; plan starts ${JSON.stringify(text.slice(0, 200))}`,
        );
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  expect(failures).toEqual([]);
  // The mutations must reach both outcomes: plans refused (2) and plans that still attach and detach (0).
  expect(tally.get("exit 2") ?? 0).toBeGreaterThan(CASES / 10);
  expect(tally.get("exit 0") ?? 0).toBeGreaterThan(0);
}, 240_000);
