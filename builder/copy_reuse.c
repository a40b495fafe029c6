/* A COPY made from the previous version of its step (see copy_reuse.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "copy_reuse.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MAGIC "berth-build files 1\n"
#define HEX   64

/* A file of a record: the previous version's (looked up) or this one's. */
struct file {
	char *path;
	uint64_t ino;
	char hex[HEX + 1];
	size_t dir;    /* this version's: its directory (an index of dirs) */
	bool deferred; /* this version's: to be linked by copy_reuse_finish */
	bool gone;     /* this version's: replaced by a later write of the path */
};

/* A destination directory met by the copy, by its inode in the overlay. */
struct dir {
	uint64_t dev, ino;
	char *rel; /* relative to the root, "" for the root; NULL: outside */
	bool in_upper;
	bool touched; /* finish: its times saved */
	struct timespec times[2];
};

/* An open-addressed index of an array (entries + 1; 0 is empty). */
struct index {
	size_t *slots;
	size_t cap; /* a power of two */
};

struct copy_reuse {
	pthread_mutex_t lock;
	struct statcache *sc;
	char *merged; /* its real path */
	size_t merged_len;
	int upper_fd;
	int old_fd; /* the previous version's upper directory, -1 when none */
	struct file *old;
	size_t n_old;
	struct index old_idx;
	struct file *cur;
	size_t n_cur, cap_cur;
	struct index cur_idx;
	struct dir *dirs;
	size_t n_dirs, cap_dirs;
	struct index dir_idx;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h ^ (h >> 29);
}

static uint64_t hash_ino(uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ (dev * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

/* Makes room for n entries (at most half full). */
static int index_reserve(struct index *x, size_t n, uint64_t (*key)(const void *, size_t), const void *arr)
{
	if (n * 2 <= x->cap)
		return 0;
	size_t cap = x->cap ? x->cap : 64;
	while (n * 2 > cap)
		cap *= 2;
	size_t *slots = calloc(cap, sizeof(*slots));
	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < x->cap; i++) {
		if (x->slots[i] == 0)
			continue;
		size_t j = (size_t)key(arr, x->slots[i] - 1) & (cap - 1);
		while (slots[j] != 0)
			j = (j + 1) & (cap - 1);
		slots[j] = x->slots[i];
	}
	free(x->slots);
	x->slots = slots;
	x->cap = cap;
	return 0;
}

static uint64_t file_key(const void *arr, size_t i)
{
	return hash_str(((const struct file *)arr)[i].path);
}

static uint64_t dir_key(const void *arr, size_t i)
{
	const struct dir *d = &((const struct dir *)arr)[i];
	return hash_ino(d->dev, d->ino);
}

/* The slot of path in a file index: its entry + 1, or 0 (then *slot is where
 * it goes). */
static size_t file_find(const struct index *x, const struct file *v, const char *path, size_t *slot)
{
	if (x->cap == 0)
		return 0;
	size_t j = (size_t)hash_str(path) & (x->cap - 1);
	while (x->slots[j] != 0 && strcmp(v[x->slots[j] - 1].path, path) != 0)
		j = (j + 1) & (x->cap - 1);
	if (slot != NULL)
		*slot = j;
	return x->slots[j];
}

/* ---- the record ---- */

static int load_old(struct copy_reuse *r, const char *entry)
{
	cleanup_free char *path = NULL, *text = NULL;
	size_t len = 0;
	berth_error_t e = NULL;
	struct stat sb;
	if (asprintf(&path, "%s/layer", entry) < 0 || stat(path, &sb) < 0)
		return 0; /* not complete: no previous version */
	free(path);
	path = NULL;
	if (asprintf(&path, "%s/files", entry) < 0 || fs_read_file_at(AT_FDCWD, path, &text, &len, &e) < 0) {
		berth_error_free(&e);
		return 0;
	}
	if (len < strlen(MAGIC) || memcmp(text, MAGIC, strlen(MAGIC)) != 0)
		return 0;
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	r->old = calloc(lines + 1, sizeof(*r->old));
	if (r->old == NULL || index_reserve(&r->old_idx, lines + 1, file_key, r->old) < 0)
		return -1;
	for (char *line = text + strlen(MAGIC); line < text + len;) {
		char *nl = memchr(line, '\n', (size_t)(text + len - line));
		if (nl == NULL)
			break;
		*nl = '\0';
		char *end;
		errno = 0;
		unsigned long long ino = strtoull(line, &end, 10);
		if (errno != 0 || *end != ' ' || strlen(end + 1) < HEX + 2 || end[HEX + 1] != ' ')
			break; /* malformed: what came before is still sound */
		struct file *f = &r->old[r->n_old];
		f->ino = ino;
		memcpy(f->hex, end + 1, HEX);
		if ((f->path = strdup(end + HEX + 2)) == NULL)
			return -1;
		size_t slot;
		if (file_find(&r->old_idx, r->old, f->path, &slot) != 0) {
			free(f->path); /* twice: the first line stays */
			f->path = NULL;
		} else {
			r->old_idx.slots[slot] = ++r->n_old;
		}
		line = nl + 1;
	}
	return 0;
}

int copy_reuse_new(const char *old_entry, const char *merged, const char *upper, struct statcache *sc,
                   struct copy_reuse **out, berth_error_t *err)
{
	struct copy_reuse *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy reuse");
	pthread_mutex_init(&r->lock, NULL);
	r->sc = sc;
	r->old_fd = -1;
	r->upper_fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->upper_fd < 0 || (r->merged = realpath(merged, NULL)) == NULL) {
		berth_error_sys(err, errno, "copy reuse: `%s`", r->upper_fd < 0 ? upper : merged);
		copy_reuse_free(r);
		return -1;
	}
	r->merged_len = strlen(r->merged);
	if (old_entry != NULL) {
		cleanup_free char *u = NULL;
		if (load_old(r, old_entry) < 0) {
			copy_reuse_free(r);
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy reuse");
		}
		if (r->n_old > 0 && asprintf(&u, "%s/u", old_entry) >= 0)
			r->old_fd = open(u, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	*out = r;
	return 0;
}

void copy_reuse_free(struct copy_reuse *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_old; i++)
		free(r->old[i].path);
	for (size_t i = 0; i < r->n_cur; i++)
		free(r->cur[i].path);
	for (size_t i = 0; i < r->n_dirs; i++)
		free(r->dirs[i].rel);
	free(r->old);
	free(r->cur);
	free(r->dirs);
	free(r->old_idx.slots);
	free(r->cur_idx.slots);
	free(r->dir_idx.slots);
	free(r->merged);
	if (r->upper_fd >= 0)
		close(r->upper_fd);
	if (r->old_fd >= 0)
		close(r->old_fd);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- during the copy (r->lock held) ---- */

/* The destination directory dfd (an fd in the overlay), found or added:
 * its path relative to the root from what the kernel says it is. */
static struct dir *dir_of(struct copy_reuse *r, int dfd, size_t *index)
{
	struct stat sb;
	if (fstat(dfd, &sb) < 0)
		return NULL;
	size_t j = 0;
	if (r->dir_idx.cap > 0) {
		j = (size_t)hash_ino(sb.st_dev, sb.st_ino) & (r->dir_idx.cap - 1);
		while (r->dir_idx.slots[j] != 0) {
			struct dir *d = &r->dirs[r->dir_idx.slots[j] - 1];
			if (d->dev == sb.st_dev && d->ino == sb.st_ino) {
				*index = r->dir_idx.slots[j] - 1;
				return d;
			}
			j = (j + 1) & (r->dir_idx.cap - 1);
		}
	}
	if (r->n_dirs == r->cap_dirs) {
		size_t cap = r->cap_dirs ? r->cap_dirs * 2 : 64;
		struct dir *n = realloc(r->dirs, cap * sizeof(*n));
		if (n == NULL)
			return NULL;
		r->dirs = n;
		r->cap_dirs = cap;
	}
	if (index_reserve(&r->dir_idx, r->n_dirs + 1, dir_key, r->dirs) < 0)
		return NULL;
	struct dir *d = memset(&r->dirs[r->n_dirs], 0, sizeof(*d));
	d->dev = sb.st_dev;
	d->ino = sb.st_ino;
	char proc[64], path[PATH_MAX];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dfd);
	ssize_t n = readlink(proc, path, sizeof(path) - 1);
	if (n > 0) {
		path[n] = '\0';
		if (strncmp(path, r->merged, r->merged_len) == 0 &&
		    (path[r->merged_len] == '\0' || path[r->merged_len] == '/'))
			d->rel = strdup(path[r->merged_len] ? path + r->merged_len + 1 : "");
	}
	j = (size_t)hash_ino(sb.st_dev, sb.st_ino) & (r->dir_idx.cap - 1);
	while (r->dir_idx.slots[j] != 0)
		j = (j + 1) & (r->dir_idx.cap - 1);
	r->dir_idx.slots[j] = ++r->n_dirs;
	*index = r->n_dirs - 1;
	return d;
}

static char *join(const char *dir, const char *name)
{
	char *s = NULL;
	if (*dir == '\0')
		return strdup(name);
	return asprintf(&s, "%s/%s", dir, name) < 0 ? NULL : s;
}

/* This version's file at path (a later write of a path replaces the
 * earlier one's entry). */
static int cur_add(struct copy_reuse *r, char *path, uint64_t ino, const char *hex, size_t dir, bool deferred)
{
	size_t slot = 0, had = file_find(&r->cur_idx, r->cur, path, &slot);
	if (had != 0)
		r->cur[had - 1].gone = true;
	if (r->n_cur == r->cap_cur) {
		size_t cap = r->cap_cur ? r->cap_cur * 2 : 256;
		struct file *n = realloc(r->cur, cap * sizeof(*n));
		if (n == NULL)
			return -1;
		r->cur = n;
		r->cap_cur = cap;
	}
	if (had == 0) {
		if (index_reserve(&r->cur_idx, r->n_cur + 1, file_key, r->cur) < 0)
			return -1;
		file_find(&r->cur_idx, r->cur, path, &slot);
	}
	r->cur[r->n_cur] = (struct file){.path = path, .ino = ino, .dir = dir, .deferred = deferred};
	memcpy(r->cur[r->n_cur].hex, hex, HEX + 1);
	r->cur_idx.slots[slot] = ++r->n_cur;
	return 0;
}

/* Forgets an earlier write of path: something else is there now. */
static void cur_drop(struct copy_reuse *r, const char *path)
{
	size_t had = file_find(&r->cur_idx, r->cur, path, NULL);
	if (had != 0)
		r->cur[had - 1].gone = true;
}

/* Whether the previous version has the file that copying src (with uid,
 * gid, mode and content hex) to path would make. */
static bool old_matches(struct copy_reuse *r, const char *path, const struct stat *src, uid_t uid, gid_t gid,
                        mode_t mode, const char *hex, uint64_t *ino)
{
	size_t i = file_find(&r->old_idx, r->old, path, NULL);
	if (i == 0 || memcmp(r->old[i - 1].hex, hex, HEX) != 0)
		return false;
	struct stat ob;
	if (fstatat(r->old_fd, path, &ob, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	*ino = ob.st_ino;
	return S_ISREG(ob.st_mode) && ob.st_ino == r->old[i - 1].ino && ob.st_size == src->st_size &&
	       ob.st_mtim.tv_sec == src->st_mtim.tv_sec && ob.st_mtim.tv_nsec == src->st_mtim.tv_nsec &&
	       ob.st_uid == uid && ob.st_gid == gid && (ob.st_mode & 07777) == (mode & 07777);
}

static int take_locked(struct copy_reuse *r, int dfd, const char *name, const struct stat *src, uid_t uid,
                       gid_t gid, mode_t mode, berth_error_t *err)
{
	size_t di;
	struct dir *d = dir_of(r, dfd, &di);
	if (d == NULL)
		return berth_error_sys(err, errno ? errno : ENOMEM, "copy reuse");
	if (d->rel == NULL)
		return 0;
	cleanup_free char *path = join(d->rel, name);
	if (path == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy reuse");
	cur_drop(r, path);
	char digest[OCI_DIGEST_MAX];
	uint64_t ino;
	if (r->old_fd < 0 || statcache_lookup(r->sc, src, digest) != 1 ||
	    !old_matches(r, path, src, uid, gid, mode, digest + 7, &ino))
		return 0;
	if (!d->in_upper) {
		/* a directory only in a lower: a copy would copy it up first */
		struct stat ub;
		d->in_upper = fstatat(r->upper_fd, *d->rel ? d->rel : ".", &ub, AT_SYMLINK_NOFOLLOW) == 0 &&
		              S_ISDIR(ub.st_mode);
		if (!d->in_upper)
			return 0;
	}
	if (cur_add(r, path, ino, digest + 7, di, true) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy reuse");
	path = NULL;
	return 1;
}

static int take(void *ctx, int dfd, const char *name, const struct stat *src, uid_t uid, gid_t gid,
                mode_t mode, berth_error_t *err)
{
	struct copy_reuse *r = ctx;
	pthread_mutex_lock(&r->lock);
	int k = take_locked(r, dfd, name, src, uid, gid, mode, err);
	pthread_mutex_unlock(&r->lock);
	return k;
}

static int made_locked(struct copy_reuse *r, int dfd, const char *name, int fd, const struct stat *src,
                       berth_error_t *err)
{
	size_t di;
	struct dir *d = dir_of(r, dfd, &di);
	if (d == NULL)
		return berth_error_sys(err, errno ? errno : ENOMEM, "copy reuse");
	char digest[OCI_DIGEST_MAX];
	struct stat sb;
	/* a file whose digest the stat cache does not have (it changed a
	 * moment ago) is not recorded: the next version copies it again */
	if (d->rel == NULL || statcache_lookup(r->sc, src, digest) != 1 || fstat(fd, &sb) < 0)
		return 0;
	char *path = join(d->rel, name);
	if (path == NULL || cur_add(r, path, sb.st_ino, digest + 7, di, false) < 0) {
		free(path);
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy reuse");
	}
	return 0;
}

static int made(void *ctx, int dfd, const char *name, int fd, const struct stat *src, berth_error_t *err)
{
	struct copy_reuse *r = ctx;
	pthread_mutex_lock(&r->lock);
	int k = made_locked(r, dfd, name, fd, src, err);
	pthread_mutex_unlock(&r->lock);
	return k;
}

void copy_reuse_hooks(struct copy_reuse *r, struct fsops_reuse *hooks)
{
	*hooks = (struct fsops_reuse){.take = take, .made = made, .ctx = r};
}

/* ---- after the copy ---- */

/* The previous version's file copied into the upper directory, as the copy
 * through the overlay would have made it (a link cannot be made). */
static int copy_file(struct copy_reuse *r, struct file *f, berth_error_t *err)
{
	cleanup_close int in = openat(r->old_fd, f->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;
	if (in < 0 || fstat(in, &sb) < 0)
		return berth_error_sys(err, errno, "copy reuse: `%s`", f->path);
	cleanup_close int out =
	    openat(r->upper_fd, f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return berth_error_sys(err, errno, "copy reuse: create `%s`", f->path);
	ssize_t n;
	while ((n = sendfile(out, in, NULL, 1 << 30)) > 0 || (n < 0 && errno == EINTR))
		;
	struct timespec ts[2] = {sb.st_atim, sb.st_mtim};
	if (n < 0 || fchown(out, sb.st_uid, sb.st_gid) < 0 || fchmod(out, sb.st_mode & 07777) < 0 ||
	    futimens(out, ts) < 0 || fstat(out, &sb) < 0)
		return berth_error_sys(err, errno, "copy reuse: `%s`", f->path);
	f->ino = sb.st_ino;
	return 0;
}

static int link_file(struct copy_reuse *r, struct file *f, berth_error_t *err)
{
	for (int tries = 0;; tries++) {
		if (linkat(r->old_fd, f->path, r->upper_fd, f->path, 0) == 0)
			return 1;
		int e = errno;
		struct stat ub;
		if (e == EEXIST && tries == 0 &&
		    fstatat(r->upper_fd, f->path, &ub, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(ub.st_mode) &&
		    ub.st_rdev == makedev(0, 0)) {
			/* the whiteout of a lower's file the copy removed */
			if (unlinkat(r->upper_fd, f->path, 0) < 0)
				return berth_error_sys(err, errno, "copy reuse: `%s`", f->path);
			continue;
		}
		if (e == EEXIST || e == ENOENT || e == ENOTDIR) {
			/* a later write of the copy put something else there */
			f->gone = true;
			return 0;
		}
		if (e == EXDEV || e == EMLINK || e == EPERM)
			return copy_file(r, f, err) < 0 ? -1 : 1;
		return berth_error_sys(err, e, "copy reuse: link `%s`", f->path);
	}
}

int copy_reuse_finish(struct copy_reuse *r, size_t *linked, berth_error_t *err)
{
	*linked = 0;
	/* the directories' times first: a link changes them */
	for (size_t i = 0; i < r->n_cur; i++) {
		struct file *f = &r->cur[i];
		struct dir *d = &r->dirs[f->dir];
		if (!f->deferred || f->gone || d->touched)
			continue;
		struct stat sb;
		if (fstatat(r->upper_fd, *d->rel ? d->rel : ".", &sb, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_error_sys(err, errno, "copy reuse: `%s`", d->rel);
		d->times[0] = sb.st_atim;
		d->times[1] = sb.st_mtim;
		d->touched = true;
	}
	for (size_t i = 0; i < r->n_cur; i++) {
		struct file *f = &r->cur[i];
		if (!f->deferred || f->gone)
			continue;
		int k = link_file(r, f, err);
		if (k < 0)
			return -1;
		*linked += (size_t)k;
	}
	for (size_t i = 0; i < r->n_dirs; i++) {
		struct dir *d = &r->dirs[i];
		if (d->touched &&
		    utimensat(r->upper_fd, *d->rel ? d->rel : ".", d->times, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_error_sys(err, errno, "copy reuse: times of `%s`", d->rel);
	}
	return 0;
}

int copy_reuse_save(struct copy_reuse *r, int entry_fd, berth_error_t *err)
{
	size_t len = strlen(MAGIC);
	for (size_t i = 0; i < r->n_cur; i++)
		len += strlen(r->cur[i].path) + HEX + 24;
	cleanup_free char *text = malloc(len + 1);
	if (text == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy reuse");
	size_t off = (size_t)snprintf(text, len + 1, "%s", MAGIC);
	for (size_t i = 0; i < r->n_cur; i++) {
		const struct file *f = &r->cur[i];
		if (f->gone || strchr(f->path, '\n') != NULL)
			continue;
		off += (size_t)snprintf(text + off, len + 1 - off, "%" PRIu64 " %s %s\n", f->ino, f->hex,
		                        f->path);
	}
	return fs_write_file_atomic_at(entry_fd, "files", text, off, 0600, err);
}

/* ---- the previous version of a step ---- */

static char *prev_path(const char *cache, const char *prev)
{
	const char *hex = strchr(prev, ':');
	char *s = NULL;
	return asprintf(&s, "%s/steps/.prev/%.32s", cache, hex ? hex + 1 : prev) < 0 ? NULL : s;
}

int copy_reuse_prev_get(const char *cache, const char *prev, char key[OCI_DIGEST_MAX])
{
	cleanup_free char *path = prev_path(cache, prev), *text = NULL;
	berth_error_t e = NULL;
	if (path == NULL || fs_read_file_at(AT_FDCWD, path, &text, NULL, &e) < 0) {
		berth_error_free(&e);
		return 0;
	}
	if (strncmp(text, "sha256:", 7) != 0 || strlen(text) < 7 + HEX ||
	    strspn(text + 7, "0123456789abcdef") != HEX)
		return 0;
	snprintf(key, OCI_DIGEST_MAX, "%.*s", 7 + HEX, text);
	return 1;
}

int copy_reuse_prev_set(const char *cache, const char *prev, const char *key, berth_error_t *err)
{
	cleanup_free char *path = prev_path(cache, prev);
	if (path == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy reuse");
	char *slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return berth_error_sys(err, errno, "mkdir `%s`", path);
	*slash = '/';
	return fs_write_file_atomic_at(AT_FDCWD, path, key, strlen(key), 0600, err);
}
