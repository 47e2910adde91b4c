/**
 * Tar headers: the 512-byte ustar block, and the extensions that carry what
 * it cannot hold (POSIX.1-2001 pax `x` records, GNU `L`/`K` long names).
 *
 * Image layers are hostile input (PITFALLS 24): every field is parsed with
 * bounds, the checksum is checked, and the extension records are capped.
 * Pure: the two readers (tar-stream.ts, a stream; tar-file.ts, a file read
 * by position) feed blocks and record bodies in and get headers out.
 *
 * Layout (POSIX ustar, pax(1) "ustar Interchange Format"):
 *
 *     0 name[100]  100 mode[8]  108 uid[8]  116 gid[8]  124 size[12]
 *   136 mtime[12]  148 chksum[8]  156 typeflag  157 linkname[100]
 *   257 magic[6] "ustar\0" (GNU: "ustar " + " \0")  263 version[2]
 *   265 uname[32]  297 gname[32]  329 devmajor[8]  337 devminor[8]
 *   345 prefix[155] (ustar only; GNU keeps atime/ctime there)
 */
import { FormatError, LimitError } from "../errors.js";

/** One tar block. */
export const BLOCK = 512;
/** Largest pax or GNU long-name record accepted: a real one holds a path or two. */
export const MAX_META_RECORD = 1024 * 1024;
/**
 * Longest member name or link target: the kernel's `PATH_MAX` (no
 * extraction could create a longer one). Checked as each extension record
 * is read, so that a layer of long names is refused before they pile up.
 */
export const MAX_NAME = 4096;
/** Most entries read from one tar stream: a distribution image holds tens of thousands. */
export const MAX_TAR_ENTRIES = 2_000_000;

/** What an entry is, in the terms the layer merge needs. */
export type TarEntryKind = "file" | "directory" | "symlink" | "hardlink" | "other";

/** A member of the archive, extensions applied. */
export interface TarHeader {
  /** The member's name as stored (pax `path` or GNU long name when present). */
  readonly name: string;
  readonly kind: TarEntryKind;
  /** The raw typeflag character (`0`, `5`, `2`, …). */
  readonly typeflag: string;
  /** Bytes of data following the header (0 for links and directories). */
  readonly size: number;
  /** Target of a symlink or hard link. */
  readonly linkname: string;
  readonly mode: number;
  /** Offset of the data in the tar stream (after the header block). */
  readonly dataOffset: number;
  /** Offset of the header block (the first extension block, when there were some). */
  readonly headerOffset: number;
}

/** A raw block, parsed: either the end marker or a header. */
export type RawBlock = { readonly end: true } | { readonly end: false; readonly raw: RawHeader };

/** The fields of one 512-byte header block. */
export interface RawHeader {
  readonly name: string;
  readonly typeflag: string;
  readonly size: number;
  readonly linkname: string;
  readonly mode: number;
}

const decoder = new TextDecoder("utf-8");

/**
 * Parses one header block found at `offset` of `what`. An all-zero block is
 * the end of the archive; a block whose checksum does not match is a
 * {@link FormatError} (the usual sign that the input is not a tar at all).
 */
export function parseHeaderBlock(block: Uint8Array, offset: number, what: string): RawBlock {
  if (block.length !== BLOCK) throw new FormatError(`${what}: truncated tar header`, offset);
  if (block.every((b) => b === 0)) return { end: true };
  const stored = parseNumber(block, 148, 8, offset, what, "chksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  // Some old tars summed signed chars; GNU tar accepts either, so do we.
  if (stored !== unsigned && stored !== signed) {
    throw new FormatError(`${what}: not a tar archive (header checksum mismatch)`, offset, stored);
  }
  const ustar = text(block, 257, 6) === "ustar";
  const posixUstar = ustar && block[262] === 0;
  const prefix = posixUstar ? text(block, 345, 155) : "";
  const name = text(block, 0, 100);
  return {
    end: false,
    raw: {
      name: prefix === "" ? name : `${prefix}/${name}`,
      typeflag: block[156] === 0 ? "0" : String.fromCharCode(block[156] as number),
      size: parseNumber(block, 124, 12, offset, what, "size"),
      linkname: text(block, 157, 100),
      mode: parseNumber(block, 100, 8, offset, what, "mode"),
    },
  };
}

/** Whether a typeflag is an extension that modifies the next header rather than a member. */
export function isMetaType(typeflag: string): boolean {
  return typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K";
}

/**
 * Collects extension records (`x`, `g`, `L`, `K`) until the member they
 * describe arrives, then applies them to it. One per tar reader.
 */
export class PendingExtensions {
  #path: string | undefined;
  #linkpath: string | undefined;
  #size: number | undefined;
  #firstOffset: number | undefined;
  /** A pax extended header (`x`) describes the next member. */
  #pax = false;

  /** Records an extension's body (its `size` bytes), read at `offset`. */
  add(raw: RawHeader, body: Uint8Array, offset: number, what: string): void {
    this.#firstOffset ??= offset;
    switch (raw.typeflag) {
      case "L":
        this.#path = checkedName(cString(body), offset, what);
        return;
      case "K":
        this.#linkpath = checkedName(cString(body), offset, what);
        return;
      case "x": {
        this.#pax = true;
        const records = parsePax(body, offset, what);
        const path = records.get("path");
        const linkpath = records.get("linkpath");
        if (path !== undefined) this.#path = checkedName(path, offset, what);
        if (linkpath !== undefined) this.#linkpath = checkedName(linkpath, offset, what);
        const size = records.get("size");
        if (size !== undefined) {
          if (!/^[0-9]{1,16}$/.test(size) || !Number.isSafeInteger(Number(size))) throw new FormatError(`${what}: invalid pax size`, offset, size);
          this.#size = Number(size);
        }
        return;
      }
      default:
        // "g": global records. Only path-like keys would matter and no image tool writes them globally; skip.
        return;
    }
  }

  /** The member `raw`, whose header block is at `offset`, with the pending extensions applied; clears them. */
  finish(raw: RawHeader, offset: number): TarHeader {
    const size = this.#size ?? raw.size;
    const kind = kindOf(raw.typeflag);
    const header: TarHeader = {
      name: this.#path ?? raw.name,
      kind,
      typeflag: raw.typeflag,
      // Links and directories carry no data whatever their size field says (POSIX ustar: "size … shall be
      // ignored"), except a hard link of a pax member: pax lets it carry the file's data, which must be skipped.
      size: kind === "symlink" || kind === "directory" || (kind === "hardlink" && !this.#pax) ? 0 : size,
      linkname: this.#linkpath ?? raw.linkname,
      mode: raw.mode,
      dataOffset: offset + BLOCK,
      headerOffset: this.#firstOffset ?? offset,
    };
    this.#path = undefined;
    this.#linkpath = undefined;
    this.#size = undefined;
    this.#firstOffset = undefined;
    this.#pax = false;
    return header;
  }
}

/** `name`, unless it is longer than {@link MAX_NAME}. */
function checkedName(name: string, offset: number, what: string): string {
  if (name.length > MAX_NAME) {
    throw new LimitError(
      `${what}: a member name or link target of ${name.length} bytes at offset 0x${offset.toString(16)} (limit ${MAX_NAME}, the kernel's PATH_MAX)`,
    );
  }
  return name;
}

/** The size of an extension body, checked against {@link MAX_META_RECORD}. */
export function metaSize(raw: RawHeader, offset: number, what: string): number {
  if (raw.size > MAX_META_RECORD) {
    throw new LimitError(`${what}: tar extension record of ${raw.size} bytes at offset 0x${offset.toString(16)} (limit ${MAX_META_RECORD})`);
  }
  return raw.size;
}

/** Data blocks after a header: `size` rounded up to a whole block. */
export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

function kindOf(typeflag: string): TarEntryKind {
  switch (typeflag) {
    case "0":
    case "7": // contiguous file: a regular file everywhere that matters
      return "file";
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "5":
      return "directory";
    default:
      return "other";
  }
}

/**
 * pax records: `LENGTH KEY=VALUE\n`, LENGTH counting the whole record in
 * bytes, its own digits included (POSIX pax, "pax Extended Header").
 */
function parsePax(body: Uint8Array, offset: number, what: string): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < body.length) {
    if (body[at] === 0) break; // padding
    let space = at;
    while (space < body.length && body[space] !== 0x20 && space - at < 20) space++;
    const length = Number(decoder.decode(body.subarray(at, space)));
    if (body[space] !== 0x20 || !Number.isSafeInteger(length) || length <= space - at + 1 || at + length > body.length) {
      throw new FormatError(`${what}: malformed pax record`, offset + at);
    }
    const record = decoder.decode(body.subarray(space + 1, at + length - 1));
    const eq = record.indexOf("=");
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

/** A NUL-terminated field as text. */
function text(block: Uint8Array, at: number, length: number): string {
  const field = block.subarray(at, at + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul < 0 ? field : field.subarray(0, nul));
}

function cString(body: Uint8Array): string {
  const nul = body.indexOf(0);
  return decoder.decode(nul < 0 ? body : body.subarray(0, nul));
}

/**
 * A numeric field: octal digits (with leading blanks, ended by NUL or
 * blank), or GNU's base-256 form (high bit of the first byte set) for values
 * that do not fit, as Docker writes for large files.
 */
function parseNumber(block: Uint8Array, at: number, length: number, offset: number, what: string, field: string): number {
  const first = block[at] as number;
  if ((first & 0x80) !== 0) {
    if ((first & 0x40) !== 0) throw new FormatError(`${what}: negative tar ${field}`, offset + at);
    let value = first & 0x3f;
    for (let i = 1; i < length; i++) {
      value = value * 256 + (block[at + i] as number);
      if (!Number.isSafeInteger(value)) throw new LimitError(`${what}: tar ${field} at offset 0x${(offset + at).toString(16)} is too large`);
    }
    return value;
  }
  const raw = text(block, at, length).trim();
  if (raw === "") return 0;
  if (!/^[0-7]+$/.test(raw)) throw new FormatError(`${what}: not a tar archive (invalid ${field} field)`, offset + at, raw);
  return Number.parseInt(raw, 8);
}
