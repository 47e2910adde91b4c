/**
 * The kernel features probec-attach probes at start (native/src/features.c,
 * reported in its `hello`), each with the Linux release that brought it, as
 * data. cilium/ebpf does the same for its feature tests: with the release
 * recorded, a missing feature on an older kernel is "too old" (expected, and
 * the hint is a newer kernel), while a missing feature on a kernel at or past
 * that release is "missing" (something is broken or disabled: a config
 * option, a lockdown, a seccomp filter, privileges), which a test must not
 * excuse.
 *
 * Releases are the mainline ones; a distribution kernel may have a feature
 * backported earlier (RHEL 8's 4.18 has the ring buffer), so "too old" never
 * means "absent", only "not promised".
 */

/** A feature of the hello's `features` object. */
export interface KernelFeature {
  /** Its key in the hello's `features` (native/PROTOCOL.md). */
  readonly key: "uprobeMulti" | "pmu" | "cookies" | "legacy" | "refCtrOffset" | "ringbuf" | "bpfLoop";
  /** What it is, in the kernel's words. */
  readonly name: string;
  /** The mainline release that brought it: [major, minor]. */
  readonly since: readonly [number, number];
  /** What probec does with it. */
  readonly use: string;
}

/** Every feature the helper reports, in the order of its hello. */
export const KERNEL_FEATURES: readonly KernelFeature[] = [
  { key: "uprobeMulti", name: "BPF_TRACE_UPROBE_MULTI links", since: [6, 6], use: "one link for many offsets of a binary (--mode multi)" },
  { key: "pmu", name: "the uprobe perf PMU (perf_event_open of type uprobe)", since: [4, 17], use: "one perf event per point (--mode pmu)" },
  { key: "cookies", name: "BPF cookies (bpf_get_attach_cookie)", since: [5, 15], use: "telling the points of one program apart (multi and pmu modes)" },
  { key: "legacy", name: "tracefs uprobe_events", since: [3, 5], use: "named uprobe events (--mode legacy), and sweeping a killed attacher's events" },
  { key: "refCtrOffset", name: "uprobe reference counters (ref_ctr_offset)", since: [4, 20], use: "raising USDT semaphores while attached" },
  { key: "ringbuf", name: "BPF ring buffers (BPF_MAP_TYPE_RINGBUF)", since: [5, 8], use: "carrying every event to the attacher" },
  { key: "bpfLoop", name: "the bpf_loop helper", since: [5, 17], use: "running each probe's argument and filter ops" },
];

/** `present`; `too old`: absent on a release before `since`; `missing`: absent although the release has it. */
export type FeatureVerdict = "present" | "too old" | "missing";

/** [major, minor] of a kernel release string (`uname -r`: `6.8.0-45-generic`), or undefined when it is not one. */
export function parseKernelRelease(release: string): readonly [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m === null ? undefined : [Number(m[1]), Number(m[2])];
}

/** True when `release` is at or past `since`. An unparsable release counts as new enough: nothing is excused blindly. */
export function kernelAtLeast(release: string, since: readonly [number, number]): boolean {
  const version = parseKernelRelease(release);
  if (version === undefined) return true;
  return version[0] !== since[0] ? version[0] > since[0] : version[1] >= since[1];
}

/** The verdict on `feature` for a helper that reported `present` on kernel `release`. */
export function featureVerdict(feature: KernelFeature, release: string, present: boolean): FeatureVerdict {
  if (present) return "present";
  return kernelAtLeast(release, feature.since) ? "missing" : "too old";
}

/** One sentence for a feature that is not there: what it is, what it is for, and what to do. */
export function featureProblem(feature: KernelFeature, release: string): string {
  const needs = `${feature.name} (Linux ${feature.since.join(".")}, for ${feature.use})`;
  return featureVerdict(feature, release, false) === "too old"
    ? `${needs} is not in kernel ${release}, which predates it; a newer kernel has it`
    : `${needs} is missing although kernel ${release} is new enough: check the kernel's configuration (CONFIG_UPROBES, CONFIG_BPF_SYSCALL), lockdown and the attacher's privileges`;
}
