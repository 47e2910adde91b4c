/**
 * The short path of `findSymbol` for the common case: a bare name that
 * the file exports once, unversioned (node's `uv_run`). It reads the
 * `.gnu.hash` header, one bloom word, one bucket, the chain, one `.dynsym`
 * entry, one name and one versym entry, through a few small functions.
 *
 * The general path reads the same bytes, but a cold lookup is mostly V8
 * compiling probec's functions on their first call (issue 13: 3.7 ms, of
 * which ~2 ms compiling); that path builds the symbol, string, version and
 * hash table objects, then filters, dedupes and chooses among candidates,
 * and locates the one chosen. This path builds the result straight from
 * the entry.
 *
 * It answers only when the general path would give the same answer: the
 * request names no version; the hash chain holds exactly one defined code
 * entry with that name; it is not local (a local one makes the general
 * path read `.symtab` too) and its versym index is 0 or 1 (unversioned).
 * Anything else (a version, several candidates, no `.gnu.hash`, no section
 * headers, a non-ASCII name, an IFUNC unless allowed, ARM and ppc64 (whose
 * code address is not st_value), an address outside every executable
 * segment, and any table that is malformed or reaches past the end of the
 * file) returns undefined, and the general path answers, with its errors.
 */
import type { ByteSource } from "../io/byte-source.js";
import {
  EM_ARM,
  EM_PPC64,
  SHN_UNDEF,
  SHT_DYNSYM,
  SHT_GNU_HASH,
  SHT_GNU_VERSYM,
  SHT_STRTAB,
  STB_LOCAL,
  STT_FUNC,
  STT_GNU_IFUNC,
  STT_NOTYPE,
} from "./constants.js";
import type { ElfFile } from "./elf-file.js";
import type { FoundSymbol } from "./find-symbol.js";
import { gnuHash } from "./hash.js";
import type { SectionHeader } from "./section-headers.js";
import { bindingName, MAX_SYMBOLS, typeName } from "./symbols.js";

/**
 * The one exported, unversioned code definition of `name` in `.dynsym`,
 * found through `.gnu.hash` and located as `findSymbol` locates it, or
 * undefined when this short path cannot tell (see the module comment):
 * the caller then takes the general path. An IFUNC is returned only with
 * `allowIfunc` (the general path makes the error that names its
 * implementations).
 */
export function findExported(elf: ElfFile, name: string, allowIfunc: boolean): FoundSymbol | undefined {
  // ARM and ppc64 code addresses are not st_value (find-symbol.ts codeAddress).
  const machine = elf.header.e_machine;
  if (machine === EM_ARM || machine === EM_PPC64) return undefined;
  const tables = exportTables(elf);
  if (tables === undefined) return undefined;
  const wanted = asciiBytes(name);
  if (wanted === undefined) return undefined;
  const { dynsym, gnu, strtab, versym } = tables;
  const source = elf.source;
  const le = elf.header.littleEndian;
  const is64 = elf.header.bits === 64;
  const entsize = is64 ? 24 : 16;
  const count = Math.floor(dynsym.sh_size / entsize);
  const wordBytes = is64 ? 8 : 4;
  const bits = wordBytes * 8;
  // .gnu.hash: nbuckets, symoffset, bloom_size, bloom_shift, bloom[bloom_size], buckets[nbuckets], chain[].
  const header = view(source.readAt(gnu.sh_offset, 16));
  const nbuckets = header.getUint32(0, le);
  const symoffset = header.getUint32(4, le);
  const bloomSize = header.getUint32(8, le);
  const bloomShift = header.getUint32(12, le);
  const bucketsAt = 16 + bloomSize * wordBytes;
  const chainAt = bucketsAt + nbuckets * 4;
  if (nbuckets === 0 || bloomSize === 0 || chainAt > gnu.sh_size) return undefined;
  const h = gnuHash(wanted);
  // The two bits of the bloom word the loader tests (hash.ts GnuHashTable.lookup, with the same shifts).
  const bloom = view(source.readAt(gnu.sh_offset + 16 + (Math.floor(h / bits) % bloomSize) * wordBytes, wordBytes));
  if (!bloomBit(bloom, h % bits, le) || !bloomBit(bloom, (h >>> bloomShift) % bits, le)) return undefined;
  let index = view(source.readAt(gnu.sh_offset + bucketsAt + (h % nbuckets) * 4, 4)).getUint32(0, le);
  if (index === 0 || index < symoffset) return undefined;
  let found: DataView | undefined;
  let foundIndex = 0;
  let candidates = 0;
  for (; index < count; index++) {
    const chainOffset = chainAt + (index - symoffset) * 4;
    if (chainOffset + 4 > gnu.sh_size) return undefined;
    const h2 = view(source.readAt(gnu.sh_offset + chainOffset, 4)).getUint32(0, le);
    if ((h2 | 1) === (h | 1)) {
      const entry = view(source.readAt(dynsym.sh_offset + index * entsize, entsize));
      if (namedAt(source, strtab, entry.getUint32(0, le), wanted) && definesCode(entry, is64, le)) {
        candidates++;
        found = entry;
        foundIndex = index;
      }
    }
    if (h2 & 1) break;
  }
  if (candidates !== 1 || found === undefined) return undefined;
  const info = found.getUint8(is64 ? 4 : 12);
  const type = info & 0xf;
  const binding = info >> 4;
  if (binding === STB_LOCAL || (type === STT_GNU_IFUNC && !allowIfunc)) return undefined;
  if (versym !== undefined && foundIndex * 2 + 2 <= versym.sh_size) {
    // VER_NDX_LOCAL (0) and VER_NDX_GLOBAL (1) are unversioned; the hidden bit (15) matters only with a version.
    if ((view(source.readAt(versym.sh_offset + foundIndex * 2, 2)).getUint16(0, le) & 0x7fff) > 1) return undefined;
  }
  // find-symbol.ts locateIfInside, for a code address that is st_value; outside every executable segment, the general path says so.
  const address = is64 ? found.getBigUint64(8, le) : BigInt(found.getUint32(4, le));
  const fileOffset = elf.fileOffsetOf(address, "code");
  if (fileOffset === undefined) return undefined;
  return {
    file: elf.name,
    name,
    version: null,
    isDefaultVersion: true,
    address,
    fileOffset,
    size: Number(is64 ? found.getBigUint64(16, le) : found.getUint32(8, le)),
    type: typeName(type),
    binding: bindingName(binding),
  };
}

/** The sections the short path reads, as `ElfFile.symbolTable` and `dynamicHash` pick them, each inside the file; or undefined. */
function exportTables(elf: ElfFile): { dynsym: SectionHeader; gnu: SectionHeader; strtab: SectionHeader; versym: SectionHeader | undefined } | undefined {
  const sections = elf.sections;
  let dynsym: SectionHeader | undefined;
  let versym: SectionHeader | undefined;
  for (const s of sections) {
    if (dynsym === undefined && s.sh_type === SHT_DYNSYM) dynsym = s;
    if (versym === undefined && s.sh_type === SHT_GNU_VERSYM) versym = s;
  }
  if (dynsym === undefined) return undefined;
  let gnu: SectionHeader | undefined;
  for (const s of sections) {
    if (s.sh_type === SHT_GNU_HASH && s.sh_link === dynsym.index) {
      gnu = s;
      break;
    }
  }
  const strtab = sections[dynsym.sh_link];
  const entsize = elf.header.bits === 64 ? 24 : 16;
  const size = elf.source.size;
  const inside = (s: SectionHeader | undefined): boolean => s === undefined || s.sh_offset + s.sh_size <= size;
  if (gnu === undefined || strtab === undefined || strtab.sh_type !== SHT_STRTAB || gnu.sh_size < 16) return undefined;
  if ((dynsym.sh_entsize !== 0 && dynsym.sh_entsize !== entsize) || dynsym.sh_size / entsize > MAX_SYMBOLS) return undefined;
  if (!inside(dynsym) || !inside(gnu) || !inside(strtab) || !inside(versym)) return undefined;
  return { dynsym, gnu, strtab, versym };
}

/** True when the string at `st_name` is exactly `wanted` (StringTable.equals, without the table object). */
function namedAt(source: ByteSource, strtab: SectionHeader, st_name: number, wanted: Uint8Array): boolean {
  if (st_name + wanted.length >= strtab.sh_size) return false;
  const bytes = source.readAt(strtab.sh_offset + st_name, wanted.length + 1);
  for (let i = 0; i < wanted.length; i++) if (bytes[i] !== wanted[i]) return false;
  return bytes[wanted.length] === 0;
}

/** True when the entry is defined and of a code type (find-symbol.ts isCodeType: functions, IFUNC resolvers, untyped labels). */
function definesCode(entry: DataView, is64: boolean, le: boolean): boolean {
  const type = entry.getUint8(is64 ? 4 : 12) & 0xf;
  return entry.getUint16(is64 ? 6 : 14, le) !== SHN_UNDEF && (type === STT_FUNC || type === STT_GNU_IFUNC || type === STT_NOTYPE);
}

/** Bit `bit` of a bloom word (ELFCLASS-sized), tested on its 32-bit halves. */
function bloomBit(word: DataView, bit: number, le: boolean): boolean {
  const half = word.byteLength === 4 ? 0 : bit >= 32 === le ? 4 : 0;
  return ((word.getUint32(half, le) >>> (bit & 31)) & 1) === 1;
}

/** The name's bytes when it is ASCII (a UTF-8 name takes the general path, which compares decoded strings). */
function asciiBytes(name: string): Uint8Array | undefined {
  const bytes = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0 || c > 0x7f) return undefined;
    bytes[i] = c;
  }
  return bytes;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
