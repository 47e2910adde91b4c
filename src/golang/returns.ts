/**
 * `findReturnInstructions(elf, fn)`: the file offset of every return
 * instruction of one function, so a return probe can be a plain uprobe on
 * each of them instead of a kernel uretprobe, which rewrites the return
 * address on the stack and kills Go programs whose runtime copies and walks
 * goroutine stacks (golang/go#22008, bcc#1320, bpftrace#1098; issue 12).
 *
 * Probing every return is only right when every way out of the function is
 * one of them, so anything that cannot be verified refuses the whole
 * function, with the reason, rather than half-probing it:
 *
 * - x86-64 (decoded with iced-x86): an invalid instruction, an instruction
 *   that runs past the end, a direct jump (or conditional jump) to outside
 *   the function (a tail call: the function would return from someone
 *   else's RET), a jump into the middle of an instruction, and an indirect
 *   jump other than Go's jump table `JMP (TABLE)(INDEX*8)`, whose entries
 *   the compiler fills with blocks of the same function
 *   (`cmd/compile/internal/amd64/ssa.go`, BlockAMD64JUMPTABLE).
 * - arm64 (fixed 4-byte words, always little-endian): `ret`/`ret xN`
 *   (`0xd65f0000 | n << 5`) and RETAA/RETAB are returns; `b`, `b.cond`,
 *   `cbz`/`cbnz` and `tbz`/`tbnz` to outside the function are refused, as is
 *   `br xN` unless it follows Go's jump-table load `ldr xN, [xT, xI, lsl #3]`
 *   (`cmd/compile/internal/arm64/ssa.go`, BlockARM64JUMPTABLE). Literal-pool
 *   words (the targets of `ldr` literal loads, which Go's assembler places
 *   inside the function) are data, never scanned as instructions.
 *
 * The range is [address, address + size): for a Go function from the
 * pclntab it includes the alignment padding (INT3 or zero words), which
 * holds no return.
 *
 * Pure: no `node:*`.
 */
import { EM_AARCH64, EM_X86_64 } from "../elf/constants.js";
import type { ElfFile } from "../elf/elf-file.js";
import { hex } from "../elf/fields.js";
import { inFile } from "../errors.js";
import { readRange } from "../io/byte-source.js";
import { x86Decoder } from "./x86-decoder.js";

/** The function to scan: its link-time address, its size in bytes and the file offset of its first byte. */
export interface FunctionBody {
  readonly address: bigint;
  readonly size: number;
  readonly fileOffset: number;
}

/** Every return instruction, or why the function cannot be trusted. */
export type ReturnSites =
  | {
      /** File offsets of the return instructions, ascending. */
      readonly offsets: number[];
      /** Their link-time addresses, in the same order. */
      readonly addresses: bigint[];
    }
  | { readonly refused: string };

/** Architectures whose machine code {@link findReturnsInBytes} reads. */
export type ReturnArch = "x86_64" | "aarch64";

/** Largest function body decoded (the biggest real Go functions are a few hundred KiB). */
export const MAX_FUNCTION_BYTES = 16 * 1024 * 1024;

/** Scans `fn` in `elf` (x86-64 or arm64); other architectures are refused with the reason. */
export function findReturnInstructions(elf: ElfFile, fn: FunctionBody): ReturnSites {
  const arch: ReturnArch | undefined = elf.header.e_machine === EM_X86_64 ? "x86_64" : elf.header.e_machine === EM_AARCH64 ? "aarch64" : undefined;
  if (arch === undefined) return { refused: `return instructions are found only on x86-64 and arm64, not ${elf.machineName}` };
  if (!Number.isSafeInteger(fn.size) || fn.size <= 0) return { refused: `the function at ${hex(fn.address)} has no size` };
  if (fn.size > MAX_FUNCTION_BYTES) return { refused: `the function at ${hex(fn.address)} is ${fn.size} bytes, more than the ${MAX_FUNCTION_BYTES} decoded` };
  const segment = elf.loadSegmentFor(fn.address, "code");
  if (segment === undefined || fn.address + BigInt(fn.size) > segment.p_vaddr + BigInt(segment.p_filesz)) {
    return { refused: `the function at ${hex(fn.address)} (${fn.size} bytes) does not lie inside one executable segment` };
  }
  let bytes: Uint8Array;
  try {
    bytes = readRange(elf.source, fn.fileOffset, fn.size, `function at ${hex(fn.address)}`);
  } catch (error) {
    throw inFile(error, elf.name);
  }
  const found = findReturnsInBytes(arch, bytes, fn.address);
  if ("refused" in found) return found;
  return { offsets: found.returns.map((o) => fn.fileOffset + o), addresses: found.returns.map((o) => fn.address + BigInt(o)) };
}

/** The offsets (from the first byte) of the returns in one function's machine code, or the refusal. */
export function findReturnsInBytes(arch: ReturnArch, bytes: Uint8Array, address: bigint): { returns: number[] } | { refused: string } {
  return arch === "x86_64" ? x86Returns(bytes, address) : arm64Returns(bytes, address);
}

function x86Returns(bytes: Uint8Array, address: bigint): { returns: number[] } | { refused: string } {
  const { Decoder, DecoderOptions, Instruction, FlowControl, OpKind, Register, Code } = x86Decoder();
  const size = bytes.length;
  const end = address + BigInt(size);
  const starts = new Uint8Array(size);
  const targets: number[] = [];
  const returns: number[] = [];
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  const instr = new Instruction();
  try {
    decoder.ip = address;
    let offset = 0;
    while (offset < size) {
      decoder.decodeOut(instr);
      const length = instr.length;
      const at = hex(address + BigInt(offset));
      if (instr.code === Code.INVALID) {
        return { refused: offset + 15 > size && length === 0 ? `the instruction at ${at} runs past the end of the function` : `invalid instruction at ${at}` };
      }
      if (offset + length > size) return { refused: `the instruction at ${at} runs past the end of the function` };
      starts[offset] = 1;
      const flow = instr.flowControl;
      if (flow === FlowControl.Return) {
        returns.push(offset);
      } else if (flow === FlowControl.UnconditionalBranch || flow === FlowControl.ConditionalBranch || flow === FlowControl.XbeginXabortXend) {
        const kind = instr.op0Kind;
        if (kind === OpKind.NearBranch16 || kind === OpKind.NearBranch32 || kind === OpKind.NearBranch64) {
          const target = instr.nearBranchTarget;
          if (target < address || target >= end) return { refused: `the jump at ${at} leaves the function for ${hex(target)} (a tail call or shared code)` };
          targets.push(Number(target - address));
        } else if (flow !== FlowControl.XbeginXabortXend) {
          return { refused: `the far jump at ${at} cannot be followed` };
        }
      } else if (flow === FlowControl.IndirectBranch) {
        const isJumpTable =
          instr.op0Kind === OpKind.Memory &&
          instr.memoryIndex !== Register.None &&
          instr.memoryIndexScale === 8 &&
          instr.memoryBase !== Register.None &&
          instr.memoryBase !== Register.RIP;
        if (!isJumpTable) return { refused: `the indirect jump at ${at} may leave the function (an indirect tail call); its target cannot be checked` };
      }
      offset += length;
    }
  } finally {
    instr.free();
    decoder.free();
  }
  for (const target of targets) {
    if (starts[target] !== 1) return { refused: `a jump lands at ${hex(address + BigInt(target))}, inside an instruction: the bytes are not plain code` };
  }
  return { returns };
}

/** `ret` with any register (`ret` itself is `ret x30`, 0xd65f03c0). */
const ARM64_RET_MASK = 0xfffffc1f;
const ARM64_RET = 0xd65f0000;
const ARM64_RETAA = 0xd65f0bff;
const ARM64_RETAB = 0xd65f0fff;
const ARM64_BR = 0xd61f0000;

function arm64Returns(bytes: Uint8Array, address: bigint): { returns: number[] } | { refused: string } {
  if (address % 4n !== 0n) return { refused: `the function at ${hex(address)} is not 4-byte aligned` };
  if (bytes.length % 4 !== 0) return { refused: `the function at ${hex(address)} is ${bytes.length} bytes, not a whole number of instructions` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.length / 4;
  // Bitwise operators yield signed 32-bit results: every masked comparison goes through `>>> 0`.
  const word = (i: number): number => view.getUint32(i * 4, true);
  // Pass 1: literal-pool words (targets of `ldr` literal loads) are data.
  const data = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const w = word(i);
    if ((w & 0x3b000000) !== 0x18000000) continue;
    const opc = w >>> 30;
    const simd = (w & 0x04000000) !== 0;
    const length = simd ? [4, 8, 16, 0][opc] : [4, 8, 4, 0][opc]; // opc 3: PRFM (no data) or reserved.
    if (length === undefined || length === 0) continue;
    const target = i + signExtend((w >>> 5) & 0x7ffff, 19);
    for (let k = 0; k < length / 4; k++) if (target + k >= 0 && target + k < count) data[target + k] = 1;
  }
  const returns: number[] = [];
  const at = (i: number): string => hex(address + BigInt(i * 4));
  for (let i = 0; i < count; i++) {
    if (data[i] === 1) continue;
    const w = word(i);
    if ((w & ARM64_RET_MASK) >>> 0 === ARM64_RET || w === ARM64_RETAA || w === ARM64_RETAB) {
      returns.push(i * 4);
      continue;
    }
    let target: number | undefined;
    if ((w & 0xfc000000) >>> 0 === 0x14000000)
      target = i + signExtend(w & 0x3ffffff, 26); // b
    else if ((w & 0xff000010) >>> 0 === 0x54000000)
      target = i + signExtend((w >>> 5) & 0x7ffff, 19); // b.cond
    else if ((w & 0x7e000000) >>> 0 === 0x34000000)
      target = i + signExtend((w >>> 5) & 0x7ffff, 19); // cbz, cbnz
    else if ((w & 0x7e000000) >>> 0 === 0x36000000)
      target = i + signExtend((w >>> 5) & 0x3fff, 14); // tbz, tbnz
    else if ((w & ARM64_RET_MASK) >>> 0 === ARM64_BR) {
      const n = (w >>> 5) & 0x1f;
      const previous = i > 0 ? word(i - 1) : 0;
      // ldr xN, [xT, xI, lsl #3]: LDR (register), 64-bit, S=1, option LSL/UXTX (011).
      const isJumpTable = (previous & 0xffe0fc00) >>> 0 === 0xf8607800 && (previous & 0x1f) >>> 0 === n;
      if (!isJumpTable)
        return { refused: `the indirect jump (br x${n}) at ${at(i)} may leave the function (an indirect tail call); its target cannot be checked` };
      continue;
    } else if ((w & 0xfe000000) >>> 0 === 0xd6000000 && ((w >>> 21) & 0xf) % 8 === 0) {
      // The other jumps through a register: braa, brab, braaz, brabz (pointer authentication).
      return { refused: `the register branch ${hex(w)} at ${at(i)} cannot be followed` };
    }
    if (target === undefined) continue;
    if (target < 0 || target >= count)
      return { refused: `the branch at ${at(i)} leaves the function for ${hex(address + BigInt(target) * 4n)} (a tail call or shared code)` };
    if (data[target] === 1) return { refused: `the branch at ${at(i)} lands in the literal pool at ${at(target)}` };
  }
  return { returns };
}

function signExtend(value: number, bits: number): number {
  const sign = 1 << (bits - 1);
  return (value ^ sign) - sign;
}
