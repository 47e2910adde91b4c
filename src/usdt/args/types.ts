/**
 * Decoded USDT argument locations.
 *
 * A USDT note's argument string is a list of `SIZE@OPERAND` items written by
 * the `STAP_PROBE` macros through the compiler's inline-assembly operand
 * syntax, so the OPERAND is in the *target architecture's* assembler syntax:
 * `-4@%edi`, `8@-24(%rbp)`, `-4@[sp, 96]`, `8@$18446744073709551614`.
 * Every argument decodes to exactly one {@link UsdtArg}; an operand that
 * cannot be decoded becomes an `unsupported` entry *at its own index* so
 * that later arguments keep their numbers (PITFALLS 10).
 *
 * Pure data: no `node:*`, no I/O.
 */

/** Architectures whose USDT operand syntax probec decodes, chosen by `e_machine`. */
export type UsdtArch = "x86_64" | "i386" | "aarch64" | "arm" | "s390x" | "riscv64" | "ppc64" | "loongarch64";

/**
 * A machine register as the BPF program will read it: from the probe
 * context, which for uprobes is the target architecture's
 * `bpf_user_pt_regs_t` (`struct pt_regs` on x86, `user_pt_regs` on arm64 …).
 */
export interface RegisterRef {
  /** Canonical full-width register name, lower case, no sigil: `rdi`, `x1`, `r15`, `a0`. */
  readonly name: string;
  /** The register exactly as the note wrote it: `%sil`, `%r8d`, `x4`, `%r2`. */
  readonly written: string;
  /** Byte offset of the full-width register in the architecture's BPF uprobe context. */
  readonly ptRegsOffset: number;
  /** Width in bytes of the part of the register the operand names (`%sil` is 1, `%r8d` is 4, `x4` is 8, `w4` is 4). */
  readonly width: number;
  /**
   * Bit position of the named part inside the full register: 0 for the
   * low part, 8 for x86's `%ah`/`%bh`/`%ch`/`%dh`.
   */
  readonly shift: number;
  /**
   * Only for registers of a 32-bit target (i386, arm): the byte offset of
   * the same register in the *64-bit* kernel's uprobe context (x86_64
   * `struct pt_regs`, arm64 `user_pt_regs`), which is what BPF sees when the
   * 32-bit process runs on a 64-bit kernel (the usual setup today).
   * `ptRegsOffset` stays the native 32-bit layout. Either way the value is
   * `width` bytes starting `shift` bits into the register, never the whole
   * 8-byte slot.
   */
  readonly compatPtRegsOffset?: number;
}

/** The value is a register's content. */
export interface RegisterLocation {
  readonly kind: "register";
  readonly register: RegisterRef;
}

/** The value is in memory at `base + indexRegister * scale + displacement`. */
export interface MemoryLocation {
  readonly kind: "memory";
  readonly base: RegisterRef;
  /**
   * Present for SIB forms such as `-4@-4(%rbp,%rax,4)` and aarch64
   * `[x0, x1]`. (Not called `index`: {@link UsdtArg} intersects this type
   * and its `index` is the argument number.)
   */
  readonly indexRegister?: RegisterRef;
  /** 1, 2, 4 or 8; present exactly when `indexRegister` is. */
  readonly scale?: number;
  /** Signed displacement, full 64 bits. */
  readonly displacement: bigint;
}

/** The value is an immediate constant, kept to the full 64 bits (PITFALLS 12). */
export interface ConstantLocation {
  readonly kind: "constant";
  /** The constant as written, reduced to the argument's size and signedness. */
  readonly value: bigint;
}

/**
 * The value is in memory at a symbol's address plus an addend: PC-relative
 * in PIC code (x86_64 `8@counter+8(%rip)`) or absolute in non-PIE code
 * (i386 `4@gcounter`, x86_64 `-4@garr(,%rax,4)` with an index). The
 * run-time address is `symbolAddress + addend + loadBias` (+ `index * scale`);
 * the symbol must be found in the file (or its debug file) or the argument
 * cannot be read (PITFALLS 13).
 */
export interface SymbolLocation {
  readonly kind: "symbol";
  readonly symbol: string;
  /** Signed addend, full 64 bits. */
  readonly addend: bigint;
  /** The PC register the operand was relative to (`rip`); absent for an absolute reference. */
  readonly base?: RegisterRef;
  /** Index register of `sym(,%idx,scale)` forms. */
  readonly indexRegister?: RegisterRef;
  /** 1, 2, 4 or 8; present exactly when `indexRegister` is. */
  readonly scale?: number;
  /** The symbol's link-time address, when the file (or its debug file) defines it. */
  readonly address?: bigint;
}

/** The operand could not be decoded; `reason` says why, naming the operand. */
export interface UnsupportedLocation {
  readonly kind: "unsupported";
  readonly reason: string;
  /** Set when the operand was symbol-relative and no symbol source defined the symbol. */
  readonly symbol?: string;
}

/** Where a USDT argument's value lives. */
export type ArgLocation = RegisterLocation | MemoryLocation | ConstantLocation | SymbolLocation | UnsupportedLocation;

/** One decoded USDT argument. */
export type UsdtArg = ArgLocation & {
  /** 0-based position in the note (the DSL's `arg0`, `arg1`, …). */
  readonly index: number;
  /** The item exactly as the note wrote it, e.g. `-4@-20(%rbp)`. */
  readonly spec: string;
  /** Size in bytes of the value: 1, 2, 4 or 8 (0 only for `unsupported` items with no readable size). */
  readonly size: number;
  /** True when the size prefix was negative (`-4@`). */
  readonly signed: boolean;
  /**
   * True when the size prefix carried sys/sdt.h's floating-point type
   * suffix (`8f@`, `4f@`; systemtap 4.8's header emits it for `float` and
   * `double` arguments): the `size` bytes are IEEE-754 bits, not an
   * integer. Absent for integer and pointer arguments.
   */
  readonly float?: boolean;
};

/**
 * Decodes one OPERAND (the part after `SIZE@`) for one architecture.
 * Returns an `unsupported` location rather than throwing for anything it
 * does not understand.
 */
export type OperandParser = (operand: string, size: number, signed: boolean) => ArgLocation;
