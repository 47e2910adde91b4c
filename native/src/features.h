/*
 * What this kernel offers for attaching uprobes, probed once at start and
 * reported in the `hello` message:
 * - uprobeMulti: BPF_TRACE_UPROBE_MULTI links (Linux 6.6), probed with a
 *   link create that can only fail after the kernel accepted the attach type;
 * - pmu: the uprobe perf PMU (Linux 4.17), /sys/bus/event_source/devices/uprobe/type;
 * - cookies: bpf_get_attach_cookie for kprobe-type programs (Linux 5.15),
 *   probed by loading a program that calls it;
 * - legacy: tracefs uprobe_events (Linux 3.5), at /sys/kernel/tracing or /sys/kernel/debug/tracing;
 * - refCtrOffset: semaphores raised by the kernel (Linux 4.20), the PMU's format/ref_ctr_offset;
 * - ringbuf: BPF_MAP_TYPE_RINGBUF (Linux 5.8), which carries every event;
 * - bpfLoop: the bpf_loop helper (Linux 5.17), which runs each entry's ops.
 * The release that brought each one is data in src/attach/features.ts, so a
 * test can tell a kernel too old for a feature from one where it is broken.
 */
#ifndef PROBEC_FEATURES_H
#define PROBEC_FEATURES_H

#include <stdbool.h>

struct features {
  bool uprobe_multi, pmu, cookies, legacy, ref_ctr_offset, ringbuf, bpf_loop;
  /** The tracefs directory holding uprobe_events, when `legacy`. */
  char tracefs[64];
  /** uname's release. */
  char kernel[65];
  /** errno of the first BPF program load the probes tried (EPERM: not privileged), 0 when it loaded. */
  int bpf_load_errno;
};

void features_probe(struct features *f);

#endif
