/*
 * The status messages of native/PROTOCOL.md ("Status messages"), each one
 * JSON object in a status frame, written and flushed at once. Member names
 * and order are exactly the PROTOCOL's.
 */
#ifndef PROBEC_STATUS_H
#define PROBEC_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "features.h"
#include "lower.h"

void status_hello(const struct features *f);
void status_layout(size_t entry, const struct lowered_entry *l);
void status_attached(size_t entry, const char *mode, const char *path, size_t points);
/** `err` 0 gives errno null; `cookie` 0 gives cookie null. */
void status_failed(size_t entry, const char *reason, int err, uint64_t cookie);
void status_ready(size_t attached, size_t failed, size_t points);
/** Cumulative lost counts: `counts[i]` for entry i; zero counts are left out. */
void status_lost(const uint64_t *counts, size_t n);
void status_target_exited(const uint32_t *pids, size_t n);
/** `hint` may be NULL. */
void status_error(const char *message, const char *hint);
void status_detached(const char *reason);
/* Replies to the commands of --follow (native/PROTOCOL.md, "Commands"); `id` is the command's. */
void status_added(uint64_t id, const uint32_t *entries, size_t n, size_t points);
void status_removed(uint64_t id, const uint32_t *entries, size_t n);
void status_filtered(uint64_t id, uint32_t entry, size_t added, size_t removed);
/** A probe with a ustack fired in process `pid` for the first time (a ring-buffer control record). */
void status_stack_process(uint32_t pid);
/** The reply to `report`, after its report. */
void status_reported(uint64_t id);
/** The reply to a report asked for by SIGUSR1 or SIGUSR2: `reported` with a null id. */
void status_reported_signal(void);
/** A command that was not carried out (`has_id` false when it had no readable id); the session goes on. */
void status_rejected(bool has_id, uint64_t id, const char *message);

#endif
