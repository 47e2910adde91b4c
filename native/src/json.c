/* See json.h. A recursive-descent parser bounded by JSON_MAX_DEPTH. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Nodes and decoded strings come from fixed-size blocks freed together. */
struct arena_block {
  struct arena_block *next;
  size_t used, size;
  _Alignas(16) unsigned char data[];
};

struct parser {
  const char *text;
  size_t len, pos;
  struct arena_block *arena;
  size_t nodes;
  char *error;
  size_t error_len;
  bool failed;
};

static void *arena_alloc(struct parser *p, size_t size) {
  size = (size + 15) & ~(size_t)15;
  struct arena_block *b = p->arena;
  if (b == NULL || b->size - b->used < size) {
    size_t block = size > (1u << 20) ? size : (1u << 20);
    struct arena_block *nb = malloc(sizeof *nb + block);
    if (nb == NULL) {
      fputs("probec-attach: out of memory\n", stderr);
      exit(3);
    }
    nb->next = b;
    nb->used = 0;
    nb->size = block;
    p->arena = b = nb;
  }
  void *out = b->data + b->used;
  b->used += size;
  return out;
}

static int fail(struct parser *p, const char *what) {
  if (p->failed) return -1;
  p->failed = true;
  size_t line = 1, col = 1;
  for (size_t i = 0; i < p->pos && i < p->len; i++) {
    if (p->text[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  snprintf(p->error, p->error_len, "line %zu, column %zu: %s", line, col, what);
  return -1;
}

static void skip_space(struct parser *p) {
  while (p->pos < p->len) {
    char c = p->text[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static struct json *new_node(struct parser *p, enum json_type type) {
  if (++p->nodes > JSON_MAX_NODES) {
    fail(p, "more values than JSON_MAX_NODES");
    return NULL;
  }
  struct json *n = arena_alloc(p, sizeof *n);
  memset(n, 0, sizeof *n);
  n->type = type;
  return n;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int read_u16_escape(struct parser *p, unsigned *out) {
  if (p->len - p->pos < 4) return fail(p, "truncated \\u escape");
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int d = hex_digit(p->text[p->pos + i]);
    if (d < 0) return fail(p, "invalid \\u escape");
    v = v * 16 + (unsigned)d;
  }
  p->pos += 4;
  *out = v;
  return 0;
}

static size_t put_utf8(char *dst, unsigned cp) {
  if (cp < 0x80) {
    dst[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    dst[0] = (char)(0xc0 | (cp >> 6));
    dst[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    dst[0] = (char)(0xe0 | (cp >> 12));
    dst[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    dst[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  dst[0] = (char)(0xf0 | (cp >> 18));
  dst[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  dst[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  dst[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Decodes the string starting after its opening quote. The decoded text is never longer than the source. */
static int parse_string(struct parser *p, const char **out, size_t *out_len) {
  size_t start = p->pos;
  size_t end = start;
  while (end < p->len && p->text[end] != '"') end += p->text[end] == '\\' ? 2 : 1;
  if (end >= p->len) return fail(p, "unterminated string");
  char *dst = arena_alloc(p, end - start + 1);
  size_t n = 0;
  while (p->pos < end) {
    unsigned char c = (unsigned char)p->text[p->pos];
    if (c < 0x20) return fail(p, "control character in a string");
    if (c != '\\') {
      dst[n++] = (char)c;
      p->pos++;
      continue;
    }
    p->pos++;
    char e = p->text[p->pos++];
    switch (e) {
      case '"': dst[n++] = '"'; break;
      case '\\': dst[n++] = '\\'; break;
      case '/': dst[n++] = '/'; break;
      case 'b': dst[n++] = '\b'; break;
      case 'f': dst[n++] = '\f'; break;
      case 'n': dst[n++] = '\n'; break;
      case 'r': dst[n++] = '\r'; break;
      case 't': dst[n++] = '\t'; break;
      case 'u': {
        unsigned cp;
        if (read_u16_escape(p, &cp) < 0) return -1;
        if (cp >= 0xd800 && cp < 0xdc00) {
          unsigned low;
          if (p->pos + 2 > end || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u') return fail(p, "unpaired surrogate in \\u escape");
          p->pos += 2;
          if (read_u16_escape(p, &low) < 0) return -1;
          if (low < 0xdc00 || low >= 0xe000) return fail(p, "unpaired surrogate in \\u escape");
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        } else if (cp >= 0xdc00 && cp < 0xe000) {
          return fail(p, "unpaired surrogate in \\u escape");
        }
        /* A \uXXXX escape is 6 source bytes and at most 3 UTF-8 bytes; a pair is 12 and 4. */
        n += put_utf8(dst + n, cp);
        break;
      }
      default:
        return fail(p, "invalid escape in a string");
    }
  }
  dst[n] = '\0';
  p->pos = end + 1;
  *out = dst;
  *out_len = n;
  return 0;
}

static int parse_number(struct parser *p, struct json *node) {
  size_t start = p->pos;
  if (p->pos < p->len && p->text[p->pos] == '-') p->pos++;
  if (p->pos >= p->len || p->text[p->pos] < '0' || p->text[p->pos] > '9') return fail(p, "invalid number");
  if (p->text[p->pos] == '0') {
    p->pos++;
  } else {
    while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9') p->pos++;
  }
  if (p->pos < p->len && p->text[p->pos] == '.') {
    p->pos++;
    if (p->pos >= p->len || p->text[p->pos] < '0' || p->text[p->pos] > '9') return fail(p, "invalid number");
    while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9') p->pos++;
  }
  if (p->pos < p->len && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E')) {
    p->pos++;
    if (p->pos < p->len && (p->text[p->pos] == '+' || p->text[p->pos] == '-')) p->pos++;
    if (p->pos >= p->len || p->text[p->pos] < '0' || p->text[p->pos] > '9') return fail(p, "invalid number");
    while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9') p->pos++;
  }
  size_t n = p->pos - start;
  char *copy = arena_alloc(p, n + 1);
  memcpy(copy, p->text + start, n);
  copy[n] = '\0';
  node->text = copy;
  node->len = n;
  return 0;
}

static bool literal(struct parser *p, const char *word) {
  size_t n = strlen(word);
  if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0) return false;
  p->pos += n;
  return true;
}

static struct json *parse_value(struct parser *p, int depth);

static struct json *parse_container(struct parser *p, int depth, bool object) {
  struct json *node = new_node(p, object ? JSON_OBJECT : JSON_ARRAY);
  if (node == NULL) return NULL;
  char close = object ? '}' : ']';
  p->pos++;
  skip_space(p);
  if (p->pos < p->len && p->text[p->pos] == close) {
    p->pos++;
    return node;
  }
  struct json **tail = &node->first;
  for (;;) {
    const char *key = NULL;
    if (object) {
      skip_space(p);
      if (p->pos >= p->len || p->text[p->pos] != '"') {
        fail(p, "expected a member name");
        return NULL;
      }
      p->pos++;
      size_t key_len;
      if (parse_string(p, &key, &key_len) < 0) return NULL;
      skip_space(p);
      if (p->pos >= p->len || p->text[p->pos] != ':') {
        fail(p, "expected ':'");
        return NULL;
      }
      p->pos++;
    }
    struct json *child = parse_value(p, depth + 1);
    if (child == NULL) return NULL;
    child->key = key;
    *tail = child;
    tail = &child->next;
    node->count++;
    skip_space(p);
    if (p->pos < p->len && p->text[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->len && p->text[p->pos] == close) {
      p->pos++;
      return node;
    }
    fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    return NULL;
  }
}

static struct json *parse_value(struct parser *p, int depth) {
  if (depth > JSON_MAX_DEPTH) {
    fail(p, "nesting deeper than JSON_MAX_DEPTH");
    return NULL;
  }
  skip_space(p);
  if (p->pos >= p->len) {
    fail(p, "unexpected end of input");
    return NULL;
  }
  char c = p->text[p->pos];
  struct json *node;
  switch (c) {
    case '{':
    case '[':
      return parse_container(p, depth, c == '{');
    case '"':
      node = new_node(p, JSON_STRING);
      if (node == NULL) return NULL;
      p->pos++;
      return parse_string(p, &node->text, &node->len) < 0 ? NULL : node;
    case 't':
    case 'f':
      node = new_node(p, JSON_BOOL);
      if (node == NULL) return NULL;
      node->boolean = c == 't';
      if (!literal(p, c == 't' ? "true" : "false")) {
        fail(p, "invalid literal");
        return NULL;
      }
      return node;
    case 'n':
      node = new_node(p, JSON_NULL);
      if (node == NULL) return NULL;
      if (!literal(p, "null")) {
        fail(p, "invalid literal");
        return NULL;
      }
      return node;
    default:
      node = new_node(p, JSON_NUMBER);
      if (node == NULL) return NULL;
      return parse_number(p, node) < 0 ? NULL : node;
  }
}

int json_parse(const char *text, size_t len, struct json_doc *doc, char *error, size_t error_len) {
  struct parser p = {.text = text, .len = len, .error = error, .error_len = error_len};
  doc->root = NULL;
  doc->arena = NULL;
  if (len > JSON_MAX_BYTES) {
    snprintf(error, error_len, "the input is %zu bytes, more than JSON_MAX_BYTES (%u)", len, JSON_MAX_BYTES);
    return -1;
  }
  struct json *root = parse_value(&p, 0);
  if (root != NULL) {
    skip_space(&p);
    if (p.pos != p.len) {
      fail(&p, "unexpected text after the document");
      root = NULL;
    }
  }
  doc->arena = p.arena;
  if (root == NULL) {
    json_free(doc);
    return -1;
  }
  doc->root = root;
  return 0;
}

void json_free(struct json_doc *doc) {
  struct arena_block *b = doc->arena;
  while (b != NULL) {
    struct arena_block *next = b->next;
    free(b);
    b = next;
  }
  doc->arena = NULL;
  doc->root = NULL;
}

const struct json *json_get(const struct json *obj, const char *key) {
  if (obj == NULL || obj->type != JSON_OBJECT) return NULL;
  for (const struct json *m = obj->first; m != NULL; m = m->next)
    if (strcmp(m->key, key) == 0) return m;
  return NULL;
}

const char *json_type_name(enum json_type type) {
  switch (type) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
  }
  return "a value";
}

static bool digits_to_u64(const char *s, size_t len, uint64_t *out) {
  if (len == 0 || len > 20) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool json_as_u64(const struct json *node, uint64_t *out) {
  return node != NULL && node->type == JSON_NUMBER && digits_to_u64(node->text, node->len, out);
}

bool json_decimal_as_u64(const struct json *node, uint64_t *out) {
  return node != NULL && node->type == JSON_STRING && digits_to_u64(node->text, node->len, out);
}

bool json_hex_as_u64(const struct json *node, uint64_t *out) {
  if (node == NULL || node->type != JSON_STRING || node->len < 3 || node->len > 18) return false;
  if (node->text[0] != '0' || node->text[1] != 'x') return false;
  uint64_t v = 0;
  for (size_t i = 2; i < node->len; i++) {
    int d = hex_digit(node->text[i]);
    if (d < 0) return false;
    v = v * 16 + (uint64_t)d;
  }
  *out = v;
  return true;
}

bool json_as_i64_bits(const struct json *node, uint64_t *out) {
  if (node == NULL || (node->type != JSON_STRING && node->type != JSON_NUMBER)) return false;
  const char *s = node->text;
  size_t len = node->len;
  bool negative = len > 0 && s[0] == '-';
  uint64_t magnitude;
  if (!digits_to_u64(s + negative, len - negative, &magnitude)) return false;
  if (negative) {
    if (magnitude > (uint64_t)1 << 63) return false;
    *out = (uint64_t)0 - magnitude;
  } else {
    *out = magnitude;
  }
  return true;
}
