/**
 * The semantic passes over a parsed probe file: names (aliases, captures,
 * fields, options), kinds and types, limits. Each pass appends
 * {@link Diagnostic}s; every problem of the file is reported at once, each
 * at its own location, with a hint where one helps.
 *
 * The result is a list of {@link CheckedProbe}s: aliases expanded, options
 * settled (probe over file over default), fields, filter and format in
 * place, ready for target resolution (src/compile/compile.ts).
 *
 * Pure: no I/O, no `node:*`; imports only the AST, diagnostics, suggest,
 * and the closed sets of src/plan (captures, strategies: pure data defined
 * once there, so that the language and the plan cannot disagree).
 */
import { CAPTURE_NAMES, captureDef, isCaptureName, PATH_STRATEGY_NAMES, type CaptureValueType, type PathStrategy } from "../plan/index.js";
import { nearest } from "../suggest.js";
import { splitTarget } from "./target-spec.js";
import type {
  CountClause,
  Expression,
  Field,
  FormatClause,
  Identifier,
  LetDecl,
  OptionDecl,
  Probe,
  ProbeFile,
  ProbeKind,
  SourceLocation,
  Target,
  WhereClause,
} from "./ast.js";
import type { Diagnostic } from "./diagnostics.js";

/** The path strategies an `option strategy` may name (defined in src/plan/strategies.ts). */
export const STRATEGIES: readonly PathStrategy[] = PATH_STRATEGY_NAMES;
/** A path strategy. */
export type Strategy = PathStrategy;

/**
 * Named limits of the language (PITFALLS 27); exceeding one is an error
 * that names it.
 *
 * - `maxStrlen` 4096: a string is copied into a per-CPU buffer of one page.
 * - `maxFunctionArgs` 12: the most register arguments a function probe can
 *   read under any ABI probec knows: Go's ABIInternal passes nine integer
 *   arguments in registers on amd64 and sixteen on arm64, and a point keeps
 *   12 argument slots. The x86-64 SysV ABI has only six (`arg0`..`arg5`);
 *   the compiler checks each matched function's own ABI
 *   (src/compile/abi-args.ts).
 * - `maxUsdtArgs` 12: sys/sdt.h has at most 12 (`STAP_PROBE12`).
 * - `maxFields` 32: fields per event.
 * - `maxCountKeys` 8: keys of one `count by`.
 * - `maxTargets` 64: targets per probe.
 */
export const DSL_LIMITS = {
  maxStrlen: 4096,
  maxFunctionArgs: 12,
  maxUsdtArgs: 12,
  maxFields: 32,
  maxCountKeys: 8,
  maxTargets: 64,
} as const;

/** The string length used when neither the file nor the probe sets `strlen`. */
export const DEFAULT_STRLEN = 128;
/** The path strategy used when nothing sets one. */
export const DEFAULT_STRATEGY: Strategy = "fd";

/** Captures an expression may name, besides `argN` (defined, with their types and kinds, in src/plan/captures.ts). */
export const CAPTURES: readonly string[] = CAPTURE_NAMES;
const OPTION_NAMES = ["strategy", "strlen"] as const;

/** A target of a checked probe: as written, and with its alias expanded. */
export interface CheckedTarget {
  /** `SCOPE:OBJECT[:LOCATION]` with any alias expanded: what the resolver is given. */
  readonly text: string;
  /** The target as written in the probe. */
  readonly written: string;
  /** Where it is written. */
  readonly loc: SourceLocation;
}

/** The type of a value: an integer, or a string read from the target. */
export type ValueType = CaptureValueType;

/** An output field of a checked probe. */
export interface CheckedField {
  readonly name: string;
  readonly value: Expression;
  readonly type: ValueType;
  readonly loc: SourceLocation;
}

/** A probe that passed the semantic passes (or whose errors are elsewhere in the file). */
export interface CheckedProbe {
  /** `probe<N>`, N counting probes from 1 in source order. */
  readonly id: string;
  readonly kind: ProbeKind;
  readonly targets: readonly CheckedTarget[];
  readonly fields: readonly CheckedField[];
  /** The `where` condition, if any. */
  readonly filter: Expression | undefined;
  /** The `format` string, if any. */
  readonly format: string | undefined;
  /** The `count by` keys when the probe counts instead of printing. */
  readonly count: { readonly by: readonly Expression[] } | undefined;
  /** Settled options: the probe's, else the file's, else the defaults. */
  readonly options: { readonly strategy: Strategy; readonly strlen: number };
  /** Where `strategy` was set (undefined when defaulted). */
  readonly strategyLoc: SourceLocation | undefined;
  readonly loc: SourceLocation;
}

/** The result of {@link checkProbeFile}. */
export interface SemanticResult {
  readonly probes: readonly CheckedProbe[];
  readonly diagnostics: readonly Diagnostic[];
}

interface Options {
  strategy?: { value: Strategy; loc: SourceLocation };
  strlen?: number;
}

/** Runs every semantic pass over `file`; diagnostics are in source order. */
export function checkProbeFile(file: ProbeFile): SemanticResult {
  const diagnostics: Diagnostic[] = [];
  const error = (message: string, location: SourceLocation, hints: string[] = []): void => {
    diagnostics.push({ severity: "error", message, location, hints });
  };

  // Pass 1: file options and aliases (aliases are visible from their `let` on, and may use earlier aliases).
  const aliases = new Map<string, { decl: LetDecl; text: string }>();
  const fileOptions: Options = {};
  const fileOptionSeen = new Map<string, OptionDecl>();
  const probes: CheckedProbe[] = [];
  let probeNumber = 0;
  for (const item of file.items) {
    if (item.type === "Option") {
      checkOption(item, fileOptions, fileOptionSeen, error);
    } else if (item.type === "Let") {
      const name = item.name.name;
      const previous = aliases.get(name);
      if (previous !== undefined) {
        error(`\`${name}\` is already defined`, item.name.loc, [`the first \`let ${name}\` is at line ${previous.decl.loc.start.line}; rename one of them`]);
        continue;
      }
      if (name === "host") {
        error("`host` is a scope and cannot be an alias", item.name.loc, ["choose another name"]);
        continue;
      }
      const expanded = expandTarget(item.target, aliases, error);
      aliases.set(name, { decl: item, text: expanded ?? item.target.text });
    } else {
      probeNumber++;
      probes.push(checkProbe(item, probeNumber, aliases, fileOptions, error));
    }
  }
  diagnostics.sort((a, b) => a.location.start.offset - b.location.start.offset);
  return { probes, diagnostics };
}

type Report = (message: string, location: SourceLocation, hints?: string[]) => void;

function checkOption(decl: OptionDecl, into: Options, seen: Map<string, OptionDecl>, error: Report): void {
  const name = decl.name.name;
  if (!(OPTION_NAMES as readonly string[]).includes(name)) {
    const near = nearest(name, OPTION_NAMES);
    error(`unknown option \`${name}\``, decl.name.loc, [near.length > 0 ? `did you mean \`${near[0]}\`?` : `the options are: ${OPTION_NAMES.join(", ")}`]);
    return;
  }
  const before = seen.get(name);
  if (before !== undefined) {
    error(`option \`${name}\` is set twice`, decl.name.loc, [`it is first set at line ${before.loc.start.line}`]);
    return;
  }
  seen.set(name, decl);
  const v = decl.value;
  if (name === "strategy") {
    const text = v.type === "Identifier" || v.type === "String" ? (v.type === "Identifier" ? v.name : v.value) : v.raw;
    if (!(STRATEGIES as readonly string[]).includes(text)) {
      const near = nearest(text, STRATEGIES);
      error(`unknown path strategy \`${text}\``, v.loc, [
        ...(near.length > 0 ? [`did you mean \`${near[0]}\`?`] : []),
        `the strategies are: ${STRATEGIES.join(", ")}`,
      ]);
      return;
    }
    into.strategy = { value: text as Strategy, loc: v.loc };
    return;
  }
  // strlen
  if (v.type !== "Integer") {
    error("`strlen` must be an integer", v.loc, [`e.g. \`option strlen = ${DEFAULT_STRLEN}\``]);
    return;
  }
  const n = BigInt(v.value);
  if (n < 1n || n > BigInt(DSL_LIMITS.maxStrlen)) {
    error(`\`strlen\` ${v.raw} is out of range`, v.loc, [`it must be between 1 and maxStrlen (${DSL_LIMITS.maxStrlen})`]);
    return;
  }
  into.strlen = Number(n);
}

/** The target's text with an alias scope expanded, or undefined after reporting an error. */
function expandTarget(target: Target, aliases: ReadonlyMap<string, { decl: LetDecl; text: string }>, error: Report): string | undefined {
  const alias = aliases.get(target.scope);
  if (alias === undefined) {
    if (!target.scope.includes("/") && target.scope !== "host") {
      const near = nearest(target.scope, aliases.keys());
      if (near.length > 0) {
        error(`unknown alias \`${target.scope}\``, scopeLoc(target), [
          `did you mean \`${near[0]}\`?`,
          `a container called ${target.scope} is written docker/${target.scope} (or podman/…, k8s/…)`,
        ]);
        return undefined;
      }
    }
    return target.text;
  }
  const aliasTarget = alias.decl.target;
  if (aliasTarget.object !== undefined && target.object !== undefined) {
    error(`alias \`${target.scope}\` is a whole target (\`${alias.text}\`), so it takes no \`:OBJECT\``, target.loc, [
      `write \`${target.scope}\` alone, or make the alias a scope: let ${target.scope} = ${alias.text.split(":")[0] ?? alias.text}`,
    ]);
    return undefined;
  }
  return alias.text + target.text.slice(target.scope.length);
}

function scopeLoc(target: Target): SourceLocation {
  const { start } = target.loc;
  return { start, end: { offset: start.offset + target.scope.length, line: start.line, column: start.column + target.scope.length } };
}

function checkProbe(
  probe: Probe,
  number: number,
  aliases: ReadonlyMap<string, { decl: LetDecl; text: string }>,
  fileOptions: Options,
  error: Report,
): CheckedProbe {
  const targets: CheckedTarget[] = [];
  for (const target of probe.targets) {
    const text = expandTarget(target, aliases, error);
    if (text === undefined) continue;
    // Cut as the CLI cuts it: an object holding ':' is quoted ("/memfd:libstapsdt:p").
    const parts = splitTarget(text);
    if (typeof parts === "string") {
      error(`target \`${target.text}\`: ${parts}`, target.loc, ["quote an object that holds ':': SCOPE:\"/memfd:NAME\":PROVIDER:NAME"]);
      continue;
    }
    const location = parts.location;
    if (parts.object === undefined || location === undefined) {
      error(`target \`${target.text}\` names no ${parts.object === undefined ? "object or location" : "location"}`, target.loc, [
        probe.kind === "usdt" ? "a usdt target is SCOPE:OBJECT:PROVIDER:NAME" : "a probe target is SCOPE:OBJECT:FUNCTION",
      ]);
      continue;
    }
    if (probe.kind === "usdt" && !location.includes(":")) {
      error(`a usdt probe needs a \`provider:name\` location, not \`${location}\``, target.loc, [
        `write ${text.slice(0, text.length - location.length)}PROVIDER:${location}, or use uprobe for a function`,
      ]);
      continue;
    }
    if (probe.kind !== "usdt" && location.includes(":")) {
      error(`\`${location}\` is a USDT site; a ${probe.kind} probe needs a function`, target.loc, ["use the usdt kind for provider:name"]);
      continue;
    }
    targets.push({ text, written: target.text, loc: target.loc });
  }
  if (probe.targets.length > DSL_LIMITS.maxTargets) {
    error(
      `the probe has ${probe.targets.length} targets, more than maxTargets (${DSL_LIMITS.maxTargets})`,
      probe.targets[DSL_LIMITS.maxTargets]?.loc ?? probe.loc,
      ["split it into several probes"],
    );
  }

  const options: Options = {};
  const seenOptions = new Map<string, OptionDecl>();
  const fields: CheckedField[] = [];
  const fieldByName = new Map<string, Field>();
  let where: WhereClause | undefined;
  let format: FormatClause | undefined;
  let count: CountClause | undefined;
  const once = <T extends { loc: SourceLocation }>(what: string, previous: T | undefined, item: T): boolean => {
    if (previous === undefined) return true;
    error(`a probe has at most one \`${what}\``, item.loc, [
      `the first is at line ${previous.loc.start.line}${what === "where" ? "; combine the conditions with &&" : ""}`,
    ]);
    return false;
  };
  for (const item of probe.body) {
    switch (item.type) {
      case "Option":
        checkOption(item, options, seenOptions, error);
        break;
      case "Where":
        if (once("where", where, item)) where = item;
        break;
      case "Format":
        if (once("format", format, item)) format = item;
        break;
      case "Count":
        if (once("count", count, item)) count = item;
        break;
      case "Field": {
        const previous = fieldByName.get(item.name.name);
        if (previous !== undefined) {
          error(`field \`${item.name.name}\` is defined twice`, item.name.loc, [`the first is at line ${previous.loc.start.line}; rename one of them`]);
          break;
        }
        fieldByName.set(item.name.name, item);
        fields.push({ name: item.name.name, value: item.value, type: "int", loc: item.loc });
        break;
      }
    }
  }
  const strlen = options.strlen ?? fileOptions.strlen ?? DEFAULT_STRLEN;
  const strategy = options.strategy ?? fileOptions.strategy;
  const ctx: TypeContext = { kind: probe.kind, error };

  const typedFields = fields.map((f) => ({ ...f, type: typeOf(f.value, ctx) ?? "int" }));
  if (fields.length > DSL_LIMITS.maxFields) {
    error(`the probe has ${fields.length} fields, more than maxFields (${DSL_LIMITS.maxFields})`, fields[DSL_LIMITS.maxFields]?.loc ?? probe.loc);
  }
  if (where !== undefined) {
    const t = typeOf(where.condition, ctx);
    if (t === "string")
      error("a filter must be an integer condition, not a string", where.condition.loc, [
        "strings cannot be compared in the kernel filter; compare an integer capture",
      ]);
  }
  if (count !== undefined) {
    for (const key of count.by) typeOf(key, ctx);
    if (count.by.length > DSL_LIMITS.maxCountKeys) {
      error(
        `\`count by\` has ${count.by.length} keys, more than maxCountKeys (${DSL_LIMITS.maxCountKeys})`,
        count.by[DSL_LIMITS.maxCountKeys]?.loc ?? count.loc,
      );
    }
    for (const f of fields)
      error(`a probe that counts prints no fields`, f.loc, [`remove the field, or drop \`count\` (line ${count.loc.start.line}) to print each event`]);
    if (format !== undefined) error("a probe that counts has no `format`", format.loc, [`remove it, or drop \`count\` (line ${count.loc.start.line})`]);
  } else if (fields.length === 0) {
    error("the probe captures nothing", probe.loc, ["add a field (`pid`, `rc = retval`), or `count` to count events"]);
  }
  if (format !== undefined)
    checkFormat(
      format,
      fields.map((f) => f.name),
      error,
    );

  return {
    id: `probe${number}`,
    kind: probe.kind,
    targets,
    fields: typedFields,
    filter: where?.condition,
    format: format?.format.value,
    count: count === undefined ? undefined : { by: count.by },
    options: { strategy: strategy?.value ?? DEFAULT_STRATEGY, strlen },
    strategyLoc: strategy?.loc,
    loc: probe.loc,
  };
}

interface TypeContext {
  readonly kind: ProbeKind;
  readonly error: Report;
}

const ARG = /^arg(\d+)$/;

/** The type of `e`, reporting what is wrong inside it; undefined when it already failed. */
function typeOf(e: Expression, ctx: TypeContext): ValueType | undefined {
  switch (e.type) {
    case "Integer":
      return "int";
    case "String":
      ctx.error("a string literal is not a value a probe can capture", e.loc, ["strings come from the target: str(argN)"]);
      return undefined;
    case "Identifier":
      return captureType(e, ctx);
    case "Cast": {
      const t = typeOf(e.expression, ctx);
      if (t === "string") ctx.error(`a string cannot be read as ${e.to}`, e.loc, ["cast the argument itself: argN as " + e.to]);
      return t === undefined ? undefined : "int";
    }
    case "Unary": {
      const t = typeOf(e.operand, ctx);
      if (t === "string") ctx.error(`\`${e.operator}\` needs an integer, not a string`, e.operand.loc);
      return t === undefined ? undefined : "int";
    }
    case "Binary": {
      const l = typeOf(e.left, ctx);
      const r = typeOf(e.right, ctx);
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
  const near = nearest(name, [...CAPTURES, "arg0", "arg1", "arg2", "arg3", "arg4", "arg5"]);
  ctx.error(`unknown capture \`${name}\``, id.loc, [
    near.length > 0 ? `did you mean \`${near[0]}\`?` : `the captures are: ${CAPTURES.join(", ")}, argN, str(argN[, maxlen]), gostr(argN[, maxlen])`,
  ]);
  return undefined;
}

/** The string-reading functions: `str(argN[, maxlen])` (a C string at an address) and `gostr(argN[, maxlen])` (a Go string in two argument slots). */
const FUNCTIONS = ["str", "gostr"];

function callType(callee: Identifier, args: readonly Expression[], loc: SourceLocation, ctx: TypeContext): ValueType | undefined {
  if (!FUNCTIONS.includes(callee.name)) {
    const near = nearest(callee.name, FUNCTIONS);
    ctx.error(`unknown function \`${callee.name}\``, callee.loc, [
      near.length > 0 ? `did you mean \`${near[0]}\`?` : "the functions are str(argN[, maxlen]) and gostr(argN[, maxlen])",
    ]);
    return undefined;
  }
  if (callee.name === "gostr") return goStringType(args, loc, ctx);
  const [source, max, ...extra] = args;
  if (source === undefined || extra.length > 0) {
    ctx.error(`\`str\` takes 1 or 2 arguments, not ${args.length}`, loc, ["str(argN) or str(argN, maxlen)"]);
    return undefined;
  }
  const t = typeOf(source, ctx);
  if (t === "string") ctx.error("`str` reads a string at an address; this is already a string", source.loc);
  checkMaxLen("str", max, ctx);
  return t === undefined ? undefined : "string";
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

/** `{name}` references in a format; `{{` and `}}` are literal braces. */
export function formatReferences(format: string): { name: string; index: number }[] {
  const out: { name: string; index: number }[] = [];
  const re = /\{\{|\}\}|\{([^{}]*)\}/g;
  for (let m = re.exec(format); m !== null; m = re.exec(format)) {
    if (m[1] !== undefined) out.push({ name: m[1].trim(), index: m.index });
  }
  return out;
}

function checkFormat(clause: FormatClause, fieldNames: readonly string[], error: Report): void {
  const lit = clause.format;
  const value = lit.value;
  // Map a value index back to the source when the string has no escapes (the usual case); else point at the whole string.
  const raw = lit.loc.end.offset - lit.loc.start.offset - 2 === value.length && lit.loc.start.line === lit.loc.end.line;
  for (const ref of formatReferences(value)) {
    if (fieldNames.includes(ref.name)) continue;
    const width = ref.name.length + 2;
    const location: SourceLocation = raw
      ? {
          start: { offset: lit.loc.start.offset + 1 + ref.index, line: lit.loc.start.line, column: lit.loc.start.column + 1 + ref.index },
          end: { offset: lit.loc.start.offset + 1 + ref.index + width, line: lit.loc.start.line, column: lit.loc.start.column + 1 + ref.index + width },
        }
      : lit.loc;
    const near = nearest(ref.name, fieldNames);
    error(`format refers to \`{${ref.name}}\`, which is not a field`, location, [
      near.length > 0 ? `did you mean \`{${near[0]}}\`?` : fieldNames.length > 0 ? `the fields are: ${fieldNames.join(", ")}` : "define it as a field first",
    ]);
  }
}
