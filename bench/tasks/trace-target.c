/*
 * Bench task (l): a target that calls one function once a millisecond,
 * asleep in between, until it is killed: what a tracer started against a
 * running program sees first. The time from launching the tracer to its
 * first event is its start-up plus its attach, not the target's rate.
 *
 *     trace-target
 */
#include <time.h>

/* noinline and used: a real function with its own symbol for the uprobe. */
__attribute__((noinline, used)) long probec_bench_tick(long seq) {
  __asm__ volatile("" ::: "memory");
  return seq + 1;
}

int main(void) {
  struct timespec pause = {0, 1000000};
  for (long seq = 0;; seq = probec_bench_tick(seq)) nanosleep(&pause, 0);
  return 0;
}
