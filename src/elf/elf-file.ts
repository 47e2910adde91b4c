/**
 * `ElfFile`: one parsed ELF object over a {@link ByteSource}.
 *
 * Opening reads the header and the program and section header tables (a few
 * KiB); everything else (string tables, symbols, versions, notes) is read on
 * first use and kept only as small indexes. Errors from the file carry its
 * name: `libfoo.so: .dynsym extends past the end of the file at offset …`.
 */
import { FormatError, inFile, LimitError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import {
  MACHINE_NAMES,
  NT_GNU_BUILD_ID,
  PF_X,
  PN_XNUM,
  PT_LOAD,
  PT_NOTE,
  SHN_XINDEX,
  SHT_DYNSYM,
  SHT_GNU_HASH,
  SHT_GNU_VERDEF,
  SHT_GNU_VERNEED,
  SHT_GNU_VERSYM,
  SHT_HASH,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_STRTAB,
  SHT_SYMTAB,
} from "./constants.js";
import { Fields } from "./fields.js";
import { dynamicSections } from "./dynamic.js";
import { GnuHashTable, SysvHashTable, type HashLookup } from "./hash.js";
import { readElfHeader, type ElfHeader } from "./header.js";
import { readNotes, type ElfNote } from "./notes.js";
import { readProgramHeaders, type ProgramHeader } from "./program-headers.js";
import { readSectionHeaders, readSectionZero, type SectionHeader } from "./section-headers.js";
import { StringTable } from "./string-table.js";
import { SymbolTable, type SymbolTableKind } from "./symbols.js";
import { VersionTable } from "./versions.js";

/** Which kind of segment an address must fall in: code (executable) or data (not executable). */
export type SegmentKind = "code" | "data" | "any";

/** The `.gnu_debuglink` contents: the debug file's name and the CRC32 of its bytes. */
export interface DebugLink {
  readonly fileName: string;
  readonly crc: number;
}

/** Largest section probec reads whole (debug-data blobs, note sections); symbol tables are streamed instead. */
export const MAX_SECTION_READ = 256 * 1024 * 1024;

/** A parsed ELF file. */
export class ElfFile {
  /** How messages name this file (a path, or `<buffer>`). */
  readonly name: string;
  readonly source: ByteSource;
  readonly header: ElfHeader;
  readonly programHeaders: readonly ProgramHeader[];
  /** Section headers with names; empty when the file has none. */
  readonly sections: readonly SectionHeader[];
  readonly #strings = new Map<number, StringTable>();
  readonly #symbolTables = new Map<SymbolTableKind, SymbolTable | null>();
  #hash: HashLookup | null | undefined;
  #tables: readonly SectionHeader[] | undefined;

  private constructor(name: string, source: ByteSource, header: ElfHeader, phdrs: ProgramHeader[], sections: SectionHeader[]) {
    this.name = name;
    this.source = source;
    this.header = header;
    this.programHeaders = phdrs;
    this.sections = sections;
  }

  /**
   * Parses the headers of `source`. Throws a {@link FormatError} (prefixed
   * with `name`) for anything malformed, including "not an ELF file".
   */
  static open(source: ByteSource, name = "<buffer>"): ElfFile {
    try {
      const header = readElfHeader(source);
      const zero = readSectionZero(source, header);
      const phnum = header.e_phnum === PN_XNUM ? extendedPhnum(zero, header) : header.e_phnum;
      let shnum = header.e_shnum;
      if (shnum === 0 && zero !== undefined) {
        if (zero.sh_size > BigInt(Number.MAX_SAFE_INTEGER)) throw new LimitError(`section count ${zero.sh_size} is too large`);
        shnum = Number(zero.sh_size);
      }
      const shstrndx = header.e_shstrndx === SHN_XINDEX && zero !== undefined ? zero.sh_link : header.e_shstrndx;
      const phdrs = readProgramHeaders(source, header, phnum);
      const raw = readSectionHeaders(source, header, shnum);
      const sections = nameSections(source, raw, shstrndx, header);
      return new ElfFile(name, source, header, phdrs, sections);
    } catch (error) {
      throw inFile(error, name);
    }
  }

  /** The architecture name from `e_machine` (`x86_64`, `aarch64`, …), or `machine<N>`. */
  get machineName(): string {
    return MACHINE_NAMES[this.header.e_machine] ?? `machine${this.header.e_machine}`;
  }

  /** The first section called `name`, if any. */
  section(name: string): SectionHeader | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** Section `index`, if it exists. */
  sectionAt(index: number): SectionHeader | undefined {
    return this.sections[index];
  }

  /** Reads a whole section's bytes (bounded by {@link MAX_SECTION_READ}). */
  readSection(section: SectionHeader): Uint8Array {
    return this.#guard(() => {
      if (section.sh_type === SHT_NOBITS) return new Uint8Array(0);
      if (section.sh_size > MAX_SECTION_READ) throw new LimitError(`${section.name}: section of ${section.sh_size} bytes (limit ${MAX_SECTION_READ})`);
      return readRange(this.source, section.sh_offset, section.sh_size, section.name || `section ${section.index}`);
    });
  }

  /** The string table in section `index` (cached). */
  stringTable(index: number): StringTable {
    return this.#guard(() => {
      const cached = this.#strings.get(index);
      if (cached !== undefined) return cached;
      const section = this.#tableSections()[index];
      if (section === undefined || section.sh_type !== SHT_STRTAB) {
        throw new FormatError(`section ${index} is not a string table`, this.header.e_shoff, index);
      }
      const table = new StringTable(this.source, section.sh_offset, section.sh_size, `${this.name}: ${section.name || `section ${index}`}`);
      this.#strings.set(index, table);
      return table;
    });
  }

  /** `.symtab` or `.dynsym`, or undefined when the file has none (stripped, or no dynamic symbols). */
  symbolTable(kind: SymbolTableKind): SymbolTable | undefined {
    const cached = this.#symbolTables.get(kind);
    if (cached !== undefined) return cached ?? undefined;
    return this.#guard(() => {
      const section = this.#tableSections().find((s) => s.sh_type === (kind === "symtab" ? SHT_SYMTAB : SHT_DYNSYM));
      let table: SymbolTable | null = null;
      if (section !== undefined) {
        const strings = this.stringTable(section.sh_link);
        const versions = kind === "dynsym" ? this.#versionTable() : undefined;
        table = new SymbolTable(this.source, this.header, kind, section, strings, versions);
      }
      this.#symbolTables.set(kind, table);
      return table ?? undefined;
    });
  }

  /** The dynamic hash table (`.gnu.hash` preferred, else `.hash`), or undefined. */
  dynamicHash(): HashLookup | undefined {
    if (this.#hash !== undefined) return this.#hash ?? undefined;
    return this.#guard(() => {
      const dynsym = this.symbolTable("dynsym");
      let hash: HashLookup | null = null;
      if (dynsym !== undefined) {
        const tables = this.#tableSections();
        const gnu = tables.find((s) => s.sh_type === SHT_GNU_HASH && s.sh_link === dynsym.section.index);
        const sysv = tables.find((s) => s.sh_type === SHT_HASH && s.sh_link === dynsym.section.index);
        if (gnu !== undefined) hash = new GnuHashTable(this.source, this.header, gnu, dynsym);
        else if (sysv !== undefined) hash = new SysvHashTable(this.source, this.header, sysv, dynsym);
      }
      this.#hash = hash;
      return hash ?? undefined;
    });
  }

  /**
   * Every note in the file. With section headers, the `SHT_NOTE` sections
   * (which include the non-allocated `.note.stapsdt`); without them, the
   * `PT_NOTE` segments, which hold the same allocated notes.
   */
  *notes(): Generator<ElfNote> {
    const areas =
      this.sections.length > 0
        ? this.sections
            .filter((s) => s.sh_type === SHT_NOTE)
            .map((s) => ({ offset: s.sh_offset, size: s.sh_size, align: s.sh_addralign, what: s.name || `section ${s.index}` }))
        : this.programHeaders
            .filter((p) => p.p_type === PT_NOTE)
            .map((p, i) => ({ offset: p.p_offset, size: p.p_filesz, align: p.p_align, what: `PT_NOTE[${i}]` }));
    for (const area of areas) {
      try {
        yield* readNotes(this.source, this.header, area);
      } catch (error) {
        throw inFile(error, this.name);
      }
    }
  }

  /** The GNU build-id as lower-case hex, or undefined when the file has none. */
  buildId(): string | undefined {
    for (const note of this.notes()) {
      if (note.name === "GNU" && note.n_type === NT_GNU_BUILD_ID && note.desc.length > 0) {
        return Array.from(note.desc, (b) => b.toString(16).padStart(2, "0")).join("");
      }
    }
    return undefined;
  }

  /** The `.gnu_debuglink` contents, or undefined when there is no such section. */
  debugLink(): DebugLink | undefined {
    const section = this.section(".gnu_debuglink");
    if (section === undefined) return undefined;
    return this.#guard(() => {
      const bytes = this.readSection(section);
      const nul = bytes.indexOf(0);
      if (nul <= 0) throw new FormatError(".gnu_debuglink: no file name", section.sh_offset);
      const crcAt = Math.ceil((nul + 1) / 4) * 4;
      if (crcAt + 4 > bytes.length) throw new FormatError(".gnu_debuglink: CRC missing", section.sh_offset + crcAt);
      return { fileName: new TextDecoder().decode(bytes.subarray(0, nul)), crc: new Fields(bytes, this.header).u32(crcAt) };
    });
  }

  /**
   * The `PT_LOAD` segment whose file-backed range holds `vaddr`: executable
   * for `code`, non-executable for `data` (PITFALLS 1 and 7).
   */
  loadSegmentFor(vaddr: bigint, kind: SegmentKind): ProgramHeader | undefined {
    for (const p of this.programHeaders) {
      if (p.p_type !== PT_LOAD) continue;
      const isCode = (p.p_flags & PF_X) !== 0;
      if ((kind === "code" && !isCode) || (kind === "data" && isCode)) continue;
      // Code must be file-backed; data (semaphores) may sit in the zero-filled tail as libbpf allows.
      const extent = kind === "code" ? BigInt(p.p_filesz) : p.p_memsz;
      if (vaddr >= p.p_vaddr && vaddr < p.p_vaddr + extent) return p;
    }
    return undefined;
  }

  /** `vaddr - p_vaddr + p_offset` of the segment {@link loadSegmentFor} picks, or undefined. */
  fileOffsetOf(vaddr: bigint, kind: SegmentKind): number | undefined {
    const segment = this.loadSegmentFor(vaddr, kind);
    if (segment === undefined) return undefined;
    const offset = vaddr - segment.p_vaddr + BigInt(segment.p_offset);
    return offset > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(offset);
  }

  /** Releases the underlying source. */
  close(): void {
    this.source.close();
  }

  #versionTable(): VersionTable | undefined {
    const tables = this.#tableSections();
    const versym = tables.find((s) => s.sh_type === SHT_GNU_VERSYM);
    if (versym === undefined) return undefined;
    const verdef = tables.find((s) => s.sh_type === SHT_GNU_VERDEF);
    const verneed = tables.find((s) => s.sh_type === SHT_GNU_VERNEED);
    return new VersionTable(
      this.source,
      this.header,
      versym,
      verdef,
      verneed,
      (s) => this.stringTable(s.index),
      (i) => tables[i],
    );
  }

  /**
   * The sections that symbol lookups use: the real ones, or for a file
   * without section headers, stand-ins built from `PT_DYNAMIC`.
   */
  #tableSections(): readonly SectionHeader[] {
    this.#tables ??= this.sections.length > 0 ? this.sections : dynamicSections(this.source, this.header, this.programHeaders);
    return this.#tables;
  }

  #guard<T>(body: () => T): T {
    try {
      return body();
    } catch (error) {
      throw inFile(error, this.name);
    }
  }
}

/**
 * gABI extended numbering: `e_phnum == PN_XNUM` means the real count is in
 * section 0's `sh_info`. Without a section 0, or with 0 there, the header
 * contradicts itself (readelf: "Too many program headers").
 */
function extendedPhnum(zero: { sh_info: number } | undefined, header: ElfHeader): number {
  if (zero === undefined || zero.sh_info === 0) {
    throw new FormatError("e_phnum is PN_XNUM (0xffff) but section 0 holds no program header count", header.bits === 64 ? 56 : 44, header.e_phnum);
  }
  return zero.sh_info;
}

/**
 * True for a separate debug file (`objcopy --only-keep-debug`): its code
 * and data sections are `SHT_NOBITS`, so it names symbols but holds no
 * bytes to probe, and its segments' offsets are not the binary's.
 */
export function isDebugOnly(elf: ElfFile): boolean {
  const text = elf.section(".text");
  return text !== undefined && text.sh_type === SHT_NOBITS;
}

function nameSections(source: ByteSource, raw: SectionHeader[], shstrndx: number, header: ElfHeader): SectionHeader[] {
  if (raw.length === 0) return raw;
  if (shstrndx === 0) return raw; // SHN_UNDEF: no names, which gABI allows.
  const strtab = raw[shstrndx];
  if (strtab === undefined) throw new FormatError("e_shstrndx out of range", header.bits === 64 ? 62 : 50, shstrndx);
  if (strtab.sh_type !== SHT_STRTAB) throw new FormatError("e_shstrndx does not name a string table", header.bits === 64 ? 62 : 50, shstrndx);
  // StringTable's own check, without the object: names are read through one only when the table is large.
  if (strtab.sh_offset + strtab.sh_size > source.size)
    throw new FormatError("section name table extends past the end of the file", strtab.sh_offset, strtab.sh_size);
  let names: StringTable | undefined;
  // The whole table in one read (a few hundred bytes) rather than a read per name: opening a file is most
  // of a cold findSymbol (issue 13). A larger table (~100k sections) is read name by name.
  const bytes = strtab.sh_size <= MAX_SECTION_NAMES_READ ? readRange(source, strtab.sh_offset, strtab.sh_size, "section name table") : undefined;
  const decoder = new TextDecoder();
  // An ASCII table is decoded once and each name sliced from it (same offsets): a decode per name cost more than the rest of opening.
  const text = bytes !== undefined && isAscii(bytes) ? decoder.decode(bytes) : undefined;
  for (const s of raw as { name: string; sh_name: number }[]) {
    const end = bytes !== undefined && s.sh_name < bytes.length ? bytes.indexOf(0, s.sh_name) : -1;
    if (end < 0) s.name = (names ??= new StringTable(source, strtab.sh_offset, strtab.sh_size, "section name table")).get(s.sh_name);
    else s.name = text !== undefined ? text.slice(s.sh_name, end) : decoder.decode(bytes?.subarray(s.sh_name, end));
  }
  return raw;
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] as number) > 0x7f) return false;
  return true;
}

/** Largest section-name table read in one piece. */
const MAX_SECTION_NAMES_READ = 64 * 1024;
