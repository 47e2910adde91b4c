import { describe, expect, it } from "vitest";
import { splitItems, splitSize } from "../../../src/usdt/args/split.js";

describe("splitItems", () => {
  it.each<[string, string[]]>([
    ["", []],
    ["   \t\n ", []],
    ["-4@%edi", ["-4@%edi"]],
    ["-4@%esi -4@-24(%rbp) -4@%ecx 2@%ax 8@%rdx", ["-4@%esi", "-4@-24(%rbp)", "-4@%ecx", "2@%ax", "8@%rdx"]],
    // blanks inside brackets belong to the operand
    ["-4@[sp, 96] 8@x1", ["-4@[sp, 96]", "8@x1"]],
    ["-4@[r3, #12] -4@[r0, r1, lsl #2] -4@#5", ["-4@[r3, #12]", "-4@[r0, r1, lsl #2]", "-4@#5"]],
    ["-4@[ sp ,  96 ]", ["-4@[ sp ,  96 ]"]],
    // and so do blanks around a comma outside brackets (clang's LoongArch `$sp, 16`)
    ["-8@$sp, 16 -4@$a1", ["-8@$sp, 16", "-4@$a1"]],
    ["-8@$sp ,16 -4@$a1", ["-8@$sp ,16", "-4@$a1"]],
    ["-4@$a1 -8@$sp, ", ["-4@$a1", "-8@$sp,"]],
    // any C isspace character separates, runs of them count once
    ["-4@%edi\t8@%rsi\n1@%al\r\v\f2@%cx", ["-4@%edi", "8@%rsi", "1@%al", "2@%cx"]],
    ["   -4@%edi    8@%rsi   ", ["-4@%edi", "8@%rsi"]],
    // a stray closing bracket is just a character
    ["-4@%edi) 8@%rsi", ["-4@%edi)", "8@%rsi"]],
    // an unclosed bracket does not swallow the rest
    ["-4@[sp, 96 8@x1 4@x2", ["-4@[sp, 96", "8@x1", "4@x2"]],
    ["-4@(%rax 8@%rdi", ["-4@(%rax", "8@%rdi"]],
  ])("%j", (text, expected) => {
    expect(splitItems(text, 100)).toEqual(expected);
  });

  it("stops at the limit", () => {
    expect(splitItems("1@%al 2@%ax 4@%eax 8@%rax", 2)).toEqual(["1@%al", "2@%ax"]);
    expect(splitItems("-4@[sp, 96 8@x1 4@x2 1@x3", 2)).toEqual(["-4@[sp, 96", "8@x1"]);
  });

  it("does not treat non-ASCII spaces as separators", () => {
    expect(splitItems("-4@%edi\u00a08@%rsi", 100)).toEqual(["-4@%edi\u00a08@%rsi"]);
  });
});

describe("splitSize", () => {
  it.each([
    ["-4@%edi", { ok: true, size: 4, signed: true, float: false, operand: "%edi" }],
    ["8@%rdi", { ok: true, size: 8, signed: false, float: false, operand: "%rdi" }],
    ["1@%al", { ok: true, size: 1, signed: false, float: false, operand: "%al" }],
    ["-2@%cx", { ok: true, size: 2, signed: true, float: false, operand: "%cx" }],
    ["8f@-8(%rbp)", { ok: true, size: 8, signed: false, float: true, operand: "-8(%rbp)" }],
    ["4f@%eax", { ok: true, size: 4, signed: false, float: true, operand: "%eax" }],
    ["-8f@x0", { ok: true, size: 8, signed: true, float: true, operand: "x0" }],
    // the first @ after the digits ends the prefix; later ones are the operand's
    ["-4@%gs:tlsvar@ntpoff", { ok: true, size: 4, signed: true, float: false, operand: "%gs:tlsvar@ntpoff" }],
    ["4@-8@x", { ok: true, size: 4, signed: false, float: false, operand: "-8@x" }],
    // no N@ prefix (old sys/sdt.h): pointer-sized, unsigned
    ["%rdi", { ok: true, size: 8, signed: false, float: false, operand: "%rdi" }],
    ["foo@GOTOFF(%ebx)", { ok: true, size: 8, signed: false, float: false, operand: "foo@GOTOFF(%ebx)" }],
    ["-8(%rbp)", { ok: true, size: 8, signed: false, float: false, operand: "-8(%rbp)" }],
  ])("%s", (item, expected) => {
    expect(splitSize(item, 8)).toEqual(expected);
  });

  it("uses the given pointer size for items without a prefix", () => {
    expect(splitSize("%eax", 4)).toMatchObject({ ok: true, size: 4, signed: false });
  });

  it.each([
    ["-16@%rax", 0, true, /size 16; only 1, 2, 4 and 8 bytes/],
    ["16@-16(%rbp)", 0, false, /size 16/],
    ["3@%eax", 0, false, /size 3/],
    ["0@%eax", 0, false, /size 0/],
    ["-0@%eax", 0, true, /size 0/],
    ["99999999999999999999@%eax", 0, false, /size 99999999999999999999/],
    ["2f@%ax", 0, false, /floating-point size 2; only 4 and 8 bytes/],
    ["16f@%xmm0", 0, false, /floating-point size 16/],
    ["4@", 4, false, /no operand after the @/],
    ["-8@", 8, true, /no operand/],
  ])("%s is refused", (item, size, signed, reason) => {
    const result = splitSize(item, 8);
    expect(result).toMatchObject({ ok: false, size, signed });
    expect(result.ok ? "" : result.reason).toMatch(reason);
  });
});
