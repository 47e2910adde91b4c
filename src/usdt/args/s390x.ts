/**
 * s390x (64-bit z/Architecture) USDT operands. Forms marked * were read
 * with `readelf -n` from objects built by s390x-linux-gnu-gcc 12
 * (-O0/-O1/-O2/-Os) and clang 14; the rest are valid GNU as syntax:
 *
 *     %r2*  %r15                      register
 *     160(%r15)*  0(%r4)*  180(%r11)* memory: D(B)
 *     0(%r3,%r2)*                     memory: D(X,B), index X plus base B
 *     (%r2)  8(,%r2)                  D and X may be left out
 *     5*  -1*  8@-2*                  constant (no sigil)
 *
 * Register 0 used as a base or index means "no register" in s390
 * addressing (Principles of Operation, "Address Generation"), so it is
 * dropped; an address with no register left is absolute and unsupported.
 * `%f0`, `%a0`, `%v0` and `%c0` are not in pt_regs and are unsupported.
 *
 * Pure: no `node:*`, no I/O, never throws on note content.
 */

import { buildTable, constantFrom, inMemory, inRegister, lookupRegister, parseDisplacement, quote, unsupported, type RegisterSpec } from "./operand.js";
import type { ArgLocation, OperandParser, RegisterRef } from "./types.js";

/**
 * s390 `user_pt_regs` (arch/s390/include/uapi/asm/ptrace.h) is
 * `{ unsigned long args[1]; psw_t psw; unsigned long gprs[NUM_GPRS]; }`
 * with `psw_t` two `unsigned long`s (16 bytes, aligned 8), so gprs[N] is at
 * 8 + 16 + 8*N = 24 + 8*N. libbpf's `offsetof(user_pt_regs, gprs[reg])`
 * gives the same. The kernel's `struct pt_regs` begins with this layout.
 */
const GPRS_OFFSET = 24;

function rows(): [string, RegisterSpec][] {
  const out: [string, RegisterSpec][] = [];
  for (let n = 0; n <= 15; n++) out.push([`r${n}`, { name: `r${n}`, ptRegsOffset: GPRS_OFFSET + 8 * n, width: 8, shift: 0 }]);
  return out;
}

/** The sixteen s390x general-purpose registers, without the `%`. */
export const S390X_REGISTERS = buildTable(rows());

/** Decodes one s390x operand. See the module comment for the accepted forms. */
export const parseS390xOperand: OperandParser = (operand, size, signed) => {
  // `5`, `-1`
  if (/^-?[0-9]/.test(operand) && !operand.includes("(")) return constantFrom(operand, operand, size, signed);
  // `%r2`
  if (operand.startsWith("%") && !operand.includes("(")) {
    const register = resolve(operand);
    return typeof register === "string" ? unsupported(register) : inRegister(register);
  }
  // `160(%r15)`, `0(%r3,%r2)`
  return memoryOperand(operand);
};

function resolve(written: string): RegisterRef | string {
  const register = written.startsWith("%") ? lookupRegister(S390X_REGISTERS, written.slice(1), written) : undefined;
  if (register !== undefined) return register;
  if (/^%[facv][0-9]+$/i.test(written)) return `register ${quote(written)} is not a general-purpose register, and pt_regs holds only those`;
  return `${quote(written)} is not an s390x register`;
}

/**
 * `D(B)`, `D(X,B)`, `D(,B)`, `(B)`.
 *
 * Examples: `160(%r15)`, `0(%r4)`, `0(%r3,%r2)`, `(%r2)`.
 */
function memoryOperand(operand: string): ArgLocation {
  const m = /^(-?[0-9][0-9a-fA-FxX]*)?\(([^()]*)\)$/.exec(operand);
  if (m === null) return unsupported(`${quote(operand)} is not an s390x operand`);
  const displacement = parseDisplacement(m[1] ?? "");
  if (displacement === undefined) return unsupported(`displacement in ${quote(operand)} is not an integer`);
  const parts = (m[2] ?? "").split(",").map((p) => p.trim());
  if (parts.length > 2) return unsupported(`memory operand ${quote(operand)} has too many parts`);
  // D(B) names the base alone; D(X,B) names the index first.
  const [indexText, baseText] = parts.length === 2 ? [parts[0] ?? "", parts[1] ?? ""] : ["", parts[0] ?? ""];
  const registers: RegisterRef[] = [];
  for (const text of [baseText, indexText]) {
    if (text === "") continue;
    const register = resolve(text);
    if (typeof register === "string") return unsupported(register);
    if (register.name !== "r0") registers.push(register);
  }
  const [base, index] = registers;
  if (base === undefined) return unsupported(`memory operand ${quote(operand)} is an absolute address (no base register)`);
  return inMemory(base, displacement, index, index === undefined ? undefined : 1);
}
