/**
 * Program headers (segments): the loader's view of the file, and the only
 * view that survives `sstrip`. File offsets for probes are computed from
 * these, never from section headers (PITFALLS 1).
 */
import { FormatError, LimitError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { offsetAt } from "./fields.js";
import type { ElfHeader } from "./header.js";

/** One `Elf*_Phdr`. Offsets and file sizes are numbers (they index the file); addresses are bigints. */
export interface ProgramHeader {
  readonly p_type: number;
  readonly p_flags: number;
  readonly p_offset: number;
  readonly p_vaddr: bigint;
  readonly p_paddr: bigint;
  readonly p_filesz: number;
  readonly p_memsz: bigint;
  readonly p_align: bigint;
}

/** Hostile-input cap: far more segments than any real file has (glibc's loader caps at 64k too). */
export const MAX_PROGRAM_HEADERS = 65535;

/** Reads `count` program headers (the caller resolves `PN_XNUM`). */
export function readProgramHeaders(source: ByteSource, header: ElfHeader, count: number): ProgramHeader[] {
  if (count === 0 || header.e_phoff === 0) return [];
  if (count > MAX_PROGRAM_HEADERS) throw new LimitError(`too many program headers: ${count} (limit ${MAX_PROGRAM_HEADERS})`);
  const entsize = header.bits === 64 ? 56 : 32;
  if (header.e_phentsize !== entsize) {
    throw new FormatError(`invalid e_phentsize (expected ${entsize})`, header.bits === 64 ? 54 : 42, header.e_phentsize);
  }
  const bytes = readRange(source, header.e_phoff, count * entsize, "program header table");
  // One DataView, offsets as numbers without a bigint each: see section-headers.ts.
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = header.littleEndian;
  const result: ProgramHeader[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * entsize;
    const at = header.e_phoff + o;
    if (header.bits === 64) {
      result.push({
        p_type: v.getUint32(o, le),
        p_flags: v.getUint32(o + 4, le),
        p_offset: offsetAt(v, o + 8, le, "p_offset", at + 8),
        p_vaddr: v.getBigUint64(o + 16, le),
        p_paddr: v.getBigUint64(o + 24, le),
        p_filesz: offsetAt(v, o + 32, le, "p_filesz", at + 32),
        p_memsz: v.getBigUint64(o + 40, le),
        p_align: v.getBigUint64(o + 48, le),
      });
    } else {
      result.push({
        p_type: v.getUint32(o, le),
        p_offset: v.getUint32(o + 4, le),
        p_vaddr: BigInt(v.getUint32(o + 8, le)),
        p_paddr: BigInt(v.getUint32(o + 12, le)),
        p_filesz: v.getUint32(o + 16, le),
        p_memsz: BigInt(v.getUint32(o + 20, le)),
        p_flags: v.getUint32(o + 24, le),
        p_align: BigInt(v.getUint32(o + 28, le)),
      });
    }
  }
  return result;
}
