/*
 * The demo service (`npm run demo`): a loop, five times a second, that
 *
 *   - calls demo_handle(id, name) in its own shared library, libdemo.so;
 *   - fires the USDT probe demo:request (id, name, status) after each call;
 *   - fires demo:summary (id, text) only while a tracer is attached: its
 *     semaphore tells the service, which then builds the text, work it
 *     skips when nobody listens;
 *   - mallocs a buffer of a size nothing else uses (4242 bytes) and frees it;
 *   - every fifth request, looks up a host name that cannot resolve
 *     (getaddrinfo, which fails fast: the demo container has no network).
 *
 * It prints nothing: everything the demo shows comes from probec.
 */
#define _GNU_SOURCE
#define _SDT_HAS_SEMAPHORES 1 /* sys/sdt.h: record each probe's semaphore in its note */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>
#include <time.h>
#include <unistd.h>

#include "libdemo.h"

/*
 * The probes' semaphores (sys/sdt.h names them PROVIDER_NAME_semaphore): the
 * kernel raises one while a probe with its ref_ctr_offset is attached.
 * demo:request fires whatever its semaphore says; demo:summary only when raised.
 */
unsigned short demo_request_semaphore __attribute__((section(".probes"), used));
unsigned short demo_summary_semaphore __attribute__((section(".probes"), used));

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static const char *const NAMES[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace"};

int main(void) {
  /* As PID 1 of its namespace it gets no default signal actions: handle them to stop. */
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  for (int id = 1; !stop; id++) {
    const char *name = NAMES[id % (sizeof NAMES / sizeof NAMES[0])];
    int status = demo_handle(id, name);
    STAP_PROBE3(demo, request, id, name, status);

    if (demo_summary_semaphore) {
      char text[64];
      snprintf(text, sizeof text, "request %d for %s: %s", id, name, status == 0 ? "ok" : "refused");
      STAP_PROBE2(demo, summary, id, text);
    }

    char *buffer = malloc(4242);
    if (buffer != NULL) memset(buffer, id, 4242);
    free(buffer);

    if (id % 5 == 0) {
      struct addrinfo *result = NULL;
      if (getaddrinfo("backend.demo.invalid", "80", NULL, &result) == 0) freeaddrinfo(result);
    }

    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  return 0;
}
