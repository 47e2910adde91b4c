/**
 * The parser of Itanium C++ ABI mangled names (the ABI's "Mangling" chapter,
 * https://itanium-cxx-abi.github.io/cxx-abi/abi.html#mangling) into the tree
 * of itanium-ast.ts. Only the grammar: what the text looks like is the
 * printer's (itanium-print.ts) and the choices that match GNU c++filt are
 * noted where they are made. Anything not understood throws {@link FAIL},
 * which demangleItanium turns into "not mine" so the caller falls back.
 */
import {
  ARG_PACK,
  ARRAY,
  CONVERSION,
  ENCODING,
  FAIL,
  EXPRESSION,
  FUNCTION,
  LOCAL,
  MEMBER_POINTER,
  NAME,
  NESTED,
  Node,
  name,
  PACK_EXPANSION,
  POINTER,
  PREFIXED,
  QUAL,
  SUFFIXED,
  TEMPLATE,
  TEMPLATE_PARAM,
  UNCHANGED,
} from "./itanium-ast.js";
import { DECLTYPE_FORM, expressionParser, LAMBDA_FORM } from "./itanium-expression.js";
import { ANONYMOUS, BUILTIN, BUILTIN_BY_CODE, OPERATORS, STD, STD_SUBS } from "./itanium-tables.js";

/** Deepest nesting of names, types and expressions accepted: real names stay far below, hostile ones recurse no further. */
const MAX_DEPTH = 192;

/** One parse: the text, the position, the substitution table and the template arguments in scope. */
export class Parser {
  i = 0;
  depth = 0;
  private subs: Node[] = [];
  /** In a conversion operator's type, `T_I…E` is the operator's template, not a template template parameter's. */
  private inConversion = false;
  /**
   * What the name being parsed says about its function type: c++filt prints
   * a return type only for templates that are not constructors, destructors
   * or conversions; a member function's cv and ref qualifiers (` const &`)
   * print after its parameters. Saved and restored around nested encodings and types.
   */
  private isTemplate = false;
  private noReturn = false;
  private nameQuals = "";
  /**
   * The last <source-name> read outside template arguments and ABI tags (or
   * the standard abbreviation's class, `Ss` → `basic_string`): what c++filt
   * names a constructor or destructor after, whatever the scope's last
   * component is (`A::{unnamed type#1}::A()`, `X::operator<=::~X()`).
   */
  private lastName: string | null = null;
  private expressions: ReturnType<typeof expressionParser> | undefined;

  /** The expression half, made on first use: most names have no expression. */
  get expression(): ReturnType<typeof expressionParser> {
    this.expressions ??= expressionParser(this);
    return this.expressions;
  }

  constructor(public s: string) {}

  /**
   * Starts over on `s` at `from`, as a new Parser would. demangleItanium
   * keeps one parser: one per name ran the field initialisers and made new
   * expression closures each time, and a call to another closure than the
   * one seen so far throws away V8's optimised templateArgs ("wrong call target").
   */
  begin(s: string, from: number): void {
    this.s = s;
    this.i = from;
    this.depth = 0;
    this.subs = [];
    this.inConversion = false;
    this.isTemplate = false;
    this.noReturn = false;
    this.nameQuals = "";
    this.lastName = null;
  }

  peek(): number {
    return this.s.charCodeAt(this.i);
  }

  peekAt(offset: number): number {
    return this.s.charCodeAt(this.i + offset);
  }

  /**
   * Whether template arguments (`I`) follow. Read often at the very end of
   * a name: bounds-checked first, as reading past the end (NaN) makes
   * V8 throw away the optimised parser ("out of bounds") and compile it again.
   */
  atTemplateArgs(): boolean {
    return this.i < this.s.length && this.s.charCodeAt(this.i) === 0x49 /* I */;
  }

  /** Consumes character code `c` when it is next. */
  eat(c: number): boolean {
    if (this.s.charCodeAt(this.i) === c) {
      this.i++;
      return true;
    }
    return false;
  }

  expect(c: number): void {
    if (!this.eat(c)) throw FAIL;
  }

  enter(): void {
    if (++this.depth > MAX_DEPTH) throw FAIL;
  }

  leave(): void {
    this.depth--;
  }

  /** <number>: decimal, optionally negative (`n`); the digits as text. */
  number(): string {
    const start = this.i;
    if (this.s.charCodeAt(this.i) === 0x6e) this.i++;
    const digits = this.i;
    while (isDigit(this.s.charCodeAt(this.i))) this.i++;
    if (this.i === digits) throw FAIL;
    return this.s.charCodeAt(start) === 0x6e ? `-${this.s.slice(digits, this.i)}` : this.s.slice(digits, this.i);
  }

  /** A non-negative decimal count, bounded (a hostile length never becomes a huge slice). */
  count(): number {
    const s = this.s;
    const start = this.i;
    let i = start;
    let value = 0;
    for (let c = s.charCodeAt(i); c >= 0x30 && c <= 0x39; c = s.charCodeAt(++i)) {
      value = value * 10 + (c - 48);
      if (value > 1e7) throw FAIL;
    }
    if (i === start) throw FAIL;
    this.i = i;
    return value;
  }

  /** <seq-id> `_` (base 36, upper-case letters), as an index where the bare `_` is 0. */
  seqId(): number {
    if (this.eat(0x5f /* _ */)) return 0;
    let value = 0;
    for (let c = this.s.charCodeAt(this.i); c !== 0x5f; c = this.s.charCodeAt(this.i)) {
      if (isDigit(c)) value = value * 36 + (c - 48);
      else if (c >= 0x41 && c <= 0x5a) value = value * 36 + (c - 55);
      else throw FAIL;
      if (value > 1e7) throw FAIL;
      this.i++;
    }
    this.i++;
    return value + 1;
  }

  /** <encoding>: a function (name and parameter types), data (a name) or a special name. */
  encoding(): Node {
    const c = this.s.charCodeAt(this.i);
    if (c === 0x54 /* T */ || c === 0x47 /* G */) return this.specialName();
    const savedTemplate = this.isTemplate;
    const savedNoReturn = this.noReturn;
    const savedQuals = this.nameQuals;
    this.isTemplate = false;
    this.noReturn = false;
    this.nameQuals = "";
    const entity = this.name();
    const template = this.isTemplate;
    const noReturn = this.noReturn;
    const quals = this.nameQuals;
    this.isTemplate = savedTemplate;
    this.noReturn = savedNoReturn;
    this.nameQuals = savedQuals;
    if (this.i >= this.s.length || this.s.charCodeAt(this.i) === 0x45 /* E */) {
      // c++filt has no text for a data name's cv or ref qualifiers here (`_ZNK1A1xE`): not answered.
      if (quals !== "") throw FAIL;
      return entity;
    }
    // A data name then a clone suffix: c++filt reads the suffix as parameter types, fails, and prints the name unchanged.
    if (this.s.charCodeAt(this.i) === 0x2e /* . */) throw UNCHANGED;
    const ret = template && !noReturn ? this.type() : null;
    const params = this.bareFunctionType();
    return new Node(ENCODING, new Node(FUNCTION, ret, null, quals, params, 0), entity, "", null, 0);
  }

  private atEncodingEnd(): boolean {
    if (this.i >= this.s.length) return true;
    const c = this.s.charCodeAt(this.i);
    return c === 0x45 /* E */ || c === 0x2e /* . */;
  }

  /** Parameter types up to the end of the encoding (`v` alone is no parameter). */
  private bareFunctionType(): Node[] {
    const params: Node[] = [];
    if (this.s.charCodeAt(this.i) === 0x76 /* v */ && (this.i + 1 >= this.s.length || this.peekAt(1) === 0x45 || this.peekAt(1) === 0x2e)) {
      this.i++;
      return params;
    }
    while (!this.atEncodingEnd()) params.push(this.type());
    if (params.length === 0) throw FAIL;
    return params;
  }

  private specialName(): Node {
    const s = this.s;
    const two = s.slice(this.i, this.i + 2);
    this.i += 2;
    switch (two) {
      case "TV":
        return prefixed("vtable for ", this.type());
      case "TT":
        return prefixed("VTT for ", this.type());
      case "TI":
        return prefixed("typeinfo for ", this.type());
      case "TS":
        return prefixed("typeinfo name for ", this.type());
      case "TH":
        return prefixed("TLS init function for ", this.plainName());
      case "TW":
        return prefixed("TLS wrapper function for ", this.plainName());
      case "TA":
        return prefixed("template parameter object for ", this.templateArg());
      case "Th":
        this.number();
        this.expect(0x5f /* _ */);
        return prefixed("non-virtual thunk to ", this.encoding());
      case "Tv":
        this.number();
        this.expect(0x5f /* _ */);
        this.number();
        this.expect(0x5f /* _ */);
        return prefixed("virtual thunk to ", this.encoding());
      case "Tc":
        this.callOffset();
        this.callOffset();
        return prefixed("covariant return thunk to ", this.encoding());
      case "TC": {
        const derived = this.type();
        this.number();
        this.expect(0x5f /* _ */);
        const base = this.type();
        return prefixed("construction vtable for ", new Node(LOCAL, base, derived, "-in-", null, 0));
      }
      case "GV":
        return prefixed("guard variable for ", this.plainName());
      case "GR": {
        // c++filt 2.40 reads no <seq-id> here and numbers every temporary #0.
        return prefixed("reference temporary #0 for ", this.plainName());
      }
      case "GA":
        return prefixed("hidden alias for ", this.encoding());
      case "GT": {
        const kind = s.charCodeAt(this.i++);
        if (kind === 0x74 /* t */) return prefixed("transaction clone for ", this.encoding());
        if (kind === 0x6e /* n */) return prefixed("non-transaction clone for ", this.encoding());
        throw FAIL;
      }
      default:
        throw FAIL;
    }
  }

  private callOffset(): void {
    const c = this.s.charCodeAt(this.i++);
    if (c === 0x68 /* h */) this.number();
    else if (c === 0x76 /* v */) {
      this.number();
      this.expect(0x5f /* _ */);
      this.number();
    } else throw FAIL;
    this.expect(0x5f /* _ */);
  }

  /** <name>: nested, local, unscoped (maybe `St`), or an unscoped template (maybe a substitution) with its arguments. */
  name(): Node {
    // enter() and leave() written out, as in type(): the two are called for every name.
    if (++this.depth > MAX_DEPTH) throw FAIL;
    const c = this.s.charCodeAt(this.i);
    let result: Node;
    if (c === 0x4e /* N */) result = this.nestedName();
    else if (c === 0x5a /* Z */) result = this.localName();
    else {
      let entity: Node;
      if (c === 0x53 /* S */ && this.peekAt(1) !== 0x74) {
        entity = this.substitution();
        if (this.s.charCodeAt(this.i) !== 0x49) throw FAIL;
      } else {
        const std = c === 0x53 && this.peekAt(1) === 0x74;
        if (std) this.i += 2;
        const unqualified = this.unqualifiedName(null);
        entity = std ? new Node(NESTED, STD, unqualified, "", null, 0) : unqualified;
        if (this.atTemplateArgs()) this.subs.push(entity);
      }
      this.isTemplate = false;
      if (this.atTemplateArgs()) {
        entity = new Node(TEMPLATE, entity, null, "", this.templateArgs(), 0);
        this.isTemplate = true;
      }
      result = entity;
    }
    this.depth--;
    return result;
  }

  private nestedName(): Node {
    this.i++;
    let quals = "";
    const first = this.s.charCodeAt(this.i);
    // Most nested names have no qualifier: one test, not five calls to eat (what an interpreted parser pays most for).
    if (first === 0x72 || first === 0x56 || first === 0x4b || first === 0x52 || first === 0x4f) {
      // Printed order is c++filt's: const, volatile, restrict, then the ref-qualifier.
      const r = this.eat(0x72 /* r */);
      const v = this.eat(0x56 /* V */);
      const k = this.eat(0x4b /* K */);
      if (k) quals += " const";
      if (v) quals += " volatile";
      if (r) quals += " restrict";
      if (this.eat(0x52 /* R */)) quals += " &";
      else if (this.eat(0x4f /* O */)) quals += " &&";
    }
    let current: Node | null = null;
    // c++filt fails on a nested name that is a substitution alone (`NSoE`).
    let onlySubstitution = false;
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (c === 0x45 /* E */) break;
      onlySubstitution = false;
      if (c !== 0x49) {
        this.isTemplate = false;
        this.noReturn = false;
      }
      if (c === 0x49 /* I */) {
        if (current === null) throw FAIL;
        current = new Node(TEMPLATE, current, null, "", this.templateArgs(), 0);
        this.isTemplate = true;
      } else if (c === 0x53 /* S */ && current === null) {
        if (this.peekAt(1) === 0x74) {
          this.i += 2;
          current = STD;
          onlySubstitution = true;
          continue;
        }
        current = this.substitution();
        onlySubstitution = true;
        continue;
      } else if (c === 0x54 /* T */ && current === null) {
        current = this.templateParam();
      } else if (c === 0x44 /* D */ && (this.peekAt(1) === 0x74 || this.peekAt(1) === 0x54) && current === null) {
        current = this.type();
        continue;
      } else if (c === 0x4d /* M */) {
        // <data-member-prefix>: the closure's member name; nothing printed for the M. It prefixes something (c++filt fails on `ME`).
        if (current === null || this.peekAt(1) === 0x45) throw FAIL;
        this.i++;
        continue;
      } else {
        // A source name, the usual component, read without unqualifiedName's call (calls are what an interpreted parser pays most for).
        let unqualified: Node;
        if (c >= 0x30 && c <= 0x39) {
          unqualified = this.sourceName();
          if (this.i < this.s.length && this.s.charCodeAt(this.i) === 0x42 /* B */) unqualified = this.abiTags(unqualified);
        } else unqualified = this.unqualifiedName(current);
        current = current === null ? unqualified : new Node(NESTED, current, unqualified, "", null, 0);
      }
      if (this.s.charCodeAt(this.i) !== 0x45) this.subs.push(current);
    }
    this.i++;
    if (current === null || onlySubstitution) throw FAIL;
    this.nameQuals = quals;
    return current;
  }

  /** Z <encoding> E <entity> [<discriminator>], or Z <encoding> E s (a string literal). */
  private localName(): Node {
    this.i++;
    const fn = this.encoding();
    this.expect(0x45 /* E */);
    if (this.eat(0x73 /* s */)) {
      this.discriminator();
      this.isTemplate = false;
      this.nameQuals = "";
      return new Node(LOCAL, fn, name("string literal"), "::", null, 0);
    }
    // `d [<number>] _`: an entity in a default argument, numbered from the last parameter (`_` is #1).
    let defaultArg: Node | null = null;
    if (this.eat(0x64 /* d */)) {
      const n = this.s.charCodeAt(this.i) === 0x5f ? 1 : this.count() + 2;
      this.expect(0x5f /* _ */);
      defaultArg = name(`{default arg#${n}}`);
    }
    const entity = this.name();
    this.discriminator();
    return new Node(LOCAL, fn, defaultArg === null ? entity : new Node(NESTED, defaultArg, entity, "", null, 0), "::", null, 0);
  }

  /**
   * `_ <number>` or `__ <number> _`, read as c++filt reads it: the number
   * may have any count of digits, none (0) or an `n` (negative: refused
   * unless no digit follows), and the closing `_` is required only after
   * two underscores and two or more digits.
   */
  private discriminator(): void {
    if (this.s.charCodeAt(this.i) !== 0x5f) return;
    this.i++;
    const twoUnderscores = this.eat(0x5f /* _ */);
    const negative = this.eat(0x6e /* n */);
    let value = 0;
    for (let c = this.s.charCodeAt(this.i); isDigit(c); c = this.s.charCodeAt(++this.i)) {
      value = value * 10 + (c - 48);
      if (value > 1e7) throw FAIL;
    }
    if (negative && value > 0) throw FAIL;
    if (twoUnderscores && value >= 10) this.expect(0x5f /* _ */);
  }

  /** <unqualified-name> (operators, constructors, destructors, lambdas, unnamed types, source names) with its ABI tags. */
  private unqualifiedName(scope: Node | null): Node {
    const c = this.s.charCodeAt(this.i);
    let result: Node;
    // The common case first, the test written out: calls are what an interpreted parser pays most for.
    if (c >= 0x30 && c <= 0x39) result = this.sourceName();
    else if (c >= 0x61 && c <= 0x7a) result = this.operatorName();
    else if (c === 0x43 /* C */ || (c === 0x44 /* D */ && isDigit(this.peekAt(1)))) result = this.ctorDtorName(scope);
    else if (c === 0x55 /* U */) result = this.unnamedTypeName();
    else if (c === 0x4c /* L */) {
      // Internal linkage (`_ZL3foo`): nothing printed.
      this.i++;
      result = this.sourceName();
      this.discriminator();
    } else throw FAIL;
    return this.i < this.s.length && this.s.charCodeAt(this.i) === 0x42 /* B */ ? this.abiTags(result) : result;
  }

  /** The ABI tags (`B <source-name>`, one or more) after an unqualified name; its last source name stays the name's (see lastName). */
  private abiTags(name: Node): Node {
    let result = name;
    const lastName = this.lastName;
    while (this.i < this.s.length && this.s.charCodeAt(this.i) === 0x42 /* B */) {
      this.i++;
      const tag = this.sourceName();
      result = new Node(SUFFIXED, result, null, `[abi:${tag.s}]`, null, 0);
    }
    this.lastName = lastName;
    return result;
  }

  sourceName(): Node {
    const length = this.count();
    const end = this.i + length;
    // c++filt rejects an empty identifier (`_ZN1A0E`) as it does a truncated one.
    if (length === 0 || end > this.s.length) throw FAIL;
    const text = this.s.slice(this.i, end);
    this.i = end;
    // GCC's anonymous namespace (`_GLOBAL__N_1`); c++filt names it.
    if (
      length >= 10 &&
      text.startsWith("_GLOBAL_") &&
      (text.charCodeAt(8) === 0x2e || text.charCodeAt(8) === 0x5f || text.charCodeAt(8) === 0x24) &&
      text.charCodeAt(9) === 0x4e
    ) {
      this.lastName = ANONYMOUS.s;
      return ANONYMOUS;
    }
    this.lastName = text;
    // (name(text) without the call: the node a name has most of.)
    return new Node(NAME, null, null, text, null, 0);
  }

  private operatorName(): Node {
    const s = this.s;
    const code = s.slice(this.i, this.i + 2);
    this.i += 2;
    if (code === "cv") {
      const saved = this.inConversion;
      this.inConversion = true;
      const to = this.type();
      this.inConversion = saved;
      this.noReturn = true;
      return new Node(PREFIXED, to, null, CONVERSION, null, 0);
    }
    if (code === "li") return name(`operator"" ${this.sourceName().s}`);
    if (code.charCodeAt(0) === 0x76 /* v */ && isDigit(code.charCodeAt(1))) return name(`operator ${this.sourceName().s}`);
    const op = OPERATORS[code];
    if (op === undefined) throw FAIL;
    const text = op[0];
    // c++filt: `operator new`, `operator delete[]`, `operator co_await`, `operator<<` (a space only before a word).
    const c0 = text.charCodeAt(0);
    return name(c0 >= 0x61 && c0 <= 0x7a ? `operator ${text.trimEnd()}` : `operator${text}`);
  }

  /** C1…C5, CI1 <type> (inheriting), D0…D5 but D3: named, as by c++filt, after the last source name read (see lastName). */
  private ctorDtorName(scope: Node | null): Node {
    if (scope === null) throw FAIL;
    const dtor = this.s.charCodeAt(this.i) === 0x44;
    this.i++;
    const inheriting = !dtor && this.eat(0x49 /* I */);
    const kind = this.s.charCodeAt(this.i++);
    if (dtor ? kind < 0x30 || kind > 0x35 || kind === 0x33 : kind < 0x31 || kind > 0x35) throw FAIL;
    // An inheriting constructor: named after the last source name of the base class's type it inherits from.
    if (inheriting) this.type();
    if (this.lastName === null) throw FAIL;
    this.noReturn = true;
    return name(dtor ? `~${this.lastName}` : this.lastName);
  }

  private unnamedTypeName(): Node {
    this.i++;
    const c = this.s.charCodeAt(this.i++);
    if (c === 0x74 /* t */) {
      const n = this.s.charCodeAt(this.i) === 0x5f ? 1 : this.count() + 2;
      this.expect(0x5f /* _ */);
      return name(`{unnamed type#${n}}`);
    }
    if (c === 0x6c /* l */) {
      const params: Node[] = [];
      const noParams = this.s.charCodeAt(this.i) === 0x76 && this.peekAt(1) === 0x45;
      if (noParams) this.i++;
      while (this.s.charCodeAt(this.i) !== 0x45) params.push(this.type());
      // `UlE_`: no parameter list at all (not even `v`), which c++filt rejects.
      if (params.length === 0 && !noParams) throw FAIL;
      this.i++;
      const n = this.s.charCodeAt(this.i) === 0x5f ? 1 : this.count() + 2;
      this.expect(0x5f /* _ */);
      return new Node(EXPRESSION, null, null, `#${n}}`, params, LAMBDA_FORM);
    }
    throw FAIL;
  }

  /** S_ / S<seq-id>_ / St / Sa … : an earlier component, or a standard abbreviation. */
  substitution(): Node {
    this.i++;
    const c = this.s.charCodeAt(this.i);
    if (c === 0x5f || isDigit(c) || (c >= 0x41 && c <= 0x5a)) {
      const index = this.seqId();
      const node = this.subs[index];
      if (node === undefined) throw FAIL;
      return node;
    }
    const std = STD_SUBS[String.fromCharCode(c)];
    if (std === undefined) throw FAIL;
    this.i++;
    this.lastName = std[1];
    return name(std[0]);
  }

  /** <template-args>: I … E. */
  templateArgs(): Node[] {
    this.enter();
    this.i++;
    const savedConversion = this.inConversion;
    const lastName = this.lastName;
    this.inConversion = false;
    const args: Node[] = [];
    while (!this.eat(0x45 /* E */)) args.push(this.templateArg());
    this.inConversion = savedConversion;
    this.lastName = lastName;
    this.leave();
    return args;
  }

  templateArg(): Node {
    const c = this.s.charCodeAt(this.i);
    if (c === 0x4c /* L */) return this.expression.literal();
    if (c === 0x58 /* X */) {
      this.i++;
      const e = this.expression.parse();
      this.expect(0x45 /* E */);
      return e;
    }
    if (c === 0x4a /* J */) {
      this.i++;
      const list: Node[] = [];
      while (!this.eat(0x45 /* E */)) list.push(this.templateArg());
      return new Node(ARG_PACK, null, null, "", list, 0);
    }
    return this.type();
  }

  /**
   * T_ / T<n>_: the parser records only the index. The printer resolves it,
   * as c++filt does, against the template arguments in scope where it is
   * printed, so one T_ node reached through a substitution can stand for
   * different arguments at different places (itanium-print.ts).
   */
  templateParam(): Node {
    this.i++;
    const index = this.s.charCodeAt(this.i) === 0x5f ? 0 : this.count() + 1;
    this.expect(0x5f /* _ */);
    return new Node(TEMPLATE_PARAM, null, null, "", null, index);
  }

  /** <type>, with every substitutable one added to the table. */
  type(): Node {
    if (++this.depth > MAX_DEPTH) throw FAIL;
    const c = this.s.charCodeAt(this.i);
    let t: Node;
    let substitutable = true;
    switch (c) {
      case 0x72: // r
      case 0x56: // V
      case 0x4b: {
        // K
        // One run of qualifiers in any order is one type (one substitution candidate), printed as c++filt prints its
        // chain: innermost first, a kind only where it is outermost (`KVK` is ` volatile const`, `rVK` ` const volatile restrict`).
        const start = this.i;
        while (isQualifier(this.s.charCodeAt(this.i))) this.i++;
        let quals = "";
        for (let j = this.i - 1; j >= start; j--) {
          const c = this.s.charCodeAt(j);
          if (this.s.indexOf(this.s[j] as string, start) === j) quals += c === 0x4b ? " const" : c === 0x56 ? " volatile" : " restrict";
        }
        // Qualifiers before a function type are its `this`'s: the unqualified function type is no substitution candidate.
        const next = this.s.charCodeAt(this.i);
        if (next === 0x46 /* F */ || (next === 0x44 /* D */ && this.peekAt(1) === 0x6f) /* o */) {
          const fn = next === 0x46 ? this.functionType() : this.noexceptFunctionType();
          // c++filt: `() noexcept const &`: the cv-qualifiers after noexcept, before the ref-qualifier.
          const noexcept = fn.s.startsWith(NOEXCEPT) ? NOEXCEPT : "";
          t = new Node(FUNCTION, fn.a, null, noexcept + quals + fn.s.slice(noexcept.length), fn.list, 0);
        } else t = new Node(QUAL, this.type(), null, quals, null, 0);
        break;
      }
      case 0x50: // P
        this.i++;
        t = new Node(POINTER, this.type(), null, "*", null, 0);
        break;
      case 0x52: // R
        this.i++;
        t = new Node(POINTER, this.type(), null, "&", null, 0);
        break;
      case 0x4f: // O
        this.i++;
        t = new Node(POINTER, this.type(), null, "&&", null, 0);
        break;
      case 0x43: // C (complex)
        this.i++;
        t = new Node(SUFFIXED, this.type(), null, " _Complex", null, 0);
        break;
      case 0x47: // G (imaginary)
        this.i++;
        t = new Node(SUFFIXED, this.type(), null, " _Imaginary", null, 0);
        break;
      case 0x46: // F
        t = this.functionType();
        break;
      case 0x41: // A
        t = this.arrayType();
        break;
      case 0x4d: {
        // M
        this.i++;
        const cls = this.type();
        const member = this.type();
        t = new Node(MEMBER_POINTER, cls, member, "", null, 0);
        break;
      }
      case 0x54: {
        // T: a template parameter, maybe a template template parameter with its arguments.
        t = this.templateParam();
        this.subs.push(t);
        // In a conversion operator's type `cvT_I…E` the arguments belong to the operator, not to T_.
        if (this.atTemplateArgs() && !this.inConversion) t = new Node(TEMPLATE, t, null, "", this.templateArgs(), 0);
        else substitutable = false;
        break;
      }
      case 0x53: {
        // S
        if (this.peekAt(1) === 0x74) {
          t = this.nameInType();
          break;
        }
        t = this.substitution();
        if (this.atTemplateArgs()) t = new Node(TEMPLATE, t, null, "", this.templateArgs(), 0);
        else substitutable = false;
        break;
      }
      case 0x55: {
        // U <source-name> [<template-args>] <type>: a vendor qualifier, printed after the type.
        this.i++;
        const qualifier = this.sourceName();
        if (this.s.charCodeAt(this.i) === 0x49) throw FAIL;
        const inner = this.type();
        t = new Node(QUAL, inner, null, ` ${qualifier.s}`, null, 0);
        break;
      }
      case 0x75: // u <source-name>: a vendor builtin type
        this.i++;
        t = this.sourceName();
        break;
      case 0x44: // D
        t = this.dType();
        substitutable = t.k !== NAME;
        break;
      case 0x4e: // N
      case 0x5a: // Z
        t = this.nameInType();
        break;
      default: {
        if (c >= 0x30 && c <= 0x39) {
          t = this.nameInType();
          break;
        }
        const builtin = c < 128 ? BUILTIN_BY_CODE[c] : undefined;
        if (builtin === undefined) throw FAIL;
        this.i++;
        substitutable = false;
        t = builtin;
      }
    }
    if (substitutable) this.subs.push(t);
    this.depth--;
    return t;
  }

  /** A name that is not a function's: c++filt prints cv or ref qualifiers of a nested name after it (`A::x const`), not checked here: not answered. */
  private plainName(): Node {
    this.nameQuals = "";
    const t = this.name();
    if (this.nameQuals !== "") throw FAIL;
    return t;
  }

  /**
   * A name inside a type, a plainName (written out: a type's name is
   * common, and calls are what an interpreted parser pays most for); it
   * says nothing about the encoding's function, so what name() records is put back.
   */
  private nameInType(): Node {
    const template = this.isTemplate;
    const noReturn = this.noReturn;
    const quals = this.nameQuals;
    this.nameQuals = "";
    const t = this.name();
    if (this.nameQuals !== "") throw FAIL;
    this.isTemplate = template;
    this.noReturn = noReturn;
    this.nameQuals = quals;
    return t;
  }

  private dType(): Node {
    const c = this.peekAt(1);
    switch (c) {
      case 0x74: // Dt
      case 0x54: {
        // DT
        this.i += 2;
        const e = this.expression.parse();
        this.expect(0x45 /* E */);
        return new Node(EXPRESSION, null, null, "decltype (", [e], DECLTYPE_FORM);
      }
      case 0x70: {
        // Dp: a pack expansion
        this.i += 2;
        return new Node(PACK_EXPANSION, this.type(), null, "", null, 0);
      }
      case 0x76: {
        // Dv <number> _ <type>: a vector
        this.i += 2;
        const n = this.number();
        this.expect(0x5f /* _ */);
        return new Node(SUFFIXED, this.type(), null, ` __vector(${n})`, null, 0);
      }
      case 0x46: {
        // DF <number> _: _FloatN
        this.i += 2;
        const n = this.number();
        this.expect(0x5f /* _ */);
        return name(`_Float${n}`);
      }
      case 0x6f: // Do: a noexcept function type (one substitution candidate, as c++filt counts)
        return this.noexceptFunctionType();
      case 0x4f: // DO, Dw: computed and dynamic exception specifications (not checked against c++filt)
      case 0x77:
        throw FAIL;
      default: {
        const builtin = BUILTIN[this.s.slice(this.i, this.i + 2)];
        if (builtin === undefined) throw FAIL;
        this.i += 2;
        return builtin;
      }
    }
  }

  /** Do F … E: `void () noexcept`. */
  private noexceptFunctionType(): Node {
    this.i += 2;
    if (this.s.charCodeAt(this.i) !== 0x46 /* F */) throw FAIL;
    const fn = this.functionType();
    return new Node(FUNCTION, fn.a, null, NOEXCEPT + fn.s, fn.list, 0);
  }

  private functionType(): Node {
    this.i++;
    this.eat(0x59 /* Y */);
    const ret = this.type();
    const params: Node[] = [];
    let quals = "";
    let noParams = false;
    if (this.s.charCodeAt(this.i) === 0x76 && this.peekAt(1) === 0x45) noParams = true;
    else if (this.s.charCodeAt(this.i) === 0x76 && (this.peekAt(1) === 0x52 || this.peekAt(1) === 0x4f) && this.peekAt(2) === 0x45) noParams = true;
    if (noParams) this.i++;
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (c === 0x45) break;
      if ((c === 0x52 || c === 0x4f) && this.peekAt(1) === 0x45) {
        quals = c === 0x52 ? " &" : " &&";
        this.i++;
        break;
      }
      params.push(this.type());
    }
    this.i++;
    // `FvE`: no parameter list at all (not even `v`), which c++filt rejects.
    if (params.length === 0 && !noParams) throw FAIL;
    return new Node(FUNCTION, ret, null, quals, params, 0);
  }

  private arrayType(): Node {
    this.i++;
    let dimension: Node | null = null;
    let text = "";
    const c = this.s.charCodeAt(this.i);
    if (isDigit(c)) text = this.number();
    else if (c !== 0x5f) dimension = this.expression.parse();
    this.expect(0x5f /* _ */);
    const element = this.type();
    return new Node(ARRAY, element, dimension, text, null, 0);
  }
}

function prefixed(text: string, node: Node): Node {
  return new Node(PREFIXED, node, null, text, null, 0);
}

function isQualifier(c: number): boolean {
  return c === 0x72 /* r */ || c === 0x56 /* V */ || c === 0x4b /* K */;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

const NOEXCEPT = " noexcept";
