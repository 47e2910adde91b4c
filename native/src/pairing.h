/*
 * Where the BPF program keeps the entry of a thread-keyed uprobe+ret pair
 * until its return (native/bpf/probec.bpf.c, `pair_slots`): in the thread
 * itself (task local storage: no hash, no lock, freed by the kernel with
 * the thread) when the kernel lets uprobe programs use it, else in the
 * LRU hash `saved` (which Go's goroutine keys always use).
 */
#ifndef PROBEC_PAIRING_H
#define PROBEC_PAIRING_H

#include <stdbool.h>

#include "util.h"

struct bpf_object;

/*
 * Whether uprobe (BPF_PROG_TYPE_KPROBE) programs may keep data in a task:
 * BPF_MAP_TYPE_TASK_STORAGE (Linux 5.11) and bpf_task_storage_get in
 * kprobe programs (later than the map: it came to tracing programs in
 * steps), probed by loading. Probed once; false when the environment
 * variable PROBEC_ATTACH_NO_TASK_STORAGE is set (to 1), which tests use
 * to run the fallback on a kernel that has the feature.
 */
bool pairing_task_storage(void);

/*
 * Before the object's load: sets the program's `pair_in_task` from
 * pairing_task_storage(), and without it turns `pair_slots` into a
 * one-element array, which every kernel creates (the program's task
 * storage calls are then dead code the verifier never checks).
 */
int pairing_prepare(struct bpf_object *obj, int *err, struct why *why);

#endif
