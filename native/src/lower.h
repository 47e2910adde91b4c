/*
 * Lowering one plan entry for the BPF program (native/include/probec_abi.h):
 * its `program` (filter, then fields or aggregations) to bytecode with the
 * event layout the `layout` status message reports (native/PROTOCOL.md,
 * "Field layout"), and each of its points to a `struct probec_point` with
 * the argument locations: USDT arguments from the plan's decoded `args`,
 * function arguments from the ABI's registers.
 *
 * Anything an entry asks for that the bytecode cannot express fails that
 * entry only, with a reason naming the limit or the member.
 */
#ifndef PROBEC_LOWER_H
#define PROBEC_LOWER_H

#include <stdint.h>

#include "plan.h"
#include "probec_abi.h"
#include "util.h"

enum layout_type { LAYOUT_INT, LAYOUT_STRING, LAYOUT_HEADER, LAYOUT_STACK };

struct layout_field {
  const char *name;
  enum layout_type type;
  int offset; /* of the slot in the event; 0 for LAYOUT_HEADER, which has none */
  int size;   /* bytes of the slot; 0 for LAYOUT_HEADER */
};

/* How one `by` key of an aggregation lies in probec_agg_key.key (what the report decodes). */
enum agg_key_kind { AGG_KEY_INT, AGG_KEY_STRING, AGG_KEY_COMM, AGG_KEY_MNTNS, AGG_KEY_USTACK };

struct agg_key_layout {
  enum agg_key_kind kind;
  uint32_t offset; /* in probec_agg_key.key */
  uint32_t size;
  uint32_t frames; /* AGG_KEY_USTACK: ustack(N)'s N */
};

struct lowered_agg {
  uint8_t fn; /* enum probec_agg_fn */
  size_t nkeys;
  struct agg_key_layout keys[PROBEC_MAX_AGG_KEYS];
};

struct lowered_entry {
  struct probec_program program;
  struct layout_field *fields;
  size_t nfields;
  /** Function arguments the program reads (highest argN + 1); 0 for USDT entries. */
  unsigned function_args;
  /** The program's aggregations (program.aggregates), in order; their ids are index * PROBEC_MAX_AGGS + i. */
  size_t naggs;
  struct lowered_agg aggs[PROBEC_MAX_AGGS];
  /** Bytes of probec_agg_key its largest aggregation key needs (8 + its keys); 0 without aggregations. */
  uint32_t key_size;
  /** The most frames a `ustack` key of it captures (the `stacks` map's values must hold them); 0 for none. */
  uint32_t stack_frames;
};

/** Lowers the program of entry number `index` (an entry without one emits bare headers). */
int lower_program(const struct plan_entry *e, uint32_t index, struct lowered_entry *out, struct why *why);
void lower_free(struct lowered_entry *l);

/** The map value for one point of entry number `index`. */
int lower_point(const struct plan_entry *e, uint32_t index, const struct plan_point *p, const struct lowered_entry *l,
                struct probec_point *out, struct why *why);

#endif
