/**
 * A plan from outside the compiler (a saved `plan.json`, another tool's
 * output) checked for what src/attach/ reads from it, so that a bad file is
 * one message naming the member, not a TypeError deep in the decoder. The
 * helper checks the rest (paths, offsets, argument specs) and says so in
 * its `error` status; the full contract is schema/attach-plan.schema.json.
 */
import { AGGREGATE_FNS, POINT_SIDES, isAggregateFn, type AttachPlan } from "../plan/index.js";
import { UsageError } from "../errors.js";

const KINDS = ["uprobe", "uretprobe", "uprobe+ret", "usdt"];

/** Returns `value` as a plan, or throws a {@link UsageError} naming `source` and the first bad member. */
export function checkAttachPlan(value: unknown, source: string): AttachPlan {
  const bad = (path: string, expected: string, got: unknown): never => {
    throw new UsageError(`${source}: ${path}: expected ${expected}, got ${describe(got)}`, [
      "write plans with probec compile FILE -o plan.json (schema/attach-plan.schema.json describes them)",
    ]);
  };
  if (!isObject(value)) return bad("the plan", "a JSON object", value);
  if (value.planVersion !== 2) return bad("planVersion", "2 (the plan format this probec executes)", value.planVersion);
  if (!Array.isArray(value.probes)) return bad("probes", "an array", value.probes);
  const cookies = new Set<number>();
  value.probes.forEach((probe: unknown, i) => {
    const at = `probes[${i}]`;
    if (!isObject(probe)) return bad(at, "an object", probe);
    if (typeof probe.id !== "string" || probe.id === "") bad(`${at}.id`, "a probe id", probe.id);
    if (!KINDS.includes(probe.kind as string)) bad(`${at}.kind`, KINDS.join(", "), probe.kind);
    const target = probe.target;
    if (!isObject(target)) return bad(`${at}.target`, "an object", target);
    for (const key of ["containerId", "containerName"] as const) {
      if (target[key] !== null && typeof target[key] !== "string") bad(`${at}.target.${key}`, "a string or null", target[key]);
    }
    if (!Array.isArray(probe.points) || probe.points.length === 0) return bad(`${at}.points`, "a non-empty array", probe.points);
    // A kernel return probe on Go crashes the program (PITFALLS 29): the helper refuses it too, but as a plan error, this is the input's fault.
    const go = isObject(probe.binary) && isObject(probe.binary.code) && probe.binary.code.language === "go";
    probe.points.forEach((point: unknown, j) => {
      const pat = `${at}.points[${j}]`;
      if (!isObject(point)) return bad(pat, "an object", point);
      if (!Number.isSafeInteger(point.cookie) || (point.cookie as number) <= 0) bad(`${pat}.cookie`, "a positive integer", point.cookie);
      if (cookies.has(point.cookie as number)) bad(`${pat}.cookie`, "a cookie unique in the plan", point.cookie);
      cookies.add(point.cookie as number);
      if (!(POINT_SIDES as readonly unknown[]).includes(point.side)) bad(`${pat}.side`, POINT_SIDES.map((s) => `"${s}"`).join(", "), point.side);
      if (go && point.side === "return")
        bad(`${pat}.side`, '"entry" or "return-instruction" on a Go binary (a kernel return probe would crash it)', point.side);
      return undefined;
    });
    if (probe.program !== undefined) checkProgram(probe.program, `${at}.program`, bad);
    return undefined;
  });
  return value as unknown as AttachPlan;
}

function checkProgram(program: unknown, at: string, bad: (path: string, expected: string, got: unknown) => never): void {
  if (!isObject(program)) return bad(at, "an object", program);
  if (!Array.isArray(program.fields)) return bad(`${at}.fields`, "an array", program.fields);
  program.fields.forEach((field: unknown, i) => {
    if (!isObject(field) || typeof field.name !== "string") return bad(`${at}.fields[${i}]`, "a field with a name", field);
    if (field.type !== "int" && field.type !== "string" && field.type !== "stack") bad(`${at}.fields[${i}].type`, '"int", "string" or "stack"', field.type);
    if (!isObject(field.expr)) bad(`${at}.fields[${i}].expr`, "an expression object", field.expr);
    return undefined;
  });
  if (program.format !== null && typeof program.format !== "string") bad(`${at}.format`, "a string or null", program.format);
  if (!Array.isArray(program.aggregates)) return bad(`${at}.aggregates`, "an array (empty for a probe that prints events)", program.aggregates);
  program.aggregates.forEach((aggregate: unknown, i) => {
    const aat = `${at}.aggregates[${i}]`;
    if (!isObject(aggregate)) return bad(aat, "an object", aggregate);
    if (!isAggregateFn(String(aggregate.fn))) bad(`${aat}.fn`, AGGREGATE_FNS.join(", "), aggregate.fn);
    if (!Array.isArray(aggregate.by)) bad(`${aat}.by`, "an array of key expressions", aggregate.by);
    if (typeof aggregate.text !== "string") bad(`${aat}.text`, "the clause's text", aggregate.text);
    if (aggregate.fn === "lhist") {
      const p = aggregate.lhist;
      const ok = isObject(p) && [p.min, p.max, p.step].every(Number.isSafeInteger) && (p.step as number) > 0 && (p.max as number) > (p.min as number);
      if (!ok) bad(`${aat}.lhist`, "{ min, max, step } with step > 0 and max > min", p);
    }
    return undefined;
  });
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
