/**
 * The types of expressions: what each name, call and operator yields
 * (`int`, `string`, or the `stack` of `ustack`), with a diagnostic for
 * everything that is wrong inside an expression. Shared by the probe
 * checks (src/dsl/semantic.ts) and the aggregation checks
 * (src/dsl/aggregate-check.ts).
 *
 * A `ustack` is a capture of its own kind: it may be a whole field or a
 * whole `by` key, nowhere else (not an operand, a cast, a filter or an
 * aggregated value), because the kernel copies a stack, it does not
 * compute with one. {@link typeOf} yields `stack` for it; every position
 * that needs a value goes through {@link valueTypeOf}, which refuses it.
 *
 * Pure: no I/O, no `node:*`.
 */
import { AGGREGATE_FNS, AGGREGATE_LIMITS, CAPTURE_NAMES, captureDef, isAggregateFn, isCaptureName, type CaptureValueType } from "../plan/index.js";
import { nearest } from "../suggest.js";
import type { Expression, Identifier, ProbeKind, SourceLocation } from "./ast.js";
import { DSL_LIMITS } from "./limits.js";

/** The type of a value: an integer, a string read from the target, or a user stack (`ustack`). */
export type ValueType = CaptureValueType | "stack";

/** Captures an expression may name, besides `argN` and `ustack` (defined, with their types and kinds, in src/plan/captures.ts). */
export const CAPTURES: readonly string[] = CAPTURE_NAMES;

/** Reports one problem at a location. */
export type Report = (message: string, location: SourceLocation, hints?: string[]) => void;

/** What typing an expression needs to know: the probe's kind (which captures exist) and where to report. */
export interface TypeContext {
  readonly kind: ProbeKind;
  readonly error: Report;
}

const ARG = /^arg(\d+)$/;

/** The name of the user-stack capture, written `ustack` or `ustack(N)`. */
export const USTACK = "ustack";

/** Where a stack may go, for the hint of every place it may not. */
const STACK_HINTS = ["print it as a field: `stack = ustack`", "or aggregate by it: `count by ustack`"];

/**
 * The type of `e` where a value is needed (`place` says where, for the
 * message: "a `where` filter", "an operand of `+`"): like {@link typeOf},
 * but a `ustack` is an error here.
 */
export function valueTypeOf(e: Expression, ctx: TypeContext, place: string): "int" | "string" | undefined {
  const t = typeOf(e, ctx);
  if (t !== "stack") return t;
  ctx.error(`\`ustack\` can only be a field or a \`by\` key, not ${place}`, e.loc, STACK_HINTS);
  return undefined;
}

/** The frames `ustack` or `ustack(N)` captures (N checked by {@link typeOf}). */
export function ustackFrames(e: Expression): number | undefined {
  if (e.type === "Identifier" && e.name === USTACK) return AGGREGATE_LIMITS.defaultStackFrames;
  if (e.type === "Call" && e.callee.name === USTACK) {
    const n = e.args[0];
    return n?.type === "Integer" ? Number(n.value) : AGGREGATE_LIMITS.defaultStackFrames;
  }
  return undefined;
}

/** The type of `e`, reporting what is wrong inside it; undefined when it already failed. `stack` only for a whole `ustack`. */
export function typeOf(e: Expression, ctx: TypeContext): ValueType | undefined {
  switch (e.type) {
    case "Integer":
      return "int";
    case "String":
      ctx.error("a string literal is not a value a probe can capture", e.loc, ["strings come from the target: str(argN)"]);
      return undefined;
    case "Identifier":
      return captureType(e, ctx);
    case "Cast": {
      const t = valueTypeOf(e.expression, ctx, `cast to ${e.to}`);
      if (t === "string") ctx.error(`a string cannot be read as ${e.to}`, e.loc, ["cast the argument itself: argN as " + e.to]);
      return t === undefined ? undefined : "int";
    }
    case "Unary": {
      const t = valueTypeOf(e.operand, ctx, `an operand of \`${e.operator}\``);
      if (t === "string") ctx.error(`\`${e.operator}\` needs an integer, not a string`, e.operand.loc);
      return t === undefined ? undefined : "int";
    }
    case "Binary": {
      const l = valueTypeOf(e.left, ctx, `an operand of \`${e.operator}\``);
      const r = valueTypeOf(e.right, ctx, `an operand of \`${e.operator}\``);
      for (const [t, side] of [
        [l, e.left],
        [r, e.right],
      ] as const) {
        if (t === "string")
          ctx.error(`\`${e.operator}\` needs integers, not a string`, side.loc, ["strings are not compared in the kernel; use an integer capture"]);
      }
      return l === undefined || r === undefined ? undefined : "int";
    }
    case "Call":
      return callType(e.callee, e.args, e.loc, ctx);
  }
}

function captureType(id: Identifier, ctx: TypeContext): ValueType | undefined {
  const name = id.name;
  if (name === USTACK) return "stack";
  const arg = ARG.exec(name);
  if (arg !== null) {
    const index = Number(arg[1]);
    if (ctx.kind === "uretprobe") {
      ctx.error(`\`${name}\` is not available in a uretprobe`, id.loc, [
        "a return probe no longer sees the arguments; use uprobe+ret, whose return side sees the entry's arguments",
      ]);
      return undefined;
    }
    const limit = ctx.kind === "usdt" ? DSL_LIMITS.maxUsdtArgs : DSL_LIMITS.maxFunctionArgs;
    if (index >= limit) {
      ctx.error(`\`${name}\` is beyond the ${limit} arguments a ${ctx.kind} can read`, id.loc, [
        ctx.kind === "usdt"
          ? `maxUsdtArgs (${DSL_LIMITS.maxUsdtArgs}): sys/sdt.h has at most 12 arguments, arg0..arg11`
          : `maxFunctionArgs (${DSL_LIMITS.maxFunctionArgs}): a probe reads at most that many register arguments (C on x86-64 passes arg0..arg5 in registers, Go arg0..arg8 on amd64)`,
      ]);
      return undefined;
    }
    return "int";
  }
  if (isCaptureName(name)) {
    const def = captureDef(name);
    if (!def.kinds.includes(ctx.kind)) {
      const only = def.kinds.length === 1 ? def.kinds[0] : undefined;
      ctx.error(only !== undefined ? `\`${name}\` is only available in a ${only} probe` : `\`${name}\` is not available in a ${ctx.kind}`, id.loc, [
        def.unavailable?.byKind?.[ctx.kind] ?? def.unavailable?.otherwise ?? `it is available in: ${def.kinds.join(", ")}`,
      ]);
      return undefined;
    }
    return def.type;
  }
  const near = nearest(name, [...CAPTURES, USTACK, "arg0", "arg1", "arg2", "arg3", "arg4", "arg5"]);
  ctx.error(`unknown capture \`${name}\``, id.loc, [
    near.length > 0
      ? `did you mean \`${near[0]}\`?`
      : `the captures are: ${CAPTURES.join(", ")}, argN, ustack[(frames)], str(argN[, maxlen]), gostr(argN[, maxlen])`,
  ]);
  return undefined;
}

/** The functions an expression may call: `str(argN[, maxlen])` (a C string at an address), `gostr(argN[, maxlen])` (a Go string in two argument slots), `ustack(frames)`. */
export const VALUE_FUNCTIONS: readonly string[] = ["str", "gostr", USTACK];

function callType(callee: Identifier, args: readonly Expression[], loc: SourceLocation, ctx: TypeContext): ValueType | undefined {
  if (isAggregateFn(callee.name)) {
    ctx.error(`\`${callee.name}\` is an aggregation, not a value`, callee.loc, [
      `write it alone in the probe body, e.g. \`${callee.name === "count" ? "count" : `${callee.name}(latency)`} by comm\``,
    ]);
    return undefined;
  }
  if (!VALUE_FUNCTIONS.includes(callee.name)) {
    const near = nearest(callee.name, [...VALUE_FUNCTIONS, ...AGGREGATE_FNS]);
    ctx.error(`unknown function \`${callee.name}\``, callee.loc, [
      near.length > 0 ? `did you mean \`${near[0]}\`?` : "the functions are str(argN[, maxlen]), gostr(argN[, maxlen]) and ustack(frames)",
    ]);
    return undefined;
  }
  if (callee.name === "gostr") return goStringType(args, loc, ctx);
  if (callee.name === USTACK) return ustackType(args, loc, ctx);
  const [source, max, ...extra] = args;
  if (source === undefined || extra.length > 0) {
    ctx.error(`\`str\` takes 1 or 2 arguments, not ${args.length}`, loc, ["str(argN) or str(argN, maxlen)"]);
    return undefined;
  }
  const t = valueTypeOf(source, ctx, "the address of `str`");
  if (t === "string") ctx.error("`str` reads a string at an address; this is already a string", source.loc);
  checkMaxLen("str", max, ctx);
  return t === undefined ? undefined : "string";
}

/** `ustack(N)`: at most N return addresses, N an integer literal in 1..maxStackFrames (`ustack` alone: defaultStackFrames). */
function ustackType(args: readonly Expression[], loc: SourceLocation, ctx: TypeContext): ValueType | undefined {
  const range = `it must be between 1 and maxStackFrames (${AGGREGATE_LIMITS.maxStackFrames}); \`ustack\` alone keeps ${AGGREGATE_LIMITS.defaultStackFrames}`;
  const [frames, ...extra] = args;
  if (frames === undefined || extra.length > 0) {
    ctx.error(`\`ustack\` takes 1 argument, the number of frames, not ${args.length}`, loc, [
      "ustack(16), or ustack alone for " + AGGREGATE_LIMITS.defaultStackFrames,
    ]);
    return undefined;
  }
  if (frames.type !== "Integer") {
    ctx.error("the frame count of `ustack` must be an integer literal", frames.loc, ["e.g. ustack(16)"]);
    return undefined;
  }
  const n = BigInt(frames.value);
  if (n < 1n || n > BigInt(AGGREGATE_LIMITS.maxStackFrames)) {
    ctx.error(`\`ustack\` frame count ${frames.raw} is out of range`, frames.loc, [range]);
    return undefined;
  }
  return "stack";
}

/**
 * `gostr(argN[, maxlen])`: a Go `string` is two words, its pointer and its
 * length, and Go's register ABI passes them in two consecutive integer
 * slots (Go's src/cmd/compile/abi-internal.md), so the argument names the
 * first slot and the length is argN+1. At most maxlen - 1 bytes are read,
 * as `str` does (the slot keeps a NUL).
 */
function goStringType(args: readonly Expression[], loc: SourceLocation, ctx: TypeContext): ValueType | undefined {
  const [source, max, ...extra] = args;
  if (source === undefined || extra.length > 0) {
    ctx.error(`\`gostr\` takes 1 or 2 arguments, not ${args.length}`, loc, ["gostr(argN) or gostr(argN, maxlen)"]);
    return undefined;
  }
  const slot = source.type === "Identifier" ? ARG.exec(source.name) : null;
  if (slot === null) {
    ctx.error("`gostr` reads a Go string from two argument slots; its argument must be `argN`", source.loc, [
      "e.g. gostr(arg1) for a string passed as the second and third words",
    ]);
    return undefined;
  }
  const t = typeOf(source, ctx);
  checkMaxLen("gostr", max, ctx);
  const limit = ctx.kind === "usdt" ? DSL_LIMITS.maxUsdtArgs : DSL_LIMITS.maxFunctionArgs;
  if (t !== undefined && Number(slot[1]) + 1 >= limit) {
    ctx.error(
      `\`gostr(${source.type === "Identifier" ? source.name : ""})\` needs its length in arg${Number(slot[1]) + 1}, beyond the ${limit} arguments a ${ctx.kind} can read`,
      source.loc,
    );
    return undefined;
  }
  return t === undefined ? undefined : "string";
}

function checkMaxLen(fn: string, max: Expression | undefined, ctx: TypeContext): void {
  if (max === undefined) return;
  if (max.type !== "Integer") {
    ctx.error(`the length of \`${fn}\` must be an integer literal`, max.loc, [`e.g. ${fn}(arg0, 64)`]);
    return;
  }
  const n = BigInt(max.value);
  if (n < 1n || n > BigInt(DSL_LIMITS.maxStrlen))
    ctx.error(`string length ${max.raw} is out of range`, max.loc, [`it must be between 1 and maxStrlen (${DSL_LIMITS.maxStrlen})`]);
}
