/**
 * `checkImage` on one image stored every way probec reads: an OCI layout
 * (gzip, zstd and uncompressed layers), an OCI archive, Docker's classic
 * `docker save` layout, and the same filesystem as a plain root directory.
 * Each form must give the same answers, and each answer is checked against
 * the fixture facts (offsets from readelf, fixtures/elf/facts.json) or
 * against probec's own reader run on the very file copied into the image.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkImage, findSymbol, type CheckResult, type TargetCheck } from "../../src/index.js";
import { join } from "node:path";
import { tarOf, writeOciLayout } from "../support/image.js";
import { DEEP, LIBDIR, buildTestImages, fixture, type TestImages } from "./fixture.js";

interface UsdtFact {
  provider: string;
  name: string;
  pc_file_offset: string;
  semaphore_file_offset: string | null;
  args: string;
}
const facts = JSON.parse(readFileSync(new URL("../../fixtures/elf/facts.json", import.meta.url), "utf8")) as { files: Record<string, { usdt?: UsdtFact[] }> };
const usdtFact = (file: string, name: string): UsdtFact => {
  const fact = facts.files[file]?.usdt?.find((u) => `${u.provider}:${u.name}` === name);
  if (fact === undefined) throw new Error(`no fact for ${file} ${name}`);
  return fact;
};

let images: TestImages;
beforeAll(() => {
  images = buildTestImages();
});
afterAll(() => images?.cleanup());

const TARGETS = [
  "exe:sema:enabled",
  "libc:malloc",
  "libver:vfunc",
  `/${LIBDIR}/libver.so:vfunc`,
  "/opt/plugins/old.so:same_lib_fn",
  "/opt/plugins/new.so:same:probe",
  "libfoo.so.1:same:probe",
  "/usr/bin/sema-link:sema:plain",
  `/${DEEP}/pax/libdeep.so:same:probe`,
  `/${DEEP}/gnu/libdeep.so:same_lib_fn`,
  "exe:sema:*",
  "/lib64/ld-linux-x86-64.so.2",
] as const;

function byTarget(result: CheckResult, target: string): TargetCheck {
  const check = result.checks.find((c) => c.target === target);
  if (check === undefined) throw new Error(`no check for ${target}`);
  return check;
}

const forms = [
  ["an OCI layout directory", () => images.ociDir, {}],
  ["an OCI archive", () => images.ociArchive, {}],
  ["a classic docker save archive", () => images.classicArchive, {}],
  ["a root filesystem directory", () => images.rootDir, { exe: "app" }],
] as const;

describe.each(forms)("checkImage on %s", (_name, path, options) => {
  let result: CheckResult;
  beforeAll(async () => {
    result = await checkImage(path(), [...TARGETS], options);
  });

  it("finds exe from the Entrypoint through PATH and a relative symlink, with file and semaphore offsets from readelf", () => {
    const check = byTarget(result, "exe:sema:enabled");
    const fact = usdtFact("usdt_sema", "sema:enabled");
    expect(check.status).toBe("found");
    expect(check.object).toEqual({ request: "exe", path: "/usr/bin/usdt_sema", how: "exe" });
    expect(result.image.exe).toBe("/usr/bin/usdt_sema");
    expect(check.sites).toEqual([
      {
        kind: "usdt",
        name: "sema:enabled",
        address: fact.pc_file_offset,
        fileOffset: Number(fact.pc_file_offset),
        semaphoreOffset: Number(fact.semaphore_file_offset),
        args: fact.args.split(" "),
      },
    ]);
  });

  it("resolves libc through the image's own ld.so.cache, at the offset the real libc has", async () => {
    const check = byTarget(result, "libc:malloc");
    expect(check.status).toBe("found");
    expect(check.object).toMatchObject({ path: `/${LIBDIR}/libc.so.6`, how: "ld.so.cache" });
    const host = await findSymbol("/lib/x86_64-linux-gnu/libc.so.6", "malloc");
    expect(check.sites[0]?.fileOffset).toBe(host.fileOffset);
  });

  it("a whiteout deletes a library of a lower layer", () => {
    const byPath = byTarget(result, `/${LIBDIR}/libver.so:vfunc`);
    expect(byPath.status).toBe("missing");
    expect(byPath.message).toContain(`"libver.so" not found in /${LIBDIR}`);
    // The image's ld.so.cache still names it; like glibc's loader, probec then searches the default directories.
    const byName = byTarget(result, "libver:vfunc");
    expect(byName.status).toBe("missing");
    expect(byName.message).toContain(`/etc/ld.so.cache (which names /${LIBDIR}/libver.so, a file that does not exist)`);
  });

  it("an opaque directory hides the lower layer's files and keeps its own", () => {
    expect(byTarget(result, "/opt/plugins/old.so:same_lib_fn").status).toBe("missing");
    const added = byTarget(result, "/opt/plugins/new.so:same:probe");
    expect(added.status).toBe("found");
    expect(added.sites[0]?.fileOffset).toBe(Number(usdtFact("libusdt_same.so", "same:probe").pc_file_offset));
  });

  it("an absolute symlink resolves inside the image, never to the host decoy at the same path", () => {
    const check = byTarget(result, "libfoo.so.1:same:probe");
    // The decoy on the host is libver.so, which has no USDT probe: reading it would make this "missing".
    expect(check.status).toBe("found");
    expect(check.object?.path).toBe(`${images.decoy}/libfoo.so.1`);
    expect(check.sites[0]?.fileOffset).toBe(Number(usdtFact("libusdt_same.so", "same:probe").pc_file_offset));
    expect(byTarget(result, "/lib64/ld-linux-x86-64.so.2")).toMatchObject({ status: "found", object: { path: `/${LIBDIR}/ld-linux-x86-64.so.2` } });
  });

  it("a hard link to a file of a lower layer reads that file", () => {
    const check = byTarget(result, "/usr/bin/sema-link:sema:plain");
    expect(check.status).toBe("found");
    expect(check.sites[0]?.fileOffset).toBe(Number(usdtFact("usdt_sema", "sema:plain").pc_file_offset));
  });

  it("reads members with pax and GNU long names", () => {
    expect(byTarget(result, `/${DEEP}/pax/libdeep.so:same:probe`).status).toBe("found");
    expect(byTarget(result, `/${DEEP}/gnu/libdeep.so:same_lib_fn`).status).toBe("found");
  });

  it("a USDT glob lists every site", () => {
    expect(byTarget(result, "exe:sema:*").sites.map((s) => s.name)).toEqual(["sema:plain", "sema:enabled", "sema:other"]);
  });

  it("is not ok while something is missing", () => {
    expect(result.ok).toBe(false);
    expect(result.checks).toHaveLength(TARGETS.length);
  });
});

describe("checkImage reports what is wrong, with what exists instead", () => {
  it("a mistyped symbol gets the nearest names; a mistyped USDT probe too", async () => {
    const r = await checkImage(images.ociArchive, ["exe:mian", "libc:mallok", "exe:sema:enabeld"]);
    expect(r.checks.map((c) => c.status)).toEqual(["missing", "missing", "missing"]);
    expect(r.checks[0]?.hints).toContain('did you mean "main"?');
    expect(r.checks[1]?.hints.join(" ")).toContain('"malloc"');
    expect(r.checks[2]?.hints.join(" ")).toContain("sema:enabled");
  });

  it("a probe reading an argument the USDT site does not have is invalid", async () => {
    const r = await checkImage(images.ociDir, "usdt docker/web:exe:sema:other {\n  a = arg1\n  b = arg2\n}\n", { file: "args.probe" });
    const [check] = r.checks;
    expect(check?.status).toBe("invalid");
    expect(check?.message).toContain("reads arg2, beyond the arguments of the USDT site");
    expect(check?.hints[0]).toContain("sema:other");
    expect(check?.hints[0]).toContain("has 2 arguments");
    expect(check?.source).toEqual({ file: "args.probe", line: 1, col: 6 });
    expect(r.notes).toEqual(["scopes are ignored for images (the image is the container): docker/web"]);
    const ok = await checkImage(images.ociDir, "usdt docker/web:exe:sema:other {\n  b = arg1\n}\n");
    expect(ok.ok).toBe(true);
  });

  it("a probe file with errors is diagnostics, not an exception", async () => {
    const r = await checkImage(images.ociDir, "uprobe docker/web:libc:malloc {\n  latncy\n}\n", { file: "bad.probe" });
    expect(r.ok).toBe(false);
    expect(r.checks).toEqual([]);
    expect(r.problems[0]?.diagnostics[0]?.message).toContain("unknown capture `latncy`");
  });

  it("exe in a root directory without --exe says how to name it", async () => {
    const r = await checkImage(images.rootDir, ["exe:main"]);
    expect(r.checks[0]?.status).toBe("missing");
    expect(r.checks[0]?.message).toContain("a root filesystem directory has no config");
    expect(r.checks[0]?.hints.join(" ")).toContain("--exe");
  });
});

describe("layer compression", () => {
  it("is told by the bytes; a media type that says otherwise is a note, not a failure", async () => {
    const dir = join(images.dir, "mislabelled");
    writeOciLayout(dir, [
      {
        architecture: "amd64",
        layers: [
          {
            tar: tarOf([{ name: "usr/bin/usdt_sema", type: "file", data: fixture("usdt_sema") }]),
            compression: "zstd",
            mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
          },
        ],
        config: { entrypoint: ["/usr/bin/usdt_sema"] },
      },
    ]);
    const r = await checkImage(dir, ["exe:sema:plain"]);
    expect(r.ok).toBe(true);
    expect(r.notes).toEqual([
      expect.stringMatching(
        /layer 1 \(sha256:[0-9a-f]{12}…\): its media type application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip says gzip, its bytes are zstd; read as the bytes say/,
      ),
    ]);
  });

  it("a blob that is neither gzip, zstd nor tar is an error naming the layer and its media type", async () => {
    const dir = join(images.dir, "garbage-layer");
    writeOciLayout(dir, [{ architecture: "amd64", layers: [{ tar: Buffer.from("PK\u0003\u0004 a zip file, say".repeat(40)), compression: "none" }] }]);
    await expect(checkImage(dir, ["exe:main"])).rejects.toMatchObject({
      code: "E_FORMAT",
      message: expect.stringContaining("neither gzip, zstd nor tar (media type application/vnd.oci.image.layer.v1.tar; first bytes 50 4b 03 04)"),
    });
  });
});

describe("temporary space", () => {
  it("is bounded: files of compressed layers that do not fit are a limit error naming the option", async () => {
    await expect(checkImage(images.ociDir, ["exe:sema:enabled"], { maxTempBytes: 1000 })).rejects.toMatchObject({
      code: "E_LIMIT",
      message: expect.stringContaining("more than 1000 bytes of temporary space (maxTempBytes)"),
    });
  });

  it("is not used at all for uncompressed layers: their files are read in place", async () => {
    const r = await checkImage(images.classicArchive, ["exe:sema:enabled", "libc:malloc", "/opt/plugins/new.so:same:probe"], { maxTempBytes: 0 });
    expect(r.ok).toBe(true);
  });

  it("a file the first pass did not guess (reached through a symlink of another name) is read in a second pass", async () => {
    const r = await checkImage(images.ociArchive, ["/lib64/ld-linux-x86-64.so.2:_dl_catch_exception", "/usr/bin/app:sema:plain"]);
    expect(r.checks.map((c) => [c.status, c.object?.path])).toEqual([
      ["found", `/${LIBDIR}/ld-linux-x86-64.so.2`],
      ["found", "/usr/bin/usdt_sema"],
    ]);
  });
});

describe("multi-platform images", () => {
  it("checks the arm64 image on this x86_64 machine, skipping a same-named x86-64 library", async () => {
    for (const path of [images.multiDir, images.multiArchive]) {
      const r = await checkImage(path, ["exe:cross:args", "libusdt_cross_aarch64:cross:args", "libusdt_cross_aarch64:work"], { platform: "linux/arm64" });
      expect(r.image.platform).toBe("linux/arm64/v8");
      expect(r.image.platforms).toEqual(["linux/amd64", "linux/arm64/v8"]);
      const [exe, lib, fn] = r.checks;
      const fact = usdtFact("usdt_cross_aarch64_O2", "cross:args");
      expect(exe).toMatchObject({ status: "found", object: { path: "/usr/bin/app" } });
      expect(exe?.sites[0]?.fileOffset).toBe(Number(fact.pc_file_offset));
      expect(exe?.sites[0]?.args).toHaveLength(7); // "-8@[x5, 8]" is one argument
      expect(exe?.sites[0]?.args?.join(" ")).toBe(fact.args);
      expect(lib).toMatchObject({ status: "found", object: { path: "/usr/lib/libusdt_cross_aarch64.so", how: "default dirs" } });
      expect(lib?.sites[0]?.fileOffset).toBe(Number(usdtFact("libusdt_cross_aarch64.so", "cross:args").pc_file_offset));
      expect(fn?.status).toBe("found");
    }
  });

  it("an arm64 USDT site with 7 arguments: arg6 is fine, arg7 is invalid", async () => {
    const spec = (n: number): string => `usdt pid/1:exe:cross:args {\n  v = arg${n}\n}\n`;
    expect((await checkImage(images.multiDir, spec(6), { platform: "linux/arm64/v8" })).ok).toBe(true);
    const r = await checkImage(images.multiDir, spec(7), { platform: "linux/arm64" });
    expect(r.checks[0]?.status).toBe("invalid");
  });

  it("an index whose other platforms' blobs were not saved (Docker 25+ with containerd) needs no --platform", async () => {
    const dir = join(images.dir, "partial-index");
    execFileSync("cp", ["-r", images.multiDir, dir]);
    const [top] = (JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { manifests: { digest: string }[] }).manifests;
    const index = JSON.parse(readFileSync(join(dir, "blobs/sha256", top!.digest.slice(7)), "utf8")) as {
      manifests: { digest: string; platform: { architecture: string } }[];
    };
    const arm = index.manifests.find((m) => m.platform.architecture === "arm64");
    rmSync(join(dir, "blobs/sha256", arm!.digest.slice(7)));
    const r = await checkImage(dir, ["exe:sema:enabled"]);
    expect(r.image.platform).toBe("linux/amd64");
    expect(r.ok).toBe(true);
  });

  it("one image saved under two names (docker save x:1 x:latest) is one image, not an ambiguity", async () => {
    const dir = join(images.dir, "two-tags");
    execFileSync("cp", ["-r", images.ociDir, dir]);
    const indexFile = join(dir, "index.json");
    const index = JSON.parse(readFileSync(indexFile, "utf8")) as { manifests: { annotations?: Record<string, string> }[] };
    const [only] = index.manifests;
    index.manifests = ["x:1", "x:latest"].map((name) => ({ ...only!, annotations: { ...only!.annotations, "io.containerd.image.name": name } }));
    writeFileSync(indexFile, JSON.stringify(index));
    const r = await checkImage(dir, ["exe:sema:enabled"]);
    expect(r.ok).toBe(true);
  });

  it("picks amd64 from the same index", async () => {
    const r = await checkImage(images.multiArchive, ["exe:sema:enabled"], { platform: "linux/amd64" });
    expect(r.ok).toBe(true);
  });

  it("an unknown or ambiguous platform is an error listing the platforms present", async () => {
    await expect(checkImage(images.multiArchive, ["exe:main"])).rejects.toMatchObject({
      code: "E_USAGE",
      message: expect.stringContaining("holds several images (linux/amd64, linux/arm64/v8)"),
    });
    await expect(checkImage(images.multiArchive, ["exe:main"], { platform: "linux/s390x" })).rejects.toMatchObject({
      code: "E_USAGE",
      message: expect.stringContaining("no image for platform linux/s390x; the image has linux/amd64, linux/arm64/v8"),
    });
    await expect(checkImage(images.multiArchive, ["exe:main"], { platform: "linux" })).rejects.toMatchObject({ code: "E_USAGE" });
  });
});

describe("an entrypoint that is not an ELF file", () => {
  it("is that target's `invalid` verdict, and the other targets are still checked", async () => {
    const layer = tarOf([
      { name: "entry.sh", type: "file", data: Buffer.from('#!/bin/sh\nexec /usr/bin/usdt_sema "$@"\n'), mode: 0o755 },
      { name: "usr/bin/usdt_sema", type: "file", data: fixture("usdt_sema"), mode: 0o755 },
    ]);
    const dir = writeOciLayout(join(images.dir, "script-entry"), [
      { architecture: "amd64", layers: [{ tar: layer, compression: "gzip" }], config: { entrypoint: ["/entry.sh"] } },
    ]);
    const r = await checkImage(dir, ["exe:main", "/usr/bin/usdt_sema:sema:enabled"]);
    expect(r.checks.map((c) => c.status)).toEqual(["invalid", "found"]);
    expect(r.checks[0]?.message).toBe("/entry.sh: not an ELF file (it does not start with \\x7fELF)");
    expect(r.checks[0]?.hints).toEqual(["name the real program with --exe /path/in/image, or write its path instead of exe"]);
  });
});

describe("exe on the image's PATH", () => {
  it("passes over a file without an execute bit, as execvp does, for a later PATH directory", async () => {
    const layer = tarOf([
      { name: "usr/local/bin/usdt_sema", type: "file", data: fixture("libver.so"), mode: 0o644 },
      { name: "usr/bin/usdt_sema", type: "file", data: fixture("usdt_sema"), mode: 0o755 },
    ]);
    const dir = writeOciLayout(join(images.dir, "path-exec-bit"), [
      { architecture: "amd64", layers: [{ tar: layer, compression: "none" }], config: { cmd: ["usdt_sema"], env: ["PATH=/usr/local/bin:/usr/bin"] } },
    ]);
    const r = await checkImage(dir, ["exe:sema:enabled"]);
    expect(r.checks[0]).toMatchObject({ status: "found", object: { path: "/usr/bin/usdt_sema", how: "exe" } });
  });
});

describe("a stale ld.so.cache in the image", () => {
  it("names a library that is gone: found in the default directories, as glibc's loader would, and said in the notes", async () => {
    // A real cache made by ldconfig for /opt/old, then the library moved to /usr/lib without running ldconfig again.
    const scratch = join(images.dir, "stale-cache-root");
    execFileSync("mkdir", ["-p", join(scratch, "opt/old"), join(scratch, "etc")]);
    writeFileSync(join(scratch, "opt/old/libver.so"), fixture("libver.so"));
    writeFileSync(join(scratch, "etc/ld.so.conf"), "/opt/old\n");
    execFileSync("ldconfig", ["-r", scratch]);
    const layer = tarOf([
      { name: "etc/ld.so.cache", type: "file", data: readFileSync(join(scratch, "etc/ld.so.cache")) },
      { name: "usr/lib/libver.so", type: "file", data: fixture("libver.so") },
      // The program that tells probec the image's architecture.
      { name: "usr/bin/usdt_sema", type: "file", data: fixture("usdt_sema") },
    ]);
    const dir = writeOciLayout(join(images.dir, "stale-cache"), [
      { architecture: "amd64", layers: [{ tar: layer, compression: "gzip" }], config: { entrypoint: ["/usr/bin/usdt_sema"] } },
    ]);
    const r = await checkImage(dir, ["libver.so:vfunc"]);
    expect(r.checks[0]).toMatchObject({ status: "found", object: { path: "/usr/lib/libver.so", how: "default dirs" } });
    expect(r.notes).toContain("libver.so: /etc/ld.so.cache names /opt/old/libver.so, which does not exist; found in the default directories instead");
  });
});

describe("errors of the layer merge", () => {
  it("name the image as well as the layer", async () => {
    const layer = tarOf([
      { name: "a", type: "symlink", linkname: "b" },
      { name: "b", type: "symlink", linkname: "a" },
      { name: "a/x", type: "file", data: Buffer.from("x") },
    ]);
    const dir = writeOciLayout(join(images.dir, "parent-loop"), [{ architecture: "amd64", layers: [{ tar: layer, compression: "gzip" }] }]);
    await expect(checkImage(dir, ["/a/x:main"])).rejects.toMatchObject({
      code: "E_LIMIT",
      message: expect.stringMatching(new RegExp(`^${dir.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: layer 1: more than \\d+ symlinks followed`)),
    });
  });
});
