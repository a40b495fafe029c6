/* The mounts of config.json: option parsing (pure, unit tested) and the
 * mount of one entry inside the rootfs, through the fd of its target so a
 * symlink swapped in by the container cannot redirect it.
 */
#ifndef BERTH_MOUNTS_H
#define BERTH_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime_spec.h"

struct mount_options {
	unsigned long flags; /* MS_* for mount(2): MS_BIND, MS_REC, MS_RDONLY, MS_NOSUID, ... */
	unsigned long clear; /* MS_* explicitly turned off ("rw", "suid", "atime", ...) */
	unsigned long
	    propagation; /* MS_PRIVATE | MS_SHARED | MS_SLAVE | MS_UNBINDABLE, maybe | MS_REC; 0: none */
	uint64_t rec_attr_set; /* MOUNT_ATTR_* of "rro", "rnosuid", ... (mount_setattr, AT_RECURSIVE) */
	uint64_t rec_attr_clr;
	bool tmpcopyup;
	bool idmap;           /* "idmap" / "ridmap": an id-mapped bind (uidMappings/gidMappings) */
	bool idmap_recursive; /* "ridmap": the mapping on every mount of the tree */
	char *data;           /* the options the file system reads ("mode=755,size=65536k"); NULL if none */
};

/* Splits config.json mount options into flags, propagation and data.
 * Unknown options go to data, in order. */
int mount_options_parse(char *const *options, size_t len, struct mount_options *out, berth_error_t *err);
void mount_options_free(struct mount_options *opts);
/* For `features`: the i-th option name mount_options_parse() knows, NULL
 * past the last; *supported is false for those it refuses ("idmap"). */
const char *mount_option_name(size_t i, bool *supported);
/* "rprivate" -> MS_PRIVATE | MS_REC, ...; -1 with an error for other names. */
int mount_propagation_from_name(const char *name, unsigned long *flags, berth_error_t *err);

/* Writes "/proc/self/fd/<fd>" into buf: the name mount(2) gets for a target
 * that was opened safely. */
const char *mount_fd_path(int fd, char buf[static 32]);
/* The per-mount flags of the mount holding fd (ro, nosuid, nodev, noexec,
 * atime) as MS_* flags: those a less privileged user namespace cannot drop. */
unsigned long mount_flags_of(int fd);
/* mount("", target, MS_BIND | MS_REMOUNT | flags), target being the mount
 * of fd: NULL means "/proc/self/fd/<fd>".  When the kernel says EPERM
 * because the mount has flags locked by a less privileged user namespace
 * (nosuid, nodev, noexec, ro, atime), retries keeping them.  `what` names
 * the mount in errors. */
/* The MOUNT_ATTR_* of the MS_* flags (mount_setattr, fsmount). */
uint64_t mount_attrs_of(unsigned long ms_flags);
int mount_remount_bind(int fd, const char *target, const char *what, unsigned long flags, berth_error_t *err);

struct mount_context {
	const struct oci_spec *spec;
	int root_fd;            /* the rootfs (after its bind mount onto itself) */
	const char *bundle;     /* relative bind sources are relative to it */
	bool in_user_namespace; /* proc / sysfs / mqueue may need a bind instead */
	const int *idmap_fds;   /* per mount: its id-mapped tree (mounts_prepare_idmapped), or -1 */
	bool shared_mount_ns;   /* in the runtime's mount namespace: binds rslave first */
};

/* In the runtime, before the container's namespaces exist: id-mapping a
 * mount takes CAP_SYS_ADMIN over its file system's user namespace (the
 * host's), which init in a user namespace lacks.  *fds_out: per mount of the
 * spec, a detached id-mapped tree (close-on-exec) or -1; NULL when no mount
 * is id-mapped. */
int mounts_prepare_idmapped(const struct oci_spec *spec, const char *bundle, int **fds_out,
                            berth_error_t *err);
void mounts_close_idmapped(int *fds, size_t n);

/* Mounts one entry of config.json's mounts inside the rootfs.  Errors name
 * the source and destination: "mount `proc` to `/proc`: ...". */
int mounts_mount_entry(const struct mount_context *ctx, const struct oci_mount *m, berth_error_t *err);

#endif
