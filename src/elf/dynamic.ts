/**
 * Dynamic symbols without section headers.
 *
 * `sstrip` and some packers remove the section header table; the loader
 * never needed it, because `PT_DYNAMIC` points at everything dynamic
 * linking uses: `DT_SYMTAB`, `DT_STRTAB`/`DT_STRSZ`, `DT_GNU_HASH` or
 * `DT_HASH`, and the version tables. This module turns those pointers into
 * stand-in section headers, so that the same symbol-table code serves both
 * kinds of file. `ElfFile.sections` stays empty: these are not the file's
 * sections, only a view of its dynamic segment.
 *
 * `.dynsym` has no size entry in the dynamic table; like the loader and
 * libbpf, the symbol count is taken from the hash table (SysV `nchain`, or
 * the last chain of the GNU table).
 */
import { LimitError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { PT_DYNAMIC, PT_LOAD, SHT_DYNSYM, SHT_GNU_HASH, SHT_GNU_VERDEF, SHT_GNU_VERNEED, SHT_GNU_VERSYM, SHT_HASH, SHT_STRTAB } from "./constants.js";
import { Fields } from "./fields.js";
import type { ElfHeader } from "./header.js";
import type { ProgramHeader } from "./program-headers.js";
import type { SectionHeader } from "./section-headers.js";

const DT_NULL = 0;
const DT_HASH = 4;
const DT_STRTAB = 5;
const DT_SYMTAB = 6;
const DT_STRSZ = 10;
const DT_GNU_HASH = 0x6ffffef5;
const DT_VERSYM = 0x6ffffff0;
const DT_VERDEF = 0x6ffffffc;
const DT_VERNEED = 0x6ffffffe;

/** Hostile-input cap on dynamic entries (real files: a few dozen). */
const MAX_DYNAMIC_ENTRIES = 4096;

/**
 * Stand-in section headers for the dynamic symbol machinery of a file
 * without section headers, or [] when it has no usable `PT_DYNAMIC`.
 * Indexes: 1 `.dynstr`, 2 `.dynsym`, then the hash and version tables.
 */
export function dynamicSections(source: ByteSource, header: ElfHeader, phdrs: readonly ProgramHeader[]): SectionHeader[] {
  const dynamic = phdrs.find((p) => p.p_type === PT_DYNAMIC);
  if (dynamic === undefined) return [];
  const tags = readDynamicTags(source, header, dynamic);
  const toOffset = (vaddr: bigint | undefined): number | undefined => (vaddr === undefined ? undefined : fileOffsetIn(phdrs, vaddr));
  const strtab = toOffset(tags.get(DT_STRTAB));
  const strsz = tags.get(DT_STRSZ);
  const symtab = toOffset(tags.get(DT_SYMTAB));
  if (strtab === undefined || strsz === undefined || symtab === undefined) return [];
  const entsize = header.bits === 64 ? 24 : 16;
  const gnuHash = toOffset(tags.get(DT_GNU_HASH));
  const sysvHash = toOffset(tags.get(DT_HASH));
  const count =
    sysvHash !== undefined
      ? new Fields(readRange(source, sysvHash + 4, 4, "DT_HASH nchain"), header).u32(0)
      : gnuHash !== undefined
        ? gnuSymbolCount(source, header, gnuHash)
        : 0;
  if (count === 0) return [];

  const sections: SectionHeader[] = [stub(0, "", 0, 0, 0)];
  sections.push(stub(1, ".dynstr", SHT_STRTAB, strtab, Number(strsz)));
  sections.push({ ...stub(2, ".dynsym", SHT_DYNSYM, symtab, count * entsize), sh_link: 1, sh_entsize: entsize });
  if (gnuHash !== undefined) sections.push({ ...stub(sections.length, ".gnu.hash", SHT_GNU_HASH, gnuHash, restOfSegment(phdrs, gnuHash)), sh_link: 2 });
  else if (sysvHash !== undefined) sections.push({ ...stub(sections.length, ".hash", SHT_HASH, sysvHash, restOfSegment(phdrs, sysvHash)), sh_link: 2 });
  const versym = toOffset(tags.get(DT_VERSYM));
  if (versym !== undefined) sections.push({ ...stub(sections.length, ".gnu.version", SHT_GNU_VERSYM, versym, count * 2), sh_link: 2 });
  const verdef = toOffset(tags.get(DT_VERDEF));
  if (verdef !== undefined) sections.push({ ...stub(sections.length, ".gnu.version_d", SHT_GNU_VERDEF, verdef, restOfSegment(phdrs, verdef)), sh_link: 1 });
  const verneed = toOffset(tags.get(DT_VERNEED));
  if (verneed !== undefined) sections.push({ ...stub(sections.length, ".gnu.version_r", SHT_GNU_VERNEED, verneed, restOfSegment(phdrs, verneed)), sh_link: 1 });
  return sections;
}

function readDynamicTags(source: ByteSource, header: ElfHeader, dynamic: ProgramHeader): Map<number, bigint> {
  const entsize = header.bits === 64 ? 16 : 8;
  const count = Math.floor(dynamic.p_filesz / entsize);
  if (count > MAX_DYNAMIC_ENTRIES) throw new LimitError(`PT_DYNAMIC: ${count} entries (limit ${MAX_DYNAMIC_ENTRIES})`);
  const f = new Fields(readRange(source, dynamic.p_offset, count * entsize, "PT_DYNAMIC"), header);
  const tags = new Map<number, bigint>();
  for (let i = 0; i < count; i++) {
    const tag = f.word(i * entsize);
    if (tag === BigInt(DT_NULL)) break;
    // Only the low tags matter here; keep the first of each, as the loader does.
    if (tag <= 0xffffffffn && !tags.has(Number(tag))) tags.set(Number(tag), f.word(i * entsize + entsize / 2));
  }
  return tags;
}

/** The number of `.dynsym` entries implied by a GNU hash table: one past the highest index any chain reaches. */
function gnuSymbolCount(source: ByteSource, header: ElfHeader, offset: number): number {
  const head = new Fields(readRange(source, offset, 16, "DT_GNU_HASH header"), header);
  const nbuckets = head.u32(0);
  const symoffset = head.u32(4);
  const bloomWords = head.u32(8);
  const bucketsAt = offset + 16 + bloomWords * (header.bits / 8);
  const buckets = new Fields(readRange(source, bucketsAt, nbuckets * 4, "DT_GNU_HASH buckets"), header);
  let last = 0;
  for (let i = 0; i < nbuckets; i++) last = Math.max(last, buckets.u32(i * 4));
  if (last < symoffset) return symoffset;
  const chainsAt = bucketsAt + nbuckets * 4;
  for (let index = last; ; index++) {
    const at = chainsAt + (index - symoffset) * 4;
    if (at + 4 > source.size || index - last > 1 << 24) return index;
    if (new Fields(source.readAt(at, 4), header).u32(0) & 1) return index + 1;
  }
}

function fileOffsetIn(phdrs: readonly ProgramHeader[], vaddr: bigint): number | undefined {
  for (const p of phdrs) {
    if (p.p_type === PT_LOAD && vaddr >= p.p_vaddr && vaddr < p.p_vaddr + BigInt(p.p_filesz)) return Number(vaddr - p.p_vaddr) + p.p_offset;
  }
  return undefined;
}

/** Bytes from `offset` to the end of the PT_LOAD that holds it: an upper bound for tables of unknown size. */
function restOfSegment(phdrs: readonly ProgramHeader[], offset: number): number {
  for (const p of phdrs) {
    if (p.p_type === PT_LOAD && offset >= p.p_offset && offset < p.p_offset + p.p_filesz) return p.p_offset + p.p_filesz - offset;
  }
  return 0;
}

function stub(index: number, name: string, type: number, offset: number, size: number): SectionHeader {
  return {
    index,
    name,
    sh_name: 0,
    sh_type: type,
    sh_flags: 0n,
    sh_addr: 0n,
    sh_offset: offset,
    sh_size: size,
    sh_link: 0,
    sh_info: 0,
    sh_addralign: 0n,
    sh_entsize: 0,
  };
}
