/*
 * Processes that enter a watched mount namespace (native/PROTOCOL.md,
 * "Semaphores"): a container-filtered entry with a USDT semaphore gets one
 * uprobe_multi link (or PMU perf event) per process of its containers, so
 * that the kernel raises the semaphore in those processes only. Processes
 * that appear later are reported here, in a ring buffer of their own that
 * the attacher reads (never the `events` ring buffer, which JS decodes):
 *
 *   sched_process_fork  a new process (not a thread) in a watched namespace:
 *                       its memory is a copy of its parent's, semaphores and
 *                       breakpoints included, but no link wants it yet;
 *   sched_process_exec  a process that exec'd in a watched namespace (how
 *                       `docker exec` enters a container: setns, then exec).
 *
 * Exits need no program: the attacher holds a pidfd per linked process and
 * closes its links when the pidfd says the whole process has exited (a
 * thread-group leader that exits first does not end the process).
 *
 * The attacher loads these programs and maps from a second instance of the
 * embedded object, only when such an entry exists (native/src/process_links.c),
 * so a session without one loads and attaches nothing of this.
 *
 * Included at the end of probec.bpf.c (its types, map type names and
 * struct nsproxy are declared there); the record layout below is also
 * compiled into the attacher (native/src/process_links.c).
 */
#ifndef PROBEC_PROCESS_WATCH_H
#define PROBEC_PROCESS_WATCH_H

/* ---- the contract with the attacher ---- */

enum probec_process_kind {
  PROBEC_PROCESS_FORK = 1,       /* a new process */
  PROBEC_PROCESS_EXEC = 2,       /* the thread-group leader exec'd: links with its pid still hold the task */
  PROBEC_PROCESS_EXEC_MOVED = 3, /* another thread exec'd and took over the pid: links made before name a dead task */
};

/** One record of ring buffer `process_events`. */
struct probec_process_record {
  __u32 kind; /* enum probec_process_kind */
  __u32 tgid; /* in the initial pid namespace */
  __u64 mntns;
};

/** Most mount namespaces watched at once (map `watched_mntns`). */
#define PROBEC_MAX_WATCHED_MNTNS 4096
/** Size of ring buffer `process_events`: 16-byte records (plus 8 of header each), 10922 of them. */
#define PROBEC_PROCESS_EVENTS_BYTES (256 << 10)

#if defined(__bpf__)

/*
 * The task fields these programs read, matched by CO-RE to the kernel's
 * task_struct (the ___watch suffix is ignored when matching); checked
 * against Linux 6.18.
 */
struct task_struct___watch {
  int pid;
  int tgid;
  struct nsproxy *nsproxy;
} __attribute__((preserve_access_index));

/* Namespaces watched: mount-namespace inode → 1. The attacher writes it before it scans /proc, so no process falls between. */
struct {
  __uint(type, PROBEC_MAP_HASH);
  __uint(max_entries, PROBEC_MAX_WATCHED_MNTNS);
  __type(key, __u64);
  __type(value, __u8);
} watched_mntns SEC(".maps");

struct {
  __uint(type, PROBEC_MAP_RINGBUF);
  __uint(max_entries, PROBEC_PROCESS_EVENTS_BYTES);
} process_events SEC(".maps");

/* Records that found no room: the attacher then scans /proc again for the watched namespaces. */
struct {
  __uint(type, PROBEC_MAP_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} process_lost SEC(".maps");

static __always_inline void report_process(struct task_struct___watch *task, __u32 kind)
{
  struct probec_process_record record;
  struct nsproxy *ns = task->nsproxy;
  __u32 zero = 0;
  __u64 *lost;

  if (!ns)
    return;
  record.mntns = ns->mnt_ns->ns.inum;
  if (!bpf_map_lookup_elem(&watched_mntns, &record.mntns))
    return;
  record.kind = kind;
  record.tgid = task->tgid;
  if (bpf_ringbuf_output(&process_events, &record, sizeof record, 0) == 0)
    return;
  lost = bpf_map_lookup_elem(&process_lost, &zero);
  if (lost)
    __sync_fetch_and_add(lost, 1);
}

/* tp_btf (raw tracepoint with typed arguments): no tracefs needed, unlike a classic tracepoint. Arguments: parent, child. */
SEC("tp_btf/sched_process_fork")
int probec_process_fork(unsigned long long *ctx)
{
  struct task_struct___watch *child = (void *)ctx[1];

  /* A new thread shares its process's memory and links. */
  if (child->pid != child->tgid)
    return 0;
  report_process(child, PROBEC_PROCESS_FORK);
  return 0;
}

/* Arguments: the task, its pid before exec (another thread's, when a non-leader exec'd), the binprm. */
SEC("tp_btf/sched_process_exec")
int probec_process_exec(unsigned long long *ctx)
{
  struct task_struct___watch *task = (void *)ctx[0];
  int old_pid = (int)ctx[1];

  report_process(task, old_pid == task->pid ? PROBEC_PROCESS_EXEC : PROBEC_PROCESS_EXEC_MOVED);
  return 0;
}

#endif /* __bpf__ */

#endif
