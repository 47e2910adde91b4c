/**
 * Issue 12: return probes that never crash Go, and Go's arguments read as
 * Go passes them, on a real Go program (test/attach/go/goapp, built here
 * with Debian's golang-go) whose `main.work(id int, name string, depth
 * int, out *log) int` recurses up to 180 frames of 512 bytes on fresh
 * goroutines (their stacks grow, i.e. are copied, under the probes),
 * returns early, recovers a panic and returns, or is unwound by a panic
 * without returning. The program writes one line per call that returned,
 * with its values and the latency bounds it measured itself.
 *
 * What each test proves:
 * - the crash is real: the same program under a kernel return probe (a
 *   hand-written plan, binary not marked Go) dies with "unknown caller
 *   pc"; and the attacher refuses that plan once the binary is marked Go;
 * - on the host, `uprobe+ret` on main.work for 100,000 calls compiles to
 *   uprobes on the entry and on every return instruction (no kernel
 *   return probe), the program survives, and every returned call is
 *   reported exactly once with its argN, gostr strings (whole and
 *   bounded) and retval, and a latency between what the function measured
 *   inside itself and what its caller measured around it;
 * - in a container, on the `-s -w` binary (functions from `.gopclntab`),
 *   the same, plus a method with a receiver and a closure targeted by
 *   their Go names;
 * - the attacher checks a hand-written plan itself: no pairing on ABI0
 *   code, a return point must name its entry, argN only within the
 *   point's ABI;
 * - C code keeps the kernel's return probe.
 *
 * The rounds are paced by the program (a millisecond's sleep every 64
 * calls per goroutine) so that the reader keeps up; `lost` must be 0.
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attach, compile, type AttachPlan, type AttachPoint, type ProbeEvent } from "../../../src/index.js";
import { ensureDockerd } from "../../support/dockerd.js";
import { buildGoApp, goAppImage, type GoApp } from "../go/build.js";
import { sleep, Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const GOROUTINES = 8;
const HOST_CALLS = 100_000;
const CONTAINER_CALLS = 20_000;
const NAME = "probec-go-return-probes";
/** The built attacher, run directly to see its own refusal (as test/attach/native.test.ts does). */
const HELPER = join(import.meta.dirname, "..", "..", "..", "prebuilds", `${process.platform}-${process.arch}`, "probec-attach");

const targets = new Targets();
let app: GoApp;
let host: string;
let image: string;

beforeAll(async () => {
  app = buildGoApp();
  host = await ensureDockerd();
  image = goAppImage(app);
}, 180_000);

afterAll(() => targets.cleanup());

/** One line of STATUS.calls: a call of main.work that returned. */
interface Call {
  readonly id: bigint;
  readonly depth: bigint;
  readonly result: bigint;
  readonly inner: bigint;
  readonly outer: bigint;
  readonly name: string;
}

function readCalls(target: Target): Call[] {
  return readFileSync(`${target.status.path}.calls`, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((line) => {
      const [id, depth, result, inner, outer, name] = line.split(" ");
      return { id: BigInt(id!), depth: BigInt(depth!), result: BigInt(result!), inner: BigInt(inner!), outer: BigInt(outer!), name: name! };
    });
}

/** The plan of a Go function's return probe: an entry point and only return-instruction points, all ABIInternal. */
function expectGoPoints(plan: AttachPlan, index: number): void {
  const entry = plan.probes[index]!;
  expect(entry.binary.code).toEqual({ language: "go", goVersion: expect.stringMatching(/^go1\.\d+/) });
  const sides = entry.points.map((p) => p.side);
  expect(sides[0]).toBe("entry");
  expect(sides.slice(1).length).toBeGreaterThanOrEqual(1);
  expect(new Set(sides.slice(1))).toEqual(new Set(["return-instruction"]));
  for (const p of entry.points) expect(p.abi).toBe("go-abiinternal");
  const entryCookie = entry.points[0]!.cookie;
  for (const p of entry.points.slice(1)) expect(p.pairedWith).toBe(entryCookie);
}

/**
 * Every returned call of `calls` is one event of `events` with the same
 * values, and no event is left over; the latency lies within the bounds the
 * program measured. Returns the mismatches (empty when all agree).
 */
function compareWork(calls: readonly Call[], events: readonly ProbeEvent[]): string[] {
  const byKey = new Map<string, ProbeEvent>();
  const problems: string[] = [];
  for (const e of events) {
    const key = `${e.fields.id}/${e.fields.depth}`;
    if (byKey.has(key)) problems.push(`call ${key} reported twice`);
    byKey.set(key, e);
  }
  for (const c of calls) {
    const key = `${c.id}/${c.depth}`;
    const e = byKey.get(key);
    byKey.delete(key);
    if (e === undefined) {
      problems.push(`call ${key} (${c.name}) not reported`);
      continue;
    }
    const want = { name: c.name, rc: c.result, retval: c.result };
    const got = { name: e.fields.name, rc: e.fields.rc, retval: e.retval === null ? null : BigInt.asIntN(64, e.retval) };
    if (JSON.stringify(got, big) !== JSON.stringify(want, big))
      problems.push(`call ${key}: got ${JSON.stringify(got, big)}, the program says ${JSON.stringify(want, big)}`);
    if ("short" in e.fields && e.fields.short !== c.name.slice(0, 4))
      problems.push(`call ${key}: gostr(arg1, 5) is ${String(e.fields.short)}, not ${c.name.slice(0, 4)}`);
    const latency = e.latency ?? -1n;
    if (latency < c.inner || latency > c.outer) problems.push(`call ${key}: latency ${latency} ns outside [${c.inner}, ${c.outer}] measured by the program`);
  }
  for (const key of byKey.keys()) problems.push(`event for ${key}, which the program did not return from`);
  return problems.slice(0, 10);
}

function big(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("the kernel's return probe on Go", () => {
  it("kills the program (a hand-written plan whose binary is not marked Go); marked Go, the attacher refuses the same plan", async () => {
    const status = `${targets.statusDir()}/status`;
    const child = spawn(app.plain, [status, "5000", String(GOROUTINES)], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, "exit");
    try {
      for (let i = 0; !readFileSync(status, { encoding: "utf8", flag: "a+" }).includes("ready"); i++) {
        if (i > 500) throw new Error("goapp did not become ready");
        await sleep(20);
      }
      const compiled = await compilePlan("go-kernel", `uprobe+ret pid/${child.pid}:exe:main.work { id = arg0 }\n`);
      const entry = compiled.probes[0]!;
      const [first] = entry.points;
      // What a tool unaware of Go would plan: a uretprobe at the entry, paired with it.
      const kernelReturn = { ...first!, cookie: 2, side: "return" as const, pairedWith: first!.cookie };
      const marked: AttachPlan = {
        ...compiled,
        probes: [
          {
            ...entry,
            points: [
              { ...first!, cookie: 1, pairedWith: 2 },
              { ...kernelReturn, pairedWith: 1 },
            ],
          },
        ],
      };
      const { code: _code, ...unmarkedBinary } = entry.binary;
      const unmarked: AttachPlan = { ...marked, probes: [{ ...marked.probes[0]!, binary: unmarkedBinary }] };

      // attach() checks the plan before it starts the helper...
      const refused = attach(marked);
      await expect(refused.ready).rejects.toThrow(
        /probes\[0\]\.points\[1\]\.side: expected "entry" or "return-instruction" on a Go binary \(a kernel return probe would crash it\)/,
      );
      await refused.close().catch(() => undefined);
      // ...and the helper refuses it on its own, for any other tool that hands it plans: an `error` frame, exit 2.
      const helper = spawnSync(HELPER, [], { input: JSON.stringify(marked), timeout: 10_000 });
      expect(helper.status).toBe(2);
      expect(helper.stdout.toString("latin1")).toContain(
        '"type":"error","message":"probes[0].points[1].side: a kernel return probe (\\"return\\") on a Go binary would crash it',
      );
      expect(alive(child.pid!)).toBe(true);

      const attachment = attach(unmarked);
      try {
        await attachment.ready;
        process.kill(child.pid!, "SIGUSR1");
        const [code] = await Promise.race([exited, sleep(20_000).then(() => ["still running"])]);
        expect(code).toBe(2);
        expect(stderr).toContain("unknown caller pc");
      } finally {
        await attachment.close().catch(() => undefined);
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    }
  }, 60_000);
});

describe("the attacher's own checks of a hand-written plan on a Go binary", () => {
  /**
   * A compiled uprobe+ret plan on goapp (host scope: nothing runs), changed
   * by `change`; resolves to the attacher's refusal: of the whole plan (an
   * error), or of its one entry (a `failed` status), else "attached".
   */
  async function refusal(change: (plan: AttachPlan) => AttachPlan, body = "{ latency }"): Promise<string> {
    const { plan } = await compile(`uprobe+ret host:${app.plain}:main.work ${body}\n`, { strategy: "host" });
    const attachment = attach(change(plan!));
    try {
      const ready = await attachment.ready;
      const failed = attachment.statuses.find((s) => s.type === "failed") as { reason?: string } | undefined;
      return ready.failed > 0 ? (failed?.reason ?? "failed") : "attached";
    } catch (error) {
      return (error as Error).message;
    } finally {
      await attachment.close().catch(() => undefined);
    }
  }
  const withPoints = (plan: AttachPlan, f: (p: AttachPoint, i: number) => AttachPoint): AttachPlan => ({
    ...plan,
    probes: [{ ...plan.probes[0]!, points: plan.probes[0]!.points.map(f) }],
  });

  it("refuses pairing an assembly (ABI0) point, which keeps no goroutine register", async () => {
    expect(await refusal((plan) => withPoints(plan, (p) => ({ ...p, abi: "go-abi0" })))).toMatch(
      /probes\[0\]\.points\[0\]\.abi: uprobe\+ret pairs Go calls by goroutine/,
    );
  });

  it("refuses a return point whose pairedWith names another return point", async () => {
    expect(await refusal((plan) => withPoints(plan, (p, i) => (i === 2 ? { ...p, pairedWith: plan.probes[0]!.points[1]!.cookie } : p)))).toMatch(
      /probes\[0\]\.points\[2\]\.pairedWith: cookie \d+ is not the other side of this point/,
    );
  });

  it("reads argN from Go's registers only as far as they go, and never from an ABI0 point", async () => {
    expect(await refusal((plan) => plan, "{ a = arg8 }")).toBe("attached");
    // The compiler refuses arg9 on Go; a hand-written program asks for it anyway.
    const arg9 = (plan: AttachPlan): AttachPlan => ({
      ...plan,
      probes: [{ ...plan.probes[0]!, program: { ...plan.probes[0]!.program!, fields: [{ name: "a", type: "int", expr: { op: "arg", index: 9 } }] } }],
    });
    const beyond = await refusal(arg9, "{ a = arg8 }");
    expect(beyond).toMatch(/arg9 is beyond the 9 argument registers of the go-abiinternal ABI/);
    const abi0 = await refusal(
      (plan) => ({ ...plan, probes: [{ ...plan.probes[0]!, kind: "uprobe", points: [{ ...plan.probes[0]!.points[0]!, abi: "go-abi0", pairedWith: null }] }] }),
      "{ a = arg0 }",
    );
    expect(abi0).toMatch(/is a Go ABI0 \(assembly\) function, whose arguments are on the stack/);
  });
});

describe("Go return probes on uprobes at every return instruction", () => {
  it(`host, ${HOST_CALLS} calls of main.work: the program survives, every returned call once, argN, gostr, retval and latency as the program says`, async () => {
    const target = await targets.host(app.plain, [String(HOST_CALLS), String(GOROUTINES)]);
    const plan = await compilePlan(
      "go-work",
      `uprobe+ret pid/${target.pid}:exe:main.work {\n  id = arg0\n  name = gostr(arg1)\n  short = gostr(arg1, 5)\n  depth = arg3\n  rc = retval\n  latency\n}\n`,
    );
    expectGoPoints(plan, 0);
    const trace = await Trace.start(plan);
    let events: ProbeEvent[];
    try {
      expect((await target.round()).at(-1)).toMatch(new RegExp(`^round 1 calls ${HOST_CALLS} adds \\d+$`));
      events = await trace.waitForEvents("probe1", HOST_CALLS, { timeoutMs: 30_000 });
    } finally {
      const summary = await trace.close();
      expect(summary.probes).toEqual([{ id: "probe1", hits: trace.events.length, lost: 0, attached: plan.probes[0]!.points.length, failed: 0 }]);
    }
    expect(alive(target.pid)).toBe(true);
    const calls = readCalls(target);
    expect(calls).toHaveLength(HOST_CALLS);
    // The round had deep calls (stack growth), early returns and recovered panics.
    expect(calls.some((c) => c.depth >= 120n)).toBe(true);
    expect(calls.some((c) => c.result === -1n)).toBe(true);
    expect(calls.some((c) => c.result === 1000n + c.id)).toBe(true);
    expect(calls.some((c) => c.name === "")).toBe(true);
    expect(compareWork(calls, events)).toEqual([]);
    for (const e of events) expect(e).toMatchObject({ side: "return", pid: target.pid, comm: "goapp" });
  }, 90_000);

  it(`container, -s -w binary, ${CONTAINER_CALLS} calls: main.work, the method main.(*Counter).Add and the closure main.round.func1 by their Go names`, async () => {
    const target = await targets.container(image, NAME, "goapp-stripped", [String(CONTAINER_CALLS), String(GOROUTINES)]);
    const plan = await compilePlan(
      "go-container",
      [
        `uprobe+ret docker/${NAME}:exe:main.work { id = arg0  name = gostr(arg1)  depth = arg3  rc = retval  latency }`,
        `uprobe+ret docker/${NAME}:exe:main.(*Counter).Add { recv = arg0  n = arg1  total = retval }`,
        `uprobe+ret docker/${NAME}:exe:main.round.func1 { g = arg0  latency }`,
      ].join("\n"),
      { docker: { host } },
    );
    expect(plan.probes.map((p) => p.points[0]!.site)).toMatchObject([{ name: "main.work" }, { name: "main.(*Counter).Add" }, { name: "main.round.func1" }]);
    for (const i of [0, 1, 2]) expectGoPoints(plan, i);
    expect(plan.probes[0]!.binary.containerPath).toBe("/app/goapp-stripped");
    expect(plan.probes[0]!.filter?.kind).toBe("container");

    const trace = await Trace.start(plan);
    let adds: number;
    try {
      const round = (await target.round()).at(-1) ?? "";
      const m = new RegExp(`^round 1 calls ${CONTAINER_CALLS} adds (\\d+)$`).exec(round);
      expect(m, round).not.toBeNull();
      adds = Number(m![1]);
      await trace.waitForEvents("probe1", CONTAINER_CALLS, { timeoutMs: 20_000 });
      await trace.waitForEvents("probe2", adds);
      await trace.waitForEvents("probe3", GOROUTINES);
    } finally {
      const summary = await trace.close();
      for (const p of summary.probes) expect(p.lost).toBe(0);
    }
    expect(alive(target.pid)).toBe(true);
    expect(compareWork(readCalls(target), trace.of("probe1"))).toEqual([]);

    // The method: one call per top-level call, arg0 the one receiver, arg1 the addend, retval the running total.
    const add = trace.of("probe2");
    expect(add).toHaveLength(adds);
    expect(new Set(add.map((e) => e.fields.recv)).size).toBe(1);
    expect(add.every((e) => e.fields.n === 1n)).toBe(true);
    expect(add.map((e) => Number(e.fields.total)).sort((a, b) => a - b)).toEqual(Array.from({ length: adds }, (_, i) => i + 1));

    // The closure: once per goroutine, each with its own g (arg0), and it ran for as long as its calls.
    const closure = trace.of("probe3");
    expect(closure.map((e) => Number(e.fields.g)).sort((a, b) => a - b)).toEqual(Array.from({ length: GOROUTINES }, (_, i) => i));
    for (const e of closure) expect(e.latency).toBeGreaterThan(0n);
    for (const e of [...trace.of("probe1"), ...add, ...closure]) expect(e).toMatchObject({ pid: target.pid, container: NAME });
  }, 90_000);
});

describe("C code", () => {
  it("keeps the kernel's return probe: uprobe+ret on libc's getpid plans an entry and a return point, System V", async () => {
    const plan = await compilePlan("c-ret", `uprobe+ret pid/${process.pid}:libc:getpid { latency }\n`);
    const entry = plan.probes[0]!;
    expect(entry.binary.code).toEqual({ language: "c", goVersion: null });
    expect(entry.points.map((p) => [p.side, p.abi])).toEqual([
      ["entry", "sysv"],
      ["return", "sysv"],
    ]);
    expect(entry.points[1]!.fileOffset).toBe(entry.points[0]!.fileOffset);
  });
});
