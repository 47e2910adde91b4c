/**
 * The ELF file header (`Elf32_Ehdr` / `Elf64_Ehdr`, gABI chapter 4).
 */
import { FormatError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB } from "./constants.js";
import { Fields, toOffset, type ElfLayout } from "./fields.js";

/** The decoded ELF header; raw fields keep their spec names. */
export interface ElfHeader extends ElfLayout {
  readonly ei_osabi: number;
  readonly e_type: number;
  readonly e_machine: number;
  readonly e_version: number;
  readonly e_entry: bigint;
  readonly e_phoff: number;
  readonly e_shoff: number;
  readonly e_flags: number;
  readonly e_ehsize: number;
  readonly e_phentsize: number;
  /** As stored; may be `PN_XNUM`, see `ElfFile.programHeaders`. */
  readonly e_phnum: number;
  readonly e_shentsize: number;
  /** As stored; 0 with a non-zero `e_shoff` means "count in section 0". */
  readonly e_shnum: number;
  /** As stored; `SHN_XINDEX` means "index in section 0's sh_link". */
  readonly e_shstrndx: number;
}

const EI_NIDENT = 16;

/** Thrown (as a FormatError with this exact message prefix) when the magic is wrong. */
export const NOT_ELF_MESSAGE = "not an ELF file (it does not start with \\x7fELF)";

/**
 * Reads and validates the header. The class and data bytes decide how every
 * later field is read; an unknown class or byte order is a format error, not
 * a guess.
 */
export function readElfHeader(source: ByteSource): ElfHeader {
  if (source.size < EI_NIDENT) {
    if (source.size === 0) throw new FormatError("not an ELF file (the file is empty)", 0, undefined, false);
    if (!hasMagic(source.readAt(0, Math.min(4, source.size)))) throw new FormatError(NOT_ELF_MESSAGE, 0, undefined, false);
    throw new FormatError(`ELF header is truncated: the file has only ${source.size} bytes`, 0, undefined, false);
  }
  const ident = source.readAt(0, EI_NIDENT);
  if (!hasMagic(ident)) throw new FormatError(NOT_ELF_MESSAGE, 0, undefined, false);
  const ei_class = ident[4] ?? 0;
  const ei_data = ident[5] ?? 0;
  if (ei_class !== ELFCLASS32 && ei_class !== ELFCLASS64) throw new FormatError("invalid ELF class", 4, ei_class);
  if (ei_data !== ELFDATA2LSB && ei_data !== ELFDATA2MSB) throw new FormatError("invalid ELF data encoding", 5, ei_data);
  const layout: ElfLayout = { bits: ei_class === ELFCLASS64 ? 64 : 32, littleEndian: ei_data === ELFDATA2LSB };
  const size = layout.bits === 64 ? 64 : 52;
  if (source.size < size) throw new FormatError(`ELF header is truncated: the file has only ${source.size} bytes`, 0, undefined, false);
  const f = new Fields(readRange(source, 0, size, "ELF header"), layout);
  const at = layout.bits === 64 ? { entry: 24, phoff: 32, shoff: 40, flags: 48 } : { entry: 24, phoff: 28, shoff: 32, flags: 36 };
  const rest = at.flags + 4;
  const header: ElfHeader = {
    ...layout,
    ei_osabi: ident[7] ?? 0,
    e_type: f.u16(16),
    e_machine: f.u16(18),
    e_version: f.u32(20),
    e_entry: f.word(at.entry),
    e_phoff: toOffset(f.word(at.phoff), "e_phoff", at.phoff),
    e_shoff: toOffset(f.word(at.shoff), "e_shoff", at.shoff),
    e_flags: f.u32(at.flags),
    e_ehsize: f.u16(rest),
    e_phentsize: f.u16(rest + 2),
    e_phnum: f.u16(rest + 4),
    e_shentsize: f.u16(rest + 6),
    e_shnum: f.u16(rest + 8),
    e_shstrndx: f.u16(rest + 10),
  };
  return header;
}

function hasMagic(bytes: Uint8Array): boolean {
  return bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}
