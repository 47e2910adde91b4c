/**
 * Finding the separate debug file of a stripped binary, the way GDB and
 * elfutils do (GDB manual, "Separate Debug Files"):
 *
 * 1. by build-id: `<debug-root>/.build-id/ab/cdef….debug`, accepted only
 *    when the debug file carries the same build-id;
 * 2. by `.gnu_debuglink`: `<dir>/<name>`, `<dir>/.debug/<name>` and
 *    `<debug-root>/<dir>/<name>`, accepted only when the file's CRC-32
 *    matches the one in the link.
 *
 * A debug file that fails its check is skipped, never used: its addresses
 * would belong to another build.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { crc32 } from "node:zlib";
import type { ElfFile } from "../elf/elf-file.js";
import { LimitError } from "../errors.js";

/** Where debug files are looked for. */
export interface DebugSearchOptions {
  /** Global debug directories, default `["/usr/lib/debug"]`. */
  readonly debugRoots?: readonly string[];
  /** Told about each candidate debug file that exists but was not used, and why (a CRC or build-id mismatch). */
  readonly onSkip?: (path: string, why: string) => void;
}

/** A debug-file candidate and how it was found. */
export interface DebugCandidate {
  readonly path: string;
  readonly via: "build-id" | "debuglink";
  /** For `debuglink`: the CRC the link requires. */
  readonly crc?: number;
  /** For `build-id`: the id the file must carry. */
  readonly buildId?: string;
}

/** The paths to try for `elf` (opened from `path`), in order of preference. */
export function debugCandidates(elf: ElfFile, path: string | undefined, options: DebugSearchOptions = {}): DebugCandidate[] {
  const roots = options.debugRoots ?? ["/usr/lib/debug"];
  const candidates: DebugCandidate[] = [];
  const buildId = elf.buildId();
  if (buildId !== undefined && buildId.length > 2) {
    for (const root of roots) {
      candidates.push({ path: join(root, ".build-id", buildId.slice(0, 2), `${buildId.slice(2)}.debug`), via: "build-id", buildId });
    }
  }
  const link = elf.debugLink();
  if (link !== undefined && path !== undefined && basename(link.fileName) === link.fileName) {
    const dir = dirname(path);
    const dirs = [dir, join(dir, ".debug"), ...roots.map((root) => join(root, dir))];
    for (const d of dirs) {
      const candidate = join(d, link.fileName);
      // The link may name the binary itself (a file that was never split); skip it.
      if (candidate !== path) candidates.push({ path: candidate, via: "debuglink", crc: link.crc });
    }
  }
  return candidates;
}

/** Largest debug file whose CRC probec computes (debug files of big C++ programs reach a few GiB). */
const MAX_DEBUG_FILE_BYTES = 8 * 1024 * 1024 * 1024;

/** The CRC-32 of a whole file, as `.gnu_debuglink` defines it (the zlib polynomial), streamed in 1 MiB reads. */
export function fileCrc32(path: string): number {
  const size = statSync(path).size;
  if (size > MAX_DEBUG_FILE_BYTES) throw new LimitError(`${path}: debug file of ${size} bytes (limit ${MAX_DEBUG_FILE_BYTES})`);
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    let crc = 0;
    for (let offset = 0; ; ) {
      const n = readSync(fd, buffer, 0, buffer.length, offset);
      if (n === 0) return crc;
      crc = crc32(buffer.subarray(0, n), crc);
      offset += n;
    }
  } finally {
    closeSync(fd);
  }
}
