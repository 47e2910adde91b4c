/* See util.h. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int why_set(struct why *why, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why->text, sizeof why->text, fmt, ap);
  va_end(ap);
  return -1;
}

static void out_of_memory(void) {
  fputs("probec-attach: out of memory\n", stderr);
  exit(3);
}

void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
  if (p == NULL) out_of_memory();
  return p;
}

void *xrealloc(void *p, size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) out_of_memory();
  void *q = realloc(p, n * size == 0 ? 1 : n * size);
  if (q == NULL) out_of_memory();
  return q;
}

char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (p == NULL) out_of_memory();
  return p;
}

const char *errno_name(int err) {
  /* The errors a plan, a file or the kernel's BPF and uprobe code can give us. */
  static const struct {
    int value;
    const char *name;
  } names[] = {
      {EPERM, "EPERM"},     {ENOENT, "ENOENT"},     {ESRCH, "ESRCH"},       {EINTR, "EINTR"},       {EIO, "EIO"},
      {ENXIO, "ENXIO"},     {E2BIG, "E2BIG"},       {ENOEXEC, "ENOEXEC"},   {EBADF, "EBADF"},       {ECHILD, "ECHILD"},
      {EAGAIN, "EAGAIN"},   {ENOMEM, "ENOMEM"},     {EACCES, "EACCES"},     {EFAULT, "EFAULT"},     {EBUSY, "EBUSY"},
      {EEXIST, "EEXIST"},   {EXDEV, "EXDEV"},       {ENODEV, "ENODEV"},     {ENOTDIR, "ENOTDIR"},   {EISDIR, "EISDIR"},
      {EINVAL, "EINVAL"},   {ENFILE, "ENFILE"},     {EMFILE, "EMFILE"},     {ETXTBSY, "ETXTBSY"},   {EFBIG, "EFBIG"},
      {ENOSPC, "ENOSPC"},   {ESPIPE, "ESPIPE"},     {EROFS, "EROFS"},       {EPIPE, "EPIPE"},       {ERANGE, "ERANGE"},
      {ENAMETOOLONG, "ENAMETOOLONG"}, {ENOSYS, "ENOSYS"}, {ELOOP, "ELOOP"}, {ENOTSUP, "EOPNOTSUPP"}, {EOVERFLOW, "EOVERFLOW"},
      {ESTALE, "ESTALE"},   {ENOTTY, "ENOTTY"},     {EPROTO, "EPROTO"},     {ENODATA, "ENODATA"},   {ETIMEDOUT, "ETIMEDOUT"},
      {524 /* kernel-internal ENOTSUPP */, "ENOTSUPP"},
  };
  for (size_t i = 0; i < ARRAY_LEN(names); i++)
    if (names[i].value == err) return names[i].name;
  return NULL;
}
