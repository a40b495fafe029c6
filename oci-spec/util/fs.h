/* Small I/O helpers shared by every module: EINTR-safe reads and writes,
 * whole-file reads, atomic writes (temporary file + rename). */
#ifndef BERTH_UTIL_FS_H
#define BERTH_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Writes all of buf; returns 0 or -1 with errno set. */
int fs_write_all(int fd, const void *buf, size_t len);
/* Reads until len bytes or EOF; returns the count or -1 with errno set. */
ssize_t fs_read_all(int fd, void *buf, size_t len);
/* Reads a whole file (relative to dirfd, or AT_FDCWD) into a NUL-terminated
 * buffer; *len_out (may be NULL) receives its length. */
int fs_read_file_at(int dirfd, const char *path, char **out, size_t *len_out, berth_error_t *err);
/* Writes content to dirfd/path atomically: a temporary file in the same
 * directory, renamed over path.  No fsync: rename gives atomicity, and state
 * lives on tmpfs. */
int fs_write_file_atomic_at(int dirfd, const char *path, const void *content, size_t len, mode_t mode,
                            berth_error_t *err);
/* Writes a short string to an existing file (cgroup, /proc knobs). */
int fs_write_string_at(int dirfd, const char *path, const char *value, berth_error_t *err);
/* mkdir -p; existing directories are fine. */
int fs_mkdir_p(const char *path, mode_t mode, berth_error_t *err);
/* Removes a directory tree without following symlinks out of it. */
int fs_remove_tree_at(int dirfd, const char *name, berth_error_t *err);

/* Decodes the octal escapes of /proc/self/mountinfo ("\040" for a space,
 * also tab, newline and backslash) in place. */
void fs_unescape_mountinfo(char *s);

#endif
