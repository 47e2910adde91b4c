/**
 * Where an image's blobs and metadata files live: a directory (an OCI image
 * layout, or an extracted `docker save`) or a tar file (an OCI archive, or
 * a `docker save` archive). Either way every file is a byte range of a file
 * on disk, read in place: nothing is extracted.
 *
 * Names inside the image come from its own JSON and are hostile: digests
 * must look like digests, and paths are resolved inside the store (a
 * directory through the in-root walk, an archive by its member names, `..`
 * clamped), so `"../../etc/shadow"` cannot reach outside it.
 */
import { statSync } from "node:fs";
import { FormatError, IoError, LimitError, NotFoundError, ProbecError, UsageError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { FileSource } from "../io/file-source.js";
import { resolveInRoot } from "../rootfs/resolve.js";
import type { BlobLocation } from "./decompress.js";
import { canonicalComponents } from "./merge.js";
import { indexTarFile } from "./tar-file.js";
import type { TarHeader } from "./tar-header.js";

/** Largest metadata JSON read (index, manifest, config): real ones are a few kilobytes. */
export const MAX_JSON_BYTES = 8 * 1024 * 1024;

/** Files of an image, by their path inside the layout or archive. */
export interface ImageStore {
  /** How messages name the image (its path). */
  readonly what: string;
  /** `archive` for a tar file, `directory` for a layout directory. */
  readonly kind: "archive" | "directory";
  /** The file at `path` (relative, `/`-separated), or undefined when absent. */
  file(path: string): BlobLocation | undefined;
  /** A positional reader of the file holding `location` (shared; closed by {@link close}). */
  source(location: BlobLocation): ByteSource;
  /** Closes every file it opened. */
  close(): void;
}

/** The path of blob `digest` in an OCI layout (`blobs/sha256/<hex>`), after checking it looks like a digest. */
export function blobPath(digest: unknown, what: string): string {
  if (typeof digest !== "string" || !/^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.test(digest)) {
    throw new FormatError(`${what}: invalid digest ${JSON.stringify(digest)}`, 0, undefined, false);
  }
  return `blobs/${digest.replace(":", "/")}`;
}

/** Reads and parses a small JSON file of the store. */
export function readJson(store: ImageStore, path: string, what: string): unknown {
  const location = store.file(path);
  if (location === undefined) throw new NotFoundError(`${store.what}: ${what} (${path}) is missing`, ["the image is incomplete: save or copy it again"]);
  if (location.size > MAX_JSON_BYTES) throw new LimitError(`${store.what}: ${path} is ${location.size} bytes (limit ${MAX_JSON_BYTES} for ${what})`);
  const bytes = readRange(store.source(location), location.offset, location.size, `${store.what}: ${path}`);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch (error) {
    throw new FormatError(`${store.what}: ${what} (${path}) is not valid JSON: ${(error as Error).message}`, 0, undefined, false);
  }
}

/** An image store over the tar file at `path`. */
export function archiveStore(path: string, source: FileSource): ImageStore {
  const members = new Map<string, TarHeader>();
  for (const header of indexTarFile(source, path)) members.set(canonicalComponents(header.name).join("/"), header);
  const find = (name: string): TarHeader | undefined => {
    let key = canonicalComponents(name).join("/");
    // `docker save` may store a file as a symlink to its blob (`<id>/layer.tar` → `../blobs/sha256/…`): follow a few.
    for (let hops = 0; hops < 8; hops++) {
      const member = members.get(key);
      if (member?.kind !== "symlink" && member?.kind !== "hardlink") return member;
      const base = member.kind === "symlink" ? key.split("/").slice(0, -1).join("/") : "";
      key = canonicalComponents(member.linkname.startsWith("/") ? member.linkname : `${base}/${member.linkname}`).join("/");
    }
    return undefined;
  };
  return {
    what: path,
    kind: "archive",
    file: (name) => {
      const member = find(name);
      return member?.kind === "file" ? { path, offset: member.dataOffset, size: member.size, what: `${path}: ${name}` } : undefined;
    },
    source: () => source,
    close: () => source.close(),
  };
}

/** An image store over the directory `dir` (an OCI layout, or an extracted `docker save`). */
export function directoryStore(dir: string): ImageStore {
  const opened = new Map<string, FileSource>();
  return {
    what: dir,
    kind: "directory",
    file: (name) => {
      let hostPath: string;
      try {
        hostPath = resolveInRoot(dir, name).hostPath;
      } catch (error) {
        if (error instanceof ProbecError && (error.code === "E_NOT_FOUND" || error.code === "E_IO")) return undefined;
        throw error;
      }
      return { path: hostPath, offset: 0, size: statSync(hostPath).size, what: `${dir}: ${name}` };
    },
    source: (location) => {
      let source = opened.get(location.path);
      if (source === undefined) {
        source = FileSource.open(location.path);
        opened.set(location.path, source);
      }
      return source;
    },
    close: () => {
      for (const source of opened.values()) source.close();
      opened.clear();
    },
  };
}

/** Stats `path`, with the CLI's kind of message when it is missing. */
export function statImagePath(path: string): { directory: boolean } {
  try {
    const stat = statSync(path);
    if (!stat.isDirectory() && !stat.isFile())
      throw new UsageError(`${path}: not a file or directory`, ["give a docker save archive, an OCI layout or archive, or a root filesystem directory"]);
    return { directory: stat.isDirectory() };
  } catch (error) {
    if (error instanceof ProbecError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new IoError(`${path}: ${code === "ENOENT" ? "no such file or directory" : (error as Error).message}`, code, [
      "give a docker save archive (docker save IMAGE -o image.tar), an OCI layout or archive, or a root filesystem directory",
    ]);
  }
}
