/**
 * Folded stacks: one line per distinct stack, frames root first joined by
 * `;`, a space, and the count:
 *
 * ```
 * main;a;b;c 42
 * main;a;d 7
 * ```
 *
 * the format Brendan Gregg's `stackcollapse-*.pl` write and `flamegraph.pl`,
 * inferno and speedscope read (flamegraph.pl takes the count after the last
 * run of whitespace, so frame names may hold spaces; `;` is the separator,
 * so a `;` inside a name is written as `:`, and a line break as a space).
 * Lines are sorted, as stackcollapse output is, so equal input gives equal
 * output.
 *
 * Pure: no `node:*`.
 */
import { FormatError } from "../errors.js";
import { formatFrame, type Frame } from "./frame.js";

/** A stack with how often it was seen. */
export interface CountedStack {
  /** Frame names, **innermost first** (as a stack is captured: the leaf, then its callers). */
  readonly frames: readonly string[];
  readonly count: number;
}

/** A stack of the folded format: frames **root first**. */
export interface FoldedStack {
  readonly frames: readonly string[];
  readonly count: number;
}

/** The frame names of a symbolized stack, innermost first, as folded stacks print them (no `+0x` offsets, so calls from different spots merge). */
export function frameNames(frames: readonly Frame[]): string[] {
  return frames.map((f) => formatFrame(f, { offsets: false }));
}

/** Folds counted stacks (innermost first) into the folded text, merging equal stacks; ends with a newline unless empty. */
export function foldStacks(stacks: Iterable<CountedStack>): string {
  const merged = new Map<string, number>();
  for (const stack of stacks) {
    if (!Number.isFinite(stack.count) || stack.count <= 0) continue;
    const line = [...stack.frames].reverse().map(cleanFrame).join(";");
    merged.set(line, (merged.get(line) ?? 0) + stack.count);
  }
  const lines = [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([stack, count]) => `${stack} ${count}`);
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/** A frame name made safe for one field of a folded line. */
export function cleanFrame(name: string): string {
  const cleaned = name
    .replace(/[\r\n]+/g, " ")
    .replaceAll(";", ":")
    .trim();
  return cleaned === "" ? "[unknown]" : cleaned;
}

/** Longest folded input {@link parseFolded} accepts, in lines (hostile or runaway input). */
export const MAX_FOLDED_LINES = 10_000_000;

/**
 * Parses folded text (ours, or any stackcollapse tool's) into stacks, root
 * first. Blank lines are skipped; a line without a trailing count throws a
 * FormatError naming it.
 */
export function parseFolded(text: string, source = "folded stacks"): FoldedStack[] {
  const out: FoldedStack[] = [];
  let offset = 0;
  let lineNo = 0;
  for (const line of text.split("\n")) {
    lineNo++;
    if (lineNo > MAX_FOLDED_LINES) throw new FormatError(`${source}: more than ${MAX_FOLDED_LINES} lines`, offset);
    const trimmed = line.trimEnd();
    if (trimmed !== "") {
      const match = /^(.*\S)\s+(\d+(?:\.\d+)?)$/.exec(trimmed);
      if (match === null)
        throw new FormatError(
          `${source}: line ${lineNo} is not "frame;frame;… COUNT"`,
          offset,
          trimmed.length > 80 ? `${trimmed.slice(0, 80)}…` : trimmed,
          false,
        );
      out.push({ frames: (match[1] as string).split(";"), count: Number(match[2]) });
    }
    offset += line.length + 1;
  }
  return out;
}
