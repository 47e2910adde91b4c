/**
 * fileIdentity and sameContent on real files: ELF fixtures whose build-ids
 * readelf reports (usdt_sema 507d9779…, usdt_same f8676b19…), copies made
 * in a tmp dir, and non-ELF files compared by size and SHA-256.
 */
import { copyFileSync, mkdirSync, openSync, closeSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import tmp from "tmp";
import { IoError, LimitError } from "../../../src/errors.js";
import { fileIdentity, sameContent } from "../../../src/discovery/identity.js";
import { resolveInRoot } from "../../../src/rootfs/resolve.js";

const SEMA = "fixtures/elf/bin/usdt_sema";
const SAME = "fixtures/elf/bin/usdt_same";
const SEMA_BUILD_ID = "507d97797e74ceeb431fe66bcb47350f79d182ef"; // readelf -n fixtures/elf/bin/usdt_sema

let dir: tmp.DirResult;
let root: string;
beforeAll(() => {
  dir = tmp.dirSync({ unsafeCleanup: true, prefix: "probec-identity-" });
  root = join(dir.name, "root");
  mkdirSync(join(root, "usr/lib"), { recursive: true });
  copyFileSync(SEMA, join(root, "usr/lib/usdt_sema"));
  symlinkSync("/usr/lib/usdt_sema", join(root, "usr/lib/sema-link"));
  copyFileSync(SEMA, join(dir.name, "sema-copy"));
  writeFileSync(join(dir.name, "a.txt"), "same text\n");
  writeFileSync(join(dir.name, "b.txt"), "same text\n");
  writeFileSync(join(dir.name, "c.txt"), "diff text\n");
});
afterAll(() => dir.removeCallback());

describe("fileIdentity", () => {
  test("the same file via two paths has the same identity, and agrees with resolveInRoot", () => {
    const viaLink = resolveInRoot(root, "/usr/lib/sema-link");
    const direct = fileIdentity(join(root, "usr/lib/usdt_sema"));
    expect(fileIdentity(viaLink.hostPath)).toEqual(direct);
    expect({ ...viaLink.identity, buildId: direct.buildId }).toEqual(direct);
    expect(direct.buildId).toBe(SEMA_BUILD_ID);
  });

  test("through /proc/self/fd/N (the fd path strategy) it is the same file", () => {
    const fd = openSync(SEMA, "r");
    try {
      expect(fileIdentity(`/proc/self/fd/${fd}`)).toEqual(fileIdentity(SEMA));
    } finally {
      closeSync(fd);
    }
  });

  test("a copy has a new inode but the same build-id", () => {
    const copy = fileIdentity(join(dir.name, "sema-copy"));
    const original = fileIdentity(SEMA);
    expect(copy.ino).not.toBe(original.ino);
    expect(copy.size).toBe(original.size);
    expect(copy.buildId).toBe(SEMA_BUILD_ID);
  });

  test("a non-ELF file has no build-id and is not an error", () => {
    expect(fileIdentity(join(dir.name, "a.txt")).buildId).toBeUndefined();
  });

  test("a directory is an IoError", () => {
    expect(() => fileIdentity(dir.name)).toThrow(IoError);
  });
});

describe("sameContent", () => {
  test("a copied ELF file is the same content (by build-id)", () => {
    expect(sameContent(SEMA, join(dir.name, "sema-copy"))).toBe(true);
    // maxHashBytes 0 would refuse any hashing: the build-id alone decided.
    expect(sameContent(SEMA, join(dir.name, "sema-copy"), { maxHashBytes: 0 })).toBe(true);
  });

  test("two different ELF files are not", () => {
    expect(sameContent(SEMA, SAME)).toBe(false);
  });

  test("an ELF file and a non-ELF file are not", () => {
    expect(sameContent(SEMA, join(dir.name, "a.txt"))).toBe(false);
  });

  test("without build-ids: equal size and SHA-256", () => {
    expect(sameContent(join(dir.name, "a.txt"), join(dir.name, "b.txt"))).toBe(true);
    expect(sameContent(join(dir.name, "a.txt"), join(dir.name, "c.txt"))).toBe(false); // same size, other bytes
  });

  test("hashing is capped", () => {
    expect(() => sameContent(join(dir.name, "a.txt"), join(dir.name, "b.txt"), { maxHashBytes: 4 })).toThrow(LimitError);
  });

  test("the same inode is the same content without reading it", () => {
    expect(sameContent(join(dir.name, "a.txt"), join(dir.name, "a.txt"), { maxHashBytes: 0 })).toBe(true);
  });
});
