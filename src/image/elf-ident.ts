/**
 * What a file's first few kilobytes say about it as an ELF object: its
 * architecture (for the loader's "skip a library of the wrong machine"
 * rule) and its `PT_INTERP` (glibc or musl decides how libraries are
 * found). Taken while a layer streams past, so that resolving libraries
 * needs no second read of the layer.
 *
 * Uses the ELF reader's own header and program-header parsers on a source
 * that holds only the head: anything past it reads as "unknown", never as
 * a guess.
 */
import { PT_INTERP } from "../elf/constants.js";
import { readElfHeader } from "../elf/header.js";
import { readProgramHeaders } from "../elf/program-headers.js";
import { ProbecError } from "../errors.js";
import type { ByteSource } from "../io/byte-source.js";

/** Bytes of each regular file read while indexing: enough for the ELF and program headers and `.interp` of normal binaries. */
export const ELF_HEAD_BYTES = 4096;

/** An ELF file's identity, from its head. */
export interface ElfIdent {
  readonly machine: number;
  readonly elfClass: 32 | 64;
  readonly littleEndian: boolean;
  readonly flags: number;
  /** `PT_INTERP`, when present and within the head (`/lib64/ld-linux-x86-64.so.2`). */
  readonly interpreter: string | undefined;
}

/** The ident of a file whose first bytes are `head` and whose size is `size`; `undefined` when it is not ELF. */
export function elfIdent(head: Uint8Array, size: number): ElfIdent | undefined {
  if (head.length < 20 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return undefined;
  const source = new HeadSource(head, size);
  try {
    const header = readElfHeader(source);
    let interpreter: string | undefined;
    try {
      const phdrs = readProgramHeaders(source, header, header.e_phnum);
      const interp = phdrs.find((p) => p.p_type === PT_INTERP);
      if (interp !== undefined && interp.p_offset + interp.p_filesz <= head.length && interp.p_filesz < 4096) {
        const bytes = head.subarray(interp.p_offset, interp.p_offset + interp.p_filesz);
        const nul = bytes.indexOf(0);
        interpreter = new TextDecoder().decode(nul < 0 ? bytes : bytes.subarray(0, nul));
      }
    } catch (error) {
      if (!(error instanceof ProbecError)) throw error;
      // Program headers past the head or malformed: the identity still stands.
    }
    return { machine: header.e_machine, elfClass: header.bits, littleEndian: header.littleEndian, flags: header.e_flags, interpreter };
  } catch (error) {
    if (error instanceof ProbecError) return undefined;
    throw error;
  }
}

/** Which loader an interpreter path names. */
export function loaderOf(interpreter: string | undefined): "glibc" | "musl" | "unknown" {
  if (interpreter === undefined) return "unknown";
  if (interpreter.includes("ld-musl")) return "musl";
  if (interpreter.includes("ld-linux") || interpreter.includes("ld64.so") || interpreter.includes("ld.so")) return "glibc";
  return "unknown";
}

/** The file's first bytes, claiming the file's full size; reads past the head fail as "truncated". */
class HeadSource implements ByteSource {
  readonly size: number;
  readonly bytesRead = 0;
  readonly #head: Uint8Array;
  constructor(head: Uint8Array, size: number) {
    this.#head = head;
    this.size = size;
  }
  readAt(offset: number, length: number): Uint8Array {
    if (offset + length > this.#head.length) throw new ProbecError("E_FORMAT", "past the indexed head of the file");
    return this.#head.subarray(offset, offset + length);
  }
  close(): void {}
}
