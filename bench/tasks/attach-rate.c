/*
 * Bench task (j): a USDT probe fired at a steady rate, for the events a
 * tracer receives against those fired.
 *
 *     attach-rate RATE SECONDS      prints "<fired> <elapsed ns>"
 *
 * probec_bench:tick(seq) fires RATE times a second for SECONDS seconds,
 * paced against CLOCK_MONOTONIC: each pass of the loop fires as many ticks
 * as the elapsed time allows (so a late pass catches up), and spins in
 * between. seq counts from 0, so a consumer can also see which ones it missed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>
#include <time.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
  long rate = argc > 1 ? atol(argv[1]) : 100000;
  long seconds = argc > 2 ? atol(argv[2]) : 10;
  long total = rate * seconds;
  long fired = 0;
  long long start = now_ns();
  while (fired < total) {
    long long elapsed = now_ns() - start;
    long due = (long)(elapsed * rate / 1000000000LL);
    if (due > total) due = total;
    for (; fired < due; fired++) STAP_PROBE1(probec_bench, tick, fired);
  }
  printf("%ld %lld\n", fired, now_ns() - start);
  return 0;
}
