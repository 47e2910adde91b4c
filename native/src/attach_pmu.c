/* Attach through the uprobe PMU: one perf event and BPF link per point, with ref_ctr_offset and the cookie. */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "attach.h"

size_t attach_pmu(const struct attach_request *r) {
  size_t attached = 0;
  for (size_t i = 0; i < r->npoints; i++) {
    const struct plan_point *p = &r->points[i];
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .ref_ctr_offset = (size_t)p->ref_ctr_offset, .bpf_cookie = p->cookie, .retprobe = p->is_return);
    /*
     * pid -1: every process; the BPF program's filter (mount namespace, pid
     * set) keeps the target (PITFALLS 19, 22). A pid (process_links.c, for
     * points with a semaphore) makes the kernel's perf filter
     * (uprobe_perf_filter) want that process's memory only, so the
     * breakpoint and the semaphore increment go there alone.
     */
    struct bpf_link *link = bpf_program__attach_uprobe_opts(r->loader->uprobe, r->pid == 0 ? -1 : (int)r->pid, r->path, (size_t)p->file_offset, &opts);
    if (link == NULL) {
      int err = errno;
      char reason[256];
      snprintf(reason, sizeof reason, "cannot attach a uprobe%s at offset 0x%llx%s: %s", p->is_return ? " (return)" : "", (unsigned long long)p->file_offset,
               p->ref_ctr_offset != 0 ? " with a semaphore" : "", strerror(err));
      r->on_failure(r->ctx, p->cookie, err, reason);
      continue;
    }
    teardown_add_link(r->teardown, link);
    attached++;
  }
  return attached;
}
