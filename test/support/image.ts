/**
 * Building container images by hand, for the image tests and the bench:
 * tar archives (written here, byte by byte, so the tests control every
 * header: pax and GNU long names, hard links, whiteouts), layers compressed
 * with gzip (node:zlib) or zstd (the `zstd` command), and the three ways an
 * image is stored: an OCI image layout directory (optionally a
 * multi-platform index), an OCI archive (a tar of that directory), and
 * Docker's classic `docker save` layout (`manifest.json`, `<id>/layer.tar`).
 *
 * Only node: imports: the bench builds its image with this too.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

/** One member of a tar archive. */
export type TarMember =
  | { readonly name: string; readonly type: "file"; readonly data: Uint8Array; readonly mode?: number }
  | { readonly name: string; readonly type: "dir"; readonly mode?: number }
  | { readonly name: string; readonly type: "symlink" | "hardlink"; readonly linkname: string };

/** How long names are written: pax `x` records (POSIX, what Docker writes) or GNU `L`/`K` records. */
export type LongNames = "pax" | "gnu";

/** A tar archive of `members`, ended by two zero blocks. */
export function tarOf(members: readonly TarMember[], longNames: LongNames = "pax"): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const linkname = m.type === "symlink" || m.type === "hardlink" ? m.linkname : "";
    const data = m.type === "file" ? Buffer.from(m.data) : Buffer.alloc(0);
    const name = m.type === "dir" && !m.name.endsWith("/") ? `${m.name}/` : m.name;
    const longName = Buffer.byteLength(name) > 100;
    const longLink = Buffer.byteLength(linkname) > 100;
    if (longNames === "pax" && (longName || longLink)) {
      const records = (longName ? paxRecord("path", name) : "") + (longLink ? paxRecord("linkpath", linkname) : "");
      const body = Buffer.from(records);
      parts.push(header({ name: "PaxHeader", size: body.length, typeflag: "x", linkname: "", mode: 0o644 }), pad(body));
    }
    if (longNames === "gnu") {
      if (longName) {
        const body = Buffer.from(`${name}\0`);
        parts.push(header({ name: "././@LongLink", size: body.length, typeflag: "L", linkname: "", mode: 0o644 }), pad(body));
      }
      if (longLink) {
        const body = Buffer.from(`${linkname}\0`);
        parts.push(header({ name: "././@LongLink", size: body.length, typeflag: "K", linkname: "", mode: 0o644 }), pad(body));
      }
    }
    const typeflag = { file: "0", dir: "5", symlink: "2", hardlink: "1" }[m.type];
    const mode = "mode" in m && m.mode !== undefined ? m.mode : m.type === "dir" ? 0o755 : 0o755;
    parts.push(
      header({ name: longName ? name.slice(0, 99) : name, size: data.length, typeflag, linkname: longLink ? linkname.slice(0, 99) : linkname, mode }),
      pad(data),
    );
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length = String(length).length + Buffer.byteLength(body);
  return `${length}${body}`;
}

function header(h: { name: string; size: number; typeflag: string; linkname: string; mode: number }): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name, 0, 100, "utf8");
  b.write(octal(h.mode, 8), 100, "ascii");
  b.write(octal(0, 8), 108, "ascii");
  b.write(octal(0, 8), 116, "ascii");
  b.write(octal(h.size, 12), 124, "ascii");
  b.write(octal(1700000000, 12), 136, "ascii");
  b.fill(0x20, 148, 156);
  b.write(h.typeflag, 156, "ascii");
  b.write(h.linkname, 157, 100, "utf8");
  b.write("ustar\u000000", 257, "binary");
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return b;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

/** How a layer blob is compressed. */
export type LayerCompression = "gzip" | "zstd" | "none";

/** Compresses a layer tar. */
export function compress(tar: Buffer, compression: LayerCompression): Buffer {
  switch (compression) {
    case "none":
      return tar;
    case "gzip":
      return gzipSync(tar, { level: 1 });
    case "zstd":
      return execFileSync("zstd", ["-q", "-c", "-3"], { input: tar, maxBuffer: 1 << 30 });
  }
}

/** What an image's config says about running it. */
export interface ImageRunConfig {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  readonly workingDir?: string;
}

/** One image of a layout: its platform, its layers (bottom first) and its run config. */
export interface ImageSpec {
  readonly os?: string;
  readonly architecture: string;
  readonly variant?: string;
  /** Layers, bottom first; `mediaType` overrides the one the compression implies (to test a mislabelled blob). */
  readonly layers: readonly { readonly tar: Buffer; readonly compression: LayerCompression; readonly mediaType?: string }[];
  readonly config?: ImageRunConfig;
  /** Leave the platform out of the index descriptor (readers must then take it from the config). */
  readonly platformOnlyInConfig?: boolean;
}

const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  none: "application/vnd.oci.image.layer.v1.tar",
};

/** `sha256:<hex>` of `bytes`. */
export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function configJson(image: ImageSpec, diffIds: string[]): Buffer {
  const c = image.config ?? {};
  return Buffer.from(
    JSON.stringify({
      architecture: image.architecture,
      os: image.os ?? "linux",
      ...(image.variant === undefined ? {} : { variant: image.variant }),
      config: {
        ...(c.entrypoint === undefined ? {} : { Entrypoint: c.entrypoint }),
        ...(c.cmd === undefined ? {} : { Cmd: c.cmd }),
        Env: c.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        ...(c.workingDir === undefined ? {} : { WorkingDir: c.workingDir }),
      },
      rootfs: { type: "layers", diff_ids: diffIds },
    }),
  );
}

/**
 * Writes an OCI image layout to `dir`: one image, or, with several, an
 * index blob listing one manifest per platform, referenced from index.json
 * (as multi-platform images are stored).
 */
export function writeOciLayout(dir: string, images: readonly ImageSpec[]): string {
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  const put = (bytes: Buffer): { digest: string; size: number } => {
    const digest = digestOf(bytes);
    writeFileSync(join(dir, "blobs", "sha256", digest.slice(7)), bytes);
    return { digest, size: bytes.length };
  };
  const manifests = images.map((image) => {
    const layers = image.layers.map((l) => ({ mediaType: l.mediaType ?? MEDIA[l.compression], ...put(compress(l.tar, l.compression)) }));
    const config = {
      mediaType: MEDIA.config,
      ...put(
        configJson(
          image,
          image.layers.map((l) => digestOf(l.tar)),
        ),
      ),
    };
    const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.manifest, config, layers })));
    const platform = { os: image.os ?? "linux", architecture: image.architecture, ...(image.variant === undefined ? {} : { variant: image.variant }) };
    return { mediaType: MEDIA.manifest, ...manifest, ...(image.platformOnlyInConfig === true ? {} : { platform }) };
  });
  let top: unknown[] = manifests;
  if (images.length > 1) {
    const index = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests })));
    top = [{ mediaType: MEDIA.index, ...index, annotations: { "org.opencontainers.image.ref.name": "latest" } }];
  }
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: top }));
  return dir;
}

/** A tar file of directory `dir` (an OCI archive of a layout), written by the system's tar. */
export function tarDirectory(dir: string, file: string): string {
  execFileSync("tar", ["-C", dir, "-cf", file, "."]);
  return file;
}

/**
 * Writes Docker's classic `docker save` archive (before Docker 25):
 * `manifest.json`, `<config id>.json`, and `<layer id>/layer.tar` with
 * uncompressed layers.
 */
export function writeDockerClassicArchive(file: string, image: ImageSpec, repoTag = "probec-test/classic:latest"): string {
  const layers = image.layers.map((l) => l.tar);
  const ids = layers.map((tar) => digestOf(tar).slice(7));
  const config = configJson(
    image,
    layers.map((t) => digestOf(t)),
  );
  const configName = `${digestOf(config).slice(7)}.json`;
  const members: TarMember[] = [];
  for (const [i, tar] of layers.entries()) {
    members.push(
      { name: `${ids[i]}`, type: "dir" },
      { name: `${ids[i]}/VERSION`, type: "file", data: Buffer.from("1.0") },
      { name: `${ids[i]}/layer.tar`, type: "file", data: tar },
    );
  }
  members.push({ name: configName, type: "file", data: config });
  members.push({
    name: "manifest.json",
    type: "file",
    data: Buffer.from(JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: ids.map((id) => `${id}/layer.tar`) }])),
  });
  writeFileSync(file, tarOf(members));
  return file;
}
