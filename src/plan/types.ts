/**
 * The AttachPlan: the versioned JSON contract between the compiler and the
 * attacher (docs/design.md, "The AttachPlan"), described for other tools by
 * `schema/attach-plan.schema.json`, which must stay in step with these types.
 *
 * Number conventions are those of `src/api/json.ts` and `src/usdt/json.ts`: addresses are `"0x…"`
 * strings, file offsets, sizes and small counts are JSON numbers, and 64-bit
 * identities and constants (`dev`, `ino`, `mtimeNs`) are decimal strings.
 *
 * The closed sets the plan names (probe kinds, path strategies, runtimes,
 * captures) are defined once beside this file (kinds.ts, strategies.ts,
 * runtimes.ts, captures.ts) and only referred to here.
 *
 * Pure types and constants: no I/O.
 */
import type { UsdtArgJson } from "../usdt/json.js";
import type { AggregateFn, LhistParams } from "./aggregates.js";
import type { CaptureName } from "./captures.js";
import type { PlanAbi, PlanLanguage, PointSide } from "./code.js";
import type { ProbeKind } from "./kinds.js";
import type { PlanRuntime } from "./runtimes.js";
import type { PathStrategy } from "./strategies.js";

/**
 * The plan format version this module writes; bumped on any incompatible
 * change. 2: `program.count` became `program.aggregates` (issue 15: counts,
 * histograms and the other aggregations are kept in the kernel).
 */
export const PLAN_VERSION = 2;

/** A whole plan. */
export interface AttachPlan {
  /** Format version; always {@link PLAN_VERSION} for plans this module writes. */
  planVersion: 2;
  /** Every probe entry, in compile order: one per (probe, target, mount namespace). */
  probes: PlanProbe[];
  /**
   * How the attacher keeps and reports the aggregations of the plan's
   * probes (issue 15). Absent: {@link AGGREGATION_DEFAULTS}.
   */
  aggregation?: PlanAggregation;
}

/** The session-wide settings of in-kernel aggregation. */
export interface PlanAggregation {
  /**
   * `interval SECONDS` in the probe file, in milliseconds: the attacher
   * reports every aggregation this often and then resets it. Null: it
   * reports them once, when it detaches.
   */
  intervalMs: number | null;
  /** Keys the aggregation map holds in all (`option mapkeys`); more are counted as dropped. */
  mapKeys: number;
}

/** What an absent {@link AttachPlan.aggregation} means. */
export const AGGREGATION_DEFAULTS: PlanAggregation = { intervalMs: null, mapKeys: 10240 };

/** A position in a spec file, 1-based. */
export interface SourceLocation {
  /** The spec file's name as given to the compiler (`<inline>` for a probe on the command line). */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
}

/**
 * One probe on one binary: a probe of the spec, resolved in one mount
 * namespace of its target's scope. A probe whose scope spans several mount
 * namespaces (or several targets) yields several entries with the same `id`.
 */
export interface PlanProbe {
  /** The probe's id in the spec (its name, or `probe<N>`); shared by every entry of the probe. */
  id: string;
  /** The probe kind. */
  kind: ProbeKind;
  /** The probe's text exactly as written in the spec. */
  specText: string;
  /** Where the probe is written. */
  source: SourceLocation;
  /** The path strategy that chose {@link PlanBinary.kernelPath}. */
  strategy: PathStrategy;
  /** How the target was resolved. */
  target: PlanTarget;
  /** The file the points are in, and how the attacher reaches and checks it. */
  binary: PlanBinary;
  /** The attach points, in cookie order. At most {@link PLAN_LIMITS}`.maxPointsPerProbe`. */
  points: AttachPoint[];
  /**
   * Which processes may produce events. Required for every container
   * scope: a layer shared by several containers puts the same inode in all
   * of them, and a probe without it fires in every one (PITFALLS 19). Null
   * only for the `host` scope, which filters nothing by definition.
   */
  filter: PlanFilter | null;
  /** What the probe computes per event; written by the compiler (absent in entries planned directly from a resolution). */
  program?: PlanProgram;
}

/** How a target was resolved: provenance for `--explain` and for the attacher's checks. */
export interface PlanTarget {
  /** The target spec text, `SCOPE:OBJECT:LOCATION`. */
  spec: string;
  /** `host`, `pid`, or the container runtime. */
  runtime: PlanRuntime;
  /** The full container id, or null when the scope is not a container. */
  containerId: string | null;
  /** The container's name when the runtime gave one, else null. */
  containerName: string | null;
  /** Mount-namespace inode shared by {@link processes} (0 for the host scope, which has no process). */
  mntNs: number;
  /** For a pod's container picked by a `k8s/NS/SELECTOR` scope: its pod namespace, pod and name in the pod (issue 14); absent otherwise. */
  pod?: PlanPod;
  /**
   * A selector scope's entry that serves several containers (one binary
   * shared by their image): each container by the mount namespace its
   * events carry, so that events name the container they came from. The
   * first is the one {@link containerId}, {@link containerName} and
   * {@link pod} describe. Absent for an entry of one container.
   */
  containers?: PlanContainer[];
  /** The scope's processes in this mount namespace, ascending by pid; empty for the host scope. */
  processes: PlanProcess[];
}

/** One container an entry serves, by its mount namespace (see {@link PlanTarget.containers}). */
export interface PlanContainer {
  mntNs: number;
  containerId: string;
  containerName: string | null;
  pod?: PlanPod;
}

/** A Kubernetes pod's container, as its runtime's `io.kubernetes.*` labels name it. */
export interface PlanPod {
  namespace: string;
  name: string;
  container: string;
}

/** One process of the target, as probec saw it at compile time. */
export interface PlanProcess {
  /** Pid in probec's own pid namespace (what a perf pid filter takes, PITFALLS 22). */
  pid: number;
  /** Its pid in each nested pid namespace, outermost first (`NSpid` of /proc/<pid>/status): `[4321, 1]`. */
  nsPid: number[];
  /** Pid-namespace inode. */
  pidNs: number;
  /** The command name. */
  comm: string;
}

/** The binary of one entry. */
export interface PlanBinary {
  /** What the target asked for: `libc`, `exe`, `/usr/lib/libfoo.so`. */
  request: string;
  /** Which rule found it (`exe`, `absolute`, `mapped`, `ld.so.cache`, …). */
  how: string;
  /** Its path inside the target's root. */
  containerPath: string;
  /**
   * The path the kernel is handed (or, for `fd`, the path the attacher
   * opens inside {@link openRoot} and then attaches through
   * `/proc/self/fd/N`): `fd` the canonical container path; `root`
   * `/proc/<pid>/root/<path>`; `layer` the file in the overlay layer that
   * holds it; `map` `/proc/<pid>/map_files/<range>` or `/proc/<pid>/exe`;
   * `host` the plain path.
   */
  kernelPath: string;
  /** Only for `fd`: the root directory to open {@link kernelPath} in (`/proc/<pid>/root`, `/` for the host scope); else null. */
  openRoot: string | null;
  /**
   * `st_dev` of the file as the target's processes see it, decimal. On
   * overlayfs it differs per container and differs from the layer file's
   * device: never match on it alone, and not at all for `layer` (PITFALLS 21).
   */
  dev: string;
  /** `st_ino`, decimal (64-bit). */
  ino: string;
  /** Size in bytes. */
  size: number;
  /** `st_mtime` in nanoseconds since the epoch, decimal. */
  mtimeNs: string;
  /** GNU build-id, lower-case hex, or null when the file has none. */
  buildId: string | null;
  /** True when a target process maps the file. */
  mapped: boolean;
  /** True when the file now at the path is not the one the processes run (deleted, replaced, copied up). */
  replaced: boolean;
  /** What the loader emulation could not honour while finding the file. */
  warnings: string[];
  /**
   * What kind of code the file holds (docs/design.md, "Kinds of code"):
   * the compiler chose arguments and return instrumentation from it, and
   * the attacher refuses a kernel return probe (`side: "return"`) on a Go
   * binary. Absent in plans written before it: C.
   */
  code?: PlanCode;
}

/** The kind of code of a binary. */
export interface PlanCode {
  /** `go` for a Go binary (build info or pclntab), else `c`. */
  language: PlanLanguage;
  /** The Go toolchain that built it (`go1.19.8`), when `language` is `go` and the build info says; else null. */
  goVersion: string | null;
}

/** One uprobe: one (file offset, side) with its cookie. */
export interface AttachPoint {
  /**
   * The BPF cookie of this point, unique in the plan and never 0 (0 is
   * what a link without a cookie reports). The BPF program looks up the
   * point's argument specs and output by it.
   */
  cookie: number;
  /** Entry (uprobe), return (uretprobe), or a return instruction (a uprobe there; what Go functions get). */
  side: PointSide;
  /**
   * The calling convention of the code at the point: where `argN` is read
   * and how `uprobe+ret` pairs the sides (by thread for C, by goroutine
   * for Go's ABIInternal). Absent in plans written before it: the
   * architecture's C ABI.
   */
  abi?: PlanAbi;
  /** File offset of the instruction: the uprobe offset (PITFALLS 1). */
  fileOffset: number;
  /**
   * The kernel's `ref_ctr_offset`: file offset of the USDT semaphore the
   * kernel raises while the probe is attached, or null. Points at the same
   * inode and offset share one (see `mergeSemaphores`, PITFALLS 26).
   */
  refCtrOffset: number | null;
  /**
   * For `uprobe+ret`: the cookie of the other side of the pair; else null.
   * A return point names its entry point; the entry point names its first
   * return point (a function probed at its return instructions has one
   * return point per instruction, each naming the entry).
   */
  pairedWith: number | null;
  /** What the point is on. */
  site: SymbolSite | UsdtSitePlan;
}

/** A point on a function (or raw address). */
export interface SymbolSite {
  /** Discriminator. */
  kind: "symbol";
  /** The symbol's name (`malloc`, `zoo_set2+0x10`, or the address for a raw address). */
  name: string;
  /** Symbol version (`GLIBC_2.2.5`), or null when unversioned. */
  version: string | null;
  /** Link-time address of the instruction, `"0x…"`. */
  address: string;
  /** Symbol size in bytes (0 when unknown, e.g. a raw address). */
  size: number;
}

/** A point on a USDT site. */
export interface UsdtSitePlan {
  /** Discriminator. */
  kind: "usdt";
  /** Provider (`python`). */
  provider: string;
  /** Probe name (`function__entry`). */
  name: string;
  /** Link-time address of the probe instruction, `"0x…"`. */
  address: string;
  /** Link-time address of the semaphore, `"0x…"`, or null. */
  semaphoreAddress: string | null;
  /** The note's argument string exactly as written. */
  argsText: string;
  /**
   * Every argument's decoded location, in note order, never dropped or
   * shifted (PITFALLS 10): the shape of `usdtArgToJson` in src/usdt/json.ts.
   * At most {@link PLAN_LIMITS}`.maxUsdtArgs`.
   */
  args: UsdtArgJson[];
}

/** Keeps events to the target's processes. */
export interface PlanFilter {
  /**
   * `container`: every process of the container, including ones started
   * after attach (by cgroup, falling back to pids); `process`: the pids only
   * (a `pid/N` scope outside any container).
   */
  kind: "container" | "process";
  /** The full container id; null for `process`. */
  containerId: string | null;
  /** The cgroup path(s) naming the container, sorted, as read from /proc/<pid>/cgroup (empty when unknown, e.g. hidden by a cgroup namespace). */
  cgroupPaths: string[];
  /** Every pid of the scope at compile time (probec's pid namespace), ascending. At most {@link PLAN_LIMITS}`.maxFilterPids`. */
  pids: number[];
  /**
   * `container` only: more mount namespaces the kernel filter keeps besides
   * `target.mntNs`, ascending: the other containers of a selector scope
   * (`docker/app=web`) that run this same binary, so that one entry (one
   * uprobe per point) serves them all (issue 14). Absent: none.
   */
  mntNs?: number[];
}

/**
 * Named limits (PITFALLS 27); exceeding one is a `LimitError` that names it.
 *
 * - `maxPointsPerProbe` 4096: the PMU path costs a perf fd per point and the
 *   plan a map entry per cookie; `uv_*` in node (536 points) fits, a glob
 *   like `*` over a big library is refused rather than attached for minutes.
 * - `maxPointsPerPlan` 65536: the size of the attacher's cookie → spec map.
 * - `maxUsdtArgs` 12: sys/sdt.h has at most 12 arguments (`STAP_PROBE12`),
 *   and the BPF program keeps 12 argument specs per cookie (as libbpf does).
 * - `maxFilterPids` 4096: the size of the attacher's pid filter map.
 */
export const PLAN_LIMITS = {
  maxPointsPerProbe: 4096,
  maxPointsPerPlan: 65536,
  maxUsdtArgs: 12,
  maxFilterPids: 4096,
} as const;

/** Limit names, for messages and tests. */
export type PlanLimitName = keyof typeof PLAN_LIMITS;

/**
 * What a probe computes at each event, for the BPF program and the
 * printer: its fields, its filter, its format, or its aggregations. The same
 * for every entry of a probe. Written by `compile` (src/compile/compile.ts);
 * optional in the type so that entries planned outside the compiler
 * (`planProbesFromResolution`) stay valid.
 */
export interface PlanProgram {
  /** Output fields in source order; empty when the probe aggregates. */
  fields: PlanField[];
  /** The `where` condition (non-zero keeps the event), or null. */
  filter: PlanExpr | null;
  /** The `format` string with `{field}` references, or null for the default layout. */
  format: string | null;
  /**
   * The probe's aggregations, in source order (issue 15): kept in BPF maps
   * and reported by the attacher (native/PROTOCOL.md, `aggregate`), not
   * sent event by event. Non-empty: the probe emits no events and has no
   * fields and no format. At most `AGGREGATE_LIMITS.maxAggregatesPerProbe`.
   */
  aggregates: PlanAggregate[];
  /** Default maximum string length for `str(argN)` without a length (`option strlen`). */
  strlen: number;
}

/**
 * One aggregation: `count`, `hist(latency) by comm`, `lhist(arg0, 0, 100, 10)`.
 * Per distinct tuple of `by` values the kernel keeps a count, a sum, a
 * minimum and a maximum of `value` (and for `hist`/`lhist` one such row per
 * bucket); which of them is printed is `fn`'s business.
 */
export interface PlanAggregate {
  /** The function (src/plan/aggregates.ts). */
  fn: AggregateFn;
  /** What is aggregated: an integer expression; null for `count`. */
  value: PlanExpr | null;
  /** The keys, in order (empty: one row). Integers, strings, `comm`, `container` or `ustack`. At most `AGGREGATE_LIMITS.maxAggregateKeys`. */
  by: PlanExpr[];
  /** `lhist` only: its MIN, MAX and STEP; else null. */
  lhist: LhistParams | null;
  /** The clause as the probe file writes it, normalised (`hist(latency) by comm`): its heading. */
  text: string;
}

/** One output field. */
export interface PlanField {
  name: string;
  /**
   * `int` (64-bit), `string` (read from the target, at most `maxLen`
   * bytes), or `stack` (a `ustack` capture: the user stack's return
   * addresses, innermost first).
   */
  type: "int" | "string" | "stack";
  expr: PlanExpr;
}

/** The captures a {@link PlanExpr} may read, besides arguments (defined in captures.ts). */
export type PlanCapture = CaptureName;

/** An expression tree, without source locations. Integers are decimal strings (exact to 64 bits). */
export type PlanExpr =
  | { op: "int"; value: string }
  | { op: "capture"; name: PlanCapture }
  | { op: "arg"; index: number }
  | { op: "str"; arg: PlanExpr; maxLen: number }
  /** A Go string in argument slots `index` (pointer) and `index + 1` (length), at most `maxLen - 1` bytes. */
  | { op: "gostr"; index: number; maxLen: number }
  /** The thread's user stack, at most `frames` return addresses (`ustack`, `ustack(N)`): a field or an aggregation key only. */
  | { op: "ustack"; frames: number }
  | { op: "cast"; to: "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64"; expr: PlanExpr }
  | { op: "unary"; operator: "!" | "-" | "~"; operand: PlanExpr }
  | {
      op: "binary";
      operator: "||" | "&&" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "|" | "^" | "&" | "<<" | ">>" | "+" | "-" | "*" | "/" | "%";
      left: PlanExpr;
      right: PlanExpr;
    };
