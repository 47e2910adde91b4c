/**
 * Issue 10, part 1: an OBJECT that names an executable by its file name.
 *
 *  - a host python3.11 process: `pid/N:python3.11` is the executable it
 *    maps (before the fix: `library "python3.11": not found`), through
 *    resolveTarget and `probec list`;
 *  - a process in its own mount namespace, chrooted into a small root with
 *    its own PATH, that maps no such file: the name is found on the PATH
 *    from its environ, inside its root (the host has no such file), and
 *    with no PATH in its environ, on the default one.
 *
 * Every child is SIGKILLed and reaped in afterAll.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, readlinkSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import tmp from "tmp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEFAULT_EXECUTABLE_PATH, resolveObject } from "../../../src/discovery/object.js";
import { resolveTarget } from "../../../src/discovery/resolve-target.js";
import { probec } from "../../support/cli.js";
import { Children, PYTHON, until } from "./children.js";

const children = new Children();
const dir = tmp.dirSync({ prefix: "probec-exe-name-", unsafeCleanup: true });

afterAll(async () => {
  await children.killAll();
  dir.removeCallback();
});

describe("a host python3.11 process, named by its executable's file name", () => {
  let pid: number;

  beforeAll(async () => {
    pid = (await children.startReady(PYTHON, ["-c", "import sys\nprint('ready', flush=True)\nsys.stdin.read()"])).pid!;
  });

  test("pid/N:python3.11:python:function__entry is the executable it maps", async () => {
    const r = await resolveTarget(`pid/${pid}:python3.11:python:function__entry`);
    expect(r.groups).toHaveLength(1);
    expect(r.groups[0]!.object).toMatchObject({ request: "python3.11", how: "maps", containerPath: PYTHON, mapped: true, replaced: false });
    expect(r.groups[0]!.usdt!.map((s) => `${s.provider}:${s.name}`)).toEqual(["python:function__entry"]);
  });

  test("probec list pid/N:python3.11 'python:function__*' lists its two function probes", async () => {
    const out = await probec("list", `pid/${pid}:python3.11`, "python:function__*");
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("python:function__entry");
    expect(out.stdout).toContain("python:function__return");
  });
});

describe("a process in its own root that maps no such file: the name on its PATH", () => {
  const root = join(dir.name, "root");

  /** Copies `file` into the root at `at` (default: its own path). */
  function install(file: string, at = file): void {
    mkdirSync(dirname(join(root, at)), { recursive: true });
    copyFileSync(file, join(root, at));
  }

  /** Starts `sleep 60` in the root, in a new mount namespace, with `env` as its whole environment. */
  async function sleeper(env: Record<string, string>): Promise<ChildProcess> {
    const child = await children.start("/usr/bin/unshare", ["--mount", "/usr/sbin/chroot", root, "/bin/sleep", "60"], { env });
    const rootIno = statSync(root).ino;
    await until(
      "the child sleeps in its root",
      () => {
        try {
          return statSync(`/proc/${child.pid}/root`).ino === rootIno && readlinkSync(`/proc/${child.pid}/exe`).endsWith("/bin/sleep");
        } catch {
          return false;
        }
      },
      child,
    );
    return child;
  }

  beforeAll(() => {
    const ldd = execFileSync("ldd", ["/usr/bin/sleep"], { encoding: "utf8" });
    for (const lib of [...ldd.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((m) => m[1]!)) install(lib);
    install("/usr/bin/sleep", "/bin/sleep");
    // Two tools that exist only in this root: one on the PATH the test gives, one on the default PATH.
    install("/usr/bin/true", "/opt/probec-tools/probec-tool");
    install("/usr/bin/false", "/usr/local/bin/probec-tool");
  });

  test("from the environ's PATH, in order, resolved inside the root", async () => {
    const child = await sleeper({ PATH: "/opt/probec-tools:/usr/local/bin:/bin" });
    const object = resolveObject(child.pid!, "probec-tool");
    expect(object).toMatchObject({ request: "probec-tool", how: "PATH", containerPath: "/opt/probec-tools/probec-tool", mapped: false, replaced: false });
    expect(object.readPath).toBe(`/proc/${child.pid}/root/opt/probec-tools/probec-tool`);
    expect(object.identity.size).toBe(BigInt(statSync("/usr/bin/true").size));
    // What it maps still wins: its own sleep.
    expect(resolveObject(child.pid!, "sleep")).toMatchObject({ how: "maps", containerPath: "/bin/sleep" });
  });

  test("no PATH in the environ: the default one", async () => {
    expect(DEFAULT_EXECUTABLE_PATH.split(":")).toContain("/usr/local/bin");
    const child = await sleeper({});
    expect(resolveObject(child.pid!, "probec-tool")).toMatchObject({ how: "PATH", containerPath: "/usr/local/bin/probec-tool" });
  });

  test("a name found nowhere says where it looked, the PATH included, and never proposes itself", async () => {
    const child = await sleeper({ PATH: "/opt/probec-tools" });
    expect(() => resolveObject(child.pid!, "probec-nosuch")).toThrow(/^library "probec-nosuch": not found; looked in .*, the PATH \(\/opt\/probec-tools\)$/);
  });
});
