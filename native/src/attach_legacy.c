/*
 * Legacy attach (kernels without the uprobe PMU, or --mode legacy): our
 * own tracefs uprobe event per point, a tracepoint perf event on it, and a
 * BPF link carrying the cookie. libbpf's own fallback is not used: its
 * event names are derived from the path and break on long paths
 * (PITFALLS 25, issue 5 test 9).
 */
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attach.h"
#include "tracefs.h"

static int open_tracepoint(long id) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.type = PERF_TYPE_TRACEPOINT;
  attr.size = sizeof attr;
  attr.config = (uint64_t)id;
  /*
   * pid -1 on CPU 0 is the only system-wide form for a tracepoint event;
   * the BPF program runs for every hit on any CPU before the perf event's
   * CPU is considered, and the in-kernel filter keeps the target's processes.
   */
  return (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
}

size_t attach_legacy(const struct attach_request *r) {
  const char *tracefs = r->teardown->tracefs;
  size_t attached = 0;
  for (size_t i = 0; i < r->npoints; i++) {
    const struct plan_point *p = &r->points[i];
    char name[TRACEFS_MAX_EVENT_NAME + 1], event[96], reason[256];
    tracefs_event_name(name, sizeof name, getpid(), p->cookie);
    snprintf(event, sizeof event, "%s/%s", TRACEFS_GROUP, name);
    if (tracefs_add_uprobe(tracefs, name, p->is_return, r->path, p->file_offset, p->ref_ctr_offset) < 0) {
      int err = errno;
      if (strpbrk(r->path, " \t\n") != NULL)
        snprintf(reason, sizeof reason, "the path holds white space, which tracefs uprobe_events cannot take: use --strategy fd");
      else
        snprintf(reason, sizeof reason, "cannot add the tracefs uprobe %s at offset 0x%llx: %s", event, (unsigned long long)p->file_offset, strerror(err));
      r->on_failure(r->ctx, p->cookie, err, reason);
      continue;
    }
    teardown_add_event(r->teardown, event);
    long id = tracefs_event_id(tracefs, name);
    int pfd = id < 0 ? -1 : open_tracepoint(id);
    if (pfd < 0) {
      int err = errno;
      snprintf(reason, sizeof reason, "cannot open a perf event on the tracefs uprobe %s: %s", event, strerror(err));
      r->on_failure(r->ctx, p->cookie, err, reason);
      continue;
    }
    LIBBPF_OPTS(bpf_perf_event_opts, opts, .bpf_cookie = p->cookie);
    struct bpf_link *link = bpf_program__attach_perf_event_opts(r->loader->uprobe, pfd, &opts);
    if (link == NULL) {
      int err = errno;
      close(pfd);
      snprintf(reason, sizeof reason, "cannot attach the BPF program to the tracefs uprobe %s: %s", event, strerror(err));
      r->on_failure(r->ctx, p->cookie, err, reason);
      continue;
    }
    /* The link owns pfd from here: destroying it disables and closes the perf event. */
    teardown_add_link(r->teardown, link);
    attached++;
  }
  return attached;
}

/* True when `pid` is a running probec-attach (a reused pid of another program does not count). */
static bool attacher_runs(int pid) {
  char file[64], comm[32] = "";
  snprintf(file, sizeof file, "/proc/%d/comm", pid);
  FILE *fp = fopen(file, "re");
  if (fp == NULL) return false;
  bool ok = fgets(comm, sizeof comm, fp) != NULL;
  fclose(fp);
  return ok && strncmp(comm, "probec-attach", 13) == 0;
}

void attach_legacy_remove_stale(const char *tracefs) {
  char file[128];
  snprintf(file, sizeof file, "%s/uprobe_events", tracefs);
  FILE *fp = fopen(file, "re");
  if (fp == NULL) return;
  char line[PLAN_MAX_PATH + 128];
  char stale[256][72];
  size_t n = 0;
  while (fgets(line, sizeof line, fp) != NULL && n < ARRAY_LEN(stale)) {
    /* "p:probec/pc_1234_7 /proc/self/fd/5:0x0000000000001139" */
    int pid;
    unsigned long long cookie;
    char kind;
    if (sscanf(line, "%c:" TRACEFS_GROUP "/pc_%d_%llu ", &kind, &pid, &cookie) != 3) continue;
    if (pid == getpid() || attacher_runs(pid)) continue;
    snprintf(stale[n++], sizeof stale[0], TRACEFS_GROUP "/pc_%d_%llu", pid, cookie);
  }
  fclose(fp);
  for (size_t i = 0; i < n; i++)
    if (tracefs_remove_event(tracefs, stale[i]) < 0) fprintf(stderr, "probec-attach: could not remove the stale tracefs event %s: %m\n", stale[i]);
}
