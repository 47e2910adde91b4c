// SPDX-License-Identifier: GPL-2.0
/*
 * probec's one generic BPF program.
 *
 * Every uprobe, uretprobe and USDT site that probec attaches runs this same
 * code. What differs per site lives in maps that the attacher
 * (native/src/) fills from an AttachPlan, keyed by the BPF cookie the
 * kernel hands back for the link or perf event that fired:
 *
 *   cookie ──points──▶ struct probec_point   (entry, side, role, filter, argument specs)
 *   entry  ──programs─▶ struct probec_program (bytecode: the `where` filter, then the fields)
 *
 * One hit goes: find the point → keep only the target's processes →
 * (uprobe+ret) save or reload the entry's arguments → fill the event header →
 * run the entry's bytecode with bpf_loop, one callback per op → emit
 * `event_size` bytes through the `events` ring buffer, counting what does not
 * fit in `lost`.
 *
 * The layouts are native/include/probec_abi.h; read that first.
 *
 * Build (the attacher's build uses exactly these flags, nothing more):
 *   clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I native/include \
 *     -c native/bpf/probec.bpf.c -o probec.bpf.o
 * No vmlinux.h and no bpftool: the four kernel structs the mount-namespace
 * read needs are declared below with preserve_access_index, and libbpf
 * relocates them against /sys/kernel/btf/vmlinux at load time.
 */

/*
 * Under `-target bpf` clang has no multiarch include directory, so
 * <linux/types.h> (which needs <asm/types.h>) cannot be included. The
 * fixed-width names are the same on every Linux architecture.
 */
typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

#include <bpf/bpf_helpers.h>
#include "probec_abi.h"

/* The map types used below, from include/uapi/linux/bpf.h (stable ABI; <linux/bpf.h> needs <asm/types.h>). */
enum {
  PROBEC_MAP_HASH = 1,          /* BPF_MAP_TYPE_HASH */
  PROBEC_MAP_ARRAY = 2,         /* BPF_MAP_TYPE_ARRAY */
  PROBEC_MAP_PERCPU_HASH = 5,   /* BPF_MAP_TYPE_PERCPU_HASH */
  PROBEC_MAP_PERCPU_ARRAY = 6,  /* BPF_MAP_TYPE_PERCPU_ARRAY */
  PROBEC_MAP_LRU_HASH = 9,      /* BPF_MAP_TYPE_LRU_HASH */
  PROBEC_MAP_RINGBUF = 27,      /* BPF_MAP_TYPE_RINGBUF */
  PROBEC_MAP_TASK_STORAGE = 29, /* BPF_MAP_TYPE_TASK_STORAGE */
};
#define PROBEC_UPDATE_ANY 0     /* BPF_ANY */
#define PROBEC_UPDATE_NOEXIST 1 /* BPF_NOEXIST */
#define PROBEC_NO_PREALLOC 1    /* BPF_F_NO_PREALLOC */
#define PROBEC_USER_STACK 256   /* BPF_F_USER_STACK */
#define PROBEC_EEXIST 17
#define PROBEC_STORAGE_CREATE 1 /* BPF_LOCAL_STORAGE_GET_F_CREATE */

/*
 * Where the uprobe context (the user registers, struct pt_regs) keeps the
 * instruction pointer and the return register, and every 8-byte slot a
 * register argument may name. The plan's register offsets (ptRegsOffset)
 * are in the same struct. Every architecture the attacher builds on has a
 * block here.
 */
#if defined(__TARGET_ARCH_x86)
/* arch/x86/include/uapi/asm/ptrace.h, x86_64: r15 … ax (80) … ip (128) … ss (160). */
#define PROBEC_REGS_SIZE 168
#define PROBEC_REGS_IP 128
#define PROBEC_REGS_RC 80
#define PROBEC_REGS_SP 152
#define PROBEC_REGS_FP 32 /* rbp */
#define PROBEC_REGS_G 8 /* r14: Go's g register under ABIInternal */
#define PROBEC_REGS_EACH(X) X(0) X(8) X(16) X(24) X(32) X(40) X(48) X(56) X(64) X(72) X(80) X(88) X(96) \
  X(104) X(112) X(120) X(128) X(136) X(144) X(152) X(160)
#elif defined(__TARGET_ARCH_arm64)
/* arch/arm64/include/asm/ptrace.h: struct pt_regs starts with user_pt_regs: regs[31], sp (248), pc (256), pstate. */
#define PROBEC_REGS_SIZE 272
#define PROBEC_REGS_IP 256
#define PROBEC_REGS_RC 0
#define PROBEC_REGS_SP 248
#define PROBEC_REGS_G 224 /* x28: Go's g register under ABIInternal */
#define PROBEC_REGS_EACH(X) X(0) X(8) X(16) X(24) X(32) X(40) X(48) X(56) X(64) X(72) X(80) X(88) X(96) \
  X(104) X(112) X(120) X(128) X(136) X(144) X(152) X(160) X(168) X(176) X(184) X(192) X(200) X(208) \
  X(216) X(224) X(232) X(240) X(248) X(256) X(264)
#else
#error "probec.bpf.c: define __TARGET_ARCH_x86 or __TARGET_ARCH_arm64 (clang -D__TARGET_ARCH_<arch>)"
#endif

/*
 * Just the fields of the kernel's structs that lead to the current task's
 * mount-namespace inode. preserve_access_index makes every access a CO-RE
 * relocation: libbpf fixes the offsets from the running kernel's BTF, so
 * the order and the missing fields here do not matter. Checked against
 * Linux 6.18: task_struct.nsproxy → nsproxy.mnt_ns → mnt_namespace.ns
 * (struct ns_common) → ns_common.inum.
 */
struct ns_common {
  unsigned int inum;
} __attribute__((preserve_access_index));

struct mnt_namespace {
  struct ns_common ns;
} __attribute__((preserve_access_index));

struct nsproxy {
  struct mnt_namespace *mnt_ns;
} __attribute__((preserve_access_index));

struct task_struct {
  struct nsproxy *nsproxy;
  struct task_struct *group_leader;
  __u64 start_time; /* ns since boot (CLOCK_MONOTONIC): with the tgid, names one process even when its pid is reused */
} __attribute__((preserve_access_index));

/* A map's key size (Linux 5.10+ lets a program read a map's fields). */
struct bpf_map {
  __u32 key_size;
} __attribute__((preserve_access_index));

/* A process for `stack_pids`: its tgid and its leader's start time, so that a reused pid is a new process. */
struct stack_process {
  __u32 tgid;
  __u32 pad;
  __u64 start_time;
};

char LICENSE[] SEC("license") = "GPL"; /* bpf_probe_read_user, bpf_get_current_task_btf */

/* ---- the maps shared with the attacher (names and key/value types are the contract) ---- */

struct {
  __uint(type, PROBEC_MAP_HASH);
  __uint(max_entries, 65536); /* the attacher sizes it from the plan */
  __type(key, __u64);         /* cookie */
  __type(value, struct probec_point);
} points SEC(".maps");

struct {
  __uint(type, PROBEC_MAP_ARRAY);
  __uint(max_entries, PROBEC_MAX_ENTRIES);
  __type(key, __u32); /* entry */
  __type(value, struct probec_program);
} programs SEC(".maps");

struct {
  __uint(type, PROBEC_MAP_HASH);
  __uint(max_entries, 65536);
  __type(key, struct probec_pid_key);
  __type(value, __u8);
} filter_pids SEC(".maps");

struct {
  __uint(type, PROBEC_MAP_HASH);
  __uint(max_entries, 65536);
  __type(key, struct probec_mntns_key);
  __type(value, __u8);
} filter_mntns SEC(".maps");

struct {
  __uint(type, PROBEC_MAP_LRU_HASH);
  __uint(max_entries, 65536); /* LRU: calls that never return (longjmp, thread exit) age out */
  __type(key, struct probec_saved_key);
  __type(value, struct probec_saved);
} saved SEC(".maps");

/*
 * Thread-keyed uprobe+ret entries kept in the thread itself (task local
 * storage): a lookup is a pointer walk from the task, no hash, no lock, and
 * the kernel frees the slots with the thread, so nothing ages out or
 * leaks. PAIR_SLOTS calls (of different probed functions) can be open on
 * one thread at a time; a deeper nesting spills to `saved`. Used when
 * `pair_in_task` is set: the attacher (native/src/pairing.c) sets it on a
 * kernel that lets uprobe programs use task storage, and otherwise turns
 * this map into a one-element array that nothing reads (the verifier then
 * never sees the task-storage calls: they are dead code).
 */
#define PAIR_SLOTS 4

struct pair_slot {
  __u64 pair_cookie; /* the entry point's cookie; 0: free (no point has cookie 0) */
  struct probec_saved saved;
};

struct pair_slots {
  __u32 spilled; /* this thread's entries saved in `saved` because every slot was taken: while 0, none are */
  __u32 pad;
  struct pair_slot slot[PAIR_SLOTS];
};

struct {
  __uint(type, PROBEC_MAP_TASK_STORAGE);
  __uint(map_flags, PROBEC_NO_PREALLOC); /* required by task storage */
  __type(key, int);
  __type(value, struct pair_slots);
} pair_slots SEC(".maps");

/* Set by the attacher before load (rodata: the verifier prunes the branch it does not take). */
const volatile __u32 pair_in_task = 0;

struct {
  __uint(type, PROBEC_MAP_RINGBUF);
  __uint(max_entries, 16 << 20); /* the attacher's --ringbuf-bytes */
} events SEC(".maps");

struct {
  __uint(type, PROBEC_MAP_PERCPU_ARRAY);
  __uint(max_entries, PROBEC_MAX_ENTRIES);
  __type(key, __u32); /* entry */
  __type(value, __u64);
} lost SEC(".maps");

/*
 * In-kernel aggregations (native/PROTOCOL.md, "Aggregations"). `aggs` is
 * per-CPU, so a hit adds to its own CPU's copy without atomics (the
 * scratch's `users` guard already keeps two hits on one CPU apart), and
 * the attacher folds the CPUs when it reports. Its key size and both
 * sizes are set by the attacher from the plan before load.
 */
struct {
  __uint(type, PROBEC_MAP_PERCPU_HASH);
  __uint(max_entries, 10240); /* plan.aggregation.mapKeys */
  __uint(key_size, sizeof(struct probec_agg_key));
  __uint(value_size, sizeof(struct probec_agg_value));
} aggs SEC(".maps");

/** Hits whose key found no room in `aggs` (or whose stack found none in `stacks`), per aggregation id. */
struct {
  __uint(type, PROBEC_MAP_PERCPU_ARRAY);
  __uint(max_entries, PROBEC_MAX_AGG_IDS);
  __type(key, __u32);
  __type(value, __u64);
} agg_dropped SEC(".maps");

/* `ustack` keys: hash → frames. Allocated as stacks appear (most sessions hold few), value 8 + frames * 8 bytes. */
struct {
  __uint(type, PROBEC_MAP_HASH);
  __uint(max_entries, 10240);
  __uint(map_flags, PROBEC_NO_PREALLOC);
  __uint(key_size, sizeof(__u64));
  __uint(value_size, sizeof(struct probec_stack));
} stacks SEC(".maps");

/*
 * Counts the attacher's removals from `stacks` (after a reset, native/src/aggregate.c):
 * a CPU's `last_stack` of an earlier epoch may name a removed stack, so it is looked up again.
 */
struct {
  __uint(type, PROBEC_MAP_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} stacks_epoch SEC(".maps");

/* Processes a ustack probe has fired in: the first hit of each sends a PROBEC_CONTROL_STACK_PROCESS record. */
struct {
  __uint(type, PROBEC_MAP_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct stack_process);
  __type(value, __u8);
} stack_pids SEC(".maps");

/* ---- per-CPU scratch, private to this file ---- */

/**
 * The interpreter's changing state. It lives in the per-CPU scratch, not on
 * the BPF stack: the verifier tracks stack scalars exactly, and an exact
 * `sp` or fault count per callback state made it explore hundreds of
 * thousands of instructions (a second to load); map memory it does not
 * track, so the callback's states converge at once.
 */
struct interp {
  __u32 sp;         /* entries on scratch->stack */
  __u32 stores;     /* STORE/STR ops executed: the next fault_mask bit */
  __u32 fault_mask;
  __u32 pending;    /* a read faulted since the last STORE/STR/FILTER */
  __u32 verdict;    /* enum run_verdict */
  __u32 notified;   /* this hit already checked `stack_pids` */
  __u32 drop;       /* this aggregation's key could not be formed for lack of room (a full `stacks`) */
  __u32 nops;       /* the ops bpf_loop runs (process_hit; read back from here, see there) */
};


/*
 * The BPF stack is 512 bytes, so the event and the evaluation stack live
 * here, one per CPU. A uprobe program runs with migration disabled but, on
 * a kernel with full preemption, not with preemption disabled: another
 * task can hit a probe on this CPU while a hit still fills the scratch.
 * `users` guards it (see handle_hit); the loser counts as lost.
 */
struct probec_scratch {
  __u32 users; /* hits between taking and releasing this scratch; only the one that made it 1 may use it */
  __u32 pad;
  struct interp interp;
  __s64 stack[PROBEC_MAX_STACK];
  struct probec_saved entry; /* PAIR_RETURN: the entry's saved values, copied out before the map element is deleted */
  /* The process this CPU last told the attacher of (or found told): its next hits skip the `stack_pids` lookup. */
  struct stack_process last_told;
  /* The stack this CPU last found or put in `stacks`, and the `stacks_epoch` it was then: its next hits skip the lookup. */
  __u64 last_stack;
  __u64 last_stack_epoch;
  struct probec_agg_value init; /* a new key's first value */
  /* The aggregation key being built; `frames` after it is also the slack a key string at any masked offset needs. */
  struct probec_agg_key key;
  struct probec_stack frames;
  /*
   * The event, last: what an aggregating hit touches stays in the first
   * two kilobytes above. The slack after PROBEC_MAX_EVENT lets the
   * verifier accept a string of up to PROBEC_MAX_STRLEN bytes at any
   * masked slot; the runtime checks keep every write inside the first
   * PROBEC_MAX_EVENT bytes.
   */
  __u8 event[PROBEC_MAX_EVENT + PROBEC_MAX_STRLEN];
};

struct {
  __uint(type, PROBEC_MAP_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct probec_scratch);
} scratch SEC(".maps");

#define PROBEC_HEADER_SIZE ((__u32)sizeof(struct probec_event_header))


/* ---- argument reading ---- */

/*
 * `value & mask`, with the mask kept. After a range check clang knows the
 * mask changes nothing and drops it, but the verifier may have lost that
 * range (clang checks one copy of a value and indexes with another); the
 * empty asm hides the value from clang so the mask, which the verifier
 * always understands, stays.
 */
static __always_inline __u64 masked(__u64 value, __u64 mask)
{
  asm volatile("" : "+r"(value));
  return value & mask;
}

/**
 * The 8-byte pt_regs slot at `off`; sets *fault when `off` is not a slot.
 * One direct context load per slot: the verifier allows only constant
 * offsets into the context, and a switch of constant loads costs a few
 * compares where bpf_probe_read_kernel would cost a helper call per argument.
 */
static __always_inline __u64 read_reg(void *regs, __u32 off, __u32 *fault)
{
#define PROBEC_REG_CASE(o) \
  case o:                  \
    return *(__u64 *)((char *)regs + o);
  switch (off) {
    PROBEC_REGS_EACH(PROBEC_REG_CASE)
  default:
    *fault = 1;
    return 0;
  }
#undef PROBEC_REG_CASE
}

/** `value` truncated to `size` bytes, then sign- or zero-extended to 64 bits (size 8 or anything else: as is). */
static __always_inline __u64 extend(__u64 value, __u32 size, __u32 is_signed)
{
  switch (size) {
  case 1:
    return is_signed ? (__u64)(__s64)(__s8)value : (__u64)(__u8)value;
  case 2:
    return is_signed ? (__u64)(__s64)(__s16)value : (__u64)(__u16)value;
  case 4:
    return is_signed ? (__u64)(__s64)(__s32)value : (__u64)(__u32)value;
  default:
    return value;
  }
}

/** `size` bytes (1, 2, 4 or 8; others read 8) of user memory at `addr`, extended to 64 bits. */
static __always_inline __u64 read_user(__u64 addr, __u32 size, __u32 is_signed, __u32 *fault)
{
  __u64 value = 0; /* little-endian on every supported architecture: a short read fills the low bytes */
  __u32 bytes = size;

  if (bytes == 0 || bytes > 8)
    bytes = 8;
  if (bpf_probe_read_user(&value, masked(bytes - 1, 7) + 1, (const void *)addr)) {
    *fault = 1;
    return 0;
  }
  return extend(value, size, is_signed);
}

/*
 * Argument `index` of the point, read live from the registers and the
 * target's memory (enum probec_arg_kind). A subprogram rather than inline
 * code: the interpreter and the uprobe+ret entry both call it, and one copy
 * keeps the program small. Returns the value; sets *fault when any read
 * failed (the value is then 0).
 */
static __noinline __u64 read_arg(void *regs, const struct probec_point *point, __u64 index, __u32 *fault)
{
  const struct probec_arg *arg;
  __u64 base = 0, addr;
  __u32 kind;

  if (index >= PROBEC_MAX_ARGS || index >= point->nargs)
    return 0; /* not present reads as 0, as PROBEC_ARG_NONE */
  /* Make clang index with the register it just checked, so the verifier sees index < PROBEC_MAX_ARGS. */
  asm volatile("" : "+r"(index));
  arg = &point->args[index];

  kind = arg->kind;
  if (kind == PROBEC_ARG_NONE)
    return 0;
  if (kind == PROBEC_ARG_CONSTANT)
    return (__u64)arg->value;
  if (kind != PROBEC_ARG_REGISTER && kind != PROBEC_ARG_MEMORY && kind != PROBEC_ARG_SYMBOL &&
      kind != PROBEC_ARG_FUNCTION) {
    *fault = 1; /* PROBEC_ARG_UNSUPPORTED, or a kind this program does not know */
    return 0;
  }

  /*
   * Every other kind starts from one register (a SYMBOL only when it has a
   * base): read it in one place, so the verifier walks the register switch
   * twice per call rather than once per kind.
   *
   * A SYMBOL base of the instruction pointer (`gmagic(%rip)`) adds nothing:
   * PC-relative addressing is how the code names the symbol, and `value`
   * already is the symbol's address.
   */
  if (kind != PROBEC_ARG_SYMBOL || ((arg->flags & PROBEC_ARG_HAS_BASE) && arg->reg_off != PROBEC_REGS_IP))
    base = read_reg(regs, arg->reg_off, fault);

  /* `%rdi` as the ABI's first function argument: the whole register. */
  if (kind == PROBEC_ARG_FUNCTION)
    return base;
  /* `-1@%al`, `-2@%ax`, `1@%ah` (8 bits up): the named part, then the note's size and sign. */
  if (kind == PROBEC_ARG_REGISTER)
    return extend(extend(base >> (arg->reg_shift & 63), arg->reg_width, 0), arg->size, arg->is_signed);

  /* `-4@8(%rsi)`, `-8@16(%rbp,%rax,4)`: base + index * scale + displacement. */
  addr = base + (__u64)arg->value;
  /*
   * `-8@gmagic(%rip)`, `4@counter+8`: a link-time address plus the load
   * bias, which is what the kernel reports as the instruction pointer
   * minus the probed instruction's link-time address. At a uprobe the
   * kernel rewinds the ip to the probed instruction itself before running
   * the program (x86 too, not past the int3: checked on 6.18 by reading a
   * global through it). USDT sites are entry points, so this holds
   * wherever SYMBOL args appear.
   */
  if (kind == PROBEC_ARG_SYMBOL)
    addr += *(__u64 *)((char *)regs + PROBEC_REGS_IP) - point->site_addr;
  if (arg->flags & PROBEC_ARG_HAS_INDEX)
    addr += read_reg(regs, arg->index_reg_off, fault) * arg->scale;
  if (*fault)
    return 0;
  return read_user(addr, arg->size, arg->is_signed, fault);
}

/* ---- the bytecode interpreter ---- */

enum run_verdict {
  RUN_EMIT = 0,
  RUN_FILTERED = 1, /* a FILTER op popped zero: nothing emitted, nothing lost */
  RUN_INVALID = 2,  /* bad bytecode (stack over/underflow, unknown op, slot out of range): dropped */
};

/** What every bpf_loop callback needs: fixed for the whole hit, on the program's stack. */
struct run {
  void *regs;
  const struct probec_point *point;
  const struct probec_program *program;
  struct probec_scratch *scratch;
};

static __always_inline long run_stop(struct run *run, __u32 verdict)
{
  run->scratch->interp.verdict = verdict;
  return 1; /* bpf_loop: stop */
}

/** Signed 64-bit division without BPF's sdiv (clang 14 has none): x / 0 is 0, INT64_MIN / -1 wraps. */
static __always_inline __s64 signed_div(__s64 left, __s64 right)
{
  __u64 l = left < 0 ? -(__u64)left : (__u64)left;
  __u64 r = right < 0 ? -(__u64)right : (__u64)right;
  __u64 q;

  if (right == 0)
    return 0;
  q = l / r;
  return (__s64)(((left < 0) != (right < 0)) ? -q : q);
}

/** Signed 64-bit remainder, C's: the sign of the dividend; x % 0 is 0. */
static __always_inline __s64 signed_mod(__s64 left, __s64 right)
{
  __u64 l = left < 0 ? -(__u64)left : (__u64)left;
  __u64 r = right < 0 ? -(__u64)right : (__u64)right;
  __u64 m;

  if (right == 0)
    return 0;
  m = l % r;
  return (__s64)(left < 0 ? -m : m);
}

/** `left op right` (enum probec_binary); *ok = 0 for an unknown operator. Shift counts use their low 6 bits. */
static __always_inline __s64 binary(__u32 op, __s64 left, __s64 right, __u32 *ok)
{
  switch (op) {
  case PROBEC_BIN_LOR: return (left != 0) || (right != 0);
  case PROBEC_BIN_LAND: return (left != 0) && (right != 0);
  case PROBEC_BIN_EQ: return left == right;
  case PROBEC_BIN_NE: return left != right;
  case PROBEC_BIN_LT: return left < right;
  case PROBEC_BIN_LE: return left <= right;
  case PROBEC_BIN_GT: return left > right;
  case PROBEC_BIN_GE: return left >= right;
  case PROBEC_BIN_OR: return left | right;
  case PROBEC_BIN_XOR: return left ^ right;
  case PROBEC_BIN_AND: return left & right;
  case PROBEC_BIN_SHL: return (__s64)((__u64)left << (right & 63));
  case PROBEC_BIN_SHR: return left >> (right & 63); /* arithmetic */
  case PROBEC_BIN_ADD: return (__s64)((__u64)left + (__u64)right);
  case PROBEC_BIN_SUB: return (__s64)((__u64)left - (__u64)right);
  case PROBEC_BIN_MUL: return (__s64)((__u64)left * (__u64)right);
  case PROBEC_BIN_DIV: return signed_div(left, right);
  case PROBEC_BIN_MOD: return signed_mod(left, right);
  default:
    *ok = 0;
    return 0;
  }
}

/** `value` cast to `to` (enum probec_cast): truncated, then sign- or zero-extended; *ok = 0 for an unknown cast. */
static __always_inline __s64 cast(__u32 to, __s64 value, __u32 *ok)
{
  switch (to) {
  case PROBEC_CAST_I8: return (__s8)value;
  case PROBEC_CAST_I16: return (__s16)value;
  case PROBEC_CAST_I32: return (__s32)value;
  case PROBEC_CAST_I64: return value;
  case PROBEC_CAST_U8: return (__u8)value;
  case PROBEC_CAST_U16: return (__u16)value;
  case PROBEC_CAST_U32: return (__u32)value;
  case PROBEC_CAST_U64: return value;
  default:
    *ok = 0;
    return 0;
  }
}

/** A capture (enum probec_capture), read back from the header filled before the program runs. */
static __always_inline __s64 capture(struct probec_event_header *header, __u32 which, __u32 *ok)
{
  switch (which) {
  case PROBEC_CAP_PID: return header->pid;
  case PROBEC_CAP_TID: return header->tid;
  case PROBEC_CAP_TIMESTAMP:
    /* An aggregating hit reads the clock only when its program asks (process_hit). */
    if (header->timestamp == 0)
      header->timestamp = bpf_ktime_get_ns();
    return (__s64)header->timestamp;
  case PROBEC_CAP_CPU: return header->cpu;
  case PROBEC_CAP_RETVAL: return (__s64)header->retval;
  case PROBEC_CAP_LATENCY: return (__s64)header->latency;
  default:
    *ok = 0;
    return 0;
  }
}

/** An argument's value for the ARG op: the entry's saved value on a PAIR_RETURN point, else read live. */
static __always_inline __s64 argument(struct run *run, __u32 index)
{
  if (run->point->role == PROBEC_ROLE_PAIR_RETURN) {
    /* Only the entry's nargs were saved (read_entry_args); the program reads no others. */
    if (index >= PROBEC_MAX_ARGS || index >= run->point->nargs)
      return 0;
    if (run->scratch->entry.fault_mask & (1u << index))
      run->scratch->interp.pending = 1;
    return (__s64)run->scratch->entry.args[index];
  }
  return (__s64)read_arg(run->regs, run->point, index, &run->scratch->interp.pending);
}

/** Marks the field being stored as faulted when a read since the last store failed; returns whether it was. */
static __always_inline __u32 take_fault(struct interp *st)
{
  __u32 faulted = st->pending;

  if (faulted && st->stores < 32)
    st->fault_mask |= 1u << st->stores;
  st->stores++;
  st->pending = 0;
  return faulted;
}

/** The current task's mount-namespace inode (CO-RE through the running kernel's BTF). */
static __always_inline __u64 current_mntns(void)
{
  struct task_struct *task = bpf_get_current_task_btf();

  return task->nsproxy->mnt_ns->ns.inum;
}

/** The hit's mount-namespace inode, read when first needed (0 in the header: not read yet; no namespace has inode 0). */
static __always_inline __u64 header_mntns(struct probec_event_header *header)
{
  if (header->mntns == 0)
    header->mntns = current_mntns();
  return header->mntns;
}

/* ---- user stacks and aggregations ---- */

/**
 * The first hit of a ustack probe in a process tells the attacher, through
 * the ring buffer, so that JS can read the process's maps while it lives
 * (its stacks are symbolized later). Once per hit; a record that finds no
 * room is retried by the process's next hit.
 */
static __always_inline void notify_stack_process(struct run *run)
{
  struct probec_scratch *s = run->scratch;
  struct task_struct *task;
  struct probec_control record;
  struct stack_process process;
  __u8 one = 1;

  if (s->interp.notified)
    return;
  s->interp.notified = 1;
  task = bpf_get_current_task_btf();
  process.tgid = ((const struct probec_event_header *)s->event)->pid;
  process.pad = 0;
  process.start_time = task->group_leader->start_time;
  if (s->last_told.tgid == process.tgid && s->last_told.start_time == process.start_time)
    return;
  if (bpf_map_lookup_elem(&stack_pids, &process)) {
    s->last_told = process;
    return;
  }
  if (bpf_map_update_elem(&stack_pids, &process, &one, PROBEC_UPDATE_NOEXIST))
    return;
  record.zero = 0;
  record.kind = PROBEC_CONTROL_STACK_PROCESS;
  record.pid = process.tgid;
  if (bpf_ringbuf_output(&events, &record, sizeof(record), 0))
    bpf_map_delete_elem(&stack_pids, &process);
  else
    s->last_told = process;
}

/**
 * The return address a point with `caller_unframed` has not put in a frame
 * yet: at [SP] on x86-64 (pushed by the call, or left by the epilogue
 * before `ret`), in LR (x30) on arm64. 0 when it cannot be read.
 */
static __always_inline __u64 unframed_return(void *regs)
{
#if defined(__TARGET_ARCH_x86)
  __u64 sp = *(__u64 *)((char *)regs + PROBEC_REGS_SP), ret = 0;

  if (bpf_probe_read_user(&ret, sizeof(ret), (void *)sp))
    return 0;
  return ret;
#else
  return *(__u64 *)((char *)regs + 240); /* x30 */
#endif
}

/**
 * Puts back the immediate caller that a frame-pointer walk skips at a
 * function's first instruction or at a return instruction: there the
 * frame pointer still (or again) names the caller's frame, so the walk
 * goes from the probed function straight to the caller's caller. Linux
 * 6.16+ adds the caller itself at an entry that pushes %rbp; then
 * ips[1] is already that address and nothing changes. A stack at `cap`
 * frames loses its outermost one to make room. Returns the new count (PITFALLS 35).
 */
struct shift_frames {
  __u64 *ips;
  __u64 n;
};

/*
 * Seen: the walk's second frame is the caller's return address. Either the
 * kernel put it there, or the frame the walk starts from returns to the
 * very same address (a recursion through one call instruction). Which one
 * the frame pointer tells: a walk without the caller would have [FP + 8]
 * there. When that differs from the return address, the kernel adds the
 * caller at this point, and it does so at every hit (the kernel decides
 * by the probed instruction, which is the point's): the point remembers
 * it, and its later hits read nothing (a user read costs about as much as
 * the rest of a ustack key). Only x86-64 reads the return address from
 * memory; arm64's is in a register.
 */
static __always_inline void remember_caller_in_walk(void *regs, struct probec_point *point, __u64 ret)
{
#if defined(__TARGET_ARCH_x86)
  __u64 fp = *(__u64 *)((char *)regs + PROBEC_REGS_FP), unwalked = 0;

  if (fp != 0 && bpf_probe_read_user(&unwalked, sizeof(unwalked), (void *)(fp + 8)) == 0 && unwalked != ret)
    point->caller_in_walk = 1;
#endif
}

/* bpf_loop callback: ips[n - i] = ips[n - i - 1], so frames 1 … n - 1 move up one; stops at frame 1. */
static long shift_frame(__u64 i, void *ctx)
{
  struct shift_frames *shift = ctx;
  __u64 k = shift->n - i;

  if (k == 0 || k > PROBEC_MAX_FRAMES)
    return 1;
  shift->ips[masked(k, PROBEC_MAX_FRAMES)] = shift->ips[masked(k - 1, PROBEC_MAX_FRAMES)];
  return 0;
}

static __noinline __u64 put_back_caller(struct run *run, __u64 *ips, __u64 n, __u64 cap)
{
  struct probec_point *point = (struct probec_point *)run->point;
  struct shift_frames shift;
  __u64 ret;

  if (!point->caller_unframed || point->caller_in_walk || n == 0 || cap < 2 || cap > PROBEC_MAX_FRAMES)
    return n;
  ret = unframed_return(run->regs);
  if (ret == 0)
    return n;
  if (n >= 2 && ips[1] == ret) {
    remember_caller_in_walk(run->regs, point, ret);
    return n;
  }
  if (n >= cap)
    n = cap - 1;
  /* A loop the verifier checks once (bpf_loop), not once per frame: an open-coded one made loading the program 10× slower. */
  shift.ips = ips;
  shift.n = n;
  bpf_loop(n, shift_frame, &shift, 0);
  ips[1] = ret;
  return n + 1;
}

/** A `ustack` field: the frame count at the slot, the return addresses after it. */
static __noinline long ustack_field(struct run *run, const struct probec_op *op)
{
  struct probec_scratch *s = run->scratch;
  __u32 slot = op->slot, frames = op->len;
  __u64 *dst;
  long got;

  if (frames == 0 || frames > PROBEC_MAX_FRAMES || slot < PROBEC_HEADER_SIZE || slot > PROBEC_MAX_EVENT - 8 - frames * 8)
    return run_stop(run, RUN_INVALID);
  notify_stack_process(run);
  dst = (__u64 *)&s->event[masked(slot, PROBEC_MAX_EVENT - 1)];
  /* frames is 1..127: the mask says so to the verifier; the slot's slack holds 8 + 1016 bytes past any masked offset. */
  got = bpf_get_stack(run->regs, dst + 1, masked(frames, PROBEC_MAX_FRAMES) * 8, PROBEC_USER_STACK);
  if (got < 0) {
    dst[0] = 0;
    s->interp.pending = 1;
  } else {
    dst[0] = put_back_caller(run, dst + 1, (__u64)got / 8, frames);
  }
  take_fault(&s->interp);
  return 0;
}

/** A 64-bit hash of the stack's frames: the key of `stacks`. */
static __always_inline __u64 stack_hash(const struct probec_stack *stack, __u64 n)
{
  __u64 h = 0x9e3779b97f4a7c15ULL ^ n;
  __u32 i;

  for (i = 0; i < PROBEC_MAX_FRAMES; i++) {
    if (i >= n)
      break;
    h ^= stack->ips[i];
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
  }
  return h;
}

/** A `ustack` key: the process, the frame count and the frames' hash; the frames go to `stacks` when new. */
static __noinline long ustack_key(struct run *run, __u32 slot, __u32 frames, __u32 index)
{
  struct probec_scratch *s = run->scratch;
  struct probec_stack_key *key;
  __u64 n, *epoch;
  __u32 zero = 0;
  long got, rc;

  if (frames == 0 || frames > PROBEC_MAX_FRAMES || slot > PROBEC_AGG_KEY_BYTES - sizeof(*key))
    return run_stop(run, RUN_INVALID);
  notify_stack_process(run);
  key = (struct probec_stack_key *)&s->key.key[masked(slot, PROBEC_AGG_KEY_BYTES - 1)];
  got = bpf_get_stack(run->regs, s->frames.ips, masked(frames, PROBEC_MAX_FRAMES) * 8, PROBEC_USER_STACK);
  if (got < 0) {
    s->key.bucket |= 1u << ((index & 7) + PROBEC_AGG_FAULT_SHIFT);
    return 0;
  }
  n = (__u64)got / 8;
  /* A point whose caller the kernel's walk already holds needs no call (the common case at an entry, on Linux 6.16+). */
  if (!run->point->caller_in_walk)
    n = put_back_caller(run, s->frames.ips, n, frames);
  s->frames.nframes = n;
  key->tgid = ((const struct probec_event_header *)s->event)->pid;
  key->nframes = n;
  key->hash = stack_hash(&s->frames, n);
  epoch = bpf_map_lookup_elem(&stacks_epoch, &zero);
  if (!epoch)
    return 0;
  /* A tight loop hits one stack over and over: that it is stored was already seen, since the last removal. */
  if (s->last_stack == key->hash && s->last_stack_epoch == *epoch)
    return 0;
  if (!bpf_map_lookup_elem(&stacks, &key->hash)) {
    rc = bpf_map_update_elem(&stacks, &key->hash, &s->frames, PROBEC_UPDATE_NOEXIST);
    if (rc && rc != -PROBEC_EEXIST) {
      s->interp.drop = 1;
      return 0;
    }
  }
  s->last_stack = key->hash;
  s->last_stack_epoch = *epoch;
  return 0;
}

/** A KEY_* op: one `by` key into the key being built, at byte `slot`; a faulted key sets its bit and stays zero. */
static __noinline long agg_key(struct run *run, const struct probec_op *op, __s64 left, __s64 right)
{
  struct probec_scratch *s = run->scratch;
  struct interp *st = &s->interp;
  __u32 slot = op->slot, len = op->len, fault = 1u << ((op->arg & 7) + PROBEC_AGG_FAULT_SHIFT);
  __u8 *dst;
  __u64 n;

  if (op->code == PROBEC_OP_KEY_STR || op->code == PROBEC_OP_KEY_GOSTR) {
    if (len == 0 || len > PROBEC_AGG_KEY_BYTES || slot > PROBEC_AGG_KEY_BYTES - len)
      return run_stop(run, RUN_INVALID);
  } else if (slot > PROBEC_AGG_KEY_BYTES - 16) {
    return run_stop(run, RUN_INVALID);
  }
  dst = &s->key.key[masked(slot, PROBEC_AGG_KEY_BYTES - 1)];
  if (st->pending) {
    /* The value (or the string's address) could not be read. */
    st->pending = 0;
    s->key.bucket |= fault;
    return 0;
  }
  switch (op->code) {
  case PROBEC_OP_KEY_INT:
    *(__s64 *)dst = right;
    return 0;
  case PROBEC_OP_KEY_MNTNS:
    *(__u64 *)dst = header_mntns((struct probec_event_header *)s->event);
    return 0;
  case PROBEC_OP_KEY_COMM:
    bpf_get_current_comm(dst, 16);
    return 0;
  case PROBEC_OP_KEY_STR:
    /* The bytes after the NUL stay zero (begin_aggregation): they are part of the hashed key. */
    if (bpf_probe_read_user_str(dst, masked(len - 1, PROBEC_AGG_KEY_BYTES - 1) + 1, (const void *)right) < 0)
      s->key.bucket |= fault;
    return 0;
  case PROBEC_OP_KEY_GOSTR:
    if (right < 0) {
      s->key.bucket |= fault;
      return 0;
    }
    n = (__u64)right;
    if (n > len - 1)
      n = len - 1;
    n = masked(n, PROBEC_AGG_KEY_BYTES - 1);
    /* A failed read zeroes the bytes it was given (the helper's contract): the key's other keys stay. */
    if (n > 0 && bpf_probe_read_user(dst, n, (const void *)left) < 0)
      s->key.bucket |= fault;
    return 0;
  default:
    return run_stop(run, RUN_INVALID);
  }
}

/** hist's bucket: 0 negative, 1 zero, k + 2 for [2^k, 2^(k+1)) (histBucket in src/plan/aggregates.ts). */
static __always_inline __u32 hist_bucket(__s64 value)
{
  __u64 v = (__u64)value;
  __u32 log = 0;

  if (value < 0)
    return 0;
  if (value == 0)
    return 1;
  if (v >> 32) { v >>= 32; log += 32; }
  if (v >> 16) { v >>= 16; log += 16; }
  if (v >> 8) { v >>= 8; log += 8; }
  if (v >> 4) { v >>= 4; log += 4; }
  if (v >> 2) { v >>= 2; log += 2; }
  if (v >> 1) { log += 1; }
  return log + 2;
}

/** lhist's bucket: 0 below min, 1 + (value - min) / step up to max, `last` at or above max (lhistBucket). */
static __always_inline __u32 lhist_bucket(const struct probec_agg *agg, __s64 value)
{
  if (value < agg->min)
    return 0;
  if (value >= agg->max)
    return agg->last;
  if (agg->step <= 0)
    return 0;
  return 1 + (__u32)(((__u64)value - (__u64)agg->min) / (__u64)agg->step);
}

static __always_inline void count_dropped(__u32 id)
{
  __u64 *count = bpf_map_lookup_elem(&agg_dropped, &id);

  if (count)
    *count += 1; /* per-CPU, and one hit at a time per CPU (the scratch guard) */
}

/** AGG: the value into aggregation `index` of the program, under the key built since the previous one (or the start). */
static __noinline long aggregate(struct run *run, __u32 index, __s64 value)
{
  struct probec_scratch *s = run->scratch;
  const struct probec_agg *agg;
  struct probec_agg_value *v;
  __u32 bucket;
  long rc;

  if (index >= PROBEC_MAX_AGGS || index >= run->program->naggs)
    return run_stop(run, RUN_INVALID);
  agg = &run->program->aggs[masked(index, PROBEC_MAX_AGGS - 1)];
  if (s->interp.pending)
    value = 0; /* a value that could not be read counts as 0, as a faulted field reads 0 */
  s->interp.pending = 0;
  if (s->interp.drop) {
    count_dropped(agg->id);
    return 0;
  }
  bucket = agg->fn == PROBEC_AGG_HIST ? hist_bucket(value) : agg->fn == PROBEC_AGG_LHIST ? lhist_bucket(agg, value) : 0;
  s->key.agg_id = agg->id;
  s->key.bucket |= bucket & PROBEC_AGG_BUCKET_MASK;
  v = bpf_map_lookup_elem(&aggs, &s->key);
  if (!v) {
    s->init.count = 1;
    s->init.sum = value;
    s->init.min = value;
    s->init.max = value;
    rc = bpf_map_update_elem(&aggs, &s->key, &s->init, PROBEC_UPDATE_NOEXIST);
    if (rc == 0)
      return 0;
    /* Another CPU added the key meanwhile: add to it. Anything else is a map without room (E2BIG, ENOMEM). */
    if (rc == -PROBEC_EEXIST)
      v = bpf_map_lookup_elem(&aggs, &s->key);
    if (!v) {
      count_dropped(agg->id);
      return 0;
    }
  }
  v->count += 1;
  v->sum += value;
  if (v->count == 1 || value < v->min)
    v->min = value;
  if (v->count == 1 || value > v->max)
    v->max = value;
  return 0;
}

/** An empty key for the next aggregation, with no fault pending and nothing to drop. */
static __always_inline void begin_aggregation(struct probec_scratch *s)
{
  /* Only the bytes `aggs` hashes: its key size, which the attacher sets from the plan (most keys are small). */
  __u32 size = ((struct bpf_map *)&aggs)->key_size;

  if (size <= 32)
    __builtin_memset(&s->key, 0, 32);
  else if (size <= 96)
    __builtin_memset(&s->key, 0, 96);
  else
    __builtin_memset(&s->key, 0, sizeof(s->key));
  s->interp.pending = 0;
  s->interp.drop = 0;
}

/** One bytecode op (bpf_loop callback). Returns 0 to go on, 1 to stop. */
static long step(__u32 index, void *data)
{
  struct run *run = data;
  struct probec_scratch *s = run->scratch;
  struct interp *st = &s->interp;
  const struct probec_op *op;
  __u32 ok = 1, slot, len;
  __s64 left = 0, right;

  if (index >= PROBEC_MAX_OPS)
    return run_stop(run, RUN_INVALID);
  op = &run->program->ops[index];

  /* Ops that pop: take the operands first. */
  switch (op->code) {
  case PROBEC_OP_UNARY:
  case PROBEC_OP_CAST:
  case PROBEC_OP_FILTER:
  case PROBEC_OP_STORE:
  case PROBEC_OP_STR:
  case PROBEC_OP_KEY_INT:
  case PROBEC_OP_KEY_STR:
  case PROBEC_OP_AGG:
    if (st->sp == 0 || st->sp > PROBEC_MAX_STACK)
      return run_stop(run, RUN_INVALID);
    st->sp--;
    right = s->stack[masked(st->sp, PROBEC_MAX_STACK - 1)];
    break;
  case PROBEC_OP_BINARY:
  case PROBEC_OP_GOSTR:
  case PROBEC_OP_KEY_GOSTR:
    if (st->sp < 2 || st->sp > PROBEC_MAX_STACK)
      return run_stop(run, RUN_INVALID);
    st->sp -= 2;
    left = s->stack[masked(st->sp, PROBEC_MAX_STACK - 1)];
    right = s->stack[masked(st->sp + 1, PROBEC_MAX_STACK - 1)];
    break;
  default:
    right = 0;
    break;
  }

  switch (op->code) {
  case PROBEC_OP_END:
    return run_stop(run, RUN_EMIT);
  case PROBEC_OP_CONST:
    right = op->imm;
    break;
  case PROBEC_OP_ARG:
    right = argument(run, op->arg);
    break;
  case PROBEC_OP_CAPTURE:
    right = capture((struct probec_event_header *)s->event, op->arg, &ok);
    break;
  case PROBEC_OP_UNARY:
    if (op->arg == PROBEC_UN_NOT)
      right = !right;
    else if (op->arg == PROBEC_UN_NEG)
      right = (__s64)(-(__u64)right);
    else if (op->arg == PROBEC_UN_BNOT)
      right = ~right;
    else
      ok = 0;
    break;
  case PROBEC_OP_BINARY:
    right = binary(op->arg, left, right, &ok);
    break;
  case PROBEC_OP_CAST:
    right = cast(op->arg, right, &ok);
    break;
  case PROBEC_OP_FILTER:
    st->pending = 0; /* a fault in the filter is not a field's fault; the faulted value reads as 0 */
    return right ? 0 : run_stop(run, RUN_FILTERED);
  case PROBEC_OP_STORE:
    slot = op->slot;
    if (slot < PROBEC_HEADER_SIZE || slot > PROBEC_MAX_EVENT - 8)
      return run_stop(run, RUN_INVALID);
    if (take_fault(st))
      right = 0;
    *(__s64 *)&s->event[masked(slot, PROBEC_MAX_EVENT - 1)] = right;
    return 0;
  case PROBEC_OP_STR: {
    __u8 *dst;

    slot = op->slot;
    len = op->len;
    if (len == 0 || len > PROBEC_MAX_STRLEN || slot < PROBEC_HEADER_SIZE || slot > PROBEC_MAX_EVENT - len)
      return run_stop(run, RUN_INVALID);
    dst = &s->event[masked(slot, PROBEC_MAX_EVENT - 1)];
    /* The address's own reads faulted: an empty string, without reading at address 0. */
    if (st->pending) {
      dst[0] = 0;
      take_fault(st);
      return 0;
    }
    /* Bytes after the NUL are left as they were: the reader stops at the NUL. */
    /* len is 1..PROBEC_MAX_STRLEN here; the mask says so to the verifier. */
    if (bpf_probe_read_user_str(dst, masked(len - 1, PROBEC_MAX_STRLEN - 1) + 1, (const void *)right) < 0) {
      dst[0] = 0;
      st->pending = 1;
    }
    take_fault(st);
    return 0;
  }
  case PROBEC_OP_GOSTR: {
    /* A Go string is (pointer, length), not NUL-terminated: `left` is the pointer, `right` the length. */
    __u8 *dst;
    __u64 n;

    slot = op->slot;
    len = op->len;
    if (len == 0 || len > PROBEC_MAX_STRLEN || slot < PROBEC_HEADER_SIZE || slot > PROBEC_MAX_EVENT - len)
      return run_stop(run, RUN_INVALID);
    dst = &s->event[masked(slot, PROBEC_MAX_EVENT - 1)];
    /* A length above what the Go runtime can allocate is not a string: the field faults. */
    if (st->pending || right < 0) {
      dst[0] = 0;
      st->pending = 1;
      take_fault(st);
      return 0;
    }
    n = (__u64)right;
    if (n > len - 1)
      n = len - 1;
    /* n is 0..PROBEC_MAX_STRLEN - 1 here; the mask says so to the verifier, and keeps dst[n] inside the slack. */
    n = masked(n, PROBEC_MAX_STRLEN - 1);
    if (n > 0 && bpf_probe_read_user(dst, n, (const void *)left) < 0) {
      dst[0] = 0;
      st->pending = 1;
    } else {
      dst[n] = 0;
    }
    take_fault(st);
    return 0;
  }
  case PROBEC_OP_USTACK:
    return ustack_field(run, op);
  case PROBEC_OP_AGG_BEGIN:
    /* What process_hit and each AGG do already (the lowering no longer emits it; kept for hand-written bytecode). */
    begin_aggregation(s);
    return 0;
  case PROBEC_OP_KEY_INT:
  case PROBEC_OP_KEY_STR:
  case PROBEC_OP_KEY_GOSTR:
  case PROBEC_OP_KEY_COMM:
  case PROBEC_OP_KEY_MNTNS:
    return agg_key(run, op, left, right);
  case PROBEC_OP_KEY_USTACK:
    return ustack_key(run, op->slot, op->len, op->arg);
  case PROBEC_OP_AGG:
  case PROBEC_OP_AGG_COUNT:
    if (aggregate(run, op->arg, right))
      return 1;
    /* The next aggregation's key starts empty (the first one's did: process_hit). */
    if (op->arg + 1 < run->program->naggs)
      begin_aggregation(s);
    st->pending = 0;
    st->drop = 0;
    return 0;
  default:
    return run_stop(run, RUN_INVALID);
  }

  if (!ok)
    return run_stop(run, RUN_INVALID);
  /* Ops that push. */
  if (st->sp >= PROBEC_MAX_STACK)
    return run_stop(run, RUN_INVALID);
  s->stack[masked(st->sp, PROBEC_MAX_STACK - 1)] = right;
  st->sp++;
  return 0;
}

/* ---- one hit ---- */

/** Whether the point's process filter keeps this hit (enum probec_filter_kind). */
static __always_inline int filter_keeps(const struct probec_point *point, __u64 pid_tgid, __u64 mntns)
{
  struct probec_pid_key key;

  if (point->filter_kind == PROBEC_FILTER_NONE)
    return 1;
  /* A container's processes share its mount namespace, including ones started after attach. */
  if (point->filter_kind == PROBEC_FILTER_CONTAINER && mntns == point->mntns)
    return 1;
  /* Namespaces added to the entry while it runs (the attacher's `filter` command). */
  if (point->filter_kind == PROBEC_FILTER_CONTAINER) {
    struct probec_mntns_key nskey = {.entry = point->entry, .pad = 0, .mntns = mntns};

    if (bpf_map_lookup_elem(&filter_mntns, &nskey) != 0)
      return 1;
  }
  key.entry = point->entry;
  key.tgid = pid_tgid >> 32;
  return bpf_map_lookup_elem(&filter_pids, &key) != 0;
}

/**
 * The key that pairs this hit with the other side of its call (enum
 * probec_pair_key); -1 when a goroutine's key cannot be read (then the hit
 * is not paired: an entry is not saved, a return finds nothing).
 *
 * For Go, `g` is the register ABIInternal reserves for the current
 * goroutine, and g.stack.hi is the second word of runtime.g (`stack stack`
 * is g's first field, and `stack` is `lo, hi uintptr`: Go's
 * src/runtime/runtime2.go; the compiler's stack-bound check reads
 * stackguard0 right after it, so the layout is fixed). Distance from the
 * stack's top to SP survives the runtime's stack copies (copystack moves
 * both by the same delta) and tells recursive frames apart. SP is the
 * same at the function's first instruction and at its return
 * instructions (the return address on amd64, the caller's SP on arm64). A
 * call whose prologue grows the stack enters twice (morestack restarts
 * the function on the new stack): both entries have one key, and the
 * second, later one is kept, so the call is still reported once.
 */
static __always_inline int pair_key(void *regs, const struct probec_point *point, __u64 pid_tgid,
                                    struct probec_saved_key *key)
{
  __u64 g, hi = 0;

  key->pid_tgid = pid_tgid;
  key->pair_cookie = point->pair_cookie;
  key->goroutine = 0;
  key->frame = 0;
  if (point->pair_key != PROBEC_PAIR_GOROUTINE)
    return 0;
  /* A constant offset: the verifier allows only constant loads from the context. */
  g = *(__u64 *)((char *)regs + PROBEC_REGS_G);
  if (g == 0 || bpf_probe_read_user(&hi, sizeof(hi), (const void *)(g + 8)))
    return -1;
  key->pid_tgid = pid_tgid & 0xffffffff00000000ULL; /* the goroutine may resume on another thread */
  key->goroutine = g;
  key->frame = hi - *(__u64 *)((char *)regs + PROBEC_REGS_SP);
  return 0;
}

/**
 * The argument values a uprobe+ret entry saves: the point's `nargs` (the
 * arguments its return side's program reads, native/src/lower.c), each
 * with its fault bit. The slots past nargs are left as they are: the
 * return side reads none of them (argument()).
 */
static __always_inline void read_entry_args(void *regs, const struct probec_point *point, struct probec_saved *saved)
{
  __u32 i;

  saved->fault_mask = 0;
  for (i = 0; i < PROBEC_MAX_ARGS; i++) {
    __u32 fault = 0;

    if (i >= point->nargs)
      break;
    saved->args[i] = read_arg(regs, point, i, &fault);
    if (fault)
      saved->fault_mask |= 1u << i;
  }
}

/** This thread's pair slots (created on first use when `create`), or 0 (none, or the kernel refused). */
static __always_inline struct pair_slots *thread_slots(const struct probec_point *point, __u64 create)
{
  if (!pair_in_task || point->pair_key != PROBEC_PAIR_THREAD)
    return 0;
  return bpf_task_storage_get(&pair_slots, bpf_get_current_task_btf(), 0, create);
}

/**
 * Entry of a uprobe+ret pair: save the time and the arguments the return
 * reads for this call, emit nothing. Keyed by thread, a recursive call
 * overwrites its caller's, so the outer return finds nothing and is not
 * reported; keyed by goroutine and frame, every live call of the goroutine
 * has its own.
 *
 * A thread's entries go to its pair slots: the slot of this point when it
 * has one (a recursive call), else a free one (after removing any older
 * entry of this point that an earlier spill left in `saved`, so that the
 * recursion rule holds there too). With every slot taken, and for Go's
 * keys, the entry goes to `saved`.
 */
static __always_inline void save_entry(void *regs, const struct probec_point *point, struct probec_scratch *s,
                                       __u64 pid_tgid, __u64 now)
{
  struct probec_saved_key key;
  struct probec_saved *entry = &s->entry;
  struct pair_slots *slots;
  __u32 i, at = PAIR_SLOTS;
  long rc;

  if (pair_key(regs, point, pid_tgid, &key) < 0)
    return;

  /* Read once, into the scratch: one path for the verifier whichever store keeps the entry. */
  entry->start_ns = now;
  read_entry_args(regs, point, entry);
  slots = thread_slots(point, PROBEC_STORAGE_CREATE);
  if (slots) {
    for (i = 0; i < PAIR_SLOTS; i++) {
      __u64 owner = slots->slot[i].pair_cookie;

      if (owner == point->pair_cookie) {
        at = i;
        break;
      }
      if (owner == 0 && at == PAIR_SLOTS)
        at = i;
    }
    if (at < PAIR_SLOTS) {
      struct pair_slot *slot = &slots->slot[masked(at, PAIR_SLOTS - 1)];

      if (slot->pair_cookie == 0 && slots->spilled > 0 && bpf_map_delete_elem(&saved, &key) == 0)
        slots->spilled--;
      slot->pair_cookie = point->pair_cookie;
      __builtin_memcpy(&slot->saved, entry, sizeof(slot->saved));
      return;
    }
  }

  if (!slots) {
    bpf_map_update_elem(&saved, &key, entry, PROBEC_UPDATE_ANY);
    return;
  }
  /* Every slot is taken: spill, and count it so this thread's returns and entries look in `saved` too. */
  rc = bpf_map_update_elem(&saved, &key, entry, PROBEC_UPDATE_NOEXIST);
  if (rc == 0)
    slots->spilled++;
  else if (rc == -PROBEC_EEXIST)
    bpf_map_update_elem(&saved, &key, entry, PROBEC_UPDATE_ANY);
}

/**
 * Return of a uprobe+ret pair: move this call's saved entry into the
 * scratch (the slot or map element may be reused as soon as it is
 * released) and return the latency; 0 with *found = 0 when there is none
 * (the call began before attach, or its entry was filtered out).
 */
static __always_inline __u64 take_entry(void *regs, const struct probec_point *point, struct probec_scratch *s,
                                        __u64 pid_tgid, __u64 now, int *found)
{
  struct probec_saved_key key;
  struct probec_saved *entry = 0;
  struct pair_slots *slots;
  __u32 i, at = PAIR_SLOTS;

  *found = 0;
  slots = thread_slots(point, 0);
  if (slots) {
    /* Find, then copy once: a copy in each unrolled iteration was one more path per slot for the verifier. */
    for (i = 0; i < PAIR_SLOTS; i++) {
      if (slots->slot[i].pair_cookie == point->pair_cookie) {
        at = i;
        break;
      }
    }
    if (at < PAIR_SLOTS) {
      struct pair_slot *slot = &slots->slot[masked(at, PAIR_SLOTS - 1)];

      __builtin_memcpy(&s->entry, &slot->saved, sizeof(s->entry));
      slot->pair_cookie = 0;
      *found = 1;
      return now - s->entry.start_ns;
    }
  }
  /*
   * Not in a slot: a spilled entry, or one saved while this thread's slots
   * could not be had (the kernel refused them). Only returns without a
   * slot pay this lookup, and most of those have no entry at all.
   */
  if (pair_key(regs, point, pid_tgid, &key) == 0)
    entry = bpf_map_lookup_elem(&saved, &key);
  if (!entry)
    return 0;
  __builtin_memcpy(&s->entry, entry, sizeof(s->entry));
  if (bpf_map_delete_elem(&saved, &key) == 0 && slots && slots->spilled > 0)
    slots->spilled--;
  *found = 1;
  return now - s->entry.start_ns;
}

static __always_inline void count_lost(__u32 entry)
{
  __u64 *count = bpf_map_lookup_elem(&lost, &entry);

  if (count)
    __sync_fetch_and_add(count, 1);
}

/** A hit that the process filter kept, with this CPU's scratch held: save, or evaluate and emit. */
static __always_inline void process_hit(void *regs, __u64 cookie, const struct probec_point *point,
                                        struct probec_scratch *s, __u64 pid_tgid, __u64 mntns)
{
  const struct probec_program *program;
  struct probec_event_header *header;
  __u64 now = 0, latency = 0, retval = 0;
  __u32 entry, size, nops;
  struct run run;

  /* The clock is read when the hit needs it: a pair's sides, and every event; an aggregation only when it captures it. */
  if (point->role != PROBEC_ROLE_EMIT)
    now = bpf_ktime_get_ns();
  if (point->role == PROBEC_ROLE_SAVE) {
    save_entry(regs, point, s, pid_tgid, now);
    return;
  }
  if (point->role == PROBEC_ROLE_PAIR_RETURN) {
    int found;

    latency = take_entry(regs, point, s, pid_tgid, now, &found);
    if (!found)
      return;
  }
  if (point->side == 1)
    retval = *(__u64 *)((char *)regs + PROBEC_REGS_RC);

  entry = point->entry;
  program = bpf_map_lookup_elem(&programs, &entry);
  if (!program)
    return;
  if (now == 0 && program->naggs == 0)
    now = bpf_ktime_get_ns();

  /* The header first: the program's captures read it back (a timestamp of 0: not read yet). */
  header = (struct probec_event_header *)s->event;
  header->cookie = cookie;
  header->timestamp = now;
  header->latency = latency;
  header->retval = retval;
  header->pid = pid_tgid >> 32;
  header->tid = (__u32)pid_tgid;
  header->cpu = bpf_get_smp_processor_id();
  header->mntns = mntns;
  if (program->naggs == 0)
    header_mntns(header); /* every event carries it */

  s->interp.fault_mask = 0;
  s->interp.notified = 0;
  if (program->nops > 0 && program->ops[0].code != PROBEC_OP_END) {
    run.regs = regs;
    run.point = point;
    run.program = program;
    run.scratch = s;
    s->interp.sp = 0;
    s->interp.stores = 0;
    s->interp.pending = 0;
    nops = program->nops;
    s->interp.nops = nops;
    s->interp.verdict = RUN_INVALID; /* running off the end without END is bad bytecode */
    /* A final END is not run (a step costs ~15 ns): its EMIT is the verdict unless a step stops first. */
    if (nops <= PROBEC_MAX_OPS && program->ops[masked(nops - 1, PROBEC_MAX_OPS - 1)].code == PROBEC_OP_END) {
      s->interp.nops = nops - 1;
      s->interp.verdict = RUN_EMIT;
    }
    if (program->naggs > 0)
      begin_aggregation(s);
    /*
     * Read back from the scratch, whose contents the verifier does not
     * track: both paths above reach bpf_loop in one state, so its callback
     * (the whole interpreter) is verified once, not once per path (twice the
     * load time, which every `probec trace` waits for).
     */
    nops = *(volatile __u32 *)&s->interp.nops;
    if (bpf_loop(nops, step, &run, 0) < 0)
      return;
    if (s->interp.verdict != RUN_EMIT)
      return;
  }
  /* An entry that aggregates has updated its maps: it emits nothing. */
  if (program->naggs > 0)
    return;
  header->fault_mask = s->interp.fault_mask;
  bpf_get_current_comm(header->comm, sizeof(header->comm));

  size = program->event_size;
  if (size < PROBEC_HEADER_SIZE)
    size = PROBEC_HEADER_SIZE; /* an entry without fields still reports its hits */
  if (size > PROBEC_MAX_EVENT)
    return;
  if (bpf_ringbuf_output(&events, s->event, size, 0))
    count_lost(entry);
}

static __always_inline int handle_hit(void *regs)
{
  __u64 cookie = bpf_get_attach_cookie(regs);
  const struct probec_point *point;
  struct probec_scratch *s;
  __u64 pid_tgid, mntns;
  __u32 zero = 0;

  point = bpf_map_lookup_elem(&points, &cookie);
  if (!point)
    return 0;
  pid_tgid = bpf_get_current_pid_tgid();
  /* Only a container filter needs the namespace now; a hit that reports it reads it later (header_mntns). */
  mntns = point->filter_kind == PROBEC_FILTER_CONTAINER ? current_mntns() : 0;
  if (!filter_keeps(point, pid_tgid, mntns))
    return 0;
  s = bpf_map_lookup_elem(&scratch, &zero);
  if (!s)
    return 0;

  /*
   * Take the scratch: add first, then look. A hit proceeds only when the
   * count it sees is its own 1, so two hits interleaved on this CPU never
   * share it (at worst both give up). An atomic add whose result is unused
   * is all BPF v1 (clang's default -mcpu) has.
   */
  __sync_fetch_and_add(&s->users, 1);
  if (*(volatile __u32 *)&s->users == 1)
    process_hit(regs, cookie, point, s, pid_tgid, mntns);
  else
    count_lost(point->entry);
  __sync_fetch_and_add(&s->users, -1);
  return 0;
}

/* Attached through uprobe PMU perf events and legacy tracefs events. */
SEC("uprobe")
int probec_uprobe(void *ctx)
{
  return handle_hit(ctx);
}

/*
 * Attached through uprobe_multi links. SEC("uprobe") too: libbpf 1.1.2 does
 * not know "uprobe.multi", so the attacher sets the expected attach type
 * BPF_TRACE_UPROBE_MULTI (48) before load when the kernel has it, and turns
 * autoload off when not. The attach type is what makes bpf_get_attach_cookie
 * read the multi link's cookie.
 */
SEC("uprobe")
int probec_uprobe_multi(void *ctx)
{
  return handle_hit(ctx);
}

#include "process_watch.h" /* processes entering watched namespaces: per-process links for semaphores (PROTOCOL.md) */
