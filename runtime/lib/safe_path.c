/* Resolution of paths inside a container's rootfs that never escapes it.
 *
 * Two implementations with one contract:
 *
 * 1. openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): the kernel resolves the
 *    path as if root_fd were "/", so neither absolute symlinks nor ".." can
 *    leave it, and /proc/<pid>/fd style magic links are refused.
 * 2. A walk in user space (no openat2: ENOSYS on old kernels, EPERM or E2BIG
 *    under a seccomp filter, or forced by the test hook): one component at a
 *    time with openat(O_PATH | O_NOFOLLOW) on the fd of the previous one.
 *    Symlinks are read and their targets spliced into the rest of the path;
 *    absolute targets restart at the root.  The walk keeps a stack of the
 *    directory fds it went through, so ".." pops the stack instead of asking
 *    the kernel for "..": it never rises above the root, even when a
 *    directory is moved under our feet.
 *
 * mkdir_all uses the walk in "partial" mode (resolve as far as the path
 * exists, report the rest), creates one missing component with mkdirat on
 * the fd of its parent, and starts over, so a dangling symlink such as
 * `a -> /tmp/x` makes `<root>/tmp/x`, never `/tmp/x` on the host.
 */
#include "config.h"
#include "safe_path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

/* As the kernel's own limit on nested symlinks (MAXSYMLINKS). */
#define MAX_SYMLINKS 40
/* mkdir_all makes one directory per round; a path has at most PATH_MAX / 2
 * components, and symlinks add a few more. */
#define MAX_MKDIR_ROUNDS (PATH_MAX / 2 + MAX_SYMLINKS)

static int force_fallback;
/* Set once openat2 turned out to be missing, so we stop asking. */
static int openat2_missing;

void safe_path_force_fallback(int force)
{
	force_fallback = force;
}

/* ---- openat2 ---- */

/* Returns the fd, or -1 with errno; errno ENOSYS means "use the walk". */
static int open_in_root_openat2(int root_fd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (unsigned long long)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (force_fallback || openat2_missing) {
		errno = ENOSYS;
		return -1;
	}
	/* The kernel refuses a mode without O_CREAT / O_TMPFILE. */
	if (flags & (O_CREAT | __O_TMPFILE))
		how.mode = mode;
	/* EAGAIN: a rename raced with RESOLVE_IN_ROOT; the kernel asks us to retry. */
	for (int i = 0; i < 32; i++) {
		fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
		if (fd >= 0 || (errno != EAGAIN && errno != EINTR))
			break;
	}
	if (fd >= 0)
		return fd;
	/* ENOSYS: old kernel.  EPERM: a seccomp filter denies it (openat2 itself
	 * never returns EPERM for permissions: that is EACCES).  E2BIG: a
	 * kernel that knows a smaller struct open_how. */
	if (errno == ENOSYS || errno == EPERM || errno == E2BIG) {
		if (errno == ENOSYS)
			openat2_missing = 1;
		errno = ENOSYS;
	}
	return -1;
}

/* ---- the walk ---- */

struct fd_stack {
	int *fds;
	size_t len, cap;
};

static void fd_stack_clear(struct fd_stack *s)
{
	for (size_t i = 0; i < s->len; i++)
		close(s->fds[i]);
	free(s->fds);
	s->fds = NULL;
	s->len = s->cap = 0;
}

static int fd_stack_push(struct fd_stack *s, int fd)
{
	if (s->len == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		int *n = realloc(s->fds, cap * sizeof(*n));
		if (n == NULL) {
			close(fd);
			errno = ENOMEM;
			return -1;
		}
		s->fds = n;
		s->cap = cap;
	}
	s->fds[s->len++] = fd;
	return 0;
}

static int fd_stack_top(const struct fd_stack *s)
{
	return s->fds[s->len - 1];
}

/* ".." pops, but never the root at the bottom. */
static void fd_stack_pop(struct fd_stack *s)
{
	if (s->len > 1)
		close(s->fds[--s->len]);
}

static void fd_stack_to_root(struct fd_stack *s)
{
	while (s->len > 1)
		close(s->fds[--s->len]);
}

static bool only_slashes(const char *p)
{
	while (*p == '/')
		p++;
	return *p == '\0';
}

/* Replaces the walk's remaining path with `target` + `rest`. */
static int splice_symlink(int link_fd, const char *rest, char **todo, struct fd_stack *stack)
{
	char target[PATH_MAX + 1];
	char *next = NULL;
	ssize_t n;

	n = readlinkat(link_fd, "", target, sizeof(target));
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(target)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	target[n] = '\0';
	if (asprintf(&next, "%s%s", target, rest) < 0) {
		errno = ENOMEM;
		return -1;
	}
	/* Absolute targets are absolute inside the root. */
	if (target[0] == '/')
		fd_stack_to_root(stack);
	free(*todo);
	*todo = next;
	return 0;
}

struct walk_result {
	int fd;     /* the opened path, or in partial mode the deepest existing one */
	char *rest; /* partial mode: the part that does not exist yet, or NULL */
};

/* Opens the last component `name` in `dir` with the caller's flags.  Returns
 * the fd, 0 with *is_link set when it is a symlink to splice (its fd in
 * *link_fd), or -1 with errno. */
static int open_last(int dir, const char *name, int flags, mode_t mode, bool *is_link, int *link_fd)
{
	struct stat st;
	int fd;

	*is_link = false;
	/* The caller asked not to follow the last component: the kernel does
	 * exactly that (ELOOP for a symlink, or the symlink with O_PATH). */
	if (flags & O_NOFOLLOW)
		return openat(dir, name, flags | O_CLOEXEC, mode);

	fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && (flags & O_CREAT))
			return openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) {
			close(fd);
			errno = EEXIST;
			return -1;
		}
		*is_link = true;
		*link_fd = fd;
		return 0;
	}
	close(fd);
	/* Reopen with the real flags; O_NOFOLLOW turns a symlink swapped in
	 * since the check into ELOOP rather than a way out. */
	return openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

/* Walks `path` below root_fd.  In partial mode a missing component stops
 * the walk successfully, with out->rest naming what is left. */
static int walk(int root_fd, const char *path, int flags, mode_t mode, bool partial, struct walk_result *out)
{
	struct fd_stack stack = {0};
	cleanup_free char *todo = strdup(path);
	char name[NAME_MAX + 1];
	int links = 0, fd, saved;
	char *p;

	out->fd = -1;
	out->rest = NULL;
	if (todo == NULL) {
		errno = ENOMEM;
		return -1;
	}
	fd = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fd_stack_push(&stack, fd) < 0)
		return -1;

	p = todo;
	for (;;) {
		char *end, *rest;
		struct stat st;
		size_t len;
		bool last;

		/* 1. Next component. */
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		rest = end;
		last = only_slashes(rest);

		/* 2. "." and ".." never touch the file system. */
		if (strcmp(name, ".") == 0) {
			p = rest;
			continue;
		}
		if (strcmp(name, "..") == 0) {
			fd_stack_pop(&stack);
			p = rest;
			continue;
		}

		/* 3. The last component of a full walk opens with the caller's flags. */
		if (last && !partial && *rest == '\0') {
			bool is_link;
			int link_fd = -1;

			fd = open_last(fd_stack_top(&stack), name, flags, mode, &is_link, &link_fd);
			if (fd < 0)
				goto fail;
			if (!is_link) {
				out->fd = fd;
				fd_stack_clear(&stack);
				return 0;
			}
			if (++links > MAX_SYMLINKS) {
				close(link_fd);
				errno = ELOOP;
				goto fail;
			}
			if (splice_symlink(link_fd, rest, &todo, &stack) < 0) {
				saved = errno;
				close(link_fd);
				errno = saved;
				goto fail;
			}
			close(link_fd);
			p = todo;
			continue;
		}

		/* 4. An intermediate component (or a last one followed by "/"). */
		fd = openat(fd_stack_top(&stack), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT && partial) {
				out->rest = strdup(p);
				if (out->rest == NULL) {
					errno = ENOMEM;
					goto fail;
				}
				out->fd = fd_stack_top(&stack);
				stack.len--; /* keep the fd out of the clean-up */
				fd_stack_clear(&stack);
				return 0;
			}
			goto fail;
		}
		if (fstat(fd, &st) < 0) {
			saved = errno;
			close(fd);
			errno = saved;
			goto fail;
		}
		if (S_ISLNK(st.st_mode)) {
			if (++links > MAX_SYMLINKS) {
				close(fd);
				errno = ELOOP;
				goto fail;
			}
			if (splice_symlink(fd, rest, &todo, &stack) < 0) {
				saved = errno;
				close(fd);
				errno = saved;
				goto fail;
			}
			close(fd);
			p = todo;
			continue;
		}
		if (!S_ISDIR(st.st_mode) && !(last && partial)) {
			close(fd);
			errno = ENOTDIR;
			goto fail;
		}
		if (fd_stack_push(&stack, fd) < 0)
			goto fail;
		p = rest;
	}

	/* 5. The path ended on a directory ("", ".", "..", "a/"). */
	if (partial) {
		out->fd = fd_stack_top(&stack);
		stack.len--;
		fd_stack_clear(&stack);
		return 0;
	}
	fd = openat(fd_stack_top(&stack), ".", (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	out->fd = fd;
	fd_stack_clear(&stack);
	return 0;

fail:
	saved = errno;
	fd_stack_clear(&stack);
	errno = saved;
	return -1;
}

/* ---- the API ---- */

/* Returns the fd or -1 with errno, without touching *err. */
static int open_in_root(int root_fd, const char *path, int flags, mode_t mode)
{
	struct walk_result r;
	int fd;

	if (path[0] == '\0')
		path = ".";
	fd = open_in_root_openat2(root_fd, path, flags, mode);
	if (fd >= 0 || errno != ENOSYS)
		return fd;
	if (walk(root_fd, path, flags, mode, false, &r) < 0)
		return -1;
	return r.fd;
}

int safe_path_open(int root_fd, const char *path, int flags, mode_t mode, berth_error_t *err)
{
	int fd = open_in_root(root_fd, path, flags, mode);
	if (fd < 0)
		return berth_error_sys(err, errno, "open `%s`", path);
	return fd;
}

/* Creates the first component of `rest` inside dir_fd. */
static int mkdir_first(int dir_fd, const char *rest, mode_t mode)
{
	char name[NAME_MAX + 1];
	size_t len = strcspn(rest, "/");

	if (len == 0 || len > NAME_MAX) {
		errno = len == 0 ? EINVAL : ENAMETOOLONG;
		return -1;
	}
	memcpy(name, rest, len);
	name[len] = '\0';
	/* EEXIST: someone else made it since the walk; the next round sees it. */
	if (mkdirat(dir_fd, name, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* mkdir -p by walking: creates what is missing one directory per round,
 * following symlinks (inside the root) to where they point. */
static int mkdir_walk(int root_fd, const char *path, mode_t mode, berth_error_t *err)
{
	int fd;

	for (int round = 0;; round++) {
		struct walk_result r;
		int rc, saved;

		if (round > MAX_MKDIR_ROUNDS)
			return berth_error_sys(err, ELOOP, "mkdir `%s`", path);
		if (walk(root_fd, path, 0, 0, true, &r) < 0)
			return berth_error_sys(err, errno, "mkdir `%s`", path);
		if (r.rest == NULL) {
			close(r.fd);
			break;
		}
		rc = mkdir_first(r.fd, r.rest, mode);
		saved = errno;
		close(r.fd);
		free(r.rest);
		if (rc < 0)
			return berth_error_sys(err, saved, "mkdir `%s`", path);
	}
	fd = open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return berth_error_sys(err, errno, "mkdir `%s`", path);
	return fd;
}

static int mkdir_all(int root_fd, const char *path, mode_t mode, int depth, berth_error_t *err)
{
	cleanup_free char *parent = NULL;
	cleanup_close int parent_fd = -1;
	const char *name;
	char *slash;
	size_t len;
	int fd;

	/* 1. Usually it is there already: one resolution. */
	fd = open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return berth_error_sys(err, errno, "mkdir `%s`", path);
	if (depth > MAX_MKDIR_ROUNDS)
		return berth_error_sys(err, ELOOP, "mkdir `%s`", path);

	/* 2. The parent, made the same way, then the last component in it:
	 *    mkdirat on a safely resolved parent never follows a symlink. */
	parent = strdup(path);
	if (parent == NULL)
		return berth_error_sys(err, ENOMEM, "mkdir `%s`", path);
	for (len = strlen(parent); len > 1 && parent[len - 1] == '/'; len--)
		parent[len - 1] = '\0';
	slash = strrchr(parent, '/');
	if (slash == NULL) {
		name = parent;
		parent_fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
	} else {
		*slash = '\0';
		name = slash + 1;
		parent_fd = mkdir_all(root_fd, parent[0] != '\0' ? parent : "/", mode, depth + 1, err);
		if (parent_fd < 0)
			return -1;
	}
	if (parent_fd < 0)
		return berth_error_sys(err, errno, "mkdir `%s`", path);
	if (mkdirat(parent_fd, name, mode) < 0 && errno != EEXIST)
		return berth_error_sys(err, errno, "mkdir `%s`", path);

	/* 3. Reopen through the safe resolution: the result must be a directory
	 *    (a symlink raced in resolves inside the root, or fails).  A
	 *    dangling symlink on the way needs its target made: the walk. */
	fd = open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);
	if (fd < 0 && errno == ENOENT)
		return mkdir_walk(root_fd, path, mode, err);
	if (fd < 0)
		return berth_error_sys(err, errno, "mkdir `%s`", path);
	return fd;
}

int safe_path_mkdir_all(int root_fd, const char *path, mode_t mode, berth_error_t *err)
{
	return mkdir_all(root_fd, path, mode, 0, err);
}

static int create_file(int root_fd, const char *path, mode_t mode, int depth, berth_error_t *err)
{
	cleanup_free char *parent = strdup(path);
	cleanup_close int parent_fd = -1;
	const char *name = path;
	int fd;
	char *slash;

	if (parent == NULL)
		return berth_error_sys(err, ENOMEM, "create `%s`", path);

	/* 1. Already there (whatever it is: the mount reports a mismatch). */
	fd = open_in_root(root_fd, path, O_PATH, 0);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return berth_error_sys(err, errno, "create `%s`", path);

	/* 2. Parents. */
	slash = strrchr(parent, '/');
	if (slash != NULL) {
		*slash = '\0';
		name = path + (slash - parent) + 1;
		parent_fd = safe_path_mkdir_all(root_fd, parent[0] != '\0' ? parent : "/", 0755, err);
		if (parent_fd < 0)
			return -1;
	}

	/* 3. The file itself, created empty through the safe resolution
	 *    (a dangling symlink at the end is followed inside the root). */
	fd = open_in_root(root_fd, path, O_CREAT | O_WRONLY, mode);
	if (fd < 0 && errno == ENOENT && parent_fd >= 0 && depth < MAX_SYMLINKS) {
		/* A dangling symlink whose target's directories are missing:
		 * create them too, inside the root, as runc does. */
		char target[PATH_MAX], next[2 * PATH_MAX + 2];
		ssize_t n = readlinkat(parent_fd, name, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (target[0] == '/')
				snprintf(next, sizeof(next), "%s", target);
			else
				snprintf(next, sizeof(next), "%s/%s", parent, target);
			return create_file(root_fd, next, mode, depth + 1, err);
		}
		errno = ENOENT;
	}
	if (fd < 0)
		return berth_error_sys(err, errno, "create `%s`", path);
	close(fd);
	fd = open_in_root(root_fd, path, O_PATH, 0);
	if (fd < 0)
		return berth_error_sys(err, errno, "create `%s`", path);
	return fd;
}

int safe_path_create_file(int root_fd, const char *path, mode_t mode, berth_error_t *err)
{
	return create_file(root_fd, path, mode, 0, err);
}
