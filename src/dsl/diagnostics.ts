/**
 * Diagnostics are data; this is the one renderer (docs/style.md, house rule 9).
 *
 * The rendering follows Peggy's and rustc's shape:
 *
 *     error: expected `=`, found `docker`
 *      --> scenario.probe:3:9
 *       |
 *     3 | let zk docker/zookeeper
 *       |        ^^^^^^
 *       = hint: a `let` reads `let NAME = TARGET`
 *
 * Pure: no I/O, no `node:*`.
 */
import type { SourceLocation } from "./ast.js";

/** How bad a diagnostic is; only `error` stops compilation. */
export type Severity = "error" | "warning" | "note";

/** One problem found in a probe file. */
export interface Diagnostic {
  readonly severity: Severity;
  /** Lowercase, one line, no trailing period: `expected name, found \`=\``. */
  readonly message: string;
  /** The span the carets go under; an empty span gets one caret. */
  readonly location: SourceLocation;
  /** Things the user can do about it, one line each. */
  readonly hints: readonly string[];
}

/** Renders diagnostics in order, separated by a blank line, each ending in a newline. */
export function renderDiagnostics(source: string, file: string, diagnostics: readonly Diagnostic[]): string {
  return diagnostics.map((d) => renderOne(source, file, d)).join("\n");
}

function renderOne(source: string, file: string, d: Diagnostic): string {
  const lines = source.split("\n");
  const { start, end } = d.location;
  const lineText = (lines[start.line - 1] ?? "").replace(/\r$/, "").replace(/\t/g, " ");
  // A span that runs past its first line is underlined to that line's end.
  const lastColumn = end.line === start.line ? end.column : lineText.length + 1;
  const width = Math.max(1, lastColumn - start.column);
  const gutter = " ".repeat(String(start.line).length);
  const out = [
    `${d.severity}: ${d.message}`,
    `${gutter}--> ${file}:${start.line}:${start.column}`,
    `${gutter} |`,
    `${start.line} | ${lineText}`.trimEnd(),
    `${gutter} | ${" ".repeat(start.column - 1)}${"^".repeat(width)}`,
  ];
  for (const hint of d.hints) out.push(`${gutter} = hint: ${hint}`);
  return out.join("\n") + "\n";
}
