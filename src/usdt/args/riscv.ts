/**
 * RISC-V 64 USDT operands. Forms marked * were read with `readelf -n` from
 * objects built by riscv64-linux-gnu-gcc 12 (-O0/-O1/-O2/-Os, PIC and
 * not); clang 14 rejects sys/sdt.h's `"nor"` constraint on RISC-V ("Could
 * not match memory address"), so GCC is the only producer seen. The rest
 * are valid GNU as syntax:
 *
 *     a0*  a7*  s0  fp  ra  t6  x10         register (ABI names and x1..x31)
 *     -20(s0)*  8(sp)*  0(a5)*  (a0)        memory: offset(base)
 *     5*  -1*  8@-2*                        constant (no sigil)
 *
 * and, as `unsupported` with the reason:
 *
 *     %lo(gcounter)(a4)*              relocation operator (GCC -O2 non-PIC)
 *     %tprel_lo(tlsvar)(a5)*          thread-local (relocation operator)
 *     fa0  ft1  f2                    FP register (not in pt_regs)
 *
 * `zero`/`x0` read as the constant 0; as a base it makes an absolute
 * address, which is unsupported.
 *
 * Pure: no `node:*`, no I/O, never throws on note content.
 */

import { buildTable, constantFrom, inMemory, inRegister, lookupRegister, parseDisplacement, quote, unsupported, type RegisterSpec } from "./operand.js";
import type { ArgLocation, OperandParser, RegisterRef } from "./types.js";

/**
 * ABI names by register number (RISC-V psABI, "Integer Register Convention").
 * riscv `struct user_regs_struct` (arch/riscv/include/uapi/asm/ptrace.h) is
 * `pc, ra, sp, gp, tp, t0, t1, t2, s0, s1, a0..a7, s2..s11, t3..t6`, all
 * `unsigned long`: register xN sits at 8*N because pc takes x0's slot.
 * The kernel's `struct pt_regs` starts the same way (epc first).
 */
const ABI_NAMES = [
  "zero",
  "ra",
  "sp",
  "gp",
  "tp",
  "t0",
  "t1",
  "t2",
  "s0",
  "s1",
  "a0",
  "a1",
  "a2",
  "a3",
  "a4",
  "a5",
  "a6",
  "a7",
  "s2",
  "s3",
  "s4",
  "s5",
  "s6",
  "s7",
  "s8",
  "s9",
  "s10",
  "s11",
  "t3",
  "t4",
  "t5",
  "t6",
] as const;

function rows(): [string, RegisterSpec][] {
  const out: [string, RegisterSpec][] = [];
  ABI_NAMES.forEach((abi, n) => {
    if (n === 0) return; // x0 has no slot: offset 0 is pc
    const spec = { name: abi, ptRegsOffset: 8 * n, width: 8, shift: 0 };
    out.push([abi, spec], [`x${n}`, spec]);
    if (n === 8) out.push(["fp", spec]); // fp is an assembler alias of s0
  });
  return out;
}

/** Every riscv64 integer register spelling except the zero register. */
export const RISCV_REGISTERS = buildTable(rows());

function isZeroRegister(text: string): boolean {
  const lower = text.toLowerCase();
  return lower === "zero" || lower === "x0";
}

function notARegister(text: string): string {
  if (/^(f[0-9]+|f[tsa][0-9]+)$/i.test(text)) return `register ${quote(text)} is a floating-point register, which pt_regs does not hold`;
  return `${quote(text)} is not a riscv64 operand`;
}

/** Decodes one riscv64 operand. See the module comment for the accepted forms. */
export const parseRiscvOperand: OperandParser = (operand, size, signed) => {
  // `-20(s0)`, `8(sp)`, `%lo(sym)(a4)`
  if (operand.includes("(")) return memoryOperand(operand);
  // `5`, `-1`
  if (/^-?[0-9]/.test(operand)) return constantFrom(operand, operand, size, signed);
  // `zero` / `x0` always read as 0
  if (isZeroRegister(operand)) return { kind: "constant", value: 0n };
  // `a0`, `s0`, `fp`, `x10`
  const register = lookupRegister(RISCV_REGISTERS, operand, operand);
  return register === undefined ? unsupported(notARegister(operand)) : inRegister(register);
};

/**
 * `OFFSET(BASE)` or `(BASE)`.
 *
 * Examples: `-20(s0)`, `8(sp)`, `0(a5)`, `(a0)`.
 */
function memoryOperand(operand: string): ArgLocation {
  if (operand.startsWith("%")) {
    return unsupported(`operand ${quote(operand)} uses a relocation operator; the linker, not the note, knows its value`);
  }
  const m = /^([^()]*)\(([^()]*)\)$/.exec(operand);
  if (m === null) return unsupported(`${quote(operand)} is not a riscv64 operand`);
  const displacement = parseDisplacement((m[1] ?? "").trim());
  if (displacement === undefined) return unsupported(`offset in ${quote(operand)} is not an integer`);
  const baseText = (m[2] ?? "").trim();
  if (isZeroRegister(baseText)) return unsupported(`memory operand ${quote(operand)} is an absolute address (base is the zero register)`);
  const base: RegisterRef | undefined = lookupRegister(RISCV_REGISTERS, baseText, baseText);
  if (base === undefined) return unsupported(notARegister(baseText));
  return inMemory(base, displacement);
}
