/**
 * `/proc/<pid>/maps`: what a process has mapped, read as hostile input
 * (PITFALLS 17, 18).
 *
 * A line, as `show_map_vma` prints it (fs/proc/task_mmu.c):
 *
 * ```
 * 7f3c1a200000-7f3c1a228000 r--p 00000000 08:01 1835123                    /usr/lib/x86_64-linux-gnu/libc.so.6
 * 7f3c1a400000-7f3c1a401000 r-xp 00001000 00:01 2049                       /memfd:jit (deleted)
 * 7ffd5e3f1000-7ffd5e412000 rw-p 00000000 00:00 0                          [stack]
 * 7f3c1a600000-7f3c1a601000 rw-p 00000000 00:00 0
 * ```
 *
 * The header columns are fixed: `start-end perms offset major:minor inode `,
 * then the kernel pads with spaces to column 73 (`seq_pad`, at least one
 * space) and prints the name. What makes the name hostile:
 *
 * - it may hold spaces, so it is the whole rest of the line, never a field of
 *   a split (a name cannot start with a space: file names print as absolute
 *   paths and the special names start with `[`);
 * - a newline in it is printed as `\012` (`seq_path(…, "\n")`); nothing else
 *   is escaped, not even a backslash, so a file literally named `a\012b` and
 *   one named `a<newline>b` print alike;
 * - an unlinked file gets ` (deleted)` appended by `d_path`, and a file may
 *   literally be named `x (deleted)`.
 *
 * So the name is a hint. The authority is the (device, inode) pair and
 * `/proc/<pid>/map_files/<start>-<end>`, which opens the mapped file itself
 * whatever became of its name ({@link mapFilesPath}); compare
 * `fstat(map_files).ino` with the inode column before trusting `path`.
 */
import { FormatError } from "../../errors.js";
import { DEFAULT_PROC_ROOT, procPath, readProcText, splitLines, type ProcPid, type ProcReadOptions } from "./read.js";

/** Default line cap: twice the default `vm.max_map_count` (65530). */
export const DEFAULT_MAX_MAPS_LINES = 131_072;
/** Default byte cap for a maps file: the line cap at about 256 bytes a line. */
export const DEFAULT_MAX_MAPS_BYTES = 32 * 1024 * 1024;

/** What a mapping is backed by. */
export type MapKind =
  /** A file with a path (possibly deleted). */
  | "file"
  /** Anonymous memory with no name. */
  | "anon"
  /** A `memfd_create` file: `/memfd:NAME (deleted)`, reachable only through map_files. */
  | "memfd"
  /** A kernel-named region: `[heap]`, `[stack]`, `[vdso]`, `[vvar]`, `[anon:NAME]`, `anon_inode:…`. */
  | "special";

/** One line of `/proc/<pid>/maps`. */
export interface MapEntry {
  /** First address of the mapping. */
  readonly start: bigint;
  /** One past the last address. */
  readonly end: bigint;
  /** The four permission characters, e.g. `r-xp` (`p` private, `s` shared). */
  readonly perms: string;
  /** True when perms has `x`: uprobes only fire in executable mappings. */
  readonly executable: boolean;
  /** File offset of `start`, in bytes. */
  readonly offset: bigint;
  /** Device as the kernel prints it, `major:minor` in hex (e.g. `08:01`, `00:2f`). */
  readonly dev: string;
  /**
   * Inode number of the backing file, 0 for anonymous and special mappings.
   * A bigint because inodes are 64-bit and overlayfs with `xino` sets the
   * high bits; compare with `fs.statSync(path, { bigint: true }).ino`.
   */
  readonly inode: bigint;
  /** The name with `\012` unescaped and a trailing ` (deleted)` removed; undefined when the line has none. */
  readonly path: string | undefined;
  /** The name as printed, `\012` unescaped but ` (deleted)` kept. */
  readonly rawPath: string | undefined;
  /** The name ended in ` (deleted)`: a hint only, see the module comment. */
  readonly deleted: boolean;
  /** What backs the mapping. */
  readonly kind: MapKind;
}

/** Caps for {@link parseMaps}. */
export interface ParseMapsOptions {
  /** Name used in error messages (the reader passes the path). */
  source?: string;
  /** Refuse files with more lines than this (default {@link DEFAULT_MAX_MAPS_LINES}). */
  maxLines?: number;
}

const DELETED = " (deleted)";
// Hex of at most 16 digits and inode of at most 20 digits: anything longer is not a kernel line, and bounding them keeps BigInt/Number conversions cheap.
const HEADER = /^([0-9a-f]{1,16})-([0-9a-f]{1,16}) ([r-][w-][x-][psS-]) ([0-9a-f]{1,16}) ([0-9a-f]{1,8}:[0-9a-f]{1,8}) (\d{1,20})(?: +(.*))?$/;

/**
 * Parses the text of a maps file, one {@link MapEntry} per line.
 *
 * @throws FormatError naming the line when a line does not have the kernel's header columns.
 * @throws LimitError when there are more lines than `maxLines`.
 */
export function parseMaps(text: string, options: ParseMapsOptions = {}): MapEntry[] {
  const source = options.source ?? "maps";
  const lines = splitLines(text, options.maxLines ?? DEFAULT_MAX_MAPS_LINES, source, "mappings");
  const entries: MapEntry[] = [];
  let offset = 0;
  for (const [index, line] of lines.entries()) {
    const match = HEADER.exec(line);
    if (match === null) {
      throw new FormatError(
        `${source}: line ${index + 1} is not a mapping ("start-end perms offset dev inode [path]")`,
        offset,
        line.length > 120 ? `${line.slice(0, 120)}…` : line,
        false,
      );
    }
    const [, start, end, perms, fileOffset, dev, inode, name] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string | undefined,
    ];
    entries.push(
      entry(
        BigInt(`0x${start}`),
        BigInt(`0x${end}`),
        perms,
        BigInt(`0x${fileOffset}`),
        dev,
        BigInt(inode),
        name === undefined || name === "" ? undefined : name,
      ),
    );
    offset += line.length + 1;
  }
  return entries;
}

function entry(start: bigint, end: bigint, perms: string, offset: bigint, dev: string, inode: bigint, printed: string | undefined): MapEntry {
  // Only "\n" is escaped by seq_path in maps; undoing other octal escapes would corrupt names that really contain a backslash.
  const rawPath = printed?.replaceAll("\\012", "\n");
  const deleted = rawPath !== undefined && rawPath.startsWith("/") && rawPath.endsWith(DELETED);
  const path = deleted ? rawPath.slice(0, -DELETED.length) : rawPath;
  let kind: MapKind;
  if (path === undefined) kind = "anon";
  else if (!path.startsWith("/")) kind = "special";
  // memfd files are always unlinked; a live file at /memfd:x on a real filesystem is an ordinary file.
  else if (deleted && path.startsWith("/memfd:")) kind = "memfd";
  else kind = "file";
  return { start, end, perms, executable: perms[2] === "x", offset, dev, inode, path, rawPath, deleted, kind };
}

/**
 * Reads and parses `/proc/<pid>/maps`.
 *
 * @throws NotFoundError when the process does not exist; IoError (EACCES: run as root), LimitError, FormatError.
 */
export function readMaps(pid: ProcPid, options: ProcReadOptions & { maxLines?: number } = {}): MapEntry[] {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const text = readProcText(pid, "maps", { procRoot, maxBytes: options.maxBytes ?? DEFAULT_MAX_MAPS_BYTES });
  return parseMaps(text, { source: `${procRoot}/${pid}/maps`, ...(options.maxLines === undefined ? {} : { maxLines: options.maxLines }) });
}

/**
 * `/proc/<pid>/map_files/<start>-<end>`: a link that opens the file mapped at
 * that range even when it was deleted, replaced or never had a name (memfd).
 *
 * The kernel names these entries with `%lx-%lx` (fs/proc/base.c): lower-case
 * hex, no `0x`, no zero padding, unlike the `%08lx` of maps lines, so the
 * name must be rebuilt from the numbers, not cut from the maps text. Opening
 * one needs CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE since Linux 5.9).
 */
export function mapFilesPath(pid: ProcPid, start: bigint, end: bigint, procRoot: string = DEFAULT_PROC_ROOT): string {
  return procPath(pid, `map_files/${start.toString(16)}-${end.toString(16)}`, procRoot);
}

/** One file-backed object mapped into a process, gathered from all of its mappings. */
export interface MappedObject {
  /** The printed name, see {@link MapEntry.path}: a hint, matched by inode before use. */
  readonly path: string;
  /** `file` or `memfd`. */
  readonly kind: "file" | "memfd";
  /** True when any of its mappings was printed with ` (deleted)`. */
  readonly deleted: boolean;
  /** Device as printed, `major:minor` in hex. */
  readonly dev: string;
  /** Inode of the file (see {@link MapEntry.inode}). */
  readonly inode: bigint;
  /** Lowest start address of any of its mappings (with `lowestOffset`, what a load-bias computation needs). */
  readonly lowestStart: bigint;
  /** File offset of the mapping at `lowestStart`. */
  readonly lowestOffset: bigint;
  /** Its executable mappings, lowest first. */
  readonly executableRanges: readonly { readonly start: bigint; readonly end: bigint; readonly offset: bigint }[];
  /** A range whose map_files entry opens this object (pass to {@link mapFilesPath}). */
  readonly mapFilesRange: { readonly start: bigint; readonly end: bigint };
  /** Every mapping of the object, in address order. */
  readonly mappings: readonly MapEntry[];
}

/**
 * Groups file-backed mappings into objects: one per distinct (device, inode,
 * path), in order of lowest address. Keyed on the path too because two
 * different memfds, or one file under two names, must stay apart for the
 * caller to report them; keyed on the inode because one name may now
 * belong to a different file than was mapped (a replaced library).
 */
export function mappedObjects(maps: readonly MapEntry[]): MappedObject[] {
  const groups = new Map<string, MapEntry[]>();
  for (const map of maps) {
    if ((map.kind !== "file" && map.kind !== "memfd") || map.path === undefined) continue;
    const key = `${map.dev}\0${map.inode}\0${map.path}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [map]);
    else group.push(map);
  }
  const objects: MappedObject[] = [];
  for (const group of groups.values()) {
    const mappings = [...group].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const first = mappings[0] as MapEntry;
    objects.push({
      path: first.path as string,
      kind: first.kind as "file" | "memfd",
      deleted: mappings.some((m) => m.deleted),
      dev: first.dev,
      inode: first.inode,
      lowestStart: first.start,
      lowestOffset: first.offset,
      executableRanges: mappings.filter((m) => m.executable).map(({ start, end, offset }) => ({ start, end, offset })),
      mapFilesRange: { start: first.start, end: first.end },
      mappings,
    });
  }
  return objects.sort((a, b) => (a.lowestStart < b.lowestStart ? -1 : a.lowestStart > b.lowestStart ? 1 : 0));
}
