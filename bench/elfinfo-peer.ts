/**
 * The `elfinfo` npm package as a peer, used the way its README shows:
 * read the whole file into memory, `open(bytes)`, then query the parsed
 * object. `open` parses every section header, string table and symbol
 * table up front, so every task costs a full parse.
 *
 * elfinfo has no note parser, so for USDT this file walks
 * `.note.stapsdt` itself over the bytes elfinfo's caller already holds:
 * that adds microseconds to elfinfo's seconds and keeps the answer
 * comparable (site count and file offsets).
 */
import { readFileSync } from "node:fs";
import { getSymbols, open, virtualAddressToFileOffset, type ELF } from "elfinfo";

/** The parsed file and the bytes it was parsed from. */
export interface ElfinfoFile {
  readonly elf: ELF;
  readonly bytes: Uint8Array;
}

/** Reads `path` whole and parses it; throws with elfinfo's own errors. */
export async function elfinfoOpen(path: string): Promise<ElfinfoFile> {
  const bytes = readFileSync(path);
  const result = await open(bytes);
  if (!result.success || result.elf === undefined) throw new Error(`elfinfo: ${result.errors.join("; ")}`);
  return { elf: result.elf, bytes };
}

const NT_STAPSDT = 3;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

/**
 * File offsets of every USDT site (little-endian 64-bit only: the bench's
 * targets are x86-64). pc is adjusted by `.stapsdt.base` as libbpf does.
 */
export function elfinfoUsdtOffsets({ elf, bytes }: ElfinfoFile): number[] {
  const notes = elf.sections.find((s) => s.name === ".note.stapsdt");
  const base = elf.sections.find((s) => s.name === ".stapsdt.base");
  if (notes === undefined) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const align4 = (n: number): number => (n + 3) & ~3;
  const offsets: number[] = [];
  for (let at = notes.offset; at + 12 <= notes.offset + notes.size; ) {
    const namesz = view.getUint32(at, true);
    const descsz = view.getUint32(at + 4, true);
    const type = view.getUint32(at + 8, true);
    const desc = at + 12 + align4(namesz);
    if (type === NT_STAPSDT) {
      let pc = view.getBigUint64(desc, true);
      const noteBase = view.getBigUint64(desc + 8, true);
      if (base !== undefined && noteBase !== 0n) pc += BigInt(base.addr) - noteBase;
      const offset = virtualAddressToFileOffset(elf, pc);
      if (offset !== undefined) offsets.push(offset);
    }
    at = desc + align4(descsz);
  }
  return offsets;
}

/** File offset of the first function called `name`, or undefined. */
export function elfinfoFind({ elf }: ElfinfoFile, name: string): number | undefined {
  const symbol = getSymbols(elf).find((s) => s.name === name && Number(s.type) === STT_FUNC && s.shndx !== 0);
  return symbol === undefined ? undefined : virtualAddressToFileOffset(elf, symbol.value);
}

/** Every defined function (both tables, duplicates kept) with its file offset, sorted by name. */
export function elfinfoList({ elf }: ElfinfoFile): { name: string; offset: number | undefined }[] {
  return getSymbols(elf)
    .filter((s) => (Number(s.type) === STT_FUNC || Number(s.type) === STT_GNU_IFUNC) && s.shndx !== 0)
    .map((s) => ({ name: s.name, offset: virtualAddressToFileOffset(elf, s.value) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
