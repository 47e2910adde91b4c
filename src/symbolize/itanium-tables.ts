/**
 * The fixed vocabulary of Itanium mangled names: builtin types, operator
 * codes, the standard abbreviations (`Sa`, `Ss`, …) with c++filt's
 * spelling of each.
 */
import { type Node, name } from "./itanium-ast.js";

/** Builtin types by code (`i`, `Dn`), as c++filt prints them. */
export const BUILTIN: Record<string, Node> = {};
for (const [code, text] of [
  ["v", "void"],
  ["w", "wchar_t"],
  ["b", "bool"],
  ["c", "char"],
  ["a", "signed char"],
  ["h", "unsigned char"],
  ["s", "short"],
  ["t", "unsigned short"],
  ["i", "int"],
  ["j", "unsigned int"],
  ["l", "long"],
  ["m", "unsigned long"],
  ["x", "long long"],
  ["y", "unsigned long long"],
  ["n", "__int128"],
  ["o", "unsigned __int128"],
  ["f", "float"],
  ["d", "double"],
  ["e", "long double"],
  ["g", "__float128"],
  ["z", "..."],
  ["Dd", "decimal64"],
  ["De", "decimal128"],
  ["Df", "decimal32"],
  ["Dh", "half"],
  ["Di", "char32_t"],
  ["Ds", "char16_t"],
  ["Du", "char8_t"],
  ["Da", "auto"],
  ["Dc", "decltype(auto)"],
  ["Dn", "decltype(nullptr)"],
] as const) {
  BUILTIN[code] = name(text);
}

/** The one-letter builtins by character code. */
export const BUILTIN_BY_CODE: (Node | undefined)[] = Array.from({ length: 128 }, (_, c) => BUILTIN[String.fromCharCode(c)]);

/** The operators of <operator-name>: code → [printed name, operand count] (c++filt's spelling, e.g. `operator new[]`). */
export const OPERATORS: Record<string, readonly [string, number]> = {
  nw: ["new", 3],
  na: ["new[]", 3],
  dl: ["delete", 1],
  da: ["delete[]", 1],
  ps: ["+", 1],
  ng: ["-", 1],
  ad: ["&", 1],
  de: ["*", 1],
  co: ["~", 1],
  pl: ["+", 2],
  mi: ["-", 2],
  ml: ["*", 2],
  dv: ["/", 2],
  rm: ["%", 2],
  an: ["&", 2],
  or: ["|", 2],
  eo: ["^", 2],
  aS: ["=", 2],
  pL: ["+=", 2],
  mI: ["-=", 2],
  mL: ["*=", 2],
  dV: ["/=", 2],
  rM: ["%=", 2],
  aN: ["&=", 2],
  oR: ["|=", 2],
  eO: ["^=", 2],
  ls: ["<<", 2],
  rs: [">>", 2],
  lS: ["<<=", 2],
  rS: [">>=", 2],
  eq: ["==", 2],
  ne: ["!=", 2],
  lt: ["<", 2],
  gt: [">", 2],
  le: ["<=", 2],
  ge: [">=", 2],
  ss: ["<=>", 2],
  nt: ["!", 1],
  aa: ["&&", 2],
  oo: ["||", 2],
  pp: ["++", 1],
  mm: ["--", 1],
  cm: [",", 2],
  pm: ["->*", 2],
  pt: ["->", 2],
  cl: ["()", 2],
  ix: ["[]", 2],
  qu: ["?", 3],
  st: ["sizeof ", 1],
  sz: ["sizeof ", 1],
  at: ["alignof ", 1],
  az: ["alignof ", 1],
  aw: ["co_await ", 1],
};

/**
 * Standard abbreviations: the text c++filt prints (its verbose form: the
 * full template for Ss, Si, So, Sd), and the class name its constructors
 * and destructors print.
 */
export const STD_SUBS: Record<string, [string, string]> = {
  a: ["std::allocator", "allocator"],
  b: ["std::basic_string", "basic_string"],
  s: ["std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "basic_string"],
  i: ["std::basic_istream<char, std::char_traits<char> >", "basic_istream"],
  o: ["std::basic_ostream<char, std::char_traits<char> >", "basic_ostream"],
  d: ["std::basic_iostream<char, std::char_traits<char> >", "basic_iostream"],
};

export const STD = name("std");
export const ANONYMOUS = name("(anonymous namespace)");
