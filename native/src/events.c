/* See events.h. */
#include "events.h"

#include <bpf/libbpf.h>

#include "output.h"

static int forward(void *ctx, void *data, size_t size) {
  (void)ctx;
  output_frame(FRAME_EVENT, data, (uint32_t)size);
  /* A non-zero return stops the consumer: nobody reads what we would write. */
  return output_closed() ? -1 : 0;
}

struct ring_buffer *events_open(int events_map_fd) { return ring_buffer__new(events_map_fd, forward, NULL, NULL); }

int events_fd(struct ring_buffer *rb) { return ring_buffer__epoll_fd(rb); }

void events_drain(struct ring_buffer *rb) {
  ring_buffer__consume(rb);
  output_flush();
}

void events_close(struct ring_buffer *rb) { ring_buffer__free(rb); }
