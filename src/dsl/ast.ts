/**
 * The probe-file AST, as produced by `grammar/probe.pegjs`.
 *
 * Every node carries `loc`, its source span (1-based line and column,
 * 0-based offset, end exclusive), so that later passes (name resolution,
 * types, limits) can point diagnostics at the exact text. Pure data: no
 * classes, JSON-serialisable (the parser goldens are this JSON).
 */
import type { ProbeKind } from "../plan/kinds.js";

/** A position in the source: 0-based `offset`, 1-based `line` and `column`. */
export interface Position {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

/** A half-open source span `[start, end)`. */
export interface SourceLocation {
  readonly start: Position;
  readonly end: Position;
}

/** A whole `.probe` file. */
export interface ProbeFile {
  readonly type: "File";
  /** File-wide `option`s, `interval`s, `let` aliases and probes, in source order. */
  readonly items: readonly FileItem[];
  readonly loc: SourceLocation;
}

/** What may appear at the top level of a file. */
export type FileItem = OptionDecl | IntervalDecl | LetDecl | Probe;

/** `interval SECONDS`: report every aggregation of the file this often, and reset it (issue 15). */
export interface IntervalDecl {
  readonly type: "Interval";
  readonly seconds: IntegerLiteral;
  readonly loc: SourceLocation;
}

/** `option NAME = VALUE`, at file level or inside a probe body. */
export interface OptionDecl {
  readonly type: "Option";
  readonly name: Identifier;
  readonly value: OptionValue;
  readonly loc: SourceLocation;
}

/** An option value: a word (`layer`), an integer (`64`) or a string. */
export type OptionValue = Identifier | IntegerLiteral | StringLiteral;

/** `let NAME = TARGET`: an alias for a scope (`docker/zookeeper`) or a whole target. */
export interface LetDecl {
  readonly type: "Let";
  readonly name: Identifier;
  readonly target: Target;
  readonly loc: SourceLocation;
}

/** The four probe kinds (defined in src/plan/kinds.ts); `uprobe+ret` pairs entry and return (the return side sees the entry's args and `latency`). */
export type { ProbeKind };

/** `KIND TARGET[, TARGET…] { BODY }`. */
export interface Probe {
  readonly type: "Probe";
  readonly kind: ProbeKind;
  readonly targets: readonly Target[];
  readonly body: readonly BodyItem[];
  readonly loc: SourceLocation;
}

/**
 * A target, `SCOPE[:OBJECT[:LOCATION]]`, split exactly as `parseTargetSpec`
 * (src/dsl/target-spec.ts) splits it: SCOPE never contains `:`, an OBJECT
 * that does is quoted in the text (`"/memfd:libstapsdt:p"`) and held here
 * without its quotes, LOCATION is everything after the OBJECT's `:` (a USDT
 * `provider:name`). SCOPE may also be a `let` alias; resolution happens in
 * a later pass.
 */
export interface Target {
  readonly type: "Target";
  /** The target as written, e.g. `docker/web:libc:getaddrinfo`. */
  readonly text: string;
  readonly scope: string;
  /** Unquoted: `/memfd:libstapsdt:p` for the text `"/memfd:libstapsdt:p"`. */
  readonly object: string | undefined;
  readonly location: string | undefined;
  readonly loc: SourceLocation;
}

/** What may appear inside a probe body. */
export type BodyItem = OptionDecl | WhereClause | FormatClause | AggregateClause | Field;

/** `where EXPR`: the filter, evaluated in the kernel. */
export interface WhereClause {
  readonly type: "Where";
  readonly condition: Expression;
  readonly loc: SourceLocation;
}

/** `format "…{field}…"`: how an event is printed; `{name}` refers to a field. */
export interface FormatClause {
  readonly type: "Format";
  readonly format: StringLiteral;
  readonly loc: SourceLocation;
}

/**
 * An aggregation instead of printing each event, optionally per key:
 * `count [by EXPR, …]`, or `FN(ARGS) [by EXPR, …]` (`hist(latency) by comm`,
 * `lhist(arg0, 0, 100, 10)`). The parser takes any name as `fn`; the
 * semantic pass checks it against src/plan/aggregates.ts.
 */
export interface AggregateClause {
  readonly type: "Aggregate";
  /** `count`, `hist`, … as written (`count` also for `count()`). */
  readonly fn: Identifier;
  /** Inside the parentheses; empty for `count`. */
  readonly args: readonly Expression[];
  /** The `by` keys, in order; empty without `by`. */
  readonly by: readonly Expression[];
  readonly loc: SourceLocation;
}

/** An output field: `NAME = EXPR`, or a bare capture (`pid` is `pid = pid`). */
export interface Field {
  readonly type: "Field";
  readonly name: Identifier;
  readonly value: Expression;
  readonly loc: SourceLocation;
}

/** Expressions, for fields and filters. */
export type Expression = BinaryExpression | UnaryExpression | CastExpression | CallExpression | Identifier | IntegerLiteral | StringLiteral;

/** Binary operators, loosest first: `||`; `&&`; comparisons; `|`; `^`; `&`; shifts; `+ -`; `* / %` (Rust's order: `a & 1 == 0` is `(a & 1) == 0`). */
export type BinaryOperator = "||" | "&&" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "|" | "^" | "&" | "<<" | ">>" | "+" | "-" | "*" | "/" | "%";

export interface BinaryExpression {
  readonly type: "Binary";
  readonly operator: BinaryOperator;
  readonly left: Expression;
  readonly right: Expression;
  readonly loc: SourceLocation;
}

export interface UnaryExpression {
  readonly type: "Unary";
  readonly operator: "!" | "-" | "~";
  readonly operand: Expression;
  readonly loc: SourceLocation;
}

/** The integer types an argument may be read as. */
export type IntegerType = "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64";

/** `EXPR as TYPE`, e.g. `arg1 as i32`. */
export interface CastExpression {
  readonly type: "Cast";
  readonly expression: Expression;
  readonly to: IntegerType;
  readonly loc: SourceLocation;
}

/** `NAME(ARGS)`, e.g. `str(arg0, 64)`, `ustack(16)`. */
export interface CallExpression {
  readonly type: "Call";
  readonly callee: Identifier;
  readonly args: readonly Expression[];
  readonly loc: SourceLocation;
}

/** A name: a capture (`pid`, `arg0`, `retval`, `latency`, …), `ustack`, a field, an option name. */
export interface Identifier {
  readonly type: "Identifier";
  readonly name: string;
  readonly loc: SourceLocation;
}

/** An integer literal, decimal or `0x` hex; `value` is exact. */
export interface IntegerLiteral {
  readonly type: "Integer";
  /** The digits as written, e.g. `0x10`. */
  readonly raw: string;
  /** The value as a decimal string (a bigint does not survive JSON). */
  readonly value: string;
  readonly loc: SourceLocation;
}

/** A double-quoted string literal with `\"`, `\\`, `\n`, `\t` escapes. */
export interface StringLiteral {
  readonly type: "String";
  readonly value: string;
  readonly loc: SourceLocation;
}
