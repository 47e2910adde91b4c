/* See output.h. */
#include "output.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Larger than any event frame (PROBEC_MAX_EVENT + header); a larger status (an aggregate report) grows it to fit. */
#define OUTPUT_BUFFER_BYTES (256u << 10)

static unsigned char initial[OUTPUT_BUFFER_BYTES];
static unsigned char *buffer = initial;
static size_t capacity = sizeof initial;
static size_t used;
static bool closed;
static int interrupt_fd = -1;

void output_watch_interrupt(int fd) { interrupt_fd = fd; }

/*
 * Writes as much of p as the reader takes and returns how much that was.
 * While an interrupt fd is watched, it waits for room in the pipe and the
 * interrupt together and writes at most PIPE_BUF at a time (which a pipe
 * with room takes without blocking), so that a reader that stopped reading
 * cannot keep a pending signal from being seen: it returns early instead,
 * and the caller keeps the rest, so frames are never cut.
 */
static size_t write_some(const unsigned char *p, size_t len) {
  size_t done = 0;
  while (done < len && !closed) {
    size_t chunk = len - done;
    if (interrupt_fd >= 0) {
      struct pollfd fds[2] = {{.fd = STDOUT_FILENO, .events = POLLOUT}, {.fd = interrupt_fd, .events = POLLIN}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        closed = true;
        break;
      }
      bool writable = (fds[0].revents & (POLLOUT | POLLERR | POLLHUP)) != 0;
      if (!writable && (fds[1].revents & POLLIN) != 0) break;
      if (chunk > PIPE_BUF) chunk = PIPE_BUF;
    }
    ssize_t n = write(STDOUT_FILENO, p + done, chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      closed = true; /* EPIPE (SIGPIPE is ignored) or any other reason the reader cannot get more */
      break;
    }
    done += (size_t)n;
  }
  return done;
}

void output_flush(void) {
  size_t written = write_some(buffer, used);
  memmove(buffer, buffer + written, used - written);
  used -= written;
}

void output_frame(enum frame_type type, const void *payload, uint32_t len) {
  uint32_t header[2] = {len, (uint32_t)type};
  if (closed) return;
  if (used + sizeof header + len > capacity) output_flush();
  /* A frame larger than the buffer (only a report's status can be): a buffer that holds it, so frames are never cut. */
  if (used + sizeof header + len > capacity && sizeof header + len > capacity) {
    size_t grown = capacity;
    while (used + sizeof header + len > grown) grown *= 2;
    unsigned char *bigger = malloc(grown);
    if (bigger != NULL) {
      memcpy(bigger, buffer, used);
      if (buffer != initial) free(buffer);
      buffer = bigger;
      capacity = grown;
    }
  }
  /* Still no room: the reader stalled and a signal is pending; the loop is about to detach. The frame is dropped whole. */
  if (used + sizeof header + len > capacity) return;
  memcpy(buffer + used, header, sizeof header);
  memcpy(buffer + used + sizeof header, payload, len);
  used += sizeof header + len;
}

bool output_closed(void) { return closed; }
