/**
 * probec: find exactly where to put a uprobe or USDT probe.
 *
 * Every function here takes a file as a path, bytes, a `ByteSource` or an
 * opened `ElfFile`, and throws typed errors (`ProbecError` subclasses with
 * a stable `code`) that name the file and say how to fix the problem.
 */
export { openElf, type ElfInput, type OpenOptions } from "./api/input.js";
export { findSymbol, listSymbols, type FindOptions, type ListOptions, type FoundSymbol } from "./api/symbols.js";
export { findUsdt, type FindUsdtOptions, type UsdtSite } from "./api/usdt.js";
export { symbolToJson, usdtSiteToJson, usdtArgToJson, type SymbolJson, type UsdtSiteJson, type UsdtArgJson } from "./api/json.js";
export { parseTargetSpec, type TargetSpec, type Scope } from "./dsl/target-spec.js";
export { resolveScope, type ResolvedScope, type ScopeOptions } from "./discovery/scope.js";
export { resolveTarget, type TargetResolution, type ObjectGroup, type ResolveTargetOptions } from "./discovery/resolve-target.js";
export { resolveObject, mappedObjectsOf, type ResolvedObject } from "./discovery/object.js";
export { openObject } from "./discovery/resolve-target.js";
export { mapFilesPath, type MappedObject } from "./discovery/proc/maps.js";
export { inspectProcess, runningContainers, type ProcessInfo } from "./discovery/processes.js";
export { listRunningContainers, type RunningContainer } from "./discovery/containers.js";
export { dockerSocketPath, listContainers, findContainer } from "./discovery/runtimes/docker.js";
export { podmanSocketPath } from "./discovery/runtimes/podman.js";
export { nearest } from "./suggest.js";
export { compile, type CompileOptions, type CompileResult } from "./compile/compile.js";
export { explainPlan } from "./compile/explain.js";
export { PLAN_VERSION, PLAN_LIMITS, type AttachPlan, type PlanProbe, type AttachPoint, type PathStrategy, type PlanProgram, type PlanExpr, type PlanField } from "./compile/plan.js";
export { attach, type AttachMode, type AttachOptions, type AttachReady, type Attachment, type ProbeEvent, type AttachStatus, type AttachSummary, type ProbeSummary, checkAttachPlan } from "./attach/index.js";
export { parseProbeFile, renderDiagnostics, checkProbeFile, STRATEGIES, type Diagnostic, type CheckedProbe } from "./dsl/index.js";
export { resolveInRoot, type ResolvedPath } from "./rootfs/resolve.js";
export { checkImage, type CheckImageOptions, type CheckResult, type TargetCheck, type CheckedSite, type CheckSpec, type ProbeSource } from "./check/check.js";
export { checkResultToJunit } from "./check/junit.js";
export { loadDebugFiles, type DebugFile, type DebugSearchOptions } from "./debuginfo/index.js";
export { ElfFile, isDebugOnly } from "./elf/elf-file.js";
export { hex } from "./elf/fields.js";
export { FileSource } from "./io/file-source.js";
export { BufferSource, type ByteSource } from "./io/byte-source.js";
export type * from "./usdt/args/types.js";
export {
  ProbecError,
  FormatError,
  NotFoundError,
  AmbiguousError,
  IfuncError,
  LimitError,
  IoError,
  UsageError,
  AttachError,
  InternalError,
  type ErrorCode,
} from "./errors.js";
