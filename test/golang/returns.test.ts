/**
 * `findReturnInstructions` against `go tool objdump` (the Go toolchain's own
 * disassembler): for every function of the test program, built for amd64
 * and for arm64 (cross-compiled, never run) and stripped with `-s -w`, the
 * returns found are exactly the instructions objdump prints as RET in that
 * function's range, as file offsets. Refusals are tested on crafted bytes,
 * one per reason.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ElfFile } from "../../src/elf/elf-file.js";
import { findReturnInstructions, findReturnsInBytes, goFunctions, goFunctionsNamed } from "../../src/golang/index.js";
import { FileSource } from "../../src/io/file-source.js";
import { buildGoFixtures, go, type GoBinary } from "../support/go.js";

let binaries: GoBinary[] = [];
beforeAll(() => {
  binaries = buildGoFixtures();
});

function binary(goarch: "amd64" | "arm64", stripped: boolean): GoBinary {
  const found = binaries.find((b) => b.goarch === goarch && b.stripped === stripped);
  if (found === undefined) throw new Error(`no ${goarch} build`);
  return found;
}

/** Addresses of every instruction objdump prints as RET (objdump needs the symbols: the unstripped build). */
function objdumpReturns(path: string): bigint[] {
  const out: bigint[] = [];
  for (const line of go(["tool", "objdump", path]).split("\n")) {
    const m = /^\s+\S+\s+0x([0-9a-f]+)\s+[0-9a-f]+\s+(RET\b.*)$/.exec(line);
    if (m !== null) out.push(BigInt(`0x${m[1]}`));
  }
  return out;
}

describe("findReturnInstructions equals go tool objdump's RETs", () => {
  for (const goarch of ["amd64", "arm64"] as const) {
    it(`every function of the ${goarch} test program, stripped`, () => {
      const rets = objdumpReturns(binary(goarch, false).path);
      expect(rets.length).toBeGreaterThan(1000);
      const path = binary(goarch, true).path;
      const elf = ElfFile.open(FileSource.open(path), path);
      try {
        const refused: string[] = [];
        let checked = 0;
        for (const fn of goFunctions(elf)) {
          const found = findReturnInstructions(elf, { address: fn.entry, size: fn.size, fileOffset: fn.fileOffset! });
          const expected = rets.filter((a) => a >= fn.entry && a < fn.end);
          if ("refused" in found) {
            refused.push(`${fn.name}: ${found.refused}`);
            continue;
          }
          checked++;
          expect(found.addresses, fn.name).toEqual(expected);
          expect(found.offsets, fn.name).toEqual(expected.map((a) => elf.fileOffsetOf(a, "code")));
        }
        // Go code decodes with confidence; what is refused is runtime assembly that jumps elsewhere.
        expect(checked).toBeGreaterThan(goFunctions(elf).length * 0.9);
        for (const line of refused) expect(line).toMatch(/^(?!main\.)\S+: the (indirect jump|jump|branch) .* (leaves|may leave) the function/);
        for (const name of ["main.work", "main.(*Counter).Add", "main.main.func1", "main.classify", "main.main"]) {
          expect(
            refused.some((l) => l.startsWith(`${name}:`)),
            name,
          ).toBe(false);
        }
        // main.classify returns from three places.
        const classify = goFunctionsNamed(elf, "main.classify")[0]!;
        const sites = findReturnInstructions(elf, { address: classify.entry, size: classify.size, fileOffset: classify.fileOffset! });
        expect("offsets" in sites && sites.offsets.length).toBe(goarch === "arm64" ? 3 : 3);
      } finally {
        elf.close();
      }
    });
  }
});

const at = 0x401000n;
const x86 = (...bytes: number[]) => findReturnsInBytes("x86_64", new Uint8Array(bytes), at);
const arm64 = (...words: number[]) => {
  const bytes = new Uint8Array(words.length * 4);
  const view = new DataView(bytes.buffer);
  words.forEach((w, i) => view.setUint32(i * 4, w >>> 0, true));
  return findReturnsInBytes("aarch64", bytes, at);
};

describe("x86-64 refusals on crafted bytes", () => {
  it("finds ret and ret imm16 after a loop back to the start", () => {
    // 0: test eax,eax; 2: je +3 (to 7); 4: ret; 5: jmp -7 (to 0)... laid out: 85 c0 | 74 03 | c3 | eb f9 | c2 08 00
    expect(x86(0x85, 0xc0, 0x74, 0x03, 0xc3, 0xeb, 0xf9, 0xc2, 0x08, 0x00)).toEqual({ returns: [4, 7] });
  });
  it("refuses a jump out of the function (a tail call)", () => {
    expect(x86(0xe9, 0x00, 0x10, 0x00, 0x00, 0xc3)).toEqual({ refused: "the jump at 0x401000 leaves the function for 0x402005 (a tail call or shared code)" });
  });
  it("refuses a jump into the middle of an instruction", () => {
    // jmp +1 lands inside the 5-byte mov eax, imm32.
    expect(x86(0xeb, 0x01, 0xb8, 0xc3, 0x00, 0x00, 0x00, 0xc3)).toEqual({
      refused: "a jump lands at 0x401003, inside an instruction: the bytes are not plain code",
    });
  });
  it("refuses an invalid instruction", () => {
    expect(x86(0x06, 0xc3)).toEqual({ refused: "invalid instruction at 0x401000" });
  });
  it("refuses an instruction cut by the end of the function", () => {
    expect(x86(0xc3, 0xb8, 0x01)).toMatchObject({
      refused: expect.stringMatching(/^(the instruction at 0x401001 runs past the end of the function|invalid instruction at 0x401001)$/),
    });
  });
  it("refuses an indirect jump through a register, and accepts Go's jump table JMP (TABLE)(INDEX*8)", () => {
    expect(x86(0xff, 0xe0, 0xc3)).toEqual({
      refused: "the indirect jump at 0x401000 may leave the function (an indirect tail call); its target cannot be checked",
    });
    expect(x86(0xff, 0x24, 0xc1, 0xc3)).toEqual({ returns: [3] });
  });
});

describe("arm64 refusals on crafted words", () => {
  const RET = 0xd65f03c0;
  it("finds ret and ret x1, skipping literal-pool words", () => {
    // 0: ldr x0, =pool (imm19 = 3 words ahead); 1: ret; 2: ret x1; 3: pool word that looks like ret
    expect(arm64(0x58000060, RET, 0xd65f0020, RET)).toEqual({ returns: [4, 8] });
  });
  it("refuses a branch out of the function", () => {
    expect(arm64(0x14000400, RET)).toEqual({ refused: "the branch at 0x401000 leaves the function for 0x402000 (a tail call or shared code)" });
    expect(arm64(0xb4ffffe0, RET)).toMatchObject({ refused: expect.stringContaining("leaves the function") }); // cbz x0, -4
  });
  it("refuses br xN unless it follows Go's jump-table load", () => {
    expect(arm64(0xd61f0200, RET)).toEqual({
      refused: "the indirect jump (br x16) at 0x401000 may leave the function (an indirect tail call); its target cannot be checked",
    });
    // ldr x16, [x1, x0, lsl #3]; br x16
    expect(arm64(0xf8607830, 0xd61f0200, RET)).toEqual({ returns: [8] });
  });
  it("refuses a misaligned or partial body", () => {
    expect(findReturnsInBytes("aarch64", new Uint8Array(6), at)).toEqual({
      refused: "the function at 0x401000 is 6 bytes, not a whole number of instructions",
    });
    expect(findReturnsInBytes("aarch64", new Uint8Array(8), at + 2n)).toEqual({ refused: "the function at 0x401002 is not 4-byte aligned" });
  });
});
