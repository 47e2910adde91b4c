/*
 * Lowering one plan entry for the BPF program (native/include/probec_abi.h):
 * its `program` (filter, fields, or `count by` keys) to bytecode with the
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

/** Keys of one `count by` (DSL_LIMITS.maxCountKeys). */
#define LOWER_MAX_COUNT_KEYS 8

enum layout_type { LAYOUT_INT, LAYOUT_STRING, LAYOUT_HEADER };

struct layout_field {
  const char *name;
  enum layout_type type;
  int offset; /* of the slot in the event; 0 for LAYOUT_HEADER, which has none */
  int size;   /* bytes of the slot; 0 for LAYOUT_HEADER */
};

struct lowered_entry {
  struct probec_program program;
  struct layout_field *fields;
  size_t nfields;
  /** Function arguments the program reads (highest argN + 1); 0 for USDT entries. */
  unsigned function_args;
  char key_names[LOWER_MAX_COUNT_KEYS][24];
};

/** Lowers the entry's program (an entry without one emits bare headers). */
int lower_program(const struct plan_entry *e, struct lowered_entry *out, struct why *why);
void lower_free(struct lowered_entry *l);

/** The map value for one point of entry number `index`. */
int lower_point(const struct plan_entry *e, uint32_t index, const struct plan_point *p, const struct lowered_entry *l,
                struct probec_point *out, struct why *why);

#endif
