/**
 * `checkImage` on archives written by a real `docker save`, of an image
 * made with `docker import` (a rootfs of fixtures and host libraries) and
 * a child made with `docker commit` after a container deleted a library
 * (so its layer holds a real whiteout written by Docker).
 *
 * The test daemon (Debian's docker.io 20.10) writes the classic
 * `manifest.json` layout; the layout Docker 25+ writes (an OCI layout with
 * `index.json`, blobs under `blobs/sha256/`, and `manifest.json` pointing
 * at them) is assembled here from the same real archive, blob for blob.
 *
 * Needs root and docker.io: when the daemon cannot start, these tests fail.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkImage, findSymbol, type CheckResult } from "../../src/index.js";
import { docker, ensureDockerd, removeContainers } from "../support/dockerd.js";
import { digestOf, tarDirectory } from "../support/image.js";
import { buildRootfs } from "../support/rootfs.js";

const BIN = new URL("../../fixtures/elf/bin/", import.meta.url).pathname;
const LIBDIR = "/usr/lib/x86_64-linux-gnu";
const BASE = "probec-check-base";
const CHILD = "probec-check-child";
const CONTAINER = "probec-check-commit";

let dir: string;
let baseArchive: string;
let childArchive: string;

beforeAll(async () => {
  await ensureDockerd();
  dir = mkdtempSync(join(tmpdir(), "probec-docker-image-"));
  const root = buildRootfs(join(dir, "rootfs"), ["/usr/bin/rm"]);
  const put = (from: string, to: string): void => {
    mkdirSync(dirname(join(root, to)), { recursive: true });
    copyFileSync(join(BIN, from), join(root, to));
  };
  put("usdt_sema", "/usr/bin/usdt_sema");
  put("libver.so", `${LIBDIR}/libver.so`);
  put("libusdt_same.so", "/opt/lib/libusdt_same.so");
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc/ld.so.conf"), `${LIBDIR}\n/opt/lib\n`);
  execFileSync("ldconfig", ["-r", root]);
  removeContainers(CONTAINER);
  const tar = execFileSync("tar", ["-C", root, "-c", "."], { maxBuffer: 256 << 20 });
  docker(["import", "--change", 'ENTRYPOINT ["/usr/bin/usdt_sema"]', "-", BASE], tar);
  // A container deletes a library; committing it makes a layer with Docker's own whiteout.
  docker(["run", "--network", "none", "--name", CONTAINER, "--entrypoint", "/usr/bin/rm", BASE, `${LIBDIR}/libver.so`]);
  docker(["commit", "--change", 'ENTRYPOINT ["/usr/bin/usdt_sema"]', CONTAINER, CHILD]);
  removeContainers(CONTAINER);
  baseArchive = join(dir, "base.tar");
  childArchive = join(dir, "child.tar");
  docker(["save", "-o", baseArchive, BASE]);
  docker(["save", "-o", childArchive, CHILD]);
}, 180_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  // Each run imports anew (the files' mtimes differ): remove them so that runs do not pile up images.
  try {
    docker(["rmi", CHILD, BASE]);
  } catch {
    // Already gone, or the daemon never started: nothing to clean.
  }
});

const TARGETS = ["exe:sema:enabled", "libc:malloc", "libver:vfunc", "libusdt_same:same:probe", "/usr/bin/rm"];

function status(result: CheckResult): Record<string, string> {
  return Object.fromEntries(result.checks.map((c) => [c.target, c.status]));
}

/**
 * The Docker 25+ `docker save` layout, from a classic archive: each layer
 * and the config become blobs named by digest, an OCI manifest and
 * index.json describe them, manifest.json points at the blobs, and the
 * legacy `<id>/layer.tar` paths stay as symlinks to them (as Docker 25 writes).
 */
function toDocker25Layout(classic: string, out: string, withIndex: boolean): string {
  const src = join(dir, `unpacked-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const dst = `${out}.d`;
  mkdirSync(src, { recursive: true });
  mkdirSync(join(dst, "blobs/sha256"), { recursive: true });
  execFileSync("tar", ["-C", src, "-xf", classic]);
  const [entry] = JSON.parse(readFileSync(join(src, "manifest.json"), "utf8")) as { Config: string; RepoTags: string[]; Layers: string[] }[];
  if (entry === undefined) throw new Error("empty manifest.json");
  const blob = (bytes: Buffer): { digest: string; size: number; path: string } => {
    const digest = digestOf(bytes);
    writeFileSync(join(dst, "blobs/sha256", digest.slice(7)), bytes);
    return { digest, size: bytes.length, path: `blobs/sha256/${digest.slice(7)}` };
  };
  const config = blob(readFileSync(join(src, entry.Config)));
  const layers = entry.Layers.map((path) => {
    const b = blob(readFileSync(join(src, path)));
    mkdirSync(join(dst, dirname(path)), { recursive: true });
    symlinkSync(`../${b.path}`, join(dst, path));
    return b;
  });
  writeFileSync(join(dst, "manifest.json"), JSON.stringify([{ Config: config.path, RepoTags: entry.RepoTags, Layers: layers.map((l) => l.path) }]));
  if (withIndex) {
    const manifest = blob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size },
          layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: l.digest, size: l.size })),
        }),
      ),
    );
    writeFileSync(join(dst, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    writeFileSync(
      join(dst, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: manifest.digest,
            size: manifest.size,
            annotations: { "io.containerd.image.name": `docker.io/library/${entry.RepoTags[0]}` },
          },
        ],
      }),
    );
  }
  rmSync(src, { recursive: true, force: true });
  return tarDirectory(dst, out);
}

describe("real docker save archives", () => {
  it("the daemon wrote the classic layout (no index.json)", () => {
    const names = execFileSync("tar", ["-tf", childArchive], { encoding: "utf8" }).split("\n");
    expect(names).toContain("manifest.json");
    expect(names).not.toContain("index.json");
    expect(names.filter((n) => n.endsWith("/layer.tar"))).toHaveLength(2);
  });

  it("an image made by docker import: everything is there, libc found through its own ld.so.cache", async () => {
    const r = await checkImage(baseArchive, TARGETS);
    expect(r.image).toMatchObject({ layout: "docker", platform: "linux/amd64", exe: "/usr/bin/usdt_sema" });
    expect(status(r)).toEqual(Object.fromEntries(TARGETS.map((t) => [t, "found"])));
    const libc = r.checks.find((c) => c.target === "libc:malloc");
    // buildRootfs copies libc where ldd found it: /lib/x86_64-linux-gnu, a real directory in this image (no merged /usr).
    expect(libc?.object).toMatchObject({ path: "/lib/x86_64-linux-gnu/libc.so.6", how: "ld.so.cache" });
    expect(libc?.sites[0]?.fileOffset).toBe((await findSymbol("/lib/x86_64-linux-gnu/libc.so.6", "malloc")).fileOffset);
    expect(r.checks.find((c) => c.target === "libusdt_same:same:probe")?.object).toMatchObject({ path: "/opt/lib/libusdt_same.so", how: "ld.so.cache" });
  });

  it("its docker commit child: Docker's whiteout deletes libver.so, the rest is still found", async () => {
    const r = await checkImage(childArchive, TARGETS);
    expect(status(r)).toEqual({ ...Object.fromEntries(TARGETS.map((t) => [t, "found"])), "libver:vfunc": "missing" });
    expect(r.checks.find((c) => c.target === "libver:vfunc")?.message).toContain("libver.so");
    expect(r.ok).toBe(false);
  });

  it("the same archive in the Docker 25+ layout (OCI index.json, blobs, symlinked layer.tar) gives the same answers", async () => {
    const oci = toDocker25Layout(childArchive, join(dir, "child-25.tar"), true);
    const names = execFileSync("tar", ["-tf", oci], { encoding: "utf8" });
    expect(names).toContain("./index.json");
    const r = await checkImage(oci, TARGETS);
    expect(r.image.layout).toBe("oci");
    expect(status(r)).toEqual({ ...Object.fromEntries(TARGETS.map((t) => [t, "found"])), "libver:vfunc": "missing" });
    // Without index.json, manifest.json's blob paths are followed instead.
    const viaManifest = toDocker25Layout(childArchive, join(dir, "child-25-manifest.tar"), false);
    const m = await checkImage(viaManifest, TARGETS);
    expect(m.image.layout).toBe("docker");
    expect(status(m)).toEqual(status(r));
    expect(m.checks.map((c) => c.sites)).toEqual(r.checks.map((c) => c.sites));
  });

  it("docker's layers are read in place: no layer is extracted anywhere", async () => {
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith("probec-image-"));
    await checkImage(childArchive, TARGETS);
    const after = readdirSync(tmpdir()).filter((n) => n.startsWith("probec-image-"));
    expect(after).toEqual(before);
  });
});
