/* The filesystem work of berth-build's executor:
 *
 *  - overlay mounts of a stage's layers: the lower directories (top first),
 *    a fresh upper and work directory per step, the merged view at a target;
 *    a read-only view (no upper) for COPY --from;
 *  - paths inside a root directory resolved with openat2(RESOLVE_IN_ROOT),
 *    so a symlink of the image (`/app -> /etc`, `/x -> ../../..`) is followed
 *    inside the root and nothing lands on the host;
 *  - copying trees as COPY does (modes, owners or --chown/--chmod, mtimes,
 *    symlinks as symlinks), with .dockerignore applied to a context, and a
 *    hash of what was copied (names, types, modes, owners, link targets and
 *    content; not mtimes) for the layer cache.
 */
#ifndef BERTH_BUILDER_FSOPS_H
#define BERTH_BUILDER_FSOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "digest.h"
#include "dockerignore.h"
#include "statcache.h"
#include "util/error.h"

/* Mounts an overlay of lowers[0] (top) .. lowers[n-1] (bottom) at target;
 * with upper (and work) NULL the mount is read-only.  An empty lower list
 * needs `empty`, an empty directory standing in for it. */
int fsops_overlay_mount(char *const *lowers, size_t n, const char *upper, const char *work, const char *empty,
                        const char *target, berth_error_t *err);
/* Detaches a mount (lazily when busy). */
void fsops_umount(const char *target);

/* Opens path inside the root (RESOLVE_IN_ROOT: symlinks and `..` stay in it). */
int fsops_open_in_root(int root_fd, const char *path, int flags, berth_error_t *err);
/* mkdir -p inside the root; new directories get mode, uid and gid; returns
 * an O_PATH fd of the directory and sets *created when the last one was made. */
int fsops_mkdir_in_root(int root_fd, const char *path, mode_t mode, uid_t uid, gid_t gid, bool *created,
                        berth_error_t *err);

/* A copy that may take regular files from an earlier one (copy_reuse.h):
 * called from the copying threads. */
struct fsops_reuse {
	/* the regular file src is to be copied to dst_dir_fd/dst_name (what
	 * was there is removed) with uid, gid and mode: 1 when the caller
	 * will put an identical file there itself (nothing is copied now), 0
	 * to copy it, -1 on error */
	int (*take)(void *ctx, int dst_dir_fd, const char *dst_name, const struct stat *src, uid_t uid,
	            gid_t gid, mode_t mode, berth_error_t *err);
	/* src was copied to dst_dir_fd/dst_name, open as fd */
	int (*made)(void *ctx, int dst_dir_fd, const char *dst_name, int fd, const struct stat *src,
	            berth_error_t *err);
	void *ctx;
};

struct fsops_copy_opts {
	uid_t uid; /* (uid_t)-1: keep the source's */
	gid_t gid; /* (gid_t)-1: keep the source's */
	int mode;  /* -1: keep the source's permission bits */
	/* a symbolic --chmod (u+x,g=r,o-w) applied to each source's bits, or NULL */
	const char *chmod_sym;
	/* .dockerignore of a context (may be NULL) and the source's path
	 * relative to the context, for matching */
	const struct dockerignore *ignore;
	struct oci_hasher *hash; /* may be NULL */
	/* dry: nothing is written, the sources are walked for the hash only
	 * (the destination fds are not used); regular files hash as their
	 * content digest, taken from `digests` when it is not NULL */
	bool dry;
	struct statcache *digests;
	/* COPY --exclude patterns (may be NULL), matched against the path
	 * below exclude_base (the copied directory, relative to its root) */
	const struct dockerignore *exclude;
	const char *exclude_base;
	/* regular files from an earlier copy (may be NULL; not with hash) */
	const struct fsops_reuse *reuse;
};

/* A symbolic mode (chmod(1)'s `[ugoa]*[-+=]([rwxXst]*|[ugo])`, comma
 * separated; no umask: an empty who is `a`) applied to cur; -1 when the
 * spec is not valid. */
int fsops_mode_apply(const char *spec, mode_t cur, bool is_dir, mode_t *out);
/* The mode a copy of a source with mode st_mode gets under o. */
mode_t fsops_copy_mode(const struct fsops_copy_opts *o, mode_t st_mode);

/* Copies src_dir_fd/src_name (not followed when a symlink) to
 * dst_dir_fd/dst_name; a directory over a directory merges.  rel is the
 * source's path relative to its root (for .dockerignore and the hash). */
int fsops_copy(int src_dir_fd, const char *src_name, const char *rel, int dst_dir_fd, const char *dst_name,
               const struct fsops_copy_opts *o, berth_error_t *err);
/* Copies the entries of the directory src_fd into the directory dst_fd
 * (-1 when o->dry). */
int fsops_copy_contents(int src_fd, const char *rel, int dst_fd, const struct fsops_copy_opts *o,
                        berth_error_t *err);

/* The "sha256:<hex>" of the content of the regular file dir_fd/name
 * (through o->digests when set). */
int fsops_file_digest(const struct fsops_copy_opts *o, int dir_fd, const char *name, char out[OCI_DIGEST_MAX],
                      berth_error_t *err);

/* The uid and gid of "user[:group]" (names or numbers) through the root's
 * /etc/passwd and /etc/group.  Without a group: for USER (chown false) the
 * user's primary group (0 for a numeric user that passwd lacks), for COPY
 * --chown the uid's number, as Docker does. */
int fsops_lookup_user(int root_fd, const char *spec, bool chown, uid_t *uid, gid_t *gid, berth_error_t *err);

/* Recursive removal of a host path (a build's own directories). */
int fsops_remove(const char *path, berth_error_t *err);

#endif
