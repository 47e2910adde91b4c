/* See uprobe_multi.h. */
#include "uprobe_multi.h"

#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct uprobe_multi_link_attr {
  uint32_t prog_fd;
  uint32_t target_fd;
  uint32_t attach_type;
  uint32_t flags;
  uint64_t path;
  uint64_t offsets;
  uint64_t ref_ctr_offsets;
  uint64_t cookies;
  uint32_t cnt;
  uint32_t multi_flags;
  uint32_t pid;
  uint32_t pad;
};

_Static_assert(offsetof(struct uprobe_multi_link_attr, path) == 16, "link_create's union starts at byte 16");
_Static_assert(offsetof(struct uprobe_multi_link_attr, cnt) == 48, "uprobe_multi.cnt follows four u64 pointers");
_Static_assert(offsetof(struct uprobe_multi_link_attr, pid) == 56, "uprobe_multi.pid");

int uprobe_multi_link_create(int prog_fd, const char *path, const unsigned long *offsets, const unsigned long *ref_ctr_offsets,
                             const uint64_t *cookies, uint32_t cnt, uint32_t flags) {
  return uprobe_multi_link_create_pid(prog_fd, path, offsets, ref_ctr_offsets, cookies, cnt, flags, 0);
}

int uprobe_multi_link_create_pid(int prog_fd, const char *path, const unsigned long *offsets, const unsigned long *ref_ctr_offsets,
                                 const uint64_t *cookies, uint32_t cnt, uint32_t flags, uint32_t pid) {
  struct uprobe_multi_link_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_fd = (uint32_t)prog_fd;
  attr.attach_type = PROBEC_BPF_TRACE_UPROBE_MULTI;
  attr.path = (uint64_t)(uintptr_t)path;
  attr.offsets = (uint64_t)(uintptr_t)offsets;
  attr.ref_ctr_offsets = (uint64_t)(uintptr_t)ref_ctr_offsets;
  attr.cookies = (uint64_t)(uintptr_t)cookies;
  attr.cnt = cnt;
  attr.multi_flags = flags;
  attr.pid = pid;
  /* Bytes beyond what this kernel knows must be zero; ours end at `pid` plus padding, which is zero. */
  return (int)syscall(SYS_bpf, BPF_LINK_CREATE, &attr, sizeof attr);
}
