/**
 * SymbolIndex rules on hand-made entries: sized symbols cover
 * [start, start+size) and nothing after, zero-size symbols name only their
 * first byte, aliases resolve to one name whatever the order, nested
 * symbols find the innermost cover, and the entry cap holds. Also: the
 * bucket table a lookup starts from (entries far apart, at bucket edges,
 * addresses below, between and above them), and names read only for
 * functions hit. symbol-index-real.test.ts checks real objects.
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

  test("first byte, last byte, one past the end and the gap between two functions", () => {
    expect(index.lookup(0x1000n)?.name).toBe("f");
    expect(index.lookup(0x101fn)?.name).toBe("f");
    expect(index.lookup(0x1020n)).toBeUndefined();
    expect(index.lookup(0x102an)).toBeUndefined();
    expect(index.lookup(0x1030n)?.name).toBe("g");
    expect(index.lookup(0x1040n)).toBeUndefined();
  });

  test("a zero-size symbol at a sized one's start names that first byte only; the sized one the rest", () => {
    const both = indexOf([
      ["sized", 0x3000, 0x10],
      ["label", 0x3000, 0],
    ]);
    expect(both.lookup(0x3000n)).toEqual({ name: "label", start: 0x3000n, size: 0n });
    expect(both.lookup(0x3001n)).toEqual({ name: "sized", start: 0x3000n, size: 0x10n });
    expect(both.lookup(0x3010n)).toBeUndefined();
    expect(both.size).toBe(2);
  });

  test("two sizes at one start: the smaller inside it, the larger past it", () => {
    const two = indexOf([
      ["big", 0x5000, 0x100],
      ["small", 0x5000, 0x10],
    ]);
    expect(two.lookup(0x500fn)?.name).toBe("small");
    expect(two.lookup(0x5010n)?.name).toBe("big");
    expect(two.lookup(0x50ffn)?.name).toBe("big");
    expect(two.lookup(0x5100n)).toBeUndefined();
  });

  test("functions far apart (a sparse bucket table): each found at its edges, nothing between, below or above", () => {
    const far = indexOf([
      ["low", 0x1000, 0x10],
      ["mid", 0x40_0000_0000, 0x20],
      ["high", 0x7fff_0000_0000, 0x8],
      ...Array.from({ length: 50 }, (_, i): [string, number, number] => [`dense${i}`, 0x2000 + i * 0x10, 0x10]),
    ]);
    expect(far.lookup(0xfffn)).toBeUndefined();
    expect(far.lookup(0x100fn)?.name).toBe("low");
    expect(far.lookup(0x1010n)).toBeUndefined();
    expect(far.lookup(0x2000n)?.name).toBe("dense0");
    expect(far.lookup(0x231fn)?.name).toBe("dense49");
    expect(far.lookup(0x2320n)).toBeUndefined();
    expect(far.lookup(0x3f_ffff_ffffn)).toBeUndefined();
    expect(far.lookup(0x40_0000_0000n)?.name).toBe("mid");
    expect(far.lookup(0x40_0000_001fn)?.name).toBe("mid");
    expect(far.lookup(0x40_0000_0020n)).toBeUndefined();
    expect(far.lookup(0x7fff_0000_0007n)).toEqual({ name: "high", start: 0x7fff_0000_0000n, size: 8n });
    expect(far.lookup(0x7fff_0000_0008n)).toBeUndefined();
    expect(far.lookup(0x1f_ffff_ffff_ffffn)).toBeUndefined();
  });

  test("every byte of a dense run of functions, against a linear scan", () => {
    // Sizes 1..7 with gaps of 0..3 bytes: bucket edges fall inside functions, on their starts and in gaps.
    const entries: [string, number, number][] = [];
    for (let at = 0x100, i = 0; i < 200; i++) {
      const size = (i * 5) % 7;
      entries.push([`fn${i}`, at, size]);
      at += Math.max(size, 1) + (i % 4);
    }
    const dense = indexOf(entries);
    const last = entries.at(-1) as [string, number, number];
    for (let address = 0xf0; address < last[1] + 16; address++) {
      const want = entries.find(([, start, size]) => (address >= start && address < start + size) || (size === 0 && address === start));
      expect(dense.lookup(BigInt(address))?.name, `0x${address.toString(16)}`).toBe(want?.[0]);
    }
  });

  test("aliases of equal rank from two sources: the name rule decides, as within one source", () => {
    const builder = new SymbolIndexBuilder();
    const a = builder.addSource({ nameOf: () => "__open64" });
    const b = builder.addSource({ nameOf: () => "open" });
    builder.add(0x40n, 0x10n, 0, a, 0, "test");
    builder.add(0x40n, 0x10n, 0, b, 0, "test");
    const index = builder.build();
    expect(index.size).toBe(1);
    expect(index.lookup(0x48n)?.name).toBe("open");
  });

  test("names are read only for functions hit, and once each", () => {
    const { builder, id, asked } = countingBuilder(["alpha", "beta", "_gamma", "gamma"]);
    builder.add(0x100n, 0x10n, 0, id, 0, "test");
    builder.add(0x200n, 0x10n, 0, id, 1, "test");
    builder.add(0x300n, 0x10n, 0, id, 2, "test");
    builder.add(0x300n, 0x10n, 0, id, 3, "test");
    const index = builder.build();
    expect(asked).toEqual([]);
    expect(index.lookup(0x305n)?.name).toBe("gamma");
    expect(index.lookup(0x30fn)?.name).toBe("gamma");
    expect(asked.sort()).toEqual([2, 3]);
    expect(index.lookup(0x100n)?.name).toBe("alpha");
    expect(asked).toHaveLength(3);
    // One object per function: a caller may key derived data on it.
    expect(index.lookup(0x101n)).toBe(index.lookup(0x10fn));
  });

  test("readNameAt: the name nameAt gives (the alias rule included), read each time and not kept", () => {
    const { builder, id, asked } = countingBuilder(["__libc_calloc", "calloc", "solo"]);
    builder.add(0x100n, 0x10n, 0, id, 0, "test");
    builder.add(0x100n, 0x10n, 0, id, 1, "test");
    builder.add(0x200n, 0x10n, 0, id, 2, "test");
    const index = builder.build();
    const tied = index.entryAt(0x104n);
    const solo = index.entryAt(0x204n);
    expect(index.readNameAt(tied)).toBe("calloc");
    expect(index.readNameAt(solo)).toBe("solo");
    expect(index.readNameAt(solo)).toBe("solo");
    expect(asked).toEqual([0, 1, 2, 2]);
    expect(index.nameAt(tied)).toBe(index.readNameAt(tied));
    expect(() => index.readNameAt(index.size)).toThrow(/no entry/);
  });

  test("entryAt and hitAt: the position lookup uses, and the hit there", () => {
    const at = index.entryAt(0x2015n);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(index.hitAt(at)).toBe(index.lookup(0x2015n));
    expect(index.entryAt(0x1020n)).toBe(-1);
    expect(() => index.hitAt(index.size)).toThrow(/no entry/);
  });

  test("entryAtNumber finds what entryAt finds, and nothing for a negative, fractional or unsafe address", () => {
    for (let address = 0xff0; address < 0x2110; address++) expect(index.entryAtNumber(address)).toBe(index.entryAt(BigInt(address)));
    expect(index.entryAtNumber(-1)).toBe(-1);
    expect(index.entryAtNumber(0x1000 + 0.5)).toBe(-1);
    expect(index.entryAtNumber(2 ** 53)).toBe(-1);
    expect(index.entryAtNumber(Number.NaN)).toBe(-1);
  });

  test("starts spread over more than 2 GiB (the comparator sort) give what the packed sort gives for the same layout", () => {
    const layout: [string, number, number, number][] = [
      ["late", 0x30, 0x10, 0],
      ["alias_b", 0x10, 0x8, 0],
      ["outer", 0x0, 0x40, 0],
      ["alias_a", 0x10, 0x8, 0],
      ["weak", 0x10, 0x8, 2],
      ["wide", 0x10, 0x20, 1],
    ];
    const near = indexOf(layout.map(([name, start, size, rank]) => [name, 0x1000 + start, size, rank]));
    const far = indexOf([
      ...layout.map(([name, start, size, rank]): [string, number, number, number] => [name, 0x1000 + start, size, rank]),
      ["high", 2 ** 40, 0x10, 0],
    ]);
    for (let offset = 0; offset < 0x50; offset++) {
      const address = BigInt(0x1000 + offset);
      expect(far.lookup(address), `0x${address.toString(16)}`).toEqual(near.lookup(address));
    }
    expect(near.lookup(0x1014n)?.name).toBe("alias_a");
    expect(near.lookup(0x101cn)?.name).toBe("wide");
    expect(far.lookup(2n ** 40n + 4n)?.name).toBe("high");
    expect(far.size).toBe(near.size + 1);
  });

  test("an empty index names nothing", () => {
    const empty = new SymbolIndexBuilder().build();
    expect(empty.size).toBe(0);
    expect(empty.lookup(0n)).toBeUndefined();
    expect(empty.lookup(0x1000n)).toBeUndefined();
  });
});

/** A builder with one name source over `names` that records every ref it is asked for. */
function countingBuilder(names: string[]): { builder: SymbolIndexBuilder; id: number; asked: number[] } {
  const asked: number[] = [];
  const builder = new SymbolIndexBuilder();
  const id = builder.addSource({
    nameOf: (ref) => {
      asked.push(ref);
      return names[ref] as string;
    },
  });
  return { builder, id, asked };
}
