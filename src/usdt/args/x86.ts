/**
 * x86_64 and i386 USDT operands, in the AT&T syntax GCC and clang print for
 * sys/sdt.h's `"nor"` operands. Forms marked * were read with `readelf -n`
 * from objects built by GCC 12 and clang 14 (-O0/-O1/-O2/-Os, PIC and
 * not); the rest are valid AT&T forms (libbpf's and bcc's examples,
 * PITFALLS 11-12) accepted the same way:
 *
 *     $5*  $-1*  $18446744073709551614  $0x10     constant, reduced to the size
 *     %edi*  %sil*  %dil*  %cx*  %al*  %r8d  %ah  register, any alias
 *     -20(%rbp)*  (%rdx)*  8(%rsp)*  (%esp)*      memory: base + displacement
 *     (%rdi,%rsi,4)*  (%rdi,%rsi)*  -96(%rbp,%rax,8)   base + index * scale
 *     gcounter(%rip)*  garr+8(%rip)*  sym-8(%rip)  symbol, PC-relative
 *     garr(,%rdx,4)*  garr+4(,%rax,4)*            symbol + index (non-PIE)
 *     gcounter*  garr+8*                          symbol, absolute (i386 non-PIE)
 *
 * and these, decoded as `unsupported` with the reason:
 *
 *     (,%rax,4)  0x601040               a numeric address with no base register
 *     foo@GOTOFF(%ebx)                  relocation operator (i386 PIC)
 *     %fs:tlsvar@tpoff*  %gs:x@ntpoff*  segment-relative (TLS)
 *     8@%eax* (i386)                    64-bit value in a register pair
 *     %xmm0                             not in pt_regs
 *
 * Pure: no `node:*`, no I/O, never throws on note content.
 */

import {
  constantFrom,
  inMemory,
  inRegister,
  lookupRegister,
  parseDisplacement,
  parseInteger,
  quote,
  registerPairReason,
  unsupported,
  type RegisterTable,
} from "./operand.js";
import { describeUnreadableX86, I386_REGISTERS, X86_64_REGISTERS } from "./registers/x86.js";
import type { ArgLocation, OperandParser, RegisterRef } from "./types.js";

/** What differs between the two modes. */
interface Mode {
  readonly table: RegisterTable;
  /** Width of a register usable as a base or index (an address register). */
  readonly addressWidth: number;
  readonly label: string;
}

const X86_64: Mode = { table: X86_64_REGISTERS, addressWidth: 8, label: "x86_64" };
const I386: Mode = { table: I386_REGISTERS, addressWidth: 4, label: "i386" };

/** A C/assembler symbol name as GCC prints it: `gcounter`, `_ZN3foo3barE`, `buf.0`. */
const SYMBOL = /^[A-Za-z_.$][A-Za-z0-9_.$]*$/;

/** Decodes one x86_64 operand. See the module comment for the accepted forms. */
export const parseX86_64Operand: OperandParser = (operand, size, signed) => parseAtt(X86_64, operand, size, signed);

/** Decodes one i386 operand. See the module comment for the accepted forms. */
export const parseI386Operand: OperandParser = (operand, size, signed) => parseAtt(I386, operand, size, signed);

function parseAtt(mode: Mode, operand: string, size: number, signed: boolean): ArgLocation {
  // `$5`, `$-1`, `$0x10`, `$18446744073709551614`
  if (operand.startsWith("$")) {
    const text = operand.slice(1);
    if (/^[A-Za-z_.$]/.test(text)) {
      return unsupported(`operand ${quote(operand)} is a symbol's address, not a value probec can read`);
    }
    return constantFrom(text, operand, size, signed);
  }
  // `%fs:tlsvar@tpoff`, `%gs:0x14`, `%fs:(%rax)`: the segment base is not in pt_regs
  if (/^%[a-z]s:/i.test(operand)) {
    return unsupported(`operand ${quote(operand)} is segment-relative (thread-local storage); the segment base is not in pt_regs`);
  }
  // `%edi`, `%sil`, `%r8d`, `%ah`
  if (operand.startsWith("%")) return registerOperand(mode, operand, size);
  return memoryOperand(mode, operand);
}

function registerOperand(mode: Mode, operand: string, size: number): ArgLocation {
  const register = resolveRegister(mode, operand);
  if (typeof register === "string") return unsupported(register);
  // i386 `8@%eax`: a long long lives in a pair such as edx:eax, and the note names one half.
  if (size > 4 && mode.addressWidth === 4) return unsupported(registerPairReason(operand, size));
  return inRegister(register);
}

/** A register, or the reason it cannot be used. `written` keeps the `%`. */
function resolveRegister(mode: Mode, written: string): RegisterRef | string {
  const name = written.startsWith("%") ? written.slice(1) : "";
  const register = lookupRegister(mode.table, name, written);
  if (register !== undefined) return register;
  const why = describeUnreadableX86(name);
  if (why !== undefined) return `register ${quote(written)} is ${why}`;
  if (mode === I386 && X86_64_REGISTERS.has(name.toLowerCase())) {
    return `register ${quote(written)} exists only in 64-bit mode, not in an i386 file`;
  }
  return `${quote(written)} is not an ${mode.label} register`;
}

/**
 * `DISP(BASE,INDEX,SCALE)` with every part optional except the parentheses,
 * or a bare `DISP` (absolute address). DISP is an integer, a symbol, or
 * `symbol±integer`.
 *
 * Examples: `-20(%rbp)`, `(%rdx)`, `(%rdi,%rsi,4)`, `-96(%rbp,%rax,8)`,
 * `garr+8(%rip)`, `gcounter-8(%rip)`.
 */
function memoryOperand(mode: Mode, operand: string): ArgLocation {
  const m = /^([^()]*)\(([^()]*)\)$/.exec(operand);
  if (m === null) {
    // i386 non-PIE `4@gcounter`, `4@garr+8`: the variable at a link-time address.
    const symbolic = splitSymbol(operand);
    if (symbolic !== undefined) return { kind: "symbol", ...symbolic };
    if (parseInteger(operand) !== undefined) {
      // `8@0x601040`: no compiler emits this for a variable, and a bare number names no object to check.
      return unsupported(`operand ${quote(operand)} is a numeric absolute address; probec reads memory only relative to a register or a symbol`);
    }
    return unsupported(`${quote(operand)} is not an ${mode.label} operand`);
  }
  const dispText = (m[1] ?? "").trim();
  const parts = (m[2] ?? "").split(",").map((p) => p.trim());
  if (parts.length > 3) return unsupported(`memory operand ${quote(operand)} has too many parts`);
  const [baseText = "", indexText, scaleText] = parts;

  if (dispText.includes("@")) {
    // `foo@GOTOFF(%ebx)`, `x@GOTPCREL(%rip)`: the linker resolves these; their value is not the symbol's.
    return unsupported(`operand ${quote(operand)} uses a relocation operator the note cannot be resolved through`);
  }
  let index: RegisterRef | undefined;
  let scale: number | undefined;
  if (indexText !== undefined) {
    const resolved = resolveRegister(mode, indexText);
    if (typeof resolved === "string") return unsupported(resolved);
    if (resolved.name === "rsp" || resolved.name === "esp" || resolved.name === "rip") {
      return unsupported(`${quote(indexText)} cannot be an index register in ${quote(operand)}`);
    }
    if (resolved.width !== mode.addressWidth) {
      return unsupported(`index ${quote(indexText)} in ${quote(operand)} is not a ${mode.addressWidth * 8}-bit register`);
    }
    index = resolved;
    const s = scaleText === undefined || scaleText === "" ? 1n : parseInteger(scaleText);
    if (s !== 1n && s !== 2n && s !== 4n && s !== 8n) {
      return unsupported(`scale in ${quote(operand)} must be 1, 2, 4 or 8`);
    }
    scale = Number(s);
  }

  if (baseText === "") {
    // Non-PIE `garr(,%rdx,4)`, `garr+4(,%rax,4)`: an array indexed from its link-time address.
    const symbolic = splitSymbol(dispText);
    if (symbolic !== undefined && index !== undefined) return { kind: "symbol", ...symbolic, indexRegister: index, ...(scale === undefined ? {} : { scale }) };
    // `(,%rax,4)`: a numeric address computed from an index alone names no object.
    return unsupported(`memory operand ${quote(operand)} has no base register and no symbol (index-only addressing is not supported)`);
  }
  const base = resolveRegister(mode, baseText);
  if (typeof base === "string") return unsupported(base);

  if (base.name === "rip") return ripRelative(operand, dispText, base, index);
  if (base.width !== mode.addressWidth) {
    return unsupported(`base ${quote(baseText)} in ${quote(operand)} is not a ${mode.addressWidth * 8}-bit register`);
  }
  const displacement = parseDisplacement(dispText);
  if (displacement === undefined) {
    return unsupported(`memory operand ${quote(operand)} adds a symbol to a register; only numeric displacements are supported there`);
  }
  return inMemory(base, displacement, index, scale);
}

/** `gcounter(%rip)`, `garr+8(%rip)`, `garr-8(%rip)`, `8+garr(%rip)`: a symbol the caller must resolve. */
function ripRelative(operand: string, dispText: string, rip: RegisterRef, index: RegisterRef | undefined): ArgLocation {
  if (index !== undefined) return unsupported(`${quote(operand)} combines %rip with an index register`);
  const symbolic = splitSymbol(dispText);
  if (symbolic === undefined) {
    // `8(%rip)`: relative to the instruction after the probe's nop, which the note does not describe.
    return unsupported(`operand ${quote(operand)} is PC-relative without a symbol; its target cannot be known`);
  }
  return { kind: "symbol", symbol: symbolic.symbol, addend: symbolic.addend, base: rip };
}

/** `sym`, `sym+8`, `sym-8`, `8+sym` → symbol and signed addend; undefined for anything else. */
function splitSymbol(text: string): { symbol: string; addend: bigint } | undefined {
  if (SYMBOL.test(text)) return { symbol: text, addend: 0n };
  const after = /^([A-Za-z_.$][A-Za-z0-9_.$]*)([+-])(.+)$/.exec(text);
  if (after !== null) {
    const magnitude = parseDisplacement(after[3] ?? "x");
    if (magnitude === undefined || (after[3] ?? "").startsWith("-")) return undefined;
    return { symbol: after[1] ?? "", addend: after[2] === "-" ? -magnitude : magnitude };
  }
  const before = /^(-?[0-9][0-9a-fA-FxXbB]*)\+([A-Za-z_.$][A-Za-z0-9_.$]*)$/.exec(text);
  if (before !== null) {
    const addend = parseDisplacement(before[1] ?? "x");
    if (addend === undefined) return undefined;
    return { symbol: before[2] ?? "", addend };
  }
  return undefined;
}
