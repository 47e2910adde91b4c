/**
 * PITFALLS 23, LD_LIBRARY_PATH: read from the TARGET's /proc/<pid>/environ.
 *
 * A host python3.11 child is started with LD_LIBRARY_PATH=<missing dir>:<tmpdir>,
 * where <tmpdir> holds libprobecenv.so, a copy of fixtures/elf/bin/libver.so
 * that nothing loads (its DT_SONAME is still libver.so: the loader searches
 * LD_LIBRARY_PATH by file name). A second child without LD_LIBRARY_PATH
 * cannot find the library, and neither can probec itself: the variable is
 * the target's, not probec's.
 *
 * Both children are SIGKILLed and reaped in afterAll.
 */
import { copyFileSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { findSymbol, NotFoundError } from "../../../src/index.js";
import { resolveTarget } from "../../../src/discovery/resolve-target.js";
import { Children, PYTHON } from "../e2e/children.js";

const FIXTURE = "fixtures/elf/bin/libver.so";
const children = new Children();
// realpath: no symlink in the directory, and no ':' (it is part of a target spec and of LD_LIBRARY_PATH).
const dir = realpathSync(mkdtempSync(join(tmpdir(), "probec-loader-env-")));
const lib = join(dir, "libprobecenv.so");
const missing = join(dir, "no-such-dir");
const SCRIPT = "import sys\nprint('ready', flush=True)\nsys.stdin.read()";

let withPath: number;
let without: number;

beforeAll(async () => {
  copyFileSync(FIXTURE, lib);
  const env = { ...process.env };
  delete env["LD_LIBRARY_PATH"];
  withPath = (await children.startReady(PYTHON, ["-c", SCRIPT], { env: { ...env, LD_LIBRARY_PATH: `${missing}:${dir}` } })).pid!;
  without = (await children.startReady(PYTHON, ["-c", SCRIPT], { env })).pid!;
});

afterAll(async () => {
  try {
    await children.killAll();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("pid/N:libprobecenv:vfunc is found through the target's LD_LIBRARY_PATH, unmapped, at the fixture's offset", async () => {
  expect(dir).not.toContain(":");
  expect(process.env["LD_LIBRARY_PATH"] ?? "").not.toContain(dir);
  const expected = await findSymbol(FIXTURE, "vfunc");
  const r = await resolveTarget(`pid/${withPath}:libprobecenv:vfunc`);
  expect(r.scope.processes.map((p) => p.pid)).toEqual([withPath]);
  expect(r.groups).toHaveLength(1);
  const o = r.groups[0]!.object;
  expect(o.how).toBe("LD_LIBRARY_PATH");
  expect(o.containerPath).toBe(lib);
  expect(o.mapped).toBe(false);
  expect(o.mapFilesPath).toBeUndefined();
  expect(o.readPath).toBe(`/proc/${withPath}/root${lib}`);
  expect(r.groups[0]!.symbols!.map((s) => [s.name, s.version, s.fileOffset])).toEqual([["vfunc", expected.version, expected.fileOffset]]);
  // The exact file name too.
  const exact = await resolveTarget(`pid/${withPath}:libprobecenv.so`);
  expect(exact.groups.map((g) => [g.object.how, g.object.containerPath])).toEqual([["LD_LIBRARY_PATH", lib]]);
});

test("a process without that LD_LIBRARY_PATH cannot resolve libprobecenv (NotFoundError)", async () => {
  const error = await resolveTarget(`pid/${without}:libprobecenv:vfunc`).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NotFoundError);
  const message = (error as Error).message;
  // It looked in the maps, the cache and the default directories, and nowhere else: no LD_LIBRARY_PATH of probec's own.
  expect(message).toMatch(
    /^library "libprobecenv": not found; looked in the process's maps \(\d+ objects\), \/etc\/ld\.so\.cache \(\d+ of \d+ entries for this architecture\), the default directories \(/,
  );
  expect(message).not.toContain(dir);
});
