/**
 * Issue 15, "Tests", stacks: user stacks captured in the kernel and named
 * from the container's own files, on this kernel, in a real container,
 * through the library and the `probec` a user runs.
 *
 * stack_app (test/attach/aggregate-fixtures/stack_app.c) runs in container
 * probec-attach-ustack, each round calling c() ROUND times through
 *
 *     main → a → stk_linked_call → ns::Klass::method(int) → b → stk_dl_call → c
 *
 * where /app/stack_app is stripped (a, b and main are named only by its
 * debug file, /usr/lib/debug/app/stack_app.debug, found by debuglink inside
 * the container), libstk_linked.so (C++) is loaded by the container's
 * loader from /usr/lib, and libstk_dl.so was dlopened from /tmp and deleted
 * (only /proc/PID/map_files still reaches it). None of these paths exist on
 * the host.
 *
 * Every frame probec names is checked against an independent answer:
 * the capture's address, through /proc/PID/maps, to a file offset, and
 * binutils' `nm -C` of the same file on the host side of the build.
 * A second container of the same image runs with its debug directory
 * hidden (a tmpfs over /usr/lib/debug): there a, b and main must print as
 * `/app/stack_app+0xOFFSET` inside the right function, never a wrong name.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { AggregateSnapshot, StackKey } from "../../../src/index.js";
import { ensureDockerd } from "../../support/dockerd.js";
import { parseSvg } from "../../symbolize/svg.js";
import { buildAggregateFixtures, functionRange, STACK_DEBUG_PATH, stackImage, type AggregateFixtures } from "./support/aggregate-fixtures.js";
import { startProbec, type ProbecRun } from "./support/bundled-cli.js";
import { alive } from "./support/kernel.js";
import { Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const NAME = "probec-attach-ustack";
const NODEBUG = "probec-attach-ustack-nodebug";
/** c() calls per round. */
const ROUND = 25;
/** The chain, innermost first: what `ustack(7)` holds. */
const CHAIN = ["c", "stk_dl_call", "b", "ns::Klass::method(int)", "stk_linked_call", "a", "main"];

const targets = new Targets();
let host: string;
let fixtures: AggregateFixtures;
let app: Target;
let nodebug: Target;
let dir: string;

beforeAll(async () => {
  host = await ensureDockerd();
  fixtures = buildAggregateFixtures();
  const image = stackImage(fixtures);
  app = await targets.container(image, NAME, "stack_app", [String(ROUND)]);
  nodebug = await targets.container(image, NODEBUG, "stack_app", [String(ROUND)], ["--mount", "type=tmpfs,destination=/usr/lib/debug"]);
  dir = mkdtempSync(join(tmpdir(), "probec-ustack-"));
}, 120_000);

afterAll(async () => {
  await targets.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

// ---- an independent answer: maps → file offset → binutils -------------------------------------------------

/** One executable mapping of a process. */
interface Mapping {
  start: bigint;
  end: bigint;
  offset: bigint;
  path: string;
}

function mappings(pid: number): Mapping[] {
  return readFileSync(`/proc/${pid}/maps`, "utf8")
    .split("\n")
    .map((line) => /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && m[3]!.includes("x"))
    .map((m) => ({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), offset: BigInt(`0x${m[4]}`), path: m[5]! }));
}

/**
 * The build's copy of each file the container maps (the same bytes): `layout`
 * for its program headers, `symbols` for its functions (the program's from
 * its debug file).
 */
function buildCopy(path: string): { layout: string; symbols: string } | undefined {
  if (path === "/app/stack_app") return { layout: fixtures.path("stack_app"), symbols: fixtures.path("stack_app.debug") };
  if (path === "/usr/lib/libstk_linked.so") return { layout: fixtures.path("libstk_linked.so"), symbols: fixtures.path("libstk_linked.so") };
  if (path === "/tmp/libstk_dl.so (deleted)") return { layout: fixtures.path("dl-payload.bin"), symbols: fixtures.path("dl-payload.bin") };
  return undefined;
}

/** The virtual address of file offset `offset` in `file`, from its PT_LOAD headers (`readelf -lW`). */
function offsetToAddress(file: string, offset: bigint): bigint {
  const out = execFileSync("readelf", ["-lW", file], { encoding: "utf8" });
  for (const m of out.matchAll(/^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)/gm)) {
    const [fileOff, vaddr, fileSize] = [BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`), BigInt(`0x${m[3]}`)];
    if (offset >= fileOff && offset < fileOff + fileSize) return vaddr + (offset - fileOff);
  }
  throw new Error(`offset 0x${offset.toString(16)} is in no PT_LOAD of ${file}`);
}

/** The function (demangled by `nm -C`) whose [start, start + size) holds `address` in `file`. */
function functionAt(file: string, address: bigint): string | undefined {
  // A stripped library has only its dynamic symbols (-D); the program's debug file has a .symtab.
  const dynamic = file !== fixtures.path("stack_app.debug");
  const out = execFileSync("nm", ["-C", "-S", "--defined-only", ...(dynamic ? ["-D"] : []), file], { encoding: "utf8" });
  for (const line of out.split("\n")) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) [tTwW] (.+)$/.exec(line);
    if (m === null) continue;
    const start = BigInt(`0x${m[1]}`);
    if (address >= start && address < start + BigInt(`0x${m[2]}`)) return m[3];
  }
  return undefined;
}

/**
 * What binutils calls the function of a captured address: a return address
 * is the instruction after a call, so the call itself is at address - 1
 * (the innermost frame, where the probe hit, is not a return address).
 */
function independentName(pid: number, address: bigint, innermost: boolean): string | undefined {
  const map = mappings(pid).find((m) => address >= m.start && address < m.end);
  if (map === undefined) return undefined;
  const copy = buildCopy(map.path);
  if (copy === undefined) return undefined;
  return functionAt(copy.symbols, offsetToAddress(copy.layout, map.offset + (address - map.start)) - (innermost ? 0n : 1n));
}

// ---- the library -----------------------------------------------------------------------------------------------

/** Attaches `source` (compiled against the tests' dockerd), runs one round of `target`, detaches; the final report. */
async function oneRound(name: string, source: string, target: Target): Promise<AggregateSnapshot> {
  const plan = await compilePlan(name, source, { docker: { host } });
  const trace = await Trace.start(plan);
  let final: AggregateSnapshot | undefined;
  try {
    expect(await target.round()).toEqual([`round ${roundOf(target)} calls ${ROUND}`]);
  } finally {
    final = (await trace.close()).aggregates;
  }
  expect(final).toBeDefined();
  return final!;
}

const rounds = new Map<Target, number>();
function roundOf(target: Target): number {
  const n = (rounds.get(target) ?? 0) + 1;
  rounds.set(target, n);
  return n;
}

/** The one row of probe1's first aggregation: its stack key and count. */
function onlyStack(snapshot: AggregateSnapshot): { stack: StackKey; count: bigint } {
  const result = snapshot.results.find((r) => r.probeId === "probe1" && r.index === 0);
  expect(result, JSON.stringify(snapshot.results.map((r) => [r.probeId, r.text]))).toBeDefined();
  expect(result!.dropped).toBe(0n);
  expect(result!.rows, "one distinct stack").toHaveLength(1);
  const row = result!.rows[0]!;
  const stack = row.keys[0];
  expect(typeof stack === "object" && stack !== null && "kind" in stack && stack.kind === "stack").toBe(true);
  return { stack: stack as StackKey, count: row.count };
}

describe("the container as the test set it up", () => {
  test("the program's files exist only inside the container; the dlopened library is deleted", () => {
    for (const path of ["/app/stack_app", STACK_DEBUG_PATH, "/usr/lib/libstk_linked.so", "/tmp/libstk_dl.so"]) expect(existsSync(path), path).toBe(false);
    expect(existsSync(`/proc/${app.pid}/root${STACK_DEBUG_PATH}`)).toBe(true);
    expect(existsSync(`/proc/${nodebug.pid}/root${STACK_DEBUG_PATH}`), "the tmpfs hides it").toBe(false);
    for (const target of [app, nodebug]) {
      const paths = mappings(target.pid).map((m) => m.path);
      expect(paths).toContain("/app/stack_app");
      expect(paths).toContain("/usr/lib/libstk_linked.so");
      expect(paths).toContain("/tmp/libstk_dl.so (deleted)");
    }
    // Stripped: the program's own file names c (exported) and no other function of it.
    const own = execFileSync("nm", ["-D", "--defined-only", fixtures.path("stack_app")], { encoding: "utf8" });
    expect(own).toMatch(/ T c$/m);
    expect(own).not.toMatch(/ [tT] (a|b|main)$/m);
    expect(execFileSync("nm", [fixtures.path("stack_app")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })).toBe("");
  });
});

describe("count by ustack through the library", () => {
  test("every frame of main → a → stk_linked_call → ns::Klass::method(int) → b → stk_dl_call → c named, and named right", async () => {
    const final = await oneRound("ustack", `uprobe docker/${NAME}:exe:c {\n  count by ustack\n}\n`, app);
    const { stack, count } = onlyStack(final);
    expect(count).toBe(BigInt(ROUND));
    expect(stack.pid).toBe(app.pid);
    // The chain, then whatever of libc's start-up the frame-pointer walk reached (libc has no frame pointers).
    expect(stack.functions.slice(0, CHAIN.length)).toEqual(CHAIN);
    expect(stack.frames).toHaveLength(stack.addresses.length);
    expect(stack.functions).toHaveLength(stack.addresses.length);
    expect(stack.frames[0]).toBe("c+0x0");
    stack.frames.slice(0, CHAIN.length).forEach((frame, i) => expect(frame).toMatch(new RegExp(`^${CHAIN[i]!.replace(/[()]/g, "\\$&")}\\+0x[0-9a-f]+$`)));
    // The same names from binutils, for the same addresses.
    const independent = stack.addresses.slice(0, CHAIN.length).map((a, i) => independentName(app.pid, a, i === 0));
    expect(independent).toEqual(CHAIN);
  });

  test("without the debug file (hidden by a tmpfs), a, b and main print as /app/stack_app+0xOFFSET inside their functions; c keeps its exported name", async () => {
    const final = await oneRound("ustack-nodebug", `uprobe docker/${NODEBUG}:exe:c {\n  count by ustack(7)\n}\n`, nodebug);
    const { stack, count } = onlyStack(final);
    expect(count).toBe(BigInt(ROUND));
    expect(stack.addresses).toHaveLength(CHAIN.length);
    const expected = ["c", "stk_dl_call", "b?", "ns::Klass::method(int)", "stk_linked_call", "a?", "main?"];
    const maps = mappings(nodebug.pid);
    stack.functions.forEach((name, i) => {
      const want = expected[i]!;
      if (!want.endsWith("?")) return expect(name).toBe(want);
      const m = /^(.*)\+0x([0-9a-f]+)$/.exec(name);
      expect(m, `frame ${i} (${want.slice(0, -1)}) prints as module+offset, not ${name}`).not.toBeNull();
      expect(m![1]).toMatch(/(^|\/)stack_app$/);
      // The offset is the file offset of the address, inside the function the debug file says.
      const address = stack.addresses[i]!;
      const map = maps.find((x) => address >= x.start && address < x.end)!;
      expect(BigInt(`0x${m![2]}`)).toBe(map.offset + (address - map.start));
      const range = functionRange(fixtures.path("stack_app.debug"), want.slice(0, -1));
      const at = offsetToAddress(fixtures.path("stack_app"), BigInt(`0x${m![2]}`));
      expect(at > range.start && at <= range.end, `${name} inside ${want.slice(0, -1)}`).toBe(true);
    });
  });
});

describe("a process that exits before its stacks are printed", () => {
  test("its frames are still named at detach, from what it mapped while it ran", async () => {
    const plan = await compilePlan("ustack-exited", `uprobe docker/${NAME}:exe:c {\n  count by ustack(7)\n}\n`, { docker: { host } });
    const trace = await Trace.start(plan);
    let final: AggregateSnapshot | undefined;
    let late: Target | undefined;
    try {
      // Started after attach (docker exec): the container's filter takes it; the kernel first sees it at its first c().
      late = await targets.exec(app, "stack_app", "status-late", [String(ROUND)]);
      expect(await late.round()).toEqual([`round 1 calls ${ROUND}`]);
      // Its maps are read when the attacher says it saw the process (stackProcess); a process gone before that message is
      // read cannot be named by anyone, so the test waits for it, then kills the process.
      const told = Date.now() + 10_000;
      while (!trace.statuses("stackProcess").some((s) => s["pid"] === late!.pid) && Date.now() < told) await new Promise((r) => setTimeout(r, 20));
      process.kill(late.pid, "SIGTERM");
      const deadline = Date.now() + 10_000;
      while (alive(late.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(alive(late.pid), `stack_app ${late.pid} exited`).toBe(false);
      expect(existsSync(`/proc/${late.pid}/maps`)).toBe(false);
    } finally {
      final = (await trace.close()).aggregates;
    }
    expect(final).toBeDefined();
    const { stack, count } = onlyStack(final!);
    expect(count).toBe(BigInt(ROUND));
    expect(stack.pid).toBe(late!.pid);
    expect(stack.functions).toEqual(CHAIN);
    expect(trace.statuses("stackProcess").map((s) => s["pid"])).toContain(late!.pid);
  });
});

describe("a ustack field through the library", () => {
  test("each event of c carries its stack, named as the aggregation names it", async () => {
    const plan = await compilePlan("ustack-field", `uprobe docker/${NAME}:exe:c {\n  x = arg0\n  stack = ustack(7)\n}\n`, { docker: { host } });
    expect(plan.probes[0]!.program?.fields.map((f) => [f.name, f.type])).toEqual([
      ["x", "int"],
      ["stack", "stack"],
    ]);
    const trace = await Trace.start(plan);
    try {
      expect(await app.round()).toEqual([`round ${roundOf(app)} calls ${ROUND}`]);
      await trace.waitForEvents("probe1", ROUND, { settleMs: 500 });
    } finally {
      await trace.close();
    }
    const events = trace.of("probe1");
    expect(events).toHaveLength(ROUND);
    // stack_app passes a(i) down to c(i) unchanged: 0..ROUND-1, each once.
    expect(events.map((e) => e.fields["x"]).sort((p, q) => Number(p) - Number(q))).toEqual(Array.from({ length: ROUND }, (_, i) => BigInt(i)));
    for (const event of events) {
      const stack = event.fields["stack"] as StackKey;
      expect(stack).toMatchObject({ kind: "stack", pid: app.pid });
      expect(stack.functions).toEqual(CHAIN);
    }
    // One call site each: every event's stack is the same addresses.
    expect(new Set(events.map((e) => (e.fields["stack"] as StackKey).addresses.join(","))).size).toBe(1);
  });
});

// ---- the CLI a user runs ---------------------------------------------------------------------------------------

/** `probec trace PROBE ...options` in `cwd`: attached, one round of `target`, Ctrl-C. */
async function cli(probe: string, target: Target, options: string[] = []): Promise<ProbecRun> {
  const probec = startProbec(["trace", probe, ...options], { DOCKER_HOST: host }, dir);
  try {
    await probec.waitFor(/attached \d+ points?/, "it attached");
    expect(await target.round()).toEqual([`round ${roundOf(target)} calls ${ROUND}`]);
    const run = await probec.interrupt();
    expect(run.code, run.stderr).toBe(0);
    return run;
  } finally {
    probec.kill();
  }
}

describe("count by ustack through the probec CLI (dist/cli/probec.cjs)", () => {
  test("text: the count, then each frame on its own line, innermost first", async () => {
    const { stdout } = await cli(`uprobe docker/${NAME}:exe:c { count by ustack(7) }`, app);
    const lines = stdout.split("\n");
    const at = lines.indexOf("probe1: count by ustack(7)");
    expect(at, stdout).toBeGreaterThanOrEqual(0);
    expect(lines[at + 1]).toBe(`count ${ROUND}`);
    expect(lines.slice(at + 2, at + 2 + CHAIN.length).map((l) => /^ {4}(.*)\+0x[0-9a-f]+$/.exec(l)?.[1])).toEqual(CHAIN);
  });

  test("--json: the stack key as pid, frames and addresses", async () => {
    const { stdout } = await cli(`uprobe docker/${NAME}:exe:c { count by ustack(7) }`, app, ["--json"]);
    const objects = stdout
      .split("\n")
      .filter((l) => l !== "")
      .map(
        (l) =>
          JSON.parse(l) as {
            probe: string;
            aggregate: string;
            rows: { keys: { "ustack(7)": { pid: number; frames: string[]; addresses: string[] } }; count: number }[];
          },
      );
    expect(objects).toHaveLength(1);
    expect(objects[0]).toMatchObject({ probe: "probe1", aggregate: "count by ustack(7)" });
    const [row] = objects[0]!.rows;
    expect(row!.count).toBe(ROUND);
    const key = row!.keys["ustack(7)"];
    expect(key.pid).toBe(app.pid);
    expect(key.frames.map((f) => f.replace(/\+0x[0-9a-f]+$/, ""))).toEqual(CHAIN);
    expect(key.addresses).toHaveLength(CHAIN.length);
    key.addresses.forEach((a, i) => expect(independentName(app.pid, BigInt(a), i === 0)).toBe(CHAIN[i]));
  });

  test("--folded: exactly one line, root first, the count last", async () => {
    const { stdout } = await cli(`uprobe docker/${NAME}:exe:c { count by ustack(7) }`, app, ["--folded"]);
    expect(stdout).toBe(`${[...CHAIN].reverse().join(";")} ${ROUND}\n`);
  });

  test("--folded of a ustack field: the events' stacks, counted", async () => {
    const { stdout } = await cli(`uprobe docker/${NAME}:exe:c { stack = ustack(7) }`, app, ["--folded"]);
    expect(stdout).toBe(`${[...CHAIN].reverse().join(";")} ${ROUND}\n`);
  });

  test("--flamegraph FILE.svg: well-formed XML whose boxes are the chain, root at the bottom, each with every sample", async () => {
    const svg = join(dir, "stacks.svg");
    const run = await cli(`uprobe docker/${NAME}:exe:c { count by ustack }`, app, ["--flamegraph", svg]);
    expect(existsSync(svg), run.stderr).toBe(true);
    const boxes = parseSvg(readFileSync(svg, "utf8"));
    const named = (frame: string) => boxes.filter((b) => b.title.startsWith(`${frame} (`));
    const rows: number[] = [];
    for (const frame of CHAIN) {
      const found = named(frame);
      expect(found, `one box for ${frame} in ${JSON.stringify(boxes.map((b) => b.title))}`).toHaveLength(1);
      expect(found[0]!.title).toBe(`${frame} (${ROUND} hits, 100.00%)`);
      rows.push(found[0]!.y);
    }
    // Innermost on top: each frame's row is above (smaller y than) its caller's.
    for (let i = 1; i < rows.length; i++) expect(rows[i - 1]!).toBeLessThan(rows[i]!);
    // Every box of the chain is as wide as the whole stack's root box (one stack: 100%).
    const widths = CHAIN.map((f) => named(f)[0]!.width);
    expect(new Set(widths).size).toBe(1);
  });
});
