/**
 * compile(): parse → semantic → resolve → plan, with a stub resolver
 * returning real resolutions of a host python process. Plans validate
 * against the schema (program included), are deterministic, and resolver
 * errors and USDT argument counts become diagnostics at the right place.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile/compile.js";
import { explainPlan } from "../../src/compile/explain.js";
import type { AttachPlan } from "../../src/compile/plan.js";
import { renderDiagnostics } from "../../src/dsl/index.js";
import { NotFoundError } from "../../src/errors.js";
import { resolveTarget, type TargetResolution } from "../../src/discovery/resolve-target.js";

const PYTHON = "/usr/bin/python3.11";
const schema = JSON.parse(readFileSync(new URL("../../schema/attach-plan.schema.json", import.meta.url), "utf8")) as object;
const validatePlan = new Ajv2020({ allErrors: true, strict: true }).compile<AttachPlan>(schema);

let child: ChildProcess;
let pid: number;
const real = new Map<string, TargetResolution>();

/** A resolver that answers from fixed resolutions by the target's location, and fails like the real one for a missing container. */
async function stub(text: string): Promise<TargetResolution> {
  if (text.startsWith("docker/nope")) throw new NotFoundError('docker: no container "nope"', ['did you mean "nope2"?', "running: nope2, web"]);
  const key = text.split(":").slice(2).join(":");
  const r = real.get(key);
  if (r === undefined) throw new NotFoundError(`no fixture for ${text}`);
  return r;
}

beforeAll(async () => {
  child = spawn(PYTHON, ["-c", "import time; print('ready', flush=True); time.sleep(60)"], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
    child.once("error", reject);
  });
  pid = child.pid!;
  real.set("python:function__entry", await resolveTarget(`pid/${pid}:exe:python:function__entry`));
  real.set("malloc", await resolveTarget(`pid/${pid}:libc:malloc`));
  real.set("getaddrinfo", await resolveTarget(`pid/${pid}:libc:getaddrinfo`));
});

afterAll(async () => {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }
});

const SPEC = `option strlen = 200
let py = pid/1

usdt py:exe:python:function__entry {
  where arg2 > 10 && pid % 2 == 0
  file = str(arg0)
  fn = str(arg1, 64)
  line = arg2 as i32
  format "{file}:{line} {fn}"
}

uprobe+ret py:libc:malloc {
  option strategy = root
  size = arg0
  ptr = retval
  latency
}

usdt py:exe:python:function__entry {
  count by comm
}
`;

function expectValid(plan: unknown): void {
  const ok = validatePlan(plan);
  expect(validatePlan.errors ?? [], JSON.stringify(validatePlan.errors, null, 2)).toEqual([]);
  expect(ok).toBe(true);
}

describe("compile with a stub resolver", () => {
  it("plans every probe, with its program, valid against the schema", async () => {
    const { plan, diagnostics } = await compile(SPEC, { file: "spec.probe", resolve: stub });
    // python3.11's function__entry fires only while python:line's semaphore is raised (issue 10): one warning per such target.
    const warning = expect.stringMatching(/^CPython 3\.11\.\d+ fires python:function__entry only while tracing is on/);
    expect(diagnostics.map((d) => [d.severity, d.location.start.line, d.message])).toEqual([
      ["warning", 4, warning],
      ["warning", 19, warning],
    ]);
    expect(plan).toBeDefined();
    expectValid(plan);
    // One silent python:line entry for the binary, however many probes ask.
    const probes = plan!.probes.filter((p) => !p.id.endsWith(".python-line"));
    expect(plan!.probes.map((p) => p.id)).toEqual(["probe1", "probe1.python-line", "probe2", "probe3"]);
    expect(probes.map((p) => [p.id, p.kind, p.strategy, p.source.line, p.source.col])).toEqual([
      ["probe1", "usdt", "fd", 4, 6],
      ["probe2", "uprobe+ret", "root", 12, 12],
      ["probe3", "usdt", "fd", 19, 6],
    ]);
    const cookies = probes.flatMap((p) => p.points.map((x) => x.cookie));
    expect(new Set(cookies).size).toBe(cookies.length);
    expect(Math.min(...cookies)).toBe(1);
    expect(probes[0]?.program).toEqual({
      fields: [
        { name: "file", type: "string", expr: { op: "str", arg: { op: "arg", index: 0 }, maxLen: 200 } },
        { name: "fn", type: "string", expr: { op: "str", arg: { op: "arg", index: 1 }, maxLen: 64 } },
        { name: "line", type: "int", expr: { op: "cast", to: "i32", expr: { op: "arg", index: 2 } } },
      ],
      filter: {
        op: "binary",
        operator: "&&",
        left: { op: "binary", operator: ">", left: { op: "arg", index: 2 }, right: { op: "int", value: "10" } },
        right: {
          op: "binary",
          operator: "==",
          left: { op: "binary", operator: "%", left: { op: "capture", name: "pid" }, right: { op: "int", value: "2" } },
          right: { op: "int", value: "0" },
        },
      },
      format: "{file}:{line} {fn}",
      aggregates: [],
      strlen: 200,
    });
    expect(probes[2]?.program?.aggregates).toEqual([{ fn: "count", value: null, by: [{ op: "capture", name: "comm" }], lhist: null, text: "count by comm" }]);
    expect(probes[2]?.program?.fields).toEqual([]);
    // A file without `interval` or `option mapkeys` leaves the plan's aggregation to the defaults.
    expect(plan).not.toHaveProperty("aggregation");
    // Two probes on the same USDT sites share their semaphores (PITFALLS 26).
    const sem = (i: number) => probes[i]?.points.map((p) => [p.fileOffset, p.refCtrOffset]);
    expect(sem(2)).toEqual(sem(0));
  });

  it("is deterministic given the resolver", async () => {
    const a = await compile(SPEC, { file: "spec.probe", resolve: stub });
    const b = await compile(SPEC, { file: "spec.probe", resolve: stub });
    expect(JSON.stringify(b.plan)).toBe(JSON.stringify(a.plan));
    expect(explainPlan(b.plan!)).toBe(explainPlan(a.plan!));
  });

  it("--strategy wins over the file's options", async () => {
    const { plan } = await compile(SPEC, { file: "spec.probe", resolve: stub, strategy: "map" });
    expect(plan?.probes.map((p) => p.strategy)).toEqual(["map", "map", "map", "map"]);
    expectValid(plan);
  });

  it("a resolver error is a diagnostic at that target, with its hints; other problems too", async () => {
    const source = `uprobe docker/nope:libc:malloc, pid/1:libc:malloc {\n  pid\n}\n\nusdt pid/1:exe:python:function__entry {\n  x = arg7\n}\n`;
    const { plan, diagnostics: all } = await compile(source, { file: "bad.probe", resolve: stub });
    expect(plan).toBeUndefined();
    expect(all.filter((d) => d.severity === "warning").map((d) => d.location.start.line)).toEqual([5]);
    const diagnostics = all.filter((d) => d.severity === "error");
    expect(renderDiagnostics(source, "bad.probe", diagnostics)).toBe(
      [
        'error: docker: no container "nope"',
        " --> bad.probe:1:8",
        "  |",
        "1 | uprobe docker/nope:libc:malloc, pid/1:libc:malloc {",
        "  |        ^^^^^^^^^^^^^^^^^^^^^^^",
        '  = hint: did you mean "nope2"?',
        "  = hint: running: nope2, web",
        "",
        "error: `arg7` is beyond the arguments of the matched USDT site",
        " --> bad.probe:6:7",
        "  |",
        "6 |   x = arg7",
        "  |       ^^^^",
      ].join("\n") +
        "\n" +
        diagnostics[1]!.hints.map((h) => `  = hint: ${h}\n`).join(""),
    );
    expect(diagnostics[1]?.hints[0]).toMatch(/^python:function__entry at 0x[0-9a-f]+ has 3 arguments \(arg0\.\.arg2: "/);
  });

  it("explains each point", async () => {
    const { plan } = await compile(SPEC, { file: "spec.probe", resolve: stub });
    const text = explainPlan(plan!);
    const points = plan!.probes.reduce((n, p) => n + p.points.length, 0);
    expect(text.split("\n").filter((l) => l.startsWith("  point #"))).toHaveLength(points);
    expect(text).toMatch(/binary: exe → exe → \/\S+ → fd: open \S+ in \/proc\/\d+\/root/);
    expect(text).toMatch(/binary: libc → \S+ → \/\S*libc\.so\.6 → root: \/proc\/\d+\/root\/\S+libc\.so\.6/);
    expect(text).toMatch(/point #\d+ entry malloc(@\S+)?: address 0x[0-9a-f]+ → file offset 0x[0-9a-f]+ \(segment: address − 0x[0-9a-f]+\), paired with #\d+/);
    expect(text).toMatch(
      /usdt python:function__entry: address 0x[0-9a-f]+ → file offset 0x[0-9a-f]+ .*(semaphore 0x[0-9a-f]+ → ref_ctr_offset 0x[0-9a-f]+|no semaphore)/,
    );
  });
});

describe("aggregations and ustack in the plan (issue 15)", () => {
  it("`hist(latency) by comm` is the contract's PlanAggregate, on an entry with no fields and no format", async () => {
    const { plan, diagnostics } = await compile("uprobe+ret pid/1:libc:getaddrinfo { hist(latency) by comm }\n", { file: "hist.probe", resolve: stub });
    expect(diagnostics).toEqual([]);
    expectValid(plan);
    expect(plan).not.toHaveProperty("aggregation");
    expect(plan?.probes.map((p) => p.program)).toEqual([
      {
        fields: [],
        filter: null,
        format: null,
        aggregates: [
          { fn: "hist", value: { op: "capture", name: "latency" }, by: [{ op: "capture", name: "comm" }], lhist: null, text: "hist(latency) by comm" },
        ],
        strlen: 128,
      },
    ]);
  });

  it("every function, lhist's bounds, ustack keys and fields, the filter, interval and mapkeys", async () => {
    const source = `interval 5
option mapkeys = 4096

uprobe+ret pid/1:libc:getaddrinfo {
  where retval != 0
  count
  lhist(latency, -100, 1000, 50) by str(arg0, 32)
  stats(retval as i32) by ustack(8), container
  sum(arg1)
  avg(arg1)
  min(latency)
  max(latency)
  hist(latency) by ustack
}

uprobe pid/1:libc:malloc {
  size = arg0
  stack = ustack
  ustack(4)
}
`;
    const { plan, diagnostics } = await compile(source, { file: "agg.probe", resolve: stub });
    expect(diagnostics).toEqual([]);
    expectValid(plan);
    expect(plan?.aggregation).toEqual({ intervalMs: 5000, mapKeys: 4096 });
    const [gai, malloc] = plan!.probes;
    expect(gai?.program?.filter).toEqual({ op: "binary", operator: "!=", left: { op: "capture", name: "retval" }, right: { op: "int", value: "0" } });
    expect(gai?.program?.aggregates).toEqual([
      { fn: "count", value: null, by: [], lhist: null, text: "count" },
      {
        fn: "lhist",
        value: { op: "capture", name: "latency" },
        by: [{ op: "str", arg: { op: "arg", index: 0 }, maxLen: 32 }],
        lhist: { min: -100, max: 1000, step: 50 },
        text: "lhist(latency, -100, 1000, 50) by str(arg0, 32)",
      },
      {
        fn: "stats",
        value: { op: "cast", to: "i32", expr: { op: "capture", name: "retval" } },
        by: [
          { op: "ustack", frames: 8 },
          { op: "capture", name: "container" },
        ],
        lhist: null,
        text: "stats(retval as i32) by ustack(8), container",
      },
      { fn: "sum", value: { op: "arg", index: 1 }, by: [], lhist: null, text: "sum(arg1)" },
      { fn: "avg", value: { op: "arg", index: 1 }, by: [], lhist: null, text: "avg(arg1)" },
      { fn: "min", value: { op: "capture", name: "latency" }, by: [], lhist: null, text: "min(latency)" },
      { fn: "max", value: { op: "capture", name: "latency" }, by: [], lhist: null, text: "max(latency)" },
      { fn: "hist", value: { op: "capture", name: "latency" }, by: [{ op: "ustack", frames: 32 }], lhist: null, text: "hist(latency) by ustack" },
    ]);
    expect(malloc?.program?.aggregates).toEqual([]);
    expect(malloc?.program?.fields).toEqual([
      { name: "size", type: "int", expr: { op: "arg", index: 0 } },
      { name: "stack", type: "stack", expr: { op: "ustack", frames: 32 } },
      { name: "ustack", type: "stack", expr: { op: "ustack", frames: 4 } },
    ]);
  });

  it("the schema refuses a count with a value, an lhist without bounds, a ustack of 0 frames and an unknown function", async () => {
    const { plan } = await compile("uprobe+ret pid/1:libc:getaddrinfo { hist(latency) by ustack }\n", { file: "h.probe", resolve: stub });
    expectValid(plan);
    const broken: [string, (p: AttachPlan) => void][] = [
      ["count with a value", (p) => Object.assign(p.probes[0]!.program!.aggregates[0]!, { fn: "count" })],
      ["lhist without bounds", (p) => Object.assign(p.probes[0]!.program!.aggregates[0]!, { fn: "lhist" })],
      ["hist with bounds", (p) => Object.assign(p.probes[0]!.program!.aggregates[0]!, { lhist: { min: 0, max: 1, step: 1 } })],
      ["ustack of 0 frames", (p) => Object.assign(p.probes[0]!.program!.aggregates[0]!.by[0]!, { frames: 0 })],
      ["an unknown function", (p) => Object.assign(p.probes[0]!.program!.aggregates[0]!, { fn: "median" })],
      ["the old count member", (p) => Object.assign(p.probes[0]!.program!, { count: null })],
      ["aggregation without mapKeys", (p) => Object.assign(p, { aggregation: { intervalMs: 1000 } })],
    ];
    for (const [what, breakIt] of broken) {
      const copy = JSON.parse(JSON.stringify(plan)) as AttachPlan;
      breakIt(copy);
      expect(validatePlan(copy), what).toBe(false);
    }
  });

  it("an error in an aggregating probe stops the compile before any target is resolved", async () => {
    let resolved = 0;
    const counting = async (text: string) => {
      resolved++;
      return stub(text);
    };
    const { plan, diagnostics } = await compile("uprobe+ret pid/1:libc:getaddrinfo { hist(latency)\n rc = retval }\n", { resolve: counting });
    expect(plan).toBeUndefined();
    expect(resolved).toBe(0);
    expect(diagnostics.map((d) => d.message)).toEqual(["a probe that aggregates prints no fields"]);
  });

  it("--explain names the aggregations, with the index their reports carry, and how they are kept", async () => {
    const source = "interval 2\nuprobe+ret pid/1:libc:getaddrinfo {\n  count by comm\n  hist(latency)\n}\n";
    const { plan } = await compile(source, { file: "x.probe", resolve: stub });
    const lines = explainPlan(plan!).split("\n");
    expect(lines[0]).toBe("aggregation: in the kernel, reported every 2 s and reset, and at exit; map of 10240 keys");
    expect(lines.filter((l) => l.startsWith("  aggregate"))).toEqual([
      "  aggregate #0: count by comm (no events: kept in the kernel)",
      "  aggregate #1: hist(latency) (no events: kept in the kernel)",
    ]);
    const defaults = await compile("uprobe pid/1:libc:malloc { count }\n", { resolve: stub });
    expect(explainPlan(defaults.plan!).split("\n")[0]).toBe("aggregation: in the kernel, reported at exit; map of 10240 keys (the defaults)");
    const printing = await compile("uprobe pid/1:libc:malloc { pid }\n", { resolve: stub });
    expect(explainPlan(printing.plan!)).not.toContain("aggregat");
  });
});
