/**
 * SymbolIndex rules on hand-made entries: sized symbols cover
 * [start, start+size) and nothing after, zero-size symbols name only their
 * first byte, aliases resolve to one name whatever the order, nested
 * symbols find the innermost cover, and the entry cap holds.
 */
import { describe, expect, test } from "vitest";
import { LimitError } from "../../src/errors.js";
import { MAX_INDEX_ENTRIES, SymbolIndexBuilder } from "../../src/symbolize/symbol-index.js";

function indexOf(entries: [name: string, start: number, size: number, rank?: number][]) {
  const builder = new SymbolIndexBuilder();
  const id = builder.addSource({ nameOf: (ref) => entries[ref]?.[0] as string });
  entries.forEach(([, start, size, rank], i) => builder.add(BigInt(start), BigInt(size), rank ?? 0, id, i, "test"));
  return builder.build();
}

describe("SymbolIndex", () => {
  const index = indexOf([
    ["f", 0x1000, 0x20],
    ["g", 0x1030, 0x10],
    ["zero", 0x1050, 0],
    ["outer", 0x2000, 0x100],
    ["inner", 0x2010, 0x10],
  ]);

  test("an address inside a sized symbol is that symbol, with its start", () => {
    expect(index.lookup(0x1000n)).toEqual({ name: "f", start: 0x1000n, size: 0x20n });
    expect(index.lookup(0x101fn)?.name).toBe("f");
    expect(index.lookup(0x103fn)?.name).toBe("g");
  });

  test("an address past a symbol's size is no symbol (padding, an unnamed function)", () => {
    expect(index.lookup(0x1020n)).toBeUndefined();
    expect(index.lookup(0x102fn)).toBeUndefined();
    expect(index.lookup(0x1040n)).toBeUndefined();
    expect(index.lookup(0xfffn)).toBeUndefined();
  });

  test("a zero-size symbol names its first byte only", () => {
    expect(index.lookup(0x1050n)?.name).toBe("zero");
    expect(index.lookup(0x1051n)).toBeUndefined();
  });

  test("nested symbols: the inner one inside it, the outer one around it", () => {
    expect(index.lookup(0x2015n)?.name).toBe("inner");
    expect(index.lookup(0x2020n)?.name).toBe("outer");
    expect(index.lookup(0x20ffn)?.name).toBe("outer");
    expect(index.lookup(0x2100n)).toBeUndefined();
  });

  test("aliases resolve by rank, then fewer leading underscores, then name, whatever the input order", () => {
    const a = indexOf([
      ["__libc_malloc", 0x10, 8, 0],
      ["malloc", 0x10, 8, 0],
      ["zmalloc_local", 0x10, 8, 4],
    ]);
    const b = indexOf([
      ["zmalloc_local", 0x10, 8, 4],
      ["malloc", 0x10, 8, 0],
      ["__libc_malloc", 0x10, 8, 0],
    ]);
    expect(a.lookup(0x12n)?.name).toBe("malloc");
    expect(b.lookup(0x12n)?.name).toBe("malloc");
    expect(a.size).toBe(1);
  });

  test("addresses beyond 2^53 and negative ones are never named", () => {
    expect(index.lookup(1n << 60n)).toBeUndefined();
    expect(index.lookup(-1n)).toBeUndefined();
  });

  test("more entries than the cap is a LimitError naming the object", () => {
    const builder = new SymbolIndexBuilder();
    const id = builder.addSource({ nameOf: () => "x" });
    expect(() => {
      for (let i = 0; i <= MAX_INDEX_ENTRIES; i++) builder.add(BigInt(i * 16), 16n, 0, id, i, "crafted.so");
    }).toThrow(LimitError);
    expect(() => builder.add(0n, 1n, 0, id, 0, "crafted.so")).toThrow(/crafted\.so: more than/);
  });
});
