/* The container's filesystem view, set up by init inside its new mount
 * namespace: propagation, the rootfs bind mount, config.json's mounts in
 * order, /dev (default devices, linux.devices, symlinks, devpts), then
 * pivot_root and the final read-only / masked settings.
 *
 * Every path inside the rootfs is resolved with safe_path (never following a
 * symlink out of the rootfs), so a hostile rootfs cannot redirect a mount, a
 * mkdir or a device node to the host.
 */
#ifndef BERTH_ROOTFS_H
#define BERTH_ROOTFS_H

#include <stdbool.h>

#include "runtime_spec.h"

struct rootfs_options {
	const struct oci_spec *spec;
	const char *rootfs;     /* absolute path of the rootfs on the host */
	const char *bundle;     /* absolute; relative mount sources are relative to it */
	bool no_pivot;          /* --no-pivot: MS_MOVE + chroot instead of pivot_root */
	bool in_user_namespace; /* a new user namespace: devices are bind mounted, not mknod'ed */
	const int *idmap_fds;   /* mounts_prepare_idmapped() */
};

/* 1. Before the createRuntime hooks: root propagation (rootfsPropagation or
 *    rslave), bind the rootfs onto itself, every mount of config.json in
 *    order with its options, /dev with the default devices and linux.devices,
 *    /dev symlinks (fd, stdin, stdout, stderr, ptmx -> pts/ptmx). */
int rootfs_prepare(const struct rootfs_options *opts, berth_error_t *err);
/* 2. After the createContainer hooks: pivot_root into the rootfs (or MS_MOVE +
 *    chroot with no_pivot), detach the old root, chdir("/"). */
int rootfs_pivot(const struct rootfs_options *opts, berth_error_t *err);
/* 3. Inside the new root: sysctls (linux.sysctl), maskedPaths, readonlyPaths,
 *    read-only root (root.readonly), the final rootfsPropagation. */
int rootfs_finalize(const struct rootfs_options *opts, berth_error_t *err);

#endif
