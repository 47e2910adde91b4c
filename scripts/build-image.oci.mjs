/**
 * The byte formats of `npm run image` (scripts/build-image.mjs): a tar
 * writer and an OCI image archive around one gzip layer. Written here rather
 * than by `docker build` or `tar` because the image is built offline, on a
 * machine that may have no image builder, and must be byte-for-byte the same
 * from the same inputs: every tar header gets the same mtime, uid/gid 0, no
 * user or group names, and members in sorted order; gzip from node:zlib
 * writes no timestamp or file name.
 *
 * The archive is an OCI image layout (image-spec v1.1 "image-layout.md":
 * `oci-layout`, `index.json`, `blobs/sha256/…`) in a tar, which `ctr image
 * import` and `docker load` (Docker 25+) read; it also carries Docker's
 * `manifest.json`, so an older `docker load` reads it too.
 *
 * Only node: imports: it runs before anything is built.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, lstatSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

const BLOCK = 512;

/**
 * One member of a tar stream. `file` members have their bytes either in
 * `data` or, for large ones, read from `path` while streaming.
 */
/** @typedef {{ name: string; type: "dir"; mode: number } | { name: string; type: "symlink"; linkname: string } | { name: string; type: "file"; mode: number; size: number; data?: Buffer; path?: string }} TarMember */

/** A pax extended record, `LEN key=value\n`, where LEN counts itself (POSIX pax, "pax Extended Header"). */
function paxRecord(key, value) {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body);
  while (String(length).length + Buffer.byteLength(body) !== length) length = String(length).length + Buffer.byteLength(body);
  return `${length}${body}`;
}

/** A ustar header block (POSIX "ustar Interchange Format"); names too long for it go in a pax record first. */
function header(name, typeflag, { mode = 0o644, size = 0, linkname = "", mtime }) {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, "utf8");
  block.write(`${mode.toString(8).padStart(7, "0")}\0`, 100, "ascii");
  block.write("0000000\0", 108, "ascii"); // uid
  block.write("0000000\0", 116, "ascii"); // gid
  block.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "ascii");
  block.write(`${mtime.toString(8).padStart(11, "0")}\0`, 136, "ascii");
  block.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  block.write(typeflag, 156, "ascii");
  block.write(linkname, 157, 100, "utf8");
  block.write("ustar\u000000", 257, "binary");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return block;
}

/** The header blocks of `member`: a pax `x` header when its name or link does not fit ustar's 100 bytes, then its own. */
export function headerBlocks(member, mtime) {
  const linkname = member.type === "symlink" ? member.linkname : "";
  const name = member.type === "dir" && !member.name.endsWith("/") ? `${member.name}/` : member.name;
  const blocks = [];
  const longName = Buffer.byteLength(name) > 100;
  const longLink = Buffer.byteLength(linkname) > 100;
  if (longName || longLink) {
    const records = Buffer.from((longName ? paxRecord("path", name) : "") + (longLink ? paxRecord("linkpath", linkname) : ""));
    blocks.push(header("PaxHeaders/entry", "x", { size: records.length, mtime }), padded(records));
  }
  const typeflag = { file: "0", dir: "5", symlink: "2" }[member.type];
  const mode = member.type === "symlink" ? 0o777 : member.mode;
  const size = member.type === "file" ? member.size : 0;
  blocks.push(header(longName ? name.slice(0, 100) : name, typeflag, { mode, size, linkname: longLink ? linkname.slice(0, 100) : linkname, mtime }));
  return blocks;
}

function padded(data) {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

/** The tar stream of `members`, in the order given, ending with the two zero blocks. */
export async function* tarChunks(members, mtime) {
  for (const member of members) {
    yield* headerBlocks(member, mtime);
    if (member.type !== "file") continue;
    if (member.data !== undefined) {
      yield member.data;
    } else {
      let read = 0;
      for await (const chunk of createReadStream(member.path)) {
        read += chunk.length;
        yield chunk;
      }
      // A file that changed size under us would corrupt every header after it.
      if (read !== member.size) throw new Error(`${member.path}: changed size while being archived (${member.size} → ${read} bytes)`);
    }
    const rest = member.size % BLOCK;
    if (rest !== 0) yield Buffer.alloc(BLOCK - rest);
  }
  yield Buffer.alloc(2 * BLOCK);
}

/**
 * The members for every entry under `root`, depth first in sorted order,
 * named relative to it (`usr/`, `usr/local/bin/node`). Modes are
 * normalised, so that the umask of whoever staged the tree does not change
 * the image: directories 0755 (1777 when sticky, as /tmp), files 0755 when
 * anyone may execute them, else 0644. Symlinks stay symlinks; anything else
 * (a socket, a device) is an error, since an image layer has no use for it.
 */
export function treeMembers(root) {
  const members = [];
  const walk = (dir, prefix) => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      const name = `${prefix}${entry}`;
      const stat = lstatSync(path);
      if (stat.isDirectory()) {
        members.push({ name: `${name}/`, type: "dir", mode: (stat.mode & 0o1000) !== 0 ? 0o1777 : 0o755 });
        walk(path, `${name}/`);
      } else if (stat.isSymbolicLink()) {
        members.push({ name, type: "symlink", linkname: readlinkSync(path) });
      } else if (stat.isFile()) {
        members.push({ name, type: "file", mode: (stat.mode & 0o111) !== 0 ? 0o755 : 0o644, size: stat.size, path });
      } else {
        throw new Error(`${path}: neither a file, a directory nor a symlink; an image layer cannot hold it`);
      }
    }
  };
  walk(root, "");
  return members;
}

/** Passes bytes through, hashing them (sha256) and counting them. */
function digester() {
  const hash = createHash("sha256");
  let size = 0;
  const stream = new Transform({
    transform(chunk, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ digest: `sha256:${hash.digest("hex")}`, size }) };
}

/**
 * Writes the gzip layer of directory `root` to `file`; returns its digest
 * and size, and the digest of the uncompressed tar (the config's diff_id).
 */
export async function writeLayer(root, file, mtime) {
  const plain = digester();
  const packed = digester();
  await pipeline(Readable.from(tarChunks(treeMembers(root), mtime)), plain.stream, createGzip({ level: 6 }), packed.stream, createWriteStream(file));
  const { digest: diffId } = plain.result();
  return { diffId, ...packed.result() };
}

const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
};

function jsonBlob(value) {
  const data = Buffer.from(JSON.stringify(value));
  return { data, digest: `sha256:${createHash("sha256").update(data).digest("hex")}`, size: data.length };
}

/**
 * Writes the OCI archive `file` of a one-layer image:
 *
 *     oci-layout                      {"imageLayoutVersion":"1.0.0"}
 *     index.json                      the manifest, named `reference` (both annotations below)
 *     manifest.json                   Docker's `docker save` index, for docker load before 25
 *     blobs/sha256/<config>           architecture, run config, diff_ids
 *     blobs/sha256/<manifest>
 *     blobs/sha256/<layer>            the gzip layer written by {@link writeLayer}
 *
 * `reference` is a full name (`docker.io/library/probec:0.1.0`): containerd
 * takes it from `io.containerd.image.name`; `org.opencontainers.image.ref.name`
 * holds the tag, as the image-spec's annotations.md says. Returns the
 * manifest's digest (what `ctr images ls` and `docker images --digests` show).
 */
export async function writeOciArchive(file, { layer, layerFile, architecture, config, created, reference, mtime }) {
  const configBlob = jsonBlob({
    created,
    architecture,
    os: "linux",
    config,
    rootfs: { type: "layers", diff_ids: [layer.diffId] },
    history: [{ created, created_by: "npm run image (scripts/build-image.mjs)" }],
  });
  const manifestBlob = jsonBlob({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, digest: configBlob.digest, size: configBlob.size },
    layers: [{ mediaType: MEDIA.layer, digest: layer.digest, size: layer.size }],
  });
  const tag = reference.slice(reference.lastIndexOf(":") + 1);
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [
      {
        mediaType: MEDIA.manifest,
        digest: manifestBlob.digest,
        size: manifestBlob.size,
        platform: { architecture, os: "linux" },
        annotations: { "io.containerd.image.name": reference, "org.opencontainers.image.ref.name": tag },
      },
    ],
  };
  const blob = (digest) => `blobs/sha256/${digest.slice("sha256:".length)}`;
  const dockerManifest = [{ Config: blob(configBlob.digest), RepoTags: [shortReference(reference)], Layers: [blob(layer.digest)] }];
  const json = (name, value) => {
    const data = Buffer.from(typeof value === "string" ? value : JSON.stringify(value));
    return { name, type: "file", mode: 0o644, size: data.length, data };
  };
  const members = [
    json("oci-layout", { imageLayoutVersion: "1.0.0" }),
    json("index.json", index),
    json("manifest.json", dockerManifest),
    { name: "blobs/", type: "dir", mode: 0o755 },
    { name: "blobs/sha256/", type: "dir", mode: 0o755 },
    ...[configBlob, manifestBlob]
      .sort((a, b) => (a.digest < b.digest ? -1 : 1))
      .map((b) => ({ name: blob(b.digest), type: "file", mode: 0o644, size: b.size, data: b.data })),
    { name: blob(layer.digest), type: "file", mode: 0o644, size: layer.size, path: layerFile },
  ];
  await pipeline(Readable.from(tarChunks(members, mtime)), createWriteStream(file));
  return manifestBlob.digest;
}

/** `probec:0.1.0` for `docker.io/library/probec:0.1.0`: the name Docker shows for an official-style reference. */
export function shortReference(reference) {
  return reference.replace(/^docker\.io\/library\//, "");
}
