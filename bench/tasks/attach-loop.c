/*
 * Bench task (i): a tight loop around one function, for the per-hit cost of
 * a uprobe. Calls probec_bench_hit(i) N times and prints on stdout the
 * loop's own elapsed time, measured around the loop only (start-up and exit
 * are not in it):
 *
 *     attach-loop N        prints "<N> <elapsed ns> <checksum>"
 *
 * The function is noinline and has a side effect the compiler cannot see
 * through, so every iteration is a real call to the probed instruction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) long probec_bench_hit(long i) {
  __asm__ volatile("" ::: "memory"); /* keep the call and its body */
  return i ^ (i >> 3);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 2000000;
  long sum = 0;
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < n; i++) sum += probec_bench_hit(i);
  clock_gettime(CLOCK_MONOTONIC, &end);
  long long ns = (long long)(end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
  printf("%ld %lld %ld\n", n, ns, sum);
  return 0;
}
