/**
 * The captures, defined once: every name an expression may read besides
 * `argN`, with its value type, the probe kinds it is valid in, and how the
 * event carries it. Everything else is derived from this table: the DSL's
 * name and type checks (src/dsl/semantic.ts), the plan's `PlanCapture`
 * type, the event decoder's header fields (src/attach/events.ts) and the
 * printers' `{name}` references (src/cli/event-output.ts). What cannot be
 * derived — the JSON schema's enum, `enum probec_capture` in
 * native/include/probec_abi.h, the lowering table in native/src/lower.c and
 * the BPF program's `capture()` switch — is checked against it by
 * test/plan/drift.test.ts, which fails when one of them drifts.
 *
 * Adding a capture is one entry here plus its native code (the ABI
 * constant, the lowering, and the BPF read); the drift test names each
 * place still missing it.
 *
 * Pure data: no I/O.
 */
import { PROBE_KINDS, type ProbeKind } from "./kinds.js";

/** The type of a value: a 64-bit integer, or a string. */
export type CaptureValueType = "int" | "string";

/** One capture's definition. */
export interface CaptureDef {
  /** Its value type. */
  readonly type: CaptureValueType;
  /** The probe kinds in which it has a value; elsewhere naming it is an error. */
  readonly kinds: readonly ProbeKind[];
  /**
   * How the BPF program reads it: the value of `enum probec_capture`
   * (native/include/probec_abi.h, whose constant is `PROBEC_CAP_<NAME>`), or
   * `"header"` for a string the event header carries as a whole (`comm`, in
   * the header's `comm[16]`) or the plan supplies (`container`), which the
   * program never computes with.
   */
  readonly abi: number | "header";
  /** One line for help and hints. */
  readonly doc: string;
  /** Why it is missing from the other kinds: a hint per kind, else `otherwise`. */
  readonly unavailable?: { readonly byKind?: Partial<Record<ProbeKind, string>>; readonly otherwise: string };
}

const ALL_KINDS = PROBE_KINDS;

/**
 * Every capture, in the order help and diagnostics list them.
 * `satisfies` keeps each entry checked while the keys stay literal.
 */
export const CAPTURES = {
  pid: { type: "int", kinds: ALL_KINDS, abi: 0, doc: "process id (tgid) in the initial pid namespace" },
  tid: { type: "int", kinds: ALL_KINDS, abi: 1, doc: "thread id in the initial pid namespace" },
  comm: { type: "string", kinds: ALL_KINDS, abi: "header", doc: "the thread's command name (16 bytes at most)" },
  container: { type: "string", kinds: ALL_KINDS, abi: "header", doc: "the entry's container name (else its id), or null outside containers" },
  timestamp: { type: "int", kinds: ALL_KINDS, abi: 2, doc: "CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns)" },
  cpu: { type: "int", kinds: ALL_KINDS, abi: 3, doc: "the CPU the event fired on" },
  retval: {
    type: "int",
    kinds: ["uretprobe", "uprobe+ret"],
    abi: 4,
    doc: "the return register (return side only)",
    unavailable: { byKind: { usdt: "a USDT site has no return value" }, otherwise: "use uretprobe or uprobe+ret to see the return value" },
  },
  latency: {
    type: "int",
    kinds: ["uprobe+ret"],
    abi: 5,
    doc: "nanoseconds since the paired entry (uprobe+ret return side only)",
    unavailable: { otherwise: "uprobe+ret pairs entry and return, and measures the time between them" },
  },
} as const satisfies Record<string, CaptureDef>;

/** A capture's name. */
export type CaptureName = keyof typeof CAPTURES;

/** Every capture name, in definition order. */
export const CAPTURE_NAMES = Object.keys(CAPTURES) as CaptureName[];

/** The captures the event header carries as strings (no ABI code): `comm`, `container`. */
export type HeaderCaptureName = { [K in CaptureName]: (typeof CAPTURES)[K]["abi"] extends "header" ? K : never }[CaptureName];

/** True when `name` is a capture. */
export function isCaptureName(name: string): name is CaptureName {
  return Object.hasOwn(CAPTURES, name);
}

/** The definition of a capture, widened to {@link CaptureDef}. */
export function captureDef(name: CaptureName): CaptureDef {
  return CAPTURES[name];
}

/** The ABI constant's name in native/include/probec_abi.h for an integer capture (`PROBEC_CAP_PID`). */
export function captureAbiConstant(name: CaptureName): string {
  return `PROBEC_CAP_${name.toUpperCase()}`;
}
