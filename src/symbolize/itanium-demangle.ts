/**
 * probec's own demangler for Itanium C++ ABI names (`_Z…`), printing what
 * GNU c++filt prints, byte for byte, and nothing when it is unsure: a name
 * it does not fully understand returns undefined and the caller falls back
 * to the wasm demangler (demangle.ts). Written from the ABI's mangling
 * grammar and by comparison with c++filt's output
 * (test/symbolize/itanium-demangle.test.ts checks every C++ name of node,
 * libstdc++, ICU, libclang-cpp and LLVM's shared and static libraries
 * against it, and seeded mutations of them). Pure: no I/O, never throws,
 * bounded in depth, steps and output length whatever the input.
 */
import { UNCHANGED } from "./itanium-ast.js";
import { Parser } from "./itanium-parse.js";
import { Printer } from "./itanium-print.js";

const parser = new Parser("");
const printer = new Printer();

/** Longest mangled name attempted (hostile symbol tables; real ones stay far below); demangle.ts uses the same bound. */
export const MAX_MANGLED_LENGTH = 16 * 1024;

/** Rust's legacy mangling is Itanium-shaped but ends its path in a hash element (`17h<16 hex digits>E`); rustc-demangle prints it, not this. */
const RUST_LEGACY_HASH = /17h[0-9a-f]{16}E(?:\.|$)/;

/** Whether `name` is a Rust legacy mangled name (`_ZN…17h<hash>E`), which looks Itanium but belongs to the Rust demangler. */
export function isRustLegacy(name: string): boolean {
  if (name.charCodeAt(2) !== 0x4e /* N */ || !name.startsWith("_Z")) return false;
  // Most names end in something else than the hash's `E` and have no suffix: no regular expression for them.
  const end = name.length;
  if (name.charCodeAt(end - 1) === 0x45 /* E */) return end > 21 && name.charCodeAt(end - 18) === 0x68 /* h */ && RUST_LEGACY_HASH.test(name);
  return name.includes(".") && RUST_LEGACY_HASH.test(name);
}

/**
 * The readable form of an Itanium C++ mangled name as c++filt prints it,
 * including GCC's clone suffixes (`.cold` → ` [clone .cold]`); the name
 * itself where c++filt fails on it in a way known here (`_ZL1x.0`, a data
 * name with a clone suffix); undefined
 * when `name` is not one (a Rust legacy name included) or not one this
 * demangler fully understands.
 */
export function demangleItanium(name: string): string | undefined {
  if (name.length < 3 || name.length > MAX_MANGLED_LENGTH || name.charCodeAt(0) !== 0x5f || name.charCodeAt(1) !== 0x5a) return undefined;
  if (isRustLegacy(name)) return undefined;
  try {
    parser.begin(name, 2);
    const tree = parser.encoding();
    const suffix = parser.i === name.length ? "" : cloneSuffixes(name, parser.i);
    if (suffix === undefined) return undefined;
    const readable = printer.print(tree) + suffix;
    // The printer joins pieces into a rope (a tree of V8 cons strings): reading one character flattens it now, so a name
    // kept by a caller holds one string, not its pieces (the symbolizer's cold pass: 92 → 65 MiB, about 15% faster).
    readable.charCodeAt(0);
    return readable;
  } catch (e) {
    // c++filt fails on the whole name and prints it as it is: so does this.
    if (e === UNCHANGED) return name;
    // The parser's FAIL ("not understood"); anything else (a stack overflow on a hostile name) gets the same answer.
    return undefined;
  }
}

/**
 * GCC's clone suffixes after the encoding (`.cold`, `.isra.0`,
 * `.constprop.0.isra.0`, `.lto_priv.0`, `.part.0`), each group a letter word
 * or a number followed by numbers, printed ` [clone .isra.0]`; undefined
 * when the rest of the name is not such suffixes.
 */
function cloneSuffixes(name: string, from: number): string | undefined {
  let out = "";
  let i = from;
  while (i < name.length) {
    if (name.charCodeAt(i) !== 0x2e) return undefined;
    const start = i;
    i++;
    const wordStart = i;
    let c = name.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || c === 0x5f) {
      while (i < name.length && (((c = name.charCodeAt(i)) >= 0x61 && c <= 0x7a) || c === 0x5f)) i++;
    } else {
      while (i < name.length && (c = name.charCodeAt(i)) >= 0x30 && c <= 0x39) i++;
    }
    if (i === wordStart) return undefined;
    while (i + 1 < name.length && name.charCodeAt(i) === 0x2e && (c = name.charCodeAt(i + 1)) >= 0x30 && c <= 0x39) {
      i++;
      while (i < name.length && (c = name.charCodeAt(i)) >= 0x30 && c <= 0x39) i++;
    }
    out += ` [clone ${name.slice(start, i)}]`;
  }
  return out;
}
