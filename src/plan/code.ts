/**
 * What kind of code a point is in, defined once: the language of a binary,
 * the calling convention (ABI) of a point, and the sides a point fires on.
 * The compiler chooses how to read `argN` and how to instrument a return
 * from these (docs/design.md, "Kinds of code"), and the attacher refuses
 * what would harm the target: a kernel return probe on Go (PITFALLS 29).
 * The JSON schema and the native plan reader (native/src/plan.c) spell the
 * same names; test/plan/drift.test.ts fails when they disagree.
 *
 * Pure data: no I/O.
 */

/**
 * The language of a binary's code, as far as probing it differs: `go`
 * (a Go binary: its own register ABI, goroutine stacks the runtime copies
 * and walks) or `c` (everything else: C, C++, Rust, with the platform's C ABI).
 */
export const PLAN_LANGUAGES = ["c", "go"] as const;

/** A binary's language (see {@link PLAN_LANGUAGES}). */
export type PlanLanguage = (typeof PLAN_LANGUAGES)[number];

/**
 * Every calling convention a function point may have, in the order the
 * native plan reader numbers them after the C ABI (native/src/plan.h,
 * `enum plan_abi`):
 *
 * - `sysv`: the x86-64 System V C ABI, arguments in RDI, RSI, RDX, RCX, R8, R9;
 * - `aapcs64`: the arm64 C ABI (AAPCS64), arguments in X0..X7;
 * - `go-abiinternal`: Go's register ABI (Go 1.17 amd64, 1.18 arm64): integer
 *   arguments in RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11 (amd64) or
 *   R0..R15 (arm64), the goroutine in R14 / R28 (Go's
 *   src/cmd/compile/abi-internal.md);
 * - `go-abi0`: Go's stack ABI, which assembly functions (and all Go code
 *   before the register ABI) use: arguments on the stack.
 */
export const PLAN_ABIS = ["sysv", "aapcs64", "go-abiinternal", "go-abi0"] as const;

/** A point's calling convention (see {@link PLAN_ABIS}). */
export type PlanAbi = (typeof PLAN_ABIS)[number];

/**
 * The sides a point fires on: `entry` (a uprobe on the function's first
 * instruction, or on the address given), `return` (a kernel return probe,
 * uretprobe: the kernel swaps the return address on the stack, which Go's
 * runtime cannot survive), `return-instruction` (a plain uprobe on one
 * return instruction of the function: fires as the function returns, with
 * the results in their registers, and touches no stack; what Go functions
 * get instead of `return`, one point per return instruction).
 */
export const POINT_SIDES = ["entry", "return", "return-instruction"] as const;

/** Which side of a function a point fires on (see {@link POINT_SIDES}). */
export type PointSide = (typeof POINT_SIDES)[number];

/** The C ABI of an ELF machine name as src/elf/constants.ts prints it, or undefined for one probec cannot read arguments on. */
export function cAbiOf(machine: string): PlanAbi | undefined {
  if (machine === "x86_64") return "sysv";
  if (machine === "aarch64") return "aapcs64";
  return undefined;
}

/** How many integer arguments a probe can read from registers under `abi` on `machine` (0: none, they are on the stack). */
export function registerArgCount(abi: PlanAbi, machine: string): number {
  switch (abi) {
    case "sysv":
      return 6;
    case "aapcs64":
      // The attacher reads X0..X5 (native/src/lower.c); AAPCS64 has eight.
      return 6;
    case "go-abiinternal":
      // Nine on amd64; sixteen on arm64, of which a point keeps 12 (PROBEC_MAX_ARGS).
      return machine === "aarch64" ? 12 : 9;
    case "go-abi0":
      return 0;
  }
}
