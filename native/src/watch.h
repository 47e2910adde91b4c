/*
 * The target's processes, watched through pidfds (Linux 5.3): when every
 * pid of every filtered entry has exited, the attacher reports
 * `targetExited` and detaches.
 */
#ifndef PROBEC_WATCH_H
#define PROBEC_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct watch {
  uint32_t *pids;  /* unique, in plan order */
  int *pidfds;     /* -1 once exited */
  size_t n, alive;
};

/** Adds a pid (duplicates ignored). */
void watch_add(struct watch *w, uint32_t pid);
/** Opens the pidfds; pids already gone count as exited. */
void watch_start(struct watch *w);
/** Marks the process of `pidfd` exited; true when none is left. */
bool watch_exited(struct watch *w, int pidfd);
void watch_close(struct watch *w);

#endif
