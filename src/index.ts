/**
 * probec: find exactly where to put a uprobe or USDT probe, compile probes
 * into a plan, attach it and read typed events.
 *
 * This is the public API: a deliberate set, each export documented here and
 * at its declaration. Every file-taking function takes a path, bytes, a
 * `ByteSource` or an opened `ElfFile`, and throws typed errors
 * (`ProbecError` subclasses with a stable `code`) that name the file and say
 * how to fix the problem. The advanced parts have their own entries:
 *
 * - `probec/elf`: the pure ELF reader (no Node imports);
 * - `probec/plan`: the AttachPlan contract and its closed sets (probe kinds,
 *   captures, path strategies, runtimes);
 * - `probec/discovery`: live processes, mapped objects, container runtimes
 *   (one interface per runtime, and their registry) and running containers.
 *
 * The CLI uses this API, and reaches anything else only through its own
 * entry (src/cli/internal.ts), so that this list does not grow for it.
 */

// --- Files: symbols and USDT probes -------------------------------------------------------------

/** Opens an ELF file (path, bytes, `ByteSource`) as an {@link ElfFile}; close it with `elf.close()`. */
export { openElf, type ElfInput, type OpenOptions } from "./api/input.js";
/** An opened ELF file: headers, sections, symbol tables, notes, build-id, address → file offset. */
export { ElfFile } from "./elf/elf-file.js";
/** The attach point of a function: `findSymbol(file, "malloc")` → address, file offset, size, version. */
export { findSymbol, type FindOptions, type FoundSymbol } from "./api/symbols.js";
/** Every function (or object) symbol matching a glob, with debug files for stripped binaries. */
export { listSymbols, type ListOptions } from "./api/symbols.js";
/** Every USDT site of a file (`.note.stapsdt`), filtered by provider and name globs. */
export { findUsdt, type FindUsdtOptions, type UsdtSite } from "./api/usdt.js";
/** The decoded location of a USDT argument (register, memory, constant), as `findUsdt` returns them. */
export type * from "./usdt/args/types.js";
/** JSON shapes of symbols, USDT sites and arguments, as `probec list --json` prints them. */
export { symbolToJson, usdtSiteToJson, usdtArgToJson, type SymbolJson, type UsdtSiteJson, type UsdtArgJson } from "./api/json.js";
/** Separate debug files of a binary (build-id, debuglink, MiniDebugInfo), for symbols a stripped file lacks. */
export { loadDebugFiles, type DebugFile, type DebugSearchOptions } from "./debuginfo/index.js";
/** The byte source interface `openElf` also takes (`size`, `readAt`); implementations are in `probec/elf`. */
export type { ByteSource } from "./io/byte-source.js";

// --- Targets: scopes, objects, locations --------------------------------------------------------

/** Parses `SCOPE:OBJECT:LOCATION` (`docker/web:libc:malloc`) without looking anything up. */
export { parseTargetSpec, type TargetSpec, type Scope } from "./dsl/target-spec.js";
/** A scope (`docker/web`, `pid/123`, `k8s/ns/pod`, a bare name) → its runtime, container and processes. */
export { resolveScope, type ResolvedScope, type ScopeOptions } from "./discovery/scope.js";
/** A process of a resolved scope: pid, nested pids, namespaces, command, container. */
export type { ProcessInfo } from "./discovery/processes.js";
/** A whole target → the files its processes map (or would load) and the locations in them. */
export { resolveTarget, type TargetResolution, type ObjectGroup, type ResolveTargetOptions } from "./discovery/resolve-target.js";
/** Every running container on the machine, whatever its runtime, with its processes. */
export { listRunningContainers, type RunningContainer } from "./discovery/containers.js";

// --- Probes: the language, the plan, attaching ----------------------------------------------------

/** Parses a probe file; `checkProbeFile` runs the semantic passes; `renderDiagnostics` prints their findings. */
export { parseProbeFile, checkProbeFile, renderDiagnostics, type Diagnostic, type CheckedProbe } from "./dsl/index.js";
/** Probe file text → an AttachPlan, resolving every target; deterministic given what it resolved. */
export { compile, type CompileOptions, type CompileResult } from "./compile/compile.js";
/** A plan explained: which file, which path strategy and why, per entry (`probec compile --explain`). */
export { explainPlan } from "./compile/explain.js";
/** The AttachPlan: the versioned contract between the compiler and the attacher (all of it: `probec/plan`). */
export {
  PLAN_VERSION,
  PLAN_LIMITS,
  type AttachPlan,
  type PlanProbe,
  type AttachPoint,
  type PathStrategy,
  type PlanProgram,
  type PlanAggregate,
  type PlanExpr,
  type PlanField,
} from "./plan/index.js";
/** Attaches a plan through the native helper; the attachment is an async iterable of typed events. */
export {
  attach,
  type AttachMode,
  type AttachOptions,
  type AttachReady,
  type Attachment,
  type ProbeEvent,
  type AttachStatus,
  type AttachSummary,
  type ProbeSummary,
} from "./attach/index.js";
/** Follows the containers a probe file's scope names as they start, stop and restart (`--follow`): one helper, entries added and removed. */
export { follow, type FollowChange, type FollowOptions, type Following } from "./follow/index.js";
/** Checks a plan read from elsewhere (a file, another tool) before attaching it. */
export { checkAttachPlan } from "./attach/index.js";
/** In-kernel aggregations as an attachment reports them (`attachment.onAggregates`, `aggregates()`, `AttachSummary.aggregates`): histograms, counts, sums, stacks. */
export type { AggregateSnapshot, AggregateResult, AggregateRow, AggregateKeyValue, HistogramBucket, StackKey, FieldValue } from "./attach/index.js";
/** Adds up a session's aggregation reports across `interval` resets. */
export { AggregateTotals } from "./attach/index.js";

// --- Images -------------------------------------------------------------------------------------

/** Every probe of a spec looked up in a container image, without running it. */
export { checkImage, type CheckImageOptions, type CheckResult, type TargetCheck, type CheckedSite, type CheckSpec, type ProbeSource } from "./check/check.js";
/** A `checkImage` result as JUnit XML, for CI. */
export { checkResultToJunit } from "./check/junit.js";

// --- Errors -------------------------------------------------------------------------------------

/** The error hierarchy: every failure is a `ProbecError` with a stable `code`, a message naming the input, and `hints`. */
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
