/**
 * USDT argument decoding: from a `.note.stapsdt` argument string to one
 * {@link UsdtArg} per argument, for every architecture probec knows,
 * chosen by the file's `e_machine`, never by the machine probec runs on
 * (PITFALLS 14). All architectures are always built in.
 *
 * The note text is hostile input: decoding never throws on it, reads at
 * most {@link USDT_MAX_ARGS} items of at most {@link USDT_MAX_ITEM_LENGTH}
 * characters, and turns anything it cannot decode into an `unsupported`
 * entry at that argument's own index (PITFALLS 10).
 *
 * Pure: no `node:*`, no I/O.
 */

import { EM_386, EM_AARCH64, EM_ARM, EM_LOONGARCH, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64 } from "../../elf/constants.js";
import { parseAarch64Operand } from "./aarch64.js";
import { parseArmOperand } from "./arm.js";
import { parseLoongarchOperand } from "./loongarch.js";
import { parsePpc64Operand } from "./ppc.js";
import { parseRiscvOperand } from "./riscv.js";
import { parseS390xOperand } from "./s390x.js";
import { splitItems, splitSize } from "./split.js";
import type { OperandParser, UsdtArch, UsdtArg } from "./types.js";
import { parseI386Operand, parseX86_64Operand } from "./x86.js";

export type * from "./types.js";

/**
 * The most arguments decoded from one note. sys/sdt.h stops at 12
 * (`STAP_PROBE12`) and libbpf reads 12; 64 leaves room for hand-written
 * notes while bounding the work a crafted one can cause.
 */
export const USDT_MAX_ARGS = 64;

/** The longest item decoded; real operands are under 40 characters. */
export const USDT_MAX_ITEM_LENGTH = 256;

/**
 * The USDT operand syntax of an ELF file, from its `e_machine` and class;
 * undefined for machines probec does not decode.
 *
 * EM_X86_64 and EM_AARCH64 map to the 64-bit syntax even in 32-bit class
 * files (x32, arm64 ILP32): the registers and the kernel's pt_regs are the
 * 64-bit ones. EM_S390 is s390x only in class 64 (class 32 is 31-bit
 * s390, not supported); likewise riscv and loongarch are 64-bit only, and
 * EM_PPC64 covers both ppc64 and ppc64le (the byte order does not change
 * the operand syntax).
 */
export function usdtArchForMachine(eMachine: number, elfClass: 32 | 64): UsdtArch | undefined {
  switch (eMachine) {
    case EM_X86_64:
      return "x86_64";
    case EM_386:
      return elfClass === 32 ? "i386" : undefined;
    case EM_AARCH64:
      return "aarch64";
    case EM_ARM:
      return elfClass === 32 ? "arm" : undefined;
    case EM_S390:
      return elfClass === 64 ? "s390x" : undefined;
    case EM_RISCV:
      return elfClass === 64 ? "riscv64" : undefined;
    case EM_PPC64:
      return elfClass === 64 ? "ppc64" : undefined;
    case EM_LOONGARCH:
      return elfClass === 64 ? "loongarch64" : undefined;
    default:
      return undefined;
  }
}

const PARSERS: Readonly<Record<UsdtArch, OperandParser>> = {
  x86_64: parseX86_64Operand,
  i386: parseI386Operand,
  aarch64: parseAarch64Operand,
  arm: parseArmOperand,
  s390x: parseS390xOperand,
  riscv64: parseRiscvOperand,
  ppc64: parsePpc64Operand,
  loongarch64: parseLoongarchOperand,
};

/** The operand decoder for one architecture (the part after `SIZE@`). */
export function usdtOperandParser(arch: UsdtArch): OperandParser {
  return PARSERS[arch];
}

/** Native pointer size, the size given to an old-style item with no `N@` prefix. */
export function usdtPointerSize(arch: UsdtArch): number {
  return arch === "i386" || arch === "arm" ? 4 : 8;
}

/**
 * Decodes a note's whole argument string. Never throws on note content.
 *
 * One entry per item, in order, `index` 0, 1, 2, …; an item that cannot be
 * decoded is an `unsupported` entry at its own index, so the arguments
 * after it keep their numbers. Past {@link USDT_MAX_ARGS} items, the first
 * {@link USDT_MAX_ARGS} are decoded and one more `unsupported` entry says
 * the cap was hit. Empty or blank text has no arguments.
 *
 * Example (x86_64): `-4@(,%rax,4) 8@%rdi` gives an unsupported arg0 and
 * arg1 in register rdi.
 */
export function parseUsdtArgs(arch: UsdtArch, text: string): UsdtArg[] {
  const parse = PARSERS[arch];
  const pointerSize = usdtPointerSize(arch);
  const items = splitItems(text, USDT_MAX_ARGS + 1);
  const args: UsdtArg[] = [];
  for (const [index, item] of items.entries()) {
    if (index === USDT_MAX_ARGS) {
      args.push({
        kind: "unsupported",
        reason: `note has more than ${USDT_MAX_ARGS} arguments; the rest were not decoded (limit ${USDT_MAX_ARGS})`,
        index,
        spec: clip(item),
        size: 0,
        signed: false,
      });
      break;
    }
    args.push(decodeItem(parse, pointerSize, index, item));
  }
  return args;
}

function decodeItem(parse: OperandParser, pointerSize: number, index: number, item: string): UsdtArg {
  if (item.length > USDT_MAX_ITEM_LENGTH) {
    return {
      kind: "unsupported",
      reason: `argument ${index} is ${item.length} characters long (limit ${USDT_MAX_ITEM_LENGTH})`,
      index,
      spec: clip(item),
      size: 0,
      signed: false,
    };
  }
  const sized = splitSize(item, pointerSize);
  if (!sized.ok) {
    return { kind: "unsupported", reason: sized.reason, index, spec: item, size: sized.size, signed: sized.signed };
  }
  const { size, signed, float, operand } = sized;
  const location = parse(operand, size, signed);
  // Object.assign, not a spread: locations come in several shapes, and V8's
  // generic spread of a polymorphic object was most of the cost of parsing
  // libjvm's 1,100 arguments.
  return Object.assign({}, location, float ? { index, spec: item, size, signed, float: true } : { index, spec: item, size, signed }) as UsdtArg;
}

/** An over-long item, cut to the limit with a marker, so reports stay readable. */
function clip(item: string): string {
  return item.length <= USDT_MAX_ITEM_LENGTH ? item : `${item.slice(0, USDT_MAX_ITEM_LENGTH)}…`;
}
