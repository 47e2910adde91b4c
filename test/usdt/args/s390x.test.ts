import { describe, expect, it } from "vitest";
import { parseUsdtArgs } from "../../../src/usdt/args/index.js";
import { renderAll, renderOne } from "./render.js";

const one = (spec: string): string => renderOne("s390x", spec);

describe("s390x operands", () => {
  it.each([
    // user_pt_regs: args[1] (8) + psw (16), then gprs[N] at 24 + 8*N
    ["-8@%r0", "-8 reg r0/8@24"],
    ["-4@%r2", "-4 reg r2/8@40"],
    ["8@%r6", "8 reg r6/8@72"],
    ["8@%r15", "8 reg r15/8@144"],
    ["8@160(%r15)", "8 mem r15/8@144 160"],
    ["-4@0(%r4)", "-4 mem r4/8@56 0"],
    ["-2@-28(%r15)", "-2 mem r15/8@144 -28"],
    ["-4@180(%r11)", "-4 mem r11/8@112 180"],
    ["-4@(%r2)", "-4 mem r2/8@40 0"],
    // D(X,B): index first, base second
    ["-4@0(%r3,%r2)", "-4 mem r2/8@40 + r3/8@48*1 0"],
    ["-4@8(,%r2)", "-4 mem r2/8@40 8"],
    // register 0 in an address means "no register"
    ["-4@0(%r0,%r2)", "-4 mem r2/8@40 0"],
    ["-4@4(%r3,%r0)", "-4 mem r3/8@48 4"],
    ["-4@5", "-4 const 5"],
    ["-4@-1", "-4 const -1"],
    ["8@-2", "8 const 18446744073709551614"],
    ["-8@0", "-8 const 0"],
  ])("%s", (spec, expected) => {
    expect(one(spec)).toBe(expected);
  });

  it.each([
    ["8@%r16", /not an s390x register/],
    ["8@%f0", /not a general-purpose register/],
    ["4@%a0", /not a general-purpose register/],
    ["8@%v24", /not a general-purpose register/],
    ["8@0(%r0)", /absolute address/],
  ])("%s is unsupported", (spec, reason) => {
    const [arg] = parseUsdtArgs("s390x", spec);
    expect(arg?.kind).toBe("unsupported");
    expect(arg?.kind === "unsupported" ? arg.reason : "").toMatch(reason);
  });

  it.each([
    ["8@gcounter", /not an s390x operand/],
    ["8@x(%r2)", /not an s390x operand/],
    ["8@0(%r1,%r2,%r3)", /too many parts/],
    ["8@0(%f1)", /not a general-purpose register/],
  ])("%s is unsupported", (spec, reason) => {
    const [arg] = parseUsdtArgs("s390x", spec);
    expect(arg?.kind).toBe("unsupported");
    expect(arg?.kind === "unsupported" ? arg.reason : "").toMatch(reason);
  });

  describe("real notes", () => {
    it("s390x-linux-gnu-gcc 12 -O2 -fPIC", () => {
      expect(renderAll(parseUsdtArgs("s390x", "-4@%r2 -8@%r3 1@%r4 -2@%r5 8@%r6 8@160(%r15)"))).toEqual([
        "-4 reg r2/8@40",
        "-8 reg r3/8@48",
        "1 reg r4/8@56",
        "-2 reg r5/8@64",
        "8 reg r6/8@72",
        "8 mem r15/8@144 160",
      ]);
      expect(renderAll(parseUsdtArgs("s390x", "-4@0(%r3,%r2) -4@0(%r4) -8@8(%r4) 1@16(%r4) -4@12(%r2)"))).toEqual([
        "-4 mem r2/8@40 + r3/8@48*1 0",
        "-4 mem r4/8@56 0",
        "-8 mem r4/8@56 8",
        "1 mem r4/8@56 16",
        "-4 mem r2/8@40 12",
      ]);
      expect(renderAll(parseUsdtArgs("s390x", "-4@5 -4@-1 8@-2 -1@-3 -4@2147483647 -4@0"))).toEqual([
        "-4 const 5",
        "-4 const -1",
        "8 const 18446744073709551614",
        "-1 const -3",
        "-4 const 2147483647",
        "-4 const 0",
      ]);
      expect(renderAll(parseUsdtArgs("s390x", "8f@%r1 4f@164(%r15)"))).toEqual(["8f reg r1/8@32", "4f mem r15/8@144 164"]);
    });

    it("s390x-linux-gnu-gcc 12 -O0", () => {
      expect(renderAll(parseUsdtArgs("s390x", "-4@180(%r11) -8@168(%r11) 1@179(%r11) -2@176(%r11) 8@160(%r11) 8@344(%r11)"))).toEqual([
        "-4 mem r11/8@112 180",
        "-8 mem r11/8@112 168",
        "1 mem r11/8@112 179",
        "-2 mem r11/8@112 176",
        "8 mem r11/8@112 160",
        "8 mem r11/8@112 344",
      ]);
    });

    it("clang 14 --target=s390x-linux-gnu -O2", () => {
      expect(renderAll(parseUsdtArgs("s390x", "-8@248(%r15) -8@240(%r15) -16@160(%r15)"))).toEqual([
        "-8 mem r15/8@144 248",
        "-8 mem r15/8@144 240",
        "-0 unsupported",
      ]);
    });
  });
});
