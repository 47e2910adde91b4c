/*
 * --follow: after the plan, stdin stays open and carries commands, one
 * JSON object a line (native/PROTOCOL.md, "Commands"): `add` attaches more
 * entries, `remove` detaches entries, `filter` adds or removes mount
 * namespaces of a container-filtered entry, `report` reports the
 * aggregations. All of it goes through the one
 * BPF object and ring buffer of the session, so the entries that stay keep
 * delivering events while others come and go (issue 14: containers that
 * start and stop while probec follows them).
 *
 * Each added entry owns its links (its own teardown list, never a
 * uprobe_multi link shared with another entry), so removing it destroys
 * exactly its links, perf events and tracefs events and with them the
 * semaphore increments the kernel made for them.
 */
#ifndef PROBEC_FOLLOW_H
#define PROBEC_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "events.h"
#include "session.h"

/** Longest command line accepted (an `add` carries whole plan entries). */
#define FOLLOW_MAX_LINE (64u << 20)

struct follow;

/** Starts following: entries 0..plan->nentries-1 are the initial plan's (attached by session_attach, not removable). */
struct follow *follow_start(struct session *s, struct ring_buffer *rb);
/**
 * Reads what stdin has (it is non-blocking) and executes each complete
 * line. Returns false once stdin reached EOF (the session goes on; no
 * command comes any more).
 */
bool follow_read(struct follow *f);
/** Adds the lost counts of the added entries to `lost` (PROBEC_MAX_ENTRIES long); true when any is non-zero. */
bool follow_read_lost(struct follow *f, uint64_t *lost);
/** Destroys the links of every added entry (no new hit), keeping their map entries for a final report. */
void follow_detach(struct follow *f);
/** Detaches every added entry, delivers what the ring buffer holds, deletes their map entries and frees everything. */
void follow_stop(struct follow *f);

/** Reads the first line of stdin (the plan) while answering signals like read_plan; NULL at EOF before a newline. */
char *follow_read_first_line(int sigfd, size_t *len, bool *signalled, int *signo);

#endif
