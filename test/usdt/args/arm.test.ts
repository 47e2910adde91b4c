import { describe, expect, it } from "vitest";
import { parseUsdtArgs } from "../../../src/usdt/args/index.js";
import { renderAll, renderOne } from "./render.js";

const one = (spec: string): string => renderOne("arm", spec);

describe("arm operands", () => {
  it.each([
    // pt_regs uregs[N] at 4*N | arm64 compat regs[N] at 8*N, pc at 256
    ["-4@r0", "-4 reg r0/4@0|0"],
    ["-4@r3", "-4 reg r3/4@12|24"],
    ["-4@r12", "-4 reg r12/4@48|96"],
    ["-4@ip", "-4 reg r12/4@48|96"],
    ["-4@fp", "-4 reg r11/4@44|88"],
    ["-4@sl", "-4 reg r10/4@40|80"],
    ["-4@sb", "-4 reg r9/4@36|72"],
    ["4@sp", "4 reg r13/4@52|104"],
    ["4@lr", "4 reg r14/4@56|112"],
    ["4@pc", "4 reg r15/4@60|256"],
    ["4@a1", "4 reg r0/4@0|0"],
    ["4@a4", "4 reg r3/4@12|24"],
    ["4@v1", "4 reg r4/4@16|32"],
    ["4@v8", "4 reg r11/4@44|88"],
    ["1@R2", "1 reg r2/4@8|16"],
    ["-4@[r3]", "-4 mem r3/4@12|24 0"],
    ["-4@[sp]", "-4 mem r13/4@52|104 0"],
    ["-4@[r3, #12]", "-4 mem r3/4@12|24 12"],
    ["-4@[fp, #-8]", "-4 mem r11/4@44|88 -8"],
    ["-4@[r7, #8]", "-4 mem r7/4@28|56 8"],
    ["-8@[fp, #-20]", "-8 mem r11/4@44|88 -20"],
    ["-4@[r0, r1]", "-4 mem r0/4@0|0 + r1/4@4|8*1 0"],
    ["-4@[r2, r3]", "-4 mem r2/4@8|16 + r3/4@12|24*1 0"],
    ["-4@[r0, r1, lsl #2]", "-4 mem r0/4@0|0 + r1/4@4|8*4 0"],
    ["-4@[ip, lr, lsl #2]", "-4 mem r12/4@48|96 + r14/4@56|112*4 0"],
    ["-4@[r0, +r1]", "-4 mem r0/4@0|0 + r1/4@4|8*1 0"],
    ["-4@#5", "-4 const 5"],
    ["-4@#-1", "-4 const -1"],
    ["8@#-2", "8 const 18446744073709551614"],
    ["-4@#2147483647", "-4 const 2147483647"],
    ["-4@5", "-4 const 5"],
  ])("%s", (spec, expected) => {
    expect(one(spec)).toBe(expected);
  });

  it.each([
    ["4@#gl", /symbol's address/],
    ["4@#garr+12", /symbol's address/],
    ["4@#.LANCHOR0+64", /symbol's address/],
    ["4@gl", /symbol's address/],
    ["4@garr+12", /symbol's address/],
    ["8@r4", /register pair/],
    ["8f@r2", /register pair/],
    ["-4@[r0, -r1]", /subtracts its index/],
    ["-4@[r0, r1, asr #2]", /not supported/],
    ["-4@[r0, r1, lsl #5]", /not supported/],
    ["-4@[pc, #8]", /PC-relative/],
    ["-4@[r0, #8]!", /pre\/post-index/],
    ["-4@[r0, #:lower16:x]", /relocation operator/],
    ["4@s0", /VFP\/NEON/],
    ["8@d1", /VFP\/NEON/],
    ["4@[d1]", /VFP\/NEON/],
    ["4@r16", /symbol's address/],
    ["4@%r1", /not an arm operand/],
  ])("%s is unsupported", (spec, reason) => {
    const [arg] = parseUsdtArgs("arm", spec);
    expect(arg?.kind).toBe("unsupported");
    expect(arg?.kind === "unsupported" ? arg.reason : "").toMatch(reason);
  });

  describe("real notes", () => {
    it("arm-linux-gnueabihf-gcc 12 -O0 (Thumb-2, r7 frame pointer)", () => {
      expect(renderAll(parseUsdtArgs("arm", "-4@[r7, #12] -4@[r7, #8] 1@[r7, #7] -2@[r7, #4] 4@[r7, #24] 4@[r7, #28]"))).toEqual([
        "-4 mem r7/4@28|56 12",
        "-4 mem r7/4@28|56 8",
        "1 mem r7/4@28|56 7",
        "-2 mem r7/4@28|56 4",
        "4 mem r7/4@28|56 24",
        "4 mem r7/4@28|56 28",
      ]);
      expect(renderAll(parseUsdtArgs("arm", "-4@#5 -4@#-1 8@#-2 -1@#-3 -4@#2147483647 -4@#0"))).toEqual([
        "-4 const 5",
        "-4 const -1",
        "8 const 18446744073709551614",
        "-1 const -3",
        "-4 const 2147483647",
        "-4 const 0",
      ]);
      expect(renderAll(parseUsdtArgs("arm", "4@#gl 4@#garr+12"))).toEqual(["4 unsupported", "4 unsupported"]);
    });

    it("arm-linux-gnueabihf-gcc 12 -marm -O0 (fp frame pointer)", () => {
      expect(renderAll(parseUsdtArgs("arm", "-8@[fp, #-20] 8@[fp, #-28] 8@r4 -4@r3"))).toEqual([
        "-8 mem r11/4@44|88 -20",
        "8 mem r11/4@44|88 -28",
        "8 unsupported",
        "-4 reg r3/4@12|24",
      ]);
    });

    it("arm-linux-gnueabihf-gcc 12 -O2 -fPIC", () => {
      expect(renderAll(parseUsdtArgs("arm", "-4@[r0, r1, lsl #2] -4@[r2] -4@[r2, #4] 1@[r2, #8] -4@[r0, #12]"))).toEqual([
        "-4 mem r0/4@0|0 + r1/4@4|8*4 0",
        "-4 mem r2/4@8|16 0",
        "-4 mem r2/4@8|16 4",
        "1 mem r2/4@8|16 8",
        "-4 mem r0/4@0|0 12",
      ]);
      expect(renderAll(parseUsdtArgs("arm", "1@r0 -1@r1 2@r2 -2@r3 1@ip"))).toEqual([
        "1 reg r0/4@0|0",
        "-1 reg r1/4@4|8",
        "2 reg r2/4@8|16",
        "-2 reg r3/4@12|24",
        "1 reg r12/4@48|96",
      ]);
      expect(renderAll(parseUsdtArgs("arm", "8f@r2 4f@r1"))).toEqual(["8f unsupported", "4f reg r1/4@4|8"]);
      expect(renderAll(parseUsdtArgs("arm", "-4@[r2, r3]"))).toEqual(["-4 mem r2/4@8|16 + r3/4@12|24*1 0"]);
    });

    it("arm-linux-gnueabihf-gcc 12 -marm -O2", () => {
      expect(renderAll(parseUsdtArgs("arm", "4@#.LANCHOR0+64 4@#.LANCHOR0+12"))).toEqual(["4 unsupported", "4 unsupported"]);
    });

    it("clang 14 --target=armv7a-linux-gnueabihf", () => {
      expect(renderAll(parseUsdtArgs("arm", "-4@[r0] -4@[r1] 1@[r2] -2@[r3] 4@[r12] 4@[lr]"))).toEqual([
        "-4 mem r0/4@0|0 0",
        "-4 mem r1/4@4|8 0",
        "1 mem r2/4@8|16 0",
        "-2 mem r3/4@12|24 0",
        "4 mem r12/4@48|96 0",
        "4 mem r14/4@56|112 0",
      ]);
      expect(renderAll(parseUsdtArgs("arm", "4@gl 4@garr+12"))).toEqual(["4 unsupported", "4 unsupported"]);
    });
  });
});
