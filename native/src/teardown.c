/* See attach.h, "teardown". */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "tracefs.h"

static struct teardown_item *add(struct teardown *t, enum teardown_kind kind) {
  if (t->n == t->cap) {
    t->cap = t->cap == 0 ? 64 : t->cap * 2;
    t->items = xrealloc(t->items, t->cap, sizeof *t->items);
  }
  struct teardown_item *item = &t->items[t->n++];
  memset(item, 0, sizeof *item);
  item->kind = kind;
  item->fd = -1;
  return item;
}

void teardown_add_fd(struct teardown *t, int fd) { add(t, TEARDOWN_FD)->fd = fd; }

void teardown_add_link(struct teardown *t, struct bpf_link *link) { add(t, TEARDOWN_LINK)->link = link; }

void teardown_add_event(struct teardown *t, const char *event) {
  snprintf(add(t, TEARDOWN_TRACEFS_EVENT)->event, sizeof t->items[0].event, "%s", event);
}

/*
 * Each PMU or legacy perf event released here makes the kernel wait for a
 * grace period under its global event_mutex (uprobe_unregister_sync in
 * probe_event_disable, ~100 ms a point on 6.18): 546 points take about a
 * minute and a half to detach, with threads or without (tried: the mutex
 * serializes them). A uprobe_multi link pays it once for all its points,
 * which is why --mode auto prefers it.
 */
void teardown_all(struct teardown *t) {
  for (size_t i = t->n; i-- > 0;) {
    struct teardown_item *item = &t->items[i];
    if (item->kind == TEARDOWN_LINK) bpf_link__destroy(item->link);
    if (item->kind == TEARDOWN_FD) close(item->fd);
  }
  for (size_t i = 0; i < t->n; i++) {
    if (t->items[i].kind != TEARDOWN_TRACEFS_EVENT) continue;
    if (tracefs_remove_event(t->tracefs, t->items[i].event) < 0)
      fprintf(stderr, "probec-attach: could not remove the tracefs event %s: %m\n", t->items[i].event);
  }
  free(t->items);
  t->items = NULL;
  t->n = t->cap = 0;
}

const char *attach_mode_name(enum attach_mode mode) {
  static const char *const names[] = {"multi", "pmu", "legacy"};
  return names[mode];
}
