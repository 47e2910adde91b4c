/**
 * The semantic passes over a parsed probe file: names (aliases, captures,
 * fields, options), kinds and types, limits. Each pass appends
 * {@link Diagnostic}s; every problem of the file is reported at once, each
 * at its own location, with a hint where one helps.
 *
 * The result is a list of {@link CheckedProbe}s: aliases expanded, options
 * settled (probe over file over default), fields, filter, format and
 * aggregations in place, ready for target resolution
 * (src/compile/compile.ts), and the file's aggregation settings
 * (`interval`, `option mapkeys`).
 *
 * Expression types are src/dsl/expr-types.ts's business, aggregation
 * clauses src/dsl/aggregate-check.ts's.
 *
 * Pure: no I/O, no `node:*`; imports only the AST, diagnostics, suggest,
 * and the closed sets of src/plan (captures, strategies, aggregations:
 * pure data defined once there, so that the language and the plan cannot
 * disagree).
 */
import { AGGREGATE_LIMITS, PATH_STRATEGY_NAMES, type PathStrategy, type PlanAggregation } from "../plan/index.js";
import { nearest } from "../suggest.js";
import { checkAggregates, type CheckedAggregate } from "./aggregate-check.js";
import { aggregateText } from "./expr-text.js";
import { typeOf, valueTypeOf, type Report, type TypeContext, type ValueType } from "./expr-types.js";
import { DSL_LIMITS } from "./limits.js";
import { splitTarget } from "./target-spec.js";
import type {
  AggregateClause,
  Expression,
  Field,
  FormatClause,
  IntervalDecl,
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

export { DSL_LIMITS };
export { CAPTURES, type ValueType } from "./expr-types.js";
export type { CheckedAggregate } from "./aggregate-check.js";

/** The string length used when neither the file nor the probe sets `strlen`. */
export const DEFAULT_STRLEN = 128;
/** The path strategy used when nothing sets one. */
export const DEFAULT_STRATEGY: Strategy = "fd";

const OPTION_NAMES = ["strategy", "strlen", "mapkeys"] as const;
/** Options that hold for the whole file, so a probe body may not set them. */
const FILE_ONLY_OPTIONS: readonly string[] = ["mapkeys"];

/** A target of a checked probe: as written, and with its alias expanded. */
export interface CheckedTarget {
  /** `SCOPE:OBJECT[:LOCATION]` with any alias expanded: what the resolver is given. */
  readonly text: string;
  /** The target as written in the probe. */
  readonly written: string;
  /** Where it is written. */
  readonly loc: SourceLocation;
}

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
  /** The aggregations, in source order; non-empty when the probe aggregates instead of printing (then it has no fields and no format). */
  readonly aggregates: readonly CheckedAggregate[];
  /** Settled options: the probe's, else the file's, else the defaults. */
  readonly options: { readonly strategy: Strategy; readonly strlen: number };
  /** Where `strategy` was set (undefined when defaulted). */
  readonly strategyLoc: SourceLocation | undefined;
  readonly loc: SourceLocation;
}

/** The result of {@link checkProbeFile}. */
export interface SemanticResult {
  readonly probes: readonly CheckedProbe[];
  /** `interval` and `option mapkeys` as the file sets them (the other one defaulted); undefined when it sets neither. */
  readonly aggregation: PlanAggregation | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

interface Options {
  strategy?: { value: Strategy; loc: SourceLocation };
  strlen?: number;
  mapKeys?: number;
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
  let interval: { decl: IntervalDecl; ms: number | undefined } | undefined;
  for (const item of file.items) {
    if (item.type === "Option") {
      checkOption(item, "file", fileOptions, fileOptionSeen, error);
    } else if (item.type === "Interval") {
      if (interval !== undefined) {
        error("`interval` is set twice", item.loc, [`it is first set at line ${interval.decl.loc.start.line}`]);
        continue;
      }
      interval = { decl: item, ms: intervalMs(item, error) };
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
  const aggregation =
    interval === undefined && fileOptions.mapKeys === undefined
      ? undefined
      : { intervalMs: interval?.ms ?? null, mapKeys: fileOptions.mapKeys ?? AGGREGATE_LIMITS.defaultMapKeys };
  if (aggregation !== undefined && probes.length > 0 && probes.every((p) => p.aggregates.length === 0)) {
    const setting = interval?.decl ?? fileOptionSeen.get("mapkeys");
    if (setting !== undefined)
      diagnostics.push({
        severity: "warning",
        message: `\`${setting.type === "Interval" ? "interval" : "option mapkeys"}\` has no effect: no probe of the file aggregates`,
        location: setting.loc,
        hints: ["it applies to aggregations such as `count by comm` or `hist(latency)`"],
      });
  }
  diagnostics.sort((a, b) => a.location.start.offset - b.location.start.offset);
  return { probes, aggregation, diagnostics };
}

/** `interval SECONDS` in milliseconds, or undefined after reporting a bad value. */
function intervalMs(decl: IntervalDecl, error: Report): number | undefined {
  const n = BigInt(decl.seconds.value);
  if (n < 1n || n > BigInt(DSL_LIMITS.maxIntervalSeconds)) {
    error(`\`interval\` ${decl.seconds.raw} is out of range`, decl.seconds.loc, [
      `it is whole seconds, between 1 and maxIntervalSeconds (${DSL_LIMITS.maxIntervalSeconds})`,
    ]);
    return undefined;
  }
  return Number(n) * 1000;
}

function checkOption(decl: OptionDecl, level: "file" | "probe", into: Options, seen: Map<string, OptionDecl>, error: Report): void {
  const name = decl.name.name;
  if (!(OPTION_NAMES as readonly string[]).includes(name)) {
    const near = nearest(name, OPTION_NAMES);
    error(`unknown option \`${name}\``, decl.name.loc, [near.length > 0 ? `did you mean \`${near[0]}\`?` : `the options are: ${OPTION_NAMES.join(", ")}`]);
    return;
  }
  if (level === "probe" && FILE_ONLY_OPTIONS.includes(name)) {
    error(`\`${name}\` is a file-wide option, not a probe's`, decl.name.loc, [
      `move \`option ${name} = …\` out of the probe body: one aggregation map serves every probe of the file`,
    ]);
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
  if (name === "mapkeys") {
    if (v.type !== "Integer") {
      error("`mapkeys` must be an integer", v.loc, [`e.g. \`option mapkeys = ${AGGREGATE_LIMITS.defaultMapKeys}\``]);
      return;
    }
    const keys = BigInt(v.value);
    if (keys < 1n || keys > BigInt(AGGREGATE_LIMITS.maxMapKeys)) {
      error(`\`mapkeys\` ${v.raw} is out of range`, v.loc, [`it must be between 1 and maxMapKeys (${AGGREGATE_LIMITS.maxMapKeys})`]);
      return;
    }
    into.mapKeys = Number(keys);
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
  const aggregateClauses: AggregateClause[] = [];
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
        checkOption(item, "probe", options, seenOptions, error);
        break;
      case "Where":
        if (once("where", where, item)) where = item;
        break;
      case "Format":
        if (once("format", format, item)) format = item;
        break;
      case "Aggregate":
        aggregateClauses.push(item);
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
    const t = valueTypeOf(where.condition, ctx, "a `where` filter");
    if (t === "string")
      error("a filter must be an integer condition, not a string", where.condition.loc, [
        "strings cannot be compared in the kernel filter; compare an integer capture",
      ]);
  }
  const aggregates = checkAggregates(aggregateClauses, ctx);
  const [firstAggregate] = aggregateClauses;
  if (firstAggregate !== undefined) {
    // An aggregating probe's hits stay in the kernel: there is no event to print a field or a format of.
    const drop =
      aggregateClauses.length === 1
        ? `drop \`${aggregateText(firstAggregate)}\` (line ${firstAggregate.loc.start.line})`
        : `drop its ${aggregateClauses.length} aggregations (from line ${firstAggregate.loc.start.line})`;
    for (const f of fields) error("a probe that aggregates prints no fields", f.loc, [`remove the field, or ${drop} to print each event`]);
    if (format !== undefined) error("a probe that aggregates has no `format`", format.loc, [`remove it, or ${drop} to print each event`]);
  } else if (fields.length === 0) {
    error("the probe captures nothing", probe.loc, ["add a field (`pid`, `rc = retval`), or an aggregation (`count`, `hist(latency) by comm`)"]);
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
    aggregates,
    options: { strategy: strategy?.value ?? DEFAULT_STRATEGY, strlen },
    strategyLoc: strategy?.loc,
    loc: probe.loc,
  };
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
