/* See session.h. */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "binary.h"
#include "lower.h"
#include "process_links.h"
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
int session_fill_maps(struct session *s, size_t index, const struct plan_entry *e, const struct lowered_entry *l, int *err, struct why *why) {
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
  for (size_t i = 0; i < e->nmntns_more; i++) {
    rc = loader_add_mntns(&s->loader, (uint32_t)index, e->mntns_more[i]);
    if (rc < 0) {
      *err = -rc;
      return why_set(why, "cannot store mount namespace %llu in the filter map: %s", (unsigned long long)e->mntns_more[i], strerror(-rc));
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
  if (lower_program(e, (uint32_t)index, &lowered, &why) < 0) {
    lower_free(&lowered);
    on_failure(&p->attempt, 0, 0, why.text);
    return;
  }
  status_layout(index, &lowered);
  aggregates_register(s->aggs, (uint32_t)index, &lowered);
  if (binary_open(e, &p->binary, &err, &why) < 0) {
    p->binary.fd = -1;
    on_failure(&p->attempt, 0, err, why.text);
  } else if (session_fill_maps(s, index, e, &lowered, &err, &why) < 0) {
    on_failure(&p->attempt, 0, err, why.text);
  } else {
    struct stat st;
    if (fstat(p->binary.fd, &st) < 0) {
      on_failure(&p->attempt, 0, errno, "cannot stat the opened binary");
    } else {
      p->dev = st.st_dev;
      p->ino = st.st_ino;
      p->ready = true;
    }
  }
  lower_free(&lowered);
}

/* A group's first attempt: failures are only recorded, since a retry entry by entry decides whom they belong to. */
struct group_attempt {
  size_t failures;
};

static void on_group_failure(void *ctx, uint64_t cookie, int err, const char *reason) {
  (void)cookie, (void)err, (void)reason;
  ((struct group_attempt *)ctx)->failures++;
}

/* A process filter's point with a semaphore: attached once per pid of the filter, so that only those processes get it raised. */
static bool pid_gated(const struct plan_entry *e, const struct plan_point *pt, enum attach_mode mode) {
  return pt->ref_ctr_offset != 0 && e->filter_kind == PLAN_FILTER_PROCESS && e->npids > 0 && mode != ATTACH_LEGACY;
}

/* Whether a point is attached per process (PROTOCOL.md, "Semaphores") rather than with the entry's other points. */
static bool per_process(const struct plan_entry *e, const struct plan_point *pt, enum attach_mode mode) {
  return pid_gated(e, pt, mode) || process_links_point_gated(e, pt, mode);
}

/*
 * How many points of `e` are on one side, leaving out those attached per
 * process; with `out`, they are also copied there.
 */
static size_t points_on_side(const struct plan_entry *e, bool is_return, struct plan_point *out) {
  size_t n = 0;
  for (size_t i = 0; i < e->npoints; i++) {
    if (e->points[i].is_return != is_return || per_process(e, &e->points[i], ATTACH_MULTI)) continue;
    if (out != NULL) out[n] = e->points[i];
    n++;
  }
  return n;
}

/* Attaches one side of the entries in `members` (all on one file) with one link; on failure, one link per entry. */
static void attach_group_side(struct session *s, struct prepared_entry **members, size_t count, bool is_return, struct plan_point *scratch) {
  size_t n = 0;
  for (size_t k = 0; k < count; k++) n += points_on_side(&s->plan->entries[members[k]->attempt.index], is_return, scratch + n);
  if (n == 0) return;
  struct group_attempt group = {0};
  struct attach_request r = {
      .loader = &s->loader,
      .path = members[0]->binary.path,
      .points = scratch,
      .npoints = n,
      .teardown = &s->teardown,
      .on_failure = on_group_failure,
      .ctx = &group,
  };
  size_t attached = attach_multi(&r);
  if (group.failures == 0) {
    s->attached_points += attached;
    for (size_t k = 0; k < count; k++) members[k]->attached += points_on_side(&s->plan->entries[members[k]->attempt.index], is_return, NULL);
    return;
  }
  /*
   * One bad point (an offset the kernel refuses, a semaphore clash) fails
   * the whole link: retry entry by entry, so that only the entries whose
   * own points are refused fail, as in the other modes.
   */
  for (size_t k = 0; k < count; k++) {
    size_t own = points_on_side(&s->plan->entries[members[k]->attempt.index], is_return, scratch);
    if (own == 0) continue;
    struct attach_request one = r;
    one.path = members[k]->binary.path;
    one.npoints = own;
    one.on_failure = on_failure;
    one.ctx = &members[k]->attempt;
    size_t done = attach_multi(&one);
    members[k]->attached += done;
    s->attached_points += done;
  }
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
    struct plan_point *scratch = xcalloc(npoints, sizeof *scratch);
    attach_group_side(s, members, count, false, scratch);
    attach_group_side(s, members, count, true, scratch);
    free(scratch);
  }
  free(members);
}

/* PMU and legacy attach point by point: nothing is gained by grouping entries. Points linked per process are left out. */
static void attach_one(struct session *s, struct prepared_entry *p) {
  const struct plan_entry *e = &s->plan->entries[p->attempt.index];
  struct plan_point *points = xcalloc(e->npoints, sizeof *points);
  size_t n = 0;
  for (size_t i = 0; i < e->npoints; i++)
    if (!per_process(e, &e->points[i], s->mode)) points[n++] = e->points[i];
  struct attach_request r = {
      .loader = &s->loader,
      .path = p->binary.path,
      .points = points,
      .npoints = n,
      .teardown = &s->teardown,
      .on_failure = on_failure,
      .ctx = &p->attempt,
  };
  p->attached = n == 0 ? 0 : s->mode == ATTACH_PMU ? attach_pmu(&r) : attach_legacy(&r);
  s->attached_points += p->attached;
  free(points);
}

/* The namespaces a container filter keeps: target.mntNs, then filter.mntNs. */
static uint64_t *entry_namespaces(const struct plan_entry *e, size_t *n) {
  uint64_t *set = xcalloc(1 + e->nmntns_more, sizeof *set);
  set[0] = e->mntns;
  memcpy(set + 1, e->mntns_more, e->nmntns_more * sizeof *set);
  *n = 1 + e->nmntns_more;
  return set;
}

/* One pid's attempt: a process that exited before the attach (ESRCH) is no failure (the pidfd watch reports its exit). */
struct pid_attempt {
  struct entry_attempt *entry;
  uint32_t pid;
};

static void on_pid_failure(void *ctx, uint64_t cookie, int err, const char *reason) {
  struct pid_attempt *a = ctx;
  if (err == ESRCH) return;
  char text[400];
  snprintf(text, sizeof text, "pid %u: %s", a->pid, reason);
  on_failure(a->entry, cookie, err, text);
}

/* A process filter's points with a semaphore, once per pid; returns the points attached (in the process that took most). */
static size_t attach_per_pid(struct session *s, struct prepared_entry *p) {
  const struct plan_entry *e = &s->plan->entries[p->attempt.index];
  struct plan_point *points = xcalloc(e->npoints, sizeof *points);
  size_t n = 0, attached = 0;
  for (size_t i = 0; i < e->npoints; i++)
    if (pid_gated(e, &e->points[i], s->mode)) points[n++] = e->points[i];
  for (size_t k = 0; k < e->npids && n > 0; k++) {
    struct pid_attempt attempt = {&p->attempt, e->pids[k]};
    struct attach_request r = {
        .loader = &s->loader,
        .path = p->binary.path,
        .points = points,
        .npoints = n,
        .teardown = &s->teardown,
        .on_failure = on_pid_failure,
        .ctx = &attempt,
        .pid = e->pids[k],
    };
    size_t done = s->mode == ATTACH_MULTI ? attach_multi(&r) : attach_pmu(&r);
    if (done > attached) attached = done;
  }
  free(points);
  return attached;
}

size_t session_link_per_process(struct session *s, uint32_t index, const struct plan_entry *e, int binary_fd, attach_failure_fn on_failure, void *ctx) {
  size_t n;
  uint64_t *set = entry_namespaces(e, &n);
  size_t attached = process_links_add_entry(s->links, index, e, binary_fd, set, n, on_failure, ctx);
  free(set);
  return attached;
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
  /* Points with a semaphore: one link per process of a container filter's namespaces, or per pid of a process filter (PROTOCOL.md, "Semaphores"). */
  for (size_t i = 0; i < n; i++) {
    struct prepared_entry *p = &prepared[i];
    if (!p->ready) continue;
    size_t done = process_links_wanted(&s->plan->entries[i], s->mode)
                      ? session_link_per_process(s, (uint32_t)i, &s->plan->entries[i], p->binary.fd, on_failure, &p->attempt)
                      : attach_per_pid(s, p);
    p->attached += done;
    s->attached_points += done;
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
  process_links_free(s->links);
  s->links = NULL;
  teardown_all(&s->teardown);
  watch_close(&s->watch);
  free(s->lost);
  s->lost = NULL;
}
