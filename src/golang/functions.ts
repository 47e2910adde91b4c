/**
 * `goFunctions(elf)`: every function the pclntab names, with the entry
 * address, the end, and the file offset a uprobe needs: what `go tool nm`
 * prints for `T` symbols, but also for binaries linked with `-s -w`, whose
 * ELF symbol tables are gone.
 *
 * `_func` records (Go's `runtime/runtime2.go` `_func`, facts only) start
 * with the entry (a word before 1.18, a `u32` offset from the text start
 * after) and the name's offset (`i32`, into the function-name table; before
 * 1.16 into the pclntab itself); nine `u32`s in (1.18), ten (1.20, which
 * adds `startLine`), or a word and eight `u32`s (1.16) in come the `funcID`
 * and `flag` bytes.
 *
 * A function ends where the next one starts (the table is sorted, and its
 * last entry is the end of the text), so `size` includes the alignment
 * padding after the code: INT3 on x86-64, zero words on arm64.
 *
 * The table and the name table are each read once and kept per file (they
 * are the bytes every question needs); nothing else of the pclntab is read.
 *
 * Pure: no `node:*`.
 */
import type { ElfFile } from "../elf/elf-file.js";
import { hex } from "../elf/fields.js";
import { FormatError, inFile, LimitError } from "../errors.js";
import { readRange } from "../io/byte-source.js";
import { findPclntab, MAX_PCLNTAB, type Pclntab } from "./pclntab.js";

/** One Go function from the pclntab. */
export interface GoFunction {
  /** As Go prints it: `main.work`, `net/http.(*Server).Serve`, `main.work.func1`. */
  readonly name: string;
  /** Link-time entry address. */
  readonly entry: bigint;
  /** The next function's entry (or the end of the text): the function and its padding lie in [entry, end). */
  readonly end: bigint;
  /** `end - entry`, padding included. */
  readonly size: number;
  /** File offset of the entry, from the executable `PT_LOAD` holding it; undefined when no such segment holds it. */
  readonly fileOffset: number | undefined;
  /** The runtime's `funcID` byte (0 for ordinary functions); undefined before the 1.16 format. */
  readonly funcId: number | undefined;
  /** The `funcFlag` byte (1 TOPFRAME, 2 SPWRITE, 4 ASM); undefined before the 1.18 format. */
  readonly funcFlag: number | undefined;
  /**
   * True for a function written in Go assembly (`funcFlag_ASM`), which takes its
   * arguments on the stack (ABI0). Undefined when the table cannot say (formats
   * before 1.18; runtimes that predate the flag leave it clear).
   */
  readonly isAsm: boolean | undefined;
  /**
   * The calling convention when the table tells it apart from the binary's
   * (see `GoBinaryInfo.abi`): `ABI0` for assembly and for the ABI0 wrapper the
   * compiler adds beside a Go function that assembly calls; `ABIInternal`
   * for the wrapper beside an assembly function that Go calls; undefined
   * for ordinary functions, which use the binary's convention.
   */
  readonly abi: "ABI0" | "ABIInternal" | undefined;
  /**
   * True for a compiler-generated ABI wrapper: a second function with the
   * same name (the ELF symbol table calls the ABI0 one `name.abi0`). The
   * other of the pair holds the code a probe wants.
   */
  readonly isAbiWrapper: boolean;
}

/** Bit of `funcFlag` that marks an assembly function (Go's `runtime/symtab.go`, `funcFlag_ASM`). */
export const FUNC_FLAG_ASM = 4;
/** Longest function name read (generic instantiations can be long; real ones stay far below). */
export const MAX_GO_NAME = 64 * 1024;

interface Loaded {
  readonly pclntab: Pclntab;
  readonly functions: readonly GoFunction[];
  readonly byName: Map<string, GoFunction[]>;
}

const cache = new WeakMap<ElfFile, Loaded | null>();

/** Every function of the pclntab, in address order; empty when `elf` has no pclntab (not Go). */
export function goFunctions(elf: ElfFile): readonly GoFunction[] {
  return load(elf)?.functions ?? [];
}

/** The functions named exactly `name` (usually one). */
export function goFunctionsNamed(elf: ElfFile, name: string): readonly GoFunction[] {
  return load(elf)?.byName.get(name) ?? [];
}

function load(elf: ElfFile): Loaded | undefined {
  const cached = cache.get(elf);
  if (cached !== undefined) return cached ?? undefined;
  let loaded: Loaded | undefined;
  try {
    const pclntab = findPclntab(elf);
    if (pclntab !== undefined) {
      const raw = readFunctions(elf, pclntab);
      const byName = new Map<string, GoFunction[]>();
      for (const fn of raw) {
        const list = byName.get(fn.name);
        if (list === undefined) byName.set(fn.name, [fn]);
        else list.push(fn);
      }
      const functions = raw.map((fn) => withAbi(fn, byName.get(fn.name) ?? []));
      byName.clear();
      for (const fn of functions) {
        const list = byName.get(fn.name);
        if (list === undefined) byName.set(fn.name, [fn]);
        else list.push(fn);
      }
      loaded = { pclntab, functions, byName };
    }
  } catch (error) {
    throw inFile(error, elf.name);
  }
  cache.set(elf, loaded ?? null);
  return loaded;
}

/**
 * ABI wrappers (Go's `cmd/compile/internal/ssagen/abi.go`): a Go function
 * that assembly calls gets an ABI0 twin, an assembly function that Go calls
 * an ABIInternal twin; both twins share the name, and the wrapper has a
 * non-zero funcID (`funcID_wrapper`) where the Go function has 0 (when
 * both have it, the smaller one is taken as the wrapper).
 */
function withAbi(fn: GoFunction, twins: readonly GoFunction[]): GoFunction {
  if (fn.isAsm === true) return { ...fn, abi: "ABI0" };
  if (twins.length !== 2) return fn;
  const other = twins[0] === fn ? twins[1] : twins[0];
  if (other === undefined) return fn;
  if (other.isAsm === true) return { ...fn, abi: "ABIInternal", isAbiWrapper: true };
  if (fn.funcId === undefined || other.funcId === undefined) return fn;
  if (fn.funcId !== 0 && other.funcId === 0) return { ...fn, abi: "ABI0", isAbiWrapper: true };
  // Both marked (reflect.callMethod is a wrapper for tracebacks anyway): the ABI wrapper only
  // moves arguments and calls its twin, so it is the smaller of the two. A heuristic, said as one.
  if (fn.funcId === other.funcId && fn.size < other.size) return { ...fn, abi: "ABI0", isAbiWrapper: true };
  return fn;
}

function readFunctions(elf: ElfFile, t: Pclntab): GoFunction[] {
  if (t.size > MAX_PCLNTAB) throw new LimitError(`pclntab of ${t.size} bytes (limit ${MAX_PCLNTAB})`);
  const modern = t.version === "1.18" || t.version === "1.20";
  const entrySize = modern ? 4 : t.ptrSize;
  // The function table and the `_func` records after it: from pclnOffset to the end of the table.
  const tableBytes = readRange(elf.source, t.offset + t.pclnOffset, t.size - t.pclnOffset, "pclntab function table");
  const table = new DataView(tableBytes.buffer, tableBytes.byteOffset, tableBytes.byteLength);
  const le = t.littleEndian;
  const at = (o: number, what: string): number => {
    throw new FormatError(`pclntab: ${what} lies outside the table`, t.offset + t.pclnOffset + o);
  };
  const word = (view: DataView, o: number): bigint => (t.ptrSize === 8 ? view.getBigUint64(o, le) : BigInt(view.getUint32(o, le)));
  const field = (o: number): bigint => (modern ? BigInt(table.getUint32(o, le)) : word(table, o));
  // Names: before 1.16 they are offsets into the whole pclntab, from 1.16 into the name table.
  const namesBase = t.version === "1.2" ? 0 : t.funcnameOffset;
  const names = t.version === "1.2" ? undefined : readRange(elf.source, t.offset + namesBase, t.funcnameEnd - namesBase, "pclntab function-name table");
  const decoder = new TextDecoder("utf-8", { fatal: false });
  const nameAt = (nameOff: number): string => {
    if (nameOff < 0) throw new FormatError("pclntab: negative function-name offset", t.offset, nameOff);
    if (names !== undefined) {
      if (nameOff >= names.length) throw new FormatError("pclntab: function-name offset lies past the name table", t.offset + namesBase, nameOff);
      let end = names.indexOf(0, nameOff);
      if (end < 0 || end - nameOff > MAX_GO_NAME) end = Math.min(names.length, nameOff + MAX_GO_NAME);
      return decoder.decode(names.subarray(nameOff, end));
    }
    // 1.2 format: the name lies somewhere in the pclntab; read a bounded window.
    if (nameOff >= t.size) throw new FormatError("pclntab: function-name offset lies past the table", t.offset, nameOff);
    const window = readRange(elf.source, t.offset + nameOff, Math.min(t.size - nameOff, 4096), "pclntab function name");
    const end = window.indexOf(0);
    return decoder.decode(end < 0 ? window : window.subarray(0, end));
  };
  const base = modern ? t.textStart : 0n;
  const functions: GoFunction[] = [];
  let previous = -1n;
  for (let i = 0; i < t.nfunc; i++) {
    const entry = base + field(2 * i * entrySize);
    const funcOff = Number(field((2 * i + 1) * entrySize));
    const end = base + field((2 * i + 2) * entrySize);
    if (entry < previous || end < entry)
      throw new FormatError(`pclntab: function table is not sorted at entry ${i} (${hex(entry)})`, t.offset + t.pclnOffset + 2 * i * entrySize);
    previous = entry;
    if (end - entry > 0xffffffffn)
      throw new FormatError(`pclntab: function at ${hex(entry)} is larger than 4 GiB`, t.offset + t.pclnOffset + 2 * i * entrySize);
    // The `_func` record: relative to the function table from 1.16 on, to the pclntab before.
    const rec = t.version === "1.2" ? funcOff - t.pclnOffset : funcOff;
    const entryField = modern ? 4 : t.ptrSize;
    const flagsAt = rec + entryField + (t.version === "1.20" ? 36 : 32);
    if (rec < 0 || rec + entryField + 4 > tableBytes.length) at(rec, `the record of function ${i}`);
    const nameOff = table.getInt32(rec + entryField, le);
    const hasFlags = t.version !== "1.2" && flagsAt + 2 <= tableBytes.length;
    const funcId = hasFlags ? table.getUint8(flagsAt) : undefined;
    const funcFlag = hasFlags && modern ? table.getUint8(flagsAt + 1) : undefined;
    const size = Number(end - entry);
    functions.push({
      name: nameAt(nameOff),
      entry,
      end,
      size,
      fileOffset: elf.fileOffsetOf(entry, "code"),
      funcId,
      funcFlag,
      isAsm: funcFlag === undefined ? undefined : (funcFlag & FUNC_FLAG_ASM) !== 0,
      abi: undefined,
      isAbiWrapper: false,
    });
  }
  return functions;
}
