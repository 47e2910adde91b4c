/**
 * Reading a Go binary by virtual address: `.go.buildinfo` (before Go 1.18)
 * and the pclntab header hold pointers, and Go's own readers
 * (`debug/buildinfo`, `debug/gosym`) follow them through the `PT_LOAD`
 * segments. Only the file-backed part of a segment is readable here: a
 * pointer into `.bss` has no bytes in the file, which is an error, not zeros.
 *
 * Pure: no `node:*`.
 */
import type { ElfFile } from "../elf/elf-file.js";
import { PT_LOAD } from "../elf/constants.js";
import { hex } from "../elf/fields.js";
import { FormatError } from "../errors.js";
import { readRange } from "../io/byte-source.js";

/** The file offset of `length` bytes at `vaddr`, all inside one segment's file-backed bytes, or undefined. */
export function virtualToOffset(elf: ElfFile, vaddr: bigint, length: number): number | undefined {
  for (const p of elf.programHeaders) {
    if (p.p_type !== PT_LOAD) continue;
    if (vaddr < p.p_vaddr || vaddr + BigInt(length) > p.p_vaddr + BigInt(p.p_filesz)) continue;
    const offset = vaddr - p.p_vaddr + BigInt(p.p_offset);
    return offset > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(offset);
  }
  return undefined;
}

/** Reads `length` bytes at virtual address `vaddr`; a {@link FormatError} naming `what` when they are not in the file. */
export function readVirtual(elf: ElfFile, vaddr: bigint, length: number, what: string): Uint8Array {
  const offset = virtualToOffset(elf, vaddr, length);
  if (offset === undefined)
    throw new FormatError(`${what}: address ${hex(vaddr)} (+0x${length.toString(16)}) lies in no file-backed segment`, 0, undefined, false);
  return readRange(elf.source, offset, length, what);
}

/** Unsigned LEB128 ("uvarint", Go's `encoding/binary`) at `at`; undefined when it runs off the end or past 53 bits. */
export function readUvarint(bytes: Uint8Array, at: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length && i < at + 8; i++) {
    const b = bytes[i] as number;
    value += (b & 0x7f) * scale;
    if (value > Number.MAX_SAFE_INTEGER) return undefined;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
    scale *= 128;
  }
  return undefined;
}
