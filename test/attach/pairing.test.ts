/**
 * uprobe+ret pairing of C code (thread-keyed) on this machine's kernel,
 * both ways the BPF program can keep an entry until its return
 * (native/bpf/probec.bpf.c, save_entry): in the thread's own task storage
 * (PAIR_SLOTS calls a thread at a time, deeper nesting spilling to the
 * LRU hash `saved`), and, when the kernel lacks task storage for uprobe
 * programs, in `saved` alone. The fallback is forced here with
 * PROBEC_ATTACH_NO_TASK_STORAGE=1 (native/src/pairing.h), since this
 * kernel has the feature; which store a run used is read from the
 * attacher's map fds (/proc/<pid>/fdinfo: map_type 29 is task storage).
 *
 * A C program compiled here, per command on stdin:
 * - `nest N`: f1(N) → f2(N + 1) → … → f6(N + 5), six probed calls open at
 *   once on one thread, more than the slots hold;
 * - `rec`: rec(3) → rec(2) → rec(1) → rec(0); with `deep`, from inside f6
 *   (the slots are all taken, so rec's entries are spilled ones);
 * - `exit`: a thread calls leave(1), which ends the thread mid-call
 *   (pthread_exit), then another thread calls leave(0), which returns, and
 *   runs `nest 500`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attach, compile, type AttachPlan, type Attachment, type ProbeEvent } from "../../src/index.js";
import { buildCProgram, LineProgram, type BuiltProgram } from "../support/line-program.js";

const PROGRAM = String.raw`
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP() __asm__ volatile("" ::: "memory")

static int deep;

__attribute__((noinline, used)) long rec(long n) {
  long r = n > 0 ? rec(n - 1) + 1 : 0;
  KEEP();
  return r;
}

__attribute__((noinline, used)) long f6(long n) { long r = deep ? rec(3) : n; KEEP(); return r; }
__attribute__((noinline, used)) long f5(long n) { long r = f6(n + 1); KEEP(); return r + 1; }
__attribute__((noinline, used)) long f4(long n) { long r = f5(n + 1); KEEP(); return r + 1; }
__attribute__((noinline, used)) long f3(long n) { long r = f4(n + 1); KEEP(); return r + 1; }
__attribute__((noinline, used)) long f2(long n) { long r = f3(n + 1); KEEP(); return r + 1; }
__attribute__((noinline, used)) long f1(long n) { long r = f2(n + 1); KEEP(); return r + 1; }

/* Ends the calling thread inside the call when n is not 0: its return never comes. */
__attribute__((noinline, used)) long leave(long n) {
  if (n != 0) pthread_exit(NULL);
  KEEP();
  return n;
}

static void *leaving(void *arg) { leave(1); return arg; }
static void *staying(void *arg) { leave(0); f1(500); return arg; }

int main(void) {
  char line[64];
  printf("ready\n");
  fflush(stdout);
  while (fgets(line, sizeof line, stdin) != NULL) {
    long n;
    pthread_t t;
    if (strncmp(line, "quit", 4) == 0) break;
    if (sscanf(line, "nest %ld", &n) == 1) {
      f1(n);
    } else if (strncmp(line, "rec", 3) == 0) {
      rec(3);
    } else if (strncmp(line, "deep", 4) == 0) {
      deep = 1;
      f1(0);
      deep = 0;
    } else if (strncmp(line, "exit", 4) == 0) {
      if (pthread_create(&t, NULL, leaving, NULL) != 0 || pthread_join(t, NULL) != 0) abort();
      if (pthread_create(&t, NULL, staying, NULL) != 0 || pthread_join(t, NULL) != 0) abort();
    }
    printf("done\n");
    fflush(stdout);
  }
  return 0;
}
`;

const FUNCTIONS = ["f1", "f2", "f3", "f4", "f5", "f6", "rec", "leave"] as const;

let built: BuiltProgram;

beforeAll(() => {
  // No sibling calls: every probed call returns through its own frame.
  built = buildCProgram("pairapp", PROGRAM, ["-fno-optimize-sibling-calls", "-pthread"]);
});

afterAll(() => built.remove());

class App extends LineProgram {
  constructor() {
    super([built.program]);
  }
}

/** One uprobe+ret per function of the program, each reporting arg0 and its latency. */
async function planFor(pid: number): Promise<AttachPlan> {
  const source = FUNCTIONS.map((f) => `uprobe+ret pid/${pid}:exe:${f} {\n  n = arg0\n  latency\n}\n`).join("");
  const { plan, diagnostics } = await compile(source, { file: "pairing.test.probe" });
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return plan as AttachPlan;
}

/** The map types of the BPF maps process `pid` holds (fdinfo's map_type). */
function bpfMapTypes(pid: number): number[] {
  const types: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    } catch {
      continue; // closed meanwhile
    }
    const m = /^map_type:\s+(\d+)$/m.exec(info);
    if (m !== null) types.push(Number(m[1]));
  }
  return types;
}

/** The probec-attach this test process started (the only child of ours by that name). */
function helperPid(): number {
  const pids = readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return stat.includes("(probec-attach)") && Number(fields[1]) === process.pid;
      } catch {
        return false;
      }
    });
  expect(pids).toHaveLength(1);
  return Number(pids[0]);
}

interface Call {
  fn: string;
  n: bigint;
  tid: number;
  latency: bigint;
}

/** The next `count` events as calls, then checks that no other event is pending. */
async function calls(events: AsyncIterator<ProbeEvent>, count: number): Promise<Call[]> {
  const out: Call[] = [];
  while (out.length < count) {
    const r = await events.next();
    if (r.done === true) throw new Error(`the attachment ended after ${out.length} of ${count} events`);
    const e = r.value;
    out.push({ fn: FUNCTIONS[Number(e.probeId.replace("probe", "")) - 1] as string, n: e.fields.n as bigint, tid: e.tid, latency: e.latency as bigint });
  }
  return out;
}

const TASK_STORAGE = 29; // BPF_MAP_TYPE_TASK_STORAGE
const LRU_HASH = 9; // BPF_MAP_TYPE_LRU_HASH

/** Runs every scenario against one attachment, kept by `store`. */
function scenarios(store: "task storage" | "LRU hash only"): void {
  let app: App;
  let attachment: Attachment;
  let events: AsyncIterator<ProbeEvent>;
  const hits: number[] = [];

  beforeAll(async () => {
    app = new App();
    await app.line("ready");
    if (store === "LRU hash only") process.env.PROBEC_ATTACH_NO_TASK_STORAGE = "1";
    try {
      attachment = attach(await planFor(app.pid));
      expect(await attachment.ready).toEqual({ attached: FUNCTIONS.length, failed: 0, points: FUNCTIONS.length * 2 });
    } finally {
      delete process.env.PROBEC_ATTACH_NO_TASK_STORAGE;
    }
    events = attachment[Symbol.asyncIterator]();
  });

  afterAll(async () => {
    await attachment?.close();
    await app?.quit();
  });

  it(`${store}: the attacher keeps entries where this run says`, () => {
    const types = bpfMapTypes(helperPid());
    expect(types).toContain(LRU_HASH);
    expect(types.includes(TASK_STORAGE)).toBe(store === "task storage");
  });

  it(`${store}: six calls open at once on one thread (more than the slots): each reported once, with its own argument and a latency that holds the calls inside it`, async () => {
    for (const n of [10, 20]) {
      await app.run(`nest ${n}`);
      const got = await calls(events, 6);
      // Returns come innermost first.
      expect(got.map((c) => [c.fn, c.n, c.tid])).toEqual(["f6", "f5", "f4", "f3", "f2", "f1"].map((fn) => [fn, BigInt(n + Number(fn.slice(1)) - 1), app.pid]));
      for (let i = 1; i < got.length; i++) expect((got[i] as Call).latency >= (got[i - 1] as Call).latency).toBe(true);
      expect((got[0] as Call).latency > 0n && (got[5] as Call).latency < 1_000_000_000n).toBe(true);
      hits.push(6);
    }
  });

  it(`${store}: recursion keyed by thread: each call overwrites its caller's entry, so only the innermost return is reported, in a slot and when spilled`, async () => {
    await app.run("rec");
    expect((await calls(events, 1)).map((c) => [c.fn, c.n])).toEqual([["rec", 0n]]);
    // From inside f6: f1…f4 hold the slots, so f5, f6 and rec are spilled.
    await app.run("deep");
    expect((await calls(events, 7)).map((c) => [c.fn, c.n])).toEqual([
      ["rec", 0n],
      ["f6", 5n],
      ["f5", 4n],
      ["f4", 3n],
      ["f3", 2n],
      ["f2", 1n],
      ["f1", 0n],
    ]);
    // And the spilled entries are gone: the next nest pairs exactly again.
    await app.run("nest 30");
    expect((await calls(events, 6)).map((c) => c.n)).toEqual([35n, 34n, 33n, 32n, 31n, 30n]);
    hits.push(1, 7, 6);
  });

  it(`${store}: a thread that ends inside a probed call reports nothing for it; other threads pair exactly`, async () => {
    for (let round = 0; round < 3; round++) {
      await app.run("exit");
      const got = await calls(events, 7);
      expect(got.map((c) => [c.fn, c.n])).toEqual([
        ["leave", 0n],
        ["f6", 505n],
        ["f5", 504n],
        ["f4", 503n],
        ["f3", 502n],
        ["f2", 501n],
        ["f1", 500n],
      ]);
      // The second thread, not the main one, nor the one that left.
      expect(new Set(got.map((c) => c.tid)).size).toBe(1);
      expect((got[0] as Call).tid).not.toBe(app.pid);
      hits.push(7);
    }
    // Nothing else was reported: the summary's hits are exactly the calls above.
    const summary = await attachment.close();
    const total = summary.probes.reduce((sum, p) => sum + p.hits, 0);
    expect([total, summary.probes.every((p) => p.lost === 0)]).toEqual([hits.reduce((a, b) => a + b, 0), true]);
  });
}

describe("uprobe+ret pairing in the thread's task storage (this kernel has it)", () => scenarios("task storage"));

describe("uprobe+ret pairing in the LRU hash alone (the fallback for kernels without task storage in uprobe programs)", () => scenarios("LRU hash only"));
