/**
 * OBJECT → a file of the image, the way the image's own loader and runtime
 * would find it (PITFALLS 23): `exe` is what the config's Entrypoint/Cmd
 * runs, looked up on the config's `PATH`; a library name goes through the
 * shared library resolver (src/rootfs) with the image's ld.so.cache,
 * its musl path file and its default directories; an absolute path is
 * walked inside the image. Nothing on the host is ever read.
 */
import { ProbecError, NotFoundError, UsageError } from "../errors.js";
import { loaderOf, type ElfIdent } from "../image/elf-ident.js";
import type { ImageConfig } from "../image/layout.js";
import type { ImageTree } from "../image/tree.js";
import { muslArch, muslPathFile } from "../rootfs/musl.js";
import { resolveLibrary, type LibraryContext, type ResolvedHow } from "../rootfs/resolve-library.js";

/** An object found in the image. */
export interface ImageObject {
  /** What was asked for: `exe`, `libc`, `/usr/lib/libfoo.so`. */
  readonly request: string;
  /** The file's canonical path in the image (symlinks followed inside it). */
  readonly path: string;
  /** Which rule found it; `interpreter` for musl's libc, libm, …, which are its loader itself. */
  readonly how: ResolvedHow | "exe" | "interpreter";
}

/** Docker's PATH when an image sets none (the daemon's default for Linux containers). */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Resolves objects of one image, remembering what it found. */
export class ObjectResolver {
  /** What the loader emulation could not honour while resolving (a skipped cache, a stale entry), once each. */
  readonly #warnings = new Set<string>();

  /** Warnings of every resolution so far, for the result's notes. */
  get warnings(): readonly string[] {
    return [...this.#warnings];
  }

  readonly #tree: ImageTree;
  readonly #exeOverride: string | undefined;
  #exe: { path: string; ident: ElfIdent | undefined } | undefined;
  #context: LibraryContext | undefined;
  readonly #small = new Map<string, Uint8Array>();

  constructor(tree: ImageTree, exe: string | undefined) {
    this.#tree = tree;
    this.#exeOverride = exe;
  }

  /** The executable `exe` names, as a canonical path, or undefined when the image says nothing. */
  exePath(): string | undefined {
    if (this.#exe !== undefined) return this.#exe.path;
    const argv0 = this.#exeOverride ?? argvOf(this.#tree)[0];
    if (argv0 === undefined) return undefined;
    const path = this.#findExecutable(argv0);
    this.#exe = { path, ident: this.#tree.identify(path) };
    return path;
  }

  /**
   * Reads the loader configuration files that are not already in memory
   * (one behind a symlink, or in a directory tree), so that library
   * resolution, which is synchronous, finds them.
   */
  async prepare(): Promise<void> {
    const ident = this.#identity();
    const arch = ident === undefined ? undefined : muslArch(ident);
    const wanted = ["/etc/ld.so.cache", ...(arch === undefined ? [] : [muslPathFile(arch)])];
    for (const path of wanted) {
      const canonical = this.#tryResolve(path);
      if (canonical === undefined || this.#tree.readSmall(canonical) !== undefined) continue;
      await this.#tree.fetch([canonical]);
      const source = this.#tree.open(canonical);
      if (source.size <= 16 * 1024 * 1024) this.#small.set(canonical, source.readAt(0, source.size));
    }
  }

  /** Resolves `request`. Throws a typed error naming the image and what exists instead. */
  resolve(request: string): ImageObject {
    if (request === "exe") {
      const path = this.exePath();
      if (path === undefined) {
        throw new UsageError(
          `${this.#tree.label}: "exe" means the image's Entrypoint/Cmd, and ${this.#tree.config === undefined ? "a root filesystem directory has no config" : "its config sets neither"}`,
          ["name the executable by its absolute path in the image (/usr/bin/app:main), or give --exe /usr/bin/app"],
        );
      }
      return { request, path, how: "exe" };
    }
    if (request.startsWith("/")) return { request, path: this.#tree.resolve(request, "file"), how: "absolute" };
    const found = resolveLibrary(request, this.#libraryContext());
    for (const warning of found.warnings) this.#warnings.add(`${request}: ${warning}`);
    // The only "mapped" object of an image is its executable's interpreter (see #libraryContext).
    return { request, path: this.#tree.resolve(found.path, "file"), how: found.how === "maps" ? "interpreter" : found.how };
  }

  #findExecutable(argv0: string): string {
    const tree = this.#tree;
    if (argv0.includes("/")) {
      const cwd = tree.config?.workingDir ?? "/";
      return tree.resolve(argv0.startsWith("/") ? argv0 : `${cwd}/${argv0}`, "file");
    }
    const env = tree.config?.env ?? [];
    const path = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
    const dirs = path.split(":").filter((d) => d.startsWith("/"));
    for (const dir of dirs) {
      const canonical = this.#tryResolve(`${dir}/${argv0}`);
      // As execvp: a file without an execute bit is passed over for a later PATH directory.
      if (canonical !== undefined && tree.executable(canonical)) return canonical;
    }
    throw new NotFoundError(`${tree.label}: the image runs "${argv0}", which is not in its PATH (${dirs.join(":")})`, [
      "check the image's Entrypoint and Cmd, or give --exe /path/in/image",
    ]);
  }

  #tryResolve(path: string): string | undefined {
    try {
      return this.#tree.resolve(path, "file");
    } catch (error) {
      if (error instanceof ProbecError && (error.code === "E_NOT_FOUND" || error.code === "E_IO")) return undefined;
      throw error;
    }
  }

  /**
   * The executable's ELF identity; without one (no Entrypoint/Cmd), the
   * image's dynamic loader's, so that an image of another architecture is
   * still read as that architecture (PITFALLS 14).
   */
  #identity(): (ElfIdent & { loader: "glibc" | "musl" | "unknown" }) | undefined {
    try {
      this.exePath();
    } catch (error) {
      if (!(error instanceof ProbecError)) throw error;
    }
    const exe = this.#exe?.ident;
    if (exe !== undefined) return { ...exe, loader: loaderOf(exe.interpreter) };
    for (const dir of ["/lib", "/lib64", "/usr/lib", "/usr/lib64"]) {
      for (const name of this.#tree.list(this.#tryDir(dir) ?? "/nonexistent") ?? []) {
        if (!/^ld-(linux|musl)/.test(name)) continue;
        const path = this.#tryResolve(`${dir}/${name}`);
        const ident = path === undefined ? undefined : this.#tree.identify(path);
        // The loader stands in for the executable: it is what a process of the image would map.
        if (ident !== undefined) return { ...ident, interpreter: `${dir}/${name}`, loader: name.startsWith("ld-musl") ? "musl" : "glibc" };
      }
    }
    return undefined;
  }

  #tryDir(path: string): string | undefined {
    try {
      return this.#tree.resolve(path, "directory");
    } catch (error) {
      if (error instanceof ProbecError) return undefined;
      throw error;
    }
  }

  #libraryContext(): LibraryContext {
    if (this.#context !== undefined) return this.#context;
    const ident = this.#identity();
    if (ident === undefined) {
      throw new NotFoundError(
        `${this.#tree.label}: cannot tell the image's architecture: it runs no ELF executable and has no dynamic loader in /lib or /lib64`,
        ["name the library by its absolute path in the image"],
      );
    }
    const tree = this.#tree;
    this.#context = {
      readFile: (p) => {
        const canonical = this.#tryResolve(p);
        return canonical === undefined ? undefined : (tree.readSmall(canonical) ?? this.#small.get(canonical));
      },
      exists: (p) => this.#tryResolve(p) !== undefined,
      listDir: (p) => {
        const dir = this.#tryDir(p);
        return dir === undefined ? undefined : tree.list(dir);
      },
      identify: (p) => {
        const canonical = this.#tryResolve(p);
        const id = canonical === undefined ? undefined : tree.identify(canonical);
        return id === undefined ? undefined : { machine: id.machine, elfClass: id.elfClass };
      },
      // A process of this image would map its interpreter, and musl's loader answers libc, libm, … with itself.
      // Only then does it matter (and only then is it named, so that a failure does not speak of a process's maps).
      mappedPaths: ident.interpreter === undefined || ident.loader !== "musl" ? [] : [ident.interpreter],
      // An executable named by its file name (`postgres`), as the image's PATH finds it (issue 10).
      executablePath: (tree.config?.env ?? []).find((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH,
      machine: ident.machine,
      elfClass: ident.elfClass,
      littleEndian: ident.littleEndian,
      flags: ident.flags,
      loader: ident.loader,
    };
    return this.#context;
  }
}

/**
 * A guess, made before the layers are read, at which files the targets
 * will resolve to: absolute paths as named, the executable by the basename
 * its config (or `exe`) runs, libraries by the file names the resolver
 * accepts for them. The layered tree copies such files out of compressed
 * layers on its first pass, so that most checks read each layer once; a
 * wrong guess costs temporary space, a missed one a second pass.
 */
export function likelyFiles(objects: readonly string[], exe: string | undefined): (config: ImageConfig) => (path: string) => boolean {
  return (config) => {
    const exact = new Set<string>();
    const names: ((base: string) => boolean)[] = [];
    for (const object of new Set(objects)) {
      if (object.startsWith("/")) {
        exact.add(object);
      } else if (object === "exe") {
        const argv0 = exe ?? argvOfConfig(config)[0];
        if (argv0 !== undefined) {
          const base = argv0.slice(argv0.lastIndexOf("/") + 1);
          names.push((b) => b === base);
        }
      } else {
        const bare = !object.includes(".so");
        const stem = bare ? object : object.slice(0, object.indexOf(".so"));
        const real = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-\\d[\\d.]*\\.so$`);
        names.push((b) => (bare ? b === `${object}.so` || b.startsWith(`${object}.so.`) : b === object || b.startsWith(`${object}.`)) || real.test(b));
        // musl answers libc, libm, … with its loader itself.
        names.push((b) => /^ld-musl-[^/]+\.so\.1$/.test(b));
      }
    }
    return (path) => exact.has(path) || names.some((test) => test(path.slice(path.lastIndexOf("/") + 1)));
  };
}

/** The argv the image's config runs: Entrypoint then Cmd, or Cmd alone (Docker's rule). */
function argvOf(tree: ImageTree): readonly string[] {
  return tree.config === undefined ? [] : argvOfConfig(tree.config);
}

function argvOfConfig(config: ImageConfig): readonly string[] {
  return config.entrypoint !== undefined && config.entrypoint.length > 0 ? [...config.entrypoint, ...(config.cmd ?? [])] : (config.cmd ?? []);
}
