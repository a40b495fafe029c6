/* Computing a layer tar from a change to a directory tree (contract in
 * layer.h).
 *
 *   1. walk: upper (and lower) directory by directory, names merged in byte
 *      order; each change becomes a record (path, kind, upper stat):
 *        - only in lower                 -> whiteout `<dir>/.wh.<name>`
 *        - only in upper, or different   -> entry (directories: then their
 *                                           children, compared or all new)
 *        - overlay: char device 0/0      -> whiteout; opaque xattr -> entry
 *                                           + `<dir>/.wh..wh..opq`
 *   2. sort the records by path, bytewise;
 *   3. write them as PAX tar entries through libarchive into a sink that
 *      hashes the tar (diff_id), compresses it (a table of compressors:
 *      none, gzip through zlib, zstd through libzstd), hashes the result
 *      (digest) and writes it to the fd.
 * Regular files with several links become one file and tar hard links to
 * it (the first path in sort order holds the content).
 */
#include "config.h"
#include "layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
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

#define IO_BUF (256 * 1024)

enum change_kind { CH_ENTRY, CH_WHITEOUT, CH_OPAQUE };

struct change {
	char *path;
	enum change_kind kind;
	struct stat st;
};

struct inode_link {
	dev_t dev;
	ino_t ino;
	const char *path;
};

/* ---- the sink: hash, compress, hash, write ---- */

struct sink;
struct compressor_ops {
	int (*init)(struct sink *s, int level);
	int (*write)(struct sink *s, const void *buf, size_t len, int finish);
	void (*free)(struct sink *s);
};

struct sink {
	int fd;
	const struct compressor_ops *ops;
	EVP_MD_CTX *tar_hash, *blob_hash;
	z_stream z;
	ZSTD_CCtx *zstd;
	unsigned char *out;
	uint64_t written;
	int error; /* errno of the first failure */
	const char *what;
};

static int sink_emit(struct sink *s, const void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (EVP_DigestUpdate(s->blob_hash, buf, len) != 1) {
		s->error = EIO;
		s->what = "sha256";
		return -1;
	}
	if (fs_write_all(s->fd, buf, len) < 0) {
		s->error = errno;
		s->what = "write";
		return -1;
	}
	s->written += len;
	return 0;
}

static int none_init(struct sink *s, int level)
{
	return 0;
}

static int none_write(struct sink *s, const void *buf, size_t len, int finish)
{
	return sink_emit(s, buf, len);
}

static void none_free(struct sink *s)
{
}

static int gzip_init(struct sink *s, int level)
{
	/* windowBits 31: a gzip wrapper; zlib writes mtime 0 and a fixed OS
	 * byte, so the output is the same on every run. */
	if (deflateInit2(&s->z, level ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8,
	                 Z_DEFAULT_STRATEGY) != Z_OK) {
		s->error = ENOMEM;
		s->what = "gzip";
		return -1;
	}
	return 0;
}

static int gzip_write(struct sink *s, const void *buf, size_t len, int finish)
{
	s->z.next_in = (Bytef *)(uintptr_t)buf;
	s->z.avail_in = (uInt)len;
	do {
		s->z.next_out = s->out;
		s->z.avail_out = IO_BUF;
		int rc = deflate(&s->z, finish ? Z_FINISH : Z_NO_FLUSH);
		if (rc == Z_STREAM_ERROR) {
			s->error = EIO;
			s->what = "gzip";
			return -1;
		}
		if (sink_emit(s, s->out, IO_BUF - s->z.avail_out) < 0)
			return -1;
	} while (s->z.avail_out == 0 || (finish && s->z.avail_in > 0));
	return 0;
}

static void gzip_free(struct sink *s)
{
	deflateEnd(&s->z);
}

static int zstd_init(struct sink *s, int level)
{
	s->zstd = ZSTD_createCCtx();
	if (s->zstd == NULL ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(s->zstd, ZSTD_c_compressionLevel, level ? level : 3))) {
		s->error = ENOMEM;
		s->what = "zstd";
		return -1;
	}
	return 0;
}

static int zstd_write(struct sink *s, const void *buf, size_t len, int finish)
{
	ZSTD_inBuffer in = {buf, len, 0};
	size_t left;

	do {
		ZSTD_outBuffer out = {s->out, IO_BUF, 0};
		left = ZSTD_compressStream2(s->zstd, &out, &in, finish ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(left)) {
			s->error = EIO;
			s->what = "zstd";
			return -1;
		}
		if (sink_emit(s, s->out, out.pos) < 0)
			return -1;
	} while (finish ? left != 0 : in.pos < in.size);
	return 0;
}

static void zstd_free(struct sink *s)
{
	ZSTD_freeCCtx(s->zstd);
}

static const struct compressor_ops compressors[] = {
    [LAYER_COMPRESSION_AUTO] = {none_init, none_write, none_free},
    [LAYER_COMPRESSION_NONE] = {none_init, none_write, none_free},
    [LAYER_COMPRESSION_GZIP] = {gzip_init, gzip_write, gzip_free},
    [LAYER_COMPRESSION_ZSTD] = {zstd_init, zstd_write, zstd_free},
};

static la_ssize_t sink_write_cb(struct archive *a, void *data, const void *buf, size_t len)
{
	struct sink *s = data;

	if (EVP_DigestUpdate(s->tar_hash, buf, len) != 1 || s->ops->write(s, buf, len, 0) < 0) {
		archive_set_error(a, s->error ? s->error : EIO, "%s", s->what ? s->what : "sha256");
		return -1;
	}
	return (la_ssize_t)len;
}

static void hex_digest(EVP_MD_CTX *ctx, char out[7 + 64 + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_DigestFinal_ex(ctx, md, &len);
	memcpy(out, "sha256:", 7);
	for (unsigned int i = 0; i < len && i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* ---- step 1: the walk ---- */

struct differ {
	unsigned flags;
	struct change *ch;
	size_t n, cap;
	char *buf_a, *buf_b; /* content comparison */
};

static int add_change(struct differ *d, const char *prefix, const char *name, const char *wh,
                      enum change_kind kind, const struct stat *st)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 1024;
		struct change *n = realloc(d->ch, cap * sizeof(*n));
		if (n == NULL)
			return -1;
		d->ch = n;
		d->cap = cap;
	}
	struct change *c = &d->ch[d->n];
	if (asprintf(&c->path, "%s%s%s%s", prefix, prefix[0] ? "/" : "", wh, name) < 0)
		return -1;
	c->kind = kind;
	if (st != NULL)
		c->st = *st;
	else
		memset(&c->st, 0, sizeof(c->st));
	d->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of a directory (without "." and ".."). */
static int list_dir(int dfd, char ***out, size_t *n_out)
{
	cleanup_dir DIR *dir = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return -1;
	}
	while ((errno = 0, de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (nn == NULL)
				goto fail;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto fail;
		names[++n] = NULL;
	}
	if (errno != 0)
		goto fail;
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	*out = names;
	*n_out = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	errno = errno ? errno : ENOMEM;
	return -1;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static bool is_overlay_xattr(const char *name)
{
	return strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0;
}

/* The xattrs of dfd/name as a canonical blob: sorted "name\0" + 4-byte
 * length + value, so two sets compare with memcmp.  Returns the length,
 * -1 with errno. */
static ssize_t read_xattrs(int dfd, const char *name, bool skip_overlay, char **out)
{
	char proc[64 + NAME_MAX];
	cleanup_free char *list = NULL;
	char **names = NULL;
	ssize_t len;
	size_t n = 0, total = 0;
	char *blob = NULL;

	*out = NULL;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, name);
	len = llistxattr(proc, NULL, 0);
	if (len < 0)
		return errno == ENOTSUP ? 0 : -1;
	if (len == 0)
		return 0;
	list = malloc((size_t)len);
	if (list == NULL || (len = llistxattr(proc, list, (size_t)len)) < 0)
		return -1;
	names = calloc((size_t)len, sizeof(*names));
	if (names == NULL)
		return -1;
	for (char *p = list; p < list + len; p += strlen(p) + 1)
		if (!(skip_overlay && is_overlay_xattr(p)))
			names[n++] = p;
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		ssize_t vlen = lgetxattr(proc, names[i], NULL, 0);
		size_t nlen = strlen(names[i]) + 1;
		char *nb;
		if (vlen < 0)
			goto fail;
		nb = realloc(blob, total + nlen + 4 + (size_t)vlen);
		if (nb == NULL)
			goto fail;
		blob = nb;
		memcpy(blob + total, names[i], nlen);
		total += nlen;
		if (vlen > 0 && (vlen = lgetxattr(proc, names[i], blob + total + 4, (size_t)vlen)) < 0)
			goto fail;
		uint32_t v32 = (uint32_t)vlen;
		memcpy(blob + total, &v32, 4);
		total += 4 + (size_t)vlen;
	}
	free(names);
	*out = blob;
	return (ssize_t)total;
fail:
	free(names);
	free(blob);
	return -1;
}

static int same_content(struct differ *d, int lfd, int ufd, const char *name, off_t size)
{
	cleanup_close int a = openat(lfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int b = openat(ufd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (a < 0 || b < 0)
		return -1;
	for (off_t done = 0; done < size;) {
		ssize_t na = fs_read_all(a, d->buf_a, IO_BUF), nb = fs_read_all(b, d->buf_b, IO_BUF);
		if (na < 0 || nb < 0)
			return -1;
		if (na != nb || memcmp(d->buf_a, d->buf_b, (size_t)na) != 0)
			return 0;
		if (na == 0)
			break;
		done += na;
	}
	return 1;
}

/* 1 when lower and upper differ, 0 when not, -1 with errno. */
static int changed(struct differ *d, int lfd, int ufd, const char *name, const struct stat *l,
                   const struct stat *u)
{
	cleanup_free char *xl = NULL, *xu = NULL;
	ssize_t nl, nu;

	if ((l->st_mode & S_IFMT) != (u->st_mode & S_IFMT) || (l->st_mode & 07777) != (u->st_mode & 07777) ||
	    l->st_uid != u->st_uid || l->st_gid != u->st_gid || l->st_mtim.tv_sec != u->st_mtim.tv_sec ||
	    l->st_mtim.tv_nsec != u->st_mtim.tv_nsec)
		return 1;
	if ((S_ISREG(u->st_mode) || S_ISLNK(u->st_mode)) && l->st_size != u->st_size)
		return 1;
	if ((S_ISCHR(u->st_mode) || S_ISBLK(u->st_mode)) && l->st_rdev != u->st_rdev)
		return 1;
	if (S_ISLNK(u->st_mode)) {
		char tl[PATH_MAX], tu[PATH_MAX];
		ssize_t a = readlinkat(lfd, name, tl, sizeof(tl)), b = readlinkat(ufd, name, tu, sizeof(tu));
		if (a < 0 || b < 0)
			return -1;
		if (a != b || memcmp(tl, tu, (size_t)a) != 0)
			return 1;
	}
	nl = read_xattrs(lfd, name, false, &xl);
	nu = read_xattrs(ufd, name, false, &xu);
	if (nl < 0 || nu < 0)
		return -1;
	if (nl != nu || (nl > 0 && memcmp(xl, xu, (size_t)nl) != 0))
		return 1;
	if (S_ISREG(u->st_mode) && (d->flags & LAYER_DIFF_COMPARE_CONTENT)) {
		int same = same_content(d, lfd, ufd, name, u->st_size);
		if (same < 0)
			return -1;
		return !same;
	}
	return 0;
}

static bool overlay_opaque(int dfd, const char *name)
{
	char proc[64 + NAME_MAX], v[4];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, name);
	ssize_t n = lgetxattr(proc, "trusted.overlay.opaque", v, sizeof(v));
	if (n < 0)
		n = lgetxattr(proc, "user.overlay.opaque", v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

static int open_subdir(int dfd, const char *name)
{
	return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Walks upper (fd ufd) against lower (lfd, or -1 when it has nothing
 * here) at `prefix`. */
static int walk(struct differ *d, int lfd, int ufd, const char *prefix, berth_error_t *err)
{
	char **un = NULL, **ln = NULL;
	size_t nu = 0, nl = 0, i = 0, j = 0;
	int rc = -1;

	if (list_dir(ufd, &un, &nu) < 0) {
		berth_error_sys(err, errno, "read directory `%s`", prefix[0] ? prefix : "/");
		goto out;
	}
	if (lfd >= 0 && list_dir(lfd, &ln, &nl) < 0) {
		berth_error_sys(err, errno, "read lower directory `%s`", prefix[0] ? prefix : "/");
		goto out;
	}
	while (i < nu || j < nl) {
		int c = i == nu ? 1 : j == nl ? -1 : strcmp(un[i], ln[j]);
		struct stat us, ls;
		char path[PATH_MAX];

		if (c > 0) {
			/* Only in lower: a whiteout. */
			if (add_change(d, prefix, ln[j], ".wh.", CH_WHITEOUT, NULL) < 0)
				goto nomem;
			j++;
			continue;
		}
		const char *name = un[i++];
		bool in_lower = c == 0;
		if (in_lower)
			j++;
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "/" : "", name);
		if (fstatat(ufd, name, &us, AT_SYMLINK_NOFOLLOW) < 0) {
			berth_error_sys(err, errno, "stat `%s`", path);
			goto out;
		}
		if ((d->flags & LAYER_DIFF_OVERLAY) && S_ISCHR(us.st_mode) && us.st_rdev == makedev(0, 0)) {
			if (add_change(d, prefix, name, ".wh.", CH_WHITEOUT, NULL) < 0)
				goto nomem;
			continue;
		}
		int lchild = -1;
		bool add = true;
		if (in_lower) {
			if (fstatat(lfd, name, &ls, AT_SYMLINK_NOFOLLOW) < 0) {
				berth_error_sys(err, errno, "stat lower `%s`", path);
				goto out;
			}
			int ch = changed(d, lfd, ufd, name, &ls, &us);
			if (ch < 0) {
				berth_error_sys(err, errno, "compare `%s`", path);
				goto out;
			}
			add = ch == 1;
			if (S_ISDIR(us.st_mode) && S_ISDIR(ls.st_mode) &&
			    (lchild = open_subdir(lfd, name)) < 0) {
				berth_error_sys(err, errno, "open lower `%s`", path);
				goto out;
			}
		}
		if (add && add_change(d, prefix, name, "", CH_ENTRY, &us) < 0) {
			if (lchild >= 0)
				close(lchild);
			goto nomem;
		}
		if (S_ISDIR(us.st_mode)) {
			cleanup_close int uchild = open_subdir(ufd, name);
			int r;
			if (uchild < 0) {
				if (lchild >= 0)
					close(lchild);
				berth_error_sys(err, errno, "open `%s`", path);
				goto out;
			}
			if ((d->flags & LAYER_DIFF_OVERLAY) && overlay_opaque(ufd, name) &&
			    add_change(d, path, "", ".wh..wh..opq", CH_OPAQUE, NULL) < 0) {
				if (lchild >= 0)
					close(lchild);
				goto nomem;
			}
			r = walk(d, lchild, uchild, path, err);
			if (lchild >= 0)
				close(lchild);
			if (r < 0)
				goto out;
		}
	}
	rc = 0;
	goto out;
nomem:
	berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "diff");
out:
	free_names(un, nu);
	free_names(ln, nl);
	return rc;
}

/* ---- step 3: writing ---- */

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct change *)a)->path, ((const struct change *)b)->path);
}

static int open_parent(int root_fd, const char *parent)
{
	struct open_how how = {
	    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (parent[0] == '\0')
		return fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
	fd = (int)syscall(SYS_openat2, root_fd, parent, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM || errno == E2BIG))
		fd = openat(root_fd, parent, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

struct writer {
	struct archive *a;
	int64_t clamp; /* -1: none */
	bool overlay;
	struct inode_link *links;
	size_t n_links, cap_links;
	char *buf;
	int parent_fd;
	char *parent;
};

static const char *find_link(struct writer *w, const struct stat *st)
{
	for (size_t i = 0; i < w->n_links; i++)
		if (w->links[i].dev == st->st_dev && w->links[i].ino == st->st_ino)
			return w->links[i].path;
	return NULL;
}

static int add_link(struct writer *w, const struct stat *st, const char *path)
{
	if (w->n_links == w->cap_links) {
		size_t cap = w->cap_links ? w->cap_links * 2 : 64;
		struct inode_link *n = realloc(w->links, cap * sizeof(*n));
		if (n == NULL)
			return -1;
		w->links = n;
		w->cap_links = cap;
	}
	w->links[w->n_links++] = (struct inode_link){st->st_dev, st->st_ino, path};
	return 0;
}

static int write_change(struct writer *w, int upper_fd, const struct change *c, berth_error_t *err)
{
	struct archive_entry *e = archive_entry_new();
	cleanup_close int fd = -1;
	cleanup_free char *xattrs = NULL;
	const struct stat *st = &c->st;
	const char *name, *slash = strrchr(c->path, '/');
	int rc = -1;

	if (e == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "diff");
	archive_entry_set_pathname(e, c->path);
	if (c->kind != CH_ENTRY) {
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0);
		archive_entry_set_size(e, 0);
		archive_entry_set_mtime(e, 0, 0);
		goto header;
	}

	/* The parent, opened without following symlinks; one cached. */
	size_t plen = slash ? (size_t)(slash - c->path) : 0;
	name = slash ? slash + 1 : c->path;
	if (w->parent == NULL || strlen(w->parent) != plen || strncmp(w->parent, c->path, plen) != 0) {
		if (w->parent_fd >= 0)
			close(w->parent_fd);
		free(w->parent);
		w->parent = strndup(c->path, plen);
		w->parent_fd = w->parent ? open_parent(upper_fd, w->parent) : -1;
		if (w->parent_fd < 0) {
			free(w->parent);
			w->parent = NULL;
			berth_error_sys(err, errno, "open parent");
			goto out;
		}
	}

	archive_entry_set_filetype(e, st->st_mode & S_IFMT);
	archive_entry_set_perm(e, st->st_mode & 07777);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	if (w->clamp >= 0 && st->st_mtim.tv_sec >= w->clamp)
		archive_entry_set_mtime(e, w->clamp, 0);
	else
		archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		archive_entry_set_rdevmajor(e, major(st->st_rdev));
		archive_entry_set_rdevminor(e, minor(st->st_rdev));
	}
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(w->parent_fd, name, target, sizeof(target) - 1);
		if (n < 0) {
			berth_error_sys(err, errno, "readlink");
			goto out;
		}
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
	}
	ssize_t xlen = read_xattrs(w->parent_fd, name, w->overlay, &xattrs);
	if (xlen < 0) {
		berth_error_sys(err, errno, "read xattrs");
		goto out;
	}
	for (ssize_t off = 0; off < xlen;) {
		const char *k = xattrs + off;
		uint32_t vlen;
		off += (ssize_t)strlen(k) + 1;
		memcpy(&vlen, xattrs + off, 4);
		archive_entry_xattr_add_entry(e, k, xattrs + off + 4, vlen);
		off += 4 + vlen;
	}
	if (S_ISREG(st->st_mode)) {
		const char *first = st->st_nlink > 1 ? find_link(w, st) : NULL;
		if (first != NULL) {
			archive_entry_set_hardlink(e, first);
			archive_entry_set_size(e, 0);
			goto header;
		}
		if (st->st_nlink > 1 && add_link(w, st, c->path) < 0) {
			berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "diff");
			goto out;
		}
		fd = openat(w->parent_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			berth_error_sys(err, errno, "open");
			goto out;
		}
		archive_entry_set_size(e, st->st_size);
	}
header:
	if (archive_write_header(w->a, e) != ARCHIVE_OK) {
		berth_error_set(err, BERTH_ERR_SYSTEM, archive_errno(w->a), "write tar header");
		goto out;
	}
	if (fd >= 0) {
		/* Exactly st_size bytes: a file that changed under us must not
		 * break the tar framing. */
		off_t left = st->st_size;
		while (left > 0) {
			ssize_t n = read(fd, w->buf, left < IO_BUF ? (size_t)left : IO_BUF);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				berth_error_sys(err, errno, "read");
				goto out;
			}
			if (n == 0) {
				berth_error_set(err, BERTH_ERR_SYSTEM, 0, "file shrank while being read");
				goto out;
			}
			if (archive_write_data(w->a, w->buf, (size_t)n) != n) {
				berth_error_set(err, BERTH_ERR_SYSTEM, archive_errno(w->a), "write tar data");
				goto out;
			}
			left -= n;
		}
	}
	rc = 0;
out:
	archive_entry_free(e);
	return rc;
}

int layer_diff(int lower_dir_fd, int upper_dir_fd, int out_fd, const struct layer_diff_options *opts,
               struct layer_diff_result *result, berth_error_t *err)
{
	struct differ d = {0};
	struct sink s = {.fd = out_fd};
	struct writer w = {.clamp = -1, .parent_fd = -1};
	enum layer_compression compression = LAYER_COMPRESSION_NONE;
	int level = 0, rc = -1;

	if (result != NULL)
		memset(result, 0, sizeof(*result));
	if (opts != NULL) {
		if (opts->size < sizeof(*opts))
			return berth_error_invalid(err, "diff: options of an unknown size");
		d.flags = opts->flags;
		compression = opts->compression;
		level = opts->compression_level;
		if (opts->flags & LAYER_DIFF_SOURCE_DATE_EPOCH)
			w.clamp = opts->source_date_epoch < 0 ? 0 : opts->source_date_epoch;
	}
	if ((unsigned)compression >= sizeof(compressors) / sizeof(compressors[0]))
		return berth_error_invalid(err, "diff: unknown compression %d", (int)compression);
	if (d.flags & LAYER_DIFF_OVERLAY)
		lower_dir_fd = -1;
	w.overlay = (d.flags & LAYER_DIFF_OVERLAY) != 0;

	/* 1. walk */
	d.buf_a = malloc(IO_BUF);
	d.buf_b = malloc(IO_BUF);
	if (d.buf_a == NULL || d.buf_b == NULL) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "diff");
		goto out;
	}
	if (walk(&d, lower_dir_fd, upper_dir_fd, "", err) < 0) {
		berth_error_prefix(err, "diff");
		goto out;
	}
	/* 2. sort */
	if (d.n > 0)
		qsort(d.ch, d.n, sizeof(*d.ch), cmp_change);

	/* 3. write */
	s.ops = &compressors[compression];
	s.out = malloc(IO_BUF);
	s.tar_hash = EVP_MD_CTX_new();
	s.blob_hash = EVP_MD_CTX_new();
	w.buf = d.buf_a;
	w.a = archive_write_new();
	if (s.out == NULL || s.tar_hash == NULL || s.blob_hash == NULL || w.a == NULL ||
	    EVP_DigestInit_ex(s.tar_hash, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(s.blob_hash, EVP_sha256(), NULL) != 1) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "diff");
		goto out;
	}
	if (s.ops->init(&s, level) < 0) {
		berth_error_sys(err, s.error, "diff: %s", s.what);
		goto out;
	}
	if (archive_write_set_format_pax(w.a) != ARCHIVE_OK ||
	    archive_write_set_format_option(w.a, "pax", "xattrheader", "SCHILY") < ARCHIVE_WARN ||
	    archive_write_set_bytes_per_block(w.a, 10240) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w.a, 1) != ARCHIVE_OK ||
	    archive_write_open2(w.a, &s, NULL, sink_write_cb, NULL, NULL) != ARCHIVE_OK) {
		berth_error_set(err, BERTH_ERR_SYSTEM, 0, "diff: tar writer: %s", archive_error_string(w.a));
		goto out_free_compressor;
	}
	for (size_t i = 0; i < d.n; i++) {
		if (write_change(&w, upper_dir_fd, &d.ch[i], err) < 0) {
			berth_error_prefix(err, "diff: `%s`", d.ch[i].path);
			goto out_free_compressor;
		}
		if (result != NULL) {
			result->entries++;
			result->whiteouts += d.ch[i].kind != CH_ENTRY;
		}
	}
	if (archive_write_close(w.a) != ARCHIVE_OK) {
		berth_error_set(err, BERTH_ERR_SYSTEM, archive_errno(w.a), "diff: close tar: %s",
		                archive_error_string(w.a));
		goto out_free_compressor;
	}
	if (s.ops->write(&s, NULL, 0, 1) < 0) {
		berth_error_sys(err, s.error, "diff: %s", s.what);
		goto out_free_compressor;
	}
	if (result != NULL) {
		hex_digest(s.tar_hash, result->diff_id);
		hex_digest(s.blob_hash, result->digest);
		result->size = s.written;
	}
	rc = 0;
out_free_compressor:
	s.ops->free(&s);
out:
	if (w.a != NULL) {
		if (rc < 0)
			archive_write_fail(w.a);
		archive_write_free(w.a);
	}
	EVP_MD_CTX_free(s.tar_hash);
	EVP_MD_CTX_free(s.blob_hash);
	free(s.out);
	free(w.links);
	free(w.parent);
	if (w.parent_fd >= 0)
		close(w.parent_fd);
	for (size_t i = 0; i < d.n; i++)
		free(d.ch[i].path);
	free(d.ch);
	free(d.buf_a);
	free(d.buf_b);
	return rc;
}
