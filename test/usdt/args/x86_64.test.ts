import { describe, expect, it } from "vitest";
import { parseUsdtArgs } from "../../../src/usdt/args/index.js";
import { render, renderAll, renderOne } from "./render.js";

const one = (spec: string): string => renderOne("x86_64", spec);

describe("x86_64 operands", () => {
  it.each([
    // constants, reduced to size and signedness (PITFALLS 12)
    ["-4@$5", "-4 const 5"],
    ["-4@$-1", "-4 const -1"],
    ["4@$-1", "4 const 4294967295"],
    ["8@$18446744073709551614", "8 const 18446744073709551614"],
    ["-8@$18446744073709551614", "-8 const -2"],
    ["8@$-2", "8 const 18446744073709551614"],
    ["-8@$-9223372036854775808", "-8 const -9223372036854775808"],
    ["8@$0xfffffffffffffffe", "8 const 18446744073709551614"],
    ["-4@$0x7fffffff", "-4 const 2147483647"],
    ["-1@$-3", "-1 const -3"],
    ["1@$255", "1 const 255"],
    ["-1@$255", "-1 const -1"],
    ["2@$65537", "2 const 1"],
    ["-4@$0", "-4 const 0"],
    ["4@$010", "4 const 8"], // GNU as: a leading 0 is octal
  ])("%s", (spec, expected) => {
    expect(one(spec)).toBe(expected);
  });

  it("keeps 0xfffffffffffffffe as a bigint, not a rounded number", () => {
    const [arg] = parseUsdtArgs("x86_64", "8@$18446744073709551614");
    expect(arg).toMatchObject({ kind: "constant", value: 0xfffffffffffffffen, size: 8, signed: false });
  });

  it.each([
    // the full-width registers and their slots in struct pt_regs
    ["8@%rax", "8 reg rax/8@80"],
    ["8@%rbx", "8 reg rbx/8@40"],
    ["8@%rcx", "8 reg rcx/8@88"],
    ["8@%rdx", "8 reg rdx/8@96"],
    ["8@%rsi", "8 reg rsi/8@104"],
    ["8@%rdi", "8 reg rdi/8@112"],
    ["8@%rbp", "8 reg rbp/8@32"],
    ["8@%rsp", "8 reg rsp/8@152"],
    ["8@%r8", "8 reg r8/8@72"],
    ["8@%r9", "8 reg r9/8@64"],
    ["8@%r10", "8 reg r10/8@56"],
    ["8@%r11", "8 reg r11/8@48"],
    ["8@%r12", "8 reg r12/8@24"],
    ["8@%r13", "8 reg r13/8@16"],
    ["8@%r14", "8 reg r14/8@8"],
    ["8@%r15", "8 reg r15/8@0"],
    ["8@%rip", "8 reg rip/8@128"],
    // every alias width
    ["-4@%eax", "-4 reg rax/4@80"],
    ["2@%ax", "2 reg rax/2@80"],
    ["1@%al", "1 reg rax/1@80"],
    ["1@%ah", "1 reg rax/1>>8@80"],
    ["1@%bh", "1 reg rbx/1>>8@40"],
    ["1@%ch", "1 reg rcx/1>>8@88"],
    ["1@%dh", "1 reg rdx/1>>8@96"],
    ["-2@%cx", "-2 reg rcx/2@88"],
    ["1@%cl", "1 reg rcx/1@88"],
    ["1@%dl", "1 reg rdx/1@96"],
    ["-1@%bl", "-1 reg rbx/1@40"],
    ["1@%sil", "1 reg rsi/1@104"],
    ["2@%si", "2 reg rsi/2@104"],
    ["-4@%esi", "-4 reg rsi/4@104"],
    ["1@%dil", "1 reg rdi/1@112"],
    ["2@%di", "2 reg rdi/2@112"],
    ["1@%bpl", "1 reg rbp/1@32"],
    ["2@%bp", "2 reg rbp/2@32"],
    ["4@%ebp", "4 reg rbp/4@32"],
    ["1@%spl", "1 reg rsp/1@152"],
    ["2@%sp", "2 reg rsp/2@152"],
    ["4@%esp", "4 reg rsp/4@152"],
    ["1@%r8b", "1 reg r8/1@72"],
    ["2@%r8w", "2 reg r8/2@72"],
    ["-4@%r8d", "-4 reg r8/4@72"],
    ["-4@%r15d", "-4 reg r15/4@0"],
    ["2@%r12w", "2 reg r12/2@24"],
    ["1@%r11b", "1 reg r11/1@48"],
    ["-8@%RDI", "-8 reg rdi/8@112"], // GNU as register names are case-insensitive
  ])("%s", (spec, expected) => {
    expect(one(spec)).toBe(expected);
  });

  it("keeps the register as written", () => {
    const [arg] = parseUsdtArgs("x86_64", "1@%sil");
    expect(arg).toEqual({
      kind: "register",
      register: { name: "rsi", written: "%sil", ptRegsOffset: 104, width: 1, shift: 0 },
      index: 0,
      spec: "1@%sil",
      size: 1,
      signed: false,
    });
  });

  it.each([
    ["-4@-20(%rbp)", "-4 mem rbp/8@32 -20"],
    ["8@(%rsp)", "8 mem rsp/8@152 0"],
    ["-4@(%rdx)", "-4 mem rdx/8@96 0"],
    ["-8@8(%rdx)", "-8 mem rdx/8@96 8"],
    ["-8@0x10(%r12)", "-8 mem r12/8@24 16"],
    ["-8@-0x28(%rbp)", "-8 mem rbp/8@32 -40"],
    ["-4@(%rdi,%rsi,4)", "-4 mem rdi/8@112 + rsi/8@104*4 0"],
    ["-8@(%rdx,%rsi,8)", "-8 mem rdx/8@96 + rsi/8@104*8 0"],
    ["1@(%rdi,%rsi)", "1 mem rdi/8@112 + rsi/8@104*1 0"],
    ["1@-96(%rbp,%rax,8)", "1 mem rbp/8@32 + rax/8@80*8 -96"],
    ["-4@4(%r8,%r9,2)", "-4 mem r8/8@72 + r9/8@64*2 4"],
    ["-4@-4(%rbp,%rax,4)", "-4 mem rbp/8@32 + rax/8@80*4 -4"],
  ])("%s", (spec, expected) => {
    expect(one(spec)).toBe(expected);
  });

  it.each([
    ["-8@gcounter(%rip)", "-8 sym gcounter rip/8@128"],
    ["-4@garr+8(%rip)", "-4 sym garr+8 rip/8@128"],
    ["-4@garr-8(%rip)", "-4 sym garr-8 rip/8@128"],
    ["1@gbyte(%rip)", "1 sym gbyte rip/8@128"],
    ["8@8+garr(%rip)", "8 sym garr+8 rip/8@128"],
    ["-4@counter.0(%rip)", "-4 sym counter.0 rip/8@128"],
    ["8@_ZN3foo3barE+16(%rip)", "8 sym _ZN3foo3barE+16 rip/8@128"],
  ])("%s", (spec, expected) => {
    expect(one(spec)).toBe(expected);
  });

  it.each([
    // non-PIE code addresses variables by their link-time address (gcc -fno-pie)
    ["-4@garr(,%rdx,4)", "-4 sym garr absolute + rdx/8@96*4"],
    ["-4@garr+4(,%rax,4)", "-4 sym garr+4 absolute + rax/8@80*4"],
    ["8@gcounter", "8 sym gcounter absolute"],
    ["8@garr+8", "8 sym garr+8 absolute"],
  ])("%s is an absolute symbol reference", (spec, expected) => {
    expect(one(spec)).toBe(expected);
  });

  it("leaves the symbol's address for the caller to fill in", () => {
    const [arg] = parseUsdtArgs("x86_64", "-4@garr+8(%rip)");
    expect(arg).toMatchObject({ kind: "symbol", symbol: "garr", addend: 8n });
    expect(arg).not.toHaveProperty("address");
  });

  it.each([
    ["-4@(,%rax,4)", /no base register and no symbol/],
    ["-4@%fs:tlsvar@tpoff", /segment-relative/],
    ["8@%fs:0x28", /segment-relative/],
    ["-4@%gs:(%rax)", /segment-relative/],
    ["8@x@GOTPCREL(%rip)", /relocation operator/],
    ["8@8(%rip)", /PC-relative without a symbol/],
    ["8@(%rip)", /PC-relative without a symbol/],
    ["-4@garr(%rax)", /adds a symbol to a register/],
    ["-4@(%eax)", /not a 64-bit register/],
    ["-4@(%rax,%esi,4)", /not a 64-bit register/],
    ["-4@(%rax,%rsp,4)", /cannot be an index register/],
    ["-4@(%rax,%rbx,3)", /scale .* must be 1, 2, 4 or 8/],
    ["-4@(%rax,%rbx,4,1)", /too many parts/],
    ["8@%xmm0", /vector register/],
    ["8@%ymm15", /vector register/],
    ["8@%st(0)", /x87/],
    ["8@%mm1", /MMX/],
    ["8@%k1", /mask register/],
    ["2@%fs", /segment register/],
    ["8@%cr3", /control or debug/],
    ["8@%eip", /not an x86_64 register/],
    ["8@%foo", /not an x86_64 register/],
    ["8@$gcounter", /symbol's address/],
    ["8@$", /not an integer/],
    ["8@$99999999999999999999", /does not fit in 64 bits/],
    ["8@$-9223372036854775809", /does not fit in 64 bits/],
    ["4@$08", /not an integer/],
    ["8@0x601040", /numeric absolute address/],
    ["8@!!", /not an x86_64 operand/],
    ["8@foo(%rax)bar", /not an x86_64 operand/],
    ["8@(%rax", /not an x86_64 operand/],
  ])("%s is unsupported", (spec, reason) => {
    const [arg] = parseUsdtArgs("x86_64", spec);
    expect(arg?.kind).toBe("unsupported");
    expect(arg?.kind === "unsupported" ? arg.reason : "").toMatch(reason);
  });

  it("names the operand in the reason", () => {
    const [arg] = parseUsdtArgs("x86_64", "-4@%fs:tlsvar@tpoff");
    expect(arg).toMatchObject({
      kind: "unsupported",
      reason: 'operand "%fs:tlsvar@tpoff" is segment-relative (thread-local storage); the segment base is not in pt_regs',
      index: 0,
      spec: "-4@%fs:tlsvar@tpoff",
      size: 4,
      signed: true,
    });
  });

  it("never drops or shifts an argument (PITFALLS 10)", () => {
    const args = parseUsdtArgs("x86_64", "-4@(,%rax,4) 8@%rdi");
    expect(args.map((a) => [a.index, a.kind])).toEqual([
      [0, "unsupported"],
      [1, "register"],
    ]);
    expect(render(args[1]!)).toBe("8 reg rdi/8@112");
  });

  it("keeps every later argument at its index around several bad ones", () => {
    const args = parseUsdtArgs("x86_64", "-4@%fs:x@tpoff 8@%rsi -16@%rax 4@%zz 2@%cx");
    expect(renderAll(args)).toEqual(["-4 unsupported", "8 reg rsi/8@104", "-0 unsupported", "4 unsupported", "2 reg rcx/2@88"]);
    expect(args.map((a) => a.index)).toEqual([0, 1, 2, 3, 4]);
  });

  describe("real notes", () => {
    it("x86_64-linux-gnu-gcc 12 -O2 -fno-pie", () => {
      // STAP_PROBE6(t, regs, int a, s64 b, u8 c, s16 d, u64 e, char *p)
      expect(renderAll(parseUsdtArgs("x86_64", "-4@%edi -8@%rsi 1@%dl -2@%cx 8@%r8 8@%r9"))).toEqual([
        "-4 reg rdi/4@112",
        "-8 reg rsi/8@104",
        "1 reg rdx/1@96",
        "-2 reg rcx/2@88",
        "8 reg r8/8@72",
        "8 reg r9/8@64",
      ]);
      expect(renderAll(parseUsdtArgs("x86_64", "-4@(%rdi,%rsi,4) -4@(%rdx) -8@8(%rdx) -1@16(%rdx) -4@12(%rdi)"))).toEqual([
        "-4 mem rdi/8@112 + rsi/8@104*4 0",
        "-4 mem rdx/8@96 0",
        "-8 mem rdx/8@96 8",
        "-1 mem rdx/8@96 16",
        "-4 mem rdi/8@112 12",
      ]);
      expect(renderAll(parseUsdtArgs("x86_64", "-4@$5 -4@$-1 8@$-2 -1@$-3 -4@$2147483647 -4@$0"))).toEqual([
        "-4 const 5",
        "-4 const -1",
        "8 const 18446744073709551614",
        "-1 const -3",
        "-4 const 2147483647",
        "-4 const 0",
      ]);
      expect(renderAll(parseUsdtArgs("x86_64", "-8@gcounter(%rip) -4@garr+8(%rip) 1@gbyte(%rip) -8@$0"))).toEqual([
        "-8 sym gcounter rip/8@128",
        "-4 sym garr+8 rip/8@128",
        "1 sym gbyte rip/8@128",
        "-8 const 0",
      ]);
      expect(renderAll(parseUsdtArgs("x86_64", "1@%dil -1@%sil 2@%dx -2@%cx 1@%al"))).toEqual([
        "1 reg rdi/1@112",
        "-1 reg rsi/1@104",
        "2 reg rdx/2@96",
        "-2 reg rcx/2@88",
        "1 reg rax/1@80",
      ]);
      expect(renderAll(parseUsdtArgs("x86_64", "8f@%rdx 4f@%eax"))).toEqual(["8f reg rdx/8@96", "4f reg rax/4@80"]);
      expect(renderAll(parseUsdtArgs("x86_64", "-4@%fs:tlsvar@tpoff"))).toEqual(["-4 unsupported"]);
    });

    it("x86_64-linux-gnu-gcc 12 -O1 -fno-pie (symbol + index)", () => {
      expect(renderAll(parseUsdtArgs("x86_64", "-8@%rdi 8@%rsi 8@%rax -4@garr(,%rdx,4)"))).toEqual([
        "-8 reg rdi/8@112",
        "8 reg rsi/8@104",
        "8 reg rax/8@80",
        "-4 sym garr absolute + rdx/8@96*4",
      ]);
      // __int128
      expect(renderAll(parseUsdtArgs("x86_64", "-16@%rax"))).toEqual(["-0 unsupported"]);
    });

    it("x86_64-linux-gnu-gcc 12 -O0", () => {
      expect(renderAll(parseUsdtArgs("x86_64", "-4@%edx -4@%ecx -8@%rsi -1@%al -4@%edi"))).toEqual([
        "-4 reg rdx/4@96",
        "-4 reg rcx/4@88",
        "-8 reg rsi/8@104",
        "-1 reg rax/1@80",
        "-4 reg rdi/4@112",
      ]);
      expect(
        renderAll(
          parseUsdtArgs(
            "x86_64",
            "-8@-8(%rbp) -8@-16(%rbp) -8@-24(%rbp) -8@-32(%rbp) -8@-40(%rbp) -8@-48(%rbp) -8@16(%rbp) -8@24(%rbp) -8@32(%rbp) -8@40(%rbp) -8@48(%rbp) -8@56(%rbp)",
          ),
        ),
      ).toEqual([-8, -16, -24, -32, -40, -48, 16, 24, 32, 40, 48, 56].map((d) => `-8 mem rbp/8@32 ${d}`));
    });

    it("clang 14 --target=x86_64-linux-gnu -O2", () => {
      expect(renderAll(parseUsdtArgs("x86_64", "-4@-28(%rsp) -8@-8(%rsp) 1@-31(%rsp) -2@-30(%rsp) 8@-16(%rsp) 8@-24(%rsp)"))).toEqual([
        "-4 mem rsp/8@152 -28",
        "-8 mem rsp/8@152 -8",
        "1 mem rsp/8@152 -31",
        "-2 mem rsp/8@152 -30",
        "8 mem rsp/8@152 -16",
        "8 mem rsp/8@152 -24",
      ]);
    });
  });
});
