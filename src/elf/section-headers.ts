/**
 * Section headers: the linker's view. Optional: a file may have none
 * (`sstrip`, some loaders' output), and every consumer must cope.
 */
import { FormatError, LimitError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { Fields, toOffset } from "./fields.js";
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
  const f = new Fields(readRange(source, header.e_shoff, entsize, "section header 0"), header);
  return header.bits === 64
    ? { sh_size: f.u64(32), sh_link: f.u32(40), sh_info: f.u32(44) }
    : { sh_size: BigInt(f.u32(20)), sh_link: f.u32(24), sh_info: f.u32(28) };
}

/** Reads `count` section headers without names; {@link nameSections} fills them in. */
export function readSectionHeaders(source: ByteSource, header: ElfHeader, count: number): SectionHeader[] {
  if (count === 0 || header.e_shoff === 0) return [];
  if (count > MAX_SECTIONS) throw new LimitError(`too many sections: ${count} (limit ${MAX_SECTIONS})`);
  const entsize = checkEntsize(header);
  const bytes = readRange(source, header.e_shoff, count * entsize, "section header table");
  const f = new Fields(bytes, header);
  const result: SectionHeader[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * entsize;
    const at = header.e_shoff + o;
    const is64 = header.bits === 64;
    result.push({
      index: i,
      name: "",
      sh_name: f.u32(o),
      sh_type: f.u32(o + 4),
      sh_flags: f.word(o + 8),
      sh_addr: f.word(is64 ? o + 16 : o + 12),
      sh_offset: toOffset(f.word(is64 ? o + 24 : o + 16), "sh_offset", at),
      sh_size: toOffset(f.word(is64 ? o + 32 : o + 20), "sh_size", at),
      sh_link: f.u32(is64 ? o + 40 : o + 24),
      sh_info: f.u32(is64 ? o + 44 : o + 28),
      sh_addralign: f.word(is64 ? o + 48 : o + 32),
      sh_entsize: toOffset(f.word(is64 ? o + 56 : o + 36), "sh_entsize", at),
    });
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
