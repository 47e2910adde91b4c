/**
 * Shell-style globs for symbol and probe names: `*`, `?` and `[...]`
 * classes (with `!` or `^` negation), matched against the whole name.
 * Pure; compiled once per pattern.
 */
import { UsageError } from "./errors.js";

/** A compiled glob. */
export interface Glob {
  /** The pattern as given. */
  readonly source: string;
  /** True when the pattern has no wildcard, so callers can take an exact-lookup fast path. */
  readonly isLiteral: boolean;
  test(name: string): boolean;
}

/** Longest pattern accepted (a pattern is user input, but keep regexes small). */
const MAX_PATTERN = 4096;

/** Compiles `pattern`; throws a {@link UsageError} naming the pattern when a `[` class is not closed. */
export function compileGlob(pattern: string): Glob {
  if (pattern.length > MAX_PATTERN) throw new UsageError(`pattern is longer than ${MAX_PATTERN} characters`);
  let re = "^";
  let literal = true;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*") {
      re += "[\\s\\S]*";
      literal = false;
    } else if (c === "?") {
      re += "[\\s\\S]";
      literal = false;
    } else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) throw new UsageError(`pattern "${pattern}": "[" at position ${i + 1} is never closed`, ["escape it as [[] or close the class with ]"]);
      let body = pattern.slice(i + 1, end);
      let negate = false;
      if (body.startsWith("!") || body.startsWith("^")) {
        negate = true;
        body = body.slice(1);
      }
      re += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = end;
      literal = false;
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/]/g, (m) => `\\${m}`);
    }
  }
  const regex = new RegExp(`${re}$`, "u");
  return literal
    ? { source: pattern, isLiteral: true, test: (name) => name === pattern }
    : { source: pattern, isLiteral: false, test: (name) => regex.test(name) };
}
