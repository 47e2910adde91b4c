/* See json_writer.h. */
#include "json_writer.h"

#include <stdio.h>
#include <string.h>

static void put(struct jw *w, const char *s, size_t n) {
  if (w->len + n >= w->cap) {
    w->overflow = true;
    return;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = '\0';
}

static void value_start(struct jw *w) {
  if (w->need_comma) put(w, ",", 1);
  w->need_comma = true;
}

void jw_init(struct jw *w, char *buf, size_t cap) {
  *w = (struct jw){.buf = buf, .cap = cap};
  buf[0] = '\0';
}

void jw_open(struct jw *w, char bracket) {
  value_start(w);
  put(w, &bracket, 1);
  w->need_comma = false;
}

void jw_close(struct jw *w, char bracket) {
  put(w, &bracket, 1);
  w->need_comma = true;
}

void jw_key(struct jw *w, const char *key) {
  jw_string(w, key);
  put(w, ":", 1);
  w->need_comma = false;
}

/* Length of a valid UTF-8 sequence at s (max n bytes), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
  size_t len;
  unsigned cp;
  if (s[0] < 0x80) return 1;
  if ((s[0] & 0xe0) == 0xc0) len = 2, cp = s[0] & 0x1f;
  else if ((s[0] & 0xf0) == 0xe0) len = 3, cp = s[0] & 0x0f;
  else if ((s[0] & 0xf8) == 0xf0) len = 4, cp = s[0] & 0x07;
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp < 0xe000)) return 0;
  return len;
}

void jw_string(struct jw *w, const char *s) {
  value_start(w);
  put(w, "\"", 1);
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  while (n > 0) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      put(w, esc, 2);
      p++, n--;
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      put(w, esc, 6);
      p++, n--;
    } else {
      size_t len = utf8_sequence(p, n);
      if (len == 0) {
        /* A path or comm from the target may hold any bytes; JSON needs UTF-8. */
        put(w, "\xef\xbf\xbd", 3);
        p++, n--;
      } else {
        put(w, (const char *)p, len);
        p += len, n -= len;
      }
    }
  }
  put(w, "\"", 1);
}

void jw_u64(struct jw *w, uint64_t v) {
  char text[24];
  int n = snprintf(text, sizeof text, "%llu", (unsigned long long)v);
  value_start(w);
  put(w, text, (size_t)n);
}

void jw_bool(struct jw *w, bool v) {
  value_start(w);
  put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct jw *w) {
  value_start(w);
  put(w, "null", 4);
}
