/**
 * musl's library search (PITFALLS 23) with a REAL musl process: a tiny
 * dynamically linked program built with `musl-gcc` at test time, run
 * chrooted in its own mount namespace, in a root laid out as
 *
 *   <root>/pause                          the program (PT_INTERP /lib/ld-musl-x86_64.so.1)
 *   <root>/lib/ld-musl-x86_64.so.1        a copy of the host's musl loader (= musl's libc)
 *   <root>/etc/ld-musl-x86_64.path        "/opt/musl-lib\n"
 *   <root>/opt/musl-lib/libprobecmusl.so  a copy of fixtures libver.so  (vfunc)
 *   <root>/usr/lib/libprobecmusl.so       a copy of fixtures liblld.so  (lld_func), in musl's
 *                                         default path, which the path file REPLACES
 *
 * The host's own /etc/ld-musl-x86_64.path (installed by Debian's `musl`)
 * names other directories and must never be read.
 *
 * Needs root, `musl-gcc` (Debian: musl-tools, musl-dev), `readelf`
 * (binutils), `unshare` (util-linux) and `chroot` (coreutils). Nothing is
 * skipped: a missing tool fails the suite, saying what to install. The
 * child is SIGKILLed and reaped in afterAll, and the tmp dir removed.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, existsSync, mkdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import tmp from "tmp";
import { afterAll, beforeAll, expect, test } from "vitest";
import { findSymbol } from "../../../src/index.js";
import { resolveTarget } from "../../../src/discovery/resolve-target.js";

const LIBVER = "fixtures/elf/bin/libver.so";
const LIBLLD = "fixtures/elf/bin/liblld.so";
const MUSL_LOADER = "/lib/ld-musl-x86_64.so.1";
const PATH_FILE = "/etc/ld-musl-x86_64.path";
const LIB = "libprobecmusl";

const dir = tmp.dirSync({ prefix: "probec-musl-", unsafeCleanup: true });
const root = join(dir.name, "root");
let child: ChildProcess | undefined;
let pid: number;

function need(tool: string, hint: string): string {
  try {
    return execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(`${tool} is missing; install it (${hint})`);
  }
}

function put(containerPath: string, from: string): void {
  const at = join(root, containerPath);
  mkdirSync(dirname(at), { recursive: true });
  copyFileSync(from, at);
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (ok()) return;
    if (child?.exitCode !== null) throw new Error(`the child exited (${child?.exitCode ?? child?.signalCode}) before ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** Builds the dynamically linked musl program into the tmp dir; returns its path. */
function buildPause(): string {
  const gcc = need("musl-gcc", "apt-get install -y --no-install-recommends musl musl-tools musl-dev");
  need("readelf", "apt-get install binutils");
  if (!existsSync(MUSL_LOADER)) throw new Error(`${MUSL_LOADER} is missing; install Debian's musl package`);
  const src = join(dir.name, "pause.c");
  const out = join(dir.name, "pause");
  writeFileSync(src, "#include <unistd.h>\nint main(void) { for (;;) pause(); }\n");
  execFileSync(gcc, ["-O2", "-o", out, src], { stdio: ["ignore", "inherit", "inherit"] });
  return out;
}

beforeAll(async () => {
  const program = buildPause();
  put("/pause", program);
  put(MUSL_LOADER, MUSL_LOADER);
  put(`/opt/musl-lib/${LIB}.so`, LIBVER);
  put(`/usr/lib/${LIB}.so`, LIBLLD);
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, PATH_FILE.slice(1)), "/opt/musl-lib\n");
  child = spawn("unshare", ["--mount", "chroot", root, "/pause"], { stdio: ["ignore", "ignore", "inherit"] });
  const started = child;
  await new Promise<void>((resolve, reject) => {
    started.once("spawn", resolve);
    started.once("error", (error) => reject(new Error(`cannot start unshare (Debian: util-linux) / chroot (coreutils): ${error.message}`)));
  });
  pid = started.pid as number;
  const rootIno = statSync(root).ino;
  await until("the child runs /pause in the musl root", () => {
    try {
      return statSync(`/proc/${pid}/root`).ino === rootIno && readlinkSync(`/proc/${pid}/exe`).endsWith("/pause");
    } catch {
      return false;
    }
  });
});

afterAll(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }
  dir.removeCallback();
});

test("musl-gcc built a dynamically linked program whose PT_INTERP is /lib/ld-musl-x86_64.so.1", () => {
  const headers = execFileSync("readelf", ["-lW", join(root, "pause")], { encoding: "utf8" });
  expect(headers).toMatch(/\[Requesting program interpreter: \/lib\/ld-musl-x86_64\.so\.1\]/);
  expect(headers).toMatch(/\bDYNAMIC\b/);
});

test("the child is chrooted in its own mount namespace and maps the root's musl loader", () => {
  expect(readlinkSync(`/proc/${pid}/ns/mnt`)).not.toBe(readlinkSync("/proc/self/ns/mnt"));
  const loaderIno = statSync(join(root, MUSL_LOADER)).ino;
  expect(loaderIno).not.toBe(statSync(MUSL_LOADER).ino);
  const maps = execFileSync("cat", [`/proc/${pid}/maps`], { encoding: "utf8" });
  expect(maps.split("\n").some((line) => line.includes(` ${loaderIno} `) && line.endsWith("/lib/ld-musl-x86_64.so.1"))).toBe(true);
});

test("with the root's /etc/ld-musl-x86_64.path, libprobecmusl resolves there (musl path), not to musl's default /usr/lib", async () => {
  const r = await resolveTarget(`pid/${pid}:${LIB}:vfunc`);
  expect(r.groups).toHaveLength(1);
  const g = r.groups[0]!;
  expect(g.object.how).toBe("musl path");
  expect(g.object.containerPath).toBe(`/opt/musl-lib/${LIB}.so`);
  expect(g.object.mapped).toBe(false);
  expect(g.object.identity.ino).toBe(statSync(join(root, "opt/musl-lib", `${LIB}.so`), { bigint: true }).ino);
  const vfunc = await findSymbol(LIBVER, "vfunc");
  expect(g.symbols!.map((s) => [s.name, s.fileOffset])).toEqual([["vfunc", vfunc.fileOffset]]);
});

// Deletes the root's path file: must run after the "musl path" test (vitest runs a file's tests in order).
test("without the path file, libprobecmusl resolves in musl's default dirs (/usr/lib), never via the host's path file", async () => {
  rmSync(join(root, PATH_FILE.slice(1)));
  expect(existsSync(join(root, PATH_FILE.slice(1)))).toBe(false);
  const r = await resolveTarget(`pid/${pid}:${LIB}:lld_func`);
  const g = r.groups[0]!;
  expect(g.object.how).toBe("default dirs");
  expect(g.object.containerPath).toBe(`/usr/lib/${LIB}.so`);
  expect(g.object.identity.ino).toBe(statSync(join(root, "usr/lib", `${LIB}.so`), { bigint: true }).ino);
  const lld = await findSymbol(LIBLLD, "lld_func");
  expect(g.symbols!.map((s) => [s.name, s.fileOffset])).toEqual([["lld_func", lld.fileOffset]]);
  await expect(resolveTarget(`pid/${pid}:${LIB}:vfunc`)).rejects.toThrow(/vfunc/);
});

test("an exact soname of the mapped loader, ld-musl-x86_64.so.1, resolves from maps", async () => {
  const r = await resolveTarget(`pid/${pid}:ld-musl-x86_64.so.1:malloc`);
  const g = r.groups[0]!;
  expect(g.object).toMatchObject({ how: "maps", containerPath: MUSL_LOADER, mapped: true });
  expect(g.object.readPath.startsWith(`/proc/${pid}/map_files/`)).toBe(true);
  expect(g.symbols!.map((s) => [s.name, s.fileOffset])).toEqual([["malloc", (await findSymbol(MUSL_LOADER, "malloc")).fileOffset]]);
});

test("pid/N:libc of a musl process is musl's libc, the mapped /lib/ld-musl-x86_64.so.1", async () => {
  // musl's libc and its dynamic loader are ONE file, ld-musl-<arch>.so.1
  // (Alpine adds /lib/libc.musl-<arch>.so.1 as a symlink to it); no file is
  // named libc.so*, so the name matcher never matches it in maps, in the
  // path file's directories or in the default ones.
  const r = await resolveTarget(`pid/${pid}:libc:malloc`);
  const g = r.groups[0]!;
  expect(g.object).toMatchObject({ how: "maps", containerPath: MUSL_LOADER, mapped: true });
  expect(g.object.identity.ino).toBe(statSync(join(root, MUSL_LOADER), { bigint: true }).ino);
  expect(g.symbols!.map((s) => [s.name, s.fileOffset])).toEqual([["malloc", (await findSymbol(MUSL_LOADER, "malloc")).fileOffset]]);
});
