import { describe, expect, it } from "vitest";
import { parseUsdtArgs } from "../../../src/usdt/args/index.js";
import { renderAll, renderOne } from "./render.js";

const one = (spec: string): string => renderOne("i386", spec);

describe("i386 operands", () => {
  it.each([
    // i386 struct pt_regs slot | x86_64 struct pt_regs slot (IA-32 emulation)
    ["-4@%eax", "-4 reg eax/4@24|80"],
    ["-4@%ebx", "-4 reg ebx/4@0|40"],
    ["-4@%ecx", "-4 reg ecx/4@4|88"],
    ["-4@%edx", "-4 reg edx/4@8|96"],
    ["-4@%esi", "-4 reg esi/4@12|104"],
    ["-4@%edi", "-4 reg edi/4@16|112"],
    ["4@%ebp", "4 reg ebp/4@20|32"],
    ["4@%esp", "4 reg esp/4@60|152"],
    ["2@%ax", "2 reg eax/2@24|80"],
    ["1@%al", "1 reg eax/1@24|80"],
    ["1@%ah", "1 reg eax/1>>8@24|80"],
    ["1@%bh", "1 reg ebx/1>>8@0|40"],
    ["1@%ch", "1 reg ecx/1>>8@4|88"],
    ["1@%dh", "1 reg edx/1>>8@8|96"],
    ["-2@%cx", "-2 reg ecx/2@4|88"],
    ["2@%si", "2 reg esi/2@12|104"],
    ["2@%di", "2 reg edi/2@16|112"],
    ["2@%bp", "2 reg ebp/2@20|32"],
    ["2@%sp", "2 reg esp/2@60|152"],
    // GCC prints i386 operands with %k (sys/sdt.h, gcc PR80115): a byte in a 32-bit name
    ["1@%eax", "1 reg eax/4@24|80"],
    ["-4@8(%ebp)", "-4 mem ebp/4@20|32 8"],
    ["-4@12(%esp)", "-4 mem esp/4@60|152 12"],
    ["-4@(%eax)", "-4 mem eax/4@24|80 0"],
    ["-4@(%edx,%ecx,4)", "-4 mem edx/4@8|96 + ecx/4@4|88*4 0"],
    ["1@(%edx,%eax)", "1 mem edx/4@8|96 + eax/4@24|80*1 0"],
    ["-8@12(%esp)", "-8 mem esp/4@60|152 12"],
    ["-4@$5", "-4 const 5"],
    ["8@$-2", "8 const 18446744073709551614"],
  ])("%s", (spec, expected) => {
    expect(one(spec)).toBe(expected);
  });

  it.each([
    ["-4@gcounter", "-4 sym gcounter absolute"],
    ["-4@garr+8", "-4 sym garr+8 absolute"],
    ["-4@garr(,%esi,4)", "-4 sym garr absolute + esi/4@12|104*4"],
  ])("%s is an absolute symbol reference (non-PIE)", (spec, expected) => {
    expect(renderAll(parseUsdtArgs("i386", spec))).toEqual([expected]);
  });

  it.each([
    // a long long lives in a register pair and the note names one half (sys/sdt.h, gdb PR24541)
    ["8@%eax", /register pair/],
    ["-8@%esi", /register pair/],
    ["8@%rax", /only in 64-bit mode/],
    ["1@%sil", /only in 64-bit mode/],
    ["4@%r8d", /only in 64-bit mode/],
    ["4@gcounter(%rip)", /only in 64-bit mode/],
    ["-4@foo@GOTOFF(%ebx)", /relocation operator/],
    ["-4@%gs:tlsvar@ntpoff", /segment-relative/],
    ["-4@(%ax)", /not a 32-bit register/],
    ["-4@(%eax,%esp,2)", /cannot be an index register/],
  ])("%s is unsupported", (spec, reason) => {
    const [arg] = parseUsdtArgs("i386", spec);
    expect(arg?.kind).toBe("unsupported");
    expect(arg?.kind === "unsupported" ? arg.reason : "").toMatch(reason);
  });

  describe("real notes", () => {
    it("i686-linux-gnu-gcc 12 -O2 -fno-pie", () => {
      // STAP_PROBE4(t, ll, a, b, a + b, garr[i]) with long long a, b
      expect(renderAll(parseUsdtArgs("i386", "-8@%esi 8@%eax 8@%ecx -4@garr(,%ebp,4)"))).toEqual([
        "-8 unsupported",
        "8 unsupported",
        "8 unsupported",
        "-4 sym garr absolute + ebp/4@20|32*4",
      ]);
      expect(renderAll(parseUsdtArgs("i386", "-4@%eax -4@8(%esp) 1@12(%esp) -2@16(%esp) 4@20(%esp) 4@24(%esp)"))).toEqual([
        "-4 reg eax/4@24|80",
        "-4 mem esp/4@60|152 8",
        "1 mem esp/4@60|152 12",
        "-2 mem esp/4@60|152 16",
        "4 mem esp/4@60|152 20",
        "4 mem esp/4@60|152 24",
      ]);
      expect(renderAll(parseUsdtArgs("i386", "-4@gcounter -4@garr+8 1@gbyte -4@$0"))).toEqual([
        "-4 sym gcounter absolute",
        "-4 sym garr+8 absolute",
        "1 sym gbyte absolute",
        "-4 const 0",
      ]);
    });

    it("i686-linux-gnu-gcc 12 -O2 -fPIC", () => {
      expect(renderAll(parseUsdtArgs("i386", "-4@(%edx,%ecx,4) -4@(%eax) -4@4(%eax) -1@8(%eax) -4@12(%edx)"))).toEqual([
        "-4 mem edx/4@8|96 + ecx/4@4|88*4 0",
        "-4 mem eax/4@24|80 0",
        "-4 mem eax/4@24|80 4",
        "-1 mem eax/4@24|80 8",
        "-4 mem edx/4@8|96 12",
      ]);
      expect(renderAll(parseUsdtArgs("i386", "8f@4(%esp) 4f@12(%esp)"))).toEqual(["8f mem esp/4@60|152 4", "4f mem esp/4@60|152 12"]);
    });

    it("i686-linux-gnu-gcc 12 -O0", () => {
      expect(renderAll(parseUsdtArgs("i386", "-4@8(%ebp) -4@12(%ebp) 1@-4(%ebp) -2@-8(%ebp) 4@24(%ebp) 4@28(%ebp)"))).toEqual([
        "-4 mem ebp/4@20|32 8",
        "-4 mem ebp/4@20|32 12",
        "1 mem ebp/4@20|32 -4",
        "-2 mem ebp/4@20|32 -8",
        "4 mem ebp/4@20|32 24",
        "4 mem ebp/4@20|32 28",
      ]);
      expect(renderAll(parseUsdtArgs("i386", "1@-1(%ebp) 1@-2(%ebp) 1@%eax"))).toEqual(["1 mem ebp/4@20|32 -1", "1 mem ebp/4@20|32 -2", "1 reg eax/4@24|80"]);
    });

    it("clang 14 --target=i686-linux-gnu -O2", () => {
      expect(renderAll(parseUsdtArgs("i386", "-4@16(%esp) -4@12(%esp) 1@1(%esp) -2@2(%esp) 4@8(%esp) 4@4(%esp)"))).toEqual([
        "-4 mem esp/4@60|152 16",
        "-4 mem esp/4@60|152 12",
        "1 mem esp/4@60|152 1",
        "-2 mem esp/4@60|152 2",
        "4 mem esp/4@60|152 8",
        "4 mem esp/4@60|152 4",
      ]);
      expect(renderAll(parseUsdtArgs("i386", "-4@(%esp)"))).toEqual(["-4 mem esp/4@60|152 0"]);
    });
  });
});
