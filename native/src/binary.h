/*
 * Reaching one entry's binary the way its plan says (native/PROTOCOL.md,
 * "How each binary is reached"), and checking that it is the file the
 * compiler saw: device (except for `layer`, whose layer file has another
 * device than the container's view, PITFALLS 21), inode, size and GNU
 * build-id. A mismatch names the field.
 */
#ifndef PROBEC_BINARY_H
#define PROBEC_BINARY_H

#include <stddef.h>

#include "plan.h"
#include "util.h"

struct opened_binary {
  int fd;           /* kept open while attached: /proc/self/fd/N names it */
  char path[PLAN_MAX_PATH + 32]; /* what the kernel is handed */
};

/** Opens and checks; on failure `*err` is the errno (0 for a mismatch) and `why` the reason. */
int binary_open(const struct plan_entry *e, struct opened_binary *out, int *err, struct why *why);
void binary_close(struct opened_binary *b);

/**
 * Reads the GNU build-id note of the ELF file `fd` (32/64-bit, either byte
 * order) through its PT_NOTE segments. Returns its length (0 when the file
 * has none), or -1 when the file is not an ELF file it can read.
 */
int binary_read_build_id(int fd, unsigned char *id, size_t cap);

#endif
