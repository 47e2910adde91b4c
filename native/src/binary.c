/* See binary.h. */
#define _GNU_SOURCE /* O_PATH */
#include "binary.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Caps for the hostile file: program headers and note bytes read per segment. */
#define ELF_MAX_PHNUM 4096
#define ELF_MAX_NOTE_BYTES (1u << 20)
#define NT_GNU_BUILD_ID_TYPE 3
#define PT_NOTE_TYPE 4

struct elf_reader {
  int fd;
  bool is64, big_endian;
};

static uint64_t read_word(const struct elf_reader *r, const unsigned char *p, int size) {
  uint64_t v = 0;
  for (int i = 0; i < size; i++) {
    int shift = r->big_endian ? (size - 1 - i) * 8 : i * 8;
    v |= (uint64_t)p[i] << shift;
  }
  return v;
}

static bool pread_all(int fd, void *buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += (size_t)n;
  }
  return true;
}

/* Looks for the GNU build-id in one PT_NOTE segment's bytes. */
static int find_build_id(const struct elf_reader *r, const unsigned char *notes, size_t len, uint64_t align, unsigned char *id, size_t cap) {
  size_t pos = 0;
  while (len - pos >= 12) {
    uint64_t namesz = read_word(r, notes + pos, 4), descsz = read_word(r, notes + pos + 4, 4), type = read_word(r, notes + pos + 8, 4);
    pos += 12;
    uint64_t name_padded = (namesz + align - 1) & ~(align - 1), desc_padded = (descsz + align - 1) & ~(align - 1);
    if (name_padded > len - pos) return 0;
    const unsigned char *name = notes + pos;
    pos += name_padded;
    if (desc_padded > len - pos && descsz > len - pos) return 0;
    if (type == NT_GNU_BUILD_ID_TYPE && namesz == 4 && memcmp(name, "GNU", 4) == 0) {
      if (descsz > cap) return 0;
      memcpy(id, notes + pos, descsz);
      return (int)descsz;
    }
    if (desc_padded > len - pos) return 0;
    pos += desc_padded;
  }
  return 0;
}

int binary_read_build_id(int fd, unsigned char *id, size_t cap) {
  unsigned char ident[64];
  if (!pread_all(fd, ident, sizeof ident, 0) && !pread_all(fd, ident, 52, 0)) return -1;
  if (memcmp(ident, "\177ELF", 4) != 0 || (ident[4] != 1 && ident[4] != 2) || (ident[5] != 1 && ident[5] != 2)) return -1;
  struct elf_reader r = {.fd = fd, .is64 = ident[4] == 2, .big_endian = ident[5] == 2};
  uint64_t phoff = r.is64 ? read_word(&r, ident + 32, 8) : read_word(&r, ident + 28, 4);
  uint64_t phentsize = read_word(&r, ident + (r.is64 ? 54 : 42), 2);
  uint64_t phnum = read_word(&r, ident + (r.is64 ? 56 : 44), 2);
  if (phnum == 0xffff) {
    /* PN_XNUM: the real count is sh_info of section header 0. */
    uint64_t shoff = r.is64 ? read_word(&r, ident + 40, 8) : read_word(&r, ident + 32, 4);
    unsigned char sh0[64];
    if (!pread_all(fd, sh0, r.is64 ? 64 : 40, shoff)) return -1;
    phnum = read_word(&r, sh0 + (r.is64 ? 44 : 28), 4);
  }
  if (phentsize < (r.is64 ? 56u : 32u) || phnum > ELF_MAX_PHNUM) return -1;
  for (uint64_t i = 0; i < phnum; i++) {
    unsigned char ph[56];
    if (!pread_all(fd, ph, r.is64 ? 56 : 32, phoff + i * phentsize)) return -1;
    if (read_word(&r, ph, 4) != PT_NOTE_TYPE) continue;
    uint64_t off = r.is64 ? read_word(&r, ph + 8, 8) : read_word(&r, ph + 4, 4);
    uint64_t filesz = r.is64 ? read_word(&r, ph + 32, 8) : read_word(&r, ph + 16, 4);
    uint64_t align = r.is64 ? read_word(&r, ph + 48, 8) : read_word(&r, ph + 28, 4);
    /* Notes in a segment aligned to 8 (e.g. .note.gnu.property) are padded to 8; all others to 4. */
    align = align == 8 ? 8 : 4;
    if (filesz == 0 || filesz > ELF_MAX_NOTE_BYTES) continue;
    unsigned char *notes = xcalloc(filesz, 1);
    int n = pread_all(fd, notes, filesz, off) ? find_build_id(&r, notes, filesz, align, id, cap) : 0;
    free(notes);
    if (n > 0) return n;
  }
  return 0;
}

static void hex(const unsigned char *id, size_t len, char *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < len && n + 3 <= cap; i++) n += (size_t)snprintf(out + n, cap - n, "%02x", id[i]);
  out[n] = '\0';
}

/* openat2(RESOLVE_IN_ROOT): absolute symlinks and `..` stay inside the container root (PITFALLS 15). */
static int open_in_root(const char *root, const char *path, int *err) {
  int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    *err = errno;
    return -1;
  }
  struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, dir, path, &how, sizeof how);
  *err = errno;
  close(dir);
  return fd;
}

static int check_identity(const struct plan_entry *e, int fd, const char *shown, int *err, struct why *why) {
  const struct plan_binary *b = &e->binary;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    *err = errno;
    return why_set(why, "cannot stat %s: %s", shown, strerror(errno));
  }
  *err = 0;
  if (!S_ISREG(st.st_mode)) return why_set(why, "%s is not a regular file", shown);
  if (e->strategy != PLAN_LAYER && (uint64_t)st.st_dev != b->dev)
    return why_set(why, "binary.dev mismatch: the plan says %llu, %s is on %llu (the file changed since compile; compile again)", (unsigned long long)b->dev, shown,
                   (unsigned long long)st.st_dev);
  if ((uint64_t)st.st_ino != b->ino)
    return why_set(why, "binary.ino mismatch: the plan says %llu, %s has %llu (the file was replaced since compile; compile again)", (unsigned long long)b->ino, shown,
                   (unsigned long long)st.st_ino);
  if ((uint64_t)st.st_size != b->size)
    return why_set(why, "binary.size mismatch: the plan says %llu, %s has %llu bytes (the file changed since compile; compile again)", (unsigned long long)b->size, shown,
                   (unsigned long long)st.st_size);
  unsigned char id[PLAN_MAX_BUILD_ID];
  int n = binary_read_build_id(fd, id, sizeof id);
  if (n < 0) return why_set(why, "%s is not an ELF file probec-attach can read", shown);
  bool same = b->has_build_id ? ((size_t)n == b->build_id_len && memcmp(id, b->build_id, (size_t)n) == 0) : n == 0;
  if (!same) {
    char found[2 * PLAN_MAX_BUILD_ID + 1];
    hex(id, (size_t)n, found, sizeof found);
    return why_set(why, "binary.buildId mismatch: the plan says %s, %s has %s (compile again)", b->has_build_id ? b->build_id_hex : "none", shown, n == 0 ? "none" : found);
  }
  return 0;
}

int binary_open(const struct plan_entry *e, struct opened_binary *out, int *err, struct why *why) {
  const struct plan_binary *b = &e->binary;
  char shown[PLAN_MAX_PATH + 64];
  out->fd = -1;
  if (e->strategy == PLAN_FD) {
    snprintf(shown, sizeof shown, "%s (in %s)", b->kernel_path, b->open_root);
    out->fd = open_in_root(b->open_root, b->kernel_path, err);
    if (out->fd < 0) {
      if (*err == ENOSYS) return why_set(why, "this kernel has no openat2 (5.6+): use another --strategy (root, map or host)");
      return why_set(why, "cannot open %s: %s", shown, strerror(*err));
    }
    snprintf(out->path, sizeof out->path, "/proc/self/fd/%d", out->fd);
  } else {
    snprintf(shown, sizeof shown, "%s", b->kernel_path);
    out->fd = open(b->kernel_path, O_RDONLY | O_CLOEXEC);
    if (out->fd < 0) {
      *err = errno;
      return why_set(why, "cannot open %s: %s", shown, strerror(errno));
    }
    snprintf(out->path, sizeof out->path, "%s", b->kernel_path);
  }
  if (check_identity(e, out->fd, shown, err, why) < 0) {
    binary_close(out);
    return -1;
  }
  return 0;
}

void binary_close(struct opened_binary *b) {
  if (b->fd >= 0) close(b->fd);
  b->fd = -1;
}
