/**
 * ELF constants under their spec names (System V gABI, LSB and GNU
 * extensions), with name tables for printing. Raw header fields keep the
 * spec's snake_case names elsewhere in `elf/`; these are the values they hold.
 */

export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;

export const ET_NONE = 0;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

// `e_machine` values (gABI and the processor supplements, as in binutils include/elf/common.h):
// the one machine list of probec; usdt/ and rootfs/ import these rather than keep their own.
export const EM_386 = 3;
export const EM_MIPS = 8;
export const EM_PPC = 20;
export const EM_PPC64 = 21;
export const EM_S390 = 22;
export const EM_ARM = 40;
export const EM_SH = 42;
export const EM_SPARCV9 = 43;
export const EM_IA_64 = 50;
export const EM_X86_64 = 62;
export const EM_OR1K = 92;
export const EM_AARCH64 = 183;
export const EM_MICROBLAZE = 189;
export const EM_RISCV = 243;
export const EM_LOONGARCH = 258;

/** `e_machine` values probec knows by name. */
export const MACHINE_NAMES: Readonly<Record<number, string>> = {
  [EM_386]: "i386",
  [EM_MIPS]: "mips",
  [EM_PPC]: "ppc",
  [EM_PPC64]: "ppc64",
  [EM_S390]: "s390",
  [EM_ARM]: "arm",
  [EM_SH]: "sh",
  [EM_SPARCV9]: "sparcv9",
  [EM_IA_64]: "ia64",
  [EM_X86_64]: "x86_64",
  [EM_OR1K]: "or1k",
  [EM_AARCH64]: "aarch64",
  [EM_MICROBLAZE]: "microblaze",
  [EM_RISCV]: "riscv",
  [EM_LOONGARCH]: "loongarch",
};

export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_EH_FRAME = 0x6474e550;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;
export const PT_GNU_PROPERTY = 0x6474e553;

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;
/** `e_phnum` value meaning "the real count is in section 0's sh_info" (gABI extended numbering). */
export const PN_XNUM = 0xffff;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_HASH = 5;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const SHT_GNU_HASH = 0x6ffffff6;
export const SHT_GNU_VERDEF = 0x6ffffffd;
export const SHT_GNU_VERNEED = 0x6ffffffe;
export const SHT_GNU_VERSYM = 0x6fffffff;

export const SHF_ALLOC = 0x2n;
export const SHF_EXECINSTR = 0x4n;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STB_GNU_UNIQUE = 10;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_COMMON = 5;
export const STT_TLS = 6;
export const STT_GNU_IFUNC = 10;

/** Friendly names for `STT_*`, as printed by probec (and close to readelf's). */
export const SYMBOL_TYPE_NAMES: Readonly<Record<number, string>> = {
  [STT_NOTYPE]: "notype",
  [STT_OBJECT]: "object",
  [STT_FUNC]: "func",
  [STT_SECTION]: "section",
  [STT_FILE]: "file",
  [STT_COMMON]: "common",
  [STT_TLS]: "tls",
  [STT_GNU_IFUNC]: "ifunc",
};

/** Friendly names for `STB_*`. */
export const SYMBOL_BINDING_NAMES: Readonly<Record<number, string>> = {
  [STB_LOCAL]: "local",
  [STB_GLOBAL]: "global",
  [STB_WEAK]: "weak",
  [STB_GNU_UNIQUE]: "unique",
};

export const NT_GNU_BUILD_ID = 3;
/** SystemTap SDT note type, owner "stapsdt" (sys/sdt.h `_SDT_NOTE_TYPE`). */
export const NT_STAPSDT = 3;

/** `vna_other`/`versym` bit meaning "hidden": not the default version (`@` rather than `@@`). */
export const VERSYM_HIDDEN = 0x8000;
export const VERSYM_VERSION = 0x7fff;
/** Version index meaning "local, unversioned" and "global, unversioned". */
export const VER_NDX_LOCAL = 0;
export const VER_NDX_GLOBAL = 1;
export const VER_FLG_BASE = 0x1;
