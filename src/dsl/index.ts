/**
 * The probe language: parser, AST and diagnostics (docs/design.md, `dsl/`).
 * Pure: imports no `node:*`.
 */
export type * from "./ast.js";
export type { Diagnostic, Severity } from "./diagnostics.js";
export { renderDiagnostics } from "./diagnostics.js";
export type { ParseResult } from "./parse.js";
export { parseProbeFile } from "./parse.js";
export type { CheckedAggregate, CheckedField, CheckedProbe, CheckedTarget, SemanticResult, Strategy, ValueType } from "./semantic.js";
export { aggregateText, expressionText } from "./expr-text.js";
export { ustackFrames } from "./expr-types.js";
export { argUses } from "./arg-uses.js";
export { parseTargetSpec, type SelectorScope, type TargetSpec } from "./target-spec.js";
export { matchesLabels, parseLabelSelector, type LabelRequirement, type LabelSelector } from "./label-selector.js";
export { checkProbeFile, formatReferences, CAPTURES, DEFAULT_STRATEGY, DEFAULT_STRLEN, DSL_LIMITS, STRATEGIES } from "./semantic.js";
