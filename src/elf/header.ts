/**
 * The ELF file header (`Elf32_Ehdr` / `Elf64_Ehdr`, gABI chapter 4).
 */
import { FormatError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB } from "./constants.js";
import { offsetAt, type ElfLayout } from "./fields.js";

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
  const bits = ei_class === ELFCLASS64 ? 64 : 32;
  const le = ei_data === ELFDATA2LSB;
  const size = bits === 64 ? 64 : 52;
  if (source.size < size) throw new FormatError(`ELF header is truncated: the file has only ${source.size} bytes`, 0, undefined, false);
  // One DataView and no helper objects: this runs once per file, cold, on the path of every lookup (issue 13).
  const bytes = readRange(source, 0, size, "ELF header");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Elf64_Ehdr: e_entry 24, e_phoff 32, e_shoff 40, e_flags 48; Elf32_Ehdr: 24, 28, 32, 36.
  const flagsAt = bits === 64 ? 48 : 36;
  const rest = flagsAt + 4;
  return {
    bits,
    littleEndian: le,
    ei_osabi: ident[7] ?? 0,
    e_type: v.getUint16(16, le),
    e_machine: v.getUint16(18, le),
    e_version: v.getUint32(20, le),
    e_entry: bits === 64 ? v.getBigUint64(24, le) : BigInt(v.getUint32(24, le)),
    e_phoff: bits === 64 ? offsetAt(v, 32, le, "e_phoff", 32) : v.getUint32(28, le),
    e_shoff: bits === 64 ? offsetAt(v, 40, le, "e_shoff", 40) : v.getUint32(32, le),
    e_flags: v.getUint32(flagsAt, le),
    e_ehsize: v.getUint16(rest, le),
    e_phentsize: v.getUint16(rest + 2, le),
    e_phnum: v.getUint16(rest + 4, le),
    e_shentsize: v.getUint16(rest + 6, le),
    e_shnum: v.getUint16(rest + 8, le),
    e_shstrndx: v.getUint16(rest + 10, le),
  };
}

function hasMagic(bytes: Uint8Array): boolean {
  return bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}
