/**
 * The checks of a probe's aggregation clauses (issue 15): the function
 * exists (did-you-mean otherwise), takes the arguments it needs, aggregates
 * an integer, `lhist` has sane literal bounds, the keys are keys, and the
 * limits of src/plan/aggregates.ts hold. What is checked comes out as
 * {@link CheckedAggregate}s, ready for the compiler.
 *
 * Pure: no I/O, no `node:*`.
 */
import { AGGREGATE_FNS, AGGREGATE_LIMITS, isAggregateFn, type AggregateFn, type LhistParams } from "../plan/index.js";
import { nearest } from "../suggest.js";
import type { AggregateClause, Expression, SourceLocation } from "./ast.js";
import { aggregateText, expressionText } from "./expr-text.js";
import { typeOf, VALUE_FUNCTIONS, valueTypeOf, type TypeContext } from "./expr-types.js";

/** An aggregation of a checked probe. */
export interface CheckedAggregate {
  readonly fn: AggregateFn;
  /** What is aggregated; undefined for `count`. */
  readonly value: Expression | undefined;
  readonly by: readonly Expression[];
  /** `lhist` only: its literal MIN, MAX and STEP. */
  readonly lhist: LhistParams | undefined;
  /** The clause, normalised: `hist(latency) by comm`. */
  readonly text: string;
  readonly loc: SourceLocation;
}

/** How each function is written, for messages. */
const USAGE: Record<AggregateFn, string> = {
  count: "count",
  sum: "sum(EXPR)",
  avg: "avg(EXPR)",
  min: "min(EXPR)",
  max: "max(EXPR)",
  stats: "stats(EXPR)",
  hist: "hist(EXPR)",
  lhist: "lhist(EXPR, MIN, MAX, STEP)",
};

/**
 * Checks the aggregation clauses of one probe, in source order, and
 * returns those that passed (an identical clause written twice, or one
 * beyond maxAggregatesPerProbe, is reported and left out).
 */
export function checkAggregates(clauses: readonly AggregateClause[], ctx: TypeContext): CheckedAggregate[] {
  const out: CheckedAggregate[] = [];
  const seen = new Map<string, AggregateClause>();
  clauses.forEach((clause, index) => {
    if (index === AGGREGATE_LIMITS.maxAggregatesPerProbe) {
      ctx.error(`the probe has ${clauses.length} aggregations, more than maxAggregatesPerProbe (${AGGREGATE_LIMITS.maxAggregatesPerProbe})`, clause.loc, [
        "split them over several probes on the same target",
      ]);
    }
    const checked = checkAggregate(clause, ctx);
    if (checked === undefined) return;
    const first = seen.get(checked.text);
    if (first !== undefined) {
      ctx.error(`\`${checked.text}\` is written twice`, clause.loc, [`the first is at line ${first.loc.start.line}; remove one of them`]);
      return;
    }
    seen.set(checked.text, clause);
    if (index < AGGREGATE_LIMITS.maxAggregatesPerProbe) out.push(checked);
  });
  return out;
}

function checkAggregate(clause: AggregateClause, ctx: TypeContext): CheckedAggregate | undefined {
  const name = clause.fn.name;
  if (VALUE_FUNCTIONS.includes(name)) {
    // `str(arg0)` alone in a body: a field without its name.
    const call = expressionText({ type: "Call", callee: clause.fn, args: clause.args, loc: clause.loc });
    ctx.error(`\`${call}\` is a value, not an aggregation`, clause.fn.loc, [
      `name it to print it: \`s = ${call}\``,
      `or aggregate by it: \`count by ${call}\``,
    ]);
    return undefined;
  }
  if (!isAggregateFn(name)) {
    const near = nearest(name, AGGREGATE_FNS);
    ctx.error(`unknown aggregation \`${name}\``, clause.fn.loc, [
      near.length > 0 ? `did you mean \`${near[0]}\`?` : `the aggregations are: ${AGGREGATE_FNS.join(", ")}`,
      ...(near.length === 0 ? [`a field needs a name: \`x = ${name}(…)\``] : []),
    ]);
    for (const key of clause.by) typeOf(key, ctx);
    return undefined;
  }
  const args = checkArguments(name, clause, ctx);
  const keys = checkKeys(clause, ctx);
  if (args === undefined || !keys) return undefined;
  return { fn: name, value: args.value, by: clause.by, lhist: args.lhist, text: aggregateText(clause), loc: clause.loc };
}

/** The value (and `lhist`'s bounds) of a clause whose function is known; undefined after reporting an error. */
function checkArguments(
  fn: AggregateFn,
  clause: AggregateClause,
  ctx: TypeContext,
): { value: Expression | undefined; lhist: LhistParams | undefined } | undefined {
  const { args } = clause;
  if (fn === "count") {
    if (args.length === 0) return { value: undefined, lhist: undefined };
    ctx.error(`\`count\` takes no argument`, args[0]?.loc ?? clause.loc, ["`count` counts hits; `sum(EXPR)` adds up a value"]);
    return undefined;
  }
  const wanted = fn === "lhist" ? 4 : 1;
  const [value, ...bounds] = args;
  if (value === undefined || args.length !== wanted) {
    ctx.error(`\`${fn}\` takes ${wanted} argument${wanted === 1 ? "" : "s"}, not ${args.length}`, clause.loc, [`write ${USAGE[fn]}`]);
    for (const a of args) typeOf(a, ctx);
    return undefined;
  }
  const t = valueTypeOf(value, ctx, `the value of \`${fn}\``);
  if (t === "string") ctx.error(`\`${fn}\` needs an integer value, not a string`, value.loc, ["aggregate an integer: latency, retval, argN, …"]);
  const lhist = fn === "lhist" ? lhistParams(bounds, clause, ctx) : undefined;
  if (t !== "int" || (fn === "lhist" && lhist === undefined)) return undefined;
  return { value, lhist };
}

/** The largest bound an `lhist` takes: JSON numbers are exact up to 2^53 - 1. */
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** `lhist`'s MIN, MAX and STEP: integer literals (MIN and MAX may be negative), MIN < MAX, STEP > 0, at most maxLhistBuckets steps. */
function lhistParams(bounds: readonly Expression[], clause: AggregateClause, ctx: TypeContext): LhistParams | undefined {
  const names = ["MIN", "MAX", "STEP"];
  const values = bounds.map((b, i) => {
    const v = literal(b);
    if (v === undefined) ctx.error(`\`lhist\`'s ${names[i]} must be an integer literal`, b.loc, ["e.g. lhist(arg0, 0, 100, 10)"]);
    else if (v > MAX_SAFE || v < -MAX_SAFE)
      ctx.error(`\`lhist\`'s ${names[i]} ${v} is out of range`, b.loc, [`it must be between -${MAX_SAFE} and ${MAX_SAFE}`]);
    else return v;
    return undefined;
  });
  const [min, max, step] = values;
  if (min === undefined || max === undefined || step === undefined) return undefined;
  const [, maxExpr, stepExpr] = bounds as [Expression, Expression, Expression];
  if (min >= max) {
    ctx.error(`\`lhist\` needs MIN < MAX, not ${min} and ${max}`, maxExpr.loc, ["e.g. lhist(arg0, 0, 100, 10): from 0 up to 100 in steps of 10"]);
    return undefined;
  }
  if (step <= 0n) {
    ctx.error(`\`lhist\`'s STEP must be above 0, not ${step}`, stepExpr.loc, ["e.g. lhist(arg0, 0, 100, 10)"]);
    return undefined;
  }
  const buckets = (max - min + step - 1n) / step;
  if (buckets > BigInt(AGGREGATE_LIMITS.maxLhistBuckets)) {
    ctx.error(`\`lhist\` has ${buckets} steps from ${min} to ${max}, more than maxLhistBuckets (${AGGREGATE_LIMITS.maxLhistBuckets})`, clause.loc, [
      `use a STEP of at least ${(max - min + BigInt(AGGREGATE_LIMITS.maxLhistBuckets) - 1n) / BigInt(AGGREGATE_LIMITS.maxLhistBuckets)}, or \`hist\` for a wide range`,
    ]);
    return undefined;
  }
  return { min: Number(min), max: Number(max), step: Number(step) };
}

/** An integer literal, or a negated one (`-10`), as a bigint; undefined for anything else. */
function literal(e: Expression): bigint | undefined {
  if (e.type === "Integer") return BigInt(e.value);
  if (e.type === "Unary" && e.operator === "-" && e.operand.type === "Integer") return -BigInt(e.operand.value);
  return undefined;
}

/** The `by` keys: each an integer, a string or a `ustack`, at most maxAggregateKeys. False when one is wrong. */
function checkKeys(clause: AggregateClause, ctx: TypeContext): boolean {
  let ok = true;
  for (const key of clause.by) if (typeOf(key, ctx) === undefined) ok = false;
  if (clause.by.length > AGGREGATE_LIMITS.maxAggregateKeys) {
    ctx.error(
      `\`${clause.fn.name} by\` has ${clause.by.length} keys, more than maxAggregateKeys (${AGGREGATE_LIMITS.maxAggregateKeys})`,
      clause.by[AGGREGATE_LIMITS.maxAggregateKeys]?.loc ?? clause.loc,
    );
    ok = false;
  }
  return ok;
}
