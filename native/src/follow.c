/* See follow.h. */
#include "follow.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "attach.h"
#include "binary.h"
#include "json.h"
#include "lower.h"
#include "plan.h"
#include "process_links.h"
#include "status.h"

/* ---- stdin, one command a line ---- */

static char *in_buf;
static size_t in_len, in_cap;
static bool in_eof;
static bool in_skipping; /* dropping the rest of an over-long line */

/* Reads once from stdin into the buffer; -1 on EOF or error, 0 when nothing was there, else 1. */
static int fill(void) {
  if (in_cap - in_len < 65536) {
    in_cap = in_cap == 0 ? 1 << 17 : in_cap * 2;
    if (in_cap > (size_t)FOLLOW_MAX_LINE * 2) in_cap = (size_t)FOLLOW_MAX_LINE * 2;
    in_buf = xrealloc(in_buf, in_cap, 1);
  }
  if (in_cap == in_len) return 0; /* full: the caller rejects the over-long line */
  ssize_t got = read(STDIN_FILENO, in_buf + in_len, in_cap - in_len);
  if (got < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
  if (got == 0) return -1;
  in_len += (size_t)got;
  return 1;
}

/* Takes the first complete line out of the buffer (NUL-terminated, the newline removed); NULL when there is none. */
static char *take_line(size_t *len) {
  char *nl = memchr(in_buf, '\n', in_len);
  if (nl == NULL) return NULL;
  if (in_skipping) {
    size_t n = (size_t)(nl - in_buf);
    memmove(in_buf, nl + 1, in_len - n - 1);
    in_len -= n + 1;
    in_skipping = false;
    nl = memchr(in_buf, '\n', in_len);
    if (nl == NULL) return NULL;
  }
  size_t n = (size_t)(nl - in_buf);
  char *line = xcalloc(n + 1, 1);
  memcpy(line, in_buf, n);
  memmove(in_buf, nl + 1, in_len - n - 1);
  in_len -= n + 1;
  *len = n;
  return line;
}

char *follow_read_first_line(int sigfd, size_t *len, bool *signalled, int *signo) {
  *signalled = false;
  for (;;) {
    char *line = take_line(len);
    if (line != NULL) return line;
    if (in_len >= FOLLOW_MAX_LINE) return NULL;
    struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    if (fds[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sigfd, &si, sizeof si) == sizeof si) {
        *signalled = true;
        *signo = (int)si.ssi_signo;
        return NULL;
      }
    }
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    if (fill() < 0) {
      in_eof = true;
      return NULL;
    }
  }
}

/* ---- the entries added while running ---- */

/* A command's parsed document, shared by the entries it added (their programs and USDT arguments point into it). */
struct shared_doc {
  struct json_doc doc;
  size_t refs;
};

struct slot {
  bool live;
  struct plan_entry entry;
  struct shared_doc *doc;
  struct teardown teardown;
  uint64_t *mntns; /* the filter set beyond target.mntNs: the entry's filter.mntNs, then what `filter` added */
  size_t nmntns;
};

struct follow {
  struct session *s;
  struct ring_buffer *rb;
  size_t first; /* entries below are the initial plan's */
  struct slot slots[PROBEC_MAX_ENTRIES];
};

struct follow *follow_start(struct session *s, struct ring_buffer *rb) {
  struct follow *f = xcalloc(1, sizeof *f);
  f->s = s;
  f->rb = rb;
  f->first = s->plan->nentries;
  int flags = fcntl(STDIN_FILENO, F_GETFL);
  if (flags >= 0) fcntl(STDIN_FILENO, F_SETFL, flags | O_NONBLOCK);
  return f;
}

static void release_doc(struct shared_doc *d) {
  if (d != NULL && --d->refs == 0) {
    json_free(&d->doc);
    free(d);
  }
}

static void on_failure(void *ctx, uint64_t cookie, int err, const char *reason) {
  size_t *a = ctx;
  status_failed(a[0], reason, err, cookie);
  a[1]++;
}

/*
 * Whether an entry gets one uprobe_multi link per process: a process
 * filter and a point with a semaphore. A link without a pid has no
 * consumer filter, so the kernel raises the semaphore in every process that
 * maps the file (a sibling container on a shared layer too); with a pid it
 * raises it in that process only (PROTOCOL.md, "Semaphores").
 */
static bool per_process_links(const struct plan_entry *e) {
  if (e->filter_kind != PLAN_FILTER_PROCESS || e->npids == 0) return false;
  for (size_t i = 0; i < e->npoints; i++)
    if (e->points[i].ref_ctr_offset != 0) return true;
  return false;
}

/* Lowers, opens, fills the maps and attaches slot `index`; returns the points attached (the entry failed when `*failures`). */
static size_t attach_slot(struct follow *f, uint32_t index, size_t *failures) {
  struct session *s = f->s;
  struct slot *slot = &f->slots[index];
  const struct plan_entry *e = &slot->entry;
  size_t attempt[2] = {index, 0};
  struct lowered_entry lowered;
  struct why why = {{0}};
  int err = 0;
  size_t attached = 0;
  snprintf(slot->teardown.tracefs, sizeof slot->teardown.tracefs, "%s", s->teardown.tracefs);
  loader_reset_lost(&s->loader, index);
  if (lower_program(e, index, &lowered, &why) < 0) {
    lower_free(&lowered);
    on_failure(attempt, 0, 0, why.text);
    *failures = attempt[1];
    return 0;
  }
  status_layout(index, &lowered);
  aggregates_register(s->aggs, index, &lowered);
  struct opened_binary binary = {.fd = -1};
  if (binary_open(e, &binary, &err, &why) < 0) {
    binary.fd = -1;
    on_failure(attempt, 0, err, why.text);
  } else if (session_fill_maps(s, index, e, &lowered, &err, &why) < 0) {
    on_failure(attempt, 0, err, why.text);
  } else {
    struct attach_request r = {
        .loader = &s->loader,
        .path = binary.path,
        .points = e->points,
        .npoints = e->npoints,
        .teardown = &slot->teardown,
        .on_failure = on_failure,
        .ctx = attempt,
    };
    if (s->mode == ATTACH_MULTI && per_process_links(e)) {
      /* One link per process of the filter: the kernel writes breakpoints and raises semaphores in these processes only. */
      for (size_t k = 0; k < e->npids; k++) {
        r.pid = e->pids[k];
        size_t done = attach_multi(&r);
        if (k == 0) attached = done;
      }
    } else if (process_links_wanted(e, s->mode)) {
      /* A container filter: the points with a semaphore get a link per process of its namespaces, the others one for all. */
      struct plan_point *others = xcalloc(e->npoints, sizeof *others);
      size_t n = 0;
      for (size_t i = 0; i < e->npoints; i++)
        if (!process_links_point_gated(e, &e->points[i], s->mode)) others[n++] = e->points[i];
      r.points = others;
      r.npoints = n;
      if (n > 0) attached = s->mode == ATTACH_MULTI ? attach_multi(&r) : attach_pmu(&r);
      free(others);
      attached += session_link_per_process(s, index, e, binary.fd, on_failure, attempt);
    } else {
      attached = s->mode == ATTACH_MULTI ? attach_multi(&r) : s->mode == ATTACH_PMU ? attach_pmu(&r) : attach_legacy(&r);
    }
  }
  lower_free(&lowered);
  if (attempt[1] == 0) status_attached(index, attach_mode_name(s->mode), binary.path, attached);
  if (binary.fd >= 0) binary_close(&binary);
  *failures = attempt[1];
  return attached;
}

/* Undoes a slot: its links first (no new hit), its map entries, then what the ring buffer still holds of it is delivered. */
static void clear_slot(struct follow *f, uint32_t index) {
  struct slot *slot = &f->slots[index];
  const struct loader *l = &f->s->loader;
  teardown_all(&slot->teardown);
  process_links_remove_entry(f->s->links, index);
  for (size_t i = 0; i < slot->entry.npoints; i++) loader_remove_point(l, slot->entry.points[i].cookie);
  for (size_t i = 0; i < slot->entry.npids; i++) loader_remove_pid(l, index, slot->entry.pids[i]);
  for (size_t i = 0; i < slot->nmntns; i++) loader_remove_mntns(l, index, slot->mntns[i]);
  aggregates_unregister(f->s->aggs, index);
  free(slot->entry.points);
  free(slot->entry.pids);
  free(slot->entry.mntns_more);
  free(slot->mntns);
  release_doc(slot->doc);
  memset(slot, 0, sizeof *slot);
}

/* Whether a cookie is already in the points map (an entry still attached uses it). */
static bool cookie_in_use(const struct follow *f, uint64_t cookie) {
  for (size_t i = 0; i < f->s->plan->nentries; i++)
    for (size_t j = 0; j < f->s->plan->entries[i].npoints; j++)
      if (f->s->plan->entries[i].points[j].cookie == cookie) return true;
  for (size_t i = f->first; i < PROBEC_MAX_ENTRIES; i++)
    for (size_t j = 0; f->slots[i].live && j < f->slots[i].entry.npoints; j++)
      if (f->slots[i].entry.points[j].cookie == cookie) return true;
  return false;
}

static size_t live_points(const struct follow *f) {
  size_t n = f->s->plan->total_points;
  for (size_t i = f->first; i < PROBEC_MAX_ENTRIES; i++)
    if (f->slots[i].live) n += f->slots[i].entry.npoints;
  return n;
}

static void cmd_add(struct follow *f, uint64_t id, const struct json *probes, struct shared_doc *doc) {
  struct plan parsed = {0};
  struct why why = {{0}};
  if (plan_load_probes(probes, &parsed, &why) < 0) {
    status_rejected(true, id, why.text);
    goto out;
  }
  for (size_t i = 0; i < parsed.nentries; i++) {
    for (size_t j = 0; j < parsed.entries[i].npoints; j++) {
      if (cookie_in_use(f, parsed.entries[i].points[j].cookie)) {
        snprintf(why.text, sizeof why.text, "add.probes[%zu]: cookie %llu is used by an entry still attached (each point needs its own)", i,
                 (unsigned long long)parsed.entries[i].points[j].cookie);
        status_rejected(true, id, why.text);
        goto out;
      }
    }
  }
  if (live_points(f) + parsed.total_points > PLAN_MAX_POINTS) {
    snprintf(why.text, sizeof why.text, "add.probes: the session would hold more than PLAN_MAX_POINTS (%d) points; remove entries first", PLAN_MAX_POINTS);
    status_rejected(true, id, why.text);
    goto out;
  }
  uint32_t *indices = xcalloc(parsed.nentries, sizeof *indices);
  size_t free_slots = 0;
  for (size_t i = f->first; i < PROBEC_MAX_ENTRIES && free_slots < parsed.nentries; i++)
    if (!f->slots[i].live) indices[free_slots++] = (uint32_t)i;
  if (free_slots < parsed.nentries) {
    free(indices);
    snprintf(why.text, sizeof why.text, "add.probes: the session would hold more than PROBEC_MAX_ENTRIES (%d) entries; remove entries first", PROBEC_MAX_ENTRIES);
    status_rejected(true, id, why.text);
    goto out;
  }
  size_t points = 0, count = parsed.nentries;
  for (size_t i = 0; i < count; i++) {
    struct slot *slot = &f->slots[indices[i]];
    slot->live = true;
    slot->entry = parsed.entries[i];
    slot->doc = doc;
    doc->refs++;
    size_t failures = 0;
    points += attach_slot(f, indices[i], &failures);
    /* The entry's own filter.mntNs join the set `filter` edits, so that `filter remove` can take them out too (PROTOCOL.md: the set starts as filter.mntNs). */
    slot->mntns = slot->entry.mntns_more;
    slot->nmntns = slot->entry.nmntns_more;
    slot->entry.mntns_more = NULL;
    slot->entry.nmntns_more = 0;
  }
  /* The slots own the points and pids now. */
  free(parsed.entries);
  parsed.entries = NULL;
  parsed.nentries = 0;
  status_added(id, indices, count, points);
  free(indices);
  return;
out:
  for (size_t i = 0; i < parsed.nentries; i++) {
    free(parsed.entries[i].points);
    free(parsed.entries[i].pids);
  }
  free(parsed.entries);
}

/* Reads `entries` as indices of added, live entries; -1 with a message otherwise. */
static int read_entries(struct follow *f, const struct json *list, uint32_t *out, size_t *n, char *message, size_t cap) {
  if (list == NULL || list->type != JSON_ARRAY || list->count == 0) {
    snprintf(message, cap, "remove.entries: expected a non-empty array of entry indices");
    return -1;
  }
  *n = 0;
  for (const struct json *e = list->first; e != NULL; e = e->next) {
    uint64_t v;
    if (!json_as_u64(e, &v) || v >= PROBEC_MAX_ENTRIES) {
      snprintf(message, cap, "remove.entries[%zu]: expected an entry index below %d", *n, PROBEC_MAX_ENTRIES);
      return -1;
    }
    if (v < f->first) {
      snprintf(message, cap, "remove.entries[%zu]: entry %llu belongs to the initial plan, which stays attached; entries to be removed are sent with `add`", *n,
               (unsigned long long)v);
      return -1;
    }
    if (!f->slots[v].live) {
      snprintf(message, cap, "remove.entries[%zu]: entry %llu is not attached", *n, (unsigned long long)v);
      return -1;
    }
    for (size_t k = 0; k < *n; k++)
      if (out[k] == v) {
        snprintf(message, cap, "remove.entries[%zu]: entry %llu is named twice", *n, (unsigned long long)v);
        return -1;
      }
    out[(*n)++] = (uint32_t)v;
  }
  return 0;
}

static void cmd_remove(struct follow *f, uint64_t id, const struct json *list) {
  char message[256];
  size_t n = list != NULL && list->type == JSON_ARRAY ? list->count : 0;
  uint32_t *entries = xcalloc(n == 0 ? 1 : n, sizeof *entries);
  if (read_entries(f, list, entries, &n, message, sizeof message) < 0) {
    status_rejected(true, id, message);
  } else {
    for (size_t i = 0; i < n; i++) {
      teardown_all(&f->slots[entries[i]].teardown);
      process_links_remove_entry(f->s->links, entries[i]);
    }
    /* Every link is gone: what the ring buffer holds of these entries is delivered before `removed`, so their indices can be reused. */
    events_drain_all(f->rb);
    for (size_t i = 0; i < n; i++) clear_slot(f, entries[i]);
    status_removed(id, entries, n);
  }
  free(entries);
}

static bool has_mntns(const struct slot *slot, uint64_t ns) {
  for (size_t i = 0; i < slot->nmntns; i++)
    if (slot->mntns[i] == ns) return true;
  return false;
}

/* Reads a list of mount-namespace inodes (`member` names it in messages); -1 with a message. */
static int read_namespaces(const struct json *list, const char *member, uint64_t **out, size_t *n, char *message, size_t cap) {
  *out = NULL;
  *n = 0;
  if (list == NULL) return 0;
  if (list->type != JSON_ARRAY) {
    snprintf(message, cap, "filter.%s: expected an array of mount-namespace inodes", member);
    return -1;
  }
  if (list->count > PLAN_MAX_FILTER_PIDS) {
    snprintf(message, cap, "filter.%s: more than %d namespaces", member, PLAN_MAX_FILTER_PIDS);
    return -1;
  }
  *out = xcalloc(list->count == 0 ? 1 : list->count, sizeof **out);
  for (const struct json *e = list->first; e != NULL; e = e->next) {
    uint64_t v;
    if (!json_as_u64(e, &v) || v == 0) {
      snprintf(message, cap, "filter.%s[%zu]: expected a mount-namespace inode (a positive integer)", member, *n);
      return -1;
    }
    (*out)[(*n)++] = v;
  }
  return 0;
}

static void cmd_filter(struct follow *f, uint64_t id, const struct json *cmd) {
  char message[256];
  uint64_t entry;
  uint64_t *add = NULL, *remove = NULL;
  size_t nadd = 0, nremove = 0;
  if (!json_as_u64(json_get(cmd, "entry"), &entry) || entry >= PROBEC_MAX_ENTRIES || entry < f->first || !f->slots[entry].live) {
    status_rejected(true, id, "filter.entry: expected the index of an entry added with `add` and still attached");
    return;
  }
  struct slot *slot = &f->slots[entry];
  if (slot->entry.filter_kind != PLAN_FILTER_CONTAINER) {
    status_rejected(true, id, "filter.entry: the entry has no container filter (filter.kind \"container\"): its namespaces cannot change");
    return;
  }
  if (read_namespaces(json_get(cmd, "add"), "add", &add, &nadd, message, sizeof message) < 0 ||
      read_namespaces(json_get(cmd, "remove"), "remove", &remove, &nremove, message, sizeof message) < 0) {
    status_rejected(true, id, message);
    goto out;
  }
  size_t added = 0, removed = 0;
  for (size_t i = 0; i < nadd; i++) {
    if (has_mntns(slot, add[i])) continue;
    /* Its processes are linked first (an entry with semaphores): when that fails, nothing has changed. */
    int rc = process_links_add_namespaces(f->s->links, (uint32_t)entry, &add[i], 1);
    if (rc < 0) {
      snprintf(message, sizeof message, "filter.add[%zu]: cannot watch the namespace for its processes: %s", i, strerror(-rc));
      status_rejected(true, id, message);
      goto out;
    }
    rc = loader_add_mntns(&f->s->loader, (uint32_t)entry, add[i]);
    if (rc < 0) {
      snprintf(message, sizeof message, "filter.add[%zu]: cannot store the namespace in the filter map: %s", i, strerror(-rc));
      status_rejected(true, id, message);
      goto out;
    }
    slot->mntns = xrealloc(slot->mntns, slot->nmntns + 1, sizeof *slot->mntns);
    slot->mntns[slot->nmntns++] = add[i];
    added++;
  }
  for (size_t i = 0; i < nremove; i++) {
    for (size_t k = 0; k < slot->nmntns; k++) {
      if (slot->mntns[k] != remove[i]) continue;
      loader_remove_mntns(&f->s->loader, (uint32_t)entry, remove[i]);
      process_links_remove_namespaces(f->s->links, (uint32_t)entry, &remove[i], 1);
      slot->mntns[k] = slot->mntns[--slot->nmntns];
      removed++;
      break;
    }
  }
  status_filtered(id, (uint32_t)entry, added, removed);
out:
  free(add);
  free(remove);
}

/* `report`: every aggregation now, reset after it when `reset` is true; then `reported`. */
static void cmd_report(struct follow *f, uint64_t id, const struct json *cmd) {
  const struct json *reset = json_get(cmd, "reset");
  if (reset != NULL && reset->type != JSON_BOOL) {
    status_rejected(true, id, "report.reset: expected true or false");
    return;
  }
  aggregates_report(f->s->aggs, false, reset != NULL && reset->boolean);
  status_reported(id);
}

/* Executes one command line; a bad one is rejected with a message and changes nothing. */
static void execute(struct follow *f, const char *line, size_t len) {
  if (len == 0) return;
  struct shared_doc *doc = xcalloc(1, sizeof *doc);
  char error[256], message[320];
  if (json_parse(line, len, &doc->doc, error, sizeof error) < 0) {
    snprintf(message, sizeof message, "the command is not valid JSON: %s", error);
    status_rejected(false, 0, message);
    free(doc);
    return;
  }
  doc->refs = 1;
  const struct json *root = doc->doc.root;
  uint64_t id;
  const struct json *name = root->type == JSON_OBJECT ? json_get(root, "command") : NULL;
  if (root->type != JSON_OBJECT || !json_as_u64(json_get(root, "id"), &id)) {
    status_rejected(false, 0, "a command is a JSON object with an `id` (a non-negative integer) and a `command`: add, remove, filter or report");
  } else if (name == NULL || name->type != JSON_STRING) {
    status_rejected(true, id, "command: expected \"add\", \"remove\", \"filter\" or \"report\"");
  } else if (strcmp(name->text, "add") == 0) {
    cmd_add(f, id, json_get(root, "probes"), doc);
  } else if (strcmp(name->text, "remove") == 0) {
    cmd_remove(f, id, json_get(root, "entries"));
  } else if (strcmp(name->text, "filter") == 0) {
    cmd_filter(f, id, root);
  } else if (strcmp(name->text, "report") == 0) {
    cmd_report(f, id, root);
  } else {
    snprintf(message, sizeof message, "command: unknown command \"%.40s\"; expected add, remove, filter or report", name->text);
    status_rejected(true, id, message);
  }
  release_doc(doc);
}

bool follow_read(struct follow *f) {
  if (in_eof) return false;
  for (;;) {
    int rc = fill();
    size_t len;
    char *line;
    while ((line = take_line(&len)) != NULL) {
      execute(f, line, len);
      free(line);
    }
    if (in_len >= FOLLOW_MAX_LINE) {
      status_rejected(false, 0, "a command line is longer than FOLLOW_MAX_LINE (64 MiB); it was dropped");
      /* Drop up to the next newline: the rest of this line is ignored as it arrives. */
      in_len = 0;
      in_skipping = true;
    }
    if (rc < 0) {
      in_eof = true;
      return false;
    }
    if (rc == 0) return true;
  }
}

bool follow_read_lost(struct follow *f, uint64_t *lost) {
  bool any = false;
  for (size_t i = f->first; i < PROBEC_MAX_ENTRIES; i++) {
    if (!f->slots[i].live) continue;
    lost[i] = loader_lost(&f->s->loader, (uint32_t)i);
    any |= lost[i] != 0;
  }
  return any;
}

void follow_detach(struct follow *f) {
  for (size_t i = f->first; i < PROBEC_MAX_ENTRIES; i++) {
    if (!f->slots[i].live) continue;
    teardown_all(&f->slots[i].teardown);
    process_links_remove_entry(f->s->links, (uint32_t)i);
  }
}

void follow_stop(struct follow *f) {
  follow_detach(f);
  events_drain_all(f->rb);
  for (size_t i = f->first; i < PROBEC_MAX_ENTRIES; i++)
    if (f->slots[i].live) clear_slot(f, (uint32_t)i);
  free(f);
  free(in_buf);
  in_buf = NULL;
  in_len = in_cap = 0;
}
