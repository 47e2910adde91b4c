/**
 * Expressions and aggregation clauses back to probe-language text, with
 * single spaces and only the parentheses the grammar needs: the
 * normalised `text` of a plan aggregate (`hist(latency) by comm`), which
 * the printers use as its heading. Integers keep their written form
 * (`0x10` stays hex), so the heading reads like the file.
 *
 * Pure: no I/O.
 */
import type { AggregateClause, BinaryOperator, Expression } from "./ast.js";

/** How tightly each kind of expression binds (grammar/probe.pegjs, loosest first). */
const BINARY_PRECEDENCE: Record<BinaryOperator, number> = {
  "||": 1,
  "&&": 2,
  "==": 3,
  "!=": 3,
  "<": 3,
  "<=": 3,
  ">": 3,
  ">=": 3,
  "|": 4,
  "^": 5,
  "&": 6,
  "<<": 7,
  ">>": 7,
  "+": 8,
  "-": 8,
  "*": 9,
  "/": 9,
  "%": 9,
};
const UNARY = 10;
const CAST = 11;
const PRIMARY = 12;
/** Comparisons do not chain, so a comparison inside one always needs parentheses. */
const COMPARISON = 3;

function precedence(e: Expression): number {
  switch (e.type) {
    case "Binary":
      return BINARY_PRECEDENCE[e.operator];
    case "Unary":
      return UNARY;
    case "Cast":
      return CAST;
    default:
      return PRIMARY;
  }
}

/** `e` as the probe language writes it, normalised. */
export function expressionText(e: Expression): string {
  switch (e.type) {
    case "Integer":
      return e.raw;
    case "String":
      return JSON.stringify(e.value);
    case "Identifier":
      return e.name;
    case "Call":
      return `${e.callee.name}(${e.args.map(expressionText).join(", ")})`;
    case "Cast":
      return `${operand(e.expression, CAST)} as ${e.to}`;
    case "Unary":
      return `${e.operator}${operand(e.operand, UNARY)}`;
    case "Binary": {
      const p = BINARY_PRECEDENCE[e.operator];
      // Left-associative: the left side may bind as loosely as this one (except a comparison), the right must bind tighter.
      const left = p === COMPARISON ? operand(e.left, p + 1) : operand(e.left, p);
      return `${left} ${e.operator} ${operand(e.right, p + 1)}`;
    }
  }
}

/** `e`, parenthesised when it binds more loosely than `least`. */
function operand(e: Expression, least: number): string {
  const text = expressionText(e);
  return precedence(e) < least ? `(${text})` : text;
}

/** An aggregation clause as written, normalised: `count`, `count by comm`, `hist(latency) by comm, pid`. */
export function aggregateText(clause: Pick<AggregateClause, "fn" | "args" | "by">): string {
  const call = clause.fn.name === "count" && clause.args.length === 0 ? "count" : `${clause.fn.name}(${clause.args.map(expressionText).join(", ")})`;
  return clause.by.length === 0 ? call : `${call} by ${clause.by.map(expressionText).join(", ")}`;
}
