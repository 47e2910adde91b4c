/* See tracefs.h. */
#include "tracefs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"

void tracefs_event_name(char *name, size_t cap, int pid, uint64_t cookie) {
  /* At most 3 + 10 + 1 + 20 = 34 characters: far below TRACEFS_MAX_EVENT_NAME whatever the path. */
  snprintf(name, cap, "pc_%d_%llu", pid, (unsigned long long)cookie);
}

static int write_command(const char *tracefs, const char *command) {
  char file[128];
  snprintf(file, sizeof file, "%s/uprobe_events", tracefs);
  /* O_APPEND: without it the write would first clear every uprobe event on the machine. */
  int fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, command, strlen(command));
  int err = errno;
  close(fd);
  if (n < 0) {
    errno = err;
    return -1;
  }
  return 0;
}

int tracefs_add_uprobe(const char *tracefs, const char *name, bool is_return, const char *path, uint64_t offset, uint64_t ref_ctr_offset) {
  /* The kernel splits the command on white space: a path holding any cannot be written. */
  if (strpbrk(path, " \t\n") != NULL) {
    errno = EINVAL;
    return -1;
  }
  char *command = xcalloc(PLAN_MAX_PATH + 128, 1);
  int n;
  if (ref_ctr_offset != 0)
    n = snprintf(command, PLAN_MAX_PATH + 128, "%c:%s/%s %s:0x%llx(0x%llx)\n", is_return ? 'r' : 'p', TRACEFS_GROUP, name, path, (unsigned long long)offset,
                 (unsigned long long)ref_ctr_offset);
  else
    n = snprintf(command, PLAN_MAX_PATH + 128, "%c:%s/%s %s:0x%llx\n", is_return ? 'r' : 'p', TRACEFS_GROUP, name, path, (unsigned long long)offset);
  int rc = n < PLAN_MAX_PATH + 128 ? write_command(tracefs, command) : (errno = ENAMETOOLONG, -1);
  free(command);
  return rc;
}

long tracefs_event_id(const char *tracefs, const char *name) {
  char file[192];
  snprintf(file, sizeof file, "%s/events/%s/%s/id", tracefs, TRACEFS_GROUP, name);
  FILE *fp = fopen(file, "re");
  if (fp == NULL) return -1;
  long id = -1;
  if (fscanf(fp, "%ld", &id) != 1) {
    errno = EPROTO;
    id = -1;
  }
  fclose(fp);
  return id;
}

int tracefs_remove_event(const char *tracefs, const char *event) {
  char command[128];
  snprintf(command, sizeof command, "-:%s\n", event);
  return write_command(tracefs, command);
}
