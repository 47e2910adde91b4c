/**
 * What kind of code a located function is (docs/design.md, "Kinds of
 * code"): the binary's language, and per function its calling convention
 * and, in a Go binary, every return instruction. The compiler reads
 * `argN` and instruments returns from this: a Go function's return probe
 * is a uprobe on each return instruction, because a kernel uretprobe
 * swaps the return address on the stack and Go's runtime, which walks
 * and copies goroutine stacks, dies on it (PITFALLS 29).
 *
 * Pure (no `node:*`): the live resolver and anything else that has the
 * ELF open ask the same question here.
 */
import type { ElfFile } from "../elf/elf-file.js";
import type { FoundSymbol } from "../elf/find-symbol.js";
import { hex } from "../elf/fields.js";
import { detectGo, findReturnInstructions, goFunctions, type GoFunction, type ReturnSites } from "../golang/index.js";
import { cAbiOf, type PlanAbi, type PlanLanguage } from "../plan/index.js";

/** The code of one binary. */
export interface ObjectCode {
  /** `go` when {@link detectGo} finds Go (build info, pclntab, the Go note or runtime symbols), else `c`. */
  readonly language: PlanLanguage;
  /** The Go toolchain (`go1.19.8`) from the build info; null when not Go or not recorded. */
  readonly goVersion: string | null;
  /** The ELF machine (`x86_64`, `aarch64`), which fixes the registers of each ABI. */
  readonly machine: string;
  /** The calling convention of the binary's C code: undefined on a machine whose arguments probec does not read. */
  readonly cAbi: PlanAbi | undefined;
  /** Go binaries: the convention of their Go (non-assembly) functions. */
  readonly goAbi: PlanAbi | undefined;
}

/** The code of one located function. */
export interface FunctionCode {
  /** Its calling convention; undefined when the machine's is unknown (no `argN` there). */
  readonly abi: PlanAbi | undefined;
  /**
   * Only in a Go binary (where no kernel return probe may go): its return
   * instructions, or why they cannot all be found with confidence (a tail
   * call, a jump into an instruction, an address inside the function
   * rather than its entry). Undefined elsewhere: C code takes the kernel's
   * return probes.
   */
  readonly returns: ReturnSites | undefined;
  /** The pclntab's name of the Go function holding the address, when there is one. */
  readonly goName: string | undefined;
}

/** The code of `elf`. */
export function codeOf(elf: ElfFile): ObjectCode {
  const machine = elf.machineName;
  const cAbi = cAbiOf(machine);
  const go = detectGo(elf);
  if (go === undefined) return { language: "c", goVersion: null, machine, cAbi, goAbi: undefined };
  return { language: "go", goVersion: go.goVersion ?? null, machine, cAbi, goAbi: go.abi === "ABIInternal" ? "go-abiinternal" : "go-abi0" };
}

/**
 * The code of `symbol` in `elf` (whose {@link codeOf} is `code`). In a Go
 * binary, a function the pclntab lists is Go: ABI0 when it is written in
 * assembly (`funcFlag_ASM`) or named as Go's linker names an ABI0 body
 * (`.abi0` suffix), else the binary's Go ABI; any other function (cgo's C
 * code) has the C ABI. Its return instructions are decoded either way:
 * no function of a Go binary gets a kernel return probe.
 */
export function functionCodeOf(elf: ElfFile, code: ObjectCode, symbol: FoundSymbol): FunctionCode {
  if (code.language !== "go") return { abi: code.cAbi, returns: undefined, goName: undefined };
  const fn = goFunctionAt(elf, symbol.address);
  const asm = fn?.isAsm === true || symbol.name.endsWith(".abi0");
  const abi = fn === undefined ? code.cAbi : asm ? "go-abi0" : code.goAbi;
  // The body to scan: the pclntab's extent for a Go function (padding included, which holds no return), else the symbol's.
  const address = fn?.entry ?? symbol.address;
  const size = fn?.size ?? symbol.size;
  const fileOffset = fn?.fileOffset ?? symbol.fileOffset - Number(symbol.address - address);
  let returns: ReturnSites;
  if (symbol.address !== address) {
    returns = {
      refused: `${symbol.name} is inside ${fn?.name ?? "a function"} (at ${hex(address)}), not at its entry: return instructions belong to a whole function`,
    };
  } else if (size <= 0) {
    returns = { refused: `${symbol.name} has no size, so its body cannot be decoded` };
  } else {
    returns = findReturnInstructions(elf, { address, size, fileOffset });
    if (!("refused" in returns) && returns.offsets.length === 0) returns = { refused: `${symbol.name} has no return instruction (it never returns)` };
  }
  return { abi, returns, goName: fn?.name };
}

/** The pclntab function whose [entry, end) holds `address`, by binary search (the table is sorted). */
function goFunctionAt(elf: ElfFile, address: bigint): GoFunction | undefined {
  const all = goFunctions(elf);
  let lo = 0;
  let hi = all.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const fn = all[mid] as GoFunction;
    if (address < fn.entry) hi = mid - 1;
    else if (address >= fn.end) lo = mid + 1;
    else return fn;
  }
  return undefined;
}
