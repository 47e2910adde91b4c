/**
 * `openImage(path)`: whatever `path` is (a `docker save` archive, an OCI
 * archive, an OCI layout directory, an extracted `docker save`, or a plain
 * root filesystem directory), its root filesystem as an {@link ImageTree}.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { FormatError, ProbecError, UsageError } from "../errors.js";
import { readRange } from "../io/byte-source.js";
import { FileSource } from "../io/file-source.js";
import { openDirectoryTree } from "./dir-tree.js";
import { openLayeredTree, type LayeredTreeOptions } from "./layered-tree.js";
import { selectImage } from "./layout.js";
import { archiveStore, directoryStore, statImagePath, type ImageStore } from "./store.js";
import type { ImageTree } from "./tree.js";

/** Options for {@link openImage}. */
export interface OpenImageOptions extends LayeredTreeOptions {
  /** `os/arch[/variant]`: which image of a multi-platform index. */
  readonly platform?: string;
}

/** Opens the image at `path`. Throws a `ProbecError` naming the path for anything that is not a readable image. */
export async function openImage(path: string, options: OpenImageOptions = {}): Promise<ImageTree> {
  const { directory } = statImagePath(path);
  if (directory && !existsSync(join(path, "index.json")) && !existsSync(join(path, "manifest.json"))) {
    if (options.platform !== undefined) throw new UsageError(`${path}: is a root filesystem directory; it has one platform, so --platform does not apply`);
    return openDirectoryTree(path);
  }
  const store = directory ? directoryStore(path) : openArchive(path);
  try {
    const image = selectImage(store, options.platform);
    return await openLayeredTree(store, image, options);
  } catch (error) {
    store.close();
    throw error;
  }
}

function openArchive(path: string): ImageStore {
  const source = FileSource.open(path);
  try {
    const magic = readRange(source, 0, Math.min(4, source.size), path);
    if (magic[0] === 0x1f && magic[1] === 0x8b) {
      throw new UsageError(`${path}: is gzip-compressed; probec reads the archive by position, which needs it uncompressed`, [
        `gunzip it first: gunzip -k ${path}`,
      ]);
    }
    if (magic[0] === 0x28 && magic[1] === 0xb5 && magic[2] === 0x2f && magic[3] === 0xfd) {
      throw new UsageError(`${path}: is zstd-compressed; probec reads the archive by position, which needs it uncompressed`, [
        `decompress it first: zstd -d ${path}`,
      ]);
    }
    if (source.size < 512) throw new FormatError(`${path}: not an image archive (only ${source.size} bytes; a tar has at least 512)`, 0, undefined, false);
    return archiveStore(path, source);
  } catch (error) {
    source.close();
    if (error instanceof ProbecError && error.code === "E_FORMAT" && !error.message.startsWith(path)) error.message = `${path}: ${error.message}`;
    throw error;
  }
}
