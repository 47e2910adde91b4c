/**
 * Semaphore merging (PITFALLS 26), the container filter (PITFALLS 19) on a
 * synthetic container resolution, and what the schema rejects.
 */
import { readdirSync, readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import {
  assemblePlan,
  mergePlanSemaphores,
  mergeSemaphores,
  planProbesFromResolution,
  type ProbeRequest,
  type SemaphorePoint,
} from "../../src/compile/from-resolution.js";
import type { AttachPlan, PathStrategy } from "../../src/compile/plan.js";
import { UsageError } from "../../src/errors.js";
import type { ProcessInfo } from "../../src/discovery/processes.js";
import type { ObjectGroup, TargetResolution } from "../../src/discovery/resolve-target.js";
import { parseTargetSpec } from "../../src/dsl/target-spec.js";
import type { UsdtSite } from "../../src/usdt/notes.js";

const schema = JSON.parse(readFileSync(new URL("../../schema/attach-plan.schema.json", import.meta.url), "utf8")) as { $id: string };
const ajv = new Ajv2020({ allErrors: true, strict: true });
ajv.addSchema(schema);
const validatePlan = ajv.getSchema<AttachPlan>(schema.$id)!;
const validateArg = ajv.getSchema(`${schema.$id}#/$defs/usdtArg`)!;

const ID = "a".repeat(64);
const SIBLING = "b".repeat(64);

function proc(pid: number, mntNs: number, nsPid: number, container = ID): ProcessInfo {
  return {
    pid,
    nsPid: [pid, nsPid],
    comm: "demo",
    mntNs,
    pidNs: 4026532000 + mntNs,
    container: { runtime: "docker", id: container, cgroupPath: `/system.slice/docker-${container}.scope` },
  };
}

function site(fileOffset: number, semaphoreOffset: number | undefined): UsdtSite {
  return {
    file: "docker/demo:/usr/bin/demo",
    provider: "demo",
    name: "p1",
    address: BigInt(0x1000 + fileOffset),
    fileOffset,
    semaphore: semaphoreOffset === undefined ? undefined : BigInt(0x4000 + semaphoreOffset),
    semaphoreOffset,
    argsText: "-4@%edi",
    args: [
      { kind: "register", register: { name: "rdi", written: "%edi", ptRegsOffset: 112, width: 4, shift: 0 }, index: 0, spec: "-4@%edi", size: 4, signed: true },
    ],
    noteOffset: 0x300,
  };
}

function group(mntNs: number, processes: ProcessInfo[], usdt: UsdtSite[]): ObjectGroup {
  const pid = processes[0]!.pid;
  return {
    mntNs,
    processes,
    usdt,
    symbols: undefined,
    object: {
      request: "exe",
      containerPath: "/usr/bin/demo",
      how: "exe",
      rootPath: `/proc/${pid}/root/usr/bin/demo`,
      mapFilesPath: `/proc/${pid}/map_files/55d0c0000000-55d0c0001000`,
      layerPath: "/var/lib/docker/overlay2/abc/diff/usr/bin/demo",
      readPath: `/proc/${pid}/map_files/55d0c0000000-55d0c0001000`,
      // Same layer inode in both mount namespaces, a different overlay device per container (PITFALLS 21).
      identity: { dev: BigInt(60 + mntNs), ino: 1234567n, size: 20480n, mtimeNs: 1700000000000000000n, buildId: "0123456789abcdef0123456789abcdef01234567" },
      mapped: true,
      replaced: false,
      warnings: [],
    },
  };
}

/** docker/demo with two mount namespaces (e.g. an exec'd process that unshared), sharing the binary's inode. */
function containerResolution(sites: UsdtSite[]): TargetResolution {
  const a = [proc(300, 1, 1), proc(301, 1, 7)];
  const b = [proc(310, 2, 9)];
  return {
    spec: parseTargetSpec("docker/demo:exe:demo:p1"),
    scope: { runtime: "docker", containerId: ID, containerName: "demo", labels: {}, layers: ["/var/lib/docker/overlay2/abc/diff"], processes: [...b, ...a] },
    groups: [group(1, a, sites), group(2, b, sites)],
  };
}

const probe = (id: string, strategy: PathStrategy = "fd"): ProbeRequest => ({
  id,
  kind: "usdt",
  specText: `usdt ${id}`,
  source: { file: "x.probe", line: 3, col: 5 },
  strategy,
});

describe("container scope", () => {
  it("every entry carries the container filter: id, cgroup path, every pid", () => {
    const plan = assemblePlan(planProbesFromResolution(containerResolution([site(0x10, 0x20)]), probe("p")));
    expect(validatePlan(plan), JSON.stringify(validatePlan.errors)).toBe(true);
    expect(plan.probes).toHaveLength(2);
    for (const entry of plan.probes) {
      expect(entry.filter).toEqual({ kind: "container", containerId: ID, cgroupPaths: [`/system.slice/docker-${ID}.scope`], pids: [300, 301, 310] });
      expect(entry.target).toMatchObject({ runtime: "docker", containerId: ID, containerName: "demo" });
    }
    expect(plan.probes[0]!.target.processes).toEqual([
      { pid: 300, nsPid: [300, 1], pidNs: 4026532001, comm: "demo" },
      { pid: 301, nsPid: [301, 7], pidNs: 4026532001, comm: "demo" },
    ]);
    expect(plan.probes.map((p) => p.binary.dev)).toEqual(["61", "62"]);
    expect(plan.probes.map((p) => p.points[0]!.cookie)).toEqual([1, 2]);
  });

  it("only the container's own cgroup paths, not a sibling's", () => {
    const r = containerResolution([site(0x10, undefined)]);
    const withStranger = { ...r, scope: { ...r.scope, processes: [...r.scope.processes, proc(400, 1, 2, SIBLING)] } };
    const [entry] = planProbesFromResolution(withStranger, probe("p"));
    expect(entry!.filter!.cgroupPaths).toEqual([`/system.slice/docker-${ID}.scope`]);
  });

  it("each strategy's kernel path; host is refused for a container", () => {
    const r = containerResolution([site(0x10, 0x20)]);
    const path = (s: PathStrategy): [string, string | null] => {
      const b = planProbesFromResolution(r, probe("p", s))[0]!.binary;
      return [b.kernelPath, b.openRoot];
    };
    expect(path("fd")).toEqual(["/usr/bin/demo", "/proc/300/root"]);
    expect(path("root")).toEqual(["/proc/300/root/usr/bin/demo", null]);
    expect(path("layer")).toEqual(["/var/lib/docker/overlay2/abc/diff/usr/bin/demo", null]);
    expect(path("map")).toEqual(["/proc/300/map_files/55d0c0000000-55d0c0001000", null]);
    expect(() => path("host")).toThrow(/the host path strategy is not available: the target runs in container aaaaaaaaaaaa/);
  });

  it("a replaced binary refuses fd, root and host, and points at map or layer", () => {
    const r = containerResolution([site(0x10, 0x20)]);
    const replaced = { ...r, groups: r.groups.map((g) => ({ ...g, object: { ...g.object, replaced: true } })) };
    const error = (() => {
      try {
        planProbesFromResolution(replaced, probe("p", "fd"));
      } catch (e) {
        return e as UsageError;
      }
      throw new Error("no error");
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toMatch(/not the one the process runs/);
    expect(error.hints).toEqual(["use --strategy layer or map"]);
    expect(planProbesFromResolution(replaced, probe("p", "map"))[0]!.binary.kernelPath).toMatch(/map_files/);
  });
});

describe("semaphores (PITFALLS 26)", () => {
  const at = (cookie: number, fileOffset: number, refCtrOffset: number | null, ino = "42"): SemaphorePoint => ({
    ino,
    size: 100,
    buildId: "ab",
    fileOffset,
    refCtrOffset,
    cookie,
  });

  it("points at one inode and offset share the one semaphore any of them has", () => {
    const { points, conflicts } = mergeSemaphores([at(1, 0x10, null), at(2, 0x10, 0x80), at(3, 0x18, null), at(4, 0x10, 0x80, "43")]);
    expect(conflicts).toEqual([]);
    expect(points.map((p) => p.refCtrOffset)).toEqual([0x80, 0x80, null, 0x80]);
    expect(points.map((p) => p.cookie)).toEqual([1, 2, 3, 4]);
  });

  it("a different inode, size or build-id is a different file", () => {
    const { points } = mergeSemaphores([
      at(1, 0x10, 0x80),
      at(2, 0x10, null, "43"),
      { ...at(3, 0x10, null), buildId: "cd" },
      { ...at(4, 0x10, null), size: 101 },
    ]);
    expect(points.map((p) => p.refCtrOffset)).toEqual([0x80, null, null, null]);
  });

  it("two semaphores at one place are a conflict, left as they were", () => {
    const input = [at(5, 0x10, 0x88), at(2, 0x10, 0x80), at(3, 0x10, null), at(4, 0x20, 0x90)];
    const { points, conflicts } = mergeSemaphores(input);
    expect(conflicts).toEqual([{ ino: "42", fileOffset: 0x10, refCtrOffsets: [0x80, 0x88], cookies: [2, 3, 5] }]);
    expect(points).toEqual(input);
  });

  it("across plan entries: a uprobe on a USDT site gets the site's semaphore; a conflict names the probes", () => {
    const r = containerResolution([site(0x10, 0x20)]);
    const usdt = planProbesFromResolution(r, probe("usdt"));
    const noSem = containerResolution([site(0x10, undefined)]);
    const plain = planProbesFromResolution(noSem, probe("plain"), { firstCookie: 3 });
    const merged = mergePlanSemaphores([...usdt, ...plain]);
    expect(merged.flatMap((p) => p.points.map((x) => x.refCtrOffset))).toEqual([0x20, 0x20, 0x20, 0x20]);
    expect(plain[0]!.points[0]!.refCtrOffset).toBeNull(); // the input is not mutated
    const other = planProbesFromResolution(containerResolution([site(0x10, 0x28)]), probe("other"), { firstCookie: 5 });
    expect(() => mergePlanSemaphores([...usdt, ...other])).toThrow(
      /offset 16: probes usdt, other need different semaphores there \(ref_ctr_offset 32 and 40\)/,
    );
  });
});

describe("the schema", () => {
  const valid = (): AttachPlan => assemblePlan(planProbesFromResolution(containerResolution([site(0x10, 0x20)]), probe("p")));

  it("accepts a valid plan", () => {
    expect(validatePlan(valid())).toBe(true);
  });

  it("rejects a missing field, a wrong type, an unknown field, a wrong version, a null container id in a container filter", () => {
    const cases: [string, (p: AttachPlan) => void, RegExp][] = [
      ["no binary.ino", (p) => delete (p.probes[0]!.binary as Partial<AttachPlan["probes"][0]["binary"]>).ino, /must have required property 'ino'/],
      ["no filter", (p) => delete (p.probes[0] as { filter?: unknown }).filter, /must have required property 'filter'/],
      ["fileOffset as a string", (p) => ((p.probes[0]!.points[0] as { fileOffset: unknown }).fileOffset = "16"), /must be integer/],
      ["ino as a number", (p) => ((p.probes[0]!.binary as { ino: unknown }).ino = 1234567), /must be string/],
      ["address not hex", (p) => ((p.probes[0]!.points[0]!.site as { address: string }).address = "4112"), /must match pattern/],
      ["an unknown field", (p) => ((p.probes[0] as unknown as Record<string, unknown>)["extra"] = 1), /must NOT have additional properties/],
      ["planVersion 3", (p) => ((p as { planVersion: unknown }).planVersion = 3), /must be equal to constant/],
      ["cookie 0", (p) => (p.probes[0]!.points[0]!.cookie = 0), /must be >= 1/],
      ["kind", (p) => ((p.probes[0] as { kind: string }).kind = "kprobe"), /must be equal to one of the allowed values/],
      ["container filter without id", (p) => (p.probes[0]!.filter!.containerId = null), /must be string/],
      [
        "an argument with an unknown field",
        (p) => {
          const s = p.probes[0]!.points[0]!.site;
          if (s.kind === "usdt") (s.args[0] as Record<string, unknown>)["bogus"] = true;
        },
        /must NOT have unevaluated properties/,
      ],
    ];
    for (const [name, mutate, message] of cases) {
      const plan = structuredClone(valid());
      mutate(plan);
      expect(validatePlan(plan), name).toBe(false);
      expect(ajv.errorsText(validatePlan.errors), name).toMatch(message);
    }
  });

  it("describes every decoded argument the golden fixtures hold (usdtArgToJson's shape)", () => {
    const dir = new URL("../golden/", import.meta.url);
    const kinds = new Set<string>();
    let count = 0;
    for (const name of readdirSync(dir).filter((n) => n.startsWith("usdt") || n.startsWith("libusdt"))) {
      const golden = JSON.parse(readFileSync(new URL(name, dir), "utf8")) as { usdt?: { json?: { args?: { kind: string }[] }[] } };
      for (const s of golden.usdt?.json ?? []) {
        for (const arg of s.args ?? []) {
          expect(validateArg(arg), `${name}: ${JSON.stringify(arg)} ${ajv.errorsText(validateArg.errors)}`).toBe(true);
          kinds.add(arg.kind);
          count++;
        }
      }
    }
    expect(count).toBeGreaterThan(100);
    expect([...kinds].sort()).toEqual(expect.arrayContaining(["constant", "memory", "register"]));
  });
});
