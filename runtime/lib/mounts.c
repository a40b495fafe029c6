/* The mounts of config.json, one entry at a time.
 *
 * Every target is created and opened through safe_path (inside the rootfs,
 * never following a symlink out of it) and mount(2) is given
 * "/proc/self/fd/N" of that O_PATH fd, never the path: a container that
 * swaps a directory for a symlink between our check and our mount cannot
 * make the mount land on the host (CVE-2021-30465).  After a mount the
 * target is opened again, so remounts and propagation changes act on the
 * new mount and not on the directory under it.
 *
 * Kinds of entries:
 *   bind / rbind   source on the host (relative to the bundle), target made
 *                  as a directory or a file to match; flags beyond MS_BIND /
 *                  MS_REC need a remount; propagation needs its own call
 *   sysfs          without a network namespace of its own the container
 *                  cannot mount sysfs: bind the host's /sys (as runc)
 *   cgroup         v2 host: cgroup2.  v1 / hybrid host: a tmpfs with the
 *                  container's view of every hierarchy bound below it
 *   anything else  mount(source, target, type, flags, data); in a user
 *                  namespace proc / sysfs / mqueue may be refused (EPERM):
 *                  then bind the host's instance recursively
 */
#include "config.h"
#include "mounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sched.h>
#include <sys/wait.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"
#include "copyup.h"
#include "safe_path.h"
#include "security.h"
#include "util/cleanup.h"
#include "util/fs.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

/* ---- option parsing ---- */

enum opt_kind {
	OPT_SET,   /* sets flag */
	OPT_CLEAR, /* clears flag */
	OPT_PROPAGATION,
	OPT_REC_SET, /* mount_setattr(AT_RECURSIVE) attr_set */
	OPT_REC_CLR,
	OPT_TMPCOPYUP,
	OPT_IDMAP, /* flag: 1 "idmap", 2 "ridmap" */
	OPT_IGNORE,
	OPT_REFUSE,
};

struct opt_def {
	const char *name;
	enum opt_kind kind;
	unsigned long flag; /* MS_* or MOUNT_ATTR_* */
};

static const struct opt_def opt_defs[] = {
    {"defaults", OPT_IGNORE, 0},
    {"ro", OPT_SET, MS_RDONLY},
    {"rw", OPT_CLEAR, MS_RDONLY},
    {"nosuid", OPT_SET, MS_NOSUID},
    {"suid", OPT_CLEAR, MS_NOSUID},
    {"nodev", OPT_SET, MS_NODEV},
    {"dev", OPT_CLEAR, MS_NODEV},
    {"noexec", OPT_SET, MS_NOEXEC},
    {"exec", OPT_CLEAR, MS_NOEXEC},
    {"sync", OPT_SET, MS_SYNCHRONOUS},
    {"async", OPT_CLEAR, MS_SYNCHRONOUS},
    {"dirsync", OPT_SET, MS_DIRSYNC},
    {"remount", OPT_SET, MS_REMOUNT},
    {"mand", OPT_SET, MS_MANDLOCK},
    {"nomand", OPT_CLEAR, MS_MANDLOCK},
    {"atime", OPT_CLEAR, MS_NOATIME},
    {"noatime", OPT_SET, MS_NOATIME},
    {"relatime", OPT_SET, MS_RELATIME},
    {"norelatime", OPT_CLEAR, MS_RELATIME},
    {"strictatime", OPT_SET, MS_STRICTATIME},
    {"nostrictatime", OPT_CLEAR, MS_STRICTATIME},
    {"diratime", OPT_CLEAR, MS_NODIRATIME},
    {"nodiratime", OPT_SET, MS_NODIRATIME},
    {"iversion", OPT_SET, MS_I_VERSION},
    {"noiversion", OPT_CLEAR, MS_I_VERSION},
    {"lazytime", OPT_SET, MS_LAZYTIME},
    {"nolazytime", OPT_CLEAR, MS_LAZYTIME},
    {"nosymfollow", OPT_SET, MS_NOSYMFOLLOW},
    {"symfollow", OPT_CLEAR, MS_NOSYMFOLLOW},
    {"silent", OPT_SET, MS_SILENT},
    {"loud", OPT_CLEAR, MS_SILENT},
    {"bind", OPT_SET, MS_BIND},
    {"rbind", OPT_SET, MS_BIND | MS_REC},
    {"private", OPT_PROPAGATION, MS_PRIVATE},
    {"rprivate", OPT_PROPAGATION, MS_PRIVATE | MS_REC},
    {"shared", OPT_PROPAGATION, MS_SHARED},
    {"rshared", OPT_PROPAGATION, MS_SHARED | MS_REC},
    {"slave", OPT_PROPAGATION, MS_SLAVE},
    {"rslave", OPT_PROPAGATION, MS_SLAVE | MS_REC},
    {"unbindable", OPT_PROPAGATION, MS_UNBINDABLE},
    {"runbindable", OPT_PROPAGATION, MS_UNBINDABLE | MS_REC},
    /* The recursive variants of the runtime-spec (mount_setattr). */
    {"rro", OPT_REC_SET, MOUNT_ATTR_RDONLY},
    {"rrw", OPT_REC_CLR, MOUNT_ATTR_RDONLY},
    {"rnosuid", OPT_REC_SET, MOUNT_ATTR_NOSUID},
    {"rsuid", OPT_REC_CLR, MOUNT_ATTR_NOSUID},
    {"rnodev", OPT_REC_SET, MOUNT_ATTR_NODEV},
    {"rdev", OPT_REC_CLR, MOUNT_ATTR_NODEV},
    {"rnoexec", OPT_REC_SET, MOUNT_ATTR_NOEXEC},
    {"rexec", OPT_REC_CLR, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", OPT_REC_SET, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", OPT_REC_CLR, MOUNT_ATTR_NODIRATIME},
    {"rnosymfollow", OPT_REC_SET, MOUNT_ATTR_NOSYMFOLLOW},
    {"rsymfollow", OPT_REC_CLR, MOUNT_ATTR_NOSYMFOLLOW},
    {"tmpcopyup", OPT_TMPCOPYUP, 0},
    {"idmap", OPT_IDMAP, 1},
    {"ridmap", OPT_IDMAP, 2},
};

static const struct opt_def *opt_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++)
		if (strcmp(opt_defs[i].name, name) == 0)
			return &opt_defs[i];
	return NULL;
}

const char *mount_option_name(size_t i, bool *supported)
{
	if (i >= sizeof(opt_defs) / sizeof(opt_defs[0]))
		return NULL;
	*supported = opt_defs[i].kind != OPT_REFUSE;
	return opt_defs[i].name;
}

static int data_append(char **data, const char *opt)
{
	char *n = NULL;

	if (*data == NULL)
		n = strdup(opt);
	else if (asprintf(&n, "%s,%s", *data, opt) < 0)
		n = NULL;
	if (n == NULL)
		return -1;
	free(*data);
	*data = n;
	return 0;
}

int mount_options_parse(char *const *options, size_t len, struct mount_options *out, berth_error_t *err)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < len; i++) {
		const char *o = options[i];
		const struct opt_def *d = opt_lookup(o);

		if (d == NULL) {
			/* Not ours: the file system reads it (mode=, size=, gid=, ...). */
			if (data_append(&out->data, o) < 0) {
				mount_options_free(out);
				return berth_error_sys(err, ENOMEM, "mount option `%s`", o);
			}
			continue;
		}
		switch (d->kind) {
		case OPT_SET:
			out->flags |= d->flag;
			out->clear &= ~d->flag;
			break;
		case OPT_CLEAR:
			out->flags &= ~d->flag;
			out->clear |= d->flag;
			break;
		case OPT_PROPAGATION:
			/* The last one wins, as with mount(8). */
			out->propagation = d->flag;
			break;
		case OPT_REC_SET:
			out->rec_attr_set |= d->flag;
			out->rec_attr_clr &= ~(uint64_t)d->flag;
			break;
		case OPT_REC_CLR:
			out->rec_attr_clr |= d->flag;
			out->rec_attr_set &= ~(uint64_t)d->flag;
			break;
		case OPT_TMPCOPYUP:
			out->tmpcopyup = true;
			break;
		case OPT_IDMAP:
			out->idmap = true;
			out->idmap_recursive = d->flag == 2;
			break;
		case OPT_IGNORE:
			break;
		case OPT_REFUSE:
			mount_options_free(out);
			return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0,
			                       "mount option `%s` is not supported", o);
		}
	}
	return 0;
}

void mount_options_free(struct mount_options *opts)
{
	free(opts->data);
	opts->data = NULL;
}

int mount_propagation_from_name(const char *name, unsigned long *flags, berth_error_t *err)
{
	const struct opt_def *d = opt_lookup(name);

	if (d == NULL || d->kind != OPT_PROPAGATION)
		return berth_error_invalid(err, "unknown rootfs propagation `%s`", name);
	*flags = d->flag;
	return 0;
}

/* ---- mount primitives ---- */

const char *mount_fd_path(int fd, char buf[static 32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return buf;
}

unsigned long mount_flags_of(int fd)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (fstatvfs(fd, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_RDONLY)
		f |= MS_RDONLY;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

uint64_t mount_attrs_of(unsigned long ms_flags)
{
	uint64_t a = 0;
	if (ms_flags & MS_RDONLY)
		a |= MOUNT_ATTR_RDONLY;
	if (ms_flags & MS_NOSUID)
		a |= MOUNT_ATTR_NOSUID;
	if (ms_flags & MS_NODEV)
		a |= MOUNT_ATTR_NODEV;
	if (ms_flags & MS_NOEXEC)
		a |= MOUNT_ATTR_NOEXEC;
	if (ms_flags & MS_NODIRATIME)
		a |= MOUNT_ATTR_NODIRATIME;
	if (ms_flags & MS_NOATIME)
		a |= MOUNT_ATTR_NOATIME;
	else if (ms_flags & MS_STRICTATIME)
		a |= MOUNT_ATTR_STRICTATIME;
	return a;
}

int mount_remount_bind(int fd, const char *target, const char *what, unsigned long flags, berth_error_t *err)
{
	const unsigned long atime = MS_NOATIME | MS_RELATIME | MS_STRICTATIME | MS_NODIRATIME;
	char p[32];
	unsigned long locked;

	if (target == NULL)
		target = mount_fd_path(fd, p);
	flags &= ~(MS_BIND | MS_REC | MS_REMOUNT);
	if (mount("", target, NULL, MS_BIND | MS_REMOUNT | flags, NULL) == 0)
		return 0;
	if (errno != EPERM)
		return berth_error_sys(err, errno, "remount `%s`", what);

	/* 2. EPERM: keep what the source has locked.  The atime mode is locked
	 *    as a whole, so take the source's in place of ours. */
	locked = mount_flags_of(fd);
	flags |= locked & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
	flags = (flags & ~atime) | (locked & atime);
	if (mount("", target, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
		return berth_error_sys(err, errno, "remount `%s`", what);
	return 0;
}

/* After a mount: the recursive attributes and the propagation, on the new mount. */
static int apply_after(const struct mount_context *ctx, int fd, const char *dest,
                       const struct mount_options *o, berth_error_t *err)
{
	char p[32];

	/* In the runtime's mount namespace, a bind of a shared host mount
	 * joined its peer group: made rslave before anything is mounted below
	 * it, it is what it would be in a namespace of our own (a slave of the
	 * host's), and a propagation asked for starts from there. */
	if (ctx->shared_mount_ns && mount(NULL, mount_fd_path(fd, p), NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return berth_error_sys(err, errno, "make `%s` rslave", dest);
	if (o->rec_attr_set != 0 || o->rec_attr_clr != 0) {
		struct mount_attr attr = {.attr_set = o->rec_attr_set, .attr_clr = o->rec_attr_clr};
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
			return berth_error_sys(err, errno, "set recursive attributes of `%s`", dest);
	}
	if (o->propagation != 0 && mount(NULL, mount_fd_path(fd, p), NULL, o->propagation, NULL) < 0)
		return berth_error_sys(err, errno, "set propagation of `%s`", dest);
	return 0;
}

/* Binds host path `source` onto the opened target and makes the flags
 * stick; `dest` names the target in errors. */
static int bind_onto(const struct mount_context *ctx, const char *source, int target_fd, const char *dest,
                     const struct mount_options *o, berth_error_t *err)
{
	cleanup_close int fd = -1;
	char p[32];

	/* 1. The bind itself (MS_REC from rbind). */
	if (mount(source, mount_fd_path(target_fd, p), NULL, MS_BIND | (o->flags & MS_REC), NULL) < 0)
		return berth_error_sys(err, errno, "mount `%s` to `%s`", source, dest);

	/* 2. The new mount, for what follows. */
	fd = safe_path_open(ctx->root_fd, dest, O_PATH, 0, err);
	if (fd < 0)
		return berth_error_prefix(err, "mount `%s` to `%s`", source, dest);

	/* 3. A bind ignores ro, nosuid, ...: they take a remount. */
	if ((o->flags & ~(MS_BIND | MS_REC | MS_REMOUNT)) != 0 &&
	    mount_remount_bind(fd, NULL, dest, o->flags, err) < 0)
		return -1;

	/* 4. Recursive attributes and propagation. */
	return apply_after(ctx, fd, dest, o, err);
}

static const char *bind_source(const struct mount_context *ctx, const char *source, char **owned)
{
	*owned = NULL;
	if (source[0] == '/' || ctx->bundle == NULL)
		return source;
	if (asprintf(owned, "%s/%s", ctx->bundle, source) < 0) {
		*owned = NULL;
		return NULL;
	}
	return *owned;
}

/* The target of a bind: a directory for a directory, a file otherwise. */
static int bind_target(const struct mount_context *ctx, const char *source, const char *dest,
                       berth_error_t *err)
{
	struct stat st;

	if (stat(source, &st) < 0)
		return berth_error_sys(err, errno, "stat `%s`", source);
	if (S_ISDIR(st.st_mode))
		return safe_path_mkdir_all(ctx->root_fd, dest, 0755, err);
	return safe_path_create_file(ctx->root_fd, dest, 0644, err);
}

/* The container's id of `id` as the host sees it: through linux.uidMappings
 * (or gidMappings) when the container has a user namespace of its own. */
static unsigned int host_id_of(const struct oci_id_mapping *m, size_t n, unsigned int id)
{
	for (size_t i = 0; i < n; i++)
		if (id >= m[i].container_id && id - m[i].container_id < m[i].size)
			return m[i].host_id + (id - m[i].container_id);
	return id;
}

/* A user namespace holding a mount's id mappings, for MOUNT_ATTR_IDMAP: a
 * child made in it only to name it, killed once its ns fd is open. */
static int idmap_userns(const struct oci_spec *spec, const struct oci_mount *m, berth_error_t *err)
{
	const struct oci_linux *l = spec->linux_;
	bool userns = oci_spec_namespace(spec, OCI_NS_USER) != NULL;
	const struct oci_id_mapping *maps[2] = {m->uid_mappings, m->gid_mappings};
	size_t lens[2] = {m->uid_mappings_len, m->gid_mappings_len};
	const struct oci_id_mapping *ns_maps[2] = {l->uid_mappings, l->gid_mappings};
	size_t ns_lens[2] = {l->uid_mappings_len, l->gid_mappings_len};
	static const char *const files[2] = {"uid_map", "gid_map"};
	char path[64], buf[4096];
	int fd = -1;
	pid_t pid;

	pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		return berth_error_sys(err, errno, "idmapped mount `%s`: user namespace", m->destination);
	if (pid == 0) {
		for (;;)
			pause();
	}
	for (int i = 0; i < 2; i++) {
		size_t len = 0;
		/* The file system's ids (hostID) are the ids inside this
		 * namespace; on the mount they show as the container's ids
		 * (containerID), in host terms. */
		for (size_t j = 0; j < lens[i] && len < sizeof(buf) - 64; j++)
			len += (size_t)snprintf(
			    buf + len, sizeof(buf) - len, "%u %u %u\n", maps[i][j].host_id,
			    userns ? host_id_of(ns_maps[i], ns_lens[i], maps[i][j].container_id)
			           : maps[i][j].container_id,
			    maps[i][j].size);
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[i]);
		if (len > 0 && fs_write_string_at(AT_FDCWD, path, buf, err) < 0)
			goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		berth_error_sys(err, errno, "idmapped mount `%s`: user namespace", m->destination);
out:
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return fd;
}

static bool is_idmapped(const struct oci_mount *m, const struct mount_options *o)
{
	return o->idmap || m->uid_mappings_len > 0 || m->gid_mappings_len > 0;
}

/* A detached copy of the source tree with the mount's id mapping. */
static int idmapped_tree(const struct oci_spec *spec, const struct oci_mount *m, const char *source,
                         const struct mount_options *o, berth_error_t *err)
{
	cleanup_close int userns = -1, tree = -1;
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP};

	if (m->uid_mappings_len == 0 || m->gid_mappings_len == 0)
		return berth_error_invalid(
		    err, "mount `%s`: an idmapped mount needs uidMappings and gidMappings", m->destination);
	userns = idmap_userns(spec, m, err);
	if (userns < 0)
		return -1;
	tree = (int)syscall(SYS_open_tree, AT_FDCWD, source,
	                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((o->flags & MS_REC) ? AT_RECURSIVE : 0));
	if (tree < 0)
		return berth_error_sys(err, errno, "mount `%s` to `%s`: open_tree", source, m->destination);
	attr.userns_fd = (uint64_t)userns;
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (o->idmap_recursive ? AT_RECURSIVE : 0),
	            &attr, sizeof(attr)) < 0)
		return berth_error_sys(err, errno, "mount `%s` to `%s`: id-map the mount", source,
		                       m->destination);
	return steal_fd(&tree);
}

int mounts_prepare_idmapped(const struct oci_spec *spec, const char *bundle, int **fds_out,
                            berth_error_t *err)
{
	struct mount_context ctx = {.spec = spec, .bundle = bundle};
	int *fds = NULL;

	*fds_out = NULL;
	for (size_t i = 0; i < spec->mounts_len; i++) {
		const struct oci_mount *m = &spec->mounts[i];
		struct mount_options o;
		cleanup_free char *owned = NULL;
		const char *source;
		int ok;

		if (m->source == NULL || mount_options_parse(m->options, m->options_len, &o, err) < 0) {
			if (m->source == NULL)
				continue;
			goto fail;
		}
		ok = is_idmapped(m, &o);
		if (ok && fds == NULL) {
			fds = malloc(spec->mounts_len * sizeof(int));
			if (fds == NULL) {
				mount_options_free(&o);
				berth_error_sys(err, ENOMEM, "idmapped mounts");
				goto fail;
			}
			for (size_t j = 0; j < spec->mounts_len; j++)
				fds[j] = -1;
		}
		if (ok) {
			source = bind_source(&ctx, m->source, &owned);
			fds[i] = source != NULL ? idmapped_tree(spec, m, source, &o, err) : -1;
			if (fds[i] < 0) {
				mount_options_free(&o);
				goto fail;
			}
		}
		mount_options_free(&o);
	}
	*fds_out = fds;
	return 0;
fail:
	mounts_close_idmapped(fds, spec->mounts_len);
	return -1;
}

void mounts_close_idmapped(int *fds, size_t n)
{
	for (size_t i = 0; fds != NULL && i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

/* An id-mapped bind: the tree the runtime prepared, moved onto the target. */
static int bind_idmapped(const struct mount_context *ctx, const struct oci_mount *m, int target,
                         const struct mount_options *o, berth_error_t *err)
{
	cleanup_close int fd = -1;
	int tree = ctx->idmap_fds != NULL ? ctx->idmap_fds[m - ctx->spec->mounts] : -1;

	if (tree < 0)
		return berth_error_invalid(err, "mount `%s`: the idmapped mount was not prepared",
		                           m->destination);
	if (syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return berth_error_sys(err, errno, "mount `%s` to `%s`", m->source, m->destination);
	fd = safe_path_open(ctx->root_fd, m->destination, O_PATH, 0, err);
	if (fd < 0)
		return berth_error_prefix(err, "mount `%s` to `%s`", m->source, m->destination);
	if ((o->flags & ~(MS_BIND | MS_REC | MS_REMOUNT)) != 0 &&
	    mount_remount_bind(fd, NULL, m->destination, o->flags, err) < 0)
		return -1;
	return apply_after(ctx, fd, m->destination, o, err);
}

static int mount_bind(const struct mount_context *ctx, const struct oci_mount *m,
                      const struct mount_options *o, berth_error_t *err)
{
	cleanup_free char *owned = NULL;
	cleanup_close int target = -1;
	const char *source;

	if (m->source == NULL)
		return berth_error_invalid(err, "mount `%s`: a bind mount needs a source", m->destination);
	source = bind_source(ctx, m->source, &owned);
	if (source == NULL)
		return berth_error_sys(err, ENOMEM, "mount `%s`", m->destination);
	target = bind_target(ctx, source, m->destination, err);
	if (target < 0)
		return berth_error_prefix(err, "mount `%s` to `%s`", source, m->destination);
	if (is_idmapped(m, o))
		return bind_idmapped(ctx, m, target, o, err);
	return bind_onto(ctx, source, target, m->destination, o, err);
}

/* A recursive bind of the host's instance, in place of a file system the
 * kernel did not let us mount (sysfs without a network namespace, proc in a
 * user namespace). */
static int mount_host_instance(const struct mount_context *ctx, const char *host_path, int target,
                               const char *dest, const struct mount_options *o, berth_error_t *err)
{
	struct mount_options rec = *o;

	rec.flags |= MS_BIND | MS_REC;
	/* rslave unless asked otherwise: what we mount on top of the host's
	 * instance (a cgroup tmpfs on /sys) must not propagate back to it. */
	if (rec.propagation == 0)
		rec.propagation = MS_SLAVE | MS_REC;
	return bind_onto(ctx, host_path, target, dest, &rec, err);
}

static const char *host_instance(const char *type)
{
	if (strcmp(type, "proc") == 0)
		return "/proc";
	if (strcmp(type, "sysfs") == 0)
		return "/sys";
	if (strcmp(type, "mqueue") == 0)
		return "/dev/mqueue";
	return NULL;
}

static int mount_fs(const struct mount_context *ctx, const struct oci_mount *m, const struct mount_options *o,
                    berth_error_t *err)
{
	const char *source = m->source != NULL ? m->source : m->type;
	cleanup_close int target = -1;
	cleanup_close int fd = -1;
	char p[32];

	/* 1. The target directory. */
	target = safe_path_mkdir_all(ctx->root_fd, m->destination, 0755, err);
	if (target < 0)
		return berth_error_prefix(err, "mount `%s` to `%s`", source, m->destination);
	if (o->tmpcopyup) {
		if (m->type == NULL || strcmp(m->type, "tmpfs") != 0)
			return berth_error_invalid(err, "mount `%s` to `%s`: tmpcopyup needs a tmpfs", source,
			                           m->destination);
		if (copyup_mount_tmpfs(target, source, o->data, o->flags, err) < 0)
			return berth_error_prefix(err, "mount `%s` to `%s`", source, m->destination);
		goto after;
	}

	/* 2. The mount; a user namespace may refuse proc, sysfs and mqueue. */
	if (mount(source, mount_fd_path(target, p), m->type, o->flags, o->data) < 0) {
		int saved = errno;
		const char *host = host_instance(m->type);

		struct stat st;

		/* Without a host instance to bind, the EPERM is the answer. */
		if (saved == EPERM && ctx->in_user_namespace && host != NULL && stat(host, &st) == 0)
			return mount_host_instance(ctx, host, target, m->destination, o, err);
		return berth_error_sys(err, saved, "mount `%s` to `%s`", source, m->destination);
	}

after:
	/* 3. Propagation and recursive attributes on the new mount. */
	if (o->propagation == 0 && o->rec_attr_set == 0 && o->rec_attr_clr == 0)
		return 0;
	fd = safe_path_open(ctx->root_fd, m->destination, O_PATH, 0, err);
	if (fd < 0)
		return berth_error_prefix(err, "mount `%s` to `%s`", source, m->destination);
	return apply_after(ctx, fd, m->destination, o, err);
}

/* ---- cgroup ---- */

/* Options of a v1 cgroup super block that are not controllers. */
static bool cgroup_non_controller(const char *opt)
{
	static const char *const skip[] = {
	    "rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods"};
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (strcmp(opt, skip[i]) == 0)
			return true;
	return strncmp(opt, "release_agent=", 14) == 0;
}

/* "rw,cpu,cpuacct" -> "cpu,cpuacct" (the key of /proc/self/cgroup). */
static char *cgroup_controllers(const char *super_opts)
{
	cleanup_free char *copy = strdup(super_opts);
	char *out = NULL, *save = NULL;

	if (copy == NULL)
		return NULL;
	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (cgroup_non_controller(t))
			continue;
		if (data_append(&out, t) < 0) {
			free(out);
			return NULL;
		}
	}
	return out != NULL ? out : strdup("");
}

/* Same controllers in any order? */
static bool same_set(const char *a, const char *b)
{
	cleanup_free char *x = strdup(a), *y = strdup(b);
	size_t na = 0, nb = 0;
	char *save = NULL;

	if (x == NULL || y == NULL)
		return false;
	for (char *t = strtok_r(x, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		char pat[NAME_MAX + 3];
		snprintf(pat, sizeof(pat), ",%s,", t);
		cleanup_free char *wrapped = NULL;
		if (asprintf(&wrapped, ",%s,", b) < 0)
			return false;
		if (strstr(wrapped, pat) == NULL)
			return false;
		na++;
	}
	save = NULL;
	for (char *t = strtok_r(y, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
		nb++;
	return na == nb;
}

/* This process's cgroup in the hierarchy with those controllers ("" for v2).
 * /proc/self/cgroup is read once: every hierarchy asks. */
static char *own_cgroup(const char *controllers)
{
	static char *content;
	char *copy, *save = NULL, *found = NULL;

	if (content == NULL && fs_read_file_at(AT_FDCWD, "/proc/self/cgroup", &content, NULL, NULL) < 0)
		return NULL;
	copy = strdup(content);
	if (copy == NULL)
		return NULL;
	for (char *line = strtok_r(copy, "\n", &save); line != NULL && found == NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c = strchr(line, ':'), *path;
		if (c == NULL || (path = strchr(c + 1, ':')) == NULL)
			continue;
		*path++ = '\0';
		if (same_set(c + 1, controllers))
			found = strdup(path);
	}
	free(copy);
	return found;
}

struct cgroup_hierarchy {
	char *root;       /* the root of the mount inside the hierarchy */
	char *mountpoint; /* /sys/fs/cgroup/<name> */
	char *fstype;     /* cgroup | cgroup2 */
	char *super_opts;
	char *source;  /* the host directory of our cgroup in it */
	int source_fd; /* ... opened before anything covers it */
	bool bound;    /* mounted as a bind (its flags still to set) */
};

static void cgroup_hierarchy_free(struct cgroup_hierarchy *h)
{
	free(h->root);
	free(h->mountpoint);
	free(h->fstype);
	free(h->super_opts);
	free(h->source);
	if (h->source_fd >= 0)
		close(h->source_fd);
	memset(h, 0, sizeof(*h));
	h->source_fd = -1;
}

/* Parses a line of /proc/self/mountinfo; 1 if it is a hierarchy right
 * below /sys/fs/cgroup. */
static int parse_cgroup_line(char *line, struct cgroup_hierarchy *h)
{
	char root[PATH_MAX], mp[PATH_MAX], fstype[64], source[PATH_MAX], super[1024];
	char *sep = strstr(line, " - ");

	if (sep == NULL || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mp) != 2)
		return 0;
	if (sscanf(sep + 3, "%63s %4095s %1023s", fstype, source, super) != 3)
		return 0;
	if (strcmp(fstype, "cgroup") != 0 && strcmp(fstype, "cgroup2") != 0)
		return 0;
	if (strncmp(mp, "/sys/fs/cgroup/", 15) != 0 || strchr(mp + 15, '/') != NULL)
		return 0;
	h->root = strdup(root);
	h->mountpoint = strdup(mp);
	h->fstype = strdup(fstype);
	h->super_opts = strdup(super);
	if (!h->root || !h->mountpoint || !h->fstype || !h->super_opts) {
		cgroup_hierarchy_free(h);
		return -1;
	}
	return 1;
}

/* The host directory that is this container's view of a hierarchy. */
static char *cgroup_bind_source(const struct cgroup_hierarchy *h)
{
	cleanup_free char *controllers = NULL, *own = NULL;
	size_t rootlen = strlen(h->root);
	const char *rel;
	char *out = NULL;

	controllers = strcmp(h->fstype, "cgroup2") == 0 ? strdup("") : cgroup_controllers(h->super_opts);
	if (controllers == NULL)
		return NULL;
	own = own_cgroup(controllers);
	/* Our cgroup must lie under the mount's root to be reachable from it. */
	if (own == NULL || strncmp(own, h->root, rootlen) != 0)
		return strdup(h->mountpoint);
	rel = strcmp(h->root, "/") == 0 ? own : own + rootlen;
	if (asprintf(&out, "%s%s", h->mountpoint, rel) < 0)
		return NULL;
	return out;
}

static bool new_cgroup_namespace(const struct oci_spec *spec)
{
	const struct oci_namespace *ns = oci_spec_namespace(spec, OCI_NS_CGROUP);
	return ns != NULL && ns->path == NULL;
}

/* One hierarchy below the tmpfs (opened as tmpfs_fd: we just mounted it,
 * nothing else can have written into it, so names in it are resolved
 * directly): with a cgroup namespace of our own, a fresh mount shows the
 * namespace's root; without one (or when the kernel refuses), a bind of
 * our own cgroup directory, whose flags are left to the caller. */
static int cgroup_v1_one(const struct mount_context *ctx, int tmpfs_fd, struct cgroup_hierarchy *h,
                         const char *dest, const struct mount_options *o, berth_error_t *err)
{
	const char *name = strrchr(h->mountpoint, '/') + 1;
	cleanup_free char *data = NULL;
	cleanup_close int target = -1;
	char p[32], src[32];

	if (mkdirat(tmpfs_fd, name, 0755) < 0 && errno != EEXIST)
		return berth_error_sys(err, errno, "mount cgroup: mkdir `%s/%s`", dest, name);
	target = openat(tmpfs_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0)
		return berth_error_sys(err, errno, "mount cgroup: open `%s/%s`", dest, name);

	if (new_cgroup_namespace(ctx->spec)) {
		bool v2 = strcmp(h->fstype, "cgroup2") == 0;
		data = v2 ? NULL : cgroup_controllers(h->super_opts);
		if (mount("cgroup", mount_fd_path(target, p), h->fstype, o->flags & ~(MS_BIND | MS_REC),
		          data) == 0)
			return 0;
		if (errno != EPERM)
			return berth_error_sys(err, errno, "mount `cgroup` to `%s/%s`", dest, name);
	}
	/* The bind source by its fd: with a shared /sys the tmpfs may have
	 * covered the host's /sys/fs/cgroup in this namespace by now. */
	if (mount(mount_fd_path(h->source_fd, src), mount_fd_path(target, p), NULL, MS_BIND, NULL) < 0)
		return berth_error_sys(err, errno, "mount `%s` to `%s/%s`", h->source, dest, name);
	h->bound = true;
	return 0;
}

/* The flags of the mount on the tmpfs and on the binds below it, where
 * mount_setattr is refused: one remount each. */
static int cgroup_v1_remount_each(int tmpfs_fd, const struct cgroup_hierarchy *hs, size_t n, const char *dest,
                                  unsigned long flags, berth_error_t *err)
{
	for (size_t i = 0; i < n; i++) {
		const char *name = strrchr(hs[i].mountpoint, '/') + 1;
		cleanup_close int fd = -1;
		char what[PATH_MAX];

		if (!hs[i].bound)
			continue;
		snprintf(what, sizeof(what), "%s/%s", dest, name);
		fd = openat(tmpfs_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return berth_error_sys(err, errno, "remount `%s`", what);
		if (mount_remount_bind(fd, NULL, what, flags, err) < 0)
			return -1;
	}
	if ((flags & MS_RDONLY) && mount_remount_bind(tmpfs_fd, NULL, dest, flags, err) < 0)
		return -1;
	return 0;
}

/* The flags asked for, on the tmpfs and every hierarchy below it: one
 * recursive mount_setattr in place of a remount per bind. */
static int cgroup_v1_flags(int tmpfs_fd, const struct cgroup_hierarchy *hs, size_t n, const char *dest,
                           unsigned long flags, berth_error_t *err)
{
	struct mount_attr attr = {.attr_set = mount_attrs_of(flags)};
	bool any = false;

	for (size_t i = 0; i < n; i++)
		any = any || hs[i].bound;
	if (!any && !(flags & MS_RDONLY))
		return 0;
	if (attr.attr_set & (MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME))
		attr.attr_clr = MOUNT_ATTR__ATIME;
	if (syscall(SYS_mount_setattr, tmpfs_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) == 0)
		return 0;
	/* An old kernel, or a flag the mount's owner locked (EPERM in a user
	 * namespace): remounts, which keep what is locked. */
	return cgroup_v1_remount_each(tmpfs_fd, hs, n, dest, flags, err);
}

/* Every hierarchy right below /sys/fs/cgroup, with its bind source open;
 * from the mountinfo the runtime read before the clone where there is one
 * and init's mount table is a copy of the runtime's (a new mount namespace)
 * or the runtime's own (none): not in a mount namespace joined by path. */
static int cgroup_v1_collect(const struct oci_spec *spec, struct cgroup_hierarchy **out, size_t *len,
                             berth_error_t *err)
{
	const struct oci_namespace *mnt = oci_spec_namespace(spec, OCI_NS_MOUNT);
	const char *cached = mnt == NULL || mnt->path == NULL ? cgroup_mountinfo() : NULL;
	cleanup_free char *text = NULL;
	char *save = NULL;

	*out = NULL;
	*len = 0;
	if (cached != NULL)
		text = strdup(cached);
	else if (fs_read_file_at(AT_FDCWD, "/proc/self/mountinfo", &text, NULL, err) < 0)
		return -1;
	if (text == NULL)
		return berth_error_sys(err, ENOMEM, "cgroup hierarchies");
	for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		struct cgroup_hierarchy h = {.source_fd = -1}, *n;
		int rc = parse_cgroup_line(line, &h);

		if (rc == 0)
			continue;
		if (rc > 0)
			h.source = cgroup_bind_source(&h);
		if (rc < 0 || h.source == NULL) {
			cgroup_hierarchy_free(&h);
			return berth_error_sys(err, ENOMEM, "cgroup hierarchies");
		}
		h.source_fd = open(h.source, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (h.source_fd < 0) {
			int e = errno;
			berth_error_sys(err, e, "open cgroup `%s`", h.source);
			cgroup_hierarchy_free(&h);
			return -1;
		}
		n = realloc(*out, (*len + 1) * sizeof(**out));
		if (n == NULL) {
			cgroup_hierarchy_free(&h);
			return berth_error_sys(err, ENOMEM, "cgroup hierarchies");
		}
		*out = n;
		(*out)[(*len)++] = h;
	}
	return 0;
}

static void cgroup_v1_free(struct cgroup_hierarchy *hs, size_t len)
{
	for (size_t i = 0; i < len; i++)
		cgroup_hierarchy_free(&hs[i]);
	free(hs);
}

/* The co-mount symlinks of the host ("cpu" -> "cpu,cpuacct"). */
static int cgroup_v1_symlinks(int tmpfs_fd, const char *dest, berth_error_t *err)
{
	cleanup_dir DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *e;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char target[PATH_MAX];
		ssize_t n;

		if (e->d_type != DT_LNK)
			continue;
		n = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (symlinkat(target, tmpfs_fd, e->d_name) < 0 && errno != EEXIST)
			return berth_error_sys(err, errno, "symlink `%s/%s`", dest, e->d_name);
	}
	return 0;
}

static int mount_cgroup_v1(const struct mount_context *ctx, const struct oci_mount *m,
                           const struct mount_options *o, berth_error_t *err)
{
	struct cgroup_hierarchy *hs = NULL;
	size_t n = 0;
	cleanup_close int target = -1, tmpfs = -1;
	char p[32];
	int rc = -1;

	/* 1. The hierarchies the host has under /sys/fs/cgroup, before the
	 *    tmpfs may hide them. */
	if (cgroup_v1_collect(ctx->spec, &hs, &n, err) < 0)
		goto out;

	/* 2. A tmpfs to hold them, writable until they are in. */
	target = safe_path_mkdir_all(ctx->root_fd, m->destination, 0755, err);
	if (target < 0) {
		berth_error_prefix(err, "mount `cgroup` to `%s`", m->destination);
		goto out;
	}
	if (mount("tmpfs", mount_fd_path(target, p), "tmpfs", o->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC),
	          "mode=755") < 0) {
		berth_error_sys(err, errno, "mount `tmpfs` to `%s`", m->destination);
		goto out;
	}
	tmpfs = safe_path_open(ctx->root_fd, m->destination, O_PATH | O_DIRECTORY, 0, err);
	if (tmpfs < 0) {
		berth_error_prefix(err, "mount `cgroup` to `%s`", m->destination);
		goto out;
	}

	/* 3. Each hierarchy. */
	for (size_t i = 0; i < n; i++)
		if (cgroup_v1_one(ctx, tmpfs, &hs[i], m->destination, o, err) < 0)
			goto out;

	/* 4. Co-mount symlinks, then the flags (read-only) on it all. */
	if (cgroup_v1_symlinks(tmpfs, m->destination, err) < 0)
		goto out;
	if (cgroup_v1_flags(tmpfs, hs, n, m->destination, o->flags & ~(MS_BIND | MS_REC | MS_REMOUNT), err) <
	    0)
		goto out;
	rc = apply_after(ctx, tmpfs, m->destination, o, err);
out:
	cgroup_v1_free(hs, n);
	return rc;
}

static int mount_cgroup(const struct mount_context *ctx, const struct oci_mount *m,
                        const struct mount_options *o, berth_error_t *err)
{
	struct statfs sfs;
	struct oci_mount v2 = *m;

	if (statfs("/sys/fs/cgroup", &sfs) < 0)
		return berth_error_sys(err, errno, "mount `cgroup` to `%s`: statfs `/sys/fs/cgroup`",
		                       m->destination);
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return mount_cgroup_v1(ctx, m, o, err);

	/* v2 only: the unified hierarchy, or a bind of the host's when the
	 * kernel refuses (a user namespace without a cgroup namespace). */
	v2.type = (char *)"cgroup2";
	v2.source = (char *)"cgroup";
	berth_error_t first = NULL;
	if (mount_fs(ctx, &v2, o, &first) == 0)
		return 0;
	if (first->errnum != EPERM) {
		berth_error_move(err, &first);
		return -1;
	}
	berth_error_free(&first);
	{
		cleanup_close int target = safe_path_mkdir_all(ctx->root_fd, m->destination, 0755, err);
		if (target < 0)
			return -1;
		return mount_host_instance(ctx, "/sys/fs/cgroup", target, m->destination, o, err);
	}
}

/* ---- one entry ---- */

static bool is_type(const struct oci_mount *m, const char *type)
{
	return m->type != NULL && strcmp(m->type, type) == 0;
}

int mounts_mount_entry(const struct mount_context *ctx, const struct oci_mount *m, berth_error_t *err)
{
	struct mount_options o;
	int rc;

	/* 1. Options. */
	if (m->destination == NULL || m->destination[0] == '\0')
		return berth_error_invalid(err, "mount: empty destination");
	if (mount_options_parse(m->options, m->options_len, &o, err) < 0)
		return berth_error_prefix(err, "mount `%s`", m->destination);
	if (is_type(m, "bind"))
		o.flags |= MS_BIND;

	/* 2. By kind. */
	if (o.flags & MS_BIND) {
		rc = mount_bind(ctx, m, &o, err);
	} else if (m->type == NULL || m->type[0] == '\0' || is_type(m, "none")) {
		rc = berth_error_invalid(err, "mount `%s`: no file system type", m->destination);
	} else if (is_type(m, "cgroup")) {
		rc = mount_cgroup(ctx, m, &o, err);
	} else if (is_type(m, "sysfs") && oci_spec_namespace(ctx->spec, OCI_NS_NETWORK) == NULL) {
		/* sysfs belongs to a network namespace: the host's is all we may have. */
		cleanup_close int target = safe_path_mkdir_all(ctx->root_fd, m->destination, 0755, err);
		rc = target < 0 ? -1 : mount_host_instance(ctx, "/sys", target, m->destination, &o, err);
	} else {
		/* The SELinux mount label goes to the file systems made here
		 * (a no-op without SELinux). */
		rc = 0;
		if ((is_type(m, "tmpfs") || is_type(m, "devpts") || is_type(m, "mqueue")) &&
		    ctx->spec->linux_ != NULL)
			rc = security_mount_label_option(ctx->spec->linux_->mount_label, &o.data, err);
		if (rc == 0)
			rc = mount_fs(ctx, m, &o, err);
	}
	mount_options_free(&o);
	return rc;
}
