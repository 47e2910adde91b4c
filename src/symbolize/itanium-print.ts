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
import { CONVERSION } from "./itanium-ast.js";
import {
  BINARY,
  C_CAST,
  CALL,
  DECLTYPE_FORM,
  FUNCTION_PARAM,
  INDEX,
  isMemberFunction,
  isSimpleOperand,
  LAMBDA_FORM,
  LITERAL_CAST,
  NAMED_CAST,
  PARAM,
  POSTFIX,
  PREFIX,
  TERNARY,
  TEXT,
  TYPE_OPERAND,
} from "./itanium-expression.js";

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
  /** Template argument lists of the functions being printed, innermost last; `scopeTop` is the one T_ refers to. */
  private scopes: (readonly Node[])[] = [];
  private scopeTop = -1;
  /** Inside a lambda's signature (`{lambda(auto:1&)#1}`). */
  private lambdaSignature = 0;
  /** Template argument lists being printed, and local names' functions being printed inside them. */
  private argsDepth = 0;
  /** The argsDepth at which the local name whose function is being printed sat in template arguments (-1: none). */
  private localArgsMark = -1;
  /** Nodes findPack visited since the last print() (tests check that a search is linear in the name, not exponential). */
  findPackVisits = 0;
  /** Per T_ node, the scopes in force the first time a reference to it printed (see pointer()). */
  private readonly referenceScopes = new Map<Node, { scopes: (readonly Node[])[]; top: number }>();
  /** T_ nodes whose argument is printing, and references to T_ printing: c++filt's "beneath it in the tree". */
  private readonly active = new Set<Node>();
  /** Qualifiers outside a nested name, for its scope's own (see NESTED); read and cleared by the next decl. */
  private scopeQualifiers = "";
  /** The same, handed from decl to a template parameter's argument. */
  private templateParamQualifiers = "";
  /** Whether a pointer, reference or qualifier waits outside the name being printed (see LAMBDA_FORM). */
  private modsOutsideName = false;
  /** Pack expansions printing. */
  private expansions = 0;
  /**
   * The element c++filt takes of a pack named outside any expansion: its
   * pack index, 0 at first and left by each expansion at its last element
   * (`DpRT_ KT_` prints the pack, then its last element const).
   */
  private lastPackIndex = 0;
  /** Expansions printed, and packs read through lastPackIndex, so far in this print (see encoding()). */
  private expansionsPrinted = 0;
  private packReads = 0;
  /** The arguments of the innermost template being printed (a conversion operator's type resolves T_ against them). */
  private currentTemplate: readonly Node[] | null = null;

  /** The whole name: one Printer serves every name (state reset here, also after a failed print). */
  print(n: Node): string {
    this.steps = 0;
    this.depth = 0;
    this.packIndex = -1;
    this.angle = false;
    this.scopeTop = -1;
    this.lambdaSignature = 0;
    this.argsDepth = 0;
    this.localArgsMark = -1;
    this.findPackVisits = 0;
    // Most names have no reference to T_: nothing to clear.
    if (this.referenceScopes.size > 0) this.referenceScopes.clear();
    if (this.active.size > 0) this.active.clear();
    this.expansions = 0;
    this.modsOutsideName = false;
    this.lastPackIndex = 0;
    this.expansionsPrinted = 0;
    this.packReads = 0;
    this.currentTemplate = null;
    this.scopeQualifiers = "";
    this.templateParamQualifiers = "";
    return this.decl(n, "", "");
  }

  private str(n: Node): string {
    if (n.k === NAME) return this.nameText(n);
    return this.decl(n, "", "");
  }

  /**
   * What decl(n, "", "") does for a NAME, with the same step count, depth
   * bound and state, without its two calls: a NAME is most of what str
   * prints (components of nested names, template names, builtin
   * arguments), and a call costs most while V8 still interprets the printer.
   */
  private nameText(n: Node): string {
    if (++this.steps > MAX_STEPS || this.depth >= MAX_PRINT_DEPTH) throw FAIL;
    this.scopeQualifiers = "";
    const text = n.s;
    if (text.length > MAX_READABLE_LENGTH) throw FAIL;
    this.angle = text.charCodeAt(text.length - 1) === 0x3e;
    return text;
  }

  /**
   * `n` as a declarator: `mods` attach to the type without a space (`*`,
   * `&`, ` const`), `rest` follows after one (`(*)(int)`, a function's name,
   * ` [3]`): `int` with `*` is `int*`, a function with `(*)` is `void (*)(int)`.
   */
  private decl(n: Node, mods: string, rest: string): string {
    if (++this.steps > MAX_STEPS || ++this.depth > MAX_PRINT_DEPTH) throw FAIL;
    // The qualifiers waiting outside a nested name's scope are for this node only (see NESTED).
    const outside = this.scopeQualifiers;
    this.scopeQualifiers = "";
    let out: string;
    // The common kinds here, the rest in declOther: a rare kind met late does not deoptimise this one.
    switch (n.k) {
      case NAME:
        out = this.attach(n.s, n.s.charCodeAt(n.s.length - 1) === 0x3e, mods, rest);
        break;
      case NESTED: {
        const scopeNode = n.a as Node;
        // A type that is no class as a scope (`int [3]::x`, `void (*)()::x`): c++filt's text for it is not reproduced here.
        if (scopeNode.k !== NAME && scopeNode.k !== NESTED && scopeNode.k !== TEMPLATE && this.isDeclarator(scopeNode)) throw FAIL;
        // c++filt skips a scope's qualifier that the type outside the nested name also has (`KNS2_1XE` with S2_ =
        // `llvm::A const` is `llvm::A::X const`): the qualifiers outside are handed to the scope.
        if (scopeNode.k === QUAL || scopeNode.k === TEMPLATE_PARAM || scopeNode.k === NESTED) this.scopeQualifiers = mods === "" ? outside : mods;
        const outerMods = this.modsOutsideName;
        this.modsOutsideName = outerMods || mods !== "";
        const scope = this.str(scopeNode);
        const last = this.str(n.b as Node);
        this.modsOutsideName = outerMods;
        out = this.attach(`${scope}::${last}`, this.angle, mods, rest);
        break;
      }
      case TEMPLATE: {
        const outerTemplate = this.currentTemplate;
        this.currentTemplate = n.list as Node[];
        const base = this.str(n.a as Node);
        this.argsDepth++;
        const args = this.list(n.list as Node[]);
        this.argsDepth--;
        this.currentTemplate = outerTemplate;
        // `operator< <A>`, and `> >` as c++filt writes nested template argument lists, except after an empty pack (c++filt's last character is then the space of the `, ` it took back).
        const open = endsWithLess(n.a as Node) ? " <" : "<";
        out = this.attach(`${base}${open}${args}${this.angle ? " >" : ">"}`, true, mods, rest);
        break;
      }
      case QUAL: {
        // c++filt prints a qualifier once when one of the same kind waits just outside it (`const T&` with T = `int const` is
        // `int const&`; `KVK` is `volatile const`).
        const child = n.a as Node;
        // A qualified function type reached through a substitution (`KS0_`, S0_ = `bool (char)`): c++filt's text is not reproduced.
        if ((child.k === FUNCTION || child.k === TEMPLATE_PARAM || child.k === ARG_PACK) && this.resolve(child).k === FUNCTION) throw FAIL;
        const around = mods === "" ? outside : mods;
        out = this.decl(child, around === "" ? n.s + mods : withoutRepeats(n.s, around) + mods, rest);
        break;
      }
      case POINTER:
        out = this.pointer(n, mods, rest);
        break;
      default:
        // A template argument stands where its parameter is: the qualifiers outside are handed on to it.
        if (n.k === TEMPLATE_PARAM && mods === "") this.templateParamQualifiers = outside;
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

  /**
   * `*`, `&` or `&&` applied to a type, as c++filt does it: a reference to
   * a reference collapses once (`& &&` is `&`, `&& &&` is `&&`), also
   * through a template argument (`T&&` with T = `int&` is `int&`), but no
   * further. A reference to T_ met again through a substitution, away from
   * where it first printed, prints T_ against the templates in scope that
   * first time (c++filt's saved scopes): in `f<g<int>(int&&)::{lambda()#1}>(S1_&)`
   * S1_ is g's T_, `int`.
   */
  private pointer(n: Node, mods: string, rest: string): string {
    let kind = n.s;
    let target = n.a as Node;
    const savedIndex = this.packIndex;
    const savedTop = this.scopeTop;
    const savedScopes = this.scopes;
    let marked = false;
    if (kind !== "*") {
      let sub = target;
      let viaParam = false;
      if (sub.k === TEMPLATE_PARAM && this.lambdaSignature === 0) {
        const first = this.referenceScopes.get(sub);
        if (first === undefined) this.referenceScopes.set(sub, { scopes: this.scopes.slice(0, this.scopeTop + 1), top: this.scopeTop });
        else if (!this.active.has(sub) && !this.active.has(n)) {
          this.scopes = first.scopes.slice();
          this.scopeTop = first.top;
        }
        if (!this.active.has(n)) {
          this.active.add(n);
          marked = true;
        }
        sub = this.argument(sub);
        if (sub.k === ARG_PACK) {
          // Outside any expansion c++filt takes one element (see lastPackIndex); inside one, other packs are not reproduced here.
          if (this.packIndex < 0 && this.expansions > 0) throw FAIL;
          if (this.packIndex < 0) this.packReads++;
          sub = sub.list?.[this.packIndex < 0 ? this.lastPackIndex : this.packIndex] ?? FAIL_NODE();
          // Inside an argument, packs are printed whole.
          this.packIndex = -1;
        }
        viaParam = true;
      }
      if (sub.k === POINTER && sub.s !== "*") {
        if (sub.s === "&" || sub.s === kind) kind = sub.s;
        // What the argument's reference wraps is printed in the scope around the template it belongs to.
        if (viaParam && this.scopeTop >= 0) this.scopeTop--;
        target = sub.a as Node;
      } else if (viaParam) {
        this.packIndex = savedIndex;
      }
    }
    const base = this.resolve(target);
    const wrapsFunction = base.k === FUNCTION;
    const wrapsArray = base.k === ARRAY || (base.k === QUAL && this.resolve(base.a as Node).k === ARRAY);
    const out = wrapsFunction
      ? this.decl(target, "", `(${nested(kind + mods, rest)})`)
      : wrapsArray
        ? this.decl(target, "", ` (${nested(kind + mods, rest)})`)
        : this.decl(target, kind + mods, rest);
    this.packIndex = savedIndex;
    this.scopeTop = savedTop;
    this.scopes = savedScopes;
    if (marked) this.active.delete(n);
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
        // Of a function: `void (A::*)(int)`; of an array: `int (A::*) [3]`.
        if (member.k === FUNCTION) return this.decl(n.b as Node, "", `(${nested(`${cls}::*${mods}`, rest)})`);
        if (member.k === ARRAY) return this.decl(n.b as Node, "", ` (${nested(`${cls}::*${mods}`, rest)})`);
        return this.decl(n.b as Node, ` ${cls}::*${mods}`, rest);
      }
      case ENCODING:
        return this.encoding(n, true, mods, rest);
      case PREFIXED: {
        if (n.s === CONVERSION && this.currentTemplate !== null) {
          // c++filt: a conversion operator's type sees the arguments of the template being printed (`operator int<int>`).
          const at = this.scopeTop + 1;
          const previous = this.scopes[at];
          this.scopes[at] = this.currentTemplate;
          this.scopeTop = at;
          const text = n.s + this.str(n.a as Node);
          this.scopeTop = at - 1;
          if (previous !== undefined) this.scopes[at] = previous;
          return this.attach(text, this.angle, mods, rest);
        }
        const text = n.s + this.str(n.a as Node);
        return this.attach(text, this.angle, mods, rest);
      }
      case LOCAL: {
        const outerMods = this.modsOutsideName;
        this.modsOutsideName = outerMods || mods !== "";
        const out = this.local(n, mods, rest);
        this.modsOutsideName = outerMods;
        return out;
      }
      case SUFFIXED: {
        // `_Complex`, `_Imaginary` or `__vector` of a function or array: c++filt's text for it is not reproduced here.
        if (this.isDeclarator(n.a as Node)) throw FAIL;
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
        const outside = this.templateParamQualifiers;
        this.templateParamQualifiers = "";
        if (this.lambdaSignature > 0) return this.attach(`auto:${n.n + 1}`, false, mods, rest);
        let value = this.argument(n);
        // A pack named outside any expansion: c++filt prints one element (see lastPackIndex), and fails on an empty pack. Inside an
        // expansion, a pack that is not the one expanded is indexed by c++filt in ways not reproduced here: not answered.
        if (value.k === ARG_PACK && this.packIndex < 0) {
          if (this.expansions > 0) throw FAIL;
          this.packReads++;
          value = value.list?.[this.lastPackIndex] ?? FAIL_NODE();
        }
        // The argument is printed in the scope around the template it belongs to.
        const savedTop = this.scopeTop--;
        const wasActive = this.active.has(n);
        this.active.add(n);
        this.scopeQualifiers = outside;
        const out = this.decl(value, mods, rest);
        if (!wasActive) this.active.delete(n);
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
    // The name itself is printed in the scope around the function (c++filt fails on `f<int, T_>`); a conversion
    // operator's type sees its template (see PREFIXED).
    const packBefore = this.lastPackIndex;
    const expansionsBefore = this.expansionsPrinted;
    const readsBefore = this.packReads;
    const name = this.str(n.b as Node);
    if (template) {
      this.scopes[at] = named.list as Node[];
      this.scopeTop = at;
    }
    const text = `${name}(${this.list(fn.list as Node[])})${fn.s}`;
    // A function returning an array or a function (corrupt, or a substitution pointing wrong): c++filt wraps the name in
    // the declarator, not reproduced here.
    if (fn.a !== null && withReturn) {
      const returned = this.resolve(fn.a).k;
      if (returned === ARRAY || returned === FUNCTION) throw FAIL;
    }
    if (fn.a === null || !withReturn) {
      const out = this.attach(text, false, mods, rest);
      this.leaveTemplate(template, at, previous);
      return out;
    }
    // c++filt prints the return type first: a pack named outside an expansion there sees the pack index from before the
    // name. Where the order shows (the return type expands a pack, the name or parameters read one), not answered.
    const packAfterName = this.lastPackIndex;
    const nameExpanded = this.expansionsPrinted !== expansionsBefore;
    const nameRead = this.packReads !== readsBefore;
    this.lastPackIndex = packBefore;
    const expansionsBeforeReturn = this.expansionsPrinted;
    const out = this.decl(fn.a, "", text + mods + rest);
    if (this.expansionsPrinted !== expansionsBeforeReturn && nameRead) throw FAIL;
    if (nameExpanded) this.lastPackIndex = packAfterName;
    this.leaveTemplate(template, at, previous);
    return out;
  }

  /** Puts back the scope entry encoding() pushed for a template function. */
  private leaveTemplate(template: boolean, at: number, previous: readonly Node[] | undefined): void {
    if (template) {
      this.scopeTop = at - 1;
      if (previous !== undefined) this.scopes[at] = previous;
    }
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
  private list(nodes: readonly Node[]): string {
    // Template arguments and parameters start with no modifiers outside them (c++filt sets its modifier stack aside).
    const outerMods = this.modsOutsideName;
    this.modsOutsideName = false;
    const out = this.listItems(nodes);
    this.modsOutsideName = outerMods;
    return out;
  }

  private listItems(nodes: readonly Node[]): string {
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

  /** Whether `node` prints as a declarator around a name (an array, a function, a member pointer, or a pointer or reference to one). */
  private isDeclarator(node: Node): boolean {
    let n = this.resolve(node);
    for (let guard = 0; guard < 64; guard++) {
      if (n.k === ARRAY || n.k === FUNCTION || n.k === MEMBER_POINTER) return true;
      if ((n.k === QUAL || n.k === POINTER) && n.a !== null) n = this.resolve(n.a);
      else return false;
    }
    throw FAIL;
  }

  /** What `n` stands for while printing: a template argument, the current element of a pack being expanded. */
  private resolve(n: Node): Node {
    let node = n;
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
      } else return node;
    }
    throw FAIL;
  }

  /** `Dp <pattern>`: the pattern once per element of the pack it mentions, joined by `, ` (c++filt takes none back here). */
  private expansion(pattern: Node, mods: string, rest: string): string {
    // A pointer, reference or qualifier applied to a whole expansion (`PKDpOT_`): c++filt hands its modifiers to one
    // element in ways not reproduced here.
    if (mods !== "" || rest !== "") throw FAIL;
    const pack = this.findPack(pattern);
    if (pack === null) throw FAIL;
    const saved = this.packIndex;
    let out = "";
    this.expansions++;
    for (let i = 0; i < pack.length; i++) {
      this.packIndex = i;
      const piece = this.decl(pattern, mods, rest);
      out = i === 0 ? piece : `${out}, ${piece}`;
      if (out.length > MAX_READABLE_LENGTH) throw FAIL;
    }
    this.expansions--;
    this.expansionsPrinted++;
    if (pack.length > 0) this.lastPackIndex = pack.length - 1;
    if (pack.length === 0) {
      this.angle = false;
    }
    this.packIndex = saved;
    return out;
  }

  /**
   * The elements of the first argument pack a pack expansion's pattern
   * mentions, or null when it mentions none. The pattern is a graph, not a
   * tree (substitutions share nodes): each node is visited once per search
   * and charged to the step budget, so a name of nested `B<S_, S_>` costs
   * its node count, not 2^depth.
   */
  private findPack(pattern: Node): Node[] | null {
    const top = this.scopeTop;
    const seen = new Set<Node>();
    const search = (n: Node | null, depth: number): Node[] | null => {
      if (n === null || seen.has(n)) return null;
      if (++this.steps > MAX_STEPS || depth > MAX_PRINT_DEPTH) throw FAIL;
      seen.add(n);
      this.findPackVisits++;
      if (n.k === TEMPLATE_PARAM) {
        const value = top >= 0 ? this.scopes[top]?.[n.n] : undefined;
        if (value === undefined) throw FAIL;
        return value.k === ARG_PACK ? value.list : null;
      }
      if (n.k === ARG_PACK) return n.list;
      if (n.k === PACK_EXPANSION) return null;
      const found = search(n.a, depth + 1) ?? search(n.b, depth + 1);
      if (found !== null) return found;
      if (n.list !== null) {
        for (const item of n.list) {
          const inItem = search(item, depth + 1);
          if (inItem !== null) return inItem;
        }
      }
      return null;
    };
    return search(pattern, 0);
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
        // c++filt lets a pointer or reference applied to the lambda's name print inside the first function or array among
        // its parameters (`{lambda(void (*&)())#1}`): not reproduced here.
        // (Checked with the lambda's own T_ unresolved: they print as `auto:N`.)
        this.lambdaSignature++;
        if (this.modsOutsideName && ops.some((op) => this.isDeclarator(op))) throw FAIL;
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

/**
 * `quals` without the standard qualifiers that the run of them at the start
 * of `mods` (the modifiers waiting outside) already has: c++filt skips a
 * qualifier when an unprinted one of the same kind is outside it, looking
 * no further than the first pointer, reference or vendor qualifier.
 */
function withoutRepeats(quals: string, mods: string): string {
  // Most modifiers outside are a pointer or reference (`*`, `&`): no qualifier run to look at.
  if (mods.charCodeAt(0) !== 0x20) return quals;
  let run = 0;
  for (;;) {
    const q = STANDARD_QUALIFIERS.find((word) => mods.startsWith(word, run) && !isIdentifierChar(mods.charCodeAt(run + word.length)));
    if (q === undefined) break;
    run += q.length;
  }
  if (run === 0) return quals;
  const outside = mods.slice(0, run);
  let out = "";
  let rest = quals;
  while (rest !== "") {
    const q = STANDARD_QUALIFIERS.find((word) => rest.startsWith(word) && !isIdentifierChar(rest.charCodeAt(word.length)));
    // A vendor qualifier (` foo`) is kept whole.
    if (q === undefined) return out + rest;
    if (!outside.split(" ").includes(q.slice(1))) out += q;
    rest = rest.slice(q.length);
  }
  return out;
}

const STANDARD_QUALIFIERS = [" const", " volatile", " restrict"];

function isIdentifierChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

/**
 * A declarator opened by `open` (`*`, `&`, `A::*`) around the declarator
 * `rest` it wraps: c++filt writes a space before a nested `(` unless right
 * after `*` (`int (& (*)()) [3]`, but `int (*(*)())()`).
 */
function nested(open: string, rest: string): string {
  if (rest.charCodeAt(0) !== 0x28 /* ( */) return open + rest;
  const last = open.charCodeAt(open.length - 1);
  return last === 0x2a /* * */ || last === 0x28 ? open + rest : `${open} ${rest}`;
}

/** FAIL, thrown where an expression is expected (`list[i] ?? FAIL_NODE()`). */
function FAIL_NODE(): never {
  throw FAIL;
}
