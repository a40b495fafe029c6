/* The container's filesystem view, in three steps run by init (see rootfs.h
 * for where the lead calls them), in a new mount namespace:
 *
 *   prepare   1. "/" rslave (or linux.rootfsPropagation) so nothing we do
 *                reaches the host's mount namespace
 *             2. the parent mount of the rootfs private, so pivot_root works
 *             3. the rootfs bound onto itself: a mount point for pivot_root
 *             4. config.json's mounts, in order (mounts.c)
 *             5. /dev: default devices, linux.devices, symlinks (devices.c)
 *   pivot     6. pivot_root(".", ".") and a lazy unmount of the old root,
 *                or with --no-pivot MS_MOVE + chroot
 *   finalize  7. linux.sysctl  8. readonlyPaths  9. maskedPaths
 *            10. root.readonly  11. the final rootfsPropagation
 *
 * Without a mount namespace (the runtime's is shared, as the spec says of a
 * namespace type left out), nothing of the host may change: steps 1 and 2
 * are skipped; the bind of step 3 is made rslave at once (3b), so that the
 * mounts of steps 4-9 stay below it and reach no peer of the host's; each
 * bind of step 4 is made rslave before anything else (mounts.c); step 6 is
 * a chroot; steps 10 and 11 act on that bind, the container's "/". All of
 * it hangs from the one bind, which delete detaches (rootfs_shared_release,
 * with the runtime's side at the end of this file).
 */
#include "config.h"
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices.h"
#include "mounts.h"
#include "safe_path.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const char *root_propagation_name(const struct rootfs_options *opts)
{
	const struct oci_linux *l = opts->spec->linux_;
	return l != NULL && l->rootfs_propagation != NULL && l->rootfs_propagation[0] != '\0'
	           ? l->rootfs_propagation
	           : NULL;
}

/* ---- prepare ---- */

static bool path_has_prefix(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strcmp(prefix, "/") == 0)
		return true;
	return strncmp(path, prefix, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* 2. pivot_root refuses a new root whose parent mount is shared; a shared
 *    parent would also carry our bind mount back to the host. */
static int make_parent_private(const char *rootfs, berth_error_t *err)
{
	cleanup_free char *real = realpath(rootfs, NULL);
	cleanup_fclose FILE *f = NULL;
	cleanup_free char *line = NULL, *best = NULL;
	bool best_shared = false;
	size_t cap = 0;

	if (real == NULL)
		return berth_error_sys(err, errno, "rootfs `%s`", rootfs);
	f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return berth_error_sys(err, errno, "open `/proc/self/mountinfo`");
	/* The parent is the longest mount point above the rootfs; the last one
	 * listed wins among equals (it is the one on top). */
	while (getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX];
		char *sep = strstr(line, " - ");

		if (sep == NULL || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		fs_unescape_mountinfo(mp);
		if (!path_has_prefix(real, mp))
			continue;
		if (best != NULL && strlen(mp) < strlen(best))
			continue;
		free(best);
		best = strdup(mp);
		if (best == NULL)
			return berth_error_sys(err, ENOMEM, "rootfs `%s`", rootfs);
		*sep = '\0';
		best_shared = strstr(line, " shared:") != NULL;
	}
	if (best == NULL || !best_shared)
		return 0;
	if (mount(NULL, best, NULL, MS_PRIVATE, NULL) < 0)
		return berth_error_sys(err, errno, "make `%s` private", best);
	return 0;
}

/* /dev needs our devices unless config.json binds a /dev of its own. */
static bool dev_is_bind_mounted(const struct oci_spec *spec)
{
	for (size_t i = 0; i < spec->mounts_len; i++) {
		const struct oci_mount *m = &spec->mounts[i];
		bool bind = m->type != NULL && strcmp(m->type, "bind") == 0;

		for (size_t j = 0; !bind && j < m->options_len; j++)
			bind = strcmp(m->options[j], "bind") == 0 || strcmp(m->options[j], "rbind") == 0;
		if (bind && m->destination != NULL && strcmp(m->destination, "/dev") == 0)
			return true;
	}
	return false;
}

bool rootfs_shares_mount_ns(const struct oci_spec *spec)
{
	return oci_spec_namespace(spec, OCI_NS_MOUNT) == NULL;
}

/* 1. - 2. In a mount namespace of our own. */
static int prepare_namespace(const struct rootfs_options *opts, berth_error_t *err)
{
	const char *prop_name = root_propagation_name(opts);
	unsigned long prop = MS_SLAVE | MS_REC;

	/* 1. Root propagation: rslave unless asked otherwise, as runc, so that
	 *    host mounts reach rslave binds but nothing flows back. */
	if (prop_name != NULL && mount_propagation_from_name(prop_name, &prop, err) < 0)
		return -1;
	/* An unbindable / would refuse the rootfs's own bind mount: rslave for
	 * now, unbindable at the end (rootfs_finalize). */
	if (prop & MS_UNBINDABLE)
		prop = MS_SLAVE | MS_REC;
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		return berth_error_sys(err, errno, "set propagation of `/` to `%s`",
		                       prop_name != NULL ? prop_name : "rslave");

	/* 2. The parent of the rootfs private.  After a recursive rslave or
	 *    rprivate no mount is shared any more: nothing to look for. */
	if ((prop & MS_REC) && (prop & (MS_SLAVE | MS_PRIVATE)))
		return 0;
	return make_parent_private(opts->rootfs, err);
}

/* 3. in the runtime's mount namespace. A mount made on a shared mount is
 *    copied to each of its peers and slaves (in other mount namespaces)
 *    with the mounts under it, and delete's unmount reaches those copies
 *    only if they have no mounts below them. So the first bind is of the
 *    rootfs alone (a childless copy for the peers), made private at once;
 *    the recursive copy of the rootfs (with the mounts under it) goes on top
 *    of that, where nothing propagates. */
static int bind_rootfs_shared(const char *rootfs, berth_error_t *err)
{
	cleanup_close int tree = -1;

	/* The recursive copy, taken while the path still shows what is there. */
	tree =
	    (int)syscall(SYS_open_tree, AT_FDCWD, rootfs, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0 && errno != ENOSYS)
		return berth_error_sys(err, errno, "bind mount rootfs `%s`: open_tree", rootfs);
	if (tree < 0) {
		/* Before Linux 5.2: one recursive bind, whose copies in the
		 * peers keep the mounts under the rootfs (docs/runtime.md). */
		if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
			return berth_error_sys(err, errno, "bind mount rootfs `%s`", rootfs);
		return 0;
	}
	if (mount(rootfs, rootfs, NULL, MS_BIND, NULL) < 0)
		return berth_error_sys(err, errno, "bind mount rootfs `%s`", rootfs);
	if (mount(NULL, rootfs, NULL, MS_PRIVATE, NULL) < 0)
		return berth_error_sys(err, errno, "make the bind mount of rootfs `%s` private", rootfs);
	if (syscall(SYS_move_mount, tree, "", AT_FDCWD, rootfs, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return berth_error_sys(err, errno, "bind mount rootfs `%s`: move_mount", rootfs);
	return 0;
}

int rootfs_prepare(const struct rootfs_options *opts, berth_error_t *err)
{
	bool shared = rootfs_shares_mount_ns(opts->spec);
	cleanup_close int root_fd = -1;
	struct mount_context ctx;
	char p[32];

	if (!shared && prepare_namespace(opts, err) < 0)
		return -1;

	/* 3. The rootfs bound onto itself; opened after, so the fd is the new mount. */
	if (shared) {
		if (bind_rootfs_shared(opts->rootfs, err) < 0)
			return -1;
	} else if (mount(opts->rootfs, opts->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) {
		return berth_error_sys(err, errno, "bind mount rootfs `%s`", opts->rootfs);
	}
	root_fd = open(opts->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return berth_error_sys(err, errno, "open rootfs `%s`", opts->rootfs);
	/* 3b. In the runtime's mount namespace the bind joined the peer group
	 *     of the mount it copies when that one is shared (the host's "/"
	 *     usually is): what we mount below would then appear in the host's
	 *     mount table beneath it and in every peer. Private, as the root
	 *     is in a namespace of our own; the host's mounts keep theirs. */
	if (shared && mount(NULL, mount_fd_path(root_fd, p), NULL, MS_PRIVATE | MS_REC, NULL) < 0)
		return berth_error_sys(err, errno, "make the bind mount of rootfs `%s` private",
		                       opts->rootfs);

	/* 4. config.json's mounts, in order. */
	ctx = (struct mount_context){
	    .spec = opts->spec,
	    .root_fd = root_fd,
	    .bundle = opts->bundle,
	    .in_user_namespace = opts->in_user_namespace,
	    .idmap_fds = opts->idmap_fds,
	    .shared_mount_ns = shared,
	};
	for (size_t i = 0; i < opts->spec->mounts_len; i++)
		if (mounts_mount_entry(&ctx, &opts->spec->mounts[i], err) < 0)
			return -1;

	/* 5. /dev. */
	if (!dev_is_bind_mounted(opts->spec) &&
	    devices_setup(root_fd, opts->spec, opts->in_user_namespace, err) < 0)
		return -1;
	return 0;
}

/* ---- pivot ---- */

/* chroot into new_root, the cwd its "/". */
static int enter_root(const struct rootfs_options *opts, int new_root, berth_error_t *err)
{
	if (fchdir(new_root) < 0)
		return berth_error_sys(err, errno, "chdir `%s`", opts->rootfs);
	if (chroot(".") < 0)
		return berth_error_sys(err, errno, "chroot `%s`", opts->rootfs);
	if (chdir("/") < 0)
		return berth_error_sys(err, errno, "chdir `/`");
	return 0;
}

static int move_root(const struct rootfs_options *opts, int new_root, berth_error_t *err)
{
	if (fchdir(new_root) < 0)
		return berth_error_sys(err, errno, "chdir `%s`", opts->rootfs);
	if (mount(opts->rootfs, "/", NULL, MS_MOVE, NULL) < 0)
		return berth_error_sys(err, errno, "move `%s` to `/`", opts->rootfs);
	return enter_root(opts, new_root, err);
}

int rootfs_pivot(const struct rootfs_options *opts, berth_error_t *err)
{
	cleanup_close int old_root = -1, new_root = -1;

	new_root = open(opts->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (new_root < 0)
		return berth_error_sys(err, errno, "open rootfs `%s`", opts->rootfs);
	/* 6. In the runtime's mount namespace: a chroot, whatever --no-pivot
	 *    says. pivot_root would swap the host's root, MS_MOVE would put
	 *    the rootfs over it. */
	if (rootfs_shares_mount_ns(opts->spec))
		return enter_root(opts, new_root, err);
	if (opts->no_pivot)
		return move_root(opts, new_root, err);

	/* 6. pivot_root(".", "."): the old root ends up stacked on top of the
	 *    new one at "/", with no directory needed inside the rootfs to
	 *    hold it (a rootfs may be read-only). */
	old_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (old_root < 0)
		return berth_error_sys(err, errno, "open `/`");
	if (fchdir(new_root) < 0)
		return berth_error_sys(err, errno, "chdir `%s`", opts->rootfs);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return berth_error_sys(err, errno, "pivot_root `%s`", opts->rootfs);

	/* Make the old root a slave first, so the unmount stays here and does
	 * not propagate to the host's mounts. */
	if (fchdir(old_root) < 0)
		return berth_error_sys(err, errno, "chdir to the old root");
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return berth_error_sys(err, errno, "make the old root rslave");
	if (umount2(".", MNT_DETACH) < 0)
		return berth_error_sys(err, errno, "unmount the old root");
	if (chdir("/") < 0)
		return berth_error_sys(err, errno, "chdir `/`");
	return 0;
}

/* ---- finalize ---- */

/* The name mount(2) gets for an fd: "/proc/self/fd/N" when /proc is a real
 * procfs, else the path itself (already resolved inside this root, which is
 * all there is now). */
static const char *target_name(int fd, const char *path, char buf[static 32])
{
	struct statfs sfs;

	if (statfs("/proc", &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC)
		return mount_fd_path(fd, buf);
	return path;
}

/* Opens a path of maskedPaths / readonlyPaths; 0 (and *fd -1) when it does
 * not exist, which the spec allows. */
static int open_optional(int root_fd, const char *path, int *fd, berth_error_t *err)
{
	berth_error_t local = NULL;

	*fd = safe_path_open(root_fd, path, O_PATH, 0, &local);
	if (*fd >= 0)
		return 0;
	if (local->errnum == ENOENT) {
		berth_error_free(&local);
		return 0;
	}
	berth_error_move(err, &local);
	return -1;
}

/* 7. linux.sysctl: /proc/sys/<key with dots as slashes>. */
static int write_sysctls(int root_fd, const struct oci_linux *l, berth_error_t *err)
{
	for (size_t i = 0; i < l->sysctl_len; i++) {
		const char *key = l->sysctl[i].key, *value = l->sysctl[i].value;
		cleanup_free char *path = NULL;
		cleanup_close int fd = -1;
		berth_error_t local = NULL;

		if (key == NULL || key[0] == '\0' || strstr(key, "..") != NULL || value == NULL)
			return berth_error_invalid(err, "sysctl `%s`: invalid key", key != NULL ? key : "");
		if (asprintf(&path, "/proc/sys/%s", key) < 0)
			return berth_error_sys(err, ENOMEM, "sysctl `%s`", key);
		/* A key given with slashes is a path already; one with dots is
		 * translated (as runc and sysctl(8) do). */
		if (strchr(key, '/') == NULL)
			for (char *c = path + 10; *c != '\0'; c++)
				if (*c == '.')
					*c = '/';
		fd = safe_path_open(root_fd, path, O_WRONLY, 0, &local);
		if (fd < 0) {
			int e = local->errnum;
			berth_error_free(&local);
			return berth_error_sys(err, e, "write sysctl `%s`", key);
		}
		if (fs_write_all(fd, value, strlen(value)) < 0)
			return berth_error_sys(err, errno, "write sysctl `%s`", key);
	}
	return 0;
}

/* Sets MS_RDONLY on a mount and every mount below it. */
static int make_readonly_recursive(int fd, const char *path, berth_error_t *err)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};

	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) == 0)
		return 0;
	if (errno != ENOSYS)
		return berth_error_sys(err, errno, "make `%s` read-only", path);
	/* Old kernel: the top mount only, keeping its other flags. */
	char buf[32];
	return mount_remount_bind(fd, target_name(fd, path, buf), path, mount_flags_of(fd) | MS_RDONLY, err);
}

/* 8. readonlyPaths: bound onto themselves, then read-only. */
static int readonly_paths(int root_fd, const struct oci_linux *l, berth_error_t *err)
{
	for (size_t i = 0; i < l->readonly_paths_len; i++) {
		const char *path = l->readonly_paths[i];
		cleanup_close int fd = -1, mnt = -1;
		char buf[32];
		const char *name;

		if (open_optional(root_fd, path, &fd, err) < 0)
			return -1;
		if (fd < 0)
			continue;
		name = target_name(fd, path, buf);
		if (mount(name, name, NULL, MS_BIND | MS_REC, NULL) < 0)
			return berth_error_sys(err, errno, "bind mount `%s`", path);
		mnt = safe_path_open(root_fd, path, O_PATH, 0, err);
		if (mnt < 0)
			return -1;
		if (make_readonly_recursive(mnt, path, err) < 0)
			return -1;
	}
	return 0;
}

/* 9. maskedPaths: /dev/null over files, an empty read-only tmpfs over
 *    directories. */
/* The container's /dev/null, checked to be the null device: a rootfs could
 * have planted a symlink or another file there, and binding that over a
 * masked path would expose it (the class of CVE-2025-31133). */
static int open_null_device(berth_error_t *err)
{
	cleanup_close int fd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return berth_error_sys(err, errno, "open `/dev/null` to mask paths");
	if (fstat(fd, &st) < 0)
		return berth_error_sys(err, errno, "stat `/dev/null`");
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
		return berth_error_invalid(err,
		                           "`/dev/null` in the container is not the null device: refusing to "
		                           "mask paths with it");
	return steal_fd(&fd);
}

static int masked_paths(int root_fd, const struct oci_linux *l, berth_error_t *err)
{
	cleanup_close int null_fd = -1;
	char null_name[32];

	for (size_t i = 0; i < l->masked_paths_len; i++) {
		const char *path = l->masked_paths[i];
		cleanup_close int fd = -1;
		struct stat st;
		char buf[32];
		int rc;

		if (open_optional(root_fd, path, &fd, err) < 0)
			return -1;
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0)
			return berth_error_sys(err, errno, "mask `%s`", path);
		if (S_ISDIR(st.st_mode)) {
			rc = mount("tmpfs", target_name(fd, path, buf), "tmpfs", MS_RDONLY, "size=0");
		} else {
			if (null_fd < 0 && (null_fd = open_null_device(err)) < 0)
				return -1;
			snprintf(null_name, sizeof(null_name), "/proc/self/fd/%d", null_fd);
			rc = mount(null_name, target_name(fd, path, buf), NULL, MS_BIND, NULL);
		}
		if (rc < 0)
			return berth_error_sys(err, errno, "mask `%s`", path);
	}
	return 0;
}

int rootfs_finalize(const struct rootfs_options *opts, berth_error_t *err)
{
	const struct oci_linux *l = opts->spec->linux_;
	const char *prop_name = root_propagation_name(opts);
	cleanup_close int root_fd = -1;
	char buf[32];

	root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return berth_error_sys(err, errno, "open `/`");

	/* 7-9. */
	if (l != NULL) {
		if (write_sysctls(root_fd, l, err) < 0)
			return -1;
		if (readonly_paths(root_fd, l, err) < 0)
			return -1;
		if (masked_paths(root_fd, l, err) < 0)
			return -1;
	}

	/* 10. root.readonly: the root mount only (mounts below keep their own
	 *     flags, as with runc), keeping the flags it has. */
	if (opts->spec->root != NULL && opts->spec->root->readonly &&
	    mount_remount_bind(root_fd, target_name(root_fd, "/", buf), "/",
	                       mount_flags_of(root_fd) | MS_RDONLY, err) < 0)
		return -1;

	/* 11. The propagation asked for, now that the mounts are in place. */
	if (prop_name != NULL) {
		unsigned long prop;
		if (mount_propagation_from_name(prop_name, &prop, err) < 0)
			return -1;
		if (mount(NULL, target_name(root_fd, "/", buf), NULL, prop, NULL) < 0)
			return berth_error_sys(err, errno, "set propagation of `/` to `%s`", prop_name);
	}
	return 0;
}

/* ---- the runtime's side, without a mount namespace ----
 *
 * Every mount init made hangs from its bind of the rootfs onto itself (step
 * 3), so one lazy unmount of that bind takes them all, and a copy of the
 * bind that went to a peer of the host's mount goes with it (the unmount
 * propagates as the mount did). Which mount is ours: create records the
 * mount on top of the rootfs path before init runs (the base: the file
 * system holding the rootfs, or a mount of the user's own on it); whatever
 * is stacked on the rootfs path above the base since is the container's.
 * Mounts of the user's own under the rootfs are beneath our bind, never in
 * it (the bind holds copies of them), so they are not touched. */

/* The id of the mount fd is on (mnt_id of /proc/self/fdinfo, as in
 * /proc/self/mountinfo). */
static int mount_id_of(int fd, const char *what, int *id, berth_error_t *err)
{
	char path[64];
	cleanup_free char *text = NULL;
	const char *line;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (fs_read_file_at(AT_FDCWD, path, &text, NULL, err) < 0)
		return berth_error_prefix(err, "mount of `%s`", what);
	line = strstr(text, "\nmnt_id:");
	if (line == NULL || sscanf(line + 8, "%d", id) != 1)
		return berth_error_set(err, BERTH_ERR_SYSTEM, 0, "mount of `%s`: no mnt_id in `%s`", what,
		                       path);
	return 0;
}

int rootfs_shared_base(const char *rootfs, int *base, berth_error_t *err)
{
	cleanup_close int fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return berth_error_sys(err, errno, "rootfs `%s`", rootfs);
	return mount_id_of(fd, rootfs, base, err);
}

/* Is mount `top` stacked on `base` at the rootfs path: every mount from
 * `top` down to just above `base` has the rootfs as its mount point? */
static int stacked_on_base(const char *rootfs, int top, int base, bool *yes, berth_error_t *err)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	cleanup_free int *ids = NULL;
	size_t cap = 0, n = 0, len = 0;

	*yes = false;
	if (f == NULL)
		return berth_error_sys(err, errno, "open `/proc/self/mountinfo`");
	/* The (id, parent) pairs of the mounts on the rootfs path. */
	while (getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX];
		int id, parent;

		if (sscanf(line, "%d %d %*s %*s %4095s", &id, &parent, mp) != 3)
			continue;
		fs_unescape_mountinfo(mp);
		if (strcmp(mp, rootfs) != 0)
			continue;
		if (n + 2 > len) {
			int *more = realloc(ids, (len = len * 2 + 16) * sizeof(int));
			if (more == NULL)
				return berth_error_sys(err, ENOMEM, "mounts of `%s`", rootfs);
			ids = more;
		}
		ids[n++] = id;
		ids[n++] = parent;
	}
	/* Down the stack: each step must be a mount on the rootfs path. */
	for (size_t steps = 0; steps <= n / 2; steps++) {
		size_t i = 0;
		while (i < n && ids[i] != top)
			i += 2;
		if (i >= n)
			return 0; /* not on the rootfs path */
		top = ids[i + 1];
		if (top == base) {
			*yes = true;
			return 0;
		}
	}
	return 0;
}

int rootfs_shared_release(const char *rootfs, int base, berth_error_t *err)
{
	/* One round per mount stacked on the rootfs path: the bind, and what a
	 * hook or a privileged container may have mounted on its "/". */
	for (int round = 0; round < 64; round++) {
		cleanup_close int fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		char p[32];
		bool ours;
		int top;

		if (fd < 0) {
			/* No rootfs, no mount on it (a mount point cannot be removed). */
			if (errno == ENOENT)
				return 0;
			return berth_error_sys(err, errno, "rootfs `%s`", rootfs);
		}
		if (mount_id_of(fd, rootfs, &top, err) < 0)
			return -1;
		if (top == base)
			return 0;
		/* Not stacked on the base: none of ours is on the path any more
		 * (the top would be stacked on it), and the top is another's: a
		 * second container's on the same rootfs, say, after a delete of
		 * the first took our base away with it. */
		if (stacked_on_base(rootfs, top, base, &ours, err) < 0)
			return -1;
		if (!ours)
			return 0;
		/* Through the fd: the very mount checked, whatever the path
		 * resolves to by now. */
		if (umount2(mount_fd_path(fd, p), MNT_DETACH) < 0)
			return berth_error_sys(err, errno, "unmount the container's mounts on `%s`", rootfs);
	}
	return berth_error_set(err, BERTH_ERR_SYSTEM, 0, "rootfs `%s`: mounts keep appearing on it", rootfs);
}
