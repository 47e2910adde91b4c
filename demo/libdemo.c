/* libdemo.so: see libdemo.h. Built by scripts/demo.sh with gcc -shared. */
#include "libdemo.h"

#include <string.h>
#include <time.h>

/* Spins for about `us` microseconds: a stand-in for real work that shows up as latency. */
static void busy_for(long us) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do clock_gettime(CLOCK_MONOTONIC, &now);
  while ((now.tv_sec - start.tv_sec) * 1000000L + (now.tv_nsec - start.tv_nsec) / 1000 < us);
}

/* noinline and visible: the symbol stays in .dynsym, where probec finds it. */
__attribute__((noinline, visibility("default"))) int demo_handle(int id, const char *name) {
  busy_for(100 + 50 * (long)strlen(name));
  if (id % 7 == 0) return -13; /* "EACCES": refused */
  return 0;
}
