/**
 * Printing a parsed Itanium name (itanium-ast.ts) the way GNU c++filt
 * (binutils 2.40) prints it, byte for byte: `char const*`, `void (*)(int)`,
 * `int (&) [3]`, `void (A::*)(int) const`, `> >`, `operator< <A>`.
 *
 * Types print as C declarators: {@link Printer.decl} takes the text that
 * the type wraps (`inner`, what a declaration would put where the name
 * goes) and returns the whole, so a pointer to a function puts its `(*)`
 * between the return type and the parameters without a second pass.
 * The printer counts its steps and the length of what it builds: a name
 * whose substitutions would print megabytes fails instead.
 */
import {
  ARG_PACK,
  ARRAY,
  ENCODING,
  EXPRESSION,
  FAIL,
  FUNCTION,
  LOCAL,
  MEMBER_POINTER,
  NAME,
  NESTED,
  type Node,
  PACK_EXPANSION,
  POINTER,
  PREFIXED,
  QUAL,
  SUFFIXED,
  TEMPLATE,
  TEMPLATE_PARAM,
} from "./itanium-ast.js";
import {
  BINARY,
  C_CAST,
  CALL,
  FUNCTION_PARAM,
  INDEX,
  isMemberFunction,
  isSimpleOperand,
  LITERAL_CAST,
  NAMED_CAST,
  PARAM,
  POSTFIX,
  PREFIX,
  TERNARY,
  TEXT,
  TYPE_OPERAND,
} from "./itanium-expression.js";
import { DECLTYPE_FORM, LAMBDA_FORM } from "./itanium-parse.js";

/** Longest readable name produced; longer ones (hostile substitution chains) fail. The longest of node, libstdc++ and LLVM 14 is far below. */
export const MAX_READABLE_LENGTH = 64 * 1024;
/** Printing steps allowed per name (each node visit is one). */
const MAX_STEPS = 200_000;
const MAX_PRINT_DEPTH = 256;

/** One printing: the step budget, the templates in scope and the pack element a pack expansion is printing. */
export class Printer {
  private steps = 0;
  private depth = 0;
  /** The element of each argument pack printed while a pack expansion prints its pattern (-1: the whole pack). */
  private packIndex = -1;
  /** Whether the text decl or list returned last ends with `>` (as c++filt sees it: not after a separator taken back). */
  private angle = false;
  /** Whether the last resolve() went through a pack element. */
  private inPack = false;
  /** Template argument lists of the functions being printed, innermost last; `scopeTop` is the one T_ refers to. */
  private readonly scopes: (readonly Node[])[] = [];
  private scopeTop = -1;
  /** Inside a lambda's signature (`{lambda(auto:1&)#1}`). */
  private lambdaSignature = 0;
  /** Template argument lists being printed, and local names' functions being printed inside them. */
  private argsDepth = 0;
  /** The argsDepth at which the local name whose function is being printed sat in template arguments (-1: none). */
  private localArgsMark = -1;

  /** The whole name: one Printer serves every name (state reset here, also after a failed print). */
  print(n: Node): string {
    this.steps = 0;
    this.depth = 0;
    this.packIndex = -1;
    this.angle = false;
    this.inPack = false;
    this.scopeTop = -1;
    this.lambdaSignature = 0;
    this.argsDepth = 0;
    this.localArgsMark = -1;
    return this.decl(n, "", "");
  }

  str(n: Node): string {
    return this.decl(n, "", "");
  }

  /**
   * `n` as a declarator: `mods` attach to the type without a space (`*`,
   * `&`, ` const`), `rest` follows after one (`(*)(int)`, a function's name,
   * ` [3]`): `int` with `*` is `int*`, a function with `(*)` is `void (*)(int)`.
   */
  decl(n: Node, mods: string, rest: string): string {
    if (++this.steps > MAX_STEPS || ++this.depth > MAX_PRINT_DEPTH) throw FAIL;
    let out: string;
    // The common kinds here, the rest in declOther: a rare kind met late does not deoptimise this one.
    switch (n.k) {
      case NAME:
        out = this.attach(n.s, n.s.charCodeAt(n.s.length - 1) === 0x3e, mods, rest);
        break;
      case NESTED: {
        const scope = this.str(n.a as Node);
        const last = this.str(n.b as Node);
        out = this.attach(`${scope}::${last}`, this.angle, mods, rest);
        break;
      }
      case TEMPLATE: {
        const base = this.str(n.a as Node);
        this.argsDepth++;
        const args = this.list(n.list as Node[]);
        this.argsDepth--;
        // `operator< <A>`, and `> >` as c++filt writes nested template argument lists, except after an empty pack (c++filt's last character is then the space of the `, ` it took back).
        const open = endsWithLess(n.a as Node) ? " <" : "<";
        out = this.attach(`${base}${open}${args}${this.angle ? " >" : ">"}`, true, mods, rest);
        break;
      }
      case QUAL: {
        let quals = n.s;
        const child = n.a as Node;
        // c++filt prints a qualifier once when a template argument already has it (`const T&` with T = `int const` is `int const&`).
        if (child.k === TEMPLATE_PARAM) {
          const value = this.resolve(child);
          if (value.k === QUAL) quals = withoutRepeats(quals, value.s);
        }
        out = this.decl(child, quals + mods, rest);
        break;
      }
      case POINTER:
        out = this.pointer(n, mods, rest);
        break;
      default:
        out = this.declOther(n, mods, rest);
    }
    if (out.length > MAX_READABLE_LENGTH) throw FAIL;
    this.depth--;
    return out;
  }

  /**
   * `text` with its declarator (modifiers right after it, the rest after a
   * space: `char const* (*)()`, `wchar_t* f()`, `int [3]`), and whether the
   * result ends with `>` (for c++filt's `> >`): `textAngle` when nothing
   * follows the text; modifiers and rests never end with one.
   */
  private attach(text: string, textAngle: boolean, mods: string, rest: string): string {
    if (rest !== "") {
      this.angle = false;
      return rest.charCodeAt(0) === 0x20 ? text + mods + rest : `${text}${mods} ${rest}`;
    }
    if (mods !== "") {
      this.angle = false;
      return text + mods;
    }
    this.angle = textAngle;
    return text;
  }

  private pointer(n: Node, mods: string, rest: string): string {
    let kind = n.s;
    let target = n.a as Node;
    const savedIndex = this.packIndex;
    const savedTop = this.scopeTop;
    // References to references collapse as in C++ (`T&&` with T = `int&` is `int&`): c++filt does it for a template argument.
    for (let inner = this.resolve(target); kind !== "*" && inner.k === POINTER && inner.s !== "*" && inner !== target; inner = this.resolve(target)) {
      if (inner.s === "&") kind = "&";
      // Inside an argument, packs are printed whole and T_ means the enclosing template's.
      if (this.inPack) this.packIndex = -1;
      if (target.k === TEMPLATE_PARAM && this.scopeTop >= 0) this.scopeTop--;
      target = inner.a as Node;
    }
    const base = this.resolve(target);
    const wraps = base.k === FUNCTION || base.k === ARRAY || (base.k === QUAL && this.resolve(base.a as Node).k === ARRAY);
    const out = wraps ? this.decl(target, "", `(${kind}${mods}${rest})`) : this.decl(target, kind + mods, rest);
    this.packIndex = savedIndex;
    this.scopeTop = savedTop;
    return out;
  }

  private declOther(n: Node, mods: string, rest: string): string {
    switch (n.k) {
      case FUNCTION:
        return this.decl(n.a as Node, "", `${mods}${rest}(${this.list(n.list as Node[])})${n.s}`);
      case ARRAY: {
        const dimension = n.b === null ? n.s : this.str(n.b);
        return this.decl(n.a as Node, mods, `${rest}${rest.endsWith("]") ? "" : " "}[${dimension}]`);
      }
      case MEMBER_POINTER: {
        const member = this.resolve(n.b as Node);
        const cls = this.str(n.a as Node);
        return member.k === FUNCTION ? this.decl(n.b as Node, "", `(${cls}::*${mods}${rest})`) : this.decl(n.b as Node, ` ${cls}::*${mods}`, rest);
      }
      case ENCODING:
        return this.encoding(n, true, mods, rest);
      case PREFIXED: {
        const text = n.s + this.str(n.a as Node);
        return this.attach(text, this.angle, mods, rest);
      }
      case LOCAL:
        return this.local(n, mods, rest);
      case SUFFIXED: {
        const text = this.str(n.a as Node) + n.s;
        return this.attach(text, n.s.charCodeAt(n.s.length - 1) === 0x3e, mods, rest);
      }
      case ARG_PACK: {
        const list = n.list as Node[];
        if (this.packIndex < 0) {
          const text = this.list(list);
          return this.attach(text, this.angle, mods, rest);
        }
        const element = list[this.packIndex];
        if (element === undefined) throw FAIL;
        // The element is printed whole: packs inside it are not the one being expanded.
        const saved = this.packIndex;
        this.packIndex = -1;
        const out = this.decl(element, mods, rest);
        this.packIndex = saved;
        return out;
      }
      case PACK_EXPANSION:
        return this.expansion(n.a as Node, mods, rest);
      case TEMPLATE_PARAM: {
        // A generic lambda's parameters are its own template's: c++filt names them `auto:1`, `auto:2`.
        if (this.lambdaSignature > 0) return this.attach(`auto:${n.n + 1}`, false, mods, rest);
        const value = this.argument(n);
        // The argument is printed in the scope around the template it belongs to.
        const savedTop = this.scopeTop--;
        const out = this.decl(value, mods, rest);
        this.scopeTop = savedTop;
        return out;
      }
      case EXPRESSION: {
        const text = this.expression(n);
        return this.attach(text, text.charCodeAt(text.length - 1) === 0x3e, mods, rest);
      }
      default:
        throw FAIL;
    }
  }

  /** `function::entity`; c++filt prints the function a local entity belongs to without its return type. */
  private local(n: Node, mods: string, rest: string): string {
    const fn = n.a as Node;
    // A local name's function inside template arguments that itself mentions a local name in its template
    // arguments: c++filt resolves T_ there against scopes not reproduced here (or fails): not answered.
    const savedMark = this.localArgsMark;
    if (this.argsDepth > 0) {
      if (savedMark >= 0 && this.argsDepth > savedMark) throw FAIL;
      this.localArgsMark = this.argsDepth;
    }
    const scope = fn.k === ENCODING ? this.encoding(fn, false, "", "") : this.str(fn);
    this.localArgsMark = savedMark;
    const entity = this.str(n.b as Node);
    return this.attach(scope + n.s + entity, this.angle, mods, rest);
  }

  /** A function's encoding, with the template arguments of its name in scope for T_. */
  private encoding(n: Node, withReturn: boolean, mods: string, rest: string): string {
    const fn = n.a as Node;
    let named = n.b as Node;
    while (named.k === LOCAL) named = named.b as Node;
    const template = named.k === TEMPLATE;
    // An argument printed from an inner scope may push over an entry still in use below: it is put back after.
    const at = this.scopeTop + 1;
    const previous = this.scopes[at];
    if (template) {
      this.scopes[at] = named.list as Node[];
      this.scopeTop = at;
    }
    const text = `${this.str(n.b as Node)}(${this.list(fn.list as Node[])})${fn.s}`;
    const out = fn.a === null || !withReturn ? this.attach(text, false, mods, rest) : this.decl(fn.a, "", text + mods + rest);
    if (template) {
      this.scopeTop = at - 1;
      if (previous !== undefined) this.scopes[at] = previous;
    }
    return out;
  }

  /** The template argument T_ stands for in the current scope. */
  private argument(n: Node): Node {
    const scope = this.scopeTop >= 0 ? this.scopes[this.scopeTop] : undefined;
    const value = scope?.[n.n];
    if (value === undefined) throw FAIL;
    return value;
  }

  /**
   * A list of template arguments or parameters joined by `, `, where
   * c++filt takes back the `, ` before a run of elements at the end that
   * all printed nothing (empty packs): `<bool>`, but `(int, , char)`.
   */
  list(nodes: readonly Node[]): string {
    const count = nodes.length;
    let out = "";
    let angle = false;
    if (count > 0) {
      out = this.str(nodes[0] as Node);
      angle = this.angle;
    }
    // Separators before elements that printed nothing, kept only if a later element prints something.
    let pending = "";
    for (let i = 1; i < count; i++) {
      const piece = this.str(nodes[i] as Node);
      if (piece === "") pending += ", ";
      else {
        out += `${pending}, ${piece}`;
        pending = "";
        angle = this.angle;
      }
    }
    // After a separator taken back, c++filt's last character is its space: no `> >` then.
    this.angle = pending === "" && angle;
    return out;
  }

  /** What `n` stands for while printing: a template argument, the current element of a pack being expanded. */
  private resolve(n: Node): Node {
    let node = n;
    this.inPack = false;
    let top = this.scopeTop;
    for (let guard = 0; guard < 64; guard++) {
      if (node.k === TEMPLATE_PARAM && this.lambdaSignature === 0) {
        const value = top >= 0 ? this.scopes[top]?.[node.n] : undefined;
        if (value === undefined) throw FAIL;
        node = value;
        top--;
      } else if (node.k === ARG_PACK && this.packIndex >= 0) {
        const element = node.list?.[this.packIndex];
        if (element === undefined) throw FAIL;
        node = element;
        this.inPack = true;
      } else return node;
    }
    throw FAIL;
  }

  /** `Dp <pattern>`: the pattern once per element of the pack it mentions, joined by `, ` (c++filt takes none back here). */
  private expansion(pattern: Node, mods: string, rest: string): string {
    const pack = this.findPack(pattern, this.scopeTop, 0);
    if (pack === null) throw FAIL;
    const saved = this.packIndex;
    let out = "";
    for (let i = 0; i < pack.length; i++) {
      this.packIndex = i;
      const piece = this.decl(pattern, mods, rest);
      out = i === 0 ? piece : `${out}, ${piece}`;
      if (out.length > MAX_READABLE_LENGTH) throw FAIL;
    }
    if (pack.length === 0) {
      this.angle = false;
    }
    this.packIndex = saved;
    return out;
  }

  /** The elements of the first argument pack a pack expansion's pattern mentions, or null when it mentions none. */
  private findPack(n: Node | null, top: number, depth: number): Node[] | null {
    if (n === null || depth > 64) return null;
    if (n.k === TEMPLATE_PARAM) {
      const value = top >= 0 ? this.scopes[top]?.[n.n] : undefined;
      if (value === undefined) throw FAIL;
      return value.k === ARG_PACK ? value.list : null;
    }
    if (n.k === ARG_PACK) return n.list;
    if (n.k === PACK_EXPANSION) return null;
    const a = this.findPack(n.a, top, depth + 1);
    if (a !== null) return a;
    const b = this.findPack(n.b, top, depth + 1);
    if (b !== null) return b;
    if (n.list !== null) {
      for (const item of n.list) {
        const found = this.findPack(item, top, depth + 1);
        if (found !== null) return found;
      }
    }
    return null;
  }

  private operand(n: Node): string {
    return isSimpleOperand(n) ? this.str(n) : `(${this.str(n)})`;
  }

  private expression(n: Node): string {
    const ops = n.list as Node[];
    const at = (i: number): Node => {
      const op = ops[i];
      if (op === undefined) throw FAIL;
      return op;
    };
    switch (n.n) {
      case TEXT:
      case FUNCTION_PARAM:
        return n.s;
      case PREFIX: {
        const op = at(0);
        // c++filt: `&A::f` for a member function's address, but `&(A::f() const)` when it has qualifiers.
        if (n.s === "&" && isMemberFunction(op) && (op.a as Node).s === "") return `&${this.str(op.b as Node)}`;
        return n.s + this.operand(op);
      }
      case BINARY: {
        const text = this.operand(at(0)) + n.s + this.operand(at(1));
        return n.s === ">" ? `(${text})` : text;
      }
      case TERNARY:
        return `${this.operand(at(0))}?${this.operand(at(1))} : ${this.operand(at(2))}`;
      case CALL:
        return `${this.operand(at(0))}(${ops
          .slice(1)
          .map((o) => this.str(o))
          .join(", ")})`;
      case C_CAST:
        if (n.s === "1")
          return `(${this.str(at(0))})(${ops
            .slice(1)
            .map((o) => this.str(o))
            .join(", ")})`;
        return `(${this.str(at(0))})${this.operand(at(1))}`;
      case NAMED_CAST:
        return `${n.s}<${this.str(at(0))}>(${this.str(at(1))})`;
      case POSTFIX:
        return this.operand(at(0)) + n.s;
      case INDEX:
        return `${this.operand(at(0))}[${this.str(at(1))}]`;
      case PARAM:
        return this.str(at(0));
      case TYPE_OPERAND:
        return `${n.s}(${this.str(at(0))})`;
      case LITERAL_CAST:
        return `(${this.str(at(0))})${n.s}`;
      case LAMBDA_FORM: {
        this.lambdaSignature++;
        const params = this.list(ops);
        this.lambdaSignature--;
        return `{lambda(${params})${n.s}`;
      }
      case DECLTYPE_FORM:
        return `decltype (${this.str(at(0))})`;
      default:
        throw FAIL;
    }
  }
}

/** Whether a template's name ends with `<` (`operator<`, `operator<<`): c++filt then writes `operator< <A>`. */
function endsWithLess(n: Node): boolean {
  let node = n;
  while (node.k === NESTED) node = node.b as Node;
  return node.k === NAME && node.s.charCodeAt(node.s.length - 1) === 0x3c;
}

/** `quals` without the qualifiers `existing` already has. */
function withoutRepeats(quals: string, existing: string): string {
  let out = "";
  for (const q of [" const", " volatile", " restrict"]) if (quals.includes(q) && !existing.includes(q)) out += q;
  return out;
}
