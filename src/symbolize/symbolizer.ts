/**
 * `createSymbolizer()`: user stacks (instruction addresses, per pid) to
 * named frames, from the files each process actually maps.
 *
 * The flow for one address: the process's snapshot (snapshot.ts) gives the
 * mapping and the object; the mapping's load bias gives the link-time
 * address; the object's index (object-names.ts, built once per object
 * content) gives the function; the demangler (demangle.ts) the readable
 * name. A snapshot is taken the first time a pid is seen (call
 * {@link Symbolizer.snapshot} as soon as an event names a new pid, so a
 * process that exits before its stack is printed still symbolizes) and
 * retaken when an address falls in no mapping while the process is still
 * alive (a library `dlopen`ed since), at most once a second per process.
 *
 * Return addresses: every frame but the first of a captured stack is a
 * return address, the instruction *after* a call. When the call is the
 * last instruction of a function (a call to a `noreturn` function), that
 * address is already the next function, so frames after the first are
 * looked up at `address - 1`, as perf and GDB do; the printed offset is
 * still from the address itself.
 */
import { NotFoundError, ProbecError } from "../errors.js";
import { DEFAULT_PROC_ROOT } from "../discovery/proc/read.js";
import { isMangled, loadUncachedDemangler, type Demangler } from "./demangle.js";
import type { Frame } from "./frame.js";
import { closeNames, indexObject, type NameProvider, type ObjectNames } from "./object-names.js";
import { SymbolIndexBuilder } from "./symbol-index.js";
import { rangeAt, rangeAtNumber, releaseSnapshot, takeSnapshot, type ObjectHandle, type ObjectRegistry, type ProcessSnapshot } from "./snapshot.js";

/** Options of {@link createSymbolizer}. */
export interface SymbolizerOptions {
  /** Where `/proc` is (tests). */
  readonly procRoot?: string;
  /** Global debug directories, searched inside each process's root and then on the host (default `["/usr/lib/debug"]`). */
  readonly debugRoots?: readonly string[];
  /** Demangle C++ and Rust names (default true). */
  readonly demangle?: boolean;
  /**
   * Name providers for objects without any `.symtab` (default: Go's pclntab,
   * see go-names.ts). Pass `[]` to use ELF tables only.
   */
  readonly providers?: readonly NameProvider[];
  /** Processes whose snapshots are kept at most; the least recently used is dropped past it (default 1024). */
  readonly maxProcesses?: number;
  /** Distinct objects kept open at most (default 4096). */
  readonly maxObjects?: number;
  /** Told once about each thing that could not be used (an unreadable object, a mismatched debug file). */
  readonly onWarning?: (message: string) => void;
}

/** Options of one {@link Symbolizer.symbolize} call. */
export interface SymbolizeOptions {
  /** Treat frames after the first as return addresses (default true; see the module comment). */
  readonly returnAddresses?: boolean;
}

/** What a symbolizer has done so far. */
export interface SymbolizerStats {
  /** Processes with a snapshot kept. */
  readonly processes: number;
  /** Distinct objects opened. */
  readonly objects: number;
  /** Objects indexed, and their functions in total. */
  readonly indexed: number;
  readonly functions: number;
  /** Frames kept to be handed out again for the same address (at most {@link MAX_FRAMES_KEPT}, over every process). */
  readonly framesKept: number;
}

/** Symbolizes user stacks; see {@link createSymbolizer}. */
export interface Symbolizer {
  /** Takes (or retakes) the snapshot of `pid` now. Throws NotFoundError when the process is gone and no snapshot is kept. */
  snapshot(pid: number): void;
  /** Names each address of a stack of process `pid`, innermost first, one {@link Frame} per address. */
  symbolize(pid: number, addresses: readonly bigint[], options?: SymbolizeOptions): Promise<Frame[]>;
  /** Drops the snapshot of `pid` (objects stay indexed for other processes). */
  forget(pid: number): void;
  /** Counters, for reports and the bench. */
  stats(): SymbolizerStats;
  /** Closes every file and descriptor held. */
  close(): void;
}

/** Creates a symbolizer; it holds file descriptors until {@link Symbolizer.close}. */
export function createSymbolizer(options: SymbolizerOptions = {}): Symbolizer {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const maxProcesses = options.maxProcesses ?? 1024;
  const registry: ObjectRegistry = { byKey: new Map(), maxObjects: options.maxObjects ?? 4096 };
  const snapshots = new Map<number, ProcessSnapshot>();
  /** The pid last put at the end of `snapshots` (the most recently used), if it is still there. */
  let newest: number | undefined;
  /** When each pid's snapshot was last retaken for an address in no mapping. */
  const refreshed = new Map<number, number>();
  const warned = new Set<string>();
  const warn = (message: string): void => {
    if (warned.has(message)) return;
    warned.add(message);
    options.onWarning?.(message);
  };
  let providers: Promise<readonly NameProvider[]> | undefined;
  // Go's pclntab reader is loaded only for an object that has no .symtab anywhere.
  const loadProviders = (): Promise<readonly NameProvider[]> => {
    providers ??= options.providers === undefined ? defaultProviders() : Promise.resolve(options.providers);
    return providers;
  };
  let demangler: Demangler | undefined;

  const snapshot = (pid: number): ProcessSnapshot => {
    const taken = takeSnapshot(pid, registry, procRoot);
    for (const problem of taken.problems) warn(problem);
    const old = snapshots.get(pid);
    if (old !== undefined) {
      snapshots.delete(pid);
      release(old);
    }
    snapshots.set(pid, taken);
    newest = pid;
    if (snapshots.size > maxProcesses) {
      const [oldest, dropped] = snapshots.entries().next().value as [number, ProcessSnapshot];
      snapshots.delete(oldest);
      release(dropped);
    }
    return taken;
  };

  const namesOf = async (handle: ObjectHandle): Promise<ObjectNames> => {
    if (handle.ready !== undefined) return handle.ready;
    if (handle.names === undefined) {
      const root = handle.root;
      handle.names = indexObject(handle.elf, handle.containerPath, {
        root: root?.path,
        ...(options.debugRoots === undefined ? {} : { debugRoots: options.debugRoots }),
        providers: loadProviders,
        onWarning: warn,
      })
        .catch((error: unknown) => {
          // A malformed or oversized table (hostile input): its frames print module+0xoffset, with one warning.
          if (!(error instanceof ProbecError)) throw error;
          warn(`${handle.containerPath}: no function names (${error.message})`);
          return { index: new SymbolIndexBuilder().build(), sources: [], complete: false, opened: [] };
        })
        .finally(() => {
          handle.root = undefined;
          root?.release();
        });
    }
    handle.ready = await handle.names;
    return handle.ready;
  };

  const demangling = options.demangle !== false;

  /**
   * A plain function, not an async one: a stack whose objects are indexed
   * (every stack after a process's first) is named synchronously and
   * handed back resolved, without an async function's machinery per call.
   */
  const symbolize = (pid: number, addresses: readonly bigint[], call: SymbolizeOptions = {}): Promise<Frame[]> => {
    try {
      let snap = snapshots.get(pid);
      if (snap === undefined) {
        try {
          snap = snapshot(pid);
        } catch (error) {
          if (!(error instanceof ProbecError)) throw error;
          warn(`process ${pid}: no snapshot of its mappings (${error.message}); its frames print as [unknown]`);
          return Promise.resolve(addresses.map(unknownFrame));
        }
      } else if (newest !== pid) {
        // Most recently used last, for the LRU (a run of stacks of one process moves nothing).
        snapshots.delete(pid);
        snapshots.set(pid, snap);
        newest = pid;
      }
      const adjust = call.returnAddresses ?? true;
      const done = frameStack(pid, snap, addresses, adjust);
      return Array.isArray(done) ? Promise.resolve(done) : symbolizeAfter(done, pid, snap, addresses, adjust);
    } catch (error) {
      return Promise.reject(error);
    }
  };

  /** The rest of {@link symbolize} when an object's index or the demangler must be awaited first (once each per symbolizer). */
  const symbolizeAfter = async (
    first: Promise<unknown>,
    pid: number,
    from: ProcessSnapshot,
    addresses: readonly bigint[],
    adjust: boolean,
  ): Promise<Frame[]> => {
    let pending = first;
    let snap = from;
    for (;;) {
      await pending;
      snap = snapshots.get(pid) ?? snap;
      const done = frameStack(pid, snap, addresses, adjust);
      if (Array.isArray(done)) return done;
      pending = done;
    }
  };

  /**
   * The frames of one stack, synchronously, or what must be awaited first
   * (an object's index, the demangler); the caller awaits it and asks again.
   * Synchronous so that the loop over every frame is plain optimised code:
   * inside the async function, each local lived in its generator object.
   */
  const frameStack = (pid: number, first: ProcessSnapshot, addresses: readonly bigint[], adjust: boolean): Frame[] | Promise<unknown> => {
    let snap = first;
    let kept = framesOf(snap);
    const count = addresses.length;
    const frames = new Array<Frame>(count);
    let retried = false;
    for (let i = 0; i < count; i++) {
      const address = addresses[i] as bigint;
      // Addresses, biases and link-time addresses are numbers where they are exact (every real one), bigints otherwise.
      // A bigint converts to a safe integer exactly when it is one (from 0 to 2^53 - 1 here): no bigint comparison needed.
      const converted = Number(address);
      const a = converted >= 0 && Number.isSafeInteger(converted) ? converted : -1;
      const at = adjust && i > 0 ? 1 : 0;
      // The same spot named before in this snapshot: the same frame (below 2^52, so that key is exact).
      const key = a >= 0 && a < MAX_FRAME_KEY_ADDRESS ? a * 2 + at : -1;
      if (key >= 0) {
        const known = kept.byKey.get(key);
        if (known !== undefined) {
          kept.hits++;
          frames[i] = known;
          continue;
        }
      }
      const range = a >= 0 ? rangeAtNumber(snap, a) : rangeAt(snap, address);
      if (range === undefined) {
        // An address in no mapping: a library dlopened since the snapshot? Retake it (once a call, at most once a second) and start over.
        if (!retried) {
          retried = true;
          const now = Date.now();
          if (now - (refreshed.get(pid) ?? 0) >= REFRESH_MS) {
            refreshed.set(pid, now);
            try {
              snap = snapshot(pid);
              kept = framesOf(snap);
              i = -1;
              continue;
            } catch (error) {
              if (!(error instanceof NotFoundError) && !(error instanceof ProbecError)) throw error;
              // Gone: the kept snapshot is all there is.
            }
          }
        }
        frames[i] = unknownFrame(address);
        continue;
      }
      const offset = address + range.fileDelta;
      const bias = range.bias;
      // A non-PIE executable's bias is 0: no new bigint for it.
      const elfAddress = bias === undefined ? undefined : range.biasNumber === 0 ? address : address - bias;
      let symbol: string | undefined;
      let symbolOffset: bigint | undefined;
      let name: string | undefined;
      const handle = range.object;
      if (handle !== undefined && elfAddress !== undefined) {
        const names = handle.ready;
        if (names === undefined) return namesOf(handle);
        const index = names.index;
        const elf = a >= 0 && range.biasNumber !== undefined ? a - range.biasNumber : Number.NaN;
        // Exact when it is a safe integer (rounding never brings a larger one below 2^53); else the bigint path decides.
        const numeric = Number.isSafeInteger(elf);
        const entry = numeric ? index.entryAtNumber(elf - at) : index.entryAt(elfAddress - BigInt(at));
        if (entry >= 0) {
          let known = handle.known;
          if (known === undefined) {
            known = new Array<string | undefined>(2 * index.size);
            handle.known = known;
          }
          symbol = known[2 * entry];
          if (symbol !== undefined) name = known[2 * entry + 1];
          else {
            try {
              symbol = index.readNameAt(entry);
            } catch (error) {
              // A name past its string table's end (hostile input): this frame prints module+0xoffset.
              if (!(error instanceof ProbecError)) throw error;
              warn(`${handle.containerPath}: a function name could not be read (${error.message})`);
            }
            if (symbol !== undefined) {
              const mangled = demangling && isMangled(symbol);
              // Loaded once per symbolizer, on the first mangled name.
              if (mangled && demangler === undefined) {
                return loadUncachedDemangler().then((loaded) => {
                  demangler = loaded;
                });
              }
              name = mangled && demangler !== undefined ? demangler(symbol) : symbol;
              known[2 * entry] = symbol;
              known[2 * entry + 1] = name;
            }
          }
          // Both below 2^53 (the index holds no entry above): the difference is exact.
          if (symbol !== undefined) symbolOffset = BigInt((numeric ? elf : Number(elfAddress)) - index.startAt(entry));
        }
      }
      const frame: Frame = { address, module: range.module, offset, elfAddress, symbol, symbolOffset, name, inlined: false };
      frames[i] = frame;
      // Kept while they are asked again: 10,000 stacks of 16 random functions each (148k distinct addresses) would only pay for them.
      if (key >= 0 && framesKept < MAX_FRAMES_KEPT && (kept.byKey.size < FRAMES_ON_PROBATION || 2 * kept.hits >= kept.byKey.size)) {
        kept.byKey.set(key, frame);
        framesKept++;
      }
    }
    return frames;
  };

  /**
   * The frames already made for a snapshot, by address (twice the address,
   * plus 1 when it was looked up as a return address). Real stacks repeat:
   * 10,000 distinct malloc stacks of node hold 220,000 frames but 3,520
   * distinct addresses, so most frames are found here instead of being
   * looked up and allocated again. Frames are immutable, so stacks share
   * them. Kept with the snapshot and dropped with it: a retaken one (a
   * library mapped since) starts empty, since an address may name another
   * object now. Addresses in no mapping are not kept, so that they still
   * trigger that retake. At most {@link MAX_FRAMES_KEPT} in all, whatever
   * the number of processes, and past {@link FRAMES_ON_PROBATION} only
   * while they are asked again.
   */
  const framesOf = (snap: ProcessSnapshot): KeptFrames => {
    let kept = framesBySnapshot.get(snap);
    if (kept === undefined) {
      kept = { byKey: new Map(), hits: 0 };
      framesBySnapshot.set(snap, kept);
    }
    return kept;
  };
  const framesBySnapshot = new Map<ProcessSnapshot, KeptFrames>();
  let framesKept = 0;

  /** Lets a snapshot go, with the frames kept for it. */
  const release = (snap: ProcessSnapshot): void => {
    framesKept -= framesBySnapshot.get(snap)?.byKey.size ?? 0;
    framesBySnapshot.delete(snap);
    releaseSnapshot(snap);
  };

  return {
    snapshot: (pid) => void snapshot(pid),
    symbolize,
    forget(pid) {
      const snap = snapshots.get(pid);
      if (snap === undefined) return;
      snapshots.delete(pid);
      if (newest === pid) newest = undefined;
      refreshed.delete(pid);
      release(snap);
    },
    stats() {
      const handles = new Set(registry.byKey.values());
      let indexed = 0;
      let functions = 0;
      for (const h of handles) {
        if (h.ready === undefined) continue;
        indexed++;
        functions += h.ready.index.size;
      }
      return { processes: snapshots.size, objects: handles.size, indexed, functions, framesKept };
    },
    close() {
      for (const snap of snapshots.values()) release(snap);
      snapshots.clear();
      newest = undefined;
      for (const handle of new Set(registry.byKey.values())) {
        handle.root?.release();
        handle.root = undefined;
        if (handle.ready !== undefined) closeNames(handle.ready);
        handle.elf.close();
      }
      registry.byKey.clear();
    },
  };
}

/**
 * Least time between two retakes of one process's snapshot for addresses in
 * no mapping: a JIT's code (anonymous memory) is in no mapping for good, and
 * re-reading maps for each of its stacks would cost more than the rest.
 */
const REFRESH_MS = 1000;

/** Frames kept at most, over every snapshot (a few hundred bytes each): past it, new addresses are named as before, uncached. */
export const MAX_FRAMES_KEPT = 1 << 15;
/**
 * Frames a snapshot keeps before they must earn their place: past it, a
 * new one is kept only while the kept ones have been asked again at least
 * once for every two of them. Kept frames that are never asked again only cost
 * (they outlive the young generation, which V8 then grows: 20 MiB more for
 * the synthetic stacks of bench task (o)).
 */
export const FRAMES_ON_PROBATION = 4096;

/** The frames kept for one snapshot, and how often they were handed out again. */
interface KeptFrames {
  readonly byKey: Map<number, Frame>;
  hits: number;
}
/** Addresses from here up are not kept: twice the address would no longer be exact. */
const MAX_FRAME_KEY_ADDRESS = 2 ** 52;

function unknownFrame(address: bigint): Frame {
  return { address, module: undefined, offset: undefined, elfAddress: undefined, symbol: undefined, symbolOffset: undefined, name: undefined, inlined: false };
}

/** Go's pclntab, loaded on first need (it pulls in the Go reader). */
async function defaultProviders(): Promise<readonly NameProvider[]> {
  const { goNames } = await import("./go-names.js");
  return [goNames];
}
