/**
 * Splitting a USDT note's argument text into items, and an item into its
 * `SIZE@` prefix and its operand.
 *
 * sys/sdt.h writes the items separated by one space (`_SDT_ASM_BLANK`):
 *
 *     -4@%edi -8@%rsi 1@%dl -2@%cx 8@%r8 8@%r9     (x86_64, GCC -O2)
 *     -4@[sp, 28] -8@[sp, 16] 1@[sp, 27]           (aarch64, GCC -O0)
 *     -4@[r0, r1, lsl #2] -4@[r2] -4@[r2, #4]      (arm, GCC -O2)
 *     -8@$sp, 16                                   (loongarch64, clang's printer)
 *
 * but an operand may itself contain spaces: inside brackets (`[sp, 96]`,
 * `[r3, #12]`) and after a comma (clang prints LoongArch memory operands
 * as `$sp, 16`). So a blank separates items only outside brackets and
 * parentheses, and only when neither the text before nor the text after
 * it is a comma.
 *
 * Pure: no `node:*`, no I/O, never throws on note content.
 */

import { quote } from "./operand.js";

/** The `SIZE@` prefix of an item, decoded. */
export interface SizedOperand {
  readonly ok: true;
  /** 1, 2, 4 or 8. */
  readonly size: number;
  readonly signed: boolean;
  /** The sys/sdt.h `f` type suffix was present (`8f@`): the bits are a float or double. */
  readonly float: boolean;
  /** Everything after the `@`. */
  readonly operand: string;
}

/** An item whose prefix cannot be used; `size` is what was read, or 0. */
export interface BadSize {
  readonly ok: false;
  readonly size: number;
  readonly signed: boolean;
  readonly reason: string;
}

/** C `isspace` in the "C" locale: what the note writers and readers treat as blank. */
function isBlank(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\r" || ch === "\v" || ch === "\f";
}

/** Index of the first non-blank character at or after `from`, or `text.length`. */
function skipBlanks(text: string, from: number): number {
  let i = from;
  while (i < text.length && isBlank(text.charAt(i))) i++;
  return i;
}

/**
 * Splits the argument text into items, at most `limit` of them (the caller
 * asks for one more than it will decode, to learn that the cap was hit).
 * Empty or blank text has no items.
 *
 * An unclosed `[` or `(` would swallow every later item into one, so an
 * item still unbalanced at the end of the text is split again with
 * brackets ignored: garbage stays garbage, but later items are not hidden.
 */
export function splitItems(text: string, limit: number): string[] {
  const items: string[] = [];
  for (const item of scan(text, limit, true)) {
    if (isBalanced(item)) items.push(item);
    else items.push(...scan(item, limit - items.length, false));
    if (items.length >= limit) break;
  }
  return items.slice(0, limit);
}

/** One pass of the splitter; `brackets` says whether blanks inside `[…]`/`(…)` join. */
function scan(text: string, limit: number, brackets: boolean): string[] {
  const items: string[] = [];
  let i = skipBlanks(text, 0);
  while (i < text.length && items.length < limit) {
    let depth = 0;
    let j = i;
    for (; j < text.length; j++) {
      const ch = text.charAt(j);
      if (brackets && (ch === "[" || ch === "(")) depth++;
      else if (brackets && (ch === "]" || ch === ")") && depth > 0) depth--;
      else if (isBlank(ch) && depth === 0) {
        const next = skipBlanks(text, j);
        if (text.charAt(j - 1) !== "," && text.charAt(next) !== ",") break;
        j = next - 1; // blanks around a comma belong to the operand: `$sp, 16`
      }
    }
    let end = j;
    while (end > i && isBlank(text.charAt(end - 1))) end--; // `4@$sp, ` at the very end
    items.push(text.slice(i, end));
    i = skipBlanks(text, j);
  }
  return items;
}

/** True when every `[`/`(` in the item is closed. */
function isBalanced(item: string): boolean {
  let depth = 0;
  for (const ch of item) {
    if (ch === "[" || ch === "(") depth++;
    else if ((ch === "]" || ch === ")") && depth > 0) depth--;
  }
  return depth === 0;
}

/**
 * Splits `-4@%edi` into size 4, signed, operand `%edi`.
 *
 * Accepted prefixes: `N@` (unsigned), `-N@` (signed), `Nf@` / `-Nf@`
 * (floating point; systemtap 4.8's sys/sdt.h appends `f` for `float` and
 * `double`: `8f@-8(%rbp)`, `4f@%eax`). N must be 1, 2, 4 or 8 (4 or 8 with
 * `f`): other sizes, such as `-16@%rax` for an `__int128`, cannot be read
 * into a 64-bit BPF register and become an unsupported entry.
 *
 * An item with no `N@` prefix (old sys/sdt.h versions wrote bare operands,
 * `%rdi`) says nothing about its size. probec reads it as `pointerSize`
 * bytes, unsigned, like a C `unsigned long`: the natural width of a
 * register or stack slot on the target, and no sign extension is invented.
 * Operand text that merely contains an `@` (`foo@GOTOFF(%ebx)`) is not a
 * prefix: the prefix is digits right at the start of the item.
 */
export function splitSize(item: string, pointerSize: number): SizedOperand | BadSize {
  const m = /^(-?)([0-9]+)(f?)@/.exec(item);
  if (m === null) {
    return { ok: true, size: pointerSize, signed: false, float: false, operand: item };
  }
  const signed = m[1] === "-";
  const digits = m[2] ?? "";
  const float = m[3] === "f";
  const size = digits.length > 3 ? 0 : Number(digits);
  const operand = item.slice(m[0].length);
  const allowed = float ? size === 4 || size === 8 : size === 1 || size === 2 || size === 4 || size === 8;
  if (!allowed) {
    const what = float ? "floating-point size" : "size";
    return {
      ok: false,
      size: 0,
      signed,
      reason: `argument ${quote(item)} has ${what} ${digits}; only ${float ? "4 and 8" : "1, 2, 4 and 8"} bytes can be read`,
    };
  }
  if (operand === "") {
    return { ok: false, size, signed, reason: `argument ${quote(item)} has no operand after the @` };
  }
  return { ok: true, size, signed, float, operand };
}
