/*
 * tracefs uprobe events, for the legacy path (kernels without the uprobe
 * PMU). Event names are ours, never derived from the path (PITFALLS 25):
 * `probec/pc_<attacher pid>_<cookie>`, at most 63 characters of
 * [A-Za-z0-9_] after the group.
 */
#ifndef PROBEC_TRACEFS_H
#define PROBEC_TRACEFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Longest event name the kernel accepts (MAX_EVENT_NAME_LEN 64, NUL included). */
#define TRACEFS_MAX_EVENT_NAME 63
#define TRACEFS_GROUP "probec"

/** `pc_<pid>_<cookie>` into `name` (at least TRACEFS_MAX_EVENT_NAME + 1 bytes). */
void tracefs_event_name(char *name, size_t cap, int pid, uint64_t cookie);
/** Writes `p:probec/<name> <path>:0x<off>[(0x<refctr>)]` (`r:` for a return); -1 with errno. */
int tracefs_add_uprobe(const char *tracefs, const char *name, bool is_return, const char *path, uint64_t offset, uint64_t ref_ctr_offset);
/** The event's id from events/probec/<name>/id; -1 with errno. */
long tracefs_event_id(const char *tracefs, const char *name);
/** Writes `-:probec/<name>` (`event` is `probec/<name>`); -1 with errno. */
int tracefs_remove_event(const char *tracefs, const char *event);

#endif
