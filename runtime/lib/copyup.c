/* tmpcopyup: a tmpfs that starts with the content of the directory it
 * covers (podman asks for it on /run, /tmp and /var/tmp of --read-only
 * containers).
 *
 * The tmpfs is made detached with the new mount API (fsopen, fsconfig,
 * fsmount), filled through fds from the target directory, given the
 * target's mode and owner, and only then moved over the target, so the
 * container never sees it half-filled and nothing is resolved by path.
 */
#include "copyup.h"
#include "mounts.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define COPY_DEPTH_MAX 64

static int copy_tree(int src_dir, int dst_dir, int depth, berth_error_t *err);

static int copy_file(int src_dir, int dst_dir, const char *name, const struct stat *st, berth_error_t *err)
{
	cleanup_close int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int out = -1;

	if (in < 0)
		return berth_error_sys(err, errno, "tmpcopyup: open `%s`", name);
	out =
	    openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 07777);
	if (out < 0)
		return berth_error_sys(err, errno, "tmpcopyup: create `%s`", name);
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 20, 0);
		if (n == 0)
			break;
		if (n < 0) {
			char buf[65536];
			ssize_t r;
			if (errno != EXDEV && errno != ENOSYS && errno != EINVAL)
				return berth_error_sys(err, errno, "tmpcopyup: copy `%s`", name);
			while ((r = read(in, buf, sizeof(buf))) > 0)
				if (fs_write_all(out, buf, (size_t)r) < 0)
					return berth_error_sys(err, errno, "tmpcopyup: copy `%s`", name);
			if (r < 0)
				return berth_error_sys(err, errno, "tmpcopyup: copy `%s`", name);
			break;
		}
	}
	if (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0)
		return berth_error_sys(err, errno, "tmpcopyup: owner of `%s`", name);
	return 0;
}

static int copy_entry(int src_dir, int dst_dir, const char *name, int depth, berth_error_t *err)
{
	struct stat st;

	if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_error_sys(err, errno, "tmpcopyup: stat `%s`", name);
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR: {
		cleanup_close int sub_src = -1, sub_dst = -1;
		if (depth >= COPY_DEPTH_MAX)
			return berth_error_invalid(err, "tmpcopyup: `%s` is nested too deep", name);
		if (mkdirat(dst_dir, name, st.st_mode & 07777) < 0)
			return berth_error_sys(err, errno, "tmpcopyup: mkdir `%s`", name);
		sub_src = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		sub_dst = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub_src < 0 || sub_dst < 0)
			return berth_error_sys(err, errno, "tmpcopyup: open `%s`", name);
		if (copy_tree(sub_src, sub_dst, depth + 1, err) < 0)
			return -1;
		if (fchown(sub_dst, st.st_uid, st.st_gid) < 0 || fchmod(sub_dst, st.st_mode & 07777) < 0)
			return berth_error_sys(err, errno, "tmpcopyup: owner of `%s`", name);
		return 0;
	}
	case S_IFREG:
		return copy_file(src_dir, dst_dir, name, &st, err);
	case S_IFLNK: {
		char target[4096];
		ssize_t n = readlinkat(src_dir, name, target, sizeof(target) - 1);
		if (n < 0)
			return berth_error_sys(err, errno, "tmpcopyup: readlink `%s`", name);
		target[n] = '\0';
		if (symlinkat(target, dst_dir, name) < 0 ||
		    fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_error_sys(err, errno, "tmpcopyup: symlink `%s`", name);
		return 0;
	}
	default: /* devices, fifos, sockets */
		if (mknodat(dst_dir, name, st.st_mode, st.st_rdev) < 0 ||
		    fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_error_sys(err, errno, "tmpcopyup: mknod `%s`", name);
		return 0;
	}
}

static int copy_tree(int src_dir, int dst_dir, int depth, berth_error_t *err)
{
	cleanup_dir DIR *dir = NULL;
	int fd = dup(src_dir);
	struct dirent *de;

	if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return berth_error_sys(err, errno, "tmpcopyup: read directory");
	}
	while ((errno = 0, de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (copy_entry(src_dir, dst_dir, de->d_name, depth, err) < 0)
			return -1;
	}
	return 0;
}

/* "mode=755,size=1m,nr_inodes" -> fsconfig calls. */
static int configure(int fs_fd, const char *data, berth_error_t *err)
{
	cleanup_free char *copy = data != NULL ? strdup(data) : NULL;
	char *save = NULL;

	if (data != NULL && copy == NULL)
		return berth_error_sys(err, ENOMEM, "tmpcopyup");
	for (char *opt = copy != NULL ? strtok_r(copy, ",", &save) : NULL; opt != NULL;
	     opt = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(opt, '=');
		int r;
		if (eq != NULL) {
			*eq = '\0';
			r = (int)syscall(SYS_fsconfig, fs_fd, FSCONFIG_SET_STRING, opt, eq + 1, 0);
		} else {
			r = (int)syscall(SYS_fsconfig, fs_fd, FSCONFIG_SET_FLAG, opt, NULL, 0);
		}
		if (r < 0)
			return berth_error_sys(err, errno, "tmpfs option `%s`", opt);
	}
	if (syscall(SYS_fsconfig, fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return berth_error_sys(err, errno, "create tmpfs");
	return 0;
}

int copyup_mount_tmpfs(int target, const char *source, const char *data, unsigned long ms_flags,
                       berth_error_t *err)
{
	cleanup_close int fs_fd = -1, mnt_fd = -1, src = -1, root = -1;
	struct stat st;

	src = openat(target, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0)
		return berth_error_sys(err, errno, "tmpcopyup: open the target");
	fs_fd = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fs_fd < 0)
		return berth_error_sys(err, errno, "fsopen tmpfs");
	if (syscall(SYS_fsconfig, fs_fd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
		return berth_error_sys(err, errno, "tmpfs source `%s`", source);
	if (configure(fs_fd, data, err) < 0)
		return -1;
	mnt_fd =
	    (int)syscall(SYS_fsmount, fs_fd, FSMOUNT_CLOEXEC, mount_attrs_of(ms_flags) & ~MOUNT_ATTR_RDONLY);
	if (mnt_fd < 0)
		return berth_error_sys(err, errno, "fsmount tmpfs");
	root = openat(mnt_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return berth_error_sys(err, errno, "tmpcopyup: open the tmpfs");
	if (copy_tree(src, root, 0, err) < 0)
		return -1;
	if (fchown(root, st.st_uid, st.st_gid) < 0 || fchmod(root, st.st_mode & 07777) < 0)
		return berth_error_sys(err, errno, "tmpcopyup: owner of the tmpfs");
	if (syscall(SYS_move_mount, mnt_fd, "", target, "",
	            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return berth_error_sys(err, errno, "move tmpfs into place");
	/* Read-only only after it is filled. */
	if (ms_flags & MS_RDONLY) {
		struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
		if (syscall(SYS_mount_setattr, mnt_fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
			return berth_error_sys(err, errno, "make tmpfs read-only");
	}
	return 0;
}
