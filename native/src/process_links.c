/* See process_links.h. */
#include "process_links.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../bpf/process_watch.h"
#include "reaper.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* epoll data of the ring buffer; pidfds carry their pid, which is never this. */
#define RING_TAG UINT64_MAX

/* One process's links of one entry. */
struct linked {
  uint32_t pid;
  struct teardown teardown;
};

/* An entry taken over: its gated points, its file, its namespaces and its linked processes. */
struct gated {
  struct plan_point *points;
  size_t npoints;
  int fd;        /* the binary, kept open: later links reach it as /proc/self/fd/N, whatever the strategy was */
  char path[40];
  uint64_t *mntns;
  size_t nmntns;
  struct linked *linked;
  size_t nlinked, cap;
  struct teardown own; /* the check made with the attacher's own pid; it also keeps the uprobes registered */
};

/* A process in a watched namespace, with the pidfd that tells its exit. */
struct tracked {
  uint32_t pid;
  int pidfd;
  uint64_t mntns;
};

struct process_links {
  const struct loader *loader;
  enum attach_mode mode;
  int epfd;
  bool loaded;
  struct process_watch_object watch;
  struct ring_buffer *rb;
  uint64_t lost_seen;
  struct reaper reaper; /* closes the links of processes that exited, off the event loop (mode multi) */
  struct gated *entries[PROBEC_MAX_ENTRIES];
  struct tracked *procs;
  size_t nprocs, cap;
};

struct process_links *process_links_new(const struct loader *loader, enum attach_mode mode) {
  struct process_links *p = xcalloc(1, sizeof *p);
  p->loader = loader;
  p->mode = mode;
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  p->reaper = (struct reaper){.sock = -1, .pid = -1};
  return p;
}

int process_links_fd(const struct process_links *p) { return p == NULL ? -1 : p->epfd; }

bool process_links_point_gated(const struct plan_entry *e, const struct plan_point *pt, enum attach_mode mode) {
  return pt->ref_ctr_offset != 0 && e->filter_kind == PLAN_FILTER_CONTAINER && mode != ATTACH_LEGACY;
}

bool process_links_wanted(const struct plan_entry *e, enum attach_mode mode) {
  for (size_t i = 0; i < e->npoints; i++)
    if (process_links_point_gated(e, &e->points[i], mode)) return true;
  return false;
}

static bool wants(const struct gated *g, uint64_t mntns) {
  for (size_t i = 0; i < g->nmntns; i++)
    if (g->mntns[i] == mntns) return true;
  return false;
}

static bool anyone_wants(const struct process_links *p, uint64_t mntns) {
  for (size_t i = 0; i < PROBEC_MAX_ENTRIES; i++)
    if (p->entries[i] != NULL && wants(p->entries[i], mntns)) return true;
  return false;
}

static struct linked *linked_of(struct gated *g, uint32_t pid) {
  for (size_t i = 0; i < g->nlinked; i++)
    if (g->linked[i].pid == pid) return &g->linked[i];
  return NULL;
}

static struct tracked *tracked_of(struct process_links *p, uint32_t pid) {
  for (size_t i = 0; i < p->nprocs; i++)
    if (p->procs[i].pid == pid) return &p->procs[i];
  return NULL;
}

/* A process that goes away (exited, or gone from the entry's namespaces) is expected to fail an attach: only other errors are worth a line on stderr. */
static void on_process_failure(void *ctx, uint64_t cookie, int err, const char *reason) {
  (void)cookie;
  if (err != ESRCH) fprintf(stderr, "probec-attach: pid %u: %s\n", *(const uint32_t *)ctx, reason);
}

static size_t attach_points(const struct process_links *p, const struct gated *g, const struct plan_point *points, size_t n, uint32_t pid,
                            struct teardown *t, attach_failure_fn on_failure, void *ctx) {
  struct attach_request r = {
      .loader = p->loader,
      .path = g->path,
      .points = points,
      .npoints = n,
      .teardown = t,
      .on_failure = on_failure,
      .ctx = ctx,
      .pid = pid,
  };
  return p->mode == ATTACH_MULTI ? attach_multi(&r) : attach_pmu(&r);
}

/* Links entry `g`'s gated points in process `pid` (once). */
static void link_process(struct process_links *p, struct gated *g, uint32_t pid) {
  if (linked_of(g, pid) != NULL) return;
  struct teardown t = {0};
  uint32_t who = pid;
  if (attach_points(p, g, g->points, g->npoints, pid, &t, on_process_failure, &who) == 0) {
    teardown_all(&t);
    return;
  }
  if (g->nlinked == g->cap) {
    g->cap = g->cap == 0 ? 16 : g->cap * 2;
    g->linked = xrealloc(g->linked, g->cap, sizeof *g->linked);
  }
  g->linked[g->nlinked++] = (struct linked){.pid = pid, .teardown = t};
}

static void unlink_process(struct gated *g, uint32_t pid) {
  struct linked *l = linked_of(g, pid);
  if (l == NULL) return;
  teardown_all(&l->teardown);
  *l = g->linked[--g->nlinked];
}

static void unlink_everywhere(struct process_links *p, uint32_t pid) {
  for (size_t i = 0; i < PROBEC_MAX_ENTRIES; i++)
    if (p->entries[i] != NULL) unlink_process(p->entries[i], pid);
}

/* Whether a pidfd's process has exited (its pid may already name another process). */
static bool exited(int pidfd) {
  struct pollfd fd = {.fd = pidfd, .events = POLLIN};
  return poll(&fd, 1, 0) == 1;
}

/*
 * The links of a process that has exited: their fds go to the reaper,
 * which waits for their release (reaper.h); perf events (mode pmu) are
 * closed here.
 */
static void unlink_exited(struct process_links *p, uint32_t pid) {
  for (size_t i = 0; i < PROBEC_MAX_ENTRIES; i++) {
    struct linked *l = p->entries[i] != NULL ? linked_of(p->entries[i], pid) : NULL;
    if (l == NULL) continue;
    for (size_t k = 0; k < l->teardown.n; k++) {
      struct teardown_item *item = &l->teardown.items[k];
      if (item->kind != TEARDOWN_FD) continue;
      reaper_close(&p->reaper, item->fd);
      item->fd = -1;
    }
    unlink_process(p->entries[i], pid);
  }
}

static void untrack(struct process_links *p, struct tracked *t) {
  /* Exited: nothing wants its links any more, and they may go at leisure. Alive: they go now (a `filter remove`, a move, detach). */
  if (exited(t->pidfd))
    unlink_exited(p, t->pid);
  else
    unlink_everywhere(p, t->pid);
  epoll_ctl(p->epfd, EPOLL_CTL_DEL, t->pidfd, NULL);
  close(t->pidfd);
  *t = p->procs[--p->nprocs];
}

/* The inode of /proc/PID/ns/mnt, or 0 when the process is gone. */
static uint64_t ns_inode(uint32_t pid) {
  char path[64];
  struct stat st;
  snprintf(path, sizeof path, "/proc/%u/ns/mnt", pid);
  return stat(path, &st) < 0 ? 0 : (uint64_t)st.st_ino;
}

/* The same, and 0 for a kernel thread too (it has no exe and maps nothing: a link would want no memory). */
static uint64_t mntns_of(uint32_t pid) {
  char path[64], exe[8];
  snprintf(path, sizeof path, "/proc/%u/exe", pid);
  if (readlink(path, exe, sizeof exe) < 0) return 0;
  return ns_inode(pid);
}

/*
 * Process `pid` is (or was, for a record read late) in namespace `mntns`:
 * tracks it and links it for every entry that watches the namespace.
 * `relink`: its links name a task that exec'd away from its pid.
 */
static void process_seen(struct process_links *p, uint32_t pid, uint64_t mntns, bool relink) {
  if (pid == (uint32_t)getpid() || !anyone_wants(p, mntns)) return;
  struct tracked *t = tracked_of(p, pid);
  /*
   * Tracked, but exited: the pid names a new process (its exit was not
   * read yet). Tracked in another namespace: the process moved (setns, then
   * exec). Either way its links are not this process's.
   */
  if (t != NULL && (t->mntns != mntns || exited(t->pidfd))) {
    untrack(p, t);
    t = NULL;
  }
  if (t != NULL && relink) unlink_everywhere(p, pid);
  if (t == NULL) {
    int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (pidfd < 0) return; /* exited already */
    /* Checked after the pidfd is open: the pid cannot be reused from here on, so the record and the pidfd name one process. */
    if (mntns_of(pid) != mntns) {
      close(pidfd);
      return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = pid};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
      close(pidfd);
      return;
    }
    if (p->nprocs == p->cap) {
      p->cap = p->cap == 0 ? 64 : p->cap * 2;
      p->procs = xrealloc(p->procs, p->cap, sizeof *p->procs);
    }
    p->procs[p->nprocs++] = (struct tracked){.pid = pid, .pidfd = pidfd, .mntns = mntns};
  }
  for (size_t i = 0; i < PROBEC_MAX_ENTRIES; i++)
    if (p->entries[i] != NULL && wants(p->entries[i], mntns)) link_process(p, p->entries[i], pid);
}

/* Links every process now in one of `mntns` (all watched namespaces when NULL) for the entries that watch it. */
static void scan(struct process_links *p, const uint64_t *mntns, size_t n) {
  DIR *dir = opendir("/proc");
  if (dir == NULL) return;
  struct dirent *d;
  while ((d = readdir(dir)) != NULL) {
    char *end;
    unsigned long pid = strtoul(d->d_name, &end, 10);
    if (*end != '\0' || pid == 0 || pid > UINT32_MAX) continue;
    uint64_t ns = ns_inode((uint32_t)pid);
    if (ns == 0) continue;
    bool asked = mntns == NULL;
    for (size_t i = 0; i < n && !asked; i++) asked = mntns[i] == ns;
    if (asked) process_seen(p, (uint32_t)pid, ns, false);
  }
  closedir(dir);
}

static int on_record(void *ctx, void *data, size_t size) {
  struct process_links *p = ctx;
  if (size < sizeof(struct probec_process_record)) return 0;
  const struct probec_process_record *r = data;
  process_seen(p, r->tgid, r->mntns, r->kind == PROBEC_PROCESS_EXEC_MOVED);
  return 0;
}

/* A session that links per process may hold many links and pidfds: the soft fd limit goes up to the hard one. */
static void raise_fd_limit(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

/* Loads and attaches the process watch once; -1 with `why`. */
static int ensure_watch(struct process_links *p, int *err, struct why *why) {
  if (p->loaded) return 0;
  if (loader_load_process_watch(&p->watch, err, why) < 0) {
    loader_close_process_watch(&p->watch);
    return -1;
  }
  p->rb = ring_buffer__new(p->watch.events_fd, on_record, p, NULL);
  if (p->rb == NULL) {
    *err = errno;
    loader_close_process_watch(&p->watch);
    return why_set(why, "cannot read the process watch's ring buffer: %s", strerror(*err));
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = RING_TAG};
  epoll_ctl(p->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(p->rb), &ev);
  raise_fd_limit();
  if (p->mode == ATTACH_MULTI) reaper_start(&p->reaper);
  p->loaded = true;
  return 0;
}

/*
 * Puts the namespaces in the watch map, its programs attached (before /proc
 * is scanned: a process that starts meanwhile is reported, not missed).
 */
static int watch_namespaces(struct process_links *p, const uint64_t *mntns, size_t n) {
  __u8 one = 1;
  for (size_t i = 0; i < n; i++)
    if (bpf_map_update_elem(p->watch.watched_fd, &mntns[i], &one, BPF_ANY) < 0) return -errno;
  struct why why;
  int err = 0;
  if (n > 0 && loader_attach_process_watch(&p->watch, &err, &why) < 0) {
    fprintf(stderr, "probec-attach: %s\n", why.text);
    return -err;
  }
  return 0;
}

/* Whether any entry watches a namespace. */
static bool watching(const struct process_links *p) {
  for (size_t i = 0; i < PROBEC_MAX_ENTRIES; i++)
    if (p->entries[i] != NULL && p->entries[i]->nmntns > 0) return true;
  return false;
}

/*
 * Drops namespaces that no entry watches any more from the map, and forgets
 * their processes; with none left, the programs are detached (every fork
 * and exec of the machine ran them).
 */
static void unwatch_unwanted(struct process_links *p, const uint64_t *mntns, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (anyone_wants(p, mntns[i])) continue;
    if (p->loaded) bpf_map_delete_elem(p->watch.watched_fd, &mntns[i]);
    for (size_t k = p->nprocs; k-- > 0;)
      if (p->procs[k].mntns == mntns[i]) untrack(p, &p->procs[k]);
  }
  if (p->loaded && !watching(p)) loader_detach_process_watch(&p->watch);
}

size_t process_links_add_entry(struct process_links *p, uint32_t index, const struct plan_entry *e, int binary_fd, const uint64_t *mntns,
                               size_t nmntns, attach_failure_fn on_failure, void *ctx) {
  if (index >= PROBEC_MAX_ENTRIES || p->entries[index] != NULL) return 0;
  struct gated *g = xcalloc(1, sizeof *g);
  g->fd = fcntl(binary_fd, F_DUPFD_CLOEXEC, 0);
  if (g->fd < 0) {
    on_failure(ctx, 0, errno, "cannot keep the binary open for the per-process links of its semaphores");
    free(g);
    return 0;
  }
  snprintf(g->path, sizeof g->path, "/proc/self/fd/%d", g->fd);
  /*
   * The check, side by side (multi: one link per side) or point by point
   * (pmu), with the attacher's own pid: the kernel checks path, offsets and
   * semaphores as for any process, and writes no breakpoint, since this
   * process never maps the file. What passes is linked per process.
   */
  g->points = xcalloc(e->npoints, sizeof *g->points);
  size_t attached = 0;
  uint32_t self = (uint32_t)getpid();
  for (int side = 0; side < 2; side++) {
    struct plan_point *group = xcalloc(e->npoints, sizeof *group);
    size_t n = 0;
    for (size_t i = 0; i < e->npoints; i++)
      if (process_links_point_gated(e, &e->points[i], p->mode) && e->points[i].is_return == (side == 1)) group[n++] = e->points[i];
    size_t step = p->mode == ATTACH_MULTI ? (n == 0 ? 1 : n) : 1;
    for (size_t at = 0; at < n; at += step) {
      size_t done = attach_points(p, g, group + at, step, self, &g->own, on_failure, ctx);
      if (done == step) {
        memcpy(g->points + g->npoints, group + at, step * sizeof *group);
        g->npoints += step;
      }
      attached += done;
    }
    free(group);
  }
  struct why why = {{0}};
  int err = 0;
  if (g->npoints > 0 && ensure_watch(p, &err, &why) < 0) {
    on_failure(ctx, 0, err, why.text);
    attached = 0;
    g->npoints = 0;
  }
  if (g->npoints == 0) {
    teardown_all(&g->own);
    close(g->fd);
    free(g->points);
    free(g);
    return attached;
  }
  p->entries[index] = g;
  int rc = process_links_add_namespaces(p, index, mntns, nmntns);
  if (rc < 0) {
    snprintf(why.text, sizeof why.text, "cannot watch the entry's mount namespaces for its processes: %s", strerror(-rc));
    on_failure(ctx, 0, -rc, why.text);
  }
  return attached;
}

int process_links_add_namespaces(struct process_links *p, uint32_t index, const uint64_t *mntns, size_t n) {
  if (p == NULL) return 0;
  struct gated *g = index < PROBEC_MAX_ENTRIES ? p->entries[index] : NULL;
  if (g == NULL || n == 0) return 0;
  uint64_t *fresh = xcalloc(n, sizeof *fresh);
  size_t nfresh = 0;
  for (size_t i = 0; i < n; i++)
    if (!wants(g, mntns[i])) fresh[nfresh++] = mntns[i];
  int rc = watch_namespaces(p, fresh, nfresh);
  if (rc == 0 && nfresh > 0) {
    g->mntns = xrealloc(g->mntns, g->nmntns + nfresh, sizeof *g->mntns);
    memcpy(g->mntns + g->nmntns, fresh, nfresh * sizeof *fresh);
    g->nmntns += nfresh;
    /* Processes tracked already (for another entry) are linked here too; the scan finds them and the others. */
    scan(p, fresh, nfresh);
  }
  free(fresh);
  return rc;
}

void process_links_remove_namespaces(struct process_links *p, uint32_t index, const uint64_t *mntns, size_t n) {
  if (p == NULL) return;
  struct gated *g = index < PROBEC_MAX_ENTRIES ? p->entries[index] : NULL;
  if (g == NULL) return;
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < g->nmntns; k++) {
      if (g->mntns[k] != mntns[i]) continue;
      g->mntns[k] = g->mntns[--g->nmntns];
      for (size_t t = 0; t < p->nprocs; t++)
        if (p->procs[t].mntns == mntns[i]) unlink_process(g, p->procs[t].pid);
      break;
    }
  }
  unwatch_unwanted(p, mntns, n);
}

void process_links_remove_entry(struct process_links *p, uint32_t index) {
  if (p == NULL) return;
  struct gated *g = index < PROBEC_MAX_ENTRIES ? p->entries[index] : NULL;
  if (g == NULL) return;
  for (size_t i = 0; i < g->nlinked; i++) teardown_all(&g->linked[i].teardown);
  teardown_all(&g->own);
  close(g->fd);
  p->entries[index] = NULL;
  unwatch_unwanted(p, g->mntns, g->nmntns);
  free(g->linked);
  free(g->mntns);
  free(g->points);
  free(g);
}

void process_links_poll(struct process_links *p) {
  struct epoll_event ready[32];
  int n = epoll_wait(p->epfd, ready, 32, 0);
  for (int i = 0; i < n; i++) {
    if (ready[i].data.u64 == RING_TAG) {
      ring_buffer__consume(p->rb);
      /* Records that found no room: whoever they named is found in /proc instead. */
      __u32 zero = 0;
      __u64 lost = 0;
      if (bpf_map_lookup_elem(p->watch.lost_fd, &zero, &lost) == 0 && lost != p->lost_seen) {
        p->lost_seen = lost;
        scan(p, NULL, 0);
      }
      continue;
    }
    /* A pid whose exit was handled already may be tracked again, as a new process: only an exited one goes. */
    struct tracked *t = tracked_of(p, (uint32_t)ready[i].data.u64);
    if (t != NULL && exited(t->pidfd)) untrack(p, t);
  }
}

void process_links_free(struct process_links *p) {
  if (p == NULL) return;
  for (size_t i = 0; i < PROBEC_MAX_ENTRIES; i++) process_links_remove_entry(p, (uint32_t)i);
  while (p->nprocs > 0) untrack(p, &p->procs[p->nprocs - 1]);
  reaper_stop(&p->reaper);
  if (p->rb != NULL) ring_buffer__free(p->rb);
  if (p->loaded) loader_close_process_watch(&p->watch);
  close(p->epfd);
  free(p->procs);
  free(p);
}
