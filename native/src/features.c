/* See features.h. */
#include "features.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "uprobe_multi.h"

/* r0 = 0; exit */
static const struct bpf_insn return_zero[] = {
    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
    {.code = BPF_JMP | BPF_EXIT},
};

/* call bpf_get_attach_cookie (helper 174); r0 = 0; exit */
static const struct bpf_insn calls_attach_cookie[] = {
    {.code = BPF_JMP | BPF_CALL, .imm = 174},
    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
    {.code = BPF_JMP | BPF_EXIT},
};

static int load_kprobe_program(const struct bpf_insn *insns, size_t n, enum bpf_attach_type expected) {
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = expected);
  int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "probec_probe", "GPL", insns, n, &opts);
  return fd < 0 ? -errno : fd;
}

static bool probe_uprobe_multi(struct features *f) {
  int prog = load_kprobe_program(return_zero, 2, (enum bpf_attach_type)PROBEC_BPF_TRACE_UPROBE_MULTI);
  if (prog < 0) {
    if (f->bpf_load_errno == 0) f->bpf_load_errno = -prog;
    return false;
  }
  /*
   * "/" is not a regular file: a kernel with uprobe_multi gets as far as
   * checking the path and says EBADF; one without rejects the attach type
   * with EINVAL first.
   */
  unsigned long offset = 0;
  int fd = uprobe_multi_link_create(prog, "/", &offset, NULL, NULL, 1, 0);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0) close(fd);
  close(prog);
  return err == EBADF;
}

static bool probe_cookies(struct features *f) {
  int prog = load_kprobe_program(calls_attach_cookie, 3, 0);
  if (prog < 0) {
    if (f->bpf_load_errno == 0) f->bpf_load_errno = -prog;
    return false;
  }
  close(prog);
  return true;
}

static bool probe_pmu(void) {
  FILE *fp = fopen("/sys/bus/event_source/devices/uprobe/type", "r");
  if (fp == NULL) return false;
  int type = -1;
  bool ok = fscanf(fp, "%d", &type) == 1 && type >= 0;
  fclose(fp);
  return ok;
}

static bool find_tracefs(struct features *f) {
  static const char *const dirs[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
  for (size_t i = 0; i < 2; i++) {
    char path[96];
    snprintf(path, sizeof path, "%s/uprobe_events", dirs[i]);
    if (access(path, W_OK) == 0) {
      snprintf(f->tracefs, sizeof f->tracefs, "%s", dirs[i]);
      return true;
    }
  }
  return false;
}

/*
 * A freshly booted machine often has tracefs unmounted (nothing has asked
 * for it yet), which would make legacy mode and the sweep of a killed
 * attacher's events fail for a reason the user cannot see. Mount it where
 * the kernel provides its mount point, as perf does; an attacher without
 * CAP_SYS_ADMIN simply keeps the "no tracefs" answer.
 */
static bool probe_tracefs(struct features *f) {
  if (find_tracefs(f)) return true;
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) return false;
  return find_tracefs(f);
}

/* The PMU's format attribute for semaphores came with fd-based ref_ctr_offset (Linux 4.20, "trace_uprobe: support reference counter in fd-based uprobe"). */
static bool probe_ref_ctr_offset(void) {
  return access("/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset", R_OK) == 0;
}

/* libbpf's own probes: create the map type, or load a program calling the helper; 1 means the kernel has it. */
static bool probe_ringbuf(void) {
  return libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
}

static bool probe_bpf_loop(void) {
  return libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_loop, NULL) == 1;
}

void features_probe(struct features *f) {
  memset(f, 0, sizeof *f);
  struct utsname u;
  if (uname(&u) == 0) snprintf(f->kernel, sizeof f->kernel, "%s", u.release);
  f->cookies = probe_cookies(f);
  f->uprobe_multi = probe_uprobe_multi(f);
  f->pmu = probe_pmu();
  f->legacy = probe_tracefs(f);
  f->ref_ctr_offset = probe_ref_ctr_offset();
  f->ringbuf = probe_ringbuf();
  f->bpf_loop = probe_bpf_loop();
}
