/* See plan.h. Each check names the JSON path of the member it rejects. */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probec_abi.h"

struct ctx {
  struct why *why;
  char path[160];
};

static int bad(struct ctx *c, const char *member, const char *expected, const struct json *got) {
  return why_set(c->why, "%s%s%s: expected %s, got %s", c->path, member[0] == '\0' ? "" : ".", member, expected,
                 got == NULL ? "nothing (the member is missing)" : json_type_name(got->type));
}

static const struct json *member(struct ctx *c, const struct json *obj, const char *key, enum json_type type, const char *expected) {
  const struct json *m = json_get(obj, key);
  if (m == NULL || m->type != type) {
    bad(c, key, expected, m);
    return NULL;
  }
  return m;
}

/* A string member without NUL bytes (it becomes a C string: a path or a name). */
static const char *string_member(struct ctx *c, const struct json *obj, const char *key) {
  const struct json *m = member(c, obj, key, JSON_STRING, "a string");
  if (m == NULL) return NULL;
  if (strlen(m->text) != m->len) {
    why_set(c->why, "%s.%s: the string holds a NUL character", c->path, key);
    return NULL;
  }
  return m->text;
}

static int enum_member(struct ctx *c, const struct json *obj, const char *key, const char *const *names, size_t n) {
  const char *s = string_member(c, obj, key);
  if (s == NULL) return -1;
  for (size_t i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0) return (int)i;
  char expected[200] = "one of";
  for (size_t i = 0; i < n; i++) {
    size_t used = strlen(expected);
    snprintf(expected + used, sizeof expected - used, "%s \"%s\"", i == 0 ? "" : ",", names[i]);
  }
  why_set(c->why, "%s.%s: expected %s, got \"%.60s\"", c->path, key, expected, s);
  return -1;
}

static bool u64_member(struct ctx *c, const struct json *obj, const char *key, uint64_t *out) {
  const struct json *m = json_get(obj, key);
  if (json_as_u64(m, out)) return true;
  bad(c, key, "a non-negative integer", m);
  return false;
}

static bool decimal_member(struct ctx *c, const struct json *obj, const char *key, uint64_t *out) {
  const struct json *m = json_get(obj, key);
  if (json_decimal_as_u64(m, out)) return true;
  if (m != NULL && m->type == JSON_STRING) {
    why_set(c->why, "%s.%s: expected a decimal string of at most 64 bits, got \"%.40s\"", c->path, key, m->text);
    return false;
  }
  bad(c, key, "a decimal string", m);
  return false;
}

static int hex_nibble(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

static int load_binary(struct ctx *c, const struct json *b, enum plan_strategy strategy, struct plan_binary *out) {
  size_t base = strlen(c->path);
  snprintf(c->path + base, sizeof c->path - base, ".binary");
  if (b == NULL || b->type != JSON_OBJECT) return bad(c, "", "an object", b);
  out->kernel_path = string_member(c, b, "kernelPath");
  if (out->kernel_path == NULL) return -1;
  if (out->kernel_path[0] != '/' || strlen(out->kernel_path) >= PLAN_MAX_PATH)
    return why_set(c->why, "%s.kernelPath: expected an absolute path shorter than PLAN_MAX_PATH (%d)", c->path, PLAN_MAX_PATH);
  const struct json *root = json_get(b, "openRoot");
  if (strategy == PLAN_FD) {
    out->open_root = string_member(c, b, "openRoot");
    if (out->open_root == NULL) return -1;
    if (out->open_root[0] != '/' || strlen(out->open_root) >= PLAN_MAX_PATH)
      return why_set(c->why, "%s.openRoot: expected an absolute path shorter than PLAN_MAX_PATH (%d)", c->path, PLAN_MAX_PATH);
  } else if (root == NULL || root->type != JSON_NULL) {
    return bad(c, "openRoot", "null (it is only used by the fd strategy)", root);
  }
  if (!decimal_member(c, b, "dev", &out->dev) || !decimal_member(c, b, "ino", &out->ino) || !u64_member(c, b, "size", &out->size)) return -1;
  /* `code` is optional (plans written before it are C); only the language matters here. */
  const struct json *code = json_get(b, "code");
  if (code != NULL && code->type != JSON_NULL) {
    if (code->type != JSON_OBJECT) return bad(c, "code", "an object or null", code);
    size_t at = strlen(c->path);
    snprintf(c->path + at, sizeof c->path - at, ".code");
    static const char *const languages[] = {"c", "go"};
    int language = enum_member(c, code, "language", languages, 2);
    if (language < 0) return -1;
    out->is_go = language == 1;
    c->path[at] = '\0';
  }
  const struct json *id = json_get(b, "buildId");
  if (id != NULL && id->type == JSON_NULL) {
    out->has_build_id = false;
  } else {
    if (id == NULL || id->type != JSON_STRING) return bad(c, "buildId", "a hex string or null", id);
    if (id->len == 0 || id->len % 2 != 0 || id->len / 2 > PLAN_MAX_BUILD_ID)
      return why_set(c->why, "%s.buildId: expected an even number of hex digits, at most %d bytes (PLAN_MAX_BUILD_ID)", c->path, PLAN_MAX_BUILD_ID);
    for (size_t i = 0; i < id->len; i += 2) {
      int hi = hex_nibble(id->text[i]), lo = hex_nibble(id->text[i + 1]);
      if (hi < 0 || lo < 0) return why_set(c->why, "%s.buildId: expected lower-case hex digits", c->path);
      out->build_id[i / 2] = (unsigned char)(hi * 16 + lo);
    }
    out->has_build_id = true;
    out->build_id_len = id->len / 2;
    out->build_id_hex = id->text;
  }
  c->path[base] = '\0';
  return 0;
}

static int load_point(struct ctx *c, const struct json *p, struct plan_point *out) {
  if (p->type != JSON_OBJECT) return bad(c, "", "an object", p);
  if (!u64_member(c, p, "cookie", &out->cookie)) return -1;
  if (out->cookie == 0) return why_set(c->why, "%s.cookie: must not be 0 (0 is what a link without a cookie reports)", c->path);
  static const char *const sides[] = {"entry", "return", "return-instruction"};
  int side = enum_member(c, p, "side", sides, 3);
  if (side < 0) return -1;
  out->is_return = side == 1;
  out->at_return = side != 0;
  /* `abi` is optional: absent is this architecture's C ABI. */
  out->abi = PLAN_ABI_C;
  if (json_get(p, "abi") != NULL) {
#if defined(__aarch64__)
    static const char *const abis[] = {"aapcs64", "go-abiinternal", "go-abi0"};
#else
    static const char *const abis[] = {"sysv", "go-abiinternal", "go-abi0"};
#endif
    int abi = enum_member(c, p, "abi", abis, 3);
    if (abi < 0) return -1;
    out->abi = (enum plan_abi)abi;
  }
  if (!u64_member(c, p, "fileOffset", &out->file_offset)) return -1;
  const struct json *ref = json_get(p, "refCtrOffset");
  if (ref != NULL && ref->type == JSON_NULL) {
    out->ref_ctr_offset = 0;
  } else if (!u64_member(c, p, "refCtrOffset", &out->ref_ctr_offset)) {
    return -1;
  } else if (out->ref_ctr_offset == 0) {
    return why_set(c->why, "%s.refCtrOffset: 0 is not a semaphore offset (write null for none)", c->path);
  }
  const struct json *paired = json_get(p, "pairedWith");
  if (paired != NULL && paired->type == JSON_NULL) {
    out->paired_with = 0;
  } else if (!u64_member(c, p, "pairedWith", &out->paired_with)) {
    return -1;
  }
  const struct json *site = member(c, p, "site", JSON_OBJECT, "an object");
  if (site == NULL) return -1;
  size_t base = strlen(c->path);
  snprintf(c->path + base, sizeof c->path - base, ".site");
  static const char *const kinds[] = {"symbol", "usdt"};
  int kind = enum_member(c, site, "kind", kinds, 2);
  if (kind < 0) return -1;
  if (!json_hex_as_u64(json_get(site, "address"), &out->site_address)) return bad(c, "address", "a \"0x…\" address", json_get(site, "address"));
  /*
   * A named function's first instruction: a symbol site whose name has no
   * `+offset` and whose size is known (a raw address has size 0 and could
   * be anywhere). A return instruction: after the epilogue. At both, the
   * return address is not in a frame yet (probec_abi.h, caller_unframed).
   */
  if (kind == 0 && side == 0) {
    const struct json *name = json_get(site, "name");
    uint64_t size = 0;
    out->caller_unframed = name != NULL && name->type == JSON_STRING && strchr(name->text, '+') == NULL &&
                           json_as_u64(json_get(site, "size"), &size) && size > 0;
  } else {
    out->caller_unframed = side == 2;
  }
  if (kind == 1) {
    out->usdt_args = member(c, site, "args", JSON_ARRAY, "an array");
    if (out->usdt_args == NULL) return -1;
    if (out->usdt_args->count > PROBEC_MAX_ARGS)
      return why_set(c->why, "%s.args: %zu arguments, more than PROBEC_MAX_ARGS (%d)", c->path, out->usdt_args->count, PROBEC_MAX_ARGS);
  }
  c->path[base] = '\0';
  return 0;
}

static int load_filter(struct ctx *c, const struct json *f, struct plan_entry *e, struct plan *plan) {
  e->filter_kind = PLAN_FILTER_NONE;
  if (f == NULL) return bad(c, "filter", "an object or null", f);
  if (f->type == JSON_NULL) return 0;
  if (f->type != JSON_OBJECT) return bad(c, "filter", "an object or null", f);
  size_t base = strlen(c->path);
  snprintf(c->path + base, sizeof c->path - base, ".filter");
  static const char *const kinds[] = {"container", "process"};
  int kind = enum_member(c, f, "kind", kinds, 2);
  if (kind < 0) return -1;
  e->filter_kind = kind == 0 ? PLAN_FILTER_CONTAINER : PLAN_FILTER_PROCESS;
  const struct json *pids = member(c, f, "pids", JSON_ARRAY, "an array");
  if (pids == NULL) return -1;
  if (pids->count > PLAN_MAX_FILTER_PIDS)
    return why_set(c->why, "%s.pids: %zu pids, more than PLAN_MAX_FILTER_PIDS (%d)", c->path, pids->count, PLAN_MAX_FILTER_PIDS);
  plan->total_pids += pids->count;
  if (plan->total_pids > PLAN_MAX_FILTER_PIDS_TOTAL)
    return why_set(c->why, "%s.pids: the plan's filters hold more than PLAN_MAX_FILTER_PIDS_TOTAL (%d) pids", c->path, PLAN_MAX_FILTER_PIDS_TOTAL);
  e->pids = xcalloc(pids->count, sizeof *e->pids);
  for (const struct json *p = pids->first; p != NULL; p = p->next) {
    uint64_t pid;
    if (!json_as_u64(p, &pid) || pid == 0 || pid > INT32_MAX) return why_set(c->why, "%s.pids[%zu]: expected a positive pid", c->path, e->npids);
    e->pids[e->npids++] = (uint32_t)pid;
  }
  /* Optional: the other containers' mount namespaces when one entry serves a selector's containers of one image. */
  const struct json *more = json_get(f, "mntNs");
  if (more != NULL) {
    if (more->type != JSON_ARRAY) return bad(c, "mntNs", "an array", more);
    if (e->filter_kind != PLAN_FILTER_CONTAINER) return why_set(c->why, "%s.mntNs: only a container filter keeps mount namespaces", c->path);
    if (more->count > PLAN_MAX_FILTER_PIDS)
      return why_set(c->why, "%s.mntNs: %zu mount namespaces, more than PLAN_MAX_FILTER_PIDS (%d)", c->path, more->count, PLAN_MAX_FILTER_PIDS);
    e->mntns_more = xcalloc(more->count == 0 ? 1 : more->count, sizeof *e->mntns_more);
    for (const struct json *n = more->first; n != NULL; n = n->next) {
      uint64_t ns;
      if (!json_as_u64(n, &ns) || ns == 0) return why_set(c->why, "%s.mntNs[%zu]: expected a mount-namespace inode", c->path, e->nmntns_more);
      e->mntns_more[e->nmntns_more++] = ns;
    }
  }
  c->path[base] = '\0';
  return 0;
}

static int load_entry(struct ctx *c, const struct json *p, struct plan_entry *e, struct plan *plan) {
  if (p->type != JSON_OBJECT) return bad(c, "", "an object", p);
  e->id = string_member(c, p, "id");
  e->spec_text = string_member(c, p, "specText");
  if (e->id == NULL || e->spec_text == NULL) return -1;
  static const char *const kinds[] = {"uprobe", "uretprobe", "uprobe+ret", "usdt"};
  int kind = enum_member(c, p, "kind", kinds, 4);
  if (kind < 0) return -1;
  e->kind = (enum plan_kind)kind;
  static const char *const strategies[] = {"fd", "root", "layer", "map", "host"};
  int strategy = enum_member(c, p, "strategy", strategies, 5);
  if (strategy < 0) return -1;
  e->strategy = (enum plan_strategy)strategy;
  const struct json *target = member(c, p, "target", JSON_OBJECT, "an object");
  if (target == NULL) return -1;
  size_t base = strlen(c->path);
  snprintf(c->path + base, sizeof c->path - base, ".target");
  if (!u64_member(c, target, "mntNs", &e->mntns)) return -1;
  c->path[base] = '\0';
  if (load_binary(c, json_get(p, "binary"), e->strategy, &e->binary) < 0) return -1;
  if (load_filter(c, json_get(p, "filter"), e, plan) < 0) return -1;
  if (e->filter_kind == PLAN_FILTER_CONTAINER && e->mntns == 0)
    return why_set(c->why, "%s.target.mntNs: a container filter needs the container's mount namespace, got 0", c->path);

  const struct json *points = member(c, p, "points", JSON_ARRAY, "an array");
  if (points == NULL) return -1;
  if (points->count == 0) return why_set(c->why, "%s.points: the entry has no points", c->path);
  if (points->count > PLAN_MAX_POINTS_PER_PROBE)
    return why_set(c->why, "%s.points: %zu points, more than PLAN_MAX_POINTS_PER_PROBE (%d)", c->path, points->count, PLAN_MAX_POINTS_PER_PROBE);
  plan->total_points += points->count;
  if (plan->total_points > PLAN_MAX_POINTS)
    return why_set(c->why, "%s.points: the plan has more than PLAN_MAX_POINTS (%d) points", c->path, PLAN_MAX_POINTS);
  e->points = xcalloc(points->count, sizeof *e->points);
  for (const struct json *pt = points->first; pt != NULL; pt = pt->next) {
    snprintf(c->path + base, sizeof c->path - base, ".points[%zu]", e->npoints);
    struct plan_point *out = &e->points[e->npoints];
    if (load_point(c, pt, out) < 0) return -1;
    bool usdt = out->usdt_args != NULL;
    if (usdt != (e->kind == PLAN_USDT)) return why_set(c->why, "%s.site.kind: a %s entry needs %s sites", c->path, kinds[kind], e->kind == PLAN_USDT ? "usdt" : "symbol");
    if (out->at_return != (e->kind == PLAN_URETPROBE) && e->kind != PLAN_UPROBE_RET)
      return why_set(c->why, "%s.side: a %s entry has only %s points", c->path, kinds[kind], e->kind == PLAN_URETPROBE ? "return" : "entry");
    /*
     * A kernel return probe swaps the return address on the stack; Go's
     * runtime walks and copies goroutine stacks and dies on it ("fatal
     * error: unknown caller pc", golang/go#22008; PITFALLS 29).
     */
    if (out->is_return && e->binary.is_go)
      return why_set(c->why, "%s.side: a kernel return probe (\"return\") on a Go binary would crash it (Go's runtime dies on the swapped return address); "
                     "probe its return instructions instead (\"return-instruction\")", c->path);
    if (e->kind == PLAN_UPROBE_RET && out->abi == PLAN_ABI_GO_ABI0)
      return why_set(c->why, "%s.abi: uprobe+ret pairs Go calls by goroutine, and an ABI0 (assembly) function does not keep the goroutine in its register", c->path);
    if ((e->kind == PLAN_UPROBE_RET) != (out->paired_with != 0))
      return why_set(c->why, "%s.pairedWith: %s", c->path, e->kind == PLAN_UPROBE_RET ? "a uprobe+ret point needs the cookie of its other side" : "only uprobe+ret points are paired");
    e->npoints++;
  }
  c->path[base] = '\0';
  /*
   * Each pair is an entry point and its return points, in this entry: a
   * return point names its entry point; the entry point names one of its
   * return points (a function probed at its return instructions has
   * several, each naming the entry). Both sides share the ABI: it decides
   * how they are paired.
   */
  for (size_t i = 0; i < e->npoints && e->kind == PLAN_UPROBE_RET; i++) {
    const struct plan_point *pt = &e->points[i];
    const struct plan_point *other = NULL;
    for (size_t j = 0; j < e->npoints; j++)
      if (e->points[j].cookie == pt->paired_with) other = &e->points[j];
    bool ok = other != NULL && other->at_return != pt->at_return && other->abi == pt->abi;
    /* The entry's return point names the entry back; a return point's entry may name a sibling return point. */
    if (ok && !pt->at_return) ok = other->paired_with == pt->cookie;
    if (ok && pt->at_return) {
      const struct plan_point *back = NULL;
      for (size_t j = 0; j < e->npoints; j++)
        if (e->points[j].cookie == other->paired_with) back = &e->points[j];
      ok = back != NULL && back->at_return && back->paired_with == other->cookie;
    }
    if (!ok)
      return why_set(c->why, "%s.points[%zu].pairedWith: cookie %llu is not the other side of this point in the same entry", c->path, i,
                     (unsigned long long)pt->paired_with);
  }

  const struct json *program = json_get(p, "program");
  if (program != NULL && program->type != JSON_OBJECT) return bad(c, "program", "an object", program);
  e->program = program;
  return 0;
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int check_unique_cookies(struct plan *plan, struct why *why) {
  uint64_t *all = xcalloc(plan->total_points, sizeof *all);
  size_t n = 0;
  for (size_t i = 0; i < plan->nentries; i++)
    for (size_t j = 0; j < plan->entries[i].npoints; j++) all[n++] = plan->entries[i].points[j].cookie;
  qsort(all, n, sizeof *all, compare_u64);
  int rc = 0;
  for (size_t i = 1; i < n; i++) {
    if (all[i] == all[i - 1]) {
      rc = why_set(why, "probes: cookie %llu is used by more than one point (each point needs its own)", (unsigned long long)all[i]);
      break;
    }
  }
  free(all);
  return rc;
}

/* `aggregation` (optional): only mapKeys is the attacher's; the interval comes as --aggregate-interval-ms. */
static int load_aggregation(struct ctx *c, const struct json *a, struct plan *plan) {
  plan->map_keys = PLAN_DEFAULT_MAP_KEYS;
  if (a == NULL) return 0;
  if (a->type != JSON_OBJECT) return bad(c, "aggregation", "an object", a);
  strcpy(c->path, "plan.aggregation");
  uint64_t keys;
  if (!u64_member(c, a, "mapKeys", &keys)) return -1;
  if (keys < 1 || keys > PLAN_MAX_MAP_KEYS)
    return why_set(c->why, "plan.aggregation.mapKeys: %llu is not between 1 and %d (AGGREGATE_LIMITS.maxMapKeys)", (unsigned long long)keys, PLAN_MAX_MAP_KEYS);
  const struct json *interval = json_get(a, "intervalMs");
  uint64_t ms;
  if (interval == NULL || (interval->type != JSON_NULL && !json_as_u64(interval, &ms))) return bad(c, "intervalMs", "a number of milliseconds or null", interval);
  plan->map_keys = (uint32_t)keys;
  strcpy(c->path, "plan");
  return 0;
}

int plan_load(const char *text, size_t len, struct plan *plan, struct why *why) {
  memset(plan, 0, sizeof *plan);
  char error[256];
  if (json_parse(text, len, &plan->doc, error, sizeof error) < 0) return why_set(why, "the plan is not valid JSON: %s", error);
  struct ctx c = {.why = why};
  const struct json *root = plan->doc.root;
  if (root->type != JSON_OBJECT) return bad(&c, "", "an AttachPlan object", root);
  strcpy(c.path, "plan");
  uint64_t version;
  if (!u64_member(&c, root, "planVersion", &version)) return -1;
  if (version != 2) return why_set(why, "plan.planVersion: this attacher executes version 2 plans, got %llu", (unsigned long long)version);
  if (load_aggregation(&c, json_get(root, "aggregation"), plan) < 0) return -1;
  const struct json *probes = member(&c, root, "probes", JSON_ARRAY, "an array");
  if (probes == NULL) return -1;
  if (probes->count > PROBEC_MAX_ENTRIES)
    return why_set(why, "plan.probes: %zu entries, more than PROBEC_MAX_ENTRIES (%d)", probes->count, PROBEC_MAX_ENTRIES);
  plan->entries = xcalloc(probes->count, sizeof *plan->entries);
  for (const struct json *p = probes->first; p != NULL; p = p->next) {
    snprintf(c.path, sizeof c.path, "probes[%zu]", plan->nentries);
    if (load_entry(&c, p, &plan->entries[plan->nentries], plan) < 0) {
      plan->nentries++;
      return -1;
    }
    plan->nentries++;
  }
  return check_unique_cookies(plan, why);
}

int plan_load_probes(const struct json *probes, struct plan *plan, struct why *why) {
  struct json_doc doc = plan->doc;
  memset(plan, 0, sizeof *plan);
  plan->doc = doc;
  struct ctx c = {.why = why};
  strcpy(c.path, "add.probes");
  if (probes == NULL || probes->type != JSON_ARRAY) return bad(&c, "", "an array of plan entries", probes);
  if (probes->count == 0) return why_set(why, "add.probes: no entries to add");
  if (probes->count > PROBEC_MAX_ENTRIES)
    return why_set(why, "add.probes: %zu entries, more than PROBEC_MAX_ENTRIES (%d)", probes->count, PROBEC_MAX_ENTRIES);
  plan->entries = xcalloc(probes->count, sizeof *plan->entries);
  for (const struct json *p = probes->first; p != NULL; p = p->next) {
    snprintf(c.path, sizeof c.path, "add.probes[%zu]", plan->nentries);
    int rc = load_entry(&c, p, &plan->entries[plan->nentries], plan);
    plan->nentries++;
    if (rc < 0) return -1;
  }
  return check_unique_cookies(plan, why);
}

void plan_free(struct plan *plan) {
  for (size_t i = 0; i < plan->nentries; i++) {
    free(plan->entries[i].points);
    free(plan->entries[i].pids);
    free(plan->entries[i].mntns_more);
  }
  free(plan->entries);
  json_free(&plan->doc);
  memset(plan, 0, sizeof *plan);
}

const char *plan_strategy_name(enum plan_strategy s) {
  static const char *const names[] = {"fd", "root", "layer", "map", "host"};
  return names[s];
}
