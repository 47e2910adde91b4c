/**
 * 32-bit ARM (AArch32, ARM and Thumb) USDT operands. sys/sdt.h uses the
 * `"g"` constraint here, so memory operands with an index register appear.
 * Forms marked * were read with `readelf -n` from objects built by
 * arm-linux-gnueabihf-gcc 12 (-marm and Thumb, -O0/-O1/-O2/-Os) and
 * clang 14; the rest are valid GNU as syntax:
 *
 *     r0*  r12  ip*  sp  lr  fp  a1  v1  sb  sl register (APCS aliases too)
 *     [r3]*  [sp]*  [lr]*                       memory, no displacement
 *     [r7, #12]*  [fp, #-20]*  [sp, #4]*        memory + displacement
 *     [r0, r1]*  [r0, r1, lsl #2]*              memory + index register (scaled)
 *     #5*  #-1*  8@#-2*  5                      constant
 *
 * and, as `unsupported` with the reason:
 *
 *     #gl*  #.LANCHOR0+64*  gl*  garr+12*   a symbol's address as a constant
 *     8@r4*  8f@r2*                         64-bit value in a register pair
 *     [r0, -r1]  [r0, r1, asr #2]           subtracted or non-lsl index
 *     [pc, #8]                              PC-relative (literal pool)
 *
 * Pure: no `node:*`, no I/O, never throws on note content.
 */

import {
  bracketParts,
  buildTable,
  constantFrom,
  inMemory,
  inRegister,
  lookupRegister,
  parseDisplacement,
  parseInteger,
  quote,
  registerPairReason,
  unsupported,
  type RegisterSpec,
} from "./operand.js";
import type { ArgLocation, OperandParser, RegisterRef } from "./types.js";

/**
 * arm `struct pt_regs` (arch/arm/include/uapi/asm/ptrace.h) is
 * `long uregs[18]`: r0..r15 at 4*N, then cpsr and ORIG_r0. On an arm64
 * kernel a 32-bit task's rN is `regs[N]` of arm64 `user_pt_regs` (the
 * `compat_usr(x)` mapping in arch/arm64/include/asm/ptrace.h) at 8*N, and
 * its pc is the `pc` field at 256.
 */
function specFor(n: number): RegisterSpec {
  return { name: `r${n}`, ptRegsOffset: 4 * n, width: 4, shift: 0, compatPtRegsOffset: n === 15 ? 256 : 8 * n };
}

/** GNU as register names for AArch32 (binutils tc-arm.c): numeric, APCS and special. */
function rows(): [string, RegisterSpec][] {
  const out: [string, RegisterSpec][] = [];
  for (let n = 0; n <= 15; n++) out.push([`r${n}`, specFor(n)]);
  for (let n = 1; n <= 4; n++) out.push([`a${n}`, specFor(n - 1)]);
  for (let n = 1; n <= 8; n++) out.push([`v${n}`, specFor(n + 3)]);
  const named: [string, number][] = [
    ["sb", 9],
    ["sl", 10],
    ["fp", 11],
    ["ip", 12],
    ["sp", 13],
    ["lr", 14],
    ["pc", 15],
  ];
  for (const [spelling, n] of named) out.push([spelling, specFor(n)]);
  return out;
}

/** Every AArch32 general-purpose register spelling. */
export const ARM_REGISTERS = buildTable(rows());

/** Decodes one 32-bit ARM operand. See the module comment for the accepted forms. */
export const parseArmOperand: OperandParser = (operand, size, signed) => {
  // `[r3, #12]`, `[r0, r1, lsl #2]`
  if (operand.startsWith("[")) return memoryOperand(operand);
  // `#5`, `#-1`, and bare `5` (unified syntax makes the `#` optional)
  if (/^#?-?[0-9]/.test(operand)) return constantFrom(operand.replace(/^#/, ""), operand, size, signed);
  // `r0`, `ip`, `fp`, `sp`; `8@r4` is half of a register pair
  const register = lookupRegister(ARM_REGISTERS, operand, operand);
  if (register !== undefined) {
    if (size > 4) return unsupported(registerPairReason(operand, size));
    return inRegister(register);
  }
  if (/^#?[A-Za-z_.$][A-Za-z0-9_.$]*([+-][0-9]+)?$/.test(operand) && !/^[sdq][0-9]+$/i.test(operand)) {
    // GCC `#gl`, `#.LANCHOR0+64`; clang `gl`, `garr+12`: the value is an address the linker fills in.
    return unsupported(`operand ${quote(operand)} is a symbol's address, not a value probec can read`);
  }
  return unsupported(notARegister(operand));
};

function notARegister(text: string): string {
  if (/^[sdq][0-9]+$/i.test(text)) return `register ${quote(text)} is a VFP/NEON register, which pt_regs does not hold`;
  return `${quote(text)} is not an arm operand`;
}

function baseRegister(text: string, operand: string): RegisterRef | string {
  const register = lookupRegister(ARM_REGISTERS, text, text);
  if (register === undefined) return notARegister(text);
  if (register.name === "r15") {
    // In an instruction pc reads as its own address + 8 (ARM) or + 4 (Thumb); the note is not an instruction.
    return `operand ${quote(operand)} is PC-relative; its target cannot be known from the note`;
  }
  return register;
}

/**
 * `[BASE]`, `[BASE, #IMM]`, `[BASE, INDEX]`, `[BASE, INDEX, lsl #N]`.
 *
 * Examples: `[r3]`, `[r7, #12]`, `[fp, #-8]`, `[sp, #4]`, `[r2, r3]`,
 * `[r0, r1, lsl #2]`.
 */
function memoryOperand(operand: string): ArgLocation {
  const parts = bracketParts(operand);
  if (typeof parts === "string") return unsupported(parts);
  const [baseText = "", second, third] = parts;
  const base = baseRegister(baseText, operand);
  if (typeof base === "string") return unsupported(base);
  if (second === undefined) return inMemory(base, 0n);

  if (second.startsWith("#") || /^-?[0-9]/.test(second)) {
    if (third !== undefined) return unsupported(`memory operand ${quote(operand)} has too many parts`);
    const text = second.replace(/^#/, "");
    if (text.startsWith(":")) return unsupported(`operand ${quote(operand)} uses a relocation operator (${second})`);
    const displacement = parseDisplacement(text);
    if (displacement === undefined) return unsupported(`offset ${quote(second)} in ${quote(operand)} is not an integer`);
    return inMemory(base, displacement);
  }

  if (second.startsWith("-")) {
    return unsupported(`operand ${quote(operand)} subtracts its index register, which a memory location cannot express`);
  }
  const index = baseRegister(second.replace(/^\+/, ""), operand);
  if (typeof index === "string") return unsupported(index);
  if (third === undefined) return inMemory(base, 0n, index, 1);
  const shift = /^lsl\s*#?([0-9]+)$/i.exec(third);
  const amount = shift === null ? undefined : parseInteger(shift[1] ?? "");
  if (amount === undefined || amount > 3n) {
    return unsupported(`index shift ${quote(third)} in ${quote(operand)} is not supported`);
  }
  return inMemory(base, 0n, index, 1 << Number(amount));
}
