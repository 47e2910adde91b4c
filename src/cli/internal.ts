/**
 * The CLI's own entry to library internals it needs but `probec`'s public
 * API does not offer (src/index.ts stays a deliberate, documented set). The
 * CLI imports the public API from "../index.js" and everything else from
 * here, so what it reaches past the public API is listed in one place.
 */
export { type CaptureName, CAPTURE_NAMES, isCaptureName, PATH_STRATEGY_NAMES } from "../plan/index.js";
export { scopeNamespaces, type ScopeNamespace, type ScopeObject } from "../discovery/scope-objects.js";
export { openObject } from "../discovery/resolve-target.js";
export { isDebugOnly } from "../elf/elf-file.js";
export { hex } from "../elf/fields.js";
export { detectGo, type GoBinaryInfo } from "../golang/index.js";
export { exprText } from "../attach/expr-text.js";
export { valueUnit } from "../attach/aggregates.js";
export { foldStacks, type CountedStack } from "../symbolize/folded.js";
export { renderFlameGraph } from "../symbolize/flamegraph.js";
