/*
 * One plan executed: every entry lowered (its `layout` sent), its binary
 * opened and checked, its maps filled and its points attached in the
 * chosen mode, with a `failed` message for whatever could not be; then
 * `ready`. Detaching undoes all of it.
 */
#ifndef PROBEC_SESSION_H
#define PROBEC_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"
#include "attach.h"
#include "features.h"
#include "loader.h"
#include "lower.h"
#include "plan.h"
#include "watch.h"

struct session {
  const struct plan *plan;
  const struct features *features;
  enum attach_mode mode;
  struct loader loader;
  struct teardown teardown;
  struct watch watch;
  uint64_t *lost; /* per entry, cumulative */
  struct aggregates *aggs; /* the entries' aggregations, for the reports */
  struct process_links *links; /* per-process links of the semaphore points of container-filtered entries (process_links.h) */
  size_t attached_entries, failed_entries, attached_points;
};

/** Attaches every entry of the plan (the loader is already loaded); sends layout/attached/failed/ready. */
void session_attach(struct session *s);
/** Reads the lost counters; true when any is non-zero. */
bool session_read_lost(struct session *s);
/** Stores entry `index`'s program, pids and points in the BPF maps (also for entries added by --follow's `add`); 0, or -1 with `why`. */
int session_fill_maps(struct session *s, size_t index, const struct plan_entry *e, const struct lowered_entry *l, int *err, struct why *why);
/**
 * Links entry `index`'s points with a semaphore per process of its
 * namespaces (target.mntNs and filter.mntNs; process_links.h); returns the
 * points attached, failures through `on_failure`.
 */
size_t session_link_per_process(struct session *s, uint32_t index, const struct plan_entry *e, int binary_fd, attach_failure_fn on_failure, void *ctx);
/** Detaches everything (the per-process links too: `links` is freed). */
void session_detach(struct session *s);

#endif
