/*
 * Attach through uprobe_multi (Linux 6.6): one BPF_LINK_CREATE per side
 * of a request, carrying every offset, semaphore offset and cookie at once.
 * session.c makes one request of all the entries on one binary.
 * Attaching 536 functions is then one system call instead of 536 perf
 * events and links.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "uprobe_multi.h"

#include <bpf/libbpf.h>

size_t attach_multi(const struct attach_request *r) {
  size_t attached = 0;
  unsigned long *offsets = xcalloc(r->npoints, sizeof *offsets);
  unsigned long *ref_ctrs = xcalloc(r->npoints, sizeof *ref_ctrs);
  uint64_t *cookies = xcalloc(r->npoints, sizeof *cookies);
  for (int side = 0; side < 2; side++) {
    uint32_t n = 0;
    for (size_t i = 0; i < r->npoints; i++) {
      const struct plan_point *p = &r->points[i];
      if (p->is_return != (side == 1)) continue;
      offsets[n] = (unsigned long)p->file_offset;
      ref_ctrs[n] = (unsigned long)p->ref_ctr_offset; /* 0: no semaphore */
      cookies[n] = p->cookie;
      n++;
    }
    if (n == 0) continue;
    int fd = uprobe_multi_link_create_pid(bpf_program__fd(r->loader->uprobe_multi), r->path, offsets, ref_ctrs, cookies, n,
                                          side == 1 ? PROBEC_BPF_F_UPROBE_MULTI_RETURN : 0, r->pid);
    if (fd < 0) {
      int err = errno;
      char reason[256];
      snprintf(reason, sizeof reason, "cannot create the uprobe_multi link for %u %s point%s: %s", n, side == 1 ? "return" : "entry", n == 1 ? "" : "s",
               strerror(err));
      r->on_failure(r->ctx, 0, err, reason);
      continue;
    }
    teardown_add_fd(r->teardown, fd);
    attached += n;
  }
  free(offsets);
  free(ref_ctrs);
  free(cookies);
  return attached;
}
