/**
 * AttachPlan entries from real resolutions of a host process, validated
 * against schema/attach-plan.schema.json; determinism; limits; errors.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assemblePlan, checkProbeLimits, planProbesFromResolution, type ProbeRequest } from "../../src/compile/from-resolution.js";
import { PLAN_LIMITS, type AttachPlan, type PathStrategy, type PlanProbe } from "../../src/compile/plan.js";
import { LimitError, UsageError } from "../../src/errors.js";
import { resolveTarget, type TargetResolution } from "../../src/discovery/resolve-target.js";

const PYTHON = "/usr/bin/python3.11";
const schema = JSON.parse(readFileSync(new URL("../../schema/attach-plan.schema.json", import.meta.url), "utf8")) as object;
const validatePlan = new Ajv2020({ allErrors: true, strict: true }).compile<AttachPlan>(schema);

function expectValid(plan: unknown): void {
  const ok = validatePlan(plan);
  expect(validatePlan.errors ?? [], JSON.stringify(validatePlan.errors, null, 2)).toEqual([]);
  expect(ok).toBe(true);
}

function request(id: string, kind: ProbeRequest["kind"], strategy: PathStrategy, line = 1): ProbeRequest {
  return { id, kind, specText: `${kind} ${id}`, source: { file: "test.probe", line, col: 1 }, strategy };
}

let child: ChildProcess;
let pid: number;
let usdt: TargetResolution;
let libc: TargetResolution;

beforeAll(async () => {
  child = spawn(PYTHON, ["-c", "import time; print('ready', flush=True); time.sleep(30)"], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
    child.once("error", reject);
  });
  pid = child.pid!;
  usdt = await resolveTarget(`pid/${pid}:exe:python:function__entry`);
  libc = await resolveTarget(`pid/${pid}:libc:malloc`);
});

afterAll(async () => {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }
});

function build(strategy: PathStrategy): AttachPlan {
  const a = planProbesFromResolution(usdt, request("calls", "usdt", strategy), { firstCookie: 1 });
  const next = Math.max(...a.flatMap((p) => p.points.map((x) => x.cookie))) + 1;
  const b = planProbesFromResolution(libc, request("mallocs", "uprobe+ret", strategy, 2), { firstCookie: next });
  return assemblePlan([...a, ...b]);
}

describe("plans from a real host process", () => {
  for (const strategy of ["fd", "root", "map", "host"] as const) {
    it(`${strategy}: a schema-valid plan with provenance, identity, points and a pid filter`, () => {
      const plan = build(strategy);
      expectValid(plan);
      // What the attacher reads is plain JSON: a round trip changes nothing.
      expectValid(JSON.parse(JSON.stringify(plan)));
      expect(plan.planVersion).toBe(2);
      const [calls, mallocs] = plan.probes as [PlanProbe, PlanProbe];
      expect(plan.probes).toHaveLength(2);

      for (const probe of plan.probes) {
        expect(probe.strategy).toBe(strategy);
        expect(probe.target.runtime).toBe("pid");
        expect(probe.target.processes.map((p) => p.pid)).toEqual([pid]);
        expect(probe.target.processes[0]?.nsPid.at(0)).toBe(pid);
        expect(probe.target.mntNs).toBeGreaterThan(0);
        // A pid scope outside any container: the probe fires in that process only.
        expect(probe.filter).toEqual({ kind: "process", containerId: null, cgroupPaths: [], pids: [pid] });
        expect(probe.binary.ino).toMatch(/^[1-9][0-9]*$/);
        expect(probe.binary.buildId).toMatch(/^[0-9a-f]{40}$/);
        expect(probe.binary.size).toBeGreaterThan(0);
        expect(probe.binary.mapped).toBe(true);
        expect(probe.binary.replaced).toBe(false);
        expect(probe.binary.openRoot).toBe(strategy === "fd" ? `/proc/${pid}/root` : null);
      }

      // python:function__entry has a semaphore: every site carries it as ref_ctr_offset, with decoded args.
      expect(calls.binary.containerPath).toBe(PYTHON);
      expect(calls.points.length).toBeGreaterThan(0);
      for (const point of calls.points) {
        expect(point.side).toBe("entry");
        expect(point.refCtrOffset).toEqual(expect.any(Number));
        expect(point.site.kind).toBe("usdt");
        if (point.site.kind !== "usdt") continue;
        expect(point.site.provider).toBe("python");
        expect(point.site.semaphoreAddress).toMatch(/^0x/);
        expect(point.site.args.map((a) => a.index)).toEqual([0, 1, 2]);
      }

      // malloc as uprobe+ret: an entry and a return point at one offset, paired by cookie.
      expect(mallocs.binary.containerPath).toMatch(/\/libc\.so\.6$/);
      expect(mallocs.points).toHaveLength(2);
      const [entry, ret] = mallocs.points;
      expect(entry).toMatchObject({ side: "entry", refCtrOffset: null, pairedWith: ret?.cookie });
      expect(ret).toMatchObject({ side: "return", refCtrOffset: null, pairedWith: entry?.cookie, fileOffset: entry?.fileOffset });
      expect(entry?.site).toMatchObject({ kind: "symbol", name: "malloc" });

      // Cookies number every point of the plan from 1, without gaps or repeats.
      const cookies = plan.probes.flatMap((p) => p.points.map((x) => x.cookie));
      expect(cookies).toEqual(cookies.map((_, i) => i + 1));

      const usdtObject = usdt.groups[0]!.object;
      const libcObject = libc.groups[0]!.object;
      switch (strategy) {
        case "fd":
          expect(calls.binary.kernelPath).toBe(PYTHON);
          expect(mallocs.binary.kernelPath).toBe(libcObject.rootPath!.slice(`/proc/${pid}/root`.length));
          break;
        case "root":
          expect(calls.binary.kernelPath).toBe(usdtObject.rootPath);
          expect(mallocs.binary.kernelPath).toMatch(new RegExp(`^/proc/${pid}/root/.*libc\\.so\\.6$`));
          break;
        case "map":
          expect(calls.binary.kernelPath).toMatch(new RegExp(`^/proc/${pid}/(map_files/[0-9a-f]+-[0-9a-f]+|exe)$`));
          expect(mallocs.binary.kernelPath).toMatch(new RegExp(`^/proc/${pid}/map_files/[0-9a-f]+-[0-9a-f]+$`));
          break;
        case "host":
          expect(calls.binary.kernelPath).toBe(PYTHON);
          expect(mallocs.binary.kernelPath).toBe(libcObject.containerPath);
          break;
      }
    });
  }

  it("layer: refused on a root that is not an overlay, naming the strategies that work", () => {
    let error: unknown;
    try {
      planProbesFromResolution(libc, request("mallocs", "uprobe", "layer"));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toMatch(/the layer path strategy is not available: its mount is not an overlay/);
    expect((error as UsageError).hints.join(" ")).toMatch(/--strategy fd or root or map or host/);
  });

  it("is deterministic: the same resolution gives deep-equal plans", () => {
    for (const strategy of ["fd", "root", "map", "host"] as const) {
      const a = build(strategy);
      const b = build(strategy);
      expect(b).toEqual(a);
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    }
  });

  it("refuses a kind that does not fit the location", () => {
    expect(() => planProbesFromResolution(libc, request("x", "usdt", "fd"))).toThrow(/a usdt probe needs a provider:name location/);
    expect(() => planProbesFromResolution(usdt, request("x", "uprobe", "fd"))).toThrow(/a uprobe probe needs a function/);
  });

  it("uretprobe makes return points; cookies start where asked", () => {
    const [probe] = planProbesFromResolution(libc, request("r", "uretprobe", "fd"), { firstCookie: 100 });
    expect(probe?.points).toMatchObject([{ cookie: 100, side: "return", pairedWith: null }]);
    expect(() => planProbesFromResolution(libc, request("r", "uretprobe", "fd"), { firstCookie: 0 })).toThrow(UsageError);
  });

  it("assemblePlan refuses a cookie used twice", () => {
    const a = planProbesFromResolution(libc, request("a", "uprobe", "fd"));
    const b = planProbesFromResolution(libc, request("b", "uprobe", "fd"));
    expect(() => assemblePlan([...a, ...b])).toThrow(/cookie 1 is used twice/);
  });

  it("limits are named", () => {
    const [probe] = planProbesFromResolution(libc, request("many", "uprobe", "fd"));
    const point = probe!.points[0]!;
    const tooMany = { ...probe!, points: Array.from({ length: PLAN_LIMITS.maxPointsPerProbe + 1 }, (_, i) => ({ ...point, cookie: i + 1 })) };
    expect(() => checkProbeLimits(tooMany)).toThrow(LimitError);
    expect(() => checkProbeLimits(tooMany)).toThrow(/maxPointsPerProbe \(4096\)/);
    const [site] = planProbesFromResolution(usdt, request("args", "usdt", "fd"));
    const sitePoint = site!.points[0]!;
    if (sitePoint.site.kind !== "usdt") throw new Error("not a USDT point");
    const arg = sitePoint.site.args[0]!;
    const wide = { ...site!, points: [{ ...sitePoint, site: { ...sitePoint.site, args: Array.from({ length: 13 }, (_, index) => ({ ...arg, index })) } }] };
    expect(() => checkProbeLimits(wide)).toThrow(/maxUsdtArgs \(12\)/);
    const crowd = { ...probe!, filter: { kind: "process" as const, containerId: null, cgroupPaths: [], pids: Array.from({ length: 4097 }, (_, i) => i + 1) } };
    expect(() => checkProbeLimits(crowd)).toThrow(/maxFilterPids \(4096\)/);
  });
});
