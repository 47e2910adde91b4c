/**
 * Which overlay layer really holds a file (the `layer` path strategy).
 *
 * A container's root is an overlay of an upper directory (its own changes)
 * over lower ones (the image's layers, topmost first). Looking a path up
 * the way overlayfs does (Documentation/filesystems/overlayfs.rst):
 *
 * - the first layer, from the top, in which the path exists holds it;
 * - a whiteout (a character device 0/0) at the path, or at any of its
 *   parent directories, in a higher layer means "deleted": stop;
 * - an opaque directory (xattr `trusted.overlay.opaque` = `y`) on the way
 *   hides everything below it in lower layers: stop after this layer;
 * - a non-directory where the path needs a directory shadows the lower
 *   layers' directory of that name.
 *
 * `containerPath` must already be canonical (symlinks resolved inside the
 * root, see `root/resolve.ts`): layers are searched by name, not followed.
 */
import { spawnSync } from "node:child_process";
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { IoError } from "../errors.js";

/** Where a file lives among the layers. */
export interface LayerHit {
  /** The layer directory (a host path). */
  readonly layer: string;
  /** 0 for the upper layer (when given first), then 1, 2, … down the lowers. */
  readonly index: number;
  /** The file's host path inside that layer: what the `layer` strategy hands the kernel. */
  readonly hostPath: string;
}

/**
 * The layer that holds `containerPath`, searching `layers` top first
 * (upper, then lowers in order), or undefined when no layer has it or a
 * whiteout deletes it.
 */
export function layerOf(containerPath: string, layers: readonly string[]): LayerHit | undefined {
  const parts = containerPath.split("/").filter((p) => p !== "");
  const hit = firstHolder(parts, layers);
  if (hit === undefined) return undefined;
  // Only directories that exist in the layers above the hit can hide it; most
  // lookups have none, and need no xattr read at all.
  const above: string[] = [];
  for (const layer of layers.slice(0, hit.index)) {
    for (let depth = 1; depth < parts.length; depth++) {
      const dir = join(layer, ...parts.slice(0, depth));
      if (lstatOrUndefined(dir)?.isDirectory() !== true) break;
      above.push(dir);
    }
  }
  return above.length > 0 && opaqueDirectories(above).size > 0 ? undefined : hit;
}

/** The first layer, top down, holding the path; a whiteout or a non-directory parent on the way ends the search. */
function firstHolder(parts: readonly string[], layers: readonly string[]): LayerHit | undefined {
  for (const [index, layer] of layers.entries()) {
    for (let depth = 1; depth <= parts.length; depth++) {
      const hostPath = join(layer, ...parts.slice(0, depth));
      const stat = lstatOrUndefined(hostPath);
      if (stat === undefined) break;
      // A whiteout: the path (or a parent) was deleted in this layer, whatever the lowers hold.
      if (stat.isCharacterDevice() && stat.rdev === 0) return undefined;
      if (depth === parts.length) return { layer, index, hostPath };
      // A non-directory here shadows the lower layers' directory of the same name.
      if (!stat.isDirectory()) return undefined;
    }
  }
  return undefined;
}

function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new IoError(`${path}: ${(error as Error).message}`, code);
  }
}

/**
 * Those of `dirs` that are opaque. Node has no
 * xattr API, so one python3 call reads them all (python3 is one of
 * probec's dependencies; `trusted.*` xattrs need CAP_SYS_ADMIN, as does
 * tracing anyway).
 */
function opaqueDirectories(dirs: readonly string[]): Set<string> {
  const script = [
    "import os, sys",
    "for d in sys.stdin.read().split('\\0'):",
    "    try:",
    "        v = os.getxattr(d, 'trusted.overlay.opaque', follow_symlinks=False)",
    "    except OSError:",
    "        continue",
    "    if v == b'y': print(d)",
  ].join("\n");
  const result = spawnSync("python3", ["-c", script], { input: dirs.join("\0"), encoding: "utf8", timeout: 10_000 });
  if (result.error !== undefined || result.status !== 0) {
    throw new IoError(`reading overlay xattrs failed: ${result.error?.message ?? result.stderr.trim()}`, undefined, [
      "probec needs python3 to read overlay xattrs",
    ]);
  }
  return new Set(result.stdout.split("\n").filter((l) => l !== ""));
}
