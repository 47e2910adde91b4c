/*
 * Bench tasks (p) and (q): a tight loop around one function, reached
 * through a few frames, for the per-hit cost of an aggregating probe:
 *
 *     aggregate-loop N     calls probec_bench_agg(i) N times through
 *                          main -> run -> outer -> inner -> probec_bench_agg
 *                          and prints "<N> <elapsed ns> <checksum>"
 *
 * The elapsed time is the loop's own (start-up and exit are not in it).
 * Built with frame pointers (the kernel's user-stack walk follows them),
 * so `ustack` sees the same six frames in probec and bpftrace; every
 * function is noipa, so each call is real and keeps its name. The probed
 * function is not a leaf: it starts with `push %rbp`, where the kernel
 * adds the caller a frame-pointer walk from a function's entry would miss.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noipa)) static long mix(long i) { return i ^ (i >> 3); }

__attribute__((noipa)) long probec_bench_agg(long i) {
  long r = mix(i);
  __asm__ volatile("" ::: "memory");
  return r;
}

__attribute__((noipa)) static long inner(long i) { return probec_bench_agg(i) + 1; }
__attribute__((noipa)) static long outer(long i) { return inner(i) + 1; }

__attribute__((noipa)) static long run(long n) {
  long sum = 0;
  for (long i = 0; i < n; i++) sum += outer(i);
  return sum;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long sum = run(n);
  clock_gettime(CLOCK_MONOTONIC, &end);
  long long ns = (long long)(end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
  printf("%ld %lld %ld\n", n, ns, sum);
  return 0;
}
