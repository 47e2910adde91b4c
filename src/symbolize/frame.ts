/**
 * A symbolized stack frame, and the one way frames are printed.
 *
 * A frame that cannot be named is printed `module+0xOFFSET` (the file
 * offset in the object, what a uprobe on that spot would take), or
 * `[unknown]` when the address is in no file mapping at all, as perf and
 * bpftrace print it. Never the nearest lower symbol: that is the wrong name
 * a reader trusts.
 */

/** One frame of a user stack. */
export interface Frame {
  /** The instruction address as captured. */
  readonly address: bigint;
  /**
   * The object holding it, as the process names it: a path inside its root
   * (`/usr/lib/x86_64-linux-gnu/libc.so.6`), `/memfd:NAME`, or a kernel
   * name (`[vdso]`). Undefined when the address is in no executable mapping.
   */
  readonly module: string | undefined;
  /** Offset of the address in the module's file (or in the mapping, for a kernel-named one). */
  readonly offset: bigint | undefined;
  /** The module's link-time virtual address of this spot (what `addr2line -e MODULE` takes); undefined when unknown. */
  readonly elfAddress: bigint | undefined;
  /** The function's symbol name as stored (mangled), or undefined when no function covers the address. */
  readonly symbol: string | undefined;
  /** Bytes from the function's start to the address. */
  readonly symbolOffset: bigint | undefined;
  /** The readable name: demangled when the symbol was a C++ or Rust name, else the symbol. */
  readonly name: string | undefined;
  /** Always false: frames are not expanded into inlined calls (that needs DWARF line tables, which probec does not read). */
  readonly inlined: false;
}

/** How {@link formatFrame} prints. */
export interface FormatFrameOptions {
  /** Append `+0xOFF` to named frames (default true); folded stacks leave it off so that calls from different spots merge. */
  readonly offsets?: boolean;
  /** Print the mangled symbol instead of the demangled name. */
  readonly mangled?: boolean;
}

/** `name+0x1a`, `name`, `module+0x1139`, `[vdso]+0x9a0` or `[unknown]`. */
export function formatFrame(frame: Frame, options: FormatFrameOptions = {}): string {
  const name = options.mangled === true ? frame.symbol : frame.name;
  if (name !== undefined) {
    if (options.offsets === false || frame.symbolOffset === undefined) return name;
    return `${name}+0x${frame.symbolOffset.toString(16)}`;
  }
  if (frame.module !== undefined && frame.offset !== undefined) return `${frame.module}+0x${frame.offset.toString(16)}`;
  return UNKNOWN_FRAME;
}

/** What a frame in no executable mapping prints as. */
export const UNKNOWN_FRAME = "[unknown]";
