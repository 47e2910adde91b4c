/**
 * `resolveTarget("docker/zookeeper:libzookeeper_mt:zoo_set2")`: from a
 * target spec to every matching site, with its provenance.
 *
 * The scope gives processes; processes that share a mount namespace see the
 * same files, so the object is resolved once per namespace, in a process of
 * that namespace, and the location is found in the file that process
 * actually maps (or would load).
 *
 * An object written as a glob (`"/tmp/salp-demo-*.so"`,
 * `"memfd:libstapsdt:*"`) names every object the scope's processes map
 * that it matches: one group per distinct file (device and inode), holding
 * the processes that map it, so that each is planned on its own. Objects
 * of the glob that lack the location are passed over; none having it is
 * the location's own not-found error.
 */
import { ElfFile } from "../elf/elf-file.js";
import type { FoundSymbol } from "../elf/find-symbol.js";
import { NotFoundError, ProbecError, UsageError } from "../errors.js";
import { FileSource } from "../io/file-source.js";
import { loadX86Decoder } from "../golang/index.js";
import { codeOf, functionCodeOf, type FunctionCode, type ObjectCode } from "../locate/code.js";
import type { CpythonTracing } from "../locate/cpython.js";
import { locateIn } from "../locate/locate.js";
import type { UsdtSite } from "../usdt/notes.js";
import { isObjectGlob, resolveObject, resolveObjects, type ResolvedObject } from "./object.js";
import type { ProcessInfo } from "./processes.js";
import { resolveScope, type ResolvedScope, type ScopeOptions } from "./scope.js";
import { parseTargetSpec, type TargetSpec } from "../dsl/target-spec.js";

/** The object and sites of one mount namespace of the scope. */
export interface ObjectGroup {
  /** The mount-namespace inode the processes share. */
  readonly mntNs: number;
  /** The scope's processes in this namespace (empty for the host scope). */
  readonly processes: readonly ProcessInfo[];
  readonly object: ResolvedObject;
  /** Matching USDT sites, when the location was `provider:name`. */
  readonly usdt: readonly UsdtSite[] | undefined;
  /** Matching functions (or the address), when the location was a symbol, glob, `sym+off` or address. */
  readonly symbols: readonly FoundSymbol[] | undefined;
  /** The object's kind of code (Go or C, and the machine); absent: C (a group built by hand). */
  readonly code?: ObjectCode;
  /** The code of each of {@link symbols}, in the same order: its ABI and, in a Go binary, its return instructions. */
  readonly functions?: readonly FunctionCode[] | undefined;
  /** When {@link usdt} holds CPython 3.11's function__entry: the `python:line` semaphore that makes them fire, and why. */
  readonly cpythonTracing?: CpythonTracing;
}

/** A target, resolved. */
export interface TargetResolution {
  readonly spec: TargetSpec;
  readonly scope: ResolvedScope;
  readonly groups: readonly ObjectGroup[];
}

/** Options for {@link resolveTarget}. */
export interface ResolveTargetOptions extends ScopeOptions {
  /** Accept an IFUNC symbol (see `findSymbol`). */
  readonly allowIfunc?: boolean;
  /**
   * Resolutions to share across calls that look at one moment of the
   * machine (a whole probe file): scopes by their text, objects by process
   * and request. A compile of 100 probes over 10 containers then scans
   * /proc 10 times instead of 100.
   */
  readonly cache?: ResolutionCache;
}

/** See {@link ResolveTargetOptions.cache}; create one with {@link newResolutionCache}. */
export interface ResolutionCache {
  readonly scopes: Map<string, Promise<ResolvedScope>>;
  readonly objects: Map<string, ResolvedObject>;
}

/** An empty {@link ResolutionCache}. */
export function newResolutionCache(): ResolutionCache {
  return { scopes: new Map(), objects: new Map() };
}

/**
 * Resolves `SCOPE:OBJECT[:LOCATION]`. Throws a `UsageError` when the spec
 * names no object, and the usual typed errors when a container, object or
 * location does not exist (each names what exists instead).
 */
export async function resolveTarget(target: string | TargetSpec, options: ResolveTargetOptions = {}): Promise<TargetResolution> {
  const spec = typeof target === "string" ? parseTargetSpec(target) : target;
  if (spec.object === undefined) {
    throw new UsageError(`target "${spec.text}" names no object`, ["add one: SCOPE:libc, SCOPE:exe or SCOPE:/path/in/container"]);
  }
  // `memfd:NAME` unquoted was cut at its first `:`; an object named just "memfd" is taken for that mistake.
  if (spec.object === "memfd") {
    throw new UsageError(`target "${spec.text}": the object is "memfd", cut at its ':'`, [
      `quote a memfd's name, which holds ':': SCOPE:"memfd:NAME":LOCATION`,
    ]);
  }
  const scope = await cachedScope(spec, options);
  // A Go function's return instructions are decoded with iced-x86, which loads itself synchronously only on Node 20.16+.
  if (spec.location !== undefined && typeof process.getBuiltinModule !== "function") await loadX86Decoder();
  if (isObjectGlob(spec.object)) return { spec, scope, groups: globGroups(spec, spec.object, scope, options) };
  const groups: ObjectGroup[] = [];
  for (const [mntNs, processes] of byMountNamespace(scope)) {
    const representative = processes[0]?.pid ?? process.pid;
    const object = cachedObject(representative, spec.object, options.cache);
    const elf = openObject(spec, object);
    try {
      groups.push({ mntNs, processes, object, ...located(elf, spec.location, options) });
    } finally {
      elf.close();
    }
  }
  return { spec, scope, groups };
}

/** The sites of `location` in `elf`, with the code they are in. */
function located(
  elf: ElfFile,
  location: string | undefined,
  options: ResolveTargetOptions,
): Pick<ObjectGroup, "usdt" | "symbols" | "code" | "functions" | "cpythonTracing"> {
  const sites = locateIn(elf, location, options);
  const code = codeOf(elf);
  return { ...sites, code, functions: sites.symbols?.map((s) => functionCodeOf(elf, code, s)) };
}

/** One group per distinct mapped file the glob `pattern` matches, in the processes that map it. */
function globGroups(spec: TargetSpec, pattern: string, scope: ResolvedScope, options: ResolveTargetOptions): ObjectGroup[] {
  const found = new Map<string, { mntNs: number; object: ResolvedObject; processes: ProcessInfo[] }>();
  for (const [mntNs, processes] of byMountNamespace(scope)) {
    const pids = processes.length === 0 ? [{ pid: process.pid, info: undefined }] : processes.map((p) => ({ pid: p.pid, info: p }));
    for (const { pid, info } of pids) {
      for (const object of resolveObjects(pid, pattern)) {
        const key = `${object.identity.dev}:${object.identity.ino}`;
        const entry = found.get(key) ?? { mntNs, object, processes: [] };
        if (info !== undefined) entry.processes.push(info);
        found.set(key, entry);
      }
    }
  }
  if (found.size === 0) {
    throw new NotFoundError(`target "${spec.text}": no object the scope's processes map matches "${pattern}"`, [
      "`probec list SCOPE` lists the objects and their probes; a memfd is matched as memfd:NAME, a deleted file by its old path",
    ]);
  }
  const groups: ObjectGroup[] = [];
  let firstMiss: unknown;
  for (const { mntNs, object, processes } of found.values()) {
    // A glob may also match what is not a program (a locale archive, a data file): passed over like a miss.
    let elf: ElfFile;
    try {
      elf = openObject(spec, object);
    } catch (error) {
      if (!(error instanceof ProbecError && error.code === "E_FORMAT")) throw error;
      firstMiss ??= error;
      continue;
    }
    try {
      groups.push({ mntNs, processes, object, ...located(elf, spec.location, options) });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      firstMiss ??= error;
    } finally {
      elf.close();
    }
  }
  if (groups.length === 0) throw firstMiss;
  return groups;
}

function cachedScope(spec: TargetSpec, options: ResolveTargetOptions): Promise<ResolvedScope> {
  const key = spec.text.split(":")[0] ?? spec.text;
  const cache = options.cache?.scopes;
  let scope = cache?.get(key);
  if (scope === undefined) {
    scope = resolveScope(spec.scope, options);
    cache?.set(key, scope);
  }
  return scope;
}

function cachedObject(pid: number, request: string, cache: ResolutionCache | undefined): ResolvedObject {
  const key = `${pid}\0${request}`;
  let object = cache?.objects.get(key);
  if (object === undefined) {
    object = resolveObject(pid, request);
    cache?.objects.set(key, object);
  }
  return object;
}

/** Opens what the object's process runs, named `SCOPE:container-path` in every message. */
export function openObject(spec: TargetSpec, object: ResolvedObject): ElfFile {
  const scopeText = spec.text.split(":")[0] ?? spec.text;
  return ElfFile.open(FileSource.open(object.readPath), `${scopeText}:${object.containerPath}`);
}

/** The scope's processes grouped by mount namespace; the host scope is one group of none. */
function byMountNamespace(scope: ResolvedScope): Map<number, ProcessInfo[]> {
  const groups = new Map<number, ProcessInfo[]>();
  if (scope.runtime === "host") {
    groups.set(0, []);
    return groups;
  }
  for (const p of scope.processes) {
    const list = groups.get(p.mntNs) ?? [];
    list.push(p);
    groups.set(p.mntNs, list);
  }
  // A followed selector scope (`--follow`) may pick no container yet: no group, not an error (issue 14).
  if (groups.size === 0 && scope.containers === undefined) throw new NotFoundError(`the ${scope.runtime} scope has no running process`);
  return groups;
}
