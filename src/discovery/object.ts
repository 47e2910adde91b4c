/**
 * OBJECT → file: `exe`, an absolute path, or a library name, resolved in
 * one process's view of the world (its root, its maps, its loader's rules),
 * and the path probec reads it through.
 *
 * What the process runs wins over what a path names now: a library mapped
 * from a file that was deleted, replaced or copied up since (PITFALLS 18,
 * 20) is read through `/proc/<pid>/map_files/…`, which opens the mapped
 * inode itself.
 *
 * A memfd has no path at all: `memfd:NAME` (or the printed
 * `/memfd:NAME`, quoted in a target because it holds ':') names it by the
 * name its creator gave (libstapsdt: `libstapsdt:PROVIDER`). An object
 * written as a glob (`/tmp/salp-demo-*.so`, `memfd:libstapsdt:*`) names
 * every mapped object it matches ({@link resolveObjects}), since libstapsdt's
 * file names change every run.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { ElfFile } from "../elf/elf-file.js";
import { PT_INTERP } from "../elf/constants.js";
import { AmbiguousError, NotFoundError, ProbecError, UsageError } from "../errors.js";
import { compileGlob } from "../glob.js";
import { nearest } from "../suggest.js";
import { FileSource } from "../io/file-source.js";
import { readRange } from "../io/byte-source.js";
import { resolveLibrary, type ResolvedHow } from "../rootfs/resolve-library.js";
import { readEnviron } from "./proc/environ.js";
import { exePath } from "./proc/exe.js";
import { layerOf } from "./layers.js";
import { mapFilesPath, mappedObjects, readMaps, type MappedObject } from "./proc/maps.js";
import { overlayLayers, readMountinfo, type MountInfo } from "./proc/mountinfo.js";
import { DEFAULT_PROC_ROOT } from "./proc/read.js";
import { fileIdentity, type ContentIdentity } from "./identity.js";
import { resolveInRoot } from "../rootfs/resolve.js";

/** An object of one process, located. */
export interface ResolvedObject {
  /** What was asked for: `libc`, `exe`, `/usr/lib/libfoo.so`. */
  readonly request: string;
  /** Its path inside the process's root. */
  readonly containerPath: string;
  /** Which rule found it. */
  readonly how: ResolvedHow | "exe";
  /** `/proc/<pid>/root/<containerPath>`, resolved inside the root (the `root` path strategy). */
  readonly rootPath: string | undefined;
  /** `/proc/<pid>/map_files/<range>` when the process maps it (the `map` strategy). */
  readonly mapFilesPath: string | undefined;
  /** The file in the overlay layer that holds it, when its mount is an overlay (the `layer` strategy). */
  readonly layerPath: string | undefined;
  /** The path probec reads: the mapped inode when mapped, else the root path. */
  readonly readPath: string;
  /** Device, inode, size, mtime and build-id of what {@link readPath} opens. */
  readonly identity: ContentIdentity;
  /** True when the process maps it. */
  readonly mapped: boolean;
  /** True when the file now at the path is not the one the process maps (deleted, replaced, copied up). */
  readonly replaced: boolean;
  /** What the loader emulation could not honour (a `$ORIGIN` in LD_LIBRARY_PATH, a corrupt cache it skipped). */
  readonly warnings: readonly string[];
}

/**
 * The PATH an executable named by its file name is looked for on when the
 * process's environ has none: Docker's default for Linux containers (moby
 * `oci.DefaultPathEnv`), which is also what an image without `ENV PATH`
 * runs with. A container's main process normally carries its image's PATH.
 */
export const DEFAULT_EXECUTABLE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Largest small file (ld.so.cache, musl path file) read whole from a container. */
const MAX_SMALL_FILE = 64 * 1024 * 1024;

/** Resolves `request` as process `pid` would see it. */
export function resolveObject(pid: number, request: string, procRoot = DEFAULT_PROC_ROOT): ResolvedObject {
  const root = `${procRoot}/${pid}/root`;
  const objects = mappedObjectsOf(pid, procRoot);
  if (request === "exe") return resolveExe(pid, root, objects, procRoot);
  if (isObjectGlob(request))
    throw new UsageError(`object "${request}" is a glob, which names every object it matches`, ["resolve it with resolveObjects (resolveTarget does)"]);
  if (request.startsWith(MEMFD)) {
    const hits = objects.filter((o) => o.kind === "memfd" && o.path === `/${request}`);
    if (hits.length > 1) throw ambiguousMemfds(pid, request, hits, procRoot);
    const hit = hits[0];
    if (hit === undefined) throw noMemfd(pid, request, objects);
    return { ...locate(pid, request, hit.path, "maps", root, hit, procRoot), warnings: [] };
  }
  let containerPath: string;
  let how: ResolvedHow;
  let warnings: readonly string[] = [];
  if (request.startsWith("/")) {
    containerPath = request;
    how = "absolute";
  } else {
    const resolved = resolveLibrary(request, libraryContext(pid, root, objects, procRoot));
    containerPath = resolved.path;
    how = resolved.how;
    warnings = resolved.warnings;
  }
  const mapped = findMapped(objects, containerPath, root);
  return { ...locate(pid, request, containerPath, how, root, mapped, procRoot), warnings };
}

/** The prefix of an OBJECT that names a memfd by the name its creator gave it. */
const MEMFD = "memfd:";

/** Whether an OBJECT is a glob over the objects a process maps (it holds `*`, `?` or `[`). */
export function isObjectGlob(request: string): boolean {
  return /[*?[]/.test(request);
}

/**
 * Every object process `pid` maps that the glob `request` matches: a
 * `memfd:GLOB` matches memfds by their name, an absolute GLOB the printed
 * paths, any other GLOB the file names. In map order; empty when none.
 */
export function resolveObjects(pid: number, request: string, procRoot = DEFAULT_PROC_ROOT): ResolvedObject[] {
  const root = `${procRoot}/${pid}/root`;
  const glob = compileGlob(request.startsWith(MEMFD) ? `/${request}` : request);
  const keyOf = (o: MappedObject): string | undefined => {
    if (request.startsWith(MEMFD)) return o.kind === "memfd" ? o.path : undefined;
    if (request.startsWith("/")) return o.path;
    return o.path.slice(o.path.lastIndexOf("/") + 1);
  };
  return mappedObjectsOf(pid, procRoot)
    .filter((o) => {
      const key = keyOf(o);
      return key !== undefined && glob.test(key);
    })
    .map((o) => ({ ...locate(pid, request, o.path, "maps", root, o, procRoot), warnings: [] }));
}

function ambiguousMemfds(pid: number, request: string, hits: readonly MappedObject[], procRoot: string): AmbiguousError {
  const described = hits.map((o) => `${o.path} (inode ${o.inode}, ${mapFilesPath(pid, o.mapFilesRange.start, o.mapFilesRange.end, procRoot)})`);
  return new AmbiguousError(`process ${pid}: object "${request}": ${hits.length} memfds have that name`, described, [
    `write the object as a glob ("${request}*") for every one of them`,
  ]);
}

function noMemfd(pid: number, request: string, objects: readonly MappedObject[]): NotFoundError {
  const names = objects.filter((o) => o.kind === "memfd").map((o) => o.path.slice(1));
  const near = nearest(request, names);
  return new NotFoundError(
    `process ${pid}: object "${request}": no memfd of that name is mapped${names.length === 0 ? "" : ` (it maps ${names.join(", ")})`}`,
    [
      ...(near.length > 0 ? [`did you mean ${near.map((n) => `"${n}"`).join(", ")}?`] : []),
      "a memfd is named as its creator named it: memfd_create's name, which `probec list pid/N` prints after /memfd:",
    ],
  );
}

function resolveExe(pid: number, root: string, objects: readonly MappedObject[], procRoot: string): ResolvedObject {
  const printed = exePath(pid, procRoot);
  const exe = { ...printed, path: containerPathOf(printed.path, rootPrefix(pid, procRoot)) };
  const identity = fileIdentity(exe.openPath);
  const mapped = objects.find((o) => o.inode === identity.ino) ?? objects.find((o) => o.path === exe.path);
  const rootPath = exe.deleted ? undefined : tryResolve(root, exe.path);
  return {
    request: "exe",
    containerPath: exe.path,
    how: "exe",
    rootPath,
    mapFilesPath: mapped === undefined ? undefined : mapFilesPath(pid, mapped.mapFilesRange.start, mapped.mapFilesRange.end, procRoot),
    layerPath: exe.deleted ? undefined : layerPathOf(pid, exe.path, procRoot, true)?.hostPath,
    // /proc/<pid>/exe opens the running executable itself, whatever happened to its path.
    readPath: exe.openPath,
    identity,
    mapped: mapped !== undefined,
    replaced: exe.deleted || (rootPath !== undefined && fileIdentity(rootPath).ino !== identity.ino),
    warnings: [],
  };
}

function locate(
  pid: number,
  request: string,
  containerPath: string,
  how: ResolvedHow,
  root: string,
  mapped: MappedObject | undefined,
  procRoot: string,
): Omit<ResolvedObject, "warnings"> {
  const rootPath = tryResolve(root, containerPath);
  const mapFiles = mapped === undefined ? undefined : mapFilesPath(pid, mapped.mapFilesRange.start, mapped.mapFilesRange.end, procRoot);
  const readPath = mapFiles ?? rootPath;
  if (readPath === undefined) {
    throw new NotFoundError(`process ${pid}: ${request} resolved to ${containerPath}, which does not exist in its root and is not mapped`);
  }
  const identity = fileIdentity(readPath);
  const layer = rootPath === undefined ? undefined : layerPathOf(pid, containerPath, procRoot, mapped !== undefined);
  const replaced = mapped !== undefined && (rootPath === undefined || fileIdentity(rootPath).ino !== identity.ino || layer?.copiedUpSinceStart === true);
  const layerPath = layer?.hostPath;
  return { request, containerPath, how, rootPath, mapFilesPath: mapFiles, layerPath, readPath, identity, mapped: mapped !== undefined, replaced };
}

/**
 * The kernel prints a path in maps and in the exe link relative to the
 * *reader's* root when it can: for a chrooted process whose root is
 * reachable from probec's, `/srv/root/usr/lib/libc.so.6`, not
 * `/usr/lib/libc.so.6`. `/proc/<pid>/root` reads the same way (`/srv/root`),
 * so stripping it gives the path inside the process's root. For a process
 * in another mount namespace the root reads `/` and nothing changes.
 */
function rootPrefix(pid: number, procRoot: string): string {
  try {
    return readlinkSync(`${procRoot}/${pid}/root`);
  } catch {
    return "/";
  }
}

function containerPathOf(printed: string, prefix: string): string {
  if (prefix === "/" || !printed.startsWith(`${prefix}/`)) return printed;
  return printed.slice(prefix.length);
}

/** The objects process `pid` maps, named by their paths inside its root. */
export function mappedObjectsOf(pid: number, procRoot = DEFAULT_PROC_ROOT): MappedObject[] {
  return inContainerTerms(pid, mappedObjects(readMaps(pid, { procRoot })), procRoot);
}

function inContainerTerms(pid: number, objects: readonly MappedObject[], procRoot: string): MappedObject[] {
  const prefix = rootPrefix(pid, procRoot);
  return objects.map((o) => (o.kind === "file" ? { ...o, path: containerPathOf(o.path, prefix) } : o));
}

/**
 * The host path of `containerPath` in the overlay layer holding it, from
 * the process's own mountinfo (the deepest mount containing the path), or
 * undefined when that mount is not an overlay or its layers are not
 * visible from probec's mount namespace.
 *
 * A copy-up is decided per process (PITFALLS 20): when the container's
 * upper layer holds the file but was written after the process started, a
 * process that maps the file still runs the lower copy (overlayfs keeps
 * the inode number, so stat cannot tell), and the lower copy is the file a
 * uprobe must name.
 */
function layerPathOf(pid: number, containerPath: string, procRoot: string, mapped: boolean): { hostPath: string; copiedUpSinceStart: boolean } | undefined {
  const mounts = readMountinfo(pid, { procRoot });
  const within = (m: MountInfo): boolean => m.mountPoint === "/" || containerPath === m.mountPoint || containerPath.startsWith(`${m.mountPoint}/`);
  const mount = mounts.filter(within).sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
  const layers = mount === undefined ? undefined : overlayLayers(mount);
  if (mount === undefined || layers === undefined) return undefined;
  const relative = mount.mountPoint === "/" ? containerPath : containerPath.slice(mount.mountPoint.length) || "/";
  const stack = [...(layers.upperdir === undefined ? [] : [layers.upperdir]), ...layers.lowerdir];
  const hit = layerOf(relative, stack);
  if (hit === undefined) return undefined;
  if (mapped && layers.upperdir !== undefined && hit.index === 0 && statSync(hit.hostPath).ctimeMs > processStartMs(pid, procRoot)) {
    const lower = layerOf(relative, layers.lowerdir);
    if (lower !== undefined) return { hostPath: lower.hostPath, copiedUpSinceStart: true };
  }
  return { hostPath: hit.hostPath, copiedUpSinceStart: false };
}

/**
 * When process `pid` started, in epoch milliseconds: field 22 of
 * /proc/<pid>/stat (clock ticks after boot, in USER_HZ, 100 on every
 * Linux) plus the boot time. The boot time comes from /proc/uptime (10 ms
 * resolution) rather than /proc/stat's btime, which is truncated to whole
 * seconds and would blur copy-ups made within a second of the start.
 */
function processStartMs(pid: number, procRoot: string): number {
  const stat = readFileSync(`${procRoot}/${pid}/stat`, "utf8");
  // Fields after the command name, which may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[19]);
  const uptimeSeconds = Number(readFileSync(`${procRoot}/uptime`, "utf8").split(" ")[0]);
  const bootMs = Date.now() - uptimeSeconds * 1000;
  return bootMs + ticks * 10;
}

/** The mapped object at `containerPath`: by inode when the path still exists, else by the printed name. */
function findMapped(objects: readonly MappedObject[], containerPath: string, root: string): MappedObject | undefined {
  const rootPath = tryResolve(root, containerPath);
  if (rootPath !== undefined) {
    const ino = fileIdentity(rootPath).ino;
    const byInode = objects.find((o) => o.inode === ino);
    if (byInode !== undefined) return byInode;
  }
  const byName = objects.filter((o) => o.path === containerPath);
  if (byName.length > 1) {
    throw new AmbiguousError(
      `object "${containerPath}": ${byName.length} mapped objects have that name`,
      byName.map((o) => `${o.path} (inode ${o.inode})`),
      [`write the object as a glob ("${containerPath}*") for every one of them`],
    );
  }
  return byName[0];
}

function tryResolve(root: string, containerPath: string): string | undefined {
  try {
    return resolveInRoot(root, containerPath).hostPath;
  } catch (error) {
    if (error instanceof ProbecError && (error.code === "E_NOT_FOUND" || error.code === "E_IO")) return undefined;
    throw error;
  }
}

/** The loader's view of process `pid`, read through its root only (never the host's files: PITFALLS 23). */
function libraryContext(pid: number, root: string, objects: readonly MappedObject[], procRoot: string): Parameters<typeof resolveLibrary>[1] {
  const exe = ElfFile.open(FileSource.open(`${procRoot}/${pid}/exe`), `process ${pid}: exe`);
  try {
    const interp = exe.programHeaders.find((p) => p.p_type === PT_INTERP);
    const interpreter =
      interp === undefined ? "" : new TextDecoder().decode(readRange(exe.source, interp.p_offset, Math.min(interp.p_filesz, 4096), "PT_INTERP"));
    const environ = readEnviron(pid, { procRoot });
    const ldLibraryPath = environ.get("LD_LIBRARY_PATH");
    return {
      readFile: (p) => {
        const host = tryResolve(root, p);
        if (host === undefined) return undefined;
        const bytes = readFileSync(host);
        return bytes.length > MAX_SMALL_FILE ? undefined : bytes;
      },
      exists: (p) => tryResolve(root, p) !== undefined,
      listDir: (p) => {
        try {
          return readdirSync(resolveInRoot(root, p, { expect: "directory" }).hostPath);
        } catch (error) {
          if (error instanceof ProbecError) return undefined;
          throw error;
        }
      },
      // memfds too: a library dlopened from one is known by the memfd's name (libstapsdt does this).
      mappedPaths: objects.filter((o) => o.kind === "file" || o.kind === "memfd").map((o) => o.path),
      ...(ldLibraryPath === undefined ? {} : { ldLibraryPath }),
      executablePath: environ.get("PATH") ?? DEFAULT_EXECUTABLE_PATH,
      machine: exe.header.e_machine,
      elfClass: exe.header.bits,
      littleEndian: exe.header.littleEndian,
      flags: exe.header.e_flags,
      loader: interpreter.includes("ld-musl")
        ? "musl"
        : interpreter.includes("ld-linux") || interpreter.includes("ld64.so") || interpreter.includes("ld.so")
          ? "glibc"
          : "unknown",
    };
  } finally {
    exe.close();
  }
}
