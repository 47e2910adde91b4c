/*
 * One raw BPF_LINK_CREATE for BPF_TRACE_UPROBE_MULTI (Linux 6.6). Debian's
 * uapi headers and libbpf 1.1.2 predate it, so the attribute layout is
 * defined here, checked against include/uapi/linux/bpf.h of 6.6–6.18:
 *
 *   link_create { prog_fd u32; target_fd u32; attach_type u32; flags u32;
 *                 uprobe_multi { path u64; offsets u64; ref_ctr_offsets u64;
 *                                cookies u64; cnt u32; flags u32; pid u32 } }
 *
 * (`cookies` arrived in the same release as the rest; `pid` in 6.6 too.)
 */
#ifndef PROBEC_UPROBE_MULTI_H
#define PROBEC_UPROBE_MULTI_H

#include <stddef.h>
#include <stdint.h>

#define PROBEC_BPF_TRACE_UPROBE_MULTI 48
#define PROBEC_BPF_F_UPROBE_MULTI_RETURN 1u

/**
 * Creates the link; returns its fd, or -1 with errno. `ref_ctr_offsets`
 * and `cookies` may be NULL; `pid` 0 means every process.
 */
int uprobe_multi_link_create(int prog_fd, const char *path, const unsigned long *offsets, const unsigned long *ref_ctr_offsets,
                             const uint64_t *cookies, uint32_t cnt, uint32_t flags);

/**
 * The same with `pid`: the kernel gives the link's uprobes a consumer
 * filter (the process's mm), so breakpoints, and the semaphore increments
 * that come with them, are written into that process only, not into every
 * process that maps the file (native/PROTOCOL.md, "Semaphores").
 */
int uprobe_multi_link_create_pid(int prog_fd, const char *path, const unsigned long *offsets, const unsigned long *ref_ctr_offsets,
                                 const uint64_t *cookies, uint32_t cnt, uint32_t flags, uint32_t pid);

#endif
