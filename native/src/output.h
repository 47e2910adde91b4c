/*
 * stdout as a stream of frames (native/PROTOCOL.md, "stdout: frames"): an
 * 8-byte header (payload length, frame type; host byte order) and the
 * payload. Frames are buffered and written whole; a write that fails with
 * EPIPE (the reader went away) marks the output closed, which makes the
 * main loop detach.
 */
#ifndef PROBEC_OUTPUT_H
#define PROBEC_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum frame_type { FRAME_EVENT = 1, FRAME_STATUS = 2 };

/**
 * While `fd` (the signal fd) is watched, a write to a reader that stopped
 * reading returns when `fd` becomes readable, so the event loop still sees
 * signals; -1 makes writes block until the reader takes everything (for the
 * final frames, after detaching).
 */
void output_watch_interrupt(int fd);
/** Queues one frame; flushes first when the buffer cannot hold it. */
void output_frame(enum frame_type type, const void *payload, uint32_t len);
/** Writes everything queued. */
void output_flush(void);
/** True once a write failed (EPIPE or another error): nothing more can be delivered. */
bool output_closed(void);

#endif
