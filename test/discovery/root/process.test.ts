/**
 * resolveInRoot through /proc/<pid>/root of a real process in its own mount
 * namespace, chrooted into the fake root (fake-root.ts). Run as root; this
 * test does not skip: without unshare/chroot it fails, saying what is missing.
 *
 * The child is started as
 *   unshare --mount sh -c 'mount -t tmpfs … <root>/mnt; write <root>/mnt/libbar.so; exec chroot <root> /bin/sleep 60'
 * so that it has a file, /mnt/libbar.so, that exists only in its mount
 * namespace: reaching it proves the walk goes through the process's view,
 * not through the host directory that happens to back its root.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { NotFoundError } from "../../../src/errors.js";
import { resolveInRoot } from "../../../src/rootfs/resolve.js";
import { CONTAINER_LIBFOO, HOST_DECOY, makeFakeRoot, type FakeRoot } from "./fake-root.js";

const SLEEP = "/usr/bin/sleep";
const CONTAINER_LIBBAR = "container: libbar, only in the child's mount namespace\n";

let fake: FakeRoot;
let child: ChildProcess | undefined;
let pid: number;

/** Copies `sleep`, every library `ldd` lists and the dynamic loader into the root, at their host paths. */
function installSleep(root: string): void {
  const ldd = execFileSync("ldd", [SLEEP], { encoding: "utf8" });
  // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)"; not linux-vdso.
  const libraries = [...ldd.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((m) => m[1] as string);
  expect(libraries.length).toBeGreaterThan(0);
  for (const path of [...libraries, SLEEP]) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    copyFileSync(path, join(root, path));
  }
  mkdirSync(join(root, "bin"), { recursive: true });
  copyFileSync(SLEEP, join(root, "bin/sleep"));
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (ok()) return;
    if (child?.exitCode !== null) throw new Error(`the child exited (${child?.exitCode}) before ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting until ${what}`);
}

beforeAll(async () => {
  fake = makeFakeRoot();
  installSleep(fake.root);
  mkdirSync(join(fake.root, "mnt"));
  symlinkSync("/mnt/libbar.so", join(fake.root, "usr/lib/libbar.so"));
  const script = 'mount -t tmpfs probec-test "$1/mnt" && printf %s "$2" > "$1/mnt/libbar.so" && exec chroot "$1" /bin/sleep 60';
  child = spawn("unshare", ["--mount", "/bin/sh", "-c", script, "sh", fake.root, CONTAINER_LIBBAR], { stdio: ["ignore", "ignore", "inherit"] });
  const started = child;
  await new Promise<void>((resolve, reject) => {
    started.once("spawn", resolve);
    started.once("error", (error) => reject(new Error(`cannot start unshare (Debian: util-linux) / chroot (coreutils): ${error.message}`)));
  });
  pid = started.pid as number;
  const rootIno = statSync(fake.root).ino;
  // After the final exec the child's root is the fake root and its exe is sleep (same pid all along).
  await until("the child runs sleep in the fake root", () => {
    try {
      return statSync(`/proc/${pid}/root`).ino === rootIno && readlinkSync(`/proc/${pid}/exe`).endsWith("/bin/sleep");
    } catch {
      return false;
    }
  });
});

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
  fake?.remove();
});

test("the child really is in another mount namespace", () => {
  expect(readlinkSync(`/proc/${pid}/ns/mnt`)).not.toBe(readlinkSync("/proc/self/ns/mnt"));
  expect(existsSync(join(fake.root, "mnt/libbar.so"))).toBe(false);
});

test("through /proc/<pid>/root, an absolute link resolves to the container's file, never the host decoy", () => {
  const root = `/proc/${pid}/root`;
  expect(readFileSync(`${root}/usr/lib/libfoo.so`, "utf8")).toBe(HOST_DECOY); // the trap, through /proc too
  const resolved = resolveInRoot(root, "/usr/lib/libfoo.so");
  expect(resolved.containerPath).toBe(`${fake.decoyDir}/libfoo.so`);
  expect(resolved.hostPath).toBe(`${root}${fake.decoyDir}/libfoo.so`);
  expect(readFileSync(resolved.hostPath, "utf8")).toBe(CONTAINER_LIBFOO);
  const inContainer = statSync(join(fake.root, fake.decoyDir, "libfoo.so"), { bigint: true });
  expect(resolved.identity.ino).toBe(inContainer.ino);
  expect(resolved.identity.ino).not.toBe(statSync(fake.hostDecoy, { bigint: true }).ino);
});

test("a file that exists only in the child's mount namespace is found through /proc/<pid>/root", () => {
  const resolved = resolveInRoot(`/proc/${pid}/root`, "/usr/lib/libbar.so");
  expect(resolved.containerPath).toBe("/mnt/libbar.so");
  expect(readFileSync(resolved.hostPath, "utf8")).toBe(CONTAINER_LIBBAR);
  // The same walk over the host directory backing the root cannot see the child's tmpfs.
  expect(() => resolveInRoot(fake.root, "/usr/lib/libbar.so")).toThrow(NotFoundError);
});

test("the container's own sleep binary resolves, .. clamped at the process's root", () => {
  const resolved = resolveInRoot(`/proc/${pid}/root/`, "/../../../bin/sleep");
  expect(resolved.containerPath).toBe("/bin/sleep");
  expect(resolved.identity.ino).toBe(statSync(`/proc/${pid}/exe`, { bigint: true }).ino);
});
