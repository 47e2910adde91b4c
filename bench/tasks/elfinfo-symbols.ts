/**
 * elfinfo on a large binary, shared by tasks (b) and (c): its `open` parses
 * every symbol whatever the question (about a minute on /usr/bin/node), so
 * one child process parses once, then times the lookup and the listing
 * separately. Task (b) reports open + find, task (c) open + list; peak RSS
 * is cumulative from before the open.
 */
import { runChild, type ChildResult } from "../measure.js";
import { childAnswer } from "./rows.js";
import type { Row } from "../table.js";

/** How long elfinfo may take before it is reported as timed out. */
const TIMEOUT_MS = 120_000;

const runs = new Map<string, ChildResult>();

function run(path: string, name: string): ChildResult {
  const key = `${path}\0${name}`;
  let result = runs.get(key);
  if (result === undefined) {
    result = runChild("elfinfo-symbols", { path, name }, TIMEOUT_MS);
    runs.set(key, result);
  }
  return result;
}

/**
 * The elfinfo row for phase `find` or `list` of `path`, or a skipped row
 * that says how far elfinfo got before it failed or timed out.
 */
export function elfinfoSymbolsRow(path: string, name: string, phase: "find" | "list", describe: (answer: unknown) => string): Row {
  const result = run(path, name);
  const open = result.lines.find((l) => l["label"] === "open");
  const after = result.lines.find((l) => l["label"] === phase);
  const tool = phase === "find" ? "elfinfo open + find" : "elfinfo open + list";
  const base = { tool, scope: "fresh process", bytesHow: "rchar" } as const;
  if (open === undefined || after === undefined) {
    const got = open === undefined ? "it had not finished parsing" : `it parsed in ${Math.round(Number(open["ms"]))} ms, then stopped`;
    return { ...base, samples: [], note: `skipped: ${result.failure ?? "no result"}; ${got}` };
  }
  const sample = { ms: Number(open["ms"]) + Number(after["ms"]), peakRssGrowth: Number(after["peakRssGrowth"]), bytesRead: Number(open["rchar"]) };
  return {
    ...base,
    samples: [sample],
    answer: describe(childAnswer(result, phase)),
    note: `one run (a full parse takes ~a minute), shared with the other symbol task: open ${Math.round(Number(open["ms"]))} ms + ${phase} ${Math.round(Number(after["ms"]))} ms`,
  };
}
