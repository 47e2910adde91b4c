/* See reaper.h. */
#define _GNU_SOURCE
#include "reaper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* The child's fd for its socket, after every other inherited fd above stderr is closed. */
#define CHILD_SOCK 3

/* Receives fds until the attacher closes its end, and closes them: each close may wait for a grace period. */
static void __attribute__((noreturn)) reap(void) {
  for (;;) {
    char byte;
    union {
      char buf[CMSG_SPACE(64 * sizeof(int))];
      struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    ssize_t n = recvmsg(CHILD_SOCK, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      int fds[64];
      memcpy(fds, CMSG_DATA(c), count * sizeof(int));
      for (size_t i = 0; i < count; i++) close(fds[i]);
    }
  }
}

/* close_range's fallback: every fd above the socket, as /proc/self/fd lists them. */
static void close_above_socket(void) {
  DIR *dir = opendir("/proc/self/fd");
  if (dir == NULL) _exit(1);
  int own = dirfd(dir);
  struct dirent *d;
  while ((d = readdir(dir)) != NULL) {
    int fd = atoi(d->d_name);
    if (fd > CHILD_SOCK && fd != own) close(fd);
  }
  closedir(dir);
}

void reaper_start(struct reaper *r) {
  r->sock = -1;
  r->pid = -1;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(sv[0]);
    close(sv[1]);
    return;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    /* Named apart from the attacher: tools that look for probec-attach by name must not take it for one. */
    prctl(PR_SET_NAME, "probec-reaper");
    /* Nothing of the attacher's but the socket and stderr: a link fd kept here would outlive its close there. */
    if (sv[1] != CHILD_SOCK && dup3(sv[1], CHILD_SOCK, 0) < 0) _exit(1);
    if (syscall(SYS_close_range, CHILD_SOCK + 1, ~0U, 0) < 0) close_above_socket(); /* before 5.9, or a seccomp profile without it */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0) _exit(1);
    close(null);
    char ready = 1;
    if (write(CHILD_SOCK, &ready, 1) != 1) _exit(1);
    reap();
  }
  close(sv[1]);
  char ready = 0;
  ssize_t n;
  while ((n = read(sv[0], &ready, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) {
    close(sv[0]);
    waitpid(pid, NULL, 0);
    return;
  }
  r->sock = sv[0];
  r->pid = pid;
}

void reaper_close(struct reaper *r, int fd) {
  if (fd < 0) return;
  if (r->sock >= 0) {
    char byte = 0;
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    ssize_t n;
    while ((n = sendmsg(r->sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    /* The child is gone: close here from now on. Any other refusal (too many fds in flight): this one is closed here. */
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET || errno == ECONNREFUSED)) reaper_stop(r);
  }
  /* With the fd in flight or in the child, this close releases nothing: the child's does. */
  close(fd);
}

void reaper_stop(struct reaper *r) {
  if (r->sock < 0) return;
  close(r->sock);
  r->sock = -1;
  /* It exits once it has closed everything it was sent: every link is released before the attacher goes on. */
  while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR) {
  }
  r->pid = -1;
}
