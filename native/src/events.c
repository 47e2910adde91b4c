/* See events.h. */
#include "events.h"

#include <bpf/libbpf.h>

#include "output.h"
#include "probec_abi.h"
#include "status.h"

/*
 * Records forwarded per events_drain() before control goes back to the
 * event loop. A reader slower than the events would otherwise keep
 * ring_buffer__consume() looping, and the loop would never see a signal,
 * a target's exit or its one-second timer.
 */
#define EVENTS_PER_DRAIN 4096u

/* What forward() returns to stop the consumer after a full batch (the record it was given is consumed). */
#define BATCH_FULL (-1)

static unsigned batch;

static int forward(void *ctx, void *data, size_t size) {
  (void)ctx;
  const struct probec_control *control = data;
  /* Not an event: no point has cookie 0 (probec_abi.h, struct probec_control). */
  if (size >= sizeof *control && control->zero == 0) {
    if (control->kind == PROBEC_CONTROL_STACK_PROCESS) status_stack_process(control->pid);
  } else {
    output_frame(FRAME_EVENT, data, (uint32_t)size);
  }
  /* A negative return stops the consumer: nobody reads what we would write, or the batch is full. */
  if (output_closed()) return BATCH_FULL;
  return ++batch >= EVENTS_PER_DRAIN ? BATCH_FULL : 0;
}

struct ring_buffer *events_open(int events_map_fd) { return ring_buffer__new(events_map_fd, forward, NULL, NULL); }

int events_fd(struct ring_buffer *rb) { return ring_buffer__epoll_fd(rb); }

void events_drain(struct ring_buffer *rb) {
  batch = 0;
  ring_buffer__consume(rb);
  output_flush();
}

void events_drain_all(struct ring_buffer *rb) {
  /* Bounded: after detach nothing new arrives, and the ring holds at most its size in records. */
  for (unsigned rounds = 0; rounds < (1u << 20); rounds++) {
    batch = 0;
    if (ring_buffer__consume(rb) >= 0 || output_closed()) break;
  }
  output_flush();
}

void events_close(struct ring_buffer *rb) { ring_buffer__free(rb); }
