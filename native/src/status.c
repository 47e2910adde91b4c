/* See status.h. */
#include "status.h"

#include <stdio.h>

#include "json_writer.h"
#include "output.h"
#include "util.h"

/* A layout of PROBEC_MAX_OPS fields with long names fits; anything longer is cut by the writer and reported on stderr. */
#define STATUS_MAX_BYTES (64u << 10)

static char text[STATUS_MAX_BYTES];

static void begin(struct jw *w, const char *type) {
  jw_init(w, text, sizeof text);
  jw_open(w, '{');
  jw_key(w, "type");
  jw_string(w, type);
}

static void send(struct jw *w) {
  jw_close(w, '}');
  if (w->overflow) {
    fprintf(stderr, "probec-attach: a status message exceeded %u bytes and was not sent\n", STATUS_MAX_BYTES);
    return;
  }
  output_frame(FRAME_STATUS, w->buf, (uint32_t)w->len);
  output_flush();
}

void status_hello(const struct features *f) {
  struct jw w;
  begin(&w, "hello");
  jw_key(&w, "version");
  jw_u64(&w, 1);
  jw_key(&w, "kernel");
  jw_string(&w, f->kernel);
  jw_key(&w, "features");
  jw_open(&w, '{');
  jw_key(&w, "uprobeMulti");
  jw_bool(&w, f->uprobe_multi);
  jw_key(&w, "pmu");
  jw_bool(&w, f->pmu);
  jw_key(&w, "cookies");
  jw_bool(&w, f->cookies);
  jw_key(&w, "legacy");
  jw_bool(&w, f->legacy);
  jw_key(&w, "refCtrOffset");
  jw_bool(&w, f->ref_ctr_offset);
  jw_key(&w, "ringbuf");
  jw_bool(&w, f->ringbuf);
  jw_key(&w, "bpfLoop");
  jw_bool(&w, f->bpf_loop);
  jw_close(&w, '}');
  send(&w);
}

void status_layout(size_t entry, const struct lowered_entry *l) {
  static const char *const types[] = {"int", "string", "header", "stack"};
  struct jw w;
  begin(&w, "layout");
  jw_key(&w, "entry");
  jw_u64(&w, entry);
  jw_key(&w, "eventSize");
  jw_u64(&w, l->program.event_size);
  jw_key(&w, "fields");
  jw_open(&w, '[');
  for (size_t i = 0; i < l->nfields; i++) {
    const struct layout_field *f = &l->fields[i];
    jw_open(&w, '{');
    jw_key(&w, "name");
    jw_string(&w, f->name);
    jw_key(&w, "type");
    jw_string(&w, types[f->type]);
    jw_key(&w, "offset");
    jw_u64(&w, (uint64_t)f->offset);
    jw_key(&w, "size");
    jw_u64(&w, (uint64_t)f->size);
    jw_close(&w, '}');
  }
  jw_close(&w, ']');
  send(&w);
}

void status_attached(size_t entry, const char *mode, const char *path, size_t points) {
  struct jw w;
  begin(&w, "attached");
  jw_key(&w, "entry");
  jw_u64(&w, entry);
  jw_key(&w, "mode");
  jw_string(&w, mode);
  jw_key(&w, "path");
  jw_string(&w, path);
  jw_key(&w, "points");
  jw_u64(&w, points);
  send(&w);
}

void status_failed(size_t entry, const char *reason, int err, uint64_t cookie) {
  struct jw w;
  begin(&w, "failed");
  jw_key(&w, "entry");
  jw_u64(&w, entry);
  jw_key(&w, "reason");
  jw_string(&w, reason);
  jw_key(&w, "errno");
  const char *name = err == 0 ? NULL : errno_name(err);
  char number[16];
  if (err != 0 && name == NULL) {
    snprintf(number, sizeof number, "E%d", err);
    name = number;
  }
  if (name == NULL) jw_null(&w);
  else jw_string(&w, name);
  jw_key(&w, "cookie");
  if (cookie == 0) jw_null(&w);
  else jw_u64(&w, cookie);
  send(&w);
}

void status_ready(size_t attached, size_t failed, size_t points) {
  struct jw w;
  begin(&w, "ready");
  jw_key(&w, "attached");
  jw_u64(&w, attached);
  jw_key(&w, "failed");
  jw_u64(&w, failed);
  jw_key(&w, "points");
  jw_u64(&w, points);
  send(&w);
}

void status_lost(const uint64_t *counts, size_t n) {
  struct jw w;
  begin(&w, "lost");
  jw_key(&w, "entries");
  jw_open(&w, '{');
  for (size_t i = 0; i < n; i++) {
    if (counts[i] == 0) continue;
    char key[24];
    snprintf(key, sizeof key, "%zu", i);
    jw_key(&w, key);
    jw_u64(&w, counts[i]);
  }
  jw_close(&w, '}');
  send(&w);
}

void status_target_exited(const uint32_t *pids, size_t n) {
  struct jw w;
  begin(&w, "targetExited");
  jw_key(&w, "pids");
  jw_open(&w, '[');
  for (size_t i = 0; i < n; i++) jw_u64(&w, pids[i]);
  jw_close(&w, ']');
  send(&w);
}

void status_error(const char *message, const char *hint) {
  struct jw w;
  begin(&w, "error");
  jw_key(&w, "message");
  jw_string(&w, message);
  jw_key(&w, "hint");
  if (hint == NULL) jw_null(&w);
  else jw_string(&w, hint);
  send(&w);
}

void status_detached(const char *reason) {
  struct jw w;
  begin(&w, "detached");
  jw_key(&w, "reason");
  jw_string(&w, reason);
  send(&w);
}

static void entry_list(struct jw *w, const uint32_t *entries, size_t n) {
  jw_key(w, "entries");
  jw_open(w, '[');
  for (size_t i = 0; i < n; i++) jw_u64(w, entries[i]);
  jw_close(w, ']');
}

void status_added(uint64_t id, const uint32_t *entries, size_t n, size_t points) {
  struct jw w;
  begin(&w, "added");
  jw_key(&w, "id");
  jw_u64(&w, id);
  entry_list(&w, entries, n);
  jw_key(&w, "points");
  jw_u64(&w, points);
  send(&w);
}

void status_removed(uint64_t id, const uint32_t *entries, size_t n) {
  struct jw w;
  begin(&w, "removed");
  jw_key(&w, "id");
  jw_u64(&w, id);
  entry_list(&w, entries, n);
  send(&w);
}

void status_filtered(uint64_t id, uint32_t entry, size_t added, size_t removed) {
  struct jw w;
  begin(&w, "filtered");
  jw_key(&w, "id");
  jw_u64(&w, id);
  jw_key(&w, "entry");
  jw_u64(&w, entry);
  jw_key(&w, "added");
  jw_u64(&w, added);
  jw_key(&w, "removed");
  jw_u64(&w, removed);
  send(&w);
}

void status_rejected(bool has_id, uint64_t id, const char *message) {
  struct jw w;
  begin(&w, "rejected");
  jw_key(&w, "id");
  if (has_id)
    jw_u64(&w, id);
  else
    jw_null(&w);
  jw_key(&w, "message");
  jw_string(&w, message);
  send(&w);
}

void status_stack_process(uint32_t pid) {
  struct jw w;
  begin(&w, "stackProcess");
  jw_key(&w, "pid");
  jw_u64(&w, pid);
  send(&w);
}

void status_reported_signal(void) {
  struct jw w;
  begin(&w, "reported");
  jw_key(&w, "id");
  jw_null(&w);
  send(&w);
}

void status_reported(uint64_t id) {
  struct jw w;
  begin(&w, "reported");
  jw_key(&w, "id");
  jw_u64(&w, id);
  send(&w);
}
