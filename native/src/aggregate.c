/* See aggregate.h. */
#include "aggregate.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_writer.h"
#include "output.h"
#include "status.h"

/* Keys read per batch call; the buffers grow by as much when a report holds more. */
#define READ_CHUNK 4096u

struct agg_info {
  bool live;
  uint32_t entry, index;
  struct lowered_agg layout;
};

struct aggregates {
  const struct loader *l;
  struct ring_buffer *rb;
  struct agg_info *infos; /* by aggregation id */
  bool any;
  uint64_t seq;
  size_t ncpus;
  char *msg; /* one message's JSON; grows to fit the largest */
  size_t msg_cap;
};

/* One report's keys and per-CPU values, as the batch calls return them. */
struct snapshot {
  size_t key_size, value_size; /* value_size: every CPU's values of one key */
  uint8_t *keys, *values;
  size_t n, cap;
  size_t *order; /* indices sorted by aggregation id, then bucket, then key bytes */
};

struct aggregates *aggregates_new(const struct loader *l, struct ring_buffer *rb) {
  struct aggregates *a = xcalloc(1, sizeof *a);
  a->l = l;
  a->rb = rb;
  a->infos = xcalloc(PROBEC_MAX_AGG_IDS, sizeof *a->infos);
  int n = libbpf_num_possible_cpus();
  a->ncpus = n > 0 ? (size_t)n : 1;
  a->msg_cap = 64u << 10;
  a->msg = xcalloc(a->msg_cap, 1);
  return a;
}

void aggregates_free(struct aggregates *a) {
  if (a == NULL) return;
  free(a->infos);
  free(a->msg);
  free(a);
}

bool aggregates_any(const struct aggregates *a) { return a->any; }

/* Zeroes aggregation `id`'s dropped counter on every CPU. */
static void reset_dropped(struct aggregates *a, uint32_t id) {
  uint64_t *zeros = xcalloc(a->ncpus, sizeof *zeros);
  bpf_map_update_elem(a->l->agg_dropped_fd, &id, zeros, BPF_ANY);
  free(zeros);
}

/* Aggregation `id`'s dropped hits, summed over the CPUs. */
static uint64_t read_dropped(struct aggregates *a, uint32_t id) {
  uint64_t *per_cpu = xcalloc(a->ncpus, sizeof *per_cpu), sum = 0;
  if (bpf_map_lookup_elem(a->l->agg_dropped_fd, &id, per_cpu) == 0)
    for (size_t c = 0; c < a->ncpus; c++) sum += per_cpu[c];
  free(per_cpu);
  return sum;
}

void aggregates_register(struct aggregates *a, uint32_t entry, const struct lowered_entry *l) {
  for (size_t i = 0; i < l->naggs; i++) {
    uint32_t id = entry * PROBEC_MAX_AGGS + (uint32_t)i;
    a->infos[id] = (struct agg_info){.live = true, .entry = entry, .index = (uint32_t)i, .layout = l->aggs[i]};
    reset_dropped(a, id);
    a->any = true;
  }
}

void aggregates_unregister(struct aggregates *a, uint32_t entry) {
  bool had = false;
  for (uint32_t i = 0; i < PROBEC_MAX_AGGS; i++) {
    uint32_t id = entry * PROBEC_MAX_AGGS + i;
    if (!a->infos[id].live) continue;
    had = true;
    a->infos[id].live = false;
    reset_dropped(a, id);
  }
  if (!had) return;
  /* Every key of the entry: collected first, since deleting while walking would restart the walk. */
  size_t size = a->l->agg_key_size, n = 0, cap = 64;
  uint8_t *keys = xcalloc(cap, size), *cur = xcalloc(1, size), *next = xcalloc(1, size);
  bool first = true;
  while (bpf_map_get_next_key(a->l->aggs_fd, first ? NULL : cur, next) == 0) {
    first = false;
    uint32_t id;
    memcpy(&id, next, sizeof id);
    if (id / PROBEC_MAX_AGGS == entry) {
      if (n == cap) keys = xrealloc(keys, cap *= 2, size);
      memcpy(keys + n++ * size, next, size);
    }
    uint8_t *swap = cur;
    cur = next;
    next = swap;
  }
  for (size_t i = 0; i < n; i++) bpf_map_delete_elem(a->l->aggs_fd, keys + i * size);
  free(cur);
  free(next);
  free(keys);
}

/* ---- reading the map ---- */

static void snapshot_grow(struct snapshot *s, size_t more) {
  if (s->cap - s->n >= more) return;
  while (s->cap - s->n < more) s->cap = s->cap == 0 ? READ_CHUNK : s->cap * 2;
  s->keys = xrealloc(s->keys, s->cap, s->key_size);
  s->values = xrealloc(s->values, s->cap, s->value_size);
}

/* Every key and value of `aggs` (deleted as read when `reset`): batch calls of READ_CHUNK keys. */
static void snapshot_read(struct aggregates *a, struct snapshot *s, bool reset) {
  int fd = a->l->aggs_fd;
  uint64_t in = 0, out = 0;
  bool first = true;
  size_t chunk = READ_CHUNK;
  for (;;) {
    snapshot_grow(s, chunk);
    uint32_t count = (uint32_t)chunk;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int rc = reset ? bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, s->keys + s->n * s->key_size, s->values + s->n * s->value_size, &count, &opts)
                   : bpf_map_lookup_batch(fd, first ? NULL : &in, &out, s->keys + s->n * s->key_size, s->values + s->n * s->value_size, &count, &opts);
    int err = rc < 0 ? errno : 0;
    s->n += count;
    if (rc < 0 && err == ENOENT) break; /* the end: `count` holds the last keys */
    if (rc < 0 && err == ENOSPC && count == 0) {
      chunk *= 2; /* one hash bucket holds more keys than a chunk */
      continue;
    }
    if (rc < 0) {
      fprintf(stderr, "probec-attach: reading the aggregation map failed: %s\n", strerror(err));
      break;
    }
    in = out;
    first = false;
  }
}

static const struct snapshot *sort_snapshot;

static int compare_rows(const void *x, const void *y) {
  const struct snapshot *s = sort_snapshot;
  const uint8_t *a = s->keys + *(const size_t *)x * s->key_size, *b = s->keys + *(const size_t *)y * s->key_size;
  uint32_t ida, idb, ba, bb;
  memcpy(&ida, a, 4), memcpy(&idb, b, 4), memcpy(&ba, a + 4, 4), memcpy(&bb, b + 4, 4);
  if (ida != idb) return ida < idb ? -1 : 1;
  if ((ba & PROBEC_AGG_BUCKET_MASK) != (bb & PROBEC_AGG_BUCKET_MASK)) return (ba & PROBEC_AGG_BUCKET_MASK) < (bb & PROBEC_AGG_BUCKET_MASK) ? -1 : 1;
  return memcmp(a + 4, b + 4, s->key_size - 4);
}

/* ---- writing ---- */

static void decimal(struct jw *w, int64_t v, bool is_signed) {
  char text[24];
  if (is_signed) snprintf(text, sizeof text, "%" PRId64, v);
  else snprintf(text, sizeof text, "%" PRIu64, (uint64_t)v);
  jw_string(w, text);
}

/* The bytes of a string key up to its first NUL, as a JSON string. */
static void key_string(struct jw *w, const uint8_t *bytes, size_t size) {
  char text[PROBEC_AGG_KEY_BYTES + 1];
  size_t n = 0;
  while (n < size && n < PROBEC_AGG_KEY_BYTES && bytes[n] != 0) n++;
  memcpy(text, bytes, n);
  text[n] = '\0';
  jw_string(w, text);
}

static void key_stack(struct aggregates *a, struct jw *w, const uint8_t *bytes, uint32_t frames) {
  struct probec_stack_key k;
  memcpy(&k, bytes, sizeof k);
  uint64_t *stack = xcalloc(1, a->l->stack_value_size);
  if (bpf_map_lookup_elem(a->l->stacks_fd, &k.hash, stack) < 0) {
    jw_null(w); /* its frames found no room in `stacks`: the hit was counted as dropped, so this is not reached but by a race with a reset */
    free(stack);
    return;
  }
  uint64_t n = stack[0], room = (a->l->stack_value_size - 8) / 8;
  if (n > room) n = room;
  if (n > frames) n = frames;
  jw_open(w, '{');
  jw_key(w, "pid");
  jw_u64(w, k.tgid);
  jw_key(w, "frames");
  jw_open(w, '[');
  for (uint64_t i = 0; i < n; i++) {
    char text[24];
    snprintf(text, sizeof text, "0x%" PRIx64, stack[1 + i]);
    jw_string(w, text);
  }
  jw_close(w, ']');
  jw_close(w, '}');
  free(stack);
}

static void row(struct aggregates *a, struct jw *w, const struct agg_info *info, const uint8_t *key, const uint8_t *values) {
  uint32_t bucket;
  memcpy(&bucket, key + 4, 4);
  const uint8_t *bytes = key + 8;
  jw_open(w, '{');
  jw_key(w, "keys");
  jw_open(w, '[');
  for (size_t k = 0; k < info->layout.nkeys; k++) {
    const struct agg_key_layout *kl = &info->layout.keys[k];
    if (bucket & (1u << (PROBEC_AGG_FAULT_SHIFT + k))) {
      jw_null(w);
      continue;
    }
    int64_t v;
    switch (kl->kind) {
      case AGG_KEY_INT:
        memcpy(&v, bytes + kl->offset, 8);
        decimal(w, v, true);
        break;
      case AGG_KEY_STRING:
      case AGG_KEY_COMM:
        key_string(w, bytes + kl->offset, kl->size);
        break;
      case AGG_KEY_MNTNS:
        memcpy(&v, bytes + kl->offset, 8);
        jw_open(w, '{');
        jw_key(w, "mntns");
        decimal(w, v, false);
        jw_close(w, '}');
        break;
      case AGG_KEY_USTACK:
        key_stack(a, w, bytes + kl->offset, kl->frames);
        break;
    }
  }
  jw_close(w, ']');
  if (info->layout.fn != PROBEC_AGG_PLAIN) {
    jw_key(w, "bucket");
    jw_u64(w, bucket & PROBEC_AGG_BUCKET_MASK);
  }
  /* Fold the CPUs: counts and sums add up; min and max only over the CPUs that saw a hit. */
  uint64_t count = 0;
  int64_t sum = 0, min = 0, max = 0;
  for (size_t c = 0; c < a->ncpus; c++) {
    struct probec_agg_value cpu;
    memcpy(&cpu, values + c * sizeof cpu, sizeof cpu);
    if (cpu.count == 0) continue;
    if (count == 0 || cpu.min < min) min = cpu.min;
    if (count == 0 || cpu.max > max) max = cpu.max;
    count += cpu.count;
    sum = (int64_t)((uint64_t)sum + (uint64_t)cpu.sum);
  }
  jw_key(w, "count");
  decimal(w, (int64_t)count, false);
  jw_key(w, "sum");
  decimal(w, sum, true);
  jw_key(w, "min");
  decimal(w, min, true);
  jw_key(w, "max");
  decimal(w, max, true);
  jw_close(w, '}');
}

static void report_header(struct jw *w, const char *type, uint64_t seq, bool final, bool reset) {
  jw_open(w, '{');
  jw_key(w, "type");
  jw_string(w, type);
  jw_key(w, "seq");
  jw_u64(w, seq);
  jw_key(w, "final");
  jw_bool(w, final);
  jw_key(w, "reset");
  jw_bool(w, reset);
}

/* One `aggregate` message; the buffer grows until the message fits. */
static void send_aggregate(struct aggregates *a, const struct agg_info *info, const struct snapshot *s, size_t from, size_t to, uint64_t dropped, bool final,
                           bool reset) {
  for (;;) {
    struct jw w;
    jw_init(&w, a->msg, a->msg_cap);
    report_header(&w, "aggregate", a->seq, final, reset);
    jw_key(&w, "entry");
    jw_u64(&w, info->entry);
    jw_key(&w, "aggregate");
    jw_u64(&w, info->index);
    jw_key(&w, "dropped");
    decimal(&w, (int64_t)dropped, false);
    jw_key(&w, "rows");
    jw_open(&w, '[');
    for (size_t i = from; i < to; i++) row(a, &w, info, s->keys + s->order[i] * s->key_size, s->values + s->order[i] * s->value_size);
    jw_close(&w, ']');
    jw_close(&w, '}');
    if (!w.overflow) {
      output_frame(FRAME_STATUS, w.buf, (uint32_t)w.len);
      return;
    }
    if (a->msg_cap >= (1u << 30)) {
      fprintf(stderr, "probec-attach: the report of entry %u aggregate %u exceeds 1 GiB and was not sent\n", info->entry, info->index);
      return;
    }
    a->msg_cap *= 2;
    free(a->msg);
    a->msg = xcalloc(a->msg_cap, 1);
  }
}

/*
 * Tells the BPF program that stacks were removed: a CPU remembers the last
 * stack it found stored, with this epoch, and looks it up again once the
 * epoch moved (native/bpf/probec.bpf.c, ustack_key). Bumped after the
 * removals, so a hit between a removal and the bump (a window of
 * microseconds) may skip storing its stack, as a hit between reading and
 * deleting its key loses it; the CPU's next hit of that stack stores it.
 */
static void bump_stacks_epoch(struct aggregates *a) {
  int fd = bpf_object__find_map_fd_by_name(a->l->obj, "stacks_epoch");
  uint32_t zero = 0;
  uint64_t epoch = 0;
  if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &epoch) < 0) return;
  epoch++;
  bpf_map_update_elem(fd, &zero, &epoch, BPF_ANY);
}

/* After a reset: the stacks the deleted keys named (a stack that a later hit names again is added again). */
static void forget_stacks(struct aggregates *a, const struct snapshot *s) {
  bool removed = false;
  for (size_t i = 0; i < s->n; i++) {
    const uint8_t *key = s->keys + i * s->key_size;
    uint32_t id;
    memcpy(&id, key, 4);
    if (id >= PROBEC_MAX_AGG_IDS || !a->infos[id].live) continue;
    const struct lowered_agg *layout = &a->infos[id].layout;
    for (size_t k = 0; k < layout->nkeys; k++) {
      if (layout->keys[k].kind != AGG_KEY_USTACK) continue;
      struct probec_stack_key sk;
      memcpy(&sk, key + 8 + layout->keys[k].offset, sizeof sk);
      removed |= bpf_map_delete_elem(a->l->stacks_fd, &sk.hash) == 0;
    }
  }
  if (removed) bump_stacks_epoch(a);
}

static uint32_t row_id(const struct snapshot *s, size_t i) {
  uint32_t id;
  memcpy(&id, s->keys + s->order[i] * s->key_size, 4);
  return id;
}

void aggregates_report(struct aggregates *a, bool final, bool reset) {
  struct snapshot s = {.key_size = a->l->agg_key_size, .value_size = a->ncpus * sizeof(struct probec_agg_value)};
  a->seq++;
  snapshot_read(a, &s, reset);
  /* Every row read had its process's stackProcess record committed before it: deliver them first. */
  events_drain_all(a->rb);
  s.order = xcalloc(s.n == 0 ? 1 : s.n, sizeof *s.order);
  for (size_t i = 0; i < s.n; i++) s.order[i] = i;
  sort_snapshot = &s;
  qsort(s.order, s.n, sizeof *s.order, compare_rows);
  size_t at = 0;
  for (uint32_t id = 0; id < PROBEC_MAX_AGG_IDS; id++) {
    const struct agg_info *info = &a->infos[id];
    /* Keys of an aggregation no longer registered (removed meanwhile) are skipped with their id. */
    while (at < s.n && row_id(&s, at) < id) at++;
    size_t from = at;
    while (at < s.n && row_id(&s, at) == id) at++;
    if (!info->live) continue;
    uint64_t dropped = read_dropped(a, id);
    if (reset && dropped != 0) reset_dropped(a, id);
    if (at > from || dropped != 0) send_aggregate(a, info, &s, from, at, dropped, final, reset);
  }
  struct jw w;
  jw_init(&w, a->msg, a->msg_cap);
  report_header(&w, "aggregatesDone", a->seq, final, reset);
  jw_close(&w, '}');
  output_frame(FRAME_STATUS, w.buf, (uint32_t)w.len);
  output_flush();
  if (reset) forget_stacks(a, &s);
  free(s.order);
  free(s.keys);
  free(s.values);
}
