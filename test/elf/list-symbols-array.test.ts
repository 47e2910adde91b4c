import { describe, expect, it } from "vitest";
import { openableFixtures } from "./openable-fixtures.js";
import { ElfFile } from "../../src/elf/elf-file.js";
import { locateIfInside, type FoundSymbol } from "../../src/elf/find-symbol.js";
import { iterateSymbols, listSymbolsIn, type ListSymbolsOptions } from "../../src/elf/list-symbols.js";
import { FileSource } from "../../src/io/file-source.js";

const OPTIONS: ListSymbolsOptions[] = [
  {},
  { types: ["func", "ifunc", "object", "notype", "tls", "common"] },
  { pattern: "*a*" },
  { pattern: "*@*", types: ["func", "ifunc", "object"] },
];

function composed(elf: ElfFile, options: ListSymbolsOptions): FoundSymbol[] {
  const out: FoundSymbol[] = [];
  for (const symbol of iterateSymbols(elf, options)) {
    const found = locateIfInside(elf, symbol, "code") ?? locateIfInside(elf, symbol, "data");
    if (found !== undefined) out.push(found);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

const text = (symbols: FoundSymbol[]): string[] => symbols.map((s) => JSON.stringify(s, (_, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v)));

function expectSame(path: string, options: readonly ListSymbolsOptions[] = OPTIONS): number {
  const elf = ElfFile.open(FileSource.open(path), path);
  try {
    let count = 0;
    for (const option of options) {
      const listed = listSymbolsIn(elf, option);
      expect(text(listed), `${path} ${JSON.stringify(option)}`).toEqual(text(composed(elf, option)));
      // Plain objects with the same keys in the same order: spread, JSON and toEqual see what they saw before.
      for (const s of listed.slice(0, 3))
        expect(Object.keys(s)).toEqual(["file", "name", "version", "isDefaultVersion", "address", "fileOffset", "size", "type", "binding"]);
      count += listed.length;
    }
    return count;
  } finally {
    elf.close();
  }
}

describe("listSymbolsIn is iterateSymbols located and sorted", () => {
  for (const path of [process.execPath, "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"]) {
    it(path, () => {
      // node's 85k functions take seconds per listing: the defaults and one pattern.
      expect(expectSame(path, path === process.execPath ? OPTIONS.slice(0, 3).filter((o) => o.types === undefined) : OPTIONS)).toBeGreaterThan(1000);
    });
  }

  it("every fixture that opens, of every architecture", () => {
    let opened = 0;
    let listed = 0;
    const machines = new Set<string>();
    for (const { path, machine } of openableFixtures()) {
      machines.add(machine);
      listed += expectSame(path);
      opened++;
    }
    expect(opened).toBeGreaterThan(30);
    expect(listed).toBeGreaterThan(100);
    expect([...machines]).toEqual(expect.arrayContaining(["x86_64", "aarch64", "arm", "ppc64"]));
  });
});
