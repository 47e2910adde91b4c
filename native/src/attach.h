/*
 * The three ways of attaching one entry's points, and the teardown list
 * that undoes every one of them (PITFALLS 28: no link, perf event, tracefs
 * event or semaphore increment is left behind).
 *
 * - attach_multi.c: one uprobe_multi link per side (entry, return) of the request
 *   (session.c puts every entry on one binary in one request);
 * - attach_pmu.c: one uprobe PMU perf event + BPF link per point;
 * - attach_legacy.c: one tracefs uprobe event + perf event + BPF link per point.
 *
 * Each returns how many of the request's points are attached and reports
 * every failure through `on_failure`; the others stay attached.
 */
#ifndef PROBEC_ATTACH_H
#define PROBEC_ATTACH_H

#include <stddef.h>
#include <stdint.h>

#include "features.h"
#include "loader.h"
#include "plan.h"

enum attach_mode { ATTACH_MULTI, ATTACH_PMU, ATTACH_LEGACY };

const char *attach_mode_name(enum attach_mode mode);

/* ---- teardown ---- */

enum teardown_kind { TEARDOWN_FD, TEARDOWN_LINK, TEARDOWN_TRACEFS_EVENT };

struct teardown_item {
  enum teardown_kind kind;
  int fd;
  struct bpf_link *link;
  char event[64]; /* probec/<name> */
};

struct teardown {
  struct teardown_item *items;
  size_t n, cap;
  char tracefs[64];
};

void teardown_add_fd(struct teardown *t, int fd);
void teardown_add_link(struct teardown *t, struct bpf_link *link);
void teardown_add_event(struct teardown *t, const char *event);
/** Destroys links and closes fds first (a tracefs event in use cannot be removed), then removes the tracefs events. */
void teardown_all(struct teardown *t);

/* ---- attaching ---- */

typedef void (*attach_failure_fn)(void *ctx, uint64_t cookie, int err, const char *reason);

struct attach_request {
  const struct loader *loader;
  const char *path; /* what the kernel is handed */
  const struct plan_point *points;
  size_t npoints;
  struct teardown *teardown;
  attach_failure_fn on_failure;
  void *ctx;
  uint32_t pid; /* multi and pmu: 0 every process, else the kernel installs the breakpoints (and raises semaphores) in that process only */
};

size_t attach_multi(const struct attach_request *r);
size_t attach_pmu(const struct attach_request *r);
size_t attach_legacy(const struct attach_request *r);

/** Removes tracefs events `probec/pc_<pid>_*` whose attacher no longer runs (killed with SIGKILL). */
void attach_legacy_remove_stale(const char *tracefs);

#endif
