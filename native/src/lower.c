/* See lower.h. */
#include "lower.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The ABI's argument registers as pt_regs offsets, for function arguments
 * (DSL_LIMITS.maxFunctionArgs is 6: what x86_64 passes in registers).
 * x86_64: struct pt_regs is r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di
 * orig_ax ip cs flags sp ss, 8 bytes each (arch/x86/include/asm/ptrace.h).
 * aarch64: regs[31], sp, pc, pstate (user_pt_regs), so xN is at 8*N.
 */
/*
 * Go's register ABI (ABIInternal, Go 1.17 on amd64, 1.18 on arm64) passes
 * integer arguments in its own sequence of registers and keeps the current
 * goroutine's `g` in a fixed one (Go's src/cmd/compile/abi-internal.md,
 * "amd64 architecture" and "arm64 architecture"): amd64 RAX, RBX, RCX, RDI,
 * RSI, R8, R9, R10, R11 with g in R14; arm64 R0-R15 with g in R28. A Go
 * `string` takes two consecutive slots (pointer, length). The first result
 * is in the first register (RAX, R0), where the C ABI has it too.
 */
#if defined(__x86_64__)
static const uint16_t function_arg_regs[] = {112 /* rdi */, 104 /* rsi */, 96 /* rdx */, 88 /* rcx */, 72 /* r8 */, 64 /* r9 */};
static const uint16_t go_arg_regs[] = {80 /* rax */, 40 /* rbx */, 88 /* rcx */, 112 /* rdi */, 104 /* rsi */, 72 /* r8 */, 64 /* r9 */, 56 /* r10 */, 48 /* r11 */};
#define C_ABI_NAME "sysv"
/** sizeof(struct pt_regs): register offsets past it are refused. */
#define PT_REGS_SIZE 168
#elif defined(__aarch64__)
static const uint16_t function_arg_regs[] = {0, 8, 16, 24, 32, 40};
/* R0-R15; PROBEC_MAX_ARGS (12) of them fit a point's argument specs. */
static const uint16_t go_arg_regs[] = {0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88};
#define C_ABI_NAME "aapcs64"
#define PT_REGS_SIZE 272
#else
#error "probec-attach knows the function-argument registers of x86_64 and aarch64 only"
#endif

struct emitter {
  const struct plan_entry *entry;
  struct probec_program *program;
  unsigned max_arg; /* highest argN read + 1 */
  struct why *why;
};

static int emit(struct emitter *em, uint8_t code, uint8_t arg, int64_t imm) {
  struct probec_program *prog = em->program;
  if (prog->nops >= PROBEC_MAX_OPS) return why_set(em->why, "the program needs more than PROBEC_MAX_OPS (%d) operations", PROBEC_MAX_OPS);
  struct probec_op *op = &prog->ops[prog->nops++];
  memset(op, 0, sizeof *op);
  op->code = code;
  op->arg = arg;
  op->imm = imm;
  return 0;
}

/* The argument registers of a point's ABI; ABI0 has none (its arguments are on the stack). */
static const uint16_t *abi_arg_regs(enum plan_abi abi, size_t *n) {
  switch (abi) {
    case PLAN_ABI_GO_INTERNAL: *n = ARRAY_LEN(go_arg_regs); return go_arg_regs;
    case PLAN_ABI_GO_ABI0: *n = 0; return NULL;
    case PLAN_ABI_C: break;
  }
  *n = ARRAY_LEN(function_arg_regs);
  return function_arg_regs;
}

static const char *abi_name(enum plan_abi abi) {
  return abi == PLAN_ABI_GO_INTERNAL ? "go-abiinternal" : abi == PLAN_ABI_GO_ABI0 ? "go-abi0" : C_ABI_NAME;
}

static int lookup(const char *name, const char *const *names, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(name, names[i]) == 0) return (int)i;
  return -1;
}

static const char *member_text(const struct json *e, const char *key) {
  const struct json *m = json_get(e, key);
  return m != NULL && m->type == JSON_STRING ? m->text : "";
}

/* Pushes argument `index`, checked against every point's ABI (the entry's points share one program). */
static int emit_arg(struct emitter *em, uint64_t index) {
  const struct plan_entry *e = em->entry;
  bool usdt = e->kind == PLAN_USDT;
  if (usdt && index >= PROBEC_MAX_ARGS)
    return why_set(em->why, "program: arg%llu is beyond the %d arguments a USDT site can read (PROBEC_MAX_ARGS)", (unsigned long long)index, PROBEC_MAX_ARGS);
  for (size_t i = 0; i < e->npoints && !usdt; i++) {
    size_t n;
    abi_arg_regs(e->points[i].abi, &n);
    if (e->points[i].abi == PLAN_ABI_GO_ABI0)
      return why_set(em->why, "program: cookie %llu is a Go ABI0 (assembly) function, whose arguments are on the stack: arg%llu cannot be read from a register",
                     (unsigned long long)e->points[i].cookie, (unsigned long long)index);
    if (index >= n)
      return why_set(em->why, "program: arg%llu is beyond the %zu argument registers of the %s ABI (cookie %llu)", (unsigned long long)index, n,
                     abi_name(e->points[i].abi), (unsigned long long)e->points[i].cookie);
  }
  if (e->kind == PLAN_URETPROBE)
    return why_set(em->why, "program: a uretprobe cannot read arg%llu: the registers no longer hold the arguments at return (use uprobe+ret)", (unsigned long long)index);
  if (index + 1 > em->max_arg) em->max_arg = (unsigned)index + 1;
  return emit(em, PROBEC_OP_ARG, (uint8_t)index, 0);
}

/* Emits an integer-valued expression; `depth` returns the stack slots it needs. */
static int emit_int(struct emitter *em, const struct json *e, int *depth) {
  if (e == NULL || e->type != JSON_OBJECT) return why_set(em->why, "program: an expression is not an object");
  const char *op = member_text(e, "op");
  if (strcmp(op, "int") == 0) {
    uint64_t bits;
    if (!json_as_i64_bits(json_get(e, "value"), &bits)) return why_set(em->why, "program: integer \"%.40s\" does not fit in 64 bits", member_text(e, "value"));
    *depth = 1;
    return emit(em, PROBEC_OP_CONST, 0, (int64_t)bits);
  }
  if (strcmp(op, "arg") == 0) {
    uint64_t index;
    if (!json_as_u64(json_get(e, "index"), &index)) return why_set(em->why, "program: an `arg` has no index");
    *depth = 1;
    return emit_arg(em, index);
  }
  if (strcmp(op, "capture") == 0) {
    static const char *const names[] = {"pid", "tid", "timestamp", "cpu", "retval", "latency"};
    static const uint8_t captures[] = {PROBEC_CAP_PID, PROBEC_CAP_TID, PROBEC_CAP_TIMESTAMP, PROBEC_CAP_CPU, PROBEC_CAP_RETVAL, PROBEC_CAP_LATENCY};
    const char *name = member_text(e, "name");
    int i = lookup(name, names, ARRAY_LEN(names));
    if (i < 0) return why_set(em->why, "program: `%.40s` is not an integer capture", name);
    enum plan_kind kind = em->entry->kind;
    if (captures[i] == PROBEC_CAP_RETVAL && kind != PLAN_URETPROBE && kind != PLAN_UPROBE_RET)
      return why_set(em->why, "program: `retval` needs a uretprobe or uprobe+ret entry");
    if (captures[i] == PROBEC_CAP_LATENCY && kind != PLAN_UPROBE_RET) return why_set(em->why, "program: `latency` needs a uprobe+ret entry");
    *depth = 1;
    return emit(em, PROBEC_OP_CAPTURE, captures[i], 0);
  }
  if (strcmp(op, "cast") == 0) {
    static const char *const names[] = {"i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"};
    int to = lookup(member_text(e, "to"), names, ARRAY_LEN(names));
    if (to < 0) return why_set(em->why, "program: unknown cast `%.20s`", member_text(e, "to"));
    if (emit_int(em, json_get(e, "expr"), depth) < 0) return -1;
    return emit(em, PROBEC_OP_CAST, (uint8_t)to, 0);
  }
  if (strcmp(op, "unary") == 0) {
    static const char *const names[] = {"!", "-", "~"};
    int which = lookup(member_text(e, "operator"), names, ARRAY_LEN(names));
    if (which < 0) return why_set(em->why, "program: unknown unary operator `%.10s`", member_text(e, "operator"));
    if (emit_int(em, json_get(e, "operand"), depth) < 0) return -1;
    return emit(em, PROBEC_OP_UNARY, (uint8_t)which, 0);
  }
  if (strcmp(op, "binary") == 0) {
    /* Indexed by enum probec_binary. */
    static const char *const names[] = {"||", "&&", "==", "!=", "<", "<=", ">", ">=", "|", "^", "&", "<<", ">>", "+", "-", "*", "/", "%"};
    int which = lookup(member_text(e, "operator"), names, ARRAY_LEN(names));
    if (which < 0) return why_set(em->why, "program: unknown binary operator `%.10s`", member_text(e, "operator"));
    int left, right;
    if (emit_int(em, json_get(e, "left"), &left) < 0 || emit_int(em, json_get(e, "right"), &right) < 0) return -1;
    /* The left value waits on the stack while the right one is computed. */
    *depth = left > right + 1 ? left : right + 1;
    if (*depth > PROBEC_MAX_STACK) return why_set(em->why, "program: an expression nests deeper than PROBEC_MAX_STACK (%d)", PROBEC_MAX_STACK);
    return emit(em, PROBEC_OP_BINARY, (uint8_t)which, 0);
  }
  if (strcmp(op, "str") == 0 || strcmp(op, "gostr") == 0 || strcmp(op, "capture") == 0) return why_set(em->why, "program: a string where an integer is needed");
  if (strcmp(op, "ustack") == 0) return why_set(em->why, "program: `ustack` is a field or an aggregation key, not an integer");
  return why_set(em->why, "program: unknown expression op `%.20s`", op);
}

static struct layout_field *add_field(struct lowered_entry *out, const char *name, enum layout_type type, int offset, int size) {
  out->fields = xrealloc(out->fields, out->nfields + 1, sizeof *out->fields);
  struct layout_field *f = &out->fields[out->nfields++];
  *f = (struct layout_field){.name = name, .type = type, .offset = offset, .size = size};
  return f;
}

/*
 * Every field is named in the entry's `layout` status, which must fit one
 * status message (64 KiB): header fields (comm, container) take no op and
 * no slot, so neither PROBEC_MAX_OPS nor PROBEC_MAX_EVENT bounds them.
 */
#define LOWER_MAX_FIELDS 256
#define LOWER_MAX_FIELD_NAME 128

/* ustack / ustack(N): its frame count, 1..PROBEC_MAX_FRAMES; -1 with `why` naming `what`. */
static int stack_frames(struct emitter *em, const struct json *expr, const char *what) {
  uint64_t frames;
  if (!json_as_u64(json_get(expr, "frames"), &frames) || frames < 1 || frames > PROBEC_MAX_FRAMES)
    return why_set(em->why, "%s: ustack frames must be 1..PROBEC_MAX_FRAMES (%d)", what, PROBEC_MAX_FRAMES);
  return (int)frames;
}

/* One output value: `type` "int", "string" or "stack" as the plan says. */
static int lower_value(struct emitter *em, struct lowered_entry *out, const char *name, const char *type, const struct json *expr, uint32_t *event_size) {
  if (out->nfields >= LOWER_MAX_FIELDS) return why_set(em->why, "program: more than LOWER_MAX_FIELDS (%d) fields", LOWER_MAX_FIELDS);
  if (strlen(name) > LOWER_MAX_FIELD_NAME) return why_set(em->why, "program: field `%.60s…` has a name longer than LOWER_MAX_FIELD_NAME (%d)", name, LOWER_MAX_FIELD_NAME);
  const char *op = member_text(expr, "op");
  bool is_gostr = strcmp(op, "gostr") == 0;
  bool is_str = strcmp(op, "str") == 0 || is_gostr;
  const char *capture = strcmp(op, "capture") == 0 ? member_text(expr, "name") : "";
  bool is_header = strcmp(capture, "comm") == 0 || strcmp(capture, "container") == 0;
  if (type != NULL && strcmp(type, "string") == 0 && !is_str && !is_header)
    return why_set(em->why, "program: field `%.60s` is a string but its value is not str(…), gostr(…), comm or container", name);
  if (type != NULL && strcmp(type, "int") == 0 && (is_str || is_header)) return why_set(em->why, "program: field `%.60s` is an int but its value is a string", name);
  bool is_stack = strcmp(op, "ustack") == 0;
  if (is_stack != (type != NULL && strcmp(type, "stack") == 0))
    return why_set(em->why, "program: field `%.60s`: the type \"stack\" goes with a ustack value, and only with it", name);
  if (is_stack) {
    /* A u64 frame count, then the return addresses (PROTOCOL.md, "Field layout"). */
    int frames = stack_frames(em, expr, "program.fields");
    if (frames < 0) return -1;
    uint32_t slot = 8 + (uint32_t)frames * 8;
    if (*event_size + slot > PROBEC_MAX_EVENT)
      return why_set(em->why, "program: the event would be larger than PROBEC_MAX_EVENT (%d bytes) at field `%.60s`", PROBEC_MAX_EVENT, name);
    if (emit(em, PROBEC_OP_USTACK, 0, 0) < 0) return -1;
    struct probec_op *o = &em->program->ops[em->program->nops - 1];
    o->len = (uint16_t)frames;
    o->slot = *event_size;
    add_field(out, name, LAYOUT_STACK, (int)*event_size, (int)slot);
    *event_size += slot;
    return 0;
  }
  if (is_header) {
    /* No slot: comm is the event header's, container the plan's (PROTOCOL.md, "Field layout"). */
    add_field(out, name, LAYOUT_HEADER, 0, 0);
    return 0;
  }
  int depth;
  if (is_str) {
    uint64_t max_len;
    if (!json_as_u64(json_get(expr, "maxLen"), &max_len) || max_len < 1 || max_len > PROBEC_MAX_STRLEN)
      return why_set(em->why, "program: field `%.60s`: the string length must be 1..PROBEC_MAX_STRLEN (%d)", name, PROBEC_MAX_STRLEN);
    uint32_t slot = (uint32_t)((max_len + 7) & ~7u);
    if (*event_size + slot > PROBEC_MAX_EVENT)
      return why_set(em->why, "program: the event would be larger than PROBEC_MAX_EVENT (%d bytes) at field `%.60s`", PROBEC_MAX_EVENT, name);
    if (is_gostr) {
      /* gostr(argN): the string's pointer in slot N, its length in slot N + 1. */
      uint64_t index;
      if (!json_as_u64(json_get(expr, "index"), &index) || index + 1 >= PROBEC_MAX_ARGS)
        return why_set(em->why, "program: field `%.60s`: gostr needs an argument index below %d", name, PROBEC_MAX_ARGS - 1);
      if (emit_arg(em, index) < 0 || emit_arg(em, index + 1) < 0 || emit(em, PROBEC_OP_GOSTR, 0, 0) < 0) return -1;
    } else if (emit_int(em, json_get(expr, "arg"), &depth) < 0 || emit(em, PROBEC_OP_STR, 0, 0) < 0) {
      return -1;
    }
    struct probec_op *str = &em->program->ops[em->program->nops - 1];
    str->len = (uint16_t)max_len;
    str->slot = *event_size;
    em->program->string_fields++;
    add_field(out, name, LAYOUT_STRING, (int)*event_size, (int)slot);
    *event_size += slot;
    return 0;
  }
  if (*event_size + 8 > PROBEC_MAX_EVENT)
    return why_set(em->why, "program: the event would be larger than PROBEC_MAX_EVENT (%d bytes) at field `%.60s`", PROBEC_MAX_EVENT, name);
  if (emit_int(em, expr, &depth) < 0 || emit(em, PROBEC_OP_STORE, 0, 0) < 0) return -1;
  em->program->ops[em->program->nops - 1].slot = *event_size;
  add_field(out, name, LAYOUT_INT, (int)*event_size, 8);
  *event_size += 8;
  return 0;
}

/* ---- aggregations ---- */

/* Indexed like AGGREGATE_FNS in src/plan/aggregates.ts. */
static const char *const AGG_FNS[] = {"count", "sum", "avg", "min", "max", "stats", "hist", "lhist"};
enum { FN_COUNT = 0, FN_HIST = 6, FN_LHIST = 7 };

/* A key's kind and the bytes it wants in the key (a string: its maxLen, cut later to fit). */
static int key_kind(struct emitter *em, const struct json *key, const char *path, enum agg_key_kind *kind, uint32_t *want, uint32_t *frames) {
  if (key == NULL || key->type != JSON_OBJECT) return why_set(em->why, "%s: expected an expression object", path);
  const char *op = member_text(key, "op");
  const char *capture = strcmp(op, "capture") == 0 ? member_text(key, "name") : "";
  *frames = 0;
  if (strcmp(capture, "comm") == 0) {
    *kind = AGG_KEY_COMM, *want = 16;
  } else if (strcmp(capture, "container") == 0) {
    *kind = AGG_KEY_MNTNS, *want = 8;
  } else if (strcmp(op, "ustack") == 0) {
    int n = stack_frames(em, key, path);
    if (n < 0) return -1;
    *kind = AGG_KEY_USTACK, *want = sizeof(struct probec_stack_key), *frames = (uint32_t)n;
  } else if (strcmp(op, "str") == 0 || strcmp(op, "gostr") == 0) {
    uint64_t max_len;
    if (!json_as_u64(json_get(key, "maxLen"), &max_len) || max_len < 1 || max_len > PROBEC_MAX_STRLEN)
      return why_set(em->why, "%s: the string length must be 1..PROBEC_MAX_STRLEN (%d)", path, PROBEC_MAX_STRLEN);
    *kind = AGG_KEY_STRING, *want = (uint32_t)max_len;
  } else {
    *kind = AGG_KEY_INT, *want = 8;
  }
  return 0;
}

/*
 * Places the keys in probec_agg_key.key: the fixed-size ones first (all
 * multiples of 8, so each integer is aligned), then the strings, which
 * share what is left of PROBEC_AGG_KEY_BYTES: the shortest take what they
 * ask, the others an equal part of the rest (AGGREGATE_LIMITS.maxKeyBytes:
 * a longer string is cut, and reads up to its part less the NUL).
 */
static uint32_t place_keys(struct lowered_agg *agg, const uint32_t *want) {
  uint32_t at = 0;
  for (size_t i = 0; i < agg->nkeys; i++) {
    if (agg->keys[i].kind == AGG_KEY_STRING) continue;
    agg->keys[i].offset = at;
    agg->keys[i].size = want[i];
    at += want[i];
  }
  uint32_t left = PROBEC_AGG_KEY_BYTES - at;
  size_t strings = 0;
  bool done[PROBEC_MAX_AGG_KEYS] = {false};
  for (size_t i = 0; i < agg->nkeys; i++) strings += agg->keys[i].kind == AGG_KEY_STRING;
  /* Water-filling: the smallest wanted string first. */
  for (size_t round = 0; round < strings; round++) {
    size_t pick = agg->nkeys;
    for (size_t i = 0; i < agg->nkeys; i++)
      if (agg->keys[i].kind == AGG_KEY_STRING && !done[i] && (pick == agg->nkeys || want[i] < want[pick])) pick = i;
    uint32_t share = left / (uint32_t)(strings - round);
    agg->keys[pick].size = want[pick] < share ? want[pick] : share;
    left -= agg->keys[pick].size;
    done[pick] = true;
  }
  for (size_t i = 0; i < agg->nkeys; i++) {
    if (agg->keys[i].kind != AGG_KEY_STRING) continue;
    agg->keys[i].offset = at;
    at += agg->keys[i].size;
  }
  return at;
}

/* Emits one key's ops (its value, then the KEY_* op that stores it). */
static int emit_key(struct emitter *em, const struct json *key, const struct agg_key_layout *k, size_t index) {
  int depth;
  uint8_t code;
  switch (k->kind) {
    case AGG_KEY_COMM: code = PROBEC_OP_KEY_COMM; break;
    case AGG_KEY_MNTNS: code = PROBEC_OP_KEY_MNTNS; break;
    case AGG_KEY_USTACK: code = PROBEC_OP_KEY_USTACK; break;
    case AGG_KEY_STRING:
      if (strcmp(member_text(key, "op"), "gostr") == 0) {
        uint64_t at;
        if (!json_as_u64(json_get(key, "index"), &at) || at + 1 >= PROBEC_MAX_ARGS)
          return why_set(em->why, "program: gostr needs an argument index below %d", PROBEC_MAX_ARGS - 1);
        if (emit_arg(em, at) < 0 || emit_arg(em, at + 1) < 0) return -1;
        code = PROBEC_OP_KEY_GOSTR;
      } else {
        if (emit_int(em, json_get(key, "arg"), &depth) < 0) return -1;
        code = PROBEC_OP_KEY_STR;
      }
      break;
    default:
      if (emit_int(em, key, &depth) < 0) return -1;
      code = PROBEC_OP_KEY_INT;
      break;
  }
  if (emit(em, code, (uint8_t)index, 0) < 0) return -1;
  struct probec_op *o = &em->program->ops[em->program->nops - 1];
  o->slot = k->offset;
  o->len = (uint16_t)(k->kind == AGG_KEY_USTACK ? k->frames : k->size);
  return 0;
}

/* An integer member of `lhist` (a JSON number, signed 64-bit). */
static bool lhist_member(const struct json *lhist, const char *key, int64_t *out) {
  const struct json *m = json_get(lhist, key);
  uint64_t bits;
  if (m == NULL || m->type != JSON_NUMBER || !json_as_i64_bits(m, &bits)) return false;
  if (m->text[0] != '-' && bits > (uint64_t)INT64_MAX) return false;
  *out = (int64_t)bits;
  return true;
}

/* One aggregation: its keys, its value, AGG (a count: its keys, AGG_COUNT). The BPF program empties the key before each one. */
static int lower_aggregate(struct emitter *em, struct lowered_entry *out, const struct json *a, size_t i, uint32_t index) {
  char path[64];
  snprintf(path, sizeof path, "program.aggregates[%zu]", i);
  if (a->type != JSON_OBJECT) return why_set(em->why, "%s: expected an object", path);
  const char *fn_name = member_text(a, "fn");
  int fn = lookup(fn_name, AGG_FNS, ARRAY_LEN(AGG_FNS));
  if (fn < 0) return why_set(em->why, "%s.fn: expected count, sum, avg, min, max, stats, hist or lhist, got \"%.30s\"", path, fn_name);
  struct lowered_agg *agg = &out->aggs[i];
  struct probec_agg *desc = &em->program->aggs[i];
  desc->id = index * PROBEC_MAX_AGGS + (uint32_t)i;
  desc->fn = fn == FN_HIST ? PROBEC_AGG_HIST : fn == FN_LHIST ? PROBEC_AGG_LHIST : PROBEC_AGG_PLAIN;
  agg->fn = desc->fn;
  const struct json *lhist = json_get(a, "lhist");
  if (fn == FN_LHIST) {
    int64_t min, max, step;
    if (lhist == NULL || lhist->type != JSON_OBJECT || !lhist_member(lhist, "min", &min) || !lhist_member(lhist, "max", &max) || !lhist_member(lhist, "step", &step))
      return why_set(em->why, "%s.lhist: expected { min, max, step } integers", path);
    if (step <= 0 || max <= min) return why_set(em->why, "%s.lhist: expected step > 0 and max > min", path);
    uint64_t buckets = ((uint64_t)max - (uint64_t)min + (uint64_t)step - 1) / (uint64_t)step;
    if (buckets > 1000) return why_set(em->why, "%s.lhist: %llu buckets, more than maxLhistBuckets (1000)", path, (unsigned long long)buckets);
    desc->min = min, desc->max = max, desc->step = step, desc->last = buckets + 1;
  } else if (lhist != NULL && lhist->type != JSON_NULL) {
    return why_set(em->why, "%s.lhist: only lhist has one (expected null)", path);
  }
  const struct json *by = json_get(a, "by");
  if (by == NULL || by->type != JSON_ARRAY) return why_set(em->why, "%s.by: expected an array of key expressions", path);
  if (by->count > PROBEC_MAX_AGG_KEYS) return why_set(em->why, "%s.by: %zu keys, more than PROBEC_MAX_AGG_KEYS (%d, maxAggregateKeys)", path, by->count, PROBEC_MAX_AGG_KEYS);
  uint32_t want[PROBEC_MAX_AGG_KEYS];
  size_t k = 0;
  for (const struct json *key = by->first; key != NULL; key = key->next, k++) {
    char key_path[80];
    snprintf(key_path, sizeof key_path, "%s.by[%zu]", path, k);
    if (key_kind(em, key, key_path, &agg->keys[k].kind, &want[k], &agg->keys[k].frames) < 0) return -1;
    if (agg->keys[k].frames > out->stack_frames) out->stack_frames = agg->keys[k].frames;
  }
  agg->nkeys = k;
  uint32_t used = place_keys(agg, want);
  if (8 + used > out->key_size) out->key_size = 8 + used;
  k = 0;
  for (const struct json *key = by->first; key != NULL; key = key->next, k++)
    if (emit_key(em, key, &agg->keys[k], k) < 0) return -1;
  const struct json *value = json_get(a, "value");
  int depth;
  if (fn == FN_COUNT) {
    if (value != NULL && value->type != JSON_NULL) return why_set(em->why, "%s.value: count has none (expected null)", path);
    return emit(em, PROBEC_OP_AGG_COUNT, (uint8_t)i, 0);
  } else {
    if (value == NULL || value->type != JSON_OBJECT) return why_set(em->why, "%s.value: %s needs an integer expression", path, fn_name);
    if (emit_int(em, value, &depth) < 0) return -1;
  }
  return emit(em, PROBEC_OP_AGG, (uint8_t)i, 0);
}

static int lower_aggregates(struct emitter *em, struct lowered_entry *out, const struct json *program, uint32_t index) {
  const struct json *count = json_get(program, "count");
  if (count != NULL && count->type != JSON_NULL)
    return why_set(em->why, "program.count: plan version 2 keeps counts in program.aggregates (fn \"count\")");
  const struct json *aggregates = json_get(program, "aggregates");
  /* Absent: none (an entry planned outside the compiler). */
  if (aggregates == NULL) return 0;
  if (aggregates->type != JSON_ARRAY) return why_set(em->why, "program.aggregates: expected an array");
  if (aggregates->count == 0) return 0;
  if (aggregates->count > PROBEC_MAX_AGGS)
    return why_set(em->why, "program.aggregates: %zu aggregations, more than PROBEC_MAX_AGGS (%d, maxAggregatesPerProbe)", aggregates->count, PROBEC_MAX_AGGS);
  if (out->nfields > 0) return why_set(em->why, "program.aggregates: a probe that aggregates has no fields (program.fields must be empty)");
  size_t i = 0;
  for (const struct json *a = aggregates->first; a != NULL; a = a->next, i++)
    if (lower_aggregate(em, out, a, i, index) < 0) return -1;
  out->naggs = i;
  em->program->naggs = (uint32_t)i;
  return 0;
}

int lower_program(const struct plan_entry *e, uint32_t index, struct lowered_entry *out, struct why *why) {
  memset(out, 0, sizeof *out);
  struct emitter em = {.entry = e, .program = &out->program, .why = why};
  uint32_t event_size = sizeof(struct probec_event_header);
  const struct json *program = e->program;
  if (program != NULL) {
    const struct json *filter = json_get(program, "filter");
    if (filter != NULL && filter->type != JSON_NULL) {
      int depth;
      if (emit_int(&em, filter, &depth) < 0 || emit(&em, PROBEC_OP_FILTER, 0, 0) < 0) return -1;
    }
    const struct json *fields = json_get(program, "fields");
    if (fields == NULL || fields->type != JSON_ARRAY) return why_set(why, "program.fields: expected an array");
    for (const struct json *f = fields->first; f != NULL; f = f->next) {
      const struct json *name = json_get(f, "name"), *type = json_get(f, "type");
      if (name == NULL || name->type != JSON_STRING || type == NULL || type->type != JSON_STRING)
        return why_set(why, "program.fields: every field needs a name and a type");
      if (lower_value(&em, out, name->text, type->text, json_get(f, "expr"), &event_size) < 0) return -1;
    }
    if (lower_aggregates(&em, out, program, index) < 0) return -1;
  }
  if (emit(&em, PROBEC_OP_END, 0, 0) < 0) return -1;
  out->program.event_size = event_size;
  out->function_args = e->kind == PLAN_USDT ? 0 : em.max_arg;
  return 0;
}

void lower_free(struct lowered_entry *l) {
  free(l->fields);
  l->fields = NULL;
  l->nfields = 0;
}

/* ---- argument locations ---- */

static int register_offset(const struct json *reg, uint16_t *off, uint8_t *width, uint8_t *shift, struct why *why, size_t index) {
  uint64_t o, w = 8, s = 0;
  /* compatPtRegsOffset: the slot of a 32-bit program's register in the 64-bit pt_regs BPF reads. */
  const struct json *where = json_get(reg, "compatPtRegsOffset");
  if (where == NULL) where = json_get(reg, "ptRegsOffset");
  if (!json_as_u64(where, &o) || o % 8 != 0 || o + 8 > PT_REGS_SIZE)
    return why_set(why, "args[%zu]: register `%.20s` has no pt_regs offset this kernel's pt_regs (%d bytes) holds", index, member_text(reg, "name"), PT_REGS_SIZE);
  if (width != NULL) {
    if (!json_as_u64(json_get(reg, "width"), &w) || (w != 1 && w != 2 && w != 4 && w != 8) || !json_as_u64(json_get(reg, "shift"), &s) || s + w * 8 > 64)
      return why_set(why, "args[%zu]: register `%.20s` has an invalid width or shift", index, member_text(reg, "name"));
    *width = (uint8_t)w;
    *shift = (uint8_t)s;
  }
  *off = (uint16_t)o;
  return 0;
}

static int index_register(const struct json *a, struct probec_arg *out, struct why *why, size_t index) {
  const struct json *reg = json_get(a, "indexRegister");
  if (reg == NULL) return 0;
  uint64_t scale;
  if (!json_as_u64(json_get(a, "scale"), &scale) || (scale != 1 && scale != 2 && scale != 4 && scale != 8))
    return why_set(why, "args[%zu]: the index scale must be 1, 2, 4 or 8", index);
  if (register_offset(reg, &out->index_reg_off, NULL, NULL, why, index) < 0) return -1;
  out->scale = (uint8_t)scale;
  out->flags |= PROBEC_ARG_HAS_INDEX;
  return 0;
}

static int usdt_arg(const struct json *a, struct probec_arg *out, struct why *why, size_t index) {
  memset(out, 0, sizeof *out);
  uint64_t size;
  const struct json *is_signed = json_get(a, "signed");
  if (!json_as_u64(json_get(a, "size"), &size) || (size != 1 && size != 2 && size != 4 && size != 8) || is_signed == NULL || is_signed->type != JSON_BOOL)
    return why_set(why, "args[%zu]: expected a size of 1, 2, 4 or 8 and a boolean `signed`", index);
  out->size = (uint8_t)size;
  out->is_signed = is_signed->boolean;
  out->reg_width = 8;
  const char *kind = member_text(a, "kind");
  uint64_t bits;
  if (strcmp(kind, "register") == 0) {
    out->kind = PROBEC_ARG_REGISTER;
    return register_offset(json_get(a, "register"), &out->reg_off, &out->reg_width, &out->reg_shift, why, index);
  }
  if (strcmp(kind, "memory") == 0) {
    out->kind = PROBEC_ARG_MEMORY;
    out->flags = PROBEC_ARG_HAS_BASE;
    if (!json_as_i64_bits(json_get(a, "displacement"), &bits)) return why_set(why, "args[%zu]: the displacement does not fit in 64 bits", index);
    out->value = (int64_t)bits;
    if (register_offset(json_get(a, "base"), &out->reg_off, NULL, NULL, why, index) < 0) return -1;
    return index_register(a, out, why, index);
  }
  if (strcmp(kind, "constant") == 0) {
    out->kind = PROBEC_ARG_CONSTANT;
    if (!json_as_i64_bits(json_get(a, "value"), &bits)) return why_set(why, "args[%zu]: the constant does not fit in 64 bits", index);
    out->value = (int64_t)bits;
    return 0;
  }
  if (strcmp(kind, "symbol") == 0) {
    uint64_t address;
    if (!json_hex_as_u64(json_get(a, "symbolAddress"), &address)) {
      /* The symbol was not found: reading it would read garbage (PITFALLS 13), so the field faults instead. */
      out->kind = PROBEC_ARG_UNSUPPORTED;
      return 0;
    }
    if (!json_as_i64_bits(json_get(a, "addend"), &bits)) return why_set(why, "args[%zu]: the addend does not fit in 64 bits", index);
    out->kind = PROBEC_ARG_SYMBOL;
    out->value = (int64_t)(address + bits);
    /* `base` is the PC the operand was relative to (%rip): the load bias already accounts for it. */
    return index_register(a, out, why, index);
  }
  if (strcmp(kind, "unsupported") == 0) {
    out->kind = PROBEC_ARG_UNSUPPORTED;
    return 0;
  }
  return why_set(why, "args[%zu]: unknown argument kind `%.20s`", index, kind);
}

int lower_point(const struct plan_entry *e, uint32_t index, const struct plan_point *p, const struct lowered_entry *l,
                struct probec_point *out, struct why *why) {
  memset(out, 0, sizeof *out);
  out->entry = index;
  out->side = p->at_return ? 1 : 0;
  out->site_addr = p->site_address;
  out->caller_unframed = p->caller_unframed ? 1 : 0;
  switch (e->filter_kind) {
    case PLAN_FILTER_NONE: out->filter_kind = PROBEC_FILTER_NONE; break;
    case PLAN_FILTER_CONTAINER: out->filter_kind = PROBEC_FILTER_CONTAINER; break;
    case PLAN_FILTER_PROCESS: out->filter_kind = PROBEC_FILTER_PROCESS; break;
  }
  out->mntns = e->mntns;
  out->role = PROBEC_ROLE_EMIT;
  if (e->kind == PLAN_UPROBE_RET) {
    out->role = p->at_return ? PROBEC_ROLE_PAIR_RETURN : PROBEC_ROLE_SAVE;
    out->pair_cookie = p->at_return ? p->paired_with : p->cookie;
    /* Go code pairs by goroutine and frame (probec_abi.h, enum probec_pair_key); plan.c refuses ABI0 here. */
    if (p->abi == PLAN_ABI_GO_INTERNAL) out->pair_key = PROBEC_PAIR_GOROUTINE;
  }
  if (p->usdt_args != NULL) {
    size_t i = 0;
    for (const struct json *a = p->usdt_args->first; a != NULL; a = a->next, i++) {
      uint64_t at;
      if (!json_as_u64(json_get(a, "index"), &at) || at != i) return why_set(why, "cookie %llu: args[%zu] has index %llu: arguments must not be dropped or shifted", (unsigned long long)p->cookie, i, (unsigned long long)at);
      if (usdt_arg(a, &out->args[i], why, i) < 0) return -1;
    }
    out->nargs = (uint8_t)i;
    return 0;
  }
  /* Function arguments: the registers of the point's ABI at entry; the return side of a pair reads the saved copies. */
  size_t nregs;
  const uint16_t *regs = abi_arg_regs(p->abi, &nregs);
  if (l->function_args > nregs)
    return why_set(why, "cookie %llu: arg%u is beyond the %zu argument registers of the %s ABI", (unsigned long long)p->cookie, l->function_args - 1, nregs, abi_name(p->abi));
  for (unsigned i = 0; i < l->function_args; i++) {
    struct probec_arg *a = &out->args[i];
    a->kind = PROBEC_ARG_FUNCTION;
    a->size = 8;
    a->reg_width = 8;
    a->reg_off = regs[i];
  }
  out->nargs = (uint8_t)l->function_args;
  return 0;
}
