/**
 * Folded stacks (root first, merged, sorted, separators cleaned) and the
 * flame graph SVG: parsed by a real XML parser (Python's xml.etree, as
 * test/cli-check.test.ts does for JUnit), with one box per frame per path
 * and widths proportional to the counts.
 */
import { describe, expect, test } from "vitest";
import { FormatError } from "../../src/errors.js";
import { foldStacks, frameNames, parseFolded, renderFlameGraph, type Frame } from "../../src/symbolize/index.js";
import { parseSvg, type Box } from "./svg.js";

const frame = (name: string | undefined, module = "/app/prog", offset = 0x1139n): Frame => ({
  address: 0x5555_0000_1139n,
  module,
  offset,
  elfAddress: offset,
  symbol: name,
  symbolOffset: name === undefined ? undefined : 4n,
  name,
  inlined: false,
});

describe("folded stacks", () => {
  test("root first, equal stacks merged, lines sorted", () => {
    const text = foldStacks([
      { frames: ["c", "b", "a", "main"], count: 40 },
      { frames: ["d", "a", "main"], count: 7 },
      { frames: ["c", "b", "a", "main"], count: 2 },
    ]);
    expect(text).toBe("main;a;b;c 42\nmain;a;d 7\n");
    expect(parseFolded(text)).toEqual([
      { frames: ["main", "a", "b", "c"], count: 42 },
      { frames: ["main", "a", "d"], count: 7 },
    ]);
  });

  test("frame names without offsets; unnamed frames as module+0xoff; ; and newlines cleaned; spaces kept", () => {
    const names = frameNames([frame("std::vector<int>::push_back(int const&)"), frame(undefined), frame("weird;name\nx")]);
    expect(names).toEqual(["std::vector<int>::push_back(int const&)", "/app/prog+0x1139", "weird;name\nx"]);
    expect(foldStacks([{ frames: names, count: 1 }])).toBe("weird:name x;/app/prog+0x1139;std::vector<int>::push_back(int const&) 1\n");
  });

  test("a line without a count is a FormatError naming the line", () => {
    expect(() => parseFolded("main;a 3\nmain;b\n")).toThrow(FormatError);
    expect(() => parseFolded("main;a 3\nmain;b\n")).toThrow(/line 2/);
  });
});

describe("flame graph SVG", () => {
  const folded = "main;a;b;c 30\nmain;a;d 10\nmain;<init> & \"q\" 'x' 20\n";
  const svg = renderFlameGraph(folded, { width: 1220, title: "probec <test>" });
  const boxes = parseSvg(svg);
  const byName = (name: string): Box => {
    const box = boxes.find((b) => b.title.startsWith(`${name} (`));
    if (box === undefined) throw new Error(`no box for ${name} in ${boxes.map((b) => b.title).join(", ")}`);
    return box;
  };

  test("parses as XML and holds every frame once per path, with the root", () => {
    expect(boxes.map((b) => b.title.replace(/ \(.*$/, "")).sort()).toEqual(["<init> & \"q\" 'x'", "a", "all", "b", "c", "d", "main"].sort());
    expect(byName("c").title).toBe("c (30 samples, 50.00%)");
  });

  test("widths are proportional to counts (1200 px for 60 samples: 20 px a sample)", () => {
    expect(byName("all").width).toBeCloseTo(1200, 1);
    expect(byName("main").width).toBeCloseTo(1200, 1);
    expect(byName("a").width).toBeCloseTo(800, 1);
    expect(byName("c").width).toBeCloseTo(600, 1);
    expect(byName("d").width).toBeCloseTo(200, 1);
    expect(byName("<init> & \"q\" 'x'").width).toBeCloseTo(400, 1);
  });

  test("callees are drawn above their callers", () => {
    expect(byName("main").y).toBeLessThan(byName("all").y);
    expect(byName("c").y).toBeLessThan(byName("b").y);
    expect(byName("b").y).toBeLessThan(byName("a").y);
  });

  test("characters XML forbids never reach the document", () => {
    const nasty = renderFlameGraph([{ frames: ["ok", "bad\u0001\u0008name\ud800"], count: 1 }]);
    const parsed = parseSvg(nasty);
    expect(parsed.map((b) => b.title)).toContain("bad\ufffd\ufffdname\ufffd (1 samples, 100.00%)");
  });

  test("no stacks: an empty but valid picture", () => {
    expect(parseSvg(renderFlameGraph(""))).toEqual([]);
  });
});
