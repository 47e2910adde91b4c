/**
 * `argUses(probe)`: every `argN` a checked probe reads, with where it is
 * written. A walk over the AST, shared by the compiler (USDT argument counts
 * against the notes) and `probec check` (the same counts against an image).
 */
import type { Expression, SourceLocation } from "./ast.js";
import type { CheckedProbe } from "./semantic.js";

/** Every `argN` a probe reads, with where it is written. */
export function argUses(probe: CheckedProbe): { index: number; loc: SourceLocation }[] {
  const out: { index: number; loc: SourceLocation }[] = [];
  const walk = (e: Expression): void => {
    switch (e.type) {
      case "Identifier": {
        const m = /^arg(\d+)$/.exec(e.name);
        if (m !== null) out.push({ index: Number(m[1]), loc: e.loc });
        return;
      }
      case "Binary":
        walk(e.left);
        walk(e.right);
        return;
      case "Unary":
        walk(e.operand);
        return;
      case "Cast":
        walk(e.expression);
        return;
      case "Call": {
        e.args.forEach(walk);
        // gostr(argN) also reads the string's length from argN+1.
        const slot = e.callee.name === "gostr" && e.args[0]?.type === "Identifier" ? /^arg(\d+)$/.exec(e.args[0].name) : null;
        if (slot !== null && e.args[0] !== undefined) out.push({ index: Number(slot[1]) + 1, loc: e.args[0].loc });
        return;
      }
      default:
        return;
    }
  };
  for (const f of probe.fields) walk(f.value);
  if (probe.filter !== undefined) walk(probe.filter);
  for (const a of probe.aggregates) {
    if (a.value !== undefined) walk(a.value);
    a.by.forEach(walk);
  }
  return out;
}
