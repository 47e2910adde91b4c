/* See watch.h. */
#include "watch.h"

#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

void watch_add(struct watch *w, uint32_t pid) {
  for (size_t i = 0; i < w->n; i++)
    if (w->pids[i] == pid) return;
  w->pids = xrealloc(w->pids, w->n + 1, sizeof *w->pids);
  w->pids[w->n++] = pid;
}

void watch_start(struct watch *w) {
  w->pidfds = xcalloc(w->n, sizeof *w->pidfds);
  w->alive = 0;
  for (size_t i = 0; i < w->n; i++) {
    /* A pid that is gone (ESRCH) has exited already: the plan is older than it. */
    w->pidfds[i] = (int)syscall(SYS_pidfd_open, (pid_t)w->pids[i], 0);
    if (w->pidfds[i] >= 0) w->alive++;
  }
}

bool watch_exited(struct watch *w, int pidfd) {
  for (size_t i = 0; i < w->n; i++) {
    if (w->pidfds[i] != pidfd) continue;
    close(pidfd);
    w->pidfds[i] = -1;
    w->alive--;
  }
  return w->alive == 0;
}

void watch_close(struct watch *w) {
  for (size_t i = 0; i < w->n; i++)
    if (w->pidfds != NULL && w->pidfds[i] >= 0) close(w->pidfds[i]);
  free(w->pids);
  free(w->pidfds);
  *w = (struct watch){0};
}
