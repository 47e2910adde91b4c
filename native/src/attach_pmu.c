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
     * pid -1: every process. A perf pid filter would take pids in our own
     * pid namespace one by one and miss the container's processes started
     * after attach; the BPF program's filter (mount namespace, pid set)
     * keeps the target instead (PITFALLS 19, 22).
     */
    struct bpf_link *link = bpf_program__attach_uprobe_opts(r->loader->uprobe, -1, r->path, (size_t)p->file_offset, &opts);
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
