/**
 * resolveLibrary over an in-memory container: one test per rule of the
 * order (maps, LD_LIBRARY_PATH, ld.so.cache / musl path, default dirs), the
 * bare-name rule, musl path files, and proof that nothing outside the
 * container (the host's cache) is ever read.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { AmbiguousError, NotFoundError, UsageError } from "../../../src/errors.js";
import { muslArch, parseMuslPath } from "../../../src/rootfs/musl.js";
import { resolveLibrary, type LibraryContext } from "../../../src/rootfs/resolve-library.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const ELF = new Uint8Array([0x7f, 0x45, 0x4c, 0x46]);

/** A container: path → bytes. Directories are implied by the paths. Records every path asked for. */
function container(files: Record<string, Uint8Array | string>, extra: Partial<LibraryContext> = {}): LibraryContext & { asked: string[] } {
  const map = new Map(Object.entries(files).map(([k, v]) => [k, typeof v === "string" ? new TextEncoder().encode(v) : v]));
  const asked: string[] = [];
  return {
    asked,
    readFile: (p) => (asked.push(p), map.get(p)),
    exists: (p) => (asked.push(p), map.has(p)),
    listDir: (dir) => {
      asked.push(dir);
      const prefix = `${dir}/`;
      const names = [...map.keys()].filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes("/")).map((k) => k.slice(prefix.length));
      return names.length > 0 ? names : undefined;
    },
    machine: EM_X86_64,
    elfClass: 64,
    loader: "glibc",
    ...extra,
  };
}

/** A new-format cache (glibc-ld.so.cache1.1) with the given entries. */
function makeCache(entries: { name: string; path: string; flags?: number }[]): Uint8Array {
  const enc = new TextEncoder();
  const strings: number[] = [];
  const offsets = entries.map((e) => {
    const key = strings.length;
    strings.push(...enc.encode(e.name), 0);
    const value = strings.length;
    strings.push(...enc.encode(e.path), 0);
    return [key, value] as const;
  });
  const start = 48 + entries.length * 24;
  const bytes = new Uint8Array(start + strings.length);
  bytes.set(enc.encode("glibc-ld.so.cache1.1"));
  const v = new DataView(bytes.buffer);
  v.setUint32(0x14, entries.length, true);
  v.setUint32(0x18, strings.length, true);
  v.setUint8(0x1c, 2);
  entries.forEach((e, i) => {
    v.setInt32(48 + i * 24, e.flags ?? 0x0303, true);
    v.setUint32(48 + i * 24 + 4, start + offsets[i]![0], true);
    v.setUint32(48 + i * 24 + 8, start + offsets[i]![1], true);
  });
  bytes.set(strings, start);
  return bytes;
}

describe("order of the rules", () => {
  const files = {
    "/etc/ld.so.cache": makeCache([{ name: "libfoo.so.1", path: "/usr/lib/cached/libfoo.so.1" }]),
    "/usr/lib/cached/libfoo.so.1": ELF,
    "/opt/env/libfoo.so.1": ELF,
    "/usr/lib/x86_64-linux-gnu/libfoo.so.1": ELF,
  };

  test("1. a mapped object wins over everything", () => {
    const ctx = container(files, { mappedPaths: ["/usr/bin/app", "/srv/mapped/libfoo.so.1"], ldLibraryPath: "/opt/env" });
    expect(resolveLibrary("libfoo.so.1", ctx)).toMatchObject({ path: "/srv/mapped/libfoo.so.1", how: "maps" });
  });

  test("maps: libc matches the real file libc-2.31.so (glibc < 2.34), and libc.so.6 does too", () => {
    const ctx = container({}, { mappedPaths: ["/usr/lib/x86_64-linux-gnu/libc-2.31.so"] });
    expect(resolveLibrary("libc", ctx).path).toBe("/usr/lib/x86_64-linux-gnu/libc-2.31.so");
    expect(resolveLibrary("libc.so.6", ctx).path).toBe("/usr/lib/x86_64-linux-gnu/libc-2.31.so");
    // …but not libc-client.so or libcrypt.so.1.
    const other = container({}, { mappedPaths: ["/lib/libc-client.so.2007", "/lib/libcrypt.so.1"] });
    expect(() => resolveLibrary("libc", other)).toThrow(NotFoundError);
  });

  test("maps: libz.so.1 matches the real file libz.so.1.2.13", () => {
    const ctx = container({}, { mappedPaths: ["/lib/x86_64-linux-gnu/libz.so.1.2.13"] });
    expect(resolveLibrary("libz.so.1", ctx)).toMatchObject({ path: "/lib/x86_64-linux-gnu/libz.so.1.2.13", how: "maps" });
  });

  test("2. LD_LIBRARY_PATH before the cache; empty, relative and $ORIGIN items skipped with a warning", () => {
    const ctx = container(files, { ldLibraryPath: ":rel:$ORIGIN/../lib:/nowhere;/opt/env/" });
    const r = resolveLibrary("libfoo.so.1", ctx);
    expect(r).toMatchObject({ path: "/opt/env/libfoo.so.1", how: "LD_LIBRARY_PATH" });
    expect(r.warnings).toHaveLength(3);
  });

  test("3. the container's cache before the default directories", () => {
    expect(resolveLibrary("libfoo.so.1", container(files))).toMatchObject({ path: "/usr/lib/cached/libfoo.so.1", how: "ld.so.cache" });
  });

  test("3. cache entries of another architecture are ignored (i386 and aarch64 entries for an x86-64 target)", () => {
    const ctx = container({
      "/etc/ld.so.cache": makeCache([
        { name: "libbar.so.2", path: "/usr/lib/i386-linux-gnu/libbar.so.2", flags: 0x0003 },
        { name: "libbar.so.2", path: "/usr/lib/aarch64-linux-gnu/libbar.so.2", flags: 0x0a03 },
        { name: "libbar.so.2", path: "/usr/lib/x86_64-linux-gnu/libbar.so.2", flags: 0x0303 },
      ]),
      "/usr/lib/i386-linux-gnu/libbar.so.2": ELF,
      "/usr/lib/aarch64-linux-gnu/libbar.so.2": ELF,
      "/usr/lib/x86_64-linux-gnu/libbar.so.2": ELF,
    });
    expect(resolveLibrary("libbar.so.2", ctx).path).toBe("/usr/lib/x86_64-linux-gnu/libbar.so.2");
    expect(resolveLibrary("libbar.so.2", { ...ctx, machine: 3, elfClass: 32 }).path).toBe("/usr/lib/i386-linux-gnu/libbar.so.2");
    expect(resolveLibrary("libbar.so.2", { ...ctx, machine: EM_AARCH64 }).path).toBe("/usr/lib/aarch64-linux-gnu/libbar.so.2");
  });

  test("3. a cache entry whose file is gone (a stale cache) falls through to the default directories, as glibc's loader does", () => {
    const ctx = container({
      "/etc/ld.so.cache": makeCache([{ name: "libgone.so.1", path: "/opt/old/libgone.so.1" }]),
      "/usr/lib/libgone.so.1": ELF,
    });
    const r = resolveLibrary("libgone.so.1", ctx);
    expect(r).toMatchObject({ path: "/usr/lib/libgone.so.1", how: "default dirs" });
    expect(r.warnings).toContain("/etc/ld.so.cache names /opt/old/libgone.so.1, which does not exist; found in the default directories instead");
  });

  test("4. default directories, multiarch first", () => {
    const ctx = container({ "/usr/lib/x86_64-linux-gnu/libfoo.so.1": ELF, "/lib64/libfoo.so.1": ELF, "/usr/lib/libfoo.so.1": ELF });
    expect(resolveLibrary("libfoo.so.1", ctx)).toMatchObject({ path: "/usr/lib/x86_64-linux-gnu/libfoo.so.1", how: "default dirs" });
    const rh = container({ "/usr/lib64/libfoo.so.1": ELF, "/usr/lib/libfoo.so.1": ELF });
    expect(resolveLibrary("libfoo.so.1", rh).path).toBe("/usr/lib64/libfoo.so.1");
  });

  test("4. with identify, a file of the wrong class in a default directory is skipped", () => {
    const ctx = container(
      { "/lib/libfoo.so.1": ELF, "/usr/lib/libfoo.so.1": ELF },
      {
        identify: (p) => (p === "/lib/libfoo.so.1" ? { machine: 3, elfClass: 32 } : { machine: EM_X86_64, elfClass: 64 }),
      },
    );
    expect(resolveLibrary("libfoo.so.1", ctx).path).toBe("/usr/lib/libfoo.so.1");
  });

  test("a corrupt cache is skipped (as glibc's loader skips it), with a warning", () => {
    const ctx = container({ "/etc/ld.so.cache": "glibc-ld.so.cache1.1 truncated", "/usr/lib/libfoo.so.1": ELF });
    const r = resolveLibrary("libfoo.so.1", ctx);
    expect(r).toMatchObject({ path: "/usr/lib/libfoo.so.1", how: "default dirs" });
    expect(r.warnings[0]).toMatch(/ld\.so\.cache skipped: .*truncated/);
  });

  test("absolute paths are taken as they are; relative paths are refused", () => {
    const ctx = container({ "/opt/app/lib/libx.so": ELF });
    expect(resolveLibrary("/opt/app/lib/libx.so", ctx)).toMatchObject({ path: "/opt/app/lib/libx.so", how: "absolute" });
    expect(() => resolveLibrary("/opt/nothing.so", ctx)).toThrow(NotFoundError);
    expect(() => resolveLibrary("lib/libx.so", ctx)).toThrow(UsageError);
  });
});

describe("bare names", () => {
  test("libssl matches libssl.so.3 over libssl.so.1.1 and the libssl.so dev symlink, in the cache", () => {
    const ctx = container({
      "/etc/ld.so.cache": makeCache([
        { name: "libssl.so.1.1", path: "/usr/lib/x86_64-linux-gnu/libssl.so.1.1" },
        { name: "libssl.so", path: "/usr/lib/x86_64-linux-gnu/libssl.so" },
        { name: "libssl.so.3", path: "/usr/lib/x86_64-linux-gnu/libssl.so.3" },
        { name: "libssl3.so", path: "/usr/lib/x86_64-linux-gnu/libssl3.so" },
      ]),
      "/usr/lib/x86_64-linux-gnu/libssl.so.1.1": ELF,
      "/usr/lib/x86_64-linux-gnu/libssl.so.3": ELF,
    });
    expect(resolveLibrary("libssl", ctx).path).toBe("/usr/lib/x86_64-linux-gnu/libssl.so.3");
    expect(resolveLibrary("libssl.so.1.1", ctx).path).toBe("/usr/lib/x86_64-linux-gnu/libssl.so.1.1");
  });

  test("libzookeeper_mt in a directory: listed, highest version", () => {
    const ctx = container({ "/usr/lib/libzookeeper_mt.so.2": ELF, "/usr/lib/libzookeeper_mt.so.2.0.0": ELF, "/usr/lib/libzookeeper_st.so.2": ELF });
    expect(resolveLibrary("libzookeeper_mt", ctx).path).toBe("/usr/lib/libzookeeper_mt.so.2.0.0");
  });

  test("without listDir, a bare name is found only as <name>.so", () => {
    const { listDir: _, ...ctx } = container({ "/usr/lib/libq.so.1": ELF, "/usr/lib/libr.so": ELF });
    expect(() => resolveLibrary("libq", ctx)).toThrow(NotFoundError);
    expect(resolveLibrary("libr", ctx).path).toBe("/usr/lib/libr.so");
  });
});

describe("musl", () => {
  test("the path file for the target's arch", () => {
    const ctx = container(
      { "/etc/ld-musl-x86_64.path": "/opt/musl/lib\n/usr/lib:/lib\n", "/opt/musl/lib/libfoo.so.1": ELF, "/lib/libfoo.so.1": ELF },
      { loader: "musl" },
    );
    expect(resolveLibrary("libfoo.so.1", ctx)).toMatchObject({ path: "/opt/musl/lib/libfoo.so.1", how: "musl path" });
    expect(ctx.asked).not.toContain("/etc/ld.so.cache");
  });

  test("a path file replaces the defaults: a library only in /lib is not found", () => {
    const ctx = container({ "/etc/ld-musl-aarch64.path": "/opt/lib\n", "/lib/libfoo.so.1": ELF }, { loader: "musl", machine: EM_AARCH64 });
    const error = (() => {
      try {
        resolveLibrary("libfoo.so.1", ctx);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toMatch(/\/etc\/ld-musl-aarch64\.path \(\/opt\/lib\)/);
  });

  test("no path file: /lib:/usr/local/lib:/usr/lib", () => {
    const ctx = container({ "/usr/local/lib/libfoo.so.1": ELF }, { loader: "musl" });
    expect(resolveLibrary("libfoo.so.1", ctx)).toMatchObject({ path: "/usr/local/lib/libfoo.so.1", how: "default dirs" });
  });

  test("arch names and path file parsing", () => {
    expect(muslArch({ machine: EM_X86_64, elfClass: 64 })).toBe("x86_64");
    expect(muslArch({ machine: EM_AARCH64, elfClass: 64 })).toBe("aarch64");
    expect(muslArch({ machine: 40, elfClass: 32, flags: 0x05000400 })).toBe("armhf");
    expect(muslArch({ machine: 40, elfClass: 32, flags: 0x05000200 })).toBe("arm");
    expect(muslArch({ machine: 3, elfClass: 32 })).toBe("i386");
    expect(muslArch({ machine: 22, elfClass: 64, littleEndian: false })).toBe("s390x");
    expect(muslArch({ machine: 243, elfClass: 64 })).toBe("riscv64");
    expect(muslArch({ machine: 21, elfClass: 64 })).toBe("powerpc64le");
    expect(parseMuslPath(new TextEncoder().encode("/a:/b\n\n/c::"))).toEqual(["/a", "/b", "/c"]);
    expect(parseMuslPath(new Uint8Array())).toEqual([]); // an empty file means no directories in musl
  });
});

describe("isolation from the host", () => {
  test("only container paths are asked for; the host's /etc/ld.so.cache is never read directly", () => {
    // The container's cache is the real fixture; the host's /etc/ld.so.cache
    // has libz at /lib/x86_64-linux-gnu, which must not be the answer.
    const ctx = container({ "/etc/ld.so.cache": readFileSync(join(FIXTURES, "ld.so.cache.new")), "/opt/lib/libz.so.1": ELF });
    expect(resolveLibrary("libz.so.1", ctx)).toMatchObject({ path: "/opt/lib/libz.so.1", how: "ld.so.cache" });
    // Every access went through the context; a miss asks for nothing but container paths, each once per rule.
    const miss = container({});
    expect(() => resolveLibrary("libz.so.1", miss)).toThrow(NotFoundError);
    expect(miss.asked).toEqual(["/etc/ld.so.cache", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"]);
  });

  test("not found: names where it looked and the nearest names it saw", () => {
    const ctx = container({ "/etc/ld.so.cache": makeCache([{ name: "libzookeeper_mt.so.2", path: "/usr/lib/libzookeeper_mt.so.2" }]) });
    try {
      resolveLibrary("libzookeper_mt.so.2", ctx);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as Error).message).toMatch(/^library "libzookeper_mt\.so\.2": not found; looked in \/etc\/ld\.so\.cache \(1 of 1 entries/);
      expect((error as NotFoundError).hints[0]).toBe('did you mean "libzookeeper_mt.so.2"?');
    }
  });
});

describe("an executable by its file name (issue 10)", () => {
  const PG = "/usr/lib/postgresql/15/bin/postgres";

  test("a mapped object whose file name is exactly the request wins: the executable `postgres`", () => {
    const ctx = container({ [PG]: ELF, "/usr/lib/libpostgres.so": ELF }, { mappedPaths: [PG, "/usr/lib/x86_64-linux-gnu/libc.so.6"] });
    expect(resolveLibrary("postgres", ctx)).toMatchObject({ path: PG, how: "maps" });
  });

  test("two mapped objects of that name are an ambiguity that lists both", () => {
    const ctx = container({}, { mappedPaths: [PG, "/opt/pg/bin/postgres", PG] });
    try {
      resolveLibrary("postgres", ctx);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AmbiguousError);
      expect((error as Error).message).toBe(`object "postgres": the process maps 2 files of that name: ${PG}, /opt/pg/bin/postgres`);
    }
  });

  test("no library and nothing mapped: the first file of that name on the PATH, after every library rule", () => {
    const ctx = container({ "/usr/local/bin/postgres": ELF, "/usr/bin/postgres": ELF }, { executablePath: "relative/dir:/usr/local/bin:/usr/bin" });
    expect(resolveLibrary("postgres", ctx)).toMatchObject({ path: "/usr/local/bin/postgres", how: "PATH" });
    // A library of the name still wins over an executable (libfoo stays a library).
    const lib = container({ "/usr/lib/libfoo.so.1": ELF, "/usr/bin/libfoo": ELF }, { executablePath: "/usr/bin" });
    expect(resolveLibrary("libfoo", lib)).toMatchObject({ path: "/usr/lib/libfoo.so.1", how: "default dirs" });
  });

  test("not on the PATH either: the PATH is among the places looked", () => {
    const ctx = container(
      { "/usr/bin/postgre": ELF, "/usr/lib/postgres.so.1": ELF },
      { executablePath: "/usr/bin", mappedPaths: ["/usr/lib/x86_64-linux-gnu/libc.so.6"] },
    );
    try {
      resolveLibrary("postgres.so.2", ctx);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as Error).message).toMatch(/, the PATH \(\/usr\/bin\)$/);
      expect((error as NotFoundError).hints[0]).toBe('did you mean "postgres.so.1"?');
    }
  });
});
