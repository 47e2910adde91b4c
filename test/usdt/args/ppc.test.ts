import { describe, expect, it } from "vitest";
import { parseUsdtArgs } from "../../../src/usdt/args/index.js";
import { renderAll, renderOne } from "./render.js";

const one = (spec: string): string => renderOne("ppc64", spec);

describe("ppc64 operands", () => {
  it.each([
    // gpr[N] at 8*N; GCC prints a register as a bare number, -mregnames as %rN
    ["-4@3", "-4 reg r3/8@24"],
    ["8@0", "8 reg r0/8@0"],
    ["8@31", "8 reg r31/8@248"],
    ["-8@%r3", "-8 reg r3/8@24"],
    ["-8@r4", "-8 reg r4/8@32"],
    ["-8@%R5", "-8 reg r5/8@40"],
    // %I marks constants with an `i`
    ["-4@i5", "-4 const 5"],
    ["-4@i-1", "-4 const -1"],
    ["8@i-2", "8 const 18446744073709551614"],
    ["-4@i2147483647", "-4 const 2147483647"],
    ["-8@i0", "-8 const 0"],
    // a bare number that cannot be a register is an old-style constant
    ["-4@-1", "-4 const -1"],
    ["4@100", "4 const 100"],
    ["4@32", "4 const 32"],
    // memory
    ["-4@0(9)", "-4 mem r9/8@72 0"],
    ["-8@-8(31)", "-8 mem r31/8@248 -8"],
    ["-8@16(%r1)", "-8 mem r1/8@8 16"],
    ["-8@0(%r10)", "-8 mem r10/8@80 0"],
    // indexed: (RA|0) + RB, no scaling
    ["-4@3,4", "-4 mem r3/8@24 + r4/8@32*1 0"],
    ["-8@5,9", "-8 mem r5/8@40 + r9/8@72*1 0"],
    ["-4@%r10,%r5", "-4 mem r10/8@80 + r5/8@40*1 0"],
    ["-4@0,9", "-4 mem r9/8@72 0"],
    ["-4@9,0", "-4 mem r9/8@72 + r0/8@0*1 0"],
  ])("%s", (spec, expected) => {
    expect(one(spec)).toBe(expected);
  });

  it.each([
    ["-8@0(0)", /absolute address/],
    ["-8@8(%r0)", /absolute address/],
    ["-8@.LC0@toc@l(9)", /relocation operator/],
    ["-8@sym(9)", /offset .* is not an integer/],
    ["8@%f1", /not a general-purpose register/],
    ["8@%v2", /not a general-purpose register/],
    ["8@%vs34", /not a general-purpose register/],
    ["8@0(32)", /not a ppc64 operand/],
    ["8@3,4,5", /not a ppc64 operand/],
    ["8@ix", /not a ppc64 operand/],
    ["8@gcounter", /not a ppc64 operand/],
  ])("%s is unsupported", (spec, reason) => {
    const [arg] = parseUsdtArgs("ppc64", spec);
    expect(arg?.kind).toBe("unsupported");
    expect(arg?.kind === "unsupported" ? arg.reason : "").toMatch(reason);
  });

  describe("real notes", () => {
    it("powerpc64le-linux-gnu-gcc 12 -O2", () => {
      expect(renderAll(parseUsdtArgs("ppc64", "-4@3 -8@4 1@5 -2@6 8@7 8@8"))).toEqual([
        "-4 reg r3/8@24",
        "-8 reg r4/8@32",
        "1 reg r5/8@40",
        "-2 reg r6/8@48",
        "8 reg r7/8@56",
        "8 reg r8/8@64",
      ]);
      expect(renderAll(parseUsdtArgs("ppc64", "-4@3,4 -4@0(5) -8@0(9) 1@0(10) -4@0(8)"))).toEqual([
        "-4 mem r3/8@24 + r4/8@32*1 0",
        "-4 mem r5/8@40 0",
        "-8 mem r9/8@72 0",
        "1 mem r10/8@80 0",
        "-4 mem r8/8@64 0",
      ]);
      expect(renderAll(parseUsdtArgs("ppc64", "-4@i5 -4@i-1 8@i-2 -1@i-3 -4@i2147483647 -4@i0"))).toEqual([
        "-4 const 5",
        "-4 const -1",
        "8 const 18446744073709551614",
        "-1 const -3",
        "-4 const 2147483647",
        "-4 const 0",
      ]);
      expect(renderAll(parseUsdtArgs("ppc64", "8f@9 4f@10"))).toEqual(["8f reg r9/8@72", "4f reg r10/8@80"]);
    });

    it("powerpc64le-linux-gnu-gcc 12 -mbig-endian -mabi=elfv1 -O0", () => {
      expect(renderAll(parseUsdtArgs("ppc64", "-8@0(10) 8@0(7) 8@8 -4@9"))).toEqual([
        "-8 mem r10/8@80 0",
        "8 mem r7/8@56 0",
        "8 reg r8/8@64",
        "-4 reg r9/8@72",
      ]);
    });

    it("powerpc64le-linux-gnu-gcc 12 -mregnames -O2", () => {
      expect(renderAll(parseUsdtArgs("ppc64", "-8@%r3 8@%r4 8@%r9 -4@%r10,%r5"))).toEqual([
        "-8 reg r3/8@24",
        "8 reg r4/8@32",
        "8 reg r9/8@72",
        "-4 mem r10/8@80 + r5/8@40*1 0",
      ]);
    });

    it("clang 14 --target=powerpc64-linux-gnu -O2", () => {
      expect(renderAll(parseUsdtArgs("ppc64", "-8@0(29) -8@0(11) -8@0(30) -8@i0 -16@0(5)"))).toEqual([
        "-8 mem r29/8@232 0",
        "-8 mem r11/8@88 0",
        "-8 mem r30/8@240 0",
        "-8 const 0",
        "-0 unsupported",
      ]);
    });
  });
});
