/**
 * resolveTarget and `probec list` against real host processes:
 *
 *  - Debian's /usr/bin/python3.11 (USDT probes with semaphores), as `pid/N`:
 *    exe, libc, libc.so.6, libm, a glob, `sym+0x4`, unknown names;
 *  - python3.11 children that map libusdt_same.so from a deleted copy and
 *    from a memfd (PITFALLS 18): listed by `probec list pid/N`, and the
 *    deleted one resolved by its old path through map_files.
 *
 * Every child is SIGKILLed and reaped in afterAll.
 */
import { copyFileSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import tmp from "tmp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { findSymbol, findUsdt, listSymbols, NotFoundError } from "../../../src/index.js";
import { mappedObjects, readMaps } from "../../../src/discovery/proc/maps.js";
import { resolveTarget } from "../../../src/discovery/resolve-target.js";
import { probec } from "../../support/cli.js";
import { Children, PYTHON } from "./children.js";

const FIXTURE = "fixtures/elf/bin/libusdt_same.so";
const facts = JSON.parse(readFileSync("fixtures/elf/facts.json", "utf8")) as {
  files: Record<string, { usdt: { provider: string; name: string; pc: string; pc_file_offset: string }[] }>;
};
const SAME_PROBE = facts.files["libusdt_same.so"]!.usdt.find((u) => u.provider === "same" && u.name === "probe")!;
const SAME_PROBE_OFFSET = Number(SAME_PROBE.pc_file_offset);
const SAME_PROBE_ADDRESS = SAME_PROBE.pc;

const children = new Children();
// No ':' in the path: it is part of a target spec.
const dir = tmp.dirSync({ prefix: "probec-e2e-", unsafeCleanup: true });

afterAll(async () => {
  await children.killAll();
  dir.removeCallback();
});

/** The path of the one mapping of `pid` whose path matches `re`. */
function mappedPath(pid: number, re: RegExp): string {
  const paths = [
    ...new Set(
      mappedObjects(readMaps(pid))
        .map((o) => o.path)
        .filter((p) => re.test(p)),
    ),
  ];
  expect(paths, `mappings of ${pid} matching ${re}`).toHaveLength(1);
  return paths[0]!;
}

describe("a host python3.11 process", () => {
  let pid: number;
  let libc: string;
  let libm: string;

  beforeAll(async () => {
    const child = await children.startReady(PYTHON, ["-c", "import sys\nprint('ready', flush=True)\nsys.stdin.read()"]);
    pid = child.pid!;
    libc = mappedPath(pid, /\/libc\.so\.6$/);
    libm = mappedPath(pid, /\/libm\.so\.6$/);
  });

  test("exe:python:function__entry gives findUsdt's offset and semaphore offset", async () => {
    const expected = await findUsdt(PYTHON, { provider: "python", name: "function__entry" });
    expect(expected).toHaveLength(1);
    expect(expected[0]!.semaphoreOffset).toBeTypeOf("number");
    const r = await resolveTarget(`pid/${pid}:exe:python:function__entry`);
    expect(r.scope.runtime).toBe("pid");
    expect(r.scope.processes).toHaveLength(1);
    expect(r.scope.processes[0]!.pid).toBe(pid);
    expect(r.scope.processes[0]!.nsPid[0]).toBe(pid);
    expect(r.groups).toHaveLength(1);
    const g = r.groups[0]!;
    expect(g.object).toMatchObject({ request: "exe", how: "exe", containerPath: PYTHON, readPath: `/proc/${pid}/exe`, mapped: true, replaced: false });
    expect(g.symbols).toBeUndefined();
    expect(g.usdt!.map((s) => [s.provider, s.name, s.fileOffset, s.semaphoreOffset])).toEqual([
      ["python", "function__entry", expected[0]!.fileOffset, expected[0]!.semaphoreOffset],
    ]);
  });

  test("libc:malloc is malloc in the libc the process maps, read through map_files", async () => {
    const expected = await findSymbol(libc, "malloc");
    const r = await resolveTarget(`pid/${pid}:libc:malloc`);
    expect(r.groups).toHaveLength(1);
    const g = r.groups[0]!;
    expect(g.object.how).toBe("maps");
    expect(g.object.mapped).toBe(true);
    expect(g.object.replaced).toBe(false);
    expect(g.object.containerPath).toBe(libc);
    expect(g.object.readPath.startsWith(`/proc/${pid}/map_files/`)).toBe(true);
    expect(g.object.readPath).toBe(g.object.mapFilesPath);
    expect(g.object.identity.ino).toBe(statSync(libc, { bigint: true }).ino);
    expect(g.symbols!.map((s) => [s.name, s.fileOffset])).toEqual([["malloc", expected.fileOffset]]);
  });

  test("libc.so.6:getaddrinfo+0x4 is getaddrinfo's offset + 4", async () => {
    const expected = await findSymbol(libc, "getaddrinfo");
    const r = await resolveTarget(`pid/${pid}:libc.so.6:getaddrinfo+0x4`);
    expect(r.groups[0]!.object.containerPath).toBe(libc);
    expect(r.groups[0]!.symbols!.map((s) => [s.name, s.fileOffset, s.address])).toEqual([["getaddrinfo+0x4", expected.fileOffset + 4, expected.address + 4n]]);
  });

  test("libm:cos* lists exactly libm's cos* functions, cos among them", async () => {
    const expected = await listSymbols(libm, { pattern: "cos*" });
    const r = await resolveTarget(`pid/${pid}:libm:cos*`);
    expect(r.groups[0]!.object.containerPath).toBe(libm);
    const got = r.groups[0]!.symbols!;
    expect(got.map((s) => s.name)).toContain("cos");
    expect(got.every((s) => s.name.startsWith("cos"))).toBe(true);
    const key = (s: { name: string; version: string | null; fileOffset: number }): string => `${s.name}@${s.version}=${s.fileOffset}`;
    expect(got.map(key).sort()).toEqual(expected.map(key).sort());
    // cos is an IFUNC in glibc's libm: the glob lists it (type ifunc) at the resolver's offset.
    const cos = await findSymbol(libm, "cos", { allowIfunc: true });
    expect(got.filter((s) => s.name === "cos" && s.isDefaultVersion).map((s) => [s.fileOffset, s.type])).toEqual([[cos.fileOffset, cos.type]]);
  });

  test("an unknown library is a NotFoundError", async () => {
    await expect(resolveTarget(`pid/${pid}:libprobec_nosuch:malloc`)).rejects.toThrow(NotFoundError);
  });

  test("exe:nosuch is a NotFoundError", async () => {
    await expect(resolveTarget(`pid/${pid}:exe:nosuch_probec_symbol`)).rejects.toThrow(NotFoundError);
  });
});

describe("PITFALLS 18: a library loaded from a deleted copy and from a memfd", () => {
  const deleted = join(dir.name, "libusdt_same.so");
  let deletedPid: number;
  let memfdPid: number;

  beforeAll(async () => {
    copyFileSync(FIXTURE, deleted);
    const deleting = [
      "import ctypes, os, sys",
      "lib = ctypes.CDLL(sys.argv[1])",
      "os.unlink(sys.argv[1])",
      "print('ready', flush=True)",
      "sys.stdin.read()",
    ].join("\n");
    deletedPid = (await children.startReady(PYTHON, ["-c", deleting, deleted])).pid!;
    const memfd = [
      "import ctypes, os, sys",
      "fd = os.memfd_create('probec-same')",
      "os.write(fd, open(sys.argv[1], 'rb').read())",
      "lib = ctypes.CDLL(f'/proc/self/fd/{fd}')",
      "print('ready', flush=True)",
      "sys.stdin.read()",
    ].join("\n");
    memfdPid = (await children.startReady(PYTHON, ["-c", memfd, FIXTURE])).pid!;
    expect(() => statSync(deleted)).toThrow();
  });

  /** `probec list pid/N --json` rows for the same:* probes. */
  async function sameProbes(pid: number): Promise<{ file: string; provider: string; name: string; address: string; fileOffset: number }[]> {
    const out = await probec("list", `pid/${pid}`, "--json");
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    const rows = JSON.parse(out.stdout) as { file: string; provider: string; name: string; address: string; fileOffset: number }[];
    return rows.filter((r) => r.provider === "same");
  }

  test("probec list pid/N lists same:probe of the deleted library at facts.json's offset", async () => {
    const rows = await sameProbes(deletedPid);
    expect(rows.filter((r) => r.name === "probe").map((r) => [r.file, r.address, r.fileOffset])).toEqual([
      [`pid/${deletedPid}:${deleted}`, SAME_PROBE_ADDRESS, SAME_PROBE_OFFSET],
    ]);
    const table = await probec("list", `pid/${deletedPid}`, "same:probe");
    expect(table.code).toBe(0);
    const line = table.stdout.split("\n").find((l) => l.includes("same:probe"));
    expect(line?.split(/\s+/).filter((w) => w !== "")).toEqual([
      `pid/${deletedPid}:${deleted}`,
      "same:probe",
      SAME_PROBE_ADDRESS,
      `0x${SAME_PROBE_OFFSET.toString(16)}`,
      "-",
      "-4@%edi",
      "-4@$1",
    ]);
  });

  test("probec list pid/N lists same:probe of the memfd library at facts.json's offset", async () => {
    const rows = await sameProbes(memfdPid);
    expect(rows.filter((r) => r.name === "probe").map((r) => [r.file, r.address, r.fileOffset])).toEqual([
      [`pid/${memfdPid}:/memfd:probec-same`, SAME_PROBE_ADDRESS, SAME_PROBE_OFFSET],
    ]);
  });

  test("resolveTarget by the deleted path resolves through map_files (mapped, replaced)", async () => {
    const r = await resolveTarget(`pid/${deletedPid}:${deleted}:same:probe`);
    expect(r.groups).toHaveLength(1);
    const g = r.groups[0]!;
    expect(g.object).toMatchObject({ request: deleted, containerPath: deleted, how: "absolute", rootPath: undefined, mapped: true, replaced: true });
    expect(g.object.readPath).toContain(`/proc/${deletedPid}/map_files/`);
    expect(g.object.readPath).toBe(g.object.mapFilesPath);
    expect(g.object.identity.size).toBe(BigInt(statSync(FIXTURE).size));
    expect(g.usdt!.map((s) => [s.provider, s.name, s.fileOffset, s.semaphoreOffset])).toEqual([["same", "probe", SAME_PROBE_OFFSET, undefined]]);
  });
});
