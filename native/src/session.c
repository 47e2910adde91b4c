/* See session.h. */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* An entry on its way to being attached: lowered, its binary open and checked, its maps filled. */
struct prepared_entry {
  struct entry_attempt attempt;
  struct opened_binary binary;
  bool ready;     /* prepared without failure: its points can be attached */
  bool grouped;   /* already attached as part of a uprobe_multi group */
  dev_t dev;      /* identity of the opened file: entries on one file share one uprobe_multi link per side */
  ino_t ino;
  size_t attached;
};

/* Lowers the entry, sends its layout, opens and checks its binary and fills its maps. */
static void prepare_entry(struct session *s, size_t index, struct prepared_entry *p) {
  const struct plan_entry *e = &s->plan->entries[index];
  struct lowered_entry lowered;
  struct why why = {{0}};
  int err = 0;
  p->attempt.index = index;
  p->binary.fd = -1;
  if (lower_program(e, &lowered, &why) < 0) {
    lower_free(&lowered);
    on_failure(&p->attempt, 0, 0, why.text);
    return;
  }
  status_layout(index, &lowered);
  if (binary_open(e, &p->binary, &err, &why) < 0) {
    p->binary.fd = -1;
    on_failure(&p->attempt, 0, err, why.text);
  } else if (fill_maps(s, index, e, &lowered, &err, &why) < 0) {
    on_failure(&p->attempt, 0, err, why.text);
  } else {
    struct stat st;
    if (fstat(p->binary.fd, &st) == 0) {
      p->dev = st.st_dev;
      p->ino = st.st_ino;
    }
    p->ready = true;
  }
  lower_free(&lowered);
}

/* A failure of a group's link is a failure of every entry in the group. */
struct group_attempt {
  struct prepared_entry **members;
  size_t n;
};

static void on_group_failure(void *ctx, uint64_t cookie, int err, const char *reason) {
  struct group_attempt *g = ctx;
  for (size_t i = 0; i < g->n; i++) on_failure(&g->members[i]->attempt, cookie, err, reason);
}

/*
 * uprobe_multi: the ready entries on the same file (several probes on
 * libc, say) go into one link per side, so a plan costs one BPF_LINK_CREATE
 * per binary and side however many probes it has there.
 */
static void attach_groups(struct session *s, struct prepared_entry *prepared, size_t n) {
  struct prepared_entry **members = xcalloc(n, sizeof *members);
  for (size_t i = 0; i < n; i++) {
    if (!prepared[i].ready || prepared[i].grouped) continue;
    size_t count = 0, npoints = 0;
    for (size_t j = i; j < n; j++) {
      struct prepared_entry *q = &prepared[j];
      if (!q->ready || q->grouped || q->dev != prepared[i].dev || q->ino != prepared[i].ino) continue;
      q->grouped = true;
      members[count++] = q;
      npoints += s->plan->entries[j].npoints;
    }
    struct plan_point *points = xcalloc(npoints, sizeof *points);
    size_t at = 0;
    for (size_t k = 0; k < count; k++) {
      const struct plan_entry *e = &s->plan->entries[members[k]->attempt.index];
      memcpy(points + at, e->points, e->npoints * sizeof *points);
      at += e->npoints;
    }
    struct group_attempt group = {.members = members, .n = count};
    struct attach_request r = {
        .loader = &s->loader,
        .path = prepared[i].binary.path,
        .points = points,
        .npoints = npoints,
        .teardown = &s->teardown,
        .on_failure = on_group_failure,
        .ctx = &group,
    };
    size_t attached = attach_multi(&r);
    s->attached_points += attached;
    /* Both sides' links hold all of a member's points, or the member has a failure already. */
    for (size_t k = 0; k < count; k++)
      if (members[k]->attempt.failures == 0) members[k]->attached = s->plan->entries[members[k]->attempt.index].npoints;
    free(points);
  }
  free(members);
}

/* PMU and legacy attach point by point: nothing is gained by grouping entries. */
static void attach_one(struct session *s, struct prepared_entry *p) {
  const struct plan_entry *e = &s->plan->entries[p->attempt.index];
  struct attach_request r = {
      .loader = &s->loader,
      .path = p->binary.path,
      .points = e->points,
      .npoints = e->npoints,
      .teardown = &s->teardown,
      .on_failure = on_failure,
      .ctx = &p->attempt,
  };
  p->attached = s->mode == ATTACH_PMU ? attach_pmu(&r) : attach_legacy(&r);
  s->attached_points += p->attached;
}

void session_attach(struct session *s) {
  size_t n = s->plan->nentries;
  s->lost = xcalloc(n, sizeof *s->lost);
  struct prepared_entry *prepared = xcalloc(n, sizeof *prepared);
  for (size_t i = 0; i < n; i++) {
    const struct plan_entry *e = &s->plan->entries[i];
    if (e->filter_kind != PLAN_FILTER_NONE)
      for (size_t j = 0; j < e->npids; j++) watch_add(&s->watch, e->pids[j]);
    prepare_entry(s, i, &prepared[i]);
  }
  if (s->mode == ATTACH_MULTI) {
    attach_groups(s, prepared, n);
  } else {
    for (size_t i = 0; i < n; i++)
      if (prepared[i].ready) attach_one(s, &prepared[i]);
  }
  for (size_t i = 0; i < n; i++) {
    struct prepared_entry *p = &prepared[i];
    if (p->attempt.failures == 0) {
      status_attached(i, attach_mode_name(s->mode), p->binary.path, p->attached);
      s->attached_entries++;
    } else {
      s->failed_entries++;
    }
    /* The kernel holds the inode from attach on: the fd behind /proc/self/fd/N is no longer needed. */
    if (p->binary.fd >= 0) binary_close(&p->binary);
  }
  free(prepared);
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
