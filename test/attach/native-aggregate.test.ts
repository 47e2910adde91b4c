/**
 * probec-attach's in-kernel aggregations and user stacks (issue 15;
 * native/PROTOCOL.md, "Aggregations"), run directly on this machine's
 * kernel with hand-written plan programs on a small C program compiled
 * here. `range A B` calls work(i, "k<i % 3>") for i = A..B; `stack` calls
 * work(7, "stack") through top_a → mid_b → leaf_c, `other` through
 * other → leaf_c.
 *
 * What each test proves, with exact values:
 * - per mode (multi, pmu, legacy): count by an integer key,
 *   sum/min/max/avg/stats, by a string, by comm and by container, a `where`
 *   filter, hist buckets of 1..1000 equal to histBucket and lhist buckets
 *   equal to lhistBucket, in the final report sent before `lost` and
 *   `detached`;
 * - --aggregate-interval-ms: periodic reports that reset (their counts add
 *   up to the hits, exactly, and each hit is in one report only);
 * - a map smaller than the keys (aggregation.mapKeys): the rows that fit
 *   and the dropped hits, exactly;
 * - a ustack field: its layout, frame counts, and return addresses inside
 *   the program's own mapping; one stackProcess per process, before the
 *   events;
 * - count by ustack: one row per distinct stack, with pid and frames; a
 *   stack whose key was reset is stored again for the next report;
 * - a report larger than the output buffer arrives whole;
 * - --follow: `report` with and without reset, aggregations of added
 *   entries, `remove` deleting their keys, the final report;
 * - bad aggregations fail their entry with the member named.
 *
 * The helper is the built one (npm run build:native); a missing helper
 * fails the tests, it does not skip them.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile/compile.js";
import { LineProgram } from "../support/line-program.js";
import type { AttachPlan, PlanAggregate, PlanExpr, PlanProbe, PlanProgram } from "../../src/plan/index.js";
import { histBucket, lhistBucket } from "../../src/plan/index.js";

const HELPER = join(import.meta.dirname, "..", "..", "prebuilds", `${process.platform}-${process.arch}`, "probec-attach");

const PROGRAM = String.raw`
#include <stdio.h>
#include <string.h>

__attribute__((noinline, used)) long work(long n, const char *name) {
  __asm__ volatile("" ::: "memory");
  return n + (long)strlen(name);
}

__attribute__((noinline, used)) long leaf_c(long n) {
  long r = work(n, "stack");
  __asm__ volatile("" ::: "memory");
  return r + 1;
}

__attribute__((noinline, used)) long mid_b(long n) {
  long r = leaf_c(n);
  __asm__ volatile("" ::: "memory");
  return r + 1;
}

__attribute__((noinline, used)) long top_a(long n) {
  long r = mid_b(n);
  __asm__ volatile("" ::: "memory");
  return r + 1;
}

__attribute__((noinline, used)) long other(long n) {
  long r = leaf_c(n);
  __asm__ volatile("" ::: "memory");
  return r + 2;
}

int main(void) {
  char line[128], name[32];
  printf("ready\n");
  fflush(stdout);
  while (fgets(line, sizeof line, stdin) != NULL) {
    long a, b;
    if (strncmp(line, "quit", 4) == 0) break;
    if (sscanf(line, "range %ld %ld", &a, &b) == 2) {
      for (long i = a; i <= b; i++) {
        snprintf(name, sizeof name, "k%ld", i % 3);
        work(i, name);
      }
    } else if (strncmp(line, "stack", 5) == 0) {
      top_a(7);
    } else if (strncmp(line, "other", 5) == 0) {
      other(7);
    }
    printf("done\n");
    fflush(stdout);
  }
  return 0;
}
`;

let dir: string;
let program: string;

beforeAll(() => {
  if (!existsSync(HELPER)) throw new Error(`${HELPER} is missing: build it with npm run build:native (scripts/bootstrap.sh does)`);
  dir = mkdtempSync(join(tmpdir(), "probec-native-agg-"));
  writeFileSync(join(dir, "aggapp.c"), PROGRAM);
  program = join(dir, "aggapp");
  // Frame pointers: the kernel walks the user stack by them.
  execFileSync("gcc", ["-O1", "-g", "-fno-omit-frame-pointer", "-o", program, join(dir, "aggapp.c")]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The test program: one command a line, answered by "done". */
class App extends LineProgram {
  constructor() {
    super([program]);
  }

  async ready(): Promise<void> {
    expect(await this.next()).toBe("ready");
  }

  /** Like LineProgram's, but "done" must be the very next line. */
  override async run(command: string): Promise<void> {
    this.child.stdin?.write(`${command}\n`);
    expect(await this.next()).toBe("done");
  }

  /** The address ranges the program's own file is mapped at. */
  ownMappings(): [bigint, bigint][] {
    return readFileSync(`/proc/${this.pid}/maps`, "utf8")
      .split("\n")
      .filter((l) => l.endsWith(` ${program}`))
      .map((l) => {
        const [low, high] = (l.split(" ")[0] as string).split("-");
        return [BigInt(`0x${low}`), BigInt(`0x${high}`)];
      });
  }
}

interface Status {
  type: string;
  [key: string]: unknown;
}

interface Row {
  keys: unknown[];
  bucket?: number;
  count: string;
  sum: string;
  min: string;
  max: string;
}

interface Report {
  type: "aggregate";
  seq: number;
  final: boolean;
  reset: boolean;
  entry: number;
  aggregate: number;
  dropped: string;
  rows: Row[];
}

/** One event of a printing probe: its pid and raw payload. */
interface RawEvent {
  at: number;
  pid: number;
  payload: Buffer;
}

/** The attacher with a frame reader (PROTOCOL.md: u32 length, u32 type, payload). */
class Attacher {
  readonly child: ChildProcess;
  readonly statuses: (Status & { at: number })[] = [];
  readonly events: RawEvent[] = [];
  readonly exited: Promise<number | null>;
  private pending = Buffer.alloc(0);
  private arrivals = 0;
  private wake: (() => void) | undefined;
  private nextId = 1;

  constructor(plan: AttachPlan, args: string[] = [], follow = false) {
    this.child = spawn(HELPER, follow ? ["--follow", ...args] : args, { stdio: ["pipe", "pipe", "inherit"] });
    this.exited = once(this.child, "exit").then(([code]) => code as number | null);
    this.child.stdout?.on("data", (chunk: Buffer) => this.read(chunk));
    this.child.stdout?.on("end", () => this.wake?.());
    if (follow) this.child.stdin?.write(`${JSON.stringify(plan)}\n`);
    else this.child.stdin?.end(JSON.stringify(plan));
  }

  private read(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const length = this.pending.readUInt32LE(0);
      const type = this.pending.readUInt32LE(4);
      if (this.pending.length < 8 + length) break;
      const payload = Buffer.from(this.pending.subarray(8, 8 + length));
      this.pending = this.pending.subarray(8 + length);
      const at = this.arrivals++;
      if (type === 2) this.statuses.push({ ...(JSON.parse(payload.toString("utf8")) as Status), at });
      else if (type === 1) this.events.push({ at, pid: payload.readUInt32LE(32), payload });
      else throw new Error(`frame type ${type}`);
    }
    this.wake?.();
  }

  send(command: Record<string, unknown>): number {
    const id = this.nextId++;
    this.child.stdin?.write(`${JSON.stringify({ id, ...command })}\n`);
    return id;
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

  async ready(): Promise<Status> {
    await this.until("ready", () => this.of("ready").length > 0);
    return this.of("ready")[0] as Status;
  }

  /** The reply to command `id`. */
  async reply(id: number, type: string): Promise<Status & { at: number }> {
    const find = () => this.statuses.find((s) => s.id === id && (s.type === type || s.type === "rejected"));
    await this.until(`the reply to command ${id}`, () => find() !== undefined);
    return find() as Status & { at: number };
  }

  of(type: string): (Status & { at: number })[] {
    return this.statuses.filter((s) => s.type === type);
  }

  /** The `aggregate` messages of report `seq`. */
  report(seq: number): Report[] {
    return this.statuses.filter((s) => s.type === "aggregate" && s.seq === seq) as unknown as Report[];
  }

  /** Every status without its arrival index (for exact comparisons). */
  plain(type: string): Status[] {
    return this.of(type).map(({ at: _, ...s }) => s);
  }

  async stop(): Promise<number | null> {
    this.child.kill("SIGTERM");
    return this.exited;
  }
}

const arg = (index: number): PlanExpr => ({ op: "arg", index });
const int = (value: number): PlanExpr => ({ op: "int", value: String(value) });
const mod = (left: PlanExpr, right: number): PlanExpr => ({ op: "binary", operator: "%", left, right: int(right) });
const comm: PlanExpr = { op: "capture", name: "comm" };
const container: PlanExpr = { op: "capture", name: "container" };
const name16: PlanExpr = { op: "str", arg: arg(1), maxLen: 16 };

function aggregate(fn: PlanAggregate["fn"], value: PlanExpr | null, by: PlanExpr[] = [], lhist: PlanAggregate["lhist"] = null): PlanAggregate {
  return { fn, value, by, lhist, text: fn };
}

function programOf(aggregates: PlanAggregate[], filter: PlanExpr | null = null): PlanProgram {
  return { fields: [], filter, format: null, aggregates, strlen: 64 };
}

/** A plan of `count` uprobes on work() in process `pid`, each with the program given. */
async function planFor(pid: number, programs: PlanProgram[]): Promise<AttachPlan> {
  const source = programs.map(() => `uprobe pid/${pid}:exe:work {\n  n = arg0\n}\n`).join("");
  const { plan, diagnostics } = await compile(source, { file: "native-aggregate.test.probe" });
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const probes = (plan as AttachPlan).probes.map((p, i) => ({ ...p, program: programs[i] as PlanProgram }));
  return { planVersion: 2, probes };
}

/** Rows as comparable values, in a stable order. */
function sorted(rows: Row[]): Row[] {
  return [...rows].sort((a, b) => (a.bucket ?? 0) - (b.bucket ?? 0) || JSON.stringify(a.keys).localeCompare(JSON.stringify(b.keys)));
}

/** The rows count/sum/min/max of `values` grouped by `keyOf` (and by `bucketOf` when given) would give. */
function expectedRows(values: bigint[], keyOf: (v: bigint) => unknown[], bucketOf?: (v: bigint) => number): Row[] {
  const groups = new Map<string, { keys: unknown[]; bucket?: number; values: bigint[] }>();
  for (const v of values) {
    const keys = keyOf(v);
    const bucket = bucketOf?.(v);
    const id = JSON.stringify([keys, bucket]);
    const g = groups.get(id) ?? { keys, bucket, values: [] };
    g.values.push(v);
    groups.set(id, g);
  }
  return sorted(
    [...groups.values()].map((g) => {
      const ascending = [...g.values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return {
        keys: g.keys,
        ...(g.bucket === undefined ? {} : { bucket: g.bucket }),
        count: String(g.values.length),
        sum: String(g.values.reduce((a, b) => a + b, 0n)),
        min: String(ascending[0]),
        max: String(ascending.at(-1)),
      };
    }),
  );
}

/** A `count`'s rows: it aggregates no value, so its sum, min and max are 0. */
const counted = (rows: Row[]): Row[] => rows.map((r) => ({ ...r, sum: "0", min: "0", max: "0" }));

const range = (from: number, to: number): bigint[] => Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));

function hostMntns(): string {
  return /mnt:\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/mnt"))?.[1] as string;
}

/** Return addresses as numbers, from a stack key or field. */
function addresses(frames: string[]): bigint[] {
  for (const f of frames) expect(f).toMatch(/^0x[0-9a-f]+$/);
  return frames.map((f) => BigInt(f));
}

const inside = (ranges: [bigint, bigint][], a: bigint): boolean => ranges.some(([low, high]) => a >= low && a < high);

describe("probec-attach aggregations on this kernel", () => {
  for (const mode of ["multi", "pmu", "legacy"] as const) {
    it(`--mode ${mode}: count, sum, min, max, avg, stats by int, string, comm and container keys, hist and lhist: exact, in the final report before detached`, async () => {
      const app = new App();
      await app.ready();
      const lhist = { min: 0, max: 100, step: 10 };
      const plan = await planFor(app.pid, [
        programOf([
          aggregate("count", null, [mod(arg(0), 3)]),
          aggregate("sum", arg(0)),
          aggregate("min", arg(0), [name16]),
          aggregate("max", arg(0), [comm]),
          aggregate("stats", arg(0), [container, mod(arg(0), 2)]),
          aggregate("hist", arg(0)),
          aggregate("lhist", arg(0), [], lhist),
          aggregate("avg", { op: "binary", operator: "-", left: arg(0), right: int(500) }),
        ]),
        // A second entry on the same function: only what its `where` keeps.
        programOf(
          [
            aggregate("count", null),
            // arg0 is a number, not an address: both string reads fault, their keys are null, and the key after them stays.
            aggregate("count", null, [{ op: "str", arg: arg(0), maxLen: 8 }, { op: "gostr", index: 0, maxLen: 8 }, mod(arg(0), 2)]),
          ],
          { op: "binary", operator: ">", left: arg(0), right: int(900) },
        ),
      ]);
      const attacher = new Attacher(plan, ["--mode", mode]);
      expect(await attacher.ready()).toMatchObject({ type: "ready", attached: 2, failed: 0 });
      // An aggregating entry lays out no fields and sends no events.
      expect(attacher.plain("layout")).toEqual([
        { type: "layout", entry: 0, eventSize: 72, fields: [] },
        { type: "layout", entry: 1, eventSize: 72, fields: [] },
      ]);
      await app.run("range 1 1000");
      expect(await attacher.stop()).toBe(0);
      expect(attacher.events).toEqual([]);

      const tail = attacher.statuses.slice(-13).map(({ at: _, ...s }) => s);
      expect(tail.map((s) => [s.type, s.entry, s.aggregate])).toEqual([
        ...[0, 1, 2, 3, 4, 5, 6, 7].map((a) => ["aggregate", 0, a]),
        ["aggregate", 1, 0],
        ["aggregate", 1, 1],
        ["aggregatesDone", undefined, undefined],
        ["lost", undefined, undefined],
        ["detached", undefined, undefined],
      ]);
      for (const s of tail.slice(0, 11)) expect(s).toMatchObject({ seq: 1, final: true, reset: false });
      for (const s of tail.slice(0, 10)) expect(s.dropped).toBe("0");

      const values = range(1, 1000);
      const rows = (a: number, entry = 0) => sorted((tail.find((s) => s.entry === entry && s.aggregate === a) as unknown as Report).rows);
      expect(rows(0)).toEqual(counted(expectedRows(values, (v) => [String(v % 3n)])));
      expect(rows(0).map((r) => r.count)).toEqual(["333", "334", "333"]);
      expect(rows(1)).toEqual([{ keys: [], count: "1000", sum: "500500", min: "1", max: "1000" }]);
      expect(rows(2)).toEqual(expectedRows(values, (v) => [`k${v % 3n}`]));
      expect(rows(3)).toEqual(expectedRows(values, () => ["aggapp"]));
      expect(rows(4)).toEqual(expectedRows(values, (v) => [{ mntns: hostMntns() }, String(v % 2n)]));
      expect(rows(5)).toEqual(expectedRows(values, () => [], histBucket));
      expect(rows(5).map((r) => [r.bucket, r.count])).toEqual([
        [2, "1"],
        [3, "2"],
        [4, "4"],
        [5, "8"],
        [6, "16"],
        [7, "32"],
        [8, "64"],
        [9, "128"],
        [10, "256"],
        [11, "489"],
      ]);
      expect(rows(6)).toEqual(
        expectedRows(
          values,
          () => [],
          (v) => lhistBucket(v, lhist),
        ),
      );
      expect(rows(6).find((r) => r.bucket === 11)?.count).toBe("901"); // 100..1000: at or above max
      expect(rows(7)).toEqual([{ keys: [], count: "1000", sum: "500", min: "-499", max: "500" }]);
      expect(rows(0, 1)).toEqual([{ keys: [], count: "100", sum: "0", min: "0", max: "0" }]);
      expect(rows(1, 1)).toEqual(counted(expectedRows(range(901, 1000), (v) => [null, null, String(v % 2n)])));
      await app.quit();
    });
  }

  it("--aggregate-interval-ms: periodic reports that reset, every hit in exactly one of them", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(app.pid, [programOf([aggregate("sum", arg(0)), aggregate("count", null, [mod(arg(0), 2)])])]);
    const attacher = new Attacher(plan, ["--aggregate-interval-ms", "150"]);
    await attacher.ready();
    const totals = () => {
      let count = 0n;
      let sum = 0n;
      for (const r of attacher.of("aggregate") as unknown as Report[]) {
        if (r.aggregate !== 0) continue;
        for (const row of r.rows) {
          count += BigInt(row.count);
          sum += BigInt(row.sum);
        }
      }
      return { count, sum };
    };
    await app.run("range 1 10");
    await attacher.until("the first 10 hits reported", () => totals().count === 10n);
    const before = attacher.of("aggregatesDone").length;
    // Reports keep coming while nothing happens: only aggregatesDone, since every key was reset.
    await attacher.until("two more reports", () => attacher.of("aggregatesDone").length >= before + 2);
    expect(totals()).toEqual({ count: 10n, sum: 55n });
    await app.run("range 1 5");
    await attacher.until("5 more hits reported", () => totals().count === 15n);
    expect(await attacher.stop()).toBe(0);
    expect(totals()).toEqual({ count: 15n, sum: 70n });

    const done = attacher.plain("aggregatesDone");
    expect(done.map((d) => d.seq)).toEqual(done.map((_, i) => i + 1));
    for (const d of done.slice(0, -1)) expect(d).toMatchObject({ final: false, reset: true });
    expect(done.at(-1)).toMatchObject({ final: true, reset: false });
    for (const r of attacher.of("aggregate") as unknown as Report[]) {
      expect(r.reset).toBe(!r.final);
      // Every message of a report comes before its aggregatesDone.
      const end = attacher.of("aggregatesDone").find((d) => d.seq === r.seq);
      expect((r as unknown as { at: number }).at).toBeLessThan(end?.at as number);
    }
    // Per key too: 1..10 and 1..5 hold 5 + 2 even and 5 + 3 odd values.
    const perKey = new Map<string, bigint>();
    for (const r of attacher.of("aggregate") as unknown as Report[])
      if (r.aggregate === 1) for (const row of r.rows) perKey.set(String(row.keys[0]), (perKey.get(String(row.keys[0])) ?? 0n) + BigInt(row.count));
    expect(Object.fromEntries(perKey)).toEqual({ "0": 7n, "1": 8n });
    await app.quit();
  });

  it("a map with fewer keys than the hits need: the keys that fit, and the others' hits counted as dropped", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(app.pid, [programOf([aggregate("count", null, [arg(0)])])]);
    const attacher = new Attacher({ ...plan, aggregation: { intervalMs: null, mapKeys: 16 } });
    await attacher.ready();
    await app.run("range 1 20");
    await app.run("range 1 20");
    // The target's exit ends the session: the final report still comes, before lost and detached.
    await app.quit();
    expect(await attacher.exited).toBe(0);
    const [report] = attacher.report(1);
    expect(report).toMatchObject({ final: true, reset: false });
    expect(report?.rows).toHaveLength(16);
    for (const row of report?.rows ?? []) expect(row.count).toBe("2");
    // 4 keys found no room, twice each.
    expect(report?.dropped).toBe("8");
    expect(attacher.statuses.slice(-5).map((s) => s.type)).toEqual(["targetExited", "aggregate", "aggregatesDone", "lost", "detached"]);
    expect(attacher.plain("detached")).toEqual([{ type: "detached", reason: "targetExited" }]);
  });

  it("a report larger than the output buffer (256 KiB) arrives whole, in one message", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(app.pid, [programOf([aggregate("sum", arg(0), [arg(0), name16])])]);
    const attacher = new Attacher(plan);
    await attacher.ready();
    await app.run("range 1 5000");
    expect(await attacher.stop()).toBe(0);
    const [report] = attacher.report(1);
    expect(report?.rows).toHaveLength(5000);
    expect(sorted(report?.rows ?? [])).toEqual(expectedRows(range(1, 5000), (v) => [String(v), `k${v % 3n}`]));
    await app.quit();
  });

  it("a ustack key after a reset: the stack is stored again and the next report names its frames", async () => {
    const app = new App();
    await app.ready();
    // On one CPU: its hits after the reset run where the stack was last found stored, which must not be trusted after
    // the attacher removed it (the CPU's memory of it belongs to an earlier stacks_epoch).
    execFileSync("taskset", ["-p", "-c", "0", String(app.pid)], { stdio: "ignore" });
    const plan = await planFor(app.pid, [programOf([aggregate("count", null, [{ op: "ustack", frames: 8 }])])]);
    const attacher = new Attacher({ planVersion: 2, probes: [] }, [], true);
    await attacher.ready();
    await attacher.reply(attacher.send({ command: "add", probes: plan.probes }), "added");
    await app.run("stack");
    await attacher.reply(attacher.send({ command: "report", reset: true }), "reported");
    await app.run("stack");
    await app.run("stack");
    await attacher.reply(attacher.send({ command: "report", reset: true }), "reported");
    const [before] = attacher.report(1);
    const [after] = attacher.report(2);
    expect(before?.rows.map((r) => r.count)).toEqual(["1"]);
    expect(after?.rows.map((r) => r.count)).toEqual(["2"]);
    const frames = (r: Report | undefined) => (r?.rows[0]?.keys[0] as { frames: string[] } | null)?.frames;
    expect(frames(after)).toEqual(frames(before));
    expect(frames(after)?.length).toBeGreaterThan(0);
    expect(attacher.of("stackProcess").map((p) => p.pid)).toEqual([app.pid]);
    expect(await attacher.stop()).toBe(0);
    await app.quit();
  });

  it("a ustack field: stack layout, frames inside the program's mapping, and one stackProcess before the events", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(app.pid, [
      {
        fields: [
          { name: "n", type: "int", expr: arg(0) },
          { name: "stack", type: "stack", expr: { op: "ustack", frames: 16 } },
        ],
        filter: null,
        format: null,
        aggregates: [],
        strlen: 64,
      },
    ]);
    const attacher = new Attacher(plan);
    await attacher.ready();
    expect(attacher.plain("layout")).toEqual([
      {
        type: "layout",
        entry: 0,
        eventSize: 72 + 8 + 8 + 16 * 8,
        fields: [
          { name: "n", type: "int", offset: 72, size: 8 },
          { name: "stack", type: "stack", offset: 80, size: 8 + 16 * 8 },
        ],
      },
    ]);
    await app.run("stack");
    await app.run("other");
    await app.run("stack");
    await attacher.until("3 events", () => attacher.events.length === 3);
    const own = app.ownMappings();
    const stacks = attacher.events.map((e) => {
      const n = Number(e.payload.readBigUInt64LE(80));
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThanOrEqual(16);
      return Array.from({ length: n }, (_, i) => e.payload.readBigUInt64LE(88 + i * 8));
    });
    for (const s of stacks) {
      expect(inside(own, s[0] as bigint)).toBe(true); // work itself
      // work, leaf_c or mid_b, top_a or other, main: at least four frames in the program's own code.
      expect(s.filter((a) => inside(own, a)).length).toBeGreaterThanOrEqual(3);
    }
    expect(stacks[0]).toEqual(stacks[2]);
    expect(stacks[0]).not.toEqual(stacks[1]);
    const processes = attacher.of("stackProcess");
    expect(processes.map(({ at: _, ...s }) => s)).toEqual([{ type: "stackProcess", pid: app.pid }]);
    expect(processes[0]?.at).toBeLessThan(attacher.events[0]?.at as number);
    expect(await attacher.stop()).toBe(0);
    await app.quit();
  });

  it("count by ustack: one row per distinct stack, with the pid and its frames", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(app.pid, [
      programOf([aggregate("count", null, [{ op: "ustack", frames: 32 }]), aggregate("hist", arg(0), [{ op: "ustack", frames: 2 }, comm])]),
    ]);
    const attacher = new Attacher(plan);
    await attacher.ready();
    for (const command of ["stack", "other", "stack", "other", "stack"]) await app.run(command);
    const own = app.ownMappings();
    expect(await attacher.stop()).toBe(0);
    const [byStack, hist] = attacher.report(1);
    const rows = [...(byStack?.rows ?? [])].sort((a, b) => Number(b.count) - Number(a.count));
    expect(rows.map((r) => r.count)).toEqual(["3", "2"]);
    for (const row of rows) {
      const key = row.keys[0] as { pid: number; frames: string[] };
      expect(key.pid).toBe(app.pid);
      const frames = addresses(key.frames);
      expect(frames.length).toBeGreaterThan(0);
      expect(frames.length).toBeLessThanOrEqual(32);
      expect(inside(own, frames[0] as bigint)).toBe(true);
      expect(frames.filter((a) => inside(own, a)).length).toBeGreaterThanOrEqual(3);
    }
    const framesOf = (row: Row | undefined) => (row?.keys[0] as { frames: string[] } | undefined)?.frames;
    expect(framesOf(rows[0])).not.toEqual(framesOf(rows[1]));
    // ustack(2): at most 2 frames; hist of arg0 = 7 is bucket 4 ([4, 8)).
    for (const row of hist?.rows ?? []) {
      expect((row.keys[0] as { frames: string[] }).frames.length).toBeLessThanOrEqual(2);
      expect(row.keys[1]).toBe("aggapp");
      expect(row.bucket).toBe(histBucket(7n));
    }
    expect((hist?.rows ?? []).reduce((n, r) => n + Number(r.count), 0)).toBe(5);
    // One stackProcess for the process, before the report.
    const processes = attacher.of("stackProcess");
    expect(processes.map((p) => p.pid)).toEqual([app.pid]);
    expect(processes[0]?.at).toBeLessThan((attacher.of("aggregate")[0]?.at as number) ?? 0);
    await app.quit();
  });

  it("--follow: report with and without reset, added entries' aggregations, remove deleting their keys, and the final report", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(app.pid, [programOf([aggregate("count", null, [mod(arg(0), 3)])])]);
    const entry = plan.probes[0] as PlanProbe;
    const attacher = new Attacher({ planVersion: 2, probes: [], aggregation: { intervalMs: null, mapKeys: 64 } }, [], true);
    await attacher.ready();
    const add = attacher.send({ command: "add", probes: [entry] });
    expect(await attacher.reply(add, "added")).toMatchObject({ type: "added", entries: [0] });
    await app.run("range 1 9");

    const first = await attacher.reply(attacher.send({ command: "report", reset: false }), "reported");
    const expected = counted(expectedRows(range(1, 9), (v) => [String(v % 3n)]));
    expect(sorted(attacher.report(1)[0]?.rows ?? [])).toEqual(expected);
    expect(attacher.report(1)).toMatchObject([{ entry: 0, aggregate: 0, final: false, reset: false, dropped: "0" }]);
    expect(attacher.of("aggregatesDone").at(-1)?.at).toBeLessThan(first.at);

    // Not reset: the same rows again, then reset with them, then nothing.
    await attacher.reply(attacher.send({ command: "report", reset: true }), "reported");
    expect(sorted(attacher.report(2)[0]?.rows ?? [])).toEqual(expected);
    expect(attacher.report(2)[0]?.reset).toBe(true);
    await attacher.reply(attacher.send({ command: "report" }), "reported");
    expect(attacher.report(3)).toEqual([]);
    expect(attacher.plain("aggregatesDone").at(-1)).toEqual({ type: "aggregatesDone", seq: 3, final: false, reset: false });

    // Hits, then remove: the keys go with the entry; the same index added again starts empty.
    await app.run("range 1 4");
    await attacher.reply(attacher.send({ command: "remove", entries: [0] }), "removed");
    expect(await attacher.reply(attacher.send({ command: "add", probes: [entry] }), "added")).toMatchObject({ entries: [0] });
    await attacher.reply(attacher.send({ command: "report", reset: false }), "reported");
    expect(attacher.report(4)).toEqual([]);

    await app.run("range 1 2");
    expect(await attacher.stop()).toBe(0);
    const final = attacher.report(5);
    expect(final).toMatchObject([{ entry: 0, aggregate: 0, final: true, reset: false }]);
    expect(sorted(final[0]?.rows ?? [])).toEqual(counted(expectedRows(range(1, 2), (v) => [String(v % 3n)])));
    expect(attacher.statuses.slice(-3).map((s) => s.type)).toEqual(["aggregatesDone", "lost", "detached"]);
    await app.quit();
  });

  it("bad aggregations fail their entry with the member named; a session without aggregations ends without a report", async () => {
    const app = new App();
    await app.ready();
    const plan = await planFor(app.pid, [
      programOf([aggregate("count", null), { ...aggregate("median" as PlanAggregate["fn"], arg(0)) }]),
      programOf([aggregate("lhist", arg(0), [], { min: 10, max: 10, step: 1 })]),
      programOf([
        aggregate(
          "count",
          null,
          Array.from({ length: 9 }, () => arg(0)),
        ),
      ]),
      { ...programOf([]), count: { by: [] } } as unknown as PlanProgram,
      programOf([aggregate("sum", null)]),
      programOf([aggregate("count", null, [{ op: "ustack", frames: 128 }])]),
    ]);
    const attacher = new Attacher(plan);
    expect(await attacher.ready()).toMatchObject({ attached: 0, failed: 6 });
    expect(attacher.of("failed").map((s) => [s.entry, s.reason])).toEqual([
      [0, 'program.aggregates[1].fn: expected count, sum, avg, min, max, stats, hist or lhist, got "median"'],
      [1, "program.aggregates[0].lhist: expected step > 0 and max > min"],
      [2, "program.aggregates[0].by: 9 keys, more than PROBEC_MAX_AGG_KEYS (8, maxAggregateKeys)"],
      [3, 'program.count: plan version 2 keeps counts in program.aggregates (fn "count")'],
      [4, "program.aggregates[0].value: sum needs an integer expression"],
      [5, "program.aggregates[0].by[0]: ustack frames must be 1..PROBEC_MAX_FRAMES (127)"],
    ]);
    expect(await attacher.stop()).toBe(0);
    // No aggregation was lowered, so there is no report to end with.
    expect(attacher.statuses.slice(-2).map(({ at: _, ...s }) => s)).toEqual([
      { type: "lost", entries: {} },
      { type: "detached", reason: "SIGTERM" },
    ]);
    await app.quit();
  });
});
