/**
 * probec-attach --follow run directly, on this machine's kernel: the plan
 * is stdin's first line, then commands (native/PROTOCOL.md, "Commands")
 * add entries, remove them and change a container filter's mount
 * namespaces while the session runs, in one helper with one BPF object and
 * one ring buffer (issue 14).
 *
 * What each test proves, per mode (multi, pmu, legacy):
 * - an added entry's events arrive with exactly the program's values, and
 *   the initial plan's entry keeps delivering every hit before, during and
 *   after the add and the remove (counts exact, none dropped);
 * - a removed entry leaves nothing: no uprobe_multi link (fdinfo), no
 *   tracefs event of its cookies, no raised semaphore, no event after;
 * - its index is used again by the next add, after `removed` (which comes
 *   after every event of the removed entry);
 * - uprobe_multi: an added process-filtered entry with a semaphore raises
 *   the semaphore in its process only, not in a sibling mapping the same
 *   file (one link per process, the kernel's consumer filter);
 * - `filter` adds and removes a mount namespace of a container-filtered
 *   entry: a process in another namespace (unshare -m) is kept only while
 *   its namespace is in the set;
 * - bad commands are `rejected` with a message naming the member, and the
 *   session goes on.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile/compile.js";
import { LineProgram } from "../support/line-program.js";
import type { AttachPlan } from "../../src/compile/plan.js";

const HELPER = join(import.meta.dirname, "..", "..", "prebuilds", `${process.platform}-${process.arch}`, "probec-attach");
const UPROBE_EVENTS = "/sys/kernel/tracing/uprobe_events";
const ROUNDS = 5;

/** Calls work(n) ROUNDS times and fires app:tick (with a semaphore) per "go" line; "sem" prints the semaphore. */
const PROGRAM = String.raw`
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <string.h>
#include <sys/sdt.h>

__extension__ unsigned short app_tick_semaphore __attribute__((unused)) __attribute__((section(".probes")));

__attribute__((noinline, used)) long work(long n) {
  __asm__ volatile("" ::: "memory");
  return n * 10;
}

int main(void) {
  char line[64];
  long next = 0;
  printf("ready\n");
  fflush(stdout);
  while (fgets(line, sizeof line, stdin) != NULL) {
    if (strncmp(line, "quit", 4) == 0) break;
    if (strncmp(line, "go", 2) == 0) {
      for (int i = 0; i < ${ROUNDS}; i++, next++) {
        work(next);
        STAP_PROBE1(app, tick, next);
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
  dir = mkdtempSync(join(tmpdir(), "probec-follow-"));
  writeFileSync(join(dir, "app.c"), PROGRAM);
  program = join(dir, "app");
  execFileSync("gcc", ["-O1", "-g", "-o", program, join(dir, "app.c")]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The test program, in the host's mount namespace or (with `ownMountNs`) in a new one made by unshare -m. */
class App extends LineProgram {
  constructor(ownMountNs = false) {
    // unshare execs the program: the pid is the program's.
    super(ownMountNs ? ["unshare", "-m", "--propagation", "private", program] : [program]);
  }

  get mntns(): number {
    return statSync(`/proc/${this.pid}/ns/mnt`).ino;
  }

  async ready(): Promise<void> {
    expect(await this.next()).toBe("ready");
  }

  async go(): Promise<void> {
    this.child.stdin?.write("go\n");
    expect(await this.next()).toBe("done");
  }

  async semaphore(): Promise<number> {
    this.child.stdin?.write("sem\n");
    const m = /^sem=(\d+)$/.exec(await this.next());
    if (m === null) throw new Error("unexpected line from the program");
    return Number(m[1]);
  }
}

interface Status {
  type: string;
  [key: string]: unknown;
}

interface Event {
  cookie: bigint;
  pid: number;
  n: bigint;
}

/** The attacher with --follow: the plan as one line, then commands, each line written as sent. */
class Follower {
  readonly child: ChildProcess;
  readonly statuses: Status[] = [];
  readonly events: Event[] = [];
  readonly exited: Promise<number | null>;
  private pending = Buffer.alloc(0);
  private offsets = new Map<number, number>(); /* entry → offset of its first int field (`n`) */
  private cookieEntry = new Map<bigint, number>();
  private wake: (() => void) | undefined;
  private nextId = 1;

  constructor(plan: AttachPlan, args: string[]) {
    this.child = spawn(HELPER, ["--follow", ...args], { stdio: ["pipe", "pipe", "inherit"] });
    this.exited = once(this.child, "exit").then(([code]) => code as number | null);
    this.child.stdout?.on("data", (chunk: Buffer) => this.read(chunk));
    this.child.stdout?.on("end", () => this.wake?.());
    this.child.stdin?.write(`${JSON.stringify(plan)}\n`);
  }

  private read(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const length = this.pending.readUInt32LE(0);
      const type = this.pending.readUInt32LE(4);
      if (this.pending.length < 8 + length) break;
      const payload = this.pending.subarray(8, 8 + length);
      this.pending = this.pending.subarray(8 + length);
      if (type === 2) {
        const s = JSON.parse(payload.toString("utf8")) as Status;
        this.statuses.push(s);
        if (s.type === "layout") {
          const n = (s.fields as { name: string; offset: number }[]).find((f) => f.name === "n");
          if (n === undefined) throw new Error("layout without n");
          this.offsets.set(s.entry as number, n.offset);
        }
      } else {
        const cookie = payload.readBigUInt64LE(0);
        const entry = this.cookieEntry.get(cookie);
        if (entry === undefined) throw new Error(`event with unknown cookie ${cookie}`);
        this.events.push({ cookie, pid: payload.readUInt32LE(32), n: payload.readBigInt64LE(this.offsets.get(entry) as number) });
      }
    }
    this.wake?.();
  }

  /** Which entry a cookie's events belong to (the test knows before the helper answers). */
  expect(cookies: number[], entry: number): void {
    for (const c of cookies) this.cookieEntry.set(BigInt(c), entry);
  }

  send(command: Record<string, unknown>): number {
    const id = this.nextId++;
    this.child.stdin?.write(`${JSON.stringify({ id, ...command })}\n`);
    return id;
  }

  sendRaw(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

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

  /** The reply to command `id` (added, removed, filtered or rejected). */
  async reply(id: number): Promise<Status> {
    const find = () => this.statuses.find((s) => s.id === id && ["added", "removed", "filtered", "rejected"].includes(s.type));
    await this.until(`the reply to command ${id}`, () => find() !== undefined);
    return find() as Status;
  }

  async stop(): Promise<number | null> {
    this.child.kill("SIGTERM");
    return this.exited;
  }
}

/** The uprobe_multi links a process holds, as their point counts, largest first. */
function uprobeMultiLinks(pid: number): number[] {
  const counts: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    } catch {
      continue;
    }
    if (/^link_type:\s+u(?:ret)?probe_multi$/m.test(info)) counts.push(Number(/^uprobe_cnt:\s+(\d+)$/m.exec(info)?.[1]));
  }
  return counts.sort((a, b) => b - a);
}

/** The perf events (uprobe PMU or tracefs) a process holds. */
function perfEvents(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (execFileSync("readlink", [`/proc/${pid}/fd/${fd}`], { encoding: "utf8" }).trim() === "anon_inode:[perf_event]") n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

/** This attacher's legacy events in uprobe_events, by cookie. */
function tracefsCookies(owner: number): number[] {
  return readFileSync(UPROBE_EVENTS, "utf8")
    .split("\n")
    .map((l) => new RegExp(`probec/pc_${owner}_(\\d+) `).exec(l)?.[1])
    .filter((c) => c !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

type PlanProbe = AttachPlan["probes"][number];

/** Compiles a source; every cookie moved up by `shift` so that plans of one session do not collide. */
async function probesFrom(source: string, shift: number): Promise<PlanProbe[]> {
  const { plan, diagnostics } = await compile(source, { file: "native-follow.test.probe" });
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return (plan as AttachPlan).probes.map((p) => ({
    ...p,
    points: p.points.map((pt) => ({ ...pt, cookie: pt.cookie + shift, ...(typeof pt.pairedWith === "number" ? { pairedWith: pt.pairedWith + shift } : {}) })),
  }));
}

const cookiesOf = (probes: PlanProbe[]) => probes.flatMap((p) => p.points.map((pt) => pt.cookie));
const nsOf = (from: number, count: number) => Array.from({ length: count }, (_, i) => BigInt(from + i));

describe("probec-attach --follow on this kernel", () => {
  for (const mode of ["multi", "pmu", "legacy"] as const) {
    it(`--mode ${mode}: add and remove entries while the initial entry keeps every hit; a removed entry leaves nothing behind`, async () => {
      const a = new App();
      const b = new App();
      await Promise.all([a.ready(), b.ready()]);
      const initial = await probesFrom(`uprobe pid/${a.pid}:exe:work { n = arg0 }`, 0);
      const { plan } = await compile(`uprobe pid/${a.pid}:exe:work { n = arg0 }`, { file: "native-follow.test.probe" });
      const follower = new Follower({ ...(plan as AttachPlan), probes: initial }, ["--mode", mode]);
      follower.expect(cookiesOf(initial), 0);
      await follower.until("ready", () => follower.statuses.some((s) => s.type === "ready"));
      const before = { links: uprobeMultiLinks(follower.child.pid!), perf: perfEvents(follower.child.pid!) };

      await a.go();
      // B's probes: a function entry and the USDT site with its semaphore, filtered to B.
      const added = await probesFrom(`uprobe pid/${b.pid}:exe:work { n = arg0 }\nusdt pid/${b.pid}:exe:app:tick { n = arg0 }`, 1000);
      follower.expect(cookiesOf(added.slice(0, 1)), 1);
      follower.expect(cookiesOf(added.slice(1)), 2);
      const add = follower.send({ command: "add", probes: added });
      expect(await follower.reply(add)).toEqual({ type: "added", id: add, entries: [1, 2], points: 2 });
      expect(follower.statuses.filter((s) => s.type === "attached").map((s) => [s.entry, s.mode, s.points])).toEqual([
        [0, mode, 1],
        [1, mode, 1],
        [2, mode, 1],
      ]);
      expect(await b.semaphore()).toBe(1);
      // uprobe_multi: B's semaphore entry is one link with B's pid, so A, which maps the same file, is not raised.
      if (mode === "multi") expect(await a.semaphore()).toBe(0);
      if (mode === "legacy") expect(tracefsCookies(follower.child.pid!)).toEqual([1, ...cookiesOf(added)]);

      await Promise.all([a.go(), b.go()]);
      await follower.until("A: 10 hits, B: 5 + 5", () => follower.events.length >= 20);

      const remove = follower.send({ command: "remove", entries: [1, 2] });
      expect(await follower.reply(remove)).toEqual({ type: "removed", id: remove, entries: [1, 2] });
      // Nothing of B's entries is left: links, perf events, tracefs events, the semaphore.
      expect(uprobeMultiLinks(follower.child.pid!)).toEqual(before.links);
      expect(perfEvents(follower.child.pid!)).toBe(before.perf);
      if (mode === "legacy") expect(tracefsCookies(follower.child.pid!)).toEqual([1]);
      expect(await b.semaphore()).toBe(0);

      await Promise.all([a.go(), b.go()]);
      await follower.until("A: 15 hits", () => follower.events.filter((e) => e.pid === a.pid).length >= 15);

      // The freed index is used again; its layout comes before its events.
      const again = await probesFrom(`uprobe pid/${b.pid}:exe:work { n = arg0 }`, 2000);
      follower.expect(cookiesOf(again), 1);
      const add2 = follower.send({ command: "add", probes: again });
      expect(await follower.reply(add2)).toMatchObject({ type: "added", entries: [1], points: 1 });
      await b.go();
      await follower.until("B: 5 more hits", () => follower.events.filter((e) => e.pid === b.pid).length >= 15);

      expect(await follower.stop()).toBe(0);
      expect(follower.statuses.at(-1)).toEqual({ type: "detached", reason: "SIGTERM" });
      const hits = (pid: number, cookie: number) => follower.events.filter((e) => e.pid === pid && e.cookie === BigInt(cookie)).map((e) => e.n);
      // A: every one of its 15 calls, before the add, between the add and the remove, and after the remove.
      expect(hits(a.pid, 1)).toEqual(nsOf(0, 15));
      // B: calls 0..4 by the first entries (function and USDT), nothing from calls 5..9 (removed), calls 10..14 by the second add.
      expect(hits(b.pid, added[0]!.points[0]!.cookie)).toEqual(nsOf(0, 5));
      expect(hits(b.pid, added[1]!.points[0]!.cookie)).toEqual(nsOf(0, 5));
      expect(hits(b.pid, again[0]!.points[0]!.cookie)).toEqual(nsOf(10, 5));
      expect(follower.events).toHaveLength(15 + 5 + 5 + 5);
      if (mode === "legacy") expect(tracefsCookies(follower.child.pid!)).toEqual([]);
      expect(await a.semaphore()).toBe(0);
      await Promise.all([a.quit(), b.quit()]);
    });
  }

  it("filter: a container-filtered entry keeps the hits of a mount namespace only while it is in the entry's set", async () => {
    const host = new App();
    const other = new App(true);
    await Promise.all([host.ready(), other.ready()]);
    expect(other.mntns).not.toBe(host.mntns);
    const { plan } = await compile(`uprobe pid/${host.pid}:exe:work { n = arg0 }`, { file: "native-follow.test.probe" });
    const follower = new Follower({ ...(plan as AttachPlan), probes: [] }, []);
    await follower.until("ready", () => follower.statuses.some((s) => s.type === "ready"));
    // One entry on the binary, filtered to the host's mount namespace (a container filter), as a plan over many containers makes it.
    const [probe] = await probesFrom(`uprobe pid/${host.pid}:exe:work { n = arg0 }`, 0);
    const entry = {
      ...probe!,
      target: { ...probe!.target, mntNs: host.mntns },
      filter: { kind: "container" as const, containerId: "0".repeat(64), cgroupPaths: [], pids: [] },
    };
    follower.expect(cookiesOf([entry]), 0);
    expect(await follower.reply(follower.send({ command: "add", probes: [entry] }))).toMatchObject({ type: "added", entries: [0] });

    await Promise.all([host.go(), other.go()]); // host 0..4 kept, other 0..4 not
    const add = follower.send({ command: "filter", entry: 0, add: [other.mntns] });
    expect(await follower.reply(add)).toEqual({ type: "filtered", id: add, entry: 0, added: 1, removed: 0 });
    await other.go(); // 5..9 kept
    const remove = follower.send({ command: "filter", entry: 0, remove: [other.mntns] });
    expect(await follower.reply(remove)).toEqual({ type: "filtered", id: remove, entry: 0, added: 0, removed: 1 });
    await Promise.all([other.go(), host.go()]); // other 10..14 not kept; host 5..9 kept
    await follower.until("15 events", () => follower.events.length >= 15);
    expect(await follower.stop()).toBe(0);
    expect(follower.events.filter((e) => e.pid === host.pid).map((e) => e.n)).toEqual(nsOf(0, 10));
    expect(follower.events.filter((e) => e.pid === other.pid).map((e) => e.n)).toEqual(nsOf(5, 5));
    expect(follower.events).toHaveLength(15);
    await Promise.all([host.quit(), other.quit()]);
  });

  it("filter: namespaces an added entry brings in its filter.mntNs are in the set `filter remove` edits", async () => {
    const host = new App();
    const other = new App(true);
    await Promise.all([host.ready(), other.ready()]);
    const { plan } = await compile(`uprobe pid/${host.pid}:exe:work { n = arg0 }`, { file: "native-follow.test.probe" });
    const follower = new Follower({ ...(plan as AttachPlan), probes: [] }, []);
    await follower.until("ready", () => follower.statuses.some((s) => s.type === "ready"));
    const [probe] = await probesFrom(`uprobe pid/${host.pid}:exe:work { n = arg0 }`, 0);
    const entry = {
      ...probe!,
      target: { ...probe!.target, mntNs: host.mntns },
      filter: { kind: "container" as const, containerId: "0".repeat(64), cgroupPaths: [], pids: [], mntNs: [other.mntns] },
    };
    follower.expect(cookiesOf([entry]), 0);
    expect(await follower.reply(follower.send({ command: "add", probes: [entry] }))).toMatchObject({ type: "added", entries: [0] });
    await other.go(); // 0..4 kept: the entry's own filter.mntNs
    const again = follower.send({ command: "filter", entry: 0, add: [other.mntns] });
    expect(await follower.reply(again)).toEqual({ type: "filtered", id: again, entry: 0, added: 0, removed: 0 });
    const remove = follower.send({ command: "filter", entry: 0, remove: [other.mntns] });
    expect(await follower.reply(remove)).toEqual({ type: "filtered", id: remove, entry: 0, added: 0, removed: 1 });
    await Promise.all([other.go(), host.go()]); // other 5..9 not kept; host 0..4 kept
    await follower.until("10 events", () => follower.events.length >= 10);
    expect(await follower.stop()).toBe(0);
    expect(follower.events.filter((e) => e.pid === other.pid).map((e) => e.n)).toEqual(nsOf(0, 5));
    expect(follower.events.filter((e) => e.pid === host.pid).map((e) => e.n)).toEqual(nsOf(0, 5));
    expect(follower.events).toHaveLength(10);
    await Promise.all([host.quit(), other.quit()]);
  });

  it("bad commands are rejected with a message naming the member, and the session goes on", async () => {
    const app = new App();
    await app.ready();
    const initial = await probesFrom(`uprobe pid/${app.pid}:exe:work { n = arg0 }`, 0);
    const { plan } = await compile(`uprobe pid/${app.pid}:exe:work { n = arg0 }`, { file: "native-follow.test.probe" });
    const follower = new Follower({ ...(plan as AttachPlan), probes: initial }, []);
    follower.expect(cookiesOf(initial), 0);
    await follower.until("ready", () => follower.statuses.some((s) => s.type === "ready"));
    const rejected = () => follower.statuses.filter((s) => s.type === "rejected");

    follower.sendRaw("{not json");
    follower.sendRaw(JSON.stringify({ command: "add" }));
    await follower.until("two rejections", () => rejected().length === 2);
    expect(rejected()[0]).toEqual({ type: "rejected", id: null, message: expect.stringMatching(/^the command is not valid JSON: /) });
    expect(rejected()[1]).toMatchObject({ id: null, message: expect.stringContaining("`id`") });

    const cases: [Record<string, unknown>, RegExp][] = [
      [{ command: "attach" }, /^command: unknown command "attach"; expected add, remove, filter or report$/],
      [{ command: "report", reset: "yes" }, /^report\.reset: expected true or false$/],
      [{ command: "remove", entries: [0] }, /^remove\.entries\[0\]: entry 0 belongs to the initial plan/],
      [{ command: "remove", entries: [7] }, /^remove\.entries\[0\]: entry 7 is not attached$/],
      [{ command: "remove", entries: [] }, /^remove\.entries: expected a non-empty array/],
      [{ command: "add", probes: initial }, /^add\.probes\[0\]: cookie 1 is used by an entry still attached/],
      [{ command: "add", probes: [{ ...initial[0]!, points: [] }] }, /^add\.probes\[0\]\.points: the entry has no points$/],
      [{ command: "add", probes: [{ ...initial[0]!, kind: "kprobe" }] }, /^add\.probes\[0\]\.kind: /],
      [{ command: "add", probes: {} }, /^add\.probes: expected an array of plan entries, got an object$/],
      [{ command: "filter", entry: 0, add: [1] }, /^filter\.entry: expected the index of an entry added with `add`/],
    ];
    for (const [command, message] of cases) {
      const id = follower.send(command);
      const reply = await follower.reply(id);
      expect(reply.type).toBe("rejected");
      expect(reply.message).toMatch(message);
    }
    // A process-filtered entry has no namespaces to change.
    const [added] = await probesFrom(`uprobe pid/${app.pid}:exe:work { n = arg0 }`, 100);
    follower.expect(cookiesOf([added!]), 1);
    expect(await follower.reply(follower.send({ command: "add", probes: [added] }))).toMatchObject({ type: "added", entries: [1] });
    const filter = await follower.reply(follower.send({ command: "filter", entry: 1, add: [4026531840] }));
    expect(filter.message).toMatch(/^filter\.entry: the entry has no container filter/);
    const badNs = await follower.reply(follower.send({ command: "filter", entry: 1, add: ["x"] }));
    expect(badNs.type).toBe("rejected");

    // Still running: both entries see the calls.
    await app.go();
    await follower.until("10 events", () => follower.events.length >= 10);
    expect(await follower.stop()).toBe(0);
    expect(follower.events).toHaveLength(10);
    await app.quit();
  });
});
