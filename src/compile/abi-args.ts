/**
 * `argN` of a function probe checked against the calling convention of
 * each matched function: the DSL allows what any ABI passes in registers
 * (DSL_LIMITS.maxFunctionArgs), but C on x86-64 has six argument
 * registers, Go's ABIInternal nine on amd64, and Go assembly (ABI0) none:
 * its arguments are on the stack, and reading a register there would give
 * a plausible, wrong value (PITFALLS 30).
 *
 * Pure.
 */
import type { TargetResolution } from "../discovery/resolve-target.js";
import { argUses, type CheckedProbe, type Diagnostic } from "../dsl/index.js";
import { registerArgCount } from "../plan/index.js";

/** One error per `argN` (and `gostr(argN)` length slot) that some matched function cannot pass in a register. */
export function abiArgDiagnostics(probe: CheckedProbe, resolution: TargetResolution): Diagnostic[] {
  const functions = resolution.groups.flatMap((g) =>
    // A group built without its code (by hand, in tests) is C on x86-64.
    (g.symbols ?? []).map((symbol, i) => ({
      name: symbol.name,
      abi: g.code === undefined ? ("sysv" as const) : g.functions?.[i]?.abi,
      machine: g.code?.machine ?? "x86_64",
    })),
  );
  const out: Diagnostic[] = [];
  const reported = new Set<number>();
  for (const use of argUses(probe)) {
    if (reported.has(use.index)) continue;
    const short = functions.filter((f) => f.abi === undefined || registerArgCount(f.abi, f.machine) <= use.index);
    if (short.length === 0) continue;
    reported.add(use.index);
    const describe = (f: (typeof functions)[number]): string => {
      if (f.abi === undefined) return `${f.name}: probec reads no function arguments on ${f.machine}`;
      const n = registerArgCount(f.abi, f.machine);
      if (n === 0) return `${f.name} is Go assembly (ABI0): its arguments are on the stack, not in registers`;
      return `${f.name} (${f.abi}) passes arg0..arg${n - 1} in registers`;
    };
    const described = [...new Set(short.map(describe))];
    out.push({
      severity: "error",
      message: `\`arg${use.index}\` is not in a register of ${short.length === functions.length ? (functions.length === 1 ? "the matched function" : "the matched functions") : `${short.length} of ${functions.length} matched functions`}`,
      location: use.loc,
      hints: described.slice(0, 3).concat(described.length > 3 ? [`and ${described.length - 3} more`] : []),
    });
  }
  return out;
}
