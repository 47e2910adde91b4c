import { describe, expect, it } from "vitest";
import { parseUsdtArgs } from "../../../src/usdt/args/index.js";
import { renderAll, renderOne } from "./render.js";

const one = (spec: string): string => renderOne("aarch64", spec);

describe("aarch64 operands", () => {
  it.each([
    // user_pt_regs: regs[N] at 8*N, sp at 248
    ["-8@x0", "-8 reg x0/8@0"],
    ["-8@x4", "-8 reg x4/8@32"],
    ["8@x30", "8 reg x30/8@240"],
    ["-4@w4", "-4 reg x4/4@32"],
    ["4@w30", "4 reg x30/4@240"],
    ["8@sp", "8 reg sp/8@248"],
    ["4@wsp", "4 reg sp/4@248"],
    ["8@fp", "8 reg x29/8@232"],
    ["8@lr", "8 reg x30/8@240"],
    ["8@ip0", "8 reg x16/8@128"],
    ["8@ip1", "8 reg x17/8@136"],
    ["8@X5", "8 reg x5/8@40"],
    ["8@xzr", "8 const 0"],
    ["4@wzr", "4 const 0"],
    // memory
    ["-4@[sp]", "-4 mem sp/8@248 0"],
    ["-4@[sp, 96]", "-4 mem sp/8@248 96"],
    ["-4@[x1]", "-4 mem x1/8@8 0"],
    ["-8@[x1, -8]", "-8 mem x1/8@8 -8"],
    ["-8@[x1, #16]", "-8 mem x1/8@8 16"],
    ["-8@[x1, #-16]", "-8 mem x1/8@8 -16"],
    ["-8@[x29,24]", "-8 mem x29/8@232 24"],
    ["1@[x0, x1]", "1 mem x0/8@0 + x1/8@8*1 0"],
    ["-4@[x2, x1, lsl 2]", "-4 mem x2/8@16 + x1/8@8*4 0"],
    ["-8@[x2, x1, lsl #3]", "-8 mem x2/8@16 + x1/8@8*8 0"],
    ["-8@[x2, x1, sxtx #3]", "-8 mem x2/8@16 + x1/8@8*8 0"],
    // constants
    ["-4@5", "-4 const 5"],
    ["-4@#5", "-4 const 5"],
    ["-4@-1", "-4 const -1"],
    ["-4@#-5", "-4 const -5"],
    ["8@-2", "8 const 18446744073709551614"],
    ["8@18446744073709551614", "8 const 18446744073709551614"],
    ["-4@2147483647", "-4 const 2147483647"],
    ["8@#0x10", "8 const 16"],
  ])("%s", (spec, expected) => {
    expect(one(spec)).toBe(expected);
  });

  it.each([
    ["-8@[x1, #:lo12:.LANCHOR0]", /relocation operator/],
    ["-4@[x0, w1, sxtw]", /32-bit index register/],
    ["-4@[x0, x1, lsl 4]", /not supported/],
    ["-4@[x0, x1, asr 2]", /not supported/],
    ["-4@[x0, sp]", /sp cannot be an index/],
    ["-4@[w0, 8]", /32-bit register/],
    ["-4@[x1, 8]!", /pre\/post-index/],
    ["-4@[x1, 8, 9]", /too many parts/],
    ["-4@[x1, 8, 9, 10]", /too many parts/],
    ["8@d0", /floating-point\/SIMD/],
    ["4@s1", /floating-point\/SIMD/],
    ["8@v2", /floating-point\/SIMD/],
    ["8@x31", /register 31 is written sp or xzr/],
    ["8@x32", /not an aarch64 operand/],
    ["8@%rax", /not an aarch64 operand/],
    ["8@[x99]", /not an aarch64 operand/],
    ["8@#", /not an aarch64 operand/],
    ["8@5x", /not an integer/],
  ])("%s is unsupported", (spec, reason) => {
    const [arg] = parseUsdtArgs("aarch64", spec);
    expect(arg?.kind).toBe("unsupported");
    expect(arg?.kind === "unsupported" ? arg.reason : "").toMatch(reason);
  });

  it("keeps a bracketed operand with a space in one argument", () => {
    const args = parseUsdtArgs("aarch64", "-4@[sp, 96] 8@x1");
    expect(args.map((a) => [a.index, a.spec])).toEqual([
      [0, "-4@[sp, 96]"],
      [1, "8@x1"],
    ]);
  });

  describe("real notes", () => {
    it("aarch64-linux-gnu-gcc 12 -O0", () => {
      // STAP_PROBE6(t, regs, int a, s64 b, u8 c, s16 d, u64 e, char *p)
      expect(renderAll(parseUsdtArgs("aarch64", "-4@[sp, 28] -8@[sp, 16] 1@[sp, 27] -2@[sp, 24] 8@[sp, 8] 8@[sp]"))).toEqual([
        "-4 mem sp/8@248 28",
        "-8 mem sp/8@248 16",
        "1 mem sp/8@248 27",
        "-2 mem sp/8@248 24",
        "8 mem sp/8@248 8",
        "8 mem sp/8@248 0",
      ]);
      expect(renderAll(parseUsdtArgs("aarch64", "-4@5 -4@-1 8@-2 -1@-3 -4@2147483647 -4@0"))).toEqual([
        "-4 const 5",
        "-4 const -1",
        "8 const 18446744073709551614",
        "-1 const -3",
        "-4 const 2147483647",
        "-4 const 0",
      ]);
      expect(renderAll(parseUsdtArgs("aarch64", "8f@[sp, 8] 4f@[sp, 4]"))).toEqual(["8f mem sp/8@248 8", "4f mem sp/8@248 4"]);
    });

    it("aarch64-linux-gnu-gcc 12 -O2 -fno-pie", () => {
      expect(renderAll(parseUsdtArgs("aarch64", "-4@x1 -4@[x2] -8@[x2, 8] 1@[x2, 16] -4@[x0, 12]"))).toEqual([
        "-4 reg x1/8@8",
        "-4 mem x2/8@16 0",
        "-8 mem x2/8@16 8",
        "1 mem x2/8@16 16",
        "-4 mem x0/8@0 12",
      ]);
      expect(renderAll(parseUsdtArgs("aarch64", "-8@[x1, #:lo12:.LANCHOR0] -4@[x0, 8] 1@[x0, 64] -8@0"))).toEqual([
        "-8 unsupported",
        "-4 mem x0/8@0 8",
        "1 mem x0/8@0 64",
        "-8 const 0",
      ]);
      expect(renderAll(parseUsdtArgs("aarch64", "-4@[x3] -8@x2 1@[x0, x1]"))).toEqual(["-4 mem x3/8@24 0", "-8 reg x2/8@16", "1 mem x0/8@0 + x1/8@8*1 0"]);
      expect(renderAll(parseUsdtArgs("aarch64", "8f@x0 4f@x1"))).toEqual(["8f reg x0/8@0", "4f reg x1/8@8"]);
    });

    it("aarch64-linux-gnu-gcc 12 -mbig-endian -O0 (__int128 argument)", () => {
      expect(renderAll(parseUsdtArgs("aarch64", "-16@[sp]"))).toEqual(["-0 unsupported"]);
    });

    it("clang 14 --target=aarch64-linux-gnu -O2", () => {
      expect(renderAll(parseUsdtArgs("aarch64", "-4@[x13] -8@[x12] 1@[x11] -2@[x10] 8@[x9] 8@[x8]"))).toEqual([
        "-4 mem x13/8@104 0",
        "-8 mem x12/8@96 0",
        "1 mem x11/8@88 0",
        "-2 mem x10/8@80 0",
        "8 mem x9/8@72 0",
        "8 mem x8/8@64 0",
      ]);
    });
  });
});
