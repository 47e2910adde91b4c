/*
 * Small helpers every file of probec-attach uses: allocation that cannot
 * return NULL (the attacher has nothing useful to do without memory), a
 * bounded formatted copy for the one-sentence reasons that end up in
 * `failed` and `error` messages, and errno names for those messages.
 */
#ifndef PROBEC_UTIL_H
#define PROBEC_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/** A one-sentence explanation, written by the function that failed and read by its caller. */
struct why {
  char text[512];
};

/** Formats into `why` (truncating); returns -1 so that callers can `return why_set(...)`. */
int why_set(struct why *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** calloc/realloc/strdup that exit(3) with a message on stderr when memory runs out. */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

/** The symbolic name of an errno value (`EPERM`), or NULL when it has none we know. */
const char *errno_name(int err);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
