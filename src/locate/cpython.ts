/**
 * CPython 3.11's function probes, and what makes them fire (PITFALLS 34,
 * issue 10).
 *
 * CPython has fired `python:function__entry` and `python:function__return`
 * from its eval loop since 3.6. 3.11 rebuilt the loop (python/cpython
 * gh-98894, "Some DTrace probes are broken in 3.11"): `DTRACE_FUNCTION_ENTRY()`
 * now runs only on the `DO_TRACING` path (at a `RESUME`), which a frame
 * takes when `cframe.use_tracing` is set (a `sys.settrace`/`setprofile`
 * hook) or when `PyDTrace_LINE_ENABLED()` is true, i.e. when the semaphore
 * of `python:line` is raised (Python/ceval.c 3.11: `opcode |=
 * cframe.use_tracing OR_DTRACE_LINE`, with `OR_DTRACE_LINE` = `|
 * (PyDTrace_LINE_ENABLED() ? 255 : 0)`). So on 3.11 a tracer that asks for
 * function__entry sees nothing, bpftrace included; raising `python:line`'s
 * semaphore makes it fire. `DTRACE_FUNCTION_RETURN()` stayed in
 * `RETURN_VALUE`, outside that path: function__return fires on 3.11 as it
 * is (test/attach/e2e/cpython-function-probes.test.ts counts both). Other
 * versions need nothing: up to 3.10 both fire on every call; 3.12 to 3.14
 * have no function__entry/return notes at all (gh-110385, so there is
 * nothing to attach); 3.15 fires them at `start_frame` again (gh-142397).
 *
 * The version comes from the binary itself: `Py_Version`, the exported
 * `const unsigned long` holding `PY_VERSION_HEX`, added in 3.11 (absent
 * earlier, which is fine: earlier versions need nothing).
 *
 * Pure: reads the ELF it is given.
 */
import type { ElfFile } from "../elf/elf-file.js";
import { listSymbolsIn } from "../elf/list-symbols.js";
import { readRange } from "../io/byte-source.js";
import { readUsdtSites, type UsdtSite } from "../usdt/notes.js";

/** What a probe on CPython's function__entry needs before it fires. */
export interface CpythonTracing {
  /** The CPython version, `3.11.2`, from `Py_Version`. */
  readonly version: string;
  /** The `python:line` sites whose semaphore must be raised (they share one semaphore in CPython's build). */
  readonly lineSites: readonly UsdtSite[];
  /** Why, in one sentence, for the warning and the plan. */
  readonly reason: string;
}

/** The probes CPython 3.11 fires only while tracing is on. */
const TRACING_ONLY = new Set(["function__entry"]);

/**
 * When `sites` (the USDT sites a probe matched in `elf`) include CPython's
 * function__entry and `elf` is a CPython whose version fires it only while
 * `python:line`'s semaphore is raised, what to raise and why; else
 * undefined.
 */
export function cpythonTracingNeed(elf: ElfFile, sites: readonly UsdtSite[]): CpythonTracing | undefined {
  const asked = sites.filter((s) => s.provider === "python" && TRACING_ONLY.has(s.name));
  if (asked.length === 0) return undefined;
  const hex = cpythonVersionHex(elf);
  if (hex === undefined) return undefined;
  const [major, minor, micro] = [(hex >>> 24) & 0xff, (hex >>> 16) & 0xff, (hex >>> 8) & 0xff];
  if (major !== 3 || minor !== 11) return undefined;
  const lineSites = readUsdtSites(elf, { provider: "python", name: "line" }).filter((s) => s.semaphoreOffset !== undefined);
  if (lineSites.length === 0) return undefined;
  const version = `${major}.${minor}.${micro}`;
  return {
    version,
    lineSites,
    reason: `CPython ${version} fires python:function__entry only while tracing is on (python/cpython gh-98894), so probec raises python:line's semaphore for the traced processes, without reporting line events; every executed line then takes CPython's slower tracing path`,
  };
}

/** `PY_VERSION_HEX` from the exported `Py_Version` (CPython 3.11+), or undefined when there is none. */
export function cpythonVersionHex(elf: ElfFile): number | undefined {
  const symbol = listSymbolsIn(elf, { pattern: "Py_Version", types: ["object"] }).find((s) => s.size === 4 || s.size === 8);
  if (symbol === undefined) return undefined;
  const bytes = readRange(elf.source, symbol.fileOffset, symbol.size, `${elf.name}: Py_Version`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // PY_VERSION_HEX fits 32 bits; on a 64-bit big-endian file it is the low word, the last four bytes.
  const low = elf.header.littleEndian ? 0 : symbol.size - 4;
  return view.getUint32(low, elf.header.littleEndian);
}
