/* /dev inside the container.
 *
 * Device nodes are made with mknodat on the fd of their parent directory,
 * itself opened through safe_path, so a /dev that is a symlink to the host's
 * /dev leads back into the rootfs.  The umask is 0 around mknodat so the
 * mode is the one asked for.  In a user namespace mknod of a device is not
 * allowed: the host's node is bind mounted onto an empty file instead (as
 * runc does); FIFOs need no privilege and are always made.
 */
#include "config.h"
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mounts.h"
#include "safe_path.h"
#include "util/cleanup.h"

struct device {
	const char *path;
	char type; /* c, b, u or p */
	unsigned major, minor;
	mode_t mode; /* permission bits */
	uid_t uid;
	gid_t gid;
};

/* What every container gets (runtime-spec config-linux.md, "Default Devices"). */
static const struct device default_devices[] = {
    {"/dev/null", 'c', 1, 3, 0666, 0, 0},    {"/dev/zero", 'c', 1, 5, 0666, 0, 0},
    {"/dev/full", 'c', 1, 7, 0666, 0, 0},    {"/dev/random", 'c', 1, 8, 0666, 0, 0},
    {"/dev/urandom", 'c', 1, 9, 0666, 0, 0}, {"/dev/tty", 'c', 5, 0, 0666, 0, 0},
};

static const struct {
	const char *name;
	const char *target;
} dev_symlinks[] = {
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
};

static int type_bits(char type, mode_t *out)
{
	switch (type) {
	case 'c':
	case 'u':
		*out = S_IFCHR;
		return 0;
	case 'b':
		*out = S_IFBLK;
		return 0;
	case 'p':
		*out = S_IFIFO;
		return 0;
	default:
		return -1;
	}
}

/* Splits "/dev/sub/name" into its parent (opened safely) and "name". */
static int open_parent(int root_fd, const char *path, const char **name, berth_error_t *err)
{
	cleanup_free char *parent = strdup(path);
	char *slash;

	if (parent == NULL)
		return berth_error_sys(err, ENOMEM, "device `%s`", path);
	slash = strrchr(parent, '/');
	*name = strrchr(path, '/');
	*name = *name != NULL ? *name + 1 : path;
	if (**name == '\0' || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0)
		return berth_error_invalid(err, "device `%s`: not a file name", path);
	if (slash == NULL)
		return safe_path_mkdir_all(root_fd, ".", 0755, err);
	*slash = '\0';
	return safe_path_mkdir_all(root_fd, parent[0] != '\0' ? parent : "/", 0755, err);
}

/* The node `name` in the opened directory `dir`, with exactly the mode asked
 * for: the caller holds the umask at 0.  An existing entry is left as it is
 * (runc does the same): it belongs to the image. */
static int mknod_in(int dir, const char *name, const struct device *d, berth_error_t *err)
{
	mode_t type;

	if (type_bits(d->type, &type) < 0)
		return berth_error_invalid(err, "device `%s`: unknown type `%c`", d->path, d->type);
	if (mknodat(dir, name, type | (d->mode & 07777), makedev(d->major, d->minor)) < 0) {
		if (errno == EEXIST)
			return 0;
		return berth_error_sys(err, errno, "mknod `%s`", d->path);
	}
	/* Its owner; never follow: the name is ours, just made. */
	if (fchownat(dir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_error_sys(err, errno, "chown `%s`", d->path);
	return 0;
}

static int mknod_device(int root_fd, const struct device *d, berth_error_t *err)
{
	cleanup_close int dir = -1;
	const char *name = NULL;
	mode_t old_umask;
	int rc;

	dir = open_parent(root_fd, d->path, &name, err);
	if (dir < 0)
		return -1;
	old_umask = umask(0);
	rc = mknod_in(dir, name, d, err);
	umask(old_umask);
	return rc;
}

/* In a user namespace: an empty file with the host's node bound onto it. */
static int bind_device(int root_fd, const struct device *d, berth_error_t *err)
{
	cleanup_close int target = -1;
	char p[32];

	target = safe_path_create_file(root_fd, d->path, 0000, err);
	if (target < 0)
		return berth_error_prefix(err, "device `%s`", d->path);
	if (mount(d->path, mount_fd_path(target, p), NULL, MS_BIND, NULL) < 0)
		return berth_error_sys(err, errno, "mount `%s` to `%s`", d->path, d->path);
	return 0;
}

static int create_device(int root_fd, const struct device *d, bool in_user_namespace, berth_error_t *err)
{
	if (in_user_namespace && d->type != 'p')
		return bind_device(root_fd, d, err);
	return mknod_device(root_fd, d, err);
}

static int device_from_spec(const struct oci_device *o, struct device *d, berth_error_t *err)
{
	if (o->path == NULL || o->type == NULL || strlen(o->type) != 1)
		return berth_error_invalid(err, "linux.devices: an entry needs a path and a type");
	if (o->major < 0 || o->minor < 0 || o->major > 0xfff || o->minor > 0xfffff)
		return berth_error_invalid(err, "device `%s`: bad major/minor %lld:%lld", o->path,
		                           (long long)o->major, (long long)o->minor);
	d->path = o->path;
	d->type = o->type[0];
	d->major = (unsigned)o->major;
	d->minor = (unsigned)o->minor;
	d->mode = o->file_mode.set ? (mode_t)o->file_mode.value : 0666;
	d->uid = o->uid.set ? o->uid.value : 0;
	d->gid = o->gid.set ? o->gid.value : 0;
	return 0;
}

/* A default device that linux.devices redefines is made from linux.devices. */
static bool overridden(const struct oci_spec *spec, const char *path)
{
	if (spec->linux_ == NULL)
		return false;
	for (size_t i = 0; i < spec->linux_->devices_len; i++)
		if (spec->linux_->devices[i].path != NULL && strcmp(spec->linux_->devices[i].path, path) == 0)
			return true;
	return false;
}

static bool has_devpts(const struct oci_spec *spec)
{
	for (size_t i = 0; i < spec->mounts_len; i++) {
		const struct oci_mount *m = &spec->mounts[i];
		if (m->type != NULL && strcmp(m->type, "devpts") == 0 && m->destination != NULL &&
		    strcmp(m->destination, "/dev/pts") == 0)
			return true;
	}
	return false;
}

static int create_symlinks(int dev, const struct oci_spec *spec, berth_error_t *err)
{
	for (size_t i = 0; i < sizeof(dev_symlinks) / sizeof(dev_symlinks[0]); i++) {
		if (symlinkat(dev_symlinks[i].target, dev, dev_symlinks[i].name) < 0 && errno != EEXIST)
			return berth_error_sys(err, errno, "symlink `/dev/%s`", dev_symlinks[i].name);
	}
	/* A devpts of our own (newinstance): /dev/ptmx must be its ptmx. */
	if (has_devpts(spec)) {
		if (unlinkat(dev, "ptmx", 0) < 0 && errno != ENOENT)
			return berth_error_sys(err, errno, "remove `/dev/ptmx`");
		if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
			return berth_error_sys(err, errno, "symlink `/dev/ptmx`");
	}
	return 0;
}

/* The default devices, all right in /dev (opened as `dev`): one umask
 * change for them all. */
static int create_default_devices(int root_fd, int dev, const struct oci_spec *spec, bool in_user_namespace,
                                  berth_error_t *err)
{
	mode_t old_umask;
	int rc = 0;

	if (in_user_namespace) {
		for (size_t i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++)
			if (!overridden(spec, default_devices[i].path) &&
			    bind_device(root_fd, &default_devices[i], err) < 0)
				return -1;
		return 0;
	}
	old_umask = umask(0);
	for (size_t i = 0; rc == 0 && i < sizeof(default_devices) / sizeof(default_devices[0]); i++)
		if (!overridden(spec, default_devices[i].path))
			rc = mknod_in(dev, default_devices[i].path + strlen("/dev/"), &default_devices[i],
			              err);
	umask(old_umask);
	return rc;
}

int devices_setup(int root_fd, const struct oci_spec *spec, bool in_user_namespace, berth_error_t *err)
{
	cleanup_close int dev = safe_path_mkdir_all(root_fd, "/dev", 0755, err);

	if (dev < 0)
		return -1;
	/* 1. Default devices. */
	if (create_default_devices(root_fd, dev, spec, in_user_namespace, err) < 0)
		return -1;

	/* 2. linux.devices. */
	for (size_t i = 0; spec->linux_ != NULL && i < spec->linux_->devices_len; i++) {
		struct device d;
		if (device_from_spec(&spec->linux_->devices[i], &d, err) < 0)
			return -1;
		if (create_device(root_fd, &d, in_user_namespace, err) < 0)
			return -1;
	}

	/* 3. Symlinks. */
	return create_symlinks(dev, spec, err);
}
