/**
 * Every function name one mapped object has, gathered into one
 * {@link SymbolIndex}, from the places a stripped object keeps them:
 *
 * 1. its own `.symtab` and `.dynsym`;
 * 2. when it has no `.symtab`, its separate debug file, by build-id or
 *    `.gnu_debuglink`, looked for **inside the process's root** first (an
 *    image that ships `/usr/lib/debug` or a `.debug/` directory beside the
 *    binary), then on the host under the global debug directories (where
 *    a developer installs `-dbgsym` packages); a candidate whose build-id or
 *    CRC does not match is skipped, never used (debuginfo/locate.ts);
 * 3. its `.gnu_debugdata` (MiniDebugInfo: the local functions that
 *    `.dynsym` lacks, xz-compressed; Fedora ships every binary this way);
 * 4. extra name providers (Go's pclntab, which names every function of a
 *    Go binary linked with `-s -w`: PITFALLS 31).
 *
 * The debug file only names things; every address is still mapped to the
 * object through the object's own program headers (PITFALLS 5).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadGnuDebugdata } from "../debuginfo/index.js";
import { debugCandidates, fileCrc32, type DebugCandidate } from "../debuginfo/locate.js";
import { ElfFile } from "../elf/elf-file.js";
import { ProbecError } from "../errors.js";
import { FileSource } from "../io/file-source.js";
import { resolveInRoot } from "../rootfs/resolve.js";
import { SymbolIndexBuilder, type SymbolIndex } from "./symbol-index.js";
import { tableNames } from "./table-names.js";

/** A function named by a provider other than the ELF symbol tables. */
export interface ProvidedFunction {
  readonly name: string;
  /** Link-time address of its first byte. */
  readonly start: bigint;
  /** Its size in bytes. */
  readonly size: bigint;
}

/**
 * Names for an object that has no `.symtab` anywhere (e.g. Go's pclntab).
 * Returns [] when it has nothing to say about `elf`.
 */
export type NameProvider = (elf: ElfFile) => readonly ProvidedFunction[];

/** Where and how {@link indexObject} looks. */
export interface IndexObjectOptions {
  /**
   * The process's root, as a directory probec can walk (`/proc/PID/root`, or
   * `/proc/self/fd/N` of a directory fd opened on it, which stays valid after
   * the process exits). Undefined: look on the host only.
   */
  readonly root: string | undefined;
  /** Global debug directories, looked for inside the root and then on the host (default `["/usr/lib/debug"]`). */
  readonly debugRoots?: readonly string[];
  /**
   * Extra name providers, asked when no `.symtab` was found; or a function
   * that loads them, called only then (the Go reader is not loaded for an
   * object that has a `.symtab`).
   */
  readonly providers?: readonly NameProvider[] | (() => Promise<readonly NameProvider[]>);
  /** Told about what could not be used (a mismatched debug file, a corrupt `.gnu_debugdata`). */
  readonly onWarning?: (message: string) => void;
}

/** The names of one object, and where they came from. */
export interface ObjectNames {
  readonly index: SymbolIndex;
  /** Where the names came from, in order: `symtab`, `dynsym`, `debuglink:/path`, `build-id:/path`, `gnu_debugdata`, `provider`. */
  readonly sources: readonly string[];
  /** True when a full `.symtab` (own, debug file or MiniDebugInfo) or a provider named the object's functions. */
  readonly complete: boolean;
  /** The debug files opened for it; names are read from them lazily, so they stay open until {@link closeNames}. */
  readonly opened: readonly ElfFile[];
}

/**
 * Builds the index of `elf`, whose path in the process's root is
 * `containerPath` (used to find a debuglink's directory).
 */
export async function indexObject(elf: ElfFile, containerPath: string, options: IndexObjectOptions): Promise<ObjectNames> {
  const builder = new SymbolIndexBuilder();
  const sources: string[] = [];
  const opened: ElfFile[] = [];
  const warn = options.onWarning ?? (() => undefined);
  let complete = false;
  if (builder.addElfTable(elf, "symtab", tableNames) > 0) {
    sources.push("symtab");
    complete = true;
  }
  if (!symtabHoldsDynsym(elf) && builder.addElfTable(elf, "dynsym", tableNames) > 0) sources.push("dynsym");
  if (!complete) {
    const debug = findDebugFile(elf, containerPath, options, warn);
    if (debug !== undefined) {
      opened.push(debug.elf);
      if (builder.addElfTable(debug.elf, "symtab", tableNames) > 0) {
        sources.push(`${debug.via}:${debug.shown}`);
        complete = true;
      }
    }
  }
  try {
    const mini = await loadGnuDebugdata(elf, containerPath);
    if (mini !== undefined && builder.addElfTable(mini.elf, "symtab", tableNames) > 0) {
      opened.push(mini.elf);
      sources.push("gnu_debugdata");
      complete = true;
    }
  } catch (error) {
    if (!(error instanceof ProbecError)) throw error;
    warn(`${containerPath}: .gnu_debugdata not used: ${error.message}`);
  }
  if (!complete) {
    const providers = typeof options.providers === "function" ? await options.providers() : (options.providers ?? []);
    for (const provide of providers) {
      let functions: readonly ProvidedFunction[];
      try {
        functions = provide(elf);
      } catch (error) {
        if (!(error instanceof ProbecError)) throw error;
        warn(`${containerPath}: ${error.message}`);
        continue;
      }
      if (functions.length === 0) continue;
      const id = builder.addSource({ nameOf: (ref) => (functions[ref] as ProvidedFunction).name });
      functions.forEach((f, i) => builder.add(f.start, f.size, 8, id, i, containerPath));
      sources.push("provider");
      complete = true;
    }
  }
  return { index: builder.build(), sources, complete, opened };
}

/**
 * Whether `elf`'s `.dynsym` can be left out: the linker writes every
 * dynamic symbol into `.symtab` as well, with the same value, size and
 * binding, so a full `.symtab` names every function `.dynsym` does, and
 * reading both only to merge the copies costs a third of indexing node
 * (78k functions, each in both tables). A `.symtab` with fewer entries
 * than `.dynsym` is not a full one (`strip --keep-symbol`, a tool that
 * kept a few local names): then `.dynsym` is read too, as before.
 */
function symtabHoldsDynsym(elf: ElfFile): boolean {
  const symtab = elf.symbolTable("symtab");
  const dynsym = elf.symbolTable("dynsym");
  return symtab !== undefined && dynsym !== undefined && symtab.count >= dynsym.count;
}

/** Closes the debug files {@link indexObject} opened. */
export function closeNames(names: ObjectNames): void {
  for (const elf of names.opened) elf.close();
}

interface FoundDebug {
  readonly elf: ElfFile;
  readonly via: DebugCandidate["via"];
  /** How to name it: a container path, or `host:/usr/lib/debug/…`. */
  readonly shown: string;
}

/**
 * The first matching debug file: each candidate inside the root, then the
 * candidates under the global debug directories on the host. A candidate
 * relative to the binary's own directory is never looked for on the host:
 * the host's `/usr/bin/.debug/x.debug` belongs to the host's `/usr/bin/x`.
 */
function findDebugFile(elf: ElfFile, containerPath: string, options: IndexObjectOptions, warn: (message: string) => void): FoundDebug | undefined {
  const debugRoots = options.debugRoots ?? ["/usr/lib/debug"];
  const candidates = containerPath.startsWith("/memfd:")
    ? debugCandidates(elf, undefined, { debugRoots })
    : debugCandidates(elf, containerPath, { debugRoots });
  const places: { host: string; shown: string; candidate: DebugCandidate }[] = [];
  if (options.root !== undefined) {
    for (const candidate of candidates) {
      const host = inRoot(options.root, candidate.path);
      if (host !== undefined) places.push({ host, shown: candidate.path, candidate });
    }
  }
  for (const candidate of candidates) {
    if (debugRoots.some((r) => candidate.path.startsWith(join(r, "/"))) && existsSync(candidate.path)) {
      places.push({ host: candidate.path, shown: `host:${candidate.path}`, candidate });
    }
  }
  for (const { host, shown, candidate } of places) {
    let debug: ElfFile;
    try {
      debug = ElfFile.open(FileSource.open(host), shown);
    } catch (error) {
      if (!(error instanceof ProbecError)) throw error;
      warn(`debug file ${shown} not used: ${error.message}`);
      continue;
    }
    const why = mismatch(debug, candidate, host);
    if (why === undefined) return { elf: debug, via: candidate.via, shown };
    warn(`debug file ${shown} not used: ${why}`);
    debug.close();
  }
  return undefined;
}

function inRoot(root: string, path: string): string | undefined {
  try {
    return resolveInRoot(root, path).hostPath;
  } catch (error) {
    if (error instanceof ProbecError) return undefined;
    throw error;
  }
}

function mismatch(debug: ElfFile, candidate: DebugCandidate, host: string): string | undefined {
  if (candidate.buildId !== undefined && debug.buildId() !== candidate.buildId) {
    return `its build-id ${debug.buildId() ?? "(none)"} differs from the binary's ${candidate.buildId}`;
  }
  if (candidate.crc !== undefined) {
    let crc: number;
    try {
      crc = fileCrc32(host);
    } catch (error) {
      // fileCrc32 reads with plain fs calls: an unreadable file is a reason to skip it, not a crash.
      return error instanceof Error ? error.message : String(error);
    }
    if (crc !== candidate.crc) return `its CRC 0x${crc.toString(16)} differs from the debuglink's 0x${candidate.crc.toString(16)}`;
  }
  return undefined;
}
