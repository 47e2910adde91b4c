/*
 * probec-attach: executes an AttachPlan read on stdin and streams events
 * and status messages on stdout (native/PROTOCOL.md). Single-threaded by
 * design: setns into a mount namespace is refused to threaded processes.
 *
 * Life cycle: hello → read the plan → load the BPF object → per entry
 * layout, attach (attached/failed) → ready → one epoll loop (ring buffer,
 * signals, target pidfds, stdout errors, a 1-second timer for `lost`, the
 * --aggregate-interval-ms timer for reports) → detach everything → the
 * final aggregation report → lost → detached.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "events.h"
#include "features.h"
#include "follow.h"
#include "json.h"
#include "loader.h"
#include "output.h"
#include "plan.h"
#include "process_links.h"
#include "session.h"
#include "status.h"

#define DEFAULT_RINGBUF_BYTES (16u << 20)
/** Ring buffer bounds: a page at least; 1 GiB at most (the kernel's limit is higher, memory is not). */
#define MIN_RINGBUF_BYTES 4096u
#define MAX_RINGBUF_BYTES (1u << 30)

#define EXIT_OK 0
#define EXIT_BAD_PLAN 2
#define EXIT_INTERNAL 3

enum requested_mode { MODE_AUTO, MODE_MULTI, MODE_PMU, MODE_LEGACY };

struct options {
  enum requested_mode mode;
  uint32_t ringbuf_bytes;
  bool follow; /* --follow: the plan is stdin's first line, commands follow (native/PROTOCOL.md) */
  uint32_t interval_ms; /* --aggregate-interval-ms: report and reset the aggregations this often; 0 never */
};

/** --aggregate-interval-ms bounds: a millisecond to a day. */
#define MAX_INTERVAL_MS 86400000u

static const char *const PERMISSION_HINT =
    "probec-attach needs root, or CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on kernels before 5.8, and for uprobe perf events "
    "and tracefs: --mode pmu or legacy, the fallbacks on kernels before 6.6); measured per mode in deploy/kubernetes/README.md";

/* Sends `error` and `detached` and exits: nothing was attached, or everything was detached already. */
static void __attribute__((noreturn)) fatal(int status, const char *message, const char *hint) {
  status_error(message, hint);
  status_detached("error");
  exit(status);
}

static void parse_options(int argc, char **argv, struct options *o) {
  o->mode = MODE_AUTO;
  o->ringbuf_bytes = DEFAULT_RINGBUF_BYTES;
  o->follow = false;
  o->interval_ms = 0;
  for (int i = 1; i < argc; i++) {
    char message[256];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--mode") == 0 && value != NULL) {
      static const char *const names[] = {"auto", "multi", "pmu", "legacy"};
      size_t m = 0;
      while (m < 4 && strcmp(value, names[m]) != 0) m++;
      if (m == 4) {
        snprintf(message, sizeof message, "--mode %.40s: unknown mode", value);
        fatal(EXIT_BAD_PLAN, message, "use --mode auto, multi, pmu or legacy");
      }
      o->mode = (enum requested_mode)m;
      i++;
    } else if (strcmp(argv[i], "--ringbuf-bytes") == 0 && value != NULL) {
      char *end;
      unsigned long long n = strtoull(value, &end, 10);
      if (*end != '\0' || n < MIN_RINGBUF_BYTES || n > MAX_RINGBUF_BYTES || (n & (n - 1)) != 0) {
        snprintf(message, sizeof message, "--ringbuf-bytes %.40s: not a power of two between %u and %u", value, MIN_RINGBUF_BYTES, MAX_RINGBUF_BYTES);
        fatal(EXIT_BAD_PLAN, message, "e.g. --ringbuf-bytes 16777216 (the default, 16 MiB)");
      }
      o->ringbuf_bytes = (uint32_t)n;
      i++;
    } else if (strcmp(argv[i], "--follow") == 0) {
      o->follow = true;
    } else if (strcmp(argv[i], "--aggregate-interval-ms") == 0 && value != NULL) {
      char *end;
      unsigned long long n = strtoull(value, &end, 10);
      if (*end != '\0' || value[0] == '\0' || n > MAX_INTERVAL_MS) {
        snprintf(message, sizeof message, "--aggregate-interval-ms %.40s: not a number of milliseconds up to %u", value, MAX_INTERVAL_MS);
        fatal(EXIT_BAD_PLAN, message, "e.g. --aggregate-interval-ms 1000 (plan.aggregation.intervalMs); 0 or absent: report only at exit");
      }
      o->interval_ms = (uint32_t)n;
      i++;
    } else {
      snprintf(message, sizeof message, "unknown argument %.60s", argv[i]);
      fatal(EXIT_BAD_PLAN, message, "usage: probec-attach [--mode auto|multi|pmu|legacy] [--ringbuf-bytes N] [--follow] [--aggregate-interval-ms N] < plan.json");
    }
  }
}

/* Signals arrive through a signalfd; SIGPIPE is ignored so a closed stdout is an EPIPE we handle. */
static int setup_signals(void) {
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1); /* report the aggregations now (PROTOCOL.md, "Reports on request") */
  sigaddset(&set, SIGUSR2); /* report them now and reset them */
  sigprocmask(SIG_BLOCK, &set, NULL);
  return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* SIGUSR1/SIGUSR2 ask for a report; they never end the session. */
static bool is_report_signal(int signo) { return signo == SIGUSR1 || signo == SIGUSR2; }

static const char *signal_reason(int signo, pid_t parent) {
  /* PR_SET_PDEATHSIG sends SIGTERM: the parent's death shows as a changed parent pid. */
  if (getppid() != parent) return "parent";
  return signo == SIGINT ? "SIGINT" : signo == SIGHUP ? "SIGHUP" : "SIGTERM";
}

/* Reads stdin to EOF, still answering signals (a parent that dies before closing the pipe). */
static char *read_plan(int sigfd, pid_t parent, size_t *len) {
  size_t cap = 1 << 16, n = 0;
  char *buf = xcalloc(cap, 1);
  for (;;) {
    struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      fatal(EXIT_INTERNAL, "poll on stdin failed", NULL);
    }
    if (fds[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      /* A report asked for before the plan is read has nothing to report. */
      if (read(sigfd, &si, sizeof si) == sizeof si && !is_report_signal((int)si.ssi_signo)) {
        status_detached(signal_reason((int)si.ssi_signo, parent));
        exit(EXIT_OK);
      }
    }
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    if (n == cap) {
      /* Refused before the buffer grows past the limit (one byte more than it, to tell "too large" from "exactly at it"). */
      if (n > JSON_MAX_BYTES) fatal(EXIT_BAD_PLAN, "the plan on stdin is larger than JSON_MAX_BYTES (256 MiB)", NULL);
      cap = cap * 2 > (size_t)JSON_MAX_BYTES + 1 ? (size_t)JSON_MAX_BYTES + 1 : cap * 2;
      buf = xrealloc(buf, cap, 1);
    }
    ssize_t got = read(STDIN_FILENO, buf + n, cap - n);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got < 0) fatal(EXIT_BAD_PLAN, "cannot read the plan from stdin", NULL);
    if (got == 0) break;
    n += (size_t)got;
  }
  *len = n;
  return buf;
}

static enum attach_mode choose_mode(enum requested_mode requested, const struct features *f) {
  if (f->bpf_load_errno == EPERM || f->bpf_load_errno == EACCES) {
    char message[160];
    snprintf(message, sizeof message, "the kernel refused to load a BPF program (%s): probec-attach is not privileged enough",
             f->bpf_load_errno == EPERM ? "EPERM" : "EACCES");
    fatal(EXIT_BAD_PLAN, message, PERMISSION_HINT);
  }
  if (!f->cookies)
    fatal(EXIT_BAD_PLAN, "this kernel has no BPF cookies for uprobes (Linux 5.15+), which probec's program needs to tell its points apart",
          "run probec on Linux 5.15 or later");
  switch (requested) {
    case MODE_MULTI:
      if (!f->uprobe_multi) fatal(EXIT_BAD_PLAN, "--mode multi: this kernel has no uprobe_multi links (Linux 6.6+)", "use --mode auto");
      return ATTACH_MULTI;
    case MODE_PMU:
      if (!f->pmu) fatal(EXIT_BAD_PLAN, "--mode pmu: this kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe)", "use --mode auto");
      return ATTACH_PMU;
    case MODE_LEGACY:
      if (!f->legacy) fatal(EXIT_BAD_PLAN, "--mode legacy: no writable uprobe_events in /sys/kernel/tracing or /sys/kernel/debug/tracing", "mount tracefs, or use --mode auto");
      return ATTACH_LEGACY;
    case MODE_AUTO:
      break;
  }
  if (f->uprobe_multi) return ATTACH_MULTI;
  if (f->pmu) return ATTACH_PMU;
  if (f->legacy) return ATTACH_LEGACY;
  fatal(EXIT_BAD_PLAN, "this kernel offers no way to attach uprobes: no uprobe_multi, no uprobe PMU, no tracefs uprobe_events", "build the kernel with CONFIG_UPROBE_EVENTS");
}

static void epoll_add(int epfd, int fd, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Runs until a reason to detach; returns it. */
static const char *run_loop(struct session *s, struct ring_buffer *rb, int sigfd, pid_t parent, struct follow *follow, uint32_t interval_ms) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (epfd < 0 || timer < 0) return "error";
  /* --aggregate-interval-ms: its own timer, so that the reports keep their period whatever else happens. */
  int reports = -1;
  if (interval_ms > 0) {
    reports = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (reports < 0) return "error";
    struct timespec every = {.tv_sec = interval_ms / 1000, .tv_nsec = (long)(interval_ms % 1000) * 1000000};
    struct itimerspec period = {.it_interval = every, .it_value = every};
    timerfd_settime(reports, 0, &period, NULL);
    epoll_add(epfd, reports, EPOLLIN);
  }
  struct itimerspec second = {.it_interval = {1, 0}, .it_value = {1, 0}};
  timerfd_settime(timer, 0, &second, NULL);
  int ring = events_fd(rb);
  epoll_add(epfd, ring, EPOLLIN);
  epoll_add(epfd, sigfd, EPOLLIN);
  epoll_add(epfd, timer, EPOLLIN);
  /* A pipe's write end reports EPOLLERR once the reader closed it (not possible on a regular file: ignored). */
  epoll_add(epfd, STDOUT_FILENO, 0);
  if (follow != NULL) epoll_add(epfd, STDIN_FILENO, EPOLLIN);
  /* Processes entering the namespaces of entries linked per process, and linked processes that exit (process_links.h). */
  int processes = process_links_fd(s->links);
  if (processes >= 0) epoll_add(epfd, processes, EPOLLIN);
  uint64_t *lost = follow != NULL ? xcalloc(PROBEC_MAX_ENTRIES, sizeof *lost) : NULL;
  for (size_t i = 0; i < s->watch.n; i++)
    if (s->watch.pidfds[i] >= 0) epoll_add(epfd, s->watch.pidfds[i], EPOLLIN);
  const char *reason = NULL;
  if (s->watch.n > 0 && s->watch.alive == 0) {
    status_target_exited(s->watch.pids, s->watch.n);
    reason = "targetExited";
  }
  while (reason == NULL) {
    struct epoll_event ready[16];
    int n = epoll_wait(epfd, ready, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      reason = "error";
      break;
    }
    for (int i = 0; i < n && reason == NULL; i++) {
      int fd = ready[i].data.fd;
      if (fd == ring) {
        events_drain(rb);
      } else if (fd == sigfd) {
        struct signalfd_siginfo si;
        if (read(sigfd, &si, sizeof si) != sizeof si) continue;
        if (is_report_signal((int)si.ssi_signo)) {
          aggregates_report(s->aggs, false, si.ssi_signo == SIGUSR2);
          status_reported_signal();
        } else {
          reason = signal_reason((int)si.ssi_signo, parent);
        }
      } else if (fd == timer) {
        uint64_t ticks;
        if (read(timer, &ticks, sizeof ticks) < 0) continue;
        if (follow != NULL) {
          /* The initial plan's entries, then the added ones, in one message. */
          bool any = session_read_lost(s);
          memset(lost, 0, PROBEC_MAX_ENTRIES * sizeof *lost);
          memcpy(lost, s->lost, s->plan->nentries * sizeof *lost);
          if (follow_read_lost(follow, lost) || any) status_lost(lost, PROBEC_MAX_ENTRIES);
        } else if (session_read_lost(s)) {
          status_lost(s->lost, s->plan->nentries);
        }
        /* PR_SET_PDEATHSIG fires when the parent *thread* exits; this catches a parent gone without it. */
        if (getppid() != parent) reason = "parent";
      } else if (fd == reports) {
        uint64_t ticks;
        if (read(reports, &ticks, sizeof ticks) < 0) continue;
        aggregates_report(s->aggs, false, true);
      } else if (fd == STDOUT_FILENO) {
        reason = "stdout";
      } else if (fd == processes) {
        process_links_poll(s->links);
      } else if (follow != NULL && fd == STDIN_FILENO) {
        /* At EOF no command comes any more; the session goes on. */
        if (!follow_read(follow)) epoll_ctl(epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
      } else {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
        if (watch_exited(&s->watch, fd)) {
          events_drain_all(rb);
          status_target_exited(s->watch.pids, s->watch.n);
          reason = "targetExited";
        }
      }
      if (output_closed()) reason = "stdout";
    }
  }
  free(lost);
  close(timer);
  if (reports >= 0) close(reports);
  close(epfd);
  return reason;
}

/*
 * The sizes of the maps the plan decides. Aggregation maps are sized for
 * the plan's aggregations (mapKeys keys, its largest key, its deepest
 * ustack key) and at their smallest when it has none; following, entries
 * come later, so they get the plan's mapKeys and the largest key and
 * stack a probe may have. Each entry is lowered here only to learn this;
 * session_attach lowers it again and reports its errors.
 */
static void plan_sizes(const struct plan *plan, const struct options *o, const struct features *f, struct loader_sizes *sizes) {
  *sizes = (struct loader_sizes){
      .max_points = o->follow ? PLAN_MAX_POINTS : (uint32_t)plan->total_points,
      .ringbuf_bytes = o->ringbuf_bytes,
      /*
       * `stacks` is allocated as stacks appear where the kernel allows it
       * in a tracing program without a warning (bpf_mem_alloc, Linux 6.1);
       * uprobe_multi (6.6) is the feature probed that is at least as new.
       */
      .stacks_prealloc = !f->uprobe_multi,
      .agg_keys = 1,
      .agg_ids = 1,
      .agg_key_size = 16,
  };
  if (o->follow) {
    sizes->agg_keys = plan->map_keys;
    sizes->agg_ids = PROBEC_MAX_AGG_IDS;
    sizes->agg_key_size = sizeof(struct probec_agg_key);
    sizes->stack_frames = PROBEC_MAX_FRAMES;
    sizes->stacks = true;
    return;
  }
  for (size_t i = 0; i < plan->nentries; i++) {
    struct lowered_entry l;
    struct why why = {{0}};
    if (lower_program(&plan->entries[i], (uint32_t)i, &l, &why) == 0) {
      if (l.naggs > 0) sizes->agg_keys = plan->map_keys;
      if (l.naggs > 0) sizes->agg_ids = (uint32_t)plan->nentries * PROBEC_MAX_AGGS;
      if (l.key_size > sizes->agg_key_size) sizes->agg_key_size = l.key_size;
      if (l.stack_frames > sizes->stack_frames) sizes->stack_frames = l.stack_frames;
      sizes->stacks |= l.stack_frames > 0;
      for (size_t f = 0; f < l.nfields; f++) sizes->stacks |= l.fields[f].type == LAYOUT_STACK;
    }
    lower_free(&l);
  }
}

int main(int argc, char **argv) {
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  int sigfd = setup_signals();
  if (getppid() != parent) return EXIT_OK; /* the parent died before the death signal was armed */
  if (sigfd < 0) {
    perror("probec-attach: signalfd");
    return EXIT_INTERNAL;
  }
  /* Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK. */
  struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  setrlimit(RLIMIT_MEMLOCK, &unlimited);
  loader_capture_libbpf_messages();

  struct features features;
  features_probe(&features);
  status_hello(&features);

  struct options options;
  parse_options(argc, argv, &options);

  size_t len;
  char *text;
  if (options.follow) {
    bool signalled;
    int signo = 0;
    text = follow_read_first_line(sigfd, &len, &signalled, &signo);
    if (signalled) {
      status_detached(signal_reason(signo, parent));
      return EXIT_OK;
    }
    if (text == NULL) fatal(EXIT_BAD_PLAN, "--follow: stdin ended (or its first line exceeded 64 MiB) before the plan's line", "write the plan as one line, then one command a line");
  } else {
    text = read_plan(sigfd, parent, &len);
  }
  struct plan plan;
  struct why why = {{0}};
  if (plan_load(text, len, &plan, &why) < 0) fatal(EXIT_BAD_PLAN, why.text, "the plan must follow schema/attach-plan.schema.json; write it with `probec compile -o plan.json`");
  free(text);

  struct session session = {.plan = &plan, .features = &features, .mode = choose_mode(options.mode, &features)};
  if (features.legacy) {
    snprintf(session.teardown.tracefs, sizeof session.teardown.tracefs, "%s", features.tracefs);
    attach_legacy_remove_stale(features.tracefs);
  }
  int err = 0;
  /* Following, entries come later: the points map is sized for the most a session may hold. */
  struct loader_sizes sizes;
  plan_sizes(&plan, &options, &features, &sizes);
  if (loader_load(&session.loader, session.mode == ATTACH_MULTI, &sizes, &err, &why) < 0)
    fatal(EXIT_BAD_PLAN, why.text, err == EPERM || err == EACCES ? PERMISSION_HINT : NULL);
  struct ring_buffer *rb = events_open(session.loader.events_fd);
  if (rb == NULL) {
    loader_close(&session.loader);
    fatal(EXIT_INTERNAL, "cannot read the BPF ring buffer", NULL);
  }
  session.aggs = aggregates_new(&session.loader, rb);
  session.links = process_links_new(&session.loader, session.mode);

  session_attach(&session);
  /* Following, targets come and go: their exit does not end the session. */
  struct follow *follow = NULL;
  if (options.follow) {
    watch_close(&session.watch);
    memset(&session.watch, 0, sizeof session.watch);
    follow = follow_start(&session, rb);
  }
  watch_start(&session.watch);
  output_watch_interrupt(sigfd);
  const char *reason = run_loop(&session, rb, sigfd, parent, follow, options.interval_ms);
  /* Detached next: what is written from here on is finite, so it may wait for the reader. */
  output_watch_interrupt(-1);

  /* Detach first so that no new event arrives, then deliver what is left, then the aggregations' last state. */
  if (follow != NULL) follow_detach(follow);
  session_detach(&session);
  events_drain_all(rb);
  if (strcmp(reason, "error") != 0 && aggregates_any(session.aggs)) aggregates_report(session.aggs, true, false);
  if (follow != NULL) follow_stop(follow);
  aggregates_free(session.aggs);
  uint64_t *lost = xcalloc(plan.nentries, sizeof *lost);
  for (size_t i = 0; i < plan.nentries; i++) lost[i] = loader_lost(&session.loader, (uint32_t)i);
  status_lost(lost, plan.nentries);
  free(lost);
  events_close(rb);
  loader_close(&session.loader);
  plan_free(&plan);
  int status = strcmp(reason, "error") == 0 ? EXIT_INTERNAL : EXIT_OK;
  if (status != EXIT_OK) status_error("the event loop failed", NULL);
  status_detached(reason);
  return status;
}
