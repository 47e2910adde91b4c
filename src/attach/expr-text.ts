/**
 * A plan expression as the probe file would write it: the column names of
 * aggregation keys (`comm`, `arg0 % 4`, `ustack`) and the fields' captions.
 */
import { AGGREGATE_LIMITS, type PlanExpr } from "../plan/index.js";

/** `comm`, `arg0 % 4`, `str(arg1, 32)`, `ustack`, `ustack(8)`. */
export function exprText(e: PlanExpr): string {
  switch (e.op) {
    case "int":
      return e.value;
    case "capture":
      return e.name;
    case "arg":
      return `arg${e.index}`;
    case "str":
      return `str(${exprText(e.arg)}, ${e.maxLen})`;
    case "gostr":
      return `gostr(arg${e.index}, ${e.maxLen})`;
    case "ustack":
      return e.frames === AGGREGATE_LIMITS.defaultStackFrames ? "ustack" : `ustack(${e.frames})`;
    case "cast":
      return `${operand(e.expr)} as ${e.to}`;
    case "unary":
      return `${e.operator}${operand(e.operand)}`;
    case "binary":
      return `${operand(e.left)} ${e.operator} ${operand(e.right)}`;
  }
}

function operand(e: PlanExpr): string {
  return e.op === "binary" || e.op === "cast" ? `(${exprText(e)})` : exprText(e);
}

/** True when `e` reads a user stack somewhere (a `ustack` field or key). */
export function usesStack(e: PlanExpr): boolean {
  switch (e.op) {
    case "ustack":
      return true;
    case "str":
      return usesStack(e.arg);
    case "cast":
      return usesStack(e.expr);
    case "unary":
      return usesStack(e.operand);
    case "binary":
      return usesStack(e.left) || usesStack(e.right);
    default:
      return false;
  }
}
