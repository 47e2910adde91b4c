/* See session.h. */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binary.h"
#include "lower.h"
#include "status.h"

struct entry_attempt {
  size_t index;
  size_t failures;
};

static void on_failure(void *ctx, uint64_t cookie, int err, const char *reason) {
  struct entry_attempt *a = ctx;
  a->failures++;
  status_failed(a->index, reason, err, cookie);
}

/* Fills the maps the BPF program reads for this entry; 0, or -1 with `why`. */
static int fill_maps(struct session *s, size_t index, const struct plan_entry *e, const struct lowered_entry *l, int *err, struct why *why) {
  int rc = loader_set_program(&s->loader, (uint32_t)index, &l->program);
  if (rc < 0) {
    *err = -rc;
    return why_set(why, "cannot store the entry's program in the BPF map: %s", strerror(-rc));
  }
  for (size_t i = 0; i < e->npids; i++) {
    rc = loader_add_pid(&s->loader, (uint32_t)index, e->pids[i]);
    if (rc < 0) {
      *err = -rc;
      return why_set(why, "cannot store pid %u in the filter map: %s", e->pids[i], strerror(-rc));
    }
  }
  for (size_t i = 0; i < e->npoints; i++) {
    struct probec_point point;
    *err = 0;
    if (lower_point(e, (uint32_t)index, &e->points[i], l, &point, why) < 0) return -1;
    rc = loader_set_point(&s->loader, e->points[i].cookie, &point);
    if (rc < 0) {
      *err = -rc;
      return why_set(why, "cannot store cookie %llu in the points map: %s", (unsigned long long)e->points[i].cookie, strerror(-rc));
    }
  }
  return 0;
}

static void attach_entry(struct session *s, size_t index) {
  const struct plan_entry *e = &s->plan->entries[index];
  struct entry_attempt attempt = {.index = index};
  struct lowered_entry lowered;
  struct why why = {{0}};
  int err = 0;
  if (lower_program(e, &lowered, &why) < 0) {
    lower_free(&lowered);
    on_failure(&attempt, 0, 0, why.text);
    s->failed_entries++;
    return;
  }
  status_layout(index, &lowered);
  struct opened_binary binary;
  if (binary_open(e, &binary, &err, &why) < 0) {
    on_failure(&attempt, 0, err, why.text);
  } else {
    if (fill_maps(s, index, e, &lowered, &err, &why) < 0) {
      on_failure(&attempt, 0, err, why.text);
    } else {
      struct attach_request r = {
          .loader = &s->loader,
          .path = binary.path,
          .points = e->points,
          .npoints = e->npoints,
          .teardown = &s->teardown,
          .on_failure = on_failure,
          .ctx = &attempt,
      };
      size_t attached = s->mode == ATTACH_MULTI ? attach_multi(&r) : s->mode == ATTACH_PMU ? attach_pmu(&r) : attach_legacy(&r);
      s->attached_points += attached;
      if (attempt.failures == 0) status_attached(index, attach_mode_name(s->mode), binary.path, attached);
    }
    /* The kernel holds the inode from attach on: the fd behind /proc/self/fd/N is no longer needed. */
    binary_close(&binary);
  }
  lower_free(&lowered);
  if (attempt.failures == 0) s->attached_entries++;
  else s->failed_entries++;
}

void session_attach(struct session *s) {
  s->lost = xcalloc(s->plan->nentries, sizeof *s->lost);
  for (size_t i = 0; i < s->plan->nentries; i++) {
    const struct plan_entry *e = &s->plan->entries[i];
    if (e->filter_kind != PLAN_FILTER_NONE)
      for (size_t j = 0; j < e->npids; j++) watch_add(&s->watch, e->pids[j]);
    attach_entry(s, i);
  }
  status_ready(s->attached_entries, s->failed_entries, s->attached_points);
}

bool session_read_lost(struct session *s) {
  bool any = false;
  for (size_t i = 0; s->lost != NULL && i < s->plan->nentries; i++) {
    s->lost[i] = loader_lost(&s->loader, (uint32_t)i);
    any |= s->lost[i] != 0;
  }
  return any;
}

void session_detach(struct session *s) {
  teardown_all(&s->teardown);
  watch_close(&s->watch);
  free(s->lost);
  s->lost = NULL;
}
