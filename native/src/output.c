/* See output.h. */
#include "output.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Larger than any frame (PROBEC_MAX_EVENT + header), so one frame never needs two buffers. */
#define OUTPUT_BUFFER_BYTES (256u << 10)

static unsigned char buffer[OUTPUT_BUFFER_BYTES];
static size_t used;
static bool closed;

static void write_all(const unsigned char *p, size_t len) {
  while (len > 0 && !closed) {
    ssize_t n = write(STDOUT_FILENO, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      closed = true; /* EPIPE (SIGPIPE is ignored) or any other reason the reader cannot get more */
      return;
    }
    p += n;
    len -= (size_t)n;
  }
}

void output_flush(void) {
  write_all(buffer, used);
  used = 0;
}

void output_frame(enum frame_type type, const void *payload, uint32_t len) {
  uint32_t header[2] = {len, (uint32_t)type};
  if (closed) return;
  if (used + sizeof header + len > sizeof buffer) output_flush();
  if (sizeof header + len > sizeof buffer) {
    write_all((const unsigned char *)header, sizeof header);
    write_all(payload, len);
    return;
  }
  memcpy(buffer + used, header, sizeof header);
  memcpy(buffer + used + sizeof header, payload, len);
  used += sizeof header + len;
}

bool output_closed(void) { return closed; }
