/**
 * glibc's `/etc/ld.so.cache`, read the way the dynamic loader reads it.
 *
 * Pure (no `node:*`): the caller reads the container's file (through its
 * root, never the host's: PITFALLS 23) and hands the bytes in. The bytes are
 * hostile (PITFALLS 24): every offset is checked, counts and string lengths
 * are capped, and the total work is linear in the file size (a crafted cache
 * once cost another tool 53 s of CPU).
 *
 * Layouts, from glibc `sysdeps/generic/dl-cache.h` and `elf/cache.c`
 * (`save_cache`, `print_cache`):
 *
 * Old format (libc5, glibc 2.0/2.1; `ldconfig -c old`):
 *
 * ```
 * 0x00 magic "ld.so-1.7.0" (11 bytes, then 1 byte of padding)
 * 0x0c nlibs            u32
 * 0x10 libs[nlibs]      { flags i32, key u32, value u32 }   12 bytes each
 *      strings          key/value are offsets from the END of libs[]
 * ```
 *
 * New format (glibc ≥ 2.2; the only one written by default since 2.32):
 *
 * ```
 * 0x00 magic "glibc-ld.so.cache" + version "1.1"   (20 bytes)
 * 0x14 nlibs            u32
 * 0x18 len_strings      u32
 * 0x1c flags            u8   (endianness: 0 unset, 1 invalid, 2 little, 3 big)
 * 0x1d padding          3 bytes
 * 0x20 extension_offset u32  (from the start of the FILE; 0 = none)
 * 0x24 unused           3 × u32
 * 0x30 libs[nlibs]      { flags i32, key u32, value u32, osversion u32, hwcap u64 }  24 bytes each
 *      strings          len_strings bytes; key/value are offsets from the
 *                       start of THIS HEADER (not the file), as glibc does
 * ```
 *
 * "compat" files (`ldconfig -c compat`, the default before glibc 2.32) are
 * an old-format file whose string table starts with the new format, at the
 * old header's end rounded up to the new header's alignment (8, or 4 on
 * i386: both are tried). Like the loader, we then use the new part only.
 *
 * The extension directory (glibc ≥ 2.33): `{ magic u32 = 0xeaa42174, count
 * u32, sections[count] { tag, flags, offset, size } }`. Tag 1 is the
 * glibc-hwcaps table: u32 string offsets of subdirectory names
 * (`x86-64-v3`); an entry whose hwcap has bit 62 set (and nothing else in
 * the upper half but the ISA level) names its subdirectory by index in the
 * low 32 bits. We resolve those names from the new header, like key and
 * value; `ldconfig -p` resolves them from the file start, which prints
 * garbage for compat files (it prints `hwcap: "j"` for this repo's fixture).
 */
import { FormatError, LimitError } from "../errors.js";

/** `struct cache_file` magic (old format). */
export const CACHEMAGIC = "ld.so-1.7.0";
/** `struct cache_file_new` magic and version (new format). */
export const CACHEMAGIC_VERSION_NEW = "glibc-ld.so.cache1.1";
/** `cache_extension_magic`, `(uint32_t) -358342284`. */
export const CACHE_EXTENSION_MAGIC = 0xeaa42174;
/** `cache_extension_tag_generator`: the ldconfig version string. */
export const CACHE_EXTENSION_TAG_GENERATOR = 0;
/** `cache_extension_tag_glibc_hwcaps`: u32 string offsets of subdirectory names. */
export const CACHE_EXTENSION_TAG_GLIBC_HWCAPS = 1;
/** `DL_CACHE_HWCAP_EXTENSION`: the hwcap's low 32 bits index the glibc-hwcaps table. */
export const DL_CACHE_HWCAP_EXTENSION = 1n << 62n;

// Flag values from glibc sysdeps/generic/ldconfig.h.
export const FLAG_TYPE_MASK = 0x00ff;
export const FLAG_LIBC4 = 0x0000;
export const FLAG_ELF = 0x0001;
export const FLAG_ELF_LIBC5 = 0x0002;
export const FLAG_ELF_LIBC6 = 0x0003;
export const FLAG_REQUIRED_MASK = 0xff00;
export const FLAG_SPARC_LIB64 = 0x0100;
export const FLAG_IA64_LIB64 = 0x0200;
export const FLAG_X8664_LIB64 = 0x0300;
export const FLAG_S390_LIB64 = 0x0400;
export const FLAG_POWERPC_LIB64 = 0x0500;
export const FLAG_MIPS64_LIBN32 = 0x0600;
export const FLAG_MIPS64_LIBN64 = 0x0700;
export const FLAG_X8664_LIBX32 = 0x0800;
export const FLAG_ARM_LIBHF = 0x0900;
export const FLAG_AARCH64_LIB64 = 0x0a00;
export const FLAG_ARM_LIBSF = 0x0b00;
export const FLAG_MIPS_LIB32_NAN2008 = 0x0c00;
export const FLAG_MIPS64_LIBN32_NAN2008 = 0x0d00;
export const FLAG_MIPS64_LIBN64_NAN2008 = 0x0e00;
export const FLAG_RISCV_FLOAT_ABI_SOFT = 0x0f00;
export const FLAG_RISCV_FLOAT_ABI_DOUBLE = 0x1000;
export const FLAG_LARCH_FLOAT_ABI_SOFT = 0x1100;
export const FLAG_LARCH_FLOAT_ABI_DOUBLE = 0x1200;

/** What each `FLAG_REQUIRED_MASK` value means: ldconfig's `-p` tag and the ELF class it implies (`undefined`: either). */
const REQUIRED: ReadonlyMap<number, { tag: string; elfClass: 32 | 64 | undefined }> = new Map([
  [0, { tag: "", elfClass: undefined }],
  [FLAG_SPARC_LIB64, { tag: "64bit", elfClass: 64 }],
  [FLAG_IA64_LIB64, { tag: "IA-64", elfClass: 64 }],
  [FLAG_X8664_LIB64, { tag: "x86-64", elfClass: 64 }],
  [FLAG_S390_LIB64, { tag: "64bit", elfClass: 64 }],
  [FLAG_POWERPC_LIB64, { tag: "64bit", elfClass: 64 }],
  [FLAG_MIPS64_LIBN32, { tag: "N32", elfClass: 32 }],
  [FLAG_MIPS64_LIBN64, { tag: "64bit", elfClass: 64 }],
  [FLAG_X8664_LIBX32, { tag: "x32", elfClass: 32 }],
  [FLAG_ARM_LIBHF, { tag: "hard-float", elfClass: 32 }],
  [FLAG_AARCH64_LIB64, { tag: "AArch64", elfClass: 64 }],
  [FLAG_ARM_LIBSF, { tag: "soft-float", elfClass: 32 }],
  [FLAG_MIPS_LIB32_NAN2008, { tag: "nan2008", elfClass: 32 }],
  [FLAG_MIPS64_LIBN32_NAN2008, { tag: "N32,nan2008", elfClass: 32 }],
  [FLAG_MIPS64_LIBN64_NAN2008, { tag: "64bit,nan2008", elfClass: 64 }],
  [FLAG_RISCV_FLOAT_ABI_SOFT, { tag: "soft-float", elfClass: undefined }],
  [FLAG_RISCV_FLOAT_ABI_DOUBLE, { tag: "double-float", elfClass: undefined }],
  [FLAG_LARCH_FLOAT_ABI_SOFT, { tag: "soft-float", elfClass: 64 }],
  [FLAG_LARCH_FLOAT_ABI_DOUBLE, { tag: "double-float", elfClass: 64 }],
]);

const TYPE_NAMES = ["libc4", "ELF", "libc5", "libc6"] as const;

/** An entry's `flags`, decoded. */
export interface CacheFlags {
  /** The raw value. */
  readonly raw: number;
  /** `flags & FLAG_TYPE_MASK` named as ldconfig names it: `libc6`, `ELF`, `libc5`, `libc4` or `unknown`. */
  readonly type: string;
  /** `flags & FLAG_REQUIRED_MASK`: the ABI (`FLAG_X8664_LIB64` = 0x0300, …; 0 = the platform's default 32-bit ABI). */
  readonly required: number;
  /** The tag `ldconfig -p` prints in parentheses, e.g. `libc6,x86-64` or `libc6` (without hwcap and OS ABI). */
  readonly tag: string;
  /** ELF class the ABI implies, `undefined` when the flags do not say (RISC-V, the default ABI). */
  readonly elfClass: 32 | 64 | undefined;
}

/** Decodes an entry's `flags` field. */
export function decodeCacheFlags(raw: number): CacheFlags {
  const typeBits = raw & FLAG_TYPE_MASK;
  const required = raw & FLAG_REQUIRED_MASK;
  const type = TYPE_NAMES[typeBits] ?? "unknown";
  const known = REQUIRED.get(required);
  const abi = known === undefined ? String(required) : known.tag;
  return { raw, type, required, tag: abi === "" ? type : `${type},${abi}`, elfClass: known?.elfClass };
}

/** One library in the cache. */
export interface LdCacheEntry {
  /** The soname the loader looks up (`libc.so.6`). */
  readonly name: string;
  /** Where the library is, as a path inside the root the cache belongs to. */
  readonly path: string;
  /** The `flags` field, decoded. */
  readonly flags: CacheFlags;
  /** `osversion` (new format; 0 in the old one): `os << 24 | major << 16 | minor << 8 | patch`. */
  readonly osVersion: number;
  /** The raw `hwcap` field (new format; 0n in the old one). */
  readonly hwcap: bigint;
  /**
   * For glibc-hwcaps entries: the subdirectory name (`x86-64-v3`; the library
   * lives in `…/glibc-hwcaps/x86-64-v3/`). `undefined` for ordinary entries.
   */
  readonly hwcapsSubdir: string | undefined;
  /**
   * True when the hwcap field marks a glibc-hwcaps entry (bit 62) or a legacy
   * hwcap/platform subdirectory (any other nonzero value): such entries are
   * only used on CPUs that have the capability.
   */
  readonly hwcapSpecific: boolean;
}

/** A parsed cache. */
export interface LdCache {
  /** Which layout was used: `old`, `new`, or `compat` (old with new inside; the new part is used). */
  readonly format: "old" | "new" | "compat";
  /** Byte order of the part that was used. */
  readonly littleEndian: boolean;
  /** Entries in file order (ldconfig sorts them; the loader takes the first match). */
  readonly entries: readonly LdCacheEntry[];
  /** The generator extension (`ldconfig (GNU libc) … release version 2.36`), when present. */
  readonly generator: string | undefined;
}

/** Caps on hostile input. */
export interface LdCacheLimits {
  /** Largest cache accepted, bytes (default 64 MiB; real caches are a few hundred KiB). */
  readonly maxFileSize?: number;
  /** Most entries accepted (default 1,000,000). */
  readonly maxEntries?: number;
  /** Longest string accepted, bytes without the NUL (default 4096, `PATH_MAX`). */
  readonly maxStringLength?: number;
}

const DEFAULT_MAX_FILE_SIZE = 64 * 1024 * 1024;
const DEFAULT_MAX_ENTRIES = 1_000_000;
const DEFAULT_MAX_STRING = 4096;
const OLD_HEADER_SIZE = 16;
const OLD_ENTRY_SIZE = 12;
const NEW_HEADER_SIZE = 48;
const NEW_ENTRY_SIZE = 24;
/** glibc defines two tags; a directory of more than this is hostile, not new. */
const MAX_EXTENSION_SECTIONS = 1024;

/**
 * Parses an `ld.so.cache` in any of its formats.
 *
 * @throws FormatError (with the byte offset) when the bytes are not a cache or
 *   an offset, count or string is out of bounds.
 * @throws LimitError when a cap of {@link LdCacheLimits} is reached.
 */
export function parseLdSoCache(bytes: Uint8Array, limits: LdCacheLimits = {}): LdCache {
  const maxFileSize = limits.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  if (bytes.length > maxFileSize) {
    throw new LimitError(`ld.so.cache: the file is ${bytes.length} bytes, more than the limit of ${maxFileSize}; raise maxFileSize if this cache is genuine`);
  }
  const reader = new Reader(bytes, limits.maxStringLength ?? DEFAULT_MAX_STRING);
  const maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES;

  if (hasMagic(bytes, 0, CACHEMAGIC_VERSION_NEW)) {
    return parseNew(reader, 0, maxEntries, "new");
  }
  if (!hasMagic(bytes, 0, CACHEMAGIC)) {
    throw new FormatError(`ld.so.cache: not a cache file: it starts with neither "${CACHEMAGIC}" nor "${CACHEMAGIC_VERSION_NEW}"`, 0, undefined, false);
  }
  if (bytes.length < OLD_HEADER_SIZE) {
    throw new FormatError("ld.so.cache: old-format header is truncated", 0, bytes.length);
  }
  // The old format has no byte-order mark: take the order in which nlibs fits the file.
  const room = Math.floor((bytes.length - OLD_HEADER_SIZE) / OLD_ENTRY_SIZE);
  const nlibsLe = reader.u32(12, true);
  const nlibsBe = reader.u32(12, false);
  const littleEndian = nlibsLe <= room || nlibsBe > room;
  const nlibs = littleEndian ? nlibsLe : nlibsBe;
  if (nlibs > room) {
    throw new FormatError(`ld.so.cache: nlibs says ${nlibs} entries of ${OLD_ENTRY_SIZE} bytes, but the file has room for ${room}`, 12, nlibs);
  }
  checkEntryCap(nlibs, maxEntries, 12);
  const stringBase = OLD_HEADER_SIZE + nlibs * OLD_ENTRY_SIZE;

  // A new-format cache hidden at the start of the old string table (compat).
  for (const align of [8, 4]) {
    const at = (stringBase + align - 1) & ~(align - 1);
    if (at + NEW_HEADER_SIZE <= bytes.length && hasMagic(bytes, at, CACHEMAGIC_VERSION_NEW)) {
      return parseNew(reader, at, maxEntries, "compat");
    }
  }

  const entries: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const at = OLD_HEADER_SIZE + i * OLD_ENTRY_SIZE;
    const flags = reader.i32(at, littleEndian);
    const name = reader.string(stringBase, reader.u32(at + 4, littleEndian), bytes.length, "key", at + 4);
    const path = reader.string(stringBase, reader.u32(at + 8, littleEndian), bytes.length, "value", at + 8);
    entries.push({ name, path, flags: decodeCacheFlags(flags), osVersion: 0, hwcap: 0n, hwcapsSubdir: undefined, hwcapSpecific: false });
  }
  return { format: "old", littleEndian, entries, generator: undefined };
}

function parseNew(reader: Reader, base: number, maxEntries: number, format: "new" | "compat"): LdCache {
  const size = reader.bytes.length;
  if (base + NEW_HEADER_SIZE > size) {
    throw new FormatError("ld.so.cache: new-format header is truncated", base, size - base);
  }
  const endian = reader.bytes[base + 0x1c] ?? 0;
  const order = endian & 3;
  if (order === 1) {
    throw new FormatError("ld.so.cache: the header marks the cache invalid (endianness 1); run ldconfig in the container to rebuild it", base + 0x1c, endian);
  }
  // 0: written by an ldconfig older than 2.33, which did not record the
  // order. Take the order in which nlibs fits the file.
  let littleEndian = order !== 3;
  if (order === 0) {
    const room = Math.floor((size - base - NEW_HEADER_SIZE) / NEW_ENTRY_SIZE);
    littleEndian = reader.u32(base + 0x14, true) <= room || reader.u32(base + 0x14, false) > room;
  }
  const nlibs = reader.u32(base + 0x14, littleEndian);
  const lenStrings = reader.u32(base + 0x18, littleEndian);
  const room = Math.floor((size - base - NEW_HEADER_SIZE) / NEW_ENTRY_SIZE);
  if (nlibs > room) {
    throw new FormatError(`ld.so.cache: nlibs says ${nlibs} entries of ${NEW_ENTRY_SIZE} bytes, but the file has room for ${room}`, base + 0x14, nlibs);
  }
  checkEntryCap(nlibs, maxEntries, base + 0x14);
  const stringsStart = base + NEW_HEADER_SIZE + nlibs * NEW_ENTRY_SIZE;
  if (lenStrings > size - stringsStart) {
    throw new FormatError(
      `ld.so.cache: len_strings says ${lenStrings} bytes of strings, but only ${size - stringsStart} follow the entries`,
      base + 0x18,
      lenStrings,
    );
  }
  const stringsEnd = stringsStart + lenStrings;

  const extensionOffset = reader.u32(base + 0x20, littleEndian);
  const { hwcaps, generator } = readExtensions(reader, extensionOffset, littleEndian, base + 0x20);

  const entries: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const at = base + NEW_HEADER_SIZE + i * NEW_ENTRY_SIZE;
    const flags = reader.i32(at, littleEndian);
    const name = reader.string(base, reader.u32(at + 4, littleEndian), stringsEnd, "key", at + 4);
    const path = reader.string(base, reader.u32(at + 8, littleEndian), stringsEnd, "value", at + 8);
    const osVersion = reader.u32(at + 12, littleEndian);
    const hwcap = reader.u64(at + 16, littleEndian);
    let hwcapsSubdir: string | undefined;
    if (isHwcapExtension(hwcap)) {
      const index = Number(hwcap & 0xffffffffn);
      const offset = hwcaps?.[index];
      if (offset === undefined) {
        // glibc's loader skips such an entry (no name for its subdirectory); so do we, by saying so.
        throw new FormatError(`ld.so.cache: entry ${i} names glibc-hwcaps subdirectory ${index}, but the cache has ${hwcaps?.length ?? 0}`, at + 16, hwcap);
      }
      hwcapsSubdir = reader.string(base, offset, stringsEnd, "glibc-hwcaps name", at + 16);
    }
    entries.push({ name, path, flags: decodeCacheFlags(flags), osVersion, hwcap, hwcapsSubdir, hwcapSpecific: hwcap !== 0n });
  }
  return { format, littleEndian, entries, generator };
}

/** `dl_cache_hwcap_extension`: bit 62 set and nothing else in the upper half but the 10 ISA-level bits. */
function isHwcapExtension(hwcap: bigint): boolean {
  return ((hwcap >> 32n) & ~0x3ffn) === DL_CACHE_HWCAP_EXTENSION >> 32n;
}

function readExtensions(
  reader: Reader,
  extensionOffset: number,
  littleEndian: boolean,
  fieldOffset: number,
): { hwcaps: number[] | undefined; generator: string | undefined } {
  if (extensionOffset === 0) return { hwcaps: undefined, generator: undefined };
  const size = reader.bytes.length;
  // cache_extension_load: misaligned or out-of-bounds directories make the whole cache malformed.
  if (extensionOffset % 4 !== 0 || extensionOffset > size - 8) {
    throw new FormatError("ld.so.cache: extension_offset is misaligned or past the end of the file", fieldOffset, extensionOffset);
  }
  const magic = reader.u32(extensionOffset, littleEndian);
  if (magic !== CACHE_EXTENSION_MAGIC) {
    throw new FormatError("ld.so.cache: bad extension directory magic", extensionOffset, magic);
  }
  const count = reader.u32(extensionOffset + 4, littleEndian);
  if (count > MAX_EXTENSION_SECTIONS || extensionOffset + 8 + count * 16 > size) {
    throw new FormatError("ld.so.cache: extension directory count runs past the end of the file", extensionOffset + 4, count);
  }
  let hwcaps: number[] | undefined;
  let generator: string | undefined;
  for (let i = 0; i < count; i++) {
    const at = extensionOffset + 8 + i * 16;
    const tag = reader.u32(at, littleEndian);
    const offset = reader.u32(at + 8, littleEndian);
    const length = reader.u32(at + 12, littleEndian);
    if (offset > size || length > size - offset) {
      throw new FormatError("ld.so.cache: extension section runs past the end of the file", at + 8, offset);
    }
    if (tag === CACHE_EXTENSION_TAG_GENERATOR) {
      generator = latin1(reader.bytes.subarray(offset, offset + Math.min(length, 4096)));
    } else if (tag === CACHE_EXTENSION_TAG_GLIBC_HWCAPS) {
      // cache_extension_verify: an empty, misaligned or ragged table is ignored, not fatal.
      if (length === 0 || offset % 4 !== 0 || length % 4 !== 0) continue;
      hwcaps = [];
      for (let j = 0; j < length / 4; j++) hwcaps.push(reader.u32(offset + j * 4, littleEndian));
    }
    // Unknown tags are skipped, as glibc does.
  }
  return { hwcaps, generator };
}

function checkEntryCap(nlibs: number, maxEntries: number, offset: number): void {
  if (nlibs > maxEntries) {
    throw new LimitError(
      `ld.so.cache: nlibs at offset 0x${offset.toString(16)} says ${nlibs} entries, more than the limit of ${maxEntries}; raise maxEntries if this cache is genuine`,
    );
  }
}

function hasMagic(bytes: Uint8Array, at: number, magic: string): boolean {
  if (at + magic.length > bytes.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[at + i] !== magic.charCodeAt(i)) return false;
  return true;
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** Bounds-checked little/big-endian reads and NUL-terminated strings with a work budget. */
class Reader {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  readonly #maxString: number;
  readonly #strings = new Map<number, string>();
  /** Bytes left to scan for NULs: linear in the file size whatever the offsets say. */
  #budget: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: false });

  constructor(bytes: Uint8Array, maxString: number) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#maxString = maxString;
    this.#budget = 4 * bytes.length + 1024 * 1024;
  }

  u32(at: number, le: boolean): number {
    this.#check(at, 4);
    return this.#view.getUint32(at, le);
  }

  i32(at: number, le: boolean): number {
    this.#check(at, 4);
    return this.#view.getInt32(at, le);
  }

  u64(at: number, le: boolean): bigint {
    this.#check(at, 8);
    return this.#view.getBigUint64(at, le);
  }

  /** The NUL-terminated string at `base + offset`, which must end before `end`. `field` is at file offset `fieldAt`. */
  string(base: number, offset: number, end: number, field: string, fieldAt: number): string {
    const start = base + offset;
    const cached = this.#strings.get(start);
    if (cached !== undefined) return cached;
    if (start >= end) {
      throw new FormatError(`ld.so.cache: ${field} string offset points past the string table`, fieldAt, offset);
    }
    // Scan at most maxString + 1 bytes, never to the end of the file.
    const limit = Math.min(end, start + this.#maxString + 1);
    const found = this.bytes.subarray(start, limit).indexOf(0);
    const nul = found === -1 ? -1 : start + found;
    this.#budget -= (nul === -1 ? limit : nul + 1) - start;
    if (this.#budget < 0) {
      throw new LimitError(
        "ld.so.cache: entries point to so many different strings that reading them would cost more than 4× the file size; the cache is crafted or corrupt",
      );
    }
    if (nul === -1 && limit === end) {
      throw new FormatError(`ld.so.cache: ${field} string is not NUL-terminated before the end of the string table`, fieldAt, offset);
    }
    if (nul === -1) {
      throw new FormatError(`ld.so.cache: ${field} string is longer than ${this.#maxString} bytes`, fieldAt, offset);
    }
    const s = this.#decoder.decode(this.bytes.subarray(start, nul));
    this.#strings.set(start, s);
    return s;
  }

  #check(at: number, length: number): void {
    if (at < 0 || at + length > this.bytes.length) {
      throw new FormatError("ld.so.cache: read past the end of the file", at, length);
    }
  }
}
