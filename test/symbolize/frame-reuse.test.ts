/**
 * The frames a symbolizer keeps to hand out again (symbolizer.ts,
 * `framesOf`): bounded over every process, kept past a first few only
 * while they are asked again, dropped with their snapshot,
 * and never a different answer from a symbolizer that keeps none. The
 * process symbolized is this test's own node, whose executable holds tens
 * of thousands of functions: enough distinct addresses to pass the bound.
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { createSymbolizer, type Frame } from "../../src/symbolize/index.js";
import { FRAMES_ON_PROBATION, MAX_FRAMES_KEPT } from "../../src/symbolize/symbolizer.js";

/** The largest executable mapping of this process's own executable: [start, end). */
function executableText(): { start: bigint; end: bigint } {
  const ranges = readFileSync("/proc/self/maps", "utf8")
    .split("\n")
    .map((line) => line.split(/\s+/))
    .filter((f) => f[1]?.includes("x") === true && f[5] === process.execPath)
    .map((f) => (f[0] as string).split("-").map((h) => BigInt(`0x${h}`)) as [bigint, bigint]);
  const [start, end] = ranges.reduce((a, b) => (b[1] - b[0] > a[1] - a[0] ? b : a), [0n, 0n]);
  if (end === 0n) throw new Error(`no executable mapping of ${process.execPath} in /proc/self/maps`);
  return { start, end };
}

/** `count` distinct addresses spread evenly over the text, 16 to a stack. */
function stacksOver(text: { start: bigint; end: bigint }, count: number): bigint[][] {
  const step = (text.end - text.start) / BigInt(count);
  const stacks: bigint[][] = [];
  for (let i = 0; i < count; i += 16) stacks.push(Array.from({ length: Math.min(16, count - i) }, (_, j) => text.start + BigInt(i + j) * step));
  return stacks;
}

/** Every field of a frame, as one line. */
const text = (f: Frame): string => [f.address, f.module, f.offset, f.elfAddress, f.symbol, f.symbolOffset, f.name, f.inlined].map((v) => String(v)).join(" ");

describe("frames kept for reuse", () => {
  test("at most MAX_FRAMES_KEPT in all; past it frames are still named, the same as without reuse; forget drops them", async () => {
    const stacks = stacksOver(executableText(), MAX_FRAMES_KEPT + 4096);
    const s = createSymbolizer({ demangle: false });
    try {
      // Each stack asked twice in a row: every kept frame is asked again, so keeping goes on to the bound.
      const first: Frame[][] = [];
      for (const stack of stacks) {
        first.push(await s.symbolize(process.pid, stack, { returnAddresses: false }));
        await s.symbolize(process.pid, stack, { returnAddresses: false });
      }
      expect(s.stats().framesKept).toBe(MAX_FRAMES_KEPT);
      expect(first.flat().filter((f) => f.name !== undefined).length).toBeGreaterThan(MAX_FRAMES_KEPT);

      // Asked again: kept frames come back as they were, the rest are made again, equal.
      const again: Frame[][] = [];
      for (const stack of stacks) again.push(await s.symbolize(process.pid, stack, { returnAddresses: false }));
      const before = first.flat();
      const after = again.flat();
      expect(after.map(text)).toEqual(before.map(text));
      expect(after.filter((f, i) => f === before[i]).length).toBe(MAX_FRAMES_KEPT);

      s.forget(process.pid);
      expect(s.stats().framesKept).toBe(0);
    } finally {
      s.close();
    }
  });

  test("frames never asked again stop being kept past FRAMES_ON_PROBATION, and are named all the same", async () => {
    const stacks = stacksOver(executableText(), 3 * FRAMES_ON_PROBATION);
    const s = createSymbolizer({ demangle: false });
    const fresh = createSymbolizer({ demangle: false });
    try {
      const frames: Frame[] = [];
      for (const stack of stacks) frames.push(...(await s.symbolize(process.pid, stack, { returnAddresses: false })));
      expect(s.stats().framesKept).toBe(FRAMES_ON_PROBATION);
      const want: Frame[] = [];
      for (const stack of stacks) want.push(...(await fresh.symbolize(process.pid, stack, { returnAddresses: false })));
      expect(frames.map(text)).toEqual(want.map(text));
    } finally {
      s.close();
      fresh.close();
    }
  });
});
