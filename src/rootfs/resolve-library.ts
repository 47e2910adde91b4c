/**
 * Library names, resolved the way the TARGET's loader would (PITFALLS 23).
 *
 * A probe spec names a library as a program asks the loader for it
 * (`libc`, `libc.so.6`, `libzookeeper_mt`, `libssl.so.3`) or by an absolute
 * path inside the container. This module turns that into one container path,
 * looking where the target's own loader looks, in its order:
 *
 * 1. `maps`: an object the process has already mapped wins: that is the file
 *    the probe must hit, whatever the search path says today.
 * 2. `LD_LIBRARY_PATH` from the target's environ (`:` or `;` separated, as
 *    glibc's `fillin_rpath` splits it; musl splits on `:` only but a `;` in a
 *    directory name is unheard of).
 * 3. glibc: the container's own `/etc/ld.so.cache`, entries of the target's
 *    ELF class and architecture only. musl: `/etc/ld-musl-<arch>.path`.
 * 4. The default directories: glibc's trusted directories (multiarch
 *    `/lib/<triplet>`, `/usr/lib/<triplet>`, then `/lib64`, `/usr/lib64` for
 *    64-bit targets, then `/lib`, `/usr/lib`); musl's `/lib:/usr/local/lib:/usr/lib`
 *    when it has no path file (a path file REPLACES the defaults in musl).
 *
 * It never touches the host: every read goes through the injected
 * {@link LibraryContext}, which reads inside the container's root. The
 * host's `/etc/ld.so.cache` describes another filesystem and must never be
 * consulted; the tests prove this with a context that records every path.
 *
 * Bare names (no `.so` in them: `libc`, `libzookeeper_mt`) match
 * `<name>.so` and `<name>.so.<version>`. When several match in one place,
 * the highest version wins (`libssl.so.3` over `libssl.so.1.1`), and a
 * versioned soname wins over the unversioned `<name>.so` (a development
 * symlink, not what programs load). This is the library a program linked
 * today would get; ask for an exact soname to pick an older one.
 *
 * A name may also be an executable's file name (`postgres`, `python3.11`,
 * issue 10): a mapped object whose file name is exactly the request wins
 * over every rule above (two such objects are an ambiguity, never a guess),
 * and when no library answers, the name is looked up as a file on the
 * target's `PATH`, in order, the way `execvp` would find the program.
 */
import { EM_386, EM_AARCH64, EM_ARM, EM_IA_64, EM_LOONGARCH, EM_MIPS, EM_PPC, EM_PPC64, EM_RISCV, EM_S390, EM_SPARCV9, EM_X86_64 } from "../elf/constants.js";
import { AmbiguousError, NotFoundError, UsageError } from "../errors.js";
import { nearest } from "../suggest.js";
import { FLAG_ELF, FLAG_ELF_LIBC6, FLAG_REQUIRED_MASK, FLAG_TYPE_MASK, parseLdSoCache, type LdCacheEntry } from "./ld-so-cache.js";
import { MUSL_DEFAULT_PATH, muslSearchPath } from "./musl.js";

/** Where the target's files and facts come from; every path is a path INSIDE the container. */
export interface LibraryContext {
  /** The whole content of a small file (the cache, the musl path file), or `undefined` when absent. */
  readFile(containerPath: string): Uint8Array | undefined;
  /** Whether a regular file (or a symlink to one) exists at `containerPath`. */
  exists(containerPath: string): boolean;
  /**
   * Names in a directory, or `undefined` when it is absent. Optional: without
   * it, a bare name (`libfoo`) is found in a directory only as `libfoo.so`.
   */
  listDir?(containerPath: string): readonly string[] | undefined;
  /**
   * The `e_machine` and ELF class of a candidate file, or `undefined` when it
   * is not ELF. Optional: with it, a file of the wrong architecture in a
   * search directory is skipped, as the loader skips it.
   */
  identify?(containerPath: string): { machine: number; elfClass: 32 | 64 } | undefined;
  /** Paths of the objects the process has mapped (from `/proc/<pid>/maps`, memfds as `/memfd:NAME`), in map order. */
  mappedPaths?: readonly string[];
  /** `LD_LIBRARY_PATH` from the target's environ. */
  ldLibraryPath?: string;
  /**
   * `PATH` to look for an executable by its file name when no library
   * answers (`postgres`): the target's own, else its image's default.
   * Optional: without it, names are libraries only.
   */
  executablePath?: string;
  /** The target executable's `e_machine`. */
  machine: number;
  /** The target executable's ELF class. */
  elfClass: 32 | 64;
  /** The target executable's byte order (musl's arch name depends on it). Default true. */
  littleEndian?: boolean;
  /** The target executable's `e_flags` (ARM hard/soft float). */
  flags?: number;
  /** Which loader the target uses (from its `PT_INTERP`). */
  loader: "glibc" | "musl" | "unknown";
  /**
   * glibc-hwcaps subdirectories the target CPU supports, best first
   * (`["x86-64-v3", "x86-64-v2"]`, as `ld.so --list-diagnostics` reports).
   * Default none: only baseline cache entries are used.
   */
  hwcapsSubdirs?: readonly string[];
}

/** How a library was found. */
export type ResolvedHow = "maps" | "LD_LIBRARY_PATH" | "ld.so.cache" | "musl path" | "default dirs" | "absolute" | "PATH";

/** A resolved library. */
export interface ResolvedLibrary {
  /** The library's path inside the container. */
  readonly path: string;
  /** Which rule found it. */
  readonly how: ResolvedHow;
  /** Things the resolver could not honour (a `$ORIGIN` in LD_LIBRARY_PATH, a corrupt cache it skipped). */
  readonly warnings: readonly string[];
}

/** Most LD_LIBRARY_PATH items used (the environ is hostile input too). */
export const MAX_LD_LIBRARY_PATH_ITEMS = 256;
/** Most directory entries looked at per directory. */
export const MAX_DIR_ENTRIES = 100_000;

/**
 * Resolves `request` (a library name or an absolute container path) the way
 * the target's loader would.
 *
 * @throws NotFoundError listing where it looked and the nearest names seen.
 * @throws UsageError for a relative path or an empty request.
 */
export function resolveLibrary(request: string, context: LibraryContext): ResolvedLibrary {
  if (request === "") throw new UsageError("library name is empty; give a name such as libc or libssl.so.3, or an absolute path");
  const warnings: string[] = [];
  if (request.includes("/")) {
    if (!request.startsWith("/")) {
      throw new UsageError(`library "${request}": a relative path means nothing inside a container; give an absolute path or a bare name`);
    }
    if (context.exists(request)) return { path: request, how: "absolute", warnings };
    throw new NotFoundError(`library "${request}": no such file in the container`, ["check the path inside the container, or give the library's name instead"]);
  }

  const builtIn = context.loader === "musl" ? muslBuiltIn(request, context) : undefined;
  if (builtIn !== undefined) return { ...builtIn, warnings };

  const matcher = nameMatcher(request);
  const looked: string[] = [];
  /** A cache entry whose file is gone (a stale cache): glibc then goes on to the default directories. */
  let staleCacheHit: string | undefined;
  const seen = new Set<string>();

  // 1. Mapped objects. One whose file name is exactly the request (an executable, `postgres`) first.
  const mapped = context.mappedPaths ?? [];
  const exact = [...new Set(mapped.filter((p) => mappedName(p) === request))];
  if (exact.length > 1) {
    throw new AmbiguousError(`object "${request}": the process maps ${exact.length} files of that name`, exact, ["name the one you mean by its absolute path"]);
  }
  if (exact[0] !== undefined) return { path: exact[0], how: "maps", warnings };
  const mappedHits = mapped.filter((p) => matcher.matchesMapped(mappedName(p)));
  for (const p of mapped) seen.add(mappedName(p));
  const fromMaps = best(mappedHits, (p) => mappedName(p));
  if (fromMaps !== undefined) return { path: fromMaps, how: "maps", warnings };
  if (mapped.length > 0) looked.push(`the process's maps (${mapped.length} objects)`);

  // 2. LD_LIBRARY_PATH.
  if (context.ldLibraryPath !== undefined && context.ldLibraryPath !== "") {
    const dirs: string[] = [];
    for (const item of context.ldLibraryPath.split(/[:;]/).slice(0, MAX_LD_LIBRARY_PATH_ITEMS)) {
      if (item === "") {
        warnings.push("LD_LIBRARY_PATH has an empty item (the current directory of the process); skipped");
      } else if (item.includes("$")) {
        warnings.push(`LD_LIBRARY_PATH item "${item}" has a dynamic string token ($ORIGIN, $LIB, $PLATFORM); skipped`);
      } else if (!item.startsWith("/")) {
        warnings.push(`LD_LIBRARY_PATH item "${item}" is relative to the process's current directory; skipped`);
      } else {
        dirs.push(item);
      }
    }
    const hit = searchDirs(dirs, matcher, context, seen);
    if (hit !== undefined) return { path: hit, how: "LD_LIBRARY_PATH", warnings };
    looked.push(`LD_LIBRARY_PATH (${dirs.join(":") || "no usable directories"})`);
  }

  // 3. The loader's own configuration.
  let muslDirs: { dirs: string[]; file: string | undefined } | undefined;
  if (context.loader !== "musl") {
    const bytes = context.readFile("/etc/ld.so.cache");
    if (bytes === undefined) {
      looked.push("/etc/ld.so.cache (absent)");
    } else {
      try {
        const cache = parseLdSoCache(bytes);
        const usable = cache.entries.filter((e) => cacheEntryFits(e, context));
        for (const e of usable) seen.add(e.name);
        const hit = pickFromCache(usable, matcher, context.hwcapsSubdirs ?? []);
        if (hit !== undefined && context.exists(hit)) return { path: hit, how: "ld.so.cache", warnings };
        // A stale cache (the file was removed after ldconfig ran): glibc's loader fails to open the
        // cached path and goes on to the default directories; so do we, and say so.
        // Said as a warning only if the default directories then find it; when nothing is found, `looked` says it.
        if (hit !== undefined) staleCacheHit = hit;
        looked.push(
          hit === undefined
            ? `/etc/ld.so.cache (${usable.length} of ${cache.entries.length} entries for this architecture)`
            : `/etc/ld.so.cache (which names ${hit}, a file that does not exist)`,
        );
      } catch (error) {
        // glibc's loader ignores a cache it cannot use and goes on to the
        // default directories; so do we, but say so.
        warnings.push(`/etc/ld.so.cache skipped: ${error instanceof Error ? error.message : String(error)}`);
        looked.push("/etc/ld.so.cache (malformed, skipped)");
      }
    }
  }
  if (context.loader !== "glibc") {
    muslDirs = muslSearchPath(context, (p) => context.readFile(p));
    if (muslDirs.file !== undefined) {
      const hit = searchDirs(muslDirs.dirs, matcher, context, seen);
      if (hit !== undefined) return { path: hit, how: "musl path", warnings };
      looked.push(`${muslDirs.file} (${muslDirs.dirs.join(":") || "empty"})`);
    }
  }

  // 4. Default directories.
  const defaults = defaultDirs(context, muslDirs);
  if (defaults.length > 0) {
    const hit = searchDirs(defaults, matcher, context, seen);
    if (hit !== undefined) {
      if (staleCacheHit !== undefined) warnings.push(`/etc/ld.so.cache names ${staleCacheHit}, which does not exist; found in the default directories instead`);
      return { path: hit, how: "default dirs", warnings };
    }
    looked.push(`the default directories (${defaults.join(", ")})`);
  }

  // 5. An executable by its file name, on the PATH (after every library rule: `libfoo` stays a library).
  if (context.executablePath !== undefined) {
    const dirs = context.executablePath
      .split(":")
      .slice(0, MAX_LD_LIBRARY_PATH_ITEMS)
      .filter((d) => d.startsWith("/"));
    for (const dir of dirs) {
      const path = dir === "/" ? `/${request}` : `${dir.replace(/\/+$/, "")}/${request}`;
      if (context.exists(path)) return { path, how: "PATH", warnings };
    }
    looked.push(`the PATH (${dirs.join(":") || "no absolute directories"})`);
  }

  const near = nearest(request, seen, 3);
  const hints = [
    ...(near.length > 0 ? [`did you mean ${near.map((n) => `"${n}"`).join(", ")}?`] : []),
    "give the library's absolute path inside the container",
    ...warnings,
  ];
  throw new NotFoundError(`library "${request}": not found; looked in ${looked.join(", ") || "nothing (no maps, no cache, no directories)"}`, hints);
}

/** How a request matches file names and sonames. */
interface NameMatcher {
  /** Matches a soname or a file name in a directory. */
  matches(name: string): boolean;
  /** Matches a mapped file's basename (which is the real file, not the soname symlink). */
  matchesMapped(name: string): boolean;
  /** File names to try in a directory that cannot be listed. */
  readonly probe: readonly string[];
}

/**
 * `libc.so.6` matches itself; in maps also `libc.so.6.*` (`libz.so.1.2.13`)
 * and `libc-<version>.so` (glibc < 2.34 installed `libc-2.31.so` with
 * `libc.so.6` a symlink to it, and maps show the real file).
 * `libc` matches `libc.so` and `libc.so.*`; in maps also `libc-<version>.so`.
 */
function nameMatcher(request: string): NameMatcher {
  const soAt = request.indexOf(".so");
  const bare = soAt === -1;
  const stem = bare ? request : request.slice(0, soAt);
  const realFile = new RegExp(`^${escapeRegExp(stem)}-\\d[\\d.]*\\.so$`);
  if (bare) {
    const matches = (name: string): boolean => name === `${request}.so` || name.startsWith(`${request}.so.`);
    return { matches, matchesMapped: (name) => matches(name) || realFile.test(name), probe: [`${request}.so`] };
  }
  const matches = (name: string): boolean => name === request;
  return {
    matches,
    matchesMapped: (name) => name === request || name.startsWith(`${request}.`) || (request.startsWith(`${stem}.so.`) && realFile.test(name)),
    probe: [request],
  };
}

/** The best of several candidates: highest soname version; the unversioned `.so` last. */
function best<T>(candidates: readonly T[], nameOf: (c: T) => string): T | undefined {
  let winner: T | undefined;
  let winnerKey: number[] | undefined;
  for (const c of candidates) {
    const key = versionKey(nameOf(c));
    if (winner === undefined || winnerKey === undefined || compareVersions(key, winnerKey) > 0) {
      winner = c;
      winnerKey = key;
    }
  }
  return winner;
}

/** `libssl.so.1.1` → [1, 1]; `libssl.so` → [] (lowest); `libc-2.31.so` → [2, 31]. */
function versionKey(name: string): number[] {
  const so = name.indexOf(".so.");
  const dash = /-(\d[\d.]*)\.so$/.exec(name);
  const text = so !== -1 ? name.slice(so + 4) : (dash?.[1] ?? "");
  if (text === "") return [];
  return text.split(".").map((part) => {
    const n = Number.parseInt(part, 10);
    return Number.isNaN(n) ? 0 : n;
  });
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x !== y) return x - y;
  }
  return 0;
}

/**
 * Libraries musl's loader answers with itself (ldso/dynlink.c, the reserved
 * names in `load_library`): its libc, libm, libpthread, … are all the one
 * file `ld-musl-<arch>.so.1` (Alpine adds `libc.musl-<arch>.so.1` as a link
 * to it), so no `libc.so*` exists to be found by name.
 */
const MUSL_BUILT_IN = new Set(["libc", "libm", "libpthread", "libdl", "librt", "libutil", "libxnet", "libcrypt", "libresolv"]);

function muslBuiltIn(request: string, context: LibraryContext): Omit<ResolvedLibrary, "warnings"> | undefined {
  const base = request.replace(/\.so(\.[0-9.]*)?$/, "").replace(/\.musl-[a-z0-9_]+$/, "");
  if (!MUSL_BUILT_IN.has(base) && !/^(ld-musl|libc\.musl)-/.test(request)) return undefined;
  const loader = (context.mappedPaths ?? []).find((p) => /\/ld-musl-[^/]+\.so\.1$/.test(p));
  return loader === undefined ? undefined : { path: loader, how: "maps" };
}

/** Whether a cache entry is for the target's loader, class and architecture (glibc's `_dl_cache_check_flags`). */
export function cacheEntryFits(entry: LdCacheEntry, target: { machine: number; elfClass: 32 | 64; flags?: number }): boolean {
  const type = entry.flags.raw & FLAG_TYPE_MASK;
  if (type !== FLAG_ELF && type !== FLAG_ELF_LIBC6) return false;
  return cacheRequiredFlags(target).includes(entry.flags.raw & FLAG_REQUIRED_MASK);
}

/**
 * The `FLAG_REQUIRED_MASK` values the target's loader accepts, from each
 * architecture's `sysdeps/…/dl-cache.h` (`_DL_CACHE_DEFAULT_ID`); 0 is the
 * platform's plain 32-bit ABI.
 */
export function cacheRequiredFlags(target: { machine: number; elfClass: 32 | 64; flags?: number }): number[] {
  const is64 = target.elfClass === 64;
  switch (target.machine) {
    case EM_X86_64:
      return [is64 ? 0x0300 : 0x0800];
    case EM_AARCH64: // ILP32 has no flag of its own in released glibc
      return is64 ? [0x0a00] : [];
    case EM_ARM: {
      // EM_ARM: EF_ARM_ABI_FLOAT_HARD 0x400, EF_ARM_ABI_FLOAT_SOFT 0x200.
      const f = target.flags;
      if (f !== undefined && (f & 0x400) !== 0) return [0x0900];
      if (f !== undefined && (f & 0x200) !== 0) return [0x0b00];
      return [0x0900, 0x0b00, 0];
    }
    case EM_S390:
      return [is64 ? 0x0400 : 0];
    case EM_PPC64:
      return [0x0500];
    case EM_SPARCV9:
      return [0x0100];
    case EM_IA_64:
      return [0x0200];
    case EM_MIPS:
      return is64 ? [0x0700, 0x0e00] : [0, 0x0600, 0x0c00, 0x0d00];
    case EM_RISCV: // the flags record the float ABI, not the class
      return [0x0f00, 0x1000];
    case EM_LOONGARCH:
      return [0x1100, 0x1200];
    default: // EM_386, EM_PPC, EM_SPARC, …: the default ABI
      return [0];
  }
}

/**
 * The cache entry the loader would take. glibc's `search_cache` walks the
 * (sorted) entries of a soname: glibc-hwcaps entries for a subdirectory the
 * CPU supports win, best subdirectory first; otherwise the first plain
 * entry. Legacy hwcap entries (`tls/`, `x86_64/` subdirectories, removed in
 * glibc 2.37) need the platform's hwcap bits, which we do not know: they are
 * used only when there is no plain entry.
 */
function pickFromCache(entries: readonly LdCacheEntry[], matcher: NameMatcher, hwcaps: readonly string[]): string | undefined {
  const hits = entries.filter((e) => matcher.matches(e.name));
  if (hits.length === 0) return undefined;
  const bestName = best(hits, (e) => e.name)?.name;
  const forName = hits.filter((e) => e.name === bestName);
  for (const subdir of hwcaps) {
    const e = forName.find((x) => x.hwcapsSubdir === subdir);
    if (e !== undefined) return e.path;
  }
  const plain = forName.find((e) => !e.hwcapSpecific);
  if (plain !== undefined) return plain.path;
  return forName.find((e) => e.hwcapsSubdir === undefined)?.path;
}

function searchDirs(dirs: readonly string[], matcher: NameMatcher, context: LibraryContext, seen: Set<string>): string | undefined {
  const visited = new Set<string>();
  for (const raw of dirs) {
    const dir = raw.length > 1 ? raw.replace(/\/+$/, "") : raw;
    if (visited.has(dir)) continue;
    visited.add(dir);
    const hit = searchDir(dir, matcher, context, seen);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

function searchDir(dir: string, matcher: NameMatcher, context: LibraryContext, seen: Set<string>): string | undefined {
  const join = (name: string): string => (dir === "/" ? `/${name}` : `${dir}/${name}`);
  const fits = (path: string): boolean => {
    if (context.identify === undefined) return true;
    const id = context.identify(path);
    return id !== undefined && id.machine === context.machine && id.elfClass === context.elfClass;
  };
  if (context.listDir !== undefined) {
    const names = context.listDir(dir)?.slice(0, MAX_DIR_ENTRIES);
    if (names === undefined) return undefined; // no such directory
    const hits: string[] = [];
    for (const name of names) {
      if (name.includes(".so")) seen.add(name);
      if (matcher.matches(name)) hits.push(name);
    }
    // Best first, skipping files of the wrong architecture (the loader skips them too).
    const sorted = [...hits].sort((a, b) => compareVersions(versionKey(b), versionKey(a)));
    for (const name of sorted) {
      const path = join(name);
      if (context.exists(path) && fits(path)) return path;
    }
    return undefined;
  }
  // No listing: only the names we can form. `libfoo` → `libfoo.so`; `libfoo.so.1` → itself.
  for (const name of matcher.probe) {
    const path = join(name);
    if (context.exists(path) && fits(path)) return path;
  }
  return undefined;
}

/** glibc's default directories for the target, or musl's when it has no path file. */
function defaultDirs(context: LibraryContext, musl: { dirs: string[]; file: string | undefined } | undefined): string[] {
  if (context.loader === "musl") return musl?.file === undefined ? [...MUSL_DEFAULT_PATH] : [];
  const triplet = multiarchTriplet(context);
  const dirs = triplet === undefined ? [] : [`/lib/${triplet}`, `/usr/lib/${triplet}`];
  if (context.elfClass === 64) dirs.push("/lib64", "/usr/lib64");
  dirs.push("/lib", "/usr/lib");
  if (context.loader === "unknown" && musl?.file === undefined) dirs.push("/usr/local/lib");
  return dirs;
}

/** Debian's multiarch triplet for a target, `undefined` when there is none. */
export function multiarchTriplet(target: { machine: number; elfClass: 32 | 64; littleEndian?: boolean; flags?: number }): string | undefined {
  const le = target.littleEndian ?? true;
  switch (target.machine) {
    case EM_X86_64:
      return target.elfClass === 64 ? "x86_64-linux-gnu" : "x86_64-linux-gnux32";
    case EM_386:
      return "i386-linux-gnu";
    case EM_AARCH64:
      return "aarch64-linux-gnu";
    case EM_ARM:
      return target.flags !== undefined && (target.flags & 0x200) !== 0 ? "arm-linux-gnueabi" : "arm-linux-gnueabihf";
    case EM_S390:
      return "s390x-linux-gnu";
    case EM_PPC64:
      return le ? "powerpc64le-linux-gnu" : "powerpc64-linux-gnu";
    case EM_PPC:
      return "powerpc-linux-gnu";
    case EM_RISCV:
      return target.elfClass === 64 ? "riscv64-linux-gnu" : undefined;
    case EM_LOONGARCH:
      return "loongarch64-linux-gnu";
    case EM_MIPS:
      return target.elfClass === 64 ? `mips64${le ? "el" : ""}-linux-gnuabi64` : `mips${le ? "el" : ""}-linux-gnu`;
    default:
      return undefined;
  }
}

/**
 * The file name a mapping is known by: its basename, or for a memfd
 * (`/memfd:NAME`, which has no directory and no other name) the NAME its
 * creator gave it, so that a library loaded from a memfd named
 * `libfoo.so` is found as `libfoo` (PITFALLS 18).
 */
function mappedName(path: string): string {
  return path.startsWith("/memfd:") ? path.slice("/memfd:".length) : basename(path);
}

function basename(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? path : path.slice(slash + 1);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
