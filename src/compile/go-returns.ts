/**
 * The attach points of one function of a Go binary.
 *
 * A kernel return probe (uretprobe) replaces the return address on the
 * stack with a trampoline's; Go's runtime walks goroutine stacks (to grow
 * and copy them, for GC, for panics) and dies on the foreign address:
 * `fatal error: unknown caller pc` (golang/go#22008, bcc#1320,
 * bpftrace#1098; PITFALLS 29). So in a Go binary, `uretprobe` and the
 * return side of `uprobe+ret` become a plain uprobe on every return
 * instruction of the function (`side: "return-instruction"`), which fires
 * just before the function returns, with its results in their registers,
 * and touches no stack. A function whose returns cannot all be found with
 * confidence is refused with the reason, never half-probed; a glob leaves
 * such functions out whole, with a warning naming each
 * ({@link withoutUnprobedGoFunctions}).
 *
 * `uprobe+ret` pairs by goroutine and frame (native/include/probec_abi.h,
 * `enum probec_pair_key`), which needs the goroutine register of Go's
 * ABIInternal: an ABI0 (assembly) function is refused.
 *
 * Pure.
 */
import type { TargetResolution } from "../discovery/resolve-target.js";
import type { FoundSymbol } from "../elf/find-symbol.js";
import { hex } from "../elf/fields.js";
import { InternalError, UsageError } from "../errors.js";
import type { FunctionCode } from "../locate/code.js";
import type { AttachPoint, ProbeKind, SymbolSite } from "../plan/index.js";

/** The hint every refusal carries: why probec does not fall back to the kernel's return probe. */
const NO_URETPROBE = "probec never puts a kernel return probe on a Go binary: the Go runtime crashes on it (PITFALLS 29)";

/**
 * The points of `symbol` (of a Go binary) for a `kind` probe, numbered from
 * `cookie`; `where` names the probe and target in messages.
 *
 * @throws UsageError when a return probe is asked for and the function's
 *   return instructions cannot all be found, or when `uprobe+ret` is asked
 *   for an ABI0 function.
 */
export function functionPoints(
  symbol: FoundSymbol,
  code: FunctionCode | undefined,
  kind: ProbeKind,
  cookie: number,
  where: string,
): { points: AttachPoint[]; nextCookie: number } {
  if (code === undefined) throw new InternalError(`${where}: ${symbol.name} is in a Go binary but has no code description (this is a bug)`);
  const abi = code.abi === undefined ? {} : { abi: code.abi };
  const site = siteOf(symbol, symbol.address);
  const entryPoint = (c: number, pairedWith: number | null): AttachPoint => ({
    cookie: c,
    side: "entry",
    ...abi,
    fileOffset: symbol.fileOffset,
    refCtrOffset: null,
    pairedWith,
    site,
  });
  if (kind === "uprobe" || kind === "usdt") return { points: [entryPoint(cookie, null)], nextCookie: cookie + 1 };

  const returns = code.returns;
  if (returns === undefined)
    throw new InternalError(`${where}: ${symbol.name} is in a Go binary but its return instructions were not looked for (this is a bug)`);
  if ("refused" in returns) {
    throw new UsageError(`${where}: cannot put a ${kind} probe on ${symbol.name}: ${returns.refused}`, [
      NO_URETPROBE,
      "probe its entry with uprobe, or its callers",
    ]);
  }
  if (kind === "uprobe+ret" && code.abi === "go-abi0") {
    throw new UsageError(
      `${where}: cannot pair the entry and return of ${symbol.name}: it is a Go assembly (ABI0) function, which does not keep the goroutine in its register, and uprobe+ret pairs Go calls by goroutine`,
      ["use uretprobe for its returns, or uprobe for its entry"],
    );
  }
  const points: AttachPoint[] = [];
  let next = cookie;
  const entry = kind === "uprobe+ret" ? next++ : null;
  if (entry !== null) points.push(entryPoint(entry, next));
  returns.offsets.forEach((fileOffset, i) => {
    const address = returns.addresses[i];
    if (address === undefined) throw new InternalError(`${where}: return instruction ${i} of ${symbol.name} has an offset but no address (this is a bug)`);
    points.push({ cookie: next++, side: "return-instruction", ...abi, fileOffset, refCtrOffset: null, pairedWith: entry, site: siteOf(symbol, address) });
  });
  return { points, nextCookie: next };
}

/** The function's site, at `address` (its entry, or one of its return instructions). */
function siteOf(symbol: FoundSymbol, address: bigint): SymbolSite {
  return { kind: "symbol", name: symbol.name, version: symbol.version, address: hex(address), size: symbol.size };
}

/**
 * A return probe on a glob over a Go binary's functions leaves out, as
 * whole functions, those whose return instructions cannot all be found
 * (a tail-calling wrapper among a package's functions), and those `uprobe+ret`
 * cannot pair (assembly): each is named in the result, for a warning. A
 * single function, or a glob of which no function can be probed, is left
 * as it is, for {@link functionPoints} to refuse with the reason.
 */
export function withoutUnprobedGoFunctions(resolution: TargetResolution, kind: ProbeKind): { resolution: TargetResolution; skipped: string[] } {
  const location = resolution.spec.location;
  if ((kind !== "uretprobe" && kind !== "uprobe+ret") || location === undefined || !/[*?[]/.test(location)) return { resolution, skipped: [] };
  const skipped: string[] = [];
  const groups = resolution.groups.map((group) => {
    const { symbols, functions } = group;
    if (group.code?.language !== "go" || symbols === undefined || functions === undefined) return group;
    const why = functions.map((fn) => {
      if (fn.returns !== undefined && "refused" in fn.returns) return fn.returns.refused;
      return kind === "uprobe+ret" && fn.abi === "go-abi0" ? "Go assembly (ABI0): no goroutine register to pair its entry and return by" : undefined;
    });
    const keep = why.map((w) => w === undefined);
    if (!keep.includes(true) || !keep.includes(false)) return group;
    why.forEach((w, i) => {
      if (w !== undefined) skipped.push(`${symbols[i]?.name}: ${w}`);
    });
    return { ...group, symbols: symbols.filter((_, i) => keep[i]), functions: functions.filter((_, i) => keep[i]) };
  });
  return { resolution: { ...resolution, groups }, skipped };
}
