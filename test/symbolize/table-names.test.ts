/**
 * tableNames (the symbol index's names of an ELF symbol table) gives the
 * same string as StringTable.get with the version cut, and fails the same
 * way, read one by one and from the whole table: on hand-made tables (a version suffix, an `@` first, UTF-8, an
 * index past the end, an unterminated last string; all ASCII, whose names
 * are cut from one string, and not) and on every function
 * name of the node running this test and of a versioned fixture library.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { STT_FUNC } from "../../src/elf/constants.js";
import { ElfFile } from "../../src/elf/elf-file.js";
import { StringTable } from "../../src/elf/string-table.js";
import { FormatError } from "../../src/errors.js";
import { BufferSource } from "../../src/io/byte-source.js";
import { FileSource } from "../../src/io/file-source.js";
import { READ_ONE_BY_ONE, tableNames } from "../../src/symbolize/table-names.js";

const BIN = new URL("../../fixtures/elf/bin/", import.meta.url).pathname;

/** A string table holding `parts` back to back (each with its own NUL unless it says otherwise); returns each part's offset. */
function table(parts: (string | Uint8Array)[]): { strings: StringTable; at: number[] } {
  const chunks = parts.map((p) => (typeof p === "string" ? new TextEncoder().encode(`${p}\0`) : p));
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  const at: number[] = [];
  let o = 0;
  for (const c of chunks) {
    at.push(o);
    bytes.set(c, o);
    o += c.length;
  }
  return { strings: new StringTable(new BufferSource(bytes), 0, bytes.length, ".strtab"), at };
}

describe("tableNames", () => {
  // Read one by one (the first names asked, by default), and from the whole table (oneByOne 0).
  test.each([READ_ONE_BY_ONE, 0])("hand-made names: plain, versioned, an @ first, UTF-8, and an offset inside a name (one by one first: %i)", (oneByOne) => {
    const { strings, at } = table(["", "malloc", "memcpy@@GLIBC_2.14", "@first@second", "café_ünïcode@V1", "_ZN4demo5Shape4areaEv"]);
    const names = tableNames({ strings }, oneByOne);
    expect(names.nameOf(at[1] as number)).toBe("malloc");
    expect(names.nameOf(at[2] as number)).toBe("memcpy");
    expect(names.nameOf(at[3] as number)).toBe("@first@second");
    expect(names.nameOf(at[4] as number)).toBe("café_ünïcode");
    expect(names.nameOf(at[5] as number)).toBe("_ZN4demo5Shape4areaEv");
    // A suffix shared with a longer name (linkers merge tails): "loc" inside "malloc".
    expect(names.nameOf((at[1] as number) + 3)).toBe("loc");
    expect(names.nameOf(0)).toBe("");
  });

  test.each([
    [0, "from the first name"],
    [2, "after two names read one by one"],
  ])("an all-ASCII table (names cut from one string %s): plain, versioned, an @ first, a shared tail, the empty name", (oneByOne) => {
    const { strings, at } = table(["", "malloc", "memcpy@@GLIBC_2.14", "@first@second", "_ZN4demo5Shape4areaEv@V1"]);
    const names = tableNames({ strings }, oneByOne);
    expect(names.nameOf(at[2] as number)).toBe("memcpy");
    expect(names.nameOf(at[1] as number)).toBe("malloc");
    expect(names.nameOf(at[3] as number)).toBe("@first@second");
    expect(names.nameOf(at[4] as number)).toBe("_ZN4demo5Shape4areaEv");
    expect(names.nameOf((at[1] as number) + 3)).toBe("loc");
    expect(names.nameOf((at[2] as number) + 6)).toBe("@@GLIBC_2.14");
    expect(names.nameOf(0)).toBe("");
  });

  test.each([READ_ONE_BY_ONE, 0])("an index past the table and an unterminated string fail as StringTable.get does (one by one first: %i)", (oneByOne) => {
    const { strings, at } = table(["ok", new TextEncoder().encode("no_nul_at_end")]);
    const names = tableNames({ strings }, oneByOne);
    expect(names.nameOf(at[0] as number)).toBe("ok");
    expect(() => names.nameOf(strings.size + 5)).toThrow(FormatError);
    expect(() => names.nameOf(at[1] as number)).toThrow(/unterminated/);
  });

  test.each([
    ["node's .symtab", process.execPath, "symtab", READ_ONE_BY_ONE],
    ["node's .symtab, from the whole table at once", process.execPath, "symtab", 0],
    ["node's .dynsym", process.execPath, "dynsym", READ_ONE_BY_ONE],
    ["libver.so's .symtab (versioned names)", join(BIN, "libver.so"), "symtab", READ_ONE_BY_ONE],
  ] as const)("%s: every function name as StringTable.get gives it, version cut", (_, path, kind, oneByOne) => {
    const elf = ElfFile.open(FileSource.open(path), path);
    try {
      const symbols = elf.symbolTable(kind);
      if (symbols === undefined) throw new Error(`${path} has no ${kind}`);
      const names = tableNames(symbols, oneByOne);
      const got: string[] = [];
      const want: string[] = [];
      for (const batch of symbols.batches((info) => (info & 0xf) === STT_FUNC)) {
        for (const raw of batch) {
          const full = symbols.strings.get(raw.st_name);
          const at = full.indexOf("@");
          want.push(at > 0 ? full.slice(0, at) : full);
          got.push(names.nameOf(raw.st_name));
        }
      }
      expect(got).toEqual(want);
      expect(want.length).toBeGreaterThan(path === process.execPath ? 1000 : 3);
      if (path !== process.execPath) expect(want).toContain("vfunc");
    } finally {
      elf.close();
    }
  });
});
