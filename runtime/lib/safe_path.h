/* Resolution of paths inside a container's rootfs that never escapes it.
 *
 * Uses openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) where the kernel has
 * it, and falls back to a component-by-component walk that resolves symlinks
 * against the rootfs (as if chrooted) when openat2 is missing (ENOSYS) or
 * denied (EPERM from a seccomp filter).
 */
#ifndef BERTH_SAFE_PATH_H
#define BERTH_SAFE_PATH_H

#include <sys/types.h>

#include "util/error.h"

/* Opens `path` (absolute or relative, interpreted inside root_fd) with flags
 * (O_CLOEXEC is always added). Returns the fd or -1. */
int safe_path_open(int root_fd, const char *path, int flags, mode_t mode, berth_error_t *err);
/* mkdir -p of `path` inside root_fd; returns an O_PATH|O_DIRECTORY fd of the
 * last directory, or -1. */
int safe_path_mkdir_all(int root_fd, const char *path, mode_t mode, berth_error_t *err);
/* Makes sure `path` exists inside root_fd as a regular file (created empty,
 * parents created) and returns an O_PATH fd of it, or -1.  Used for bind
 * mount targets of files. */
int safe_path_create_file(int root_fd, const char *path, mode_t mode, berth_error_t *err);
/* Test hook: when set, safe_path acts as if openat2 were unavailable. */
void safe_path_force_fallback(int force);

#endif
