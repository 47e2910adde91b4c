// The probe language: see grammar/README.md for a tour with examples.
//
// Only token-level rules are named ("name", "target", "integer", `{`-style
// keywords): a named rule reports its name instead of what failed inside it,
// so naming a whole statement would hide the real mistake. Whitespace and
// comments are filtered out of "expected …" lists by src/dsl/parse.ts.
//
// Build: `npm run build` runs `peggy --format es` into
// src/dsl/generated/parser.js (not checked in).

{{
  function span(l) {
    return { start: l.start, end: l.end };
  }
  function binary(head, tail) {
    return tail.reduce(
      (left, [operator, right]) => ({
        type: "Binary",
        operator,
        left,
        right,
        loc: { start: left.loc.start, end: right.loc.end },
      }),
      head,
    );
  }
}}

File
  = _ items:(@Item _)* EOF { return { type: "File", items, loc: span(location()) }; }

Item
  = OptionDecl
  / IntervalDecl
  / LetDecl
  / Probe

// ---- statements ----------------------------------------------------------

OptionDecl
  = KwOption _ name:Name _ "=" _ value:OptionValue
    { return { type: "Option", name, value, loc: span(location()) }; }

OptionValue
  = Integer
  / String
  / Name

// `interval SECONDS`: report the aggregations every SECONDS and reset them.
// Not a reserved word: it only starts a statement at the top level.
IntervalDecl
  = KwInterval _ seconds:Integer
    { return { type: "Interval", seconds, loc: span(location()) }; }

LetDecl
  = KwLet _ name:Name _ "=" _ target:Target
    { return { type: "Let", name, target, loc: span(location()) }; }

Probe
  = kind:ProbeKind _ targets:TargetList _ "{" _ body:(@BodyItem _)* "}"
    { return { type: "Probe", kind, targets, body, loc: span(location()) }; }

TargetList
  = head:Target tail:(_ "," _ @Target)* { return [head, ...tail]; }

// SCOPE[:OBJECT[:LOCATION]], split like splitTarget (src/dsl/target-spec.ts):
// SCOPE never contains ':'; an OBJECT that does is quoted ("/memfd:libstapsdt:p",
// PITFALLS 32), and the AST holds it without the quotes; LOCATION is the rest
// (USDT provider:name). `*` and `?` make the object a glob over mapped objects.
// A scope segment may be quoted the same way, for a label selector holding
// ',', spaces or parentheses: k8s/shop/"tier in (api,worker)"/nginx (issue 14).
Target "target"
  = scope:$(ScopeChar / '"' QuotedObjectChar* '"')+ object:(":" @Object)? where:(":" @$LocationChar+)?
    { return { type: "Target", text: text(), scope, object: object ?? undefined, location: where ?? undefined, loc: span(location()) }; }

Object
  = $ObjectChar+
  / '"' @$QuotedObjectChar+ '"'

// `= ! < > *` for unquoted label selectors (docker/app=web, k8s/shop/!canary, docker/*).
ScopeChar = [A-Za-z0-9_.\-/=!<>*]
ObjectChar = [A-Za-z0-9_.+\-/*?]
QuotedObjectChar = [^"\\\n]
// Go prints names with a package path, receivers and instantiations: net/http.(*Server).Serve, main.Map[...].Get.
LocationChar = [A-Za-z0-9_.*?@+:\-\[\]()/]

BodyItem
  = OptionDecl
  / WhereClause
  / FormatClause
  / AggregateClause
  / Field

WhereClause
  = KwWhere _ condition:Expression
    { return { type: "Where", condition, loc: span(location()) }; }

FormatClause
  = KwFormat _ format:String
    { return { type: "Format", format, loc: span(location()) }; }

// `count [by …]`, and any `NAME(ARGS) [by …]` written alone in a body: an
// aggregation (`hist(latency) by comm`). The semantic pass checks NAME against
// src/plan/aggregates.ts, so `hsit(latency)` gets a did-you-mean, and `min`,
// `max`, `sum`, … stay free as field names (`min = arg0`). `ustack(N)` alone
// is the field `ustack`, not an aggregation.
AggregateClause
  = fn:CountName args:("(" _ @ExpressionList? _ ")")? by:ByKeys?
    { return { type: "Aggregate", fn, args: args ?? [], by: by ?? [], loc: span(location()) }; }
  / !(KwUstack "(") fn:Name "(" _ args:ExpressionList? _ ")" by:ByKeys?
    { return { type: "Aggregate", fn, args: args ?? [], by: by ?? [], loc: span(location()) }; }

ByKeys
  = _ KwBy _ @ExpressionList

CountName
  = KwCount { return { type: "Identifier", name: "count", loc: span(location()) }; }

Field
  = name:Name _ "=" !"=" _ value:Expression
    { return { type: "Field", name, value, loc: span(location()) }; }
  / value:UstackCall
    { return { type: "Field", name: value.callee, value, loc: span(location()) }; }
  / name:Name
    { return { type: "Field", name, value: name, loc: span(location()) }; }

// `ustack(16)` alone: the field `ustack` (as a bare `ustack` is).
UstackCall
  = callee:UstackName "(" _ args:ExpressionList? _ ")"
    { return { type: "Call", callee, args: args ?? [], loc: span(location()) }; }

UstackName
  = KwUstack { return { type: "Identifier", name: "ustack", loc: span(location()) }; }

// ---- expressions (Rust's precedence: `a & 1 == 0` is `(a & 1) == 0`) ------

Expression
  = OrExpression

ExpressionList
  = head:Expression tail:(_ "," _ @Expression)* { return [head, ...tail]; }

OrExpression
  = head:AndExpression tail:(_ @OrOp _ @AndExpression)* { return binary(head, tail); }

AndExpression
  = head:Comparison tail:(_ @AndOp _ @Comparison)* { return binary(head, tail); }

// Comparisons do not chain: `a < b < c` is an error.
Comparison
  = left:BitOr tail:(_ @CompareOp _ @BitOr)? { return tail === null ? left : binary(left, [tail]); }

BitOr
  = head:BitXor tail:(_ @BitOrOp _ @BitXor)* { return binary(head, tail); }

BitXor
  = head:BitAnd tail:(_ @BitXorOp _ @BitAnd)* { return binary(head, tail); }

BitAnd
  = head:Shift tail:(_ @BitAndOp _ @Shift)* { return binary(head, tail); }

Shift
  = head:Additive tail:(_ @ShiftOp _ @Additive)* { return binary(head, tail); }

Additive
  = head:Multiplicative tail:(_ @AddOp _ @Multiplicative)* { return binary(head, tail); }

Multiplicative
  = head:Unary tail:(_ @MulOp _ @Unary)* { return binary(head, tail); }

Unary
  = operator:UnaryOp _ operand:Unary
    { return { type: "Unary", operator, operand, loc: span(location()) }; }
  / Cast

Cast
  = head:Primary tail:(_ KwAs _ @IntegerType)*
    {
      return tail.reduce(
        (expression, to) => ({ type: "Cast", expression, to, loc: span(location()) }),
        head,
      );
    }

Primary
  = Call
  / Name
  / Integer
  / String
  / "(" _ @Expression _ ")"

// No space before `(`: `pid (…)` is not a call, and "expected `(`" after every name would be noise.
Call
  = callee:Name "(" _ args:ExpressionList? _ ")"
    { return { type: "Call", callee, args: args ?? [], loc: span(location()) }; }

OrOp "operator" = "||"
AndOp "operator" = "&&"
CompareOp "operator" = "==" / "!=" / "<=" / ">=" / @"<" !"<" / @">" !">"
BitOrOp "operator" = @"|" !"|"
BitXorOp "operator" = "^"
BitAndOp "operator" = @"&" !"&"
ShiftOp "operator" = "<<" / ">>"
AddOp "operator" = "+" / "-"
MulOp "operator" = "*" / "/" / "%"
UnaryOp "unary operator" = @"!" !"=" / "-" / "~"

// ---- tokens --------------------------------------------------------------

ProbeKind "probe kind"
  = @("uprobe+ret" / "uretprobe" / "uprobe" / "usdt") !IdentPart

IntegerType "integer type"
  = @("i8" / "i16" / "i32" / "i64" / "u8" / "u16" / "u32" / "u64") !IdentPart

Name "name"
  = !Keyword [A-Za-z_] IdentPart*
    { return { type: "Identifier", name: text(), loc: span(location()) }; }

IdentPart = [A-Za-z0-9_]

Keyword
  = ("let" / "option" / "where" / "format" / "count" / "by" / "as" / "uprobe" / "uretprobe" / "usdt") !IdentPart

Integer "integer"
  = ("0x" [0-9A-Fa-f]+ / [0-9]+) !IdentPart
    { return { type: "Integer", raw: text(), value: BigInt(text()).toString(), loc: span(location()) }; }

String "string"
  = '"' chars:StringChar* '"'
    { return { type: "String", value: chars.join(""), loc: span(location()) }; }

StringChar
  = [^"\\\n]
  / "\\" @Escape

Escape
  = '"' / "\\" / "n" { return "\n"; } / "t" { return "\t"; }

KwLet "`let`" = "let" !IdentPart
KwOption "`option`" = "option" !IdentPart
KwWhere "`where`" = "where" !IdentPart
KwFormat "`format`" = "format" !IdentPart
KwCount "`count`" = "count" !IdentPart
KwInterval "`interval`" = "interval" !IdentPart
// Named "name": where a body item may start, `ustack` is one more name, not a word to list apart.
KwUstack "name" = "ustack" !IdentPart
KwBy "`by`" = "by" !IdentPart
KwAs "`as`" = "as" !IdentPart

// Whitespace and `#` comments; named so they can be dropped from "expected …".
_ "whitespace"
  = ([ \t\r\n] / Comment)*

Comment = "#" [^\n]*

EOF "end of file" = !.
