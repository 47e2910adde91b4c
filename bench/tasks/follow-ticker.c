/*
 * Bench tasks (r), (s), (t): what runs in the followed containers.
 *
 *     follow-ticker SECONDS   calls probec_bench_started(start, seq) once a
 *                             millisecond for SECONDS, then exits
 *     follow-ticker idle      never calls it: sleeps until killed
 *
 * `start` is CLOCK_MONOTONIC in nanoseconds at the top of main, the moment
 * the container's process began: a container shares the host's monotonic
 * clock (Docker gives it no time namespace), so the bench subtracts it from
 * its own clock (and from the event's kernel timestamp, the same clock) to
 * time "container start → first event" without asking the runtime.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* noinline and used: a real function with its own symbol for the uprobe. */
__attribute__((noinline, used)) long probec_bench_started(long start, long seq) {
  __asm__ volatile("" ::: "memory");
  return start + seq;
}

int main(int argc, char **argv) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long start = now.tv_sec * 1000000000L + now.tv_nsec;
  if (argc > 1 && strcmp(argv[1], "idle") == 0)
    for (;;) pause();
  long seconds = argc > 1 ? atol(argv[1]) : 60;
  struct timespec pause_1ms = {0, 1000000};
  for (long seq = 0; seq < seconds * 1000; seq++) {
    probec_bench_started(start, seq);
    nanosleep(&pause_1ms, 0);
  }
  return 0;
}
