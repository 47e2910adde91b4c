/**
 * GNU symbol versioning: `.gnu.version` (versym), `.gnu.version_d`
 * (verdef) and `.gnu.version_r` (verneed), as the glibc loader reads them.
 *
 * A versym entry's low 15 bits index a version defined here (verdef) or
 * required from another object (verneed); bit 15 ("hidden") marks a
 * non-default version, printed `name@VER` rather than `name@@VER`
 * (PITFALLS 2: glibc's compat `memcpy@GLIBC_2.2.5` is hidden,
 * `memcpy@@GLIBC_2.14` is the default).
 */
import { FormatError, LimitError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { VER_FLG_BASE, VER_NDX_GLOBAL, VER_NDX_LOCAL, VERSYM_HIDDEN, VERSYM_VERSION } from "./constants.js";
import { Fields, type ElfLayout } from "./fields.js";
import type { SectionHeader } from "./section-headers.js";
import type { StringTable } from "./string-table.js";

/** The version attached to one dynamic symbol. */
export interface SymbolVersion {
  /** Version name, e.g. `GLIBC_2.14`. */
  readonly name: string;
  /** False for `name@VER` (hidden), true for `name@@VER`. */
  readonly isDefault: boolean;
  /** True when the version is required from another object (an undefined symbol's verneed). */
  readonly needed: boolean;
}

/** Cap on verdef/verneed entries walked (real libc has ~40). */
const MAX_VERSION_ENTRIES = 65536;

/** The versions of one `.dynsym`, read lazily per symbol. */
export class VersionTable {
  readonly #source: ByteSource;
  readonly #layout: ElfLayout;
  readonly #versym: SectionHeader;
  /** The versym array while a listing holds it (see {@link retain}); single lookups read one entry. */
  #entries: Uint16Array | undefined;
  /** Version index → name, from verdef (defined) and verneed (needed), read on the first versioned symbol. */
  #names: Map<number, { name: string; needed: boolean }> | undefined;
  readonly #readNames: () => Map<number, { name: string; needed: boolean }>;

  constructor(
    source: ByteSource,
    layout: ElfLayout,
    versym: SectionHeader,
    verdef: SectionHeader | undefined,
    verneed: SectionHeader | undefined,
    strings: (section: SectionHeader) => StringTable,
    sectionAt: (index: number) => SectionHeader | undefined,
  ) {
    this.#source = source;
    this.#layout = layout;
    this.#versym = versym;
    this.#readNames = () => {
      const names = new Map<number, { name: string; needed: boolean }>();
      if (verdef !== undefined) this.#readVerdef(names, verdef, strings(linked(verdef, sectionAt)));
      if (verneed !== undefined) this.#readVerneed(names, verneed, strings(linked(verneed, sectionAt)));
      return names;
    };
  }

  /** Reads the whole versym array until {@link release}, for a listing that asks about every symbol. */
  retain(): void {
    this.#entries ??= this.#readVersym();
  }

  /** Drops what {@link retain} read. */
  release(): void {
    this.#entries = undefined;
  }

  /** The version of dynamic symbol `index`, or undefined when it is unversioned (local or global base). */
  versionOf(index: number): SymbolVersion | undefined {
    const raw = this.#entries !== undefined ? this.#entries[index] : this.#readOne(index);
    if (raw === undefined) return undefined;
    const ndx = raw & VERSYM_VERSION;
    if (ndx === VER_NDX_LOCAL || ndx === VER_NDX_GLOBAL) return undefined;
    const entry = (this.#names ??= this.#readNames()).get(ndx);
    if (entry === undefined) return undefined;
    return { name: entry.name, isDefault: (raw & VERSYM_HIDDEN) === 0 && !entry.needed, needed: entry.needed };
  }

  #readOne(index: number): number | undefined {
    const at = index * 2;
    if (index < 0 || at + 2 > this.#versym.sh_size) return undefined;
    return new Fields(this.#source.readAt(this.#versym.sh_offset + at, 2), this.#layout).u16(0);
  }

  #readVersym(): Uint16Array {
    const count = Math.floor(this.#versym.sh_size / 2);
    const f = new Fields(readRange(this.#source, this.#versym.sh_offset, count * 2, ".gnu.version"), this.#layout);
    const entries = new Uint16Array(count);
    for (let i = 0; i < count; i++) entries[i] = f.u16(i * 2);
    return entries;
  }

  // Elf_Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32, vd_aux u32, vd_next u32.
  // Elf_Verdaux: vda_name u32, vda_next u32. The first aux entry names the version.
  #readVerdef(names: Map<number, { name: string; needed: boolean }>, section: SectionHeader, strings: StringTable): void {
    const bytes = readRange(this.#source, section.sh_offset, section.sh_size, ".gnu.version_d");
    const f = new Fields(bytes, this.#layout);
    let at = 0;
    for (let n = 0; n < MAX_VERSION_ENTRIES; n++) {
      if (at + 20 > bytes.length) throw new FormatError(".gnu.version_d: entry truncated", section.sh_offset + at);
      const flags = f.u16(at + 2);
      const ndx = f.u16(at + 4);
      const aux = f.u32(at + 12);
      const next = f.u32(at + 16);
      if (aux !== 0 && at + aux + 8 <= bytes.length && (flags & VER_FLG_BASE) === 0) {
        names.set(ndx & VERSYM_VERSION, { name: strings.get(f.u32(at + aux)), needed: false });
      }
      if (next === 0) return;
      at += next;
    }
    throw new LimitError(`.gnu.version_d: more than ${MAX_VERSION_ENTRIES} entries`);
  }

  // Elf_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
  // Elf_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
  #readVerneed(names: Map<number, { name: string; needed: boolean }>, section: SectionHeader, strings: StringTable): void {
    const bytes = readRange(this.#source, section.sh_offset, section.sh_size, ".gnu.version_r");
    const f = new Fields(bytes, this.#layout);
    let at = 0;
    let walked = 0;
    for (;;) {
      if (at + 16 > bytes.length) throw new FormatError(".gnu.version_r: entry truncated", section.sh_offset + at);
      let auxAt = at + f.u32(at + 8);
      const count = f.u16(at + 2);
      for (let i = 0; i < count; i++) {
        if (++walked > MAX_VERSION_ENTRIES) throw new LimitError(`.gnu.version_r: more than ${MAX_VERSION_ENTRIES} entries`);
        if (auxAt + 16 > bytes.length) throw new FormatError(".gnu.version_r: aux entry truncated", section.sh_offset + auxAt);
        const other = f.u16(auxAt + 6);
        names.set(other & VERSYM_VERSION, { name: strings.get(f.u32(auxAt + 8)), needed: true });
        const next = f.u32(auxAt + 12);
        if (next === 0) break;
        auxAt += next;
      }
      const next = f.u32(at + 12);
      if (next === 0) return;
      at += next;
    }
  }
}

function linked(section: SectionHeader, sectionAt: (index: number) => SectionHeader | undefined): SectionHeader {
  const target = sectionAt(section.sh_link);
  if (target === undefined) throw new FormatError(`${section.name}: sh_link out of range`, section.sh_offset, section.sh_link);
  return target;
}
