/**
 * `/proc/<pid>/mountinfo`: a process's mounts as its mount namespace sees
 * them, and for overlay mounts the layers underneath (the `layer` path
 * strategy, PITFALLS 20 and 21).
 *
 * A line (Documentation/filesystems/proc.rst, `show_mountinfo` in
 * fs/proc_namespace.c):
 *
 * ```
 * 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 * (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)    (10)         (11)
 * ```
 *
 * Fields are separated by single spaces and the optional fields (7) end at a
 * lone `-`. Root, mount point, fs type and source escape space, tab, newline
 * and backslash as `\ooo` octal (`\040`, `\011`, `\012`, `\134`), so a split
 * on spaces is safe and each field is unescaped after. Super options come
 * from the filesystem's `show_options`; overlay prints each value with
 * `seq_show_option`, which escapes `,` and `=` too, so they are split on `,`
 * before unescaping.
 */
import { FormatError } from "../../errors.js";
import { DEFAULT_PROC_ROOT, readProcText, splitLines, type ProcPid, type ProcReadOptions } from "./read.js";

/** Default cap on mounts: Kubernetes nodes have thousands, nothing sane has this many. */
export const DEFAULT_MAX_MOUNTS = 65_536;
/** Default byte cap for a mountinfo file (overlay lines with many layers run to kilobytes). */
export const DEFAULT_MAX_MOUNTINFO_BYTES = 32 * 1024 * 1024;

/** One line of mountinfo. */
export interface MountInfo {
  /** (1) Unique id of the mount (may be reused after unmount). */
  readonly mountId: number;
  /** (2) Id of the parent mount, or of itself at the top of the tree. */
  readonly parentId: number;
  /** (3) Major device number of the filesystem (st_dev of files on it). */
  readonly major: number;
  /** (3) Minor device number. */
  readonly minor: number;
  /** (4) The directory of the filesystem that is mounted here (not `/` for bind mounts), unescaped. */
  readonly root: string;
  /** (5) Where it is mounted, relative to the process's root, unescaped. */
  readonly mountPoint: string;
  /** (6) Per-mount options (`rw`, `nosuid`, `relatime`, …). */
  readonly mountOptions: readonly string[];
  /** (7) Optional fields: propagation (`shared:N`, `master:N`, `propagate_from:N`, `unbindable`). */
  readonly optionalFields: readonly string[];
  /** (9) Filesystem type (`overlay`, `ext4`, `fuse.sshfs`), unescaped. */
  readonly fsType: string;
  /** (10) Source, unescaped (`overlay`, `/dev/sda1`, `none`). */
  readonly source: string;
  /** (11) Per-superblock options, split on `,` and unescaped. */
  readonly superOptions: readonly string[];
  /** (11) As printed, still escaped: what {@link overlayLayers} reads, since its escapes carry meaning. */
  readonly rawSuperOptions: string;
}

/** Caps for {@link parseMountinfo}. */
export interface ParseMountinfoOptions {
  /** Name used in error messages (the reader passes the path). */
  source?: string;
  /** Refuse files with more lines than this (default {@link DEFAULT_MAX_MOUNTS}). */
  maxLines?: number;
}

/**
 * Parses the text of a mountinfo file.
 *
 * @throws FormatError naming the line when it lacks a field or the `-` separator.
 * @throws LimitError when there are more lines than `maxLines`.
 */
export function parseMountinfo(text: string, options: ParseMountinfoOptions = {}): MountInfo[] {
  const source = options.source ?? "mountinfo";
  const lines = splitLines(text, options.maxLines ?? DEFAULT_MAX_MOUNTS, source, "mounts");
  const mounts: MountInfo[] = [];
  let offset = 0;
  for (const [index, line] of lines.entries()) {
    const bad = (why: string): FormatError =>
      new FormatError(`${source}: line ${index + 1} ${why}`, offset, line.length > 120 ? `${line.slice(0, 120)}…` : line, false);
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    // The optional fields never hold a lone "-". Super options from a careless show_options may hold a raw space, so they are the rest of the line.
    if (separator === -1 || fields.length - separator < 4) {
      throw bad('is not a mount ("id parent major:minor root mountpoint options [optional…] - type source superoptions")');
    }
    const [id, parent, dev, root, mountPoint, mountOptions] = fields as [string, string, string, string, string, string];
    const devMatch = /^(\d{1,10}):(\d{1,10})$/.exec(dev);
    if (!/^\d{1,10}$/.test(id) || !/^\d{1,10}$/.test(parent) || devMatch === null) {
      throw bad("has a non-numeric mount id, parent id or major:minor");
    }
    const [fsType, mountSource] = fields.slice(separator + 1) as [string, string];
    const superOptions = fields.slice(separator + 3).join(" ");
    mounts.push({
      mountId: Number(id),
      parentId: Number(parent),
      major: Number(devMatch[1]),
      minor: Number(devMatch[2]),
      root: unescapeOctal(root),
      mountPoint: unescapeOctal(mountPoint),
      mountOptions: mountOptions.split(","),
      optionalFields: fields.slice(6, separator),
      fsType: unescapeOctal(fsType),
      source: unescapeOctal(mountSource),
      superOptions: superOptions === "" ? [] : superOptions.split(",").map(unescapeOctal),
      rawSuperOptions: superOptions,
    });
    offset += line.length + 1;
  }
  return mounts;
}

/**
 * Reads and parses `/proc/<pid>/mountinfo`.
 *
 * @throws NotFoundError when the process does not exist; IoError, LimitError, FormatError.
 */
export function readMountinfo(pid: ProcPid, options: ProcReadOptions & { maxLines?: number } = {}): MountInfo[] {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const text = readProcText(pid, "mountinfo", { procRoot, maxBytes: options.maxBytes ?? DEFAULT_MAX_MOUNTINFO_BYTES });
  return parseMountinfo(text, { source: `${procRoot}/${pid}/mountinfo`, ...(options.maxLines === undefined ? {} : { maxLines: options.maxLines }) });
}

/** The directories of an overlay mount, from its super options. */
export interface OverlayLayers {
  /** Lower layers, uppermost first (the order a lookup searches them). */
  readonly lowerdir: readonly string[];
  /** Data-only lower layers (after `::`, Linux 6.5+): reachable only through metacopy redirects, never by name. */
  readonly dataOnlyLowerdir: readonly string[];
  /** The writable layer; undefined for a read-only overlay. */
  readonly upperdir: string | undefined;
  /** The work directory; undefined for a read-only overlay. */
  readonly workdir: string | undefined;
}

/**
 * The layers of an overlay mount, or undefined when `mount` is not overlay
 * or names no `lowerdir`.
 *
 * Paths are as the kernel printed them: host paths in the mount namespace of
 * whoever mounted the overlay (the runtime's), not the target's.
 *
 * `lowerdir` has two printed forms. A legacy `mount(2)` string is printed
 * as given, so a `:` inside a path is the user's `\:` (printed `\134:`, the
 * backslash octal-escaped). Layers added with the new mount API
 * (`lowerdir+`, Linux 6.8) are printed joined by `:` with each path's own
 * `:` as `\072`. We take a `\072` anywhere as the second form; without one
 * both forms read alike except for a literal backslash, which only the
 * legacy form (what Docker, containerd and CRI-O use) treats as an escape.
 */
export function overlayLayers(mount: MountInfo): OverlayLayers | undefined {
  if (mount.fsType !== "overlay") return undefined;
  let lower: string | undefined;
  let upperdir: string | undefined;
  let workdir: string | undefined;
  // Split raw: a "," or "=" inside a value is printed as \054 / \075, so these separators are real.
  for (const option of mount.rawSuperOptions.split(",")) {
    const eq = option.indexOf("=");
    if (eq === -1) continue;
    const key = option.slice(0, eq);
    const value = option.slice(eq + 1);
    if (key === "lowerdir" && lower === undefined) lower = value;
    else if (key === "upperdir" && upperdir === undefined) upperdir = unescapeOctal(value);
    else if (key === "workdir" && workdir === undefined) workdir = unescapeOctal(value);
  }
  if (lower === undefined) return undefined;
  const groups = lower.includes("\\072") ? splitNewLowerdir(lower) : splitLegacyLowerdir(unescapeOctal(lower));
  const [named = [], ...dataOnly] = groups;
  return { lowerdir: named, dataOnlyLowerdir: dataOnly.flat(), upperdir, workdir };
}

/**
 * Legacy form, already octal-unescaped: `\x` is a literal x, `:` separates
 * layers and `::` starts the data-only layers (fs/overlayfs/params.c).
 * Returns the named layers then each data-only group.
 */
function splitLegacyLowerdir(text: string): string[][] {
  const groups: string[][] = [[]];
  let current = "";
  let empty = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === "\\" && i + 1 < text.length) {
      current += text[++i];
      empty = false;
    } else if (c === ":") {
      if (empty) groups.push([]);
      else (groups[groups.length - 1] as string[]).push(current);
      current = "";
      empty = true;
    } else {
      current += c;
      empty = false;
    }
  }
  if (!empty) (groups[groups.length - 1] as string[]).push(current);
  return groups.filter((group, index) => index === 0 || group.length > 0);
}

/** New-API form: raw `:` separates (an empty element marks `::`), each path then octal-unescaped. */
function splitNewLowerdir(raw: string): string[][] {
  const groups: string[][] = [[]];
  for (const part of raw.split(":")) {
    if (part === "") groups.push([]);
    else (groups[groups.length - 1] as string[]).push(unescapeOctal(part));
  }
  return groups.filter((group, index) => index === 0 || group.length > 0);
}

/** Undoes the kernel's `\ooo` escapes (`mangle`/`seq_escape`); a backslash not followed by three octal digits is kept as is. */
export function unescapeOctal(text: string): string {
  if (!text.includes("\\")) return text;
  return text.replace(/\\([0-3][0-7]{2})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}
