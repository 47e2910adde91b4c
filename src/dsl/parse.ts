/**
 * `parseProbeFile(source, file)`: text → AST plus syntax diagnostics, never a
 * thrown syntax error.
 *
 * Recovery: the grammar itself stops at the first error, so this module
 * recovers at statement granularity. A statement starts at column 1 (any
 * line whose first character is not a space, `#` or `}`); on an error the
 * statement that holds it is blanked out (replaced by spaces, newlines kept,
 * so every later line, column and offset stays true) and the file is parsed
 * again. Each statement is blamed at most once, so this ends; the AST holds
 * the statements that parsed. An error found exactly at the start of a
 * statement keyword (`probe kind`, `let`, `option`, `interval`) is blamed on the
 * statement before it: that one did not end where it should have (usually a
 * missing `}`).
 *
 * Pure: no I/O, no `node:*`.
 */
import type { Position, ProbeFile, SourceLocation } from "./ast.js";
import type { Diagnostic } from "./diagnostics.js";
import { parse, SyntaxError as PeggySyntaxError, type Expectation } from "./generated/parser.js";

/** The result of parsing: the statements that parsed, and one diagnostic per syntax error. */
export interface ParseResult {
  readonly ast: ProbeFile;
  readonly diagnostics: readonly Diagnostic[];
}

/** More than this many syntax errors in one file is noise; the rest are dropped. */
const MAX_SYNTAX_ERRORS = 50;

const STATEMENT_KEYWORD = /^(?:let|option|interval|uprobe\+ret|uprobe|uretprobe|usdt)(?![A-Za-z0-9_])/;

/** Parses a probe file; `file` only names the source (it is never opened). */
export function parseProbeFile(source: string, file: string): ParseResult {
  const statements = statementStarts(source);
  const blamed = new Set<number>();
  const diagnostics: Diagnostic[] = [];
  let text = source;
  for (;;) {
    try {
      return { ast: parse(text, { grammarSource: file }), diagnostics };
    } catch (e) {
      if (!(e instanceof PeggySyntaxError)) throw e;
      if (diagnostics.length < MAX_SYNTAX_ERRORS) diagnostics.push(syntaxDiagnostic(e, text));
      const index = blame(text, statements, blamed, e.location.start.offset);
      if (index === undefined) return { ast: emptyFile(source), diagnostics };
      blamed.add(index);
      text = blank(text, statements[index] as number, statements[index + 1] ?? text.length);
    }
  }
}

/** Offsets of the lines that start a statement: column 1, not blank, not a comment, not `}`. */
function statementStarts(source: string): number[] {
  const starts: number[] = [];
  for (let offset = 0; offset < source.length; ) {
    const c = source[offset] as string;
    if (!/[\s#}]/.test(c)) starts.push(offset);
    const newline = source.indexOf("\n", offset);
    if (newline < 0) break;
    offset = newline + 1;
  }
  return starts;
}

/** The index of the statement to blank for an error at `offset`, or undefined when none is left. */
function blame(text: string, starts: readonly number[], blamed: ReadonlySet<number>, offset: number): number | undefined {
  let index = -1;
  for (let i = 0; i < starts.length && (starts[i] as number) <= offset; i++) index = i;
  if (index > 0 && starts[index] === offset && STATEMENT_KEYWORD.test(text.slice(offset))) index--;
  while (index >= 0 && blamed.has(index)) index--;
  return index < 0 ? undefined : index;
}

function blank(text: string, from: number, to: number): string {
  return text.slice(0, from) + text.slice(from, to).replace(/[^\n]/g, " ") + text.slice(to);
}

function emptyFile(source: string): ProbeFile {
  return { type: "File", items: [], loc: { start: { offset: 0, line: 1, column: 1 }, end: positionAt(source, source.length) } };
}

function positionAt(source: string, offset: number): Position {
  const before = source.slice(0, offset);
  const line = before.split("\n").length;
  return { offset, line, column: offset - (before.lastIndexOf("\n") + 1) + 1 };
}

/** Turns Peggy's error into `expected A, B, or C, found \`x\`` under the offending token. */
function syntaxDiagnostic(e: PeggySyntaxError, text: string): Diagnostic {
  // At the end of the file, point just past the last thing written, not at an empty last line.
  const atEnd = e.location.start.offset >= text.length;
  const start = atEnd ? positionAt(text, text.trimEnd().length) : e.location.start;
  const token = atEnd ? "" : foundToken(text, start.offset);
  const location: SourceLocation = {
    start,
    end: { offset: start.offset + token.length, line: start.line, column: start.column + token.length },
  };
  const found = token === "" ? (atEnd ? "end of file" : "end of line") : `\`${token}\``;
  const expected = describeExpected(e.expected ?? []);
  const hints: string[] = [];
  if (found === "end of file" && expected.includes("`}`")) hints.push("a probe body's `{` is not closed");
  if (found === '`"`' && expected.includes("string")) hints.push('a string must end with `"` on the line where it starts');
  return { severity: "error", message: `expected ${expected}, found ${found}`, location, hints };
}

/** The token at `offset`: a word, a run of operator characters, or one character; "" at a line or file end. */
function foundToken(text: string, offset: number): string {
  const rest = text.slice(offset);
  const match = /^(?:[A-Za-z0-9_]+|[=!<>&|]+|[^\s])/.exec(rest);
  return match === null ? "" : match[0];
}

/** Every expression may start with these; together they read as "expression". */
const EXPRESSION_STARTS = ["name", "integer", "string", "`(`", "unary operator"];

function describeExpected(expected: readonly Expectation[]): string {
  const words = new Set<string>();
  for (const x of expected) {
    if (x.type === "literal") words.add(`\`${x.text}\``);
    else if (x.type === "other") words.add(x.description);
    else if (x.type === "end") words.add("end of file");
    else words.add("character");
  }
  words.delete("whitespace");
  if (EXPRESSION_STARTS.every((w) => words.has(w))) {
    for (const w of EXPRESSION_STARTS) words.delete(w);
    words.add("expression");
  }
  // Punctuation first, then keywords, then kinds of thing ("name", "target").
  const rank = (w: string): number => (/^`[^A-Za-z]/.test(w) ? 0 : w.startsWith("`") ? 1 : 2);
  const list = [...words].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  if (list.length <= 2) return list.join(" or ");
  return `${list.slice(0, -1).join(", ")}, or ${list[list.length - 1]}`;
}
