/* The container's filesystem view, set up by init inside its new mount
 * namespace (or, without one, under the rootfs in the runtime's):
 * propagation, the rootfs bind mount, config.json's mounts in order, /dev
 * (default devices, linux.devices, symlinks, devpts), then pivot_root (or
 * chroot) and the final read-only / masked settings.
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

/* No mount namespace in the config (none new, none joined): init stays in
 * the runtime's, and the steps above make their mounts there, all below one
 * bind of the rootfs (never changing a mount of the host), then chroot. */
bool rootfs_shares_mount_ns(const struct oci_spec *spec);
/* The runtime's side of that, before init runs: *base is the id of the
 * mount on top of the rootfs path (what delete must leave). */
int rootfs_shared_base(const char *rootfs, int *base, berth_error_t *err);
/* After init is gone: detaches every mount stacked on the rootfs path above
 * `base`, with all mounts below them. A mount there that is not stacked on
 * `base` is not the container's and stays. */
int rootfs_shared_release(const char *rootfs, int base, berth_error_t *err);

#endif
