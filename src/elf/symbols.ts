/**
 * Symbol tables (`.symtab`, `.dynsym`), read lazily.
 *
 * Entries are decoded in chunks as an iteration reaches them; names are
 * resolved only when a caller asks. A 185k-symbol table costs its own bytes
 * once, streamed, never a copy of the whole file.
 */
import { FormatError, LimitError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { SYMBOL_BINDING_NAMES, SYMBOL_TYPE_NAMES } from "./constants.js";
import { Fields, type ElfLayout } from "./fields.js";
import { readReusing } from "./read-into.js";
import type { SectionHeader } from "./section-headers.js";
import type { StringTable } from "./string-table.js";
import type { SymbolVersion, VersionTable } from "./versions.js";

/** Which table a symbol came from. */
export type SymbolTableKind = "symtab" | "dynsym";

/** One raw `Elf*_Sym` entry, spec field names. */
export interface RawSymbol {
  /** Index in its table. */
  readonly index: number;
  readonly st_name: number;
  readonly st_info: number;
  readonly st_other: number;
  readonly st_shndx: number;
  readonly st_value: bigint;
  readonly st_size: bigint;
}

/** A symbol with its name and version resolved. */
export interface ElfSymbol {
  /** The name without any version suffix. */
  readonly name: string;
  /** The version (`GLIBC_2.14`), or undefined when unversioned. */
  readonly version: string | undefined;
  /** True unless the version is hidden (`name@VER`): unversioned symbols are default too. */
  readonly isDefaultVersion: boolean;
  readonly value: bigint;
  readonly size: bigint;
  /** `STT_*` value. */
  readonly type: number;
  /** `STB_*` value. */
  readonly binding: number;
  /** `STV_*` value (low two bits of st_other). */
  readonly visibility: number;
  /** The whole st_other byte (ppc64 ELFv2 keeps the local entry point in bits 5-7). */
  readonly other: number;
  readonly shndx: number;
  readonly table: SymbolTableKind;
  readonly index: number;
}

/** A test on an entry's raw `st_info`, `st_shndx` and `st_name`, applied before it is decoded. */
export type EntryFilter = (st_info: number, st_shndx: number, st_name: number) => boolean;

/** Entries of one table read in one piece, see {@link SymbolTable.chunks}. */
export interface SymbolChunk {
  readonly fields: Fields;
  /** The same bytes, for a bulk reader's own `DataView` (a loop over 100k entries is then optimised whole). */
  readonly bytes: Uint8Array;
  /** Index in the table of the chunk's first entry. */
  readonly first: number;
  readonly count: number;
}

/** Hostile-input cap: 16M symbols (the largest real binaries have ~2M). */
export const MAX_SYMBOLS = 1 << 24;
/** Entries decoded per chunk while streaming a table. */
const CHUNK_ENTRIES = 4096;
/** Entries decoded into objects at a time, see {@link SymbolTable.batches}. */
const BATCH_ENTRIES = 256;

/** `STT_*` of a raw symbol. */
export const symbolType = (raw: RawSymbol): number => raw.st_info & 0xf;
/** `STB_*` of a raw symbol. */
export const symbolBinding = (raw: RawSymbol): number => raw.st_info >> 4;

/** Friendly name of a symbol type (`func`, `ifunc`, …), or `type<N>`. */
export function typeName(type: number): string {
  return SYMBOL_TYPE_NAMES[type] ?? `type${type}`;
}

/** Friendly name of a binding (`global`, `weak`, …), or `binding<N>`. */
export function bindingName(binding: number): string {
  return SYMBOL_BINDING_NAMES[binding] ?? `binding${binding}`;
}

/** One symbol table section with its string table (and, for `.dynsym`, its versions). */
export class SymbolTable {
  readonly kind: SymbolTableKind;
  readonly section: SectionHeader;
  readonly strings: StringTable;
  /** Number of entries, including the null entry 0. */
  readonly count: number;
  readonly #source: ByteSource;
  readonly #layout: ElfLayout;
  readonly #entsize: number;
  readonly #versions: VersionTable | undefined;

  constructor(source: ByteSource, layout: ElfLayout, kind: SymbolTableKind, section: SectionHeader, strings: StringTable, versions: VersionTable | undefined) {
    this.#source = source;
    this.#layout = layout;
    this.kind = kind;
    this.section = section;
    this.strings = strings;
    this.#versions = versions;
    this.#entsize = layout.bits === 64 ? 24 : 16;
    if (section.sh_entsize !== 0 && section.sh_entsize !== this.#entsize) {
      throw new FormatError(`${section.name}: invalid sh_entsize (expected ${this.#entsize})`, section.sh_offset, section.sh_entsize);
    }
    if (section.sh_offset + section.sh_size > source.size) {
      throw new FormatError(`${section.name} extends past the end of the file`, section.sh_offset, section.sh_size);
    }
    this.count = Math.floor(section.sh_size / this.#entsize);
    if (this.count > MAX_SYMBOLS) throw new LimitError(`${section.name}: ${this.count} symbols (limit ${MAX_SYMBOLS})`);
  }

  /** The raw entry at `index`. */
  rawAt(index: number): RawSymbol {
    if (index < 0 || index >= this.count) throw new FormatError(`${this.section.name}: symbol index out of range`, this.section.sh_offset, index);
    const at = this.section.sh_offset + index * this.#entsize;
    return decode(new Fields(this.#source.readAt(at, this.#entsize), this.#layout), 0, index, this.#layout.bits);
  }

  /** Every raw entry from 1 on (entry 0 is the reserved null symbol), streamed in chunks. */
  *raw(): Generator<RawSymbol> {
    for (const batch of this.batches()) yield* batch;
  }

  /**
   * The same entries as {@link raw}, a chunk at a time: bulk readers loop
   * over each array instead of resuming a generator per symbol, which is
   * most of the cost of listing a 185k-symbol file.
   */
  *batches(accept?: EntryFilter): Generator<RawSymbol[]> {
    const is64 = this.#layout.bits === 64;
    // Offsets of st_info and st_shndx inside one entry (gABI Elf64_Sym / Elf32_Sym).
    const infoAt = is64 ? 4 : 12;
    const shndxAt = is64 ? 6 : 14;
    for (let first = 1; first < this.count; first += CHUNK_ENTRIES) {
      const n = Math.min(CHUNK_ENTRIES, this.count - first);
      const bytes = readRange(this.#source, this.section.sh_offset + first * this.#entsize, n * this.#entsize, this.section.name);
      const f = new Fields(bytes, this.#layout);
      // One read per chunk, but objects in small batches: a consumer then drops
      // each batch before the next scavenge, so nothing is promoted to the old
      // generation (a 4096-object batch lived long enough to be, doubling peak RSS).
      for (let start = 0; start < n; start += BATCH_ENTRIES) {
        const batch: RawSymbol[] = [];
        for (let i = start; i < Math.min(n, start + BATCH_ENTRIES); i++) {
          const o = i * this.#entsize;
          // Filtering on the raw bytes first spares an object and two bigints per rejected entry.
          if (accept !== undefined && !accept(f.u8(o + infoAt), f.u16(o + shndxAt), f.u32(o))) continue;
          batch.push(decode(f, o, first + i, this.#layout.bits));
        }
        yield batch;
      }
    }
  }

  /**
   * The raw bytes of every entry from 1 on, a chunk at a time, for a bulk
   * reader that tests fields in place and decodes only the entries it keeps
   * ({@link decodeAt}): listing node's 185k symbols otherwise spends much of
   * its time building objects and bigints for entries it then drops.
   */
  *chunks(): Generator<SymbolChunk> {
    for (let first = 1; first < this.count; first += CHUNK_ENTRIES) {
      const n = Math.min(CHUNK_ENTRIES, this.count - first);
      const bytes = readRange(this.#source, this.section.sh_offset + first * this.#entsize, n * this.#entsize, this.section.name);
      yield { fields: new Fields(bytes, this.#layout), bytes, first, count: n };
    }
  }

  /** Bytes per entry: 24 in ELF64, 16 in ELF32. */
  get entrySize(): number {
    return this.#entsize;
  }

  /**
   * `count` entries from `first` on in one piece, for a pass that keeps
   * them while it reads their names out of order (list-symbols.ts). With
   * `reuse`, the entries may be read into it (see read-into.ts).
   */
  entries(first: number, count: number, reuse?: Uint8Array): SymbolChunk {
    const bytes = readReusing(this.#source, this.section.sh_offset + first * this.#entsize, count * this.#entsize, reuse, this.section.name);
    return { fields: new Fields(bytes, this.#layout), bytes, first, count };
  }

  /** Entry `i` of `chunk` as a resolved {@link ElfSymbol} (what {@link resolve} of {@link decodeAt} gives, without the raw object). */
  symbolAt(chunk: SymbolChunk, i: number): ElfSymbol {
    return this.symbolNamed(chunk, i, this.strings.get(chunk.fields.u32(i * this.#entsize)));
  }

  /** {@link symbolAt} with the entry's name (`st_name`'s string, version suffix and all) already read. */
  symbolNamed(chunk: SymbolChunk, i: number, fullName: string): ElfSymbol {
    const f = chunk.fields;
    const o = i * this.#entsize;
    const is64 = this.#layout.bits === 64;
    const index = chunk.first + i;
    const info = f.u8(o + (is64 ? 4 : 12));
    const other = f.u8(o + (is64 ? 5 : 13));
    const shndx = f.u16(o + (is64 ? 6 : 14));
    const value = is64 ? f.u64(o + 8) : BigInt(f.u32(o + 4));
    const size = is64 ? f.u64(o + 16) : BigInt(f.u32(o + 8));
    let name = fullName;
    let version: string | undefined;
    let isDefaultVersion = true;
    const tableVersion = this.versionOf(index);
    if (tableVersion !== undefined) {
      version = tableVersion.name;
      isDefaultVersion = tableVersion.isDefault;
    } else {
      const at = fullName.indexOf("@");
      if (at > 0) {
        name = fullName.slice(0, at);
        const isDouble = fullName[at + 1] === "@";
        version = fullName.slice(at + (isDouble ? 2 : 1));
        isDefaultVersion = isDouble;
      }
    }
    return {
      name,
      version,
      isDefaultVersion,
      value,
      size,
      type: info & 0xf,
      binding: info >> 4,
      visibility: other & 0x3,
      other,
      shndx,
      table: this.kind,
      index,
    };
  }

  /** Entry `i` of `chunk` as a {@link RawSymbol}. */
  decodeAt(chunk: SymbolChunk, i: number): RawSymbol {
    return decode(chunk.fields, i * this.#entsize, chunk.first + i, this.#layout.bits);
  }

  /**
   * Holds this table's strings (or with `"versions"`, only its versions)
   * in memory until {@link release}, for a pass that resolves every entry;
   * single lookups read only the bytes they need.
   */
  retain(what: "strings and versions" | "versions" = "strings and versions"): void {
    if (what === "strings and versions") this.strings.retain();
    this.#versions?.retain();
  }

  /** Drops what {@link retain} loaded. */
  release(): void {
    this.strings.release();
    this.#versions?.release();
  }

  /** The version of entry `index` (only `.dynsym` carries versym data). */
  versionOf(index: number): SymbolVersion | undefined {
    return this.#versions?.versionOf(index);
  }

  /**
   * Resolves a raw entry's name and version. `.symtab` has no versym, so a
   * version there comes from the name itself (`foo@VER`, `foo@@VER`), which
   * is how GNU ld writes versioned names into the static table.
   */
  resolve(raw: RawSymbol): ElfSymbol {
    const fullName = this.strings.get(raw.st_name);
    let name = fullName;
    let version: string | undefined;
    let isDefaultVersion = true;
    const tableVersion = this.versionOf(raw.index);
    if (tableVersion !== undefined) {
      version = tableVersion.name;
      isDefaultVersion = tableVersion.isDefault;
    } else {
      const at = fullName.indexOf("@");
      if (at > 0) {
        name = fullName.slice(0, at);
        const isDouble = fullName[at + 1] === "@";
        version = fullName.slice(at + (isDouble ? 2 : 1));
        isDefaultVersion = isDouble;
      }
    }
    return {
      name,
      version,
      isDefaultVersion,
      value: raw.st_value,
      size: raw.st_size,
      type: symbolType(raw),
      binding: symbolBinding(raw),
      visibility: raw.st_other & 0x3,
      other: raw.st_other,
      shndx: raw.st_shndx,
      table: this.kind,
      index: raw.index,
    };
  }
}

function decode(f: Fields, o: number, index: number, bits: 32 | 64): RawSymbol {
  if (bits === 64) {
    return { index, st_name: f.u32(o), st_info: f.u8(o + 4), st_other: f.u8(o + 5), st_shndx: f.u16(o + 6), st_value: f.u64(o + 8), st_size: f.u64(o + 16) };
  }
  return {
    index,
    st_name: f.u32(o),
    st_value: BigInt(f.u32(o + 4)),
    st_size: BigInt(f.u32(o + 8)),
    st_info: f.u8(o + 12),
    st_other: f.u8(o + 13),
    st_shndx: f.u16(o + 14),
  };
}
