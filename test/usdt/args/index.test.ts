import { describe, expect, it } from "vitest";
import {
  parseUsdtArgs,
  usdtArchForMachine,
  usdtOperandParser,
  usdtPointerSize,
  USDT_MAX_ARGS,
  USDT_MAX_ITEM_LENGTH,
  type UsdtArch,
} from "../../../src/usdt/args/index.js";
import { renderAll } from "./render.js";

const ARCHES: UsdtArch[] = ["x86_64", "i386", "aarch64", "arm", "s390x", "riscv64", "ppc64", "loongarch64"];

describe("usdtArchForMachine", () => {
  it.each<[number, 32 | 64, UsdtArch | undefined]>([
    [62, 64, "x86_64"], // EM_X86_64
    [62, 32, "x86_64"], // x32: 64-bit registers and pt_regs
    [3, 32, "i386"], // EM_386
    [3, 64, undefined],
    [183, 64, "aarch64"], // EM_AARCH64
    [183, 32, "aarch64"], // ILP32
    [40, 32, "arm"], // EM_ARM
    [40, 64, undefined],
    [22, 64, "s390x"], // EM_S390
    [22, 32, undefined], // 31-bit s390
    [243, 64, "riscv64"], // EM_RISCV
    [243, 32, undefined],
    [21, 64, "ppc64"], // EM_PPC64, either byte order
    [21, 32, undefined],
    [20, 32, undefined], // EM_PPC (32-bit)
    [258, 64, "loongarch64"], // EM_LOONGARCH
    [258, 32, undefined],
    [8, 32, undefined], // EM_MIPS
    [0, 64, undefined],
    [-1, 64, undefined],
  ])("e_machine %d class %d → %s", (machine, elfClass, arch) => {
    expect(usdtArchForMachine(machine, elfClass)).toBe(arch);
  });
});

describe("parseUsdtArgs", () => {
  it("has no arguments for an empty or blank string", () => {
    for (const arch of ARCHES) {
      expect(parseUsdtArgs(arch, "")).toEqual([]);
      expect(parseUsdtArgs(arch, " \t\n")).toEqual([]);
    }
  });

  it("numbers arguments from 0 and keeps each item as written", () => {
    const args = parseUsdtArgs("x86_64", "-4@%esi -4@-24(%rbp) -4@%ecx 2@%ax 8@%rdx");
    expect(args.map((a) => [a.index, a.spec])).toEqual([
      [0, "-4@%esi"],
      [1, "-4@-24(%rbp)"],
      [2, "-4@%ecx"],
      [3, "2@%ax"],
      [4, "8@%rdx"],
    ]);
  });

  it("marks floating-point arguments (sdt.h's `f` suffix) and only those", () => {
    const args = parseUsdtArgs("x86_64", "8f@%rdx 4f@%eax -4@%edi");
    expect(args.map((a) => a.float)).toEqual([true, true, undefined]);
    expect(renderAll(args)).toEqual(["8f reg rdx/8@96", "4f reg rax/4@80", "-4 reg rdi/4@112"]);
  });

  it("reads an item without a size prefix as pointer-sized and unsigned", () => {
    expect(renderAll(parseUsdtArgs("x86_64", "%rdi -8(%rbp)"))).toEqual(["8 reg rdi/8@112", "8 mem rbp/8@32 -8"]);
    expect(renderAll(parseUsdtArgs("i386", "%eax"))).toEqual(["4 reg eax/4@24|80"]);
    expect(renderAll(parseUsdtArgs("aarch64", "x1 [sp, 8]"))).toEqual(["8 reg x1/8@8", "8 mem sp/8@248 8"]);
    expect(usdtPointerSize("arm")).toBe(4);
    expect(usdtPointerSize("ppc64")).toBe(8);
  });

  it("turns a bad size into an unsupported entry at its index", () => {
    const args = parseUsdtArgs("x86_64", "8@%rdi -16@%rax 3@%eax 4@%esi");
    expect(args.map((a) => [a.index, a.kind, a.size])).toEqual([
      [0, "register", 8],
      [1, "unsupported", 0],
      [2, "unsupported", 0],
      [3, "register", 4],
    ]);
  });

  it("caps the number of arguments and says so in one final entry", () => {
    const text = Array.from({ length: 100 }, (_, i) => `8@${i}(%rsp)`).join(" ");
    const args = parseUsdtArgs("x86_64", text);
    expect(args).toHaveLength(USDT_MAX_ARGS + 1);
    expect(args.slice(0, USDT_MAX_ARGS).every((a, i) => a.kind === "memory" && a.index === i)).toBe(true);
    expect(args[USDT_MAX_ARGS]).toEqual({
      kind: "unsupported",
      reason: "note has more than 64 arguments; the rest were not decoded (limit 64)",
      index: 64,
      spec: "8@64(%rsp)",
      size: 0,
      signed: false,
    });
  });

  it("decodes exactly 64 arguments without a cap entry", () => {
    const text = Array.from({ length: USDT_MAX_ARGS }, () => "-4@%edi").join(" ");
    const args = parseUsdtArgs("x86_64", text);
    expect(args).toHaveLength(USDT_MAX_ARGS);
    expect(args.every((a) => a.kind === "register")).toBe(true);
  });

  it("refuses an over-long item at its own index and clips its spec", () => {
    const long = `8@${"a".repeat(1000)}(%rip)`;
    const args = parseUsdtArgs("x86_64", `-4@%edi ${long} 8@%rsi`);
    expect(args.map((a) => [a.index, a.kind])).toEqual([
      [0, "register"],
      [1, "unsupported"],
      [2, "register"],
    ]);
    const bad = args[1]!;
    expect(bad.kind === "unsupported" ? bad.reason : "").toBe(`argument 1 is ${long.length} characters long (limit 256)`);
    expect(bad.spec).toHaveLength(USDT_MAX_ITEM_LENGTH + 1);
    expect(bad.spec.endsWith("…")).toBe(true);
  });

  it("accepts an item of exactly the maximum length", () => {
    const symbol = "s".repeat(USDT_MAX_ITEM_LENGTH - "8@(%rip)".length);
    const [arg] = parseUsdtArgs("x86_64", `8@${symbol}(%rip)`);
    expect(arg?.kind).toBe("symbol");
  });

  it("survives a huge hostile string quickly", () => {
    const text = `${"(".repeat(200_000)} ${"8@%rdi ".repeat(50_000)}`;
    const started = Date.now();
    const args = parseUsdtArgs("x86_64", text);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(args).toHaveLength(USDT_MAX_ARGS + 1);
    expect(args[0]?.kind).toBe("unsupported");
    expect(args[1]?.kind).toBe("register");
  });

  it("never throws on junk, for any architecture, and numbers every entry", () => {
    const junk = [
      "@",
      "@@@",
      "-@",
      "--4@%eax",
      "4@@",
      "4@[",
      "4@]",
      "4@()",
      "4@(,)",
      "4@(,,)",
      "4@[,]",
      "4@[,,,]",
      "4@$",
      "4@#",
      "4@i",
      "4@%",
      "4@%r",
      "4@$r",
      "4@\u0000",
      "4@\u{1F600}",
      "4@0x",
      "4@-",
      "4@--1",
      "4@1e3",
      "4@(%rax,%rbx,)",
      "4@(%rax,,4)",
      "4@[x0, ]",
      "4@[, x0]",
      "4@0(",
      "4@)",
      ":",
      "NaN@x",
      "4f@",
      "constructor",
      "__proto__",
      "4@__proto__",
      "4@toString",
      "4@[toString]",
      "4@$hasOwnProperty",
    ];
    const text = junk.join(" ");
    for (const arch of ARCHES) {
      const args = parseUsdtArgs(arch, text);
      expect(args.map((a) => a.index)).toEqual(args.map((_, i) => i));
      for (const a of args) {
        expect(["register", "memory", "constant", "symbol", "unsupported"]).toContain(a.kind);
        if (a.kind === "unsupported") expect(a.reason.length).toBeGreaterThan(0);
      }
    }
  });

  it("never throws on random bytes", () => {
    let seed = 12345;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const alphabet = "0123456789-@%$#[](),: \tabcdefxrspil+f.";
    for (let round = 0; round < 300; round++) {
      let text = "";
      const length = next() % 80;
      for (let i = 0; i < length; i++) text += alphabet.charAt(next() % alphabet.length);
      for (const arch of ARCHES) {
        const args = parseUsdtArgs(arch, text);
        expect(args.map((a) => a.index)).toEqual(args.map((_, i) => i));
      }
    }
  });

  it("exposes the operand decoder of each architecture", () => {
    expect(usdtOperandParser("x86_64")("%rdi", 8, false)).toMatchObject({ kind: "register" });
    expect(usdtOperandParser("aarch64")("[sp, 96]", 4, true)).toMatchObject({ kind: "memory", displacement: 96n });
    expect(usdtOperandParser("ppc64")("i5", 4, true)).toEqual({ kind: "constant", value: 5n });
  });

  it("takes the architecture from the caller, not from the host (PITFALLS 14)", () => {
    // the same text means different things on different machines
    expect(renderAll(parseUsdtArgs("ppc64", "-4@3"))).toEqual(["-4 reg r3/8@24"]);
    expect(renderAll(parseUsdtArgs("aarch64", "-4@3"))).toEqual(["-4 const 3"]);
    expect(renderAll(parseUsdtArgs("s390x", "8@%r2"))).toEqual(["8 reg r2/8@40"]);
    expect(renderAll(parseUsdtArgs("x86_64", "8@%r2"))).toEqual(["8 unsupported"]);
  });
});
