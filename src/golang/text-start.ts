/**
 * Where a 1.18+ pclntab's function entries are counted from: the address
 * of `runtime.text`, which the table's header holds as a pointer-sized word.
 *
 * That word is right in a non-PIE executable, including an externally
 * linked one (cgo, Debian's packaged Go programs), where C code comes first
 * in `.text` and `runtime.text` lies after it (`/usr/bin/ctr` here: `.text`
 * at 0x7bb380, `runtime.text` at 0x7bb480). In a PIE the word is relocated
 * at load time: the file may hold 0, and the value is the addend of the
 * `R_*_RELATIVE` entry in `.rela.dyn` whose `r_offset` is the word's
 * address. Go's `debug/gosym` (1.19) takes the start of `.text` instead,
 * which is wrong for external linking; that is the last resort here.
 *
 * Pure: no `node:*`.
 */
import { ET_DYN, PT_LOAD, SHT_RELA } from "../elf/constants.js";
import type { ElfFile } from "../elf/elf-file.js";
import { readRange } from "../io/byte-source.js";

/** Largest relocation table searched (bytes); a big PIE has a few MiB. */
const MAX_RELA_BYTES = 64 * 1024 * 1024;

/**
 * The text start for the header word `word` stored at file offset `at`:
 * the word (non-PIE), the relocation's addend (PIE), or `.text`'s address.
 */
export function resolveTextStart(elf: ElfFile, word: bigint, at: number): bigint {
  const inCode = (address: bigint | undefined): address is bigint => address !== undefined && address !== 0n && elf.fileOffsetOf(address, "code") !== undefined;
  if (elf.header.e_type !== ET_DYN && inCode(word)) return word;
  const addend = relocatedValue(elf, at);
  if (inCode(addend)) return addend;
  if (inCode(word)) return word;
  return elf.section(".text")?.sh_addr ?? word;
}

/** The addend of the `SHT_RELA` entry that relocates the word at file offset `at`, if any. */
function relocatedValue(elf: ElfFile, at: number): bigint | undefined {
  const vaddr = vaddrOf(elf, at);
  if (vaddr === undefined || elf.header.bits !== 64) return undefined;
  const le = elf.header.littleEndian;
  for (const section of elf.sections) {
    if (section.sh_type !== SHT_RELA || section.sh_size > MAX_RELA_BYTES || section.sh_size < 24) continue;
    const bytes = readRange(elf.source, section.sh_offset, section.sh_size - (section.sh_size % 24), section.name || "relocation table");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i + 24 <= bytes.length; i += 24) {
      if (view.getBigUint64(i, le) === vaddr) return view.getBigUint64(i + 16, le);
    }
  }
  return undefined;
}

/** The virtual address at which file offset `at` is loaded, if a `PT_LOAD` maps it. */
function vaddrOf(elf: ElfFile, at: number): bigint | undefined {
  for (const p of elf.programHeaders) {
    if (p.p_type === PT_LOAD && at >= p.p_offset && at < p.p_offset + p.p_filesz) return p.p_vaddr + BigInt(at - p.p_offset);
  }
  return undefined;
}
