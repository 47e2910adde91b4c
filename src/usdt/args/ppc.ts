/**
 * 64-bit PowerPC (ppc64 big endian and ppc64le) USDT operands.
 *
 * sys/sdt.h uses the `"nZr"` constraint and the template `%I[id]%[id]` on
 * PowerPC: `%I` prints an `i` before a constant, and GCC prints registers
 * as bare numbers unless `-mregnames` is given. Forms marked * were read
 * with `readelf -n` from objects built by powerpc64le-linux-gnu-gcc 12
 * (little and big endian, with and without -mregnames, -O0/-O1/-O2/-Os)
 * and clang 14 (ppc64 and ppc64le); the rest are valid GNU as syntax:
 *
 *     3*  10*  %r3*  r3                   register
 *     0(9)*  0(%r10)*  -8(31)             memory: offset(base)
 *     3,4*  %r10,%r5*                     memory: indexed, (RA|0) + RB
 *     i5*  i-1*  8@i-2*                   constant
 *
 * The ambiguity: a bare number is a register, because that is how GCC
 * prints one, and a constant always carries the `i`. bcc reads the
 * operands the same way (`usdt_args.cc`, ArgumentParser_powerpc64); libbpf
 * has no PowerPC decoder. A sys/sdt.h without `%I` would have written the
 * constant 5 as `5` too, indistinguishable from r5; a bare number that can
 * only be a constant (negative, or above 31) is therefore read as one.
 *
 * `0` as the base of `D(RA)` or the first register of `RA,RB` means the
 * value 0, not r0 (Power ISA, "Effective Address Calculation"); with no
 * register left the address is absolute and unsupported. Relocation forms
 * (`.LC0@toc@l(9)`) and FP/vector registers (`%f1`, `%v2`) are unsupported.
 *
 * Pure: no `node:*`, no I/O, never throws on note content.
 */

import { buildTable, constantFrom, inMemory, inRegister, lookupRegister, parseDisplacement, quote, unsupported, type RegisterSpec } from "./operand.js";
import type { ArgLocation, OperandParser, RegisterRef } from "./types.js";

/**
 * powerpc `struct user_pt_regs` / `struct pt_regs`
 * (arch/powerpc/include/uapi/asm/ptrace.h) begins `unsigned long gpr[32]`:
 * rN is at 8*N on ppc64. (32-bit PowerPC would be 4*N; probec decodes only
 * 64-bit files, EM_PPC64.)
 */
function rows(): [string, RegisterSpec][] {
  const out: [string, RegisterSpec][] = [];
  for (let n = 0; n <= 31; n++) {
    const spec = { name: `r${n}`, ptRegsOffset: 8 * n, width: 8, shift: 0 };
    out.push([`${n}`, spec], [`r${n}`, spec], [`%r${n}`, spec]);
  }
  return out;
}

/** GPR spellings: `3`, `r3`, `%r3`. */
export const PPC64_REGISTERS = buildTable(rows());

/** Decodes one ppc64/ppc64le operand. See the module comment for the accepted forms. */
export const parsePpc64Operand: OperandParser = (operand, size, signed) => {
  // `i5`, `i-1`: `%I` marked it as a constant
  if (/^i-?[0-9]/.test(operand)) return constantFrom(operand.slice(1), operand, size, signed);
  // `0(9)`, `-8(%r31)`
  if (operand.includes("(")) return offsetForm(operand);
  // `3,4`, `%r10,%r5`
  if (operand.includes(",")) return indexedForm(operand);
  // `3`, `%r3`, `r3`
  const register = lookupRegister(PPC64_REGISTERS, operand, operand);
  if (register !== undefined) return inRegister(register);
  if (/^-?[0-9]/.test(operand)) {
    // Not 0..31, so not a register: an old sys/sdt.h constant such as `4@100` or `-4@-1`.
    return constantFrom(operand, operand, size, signed);
  }
  return unsupported(notARegister(operand));
};

function notARegister(text: string): string {
  if (/^%?(f|v|vs|cr)[0-9]+$/i.test(text)) return `register ${quote(text)} is not a general-purpose register, and pt_regs holds only those`;
  return `${quote(text)} is not a ppc64 operand`;
}

/** True for `0` / `r0` / `%r0` in an address slot, where it stands for the value 0. */
function isLiteralZero(register: RegisterRef): boolean {
  return register.name === "r0";
}

function gpr(text: string): RegisterRef | string {
  return lookupRegister(PPC64_REGISTERS, text, text) ?? notARegister(text);
}

/**
 * `OFFSET(RA)`.
 *
 * Examples: `0(9)`, `-8(31)`, `16(%r1)`.
 */
function offsetForm(operand: string): ArgLocation {
  const m = /^([^()]*)\(([^()]*)\)$/.exec(operand);
  if (m === null) return unsupported(`${quote(operand)} is not a ppc64 operand`);
  const offsetText = (m[1] ?? "").trim();
  if (offsetText.includes("@")) {
    return unsupported(`operand ${quote(operand)} uses a relocation operator; the linker, not the note, knows its value`);
  }
  const displacement = parseDisplacement(offsetText);
  if (displacement === undefined) return unsupported(`offset in ${quote(operand)} is not an integer`);
  const base = gpr((m[2] ?? "").trim());
  if (typeof base === "string") return unsupported(base);
  if (isLiteralZero(base)) return unsupported(`memory operand ${quote(operand)} is an absolute address (base 0 means no register)`);
  return inMemory(base, displacement);
}

/**
 * `RA,RB`: the effective address is (RA|0) + RB, no scaling (the indexed
 * loads `lwzx` and friends). bcc scales RB by the argument size here; the
 * ISA does not.
 *
 * Examples: `3,4`, `9,10`, `%r10,%r5`, `0,9`.
 */
function indexedForm(operand: string): ArgLocation {
  const parts = operand.split(",").map((p) => p.trim());
  if (parts.length !== 2) return unsupported(`${quote(operand)} is not a ppc64 operand`);
  const ra = gpr(parts[0] ?? "");
  if (typeof ra === "string") return unsupported(ra);
  const rb = gpr(parts[1] ?? "");
  if (typeof rb === "string") return unsupported(rb);
  if (isLiteralZero(ra)) return inMemory(rb, 0n);
  return inMemory(ra, 0n, rb, 1);
}
