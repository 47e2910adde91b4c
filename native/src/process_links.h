/*
 * Per-process links for the semaphore points of container-filtered
 * entries (native/PROTOCOL.md, "Semaphores"; PITFALLS 36).
 *
 * The kernel raises a USDT semaphore in every process whose memory a
 * consumer of the uprobe wants: a link (or perf event) without a pid wants
 * every process that maps the file, a sibling container on the same image
 * layer and host processes included, and raising their semaphores makes
 * them run the probe's argument-building code. So an entry filtered by
 * container gets, for its points with a semaphore, one uprobe_multi link
 * (mode multi) or one perf event per point (mode pmu) per process of its
 * mount namespaces, each with that pid:
 *
 * - the processes there now are found in /proc (`ns/mnt`'s inode);
 * - processes that fork or exec there later are reported by the process
 *   watch (native/bpf/process_watch.h) and linked when the attacher reads
 *   the record (the known gap: a few milliseconds after exec or fork);
 * - a pidfd per linked process tells when it has exited: its links are
 *   closed then (by the reaper child in mode multi, reaper.h, so that the
 *   loop does not wait for their release), so nothing accumulates in a
 *   busy container;
 * - the entry's namespace set may change (`filter`), and the entry may go
 *   (`remove`, detach): the links of the processes concerned go with it.
 *
 * Its points without a semaphore keep one link without a pid: the BPF
 * filter keeps their hits to the entry's namespaces, and a process that
 * appears is covered at once.
 */
#ifndef PROBEC_PROCESS_LINKS_H
#define PROBEC_PROCESS_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attach.h"
#include "loader.h"
#include "plan.h"

struct process_links;

struct process_links *process_links_new(const struct loader *loader, enum attach_mode mode);
/** Closes every link, pidfd and the process watch. */
void process_links_free(struct process_links *p);

/** The fd the event loop waits on: readable when a watched process appeared or a linked one exited. */
int process_links_fd(const struct process_links *p);
/** Handles what made process_links_fd readable. */
void process_links_poll(struct process_links *p);

/** Whether entry `e` gets per-process links in `mode`: a container filter and at least one point with a semaphore, in mode multi or pmu. */
bool process_links_wanted(const struct plan_entry *e, enum attach_mode mode);
/** Whether point `pt` of such an entry is linked per process (it has a semaphore). */
bool process_links_point_gated(const struct plan_entry *e, const struct plan_point *pt, enum attach_mode mode);

/**
 * Takes over the gated points of entry `index` (process_links_wanted):
 * checks them with one attachment for the attacher's own pid (which never
 * maps the file: no breakpoint anywhere; its failures go to `on_failure`,
 * and points that failed are left out), keeps a duplicate of `binary_fd`
 * to reach the file later, watches the namespaces `mntns` and links every
 * process in them. Returns the points attached.
 */
size_t process_links_add_entry(struct process_links *p, uint32_t index, const struct plan_entry *e, int binary_fd, const uint64_t *mntns,
                               size_t nmntns, attach_failure_fn on_failure, void *ctx);
/** Adds namespaces to entry `index`'s set and links their processes; 0, or -errno when the watch map refused one. */
int process_links_add_namespaces(struct process_links *p, uint32_t index, const uint64_t *mntns, size_t n);
/** Removes namespaces from the set; their processes' links of this entry are closed. */
void process_links_remove_namespaces(struct process_links *p, uint32_t index, const uint64_t *mntns, size_t n);
/** Closes every link of entry `index` (no-op when it was not taken over). */
void process_links_remove_entry(struct process_links *p, uint32_t index);

#endif
