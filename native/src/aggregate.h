/*
 * The in-kernel aggregations of a session (issue 15; native/PROTOCOL.md,
 * "Aggregations"): which aggregation id is which (entry, aggregate) and how
 * its key is laid out, and the reports that read the `aggs` map, fold its
 * per-CPU values, and send one `aggregate` message per aggregation with
 * rows (or dropped hits), then `aggregatesDone`.
 */
#ifndef PROBEC_AGGREGATE_H
#define PROBEC_AGGREGATE_H

#include <stdbool.h>
#include <stdint.h>

#include "events.h"
#include "loader.h"
#include "lower.h"

struct aggregates;

struct aggregates *aggregates_new(const struct loader *l, struct ring_buffer *rb);
void aggregates_free(struct aggregates *a);

/** Entry `entry`'s aggregations (from its lowering); its dropped counters start at 0. */
void aggregates_register(struct aggregates *a, uint32_t entry, const struct lowered_entry *l);
/** Forgets entry `entry`'s aggregations and deletes their keys and counters from the maps (`remove`). */
void aggregates_unregister(struct aggregates *a, uint32_t entry);
/** True once any entry with aggregations was registered: the session then ends with a final report. */
bool aggregates_any(const struct aggregates *a);
/**
 * One report: `aggregate` messages, then `aggregatesDone`. With `reset`,
 * the keys and dropped counters are deleted as they are read. The ring
 * buffer is drained after the map is read, so the `stackProcess` of every
 * pid a row names comes first.
 */
void aggregates_report(struct aggregates *a, bool final, bool reset);

#endif
