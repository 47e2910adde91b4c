/**
 * PITFALLS 15 with a real process in its own mount namespace, chrooted into
 * a root whose /usr/lib/libfoo.so is an ABSOLUTE symlink to /<decoy>/libfoo.so:
 *
 *   <root>/<decoy>/libfoo.so   a copy of fixtures libver.so   (vfunc, vonly1)
 *   /<decoy>/libfoo.so (HOST)  a copy of fixtures liblld.so   (lld_func: must never be read)
 *
 * `probec list pid/N:/usr/lib/libfoo.so --functions --json` must list
 * libver.so's functions, and `pid/N:libc:malloc` must resolve the libc copy
 * inside the root, not the host's. The child is
 *   unshare --mount sh -c 'exec chroot <root> /bin/sleep 60'
 * and is SIGKILLed and reaped in afterAll; the decoy is removed there too.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, readlinkSync, rmSync, statSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import tmp from "tmp";
import { afterAll, beforeAll, expect, test } from "vitest";
import { findSymbol, listSymbols, symbolToJson } from "../../../src/index.js";
import { mappedObjects, readMaps } from "../../../src/discovery/proc/maps.js";
import { resolveTarget } from "../../../src/discovery/resolve-target.js";
import { probec } from "../../support/cli.js";
import { Children, until } from "./children.js";

const SLEEP = "/usr/bin/sleep";
const LIBVER = "fixtures/elf/bin/libver.so";
const LIBLLD = "fixtures/elf/bin/liblld.so";

const children = new Children();
const dir = tmp.dirSync({ prefix: "probec-e2e-root-", unsafeCleanup: true });
const root = join(dir.name, "root");
const decoyDir = `/probec-e2e-decoy-${randomBytes(8).toString("hex")}`;
let child: ChildProcess;
let pid: number;
/** The libc path sleep maps, e.g. /lib/x86_64-linux-gnu/libc.so.6 (same inside and outside the root). */
let libcPath: string;

/** Copies sleep, every library ldd lists and the loader into the root at their host paths; returns the libc path. */
function installSleep(): string {
  const ldd = execFileSync("ldd", [SLEEP], { encoding: "utf8" });
  const libraries = [...ldd.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((m) => m[1] as string);
  for (const path of [...libraries, SLEEP]) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    copyFileSync(path, join(root, path));
  }
  mkdirSync(join(root, "bin"), { recursive: true });
  copyFileSync(SLEEP, join(root, "bin/sleep"));
  const libc = libraries.filter((p) => /\/libc\.so\.6$/.test(p));
  expect(libc).toHaveLength(1);
  return libc[0]!;
}

beforeAll(async () => {
  libcPath = installSleep();
  mkdirSync(join(root, decoyDir), { recursive: true });
  copyFileSync(LIBVER, join(root, decoyDir, "libfoo.so"));
  mkdirSync(join(root, "usr/lib"), { recursive: true });
  symlinkSync(`${decoyDir}/libfoo.so`, join(root, "usr/lib/libfoo.so"));
  mkdirSync(decoyDir);
  copyFileSync(LIBLLD, join(decoyDir, "libfoo.so"));
  child = await children.start("unshare", ["--mount", "/bin/sh", "-c", 'exec chroot "$1" /bin/sleep 60', "sh", root]);
  pid = child.pid!;
  const rootIno = statSync(root).ino;
  await until(
    "the child runs sleep in the root",
    () => {
      try {
        return (
          statSync(`/proc/${pid}/root`).ino === rootIno &&
          readlinkSync(`/proc/${pid}/exe`).endsWith("/bin/sleep") &&
          mappedObjects(readMaps(pid)).some((o) => o.path.endsWith(libcPath))
        );
      } catch {
        return false;
      }
    },
    child,
  );
});

afterAll(async () => {
  await children.killAll();
  rmSync(decoyDir, { recursive: true, force: true });
  dir.removeCallback();
});

test("the child is in its own mount namespace and the host decoy differs from the container's file", () => {
  expect(readlinkSync(`/proc/${pid}/ns/mnt`)).not.toBe(readlinkSync("/proc/self/ns/mnt"));
  expect(statSync(join(decoyDir, "libfoo.so")).size).toBe(statSync(LIBLLD).size);
  expect(statSync(join(root, decoyDir, "libfoo.so")).size).toBe(statSync(LIBVER).size);
});

test("probec list pid/N:/usr/lib/libfoo.so --functions --json lists libver.so's functions, never lld_func", async () => {
  const out = await probec("list", `pid/${pid}:/usr/lib/libfoo.so`, "--functions", "--json");
  expect(out.stderr).toBe("");
  expect(out.code).toBe(0);
  const got = JSON.parse(out.stdout) as ReturnType<typeof symbolToJson>[];
  const expected = (await listSymbols(LIBVER)).map(symbolToJson);
  const strip = ({ file: _file, ...rest }: ReturnType<typeof symbolToJson>): Omit<ReturnType<typeof symbolToJson>, "file"> => rest;
  expect(got.map(strip)).toEqual(expected.map(strip));
  expect(got.map((s) => s.name)).toContain("vfunc");
  expect(got.map((s) => s.name)).not.toContain("lld_func");
  expect([...new Set(got.map((s) => s.file))]).toEqual([`pid/${pid}:/usr/lib/libfoo.so`]);
});

test("resolveTarget(pid/N:/usr/lib/libfoo.so:vfunc) reads the container's file: vfunc@@VER_2", async () => {
  const r = await resolveTarget(`pid/${pid}:/usr/lib/libfoo.so:vfunc`);
  const g = r.groups[0]!;
  expect(g.object).toMatchObject({
    containerPath: "/usr/lib/libfoo.so",
    how: "absolute",
    mapped: false,
    replaced: false,
    rootPath: `/proc/${pid}/root${decoyDir}/libfoo.so`,
  });
  expect(g.object.identity.ino).toBe(statSync(join(root, decoyDir, "libfoo.so"), { bigint: true }).ino);
  const vfunc = await findSymbol(LIBVER, "vfunc");
  expect(g.symbols!.map((s) => [s.name, s.version, s.fileOffset])).toEqual([["vfunc", "VER_2", vfunc.fileOffset]]);
});

test("resolveTarget(pid/N:libc:malloc) reads the root's libc copy (its inode), not the host's", async () => {
  const r = await resolveTarget(`pid/${pid}:libc:malloc`);
  expect(r.groups).toHaveLength(1);
  const g = r.groups[0]!;
  const inRoot = statSync(join(root, libcPath), { bigint: true });
  expect(inRoot.ino).not.toBe(statSync(libcPath, { bigint: true }).ino);
  expect(g.object.how).toBe("maps");
  expect(g.object.mapped).toBe(true);
  expect(g.object.readPath.startsWith(`/proc/${pid}/map_files/`)).toBe(true);
  expect(g.object.identity.ino).toBe(inRoot.ino);
  expect(g.object.identity.dev).toBe(inRoot.dev);
  expect(g.symbols!.map((s) => [s.name, s.fileOffset])).toEqual([["malloc", (await findSymbol(libcPath, "malloc")).fileOffset]]);
});

// /proc/<pid>/maps and the exe link print paths as seen from the READER's root: for this chroot they read
// <tmp>/root/lib/x86_64-linux-gnu/libc.so.6. Taken as-is (the object resolver before this fix), containerPath was that
// host path, rootPath undefined and replaced true. The path inside the process's root is the printed path
// minus the root's own path (readlink /proc/<pid>/root).
test("a chrooted process's libc is named by its path inside the root (maps paths are reader-relative), not replaced", async () => {
  const r = await resolveTarget(`pid/${pid}:libc:malloc`);
  const g = r.groups[0]!;
  expect({ containerPath: g.object.containerPath, rootPath: g.object.rootPath, replaced: g.object.replaced }).toEqual({
    containerPath: libcPath,
    rootPath: `/proc/${pid}/root${libcPath}`,
    replaced: false,
  });
});

test("a chrooted process's exe is named by its path inside the root", async () => {
  const r = await resolveTarget(`pid/${pid}:exe`);
  const g = r.groups[0]!;
  expect({
    containerPath: g.object.containerPath,
    rootPath: g.object.rootPath,
    readPath: g.object.readPath,
    mapped: g.object.mapped,
    replaced: g.object.replaced,
  }).toEqual({
    containerPath: "/bin/sleep",
    rootPath: `/proc/${pid}/root/bin/sleep`,
    readPath: `/proc/${pid}/exe`,
    mapped: true,
    replaced: false,
  });
  expect(g.object.identity.ino).toBe(statSync(join(root, "bin/sleep"), { bigint: true }).ino);
});
