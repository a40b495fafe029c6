/* Overlay mounts, paths inside a root, tree copies and user lookup for
 * berth-build (see fsops.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fsops.h"
#include "util/cleanup.h"
#include "util/fs.h"

int fsops_overlay_mount(char *const *lowers, size_t n, const char *upper, const char *work, const char *empty,
                        const char *target, berth_error_t *err)
{
	size_t len = 64 + (upper ? strlen(upper) + strlen(work) : 0) + strlen(empty) * 2;
	for (size_t i = 0; i < n; i++)
		len += strlen(lowers[i]) + 1;
	cleanup_free char *opts = malloc(len);
	if (opts == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "overlay options");
	size_t off = (size_t)snprintf(opts, len, "lowerdir=");
	if (n == 0) {
		off += (size_t)snprintf(opts + off, len - off, "%s", empty);
	} else {
		for (size_t i = 0; i < n; i++)
			off += (size_t)snprintf(opts + off, len - off, "%s%s", i ? ":" : "", lowers[i]);
	}
	/* overlayfs wants two lowers for a mount without an upper */
	if (upper == NULL && n < 2)
		off += (size_t)snprintf(opts + off, len - off, ":%s", empty);
	if (upper != NULL)
		off += (size_t)snprintf(opts + off, len - off, ",upperdir=%s,workdir=%s", upper, work);
	/* renamed directories and metadata-only copy-ups would need xattrs
	 * that a layer cannot carry: keep them off */
	snprintf(opts + off, len - off, ",index=off,redirect_dir=off,metacopy=off");
	if (mount("overlay", target, "overlay", upper == NULL ? MS_RDONLY : 0, opts) < 0)
		return berth_error_sys(err, errno, "mount overlay at `%s` (%s)", target, opts);
	return 0;
}

void fsops_umount(const char *target)
{
	if (umount2(target, 0) < 0 && errno == EBUSY)
		umount2(target, MNT_DETACH);
}

int fsops_open_in_root(int root_fd, const char *path, int flags, berth_error_t *err)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/')
		path++;
	if (*path == '\0')
		path = ".";
	for (;;) {
		int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		if (errno == EAGAIN || errno == EINTR)
			continue;
		return berth_error_sys(err, errno, "open `/%s`", path);
	}
}

int fsops_mkdir_in_root(int root_fd, const char *path, mode_t mode, uid_t uid, gid_t gid, bool *created,
                        berth_error_t *err)
{
	cleanup_free char *p = strdup(path);
	int fd;

	if (p == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "mkdir `%s`", path);
	if (created)
		*created = false;
	fd = fsops_open_in_root(root_fd, "/", O_PATH | O_DIRECTORY, err);
	if (fd < 0)
		return -1;
	/* one component at a time, each resolved in the root from the parent */
	char *save = NULL;
	for (char *c = strtok_r(p, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		bool made = false;
		if (mkdirat(fd, c, mode) == 0) {
			made = true;
			if (fchownat(fd, c, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
			    fchmodat(fd, c, mode, 0) < 0) {
				int e = errno;
				close(fd);
				return berth_error_sys(err, e, "mkdir `%s`: set owner and mode", path);
			}
		} else if (errno != EEXIST) {
			int e = errno;
			close(fd);
			return berth_error_sys(err, e, "mkdir `%s`", path);
		}
		/* resolve what is there now (a symlink of the image stays in the root) */
		struct open_how how = {
		    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
		};
		/* RESOLVE_IN_ROOT is relative to the dirfd: resolve the whole
		 * prefix from the root instead */
		cleanup_free char *prefix = strndup(path, (size_t)(c - p) + strlen(c));
		if (prefix == NULL) {
			close(fd);
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "mkdir `%s`", path);
		}
		int nfd;
		const char *rel = prefix;
		while (*rel == '/')
			rel++;
		do
			nfd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
		while (nfd < 0 && (errno == EAGAIN || errno == EINTR));
		close(fd);
		if (nfd < 0)
			return berth_error_sys(err, errno, "mkdir `%s`: `/%s`", path, rel);
		fd = nfd;
		if (created)
			*created = made;
	}
	return fd;
}

/* ---- copies ---- */

static void hash_str(struct oci_hasher *h, const char *tag, const char *s)
{
	if (h == NULL)
		return;
	oci_hasher_update(h, tag, strlen(tag) + 1);
	oci_hasher_update(h, s, strlen(s) + 1);
}

static void hash_meta(struct oci_hasher *h, const char *rel, const struct stat *st, mode_t mode, uid_t uid,
                      gid_t gid)
{
	char buf[160];
	if (h == NULL)
		return;
	hash_str(h, "path", rel);
	snprintf(buf, sizeof(buf), "%o %o %u %u %llu", (unsigned)(st->st_mode & S_IFMT), (unsigned)mode,
	         (unsigned)uid, (unsigned)gid,
	         S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ? (unsigned long long)st->st_rdev : 0ULL);
	hash_str(h, "meta", buf);
}

static int copy_data(int in, int out, struct oci_hasher *h)
{
	char buf[65536];
	if (h == NULL) {
		/* in the kernel, without the copy through this buffer; a file
		 * system that cannot (EINVAL) gets the loop below */
		ssize_t r;
		while ((r = sendfile(out, in, NULL, 1 << 30)) > 0 || (r < 0 && errno == EINTR))
			;
		if (r == 0)
			return 0;
		if (errno != EINVAL && errno != ENOSYS)
			return -1;
	}
	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		if (h != NULL)
			oci_hasher_update(h, buf, (size_t)r);
		if (fs_write_all(out, buf, (size_t)r) < 0)
			return -1;
	}
}

static char *join_rel(const char *rel, const char *name)
{
	char *s = NULL;
	if (rel == NULL || *rel == '\0' || strcmp(rel, ".") == 0)
		return strdup(name);
	if (asprintf(&s, "%s/%s", rel, name) < 0)
		return NULL;
	return s;
}

static int set_times(int dst_dir_fd, const char *name, const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	return utimensat(dst_dir_fd, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* A symlink's target into target (PATH_MAX), and into the hash. */
static int read_link(int dir_fd, const char *name, const char *rel, char *target, struct oci_hasher *h,
                     berth_error_t *err)
{
	ssize_t n = readlinkat(dir_fd, name, target, PATH_MAX - 1);
	if (n < 0)
		return berth_error_sys(err, errno, "copy `%s`: readlink", rel);
	target[n] = '\0';
	hash_str(h, "link", target);
	return 0;
}

/* A dry copy: what the hash of a real one would see. */
static int hash_only(int src_dir_fd, const char *src_name, const char *rel, const struct stat *st,
                     const struct fsops_copy_opts *o, berth_error_t *err)
{
	if (S_ISDIR(st->st_mode)) {
		cleanup_close int sfd =
		    openat(src_dir_fd, src_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			return berth_error_sys(err, errno, "copy `%s`: open directory", rel);
		return fsops_copy_contents(sfd, rel, -1, o, err);
	}
	if (S_ISREG(st->st_mode)) {
		char d[OCI_DIGEST_MAX];
		if (fsops_file_digest(o, src_dir_fd, src_name, d, err) < 0)
			return berth_error_prefix(err, "copy `%s`", rel);
		hash_str(o->hash, "data", d);
		return 0;
	}
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		if (read_link(src_dir_fd, src_name, rel, target, o->hash, err) < 0)
			return -1;
	}
	return 0;
}

int fsops_file_digest(const struct fsops_copy_opts *o, int dir_fd, const char *name, char out[OCI_DIGEST_MAX],
                      berth_error_t *err)
{
	if (o->digests != NULL)
		return statcache_digest(o->digests, dir_fd, name, out, err);
	cleanup_close int fd = statcache_open_file(dir_fd, name);
	if (fd < 0)
		return berth_error_sys(err, errno, "open");
	return oci_digest_fd(OCI_DIGEST_SHA256, fd, out, NULL, err);
}

int fsops_mode_apply(const char *spec, mode_t cur, bool is_dir, mode_t *out)
{
	mode_t m = cur & 07777;
	const char *s = spec;
	for (;;) {
		mode_t who = 0;
		for (; *s && strchr("ugoa", *s); s++)
			who |= *s == 'u' ? 04700 : *s == 'g' ? 02070 : *s == 'o' ? 01007 : 07777;
		if (who == 0)
			who = 07777;
		if (*s == '\0' || strchr("+-=", *s) == NULL)
			return -1;
		while (*s && strchr("+-=", *s)) {
			char op = *s++;
			mode_t bits = 0;
			if (*s && strchr("ugo", *s) && (s[1] == '\0' || strchr(",+-=", s[1]))) {
				/* copy another class's bits */
				mode_t v = *s == 'u' ? (m >> 6) & 7 : *s == 'g' ? (m >> 3) & 7 : m & 7;
				bits = (mode_t)(v << 6 | v << 3 | v);
				s++;
			} else {
				for (; *s && strchr("rwxXst", *s); s++) {
					switch (*s) {
					case 'r':
						bits |= 0444;
						break;
					case 'w':
						bits |= 0222;
						break;
					case 'x':
						bits |= 0111;
						break;
					case 'X':
						if (is_dir || (cur & 0111) != 0)
							bits |= 0111;
						break;
					case 's':
						bits |= 06000;
						break;
					case 't':
						bits |= 01000;
						break;
					}
				}
			}
			bits &= who;
			if (op == '+')
				m |= bits;
			else if (op == '-')
				m &= ~bits;
			else
				m = (m & ~(who & 0777)) | bits;
		}
		if (*s == '\0')
			break;
		if (*s++ != ',')
			return -1;
	}
	*out = m;
	return 0;
}

mode_t fsops_copy_mode(const struct fsops_copy_opts *o, mode_t st_mode)
{
	mode_t m = st_mode & 07777;
	if (S_ISLNK(st_mode))
		return m;
	if (o->chmod_sym != NULL && fsops_mode_apply(o->chmod_sym, st_mode, S_ISDIR(st_mode), &m) == 0)
		return m;
	return o->mode >= 0 ? (mode_t)o->mode : m;
}

int fsops_copy(int src_dir_fd, const char *src_name, const char *rel, int dst_dir_fd, const char *dst_name,
               const struct fsops_copy_opts *o, berth_error_t *err)
{
	struct stat st;
	if (fstatat(src_dir_fd, src_name, &st, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) < 0)
		return berth_error_sys(err, errno, "stat `%s`", rel);
	uid_t uid = o->uid != (uid_t)-1 ? o->uid : st.st_uid;
	gid_t gid = o->gid != (gid_t)-1 ? o->gid : st.st_gid;
	mode_t mode = fsops_copy_mode(o, st.st_mode);

	if (o->ignore != NULL && *rel != '\0' && strcmp(rel, ".") != 0) {
		int ex = dockerignore_matches(o->ignore, rel, err);
		if (ex < 0)
			return -1;
		if (ex && !(S_ISDIR(st.st_mode) && o->ignore->has_exceptions))
			return 0;
	}
	if (o->exclude != NULL) {
		/* --exclude: the path below the copied directory */
		size_t bl = o->exclude_base ? strlen(o->exclude_base) : 0;
		const char *sub = rel;
		if (bl > 0 && strncmp(rel, o->exclude_base, bl) == 0 && (rel[bl] == '/' || rel[bl] == '\0'))
			sub = rel[bl] == '/' ? rel + bl + 1 : rel + bl;
		if (*sub != '\0') {
			int ex = dockerignore_matches(o->exclude, sub, err);
			if (ex < 0)
				return -1;
			if (ex && !(S_ISDIR(st.st_mode) && o->exclude->has_exceptions))
				return 0;
		}
	}
	hash_meta(o->hash, rel, &st, mode, uid, gid);
	if (o->dry)
		return hash_only(src_dir_fd, src_name, rel, &st, o, err);

	if (S_ISDIR(st.st_mode)) {
		struct stat dst;
		if (fstatat(dst_dir_fd, dst_name, &dst, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(dst.st_mode)) {
			if (unlinkat(dst_dir_fd, dst_name, 0) < 0)
				return berth_error_sys(err, errno, "copy `%s`: replace `%s`", rel, dst_name);
		}
		if (mkdirat(dst_dir_fd, dst_name, 0700) < 0 && errno != EEXIST)
			return berth_error_sys(err, errno, "copy `%s`: mkdir", rel);
		cleanup_close int sfd =
		    openat(src_dir_fd, src_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		cleanup_close int dfd =
		    openat(dst_dir_fd, dst_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || dfd < 0)
			return berth_error_sys(err, errno, "copy `%s`: open directory", rel);
		if (fsops_copy_contents(sfd, rel, dfd, o, err) < 0)
			return -1;
		if (fchown(dfd, uid, gid) < 0 || fchmod(dfd, mode) < 0)
			return berth_error_sys(err, errno, "copy `%s`: set owner and mode", rel);
		struct timespec ts[2] = {st.st_atim, st.st_mtim};
		futimens(dfd, ts);
		return 0;
	}

	/* anything else replaces what the destination has */
	if (unlinkat(dst_dir_fd, dst_name, 0) < 0 && errno != ENOENT) {
		if (errno != EISDIR || fs_remove_tree_at(dst_dir_fd, dst_name, err) < 0)
			return berth_error_sys(err, errno, "copy `%s`: replace `%s`", rel, dst_name);
	}
	if (S_ISREG(st.st_mode)) {
		const struct fsops_reuse *ru = o->hash == NULL ? o->reuse : NULL;
		int taken =
		    ru != NULL ? ru->take(ru->ctx, dst_dir_fd, dst_name, &st, uid, gid, mode, err) : 0;
		if (taken != 0)
			return taken < 0 ? berth_error_prefix(err, "copy `%s`", rel) : 0;
		cleanup_close int in = openat(src_dir_fd, src_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (in < 0)
			return berth_error_sys(err, errno, "copy `%s`: open", rel);
		cleanup_close int out =
		    openat(dst_dir_fd, dst_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			return berth_error_sys(err, errno, "copy `%s`: create", rel);
		if (o->hash != NULL)
			oci_hasher_update(o->hash, "data", 5);
		if (copy_data(in, out, o->hash) < 0)
			return berth_error_sys(err, errno, "copy `%s`", rel);
		if (fchown(out, uid, gid) < 0 || fchmod(out, mode) < 0)
			return berth_error_sys(err, errno, "copy `%s`: set owner and mode", rel);
		struct timespec ts[2] = {st.st_atim, st.st_mtim};
		futimens(out, ts);
		if (ru != NULL && ru->made(ru->ctx, dst_dir_fd, dst_name, out, &st, err) < 0)
			return berth_error_prefix(err, "copy `%s`", rel);
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		if (read_link(src_dir_fd, src_name, rel, target, o->hash, err) < 0)
			return -1;
		if (symlinkat(target, dst_dir_fd, dst_name) < 0)
			return berth_error_sys(err, errno, "copy `%s`: symlink", rel);
		if (fchownat(dst_dir_fd, dst_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_error_sys(err, errno, "copy `%s`: chown", rel);
		set_times(dst_dir_fd, dst_name, &st);
		return 0;
	}
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		if (mknodat(dst_dir_fd, dst_name, st.st_mode & S_IFMT, st.st_rdev) < 0)
			return berth_error_sys(err, errno, "copy `%s`: mknod", rel);
		if (fchownat(dst_dir_fd, dst_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(dst_dir_fd, dst_name, mode, 0) < 0)
			return berth_error_sys(err, errno, "copy `%s`: set owner and mode", rel);
		set_times(dst_dir_fd, dst_name, &st);
		return 0;
	}
	return 0; /* sockets are not copied */
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- copying a directory's entries on two threads ----
 *
 * Creating files is most of a large COPY: the subdirectories of a directory
 * are shared between the caller's thread and one helper (each takes the
 * next one, and copies it whole), once the caller has done the other
 * entries.  Not the files of one directory: two threads creating in one
 * directory wait for each other on its lock.  The directory's own times
 * are set after both are done.  A helper does not start helpers. */

struct par_copy {
	int src_fd, dst_fd;
	const char *rel;
	const struct fsops_copy_opts *o;
	char **names;
	const bool *is_dir;
	size_t n;
	size_t next;       /* the next entry to take (atomic) */
	bool failed;       /* (atomic) */
	berth_error_t err; /* the helper's */
};

static __thread bool in_helper;

static int copy_dirs(struct par_copy *p, berth_error_t *err)
{
	for (;;) {
		if (__atomic_load_n(&p->failed, __ATOMIC_RELAXED))
			return 0;
		size_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
		if (i >= p->n)
			return 0;
		if (!p->is_dir[i])
			continue;
		cleanup_free char *sub = join_rel(p->rel, p->names[i]);
		if (sub == NULL ||
		    fsops_copy(p->src_fd, p->names[i], sub, p->dst_fd, p->names[i], p->o, err) < 0) {
			__atomic_store_n(&p->failed, true, __ATOMIC_RELAXED);
			return *err ? -1 : berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy `%s`", p->rel);
		}
	}
}

static void *copy_helper(void *arg)
{
	struct par_copy *p = arg;
	in_helper = true;
	copy_dirs(p, &p->err);
	return NULL;
}

static int copy_parallel(int src_fd, const char *rel, int dst_fd, const struct fsops_copy_opts *o,
                         char **names, size_t n, berth_error_t *err)
{
	cleanup_free bool *is_dir = calloc(n, sizeof(bool));
	if (is_dir == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy `%s`", rel);
	size_t dirs = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		is_dir[i] = fstatat(src_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode);
		dirs += is_dir[i];
	}
	struct par_copy p = {
	    .src_fd = src_fd, .dst_fd = dst_fd, .rel = rel, .o = o, .names = names, .is_dir = is_dir, .n = n};
	pthread_t th;
	bool helper = dirs >= 2 && pthread_create(&th, NULL, copy_helper, &p) == 0;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (is_dir[i])
			continue;
		cleanup_free char *sub = join_rel(rel, names[i]);
		if (sub == NULL)
			r = berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy `%s`", rel);
		else
			r = fsops_copy(src_fd, names[i], sub, dst_fd, names[i], o, err);
		if (r < 0)
			__atomic_store_n(&p.failed, true, __ATOMIC_RELAXED);
	}
	if (r == 0)
		r = copy_dirs(&p, err);
	if (helper)
		pthread_join(th, NULL);
	if (r == 0 && p.err != NULL) {
		*err = p.err;
		return -1;
	}
	berth_error_free(&p.err);
	return r;
}

int fsops_copy_contents(int src_fd, const char *rel, int dst_fd, const struct fsops_copy_opts *o,
                        berth_error_t *err)
{
	int dup_fd = openat(src_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_fd < 0)
		return berth_error_sys(err, errno, "copy `%s`: open", rel);
	cleanup_dir DIR *d = fdopendir(dup_fd);
	if (d == NULL) {
		close(dup_fd);
		return berth_error_sys(err, errno, "copy `%s`: opendir", rel);
	}
	/* sorted, so that the hash does not depend on the directory's order */
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (nn == NULL) {
				r = berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy `%s`", rel);
				goto out;
			}
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			r = berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy `%s`", rel);
			goto out;
		}
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	if (!o->dry && o->hash == NULL && !in_helper && n >= 2) {
		r = copy_parallel(src_fd, rel, dst_fd, o, names, n, err);
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		cleanup_free char *sub = join_rel(rel, names[i]);
		if (sub == NULL)
			r = berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy `%s`", rel);
		else
			r = fsops_copy(src_fd, names[i], sub, dst_fd, names[i], o, err);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* ---- users ---- */

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Finds `name` (or the numeric id) in a passwd/group style file: field 0 is
 * the name, field 2 the id, field 3 (passwd) the primary group. */
static int lookup_db(int root_fd, const char *file, const char *name, long *id, long *gid)
{
	berth_error_t e = NULL;
	int fd = fsops_open_in_root(root_fd, file, O_RDONLY, &e);
	cleanup_free char *buf = NULL;
	berth_error_free(&e);
	if (fd < 0)
		return 0;
	size_t len = 0, cap = 0;
	for (;;) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);
			if (nb == NULL)
				break;
			buf = nb;
			cap += 65536;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (buf == NULL)
		return 0;
	buf[len] = '\0';
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[5] = {NULL};
		int k = 0;
		for (char *t = line; k < 5; k++) {
			f[k] = t;
			char *c = strchr(t, ':');
			if (c == NULL) {
				k++;
				break;
			}
			*c = '\0';
			t = c + 1;
		}
		if (k < 3 || f[2] == NULL)
			continue;
		if (strcmp(f[0], name) == 0 || (all_digits(name) && strcmp(f[2], name) == 0)) {
			*id = strtol(f[2], NULL, 10);
			if (gid != NULL)
				*gid = k >= 4 && f[3] != NULL ? strtol(f[3], NULL, 10) : 0;
			return 1;
		}
	}
	return 0;
}

int fsops_lookup_user(int root_fd, const char *spec, bool chown, uid_t *uid, gid_t *gid, berth_error_t *err)
{
	cleanup_free char *u = strdup(spec);
	if (u == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "user `%s`", spec);
	char *g = strchr(u, ':');
	if (g != NULL)
		*g++ = '\0';
	long id = 0, pgid = 0;
	if (lookup_db(root_fd, "/etc/passwd", u, &id, &pgid) == 0) {
		if (!all_digits(u))
			return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0,
			                       "user `%s`: no such user in /etc/passwd", u);
		id = strtol(u, NULL, 10);
		pgid = 0;
	}
	*uid = (uid_t)id;
	/* COPY --chown: no group means the uid's number; USER: the user's
	 * primary group */
	*gid = chown ? (gid_t)id : (gid_t)pgid;
	if (g != NULL) {
		long gg = 0;
		if (lookup_db(root_fd, "/etc/group", g, &gg, NULL) == 0) {
			if (!all_digits(g))
				return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0,
				                       "group `%s`: no such group in /etc/group", g);
			gg = strtol(g, NULL, 10);
		}
		*gid = (gid_t)gg;
	}
	return 0;
}

int fsops_remove(const char *path, berth_error_t *err)
{
	return fs_remove_tree_at(AT_FDCWD, path, err);
}
