/**
 * The bounded `/proc` reader and its error mapping, on a fake procfs tree
 * (a tmp dir passed as `procRoot`) and on this machine's real `/proc`.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import tmp from "tmp";
import { afterAll, describe, expect, test } from "vitest";
import { IoError, LimitError, NotFoundError, UsageError } from "../../../src/errors.js";
import { procErrorFor, readProcFile, readProcText } from "../../../src/discovery/proc/read.js";
import { readStatus } from "../../../src/discovery/proc/status.js";
import { readEnviron } from "../../../src/discovery/proc/environ.js";
import { exePath } from "../../../src/discovery/proc/exe.js";
import { namespaceInode } from "../../../src/discovery/proc/ns.js";
import { readMaps } from "../../../src/discovery/proc/maps.js";

/** Asserts that `body` throws an instance of `kind` with exactly `message` (whatever its hints). */
function expectError(body: () => unknown, kind: new (...args: never[]) => Error, message: string): void {
  let caught: unknown;
  try {
    body();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(kind);
  expect((caught as Error).message).toBe(message);
}

const dir = tmp.dirSync({ prefix: "probec-fakeproc-", unsafeCleanup: true });
afterAll(() => dir.removeCallback());
const root = dir.name;
mkdirSync(join(root, "42", "ns"), { recursive: true });
writeFileSync(join(root, "42", "status"), readFileSync(new URL("fixtures/status-container.txt", import.meta.url)));
// 200 000 bytes: more than one 64 KiB read, so the loop is exercised.
const bigEnv = Buffer.concat([Buffer.from("LD_LIBRARY_PATH=/opt/x y\0"), Buffer.from(`PAD=${"p".repeat(199_970)}\0`)]);
writeFileSync(join(root, "42", "environ"), bigEnv);
symlinkSync("mnt:[4026532999]", join(root, "42", "ns", "mnt"));
symlinkSync("bogus", join(root, "42", "ns", "net"));

describe("readProcFile on a fake procfs", () => {
  test("reads a file larger than one read in full", () => {
    expect(readProcFile(42, "environ", { procRoot: root }).equals(bigEnv)).toBe(true);
    const env = readEnviron(42, { procRoot: root });
    expect(env.get("LD_LIBRARY_PATH")).toBe("/opt/x y");
    expect(env.get("PAD")).toHaveLength(199_970);
  });

  test("a file over maxBytes is a LimitError naming the path", () => {
    expect(() => readProcFile(42, "environ", { procRoot: root, maxBytes: 100_000 })).toThrow(
      new LimitError(
        `${root}/42/environ: larger than the limit of 100000 bytes; refusing to read it (raise maxBytes if this process is legitimately that large)`,
      ),
    );
    expect(readProcFile(42, "environ", { procRoot: root, maxBytes: bigEnv.length })).toHaveLength(bigEnv.length);
  });

  test("readers honour procRoot", () => {
    expect(readStatus(42, root)).toMatchObject({ pid: 48213, nsPid: [48213, 29] });
    expect(namespaceInode(42, "mnt", root)).toBe(4026532999);
    expect(() => namespaceInode(42, "net", root)).toThrow(`${root}/42/ns/net: expected "net:[<inode>]": "bogus"`);
  });

  test("a missing process is NotFoundError; a missing file of a live process is IoError", () => {
    expectError(() => readStatus(43, root), NotFoundError, "process 43 does not exist (it may have exited)");
    const error = (() => {
      try {
        readProcText(42, "maps", { procRoot: root });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(IoError);
    expect((error as IoError).message).toBe(`${root}/42/maps: no such file`);
  });

  test("a process without an exe link is reported as such", () => {
    expectError(() => exePath(42, root), NotFoundError, "process 42 has no executable (a kernel thread or a zombie)");
  });

  test("a bad pid is a UsageError, before any file is touched", () => {
    for (const pid of [0, -1, 1.5, Number.NaN]) expect(() => readStatus(pid, root)).toThrow(UsageError);
  });
});

describe("procErrorFor", () => {
  test("EACCES says to run as root and why", () => {
    const error = procErrorFor(1, "/proc/1/environ", Object.assign(new Error("EACCES"), { code: "EACCES" }));
    expect(error).toBeInstanceOf(IoError);
    expect(error.message).toBe("/proc/1/environ: permission denied");
    expect(error.hints).toEqual(["run as root (reading another process's /proc files needs CAP_SYS_PTRACE)"]);
    expect((error as IoError).errno).toBe("EACCES");
  });

  test("ESRCH (the process exited mid-read) is NotFoundError", () => {
    expect(procErrorFor(1, "/proc/1/maps", Object.assign(new Error("ESRCH"), { code: "ESRCH" }))).toBeInstanceOf(NotFoundError);
  });
});

describe("the real /proc", () => {
  // pid_max + 1 can never be a pid, so this process certainly does not exist.
  const absent = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8").trim()) + 1;

  test("a pid that cannot exist is NotFoundError from every reader", () => {
    const message = `process ${absent} does not exist (it may have exited)`;
    expectError(() => readStatus(absent), NotFoundError, message);
    expectError(() => readMaps(absent), NotFoundError, message);
    expectError(() => readEnviron(absent), NotFoundError, message);
    expectError(() => exePath(absent), NotFoundError, message);
    expectError(() => namespaceInode(absent, "mnt"), NotFoundError, message);
  });

  test("a small cap on a real /proc file is a LimitError", () => {
    expect(() => readMaps("self", { maxBytes: 64 })).toThrow(LimitError);
  });
});
