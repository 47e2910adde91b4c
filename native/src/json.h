/*
 * A small JSON reader for the AttachPlan. The plan comes from a pipe that
 * any local tool may write, and a privileged program reads it: the parser
 * caps the document size, the nesting depth and the node count (named
 * limits below), and reports the first error with its line and column.
 *
 * Numbers keep their text so that 64-bit values are converted exactly by
 * the caller; strings are decoded (escapes, \u surrogate pairs) into
 * NUL-terminated UTF-8 with their length, so a string holding \u0000 can be
 * told apart from a shorter one.
 */
#ifndef PROBEC_JSON_H
#define PROBEC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Largest plan accepted on stdin: 65536 points with 12 decoded USDT arguments each fit with room. */
#define JSON_MAX_BYTES (256u << 20)
/** Deepest nesting accepted: a plan is about 8 deep plus its expression trees. */
#define JSON_MAX_DEPTH 128
/** Most values (of any kind) in one document. */
#define JSON_MAX_NODES (16u << 20)

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
  enum json_type type;
  bool boolean;
  /** JSON_STRING: decoded text; JSON_NUMBER: the literal as written. NUL-terminated. */
  const char *text;
  size_t len;
  /** JSON_ARRAY / JSON_OBJECT: number of elements or members. */
  size_t count;
  /** JSON_ARRAY / JSON_OBJECT: the first element or member value. */
  struct json *first;
  /** The next element or member value of the parent. */
  struct json *next;
  /** Member name when the parent is an object. */
  const char *key;
};

/** A parsed document: every node lives in its arena. */
struct json_doc {
  struct json *root;
  void *arena;
};

/** Parses `len` bytes. On failure returns -1 with "line L, column C: …" in `error`. */
int json_parse(const char *text, size_t len, struct json_doc *doc, char *error, size_t error_len);
void json_free(struct json_doc *doc);

/** The member `key` of an object, or NULL (also when `obj` is not an object). */
const struct json *json_get(const struct json *obj, const char *key);
/** The JSON type's name for messages: "a string", "null"... */
const char *json_type_name(enum json_type type);

/** A non-negative integer number without fraction or exponent, at most UINT64_MAX. */
bool json_as_u64(const struct json *node, uint64_t *out);
/** A decimal string of digits ("12345"), at most UINT64_MAX. */
bool json_decimal_as_u64(const struct json *node, uint64_t *out);
/** A "0x…" string of at most 16 hex digits. */
bool json_hex_as_u64(const struct json *node, uint64_t *out);
/** A decimal string or integer number, possibly negative, within -2^63 .. 2^64-1, as two's complement. */
bool json_as_i64_bits(const struct json *node, uint64_t *out);

#endif
