/**
 * Expressions and literals of Itanium mangled names (template arguments
 * `X…E`, `L…E`, `decltype`, array bounds), as far as real binaries use
 * them: operators, calls, casts, sizeof, function parameters, qualified
 * ("unresolved") names and literals. Forms c++filt prints in ways not
 * checked here (new, typeid, braced initialisers, sizeof...) throw FAIL:
 * the caller falls back rather than guess.
 */
import { ENCODING, EXPRESSION, FAIL, NAME, NESTED, Node, PACK_EXPANSION, TEMPLATE } from "./itanium-ast.js";
import type { Parser } from "./itanium-parse.js";
import { OPERATORS } from "./itanium-tables.js";

/** EXPRESSION forms (`Node.n`); the printer writes each (itanium-print.ts). */
export const TEXT = 0;
/** `s` then operand 0, parenthesised unless simple (`!x`, `-(a+b)`); `&A::f` for a member function's address. */
export const PREFIX = 1;
/** Operand 0, `s`, operand 1; wrapped in parentheses when `s` is `>`. */
export const BINARY = 2;
/** `a?b : c`. */
export const TERNARY = 3;
/** Operand 0 then `(`operands 1…`)`. */
export const CALL = 4;
/** `(type)operand` or `(type)(a, b)` (`s` is `1` for the list form). */
export const C_CAST = 5;
/** `s<type>(operand)`. */
export const NAMED_CAST = 6;
/** Operand 0 then `s` (`x++`, `x...`). */
export const POSTFIX = 7;
/** Operand 0 `[` operand 1 `]`. */
export const INDEX = 8;
/** A template parameter used as an operand: printed as its argument, parenthesised as a subexpression. */
export const PARAM = 9;
/** `s` then `(`type`)` (`sizeof (int)`). */
export const TYPE_OPERAND = 10;
/** `{parm#N}` or `this`: simple. */
export const FUNCTION_PARAM = 11;

/** `(type)value`: a literal of a type printed with a cast (`(char)97`, `(E)3`). */
export const LITERAL_CAST = 12;
/** A lambda's closure type, `{lambda(params)#N}`: parameters `list`, `s` the `#N}` (made by the parser's unnamed-type rule). */
export const LAMBDA_FORM = 13;
/** `decltype (operand 0)` (made by the parser's `Dt`/`DT` type rule). */
export const DECLTYPE_FORM = 14;

/** Literal types printed with a suffix rather than a cast (c++filt: `5u`, `5l`, `5ull`). */
const LITERAL_SUFFIX: Record<string, string> = { i: "", j: "u", l: "l", m: "ul", x: "ll", y: "ull" };

const CASTS: Record<string, string> = { sc: "static_cast", dc: "dynamic_cast", cc: "const_cast", rc: "reinterpret_cast" };

/** The expression half of a parser: `parse` for <expression>, `literal` for <expr-primary>. */
export function expressionParser(p: Parser): { parse(): Node; literal(): Node } {
  const expr = (form: number, s: string, operands: Node[]): Node => new Node(EXPRESSION, null, null, s, operands, form);

  const list = (): Node[] => {
    const out: Node[] = [];
    while (!p.eat(0x45 /* E */)) out.push(parse());
    return out;
  };

  /** <simple-id>: a source name with its template arguments. */
  const simpleId = (): Node => {
    const n = p.sourceName();
    return p.peek() === 0x49 ? new Node(TEMPLATE, n, null, "", p.templateArgs(), 0) : n;
  };

  /** <base-unresolved-name>: a simple-id, `on` operator name, or `dn` destructor (not checked: FAIL). */
  const baseUnresolved = (): Node => {
    if (p.peek() === 0x6f && p.peekAt(1) === 0x6e) {
      p.i += 2;
      const op = OPERATORS[p.s.slice(p.i, p.i + 2)];
      if (op === undefined) throw FAIL;
      p.i += 2;
      // Not a plain name to c++filt: parenthesised as an operand (`x.(operator+)`).
      return new Node(EXPRESSION, null, null, `operator${op[0]}`, null, TEXT);
    }
    if (p.peek() >= 0x30 && p.peek() <= 0x39) return simpleId();
    throw FAIL;
  };

  /** sr …: a qualified name whose scope depends on template parameters. */
  const unresolvedQualified = (): Node => {
    let scope: Node;
    if (p.peek() === 0x4e /* N */) {
      // c++filt reads `srN … E` as one nested-name type: its prefixes are substitution candidates as in any type.
      scope = p.type();
    } else if (p.peek() >= 0x30 && p.peek() <= 0x39) {
      scope = simpleId();
      while (!p.eat(0x45 /* E */)) scope = new Node(NESTED, scope, simpleId(), "", null, 0);
    } else {
      scope = p.type();
    }
    // c++filt qualifies the name, then applies its template arguments: `(std::declval<T>)()` is not a plain name.
    if (p.peek() >= 0x30 && p.peek() <= 0x39) {
      const qualified = new Node(NESTED, scope, p.sourceName(), "", null, 0);
      return p.peek() === 0x49 ? new Node(TEMPLATE, qualified, null, "", p.templateArgs(), 0) : qualified;
    }
    return new Node(NESTED, scope, baseUnresolved(), "", null, 0);
  };

  const parse = (): Node => {
    p.enter();
    const c = p.peek();
    let e: Node;
    if (c === 0x4c /* L */) e = literal();
    else if (c === 0x54 /* T */) e = expr(PARAM, "", [p.templateParam()]);
    else if (c >= 0x30 && c <= 0x39) e = simpleId();
    else {
      const code = p.s.slice(p.i, p.i + 2);
      p.i += 2;
      e = operation(code);
    }
    p.leave();
    return e;
  };

  const operation = (code: string): Node => {
    switch (code) {
      case "fp": {
        if (p.eat(0x54 /* T */)) throw FAIL;
        while (p.peek() === 0x72 || p.peek() === 0x56 || p.peek() === 0x4b) p.i++;
        const n = p.peek() === 0x5f ? 1 : p.count() + 2;
        p.expect(0x5f /* _ */);
        return expr(FUNCTION_PARAM, `{parm#${n}}`, []);
      }
      case "sr":
        return unresolvedQualified();
      case "cl": {
        const operands = list();
        if (operands.length === 0) throw FAIL;
        return expr(CALL, "", operands);
      }
      case "cv": {
        const type = p.type();
        if (p.eat(0x5f /* _ */)) return expr(C_CAST, "1", [type, ...list()]);
        return expr(C_CAST, "", [type, parse()]);
      }
      case "sc":
      case "dc":
      case "cc":
      case "rc": {
        const type = p.type();
        return expr(NAMED_CAST, CASTS[code] as string, [type, parse()]);
      }
      case "st":
      case "at":
        return expr(TYPE_OPERAND, code === "st" ? "sizeof " : "alignof ", [p.type()]);
      case "dt":
      case "pt": {
        const object = parse();
        return expr(BINARY, code === "dt" ? "." : "->", [object, unresolvedName()]);
      }
      case "ds":
        return expr(BINARY, ".*", [parse(), parse()]);
      case "ix":
        return expr(INDEX, "", [parse(), parse()]);
      case "sp":
        // A pack expansion in an expression: c++filt prints one element after another, as for `Dp`.
        return new Node(PACK_EXPANSION, parse(), null, "", null, 0);
      case "tw":
        return expr(PREFIX, "throw ", [parse()]);
      case "pp":
      case "mm": {
        const text = code === "pp" ? "++" : "--";
        if (p.eat(0x5f /* _ */)) return expr(PREFIX, text, [parse()]);
        return expr(POSTFIX, text, [parse()]);
      }
      case "dl":
      case "da":
        return expr(PREFIX, code === "dl" ? "delete " : "delete[] ", [parse()]);
      case "qu":
        return expr(TERNARY, "", [parse(), parse(), parse()]);
      case "nw":
      case "na":
      case "gs":
        // new-expressions and `::`-qualified ones: their c++filt text is not checked here; the default below would
        // take `nw`/`na` for three-operand operators, so they are refused by name.
        throw FAIL;
      default: {
        const op = OPERATORS[code];
        if (op === undefined || op[1] === 3) throw FAIL;
        if (op[1] === 1) return expr(PREFIX, op[0], [parse()]);
        return expr(BINARY, op[0], [parse(), parse()]);
      }
    }
  };

  const unresolvedName = (): Node => {
    if (p.peek() === 0x73 && p.peekAt(1) === 0x72) {
      p.i += 2;
      return unresolvedQualified();
    }
    return baseUnresolved();
  };

  /** <expr-primary>: L <type> <value> E, or L _Z <encoding> E. */
  const literal = (): Node => {
    p.enter();
    p.i++;
    let e: Node;
    if (p.eat(0x5f /* _ */)) {
      p.expect(0x5a /* Z */);
      e = p.encoding();
    } else {
      const code = p.peek();
      const builtin = code >= 0x61 && code <= 0x7a;
      const start = p.i;
      const type = p.type();
      const typeCode = p.s.slice(start, p.i);
      if (p.peek() === 0x45 /* E */) {
        if (typeCode !== "Dn") throw FAIL;
        e = expr(TEXT, "decltype(nullptr)", []);
      } else if (builtin && (typeCode === "f" || typeCode === "d" || typeCode === "e" || typeCode === "g")) {
        const from = p.i;
        while (isHex(p.peek())) p.i++;
        if (p.i === from) throw FAIL;
        e = expr(TEXT, `(${type.s})[${p.s.slice(from, p.i)}]`, []);
      } else {
        const value = p.number();
        const suffix = builtin ? LITERAL_SUFFIX[typeCode] : undefined;
        if (typeCode === "b" && (value === "0" || value === "1")) e = expr(TEXT, value === "0" ? "false" : "true", []);
        else if (suffix !== undefined) e = expr(TEXT, value + suffix, []);
        else e = expr(LITERAL_CAST, value, [type]);
      }
    }
    p.expect(0x45 /* E */);
    p.leave();
    return e;
  };

  return { parse, literal };
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

/** Whether c++filt prints `node` bare as an operand (names and function parameters); anything else is parenthesised. */
export function isSimpleOperand(node: Node): boolean {
  return node.k === NAME || node.k === NESTED || (node.k === EXPRESSION && node.n === FUNCTION_PARAM);
}

/** Whether `node` is the encoding of a member function (`&A::f` prints without its parameters). */
export function isMemberFunction(node: Node): boolean {
  return node.k === ENCODING && node.b !== null && node.b.k === NESTED;
}
