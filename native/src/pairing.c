/* See pairing.h. */
#include "pairing.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>

static int probed = -1;

bool pairing_task_storage(void) {
  if (probed < 0) {
    const char *off = getenv("PROBEC_ATTACH_NO_TASK_STORAGE");
    if (off != NULL && off[0] != '\0' && strcmp(off, "0") != 0)
      probed = 0;
    else
      probed = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) == 1 &&
               libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_task_storage_get, NULL) == 1 &&
               libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_get_current_task_btf, NULL) == 1;
  }
  return probed == 1;
}

/* The byte offset of global `name` in the object's `.rodata`, from its BTF; -1 when it has none. */
static long rodata_offset(struct bpf_object *obj, const char *name) {
  struct btf *btf = bpf_object__btf(obj);
  if (btf == NULL) return -1;
  int id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
  if (id < 0) return -1;
  const struct btf_type *sec = btf__type_by_id(btf, (__u32)id);
  const struct btf_var_secinfo *var = btf_var_secinfos(sec);
  for (unsigned i = 0; i < btf_vlen(sec); i++, var++) {
    const struct btf_type *t = btf__type_by_id(btf, var->type);
    if (t != NULL && strcmp(btf__name_by_offset(btf, t->name_off), name) == 0) return var->offset;
  }
  return -1;
}

static struct bpf_map *rodata_map(struct bpf_object *obj) {
  struct bpf_map *map;
  bpf_object__for_each_map(map, obj) {
    const char *name = bpf_map__name(map);
    size_t n = strlen(name);
    if (bpf_map__is_internal(map) && n >= 7 && strcmp(name + n - 7, ".rodata") == 0) return map;
  }
  return NULL;
}

int pairing_prepare(struct bpf_object *obj, int *err, struct why *why) {
  bool in_task = pairing_task_storage();
  struct bpf_map *slots = bpf_object__find_map_by_name(obj, "pair_slots"), *rodata = rodata_map(obj);
  long at = rodata_offset(obj, "pair_in_task");
  size_t size = 0;
  const void *initial = rodata == NULL ? NULL : bpf_map__initial_value(rodata, &size);
  if (slots == NULL || initial == NULL || at < 0 || (size_t)at + sizeof(__u32) > size) {
    *err = ENOENT;
    return why_set(why, "the embedded BPF object has no `pair_slots` map or `pair_in_task` setting (rebuild probec-attach: npm run build:native)");
  }
  unsigned char *data = malloc(size);
  if (data == NULL) {
    *err = ENOMEM;
    return why_set(why, "out of memory");
  }
  __u32 flag = in_task ? 1 : 0;
  memcpy(data, initial, size);
  memcpy(data + at, &flag, sizeof flag);
  int rc = bpf_map__set_initial_value(rodata, data, size);
  free(data);
  if (rc == 0 && !in_task) rc = bpf_map__set_type(slots, BPF_MAP_TYPE_ARRAY);
  if (rc == 0 && !in_task) rc = bpf_map__set_map_flags(slots, 0);
  if (rc == 0 && !in_task) rc = bpf_map__set_max_entries(slots, 1);
  if (rc != 0) {
    *err = -rc;
    return why_set(why, "cannot set where uprobe+ret entries are kept (`pair_in_task`, `pair_slots`): %s", strerror(-rc));
  }
  return 0;
}
