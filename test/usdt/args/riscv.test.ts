import { describe, expect, it } from "vitest";
import { parseUsdtArgs } from "../../../src/usdt/args/index.js";
import { renderAll, renderOne } from "./render.js";

const one = (spec: string): string => renderOne("riscv64", spec);

describe("riscv64 operands", () => {
  it.each([
    // user_regs_struct: pc at 0, xN at 8*N
    ["8@ra", "8 reg ra/8@8"],
    ["8@sp", "8 reg sp/8@16"],
    ["8@gp", "8 reg gp/8@24"],
    ["8@tp", "8 reg tp/8@32"],
    ["8@t0", "8 reg t0/8@40"],
    ["8@t2", "8 reg t2/8@56"],
    ["8@s0", "8 reg s0/8@64"],
    ["8@fp", "8 reg s0/8@64"],
    ["8@s1", "8 reg s1/8@72"],
    ["-4@a0", "-4 reg a0/8@80"],
    ["-8@a1", "-8 reg a1/8@88"],
    ["8@a7", "8 reg a7/8@136"],
    ["8@s2", "8 reg s2/8@144"],
    ["8@s11", "8 reg s11/8@216"],
    ["8@t3", "8 reg t3/8@224"],
    ["8@t6", "8 reg t6/8@248"],
    ["8@x1", "8 reg ra/8@8"],
    ["8@x10", "8 reg a0/8@80"],
    ["8@x31", "8 reg t6/8@248"],
    ["8@zero", "8 const 0"],
    ["8@x0", "8 const 0"],
    ["8@8(sp)", "8 mem sp/8@16 8"],
    ["-4@-24(s0)", "-4 mem s0/8@64 -24"],
    ["-4@-20(fp)", "-4 mem s0/8@64 -20"],
    ["-4@0(a5)", "-4 mem a5/8@120 0"],
    ["-4@(a0)", "-4 mem a0/8@80 0"],
    ["-4@16(x2)", "-4 mem sp/8@16 16"],
    ["-4@5", "-4 const 5"],
    ["-4@-1", "-4 const -1"],
    ["8@-2", "8 const 18446744073709551614"],
  ])("%s", (spec, expected) => {
    expect(one(spec)).toBe(expected);
  });

  it.each([
    ["-8@%lo(gcounter)(a4)", /relocation operator/],
    ["-4@%tprel_lo(tlsvar)(a5)", /relocation operator/],
    ["8@fa0", /floating-point register/],
    ["8@ft1", /floating-point register/],
    ["8@f2", /floating-point register/],
    ["8@8(zero)", /absolute address/],
    ["8@8(fa0)", /floating-point register/],
    ["8@x32", /not a riscv64 operand/],
    ["8@gcounter", /not a riscv64 operand/],
    ["8@sym(a0)", /offset .* is not an integer/],
  ])("%s is unsupported", (spec, reason) => {
    const [arg] = parseUsdtArgs("riscv64", spec);
    expect(arg?.kind).toBe("unsupported");
    expect(arg?.kind === "unsupported" ? arg.reason : "").toMatch(reason);
  });

  describe("real notes", () => {
    it("riscv64-linux-gnu-gcc 12 -O0", () => {
      expect(renderAll(parseUsdtArgs("riscv64", "-4@-20(s0) -8@-32(s0) 1@-21(s0) -2@-24(s0) 8@-40(s0) 8@-48(s0)"))).toEqual([
        "-4 mem s0/8@64 -20",
        "-8 mem s0/8@64 -32",
        "1 mem s0/8@64 -21",
        "-2 mem s0/8@64 -24",
        "8 mem s0/8@64 -40",
        "8 mem s0/8@64 -48",
      ]);
      expect(renderAll(parseUsdtArgs("riscv64", "8f@-24(s0) 4f@-28(s0)"))).toEqual(["8f mem s0/8@64 -24", "4f mem s0/8@64 -28"]);
    });

    it("riscv64-linux-gnu-gcc 12 -O2 -fno-pie", () => {
      expect(renderAll(parseUsdtArgs("riscv64", "-4@a0 -8@a1 1@a2 -2@a3 8@a4 8@a5"))).toEqual([
        "-4 reg a0/8@80",
        "-8 reg a1/8@88",
        "1 reg a2/8@96",
        "-2 reg a3/8@104",
        "8 reg a4/8@112",
        "8 reg a5/8@120",
      ]);
      expect(renderAll(parseUsdtArgs("riscv64", "-8@%lo(gcounter)(a4) -4@8(a5) 1@%lo(gbyte)(a3) -8@0"))).toEqual([
        "-8 unsupported",
        "-4 mem a5/8@120 8",
        "1 unsupported",
        "-8 const 0",
      ]);
      expect(renderAll(parseUsdtArgs("riscv64", "-8@a0 -8@a1 -8@a2 -8@a3 -8@a4 -8@a5 -8@a6 -8@a7 -8@0(sp) -8@8(sp) -8@16(sp) -8@24(sp)"))).toEqual([
        "-8 reg a0/8@80",
        "-8 reg a1/8@88",
        "-8 reg a2/8@96",
        "-8 reg a3/8@104",
        "-8 reg a4/8@112",
        "-8 reg a5/8@120",
        "-8 reg a6/8@128",
        "-8 reg a7/8@136",
        "-8 mem sp/8@16 0",
        "-8 mem sp/8@16 8",
        "-8 mem sp/8@16 16",
        "-8 mem sp/8@16 24",
      ]);
      expect(renderAll(parseUsdtArgs("riscv64", "-4@%tprel_lo(tlsvar)(a5)"))).toEqual(["-4 unsupported"]);
    });
  });
});
