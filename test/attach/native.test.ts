/**
 * probec-attach run directly (no src/attach in between), on this machine's
 * kernel, with plans made by compile() for a small C program compiled here.
 * The program calls `work(n, name)` and fires the USDT probe `app:tick(n, name)`,
 * whose semaphore it reports, ROUNDS times per "go" line on its stdin.
 *
 * What each test proves:
 * - per mode (multi, pmu, legacy): function args, a return value, a
 *   uprobe+ret pair (args at return, latency), USDT args and strings arrive
 *   as frames with exactly the program's values; a sibling process running
 *   the same binary produces nothing (the pid filter); the USDT semaphore is
 *   raised while attached and back to 0 after; legacy event names are ours
 *   (`probec/pc_<pid>_<cookie>`); nothing is left in uprobe_events.
 * - a plan whose inode or build-id does not match fails that entry with a
 *   reason naming the field, and the other entries still attach;
 * - a bad plan on stdin gives `error` then `detached` and exit 2, and so
 *   does running without privileges, with a hint that says what is needed;
 * - the target exiting gives `targetExited` and a clean exit;
 * - a closed stdout and a dead parent detach; legacy events left by a
 *   SIGKILLed attacher are removed by the next one.
 *
 * The helper is the built one (npm run build:native, or bootstrap.sh); a
 * missing helper fails the tests, it does not skip them.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile/compile.js";
import type { AttachPlan } from "../../src/compile/plan.js";

const HELPER = join(import.meta.dirname, "..", "..", "prebuilds", `${process.platform}-${process.arch}`, "probec-attach");
const UPROBE_EVENTS = "/sys/kernel/tracing/uprobe_events";
const ROUNDS = 5;

const PROGRAM = String.raw`
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <string.h>
#include <sys/sdt.h>

#define ROUNDS ${ROUNDS}

/* The semaphore sys/sdt.h tests before evaluating the probe's arguments: the kernel raises it while attached. */
__extension__ unsigned short app_tick_semaphore __attribute__((unused)) __attribute__((section(".probes")));

__attribute__((noinline, used)) long work(long n, const char *name) {
  __asm__ volatile("" ::: "memory");
  return n * 10 + (long)strlen(name);
}

int main(void) {
  char line[64], name[32];
  long next = 0;
  printf("ready\n");
  fflush(stdout);
  while (fgets(line, sizeof line, stdin) != NULL) {
    if (strncmp(line, "quit", 4) == 0) break;
    if (strncmp(line, "go", 2) == 0) {
      for (int i = 0; i < ROUNDS; i++, next++) {
        snprintf(name, sizeof name, "item-%ld", next);
        work(next, name);
        STAP_PROBE2(app, tick, next, name);
      }
      printf("done\n");
    } else {
      printf("sem=%u\n", (unsigned)app_tick_semaphore);
    }
    fflush(stdout);
  }
  return 0;
}
`;

let dir: string;
let program: string;

beforeAll(() => {
  if (!existsSync(HELPER)) throw new Error(`${HELPER} is missing: build it with npm run build:native (scripts/bootstrap.sh does)`);
  if (!existsSync(UPROBE_EVENTS)) throw new Error(`${UPROBE_EVENTS} is missing: mount tracefs (scripts/bootstrap.sh does)`);
  dir = mkdtempSync(join(tmpdir(), "probec-native-"));
  writeFileSync(join(dir, "app.c"), PROGRAM);
  program = join(dir, "app");
  execFileSync("gcc", ["-O1", "-g", "-o", program, join(dir, "app.c")]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Lines from a child's stdout, awaited one at a time. */
class Lines {
  private lines: string[] = [];
  private wake: (() => void) | undefined;

  constructor(child: ChildProcess) {
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (text: string) => {
      this.lines.push(...text.split("\n").filter((l) => l !== ""));
      this.wake?.();
    });
  }

  async next(): Promise<string> {
    while (this.lines.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
    return this.lines.shift() as string;
  }
}

/** The test program: waits for lines on stdin. */
class App {
  readonly child: ChildProcess;
  private readonly out: Lines;

  constructor() {
    this.child = spawn(program, [], { stdio: ["pipe", "pipe", "inherit"] });
    this.out = new Lines(this.child);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  async ready(): Promise<void> {
    expect(await this.out.next()).toBe("ready");
  }

  /** ROUNDS calls of work() and ROUNDS ticks. */
  async go(): Promise<void> {
    this.child.stdin?.write("go\n");
    expect(await this.out.next()).toBe("done");
  }

  /** The USDT semaphore as the program sees it. */
  async semaphore(): Promise<number> {
    this.child.stdin?.write("sem\n");
    const line = await this.out.next();
    const m = /^sem=(\d+)$/.exec(line);
    if (m === null) throw new Error(`unexpected line from the program: ${line}`);
    return Number(m[1]);
  }

  async quit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.stdin?.end("quit\n");
    await exited;
  }
}

interface Status {
  type: string;
  [key: string]: unknown;
}

interface LayoutField {
  name: string;
  type: "int" | "string" | "header";
  offset: number;
  size: number;
}

/** One decoded event: the header's members and each field by name. */
interface Event {
  entry: number;
  cookie: bigint;
  pid: number;
  comm: string;
  latency: bigint;
  faultMask: number;
  fields: Record<string, bigint | string>;
}

/**
 * The attacher, with a frame reader written for this test (PROTOCOL.md:
 * u32 length, u32 type, payload; event payloads are struct
 * probec_event_header and the slots its `layout` gives).
 */
class Attacher {
  readonly child: ChildProcess;
  readonly statuses: Status[] = [];
  readonly events: Event[] = [];
  readonly exited: Promise<number | null>;
  private pending = Buffer.alloc(0);
  private layouts = new Map<number, LayoutField[]>();
  private cookieEntry = new Map<bigint, number>();
  private wake: (() => void) | undefined;

  constructor(plan: AttachPlan | string, args: string[] = []) {
    this.child = spawn(HELPER, args, { stdio: ["pipe", "pipe", "inherit"] });
    this.exited = once(this.child, "exit").then(([code]) => code as number | null);
    if (typeof plan !== "string") {
      plan.probes.forEach((probe, entry) => probe.points.forEach((p) => this.cookieEntry.set(BigInt(p.cookie), entry)));
    }
    this.child.stdout?.on("data", (chunk: Buffer) => this.read(chunk));
    this.child.stdout?.on("end", () => this.wake?.());
    this.child.stdin?.end(typeof plan === "string" ? plan : JSON.stringify(plan));
  }

  private read(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const length = this.pending.readUInt32LE(0);
      const type = this.pending.readUInt32LE(4);
      if (this.pending.length < 8 + length) break;
      const payload = this.pending.subarray(8, 8 + length);
      this.pending = this.pending.subarray(8 + length);
      if (type === 2) this.status(JSON.parse(payload.toString("utf8")) as Status);
      else if (type === 1) this.event(payload);
      else throw new Error(`frame type ${type}`);
    }
    this.wake?.();
  }

  private status(s: Status): void {
    this.statuses.push(s);
    if (s.type === "layout") this.layouts.set(s.entry as number, s.fields as LayoutField[]);
  }

  private event(p: Buffer): void {
    const cookie = p.readBigUInt64LE(0);
    const entry = this.cookieEntry.get(cookie);
    if (entry === undefined) throw new Error(`event with unknown cookie ${cookie}`);
    const fields: Record<string, bigint | string> = {};
    for (const f of this.layouts.get(entry) ?? []) {
      if (f.type === "int") fields[f.name] = p.readBigInt64LE(f.offset);
      else if (f.type === "string") fields[f.name] = cString(p.subarray(f.offset, f.offset + f.size));
    }
    this.events.push({
      entry,
      cookie,
      latency: p.readBigUInt64LE(16),
      pid: p.readUInt32LE(32),
      faultMask: p.readUInt32LE(44),
      comm: cString(p.subarray(56, 72)),
      fields,
    });
  }

  /** Resolves when `done()` holds, or rejects when the attacher has ended without it. */
  async until(what: string, done: () => boolean): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!done()) {
      if (this.child.stdout?.readableEnded === true) throw new Error(`probec-attach ended before ${what}: ${JSON.stringify(this.statuses)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(this.statuses)}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 200);
      });
    }
  }

  status1(type: string): Status | undefined {
    return this.statuses.find((s) => s.type === type);
  }

  async ready(): Promise<Status> {
    await this.until("ready", () => this.status1("ready") !== undefined);
    return this.status1("ready") as Status;
  }

  /** SIGTERM, then the exit code. */
  async stop(): Promise<number | null> {
    this.child.kill("SIGTERM");
    return this.exited;
  }
}

function cString(bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  return bytes.toString("utf8", 0, nul === -1 ? bytes.length : nul);
}

/** The status messages in a file of frames (events skipped). */
function framesIn(bytes: Buffer): Status[] {
  const out: Status[] = [];
  for (let at = 0; at + 8 <= bytes.length; ) {
    const length = bytes.readUInt32LE(at);
    if (at + 8 + length > bytes.length) break;
    if (bytes.readUInt32LE(at + 4) === 2) out.push(JSON.parse(bytes.toString("utf8", at + 8, at + 8 + length)) as Status);
    at += 8 + length;
  }
  return out;
}

async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * probec's legacy events in uprobe_events; with `owner`, only those of that
 * attacher. Other test files attach in legacy mode in parallel, so a check
 * that nothing is left must name whose events it means.
 */
function probecEvents(owner?: number): string[] {
  return readFileSync(UPROBE_EVENTS, "utf8")
    .split("\n")
    .filter((l) => l.includes(owner === undefined ? "probec/" : `probec/pc_${owner}_`));
}

/** The uprobe_multi links (`uprobe_multi` and `uretprobe_multi` in fdinfo) a process holds, as their point counts (`uprobe_cnt`), largest first. */
function uprobeMultiLinks(pid: number): number[] {
  const counts: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    } catch {
      continue;
    }
    if (!/^link_type:\s+u(?:ret)?probe_multi$/m.test(info)) continue;
    counts.push(Number(/^uprobe_cnt:\s+(\d+)$/m.exec(info)?.[1] ?? Number.NaN));
  }
  return counts.sort((a, b) => b - a);
}

/** The pid of the one child of `parent` (the attacher a shell forked). */
function onlyChildOf(parent: number): number {
  const children = readFileSync(`/proc/${parent}/task/${parent}/children`, "utf8")
    .trim()
    .split(/\s+/)
    .filter((c) => c !== "");
  expect(children).toHaveLength(1);
  return Number(children[0]);
}

async function planFor(source: string): Promise<AttachPlan> {
  const { plan, diagnostics } = await compile(source, { file: "native.test.probe" });
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return plan as AttachPlan;
}

/** Four entries on the program: function args, a return value, a pair, and the USDT site. */
function probesFor(pid: number): string {
  return `
uprobe pid/${pid}:exe:work {
  n = arg0
  name = str(arg1, 32)
}
uretprobe pid/${pid}:exe:work {
  rc = retval
}
uprobe+ret pid/${pid}:exe:work {
  n = arg0
  rc = retval
  latency
}
usdt pid/${pid}:exe:app:tick {
  n = arg0
  name = str(arg1)
  comm
}
`;
}

describe("probec-attach on this kernel", () => {
  for (const mode of ["multi", "pmu", "legacy"] as const) {
    it(`--mode ${mode}: the events carry the program's values, only from the target, and the semaphore is raised only while attached`, async () => {
      const app = new App();
      const sibling = new App();
      await Promise.all([app.ready(), sibling.ready()]);
      const plan = await planFor(probesFor(app.pid));
      expect(await app.semaphore()).toBe(0);

      const attacher = new Attacher(plan, ["--mode", mode]);
      const ready = await attacher.ready();
      expect(ready).toEqual({ type: "ready", attached: 4, failed: 0, points: 5 });
      expect(attacher.statuses[0]).toMatchObject({ type: "hello", version: 1, features: { uprobeMulti: true, pmu: true, cookies: true, legacy: true } });
      const attached = attacher.statuses.filter((s) => s.type === "attached");
      expect(attached.map((s) => [s.entry, s.mode])).toEqual([0, 1, 2, 3].map((e) => [e, mode]));
      // fd strategy: the kernel is handed the attacher's own descriptor, never a host path.
      for (const s of attached) expect(s.path).toMatch(/^\/proc\/self\/fd\/\d+$/);

      expect(await app.semaphore()).toBe(1);
      // The sibling runs the same file: multi and pmu raise the target's semaphore only; legacy's tracefs events are system-wide.
      expect(await sibling.semaphore()).toBe(mode === "legacy" ? 1 : 0);
      if (mode === "multi") {
        // All four entries are on one binary: one uprobe_multi link per side (entry, return), not one per entry;
        // the USDT point, which has a semaphore, is linked apart with the target's pid (PROTOCOL.md, "Semaphores").
        expect(uprobeMultiLinks(attacher.child.pid!)).toEqual([2, 2, 1]);
      }
      if (mode === "legacy") {
        const names = probecEvents(attacher.child.pid).map((l) => /^[pr]:probec\/(\S+) /.exec(l)?.[1]);
        expect(names).toHaveLength(5);
        for (const name of names) expect(name).toMatch(new RegExp(`^pc_${attacher.child.pid}_\\d+$`));
        for (const name of names) expect((name as string).length).toBeLessThanOrEqual(63);
      }

      await sibling.go();
      await app.go();
      // 5 entry + 5 return + 5 pairs + 5 ticks.
      await attacher.until("20 events", () => attacher.events.length >= 4 * ROUNDS);
      expect(await attacher.stop()).toBe(0);
      expect(attacher.statuses.slice(-2).map((s) => s.type)).toEqual(["lost", "detached"]);
      expect(attacher.statuses.at(-1)).toEqual({ type: "detached", reason: "SIGTERM" });
      expect(attacher.statuses.at(-2)).toEqual({ type: "lost", entries: {} });

      const { events } = attacher;
      expect(events).toHaveLength(4 * ROUNDS);
      expect(new Set(events.map((e) => e.pid))).toEqual(new Set([app.pid]));
      const of = (entry: number) => events.filter((e) => e.entry === entry);
      const names = [0, 1, 2, 3, 4].map((n) => `item-${n}`);
      expect(of(0).map((e) => e.fields)).toEqual(names.map((name, n) => ({ n: BigInt(n), name })));
      expect(of(1).map((e) => e.fields)).toEqual(names.map((name, n) => ({ rc: BigInt(n * 10 + name.length) })));
      expect(of(2).map((e) => [e.fields.n, e.fields.rc])).toEqual(names.map((name, n) => [BigInt(n), BigInt(n * 10 + name.length)]));
      for (const e of of(2)) expect(e.fields.latency).toBe(e.latency);
      for (const e of of(2)) expect(e.latency).toBeGreaterThan(0n);
      expect(of(3).map((e) => [e.fields, e.comm])).toEqual(names.map((name, n) => [{ n: BigInt(n), name }, "app"]));
      for (const e of events) expect(e.faultMask).toBe(0);

      // Detached: the kernel dropped its semaphore increment and every tracefs event of ours.
      expect(await app.semaphore()).toBe(0);
      expect(probecEvents(attacher.child.pid)).toEqual([]);
      await Promise.all([app.quit(), sibling.quit()]);
    });
  }

  it("a binary whose inode or build-id differs from the plan fails that entry with the field named; the others attach", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(probesFor(app.pid));
    const probes = plan.probes as AttachPlan["probes"];
    probes[0] = { ...probes[0]!, binary: { ...probes[0]!.binary, ino: "1" } };
    probes[1] = { ...probes[1]!, binary: { ...probes[1]!.binary, buildId: "00".repeat(20) } };
    const attacher = new Attacher(plan);
    expect(await attacher.ready()).toEqual({ type: "ready", attached: 2, failed: 2, points: 3 });
    const failed = attacher.statuses.filter((s) => s.type === "failed");
    expect(failed).toEqual([
      { type: "failed", entry: 0, reason: expect.stringMatching(/^binary\.ino mismatch: the plan says 1, .* has \d+/), errno: null, cookie: null },
      {
        type: "failed",
        entry: 1,
        reason: expect.stringMatching(/^binary\.buildId mismatch: the plan says 0{40}, .* has [0-9a-f]{40}/),
        errno: null,
        cookie: null,
      },
    ]);
    expect(attacher.statuses.filter((s) => s.type === "attached").map((s) => s.entry)).toEqual([2, 3]);
    expect(await attacher.stop()).toBe(0);
    expect(await app.semaphore()).toBe(0);
    await app.quit();
  });

  it("uprobe_multi: a point the kernel refuses fails only its own entry, not every entry on the binary", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(probesFor(app.pid));
    const probes = plan.probes as AttachPlan["probes"];
    // Entry 1 (the uretprobe) shares the return-side link with entry 2's return point; its offset is past the file's end.
    probes[1] = { ...probes[1]!, points: probes[1]!.points.map((p) => ({ ...p, fileOffset: 0x7fffffff })) };
    const attacher = new Attacher(plan, ["--mode", "multi"]);
    expect(await attacher.ready()).toEqual({ type: "ready", attached: 3, failed: 1, points: 4 });
    expect(attacher.statuses.filter((s) => s.type === "failed").map((s) => s.entry)).toEqual([1]);
    expect(attacher.statuses.filter((s) => s.type === "attached").map((s) => [s.entry, s.points])).toEqual([
      [0, 1],
      [2, 2],
      [3, 1],
    ]);
    // The entry side stays one link for its entries (the semaphore point apart, with the target's pid); the return side is entry 2's own link after the retry.
    expect(uprobeMultiLinks(attacher.child.pid!)).toEqual([2, 1, 1]);
    await app.go();
    await attacher.until("15 events", () => attacher.events.length >= 3 * ROUNDS);
    expect(await attacher.stop()).toBe(0);
    expect(new Set(attacher.events.map((e) => e.entry))).toEqual(new Set([0, 2, 3]));
    await app.quit();
  });

  it("fields that would not fit the layout message are refused by named limits, per entry", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(probesFor(app.pid));
    const probes = plan.probes as AttachPlan["probes"];
    const program0 = probes[0]!.program!;
    probes[0] = { ...probes[0]!, program: { ...program0, fields: [{ ...program0.fields[0]!, name: "x".repeat(200) }] } };
    const comm = { name: "c", type: "string" as const, expr: { op: "capture" as const, name: "comm" as const } };
    probes[3] = { ...probes[3]!, program: { ...probes[3]!.program!, fields: Array.from({ length: 300 }, (_, i) => ({ ...comm, name: `c${i}` })) } };
    const attacher = new Attacher(plan);
    expect(await attacher.ready()).toEqual({ type: "ready", attached: 2, failed: 2, points: 3 });
    expect(attacher.statuses.filter((s) => s.type === "failed").map((s) => [s.entry, s.reason])).toEqual([
      [0, expect.stringMatching(/has a name longer than LOWER_MAX_FIELD_NAME \(128\)$/)],
      [3, "program: more than LOWER_MAX_FIELDS (256) fields"],
    ]);
    expect(await attacher.stop()).toBe(0);
    await app.quit();
  });

  it("a plan that is not JSON, or of another version, is an error frame, then detached, and exit 2", async () => {
    for (const [text, message] of [
      ["{ not json", /^the plan is not valid JSON: line 1, column 3: expected a member name$/],
      [JSON.stringify({ planVersion: 3, probes: [] }), /^plan\.planVersion: this attacher executes version 2 plans, got 3$/],
      [JSON.stringify({ planVersion: 2, probes: [{ id: "x" }] }), /^probes\[0\]\.specText: expected a string, got nothing/],
    ] as const) {
      const attacher = new Attacher(text);
      expect(await attacher.exited).toBe(2);
      expect(attacher.statuses.map((s) => s.type)).toEqual(["hello", "error", "detached"]);
      expect(attacher.statuses[1]?.message).toMatch(message);
      expect(attacher.statuses[1]?.hint).toMatch(/probec compile/);
      expect(attacher.statuses[2]).toEqual({ type: "detached", reason: "error" });
    }
  });

  it("without privileges: an error whose hint says what it needs, and exit 2", () => {
    // nobody, with no capabilities at all (setpriv from util-linux).
    const run = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", HELPER], {
      input: JSON.stringify({ planVersion: 2, probes: [] }),
    });
    expect(run.status).toBe(2);
    const statuses = framesIn(run.stdout);
    expect(statuses.map((s) => s.type)).toEqual(["hello", "error", "detached"]);
    expect(statuses[1]).toEqual({
      type: "error",
      message: "the kernel refused to load a BPF program (EPERM): probec-attach is not privileged enough",
      hint: expect.stringMatching(/^probec-attach needs root, or CAP_BPF and CAP_PERFMON/),
    });
  });

  it("when the target exits: targetExited, detached, exit 0, nothing left behind", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(probesFor(app.pid));
    const attacher = new Attacher(plan, ["--mode", "legacy"]);
    await attacher.ready();
    await app.go();
    await app.quit();
    expect(await attacher.exited).toBe(0);
    expect(attacher.statuses.slice(-3)).toEqual([
      { type: "targetExited", pids: [app.pid] },
      { type: "lost", entries: {} },
      { type: "detached", reason: "targetExited" },
    ]);
    // Every event of the round was delivered before the attacher left.
    expect(attacher.events).toHaveLength(4 * ROUNDS);
    expect(probecEvents(attacher.child.pid)).toEqual([]);
  });

  it("when its parent dies (PR_SET_PDEATHSIG) it detaches with reason parent", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(probesFor(app.pid));
    writeFileSync(join(dir, "plan.json"), JSON.stringify(plan));
    const frames = join(dir, "frames.bin");
    // The shell forks the attacher (the `; true` keeps it from exec'ing) and is its parent.
    const shell = spawn("sh", ["-c", `'${HELPER}' --mode legacy < '${join(dir, "plan.json")}' > '${frames}'; true`], { stdio: "ignore" });
    const decoded = (): Status[] => framesIn(existsSync(frames) ? readFileSync(frames) : Buffer.alloc(0));
    await until(() => decoded().some((s) => s.type === "ready"));
    expect(await app.semaphore()).toBe(1);
    const attacherPid = onlyChildOf(shell.pid!);
    expect(probecEvents(attacherPid)).toHaveLength(5);
    shell.kill("SIGKILL");
    await until(() => decoded().some((s) => s.type === "detached"));
    expect(decoded().at(-1)).toEqual({ type: "detached", reason: "parent" });
    await until(() => probecEvents(attacherPid).length === 0);
    expect(await app.semaphore()).toBe(0);
    await app.quit();
  });

  it("legacy events left by a SIGKILLed attacher are removed by the next one", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(probesFor(app.pid));
    const killed = new Attacher(plan, ["--mode", "legacy"]);
    await killed.ready();
    killed.child.kill("SIGKILL");
    await killed.exited;
    // The kernel closed its perf events (so the semaphore is down), but the tracefs definitions stay.
    expect(probecEvents(killed.child.pid)).toHaveLength(5);
    expect(await app.semaphore()).toBe(0);

    const next = new Attacher(plan, ["--mode", "legacy"]);
    await next.ready();
    expect(probecEvents(killed.child.pid)).toEqual([]);
    expect(probecEvents(next.child.pid)).toHaveLength(5);
    expect(await next.stop()).toBe(0);
    expect(probecEvents(next.child.pid)).toEqual([]);
    await app.quit();
  });

  it("a reader that stops reading cannot keep SIGTERM from detaching it", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(probesFor(app.pid));
    const helper = spawn(HELPER, ["--mode", "multi"], { stdio: ["pipe", "pipe", "inherit"] });
    helper.stdin!.end(JSON.stringify(plan));
    // Read until `ready`, then stop reading: the pipe fills and the helper's writes can no longer complete.
    let seen = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer): void => {
        seen = Buffer.concat([seen, chunk]);
        if (framesIn(seen).some((st) => st.type === "ready")) {
          helper.stdout!.off("data", onData);
          helper.stdout!.pause();
          resolve();
        }
      };
      helper.stdout!.on("data", onData);
    });
    expect(uprobeMultiLinks(helper.pid!)).toEqual([2, 2, 1]);
    // Far more events than a pipe holds (64 KiB): 200 rounds of 20 events.
    for (let i = 0; i < 200; i++) await app.go();
    const exited = once(helper, "close");
    helper.kill("SIGTERM");
    // Detached while its final frames still wait for the reader.
    await until(() => uprobeMultiLinks(helper.pid!).length === 0);
    expect(await app.semaphore()).toBe(0);
    helper.stdout!.on("data", (chunk: Buffer) => (seen = Buffer.concat([seen, chunk])));
    helper.stdout!.resume();
    const [code] = await exited;
    expect(code).toBe(0);
    expect(framesIn(seen).at(-1)).toEqual({ type: "detached", reason: "SIGTERM" });
    await app.quit();
  });

  it("when its stdout is closed it detaches and leaves nothing behind", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(probesFor(app.pid));
    const attacher = new Attacher(plan, ["--mode", "legacy"]);
    await attacher.ready();
    expect(probecEvents(attacher.child.pid)).toHaveLength(5);
    expect(await app.semaphore()).toBe(1);
    attacher.child.stdout?.destroy();
    expect(await attacher.exited).toBe(0);
    expect(probecEvents(attacher.child.pid)).toEqual([]);
    expect(await app.semaphore()).toBe(0);
    await app.quit();
  });
});
