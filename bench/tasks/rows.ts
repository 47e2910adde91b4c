/**
 * Turning measurements into table rows, with a printed reason whenever a
 * tool is skipped, times out or fails: a peer never disappears silently.
 */
import { medianOf, runChild, runPeer, which, type ChildResult, type PeerSpec, type Sample } from "../measure.js";
import { formatBytes, type Row } from "../table.js";

/** The lines a child emitted under `label`, as samples (probec's bytesRead when given, else rchar). */
export function childSamples(result: ChildResult, label: string): Sample[] {
  return result.lines
    .filter((l) => l["label"] === label)
    .map((l) => ({
      // null marks a memory-only run, whose time is not a timing sample.
      ms: typeof l["ms"] === "number" ? l["ms"] : NaN,
      peakRssGrowth: typeof l["peakRssGrowth"] === "number" ? l["peakRssGrowth"] : undefined,
      bytesRead: typeof l["bytesRead"] === "number" ? l["bytesRead"] : typeof l["rchar"] === "number" ? l["rchar"] : undefined,
    }));
}

/** The answer of the last line with `label`. */
export function childAnswer(result: ChildResult, label: string): unknown {
  return result.lines.filter((l) => l["label"] === label).at(-1)?.["answer"];
}

/**
 * Runs probec in `processes` fresh Node processes (one measurement each,
 * or several when the mode loops) and makes one row of all their samples.
 * The note gives the kernel's `rchar` beside probec's own `bytesRead`.
 */
export function probecRow(tool: string, scope: Row["scope"], mode: string, args: object, processes: number, describe: (answer: unknown) => string): Row {
  const results = Array.from({ length: processes }, () => runChild(mode, args, 120_000));
  const samples = results.flatMap((r) => childSamples(r, "probec"));
  const failure = results.find((r) => r.failure !== undefined)?.failure;
  const rchar = medianOf(results.flatMap((r) => r.lines.map((l) => (typeof l["rchar"] === "number" ? l["rchar"] : undefined))));
  const last = results.at(-1);
  const notes = [`kernel rchar during the call (median): ${formatBytes(rchar)}`];
  if (failure !== undefined) notes.unshift(`FAILED: ${failure}`);
  return {
    tool,
    scope,
    samples,
    bytesHow: "bytesRead",
    answer: last === undefined ? "" : describe(childAnswer(last, "probec")),
    note: notes.join("; "),
  };
}

/** A whole-process peer row, or a skipped row saying why (not installed, timed out, failed). */
export function peerRow(tool: string, spec: PeerSpec, describe: (output: string) => string): Row {
  const missing = spec.stages.map((s) => s[0] ?? "").find((command) => which(command) === undefined);
  if (missing !== undefined) {
    return {
      tool,
      scope: "whole process",
      samples: [],
      bytesHow: "rchar",
      note: `skipped: ${missing} is not installed (scripts/bootstrap.sh --bench installs it)`,
    };
  }
  const result = runPeer(spec);
  if (result.failure !== undefined) return { tool, scope: "whole process", samples: [], bytesHow: "rchar", note: `skipped: ${result.failure}` };
  return {
    tool,
    scope: "whole process",
    samples: result.samples,
    bytesHow: "rchar",
    answer: result.output === undefined ? "(output not kept)" : describe(result.output),
  };
}

/** Number of non-empty lines in a tool's output. */
export function lineCount(output: string): number {
  return output.split("\n").filter((l) => l.trim() !== "").length;
}

/** Median wall time of a row, or undefined when it has no samples. */
export function medianMs(row: Row): number | undefined {
  return medianOf(row.samples.map((s) => s.ms));
}

/** Median peak RSS growth of a row, or undefined when not measured. */
export function medianPeakRss(row: Row): number | undefined {
  return medianOf(row.samples.map((s) => s.peakRssGrowth));
}
