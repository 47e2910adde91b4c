/**
 * What a resolved scope maps: one process per mount namespace (the
 * processes of one namespace see the same files), and the file-backed
 * objects each maps, with the `/proc/<pid>/map_files/…` path that opens the
 * very file mapped (PITFALLS 4: not the path, which may name another file
 * in another root). `probec resolve SCOPE` shows it and `probec list SCOPE`
 * looks for USDT probes in it; both ask here rather than walking /proc
 * themselves.
 */
import { mappedObjectsOf } from "./object.js";
import { mapFilesPath, type MappedObject } from "./proc/maps.js";
import type { ResolvedScope } from "./scope.js";

/** One mount namespace of a scope, seen through one of its processes. */
export interface ScopeNamespace {
  /** The mount namespace's inode (0 for the host scope's stand-in). */
  readonly mntNs: number;
  /** The process it is seen through: the first of the scope's processes in it. */
  readonly pid: number;
  /** Its root as probec reaches it: `/proc/<pid>/root`. */
  readonly root: string;
  /** The files and memfds it maps, each with the map_files path that opens it. */
  readonly objects: readonly ScopeObject[];
}

/** One mapped object, and where to open it. */
export interface ScopeObject extends MappedObject {
  /** `/proc/<pid>/map_files/<start>-<end>`: opens the mapped file itself, even deleted or in another root. */
  readonly mapFiles: string;
}

/** Options of {@link scopeNamespaces}. */
export interface ScopeNamespaceOptions {
  /**
   * For the `host` scope (which has no processes of its own): the process to
   * see the host through, e.g. `process.pid`. Without it the host scope has
   * no namespaces.
   */
  readonly hostPid?: number;
}

/** The scope's mount namespaces, in the order of their first process, each with what it maps. */
export function scopeNamespaces(scope: ResolvedScope, options: ScopeNamespaceOptions = {}): ScopeNamespace[] {
  const representatives = new Map<number, number>();
  if (scope.runtime === "host") {
    if (options.hostPid !== undefined) representatives.set(0, options.hostPid);
  } else {
    for (const p of scope.processes) if (!representatives.has(p.mntNs)) representatives.set(p.mntNs, p.pid);
  }
  return [...representatives].map(([mntNs, pid]) => ({
    mntNs,
    pid,
    root: `/proc/${pid}/root`,
    objects: mappedObjectsOf(pid)
      .filter((o) => o.kind === "file" || o.kind === "memfd")
      .map((o) => ({ ...o, mapFiles: mapFilesPath(pid, o.mapFilesRange.start, o.mapFilesRange.end) })),
  }));
}
