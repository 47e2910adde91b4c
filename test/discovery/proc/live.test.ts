/**
 * The readers against live processes on this machine: the test process
 * itself, a python3 child that maps libraries from hostile paths (a space,
 * a newline, a deleted copy, a memfd: what libstapsdt does, PITFALLS 17-18),
 * and a deleted executable. Every child is killed and reaped in afterAll.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { copyFileSync, realpathSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { once } from "node:events";
import tmp from "tmp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readStatus } from "../../../src/discovery/proc/status.js";
import { mapFilesPath, mappedObjects, readMaps, type MappedObject } from "../../../src/discovery/proc/maps.js";
import { readMountinfo } from "../../../src/discovery/proc/mountinfo.js";
import { readCgroup } from "../../../src/discovery/proc/cgroup.js";
import { readEnviron } from "../../../src/discovery/proc/environ.js";
import { namespaceInode, type NamespaceKind } from "../../../src/discovery/proc/ns.js";
import { exePath } from "../../../src/discovery/proc/exe.js";

const children: ChildProcess[] = [];
const dir = tmp.dirSync({ prefix: "probec proc ", unsafeCleanup: true });

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    }
  }
  dir.removeCallback();
});

/** Spawns a child and resolves once it prints `ready` (it then blocks until killed). */
async function startChild(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], env: env ?? process.env });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("ready\n")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`${file} exited (${code}) before it was ready: ${err}`)));
    child.on("error", reject);
  });
  return child;
}

describe("this test process", () => {
  test("readStatus matches process.pid and process.ppid", () => {
    const status = readStatus(process.pid);
    expect(status).toMatchObject({ pid: process.pid, tgid: process.pid, ppid: process.ppid });
    expect(status.nsPid?.[0]).toBe(process.pid);
    expect(status.uid.effective).toBe(process.geteuid?.());
  });

  test("its maps include the node binary, executable, openable through map_files", () => {
    const exe = exePath(process.pid);
    expect(exe).toMatchObject({ path: realpathSync(process.execPath), deleted: false, openPath: `/proc/${process.pid}/exe` });
    const node = mappedObjects(readMaps(process.pid)).find((o) => o.path === exe.path);
    expect(node, `no mapping of ${exe.path}`).toBeDefined();
    expect(node!.executableRanges.length).toBeGreaterThan(0);
    const ino = statSync(exe.path, { bigint: true }).ino;
    expect(node!.inode).toBe(ino);
    expect(statSync(mapFilesPath(process.pid, node!.mapFilesRange.start, node!.mapFilesRange.end), { bigint: true }).ino).toBe(ino);
  });

  test("namespace inodes equal stat().ino of the ns links", () => {
    for (const kind of ["mnt", "pid", "net", "user", "pid_for_children"] satisfies NamespaceKind[]) {
      expect(namespaceInode(process.pid, kind)).toBe(statSync(`/proc/self/ns/${kind}`).ino);
    }
  });

  test("mountinfo has a root mount; cgroup parses", () => {
    const mounts = readMountinfo("self");
    expect(mounts.some((m) => m.mountPoint === "/")).toBe(true);
    expect(mounts.some((m) => m.mountPoint === "/proc" && m.fsType === "proc")).toBe(true);
    expect(readCgroup(process.pid).length).toBeGreaterThan(0);
  });
});

describe("a child mapping libraries from hostile paths", () => {
  const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();
  // A library this process already maps (node links libm), so the copy is a real, loadable shared object.
  const libm = mappedObjects(readMaps("self")).find((o) => /\/libm\.so\.6$/.test(o.path))?.path;
  const weird = join(dir.name, "lib weird (v2) [x].so");
  const newline = join(dir.name, "lib\nnewline.so");
  const gone = join(dir.name, "libgone.so");
  let child: ChildProcess;
  let objects: MappedObject[];

  beforeAll(async () => {
    expect(libm, "this node process maps no libm.so.6 to copy").toBeDefined();
    for (const copy of [weird, newline, gone]) copyFileSync(libm!, copy);
    const script = [
      "import ctypes, os, sys",
      "weird, newline, gone, lib = sys.argv[1:5]",
      "keep = [ctypes.CDLL(weird), ctypes.CDLL(newline), ctypes.CDLL(gone)]",
      "os.unlink(gone)",
      "fd = os.memfd_create('probec lib')",
      "os.write(fd, open(lib, 'rb').read())",
      "keep.append(ctypes.CDLL('/proc/self/fd/%d' % fd))",
      "print('ready', flush=True)",
      "sys.stdin.read()",
    ].join("\n");
    child = await startChild(python, ["-c", script, weird, newline, gone, libm!], {
      ...process.env,
      LD_LIBRARY_PATH: "/opt/with space:/x",
      PROBEC_PROBE: "a=b",
    });
    objects = mappedObjects(readMaps(child.pid!));
  });

  /** The object mapped from `path`, checked to be the same file as map_files opens. */
  function mapped(path: string): MappedObject {
    const object = objects.find((o) => o.path === path);
    expect(object, `${JSON.stringify(path)} not among ${JSON.stringify(objects.map((o) => o.path))}`).toBeDefined();
    const viaMapFiles = statSync(mapFilesPath(child.pid!, object!.mapFilesRange.start, object!.mapFilesRange.end), { bigint: true });
    expect(viaMapFiles.ino).toBe(object!.inode);
    return object!;
  }

  test("a path with spaces and brackets is read whole", () => {
    const object = mapped(weird);
    expect(object).toMatchObject({ kind: "file", deleted: false });
    expect(object.inode).toBe(statSync(weird, { bigint: true }).ino);
    expect(object.executableRanges.length).toBeGreaterThan(0);
  });

  test("a newline in the path (printed \\012) is restored", () => {
    const object = mapped(newline);
    expect(object.inode).toBe(statSync(newline, { bigint: true }).ino);
  });

  test("a deleted library is flagged and still opens through map_files", () => {
    const object = mapped(gone);
    expect(object).toMatchObject({ kind: "file", deleted: true });
    expect(() => statSync(gone)).toThrow();
  });

  test("a library loaded from a memfd is a memfd object", () => {
    const object = mapped("/memfd:probec lib");
    expect(object).toMatchObject({ kind: "memfd", deleted: true });
    expect(object.executableRanges.length).toBeGreaterThan(0);
  });

  test("its status, environ and namespaces", () => {
    const status = readStatus(child.pid!);
    expect(status).toMatchObject({ pid: child.pid, ppid: process.pid });
    expect(status.name.startsWith("python")).toBe(true);
    const env = readEnviron(child.pid!);
    expect(env.get("LD_LIBRARY_PATH")).toBe("/opt/with space:/x");
    expect(env.get("PROBEC_PROBE")).toBe("a=b");
    expect(namespaceInode(child.pid!, "mnt")).toBe(namespaceInode(process.pid, "mnt"));
  });
});

describe("a deleted executable", () => {
  test("exePath marks it deleted and /proc/<pid>/exe still opens it", async () => {
    const copy = join(dir.name, "my sleep");
    copyFileSync(realpathSync("/bin/sleep"), copy);
    execFileSync("chmod", ["755", copy]);
    const ino = statSync(copy).ino;
    const child = spawn(copy, ["1000"], { stdio: "ignore" });
    children.push(child);
    await once(child, "spawn");
    unlinkSync(copy);
    const exe = exePath(child.pid!);
    expect(exe).toEqual({ path: copy, deleted: true, openPath: `/proc/${child.pid}/exe` });
    expect(statSync(exe.openPath).ino).toBe(ino);
  });
});
