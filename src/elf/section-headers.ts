/**
 * Section headers: the linker's view. Optional: a file may have none
 * (`sstrip`, some loaders' output), and every consumer must cope.
 */
import { FormatError, LimitError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { offsetAt } from "./fields.js";
import type { ElfHeader } from "./header.js";

/** One `Elf*_Shdr`, plus its index and (resolved) name. */
export interface SectionHeader {
  readonly index: number;
  /** The name from the section-name string table; `""` when there is none. */
  readonly name: string;
  readonly sh_name: number;
  readonly sh_type: number;
  readonly sh_flags: bigint;
  readonly sh_addr: bigint;
  readonly sh_offset: number;
  /** Size in bytes. For `SHT_NOBITS` this may exceed the file; never read such a section. */
  readonly sh_size: number;
  readonly sh_link: number;
  readonly sh_info: number;
  readonly sh_addralign: bigint;
  readonly sh_entsize: number;
}

/** Hostile-input cap on the number of sections (real files: a few dozen; -ffunction-sections objects: ~100k). */
export const MAX_SECTIONS = 1 << 20;

/** The raw fields of section 0, used for extended numbering (gABI: e_shnum/e_phnum/e_shstrndx overflow). */
export interface SectionZero {
  readonly sh_size: bigint;
  readonly sh_link: number;
  readonly sh_info: number;
}

/** Reads section 0 alone, to learn the extended section count, phnum or shstrndx. */
export function readSectionZero(source: ByteSource, header: ElfHeader): SectionZero | undefined {
  if (header.e_shoff === 0) return undefined;
  const entsize = checkEntsize(header);
  const bytes = readRange(source, header.e_shoff, entsize, "section header 0");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = header.littleEndian;
  return header.bits === 64
    ? { sh_size: v.getBigUint64(32, le), sh_link: v.getUint32(40, le), sh_info: v.getUint32(44, le) }
    : { sh_size: BigInt(v.getUint32(20, le)), sh_link: v.getUint32(24, le), sh_info: v.getUint32(28, le) };
}

/** Reads `count` section headers without names; {@link nameSections} fills them in. */
export function readSectionHeaders(source: ByteSource, header: ElfHeader, count: number): SectionHeader[] {
  if (count === 0 || header.e_shoff === 0) return [];
  if (count > MAX_SECTIONS) throw new LimitError(`too many sections: ${count} (limit ${MAX_SECTIONS})`);
  const entsize = checkEntsize(header);
  const bytes = readRange(source, header.e_shoff, count * entsize, "section header table");
  // Fields read straight from one DataView, offsets as numbers without a bigint each: opening a file runs
  // this cold, in V8's interpreter, where every call and bigint counts (issue 13).
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = header.littleEndian;
  const is64 = header.bits === 64;
  const result: SectionHeader[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * entsize;
    const at = header.e_shoff + o;
    result.push(
      is64
        ? {
            index: i,
            name: "",
            sh_name: v.getUint32(o, le),
            sh_type: v.getUint32(o + 4, le),
            sh_flags: v.getBigUint64(o + 8, le),
            sh_addr: v.getBigUint64(o + 16, le),
            sh_offset: offsetAt(v, o + 24, le, "sh_offset", at),
            sh_size: offsetAt(v, o + 32, le, "sh_size", at),
            sh_link: v.getUint32(o + 40, le),
            sh_info: v.getUint32(o + 44, le),
            sh_addralign: v.getBigUint64(o + 48, le),
            sh_entsize: offsetAt(v, o + 56, le, "sh_entsize", at),
          }
        : {
            index: i,
            name: "",
            sh_name: v.getUint32(o, le),
            sh_type: v.getUint32(o + 4, le),
            sh_flags: BigInt(v.getUint32(o + 8, le)),
            sh_addr: BigInt(v.getUint32(o + 12, le)),
            sh_offset: v.getUint32(o + 16, le),
            sh_size: v.getUint32(o + 20, le),
            sh_link: v.getUint32(o + 24, le),
            sh_info: v.getUint32(o + 28, le),
            sh_addralign: BigInt(v.getUint32(o + 32, le)),
            sh_entsize: v.getUint32(o + 36, le),
          },
    );
  }
  return result;
}

function checkEntsize(header: ElfHeader): number {
  const entsize = header.bits === 64 ? 64 : 40;
  if (header.e_shentsize !== entsize) {
    throw new FormatError(`invalid e_shentsize (expected ${entsize})`, header.bits === 64 ? 58 : 46, header.e_shentsize);
  }
  return entsize;
}
