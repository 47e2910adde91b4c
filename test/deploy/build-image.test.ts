/**
 * The image format `npm run image` writes (scripts/build-image.mjs and
 * build-image.oci.mjs), on a small tree given with `--rootfs`: an OCI
 * layout whose digests and sizes hold, a layer GNU tar reads back with the
 * names, links and normalised modes it should have, and the same bytes
 * from the same tree whatever its mtimes and the umask that made it. The
 * real image is loaded and run by daemonset.test.ts.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = new URL("../..", import.meta.url).pathname;
const script = join(repo, "scripts/build-image.mjs");
const version = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version;
const LONG = `${"deep/".repeat(25)}file.txt`; // 133 characters: past ustar's 100-byte name field

let work: string;
let tree: string;

function build(out: string): string {
  return execFileSync("node", [script, "--rootfs", tree, "--out", out], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

function member(archive: string, name: string): Buffer {
  return execFileSync("tar", ["-xOf", archive, name], { maxBuffer: 64 << 20 });
}

const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "probec-build-image-"));
  tree = join(work, "tree");
  mkdirSync(join(tree, "usr/bin"), { recursive: true });
  writeFileSync(join(tree, "usr/bin/tool"), "#!/bin/true\n");
  chmodSync(join(tree, "usr/bin/tool"), 0o700);
  writeFileSync(join(tree, "usr/secret"), "private\n");
  chmodSync(join(tree, "usr/secret"), 0o600);
  symlinkSync("bin/tool", join(tree, "usr/tool-link"));
  mkdirSync(join(tree, "tmp"));
  chmodSync(join(tree, "tmp"), 0o1777);
  mkdirSync(join(tree, LONG, ".."), { recursive: true });
  writeFileSync(join(tree, LONG), "long\n");
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("build-image.mjs --rootfs", () => {
  it("writes an OCI layout whose index, manifest, config and layer agree, named probec:VERSION", () => {
    const archive = build(join(work, "a"));
    expect(archive).toBe(join(work, "a", `probec-${version}-oci.tar`));
    expect(JSON.parse(member(archive, "oci-layout").toString())).toEqual({ imageLayoutVersion: "1.0.0" });
    const index = JSON.parse(member(archive, "index.json").toString()) as {
      manifests: { digest: string; size: number; annotations: Record<string, string>; platform: { os: string; architecture: string } }[];
    };
    expect(index.manifests).toHaveLength(1);
    const [top] = index.manifests;
    expect(top!.annotations).toEqual({ "io.containerd.image.name": `docker.io/library/probec:${version}`, "org.opencontainers.image.ref.name": version });
    expect(top!.platform).toEqual({ os: "linux", architecture: process.arch === "x64" ? "amd64" : "arm64" });
    const blob = (digest: string) => member(archive, `blobs/sha256/${digest.slice(7)}`);
    const manifestBytes = blob(top!.digest);
    expect([sha256(manifestBytes), manifestBytes.length]).toEqual([top!.digest, top!.size]);
    const manifest = JSON.parse(manifestBytes.toString()) as {
      config: { digest: string; size: number };
      layers: { mediaType: string; digest: string; size: number }[];
    };
    const configBytes = blob(manifest.config.digest);
    expect([sha256(configBytes), configBytes.length]).toEqual([manifest.config.digest, manifest.config.size]);
    expect(manifest.layers).toHaveLength(1);
    expect(manifest.layers[0]!.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
    const layer = blob(manifest.layers[0]!.digest);
    expect([sha256(layer), layer.length]).toEqual([manifest.layers[0]!.digest, manifest.layers[0]!.size]);
    const config = JSON.parse(configBytes.toString()) as { os: string; rootfs: { diff_ids: string[] }; config: { Entrypoint: string[] } };
    expect(config.rootfs.diff_ids).toEqual([sha256(gunzipSync(layer))]);
    expect(config.config.Entrypoint).toEqual(["/usr/local/bin/node", "/usr/local/lib/node_modules/probec/dist/cli/probec.cjs"]);
    // Docker's index for `docker load` before Docker 25.
    expect(JSON.parse(member(archive, "manifest.json").toString())).toEqual([
      {
        Config: `blobs/sha256/${manifest.config.digest.slice(7)}`,
        RepoTags: [`probec:${version}`],
        Layers: [`blobs/sha256/${manifest.layers[0]!.digest.slice(7)}`],
      },
    ]);
  });

  it("the layer reads back with GNU tar: sorted, root-owned, epoch mtimes, normalised modes, the symlink and the long name kept", () => {
    const archive = build(join(work, "b"));
    const [manifest] = JSON.parse(member(archive, "manifest.json").toString()) as [{ Layers: [string] }];
    const listing = execFileSync("tar", ["-tvz", "--numeric-owner", "--full-time"], { input: member(archive, manifest.Layers[0]), encoding: "utf8" })
      .trim()
      .split("\n")
      .map((line) => line.replace(/\s+/g, " "));
    expect(listing.filter((l) => !l.includes("deep/"))).toEqual([
      "drwxrwxrwt 0/0 0 1970-01-01 00:00:00 tmp/",
      "drwxr-xr-x 0/0 0 1970-01-01 00:00:00 usr/",
      "drwxr-xr-x 0/0 0 1970-01-01 00:00:00 usr/bin/",
      "-rwxr-xr-x 0/0 12 1970-01-01 00:00:00 usr/bin/tool",
      "-rw-r--r-- 0/0 8 1970-01-01 00:00:00 usr/secret",
      "lrwxrwxrwx 0/0 0 1970-01-01 00:00:00 usr/tool-link -> bin/tool",
    ]);
    expect(listing).toContain(`-rw-r--r-- 0/0 5 1970-01-01 00:00:00 ${LONG}`);
  });

  it("the same tree gives the same bytes, whatever its mtimes and modes' unused bits", () => {
    const first = readFileSync(build(join(work, "c")));
    utimesSync(join(tree, "usr/secret"), new Date(), new Date(2001, 1, 1));
    utimesSync(join(tree, "usr"), new Date(), new Date());
    chmodSync(join(tree, "usr/bin/tool"), 0o750);
    const second = readFileSync(build(join(work, "d")));
    expect(sha256(second)).toBe(sha256(first));
  });

  it("refuses a tree holding what a layer cannot (a fifo), naming it, without a stack trace", () => {
    const odd = join(work, "odd");
    mkdirSync(odd);
    execFileSync("mkfifo", [join(odd, "pipe")]);
    const run = spawnSync("node", [script, "--rootfs", odd, "--out", join(work, "e")], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr.trimEnd().split("\n").at(-1)).toBe(
      `build-image: ${join(odd, "pipe")}: neither a file, a directory nor a symlink; an image layer cannot hold it`,
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
