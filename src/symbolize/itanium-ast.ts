/**
 * The tree an Itanium C++ mangled name parses into (itanium-parse.ts) and
 * prints from (itanium-print.ts). Every node has the same shape (a kind and
 * the same few fields) so that the printer's property reads stay monomorphic:
 * that, and strings built only at print time, keep a name near a microsecond.
 */

/** An identifier, builtin type or any fixed text: `s`. */
export const NAME = 0;
/** `a::b`. */
export const NESTED = 1;
/** `a<list>`. */
export const TEMPLATE = 2;
/** Type `a` with qualifiers `s` (` const`, ` volatile`, ` restrict`, or a vendor's ` name`). */
export const QUAL = 3;
/** Pointer or reference to `a`; `s` is `*`, `&` or `&&`. */
export const POINTER = 4;
/** Function type: returns `a` (absent for an encoding's non-template function), takes `list`; `s` holds its cv and ref qualifiers. */
export const FUNCTION = 5;
/** Array of `a`, dimension text `s` (possibly empty). */
export const ARRAY = 6;
/** Pointer to member of class `a`, of type `b`. */
export const MEMBER_POINTER = 7;
/** A function's encoding: name `b`, type `a` (a FUNCTION). */
export const ENCODING = 8;
/** Text `s` before `a` (`vtable for `, `guard variable for `). */
export const PREFIXED = 9;
/** Entity `b` local to the function `a`: `a::b`. */
export const LOCAL = 10;
/** A template argument pack: `list`, printed comma-separated (one element when a pack expansion is printing it). */
export const ARG_PACK = 11;
/** A pack expansion (`Dp`) of pattern `a`. */
export const PACK_EXPANSION = 12;
/** A template parameter (`T_`): argument `n` of the template of the function being printed. */
export const TEMPLATE_PARAM = 13;
/** Text `s` after `a` (ABI tags, clone suffixes, `__vector(4)`). */
export const SUFFIXED = 14;
/** An expression or literal already rendered where every operand is plain text: `s`, or operands `list` joined around `s` (see itanium-print.ts). */
export const EXPRESSION = 15;

/** A conversion operator's PREFIXED text (`operator int`). */
export const CONVERSION = "operator ";

/** Thrown by the parser and the printer (never escapes demangleItanium) when a name is not one they fully understand. */
export const FAIL = { failed: true } as const;

/** Thrown by the parser for a name c++filt fails on as a whole and so prints unchanged: demangleItanium answers the name itself. */
export const UNCHANGED = { unchanged: true } as const;

/**
 * One node of a demangled name. The fields are `declare`d and set in the
 * constructor only: declared as class fields (or parameter properties),
 * ES2022 defines each one first (as undefined, through a separate
 * initialiser function) and the constructor then sets it again, twice the
 * work for the object a name allocates most while V8 still interprets it.
 */
export class Node {
  declare readonly k: number;
  declare readonly a: Node | null;
  declare readonly b: Node | null;
  declare readonly s: string;
  declare readonly list: Node[] | null;
  /** Per kind: an expression's form, a template parameter's index. */
  declare readonly n: number;

  constructor(k: number, a: Node | null, b: Node | null, s: string, list: Node[] | null, n: number) {
    this.k = k;
    this.a = a;
    this.b = b;
    this.s = s;
    this.list = list;
    this.n = n;
  }
}

export const name = (s: string): Node => new Node(NAME, null, null, s, null, 0);
