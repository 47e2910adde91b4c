/**
 * `compile(source, options)`: a probe file → an AttachPlan, or diagnostics.
 *
 * parse → semantic passes → resolve each target (a `ProbecError` from the
 * resolver becomes an error at that target, keeping its hints) → plan
 * entries with one cookie counter across the file → USDT argument counts
 * checked against the notes → shared semaphores merged → plan assembled,
 * with the file's aggregation settings (`interval`, `option mapkeys`) when
 * it has any.
 *
 * Deterministic given its resolver: everything outside comes through
 * `options.resolve`, and the same resolutions give the same plan.
 */
import {
  argUses,
  checkProbeFile,
  parseProbeFile,
  ustackFrames,
  type CheckedAggregate,
  type CheckedProbe,
  type Diagnostic,
  type Expression,
  type SourceLocation,
} from "../dsl/index.js";
import { InternalError, ProbecError } from "../errors.js";
import { newResolutionCache, resolveTarget, type ResolveTargetOptions, type TargetResolution } from "../discovery/resolve-target.js";
import { abiArgDiagnostics } from "./abi-args.js";
import { LINE_SEMAPHORE_SUFFIX, lineSemaphoreEntries } from "./cpython-tracing.js";
import { assemblePlan, mergePlanSemaphores, planProbesFromResolution } from "./from-resolution.js";
import { withoutUnprobedGoFunctions } from "./go-returns.js";
import type { AttachPlan, PathStrategy, PlanAggregate, PlanCapture, PlanExpr, PlanProbe, PlanProgram } from "./plan.js";

/** Options for {@link compile}. */
export interface CompileOptions extends ResolveTargetOptions {
  /** The file's name, for diagnostics and the plan's source locations (default `<inline>`). */
  readonly file?: string;
  /** Resolves one target text (aliases expanded); default {@link resolveTarget} with these options. */
  readonly resolve?: (targetText: string) => Promise<TargetResolution>;
  /** A path strategy for every probe; given on the command line, it wins over the file's `option strategy`. */
  readonly strategy?: PathStrategy;
}

/** The result of {@link compile}: a plan when there is no error, and every diagnostic. */
export interface CompileResult {
  readonly plan: AttachPlan | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

/** Compiles a probe file. Never throws for a problem in the file or its targets: those are diagnostics. */
export async function compile(source: string, options: CompileOptions = {}): Promise<CompileResult> {
  const file = options.file ?? "<inline>";
  const parsed = parseProbeFile(source, file);
  const checked = checkProbeFile(parsed.ast);
  const diagnostics: Diagnostic[] = [...parsed.diagnostics, ...checked.diagnostics];
  if (diagnostics.some((d) => d.severity === "error")) return { plan: undefined, diagnostics: sortDiagnostics(diagnostics) };

  // One cache per compile: the file describes one moment of the machine, so each scope and object is resolved once.
  const resolutionCache = newResolutionCache();
  const resolve = options.resolve ?? ((text: string) => resolveTarget(text, { ...options, cache: resolutionCache }));
  const cache = new Map<string, Promise<TargetResolution>>();
  const entries: PlanProbe[] = [];
  let cookie = 1;
  /** Binaries (in one scope) whose python:line semaphore an entry already raises. */
  const lineSemaphores = new Set<string>();
  for (const probe of checked.probes) {
    const program = programOf(probe);
    const strategy: PathStrategy = options.strategy ?? probe.options.strategy;
    for (const target of probe.targets) {
      // A bug is not a problem at this target: it leaves compile() and reaches the CLI's report.
      const at = (error: unknown): void => {
        if (!(error instanceof ProbecError) || error instanceof InternalError) throw error;
        diagnostics.push({ severity: "error", message: error.message, location: target.loc, hints: [...error.hints] });
      };
      let resolution: TargetResolution;
      try {
        let pending = cache.get(target.text);
        if (pending === undefined) {
          pending = resolve(target.text);
          cache.set(target.text, pending);
        }
        resolution = await pending;
      } catch (error) {
        at(error);
        continue;
      }
      // A return probe on a glob over Go functions leaves out, with a warning, those it cannot probe whole.
      const go = withoutUnprobedGoFunctions(resolution, probe.kind);
      if (go.skipped.length > 0) {
        diagnostics.push({
          severity: "warning",
          message: `${go.skipped.length} function${go.skipped.length === 1 ? "" : "s"} the glob matches get${go.skipped.length === 1 ? "s" : ""} no ${probe.kind} probe: ${go.skipped.length === 1 ? "its" : "their"} return instructions cannot all be found with confidence, or ${go.skipped.length === 1 ? "it" : "they"} cannot be paired`,
          location: target.loc,
          hints: [
            ...go.skipped.slice(0, 3),
            ...(go.skipped.length > 3 ? [`and ${go.skipped.length - 3} more`] : []),
            "probec never puts a kernel return probe on a Go binary: the Go runtime crashes on it (PITFALLS 29)",
          ],
        });
      }
      resolution = go.resolution;
      let planned: PlanProbe[];
      try {
        planned = planProbesFromResolution(
          resolution,
          {
            id: probe.id,
            kind: probe.kind,
            specText: `${probe.kind} ${target.written}`,
            source: { file, line: target.loc.start.line, col: target.loc.start.column },
            strategy,
          },
          { firstCookie: cookie },
        );
      } catch (error) {
        at(error);
        continue;
      }
      for (const entry of planned) {
        for (const point of entry.points) cookie = Math.max(cookie, point.cookie + 1);
        entries.push({ ...entry, program });
      }
      // CPython 3.11 fires function__entry only while python:line's semaphore is raised: raise it, silently, and say so.
      const tracing = lineSemaphoreEntries(
        resolution,
        planned.map((entry) => ({ ...entry, program })),
        cookie,
        lineSemaphores,
      );
      for (const entry of tracing.entries) {
        for (const point of entry.points) cookie = Math.max(cookie, point.cookie + 1);
        entries.push(entry);
      }
      for (const reason of tracing.reasons) {
        diagnostics.push({
          severity: "warning",
          message: reason,
          location: target.loc,
          hints: [`the plan holds the extra entry ${probe.id}${LINE_SEMAPHORE_SUFFIX}, which attaches to python:line and reports nothing`],
        });
      }
      if (probe.kind === "usdt") diagnostics.push(...usdtArgDiagnostics(probe, planned));
      else diagnostics.push(...abiArgDiagnostics(probe, resolution));
    }
  }
  if (diagnostics.some((d) => d.severity === "error")) return { plan: undefined, diagnostics: sortDiagnostics(diagnostics) };
  try {
    const plan = assemblePlan(mergePlanSemaphores(entries));
    return { plan: checked.aggregation === undefined ? plan : { ...plan, aggregation: checked.aggregation }, diagnostics: sortDiagnostics(diagnostics) };
  } catch (error) {
    if (!(error instanceof ProbecError) || error instanceof InternalError) throw error;
    const first = checked.probes[0];
    const location: SourceLocation = first?.loc ?? parsed.ast.loc;
    diagnostics.push({ severity: "error", message: error.message, location, hints: [...error.hints] });
    return { plan: undefined, diagnostics: sortDiagnostics(diagnostics) };
  }
}

function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => a.location.start.offset - b.location.start.offset);
}

/** One error per `argN` of a USDT probe that some matched site does not have. */
function usdtArgDiagnostics(probe: CheckedProbe, entries: readonly PlanProbe[]): Diagnostic[] {
  const sites = entries.flatMap((e) => e.points.flatMap((p) => (p.site.kind === "usdt" ? [p.site] : [])));
  if (sites.length === 0) return [];
  const out: Diagnostic[] = [];
  for (const use of argUses(probe)) {
    const short = sites.filter((s) => s.args.length <= use.index);
    if (short.length === 0) continue;
    const described = [
      ...new Set(
        short.map(
          (s) =>
            `${s.provider}:${s.name} at ${s.address} has ${s.args.length} argument${s.args.length === 1 ? "" : "s"}${s.args.length > 0 ? ` (arg0..arg${s.args.length - 1}: "${s.argsText}")` : ""}`,
        ),
      ),
    ];
    out.push({
      severity: "error",
      message: `\`arg${use.index}\` is beyond the arguments of ${short.length === sites.length ? "the matched USDT site" + (sites.length === 1 ? "" : "s") : `${short.length} of ${sites.length} matched USDT sites`}`,
      location: use.loc,
      hints: described.slice(0, 3).concat(described.length > 3 ? [`and ${described.length - 3} more`] : []),
    });
  }
  return out;
}

/** The probe's program, as the plan carries it. */
export function programOf(probe: CheckedProbe): PlanProgram {
  const expr = (e: Expression): PlanExpr => toPlanExpr(e, probe.options.strlen);
  return {
    fields: probe.aggregates.length === 0 ? probe.fields.map((f) => ({ name: f.name, type: f.type, expr: expr(f.value) })) : [],
    filter: probe.filter === undefined ? null : expr(probe.filter),
    format: probe.format ?? null,
    aggregates: probe.aggregates.map((a) => planAggregate(a, expr)),
    strlen: probe.options.strlen,
  };
}

function planAggregate(a: CheckedAggregate, expr: (e: Expression) => PlanExpr): PlanAggregate {
  return {
    fn: a.fn,
    value: a.value === undefined ? null : expr(a.value),
    by: a.by.map(expr),
    lhist: a.lhist === undefined ? null : { min: a.lhist.min, max: a.lhist.max, step: a.lhist.step },
    text: a.text,
  };
}

function toPlanExpr(e: Expression, strlen: number): PlanExpr {
  const frames = ustackFrames(e);
  if (frames !== undefined) return { op: "ustack", frames };
  switch (e.type) {
    case "Integer":
      return { op: "int", value: e.value };
    case "String":
      // The semantic pass rejects string literals in expressions.
      throw new InternalError(`string literal in a checked expression at ${e.loc.start.line}:${e.loc.start.column}`);
    case "Identifier": {
      const m = /^arg(\d+)$/.exec(e.name);
      if (m !== null) return { op: "arg", index: Number(m[1]) };
      return { op: "capture", name: e.name as PlanCapture };
    }
    case "Cast":
      return { op: "cast", to: e.to, expr: toPlanExpr(e.expression, strlen) };
    case "Unary":
      return { op: "unary", operator: e.operator, operand: toPlanExpr(e.operand, strlen) };
    case "Binary":
      return { op: "binary", operator: e.operator, left: toPlanExpr(e.left, strlen), right: toPlanExpr(e.right, strlen) };
    case "Call": {
      const [arg, max] = e.args;
      if (arg === undefined) throw new InternalError(`${e.callee.name}() without an argument in a checked expression`);
      if (e.callee.name === "gostr") {
        const slot = arg.type === "Identifier" ? /^arg(\d+)$/.exec(arg.name) : null;
        if (slot === null) throw new InternalError("gostr() of something other than argN in a checked expression");
        return { op: "gostr", index: Number(slot[1]), maxLen: max?.type === "Integer" ? Number(max.value) : strlen };
      }
      return { op: "str", arg: toPlanExpr(arg, strlen), maxLen: max?.type === "Integer" ? Number(max.value) : strlen };
    }
  }
}
