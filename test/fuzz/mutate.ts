/**
 * Structure-aware mutations of ELF files for the fuzzer.
 *
 * A seed's layout (where its header fields, section and program headers,
 * notes, symbols, hash and version tables, dynamic entries and strings are)
 * is found once by a small reader of its own, deliberately independent of
 * probec's parser so that a probec bug cannot hide the fields it mishandles.
 * Every mutation then writes into a copy of the seed, and says what it did
 * in words (`shdr[6 .dynsym].sh_size@0x3c8c/8 = 0xffffffff (was 0x90)`) so
 * that a failure can be read and replayed.
 */
import type { Prng } from "./prng.js";

/** One integer field of the seed: where it is, its width, and a readable name. */
export interface Field {
  readonly at: number;
  readonly width: 1 | 2 | 4 | 8;
  readonly what: string;
}

/** A byte range of strings (string tables, note names, USDT argument text). */
export interface Region {
  readonly at: number;
  readonly size: number;
  readonly what: string;
}

/** The mutation targets of one seed, by kind. */
export interface Layout {
  readonly littleEndian: boolean;
  readonly header: Field[];
  readonly sectionHeaders: Field[];
  readonly programHeaders: Field[];
  readonly notes: Field[];
  readonly symbols: Field[];
  readonly hashes: Field[];
  readonly versions: Field[];
  readonly dynamic: Field[];
  readonly strings: Region[];
  /** Opaque payloads worth corrupting byte-wise: `.gnu_debugdata` (xz), `.gnu_debuglink`. */
  readonly blobs: Region[];
  /** Offsets where a structure starts: truncation points worth trying. */
  readonly boundaries: number[];
}

const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_HASH = 5;
const SHT_DYNAMIC = 6;
const SHT_NOTE = 7;
const SHT_DYNSYM = 11;
const SHT_GNU_HASH = 0x6ffffff6;
const SHT_GNU_VERDEF = 0x6ffffffd;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const PT_DYNAMIC = 2;
const PT_NOTE = 4;
/** Symbols per table whose fields are mutation targets (the first few and some spread over the table). */
const SYMBOLS_PER_TABLE = 24;

/** Finds the mutation targets of `bytes`; tolerant of corrupt seeds (it keeps whatever it could find). */
export function layoutOf(bytes: Uint8Array): Layout {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const is64 = bytes[4] !== 1;
  const le = bytes[5] !== 2;
  const layout: Layout = {
    littleEndian: le,
    header: [],
    sectionHeaders: [],
    programHeaders: [],
    notes: [],
    symbols: [],
    hashes: [],
    versions: [],
    dynamic: [],
    strings: [],
    blobs: [],
    boundaries: [],
  };
  const word = is64 ? 8 : 4;
  const fits = (at: number, n: number): boolean => Number.isSafeInteger(at) && at >= 0 && at + n <= bytes.length;
  const u16 = (at: number): number => (fits(at, 2) ? view.getUint16(at, le) : 0);
  const u32 = (at: number): number => (fits(at, 4) ? view.getUint32(at, le) : 0);
  const wordAt = (at: number): number => (!fits(at, word) ? 0 : is64 ? Number(view.getBigUint64(at, le)) : view.getUint32(at, le));
  const field = (list: Field[], at: number, width: 1 | 2 | 4 | 8, what: string): void => {
    if (fits(at, width)) list.push({ at, width, what });
  };
  const w = word as 4 | 8;

  // ELF header (gABI field order; ELF64 offsets first, ELF32 second).
  const H = is64
    ? { entry: 24, phoff: 32, shoff: 40, flags: 48, ehsize: 52, phentsize: 54, phnum: 56, shentsize: 58, shnum: 60, shstrndx: 62 }
    : { entry: 24, phoff: 28, shoff: 32, flags: 36, ehsize: 40, phentsize: 42, phnum: 44, shentsize: 46, shnum: 48, shstrndx: 50 };
  field(layout.header, 4, 1, "e_ident[EI_CLASS]");
  field(layout.header, 5, 1, "e_ident[EI_DATA]");
  field(layout.header, 16, 2, "e_type");
  field(layout.header, 18, 2, "e_machine");
  field(layout.header, H.entry, w, "e_entry");
  field(layout.header, H.phoff, w, "e_phoff");
  field(layout.header, H.shoff, w, "e_shoff");
  field(layout.header, H.flags, 4, "e_flags");
  field(layout.header, H.phentsize, 2, "e_phentsize");
  field(layout.header, H.phnum, 2, "e_phnum");
  field(layout.header, H.shentsize, 2, "e_shentsize");
  field(layout.header, H.shnum, 2, "e_shnum");
  field(layout.header, H.shstrndx, 2, "e_shstrndx");
  const phoff = wordAt(H.phoff);
  const shoff = wordAt(H.shoff);
  const phnum = Math.min(u16(H.phnum), 64);
  const shnum = Math.min(u16(H.shnum), 256);
  const phent = is64 ? 56 : 32;
  const shent = is64 ? 64 : 40;
  layout.boundaries.push(is64 ? 64 : 52, phoff, shoff);

  // Program headers.
  const segments: Array<{ type: number; offset: number; vaddr: number; filesz: number }> = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phent;
    if (!fits(o, phent)) break;
    const P = is64
      ? { type: 0, flags: 4, offset: 8, vaddr: 16, paddr: 24, filesz: 32, memsz: 40, align: 48 }
      : { type: 0, offset: 4, vaddr: 8, paddr: 12, filesz: 16, memsz: 20, flags: 24, align: 28 };
    const type = u32(o);
    const name = `phdr[${i} type 0x${type.toString(16)}]`;
    field(layout.programHeaders, o + P.type, 4, `${name}.p_type`);
    field(layout.programHeaders, o + P.flags, 4, `${name}.p_flags`);
    for (const f of ["offset", "vaddr", "filesz", "memsz", "align"] as const) field(layout.programHeaders, o + P[f], w, `${name}.p_${f}`);
    segments.push({ type, offset: wordAt(o + P.offset), vaddr: wordAt(o + P.vaddr), filesz: wordAt(o + P.filesz) });
    layout.boundaries.push(o, wordAt(o + P.offset), wordAt(o + P.offset) + wordAt(o + P.filesz));
  }

  // Section headers.
  const sections: Array<{ index: number; name: string; type: number; offset: number; size: number; link: number; entsize: number }> = [];
  const S = is64
    ? { name: 0, type: 4, flags: 8, addr: 16, offset: 24, size: 32, link: 40, info: 44, addralign: 48, entsize: 56 }
    : { name: 0, type: 4, flags: 8, addr: 12, offset: 16, size: 20, link: 24, info: 28, addralign: 32, entsize: 36 };
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shent;
    if (shoff === 0 || !fits(o, shent)) break;
    sections.push({
      index: i,
      name: "",
      type: u32(o + S.type),
      offset: wordAt(o + S.offset),
      size: wordAt(o + S.size),
      link: u32(o + S.link),
      entsize: wordAt(o + S.entsize),
    });
  }
  const shstr = sections[u16(H.shstrndx)];
  for (const s of sections) {
    const nameAt = (shstr?.offset ?? 0) + u32(shoff + s.index * shent);
    if (shstr !== undefined && fits(nameAt, 1)) {
      let end = nameAt;
      while (end < bytes.length && end - nameAt < 64 && bytes[end] !== 0) end++;
      s.name = String.fromCharCode(...bytes.subarray(nameAt, end));
    }
    const o = shoff + s.index * shent;
    const name = `shdr[${s.index} ${s.name || "?"}]`;
    field(layout.sectionHeaders, o + S.name, 4, `${name}.sh_name`);
    field(layout.sectionHeaders, o + S.type, 4, `${name}.sh_type`);
    field(layout.sectionHeaders, o + S.link, 4, `${name}.sh_link`);
    field(layout.sectionHeaders, o + S.info, 4, `${name}.sh_info`);
    for (const f of ["flags", "addr", "offset", "size", "addralign", "entsize"] as const) field(layout.sectionHeaders, o + S[f], w, `${name}.sh_${f}`);
    layout.boundaries.push(o, s.offset, s.offset + Math.floor(s.size / 2), s.offset + s.size);
  }

  // Notes: every note header in SHT_NOTE sections, or PT_NOTE segments without sections.
  const noteAreas =
    sections.length > 0
      ? sections.filter((s) => s.type === SHT_NOTE).map((s) => ({ offset: s.offset, size: s.size, what: s.name }))
      : segments.filter((p) => p.type === PT_NOTE).map((p, i) => ({ offset: p.offset, size: p.filesz, what: `PT_NOTE[${i}]` }));
  for (const area of noteAreas) {
    let at = area.offset;
    for (let n = 0; n < 2048 && fits(at, 12) && at < area.offset + area.size; n++) {
      const namesz = u32(at);
      const descsz = u32(at + 4);
      const what = `${area.what} note ${n}`;
      field(layout.notes, at, 4, `${what}.n_namesz`);
      field(layout.notes, at + 4, 4, `${what}.n_descsz`);
      field(layout.notes, at + 8, 4, `${what}.n_type`);
      layout.boundaries.push(at, at + 12);
      if (namesz > 4096 || descsz > 65536) break;
      const descAt = at + 12 + align4(namesz);
      layout.strings.push({ at: at + 12, size: namesz, what: `${what} name` });
      const ownerIsStapsdt = namesz === 8 && String.fromCharCode(...bytes.subarray(at + 12, at + 19)) === "stapsdt";
      if (ownerIsStapsdt && descsz > 3 * word) {
        field(layout.notes, descAt, w, `${what} stapsdt pc`);
        field(layout.notes, descAt + word, w, `${what} stapsdt base`);
        field(layout.notes, descAt + 2 * word, w, `${what} stapsdt semaphore`);
        layout.strings.push({ at: descAt + 3 * word, size: descsz - 3 * word, what: `${what} stapsdt strings` });
      }
      at = descAt + align4(descsz);
    }
  }

  // Symbols: a sample of entries of every symbol table.
  const syment = is64 ? 24 : 16;
  for (const s of sections.filter((x) => x.type === SHT_SYMTAB || x.type === SHT_DYNSYM)) {
    const count = Math.floor(s.size / syment);
    const picks = new Set<number>();
    for (let i = 0; i < Math.min(count, 8); i++) picks.add(i);
    for (let k = 0; k < SYMBOLS_PER_TABLE - 8 && count > 8; k++) picks.add(8 + Math.floor((k * (count - 8)) / (SYMBOLS_PER_TABLE - 8)));
    for (const i of picks) {
      const o = s.offset + i * syment;
      const what = `${s.name}[${i}]`;
      field(layout.symbols, o, 4, `${what}.st_name`);
      field(layout.symbols, is64 ? o + 4 : o + 12, 1, `${what}.st_info`);
      field(layout.symbols, is64 ? o + 5 : o + 13, 1, `${what}.st_other`);
      field(layout.symbols, is64 ? o + 6 : o + 14, 2, `${what}.st_shndx`);
      field(layout.symbols, is64 ? o + 8 : o + 4, w, `${what}.st_value`);
      field(layout.symbols, is64 ? o + 16 : o + 8, w, `${what}.st_size`);
    }
  }

  // Hash tables: headers, some buckets and chain words.
  for (const s of sections.filter((x) => x.type === SHT_GNU_HASH || x.type === SHT_HASH)) {
    const slots = s.type === SHT_GNU_HASH ? ["nbuckets", "symoffset", "bloom_size", "bloom_shift"] : ["nbucket", "nchain"];
    slots.forEach((name, i) => field(layout.hashes, s.offset + 4 * i, 4, `${s.name}.${name}`));
    const words = Math.floor(s.size / 4);
    for (let k = slots.length; k < words; k += Math.max(1, Math.floor(words / 24))) field(layout.hashes, s.offset + 4 * k, 4, `${s.name} word ${k}`);
  }

  // Version tables: versym words, every verdef/verneed record and aux entry.
  for (const s of sections) {
    if (s.type === SHT_GNU_VERSYM) {
      for (let k = 0; k < Math.floor(s.size / 2); k += Math.max(1, Math.floor(s.size / 2 / 16))) field(layout.versions, s.offset + 2 * k, 2, `${s.name}[${k}]`);
    } else if (s.type === SHT_GNU_VERDEF) {
      let at = s.offset;
      for (let n = 0; n < 64 && fits(at, 20); n++) {
        for (const [off, width, name] of [
          [2, 2, "vd_flags"],
          [4, 2, "vd_ndx"],
          [6, 2, "vd_cnt"],
          [12, 4, "vd_aux"],
          [16, 4, "vd_next"],
        ] as const)
          field(layout.versions, at + off, width, `verdef ${n}.${name}`);
        const aux = at + u32(at + 12);
        field(layout.versions, aux, 4, `verdef ${n} aux.vda_name`);
        field(layout.versions, aux + 4, 4, `verdef ${n} aux.vda_next`);
        const next = u32(at + 16);
        if (next === 0) break;
        at += next;
      }
    } else if (s.type === SHT_GNU_VERNEED) {
      let at = s.offset;
      for (let n = 0; n < 64 && fits(at, 16); n++) {
        for (const [off, width, name] of [
          [2, 2, "vn_cnt"],
          [4, 4, "vn_file"],
          [8, 4, "vn_aux"],
          [12, 4, "vn_next"],
        ] as const)
          field(layout.versions, at + off, width, `verneed ${n}.${name}`);
        let aux = at + u32(at + 8);
        for (let k = 0; k < Math.min(u16(at + 2), 32) && fits(aux, 16); k++) {
          for (const [off, width, name] of [
            [6, 2, "vna_other"],
            [8, 4, "vna_name"],
            [12, 4, "vna_next"],
          ] as const)
            field(layout.versions, aux + off, width, `verneed ${n} aux ${k}.${name}`);
          const next = u32(aux + 12);
          if (next === 0) break;
          aux += next;
        }
        const next = u32(at + 12);
        if (next === 0) break;
        at += next;
      }
    }
  }

  // Dynamic entries (the only way to the symbols of an sstripped file).
  const dynamic = sections.find((s) => s.type === SHT_DYNAMIC) ?? segments.find((p) => p.type === PT_DYNAMIC);
  if (dynamic !== undefined) {
    const start = dynamic.offset;
    for (let i = 0; i < 64; i++) {
      const o = start + i * 2 * word;
      if (!fits(o, 2 * word)) break;
      field(layout.dynamic, o, w, `dynamic[${i}].d_tag (0x${wordAt(o).toString(16)})`);
      field(layout.dynamic, o + word, w, `dynamic[${i}].d_val`);
      if (wordAt(o) === 0) break;
    }
  }

  for (const s of sections.filter((x) => x.name === ".gnu_debugdata" || x.name === ".gnu_debuglink")) {
    if (fits(s.offset, 1)) layout.blobs.push({ at: s.offset, size: Math.min(s.size, bytes.length - s.offset), what: s.name });
  }

  // String tables.
  for (const s of sections.filter((x) => x.type === SHT_STRTAB))
    if (fits(s.offset, 1)) layout.strings.push({ at: s.offset, size: Math.min(s.size, bytes.length - s.offset), what: s.name });

  layout.boundaries.splice(0, layout.boundaries.length, ...[...new Set(layout.boundaries)].filter((b) => b > 0 && b < bytes.length).sort((a, b) => a - b));
  return layout;
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** One mutated file and what was done to make it. */
export interface Mutant {
  readonly bytes: Uint8Array;
  readonly steps: string[];
}

type Kind =
  | "header"
  | "sectionHeaders"
  | "programHeaders"
  | "notes"
  | "symbols"
  | "hashes"
  | "versions"
  | "dynamic"
  | "strings"
  | "blobs"
  | "flip"
  | "anyField"
  | "splice";

/** Relative weights of the mutation kinds. */
const KINDS: ReadonlyArray<readonly [Kind, number]> = [
  ["header", 12],
  ["sectionHeaders", 22],
  ["programHeaders", 9],
  ["notes", 13],
  ["symbols", 9],
  ["hashes", 6],
  ["versions", 6],
  ["dynamic", 5],
  ["strings", 8],
  ["blobs", 3],
  ["flip", 5],
  ["anyField", 3],
  ["splice", 2],
];
const TOTAL_WEIGHT = KINDS.reduce((n, [, w]) => n + w, 0);

/** Applies 1–4 mutations (and sometimes a truncation) to a copy of `seed`. */
export function mutate(seed: Uint8Array, layout: Layout, rng: Prng): Mutant {
  let bytes = seed.slice();
  const steps: string[] = [];
  const count = rng.chance(0.6) ? 1 : rng.chance(0.6) ? 2 : rng.between(3, 4);
  for (let i = 0; i < count && bytes.length > 0; i++) steps.push(applyOne(bytes, layout, rng, pickKind(rng)));
  if (bytes.length > 0 && rng.chance(0.12)) {
    const near = layout.boundaries.length > 0 && rng.chance(0.5);
    const base = near ? rng.pick(layout.boundaries) : rng.below(bytes.length);
    const length = Math.max(0, Math.min(bytes.length - 1, base + (near ? rng.between(-8, 8) : 0)));
    bytes = bytes.slice(0, length);
    steps.push(`truncate to ${length} bytes (of ${seed.length})`);
  }
  return { bytes, steps };
}

function pickKind(rng: Prng): Kind {
  let n = rng.below(TOTAL_WEIGHT);
  for (const [kind, weight] of KINDS) {
    if (n < weight) return kind;
    n -= weight;
  }
  return "flip";
}

function applyOne(bytes: Uint8Array, layout: Layout, rng: Prng, kind: Kind): string {
  switch (kind) {
    case "flip": {
      const n = rng.between(1, 8);
      const where: string[] = [];
      for (let i = 0; i < n; i++) {
        const at = rng.below(bytes.length);
        const mask = rng.between(1, 255);
        bytes[at] = (bytes[at] ?? 0) ^ mask;
        where.push(`0x${at.toString(16)}^0x${mask.toString(16)}`);
      }
      return `flip ${where.join(" ")}`;
    }
    case "anyField": {
      const width = rng.pick([1, 2, 4, 8] as const);
      const at = rng.chance(0.5) ? rng.below(bytes.length) & ~(width - 1) : rng.below(bytes.length);
      return writeField(bytes, layout.littleEndian, { at, width, what: "field" }, rng);
    }
    case "splice": {
      const size = rng.between(1, 64);
      const from = rng.below(bytes.length);
      const to = rng.below(bytes.length);
      const chunk = bytes.slice(from, from + size);
      bytes.set(chunk.subarray(0, Math.max(0, Math.min(chunk.length, bytes.length - to))), to);
      return `copy ${chunk.length} bytes 0x${from.toString(16)} -> 0x${to.toString(16)}`;
    }
    case "blobs": {
      const region = layout.blobs.length > 0 ? rng.pick(layout.blobs) : undefined;
      if (region === undefined || region.size === 0) return applyOne(bytes, layout, rng, "flip");
      const where: string[] = [];
      for (let i = rng.between(1, 4); i > 0; i--) {
        const at = region.at + rng.below(region.size);
        const mask = rng.between(1, 255);
        bytes[at] = (bytes[at] ?? 0) ^ mask;
        where.push(`0x${at.toString(16)}^0x${mask.toString(16)}`);
      }
      return `${region.what}: flip ${where.join(" ")}`;
    }
    case "strings": {
      const region = layout.strings.length > 0 ? rng.pick(layout.strings) : undefined;
      if (region === undefined || region.size === 0) return applyOne(bytes, layout, rng, "flip");
      return mutateString(bytes, region, rng);
    }
    default: {
      const fields = layout[kind];
      if (fields.length === 0) return applyOne(bytes, layout, rng, rng.chance(0.5) ? "header" : "anyField");
      return writeField(bytes, layout.littleEndian, rng.pick(fields), rng);
    }
  }
}

/** Characters of USDT operands and symbol versions: the interesting ones for parsers. */
const STRING_ALPHABET = "%$@()[],:#+-*!0123456789abcdefxrsplieg \t\n";

function mutateString(bytes: Uint8Array, region: Region, rng: Prng): string {
  const end = Math.min(bytes.length, region.at + region.size);
  if (region.at >= end) return `string ${region.what}: out of file`;
  const at = rng.between(region.at, end - 1);
  const choice = rng.below(5);
  if (choice === 0) {
    // Remove every NUL from here to the end of the region: strings run together or off the end.
    for (let i = at; i < end; i++) if (bytes[i] === 0) bytes[i] = 0x41;
    return `${region.what}: NULs from 0x${at.toString(16)} to 0x${end.toString(16)} replaced by 'A'`;
  }
  if (choice === 1) {
    bytes[at] = 0;
    return `${region.what}: NUL at 0x${at.toString(16)}`;
  }
  if (choice === 2) {
    const n = rng.between(1, 12);
    let text = "";
    for (let i = 0; i < n && at + i < end; i++) {
      const c = STRING_ALPHABET.charCodeAt(rng.below(STRING_ALPHABET.length));
      bytes[at + i] = c;
      text += String.fromCharCode(c);
    }
    return `${region.what}: ${JSON.stringify(text)} at 0x${at.toString(16)}`;
  }
  if (choice === 3) {
    // Long runs: a digit string (64-bit overflow in constants) or a repeated operand character.
    const c = rng.pick(["9", "(", "%", "-", "@", "["]).charCodeAt(0);
    const n = rng.between(8, 300);
    for (let i = 0; i < n && at + i < end; i++) bytes[at + i] = c;
    return `${region.what}: ${n} x ${String.fromCharCode(c)} at 0x${at.toString(16)}`;
  }
  const value = rng.pick([0x80, 0xc3, 0xe2, 0xf0, 0xff]);
  bytes[at] = value;
  return `${region.what}: byte 0x${value.toString(16)} (invalid UTF-8) at 0x${at.toString(16)}`;
}

/** Fields whose valid values name things: writing another valid value exercises other code paths. */
const NAMED_VALUES: ReadonlyArray<readonly [string, readonly number[]]> = [
  // SHT_PROGBITS SYMTAB STRTAB HASH DYNAMIC NOTE NOBITS DYNSYM GNU_HASH VERDEF VERNEED VERSYM
  [".sh_type", [1, 2, 3, 5, 6, 7, 8, 11, 0x6ffffff6, 0x6ffffffd, 0x6ffffffe, 0x6fffffff]],
  // PT_LOAD DYNAMIC NOTE
  [".p_type", [1, 2, 4]],
  [".p_flags", [4, 5, 6, 7, 1]],
  // i386 ppc ppc64 s390 arm x86_64 aarch64 riscv loongarch
  ["e_machine", [3, 20, 21, 22, 40, 62, 183, 243, 258]],
  ["e_ident[EI_CLASS]", [1, 2]],
  ["e_ident[EI_DATA]", [1, 2]],
  // ppc64 ABI versions, ARM EABI flags
  ["e_flags", [0, 1, 2, 3, 0x5000400]],
  // STB_GLOBAL/WEAK/LOCAL/UNIQUE x STT_FUNC/OBJECT/NOTYPE/IFUNC/TLS/SECTION/FILE
  [".st_info", [0x12, 0x22, 0x02, 0xa2, 0x11, 0x10, 0x1a, 0x16, 0x03, 0x04, 0x00]],
  // ppc64 ELFv2 local entry encodings (bits 5-7) and visibilities
  [".st_other", [0x00, 0x20, 0x40, 0x60, 0x80, 0xa0, 0xc0, 0xe0, 0x02, 0x03]],
];

/** Writes a boundary value, or a nearby value, into one field. */
function writeField(bytes: Uint8Array, le: boolean, field: Field, rng: Prng): string {
  const { at, width } = field;
  if (at < 0 || at + width > bytes.length) return `${field.what}: past the end, unchanged`;
  const old = readUint(bytes, at, width, le);
  const bits = BigInt(width * 8);
  const mask = (1n << bits) - 1n;
  const size = BigInt(bytes.length);
  let value: bigint;
  const choice = rng.below(10);
  const named = NAMED_VALUES.find(([suffix]) => field.what.endsWith(suffix));
  if (named !== undefined && rng.chance(0.5)) {
    // A valid value of another meaning: retype a section or segment, or change the architecture.
    value = BigInt(rng.pick(named[1]));
  } else if (choice < 5) {
    const boundaries = [
      0n,
      1n,
      2n,
      3n,
      4n,
      7n,
      8n,
      0x10n,
      0x7fn,
      0x80n,
      0xffn,
      0x100n,
      0x7fffn,
      0x8000n,
      0xffffn,
      0x7fffffffn,
      0x80000000n,
      0xfffffff0n,
      0xfffffffdn,
      0xffffffffn,
      0x1fffffffffffffn,
      0x20000000000000n,
      0x7fffffffffffffffn,
      0x8000000000000000n,
      0xffffffffffffffffn,
      size,
      size - 1n,
      size + 1n,
      size / 2n,
    ];
    value = rng.pick(boundaries);
  } else if (choice < 8) {
    value = old + BigInt(rng.pick([-16, -8, -4, -2, -1, 1, 2, 4, 8, 16, 24, 64, 4096]));
  } else if (choice < 9) {
    value = old ^ (1n << BigInt(rng.below(width * 8)));
  } else {
    value = rng.u64();
  }
  value &= mask;
  writeUint(bytes, at, width, le, value);
  return `${field.what}@0x${at.toString(16)}/${width} = 0x${value.toString(16)} (was 0x${old.toString(16)})`;
}

function readUint(bytes: Uint8Array, at: number, width: number, le: boolean): bigint {
  let value = 0n;
  for (let i = 0; i < width; i++) value = (value << 8n) | BigInt(bytes[le ? at + width - 1 - i : at + i] ?? 0);
  return value;
}

function writeUint(bytes: Uint8Array, at: number, width: number, le: boolean, value: bigint): void {
  for (let i = 0; i < width; i++) {
    const byte = Number((value >> BigInt(8 * i)) & 0xffn);
    bytes[le ? at + i : at + width - 1 - i] = byte;
  }
}
