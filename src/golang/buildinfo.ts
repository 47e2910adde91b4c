/**
 * `.go.buildinfo`: the Go version and module information the Go linker
 * stores in every binary since Go 1.13, which `go version -m FILE` prints.
 *
 * Layout (Go's `debug/buildinfo` and `cmd/link/internal/ld/data.go`, facts
 * only): a 32-byte header aligned to 16 that starts with the 14-byte magic
 * `\xff Go buildinf:`, then the pointer size (byte 14) and flags (byte 15):
 *
 * - flags bit 1 (Go 1.18+, "inline"): after the header, two uvarint-length
 *   strings follow: the Go version (`go1.19.8`) and the module information.
 * - otherwise (Go 1.13–1.17): bytes 16 and 16+ptrSize hold the addresses of
 *   two Go string headers `{data *byte, len int}`, in the byte order flags
 *   bit 0 gives (1 = big endian).
 *
 * The module information is framed by 16 sentinel bytes on each side and
 * holds tab-separated lines: `path\tPKG`, `mod\tPATH\tVERSION\tSUM`,
 * `dep\t…`, `build\tKEY=VALUE`.
 *
 * The section survives `-ldflags='-s -w'`; for a file without section
 * headers (sstrip), the data segments are searched for the magic at the
 * 16-byte alignment Go uses, within a capped window.
 *
 * Pure: no `node:*`.
 */
import type { ElfFile } from "../elf/elf-file.js";
import { PF_X, PT_LOAD, SHT_NOBITS } from "../elf/constants.js";
import { FormatError, inFile } from "../errors.js";
import { readRange } from "../io/byte-source.js";
import { readUvarint, readVirtual } from "./memory.js";

/** What `.go.buildinfo` says. */
export interface GoBuildInfo {
  /** `go1.19.8`, as `go version` prints it. */
  readonly goVersion: string;
  /** The main package's import path (`path` line), e.g. `example.com/app/cmd/app` or `command-line-arguments`. */
  readonly path: string | undefined;
  /** The main module's path (`mod` line), e.g. `example.com/app`. */
  readonly modulePath: string | undefined;
  /** The main module's version (`(devel)` for a local build). */
  readonly moduleVersion: string | undefined;
  /** `build` settings (`GOARCH`, `CGO_ENABLED`, `-ldflags`, …) in order, Go 1.18+. */
  readonly settings: ReadonlyArray<readonly [string, string]>;
}

const MAGIC = "\xff Go buildinf:";
const HEADER_SIZE = 32;
const ALIGN = 16;
/** A version or module-info string longer than this is refused (real ones are a few KiB). */
export const MAX_BUILDINFO_STRING = 1 << 20;
/** How much of each data segment is searched for the header in a file without section headers. */
const MAX_SCAN = 4 << 20;

/** Reads `.go.buildinfo`; undefined when the file has none (not Go, or Go before 1.13). */
export function readGoBuildInfo(elf: ElfFile): GoBuildInfo | undefined {
  try {
    const at = findHeader(elf);
    if (at === undefined) return undefined;
    return parseAt(elf, at);
  } catch (error) {
    throw inFile(error, elf.name);
  }
}

function findHeader(elf: ElfFile): number | undefined {
  const section = elf.section(".go.buildinfo");
  if (section !== undefined && section.sh_type !== SHT_NOBITS) {
    if (section.sh_size < HEADER_SIZE) throw new FormatError(".go.buildinfo is shorter than its 32-byte header", section.sh_offset, section.sh_size);
    if (!hasMagic(readRange(elf.source, section.sh_offset, MAGIC.length, ".go.buildinfo"), 0)) {
      throw new FormatError(".go.buildinfo does not start with the Go build-info magic", section.sh_offset);
    }
    return section.sh_offset;
  }
  if (elf.sections.length > 0) return undefined;
  // No section headers: Go puts the header first in its writable data, so a short window suffices.
  for (const p of elf.programHeaders) {
    if (p.p_type !== PT_LOAD || (p.p_flags & PF_X) !== 0) continue;
    const length = Math.min(p.p_filesz, MAX_SCAN, elf.source.size - Math.min(p.p_offset, elf.source.size));
    if (length < HEADER_SIZE) continue;
    const bytes = readRange(elf.source, p.p_offset, length, "data segment");
    // The header is 16-byte aligned in memory; p_offset and p_vaddr agree modulo the page size.
    const skew = Number(p.p_vaddr % BigInt(ALIGN));
    for (let i = (ALIGN - skew) % ALIGN; i + HEADER_SIZE <= bytes.length; i += ALIGN) {
      if (hasMagic(bytes, i)) return p.p_offset + i;
    }
  }
  return undefined;
}

function hasMagic(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < MAGIC.length; i++) if (bytes[at + i] !== MAGIC.charCodeAt(i)) return false;
  return true;
}

function parseAt(elf: ElfFile, at: number): GoBuildInfo {
  const header = readRange(elf.source, at, HEADER_SIZE, ".go.buildinfo header");
  const ptrSize = header[14] as number;
  const flags = header[15] as number;
  if (ptrSize !== 4 && ptrSize !== 8) throw new FormatError(".go.buildinfo: pointer size is not 4 or 8", at + 14, ptrSize);
  let version: string;
  let modinfo: string;
  if ((flags & 2) !== 0) {
    const room = Math.min(elf.source.size - (at + HEADER_SIZE), 2 * MAX_BUILDINFO_STRING + 16);
    const bytes = readRange(elf.source, at + HEADER_SIZE, Math.max(0, room), ".go.buildinfo strings");
    const first = inlineString(bytes, 0, at + HEADER_SIZE);
    version = first.text;
    modinfo = inlineString(bytes, first.next, at + HEADER_SIZE).text;
  } else {
    const littleEndian = (flags & 1) === 0;
    const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
    const pointer = (v: DataView, offset: number): bigint => (ptrSize === 8 ? v.getBigUint64(offset, littleEndian) : BigInt(v.getUint32(offset, littleEndian)));
    const goString = (address: bigint, what: string): string => {
      if (address === 0n) return "";
      const sh = readVirtual(elf, address, 2 * ptrSize, `.go.buildinfo ${what} string header`);
      const shView = new DataView(sh.buffer, sh.byteOffset, sh.byteLength);
      const data = pointer(shView, 0);
      const length = pointer(shView, ptrSize);
      if (length > BigInt(MAX_BUILDINFO_STRING)) throw new FormatError(`.go.buildinfo: ${what} string of ${length} bytes is too long`, at);
      if (length === 0n) return "";
      return decode(readVirtual(elf, data, Number(length), `.go.buildinfo ${what} string`));
    };
    version = goString(pointer(view, 16), "version");
    modinfo = goString(pointer(view, 16 + ptrSize), "module");
  }
  return { goVersion: version, ...parseModInfo(modinfo) };
}

function inlineString(bytes: Uint8Array, at: number, base: number): { text: string; next: number } {
  const length = readUvarint(bytes, at);
  if (length === undefined) throw new FormatError(".go.buildinfo: string length runs past the end", base + at);
  if (length.value > MAX_BUILDINFO_STRING || length.next + length.value > bytes.length) {
    throw new FormatError(".go.buildinfo: string runs past the end of the file", base + at, length.value);
  }
  return { text: decode(bytes.subarray(length.next, length.next + length.value)), next: length.next + length.value };
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

/** Parses the module-information text (`path`, `mod`, `build` lines) after removing its 16-byte sentinels. */
export function parseModInfo(text: string): Omit<GoBuildInfo, "goVersion"> {
  // Go frames the text with 16 bytes on each side; the last real byte before the end sentinel is "\n".
  const body = text.length >= 33 && text[text.length - 17] === "\n" ? text.slice(16, -16) : text;
  let path: string | undefined;
  let modulePath: string | undefined;
  let moduleVersion: string | undefined;
  const settings: Array<readonly [string, string]> = [];
  for (const line of body.split("\n")) {
    const fields = line.split("\t");
    if (fields[0] === "path") path = fields[1];
    else if (fields[0] === "mod") {
      modulePath = fields[1];
      moduleVersion = fields[2];
    } else if (fields[0] === "build" && fields[1] !== undefined) {
      const eq = fields[1].indexOf("=");
      if (eq > 0) settings.push([fields[1].slice(0, eq), fields[1].slice(eq + 1)]);
    }
  }
  return { path, modulePath, moduleVersion, settings };
}
