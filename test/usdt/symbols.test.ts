/**
 * PITFALLS 13: a `sym(%rip)` argument needs its symbol. When a file (and its
 * debug files) defines it, the argument gets the symbol's address plus
 * nothing else (the addend and load bias are applied later); when none
 * does, the argument becomes `unsupported` at its own index with a reason,
 * never an address that would read garbage.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ElfFile } from "../../src/elf/elf-file.js";
import { BufferSource } from "../../src/io/byte-source.js";
import { parseUsdtArgs } from "../../src/usdt/args/index.js";
import { resolveArgSymbols } from "../../src/usdt/symbols.js";

const FILE = "fixtures/elf/bin/usdt_ops_gcc_O2";
const elf = ElfFile.open(new BufferSource(readFileSync(FILE)), FILE);

describe("resolveArgSymbols (PITFALLS 13)", () => {
  it("fills the address of a variable the file defines (gcounter in .symtab)", () => {
    const [arg] = resolveArgSymbols(elf, parseUsdtArgs("x86_64", "-8@gcounter(%rip)"), []);
    expect(arg).toMatchObject({ kind: "symbol", symbol: "gcounter", index: 0 });
    expect(arg?.kind === "symbol" && typeof arg.address).toBe("bigint");
  });

  it("turns a variable no file defines into unsupported at its index, and keeps the next argument", () => {
    const args = resolveArgSymbols(elf, parseUsdtArgs("x86_64", "-8@probec_no_such_var(%rip) 8@%rdi"), []);
    expect(args[0]).toMatchObject({ kind: "unsupported", index: 0, symbol: "probec_no_such_var" });
    expect(args[0]!.kind === "unsupported" && args[0]!.reason).toBe(
      `argument refers to symbol "probec_no_such_var", which neither ${FILE} nor its debug file defines; install the debug symbols to read it`,
    );
    expect(args[1]).toMatchObject({ kind: "register", index: 1 });
  });
});
