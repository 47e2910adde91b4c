/*
 * The BPF object embedded in probec-attach (native/bpf/probec.bpf.c,
 * compiled by the build into probec_bpf_object.c): opened from memory,
 * its `points` map sized from the plan and its ring buffer from
 * --ringbuf-bytes, `probec_uprobe_multi` given the uprobe_multi attach type
 * or left unloaded (only the program the mode
 * attaches through is loaded), then loaded. The object contract is in
 * native/README.md.
 */
#ifndef PROBEC_LOADER_H
#define PROBEC_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probec_abi.h"
#include "util.h"

struct loader {
  struct bpf_object *obj;
  struct bpf_program *uprobe;       /* PMU and legacy perf events; NULL when uprobe_multi is used */
  struct bpf_program *uprobe_multi; /* uprobe_multi links; NULL when not loaded */
  int points_fd, programs_fd, filter_pids_fd, events_fd, lost_fd;
  int filter_mntns_fd; /* the mount-namespace sets that the `filter` command edits */
  int aggs_fd, agg_dropped_fd, stacks_fd; /* aggregations (aggregate.c) */
  uint32_t agg_key_size;                 /* the key size `aggs` was created with */
  uint32_t stack_value_size;             /* the value size of `stacks` */
};

/* The sizes of the maps the plan decides, set before load. */
struct loader_sizes {
  uint32_t max_points;    /* `points` */
  uint32_t ringbuf_bytes; /* `events` */
  uint32_t agg_keys;      /* `aggs` and `stacks` entries (plan.aggregation.mapKeys); 1 when nothing aggregates */
  uint32_t agg_ids;       /* `agg_dropped` entries: entries * PROBEC_MAX_AGGS (PROBEC_MAX_AGG_IDS when following); 1 when nothing aggregates */
  uint32_t agg_key_size;  /* `aggs` key bytes: 8 + the largest key (8 + PROBEC_AGG_KEY_BYTES when following) */
  uint32_t stack_frames;  /* frames of the largest `ustack` key (PROBEC_MAX_FRAMES when following); 0: no `stacks` in use */
  bool stacks;            /* some probe takes a ustack (field or key): `stack_pids` gets its full size */
  bool stacks_prealloc;   /* `stacks` preallocated: kernels before 6.1 WARN when a tracing program uses a map allocated at run time */
};

/** Loads the object; on failure `*err` is the errno and `why` says what failed (with libbpf's last message). */
int loader_load(struct loader *l, bool with_multi, const struct loader_sizes *sizes, int *err, struct why *why);
void loader_close(struct loader *l);

int loader_set_program(const struct loader *l, uint32_t entry, const struct probec_program *program);
int loader_set_point(const struct loader *l, uint64_t cookie, const struct probec_point *point);
int loader_add_pid(const struct loader *l, uint32_t entry, uint32_t tgid);
/* Undoing what the setters did, for the `remove` and `filter` commands (native/PROTOCOL.md); 0 or -errno (ENOENT when absent). */
int loader_remove_point(const struct loader *l, uint64_t cookie);
int loader_remove_pid(const struct loader *l, uint32_t entry, uint32_t tgid);
int loader_add_mntns(const struct loader *l, uint32_t entry, uint64_t mntns);
int loader_remove_mntns(const struct loader *l, uint32_t entry, uint64_t mntns);
/** Zeroes `lost[entry]` on every CPU: an entry slot used again starts from 0. */
int loader_reset_lost(const struct loader *l, uint32_t entry);
/** Sum over CPUs of `lost[entry]`. */
uint64_t loader_lost(const struct loader *l, uint32_t entry);

/*
 * The process watch (native/bpf/process_watch.h): a second instance of the
 * embedded object with only its two tracepoint programs and three maps,
 * loaded and attached when the first container-filtered entry with a
 * semaphore needs per-process links, so that other sessions pay nothing.
 */
struct process_watch_object {
  struct bpf_object *obj;
  struct bpf_link *fork, *exec;
  int watched_fd, events_fd, lost_fd;
};

/** Loads and attaches the process watch; on failure `*err` is the errno and `why` says what failed. */
int loader_load_process_watch(struct process_watch_object *w, int *err, struct why *why);
/** Attaches its programs again after loader_detach_process_watch (no-op when attached). */
int loader_attach_process_watch(struct process_watch_object *w, int *err, struct why *why);
/** Detaches its programs (no namespace is watched: no fork or exec of the machine needs to run them), keeping it loaded. */
void loader_detach_process_watch(struct process_watch_object *w);
void loader_close_process_watch(struct process_watch_object *w);

/** Routes libbpf's messages: warnings to stderr, and the last one kept for error reasons. */
void loader_capture_libbpf_messages(void);

#endif
