/*
 * The ABI shared by probec's BPF program (native/bpf/probec.bpf.c) and the
 * attacher that loads it (native/src/): the map values the attacher fills
 * from an AttachPlan and the event records the BPF program emits.
 *
 * Both sides include this one header so that a layout cannot drift between
 * them. Only fixed-width types; every struct is 8-byte aligned with explicit
 * padding so that clang's BPF target and the host compiler agree.
 *
 * The JS side (src/attach/) never assumes these offsets: the attacher
 * reports each entry's event layout in a `layout` status message
 * (native/PROTOCOL.md).
 */
#ifndef PROBEC_ABI_H
#define PROBEC_ABI_H

#ifdef __BPF__
/* vmlinux types come from the BPF build; only the fixed-width names are needed here. */
#else
#include <linux/types.h>
#endif

/* ---- limits (named; the attacher refuses a plan beyond them with their names) ---- */

/** USDT arguments per site (sys/sdt.h's STAP_PROBE12). Also the function arguments saved for uprobe+ret. */
#define PROBEC_MAX_ARGS 12
/** Bytecode operations per entry program: filter and every field together. */
#define PROBEC_MAX_OPS 128
/** Depth of the expression evaluation stack. */
#define PROBEC_MAX_STACK 16
/** Bytes of one event: header, integer slots and string slots. Also the per-CPU scratch size. */
#define PROBEC_MAX_EVENT 16384
/** Longest string one `str()` reads (the DSL's maxStrlen). */
#define PROBEC_MAX_STRLEN 4096
/** Plan entries (PlanProbe objects): the size of the program and lost-counter maps. */
#define PROBEC_MAX_ENTRIES 1024
/** Aggregations of one entry (AGGREGATE_LIMITS.maxAggregatesPerProbe). */
#define PROBEC_MAX_AGGS 8
/** `by` keys of one aggregation (AGGREGATE_LIMITS.maxAggregateKeys). */
#define PROBEC_MAX_AGG_KEYS 8
/** Key bytes of one aggregation, every `by` key together (AGGREGATE_LIMITS.maxKeyBytes). */
#define PROBEC_AGG_KEY_BYTES 256
/** Aggregation ids: entry * PROBEC_MAX_AGGS + index. The size of `agg_dropped`. */
#define PROBEC_MAX_AGG_IDS (PROBEC_MAX_ENTRIES * PROBEC_MAX_AGGS)
/** Frames of one `ustack(N)` (AGGREGATE_LIMITS.maxStackFrames; the kernel's perf_event_max_stack default). */
#define PROBEC_MAX_FRAMES 127

/* ---- argument locations (from the plan's decoded USDT args, or the ABI for function args) ---- */

enum probec_arg_kind {
  PROBEC_ARG_NONE = 0,        /* not present: reads as 0 */
  PROBEC_ARG_REGISTER = 1,    /* pt_regs slot at reg_off, then shift/width, then size/sign */
  PROBEC_ARG_MEMORY = 2,      /* user memory at reg(base) [+ reg(index) * scale] + value */
  PROBEC_ARG_CONSTANT = 3,    /* value itself */
  PROBEC_ARG_SYMBOL = 4,      /* user memory at value + load bias [+ reg(base)] [+ reg(index) * scale]; bias = ip - site_addr */
  PROBEC_ARG_FUNCTION = 5,    /* function parameter in the pt_regs slot at reg_off (the ABI's register), 8 bytes */
  PROBEC_ARG_UNSUPPORTED = 6, /* decoded as unsupported: reading it faults the event's field */
};

#define PROBEC_ARG_HAS_BASE 0x1
#define PROBEC_ARG_HAS_INDEX 0x2

struct probec_arg {
  __u8 kind;          /* enum probec_arg_kind */
  __u8 size;          /* bytes the note declares (1, 2, 4, 8); 8 for function args */
  __u8 is_signed;     /* sign-extend from size */
  __u8 flags;         /* PROBEC_ARG_HAS_* */
  __u16 reg_off;      /* pt_regs offset of the register / base register */
  __u16 index_reg_off;/* pt_regs offset of the index register */
  __u8 scale;         /* index scale */
  __u8 reg_width;     /* register width in bytes (e.g. 2 for %ax), 8 for a full register */
  __u8 reg_shift;     /* bit shift of a sub-register (8 for %ah) */
  __u8 pad[5];
  __s64 value;        /* displacement, constant, or link-time address + addend */
};

/* ---- attach points (map `points`, key: __u64 cookie) ---- */

enum probec_role {
  PROBEC_ROLE_EMIT = 0,        /* evaluate the program and emit */
  PROBEC_ROLE_SAVE = 1,        /* entry of a uprobe+ret pair: save args and time per thread, emit nothing */
  PROBEC_ROLE_PAIR_RETURN = 2, /* return of a uprobe+ret pair: load the saved entry, then evaluate and emit */
};

enum probec_filter_kind {
  PROBEC_FILTER_NONE = 0,      /* host scope: every process */
  PROBEC_FILTER_CONTAINER = 1, /* current mount namespace == mntns, or tgid in the entry's pid set */
  PROBEC_FILTER_PROCESS = 2,   /* tgid in the entry's pid set only */
};

/*
 * How the two sides of a uprobe+ret pair find each other (map `saved`).
 * C code runs a call on one thread from entry to return, so the thread is
 * the key. A goroutine moves between threads, and the runtime copies its
 * stack when it grows or shrinks, so Go code is keyed on the goroutine
 * (the `g` pointer, in a register under ABIInternal) and on the frame's
 * distance from the top of the goroutine's stack (g.stack.hi - SP): the
 * copy moves SP and stack.hi by the same amount, and SP is the same at the
 * function's entry and at its return instruction, so the distance names
 * one frame of one goroutine, recursion included.
 */
enum probec_pair_key {
  PROBEC_PAIR_THREAD = 0,    /* pid_tgid */
  PROBEC_PAIR_GOROUTINE = 1, /* tgid, g (R14 amd64, R28 arm64: ABIInternal's g register), g.stack.hi - SP */
};

struct probec_point {
  __u32 entry;        /* index of the plan entry (PlanProbe) = key of `programs` and `lost` */
  __u8 side;          /* 0 entry, 1 return (a kernel return probe, or a uprobe on a return instruction) */
  __u8 role;          /* enum probec_role */
  __u8 nargs;         /* args[] in use */
  __u8 filter_kind;   /* enum probec_filter_kind */
  __u64 site_addr;    /* link-time address of the probed instruction (load bias = ip - site_addr) */
  __u64 mntns;        /* mount-namespace inode for PROBEC_FILTER_CONTAINER */
  __u64 pair_cookie;  /* SAVE / PAIR_RETURN: the entry side's cookie, the key of the saved entry */
  __u8 pair_key;      /* SAVE / PAIR_RETURN: enum probec_pair_key */
  /*
   * 1 when the caller's return address is where a call left it, not yet in
   * a frame: the point is a function's first instruction (the return
   * address at [SP] on x86-64, in LR on arm64) or a return instruction
   * (the frame already popped). Walking frame pointers from there skips
   * the immediate caller; a ustack at such a point puts it back.
   */
  __u8 caller_unframed;
  /*
   * Written by the BPF program, 0 from the attacher: 1 once a hit has
   * shown that the kernel's own user-stack walk already has the caller at
   * this point (Linux 6.16+ adds it at an entry that pushes %rbp), so
   * later hits need not read the return address to check.
   */
  __u8 caller_in_walk;
  __u8 pad0[5];
  struct probec_arg args[PROBEC_MAX_ARGS];
};

/* ---- the pid sets (map `filter_pids`, value __u8 1) ---- */

struct probec_pid_key {
  __u32 entry;
  __u32 tgid;         /* in the initial pid namespace, as the plan's `pid` */
};

/*
 * ---- the mount-namespace sets (map `filter_mntns`, value __u8 1) ----
 * A container-filtered entry keeps a hit whose mount namespace is its
 * point's `mntns` or is in this set under its entry: the attacher's
 * `filter` command (native/PROTOCOL.md) adds and removes namespaces while
 * the entry stays attached.
 */

struct probec_mntns_key {
  __u32 entry;
  __u32 pad;
  __u64 mntns;
};

/* ---- uprobe+ret pairing (map `saved`, LRU) ---- */

struct probec_saved_key {
  __u64 pid_tgid;     /* bpf_get_current_pid_tgid(); PROBEC_PAIR_GOROUTINE: the tgid only (tid bits 0) */
  __u64 pair_cookie;
  __u64 goroutine;    /* PROBEC_PAIR_GOROUTINE: the g pointer, else 0 */
  __u64 frame;        /* PROBEC_PAIR_GOROUTINE: g.stack.hi - SP, else 0 */
};

struct probec_saved {
  __u64 start_ns;
  __u64 args[PROBEC_MAX_ARGS]; /* raw values (after size/sign handling) */
  __u32 fault_mask;            /* bit i: arg i could not be read at entry */
  __u32 pad;
};

/* ---- bytecode (map `programs`, key: __u32 entry) ---- */

enum probec_opcode {
  PROBEC_OP_END = 0,      /* stop */
  PROBEC_OP_CONST = 1,    /* push imm */
  PROBEC_OP_ARG = 2,      /* push argument `arg` (saved entry value on a PAIR_RETURN point) */
  PROBEC_OP_CAPTURE = 3,  /* push capture `arg` (enum probec_capture) */
  PROBEC_OP_UNARY = 4,    /* apply `arg` (enum probec_unary) to the top */
  PROBEC_OP_BINARY = 5,   /* pop right, pop left, push left `arg` right (enum probec_binary) */
  PROBEC_OP_CAST = 6,     /* truncate the top to `arg` (enum probec_cast), sign- or zero-extend */
  PROBEC_OP_FILTER = 7,   /* pop; zero drops the event (nothing emitted, nothing counted lost) */
  PROBEC_OP_STORE = 8,    /* pop into the 8-byte slot at event offset `slot` */
  PROBEC_OP_STR = 9,      /* pop an address; read a NUL-terminated user string of at most `len` bytes into `slot` */
  PROBEC_OP_GOSTR = 10,   /* pop a length, pop an address (a Go string); copy min(length, `len` - 1) bytes into `slot`, then a NUL */
  /* A `ustack` field: at `slot` a u64 frame count, then at most `len` user return addresses (bpf_get_stack, BPF_F_USER_STACK). */
  PROBEC_OP_USTACK = 11,
  /*
   * Aggregations (map `aggs`): the key in the scratch starts zeroed (before
   * the first op of a program that aggregates, and again after each AGG),
   * the KEY_* ops write each `by` key at byte `slot` of probec_agg_key.key
   * (`arg` is the key's index, for its fault bit), then the value is
   * pushed and AGG pops it and updates aggregation `arg` of the program
   * (AGG_COUNT, for a count, pops nothing: its value is 0). AGG_BEGIN
   * zeroes the key again; the lowering emits none (each op run costs).
   */
  PROBEC_OP_AGG_BEGIN = 12,
  PROBEC_OP_KEY_INT = 13,    /* pop 8 bytes into the key */
  PROBEC_OP_KEY_STR = 14,    /* pop an address; a NUL-terminated user string of at most `len` bytes into the key */
  PROBEC_OP_KEY_GOSTR = 15,  /* pop a length, pop an address: a Go string, cut to `len` - 1 bytes, into the key */
  PROBEC_OP_KEY_COMM = 16,   /* the task's comm, 16 bytes */
  PROBEC_OP_KEY_MNTNS = 17,  /* the task's mount-namespace inode, 8 bytes */
  PROBEC_OP_KEY_USTACK = 18, /* struct probec_stack_key of the user stack (at most `len` frames), 16 bytes */
  PROBEC_OP_AGG = 19,        /* pop the value; update aggregation `arg` (program->aggs[arg]) with the key */
  PROBEC_OP_AGG_COUNT = 20,  /* AGG with the value 0, popping nothing: a count */
};

enum probec_capture {
  PROBEC_CAP_PID = 0,       /* tgid, initial pid namespace */
  PROBEC_CAP_TID = 1,
  PROBEC_CAP_TIMESTAMP = 2, /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
  PROBEC_CAP_CPU = 3,
  PROBEC_CAP_RETVAL = 4,    /* return register (return side) */
  PROBEC_CAP_LATENCY = 5,   /* ns since the paired entry (PAIR_RETURN) */
};

enum probec_unary { PROBEC_UN_NOT = 0, PROBEC_UN_NEG = 1, PROBEC_UN_BNOT = 2 };

/* Arithmetic is on 64-bit two's complement; comparisons, `/`, `%` and `>>` are signed. x / 0 and x % 0 are 0. */
enum probec_binary {
  PROBEC_BIN_LOR = 0, PROBEC_BIN_LAND = 1,
  PROBEC_BIN_EQ = 2, PROBEC_BIN_NE = 3, PROBEC_BIN_LT = 4, PROBEC_BIN_LE = 5, PROBEC_BIN_GT = 6, PROBEC_BIN_GE = 7,
  PROBEC_BIN_OR = 8, PROBEC_BIN_XOR = 9, PROBEC_BIN_AND = 10, PROBEC_BIN_SHL = 11, PROBEC_BIN_SHR = 12,
  PROBEC_BIN_ADD = 13, PROBEC_BIN_SUB = 14, PROBEC_BIN_MUL = 15, PROBEC_BIN_DIV = 16, PROBEC_BIN_MOD = 17,
};

enum probec_cast {
  PROBEC_CAST_I8 = 0, PROBEC_CAST_I16 = 1, PROBEC_CAST_I32 = 2, PROBEC_CAST_I64 = 3,
  PROBEC_CAST_U8 = 4, PROBEC_CAST_U16 = 5, PROBEC_CAST_U32 = 6, PROBEC_CAST_U64 = 7,
};

struct probec_op {
  __u8 code;          /* enum probec_opcode */
  __u8 arg;           /* argument index, capture, operator or cast */
  __u16 len;          /* PROBEC_OP_STR / GOSTR: maximum bytes, NUL included */
  __u32 slot;         /* STORE / STR: byte offset in the event */
  __s64 imm;          /* CONST */
};

/* ---- aggregations (map `aggs`, a per-CPU hash; `agg_dropped`, `stacks`, `stack_pids`) ---- */

enum probec_agg_fn {
  PROBEC_AGG_PLAIN = 0, /* count, sum, avg, min, max, stats: bucket 0 */
  PROBEC_AGG_HIST = 1,  /* bucket: 0 negative, 1 zero, k + 2 for [2^k, 2^(k+1)) (histBucket in src/plan/aggregates.ts) */
  PROBEC_AGG_LHIST = 2, /* bucket: 0 below min, 1 + (v - min) / step, `last` at or above max (lhistBucket) */
};

/** One aggregation of a program. */
struct probec_agg {
  __u32 id;    /* entry * PROBEC_MAX_AGGS + index: the key's agg_id and the `agg_dropped` index */
  __u8 fn;     /* enum probec_agg_fn */
  __u8 pad[3];
  __s64 min;   /* lhist */
  __s64 max;
  __s64 step;  /* > 0 */
  __u64 last;  /* lhist: the bucket at or above max (lhistBucketCount - 1) */
};

/*
 * Low bits of probec_agg_key.bucket hold the bucket; bit
 * PROBEC_AGG_FAULT_SHIFT + i is set when `by` key i could not be read
 * (its bytes are then zero and it reports as null).
 */
#define PROBEC_AGG_BUCKET_MASK 0x00ffffffu
#define PROBEC_AGG_FAULT_SHIFT 24

/*
 * The key of `aggs`. The map's key size is 8 + the largest key the plan
 * needs (the attacher sets it before load; 8 + PROBEC_AGG_KEY_BYTES when
 * following, since entries come later): the hash covers only those bytes,
 * and the BPF program zeroes them before each aggregation writes its keys.
 */
struct probec_agg_key {
  __u32 agg_id;
  __u32 bucket;
  __u8 key[PROBEC_AGG_KEY_BYTES];
};

/** The per-CPU value of `aggs`: the attacher folds the CPUs (min/max over the CPUs whose count is non-zero). */
struct probec_agg_value {
  __u64 count;
  __s64 sum;
  __s64 min;
  __s64 max;
};

/*
 * A `ustack` key: the process and a 64-bit hash of its return addresses,
 * which is also the key of map `stacks` (value struct probec_stack, of
 * 8 + frames * 8 bytes as sized by the attacher). Content-addressed, so
 * equal stacks of a process are one row, and no stack id is ever reused for
 * another stack (a BPF_MAP_TYPE_STACK_TRACE map's ids collide by bucket).
 */
struct probec_stack_key {
  __u32 tgid;
  __u32 nframes;
  __u64 hash;
};

struct probec_stack {
  __u64 nframes;
  __u64 ips[PROBEC_MAX_FRAMES];
};

/*
 * A record in the ring buffer that is not an event: its first 8 bytes (an
 * event's cookie) are 0, which no point has. PROBEC_CONTROL_STACK_PROCESS:
 * a probe with a ustack fired in a process (tgid `pid`) for the first time
 * (map `stack_pids`); the attacher sends it as a `stackProcess` status.
 */
enum probec_control_kind { PROBEC_CONTROL_STACK_PROCESS = 1 };

struct probec_control {
  __u64 zero;
  __u32 kind;
  __u32 pid;
};

/*
 * One entry's program: the filter's ops (ending in PROBEC_OP_FILTER) when
 * it has one, then one STORE or STR per stored field (or, for an entry
 * that aggregates, AGG_BEGIN, its KEY_* ops, the value and AGG per
 * aggregation), then END.
 * `event_size` is the bytes emitted per event (header + slots, 8-aligned).
 * Fields that need no kernel work (comm, container) have no slot: the
 * header carries comm and the plan carries the container.
 */
struct probec_program {
  __u32 nops;
  __u32 event_size;
  __u32 string_fields; /* how many STR ops (for the scratch zeroing) */
  __u32 naggs;         /* aggregations: non-zero means no event is emitted */
  struct probec_op ops[PROBEC_MAX_OPS];
  struct probec_agg aggs[PROBEC_MAX_AGGS];
};

/* ---- events (ring buffer `events`; the attacher forwards each record verbatim) ---- */

struct probec_event_header {
  __u64 cookie;       /* the point that fired */
  __u64 timestamp;    /* bpf_ktime_get_ns() at emission */
  __u64 latency;      /* ns since the paired entry, else 0 */
  __u64 retval;       /* return register on a return point, else 0 */
  __u32 pid;          /* tgid, initial pid namespace */
  __u32 tid;
  __u32 cpu;
  __u32 fault_mask;   /* bit i: the i-th STORE/STR op (in program order) could not read its value */
  __u64 mntns;        /* the firing task's mount-namespace inode */
  char comm[16];
};
/* sizeof(struct probec_event_header) == 72; slots start at 72. */

#endif /* PROBEC_ABI_H */
