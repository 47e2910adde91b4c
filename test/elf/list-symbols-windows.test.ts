/**
 * `iterateSymbols` reads names a string-table window at a time, out of
 * entry order, into reused buffers (issue 13). Here it is checked against
 * the plain per-entry path (`raw()` then `resolve()`, names read one by
 * one) with the same rules written out directly: every defined, named
 * entry of a wanted type, `.dynsym` first, and a non-local `.symtab` entry
 * left out when `.dynsym` defines the same base name at the same address
 * with the same size. The same symbols must come out, field for field, for
 * real binaries (node, libc, libstdc++, a Go program) and every fixture;
 * and a name that straddles a window's end, or runs past the bytes read
 * for it, must come out whole.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { openableFixtures } from "./openable-fixtures.js";
import { STB_LOCAL, STT_FILE, STT_SECTION, SHN_UNDEF, SYMBOL_TYPE_NAMES } from "../../src/elf/constants.js";
import { ElfFile } from "../../src/elf/elf-file.js";
import { iterateSymbols } from "../../src/elf/list-symbols.js";
import type { ElfSymbol } from "../../src/elf/symbols.js";
import { BufferSource } from "../../src/io/byte-source.js";
import { FileSource } from "../../src/io/file-source.js";
import { buildGoFixtures, type GoBinary } from "../support/go.js";

const ALL_TYPES = ["func", "ifunc", "object", "notype", "tls", "common"];

/** The listing as the per-entry path gives it, see the module comment. */
function eager(elf: ElfFile, types: readonly string[]): ElfSymbol[] {
  const typeWanted = new Set(
    Object.entries(SYMBOL_TYPE_NAMES)
      .filter(([type, name]) => types.includes(name) && Number(type) !== STT_SECTION && Number(type) !== STT_FILE)
      .map(([type]) => Number(type)),
  );
  const dynsym = elf.symbolTable("dynsym");
  const symtab = elf.symbolTable("symtab");
  const exported = new Set<string>();
  const out: ElfSymbol[] = [];
  for (const table of [dynsym, symtab]) {
    if (table === undefined) continue;
    table.retain(); // names still read one by one, in entry order, only from memory
    for (const raw of table.raw()) {
      if (raw.st_name === 0 || raw.st_shndx === SHN_UNDEF || !typeWanted.has(raw.st_info & 0xf)) continue;
      const symbol = table.resolve(raw);
      const key = `${table.strings.get(raw.st_name).replace(/@.*/, "")}|${raw.st_value}|${raw.st_size}`;
      if (table.kind === "dynsym") exported.add(key);
      else if (dynsym !== undefined && raw.st_info >> 4 !== STB_LOCAL && exported.has(key)) continue;
      out.push(symbol);
    }
    table.release();
  }
  return out;
}

const text = (s: ElfSymbol): string => JSON.stringify(s, (_, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v));

/** Both listings of `elf` as sorted JSON lines, `.dynsym`'s and `.symtab`'s apart (each table's own order may differ). */
function both(elf: ElfFile, types: readonly string[]): { windows: string[][]; perEntry: string[][] } {
  const split = (symbols: Iterable<ElfSymbol>): string[][] => {
    const byTable: [string[], string[]] = [[], []];
    for (const s of symbols) byTable[s.table === "dynsym" ? 0 : 1].push(text(s));
    return byTable.map((lines) => lines.sort());
  };
  return { windows: split(iterateSymbols(elf, { types })), perEntry: split(eager(elf, types)) };
}

function expectSame(path: string): number {
  const elf = ElfFile.open(FileSource.open(path), path);
  try {
    let count = 0;
    for (const types of [["func", "ifunc"], ALL_TYPES]) {
      const { windows, perEntry } = both(elf, types);
      expect(windows, `${path} ${types.join(",")}`).toEqual(perEntry);
      count += windows.flat().length;
    }
    return count;
  } finally {
    elf.close();
  }
}

let go: GoBinary[] = [];
beforeAll(() => {
  go = buildGoFixtures();
});

describe("iterateSymbols by name windows gives what reading entry by entry gives", () => {
  for (const path of [process.execPath, "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"]) {
    it(path, () => {
      expect(expectSame(path)).toBeGreaterThan(1000);
    });
  }

  it("a Go program, with and without its symbol table", () => {
    for (const binary of go.filter((b) => b.goarch === "amd64")) expectSame(binary.path);
  });

  it("every fixture that opens", () => {
    let opened = 0;
    for (const { path } of openableFixtures()) {
      expectSame(path);
      opened++;
    }
    expect(opened).toBeGreaterThan(30);
  });
});

describe("names at a window's edge", () => {
  /**
   * A copy of libc whose `.dynstr` is moved to the end of the file behind a
   * prefix of two names: one that starts 100 bytes before the first 64 KiB
   * window ends and runs 6000 bytes, past the 4 KiB read beyond the window
   * (so it is read on its own), and one that starts 3 bytes before the
   * second window ends (so it is read from the spill).
   */
  it("come out whole, read from the spill past a window or on their own", () => {
    const path = "/lib/x86_64-linux-gnu/libc.so.6";
    const bytes = new Uint8Array(readFileSync(path));
    const original = ElfFile.open(new BufferSource(bytes), path);
    const dynsym = original.symbolTable("dynsym")!;
    const strSection = original.sections[dynsym.section.sh_link]!;
    const oldTable = original.readSection(strSection);
    const longName = `probec_${"long".repeat(1500)}`;
    const edgeName = "probec_window_edge_function";
    const longAt = 65536 - 100;
    const edgeAt = 2 * 65536 - 3;
    const encoder = new TextEncoder();
    const prefixLength = edgeAt + edgeName.length + 1;
    const table = new Uint8Array(prefixLength + oldTable.length);
    table.set(encoder.encode(longName), longAt);
    table.set(encoder.encode(edgeName), edgeAt);
    table.set(oldTable, prefixLength);
    const file = new Uint8Array(bytes.length + table.length);
    file.set(bytes);
    file.set(table, bytes.length);
    const view = new DataView(file.buffer);
    const shdr = Number(original.header.e_shoff) + strSection.index * original.header.e_shentsize;
    view.setBigUint64(shdr + 24, BigInt(bytes.length), true); // sh_offset
    view.setBigUint64(shdr + 32, BigInt(table.length), true); // sh_size
    // Every .dynsym st_name moves by the prefix; two defined functions take the new names.
    const functions: number[] = [];
    for (let i = 1; i < dynsym.count; i++) {
      const at = dynsym.section.sh_offset + i * 24;
      const name = view.getUint32(at, true);
      if (name === 0) continue;
      view.setUint32(at, name + prefixLength, true);
      if ((file[at + 4]! & 0xf) === 2 && view.getUint16(at + 6, true) !== 0) functions.push(at);
    }
    view.setUint32(functions[0]!, longAt, true);
    view.setUint32(functions[1]!, edgeAt, true);
    const patched = ElfFile.open(new BufferSource(file), "patched");
    const names = new Set([...iterateSymbols(patched)].filter((s) => s.table === "dynsym").map((s) => s.name));
    expect(names.has(longName)).toBe(true);
    expect(names.has(edgeName)).toBe(true);
    const { windows, perEntry } = both(patched, ["func", "ifunc"]);
    expect(windows).toEqual(perEntry);
  });
});
