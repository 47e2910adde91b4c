/**
 * `probec check --image` in-process, on the test images: the table, the
 * JSON, the JUnit XML (parsed by Python's xml.etree, a real XML parser),
 * and exit codes 0 (all found), 1 (something missing), 2 (bad input: a
 * corrupt or truncated archive, an unknown platform, a probe file with
 * errors, a missing image), each with a message that names the input.
 */
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestImages, type TestImages } from "./image/fixture.js";
import { probec } from "./support/cli.js";
import { writeOciLayout } from "./support/image.js";

let images: TestImages;
beforeAll(() => {
  images = buildTestImages();
});
afterAll(() => images?.cleanup());

describe("probec check", () => {
  it("prints a table and exits 0 when every target is found", async () => {
    const r = await probec("check", "--image", images.ociArchive, "exe:sema:enabled", "libfoo.so.1:same:*");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^PROBE +TARGET +STATUS +FILE +SITE +OFFSET +SEM\.OFFSET +ARGUMENTS$/);
    expect(lines[1]).toMatch(/^inline +exe:sema:enabled +found +\/usr\/bin\/usdt_sema +sema:enabled +0x1160 +0x3014 +-4@%edi$/);
    expect(lines[2]).toMatch(/^inline +libfoo\.so\.1:same:\* +found +\/tmp\/probec-decoy-\w+\/libfoo\.so\.1 +same:probe +0x1100 +- +-4@%edi -4@\$1$/);
    expect(lines[3]).toMatch(/same:second +0x1110 +- +-8@%rdi$/);
    expect(r.stdout).toContain(`2 of 2 targets found in ${images.ociArchive} (linux/amd64, oci layout)`);
  });

  it("names the image's executable by its file name, found on the image's PATH (issue 10)", async () => {
    const r = await probec("check", "--image", images.ociArchive, "usdt_sema:sema:enabled");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[1]).toMatch(/^inline +usdt_sema:sema:enabled +found +\/usr\/bin\/usdt_sema +sema:enabled +0x1160 +0x3014 +-4@%edi$/);
  });

  it("exits 1 when something is missing, saying what exists instead", async () => {
    const r = await probec("check", "--image", images.ociDir, "exe:sema:enabled", "libc:mallok", "libver:vfunc");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/inline +libc:mallok +missing +\/usr\/lib\/x86_64-linux-gnu\/libc\.so\.6/);
    expect(r.stdout).toContain('missing: libc:mallok: /usr/lib/x86_64-linux-gnu/libc.so.6: symbol "mallok" not found\n  hint: did you mean "malloc"');
    expect(r.stdout).toContain(
      'missing: libver:vfunc: library "libver": not found; looked in /etc/ld.so.cache (which names /usr/lib/x86_64-linux-gnu/libver.so, a file that does not exist)',
    );
    expect(r.stdout).toContain("1 of 3 targets found");
  });

  it("--json prints the whole result", async () => {
    const r = await probec("check", "--image", images.classicArchive, "--json", "exe:sema:other", "exe:nosuch");
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as {
      ok: boolean;
      image: { layout: string; exe: string };
      checks: { status: string; sites: { fileOffset: number; semaphoreOffset: number; args: string[] }[] }[];
    };
    expect(json.ok).toBe(false);
    expect(json.image).toMatchObject({ layout: "docker", exe: "/usr/bin/usdt_sema" });
    expect(json.checks.map((c) => c.status)).toEqual(["found", "missing"]);
    expect(json.checks[0]?.sites[0]).toMatchObject({ fileOffset: 0x1173, semaphoreOffset: 0x3012, args: ["-4@%edi", "-4@%eax"] });
  });

  it("--junit writes JUnit XML with a testcase per target and a failure per missing one", async () => {
    const file = join(images.dir, "probes.xml");
    const spec = join(images.dir, "app.probe");
    writeFileSync(spec, "usdt docker/app:exe:sema:enabled {\n  v = arg0\n}\n\nuprobe docker/app:libc:malloc, docker/app:libc:mallocx {\n  count\n}\n");
    const r = await probec("check", "--image", images.ociDir, spec, "--junit", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("note: scopes are ignored for images (the image is the container): docker/app\n");
    const parsed = JSON.parse(
      execFileSync(
        "python3",
        [
          "-c",
          `
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suite = root.find("testsuite")
print(json.dumps({"tag": root.tag, "tests": root.get("tests"), "failures": root.get("failures"),
  "cases": [{"classname": c.get("classname"), "name": c.get("name"), "line": c.get("line"),
             "failure": (c.find("failure").get("message") if c.find("failure") is not None else None)} for c in suite.findall("testcase")]}))
`,
          file,
        ],
        { encoding: "utf8" },
      ),
    ) as { tag: string; tests: string; failures: string; cases: { classname: string; name: string; line: string; failure: string | null }[] };
    expect(parsed).toMatchObject({ tag: "testsuites", tests: "3", failures: "1" });
    expect(parsed.cases.map((c) => [c.classname, c.name, c.line])).toEqual([
      ["probe1", "docker/app:exe:sema:enabled", "1"],
      ["probe2", "docker/app:libc:malloc", "5"],
      ["probe2", "docker/app:libc:mallocx", "5"],
    ]);
    expect(parsed.cases[0]?.failure).toBeNull();
    expect(parsed.cases[2]?.failure).toContain('symbol "mallocx" not found');
    expect(readFileSync(file, "utf8")).toContain("sema:enabled offset 0x1160 semaphore 0x3014 args -4@%edi");
  });

  it("checks the arm64 image with --platform, and exits 2 listing the platforms for an unknown one", async () => {
    const ok = await probec("check", "--image", images.multiArchive, "--platform", "linux/arm64", "exe:cross:*");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("1 of 1 target found");
    expect(ok.stdout).toMatch(/cross:args +0x194 +- +-8@x0 -4@x1 -2@x2 -1@x3 1@x4 -8@\[x5, 8\] -4@x6/);
    const bad = await probec("check", "--image", images.multiArchive, "--platform", "linux/riscv64", "exe:main");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      `probec: ${images.multiArchive}: no image for platform linux/riscv64; the image has linux/amd64, linux/arm64/v8\n  hint: pick one of them with --platform linux/amd64\n`,
    );
  });

  it("exits 2 for a file that is not an image archive, and for a truncated one", async () => {
    const text = join(images.dir, "notes.txt");
    writeFileSync(text, "this is not a tar archive at all\n".repeat(40));
    const r = await probec("check", "--image", text, "exe:main");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^probec: ${text}: not a tar archive \\(invalid chksum field\\) at offset 0x94`));
    const cut = join(images.dir, "cut.tar");
    writeFileSync(cut, readFileSync(images.ociArchive).subarray(0, 100_000));
    const t = await probec("check", "--image", cut, "exe:main");
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/truncated tar archive/);
    const missing = await probec("check", "--image", join(images.dir, "nope.tar"), "exe:main");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope.tar: no such file or directory");
  });

  it("exits 2 for a gzip-compressed archive, saying how to make it readable", async () => {
    const gz = join(images.dir, "image.tar.gz");
    writeFileSync(gz, gzipSync(readFileSync(images.ociArchive)));
    const r = await probec("check", "--image", gz, "exe:main");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `probec: ${gz}: is gzip-compressed; probec reads the archive by position, which needs it uncompressed\n  hint: gunzip it first: gunzip -k ${gz}\n`,
    );
  });

  it("exits 2 for a corrupt compressed layer, naming the layer", async () => {
    // Flip bytes in the middle of the gzip layer blob inside a copy of the layout.
    const dir = join(images.dir, "corrupt-oci");
    execFileSync("cp", ["-r", images.ociDir, dir]);
    const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(readFileSync(join(dir, "blobs/sha256", index.manifests[0]!.digest.slice(7)), "utf8")) as { layers: { digest: string }[] };
    const blob = join(dir, "blobs/sha256", manifest.layers[0]!.digest.slice(7));
    const bytes = readFileSync(blob);
    bytes.fill(0xaa, 200, 400);
    writeFileSync(blob, bytes);
    const r = await probec("check", "--image", dir, "exe:main");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/layer 1 \(sha256:[0-9a-f]{12}…\): corrupt gzip data/);
  });

  it("exits 2 with rendered diagnostics for a probe file with errors", async () => {
    const spec = join(images.dir, "typo.probe");
    writeFileSync(spec, "uprobe docker/app:libc:malloc {\n  latncy\n}\n");
    const r = await probec("check", "--image", images.ociDir, spec);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: unknown capture `latncy`");
    expect(r.stderr).toContain(`--> ${spec}:2:3`);
    expect(r.stderr).toContain("probec: 1 error in the probe file; those probes were not checked");
  });

  it("exits 2 for a malformed inline target", async () => {
    const r = await probec("check", "--image", images.ociDir, "docker/web/x:libc:malloc");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('probec: target "docker/web/x:libc:malloc": docker scopes are docker/NAME or docker/ID');
  });

  it("an absolute path is an inline target of the image, even when the host has a file there (only *.probe is a probe file)", async () => {
    const r = await probec("check", "--image", images.ociDir, "/etc/passwd");
    expect(r.stderr).not.toContain("root:");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/inline +\/etc\/passwd +missing/);
  });

  it("an interrupt removes the temporary copies (the built CLI, SIGINT while a layer streams)", async () => {
    // A zstd layer: the executable first (copied out as it streams past), then 1 GiB of zeros in 8 MiB windows (slow to decode).
    const work = mkdtempSync(join(images.dir, "sigint-"));
    const temp = mkdtempSync(join(images.dir, "sigint-tmp-"));
    mkdirSync(join(work, "root/usr/bin"), { recursive: true });
    copyFileSync(new URL("../fixtures/elf/bin/usdt_sema", import.meta.url), join(work, "root/usr/bin/app"));
    const layer = execFileSync("sh", ["-c", "truncate -s 1G root/zeros && tar -C root -cf - usr/bin/app zeros | zstd -q -1 --long=23 -c"], {
      cwd: work,
      maxBuffer: 1 << 26,
    });
    const image = writeOciLayout(join(work, "oci"), [
      {
        architecture: "amd64",
        layers: [{ tar: layer, compression: "none", mediaType: "application/vnd.oci.image.layer.v1.tar+zstd" }],
        config: { entrypoint: ["/usr/bin/app"] },
      },
    ]);
    const child = spawn(process.execPath, ["dist/src/cli/main.js", "check", "--image", image, "/usr/bin/app:main"], {
      env: { ...process.env, TMPDIR: temp },
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (readdirSync(temp).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(readdirSync(temp)).toHaveLength(1);
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(readdirSync(temp)).toEqual([]);
  }, 60_000);
});
