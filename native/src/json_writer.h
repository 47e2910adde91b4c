/* A JSON object built in a fixed buffer for one status message; strings are escaped, invalid UTF-8 replaced. */
#ifndef PROBEC_JSON_WRITER_H
#define PROBEC_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jw {
  char *buf;
  size_t cap, len;
  bool need_comma;
  bool overflow;
};

void jw_init(struct jw *w, char *buf, size_t cap);
void jw_open(struct jw *w, char bracket);  /* '{' or '[' */
void jw_close(struct jw *w, char bracket); /* '}' or ']' */
void jw_key(struct jw *w, const char *key);
void jw_string(struct jw *w, const char *s);
void jw_u64(struct jw *w, uint64_t v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);

#endif
