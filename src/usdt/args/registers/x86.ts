/**
 * x86_64 and i386 general-purpose registers, every AT&T alias, and where
 * each lives in the uprobe context BPF reads.
 *
 * Pure data: no `node:*`, no I/O.
 */

import { ProbecError } from "../../../errors.js";
import { buildTable, type RegisterSpec, type RegisterTable } from "../operand.js";

/**
 * Byte offsets in x86_64 `struct pt_regs` (arch/x86/include/uapi/asm/ptrace.h,
 * the `!__i386__` branch): fifteen 8-byte slots r15, r14, r13, r12, rbp, rbx,
 * r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi, then orig_rax, rip, cs, eflags,
 * rsp, ss. For uprobes the BPF context is this struct as the kernel saved it.
 */
const X86_64_OFFSET: Readonly<Record<string, number>> = {
  r15: 0,
  r14: 8,
  r13: 16,
  r12: 24,
  rbp: 32,
  rbx: 40,
  r11: 48,
  r10: 56,
  r9: 64,
  r8: 72,
  rax: 80,
  rcx: 88,
  rdx: 96,
  rsi: 104,
  rdi: 112,
  // orig_rax: 120
  rip: 128,
  // cs: 136, eflags: 144
  rsp: 152,
  // ss: 160
};

/**
 * Byte offsets in i386 `struct pt_regs` (same header, `__i386__` branch; the
 * `int` segment fields are 4 bytes like the `long`s): ebx, ecx, edx, esi,
 * edi, ebp, eax, xds, xes, xfs, xgs, orig_eax, eip, xcs, eflags, esp, xss.
 * Checked with i686-linux-gnu-gcc: offsetof(struct pt_regs, esp) == 60.
 */
const I386_OFFSET: Readonly<Record<string, number>> = {
  ebx: 0,
  ecx: 4,
  edx: 8,
  esi: 12,
  edi: 16,
  ebp: 20,
  eax: 24,
  // xds 28, xes 32, xfs 36, xgs 40, orig_eax 44
  eip: 48,
  // xcs 52, eflags 56
  esp: 60,
  // xss 64
};

/**
 * The 64-bit register a 32-bit register is the low half of. A 32-bit
 * process on an x86_64 kernel (IA-32 emulation) has its registers saved in
 * the x86_64 `struct pt_regs`, so BPF must read `eax` from the `rax` slot.
 */
const I386_ON_X86_64: Readonly<Record<string, string>> = {
  eax: "rax",
  ebx: "rbx",
  ecx: "rcx",
  edx: "rdx",
  esi: "rsi",
  edi: "rdi",
  ebp: "rbp",
  esp: "rsp",
  eip: "rip",
};

/** One row: spelling, width in bytes, bit shift. */
type Alias = readonly [string, number, number];

/**
 * Alias families for x86_64, full-width register first. GNU as accepts all
 * of these in 64-bit mode; `%sil`, `%dil`, `%bpl`, `%spl` and the `%rNb` /
 * `%rNw` / `%rNd` forms need a REX prefix and exist only there. `%ah`,
 * `%bh`, `%ch`, `%dh` are bits 8..15.
 */
const X86_64_FAMILIES: readonly (readonly [string, readonly Alias[]])[] = [
  [
    "rax",
    [
      ["rax", 8, 0],
      ["eax", 4, 0],
      ["ax", 2, 0],
      ["al", 1, 0],
      ["ah", 1, 8],
    ],
  ],
  [
    "rbx",
    [
      ["rbx", 8, 0],
      ["ebx", 4, 0],
      ["bx", 2, 0],
      ["bl", 1, 0],
      ["bh", 1, 8],
    ],
  ],
  [
    "rcx",
    [
      ["rcx", 8, 0],
      ["ecx", 4, 0],
      ["cx", 2, 0],
      ["cl", 1, 0],
      ["ch", 1, 8],
    ],
  ],
  [
    "rdx",
    [
      ["rdx", 8, 0],
      ["edx", 4, 0],
      ["dx", 2, 0],
      ["dl", 1, 0],
      ["dh", 1, 8],
    ],
  ],
  [
    "rsi",
    [
      ["rsi", 8, 0],
      ["esi", 4, 0],
      ["si", 2, 0],
      ["sil", 1, 0],
    ],
  ],
  [
    "rdi",
    [
      ["rdi", 8, 0],
      ["edi", 4, 0],
      ["di", 2, 0],
      ["dil", 1, 0],
    ],
  ],
  [
    "rbp",
    [
      ["rbp", 8, 0],
      ["ebp", 4, 0],
      ["bp", 2, 0],
      ["bpl", 1, 0],
    ],
  ],
  [
    "rsp",
    [
      ["rsp", 8, 0],
      ["esp", 4, 0],
      ["sp", 2, 0],
      ["spl", 1, 0],
    ],
  ],
  ...[8, 9, 10, 11, 12, 13, 14, 15].map((n): readonly [string, readonly Alias[]] => [
    `r${n}`,
    [
      [`r${n}`, 8, 0],
      [`r${n}d`, 4, 0],
      [`r${n}w`, 2, 0],
      [`r${n}b`, 1, 0],
    ],
  ]),
  ["rip", [["rip", 8, 0]]],
];

/** i386: the 32-bit registers and their 16- and 8-bit parts; no REX forms, no `%rip`. */
const I386_FAMILIES: readonly (readonly [string, readonly Alias[]])[] = [
  [
    "eax",
    [
      ["eax", 4, 0],
      ["ax", 2, 0],
      ["al", 1, 0],
      ["ah", 1, 8],
    ],
  ],
  [
    "ebx",
    [
      ["ebx", 4, 0],
      ["bx", 2, 0],
      ["bl", 1, 0],
      ["bh", 1, 8],
    ],
  ],
  [
    "ecx",
    [
      ["ecx", 4, 0],
      ["cx", 2, 0],
      ["cl", 1, 0],
      ["ch", 1, 8],
    ],
  ],
  [
    "edx",
    [
      ["edx", 4, 0],
      ["dx", 2, 0],
      ["dl", 1, 0],
      ["dh", 1, 8],
    ],
  ],
  [
    "esi",
    [
      ["esi", 4, 0],
      ["si", 2, 0],
    ],
  ],
  [
    "edi",
    [
      ["edi", 4, 0],
      ["di", 2, 0],
    ],
  ],
  [
    "ebp",
    [
      ["ebp", 4, 0],
      ["bp", 2, 0],
    ],
  ],
  [
    "esp",
    [
      ["esp", 4, 0],
      ["sp", 2, 0],
    ],
  ],
];

function offsetOf(table: Readonly<Record<string, number>>, name: string): number {
  const offset = table[name];
  if (offset === undefined) throw new ProbecError("E_INTERNAL", `register table has no pt_regs slot for ${name}`);
  return offset;
}

function rowsX86_64(): [string, RegisterSpec][] {
  const rows: [string, RegisterSpec][] = [];
  for (const [name, aliases] of X86_64_FAMILIES) {
    const ptRegsOffset = offsetOf(X86_64_OFFSET, name);
    for (const [spelling, width, shift] of aliases) rows.push([spelling, { name, ptRegsOffset, width, shift }]);
  }
  return rows;
}

function rowsI386(): [string, RegisterSpec][] {
  const rows: [string, RegisterSpec][] = [];
  for (const [name, aliases] of I386_FAMILIES) {
    const ptRegsOffset = offsetOf(I386_OFFSET, name);
    const compatPtRegsOffset = offsetOf(X86_64_OFFSET, I386_ON_X86_64[name] ?? "");
    for (const [spelling, width, shift] of aliases) {
      rows.push([spelling, { name, ptRegsOffset, width, shift, compatPtRegsOffset }]);
    }
  }
  return rows;
}

/** Every x86_64 general-purpose register spelling (without `%`), plus `rip`. */
export const X86_64_REGISTERS: RegisterTable = buildTable(rowsX86_64());

/** Every i386 general-purpose register spelling (without `%`). */
export const I386_REGISTERS: RegisterTable = buildTable(rowsI386());

/**
 * Registers that exist but are not in `struct pt_regs` (or not as values):
 * vector, x87, MMX, mask, segment, control and debug registers, and the
 * `%eiz`/`%riz` pseudo index. Used only to word the reason well.
 */
export function describeUnreadableX86(name: string): string | undefined {
  const n = name.toLowerCase();
  if (/^[xyz]mm[0-9]+$/.test(n)) return "a vector register, which pt_regs does not hold";
  if (/^st(\([0-7]\))?$/.test(n)) return "an x87 register, which pt_regs does not hold";
  if (/^mm[0-7]$/.test(n)) return "an MMX register, which pt_regs does not hold";
  if (/^k[0-7]$/.test(n)) return "an AVX-512 mask register, which pt_regs does not hold";
  if (/^[c-gs]s$/.test(n)) return "a segment register";
  if (/^[cd]r[0-9]+$/.test(n)) return "a control or debug register";
  if (n === "eiz" || n === "riz") return "the assembler's zero pseudo-index";
  return undefined;
}
