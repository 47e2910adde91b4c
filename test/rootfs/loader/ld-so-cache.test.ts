/**
 * ld.so.cache parser: differential against the real `ldconfig -p` of this
 * machine, caches that ldconfig builds for a tmp root in every format it
 * writes, checked-in fixtures of those, and hostile caches (PITFALLS 24).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { FormatError, LimitError, ProbecError } from "../../../src/errors.js";
import { decodeCacheFlags, parseLdSoCache, type LdCache } from "../../../src/rootfs/ld-so-cache.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

function ldconfigPath(): string | undefined {
  for (const p of ["/sbin/ldconfig", "/usr/sbin/ldconfig"]) if (existsSync(p)) return p;
  return undefined;
}
const LDCONFIG = ldconfigPath();

interface Printed {
  name: string;
  tag: string;
  hwcap: string | undefined;
  path: string;
}

/** `\tlibz.so.1 (libc6,x86-64, hwcap: "x86-64-v3") => /lib/…` → its fields. */
function parseLdconfigP(text: string): Printed[] {
  const out: Printed[] = [];
  for (const line of text.split("\n")) {
    const m = /^\t(\S+) \(([^,)]+(?:,[^,) ]+)*)(?:, hwcap: (?:"([^"]*)"|0x[0-9a-f]+))?(?:, OS ABI: [^)]*)?\) => (.*)$/.exec(line);
    if (m === null) continue;
    out.push({ name: m[1]!, tag: m[2]!, hwcap: m[3], path: m[4]! });
  }
  return out;
}

function asPrinted(cache: LdCache): Printed[] {
  return cache.entries.map((e) => ({ name: e.name, tag: e.flags.tag, hwcap: e.hwcapsSubdir, path: e.path }));
}

describe("this machine's /etc/ld.so.cache", () => {
  // probec's machines are Debian, where ldconfig and /etc/ld.so.cache always exist: no skip.
  test("every entry ldconfig -p prints is parsed, with the same arch tag, in the same order", () => {
    expect(LDCONFIG).toBeDefined();
    expect(existsSync("/etc/ld.so.cache")).toBe(true);
    const expected = parseLdconfigP(execFileSync(LDCONFIG!, ["-p"], { encoding: "utf8" }));
    const header = /^(\d+) libs found/.exec(execFileSync(LDCONFIG!, ["-p"], { encoding: "utf8" }))?.[1];
    const cache = parseLdSoCache(readFileSync("/etc/ld.so.cache"));
    expect(expected.length).toBeGreaterThan(10);
    expect(cache.entries.length).toBe(Number(header));
    expect(asPrinted(cache)).toEqual(expected);
  });
});

describe("caches built by ldconfig -r for a tmp root", () => {
  const formats = ["new", "old", "compat"] as const;
  test("each format holds exactly the libraries of the root", () => {
    expect(LDCONFIG).toBeDefined();
    const root = mkdtempSync(join(tmpdir(), "probec-ldcache-"));
    try {
      const libz = readdirSync("/lib/x86_64-linux-gnu").find((n) => /^libz\.so\.1\.\d/.test(n));
      const source = libz === undefined ? undefined : join("/lib/x86_64-linux-gnu", libz);
      // zlib1g is part of every Debian system.
      if (source === undefined) throw new Error("no libz.so.1.* in /lib/x86_64-linux-gnu");
      mkdirSync(join(root, "etc"));
      mkdirSync(join(root, "opt/lib"), { recursive: true });
      mkdirSync(join(root, "lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3"), { recursive: true });
      copyFileSync(source, join(root, "opt/lib", libz!));
      copyFileSync(source, join(root, "lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3", libz!));
      writeFileSync(join(root, "etc/ld.so.conf"), "/opt/lib\n");
      for (const format of formats) {
        execFileSync(LDCONFIG!, ["-c", format, "-r", root, "-C", `/etc/ld.so.cache.${format}`]);
        const cache = parseLdSoCache(readFileSync(join(root, `etc/ld.so.cache.${format}`)));
        expect(cache.format).toBe(format);
        expect(cache.entries.map((e) => [e.name, e.path, e.flags.tag])).toEqual([
          ["libz.so.1", `/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/${libz}`, "libc6,x86-64"],
          ["libz.so.1", "/opt/lib/libz.so.1", "libc6,x86-64"],
        ]);
        // The old format has no hwcap field: the hwcaps entry is there, unmarked.
        expect(cache.entries[0]!.hwcapsSubdir).toBe(format === "old" ? undefined : "x86-64-v3");
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("checked-in fixtures (built by glibc 2.36 ldconfig -c new|old|compat -r)", () => {
  for (const format of ["new", "old", "compat"] as const) {
    test(`${format}: matches the ldconfig -p output saved beside it`, () => {
      const cache = parseLdSoCache(readFileSync(join(FIXTURES, `ld.so.cache.${format}`)));
      const printed = parseLdconfigP(readFileSync(join(FIXTURES, `ld.so.cache.${format}.ldconfig-p.txt`), "utf8"));
      expect(cache.format).toBe(format);
      const ours = asPrinted(cache);
      // ldconfig -p resolves a compat file's hwcaps names from the file start,
      // not the new header, and prints garbage ("j"); we resolve them right.
      if (format === "compat") expect(printed[0]!.hwcap).toBe("j");
      expect(ours.map((p) => ({ ...p, hwcap: undefined }))).toEqual(printed.map((p) => ({ ...p, hwcap: undefined })));
      expect(ours[0]!.hwcap).toBe(format === "old" ? undefined : "x86-64-v3");
      if (format !== "old") {
        expect(cache.generator).toMatch(/^ldconfig .*2\.36/);
        expect(cache.entries[0]!.hwcap).toBe(1n << 62n); // extension bit, no ISA-level note in libz, subdirectory index 0
      }
    });
  }
});

describe("flags", () => {
  test("decoded as ldconfig names them", () => {
    expect(decodeCacheFlags(0x0303)).toMatchObject({ type: "libc6", required: 0x0300, tag: "libc6,x86-64", elfClass: 64 });
    expect(decodeCacheFlags(0x0003)).toMatchObject({ tag: "libc6", elfClass: undefined });
    expect(decodeCacheFlags(0x0a03).tag).toBe("libc6,AArch64");
    expect(decodeCacheFlags(0x0903).tag).toBe("libc6,hard-float");
    expect(decodeCacheFlags(0x0803)).toMatchObject({ tag: "libc6,x32", elfClass: 32 });
    expect(decodeCacheFlags(0x7f07).tag).toBe("unknown,32512");
  });
});

// ---- hostile caches -------------------------------------------------------

const NEW = readFileSync(join(FIXTURES, "ld.so.cache.new"));
const OLD = readFileSync(join(FIXTURES, "ld.so.cache.old"));
const COMPAT = readFileSync(join(FIXTURES, "ld.so.cache.compat"));

function patched(base: Uint8Array, at: number, write: (view: DataView) => void): Uint8Array {
  const copy = new Uint8Array(base);
  write(new DataView(copy.buffer, at));
  return copy;
}

function errorOf(body: () => unknown): unknown {
  try {
    body();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

describe("hostile caches", () => {
  for (const [label, bytes] of [
    ["new", NEW],
    ["old", OLD],
    ["compat", COMPAT],
    ["host", existsSync("/etc/ld.so.cache") ? readFileSync("/etc/ld.so.cache") : NEW],
  ] as const) {
    test(`${label}: truncated at every 37th byte: a FormatError or a (shorter) valid parse, nothing else`, () => {
      for (let cut = 0; cut < bytes.length; cut += 37) {
        try {
          parseLdSoCache(bytes.subarray(0, cut));
        } catch (error) {
          expect(error, `cut at ${cut}`).toBeInstanceOf(FormatError);
        }
      }
    });
  }

  test("nlibs = 0xffffffff (new): refused at the nlibs field, before any entry is read", () => {
    const error = errorOf(() => parseLdSoCache(patched(NEW, 0x14, (v) => v.setUint32(0, 0xffffffff, true))));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).offset).toBe(0x14);
    expect((error as FormatError).message).toMatch(/nlibs says 4294967295 entries/);
  });

  test("nlibs = 0xffffffff (old, both byte orders): refused at the nlibs field", () => {
    const error = errorOf(() => parseLdSoCache(patched(OLD, 12, (v) => v.setUint32(0, 0xffffffff, true))));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).offset).toBe(12);
  });

  test("more entries than maxEntries: a LimitError naming the limit", () => {
    const error = errorOf(() => parseLdSoCache(NEW, { maxEntries: 1 }));
    expect(error).toBeInstanceOf(LimitError);
    expect((error as Error).message).toMatch(/limit of 1; raise maxEntries/);
  });

  test("len_strings past the end of the file", () => {
    const error = errorOf(() => parseLdSoCache(patched(NEW, 0x18, (v) => v.setUint32(0, 0x7fffffff, true))));
    expect((error as FormatError).offset).toBe(0x18);
  });

  test("a key offset past the string table names the entry's field offset", () => {
    const error = errorOf(() => parseLdSoCache(patched(NEW, 48 + 4, (v) => v.setUint32(0, 0xfffffff0, true))));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).offset).toBe(48 + 4);
    expect((error as Error).message).toMatch(/key string offset points past the string table/);
  });

  test("a string without a NUL before the end of the string table", () => {
    const lenStrings = new DataView(NEW.buffer, NEW.byteOffset).getUint32(0x18, true);
    const stringsStart = 48 + 2 * 24;
    // Fill the whole string table with 'A': every string runs off its end.
    const copy = new Uint8Array(NEW);
    copy.fill(0x41, stringsStart, stringsStart + lenStrings);
    const error = errorOf(() => parseLdSoCache(copy));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toMatch(/not NUL-terminated/);
  });

  test("a string longer than maxStringLength", () => {
    const error = errorOf(() => parseLdSoCache(NEW, { maxStringLength: 4 }));
    expect((error as Error).message).toMatch(/longer than 4 bytes/);
  });

  test("the endianness byte marking the cache invalid", () => {
    const error = errorOf(() => parseLdSoCache(patched(NEW, 0x1c, (v) => v.setUint8(0, 1))));
    expect((error as Error).message).toMatch(/invalid.*rebuild/);
  });

  test("a bad extension offset or magic", () => {
    expect(errorOf(() => parseLdSoCache(patched(NEW, 0x20, (v) => v.setUint32(0, 0xfffffff0, true))))).toBeInstanceOf(FormatError);
    const ext = new DataView(NEW.buffer, NEW.byteOffset).getUint32(0x20, true);
    expect((errorOf(() => parseLdSoCache(patched(NEW, ext, (v) => v.setUint32(0, 0x12345678, true)))) as FormatError).offset).toBe(ext);
  });

  test("not a cache at all", () => {
    const error = errorOf(() => parseLdSoCache(new TextEncoder().encode("\x7fELF garbage")));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toMatch(/not a cache file/);
  });

  test("a crafted cache: 20 000 entries pointing into one 4 KiB run without NUL is refused by the work budget, not scanned 20 000 times", () => {
    // 48-byte header + n entries whose keys point at distinct offsets of a
    // 4 KiB run without NUL: a naive parser scans 4 KiB per entry.
    const n = 20_000;
    const run = 4096;
    const stringsStart = 48 + n * 24;
    const bytes = new Uint8Array(stringsStart + run + 1);
    bytes.set(new TextEncoder().encode("glibc-ld.so.cache1.1"), 0);
    const v = new DataView(bytes.buffer);
    v.setUint32(0x14, n, true);
    v.setUint32(0x18, run + 1, true);
    v.setUint8(0x1c, 2);
    for (let i = 0; i < n; i++) {
      v.setInt32(48 + i * 24, 0x0303, true);
      v.setUint32(48 + i * 24 + 4, stringsStart + (i % run), true);
      v.setUint32(48 + i * 24 + 8, stringsStart + (i % run), true);
    }
    bytes.fill(0x41, stringsStart, stringsStart + run); // then one NUL at the very end
    const error = errorOf(() => parseLdSoCache(bytes, { maxStringLength: run }));
    expect(error).toBeInstanceOf(ProbecError);
    expect(error).toBeInstanceOf(LimitError);
    expect((error as Error).message).toMatch(/more than 4× the file size/);
  });
});
