/**
 * Builds and runs fixtures/stack.c (see its header) for the symbolizer
 * tests: on the host from a tmp directory, or in a "container" (its own
 * mount namespace, an overlay root it is chrooted into, like a container
 * runtime's rootfs), and reads back the addresses it printed.
 *
 * Build (gcc, g++, objcopy, strip: Debian's build-essential and binutils):
 *
 *   libshape.so   g++ -g -shared (C++: demo::Shape::area), in lib/, found through RPATH $ORIGIN/lib
 *   plugin.so     gcc -g -shared, copied to /tmp by the program, dlopened, deleted
 *   prog          gcc -g, then `objcopy --only-keep-debug` to .debug/prog.debug,
 *                 `strip -s`, `objcopy --add-gnu-debuglink`: its own file has no
 *                 name for a, b or c; only the debug file beside it does.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, readlinkSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import tmp from "tmp";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

/** The built files, in a tmp dir laid out as the app directory: prog, lib/libshape.so, .debug/prog.debug, plugin.so. */
export interface BuiltProgram {
  readonly dir: string;
  remove(): void;
}

/** Compiles the fixture into a fresh tmp directory. */
export function buildStackProgram(): BuiltProgram {
  const made = tmp.dirSync({ unsafeCleanup: true, prefix: "probec-stack-" });
  const dir = made.name;
  const run = (cmd: string, args: string[]): void => void execFileSync(cmd, args, { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  mkdirSync(join(dir, "lib"));
  mkdirSync(join(dir, ".debug"));
  run("g++", ["-g", "-O0", "-fno-omit-frame-pointer", "-fPIC", "-shared", "-o", "lib/libshape.so", join(FIXTURES, "shape.cpp")]);
  run("gcc", ["-g", "-O0", "-fno-omit-frame-pointer", "-fPIC", "-shared", "-o", "plugin.so", join(FIXTURES, "plugin.c")]);
  run("gcc", [
    "-g",
    "-O0",
    "-fno-omit-frame-pointer",
    "-fno-inline",
    "-o",
    "prog",
    join(FIXTURES, "stack.c"),
    "-Llib",
    "-lshape",
    "-Wl,-rpath,$ORIGIN/lib",
    "-ldl",
  ]);
  run("objcopy", ["--only-keep-debug", "prog", ".debug/prog.debug"]);
  run("strip", ["-s", "prog"]);
  run("objcopy", ["--add-gnu-debuglink=.debug/prog.debug", "prog"]);
  return { dir, remove: () => made.removeCallback() };
}

/** A running stack program and what it printed. */
export interface RunningProgram {
  readonly pid: number;
  /** NAME → address, from its "NAME 0xADDR" lines. */
  readonly addresses: ReadonlyMap<string, bigint>;
  /** Closes its stdin, which makes it exit, and waits for the exit. */
  stop(): Promise<void>;
}

/** Runs `prog` from `dir` on the host. */
export function runOnHost(built: BuiltProgram): Promise<RunningProgram> {
  return start(spawn(join(built.dir, "prog"), [join(built.dir, "plugin.so")], { stdio: ["pipe", "pipe", "inherit"] }), (pid) => {
    try {
      return readlinkSync(`/proc/${pid}/exe`) === join(built.dir, "prog");
    } catch {
      return false;
    }
  });
}

/** A container root holding the app at {@link APP_DIR}, with the libraries it needs at their host paths. */
export interface ContainerRoot {
  /** The overlay's lower directory (host path). */
  readonly lower: string;
  /** Work directory for upper/work/merged. */
  readonly base: string;
  remove(): void;
}

/** Where the app lives inside the container; nothing exists at this path on the host. */
export const APP_DIR = "/opt/probec-stack-app";

/** Lays out a root: the app under {@link APP_DIR}, its libraries (from ldd) and the loader at their host paths, and /tmp. */
export function makeContainerRoot(built: BuiltProgram): ContainerRoot {
  const made = tmp.dirSync({ unsafeCleanup: true, prefix: "probec-stack-root-" });
  const lower = join(made.name, "lower");
  const app = join(lower, APP_DIR);
  for (const file of ["prog", "plugin.so", "lib/libshape.so", ".debug/prog.debug"]) {
    mkdirSync(dirname(join(app, file)), { recursive: true });
    copyFileSync(join(built.dir, file), join(app, file));
  }
  const ldd = execFileSync("ldd", [join(built.dir, "prog")], { encoding: "utf8" });
  // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)".
  for (const m of ldd.matchAll(/(?:=> )?(\/\S+) \(0x/g)) {
    const path = m[1] as string;
    if (path.startsWith(built.dir)) continue;
    mkdirSync(dirname(join(lower, path)), { recursive: true });
    copyFileSync(path, join(lower, path));
  }
  mkdirSync(join(lower, "tmp"), { mode: 0o1777 });
  // A container has /proc: the loader reads /proc/self/exe to expand the executable's $ORIGIN.
  mkdirSync(join(lower, "proc"));
  for (const d of ["upper", "work", "merged"]) mkdirSync(join(made.name, d));
  return { lower, base: made.name, remove: () => made.removeCallback() };
}

/**
 * Runs the app in its own mount namespace, chrooted into an overlay of the
 * root: the overlay exists only in that namespace, so the host reaches the
 * app's files (its debug file too) only through /proc/PID/root.
 */
export function runInContainer(root: ContainerRoot): Promise<RunningProgram> {
  const b = root.base;
  const script = `mount -t overlay probec-stack -o lowerdir=${root.lower},upperdir=${b}/upper,workdir=${b}/work ${b}/merged && mount -t proc proc ${b}/merged/proc && exec chroot ${b}/merged ${APP_DIR}/prog ${APP_DIR}/plugin.so`;
  const lowerIno = statSync(join(root.lower, APP_DIR, "prog")).ino;
  return start(spawn("unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script], { stdio: ["pipe", "pipe", "inherit"] }), (pid) => {
    try {
      return statSync(`/proc/${pid}/exe`).ino === lowerIno;
    } catch {
      return false;
    }
  });
}

async function start(child: ChildProcess, isProgram: (pid: number) => boolean): Promise<RunningProgram> {
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (error) => reject(new Error(`cannot start the stack program: ${error.message}`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const addresses = new Map<string, bigint>();
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the stack program exited (${code}) before printing "ready"`)));
    lines.on("line", (line) => {
      if (line === "ready") resolve();
      const m = /^(\S+) 0x([0-9a-f]+)$/.exec(line);
      if (m !== null) addresses.set(m[1] as string, BigInt(`0x${m[2]}`));
    });
  });
  const pid = child.pid as number;
  if (!isProgram(pid)) throw new Error(`process ${pid} is not the stack program`);
  return {
    pid,
    addresses,
    stop: async () => {
      child.stdin?.end();
      await exited;
    },
  };
}
