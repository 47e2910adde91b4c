/**
 * A process's executable mappings, captured once and kept: what a stack
 * captured in the kernel is symbolized against, even after the process
 * has exited (a short-lived process is most of what `ustack` catches).
 *
 * Each object is read the way the rest of probec reads it
 * (discovery/object.ts): through the process's root when the file at its
 * path is still the mapped inode, through `/proc/PID/map_files/<range>`
 * when it was deleted, replaced or is a memfd (PITFALLS 17, 18). The file
 * is opened at snapshot time and the descriptor kept, and so is a
 * descriptor on the process's root directory: the debug file of a
 * container's binary is found inside that root later, when the first stack
 * needs it, even if the container is gone by then.
 *
 * Objects are shared between processes by content: the same build-id (or,
 * without one, the same device, inode, size and mtime) is one
 * {@link ObjectHandle}, indexed once, however many containers map it
 * (overlayfs gives each container its own device for one layer file:
 * PITFALLS 21).
 */
import { closeSync, constants as fsConstants, openSync, readlinkSync, statSync } from "node:fs";
import { mapFilesPath, readMaps, type MapEntry } from "../discovery/proc/maps.js";
import { DEFAULT_PROC_ROOT } from "../discovery/proc/read.js";
import { ElfFile } from "../elf/elf-file.js";
import { LimitError, ProbecError } from "../errors.js";
import { FileSource } from "../io/file-source.js";
import { resolveInRoot } from "../rootfs/resolve.js";
import { loadBias } from "./load-bias.js";
import type { ObjectNames } from "./object-names.js";

/** A directory descriptor on a process's root, shared by whoever still needs it, closed with its last user. */
export class RootRef {
  readonly #fd: number;
  #refs = 1;
  /** A path that walks the root through the descriptor (`/proc/self/fd/N`). */
  readonly path: string;

  private constructor(fd: number) {
    this.#fd = fd;
    this.path = `/proc/self/fd/${fd}`;
  }

  /** Opens the root of `pid`, or undefined when it cannot be opened (the process is gone, or no permission). */
  static open(pid: number, procRoot: string): RootRef | undefined {
    try {
      return new RootRef(openSync(`${procRoot}/${pid}/root`, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY));
    } catch {
      return undefined;
    }
  }

  /** Takes another reference. */
  retain(): this {
    this.#refs++;
    return this;
  }

  /** Drops a reference; the descriptor is closed with the last one. */
  release(): void {
    if (--this.#refs === 0) closeSync(this.#fd);
  }
}

/** One object file, opened once for every process that maps it. */
export interface ObjectHandle {
  /** The content key it is shared under. */
  readonly key: string;
  /** The opened file (program headers are read from it; names lazily). */
  readonly elf: ElfFile;
  /** The path of the process that first mapped it, for finding its debuglink directory. */
  readonly containerPath: string;
  /** That process's root, held until the object is indexed. */
  root: RootRef | undefined;
  /** Set once the names are being built. */
  names: Promise<ObjectNames> | undefined;
  /** Set once they are built: what lookups use without awaiting. */
  ready: ObjectNames | undefined;
  /**
   * The functions of `ready.index` named so far, two slots each by position
   * there: `[2i]` the symbol, `[2i + 1]` its readable (demangled) name. Side
   * by side so that a frame in a function already seen reads both from one
   * place, without asking the index again.
   */
  known: (string | undefined)[] | undefined;
}

/** One executable mapping of a snapshot. */
export interface SnapshotRange {
  readonly start: bigint;
  readonly end: bigint;
  /** File offset of `start`. */
  readonly offset: bigint;
  /** `offset - start`: added to an address in the range, its file offset. */
  readonly fileDelta: bigint;
  /** How this process names the object: its path in its root, `/memfd:NAME`, or `[vdso]`; undefined for anonymous code (a JIT). */
  readonly module: string | undefined;
  /** The object, when it could be opened as ELF. */
  readonly object: ObjectHandle | undefined;
  /** Runtime address minus link-time address for this mapping, when the object's program headers say. */
  readonly bias: bigint | undefined;
  /** {@link bias} as a number when it is a safe integer (every real one), for the symbolizer's number path; else undefined. */
  readonly biasNumber: number | undefined;
}

/** The executable mappings of one process at one moment. */
export interface ProcessSnapshot {
  readonly pid: number;
  /** Sorted by start, non-overlapping. */
  readonly ranges: readonly SnapshotRange[];
  /**
   * The ranges' starts and ends as numbers, `[start0, end0, start1, …]`, for
   * {@link rangeAtNumber}: a bound above 2^53 is rounded, which only ever
   * keeps it above every address that path takes.
   */
  readonly bounds: Float64Array;
  /** Objects that could not be read, and why (reported once by the symbolizer). */
  readonly problems: readonly string[];
  /** The root descriptor this snapshot holds. */
  readonly root: RootRef | undefined;
}

/** Shared state of a symbolizer's snapshots: the objects by content key. */
export interface ObjectRegistry {
  readonly byKey: Map<string, ObjectHandle>;
  /** Most distinct objects kept open (hostile or huge hosts: one descriptor each). */
  readonly maxObjects: number;
}

/** Reads `/proc/PID/maps` and opens every executable object. Throws what readMaps throws (NotFoundError when the process is gone). */
export function takeSnapshot(pid: number, registry: ObjectRegistry, procRoot = DEFAULT_PROC_ROOT): ProcessSnapshot {
  const maps = readMaps(pid, { procRoot });
  const root = RootRef.open(pid, procRoot);
  const prefix = rootPrefix(pid, procRoot);
  const problems: string[] = [];
  const ranges: SnapshotRange[] = [];
  const opened = new Map<string, { handle: ObjectHandle | undefined; elf: ElfFile | undefined }>();
  for (const map of maps) {
    if (!map.executable) continue;
    if (map.kind !== "file" && map.kind !== "memfd") {
      ranges.push({
        start: map.start,
        end: map.end,
        offset: map.offset,
        fileDelta: map.offset - map.start,
        module: map.kind === "special" ? map.path : undefined,
        object: undefined,
        bias: undefined,
        biasNumber: undefined,
      });
      continue;
    }
    const module = map.kind === "file" ? containerPathOf(map.path as string, prefix) : (map.path as string);
    const mapKey = `${map.dev}\0${map.inode}\0${map.path}`;
    let found = opened.get(mapKey);
    if (found === undefined) {
      found = openObject(pid, map, module, root, registry, procRoot, problems);
      opened.set(mapKey, found);
    }
    const bias = found.elf === undefined ? undefined : loadBias(found.elf.programHeaders, map.start, map.offset, true);
    const biasNumber = bias !== undefined && bias >= -MAX_SAFE && bias <= MAX_SAFE ? Number(bias) : undefined;
    ranges.push({ start: map.start, end: map.end, offset: map.offset, fileDelta: map.offset - map.start, module, object: found.handle, bias, biasNumber });
  }
  ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const bounds = new Float64Array(ranges.length * 2);
  ranges.forEach((r, i) => {
    bounds[2 * i] = Number(r.start);
    bounds[2 * i + 1] = Number(r.end);
  });
  return { pid, ranges, bounds, problems, root };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * {@link rangeAt} for an address given as a number, which must be an
 * integer from 0 to 2^53 - 1 (exact): comparisons of numbers rather than
 * bigints, for the symbolizer's loop over every frame.
 */
export function rangeAtNumber(snapshot: ProcessSnapshot, address: number): SnapshotRange | undefined {
  const bounds = snapshot.bounds;
  let lo = 0;
  let hi = bounds.length >>> 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (address < (bounds[2 * mid] as number)) hi = mid;
    else if (address >= (bounds[2 * mid + 1] as number)) lo = mid + 1;
    else return snapshot.ranges[mid];
  }
  return undefined;
}

/** The range holding `address`, by binary search. */
export function rangeAt(snapshot: ProcessSnapshot, address: bigint): SnapshotRange | undefined {
  const ranges = snapshot.ranges;
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const range = ranges[mid] as SnapshotRange;
    if (address < range.start) hi = mid;
    else if (address >= range.end) lo = mid + 1;
    else return range;
  }
  return undefined;
}

/** Releases what a snapshot holds (its root reference). Objects stay in the registry. */
export function releaseSnapshot(snapshot: ProcessSnapshot): void {
  snapshot.root?.release();
}

function openObject(
  pid: number,
  map: MapEntry,
  module: string,
  root: RootRef | undefined,
  registry: ObjectRegistry,
  procRoot: string,
  problems: string[],
): { handle: ObjectHandle | undefined; elf: ElfFile | undefined } {
  const readPath = readPathOf(pid, map, module, procRoot);
  try {
    const stat = statSync(readPath, { bigint: true });
    const fileKey = `f:${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}`;
    const known = registry.byKey.get(fileKey);
    if (known !== undefined) return { handle: known, elf: known.elf };
    const elf = ElfFile.open(FileSource.open(readPath), module);
    const buildId = elf.buildId();
    const key = buildId === undefined ? fileKey : `b:${buildId}`;
    const same = registry.byKey.get(key);
    if (same !== undefined) {
      elf.close();
      registry.byKey.set(fileKey, same);
      return { handle: same, elf: same.elf };
    }
    if (registry.byKey.size >= registry.maxObjects) {
      elf.close();
      throw new LimitError(`more than ${registry.maxObjects} distinct objects mapped by the processes symbolized`);
    }
    const handle: ObjectHandle = { key, elf, containerPath: module, root: root?.retain(), names: undefined, ready: undefined, known: undefined };
    registry.byKey.set(key, handle);
    if (key !== fileKey) registry.byKey.set(fileKey, handle);
    return { handle, elf };
  } catch (error) {
    if (!(error instanceof ProbecError) && !isFsError(error)) throw error;
    problems.push(`process ${pid}: ${module}: ${error instanceof Error ? error.message : String(error)}`);
    return { handle: undefined, elf: undefined };
  }
}

/**
 * The path to read a mapped object through: its path in the process's root
 * when that still is the mapped inode, else map_files (deleted, replaced,
 * memfd). Same rule as discovery/object.ts.
 */
function readPathOf(pid: number, map: MapEntry, module: string, procRoot: string): string {
  const mapFiles = mapFilesPath(pid, map.start, map.end, procRoot);
  if (map.kind !== "file" || map.deleted) return mapFiles;
  try {
    const resolved = resolveInRoot(`${procRoot}/${pid}/root`, module);
    return resolved.identity.ino === map.inode ? resolved.hostPath : mapFiles;
  } catch (error) {
    if (error instanceof ProbecError) return mapFiles;
    throw error;
  }
}

function isFsError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string";
}

/** What `/proc/PID/root` links to (`/` for a process in probec's own root): maps lines print paths from probec's root. */
function rootPrefix(pid: number, procRoot: string): string {
  try {
    return readlinkSync(`${procRoot}/${pid}/root`);
  } catch {
    return "/";
  }
}

/** A printed maps path in the process's own terms: the root prefix taken off (as discovery/object.ts does). */
function containerPathOf(printed: string, prefix: string): string {
  if (prefix === "/" || !printed.startsWith(`${prefix}/`)) return printed;
  return printed.slice(prefix.length);
}
