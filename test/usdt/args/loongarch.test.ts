/**
 * No LoongArch compiler was available, so these strings follow GCC's and
 * clang's operand printers (see src/usdt/args/loongarch.ts) instead of
 * real notes.
 */
import { describe, expect, it } from "vitest";
import { parseUsdtArgs } from "../../../src/usdt/args/index.js";
import { renderAll, renderOne } from "./render.js";

const one = (spec: string): string => renderOne("loongarch64", spec);

describe("loongarch64 operands", () => {
  it.each([
    // regs[N] at 8*N
    ["-4@$r4", "-4 reg r4/8@32"],
    ["-4@$a0", "-4 reg r4/8@32"],
    ["-4@$v0", "-4 reg r4/8@32"],
    ["-8@$a7", "-8 reg r11/8@88"],
    ["8@$ra", "8 reg r1/8@8"],
    ["8@$tp", "8 reg r2/8@16"],
    ["8@$sp", "8 reg r3/8@24"],
    ["8@$r3", "8 reg r3/8@24"],
    ["8@$t0", "8 reg r12/8@96"],
    ["8@$t8", "8 reg r20/8@160"],
    ["8@$r21", "8 reg r21/8@168"],
    ["8@$fp", "8 reg r22/8@176"],
    ["8@$s9", "8 reg r22/8@176"],
    ["8@$s0", "8 reg r23/8@184"],
    ["8@$s8", "8 reg r31/8@248"],
    ["8@$r31", "8 reg r31/8@248"],
    ["8@$zero", "8 const 0"],
    ["8@$r0", "8 const 0"],
    // GCC: BASE,OFFSET and BASE,INDEX with no space
    ["-4@$r3,16", "-4 mem r3/8@24 16"],
    ["-8@$r22,-24", "-8 mem r22/8@176 -24"],
    ["-4@$r12,$r13", "-4 mem r12/8@96 + r13/8@104*1 0"],
    ["-4@$r12,$r0", "-4 mem r12/8@96 0"],
    // clang: BASE, OFFSET with a space
    ["-8@$sp, 16", "-8 mem r3/8@24 16"],
    ["-8@$a0, $a1", "-8 mem r4/8@32 + r5/8@40*1 0"],
    // OFFSET(BASE)
    ["-8@-8($fp)", "-8 mem r22/8@176 -8"],
    ["-8@16($sp)", "-8 mem r3/8@24 16"],
    ["-8@($a0)", "-8 mem r4/8@32 0"],
    // bcc's bracket form
    ["-8@[$r3, 16]", "-8 mem r3/8@24 16"],
    ["-8@[$sp]", "-8 mem r3/8@24 0"],
    // constants
    ["-4@5", "-4 const 5"],
    ["-4@-1", "-4 const -1"],
    ["8@-2", "8 const 18446744073709551614"],
  ])("%s", (spec, expected) => {
    expect(one(spec)).toBe(expected);
  });

  it.each([
    ["-4@$r12,%pc_lo12(sym)", /relocation operator/],
    ["-4@$r0,16", /absolute address/],
    ["-4@16($zero)", /absolute address/],
    ["8@$f0", /not a general-purpose register/],
    ["8@$fa0", /not a general-purpose register/],
    ["8@$vr1", /not a general-purpose register/],
    ["8@$r32", /not a loongarch64 operand/],
    ["8@r4", /not a loongarch64 operand/],
    ["8@$r3,16,8", /too many parts/],
    ["8@$r3,x", /offset .* is not an integer/],
    ["8@%le_lo12(x)($r2)", /not a loongarch64 operand/],
    ["8@[$r3, 16", /not a loongarch64 operand/],
  ])("%s is unsupported", (spec, reason) => {
    const [arg] = parseUsdtArgs("loongarch64", spec);
    expect(arg?.kind).toBe("unsupported");
    expect(arg?.kind === "unsupported" ? arg.reason : "").toMatch(reason);
  });

  it("keeps clang's `$sp, 16` together and the next argument at index 1", () => {
    const args = parseUsdtArgs("loongarch64", "-8@$sp, 16 -4@$a1");
    expect(renderAll(args)).toEqual(["-8 mem r3/8@24 16", "-4 reg r5/8@40"]);
    expect(args.map((a) => [a.index, a.spec])).toEqual([
      [0, "-8@$sp, 16"],
      [1, "-4@$a1"],
    ]);
  });
});
