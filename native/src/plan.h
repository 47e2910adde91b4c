/*
 * The AttachPlan (schema/attach-plan.schema.json, planVersion 2) as the
 * attacher needs it: per entry the binary to open and check, the points
 * with their cookies, the process filter, and the program (kept as JSON
 * for lower.c). plan_load checks every member it uses and the named limits
 * below; a violation names its JSON path and makes the whole plan
 * unexecutable (an `error` message, exit 2).
 */
#ifndef PROBEC_PLAN_H
#define PROBEC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "util.h"

/* Named limits, the same as PLAN_LIMITS in src/compile/plan.ts (PITFALLS 27). */
/** Points of one entry. */
#define PLAN_MAX_POINTS_PER_PROBE 4096
/** Points of the whole plan: the size limit of the `points` map. */
#define PLAN_MAX_POINTS 65536
/** Pids of one entry's filter. */
#define PLAN_MAX_FILTER_PIDS 4096
/** Pids of every filter together: the size of the `filter_pids` map. */
#define PLAN_MAX_FILTER_PIDS_TOTAL 65536
/** Longest binary path accepted (the kernel's PATH_MAX, NUL included). */
#define PLAN_MAX_PATH 4096
/** Longest build-id accepted, in bytes (SHA-1 gives 20; the note allows more). */
#define PLAN_MAX_BUILD_ID 64
/** `aggregation.mapKeys`: its default and its largest value (AGGREGATE_LIMITS.defaultMapKeys, maxMapKeys). */
#define PLAN_DEFAULT_MAP_KEYS 10240
#define PLAN_MAX_MAP_KEYS 1048576

enum plan_kind { PLAN_UPROBE, PLAN_URETPROBE, PLAN_UPROBE_RET, PLAN_USDT };
enum plan_strategy { PLAN_FD, PLAN_ROOT, PLAN_LAYER, PLAN_MAP, PLAN_HOST };
enum plan_filter_kind { PLAN_FILTER_NONE, PLAN_FILTER_CONTAINER, PLAN_FILTER_PROCESS };
/*
 * A point's calling convention (the plan's `abi`; absent means this
 * architecture's C ABI): where argN is, and how uprobe+ret pairs its sides.
 * PLAN_ABI_C is `sysv` on x86_64 and `aapcs64` on aarch64.
 */
enum plan_abi { PLAN_ABI_C, PLAN_ABI_GO_INTERNAL, PLAN_ABI_GO_ABI0 };

struct plan_binary {
  const char *kernel_path;
  const char *open_root; /* PLAN_FD only */
  uint64_t dev, ino, size;
  bool has_build_id;
  unsigned char build_id[PLAN_MAX_BUILD_ID];
  size_t build_id_len;
  const char *build_id_hex; /* as written, for messages */
  bool is_go;               /* `code.language` is "go": no kernel return probe may touch it (PITFALLS 29) */
};

struct plan_point {
  uint64_t cookie;
  bool is_return;          /* side "return": a kernel return probe (uretprobe) */
  bool at_return;          /* fires as the function returns: side "return", or "return-instruction" (a uprobe on a return instruction) */
  enum plan_abi abi;
  uint64_t file_offset;
  uint64_t ref_ctr_offset; /* 0: none (the kernel's own convention) */
  uint64_t paired_with;    /* 0: none */
  uint64_t site_address;   /* link-time address of the probed instruction */
  bool caller_unframed;    /* the first instruction of a named function (side "entry"), or a return instruction: see probec_abi.h */
  const struct json *usdt_args; /* the site's `args` array for a USDT site, else NULL */
};

struct plan_entry {
  const char *id;
  const char *spec_text;
  enum plan_kind kind;
  enum plan_strategy strategy;
  struct plan_binary binary;
  struct plan_point *points;
  size_t npoints;
  enum plan_filter_kind filter_kind;
  uint64_t mntns;
  uint32_t *pids;
  size_t npids;
  uint64_t *mntns_more; /* filter.mntNs: more mount namespaces a container filter keeps (one binary over several containers, issue 14) */
  size_t nmntns_more;
  const struct json *program; /* NULL when the entry has none (planned outside the compiler) */
};

struct plan {
  struct json_doc doc;
  struct plan_entry *entries;
  size_t nentries;
  size_t total_points;
  size_t total_pids;
  uint32_t map_keys; /* aggregation.mapKeys: the size of the `aggs` map (and of `stacks`) */
};

/** Parses and checks a plan; on failure `why` says what and where ("probes[2].binary.ino: …"). */
int plan_load(const char *text, size_t len, struct plan *plan, struct why *why);
/**
 * Parses the `probes` array of an `add` command (native/PROTOCOL.md) with
 * the plan's own checks, into `plan->entries`; `plan->doc` is left to the
 * caller (the command's document, which must outlive the entries).
 * Messages name `add.probes[i]…`.
 */
int plan_load_probes(const struct json *probes, struct plan *plan, struct why *why);
void plan_free(struct plan *plan);

const char *plan_strategy_name(enum plan_strategy s);

#endif
