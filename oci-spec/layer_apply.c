/* Applying an OCI layer tar onto a directory (the contract is in layer.h).
 *
 * One pass over the stream; for each entry:
 *   1. clean the name (a ".." above the root is an error);
 *   2. whiteouts: `.wh..wh..opq` is remembered for the end, `.wh.<name>`
 *      removes <name> now (unless this layer made it);
 *   3. remember the path (and its parents) as made by this layer;
 *   4. get the parent's fd: from the LRU cache, or resolved inside the root
 *      (openat2 RESOLVE_IN_ROOT, or the walk), making missing directories;
 *   5. create the entry with *at() on that fd; on EEXIST replace what was
 *      there (a directory over a directory merges);
 *   6. owner, mode, xattrs, times (directories: mode and times at the end,
 *      so that writing their children neither fails nor moves their mtime).
 * At the end of the stream:
 *   7. opaque directories lose every child this layer did not make;
 *   8. directories get their final mode and times, deepest first.
 *
 * Removing a directory or a symlink may make a cached directory fd stale (a
 * path through it now means something else), so it empties the cache; the
 * fds are closed once the entry is done, as the entry may still hold one.
 */
#include "config.h"
#include "layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define DIR_CACHE_SIZE 64
#define MAX_SYMLINKS   40
#define READ_BLOCK     (1024 * 1024)

/* ---- a set of strings (the paths this layer made) ---- */

struct strset {
	char **slots;
	size_t cap, len;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool strset_has(const struct strset *set, const char *s)
{
	if (set->cap == 0)
		return false;
	for (size_t i = hash_str(s) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
		if (set->slots[i] == NULL)
			return false;
		if (strcmp(set->slots[i], s) == 0)
			return true;
	}
}

/* Returns 1 when added, 0 when already there, -1 on ENOMEM. */
static int strset_add(struct strset *set, const char *s)
{
	if (strset_has(set, s))
		return 0;
	if ((set->len + 1) * 2 > set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 1024;
		char **slots = calloc(cap, sizeof(*slots));
		if (slots == NULL)
			return -1;
		for (size_t j = 0; j < set->cap; j++) {
			if (set->slots[j] == NULL)
				continue;
			size_t i = hash_str(set->slots[j]) & (cap - 1);
			while (slots[i] != NULL)
				i = (i + 1) & (cap - 1);
			slots[i] = set->slots[j];
		}
		free(set->slots);
		set->slots = slots;
		set->cap = cap;
	}
	char *copy = strdup(s);
	if (copy == NULL)
		return -1;
	size_t i = hash_str(s) & (set->cap - 1);
	while (set->slots[i] != NULL)
		i = (i + 1) & (set->cap - 1);
	set->slots[i] = copy;
	set->len++;
	return 1;
}

static void strset_free(struct strset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i]);
	free(set->slots);
}

/* ---- the applier ---- */

struct cached_dir {
	char *path; /* NULL: free slot */
	int fd;
	uint64_t used;
};

struct deferred_dir {
	char *path;
	mode_t mode;
	struct timespec times[2];
};

struct applier {
	int root_fd;
	unsigned flags;
	uid_t uid_offset;
	gid_t gid_offset;
	bool privileged;
	struct cached_dir cache[DIR_CACHE_SIZE];
	uint64_t tick;
	bool flush_pending;
	struct strset made;
	char **opaque;
	size_t n_opaque, cap_opaque;
	struct deferred_dir *dirs;
	size_t n_dirs, cap_dirs;
	struct layer_apply_stats st;
};

static void cache_clear(struct applier *ap)
{
	for (size_t i = 0; i < DIR_CACHE_SIZE; i++) {
		if (ap->cache[i].path == NULL)
			continue;
		free(ap->cache[i].path);
		close(ap->cache[i].fd);
		ap->cache[i].path = NULL;
	}
	ap->flush_pending = false;
}

static void applier_free(struct applier *ap)
{
	cache_clear(ap);
	strset_free(&ap->made);
	for (size_t i = 0; i < ap->n_opaque; i++)
		free(ap->opaque[i]);
	free(ap->opaque);
	for (size_t i = 0; i < ap->n_dirs; i++)
		free(ap->dirs[i].path);
	free(ap->dirs);
}

/* Splits "a/b/c" into parent "a/b" (in buf) and base "c"; "c" gives "". */
static const char *split_path(const char *path, char *parent, size_t len)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL) {
		parent[0] = '\0';
		return path;
	}
	size_t n = (size_t)(slash - path);
	if (n >= len)
		n = len - 1;
	memcpy(parent, path, n);
	parent[n] = '\0';
	return slash + 1;
}

/* ---- resolving directories inside the root ---- */

/* The user-space fallback of RESOLVE_IN_ROOT for directories: one component
 * at a time with O_NOFOLLOW; symlinks are read and spliced in, absolute ones
 * restart at the root, ".." never rises above it. */
static int walk_in_root(int root_fd, const char *path, bool create, uid_t uid, gid_t gid)
{
	int stack[PATH_MAX / 2 + 2];
	size_t depth = 0;
	int links = 0, result = -1, saved;
	char *todo = strdup(path);

	if (todo == NULL)
		return -1;
	stack[depth++] = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
	if (stack[0] < 0)
		goto out;
	for (char *p = todo; *p != '\0';) {
		char *comp = p, *end = strchr(p, '/');
		struct stat st;
		int fd;

		if (end != NULL) {
			*end = '\0';
			p = end + 1;
		} else {
			p = comp + strlen(comp);
		}
		if (comp[0] == '\0' || strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			if (depth > 1)
				close(stack[--depth]);
			continue;
		}
		fd = openat(stack[depth - 1], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create) {
			/* Missing (also the target of a dangling symlink):
			 * made here, inside the root. */
			if (mkdirat(stack[depth - 1], comp, 0755) < 0 && errno != EEXIST)
				goto out;
			if ((uid != (uid_t)-1 &&
			     fchownat(stack[depth - 1], comp, uid, gid, AT_SYMLINK_NOFOLLOW) < 0))
				goto out;
			fd = openat(stack[depth - 1], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0)
			goto out;
		if (fstat(fd, &st) < 0) {
			close(fd);
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
			char *next = NULL;
			close(fd);
			if (n < 0)
				goto out;
			target[n] = '\0';
			if (++links > MAX_SYMLINKS) {
				errno = ELOOP;
				goto out;
			}
			if (asprintf(&next, "%s/%s", target, p) < 0) {
				errno = ENOMEM;
				goto out;
			}
			if (target[0] == '/')
				while (depth > 1)
					close(stack[--depth]);
			free(todo);
			todo = next;
			p = todo;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			close(fd);
			errno = ENOTDIR;
			goto out;
		}
		if (depth == sizeof(stack) / sizeof(stack[0])) {
			close(fd);
			errno = ENAMETOOLONG;
			goto out;
		}
		stack[depth++] = fd;
	}
	result = stack[--depth];
out:
	saved = errno;
	while (depth > 0)
		close(stack[--depth]);
	free(todo);
	errno = saved;
	return result;
}

static int open_dir_in_root(int root_fd, const char *path)
{
	static int openat2_missing;
	struct open_how how = {
	    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	if (!openat2_missing) {
		for (int i = 0; i < 16; i++) {
			int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
			if (fd >= 0)
				return fd;
			if (errno != EAGAIN && errno != EINTR)
				break;
		}
		if (errno != ENOSYS && errno != EPERM && errno != E2BIG)
			return -1;
		openat2_missing = 1;
	}
	return walk_in_root(root_fd, path, false, 0, 0);
}

static void cache_put(struct applier *ap, const char *path, int fd)
{
	struct cached_dir *victim = &ap->cache[0];
	for (size_t i = 0; i < DIR_CACHE_SIZE; i++) {
		if (ap->cache[i].path == NULL) {
			victim = &ap->cache[i];
			break;
		}
		if (ap->cache[i].used < victim->used)
			victim = &ap->cache[i];
	}
	char *copy = strdup(path);
	if (copy == NULL) {
		close(fd); /* not cached: the caller's borrow must stay valid */
		return;
	}
	if (victim->path != NULL) {
		free(victim->path);
		close(victim->fd);
	}
	victim->path = copy;
	victim->fd = fd;
	victim->used = ++ap->tick;
}

/* Returns a borrowed fd (owned by the cache) of the directory `path` inside
 * the root; missing directories are made (0755, owned by the mapped root)
 * when `create`.  -1 with errno on failure. */
static int get_dir(struct applier *ap, const char *path, bool create)
{
	int fd;

	if (path[0] == '\0')
		return ap->root_fd;
	for (size_t i = 0; i < DIR_CACHE_SIZE; i++) {
		if (ap->cache[i].path != NULL && strcmp(ap->cache[i].path, path) == 0) {
			ap->cache[i].used = ++ap->tick;
			return ap->cache[i].fd;
		}
	}
	fd = open_dir_in_root(ap->root_fd, path);
	if (fd < 0 && errno == ENOENT && create) {
		bool chown = !(ap->flags & LAYER_APPLY_NO_CHOWN);
		fd =
		    walk_in_root(ap->root_fd, path, true, chown ? ap->uid_offset : (uid_t)-1, ap->gid_offset);
	}
	if (fd < 0)
		return -1;
	cache_put(ap, path, fd);
	/* cache_put closes fd when it could not keep it: look it up again. */
	for (size_t i = 0; i < DIR_CACHE_SIZE; i++)
		if (ap->cache[i].path != NULL && ap->cache[i].fd == fd)
			return fd;
	errno = ENOMEM;
	return -1;
}

/* ---- metadata ---- */

static int set_owner_at(struct applier *ap, int dfd, const char *name, uid_t uid, gid_t gid)
{
	if (ap->flags & LAYER_APPLY_NO_CHOWN)
		return 0;
	return fchownat(dfd, name, uid + ap->uid_offset, gid + ap->gid_offset, AT_SYMLINK_NOFOLLOW);
}

/* fd >= 0: fsetxattr on it; otherwise lsetxattr on dfd/name through
 * /proc/self/fd (the directory is pinned by its fd, the name not followed). */
static int set_xattrs(struct applier *ap, struct archive_entry *e, int fd, int dfd, const char *name,
                      berth_error_t *err)
{
	const char *key;
	const void *value;
	size_t size;
	char proc[64 + NAME_MAX];

	if (archive_entry_xattr_reset(e) == 0)
		return 0;
	if (fd < 0)
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, name);
	while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
		int rc = fd >= 0 ? fsetxattr(fd, key, value, size, 0) : lsetxattr(proc, key, value, size, 0);
		if (rc == 0)
			continue;
		if ((ap->flags & LAYER_APPLY_SKIP_XATTR_ERRORS) &&
		    (errno == EPERM || errno == ENOTSUP || errno == EACCES)) {
			ap->st.skipped++;
			continue;
		}
		return berth_error_sys(err, errno, "set xattr `%s`", key);
	}
	return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
	} else {
		ts[0] = ts[1];
	}
}

/* ---- replacing what is there ---- */

/* Removes dfd/name whatever it is.  Removing a directory or a symlink
 * empties the directory cache (after this entry). */
static int remove_entry(struct applier *ap, int dfd, const char *name, berth_error_t *err)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : berth_error_sys(err, errno, "stat");
	if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode))
		ap->flush_pending = true;
	if (S_ISDIR(st.st_mode))
		return fs_remove_tree_at(dfd, name, err);
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		return berth_error_sys(err, errno, "remove");
	return 0;
}

/* ---- one entry per type ---- */

static int apply_file(struct applier *ap, struct archive *a, struct archive_entry *e, int dfd,
                      const char *name, berth_error_t *err)
{
	cleanup_close int fd = -1;
	struct timespec ts[2];
	const void *buf;
	size_t size;
	la_int64_t offset, end = 0;
	int rc;

	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		if (remove_entry(ap, dfd, name, err) < 0)
			return -1;
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return berth_error_sys(err, errno, "create");
	while ((rc = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK) {
		const char *p = buf;
		size_t left = size;
		while (left > 0) {
			ssize_t n = pwrite(fd, p, left, offset);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return berth_error_sys(err, errno, "write");
			p += n;
			left -= (size_t)n;
			offset += n;
		}
		if (offset > end)
			end = offset;
		ap->st.bytes += size;
	}
	if (rc != ARCHIVE_EOF)
		return berth_error_set(err, BERTH_ERR_INVALID, 0, "read content: %s",
		                       archive_error_string(a));
	if (archive_entry_size(e) > end && ftruncate(fd, archive_entry_size(e)) < 0)
		return berth_error_sys(err, errno, "truncate");
	if (!(ap->flags & LAYER_APPLY_NO_CHOWN) && fchown(fd, (uid_t)archive_entry_uid(e) + ap->uid_offset,
	                                                  (gid_t)archive_entry_gid(e) + ap->gid_offset) < 0)
		return berth_error_sys(err, errno, "chown");
	if (fchmod(fd, archive_entry_perm(e)) < 0)
		return berth_error_sys(err, errno, "chmod");
	if (set_xattrs(ap, e, fd, dfd, name, err) < 0)
		return -1;
	entry_times(e, ts);
	if (futimens(fd, ts) < 0)
		return berth_error_sys(err, errno, "set times");
	ap->st.files++;
	return 0;
}

static int defer_dir(struct applier *ap, const char *path, struct archive_entry *e)
{
	if (ap->n_dirs == ap->cap_dirs) {
		size_t cap = ap->cap_dirs ? ap->cap_dirs * 2 : 256;
		struct deferred_dir *n = realloc(ap->dirs, cap * sizeof(*n));
		if (n == NULL)
			return -1;
		ap->dirs = n;
		ap->cap_dirs = cap;
	}
	struct deferred_dir *d = &ap->dirs[ap->n_dirs];
	d->path = strdup(path);
	if (d->path == NULL)
		return -1;
	d->mode = archive_entry_perm(e);
	entry_times(e, d->times);
	ap->n_dirs++;
	return 0;
}

static int apply_dir(struct applier *ap, struct archive_entry *e, const char *path, int dfd, const char *name,
                     berth_error_t *err)
{
	struct stat st;

	if (mkdirat(dfd, name, 0700) < 0) {
		if (errno != EEXIST)
			return berth_error_sys(err, errno, "mkdir");
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_error_sys(err, errno, "stat");
		if (!S_ISDIR(st.st_mode)) {
			if (remove_entry(ap, dfd, name, err) < 0)
				return -1;
			if (mkdirat(dfd, name, 0700) < 0)
				return berth_error_sys(err, errno, "mkdir");
		} else if (!ap->privileged && (st.st_mode & 0700) != 0700) {
			/* An earlier layer's read-only directory: we must
			 * write into it; its final mode comes at the end. */
			if (fchmodat(dfd, name, (st.st_mode & 07777) | 0700, 0) < 0)
				return berth_error_sys(err, errno, "chmod");
		}
	}
	if (set_owner_at(ap, dfd, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return berth_error_sys(err, errno, "chown");
	if (set_xattrs(ap, e, -1, dfd, name, err) < 0)
		return -1;
	if (defer_dir(ap, path, e) < 0)
		return berth_error_sys(err, ENOMEM, "remember directory");
	ap->st.dirs++;
	return 0;
}

/* Owner, mode (not for symlinks), xattrs and times of a node just made by
 * name (so a name that cannot be a symlink planted by someone else). */
static int finish_node(struct applier *ap, struct archive_entry *e, int dfd, const char *name, bool is_link,
                       berth_error_t *err)
{
	struct timespec ts[2];

	if (set_owner_at(ap, dfd, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return berth_error_sys(err, errno, "chown");
	if (!is_link && fchmodat(dfd, name, archive_entry_perm(e), 0) < 0)
		return berth_error_sys(err, errno, "chmod");
	if (set_xattrs(ap, e, -1, dfd, name, err) < 0)
		return -1;
	entry_times(e, ts);
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_error_sys(err, errno, "set times");
	return 0;
}

static int apply_symlink(struct applier *ap, struct archive_entry *e, int dfd, const char *name,
                         berth_error_t *err)
{
	const char *target = archive_entry_symlink(e);

	if (target == NULL)
		return berth_error_invalid(err, "symlink without a target");
	if (symlinkat(target, dfd, name) < 0) {
		if (errno != EEXIST)
			return berth_error_sys(err, errno, "symlink");
		if (remove_entry(ap, dfd, name, err) < 0)
			return -1;
		if (symlinkat(target, dfd, name) < 0)
			return berth_error_sys(err, errno, "symlink");
	}
	ap->st.symlinks++;
	return finish_node(ap, e, dfd, name, true, err);
}

static int apply_node(struct applier *ap, struct archive_entry *e, int dfd, const char *name,
                      berth_error_t *err)
{
	mode_t type = archive_entry_filetype(e);
	dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
	mode_t mode = (type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO) | 0600;

	if (mknodat(dfd, name, mode, dev) < 0) {
		if (errno == EEXIST) {
			if (remove_entry(ap, dfd, name, err) < 0)
				return -1;
			if (mknodat(dfd, name, mode, dev) == 0)
				goto made;
		}
		if (errno == EPERM && type != AE_IFIFO && (ap->flags & LAYER_APPLY_SKIP_DEVICES)) {
			ap->st.skipped++;
			return 0;
		}
		return berth_error_sys(err, errno, "mknod");
	}
made:
	if (type == AE_IFIFO)
		ap->st.fifos++;
	else
		ap->st.devices++;
	return finish_node(ap, e, dfd, name, false, err);
}

static int apply_hardlink(struct applier *ap, struct archive_entry *e, const char *path, const char *name,
                          berth_error_t *err)
{
	char target[PATH_MAX], tparent[PATH_MAX], parent[PATH_MAX];
	const char *tbase;
	struct stat a, b;
	int rc, dfd, tdfd;

	rc = layer_clean_path(archive_entry_hardlink(e), target, sizeof(target));
	if (rc < 0 && errno == EXDEV)
		return berth_error_invalid(err, "hardlink target `%s`: path escapes the root",
		                           archive_entry_hardlink(e));
	if (rc != 0)
		return berth_error_invalid(err, "hardlink target `%s`: invalid name",
		                           archive_entry_hardlink(e));
	if (strcmp(target, path) == 0)
		return 0;
	tbase = split_path(target, tparent, sizeof(tparent));
	tdfd = get_dir(ap, tparent, false);
	if (tdfd < 0)
		return berth_error_sys(err, errno, "hardlink target `%s`", target);
	/* Looked up after the target's parent: the cache keeps the two most
	 * recent, so tdfd stays valid. */
	split_path(path, parent, sizeof(parent));
	dfd = get_dir(ap, parent, true);
	if (dfd < 0)
		return berth_error_sys(err, errno, "open parent directory");
	if (linkat(tdfd, tbase, dfd, name, 0) < 0) {
		if (errno != EEXIST)
			return berth_error_sys(err, errno, "hardlink target `%s`", target);
		if (fstatat(tdfd, tbase, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
		    fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			goto done;
		if (remove_entry(ap, dfd, name, err) < 0)
			return -1;
		if (linkat(tdfd, tbase, dfd, name, 0) < 0)
			return berth_error_sys(err, errno, "hardlink target `%s`", target);
	}
done:
	ap->st.hardlinks++;
	return 0;
}

/* Records path and its parents as made by this layer. */
static int remember_made(struct applier *ap, const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (;;) {
		int rc = strset_add(&ap->made, buf);
		if (rc <= 0)
			return rc;
		char *slash = strrchr(buf, '/');
		if (slash == NULL)
			return 0;
		*slash = '\0';
	}
}

static int apply_whiteout(struct applier *ap, const char *path, const char *parent, const char *name,
                          berth_error_t *err)
{
	char victim[PATH_MAX];
	int dfd;

	ap->st.whiteouts++;
	if (strcmp(name, ".wh..wh..opq") == 0) {
		if (ap->n_opaque == ap->cap_opaque) {
			size_t cap = ap->cap_opaque ? ap->cap_opaque * 2 : 16;
			char **n = realloc(ap->opaque, cap * sizeof(*n));
			if (n == NULL)
				return berth_error_sys(err, ENOMEM, "opaque directory");
			ap->opaque = n;
			ap->cap_opaque = cap;
		}
		if ((ap->opaque[ap->n_opaque] = strdup(parent)) == NULL)
			return berth_error_sys(err, ENOMEM, "opaque directory");
		ap->n_opaque++;
		ap->st.whiteouts--;
		ap->st.opaque_dirs++;
		return 0;
	}
	/* Other `.wh..wh.` names are aufs bookkeeping (`.wh..wh.plnk`). */
	if (strncmp(name, ".wh..wh.", 8) == 0 || name[4] == '\0') {
		ap->st.whiteouts--;
		ap->st.skipped++;
		return 0;
	}
	if ((size_t)snprintf(victim, sizeof(victim), "%s%s%s", parent, parent[0] ? "/" : "", name + 4) >=
	    sizeof(victim))
		return berth_error_invalid(err, "name too long");
	(void)path;
	if (strset_has(&ap->made, victim))
		return 0;
	dfd = get_dir(ap, parent, false);
	if (dfd < 0)
		return errno == ENOENT || errno == ENOTDIR
		           ? 0
		           : berth_error_sys(err, errno, "open parent directory");
	return remove_entry(ap, dfd, name + 4, err);
}

static int apply_entry(struct applier *ap, struct archive *a, struct archive_entry *e, berth_error_t *err)
{
	char path[PATH_MAX], parent[PATH_MAX];
	const char *name;
	mode_t type = archive_entry_filetype(e);
	int rc, dfd;

	/* 1. the name (libarchive gives NULL for an entry without one) */
	if (archive_entry_pathname(e) == NULL)
		return berth_error_invalid(err, "an entry without a name");
	rc = layer_clean_path(archive_entry_pathname(e), path, sizeof(path));
	if (rc < 0)
		return errno == EXDEV ? berth_error_invalid(err, "path escapes the root")
		                      : berth_error_sys(err, errno, "invalid name");
	if (rc == 1) {
		/* The root itself ("./"): its metadata, never its type. */
		if (type != AE_IFDIR || archive_entry_hardlink(e) != NULL)
			return berth_error_invalid(err, "the root must be a directory");
		if (set_owner_at(ap, ap->root_fd, ".", (uid_t)archive_entry_uid(e),
		                 (gid_t)archive_entry_gid(e)) < 0)
			return berth_error_sys(err, errno, "chown");
		return defer_dir(ap, "", e) < 0 ? berth_error_sys(err, ENOMEM, "remember directory") : 0;
	}
	name = split_path(path, parent, sizeof(parent));

	/* 2. whiteouts */
	if (strncmp(name, ".wh.", 4) == 0)
		return apply_whiteout(ap, path, parent, name, err);

	/* 3. made by this layer */
	if (remember_made(ap, path) < 0)
		return berth_error_sys(err, ENOMEM, "remember path");

	if (archive_entry_hardlink(e) != NULL)
		return apply_hardlink(ap, e, path, name, err);

	/* 4. the parent */
	dfd = get_dir(ap, parent, true);
	if (dfd < 0)
		return berth_error_sys(err, errno, "open parent directory");

	/* 5. and 6. */
	switch (type) {
	case AE_IFREG:
		return apply_file(ap, a, e, dfd, name, err);
	case AE_IFDIR:
		return apply_dir(ap, e, path, dfd, name, err);
	case AE_IFLNK:
		return apply_symlink(ap, e, dfd, name, err);
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		return apply_node(ap, e, dfd, name, err);
	default:
		/* Sockets (and anything else) are not part of an image. */
		ap->st.skipped++;
		return 0;
	}
}

/* ---- the end of the layer ---- */

/* 7. Removes from the directory dfd (path `path`) every child this layer
 * did not make, recursively. */
static int prune_opaque(struct applier *ap, int dfd, const char *path, berth_error_t *err)
{
	cleanup_dir DIR *dir = NULL;
	struct dirent *de;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return berth_error_sys(err, errno, "opaque directory `%s`: open", path);
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return berth_error_sys(err, errno, "opaque directory `%s`: open", path);
	}
	while ((errno = 0, de = readdir(dir)) != NULL) {
		char child[PATH_MAX];
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s%s%s", path, path[0] ? "/" : "", de->d_name) >=
		    sizeof(child))
			return berth_error_invalid(err, "opaque directory `%s`: name too long", path);
		if (!strset_has(&ap->made, child)) {
			if (remove_entry(ap, dirfd(dir), de->d_name, err) < 0)
				return berth_error_prefix(err, "opaque directory `%s`: `%s`", path,
				                          de->d_name);
			continue;
		}
		if (de->d_type == DT_DIR) {
			cleanup_close int cfd =
			    openat(dirfd(dir), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd >= 0 && prune_opaque(ap, cfd, child, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int finish_layer(struct applier *ap, berth_error_t *err)
{
	for (size_t i = 0; i < ap->n_opaque; i++) {
		int dfd = get_dir(ap, ap->opaque[i], false);
		if (dfd < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			return berth_error_sys(err, errno, "opaque directory `%s`", ap->opaque[i]);
		}
		if (prune_opaque(ap, dfd, ap->opaque[i], err) < 0)
			return -1;
		if (ap->flush_pending)
			cache_clear(ap);
	}

	/* 8. deepest (latest) first, so a child's times are set before... its
	 * parent's, which nothing touches afterwards. */
	for (size_t i = ap->n_dirs; i-- > 0;) {
		struct deferred_dir *d = &ap->dirs[i];
		char parent[PATH_MAX];
		const char *name = d->path[0] ? split_path(d->path, parent, sizeof(parent)) : ".";
		int dfd = d->path[0] ? get_dir(ap, parent, false) : ap->root_fd;
		cleanup_close int fd = -1;

		if (dfd < 0)
			continue; /* removed by a later entry */
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue; /* replaced by a later entry */
		if (fchmod(fd, d->mode) < 0 || futimens(fd, d->times) < 0)
			return berth_error_sys(err, errno, "directory `%s`", d->path[0] ? d->path : "/");
	}
	return 0;
}

/* ---- the stream: decompression on a thread of its own ----
 *
 * Inflating and writing files each take about half the time of a gzip'd
 * layer, so they overlap: a producer thread reads the fd, decompresses
 * (zlib or libzstd, chosen by the magic bytes) into a ring of blocks, and
 * libarchive's read callback hands those blocks to the tar reader without a
 * copy.  The consumer keeps the block it was given until its next call.
 * An uncompressed layer is read on the calling thread.
 */

#define RING_BLOCKS 4

struct stream {
	int fd;
	enum layer_compression kind;
	unsigned char *in; /* the input buffer; starts with the sniffed bytes */
	size_t in_len;
	bool first_given;
	/* the ring */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *blocks[RING_BLOCKS];
	size_t lens[RING_BLOCKS];
	size_t head, count;
	bool holding, done, cancel, started;
	int error; /* errno of the producer, EINVAL for a corrupt stream */
	const char *what;
	pthread_t thread;
};

/* Publishes block `slot` with len bytes; waits for a free one; returns the
 * next slot to fill, or -1 when the consumer gave up. */
static int ring_publish(struct stream *s, size_t len)
{
	int next;
	pthread_mutex_lock(&s->mu);
	s->lens[(s->head + s->count) % RING_BLOCKS] = len;
	s->count++;
	pthread_cond_broadcast(&s->cv);
	while (s->count == RING_BLOCKS && !s->cancel)
		pthread_cond_wait(&s->cv, &s->mu);
	next = s->cancel ? -1 : (int)((s->head + s->count) % RING_BLOCKS);
	pthread_mutex_unlock(&s->mu);
	return next;
}

static void ring_finish(struct stream *s, int error, const char *what)
{
	pthread_mutex_lock(&s->mu);
	s->done = true;
	if (s->error == 0 && error != 0) {
		s->error = error;
		s->what = what;
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Refills s->in from the fd; returns the count, 0 at EOF, -1 on error. */
static ssize_t stream_fill(struct stream *s)
{
	if (!s->first_given) {
		s->first_given = true;
		return (ssize_t)s->in_len;
	}
	return fs_read_all(s->fd, s->in, READ_BLOCK);
}

static void *producer(void *arg)
{
	struct stream *s = arg;
	int slot = 0;
	size_t out_pos = 0;
	z_stream z = {0};
	ZSTD_DCtx *zd = NULL;
	bool frame_open = false, trailing = false;
	int error = 0, members = 0;
	const char *what = NULL;

	if (s->kind == LAYER_COMPRESSION_GZIP && inflateInit2(&z, 15 + 16) != Z_OK) {
		ring_finish(s, ENOMEM, "gzip");
		return NULL;
	}
	if (s->kind == LAYER_COMPRESSION_ZSTD && (zd = ZSTD_createDCtx()) == NULL) {
		ring_finish(s, ENOMEM, "zstd");
		return NULL;
	}
	while (!trailing) {
		ssize_t n = stream_fill(s);
		size_t in_pos = 0;
		if (n < 0) {
			error = errno;
			what = "read";
			break;
		}
		if (n == 0) {
			if (frame_open) {
				error = EINVAL;
				what = s->kind == LAYER_COMPRESSION_GZIP ? "gzip: truncated stream"
				                                         : "zstd: truncated stream";
			}
			break;
		}
		while (in_pos < (size_t)n && error == 0) {
			unsigned char *out = s->blocks[slot];
			if (s->kind == LAYER_COMPRESSION_GZIP) {
				/* After a member: another one, or padding
				 * (libarchive pads to its block size), which
				 * gzip(1) ignores too. */
				if (!frame_open && members > 0 && s->in[in_pos] != 0x1f) {
					trailing = true;
					break;
				}
				if (!frame_open && inflateReset(&z) != Z_OK) {
					error = EINVAL;
					what = "gzip";
					break;
				}
				frame_open = true;
				z.next_in = s->in + in_pos;
				z.avail_in = (uInt)((size_t)n - in_pos);
				z.next_out = out + out_pos;
				z.avail_out = (uInt)(READ_BLOCK - out_pos);
				int rc = inflate(&z, Z_NO_FLUSH);
				if (rc != Z_OK && rc != Z_STREAM_END &&
				    !(rc == Z_BUF_ERROR && z.avail_in == 0)) {
					error = EINVAL;
					what = "gzip: corrupt stream";
					break;
				}
				in_pos = (size_t)n - z.avail_in;
				out_pos = READ_BLOCK - z.avail_out;
				if (rc == Z_STREAM_END) {
					frame_open = false; /* another member may follow */
					members++;
				}
			} else {
				if (!frame_open && members > 0 && s->in[in_pos] != 0x28 &&
				    (s->in[in_pos] & 0xf0) != 0x50) {
					trailing = true;
					break;
				}
				ZSTD_inBuffer zin = {s->in, (size_t)n, in_pos};
				ZSTD_outBuffer zout = {out, READ_BLOCK, out_pos};
				size_t rc = ZSTD_decompressStream(zd, &zout, &zin);
				if (ZSTD_isError(rc)) {
					error = EINVAL;
					what = "zstd: corrupt stream";
					break;
				}
				if (rc == 0 && zin.pos > in_pos)
					members++;
				frame_open = rc != 0;
				in_pos = zin.pos;
				out_pos = zout.pos;
			}
			if (out_pos == READ_BLOCK) {
				slot = ring_publish(s, out_pos);
				out_pos = 0;
				if (slot < 0)
					goto out;
			}
		}
		if (error != 0)
			break;
	}
	if (error == 0 && out_pos > 0)
		ring_publish(s, out_pos);
out:
	if (s->kind == LAYER_COMPRESSION_GZIP)
		inflateEnd(&z);
	ZSTD_freeDCtx(zd);
	ring_finish(s, error, what);
	return NULL;
}

static la_ssize_t stream_read_cb(struct archive *a, void *data, const void **buf)
{
	struct stream *s = data;
	la_ssize_t len;

	if (s->kind == LAYER_COMPRESSION_NONE) {
		ssize_t n = stream_fill(s);
		if (n < 0) {
			archive_set_error(a, errno, "read layer");
			return -1;
		}
		*buf = s->in;
		return n;
	}
	pthread_mutex_lock(&s->mu);
	if (s->holding) {
		s->head = (s->head + 1) % RING_BLOCKS;
		s->count--;
		s->holding = false;
		pthread_cond_broadcast(&s->cv);
	}
	while (s->count == 0 && !s->done)
		pthread_cond_wait(&s->cv, &s->mu);
	if (s->count == 0) {
		/* Done: a clean end, or the producer's error. */
		int e = s->error;
		const char *what = s->what;
		pthread_mutex_unlock(&s->mu);
		if (e == 0)
			return 0;
		archive_set_error(a, e, "%s", what);
		return -1;
	}
	s->holding = true;
	*buf = s->blocks[s->head];
	len = (la_ssize_t)s->lens[s->head];
	pthread_mutex_unlock(&s->mu);
	return len;
}

/* Sniffs the magic bytes and starts the producer when compressed. */
static int stream_open(struct stream *s, int fd, enum layer_compression want, berth_error_t *err)
{
	static const unsigned char gzip_magic[] = {0x1f, 0x8b}, zstd_magic[] = {0x28, 0xb5, 0x2f, 0xfd};
	ssize_t n;

	s->fd = fd;
	s->in = malloc(READ_BLOCK);
	if (s->in == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "read layer");
	n = fs_read_all(fd, s->in, READ_BLOCK);
	if (n < 0)
		return berth_error_sys(err, errno, "read layer");
	s->in_len = (size_t)n;
	if (n >= 2 && memcmp(s->in, gzip_magic, 2) == 0)
		s->kind = LAYER_COMPRESSION_GZIP;
	else if (n >= 4 && memcmp(s->in, zstd_magic, 4) == 0)
		s->kind = LAYER_COMPRESSION_ZSTD;
	else
		s->kind = LAYER_COMPRESSION_NONE;
	if (want != LAYER_COMPRESSION_AUTO && want != s->kind) {
		static const char *const names[] = {"", "an uncompressed tar", "gzip", "zstd"};
		return berth_error_invalid(err, "read layer: expected %s, the stream is %s", names[want],
		                           names[s->kind]);
	}
	if (s->kind == LAYER_COMPRESSION_NONE)
		return 0;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->started = true;
	for (size_t i = 0; i < RING_BLOCKS; i++)
		if ((s->blocks[i] = malloc(READ_BLOCK)) == NULL)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "read layer");
	int rc = pthread_create(&s->thread, NULL, producer, s);
	if (rc != 0) {
		s->started = false;
		return berth_error_sys(err, rc, "read layer: start the decompression thread");
	}
	return 0;
}

static void stream_close(struct stream *s)
{
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->cancel = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
	}
	for (size_t i = 0; i < RING_BLOCKS; i++)
		free(s->blocks[i]);
	free(s->in);
}

int layer_apply(int layer_fd, int target_dir_fd, const struct layer_apply_options *opts,
                struct layer_apply_stats *stats_out, berth_error_t *err)
{
	struct applier ap = {.root_fd = target_dir_fd, .privileged = geteuid() == 0};
	enum layer_compression compression = LAYER_COMPRESSION_AUTO;
	struct archive *a;
	struct archive_entry *e;
	struct stream stream = {0};
	int rc = -1;

	if (opts != NULL) {
		if (opts->size < sizeof(*opts))
			return berth_error_invalid(err, "apply layer: options of an unknown size");
		ap.flags = opts->flags;
		ap.uid_offset = opts->uid_offset;
		ap.gid_offset = opts->gid_offset;
		compression = opts->compression;
	}

	a = archive_read_new();
	if (a == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "apply layer");
	archive_read_support_format_tar(a);
	if (stream_open(&stream, layer_fd, compression, err) < 0) {
		berth_error_prefix(err, "apply layer");
		goto out;
	}
	if (archive_read_open(a, &stream, NULL, stream_read_cb, NULL) != ARCHIVE_OK) {
		berth_error_set(err, BERTH_ERR_INVALID, 0, "apply layer: %s", archive_error_string(a));
		goto out;
	}
	for (;;) {
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			berth_error_set(err, BERTH_ERR_INVALID, 0, "apply layer: read tar: %s",
			                archive_error_string(a));
			goto out;
		}
		ap.st.entries++;
		if (apply_entry(&ap, a, e, err) < 0) {
			const char *entry = archive_entry_pathname(e);
			berth_error_prefix(err, "apply layer: layer entry `%s`", entry != NULL ? entry : "");
			goto out;
		}
		if (ap.flush_pending)
			cache_clear(&ap);
	}
	if (finish_layer(&ap, err) < 0) {
		berth_error_prefix(err, "apply layer");
		goto out;
	}
	rc = 0;
	if (stats_out != NULL)
		*stats_out = ap.st;
out:
	archive_read_free(a);
	stream_close(&stream);
	applier_free(&ap);
	return rc;
}
