/**
 * Types for the Peggy-generated parser beside this file (`parser.js`, written
 * by `npm run build` from grammar/probe.pegjs and not checked in).
 * Hand-written so that type-checking does not depend on the generator's
 * output; only what src/dsl/parse.ts uses is declared.
 */
import type { ProbeFile, Position } from "../ast.js";

/** One thing the parser would have accepted at the failure position. */
export type Expectation =
  | { readonly type: "literal"; readonly text: string; readonly ignoreCase: boolean }
  | { readonly type: "class"; readonly parts: readonly unknown[]; readonly inverted: boolean; readonly ignoreCase: boolean }
  | { readonly type: "any" }
  | { readonly type: "end" }
  | { readonly type: "other"; readonly description: string };

/** Peggy's syntax error: where parsing stopped and what would have been accepted there. */
export declare class SyntaxError extends globalThis.SyntaxError {
  readonly expected: readonly Expectation[] | null;
  readonly found: string | null;
  readonly location: { readonly source: unknown; readonly start: Position; readonly end: Position };
}

export declare const StartRules: readonly string[];

/** Parses a whole probe file; throws {@link SyntaxError}. */
export declare function parse(input: string, options?: { grammarSource?: unknown; startRule?: "File" }): ProbeFile;
