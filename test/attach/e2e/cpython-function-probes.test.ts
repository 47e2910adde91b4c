/**
 * Issue 10, part 4 (PITFALLS 34): CPython 3.11 fires python:function__entry
 * only while tracing is on, which a raised python:line semaphore turns on;
 * probec raises it, reports no line event, and says so. (function__return
 * fires on 3.11 as it is: its macro stayed outside the tracing path, and
 * the last test shows it.)
 *
 * Debian's python3.11 runs /srv/app/loop.py in its own mount namespace (a
 * tmpfs over /srv that only it sees, so the script's path exists nowhere
 * else). Each line `N` on its stdin makes it call handle_request N times and
 * print `done`. The probe file asks for function__entry and
 * function__return and nothing else; the hits are counted for real. The
 * same plan without the entry the compiler added reports no function__entry
 * at all, which is the behaviour a user met before.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { compile } from "../../../src/index.js";
import { probec } from "../../support/cli.js";
import { compilePlan, Trace } from "./support/trace.js";

const PYTHON = "/usr/bin/python3.11";
const CALLS = 7;
const LOOP = `import sys
def handle_request(n):
    return n * 2
print("ready", flush=True)
for line in sys.stdin:
    for i in range(int(line)):
        handle_request(i)
    print("done", flush=True)
`;

let child: ChildProcessWithoutNullStreams;
let out = "";

async function waitFor(text: string, count: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (out.split("\n").filter((l) => l === text).length >= count) return;
    if (child.exitCode !== null) throw new Error(`loop.py exited (${child.exitCode}) before printing ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${count} × ${text}; it printed: ${out}`);
}

/** Makes loop.py call handle_request CALLS times (round `round`, counted from 1). */
async function round(n: number): Promise<void> {
  child.stdin.write(`${CALLS}\n`);
  await waitFor("done", n);
}

beforeAll(async () => {
  const script = 'mount -t tmpfs probec-py /srv && mkdir /srv/app && printf %s "$1" > /srv/app/loop.py && exec "$2" /srv/app/loop.py';
  child = spawn("unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", LOOP, PYTHON]);
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  await waitFor("ready", 1);
  expect(readlinkSync(`/proc/${child.pid}/exe`)).toBe(PYTHON);
  expect(readlinkSync(`/proc/${child.pid}/ns/mnt`)).not.toBe(readlinkSync("/proc/self/ns/mnt"));
});

afterAll(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
});

function source(): string {
  const body = "{\n  file = str(arg0)\n  fn = str(arg1)\n  line = arg2\n}\n";
  return `usdt pid/${child.pid}:python3.11:python:function__entry ${body}usdt pid/${child.pid}:python3.11:python:function__return ${body}`;
}

test("compiling warns with the reason, and the plan raises python:line's semaphore in one silent entry", async () => {
  const { diagnostics } = await compile(source(), { file: "loop.probe" });
  // One warning, at the function__entry target: function__return needs nothing.
  expect(diagnostics.map((d) => [d.severity, d.location.start.line, d.message])).toEqual([
    [
      "warning",
      1,
      expect.stringMatching(
        /^CPython 3\.11\.\d+ fires python:function__entry only while tracing is on \(python\/cpython gh-98894\), so probec raises python:line's semaphore/,
      ),
    ],
  ]);
  const plan = await compilePlan("loop", source());
  expect(plan.probes.map((p) => p.id)).toEqual(["probe1", "probe1.python-line", "probe2"]);
  const line = plan.probes[1]!;
  expect(line.specText).toMatch(/:python:line: raises python:line's semaphore for probe1 and reports nothing \(CPython 3\.11\.\d+/);
  expect(line.program).toEqual({ fields: [], filter: { op: "int", value: "0" }, format: null, aggregates: [], strlen: plan.probes[0]!.program!.strlen });
  expect(line.points.map((p) => p.site.kind === "usdt" && `${p.site.provider}:${p.site.name}`)).toEqual(["python:line"]);
  expect(line.points[0]!.refCtrOffset).toBeTypeOf("number");
  expect(line.filter).toEqual(plan.probes[0]!.filter);
});

test("function__entry and function__return fire once per call of handle_request in /srv/app/loop.py, and no line event is reported", async () => {
  const plan = await compilePlan("loop", source());
  const trace = await Trace.start(plan);
  try {
    await round(1);
    await trace.waitForEvents("probe2", CALLS);
  } finally {
    await trace.close();
  }
  expect(trace.of("probe1.python-line")).toEqual([]);
  // function__entry gives the def's line, function__return the line of the return.
  for (const [id, line] of [
    ["probe1", 2n],
    ["probe2", 3n],
  ] as const) {
    const calls = trace.of(id).filter((e) => e.fields.fn === "handle_request");
    expect(calls.map((e) => [e.pid, e.fields.file, e.fields.fn, e.fields.line])).toEqual(
      Array(CALLS).fill([child.pid, "/srv/app/loop.py", "handle_request", line]),
    );
  }
});

test("without that entry CPython 3.11 fires no function__entry (what a user met before), while function__return fires as it is", async () => {
  const plan = await compilePlan("loop", source());
  const bare = { ...plan, probes: plan.probes.filter((p) => !p.id.endsWith(".python-line")) };
  const trace = await Trace.start(bare);
  try {
    await round(2);
    // Every call has returned once `done` is printed; give the ring buffer the time it takes to deliver.
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    await trace.close();
  }
  expect(trace.of("probe1")).toEqual([]);
  const returns = trace.of("probe2").filter((e) => e.fields.fn === "handle_request");
  expect(returns.map((e) => [e.fields.file, e.fields.line])).toEqual(Array(CALLS).fill(["/srv/app/loop.py", 3n]));
});

test("probec run says on its status line that python:line's semaphore is raised, and why on the warning", async () => {
  const dir = mkdtempSync(join(tmpdir(), "probec-loop-"));
  try {
    writeFileSync(join(dir, "loop.probe"), source());
    const r = await probec("run", join(dir, "loop.probe"), "--duration", "0.5");
    expect(r.stderr).toMatch(/^warning: CPython 3\.11\.\d+ fires python:function__entry only while tracing is on/m);
    expect(r.stderr).toMatch(
      /^probec: attached 3 points on 1 binary; python:line's semaphore raised in 1 binary so that CPython 3\.11 fires function__entry \(no line events reported\); tracing for 0\.5 s$/m,
    );
    expect(r.code).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
