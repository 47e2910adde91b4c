/**
 * `probec trace` and `probec run` in-process, with the real helper and
 * kernel, on a C program compiled here that calls `work(n, "item-<n>")`
 * every 10 ms with n = 0, 1, 2, …: --json lines, --count, --duration, the
 * table, a format string, count tables, a saved plan, an interrupt; and
 * bad input (spec errors, bad plans, bad options) exits 2 with one clear
 * message and no stack trace.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StringSink } from "../src/cli/io.js";
import { run } from "../src/cli/run.js";
import { probec, type CliResult } from "./support/cli.js";

const LOOP = String.raw`
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline, used)) long work(long n, const char *name) {
  __asm__ volatile("" ::: "memory");
  return n * 10 + (long)strlen(name);
}

int main(void) {
  char name[32];
  printf("ready\n");
  fflush(stdout);
  for (long n = 0;; n++) {
    snprintf(name, sizeof name, "item-%ld", n);
    work(n, name);
    usleep(10000);
  }
}
`;

let dir: string;
let loop: ChildProcess;
let pid: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "probec-cli-run-"));
  writeFileSync(join(dir, "loop.c"), LOOP);
  execFileSync("gcc", ["-O1", "-o", join(dir, "loop"), join(dir, "loop.c")]);
  loop = spawn(join(dir, "loop"), [], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    loop.stdout?.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
    loop.once("error", reject);
  });
  pid = loop.pid as number;
});

afterAll(async () => {
  const exited = once(loop, "exit");
  loop.kill("SIGKILL");
  await exited;
  rmSync(dir, { recursive: true, force: true });
});

/** The summary's rows: probe id → [hits, lost]. */
function summaryRows(stderr: string): Map<string, [number, number]> {
  const lines = stderr.split("\n");
  const at = lines.findIndex((l) => /^PROBE +HITS +LOST$/.test(l));
  expect(at, stderr).toBeGreaterThan(0);
  const rows = new Map<string, [number, number]>();
  for (const line of lines.slice(at + 1)) {
    const m = /^(\S+) +(\d+) +(\d+)$/.exec(line);
    if (m !== null) rows.set(m[1] as string, [Number(m[2]), Number(m[3])]);
  }
  return rows;
}

function noStackTrace(r: CliResult): void {
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain("internal error");
}

function consecutive(values: number[]): void {
  expect(values.length).toBeGreaterThan(0);
  values.forEach((v, i) => expect(v).toBe((values[0] as number) + i));
}

describe("probec trace", () => {
  it("--json --count 3 -q: three JSON objects with the program's values, then the summary", async () => {
    const r = await probec("trace", `uprobe pid/${pid}:exe:work { n = arg0  name = str(arg1, 32) }`, "--json", "--count", "3", "-q");
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events).toHaveLength(3);
    consecutive(events.map((e) => e.n as number));
    for (const e of events) {
      expect(Object.keys(e)).toEqual(["probe", "pid", "tid", "comm", "container", "timestamp", "latency", "retval", "n", "name"]);
      expect(e).toMatchObject({ probe: "probe1", pid, tid: pid, comm: "loop", container: null, latency: null, retval: null, name: `item-${e.n as number}` });
      expect(typeof e.timestamp).toBe("number");
    }
    // -q: no status lines, only the summary.
    expect(r.stderr).toMatch(/^probec: stopped after \d+\.\d s: --count 3 reached\nPROBE +HITS +LOST\nprobe1 +\d+ +0\n$/);
    expect(summaryRows(r.stderr).get("probe1")?.[0]).toBeGreaterThanOrEqual(3);
  });

  it("uretprobe with --duration: a table, status lines, and every received event printed", async () => {
    const r = await probec("trace", `uretprobe pid/${pid}:exe:work { rc = retval }`, "--duration", "1");
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`      TIME  PROBE       PID  COMM${" ".repeat(11)}  ${" ".repeat(6)}RC`);
    const rows = lines.slice(1).map((l) => l.split(/ +/).filter((c) => c !== ""));
    expect(rows.length).toBeGreaterThan(20); // ~100 calls/s for 1 s
    for (const [time, probe, rowPid, comm, rc] of rows) {
      expect([probe, rowPid, comm]).toEqual(["probe1", String(pid), "loop"]);
      expect(Number(time)).toBeGreaterThan(0);
      // work(n, "item-<n>") returns n * 10 + strlen("item-<n>").
      const n = Math.floor(Number(rc) / 10);
      expect(Number(rc)).toBe(n * 10 + `item-${n}`.length);
    }
    expect(r.stderr).toMatch(/^probec: attached 1 point on 1 binary; tracing for 1 s\n/);
    expect(r.stderr).toMatch(/probec: stopped after 1\.\d s: --duration 1 s reached\n/);
    expect(summaryRows(r.stderr).get("probe1")).toEqual([rows.length, 0]);
  });

  it("a format string renders each event", async () => {
    const r = await probec(
      "trace",
      `uprobe pid/${pid}:exe:work { n = arg0  name = str(arg1)  format "work({n}, \\"{name}\\") in {{loop}}" }`,
      "--count",
      "2",
      "-q",
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    const ns = lines.map((l) => Number(/^work\((\d+), "item-(\d+)"\) in \{loop\}$/.exec(l)?.[1]));
    consecutive(ns);
  });

  it("count by a key prints a sorted table at exit; the counts add up to the hits", async () => {
    const r = await probec("trace", `uprobe pid/${pid}:exe:work { count by comm, arg0 % 2 }`, "--duration", "1", "-q");
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("probe1: count by comm, arg0 % 2");
    expect(lines[1]).toMatch(/^COMM {2}ARG0 % 2 {2}COUNT$/);
    const rows = lines.slice(2).map((l) => l.split(/ {2,}/));
    expect(rows.map((row) => row.slice(0, 2)).sort()).toEqual([
      ["loop", "0"],
      ["loop", "1"],
    ]);
    const counts = rows.map((row) => Number(row[2]));
    expect(counts[0]).toBeGreaterThanOrEqual(counts[1] as number);
    expect(Math.abs((counts[0] as number) - (counts[1] as number))).toBeLessThanOrEqual(1);
    expect((counts[0] as number) + (counts[1] as number)).toBe(summaryRows(r.stderr).get("probe1")?.[0]);
  });

  it("a plain count prints one total, the probe's hits; with --json, one object per aggregation", async () => {
    const r = await probec("trace", `uprobe pid/${pid}:exe:work { count }`, "--duration", "0.5", "-q");
    expect(r.code, r.stderr).toBe(0);
    const hits = summaryRows(r.stderr).get("probe1")?.[0] as number;
    expect(hits).toBeGreaterThan(10);
    expect(r.stdout).toBe(`probe1: count: ${hits}\n`);
    const json = await probec("trace", `uprobe pid/${pid}:exe:work { count by comm }`, "--duration", "0.5", "--json", "-q");
    expect(json.code, json.stderr).toBe(0);
    const object = JSON.parse(json.stdout);
    expect(object).toEqual({
      probe: "probe1",
      aggregate: "count by comm",
      fn: "count",
      seq: 1,
      final: true,
      reset: false,
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      unit: null,
      dropped: 0,
      rows: [{ keys: { comm: "loop" }, count: summaryRows(json.stderr).get("probe1")?.[0] }],
    });
  });

  it("count by ustack: the stacks named from the program's files; --folded prints them for flame graph tools, --flamegraph draws them", async () => {
    const r = await probec("trace", `uprobe pid/${pid}:exe:work { count by ustack }`, "--duration", "0.5", "-q");
    expect(r.code, r.stderr).toBe(0);
    const hits = summaryRows(r.stderr).get("probe1")?.[0] as number;
    // The leaf is where the uprobe fired; the callers are what the kernel's frame-pointer walk found (this -O1 build keeps none: [unknown]).
    expect(r.stdout).toMatch(new RegExp(`^probe1: count by ustack\ncount ${hits}\n {4}work\\+0x0\n( {4}\\S+\n)*$`));
    const svg = join(dir, "work.svg");
    const folded = await probec("trace", `uprobe pid/${pid}:exe:work { count by ustack }`, "--duration", "0.5", "--folded", "--flamegraph", svg);
    expect(folded.code, folded.stderr).toBe(0);
    const foldedHits = summaryRows(folded.stderr).get("probe1")?.[0] as number;
    // Root first, the functions without offsets.
    expect(folded.stdout).toMatch(new RegExp(`^(\\S+;)*work ${foldedHits}\n$`));
    expect(folded.stderr).toContain(`probec: flame graph of 1 stack written to ${svg}\n`);
    const drawn = readFileSync(svg, "utf8");
    expect(drawn).toMatch(/^<\?xml/);
    expect(drawn).toContain(`<title>work (${foldedHits} hits, 100.00%)</title>`);
  });

  it("--count of probes that only aggregate is a usage error: they send no events to count", async () => {
    const r = await probec("trace", `uprobe pid/${pid}:exe:work { hist(arg0) }`, "--count", "5");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "probec: --count 5: every probe of the inline probe aggregates in the kernel and sends no events to count\n  hint: stop it with --duration SECONDS or Ctrl-C: the aggregations print then\n",
    );
  });

  it("--folded of a probe that captures no stack is a usage error before anything is attached", async () => {
    const r = await probec("trace", `uprobe pid/${pid}:exe:work { count by comm }`, "--folded");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "probec: --folded: no probe of the inline probe captures a user stack\n  hint: capture one: a ustack field (uprobe …:malloc { stack = ustack }) or count by ustack\n",
    );
  });

  it("an interrupt (SIGINT in main) detaches, prints the summary and exits 0", async () => {
    const stdout = new StringSink();
    const stderr = new StringSink();
    const interrupt = new AbortController();
    const done = run(["trace", `uprobe pid/${pid}:exe:work { n = arg0 }`], { stdout, stderr, signal: interrupt.signal });
    while (!stderr.text.includes("attached")) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 300));
    interrupt.abort();
    expect(await done).toBe(0);
    expect(stderr.text).toMatch(/; Ctrl-C to stop\n/);
    expect(stderr.text).toMatch(/probec: stopped after \d+\.\d s: interrupted\n/);
    const rows = stdout.text.trimEnd().split("\n").slice(1);
    expect(summaryRows(stderr.text).get("probe1")).toEqual([rows.length, 0]);
    consecutive(rows.map((l) => Number(l.trim().split(/ +/)[4])));
  });

  it("interrupted before the helper is even ready: still a clean stop, exit 0", async () => {
    const stdout = new StringSink();
    const stderr = new StringSink();
    const code = await run(["trace", `uprobe pid/${pid}:exe:work { n = arg0 }`], { stdout, stderr, signal: AbortSignal.abort() });
    expect([code, stderr.text]).toEqual([
      0,
      // The helper may finish attaching before it sees the SIGTERM: then it says so first.
      expect.stringMatching(/^(probec: attached 1 point on 1 binary\n)?probec: stopped after \d+\.\d s: interrupted\nPROBE +HITS +LOST\nprobe1 +\d+ +0\n$/),
    ]);
  });
});

describe("probec run", () => {
  it("runs a probe file, and the plan probec compile -o saved from it", async () => {
    const spec = join(dir, "work.probe");
    writeFileSync(spec, `# work() calls\nuprobe pid/${pid}:exe:work {\n  n = arg0\n}\n`);
    const fromSpec = await probec("run", spec, "--json", "--count", "2", "-q");
    expect(fromSpec.code, fromSpec.stderr).toBe(0);
    consecutive(
      fromSpec.stdout
        .trimEnd()
        .split("\n")
        .map((l) => (JSON.parse(l) as { n: number }).n),
    );

    const planFile = join(dir, "plan.json");
    expect((await probec("compile", spec, "-o", planFile)).code).toBe(0);
    const fromPlan = await probec("run", planFile, "--json", "--count", "2", "-q");
    expect(fromPlan.code, fromPlan.stderr).toBe(0);
    const events = fromPlan.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { probe: string; n: number });
    expect(events.map((e) => e.probe)).toEqual(["probe1", "probe1"]);
    consecutive(events.map((e) => e.n));
  });
});

describe("attach failures: exit 3 with the helper's reasons", () => {
  it("a saved plan whose binary no longer matches: the failed status line, then no probe attached", async () => {
    const spec = join(dir, "stale.probe");
    writeFileSync(spec, `uprobe pid/${pid}:exe:work { n = arg0 }\n`);
    const planFile = join(dir, "stale.json");
    expect((await probec("compile", spec, "-o", planFile)).code).toBe(0);
    const plan = JSON.parse(readFileSync(planFile, "utf8")) as { probes: { binary: { ino: string } }[] };
    const realIno = plan.probes[0]!.binary.ino;
    plan.probes[0]!.binary.ino = "12345";
    writeFileSync(planFile, JSON.stringify(plan));
    const quiet = await probec("run", planFile, "-q");
    expect([quiet.code, quiet.stderr]).toEqual([
      3,
      "probec: no probe could be attached (1 entry failed)\n  hint: run without -q to see each failure's reason\n",
    ]);
    const r = await probec("run", planFile);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    const lines = r.stderr.split("\n");
    // The reason is the helper's sentence: it names the field, both values and the file.
    expect(lines[0]).toMatch(new RegExp(`^probec: probe1 \\(pid/${pid}:exe:work\\): not attached: .*\\bino\\b.*\\b12345\\b.*\\b${realIno}\\b`));
    expect(lines.slice(1)).toEqual(["probec: no probe could be attached (1 entry failed; the reasons are above)", ""]);
  });
});

describe("bad input: exit 2, one clear message, no stack trace", () => {
  it("an inline probe with errors: rendered diagnostics at <inline>", async () => {
    const r = await probec("trace", `uprobe pid/${pid}:exe:work { x = nope }`);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("error: unknown capture `nope`\n --> <inline>:1:");
    expect(r.stderr).toMatch(/probec: <inline>: 1 error; nothing attached\n$/);
    noStackTrace(r);
  });

  it("a plan file that is not JSON", async () => {
    const bad = join(dir, "broken.json");
    writeFileSync(bad, '{ "planVersion": 2, probes: [');
    const r = await probec("run", bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^probec: ${bad}: not a valid AttachPlan: the JSON does not parse \\(.+\\)\\n  hint: `));
    noStackTrace(r);
  });

  it("a plan of another version, or with a bad member", async () => {
    const v2 = join(dir, "v2.json");
    writeFileSync(v2, '{ "planVersion": 3, "probes": [] }');
    const r = await probec("run", v2);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(`probec: ${v2}: planVersion: expected 2 (the plan format this probec executes), got 3`);
    const badCookie = join(dir, "cookie.json");
    writeFileSync(
      badCookie,
      JSON.stringify({
        planVersion: 2,
        probes: [{ id: "p", kind: "uprobe", target: { containerId: null, containerName: null }, points: [{ cookie: 0, side: "entry" }] }],
      }),
    );
    const r2 = await probec("run", badCookie);
    expect(r2.code).toBe(2);
    expect(r2.stderr.split("\n")[0]).toBe(`probec: ${badCookie}: probes[0].points[0].cookie: expected a positive integer, got 0`);
    noStackTrace(r2);
  });

  it("--strategy with a saved plan, and bad --count/--duration values", async () => {
    const plan = join(dir, "v2.json");
    const r = await probec("run", plan, "--strategy", "root");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--strategy applies to probe files; a saved plan already holds the paths its strategy chose");
    expect((await probec("trace", "uprobe host:libc:malloc { pid }", "--count", "0")).stderr).toBe(
      "probec: --count 0: expected a whole number of events above 0\n  hint: e.g. --count 100\n",
    );
    expect((await probec("trace", "uprobe host:libc:malloc { pid }", "--duration", "-1")).code).toBe(2);
    expect((await probec("run", join(dir, "nope.probe"))).stderr).toContain("no such file");
  });

  it("no helper: exit 3 with the paths tried and the solutions", async () => {
    const saved = process.env.PROBEC_ATTACH;
    process.env.PROBEC_ATTACH = "/nonexistent";
    try {
      const r = await probec("trace", `uprobe pid/${pid}:exe:work { n = arg0 }`);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(
        /^probec: cannot find a usable probec-attach, the native helper that attaches probes; tried:\n {4}\/nonexistent \(\$PROBEC_ATTACH\): no such file\n {2}hint: build it from the sources in probec.s package directory: npm run build:native/,
      );
      noStackTrace(r);
    } finally {
      if (saved === undefined) delete process.env.PROBEC_ATTACH;
      else process.env.PROBEC_ATTACH = saved;
    }
  });
});
