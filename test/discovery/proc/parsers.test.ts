/**
 * Pure parsers of `discovery/proc/` on fixture text (fixtures/*.txt, laid out
 * byte for byte as the kernel prints: maps padded to column 73, octal
 * escapes in mountinfo), including hostile lines and caps.
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { FormatError, LimitError } from "../../../src/errors.js";
import { parseStatus } from "../../../src/discovery/proc/status.js";
import { mapFilesPath, mappedObjects, parseMaps } from "../../../src/discovery/proc/maps.js";
import { overlayLayers, parseMountinfo, unescapeOctal } from "../../../src/discovery/proc/mountinfo.js";
import { parseEnviron } from "../../../src/discovery/proc/environ.js";
import { parseNamespaceLink } from "../../../src/discovery/proc/ns.js";

const fixture = (name: string): string => readFileSync(new URL(`fixtures/${name}`, import.meta.url), "utf8");

describe("parseStatus", () => {
  const status = parseStatus(fixture("status-container.txt"), "status-container.txt");

  test("decodes ids and the NSpid chain outermost first", () => {
    expect(status).toMatchObject({ tgid: 48213, pid: 48213, ppid: 48190, nsPid: [48213, 29], nsTgid: [48213, 29] });
    expect(status.uid).toEqual({ real: 101, effective: 101, saved: 101, fs: 101 });
    expect(status.gid).toEqual({ real: 101, effective: 101, saved: 101, fs: 101 });
    expect(status.fields.get("State")).toBe("S (sleeping)");
  });

  test("keeps spaces in Name and undoes the kernel's backslash escape", () => {
    // The fixture's Name is `nginx: worker\\n`: a literal backslash then n, not a newline.
    expect(status.name).toBe("nginx: worker\\n");
    expect(parseStatus("Name:\ta\\nb\nTgid:\t1\nPid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\n").name).toBe("a\nb");
  });

  test("NSpid is undefined on kernels before 4.1, not an error", () => {
    const old = parseStatus("Name:\tinit\nTgid:\t1\nPid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\n");
    expect(old.nsPid).toBeUndefined();
    expect(old.gid).toBeUndefined();
  });

  test("a missing required line is a FormatError naming the source and the line", () => {
    expect(() => parseStatus("Name:\tx\nPid:\t1\n", "/proc/9/status")).toThrow(
      new FormatError('/proc/9/status: no "Tgid:" line; this is not a /proc/<pid>/status file', 0, undefined, false),
    );
    expect(() => parseStatus("Name:\tx\nTgid:\t1\nPid:\t1\nPPid:\t0\nUid:\t0\t0\n")).toThrow(/"Uid:" should hold four ids/);
    expect(() => parseStatus("Name:\tx\nTgid:\tone\nPid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\n")).toThrow(FormatError);
  });

  test("caps the number of lines", () => {
    expect(() => parseStatus("X:\t1\n".repeat(5000))).toThrow(LimitError);
  });
});

describe("parseMaps", () => {
  const maps = parseMaps(fixture("maps-hostile.txt"));

  test("one entry per line, addresses and offsets as bigint", () => {
    expect(maps).toHaveLength(17);
    expect(maps[1]).toMatchObject({
      start: 0x55d0c8a28000n,
      end: 0x55d0c8b00000n,
      perms: "r-xp",
      executable: true,
      offset: 0x28000n,
      dev: "fd:01",
      inode: 1835123n,
      path: "/usr/bin/my app",
      deleted: false,
      kind: "file",
    });
  });

  test("a path with spaces is the whole rest of the line, runs of spaces kept", () => {
    const last = maps[16];
    expect(last?.path).toBe("/data/ big  spaces /lib.so");
    // The inode filled the padding; it is still exact (64-bit, as overlayfs xino produces).
    expect(last?.inode).toBe(18446744073709551615n);
    expect(last?.offset).toBe(0xffffffffffff0000n);
    expect(last?.dev).toBe("103:02");
  });

  test("\\012 is a newline in the name", () => {
    expect(maps[3]?.path).toBe("/opt/weird\nname/libx.so");
  });

  test('" (deleted)" is stripped once and flagged; memfd is its own kind', () => {
    expect(maps[5]).toMatchObject({ path: "/tmp/stap-abc/libprobes.so", rawPath: "/tmp/stap-abc/libprobes.so (deleted)", deleted: true, kind: "file" });
    expect(maps[6]).toMatchObject({ path: "/memfd:jit code", deleted: true, kind: "memfd", inode: 2049n });
    // A deleted file literally named "x (deleted)": only the kernel's suffix is removed.
    expect(maps[7]).toMatchObject({ path: "/srv/x (deleted)", deleted: true });
    // Ambiguous by design: a live file named "x (deleted)" reads as deleted "x"; map_files and the inode decide.
    expect(maps[8]).toMatchObject({ path: "/srv/x", deleted: true });
  });

  test("anonymous and kernel-named mappings", () => {
    expect(maps[2]).toMatchObject({ path: "[heap]", kind: "special", inode: 0n });
    expect(maps[9]).toMatchObject({ path: undefined, rawPath: undefined, kind: "anon", deleted: false });
    expect(maps[10]).toMatchObject({ path: "[anon:libc_malloc]", kind: "special" });
    expect(maps[11]).toMatchObject({ path: "anon_inode:[perf_event]", kind: "special", perms: "rw-s" });
    expect(maps[15]).toMatchObject({ start: 0xffffffffff600000n, path: "[vsyscall]", kind: "special", executable: true });
  });

  test("a line without the trailing space after the inode still parses", () => {
    expect(parseMaps("00400000-00401000 r-xp 00000000 08:01 12\n")[0]).toMatchObject({ inode: 12n, kind: "anon" });
  });

  test("a malformed line is a FormatError naming the source and line number", () => {
    expect(() => parseMaps("00400000-00401000 r-xp 00000000 08:01 12 /a\ngarbage\n", { source: "/proc/7/maps" })).toThrow(
      '/proc/7/maps: line 2 is not a mapping ("start-end perms offset dev inode [path]"): "garbage"',
    );
    expect(() => parseMaps("0x400000-0x401000 r-xp 00000000 08:01 12 /a\n")).toThrow(FormatError);
  });

  test("a huge number of lines is a LimitError", () => {
    const line = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n";
    expect(() => parseMaps(line.repeat(200_000))).toThrow(LimitError);
    expect(() => parseMaps(line.repeat(11), { maxLines: 10 })).toThrow("maps: more than 10 mappings; refusing to parse further");
    expect(parseMaps(line.repeat(10), { maxLines: 10 })).toHaveLength(10);
  });

  test("mapFilesPath uses the kernel's %lx-%lx, not the maps text's padding", () => {
    expect(mapFilesPath(1234, 0x400000n, 0x401000n)).toBe("/proc/1234/map_files/400000-401000");
    expect(mapFilesPath(1, 0x7f3c1a200000n, 0x7f3c1a201000n, "/host/proc")).toBe("/host/proc/1/map_files/7f3c1a200000-7f3c1a201000");
  });

  test("mappedObjects groups file-backed mappings by (dev, inode, path)", () => {
    const objects = mappedObjects(maps);
    expect(objects.map((o) => o.path)).toEqual([
      "/usr/bin/my app",
      "/opt/weird\nname/libx.so",
      "/tmp/stap-abc/libprobes.so",
      "/memfd:jit code",
      "/srv/x (deleted)",
      "/srv/x",
      "/data/ big  spaces /lib.so",
    ]);
    const app = objects[0];
    expect(app).toMatchObject({
      kind: "file",
      inode: 1835123n,
      lowestStart: 0x55d0c8a00000n,
      lowestOffset: 0n,
      mapFilesRange: { start: 0x55d0c8a00000n, end: 0x55d0c8a28000n },
    });
    expect(app?.executableRanges).toEqual([{ start: 0x55d0c8a28000n, end: 0x55d0c8b00000n, offset: 0x28000n }]);
    expect(app?.mappings).toHaveLength(2);
    expect(objects[3]).toMatchObject({ kind: "memfd", deleted: true });
  });
});

describe("parseMountinfo", () => {
  const mounts = parseMountinfo(fixture("mountinfo-overlay.txt"), { source: "mountinfo-overlay.txt" });

  test("fields of a plain line, optional fields kept", () => {
    expect(mounts[0]).toEqual({
      mountId: 22,
      parentId: 1,
      major: 0,
      minor: 21,
      root: "/",
      mountPoint: "/proc",
      mountOptions: ["rw", "nosuid", "nodev", "noexec", "relatime"],
      optionalFields: ["shared:12"],
      fsType: "proc",
      source: "proc",
      superOptions: ["rw"],
      rawSuperOptions: "rw",
    });
    expect(mounts[1]?.optionalFields).toEqual(["master:1"]);
  });

  test("octal escapes are undone in root, mount point and source", () => {
    expect(mounts[2]).toMatchObject({ root: "/var/lib/my data", mountPoint: "/mnt/with space\ttab\nnl\\bs", major: 8, minor: 1 });
    expect(mounts[3]?.source).toBe("over lay");
    expect(unescapeOctal("a\\134b\\9zz\\")).toBe("a\\b\\9zz\\");
  });

  test("an empty source field is kept as empty", () => {
    expect(mounts[5]).toMatchObject({ fsType: "tmpfs", source: "", superOptions: ["rw"] });
  });

  test("overlayLayers of a Docker overlay2 root", () => {
    expect(overlayLayers(mounts[1]!)).toEqual({
      lowerdir: ["/var/lib/docker/overlay2/l/ZQ3KUEXAMPLE1", "/var/lib/docker/overlay2/l/7YJ2EXAMPLE22"],
      dataOnlyLowerdir: [],
      upperdir: "/var/lib/docker/overlay2/4f1c0e7d/diff",
      workdir: "/var/lib/docker/overlay2/4f1c0e7d/work",
    });
    expect(overlayLayers(mounts[0]!)).toBeUndefined();
  });

  test("legacy lowerdir: \\: (printed \\134:) is a colon in a path, \\054 a comma, :: starts data-only layers", () => {
    expect(overlayLayers(mounts[3]!)).toEqual({
      lowerdir: ["/layers/a:colon", "/layers/b,comma"],
      dataOnlyLowerdir: ["/data/only1", "/data/only2"],
      upperdir: undefined,
      workdir: undefined,
    });
  });

  test("new mount API lowerdir: \\072 is a colon in a path", () => {
    expect(overlayLayers(mounts[4]!)).toEqual({
      lowerdir: ["/l/with:colon", "/l/plain"],
      dataOnlyLowerdir: ["/l/data"],
      upperdir: "/u/up=eq",
      workdir: "/u/work",
    });
  });

  test("malformed lines and caps", () => {
    expect(() => parseMountinfo("22 1 0:21 / /proc rw shared:12 proc proc rw\n", { source: "m" })).toThrow(/^m: line 1 is not a mount/);
    expect(() => parseMountinfo("x 1 0:21 / /proc rw - proc proc rw\n")).toThrow(FormatError);
    expect(() => parseMountinfo("22 1 0:21 / /p rw - proc proc rw\n".repeat(4), { maxLines: 3 })).toThrow(LimitError);
  });
});

describe("parseEnviron", () => {
  test("NUL-separated NAME=value, first occurrence wins, junk skipped", () => {
    const env = parseEnviron(Buffer.from("PATH=/bin\0LD_LIBRARY_PATH=/opt/a b:/x\0EQ=a=b\0PATH=/evil\0noequals\0\0=novalue\0TAIL=no-nul"));
    expect([...env]).toEqual([
      ["PATH", "/bin"],
      ["LD_LIBRARY_PATH", "/opt/a b:/x"],
      ["EQ", "a=b"],
      ["TAIL", "no-nul"],
    ]);
  });

  test("an empty block is an empty map", () => {
    expect(parseEnviron(new Uint8Array(0)).size).toBe(0);
  });

  test("caps the number of strings", () => {
    expect(() => parseEnviron(Buffer.from("A=1\0".repeat(11)), { maxEntries: 10, source: "/proc/5/environ" })).toThrow(
      new LimitError("/proc/5/environ: more than 10 environment strings; refusing to parse further"),
    );
  });
});

describe("parseNamespaceLink", () => {
  test("type:[inode]", () => {
    expect(parseNamespaceLink("mnt:[4026531840]", "mnt")).toBe(4026531840);
    expect(parseNamespaceLink("pid:[4026531836]", "pid_for_children")).toBe(4026531836);
  });
  test("a different type or shape is a FormatError", () => {
    expect(() => parseNamespaceLink("net:[1]", "mnt")).toThrow('ns/mnt: expected "mnt:[<inode>]": "net:[1]"');
    expect(() => parseNamespaceLink("mnt:[0x10]", "mnt")).toThrow(FormatError);
  });
});
