/* The ring buffer consumer: every record of `events` becomes one event frame, verbatim. */
#ifndef PROBEC_EVENTS_H
#define PROBEC_EVENTS_H

struct ring_buffer;

/** A consumer of the `events` map; NULL with errno on failure. */
struct ring_buffer *events_open(int events_map_fd);
/** The fd to wait on (readable when records are there). */
int events_fd(struct ring_buffer *rb);
/** Writes up to one batch of the records available now as frames, then flushes stdout; the loop comes back for the rest. */
void events_drain(struct ring_buffer *rb);
/** Writes every record left (after detach: nothing new can arrive), then flushes stdout. */
void events_drain_all(struct ring_buffer *rb);
void events_close(struct ring_buffer *rb);

#endif
