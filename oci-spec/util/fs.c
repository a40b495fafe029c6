#include "fs.h"
#include "cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t fs_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int fs_read_file_at(int dirfd, const char *path, char **out, size_t *len_out, berth_error_t *err)
{
	cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t cap = 4096, len = 0;

	if (fd < 0)
		return berth_error_sys(err, errno, "open `%s`", path);
	buf = malloc(cap);
	if (buf == NULL)
		return berth_error_sys(err, ENOMEM, "read `%s`", path);
	for (;;) {
		ssize_t n;
		if (len + 1 >= cap) {
			char *bigger = realloc(buf, cap * 2);
			if (bigger == NULL)
				return berth_error_sys(err, ENOMEM, "read `%s`", path);
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berth_error_sys(err, errno, "read `%s`", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (len_out != NULL)
		*len_out = len;
	*out = steal_ptr(&buf);
	return 0;
}

int fs_write_file_atomic_at(int dirfd, const char *path, const void *content, size_t len, mode_t mode,
                            berth_error_t *err)
{
	char tmp[PATH_MAX];
	cleanup_close int fd = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid()) >= sizeof(tmp))
		return berth_error_invalid(err, "path too long: `%s`", path);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return berth_error_sys(err, errno, "create `%s`", tmp);
	if (fs_write_all(fd, content, len) < 0) {
		int saved = errno;
		unlinkat(dirfd, tmp, 0);
		return berth_error_sys(err, saved, "write `%s`", tmp);
	}
	if (renameat(dirfd, tmp, dirfd, path) < 0) {
		int saved = errno;
		unlinkat(dirfd, tmp, 0);
		return berth_error_sys(err, saved, "rename `%s` to `%s`", tmp, path);
	}
	return 0;
}

int fs_write_string_at(int dirfd, const char *path, const char *value, berth_error_t *err)
{
	cleanup_close int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_sys(err, errno, "open `%s`", path);
	if (fs_write_all(fd, value, strlen(value)) < 0)
		return berth_error_sys(err, errno, "write `%s` to `%s`", value, path);
	return 0;
}

int fs_mkdir_p(const char *path, mode_t mode, berth_error_t *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return berth_error_invalid(err, "invalid directory path `%s`", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return berth_error_sys(err, errno, "mkdir `%s`", buf);
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return berth_error_sys(err, errno, "mkdir `%s`", buf);
	return 0;
}

static int remove_children(int dfd, const char *name, berth_error_t *err)
{
	cleanup_dir DIR *dir = NULL;
	struct dirent *de;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return berth_error_sys(err, errno, "open `%s`", name);
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return berth_error_sys(err, errno, "opendir `%s`", name);
	}
	while ((errno = 0, de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fs_remove_tree_at(dirfd(dir), de->d_name, err) < 0)
			return -1;
	}
	return 0;
}

int fs_remove_tree_at(int dirfd, const char *name, berth_error_t *err)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return berth_error_sys(err, errno, "remove `%s`", name);
	if (remove_children(dirfd, name, err) < 0)
		return -1;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return berth_error_sys(err, errno, "remove `%s`", name);
	return 0;
}

void fs_unescape_mountinfo(char *s)
{
	char *w = s;
	for (char *r = s; *r != '\0'; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
		    r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}
