/* OCI image layers: applying a layer tar onto a directory, and computing a
 * layer tar from a change to a directory tree.
 *
 * Apply (layer_apply.c)
 *   A layer stream (tar, tar+gzip or tar+zstd; detected by its magic bytes,
 *   or named by the caller) is applied onto an open directory: regular files,
 *   directories, symlinks, hard links, devices and fifos, with ownership,
 *   modes, mtimes/atimes and xattrs; OCI whiteouts (`.wh.<name>`) remove the
 *   lower entry and `.wh..wh..opq` makes a directory opaque (everything in it
 *   that this layer did not create goes, whatever the marker's position in the
 *   tar).  An existing entry is replaced: a directory over a directory merges,
 *   anything else removes what was there first (a whole tree if needed).
 *
 *   Paths, and where nothing may land:
 *   - entry names are cleaned lexically ("./a//b/." -> "a/b", "a/../b" -> "b");
 *     a name that still climbs above the root ("../x", "a/../../x") is hostile
 *     and fails with ``layer entry `../x`: path escapes the root``;
 *   - a leading "/" is dropped, as docker, umoci and GNU tar do: a layer's
 *     paths are relative to the root, and "/etc/passwd" means <target>/etc/passwd;
 *   - the parent of every entry is resolved inside the target with
 *     openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) (or a user-space walk
 *     with the same semantics): a symlink planted by an earlier entry
 *     (`d -> /etc`, then `d/passwd`) is followed *inside* the target, as
 *     docker's chroot and umoci's securejoin do, so the write lands in
 *     <target>/etc/passwd and never on the host; missing parents are made
 *     (0755, the mapped root) along that resolution, so a dangling
 *     `d -> /x/y` makes <target>/x/y.  The last component is never
 *     followed: a symlink there is replaced, not written through;
 *   - a symlink's content may point anywhere: it is only stored;
 *   - a hard link's target is cleaned and resolved the same way, so it always
 *     names a file inside the target (the link itself, when that is a symlink).
 *   No host path string is ever built and opened: all work is *at() on
 *   directory fds, and those are cached (LRU keyed by path) so entries of one
 *   directory do not walk from the root each time.
 *
 * Diff (layer_diff.c)
 *   From a lower and an upper tree (type, mode, owner, size, mtime, link
 *   target, device, xattrs, and the content on request are compared), or from
 *   an overlayfs upper directory (whiteouts are character devices 0/0,
 *   `trusted.overlay.opaque=y` (or `user.overlay.opaque`) marks opaque
 *   directories), writes an OCI layer tar to an fd: PAX format, entries
 *   sorted by path bytewise, numeric uid/gid without names, no atime/ctime,
 *   hard links within the layer as tar hard links, xattrs as SCHILY.xattr
 *   records, mtimes clamped to SOURCE_DATE_EPOCH on request; uncompressed,
 *   gzip or zstd.  It returns the sha256 of the tar (the diff_id) and of the
 *   blob as written (the descriptor's digest), and the blob's size.
 */
#ifndef BERTH_OCI_LAYER_H
#define BERTH_OCI_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

enum layer_compression {
	LAYER_COMPRESSION_AUTO = 0, /* apply: detect from the magic bytes */
	LAYER_COMPRESSION_NONE,
	LAYER_COMPRESSION_GZIP,
	LAYER_COMPRESSION_ZSTD,
};

/* Maps a layer media type (OCI or Docker schema 2) to its compression;
 * returns -1 for a media type that is not a layer tar. */
int layer_compression_from_media_type(const char *media_type);

/* ---- apply ---- */

enum layer_apply_flags {
	/* Do not chown: everything is owned by the caller (rootless). */
	LAYER_APPLY_NO_CHOWN = 1u << 0,
	/* Skip device nodes that cannot be created (counted in skipped)
	 * instead of failing. */
	LAYER_APPLY_SKIP_DEVICES = 1u << 1,
	/* Skip xattrs the filesystem or our privileges refuse (EPERM,
	 * ENOTSUP: trusted.* when not root, ...) instead of failing. */
	LAYER_APPLY_SKIP_XATTR_ERRORS = 1u << 2,
	/* All three: what an unprivileged user can do. */
	LAYER_APPLY_ROOTLESS =
	    LAYER_APPLY_NO_CHOWN | LAYER_APPLY_SKIP_DEVICES | LAYER_APPLY_SKIP_XATTR_ERRORS,
};

struct layer_apply_options {
	size_t size; /* sizeof(struct layer_apply_options) */
	unsigned flags;
	enum layer_compression compression;
	/* Added to every uid/gid of the layer (user namespaces). */
	uid_t uid_offset;
	gid_t gid_offset;
};

struct layer_apply_stats {
	uint64_t entries; /* tar entries read */
	uint64_t files, dirs, symlinks, hardlinks, devices, fifos;
	uint64_t whiteouts, opaque_dirs;
	uint64_t bytes;   /* regular file content written */
	uint64_t skipped; /* sockets, devices/xattrs skipped by the flags */
};

/* Applies the layer read from layer_fd (read to its end, not closed) onto
 * target_dir_fd.  opts may be NULL (defaults: detect compression, chown,
 * fail on anything not applied); stats_out may be NULL.  On error the target
 * holds a partial layer; the message names the entry
 * (``layer entry `a/b`: create: Permission denied``). */
int layer_apply(int layer_fd, int target_dir_fd, const struct layer_apply_options *opts,
                struct layer_apply_stats *stats_out, berth_error_t *err);

/* ---- diff ---- */

enum layer_diff_flags {
	/* upper_dir_fd is an overlayfs upper directory (lower_dir_fd is
	 * ignored): char devices 0/0 are whiteouts, opaque xattrs make
	 * `.wh..wh..opq`, trusted.overlay.* / user.overlay.* are not copied. */
	LAYER_DIFF_OVERLAY = 1u << 0,
	/* Compare file contents when every piece of metadata matches (size and
	 * mtime too); without it such files count as unchanged. */
	LAYER_DIFF_COMPARE_CONTENT = 1u << 1,
	/* Clamp mtimes to source_date_epoch. */
	LAYER_DIFF_SOURCE_DATE_EPOCH = 1u << 2,
};

struct layer_diff_options {
	size_t size; /* sizeof(struct layer_diff_options) */
	unsigned flags;
	enum layer_compression compression; /* AUTO means NONE */
	int compression_level;              /* 0: the compressor's default */
	int64_t source_date_epoch;          /* with LAYER_DIFF_SOURCE_DATE_EPOCH */
};

struct layer_diff_result {
	char diff_id[7 + 64 + 1]; /* "sha256:<hex>" of the uncompressed tar */
	char digest[7 + 64 + 1];  /* "sha256:<hex>" of the bytes written */
	uint64_t size;            /* bytes written */
	uint64_t entries, whiteouts;
};

/* Writes the layer that turns lower_dir_fd into upper_dir_fd (lower_dir_fd
 * may be -1: everything in upper is new) to out_fd.  result may be NULL. */
int layer_diff(int lower_dir_fd, int upper_dir_fd, int out_fd, const struct layer_diff_options *opts,
               struct layer_diff_result *result, berth_error_t *err);

/* ---- shared by layer_apply.c and layer_diff.c ---- */

/* Cleans a tar entry name lexically into out (size outlen): drops leading
 * "/" and "./", empty and "." components and trailing "/"; resolves ".."
 * against earlier components.  Returns 0, 1 for the root itself (""), or -1
 * with errno EXDEV when ".." climbs above the root, ENAMETOOLONG when it does
 * not fit. */
int layer_clean_path(const char *name, char *out, size_t outlen);

#endif
