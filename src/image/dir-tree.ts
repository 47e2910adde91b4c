/**
 * A plain root filesystem directory (an unpacked image, a chroot, a
 * buildroot output) as an {@link ImageTree}. Paths are resolved with the
 * same in-root walk as a container's `/proc/<pid>/root`, so an absolute
 * symlink in it names a file of the directory, never of the host.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { ProbecError } from "../errors.js";
import type { ByteSource } from "../io/byte-source.js";
import { FileSource } from "../io/file-source.js";
import { resolveInRoot } from "../rootfs/resolve.js";
import { ELF_HEAD_BYTES, elfIdent } from "./elf-ident.js";
import type { Expect, ImageTree } from "./tree.js";

/** Largest file {@link ImageTree.readSmall} reads from a directory. */
const MAX_SMALL_FILE = 16 * 1024 * 1024;

/** The tree of root filesystem directory `dir`. */
export function openDirectoryTree(dir: string): ImageTree {
  const opened = new Map<string, FileSource>();
  const host = (path: string): string => resolveInRoot(dir, path, { expect: "any" }).hostPath;
  const tryHost = (path: string): string | undefined => {
    try {
      return host(path);
    } catch (error) {
      if (error instanceof ProbecError) return undefined;
      throw error;
    }
  };
  return {
    label: dir,
    config: undefined,
    platform: undefined,
    platforms: [],
    layout: "directory",
    warnings: [],
    resolve: (path: string, expect: Expect = "file") => resolveInRoot(dir, path, { expect }).containerPath,
    list: (path) => {
      const at = tryHost(path);
      if (at === undefined) return undefined;
      try {
        return readdirSync(at);
      } catch {
        return undefined;
      }
    },
    executable: (path) => {
      const at = tryHost(path);
      if (at === undefined) return false;
      const st = statSync(at);
      return st.isFile() && (st.mode & 0o111) !== 0;
    },
    identify: (path) => {
      const at = tryHost(path);
      if (at === undefined || !statSync(at).isFile()) return undefined;
      const source = FileSource.open(at);
      try {
        return elfIdent(source.readAt(0, Math.min(ELF_HEAD_BYTES, source.size)), source.size);
      } finally {
        source.close();
      }
    },
    readSmall: (path) => {
      const at = tryHost(path);
      if (at === undefined || !statSync(at).isFile() || statSync(at).size > MAX_SMALL_FILE) return undefined;
      return readFileSync(at);
    },
    fetch: () => Promise.resolve(),
    open: (path): ByteSource => {
      let source = opened.get(path);
      if (source === undefined) {
        source = FileSource.open(host(path));
        opened.set(path, source);
      }
      return source;
    },
    close: () => {
      for (const source of opened.values()) source.close();
      opened.clear();
    },
  };
}
