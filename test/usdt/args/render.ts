/**
 * Test helper: renders a decoded argument as one compact line, so that the
 * tables in the architecture tests read like the notes they decode.
 *
 *   register  `-4 reg rdi/4@112`          name/width@ptRegsOffset
 *             `1 reg rax/1>>8@80`         shift after the width
 *             `-4 reg eax/4@24|80`        |compatPtRegsOffset (i386, arm)
 *   memory    `-4 mem rbp/8@32 -20`       base, displacement
 *             `-4 mem rdi/8@112 + rsi/8@104*4 0`
 *   constant  `8 const 18446744073709551614`
 *   symbol    `8 sym gcounter+8 rip/8@128`
 *   other     `-4 unsupported: <reason>`
 *
 * A leading `-` marks signed, a trailing `f` on the size a float.
 */
import { expect } from "vitest";
import { parseUsdtArgs, type RegisterRef, type UsdtArch, type UsdtArg } from "../../../src/usdt/args/index.js";

export function reg(r: RegisterRef): string {
  const shift = r.shift === 0 ? "" : `>>${r.shift}`;
  const compat = r.compatPtRegsOffset === undefined ? "" : `|${r.compatPtRegsOffset}`;
  return `${r.name}/${r.width}${shift}@${r.ptRegsOffset}${compat}`;
}

export function render(a: UsdtArg): string {
  const prefix = `${a.signed ? "-" : ""}${a.size}${a.float === true ? "f" : ""}`;
  switch (a.kind) {
    case "register":
      return `${prefix} reg ${reg(a.register)}`;
    case "memory": {
      const index = a.indexRegister === undefined ? "" : ` + ${reg(a.indexRegister)}*${a.scale ?? "?"}`;
      return `${prefix} mem ${reg(a.base)}${index} ${a.displacement}`;
    }
    case "constant":
      return `${prefix} const ${a.value}`;
    case "symbol": {
      const addend = a.addend === 0n ? "" : a.addend > 0n ? `+${a.addend}` : `${a.addend}`;
      const index = a.indexRegister === undefined ? "" : ` + ${reg(a.indexRegister)}*${a.scale ?? "?"}`;
      return `${prefix} sym ${a.symbol}${addend} ${a.base === undefined ? "absolute" : reg(a.base)}${index}`;
    }
    case "unsupported":
      return `${prefix} unsupported: ${a.reason}`;
  }
}

/** Renders every argument of a note; unsupported ones shortened to `unsupported` unless `full`. */
export function renderAll(args: readonly UsdtArg[], full = false): string[] {
  return args.map((a) => {
    const line = render(a);
    return full || a.kind !== "unsupported" ? line : line.slice(0, line.indexOf(":"));
  });
}

/** Parses a note holding exactly one item for `arch` and renders that argument. */
export function renderOne(arch: UsdtArch, spec: string): string {
  const args = parseUsdtArgs(arch, spec);
  expect(args).toHaveLength(1);
  return render(args[0]!);
}
