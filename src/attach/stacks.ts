/**
 * The user stacks an attachment receives, named: the `ustack` fields of
 * events and the `ustack` keys of aggregations, both symbolized with one
 * {@link Symbolizer} (src/symbolize) from the files each process maps.
 *
 * Timing is what makes a container's stacks name right: the attacher sends
 * `stackProcess` the first time a process's stack is captured, and its
 * mappings are snapshotted then, while it still runs; its stacks, printed
 * later (at the end of an interval, at exit), are named from that snapshot
 * even when the process has exited since.
 *
 * The symbolizer and its library (ELF symbols, debug files, demanglers) are
 * loaded only when a plan captures a stack, so that attaching plans without
 * stacks costs none of it.
 */
import { ProbecError } from "../errors.js";
import { formatFrame } from "../symbolize/frame.js";
import type { Symbolizer, SymbolizerOptions } from "../symbolize/symbolizer.js";
import type { StackKey } from "./aggregate-types.js";

/** How an attachment symbolizes stacks (see `AttachOptions`). */
export interface StackOptions {
  /** A symbolizer to use (left open at the end); default: one made when the first stack-capturing entry is attached, closed with the attachment. */
  readonly symbolizer?: Symbolizer;
  /** Options of the symbolizer made by default (its `onWarning` is {@link onWarning}). */
  readonly symbolizerOptions?: Omit<SymbolizerOptions, "onWarning">;
  /** Told once about each thing that could not be used (an unreadable object, a process gone before its snapshot). */
  readonly onWarning?: (message: string) => void;
}

/** Distinct stacks kept named, so that the same stack in each interval report is symbolized once. */
const MAX_CACHED_STACKS = 65_536;

/** Names stacks for one attachment. */
export class StackNamer {
  private symbolizer: Symbolizer | undefined;
  private loading: Promise<Symbolizer> | undefined;
  private readonly owned: boolean;
  private readonly cache = new Map<string, StackKey>();
  private closed = false;

  constructor(private readonly options: StackOptions = {}) {
    this.symbolizer = options.symbolizer;
    this.owned = options.symbolizer === undefined;
  }

  /** Starts loading the symbolizer (an entry that captures stacks is about to be attached). */
  want(): void {
    if (this.symbolizer !== undefined || this.loading !== undefined || this.closed) return;
    this.loading = import("../symbolize/symbolizer.js").then(({ createSymbolizer }) => {
      const made = createSymbolizer({ ...this.options.symbolizerOptions, onWarning: (message) => this.options.onWarning?.(message) });
      if (this.closed) made.close();
      else this.symbolizer = made;
      return made;
    });
    // Awaited by whoever needs it; a failure to load is theirs to report.
    this.loading.catch(() => undefined);
  }

  /** Settles once the symbolizer is loaded (at once when it is, or when no stack was wanted). */
  async ready(): Promise<void> {
    await this.loading?.catch(() => undefined);
  }

  /**
   * A process whose stack was just captured for the first time: its
   * mappings are read now, while it still runs (a `stackProcess` status).
   */
  process(pid: number): void {
    if (this.symbolizer !== undefined) {
      this.snapshot(this.symbolizer, pid);
      return;
    }
    this.want();
    // Still loading (a few ms after attach at most): snapshot as soon as it is there, before any stack is named.
    void this.loading?.then((s) => this.snapshot(s, pid)).catch(() => undefined);
  }

  private snapshot(symbolizer: Symbolizer, pid: number): void {
    if (this.closed) return;
    try {
      symbolizer.snapshot(pid);
    } catch (error) {
      if (!(error instanceof ProbecError)) throw error;
      this.options.onWarning?.(`process ${pid} exited before its mappings could be read: its frames print as [unknown] (${error.message})`);
    }
  }

  /** Names the stack `addresses` (innermost first) of process `pid`. */
  async name(pid: number, addresses: readonly bigint[]): Promise<StackKey> {
    const id = `${pid}:${addresses.join(",")}`;
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached;
    this.want();
    const symbolizer = this.symbolizer ?? (await this.loading);
    if (symbolizer === undefined || this.closed) return unnamed(pid, addresses);
    const frames = await symbolizer.symbolize(pid, addresses);
    const key: StackKey = {
      kind: "stack",
      pid,
      frames: frames.map((f) => formatFrame(f)),
      functions: frames.map((f) => formatFrame(f, { offsets: false })),
      addresses,
    };
    if (this.cache.size >= MAX_CACHED_STACKS) this.cache.clear();
    this.cache.set(id, key);
    return key;
  }

  /** Closes the symbolizer this namer made (not one it was given). */
  close(): void {
    this.closed = true;
    if (this.owned) this.symbolizer?.close();
    this.symbolizer = undefined;
    this.cache.clear();
  }
}

/** A stack that could not be named at all (the attachment closed first): its addresses in hex. */
function unnamed(pid: number, addresses: readonly bigint[]): StackKey {
  const hex = addresses.map((a) => `0x${a.toString(16)}`);
  return { kind: "stack", pid, frames: hex, functions: hex, addresses };
}
