/**
 * AArch64 USDT operands, in the syntax GCC and clang print for sys/sdt.h's
 * `"nor"` operands. Forms marked * were read with `readelf -n` from
 * objects built by aarch64-linux-gnu-gcc 12 (-O0/-O1/-O2/-Os, little and
 * big endian) and clang 14; the rest are valid GNU as syntax:
 *
 *     x4*  w4  sp  fp  lr                register (w4 is the low 4 bytes of x4)
 *     [sp]*  [x1]*                       memory, no displacement
 *     [sp, 96]*  [x1, -8]  [x1, #16]     memory + displacement (`#` optional)
 *     [x0, x1]*  [x0, x1, lsl 3]         memory + index register (scaled)
 *     5*  -1*  8@-2*  #5  #-5            constant (8@-2 is 0xfffffffffffffffe)
 *
 * and, as `unsupported` with the reason:
 *
 *     [x1, #:lo12:.LANCHOR0]*         relocation operator (GCC -O2 non-PIC)
 *     [x0, w1, sxtw]                  extended 32-bit index
 *     d0  s1  v2                      FP/SIMD register (not in user_pt_regs)
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
  unsupported,
  type RegisterSpec,
} from "./operand.js";
import type { ArgLocation, OperandParser, RegisterRef } from "./types.js";

/**
 * arm64 `struct user_pt_regs` (arch/arm64/include/uapi/asm/ptrace.h):
 * `__u64 regs[31]; __u64 sp; __u64 pc; __u64 pstate;`, so xN is at 8*N,
 * sp at 248, pc at 256. The kernel's `struct pt_regs` starts with this same
 * layout, which is what a uprobe's BPF program reads.
 */
const SP_OFFSET = 248;

function rows(): [string, RegisterSpec][] {
  const out: [string, RegisterSpec][] = [];
  for (let n = 0; n <= 30; n++) {
    const spec = { name: `x${n}`, ptRegsOffset: 8 * n, shift: 0 };
    out.push([`x${n}`, { ...spec, width: 8 }], [`w${n}`, { ...spec, width: 4 }]);
  }
  // GNU as aliases (binutils tc-aarch64.c): ip0/ip1 = x16/x17, fp = x29, lr = x30.
  out.push(["ip0", { name: "x16", ptRegsOffset: 128, width: 8, shift: 0 }]);
  out.push(["ip1", { name: "x17", ptRegsOffset: 136, width: 8, shift: 0 }]);
  out.push(["fp", { name: "x29", ptRegsOffset: 232, width: 8, shift: 0 }]);
  out.push(["lr", { name: "x30", ptRegsOffset: 240, width: 8, shift: 0 }]);
  out.push(["sp", { name: "sp", ptRegsOffset: SP_OFFSET, width: 8, shift: 0 }]);
  out.push(["wsp", { name: "sp", ptRegsOffset: SP_OFFSET, width: 4, shift: 0 }]);
  return out;
}

/** Every AArch64 general-purpose register spelling. */
export const AARCH64_REGISTERS = buildTable(rows());

/** Decodes one AArch64 operand. See the module comment for the accepted forms. */
export const parseAarch64Operand: OperandParser = (operand, size, signed) => {
  // `[sp, 96]`, `[x1]`, `[x0, x1]`
  if (operand.startsWith("[")) return memoryOperand(operand);
  // `#5`, `#-1`, `5`, `-2`
  if (/^#?-?[0-9]/.test(operand)) return constantFrom(operand.replace(/^#/, ""), operand, size, signed);
  const lower = operand.toLowerCase();
  // `xzr`, `wzr` read as zero; there is no pt_regs slot for them.
  if (lower === "xzr" || lower === "wzr") return { kind: "constant", value: 0n };
  // `x4`, `w4`, `sp`, `fp`
  const register = lookupRegister(AARCH64_REGISTERS, operand, operand);
  if (register !== undefined) return inRegister(register);
  return unsupported(notARegister(operand));
};

function notARegister(text: string): string {
  const lower = text.toLowerCase();
  if (/^[bhsdqv][0-9]+$/.test(lower)) return `register ${quote(text)} is a floating-point/SIMD register, which user_pt_regs does not hold`;
  if (lower === "x31" || lower === "w31") return `${quote(text)} is not a register name (register 31 is written sp or xzr)`;
  return `${quote(text)} is not an aarch64 operand`;
}

/** A base or index register: 64-bit x0..x30, sp, or an alias. */
function addressRegister(text: string, operand: string): RegisterRef | string {
  const register = lookupRegister(AARCH64_REGISTERS, text, text);
  if (register === undefined) return notARegister(text);
  if (register.width !== 8) return `${quote(text)} in ${quote(operand)} is a 32-bit register; addresses need a 64-bit one`;
  return register;
}

/**
 * `[BASE]`, `[BASE, IMM]`, `[BASE, #IMM]`, `[BASE, INDEX]`,
 * `[BASE, INDEX, lsl #N]`.
 *
 * Examples: `[sp]`, `[sp, 96]`, `[x1, -8]`, `[x1, #16]`, `[x0, x1]`,
 * `[x2, x1, lsl 3]`.
 */
function memoryOperand(operand: string): ArgLocation {
  const parts = bracketParts(operand);
  if (typeof parts === "string") return unsupported(parts);
  const [baseText = "", second, third] = parts;
  const base = addressRegister(baseText, operand);
  if (typeof base === "string") return unsupported(base);
  if (second === undefined) return inMemory(base, 0n);

  // `[x1, #:lo12:sym]`: the low 12 bits of a symbol's address, filled in by the linker.
  if (second.includes(":")) return unsupported(`operand ${quote(operand)} uses a relocation operator (${second})`);

  if (/^#?-?[0-9]/.test(second)) {
    if (third !== undefined) return unsupported(`memory operand ${quote(operand)} has too many parts`);
    const displacement = parseDisplacement(second.replace(/^#/, ""));
    if (displacement === undefined) return unsupported(`offset ${quote(second)} in ${quote(operand)} is not an integer`);
    return inMemory(base, displacement);
  }

  const lowerSecond = second.toLowerCase();
  if (/^w[0-9]+$/.test(lowerSecond)) {
    return unsupported(`operand ${quote(operand)} uses a 32-bit index register, which needs sign or zero extension`);
  }
  const index = addressRegister(second, operand);
  if (typeof index === "string") return unsupported(index);
  if (index.name === "sp") return unsupported(`sp cannot be an index register in ${quote(operand)}`);
  if (third === undefined) return inMemory(base, 0n, index, 1);
  // `lsl #3` / `lsl 3`; `sxtx` is the same as lsl; `uxtw`/`sxtw` need a w index, refused above.
  const shift = /^(lsl|sxtx)(?:\s+#?([0-9]+))?$/i.exec(third);
  const amount = shift === null ? undefined : parseInteger(shift[2] ?? "0");
  if (amount === undefined || amount > 3n) {
    return unsupported(`index modifier ${quote(third)} in ${quote(operand)} is not supported`);
  }
  return inMemory(base, 0n, index, 1 << Number(amount));
}
