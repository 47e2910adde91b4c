/**
 * LoongArch64 USDT operands.
 *
 * No LoongArch compiler could be installed where this was written, so the
 * forms come from the compilers' operand printers and from bcc, not from
 * real notes:
 *
 *   - GCC (gcc/config/loongarch/loongarch.cc, loongarch_print_operand and
 *     loongarch_print_operand_address) prints registers by their `$rN`
 *     names, memory as `BASE,OFFSET` or `BASE,INDEX` with no space, and
 *     constants as bare integers;
 *   - clang (llvm/lib/Target/LoongArch/LoongArchAsmPrinter.cpp,
 *     PrintAsmOperand / PrintAsmMemoryOperand) prints ABI names (`$a0`) and
 *     memory as `$sp, 16` / `$a0, $a1`, with a space the splitter keeps;
 *   - bcc (ArgumentParser_loongarch64) reads `$rN`, and memory in brackets,
 *     `[$r3, 16]`; libbpf has no LoongArch decoder.
 *
 * Accepted, with an example of each:
 *
 *     $r4  $a0  $sp  $fp  $s9            register ($r0/$zero read as 0)
 *     $r3,16  $sp, -8  $r22,0            memory, GCC/clang base,offset
 *     $r12,$r13  $a0, $a1                memory, base + index
 *     -8($fp)  16($sp)  ($a0)            memory, offset(base)
 *     [$r3, 16]  [$sp]                   memory, bcc's bracket form
 *     5  -1  8@-2                        constant
 *
 * Unsupported with the reason: `%pc_lo12(sym)`-style relocation offsets,
 * `$r0,OFFSET` (absolute), FP/vector registers (`$f0`, `$fa0`, `$vr0`).
 *
 * Pure: no `node:*`, no I/O, never throws on note content.
 */

import { buildTable, constantFrom, inMemory, inRegister, lookupRegister, parseDisplacement, quote, unsupported, type RegisterSpec } from "./operand.js";
import type { ArgLocation, OperandParser, RegisterRef } from "./types.js";

/**
 * ABI names by register number (LoongArch ELF psABI, "Register
 * Convention"): r21 is reserved and has no ABI name; r22 is both fp and s9.
 */
const ABI_NAMES: readonly (readonly string[])[] = [
  ["zero"],
  ["ra"],
  ["tp"],
  ["sp"],
  ["a0", "v0"],
  ["a1", "v1"],
  ["a2"],
  ["a3"],
  ["a4"],
  ["a5"],
  ["a6"],
  ["a7"],
  ["t0"],
  ["t1"],
  ["t2"],
  ["t3"],
  ["t4"],
  ["t5"],
  ["t6"],
  ["t7"],
  ["t8"],
  [],
  ["fp", "s9"],
  ["s0"],
  ["s1"],
  ["s2"],
  ["s3"],
  ["s4"],
  ["s5"],
  ["s6"],
  ["s7"],
  ["s8"],
];

/**
 * loongarch `struct user_pt_regs` (arch/loongarch/include/uapi/asm/ptrace.h)
 * begins `unsigned long regs[32]`, so $rN is at 8*N; the kernel's
 * `struct pt_regs` begins the same way. $r0 is hard-wired to zero and is
 * not read from its slot.
 */
function rows(): [string, RegisterSpec][] {
  const out: [string, RegisterSpec][] = [];
  ABI_NAMES.forEach((aliases, n) => {
    if (n === 0) return;
    const spec = { name: `r${n}`, ptRegsOffset: 8 * n, width: 8, shift: 0 };
    out.push([`$r${n}`, spec]);
    for (const alias of aliases) out.push([`$${alias}`, spec]);
  });
  return out;
}

/** Every LoongArch64 integer register spelling except the zero register, with the `$`. */
export const LOONGARCH_REGISTERS = buildTable(rows());

function isZeroRegister(text: string): boolean {
  const lower = text.toLowerCase();
  return lower === "$r0" || lower === "$zero";
}

function notARegister(text: string): string {
  if (/^\$(f|fa|ft|fs|vr|xr|fcc)[0-9]+$/i.test(text)) return `register ${quote(text)} is not a general-purpose register, and pt_regs holds only those`;
  return `${quote(text)} is not a loongarch64 operand`;
}

/** Decodes one loongarch64 operand. See the module comment for the accepted forms. */
export const parseLoongarchOperand: OperandParser = (operand, size, signed) => {
  // bcc's `[$r3, 16]`
  if (operand.startsWith("[")) {
    if (!operand.endsWith("]")) return unsupported(`${quote(operand)} is not a loongarch64 operand`);
    return baseCommaOffset(operand, operand.slice(1, -1));
  }
  // `-8($fp)`, `16($sp)`
  if (operand.includes("(") && !operand.includes(",")) return offsetOfBase(operand);
  // GCC `$r3,16`, `$r12,$r13`; clang `$sp, 16`
  if (operand.includes(",")) return baseCommaOffset(operand, operand);
  // `5`, `-1`
  if (/^-?[0-9]/.test(operand)) return constantFrom(operand, operand, size, signed);
  // `$r0` / `$zero` always read as 0
  if (isZeroRegister(operand)) return { kind: "constant", value: 0n };
  // `$r4`, `$a0`, `$sp`
  const register = lookupRegister(LOONGARCH_REGISTERS, operand, operand);
  return register === undefined ? unsupported(notARegister(operand)) : inRegister(register);
};

function baseRegister(text: string, operand: string): RegisterRef | string {
  if (isZeroRegister(text)) return `memory operand ${quote(operand)} is an absolute address (base is the zero register)`;
  return lookupRegister(LOONGARCH_REGISTERS, text, text) ?? notARegister(text);
}

/**
 * `BASE,OFFSET`, `BASE, OFFSET`, `BASE,INDEX`, and the same inside `[…]`.
 *
 * Examples: `$r3,16`, `$sp, -8`, `$r12,$r13`, `[$r3, 16]`, `[$sp]`.
 */
function baseCommaOffset(operand: string, inner: string): ArgLocation {
  const parts = inner.split(",").map((p) => p.trim());
  if (parts.length > 2) return unsupported(`memory operand ${quote(operand)} has too many parts`);
  const [baseText = "", second] = parts;
  const base = baseRegister(baseText, operand);
  if (typeof base === "string") return unsupported(base);
  if (second === undefined) return inMemory(base, 0n);
  if (second.startsWith("%")) {
    return unsupported(`operand ${quote(operand)} uses a relocation operator; the linker, not the note, knows its value`);
  }
  if (second.startsWith("$")) {
    if (isZeroRegister(second)) return inMemory(base, 0n);
    const index = lookupRegister(LOONGARCH_REGISTERS, second, second);
    return index === undefined ? unsupported(notARegister(second)) : inMemory(base, 0n, index, 1);
  }
  const displacement = parseDisplacement(second);
  if (displacement === undefined) return unsupported(`offset in ${quote(operand)} is not an integer`);
  return inMemory(base, displacement);
}

/**
 * `OFFSET(BASE)` or `(BASE)`.
 *
 * Examples: `-8($fp)`, `16($sp)`, `($a0)`.
 */
function offsetOfBase(operand: string): ArgLocation {
  const m = /^([^()]*)\(([^()]*)\)$/.exec(operand);
  if (m === null || (m[1] ?? "").startsWith("%")) {
    return unsupported(`${quote(operand)} is not a loongarch64 operand`);
  }
  const displacement = parseDisplacement((m[1] ?? "").trim());
  if (displacement === undefined) return unsupported(`offset in ${quote(operand)} is not an integer`);
  const base = baseRegister((m[2] ?? "").trim(), operand);
  if (typeof base === "string") return unsupported(base);
  return inMemory(base, displacement);
}
