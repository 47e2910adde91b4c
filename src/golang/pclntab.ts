/**
 * Finding and reading Go's `.gopclntab`: the table the Go runtime itself
 * uses for tracebacks, so it survives `-ldflags='-s -w'` and names every Go
 * function (and assembly function) with its entry address.
 *
 * Header (Go's `runtime/symtab.go` `pcHeader` and `debug/gosym/pclntab.go`,
 * facts only): `magic u32, 0, 0, minLC u8, ptrSize u8`, then word-sized
 * fields whose list depends on the magic:
 *
 * | magic        | Go        | fields after the first 8 bytes                                            |
 * |--------------|-----------|---------------------------------------------------------------------------|
 * | `0xfffffffb` | 1.2–1.15  | nfunc; the function table follows at once                                 |
 * | `0xfffffffa` | 1.16–1.17 | nfunc, nfiles, funcnameOff, cuOff, filetabOff, pctabOff, pclnOff          |
 * | `0xfffffff0` | 1.18–1.19 | nfunc, nfiles, textStart, funcnameOff, cuOff, filetabOff, pctabOff, pclnOff |
 * | `0xfffffff1` | 1.20+     | same as 1.18                                                              |
 *
 * The function table at `pclnOff` holds `nfunc` pairs (entry, offset of the
 * `_func` record) and one final entry, the end of the last function: word
 * pairs with absolute entries before 1.18, `u32` pairs with entries relative
 * to the start of the text from 1.18 on (`text-start.ts` says where that
 * is: the header's word, relocated in a PIE).
 *
 * Finding the table: the `.gopclntab` section (`.data.rel.ro.gopclntab` in
 * a PIE), else the `runtime.pclntab` symbol, else (sstripped files, and Go
 * files whose table has no section of its own, as in an externally linked
 * PIE) a search of the data segments for a header that validates.
 *
 * Pure: no `node:*`.
 */
import type { ElfFile } from "../elf/elf-file.js";
import { PF_X, PT_LOAD, SHT_NOBITS } from "../elf/constants.js";
import { hex } from "../elf/fields.js";
import { FormatError, LimitError } from "../errors.js";
import { readRange } from "../io/byte-source.js";
import { virtualToOffset } from "./memory.js";
import { goBuildId } from "./buildid.js";
import { resolveTextStart } from "./text-start.js";

/** The pclntab formats, named by the first Go release that wrote each. */
export type PclntabVersion = "1.2" | "1.16" | "1.18" | "1.20";

/** Magic number of each pclntab format. */
export const PCLNTAB_MAGIC: Readonly<Record<PclntabVersion, number>> = { "1.2": 0xfffffffb, "1.16": 0xfffffffa, "1.18": 0xfffffff0, "1.20": 0xfffffff1 };

/** A located, validated pclntab header. */
export interface Pclntab {
  readonly version: PclntabVersion;
  /** File offset of the table's first byte. */
  readonly offset: number;
  /** Bytes of the table that the file holds from {@link offset} (the section size, or the rest of the segment). */
  readonly size: number;
  /** Pointer size of the target (4 or 8). */
  readonly ptrSize: 4 | 8;
  /** Instruction-size quantum (1 on x86, 4 on arm64). */
  readonly minLC: number;
  readonly littleEndian: boolean;
  readonly nfunc: number;
  /** Where 1.18+ entries are relative to; 0n before 1.18. */
  readonly textStart: bigint;
  /** Offset of the function-name table inside the pclntab (0 before 1.16: names are relative to the table). */
  readonly funcnameOffset: number;
  /** End of the function-name table inside the pclntab (the compilation-unit table follows it). */
  readonly funcnameEnd: number;
  /** Offset of the function table (pairs and `_func` records) inside the pclntab. */
  readonly pclnOffset: number;
  /** How it was found. */
  readonly foundBy: "section" | "symbol" | "scan";
}

/** Largest function count accepted (the biggest real binaries hold a few hundred thousand). */
export const MAX_GO_FUNCTIONS = 4_000_000;
/** Largest pclntab read (bytes). */
export const MAX_PCLNTAB = 512 * 1024 * 1024;
/** How many bytes of read-only segments are searched for a header in a file without section headers. */
const MAX_SCAN = 512 * 1024 * 1024;
/** Symbols read looking for `runtime.pclntab` before giving up. */
const MAX_SYMBOLS_SEARCHED = 2_000_000;
const SCAN_CHUNK = 4 * 1024 * 1024;

const cache = new WeakMap<ElfFile, Pclntab | null>();

/**
 * The pclntab of `elf`, or undefined when it has none (not Go). A table that
 * is present but malformed throws a {@link FormatError}.
 */
export function findPclntab(elf: ElfFile): Pclntab | undefined {
  const cached = cache.get(elf);
  if (cached !== undefined) return cached ?? undefined;
  const found = locate(elf);
  cache.set(elf, found ?? null);
  return found;
}

function locate(elf: ElfFile): Pclntab | undefined {
  const littleEndian = elf.header.littleEndian;
  for (const name of [".gopclntab", ".data.rel.ro.gopclntab"]) {
    const section = elf.section(name);
    if (section === undefined || section.sh_type === SHT_NOBITS) continue;
    const parsed = parseHeader(elf, section.sh_offset, section.sh_size, littleEndian, "section");
    if (parsed === undefined) throw new FormatError(`${name}: no valid pclntab header`, section.sh_offset);
    return parsed;
  }
  // The symbol is looked for only in a file that otherwise looks like Go: a miss in a large C++
  // binary must not cost a walk over its whole .symtab.
  const looksGo = elf.section(".go.buildinfo") !== undefined || elf.section(".note.go.buildid") !== undefined;
  const symbol = looksGo ? pclntabSymbol(elf) : undefined;
  if (symbol !== undefined) {
    const parsed = parseHeader(elf, symbol.offset, symbol.size, littleEndian, "symbol");
    if (parsed === undefined) throw new FormatError("runtime.pclntab: no valid pclntab header", symbol.offset);
    return parsed;
  }
  // No section headers (sstrip), or an externally linked PIE, whose table sits inside .data.rel.ro unnamed.
  // A section-less file is searched only when its notes carry Go's build ID, so other files cost no scan.
  const worthScanning = looksGo || (elf.sections.length === 0 && safeGoBuildId(elf) !== undefined);
  return worthScanning ? scan(elf, littleEndian) : undefined;
}

function safeGoBuildId(elf: ElfFile): string | undefined {
  try {
    return goBuildId(elf);
  } catch {
    return undefined; // a damaged note elsewhere is not this question's to report
  }
}

function pclntabSymbol(elf: ElfFile): { offset: number; size: number } | undefined {
  const table = elf.symbolTable("symtab");
  if (table === undefined) return undefined;
  let start: bigint | undefined;
  let end: bigint | undefined;
  let seen = 0;
  for (const raw of table.raw()) {
    if (++seen > MAX_SYMBOLS_SEARCHED) break;
    if (raw.st_name === 0) continue;
    const name = table.resolve(raw).name;
    if (name === "runtime.pclntab") start = raw.st_value;
    else if (name === "runtime.epclntab") end = raw.st_value;
    if (start !== undefined && end !== undefined) break;
  }
  if (start === undefined) return undefined;
  const size = end !== undefined && end > start ? Number(end - start) : 64;
  const offset = virtualToOffset(elf, start, Math.min(size, 64));
  if (offset === undefined) return undefined;
  return { offset, size: Math.min(size, elf.source.size - offset) };
}

function scan(elf: ElfFile, littleEndian: boolean): Pclntab | undefined {
  let budget = MAX_SCAN;
  const magics = new Set(Object.values(PCLNTAB_MAGIC));
  for (const p of elf.programHeaders) {
    // Go places the pclntab in read-only data (in a PIE, in RELRO data): never in code.
    if (p.p_type !== PT_LOAD || (p.p_flags & PF_X) !== 0) continue;
    const segmentEnd = Math.min(p.p_offset + p.p_filesz, elf.source.size);
    for (let start = p.p_offset; start < segmentEnd && budget > 0; start += SCAN_CHUNK) {
      const length = Math.min(SCAN_CHUNK + 8, segmentEnd - start);
      budget -= length;
      const bytes = readRange(elf.source, start, length, "read-only segment");
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      // The linker aligns the table to the pointer size; 4-byte steps cover both.
      for (let i = (4 - (start % 4)) % 4; i + 8 <= bytes.length && i < SCAN_CHUNK; i += 4) {
        if (!magics.has(view.getUint32(i, littleEndian)) || bytes[i + 4] !== 0 || bytes[i + 5] !== 0) continue;
        const found = parseHeader(elf, start + i, segmentEnd - (start + i), littleEndian, "scan", true);
        if (found !== undefined) return found;
      }
    }
  }
  return undefined;
}

/**
 * Parses the header at file offset `offset` (`size` bytes available).
 * Returns undefined when the bytes are not a pclntab header; when `quiet`
 * is false, a header with the magic but impossible fields throws instead.
 */
function parseHeader(elf: ElfFile, offset: number, size: number, littleEndian: boolean, foundBy: Pclntab["foundBy"], quiet = false): Pclntab | undefined {
  const fail = (message: string, at: number, value?: number | bigint | string): undefined => {
    if (quiet) return undefined;
    throw new FormatError(`pclntab: ${message}`, at, value);
  };
  if (size < 16) return fail("shorter than its header", offset, size);
  const head = readRange(elf.source, offset, Math.min(size, 8 + 8 * 8), "pclntab header");
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const magic = view.getUint32(0, littleEndian);
  const version = (Object.keys(PCLNTAB_MAGIC) as PclntabVersion[]).find((v) => PCLNTAB_MAGIC[v] === magic);
  if (version === undefined) return fail("unknown magic", offset, hex(magic));
  const minLC = head[6] as number;
  const ptrSize = head[7] as number;
  if (head[4] !== 0 || head[5] !== 0) return fail("header padding is not zero", offset + 4);
  if (minLC !== 1 && minLC !== 2 && minLC !== 4) return fail("instruction quantum is not 1, 2 or 4", offset + 6, minLC);
  if (ptrSize !== 4 && ptrSize !== 8) return fail("pointer size is not 4 or 8", offset + 7, ptrSize);
  const fieldCount = version === "1.2" ? 1 : version === "1.16" ? 7 : 8;
  if (size < 8 + fieldCount * ptrSize || head.length < 8 + fieldCount * ptrSize) return fail("shorter than its header", offset, size);
  const word = (index: number): bigint =>
    ptrSize === 8 ? view.getBigUint64(8 + index * 8, littleEndian) : BigInt(view.getUint32(8 + index * 4, littleEndian));
  const small = (index: number, what: string): number | undefined => {
    const value = word(index);
    if (value > BigInt(size)) {
      fail(`${what} ${value} lies past the end of the table (0x${size.toString(16)} bytes)`, offset + 8 + index * ptrSize);
      return undefined;
    }
    return Number(value);
  };
  const nfuncWord = word(0);
  if (nfuncWord > BigInt(MAX_GO_FUNCTIONS)) {
    if (quiet) return undefined;
    throw new LimitError(`pclntab: ${nfuncWord} functions (limit ${MAX_GO_FUNCTIONS})`);
  }
  const nfunc = Number(nfuncWord);
  let textStart = 0n;
  let funcnameOffset = 0;
  let funcnameEnd = 0;
  let pclnOffset = 8 + ptrSize;
  if (version === "1.16") {
    const names = small(2, "function-name table offset");
    const cu = small(3, "compilation-unit table offset");
    const pcln = small(6, "function table offset");
    if (names === undefined || cu === undefined || pcln === undefined) return undefined;
    funcnameOffset = names;
    funcnameEnd = cu;
    pclnOffset = pcln;
  } else if (version === "1.18" || version === "1.20") {
    const names = small(3, "function-name table offset");
    const cu = small(4, "compilation-unit table offset");
    const pcln = small(7, "function table offset");
    if (names === undefined || cu === undefined || pcln === undefined) return undefined;
    funcnameOffset = names;
    funcnameEnd = cu;
    pclnOffset = pcln;
    textStart = resolveTextStart(elf, word(2), offset + 8 + 2 * ptrSize);
  }
  const entrySize = version === "1.18" || version === "1.20" ? 4 : ptrSize;
  if (pclnOffset + (2 * nfunc + 1) * entrySize > size)
    return fail(`function table of ${nfunc} entries runs past the end of the table`, offset + pclnOffset, nfunc);
  if (nfunc === 0) return fail("no functions", offset + 8);
  if (funcnameEnd < funcnameOffset) return fail("function-name table ends before it starts", offset + 8, funcnameEnd);
  if (foundBy === "scan" && !plausible(elf, offset, pclnOffset, entrySize, nfunc, textStart, littleEndian)) return undefined;
  return { version, offset, size, ptrSize: ptrSize as 4 | 8, minLC, littleEndian, nfunc, textStart, funcnameOffset, funcnameEnd, pclnOffset, foundBy };
}

/** A scanned candidate must look like a real table: its first and last entries lie in code, in order. */
function plausible(elf: ElfFile, offset: number, pclnOffset: number, entrySize: number, nfunc: number, textStart: bigint, littleEndian: boolean): boolean {
  const read = (index: number): bigint => {
    const bytes = readRange(elf.source, offset + pclnOffset + index * entrySize, entrySize, "pclntab function table");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return entrySize === 8 ? view.getBigUint64(0, littleEndian) : BigInt(view.getUint32(0, littleEndian));
  };
  const base = entrySize === 4 && textStart !== 0n ? textStart : 0n;
  const first = base + read(0);
  const last = base + read(2 * nfunc);
  return first <= last && elf.fileOffsetOf(first, "code") !== undefined && elf.fileOffsetOf(last - 1n, "code") !== undefined;
}
