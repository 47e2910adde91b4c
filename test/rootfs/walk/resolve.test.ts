/**
 * resolveInRoot against a fake container root (see fake-root.ts): every case
 * checks the bytes and the inode it lands on, so a resolver that escaped to
 * a host decoy fails, not just one that returned the wrong string.
 */
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { IoError, LimitError, NotFoundError, UsageError } from "../../../src/errors.js";
import { MAXSYMLINKS, resolveInRoot } from "../../../src/rootfs/resolve.js";
import { CONTAINER_LIBFOO, CONTAINER_OUTSIDE, CONTAINER_REAL, HOST_DECOY, HOST_OUTSIDE, makeFakeRoot, type FakeRoot } from "../../discovery/root/fake-root.js";

let fake: FakeRoot;
beforeAll(() => {
  fake = makeFakeRoot();
});
afterAll(() => {
  fake.remove();
});

/** Resolves, then checks the host path reads `content` and is the inode lstat sees at root + containerPath. */
function expectResolves(path: string, containerPath: string, content: string): void {
  const resolved = resolveInRoot(fake.root, path);
  expect(resolved.containerPath).toBe(containerPath);
  expect(resolved.hostPath).toBe(join(fake.root, containerPath));
  expect(readFileSync(resolved.hostPath, "utf8")).toBe(content);
  const stat = lstatSync(join(fake.root, containerPath), { bigint: true });
  expect(resolved.identity).toEqual({ dev: stat.dev, ino: stat.ino, size: stat.size, mtimeNs: stat.mtimeNs });
}

function errorOf(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

describe("absolute symlinks stay inside the root (PITFALLS 15)", () => {
  test("the trap is real: a naive open through the root reads the host decoy", () => {
    expect(readFileSync(join(fake.root, "usr/lib/libfoo.so"), "utf8")).toBe(HOST_DECOY);
  });

  test("libfoo.so -> /<decoy>/libfoo.so resolves to the container's file, not the host decoy", () => {
    expectResolves("/usr/lib/libfoo.so", `${fake.decoyDir}/libfoo.so`, CONTAINER_LIBFOO);
    const resolved = resolveInRoot(fake.root, "/usr/lib/libfoo.so");
    expect(resolved.identity.ino).not.toBe(lstatSync(fake.hostDecoy, { bigint: true }).ino);
  });

  test("an absolute link to a directory (lib64 -> /usr/lib) restarts at the root too", () => {
    expectResolves("/usr/lib64/libfoo.so", `${fake.decoyDir}/libfoo.so`, CONTAINER_LIBFOO);
  });

  test("a trailing slash on the root changes nothing", () => {
    expect(resolveInRoot(`${fake.root}/`, "/usr/lib/libfoo.so").hostPath).toBe(join(fake.root, fake.decoyDir, "libfoo.so"));
  });
});

describe("relative links, chains and ..", () => {
  test("a relative link is spliced in where it was", () => {
    expectResolves("/usr/lib/librel.so", "/opt/lib/real.so", CONTAINER_REAL);
  });

  test("a chain of relative and absolute links", () => {
    expectResolves("/usr/lib/chain1", "/opt/lib/real.so", CONTAINER_REAL);
  });

  test("/../../x is clamped at the root, like chroot and RESOLVE_IN_ROOT", () => {
    expectResolves("/../../opt/lib/real.so", "/opt/lib/real.so", CONTAINER_REAL);
    expectResolves("/usr/../../../opt/./lib//real.so", "/opt/lib/real.so", CONTAINER_REAL);
    expectResolves("../outside", "/outside", CONTAINER_OUTSIDE);
  });

  test("a link to ../../../../outside is clamped at the root, not the host's parent directories", () => {
    expect(readFileSync(join(fake.root, "usr/lib/escape"), "utf8")).toBe(HOST_OUTSIDE); // the trap
    expectResolves("/usr/lib/escape", "/outside", CONTAINER_OUTSIDE);
  });

  test(`exactly ${MAXSYMLINKS} links are followed`, () => {
    expectResolves("/usr/lib/deep0", "/opt/lib/real.so", CONTAINER_REAL);
  });
});

describe("errors name the path and the fix", () => {
  test("one link more than MAXSYMLINKS is a LimitError", () => {
    const error = errorOf(() => resolveInRoot(fake.root, "/usr/lib/deeper"));
    expect(error).toBeInstanceOf(LimitError);
    expect(error.message).toContain(`/usr/lib/deeper in ${fake.root}: more than ${MAXSYMLINKS} symbolic links`);
  });

  test.each(["/usr/lib/loop1", "/usr/lib/self", "/usr/lib/loop2/x"])("a symlink loop (%s) is a LimitError", (path) => {
    const error = errorOf(() => resolveInRoot(fake.root, path));
    expect(error).toBeInstanceOf(LimitError);
    expect(error.message).toMatch(/a symlink loop\?/);
    expect(error.message).toContain(path);
  });

  test("a missing file is a NotFoundError naming the component and where it was looked for", () => {
    const error = errorOf(() => resolveInRoot(fake.root, "/usr/lib/nope.so"));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe(`/usr/lib/nope.so in ${fake.root}: "nope.so" not found in /usr/lib (looking for /usr/lib/nope.so)`);
  });

  test("a missing directory is named, and reported with the path the walk had reached", () => {
    const error = errorOf(() => resolveInRoot(fake.root, "/usr/lib64/../nolib/x.so"));
    expect(error).toBeInstanceOf(NotFoundError);
    // lib64 -> /usr/lib, then .. is /usr: the canonical path, not the one typed, says where it was missing.
    expect(error.message).toContain(`"nolib" not found in /usr (looking for /usr/nolib)`);
  });

  test("a dangling absolute link is missing inside the root, even when the host has the file", () => {
    expect(readFileSync(join(fake.root, "usr/lib/hostonly.so"), "utf8")).toBe(HOST_DECOY); // the trap
    const error = errorOf(() => resolveInRoot(fake.root, "/usr/lib/hostonly.so"));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toContain(`"hostonly.so" not found in ${fake.decoyDir} (looking for ${fake.decoyDir}/hostonly.so)`);
  });

  test("a directory where a file is expected", () => {
    const error = errorOf(() => resolveInRoot(fake.root, "/usr/lib64"));
    expect(error).toBeInstanceOf(IoError);
    expect((error as IoError).errno).toBe("EISDIR");
    expect(error.message).toBe(`/usr/lib64 in ${fake.root}: /usr/lib is a directory, expected a regular file`);
    expect((error as IoError).hints.length).toBeGreaterThan(0);
  });

  test("expect: directory and expect: any", () => {
    expect(resolveInRoot(fake.root, "/usr/lib64", { expect: "directory" }).containerPath).toBe("/usr/lib");
    expect(resolveInRoot(fake.root, "/", { expect: "directory" }).hostPath).toBe(fake.root);
    expect(resolveInRoot(fake.root, "/usr/lib64", { expect: "any" }).containerPath).toBe("/usr/lib");
    expect(errorOf(() => resolveInRoot(fake.root, "/opt/lib/real.so", { expect: "directory" }))).toBeInstanceOf(IoError);
  });

  test.each(["/opt/lib/real.so/x", "/opt/lib/real.so/", "/opt/lib/real.so/..", "/usr/lib/librel.so/x"])(
    "a file used as a directory (%s) is ENOTDIR",
    (path) => {
      const error = errorOf(() => resolveInRoot(fake.root, path));
      expect(error).toBeInstanceOf(IoError);
      expect((error as IoError).errno).toBe("ENOTDIR");
      expect(error.message).toBe(`${path} in ${fake.root}: /opt/lib/real.so is not a directory`);
    },
  );

  test("a root that does not exist", () => {
    const error = errorOf(() => resolveInRoot(join(fake.root, "no-such-root"), "/x"));
    expect(error).toBeInstanceOf(NotFoundError);
  });

  test("a NUL byte is a UsageError", () => {
    expect(errorOf(() => resolveInRoot(fake.root, "/usr/\0lib"))).toBeInstanceOf(UsageError);
  });
});
