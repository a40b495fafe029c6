/* Unit tests of oci-spec/layer*.c: tars built here with libarchive's write
 * API, applied into temporary directories and checked exactly; whiteouts
 * and opaque directories over three layers; every hostile entry, with its
 * error text and a canary directory outside the target that must stay
 * untouched; diff -> apply round trips (two trees, and a real overlayfs
 * upper directory in a private mount namespace); determinism and
 * SOURCE_DATE_EPOCH. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layer.h"
#include "util/fs.h"
#include "../tap.h"

static char tmp[256], canary[512];

static void must(int rc, const char *what)
{
	if (rc < 0) {
		printf("Bail out! setup: %s: %s\n", what, strerror(errno));
		exit(1);
	}
}

/* ---- building tars ---- */

struct tb {
	struct archive *a;
	char *buf;
	size_t len;
	/* for the next entry */
	int64_t uid, gid, mtime, mtime_nsec, atime;
	const char *xk[4];
	const char *xv[4];
	size_t xl[4];
	size_t nx;
};

static la_ssize_t tb_write(struct archive *a, void *data, const void *buf, size_t len)
{
	struct tb *t = data;
	t->buf = realloc(t->buf, t->len + len);
	memcpy(t->buf + t->len, buf, len);
	t->len += len;
	return (la_ssize_t)len;
}

static void tb_open(struct tb *t, enum layer_compression c)
{
	memset(t, 0, sizeof(*t));
	t->a = archive_write_new();
	archive_write_set_format_pax(t->a);
	if (c == LAYER_COMPRESSION_GZIP)
		archive_write_add_filter_gzip(t->a);
	if (c == LAYER_COMPRESSION_ZSTD)
		archive_write_add_filter_zstd(t->a);
	archive_write_open2(t->a, t, NULL, tb_write, NULL, NULL);
	t->mtime = 1600000000;
}

static void tb_add(struct tb *t, mode_t type, const char *path, unsigned perm, const char *data)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type & AE_IFMT);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, t->uid);
	archive_entry_set_gid(e, t->gid);
	archive_entry_set_mtime(e, t->mtime, t->mtime_nsec);
	if (t->atime)
		archive_entry_set_atime(e, t->atime, 0);
	for (size_t i = 0; i < t->nx; i++)
		archive_entry_xattr_add_entry(e, t->xk[i], t->xv[i], t->xl[i]);
	if (type == AE_IFLNK)
		archive_entry_set_symlink(e, data);
	if (type == 0) { /* a hard link */
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_hardlink(e, data);
		data = NULL;
	}
	if ((type == AE_IFCHR || type == AE_IFBLK) && data != NULL) {
		unsigned maj, min;
		sscanf(data, "%u:%u", &maj, &min);
		archive_entry_set_rdevmajor(e, maj);
		archive_entry_set_rdevminor(e, min);
		data = NULL;
	}
	if (type == AE_IFREG && data != NULL)
		archive_entry_set_size(e, (la_int64_t)strlen(data));
	archive_write_header(t->a, e);
	if (type == AE_IFREG && data != NULL)
		archive_write_data(t->a, data, strlen(data));
	archive_entry_free(e);
	t->uid = t->gid = t->mtime_nsec = t->atime = 0;
	t->mtime = 1600000000;
	t->nx = 0;
}

static void tb_xattr_len(struct tb *t, const char *k, const char *v, size_t len)
{
	t->xk[t->nx] = k;
	t->xl[t->nx] = len;
	t->xv[t->nx++] = v;
}

static void tb_xattr(struct tb *t, const char *k, const char *v)
{
	tb_xattr_len(t, k, v, strlen(v));
}

/* cap_net_raw+ep as the kernel stores it (VFS_CAP_REVISION_2). */
static const char file_cap[20] = "\x01\x00\x00\x02\x00\x20\x00\x00";

static int tb_fd(struct tb *t)
{
	archive_write_close(t->a);
	archive_write_free(t->a);
	int fd = memfd_create("layer", MFD_CLOEXEC);
	must(fd, "memfd");
	must(fs_write_all(fd, t->buf, t->len), "memfd write");
	lseek(fd, 0, SEEK_SET);
	free(t->buf);
	return fd;
}

/* Applies t onto dir; returns the error message (static) or NULL. */
static const char *apply(struct tb *t, int dir, unsigned flags, struct layer_apply_stats *st)
{
	static char msg[8192];
	struct layer_apply_options o = {.size = sizeof(o), .flags = flags};
	berth_error_t err = NULL;
	int fd = tb_fd(t);
	int rc = layer_apply(fd, dir, &o, st, &err);
	close(fd);
	if (rc == 0)
		return NULL;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	berth_error_free(&err);
	return msg;
}

static int mkdtemp_in(char *out, const char *name)
{
	snprintf(out, 512, "%s/%s", tmp, name);
	must(mkdir(out, 0755), out);
	return open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* ---- checking trees ---- */

static struct stat sat(int dir, const char *path)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	if (fstatat(dir, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		st.st_mode = 0;
	return st;
}

static char *slurp(int dir, const char *path)
{
	char *s = NULL;
	if (fs_read_file_at(dir, path, &s, NULL, NULL) < 0)
		return NULL;
	return s;
}

static char *xattr_of(int dir, const char *path, const char *key)
{
	static char v[256];
	char p[1024];
	snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", dir, path);
	ssize_t n = lgetxattr(p, key, v, sizeof(v) - 1);
	if (n < 0)
		return NULL;
	v[n] = '\0';
	return v;
}

static char *link_of(int dir, const char *path)
{
	static char v[1024];
	ssize_t n = readlinkat(dir, path, v, sizeof(v) - 1);
	if (n < 0)
		return NULL;
	v[n] = '\0';
	return v;
}

/* A listing of a tree: one line per entry with everything layer apply
 * restores (directory mtimes only when `dir_times`). */
static void list_tree(FILE *out, int dir, const char *prefix, int dir_times)
{
	DIR *d = fdopendir(openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct dirent *de;
	char *names[1024];
	size_t n = 0;

	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && n < 1024)
			names[n++] = strdup(de->d_name);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(names[i], names[j]) > 0) {
				char *x = names[i];
				names[i] = names[j];
				names[j] = x;
			}
	for (size_t i = 0; i < n; i++) {
		struct stat st = sat(dirfd(d), names[i]);
		char proc[1024], xl[4096];
		fprintf(out, "%s%s %o %u:%u", prefix, names[i], st.st_mode, st.st_uid, st.st_gid);
		if (!S_ISDIR(st.st_mode) || dir_times)
			fprintf(out, " t=%ld.%09ld", (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		if (S_ISREG(st.st_mode)) {
			char *c = slurp(dirfd(d), names[i]);
			uint64_t h = 1469598103934665603ULL;
			for (char *p = c; p && *p; p++)
				h = (h ^ (unsigned char)*p) * 1099511628211ULL;
			fprintf(out, " size=%ld h=%016llx nlink=%lu", (long)st.st_size, (unsigned long long)h,
			        (unsigned long)st.st_nlink);
			free(c);
		}
		if (S_ISLNK(st.st_mode))
			fprintf(out, " -> %s", link_of(dirfd(d), names[i]));
		if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
			fprintf(out, " dev=%u:%u", major(st.st_rdev), minor(st.st_rdev));
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd(d), names[i]);
		ssize_t xn = llistxattr(proc, xl, sizeof(xl));
		for (ssize_t off = 0; off < xn; off += (ssize_t)strlen(xl + off) + 1)
			if (strncmp(xl + off, "trusted.overlay.", 16) != 0)
				fprintf(out, " %s=%s", xl + off, xattr_of(dirfd(d), names[i], xl + off));
		fprintf(out, "\n");
		if (S_ISDIR(st.st_mode)) {
			char sub[1024];
			int fd = openat(dirfd(d), names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			snprintf(sub, sizeof(sub), "%s%s/", prefix, names[i]);
			list_tree(out, fd, sub, dir_times);
			close(fd);
		}
		free(names[i]);
	}
	closedir(d);
}

static char *listing(int dir, int dir_times)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	list_tree(f, dir, "", dir_times);
	fclose(f);
	return s;
}

static int canary_untouched(void)
{
	int fd = open(canary, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *l = listing(fd, 0);
	int same =
	    strcmp(l, "secret 100600 0:0 t=1500000000.000000000 size=7 h=d458b89ba5644dcb nlink=1\n") == 0;
	if (!same)
		printf("# canary: %s", l);
	free(l);
	close(fd);
	return same;
}

/* ---- the cases ---- */

static void test_types(enum layer_compression c, const char *label)
{
	char dir[512];
	struct tb t;
	struct layer_apply_stats st;
	int d = mkdtemp_in(dir, label);

	tb_open(&t, c);
	tb_add(&t, AE_IFDIR, "./", 0755, NULL);
	t.uid = 1000, t.gid = 2000, t.mtime = 1234567890, t.mtime_nsec = 123456789, t.atime = 1111111111;
	tb_add(&t, AE_IFDIR, "./etc/", 0750, NULL);
	t.uid = 1000, t.gid = 2000, t.mtime = 1234567891, t.atime = 1222222222;
	tb_xattr(&t, "user.color", "blue");
	tb_add(&t, AE_IFREG, "./etc/hosts", 0640, "127.0.0.1 localhost\n");
	tb_xattr_len(&t, "security.capability", file_cap, sizeof(file_cap));
	tb_add(&t, AE_IFREG, "bin/ping", 04755, "ping");
	tb_add(&t, 0, "bin/ping2", 0, "bin/ping");
	tb_add(&t, AE_IFDIR, "tmp", 01777, NULL);
	t.uid = 5, t.gid = 6, t.mtime = 1300000000;
	tb_add(&t, AE_IFLNK, "etc/localtime", 0777, "/usr/share/zoneinfo/UTC");
	tb_add(&t, AE_IFCHR, "dev/null", 0666, "1:3");
	tb_add(&t, AE_IFBLK, "dev/loop0", 0660, "7:0");
	tb_add(&t, AE_IFIFO, "run/fifo", 0600, NULL);
	tb_xattr(&t, "trusted.berth", "yes");
	tb_add(&t, AE_IFREG, "empty", 02644, "");
	const char *e = apply(&t, d, 0, &st);
	is_str(e, NULL, "%s: a layer with every type applies", label);

	struct stat s = sat(d, "etc/hosts");
	ok(s.st_mode == (S_IFREG | 0640) && s.st_uid == 1000 && s.st_gid == 2000, "%s: file mode and owner",
	   label);
	ok(s.st_mtim.tv_sec == 1234567891 && s.st_atim.tv_sec == 1222222222, "%s: file mtime and atime",
	   label);
	char *content = slurp(d, "etc/hosts");
	is_str(content, "127.0.0.1 localhost\n", "%s: file content", label);
	free(content);
	is_str(xattr_of(d, "etc/hosts", "user.color"), "blue", "%s: user xattr", label);
	s = sat(d, "etc");
	ok(s.st_mode == (S_IFDIR | 0750) && s.st_uid == 1000 && s.st_mtim.tv_sec == 1234567890 &&
	       s.st_mtim.tv_nsec == 123456789,
	   "%s: directory mode, owner and mtime (ns) after its children were written", label);
	s = sat(d, "bin/ping");
	ok(s.st_mode == (S_IFREG | 04755) && s.st_nlink == 2, "%s: setuid kept, hard link count 2", label);
	ok(sat(d, "bin/ping2").st_ino == s.st_ino, "%s: the hard link is the same inode", label);
	char cap[64], proc[600];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/bin/ping", d);
	ok(lgetxattr(proc, "security.capability", cap, sizeof(cap)) == sizeof(file_cap) &&
	       memcmp(cap, file_cap, sizeof(file_cap)) == 0,
	   "%s: security.capability (file capabilities)", label);
	ok(sat(d, "tmp").st_mode == (S_IFDIR | 01777), "%s: sticky directory", label);
	s = sat(d, "etc/localtime");
	ok(S_ISLNK(s.st_mode) && s.st_uid == 5 && s.st_gid == 6 && s.st_mtim.tv_sec == 1300000000,
	   "%s: symlink owner and mtime", label);
	is_str(link_of(d, "etc/localtime"), "/usr/share/zoneinfo/UTC", "%s: symlink target", label);
	s = sat(d, "dev/null");
	ok(S_ISCHR(s.st_mode) && (s.st_mode & 07777) == 0666 && s.st_rdev == makedev(1, 3),
	   "%s: char device 1:3", label);
	s = sat(d, "dev/loop0");
	ok(S_ISBLK(s.st_mode) && s.st_rdev == makedev(7, 0), "%s: block device 7:0", label);
	ok(S_ISFIFO(sat(d, "run/fifo").st_mode), "%s: fifo", label);
	s = sat(d, "empty");
	ok(s.st_mode == (S_IFREG | 02644) && s.st_size == 0, "%s: empty setgid file", label);
	is_str(xattr_of(d, "empty", "trusted.berth"), "yes", "%s: trusted xattr as root", label);
	s = sat(d, "dev");
	ok(s.st_mode == (S_IFDIR | 0755) && s.st_uid == 0, "%s: implicit parent directory 0755 root", label);
	ok(st.entries == 11 && st.files == 3 && st.hardlinks == 1 && st.dirs == 2 && st.symlinks == 1 &&
	       st.devices == 2 && st.fifos == 1 && st.bytes == 24,
	   "%s: stats", label);
	if (st.entries != 11)
		printf("# %lu entries %lu files %lu dirs %lu bytes\n", (unsigned long)st.entries,
		       (unsigned long)st.files, (unsigned long)st.dirs, (unsigned long)st.bytes);
	close(d);
}

static void test_replace(void)
{
	char dir[512];
	struct tb t;
	int d = mkdtemp_in(dir, "replace");

	tb_open(&t, LAYER_COMPRESSION_NONE);
	tb_add(&t, AE_IFDIR, "d", 0755, NULL);
	tb_add(&t, AE_IFREG, "d/keep", 0644, "keep");
	tb_add(&t, AE_IFDIR, "f2d", 0755, NULL);
	tb_add(&t, AE_IFREG, "f2d/x", 0644, "x");
	tb_add(&t, AE_IFREG, "d2f", 0644, "file");
	tb_add(&t, AE_IFREG, "link", 0644, "was a file");
	tb_add(&t, AE_IFREG, "hl", 0644, "shared");
	tb_add(&t, 0, "hl2", 0, "hl");
	is_str(apply(&t, d, 0, NULL), NULL, "replace: lower layer");
	tb_open(&t, LAYER_COMPRESSION_NONE);
	tb_add(&t, AE_IFDIR, "d", 0700, NULL);
	tb_add(&t, AE_IFREG, "d/new", 0644, "new");
	tb_add(&t, AE_IFREG, "f2d", 0600, "now a file");
	tb_add(&t, AE_IFDIR, "d2f", 0711, NULL);
	tb_add(&t, AE_IFLNK, "link", 0777, "target");
	tb_add(&t, AE_IFREG, "hl2", 0644, "changed");
	is_str(apply(&t, d, 0, NULL), NULL, "replace: upper layer");
	char *l = listing(d, 0);
	is_str(l,
	       "d 40700 0:0\n"
	       "d/keep 100644 0:0 t=1600000000.000000000 size=4 h=90ee9eeb4064e302 nlink=1\n"
	       "d/new 100644 0:0 t=1600000000.000000000 size=3 h=3fccc05142ef6093 nlink=1\n"
	       "d2f 40711 0:0\n"
	       "f2d 100600 0:0 t=1600000000.000000000 size=10 h=c78d5a9f9a01c100 nlink=1\n"
	       "hl 100644 0:0 t=1600000000.000000000 size=6 h=76ab41248e3ac61a nlink=1\n"
	       "hl2 100644 0:0 t=1600000000.000000000 size=7 h=b01e53c2b06224b9 nlink=1\n"
	       "link 120777 0:0 t=1600000000.000000000 -> target\n",
	       "replace: a dir over a dir merges, a file over a dir and a dir over a file replace, a new "
	       "file breaks a hard link");
	free(l);
	close(d);
}

static void test_whiteouts(void)
{
	char dir[512];
	struct tb t;
	struct layer_apply_stats st;
	int d = mkdtemp_in(dir, "whiteouts");

	tb_open(&t, LAYER_COMPRESSION_GZIP);
	tb_add(&t, AE_IFDIR, "a", 0755, NULL);
	tb_add(&t, AE_IFREG, "a/x", 0644, "x1");
	tb_add(&t, AE_IFREG, "a/y", 0644, "y1");
	tb_add(&t, AE_IFDIR, "b", 0755, NULL);
	tb_add(&t, AE_IFREG, "b/p", 0644, "p1");
	tb_add(&t, AE_IFDIR, "b/sub", 0755, NULL);
	tb_add(&t, AE_IFREG, "b/sub/deep", 0644, "deep");
	tb_add(&t, AE_IFDIR, "c", 0755, NULL);
	tb_add(&t, AE_IFREG, "c/old", 0644, "old");
	tb_add(&t, AE_IFDIR, "e", 0755, NULL);
	tb_add(&t, AE_IFREG, "e/f", 0644, "f");
	is_str(apply(&t, d, 0, NULL), NULL, "whiteouts: layer 1");

	tb_open(&t, LAYER_COMPRESSION_ZSTD);
	tb_add(&t, AE_IFREG, "a/.wh.x", 0644, "");
	/* b: the opaque marker after entries of this layer in b */
	tb_add(&t, AE_IFREG, "b/new", 0644, "new2");
	tb_add(&t, AE_IFDIR, "b/sub", 0755, NULL);
	tb_add(&t, AE_IFREG, "b/sub/mine", 0644, "mine");
	tb_add(&t, AE_IFREG, "b/.wh..wh..opq", 0644, "");
	/* c: the marker first */
	tb_add(&t, AE_IFREG, "c/.wh..wh..opq", 0644, "");
	tb_add(&t, AE_IFREG, "c/fresh", 0644, "fresh");
	tb_add(&t, AE_IFREG, ".wh.e", 0644, "");
	tb_add(&t, AE_IFREG, "a/.wh.nothere", 0644, "");
	is_str(apply(&t, d, 0, &st), NULL, "whiteouts: layer 2");
	ok(st.whiteouts == 3 && st.opaque_dirs == 2, "whiteouts: layer 2 stats (3 whiteouts, 2 opaque)");

	tb_open(&t, LAYER_COMPRESSION_NONE);
	tb_add(&t, AE_IFREG, "a/.wh.y", 0644, "");
	tb_add(&t, AE_IFREG, "a/x", 0644, "x3");
	tb_add(&t, AE_IFREG, ".wh.c", 0644, "");
	tb_add(&t, AE_IFDIR, "e", 0700, NULL);
	tb_add(&t, AE_IFREG, "b/sub/.wh.mine", 0644, "");
	is_str(apply(&t, d, 0, NULL), NULL, "whiteouts: layer 3");
	char *l = listing(d, 0);
	is_str(l,
	       "a 40755 0:0\n"
	       "a/x 100644 0:0 t=1600000000.000000000 size=2 h=9c011400c6a38776 nlink=1\n"
	       "b 40755 0:0\n"
	       "b/new 100644 0:0 t=1600000000.000000000 size=4 h=584b6b14bcc13193 nlink=1\n"
	       "b/sub 40755 0:0\n"
	       "e 40700 0:0\n",
	       "whiteouts: three layers give exactly the expected tree");
	free(l);
	close(d);
}

static void test_hostile(void)
{
	char dir[512], path[1024];
	struct tb t;
	const char *e;
	int d;

	/* .. */
	d = mkdtemp_in(dir, "h-dotdot");
	tb_open(&t, LAYER_COMPRESSION_NONE);
	tb_add(&t, AE_IFREG, "../../etc/passwd", 0644, "root::0:0");
	is_str(apply(&t, d, 0, NULL), "apply layer: layer entry `../../etc/passwd`: path escapes the root",
	       "hostile: ..");
	tb_open(&t, LAYER_COMPRESSION_NONE);
	tb_add(&t, AE_IFREG, "a/../../x", 0644, "x");
	is_str(apply(&t, d, 0, NULL), "apply layer: layer entry `a/../../x`: path escapes the root",
	       "hostile: a/../../x");
	ok(canary_untouched() && sat(d, "x").st_mode == 0, "hostile: .. wrote nothing anywhere");
	close(d);

	/* absolute: normalised into the root */
	d = mkdtemp_in(dir, "h-abs");
	tb_open(&t, LAYER_COMPRESSION_NONE);
	snprintf(path, sizeof(path), "%s/secret", canary);
	tb_add(&t, AE_IFREG, path, 0644, "pwned");
	is_str(apply(&t, d, 0, NULL), NULL, "hostile: an absolute name applies");
	ok(S_ISREG(sat(d, path + 1).st_mode) && canary_untouched(), "hostile: absolute name landed inside");
	close(d);

	/* symlink, then a write through it; and a swap of a directory */
	d = mkdtemp_in(dir, "h-symlink");
	tb_open(&t, LAYER_COMPRESSION_NONE);
	tb_add(&t, AE_IFLNK, "evil", 0777, canary);
	tb_add(&t, AE_IFREG, "evil/secret", 0644, "pwned");
	tb_add(&t, AE_IFLNK, "rel", 0777, "../../../../../../../../..");
	snprintf(path, sizeof(path), "rel%s/new", canary);
	tb_add(&t, AE_IFREG, path, 0644, "pwned");
	tb_add(&t, AE_IFDIR, "swap", 0755, NULL);
	tb_add(&t, AE_IFREG, "swap/a", 0644, "a");
	tb_add(&t, AE_IFLNK, "swap", 0777, canary);
	tb_add(&t, AE_IFREG, "swap/b", 0644, "pwned");
	is_str(apply(&t, d, 0, NULL), NULL, "hostile: symlinks to outside apply");
	snprintf(path, sizeof(path), "%s/secret", canary + 1);
	ok(S_ISREG(sat(d, path).st_mode), "hostile: write through an absolute symlink stays inside");
	snprintf(path, sizeof(path), "%s/new", canary + 1);
	ok(S_ISREG(sat(d, path).st_mode), "hostile: write through a ../.. symlink stays inside");
	snprintf(path, sizeof(path), "%s/b", canary + 1);
	ok(S_ISREG(sat(d, path).st_mode) && S_ISLNK(sat(d, "swap").st_mode),
	   "hostile: directory swapped for a symlink: the next write stays inside");
	ok(canary_untouched(), "hostile: canary untouched by symlinks");
	close(d);

	/* hard links */
	d = mkdtemp_in(dir, "h-hardlink");
	tb_open(&t, LAYER_COMPRESSION_NONE);
	tb_add(&t, 0, "h", 0, "../../../../../../../../../etc/shadow");
	is_str(apply(&t, d, 0, NULL),
	       "apply layer: layer entry `h`: hardlink target `../../../../../../../../../etc/shadow`: path "
	       "escapes "
	       "the root",
	       "hostile: hard link to ..");
	tb_open(&t, LAYER_COMPRESSION_NONE);
	tb_add(&t, AE_IFLNK, "l", 0777, canary);
	tb_add(&t, 0, "h", 0, "l/secret");
	snprintf(path, sizeof(path),
	         "apply layer: layer entry `h`: hardlink target `l/secret`: No such file or directory");
	is_str(apply(&t, d, 0, NULL), path, "hostile: hard link through a symlink to outside");
	tb_open(&t, LAYER_COMPRESSION_NONE);
	snprintf(path, sizeof(path), "%s/secret", canary);
	tb_add(&t, 0, "h", 0, path);
	e = apply(&t, d, 0, NULL);
	ok(e != NULL && strstr(e, "hardlink target") && strstr(e, "No such file or directory"),
	   "hostile: hard link to an absolute host path resolves inside (and is missing): %s", e);
	ok(canary_untouched(), "hostile: canary untouched by hard links (nlink 1)");
	close(d);

	/* long names */
	d = mkdtemp_in(dir, "h-long");
	char longname[5000];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	for (size_t i = 200; i < sizeof(longname) - 1; i += 200)
		longname[i] = '/';
	tb_open(&t, LAYER_COMPRESSION_NONE);
	tb_add(&t, AE_IFREG, longname, 0644, "x");
	e = apply(&t, d, 0, NULL);
	ok(e != NULL && strstr(e, "`: invalid name: File name too long") != NULL,
	   "hostile: a 5000-byte name");
	memset(longname, 'b', 300);
	longname[300] = '\0';
	tb_open(&t, LAYER_COMPRESSION_NONE);
	tb_add(&t, AE_IFREG, longname, 0644, "x");
	e = apply(&t, d, 0, NULL);
	ok(e != NULL && strstr(e, "`: create: File name too long") != NULL, "hostile: a 300-byte component");
	close(d);
}

/* A device entry without CAP_MKNOD: an error naming it, or skipped. */
static void test_unprivileged_device(void)
{
	char dir[512];
	int d = mkdtemp_in(dir, "h-device");
	int pipefd[2];
	must(pipe(pipefd), "pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct c[2];
		struct tb t;
		char out[8192];
		syscall(SYS_capget, &h, c);
		c[0].effective &= ~(1u << CAP_MKNOD);
		syscall(SYS_capset, &h, c);
		tb_open(&t, LAYER_COMPRESSION_NONE);
		tb_add(&t, AE_IFCHR, "dev/null", 0666, "1:3");
		const char *e = apply(&t, d, 0, NULL);
		struct layer_apply_stats st;
		tb_open(&t, LAYER_COMPRESSION_NONE);
		tb_add(&t, AE_IFCHR, "dev/null", 0666, "1:3");
		const char *e2 = apply(&t, d, LAYER_APPLY_SKIP_DEVICES, &st);
		snprintf(out, sizeof(out), "%s|%s|%lu", e ? e : "(null)", e2 ? e2 : "(null)",
		         (unsigned long)st.skipped);
		fs_write_all(pipefd[1], out, strlen(out));
		_exit(0);
	}
	close(pipefd[1]);
	char buf[8192] = {0};
	fs_read_all(pipefd[0], buf, sizeof(buf) - 1);
	close(pipefd[0]);
	waitpid(pid, NULL, 0);
	is_str(buf, "apply layer: layer entry `dev/null`: mknod: Operation not permitted|(null)|1",
	       "device without CAP_MKNOD: an error naming it; skipped with LAYER_APPLY_SKIP_DEVICES");
	ok(sat(d, "dev/null").st_mode == 0, "device without CAP_MKNOD: nothing created");
	close(d);
}

/* ---- diff ---- */

static char *diff_to(int lower, int upper, unsigned flags, enum layer_compression c, int64_t sde, size_t *len,
                     struct layer_diff_result *res)
{
	struct layer_diff_options o = {
	    .size = sizeof(o), .flags = flags, .compression = c, .source_date_epoch = sde};
	berth_error_t err = NULL;
	int fd = memfd_create("diff", MFD_CLOEXEC);
	if (layer_diff(lower, upper, fd, &o, res, &err) < 0) {
		printf("# diff: %s\n", err->msg);
		berth_error_free(&err);
		close(fd);
		return NULL;
	}
	*len = (size_t)lseek(fd, 0, SEEK_CUR);
	char *buf = malloc(*len + 1);
	pread(fd, buf, *len, 0);
	close(fd);
	return buf;
}

static const char *apply_buf(const char *buf, size_t len, int dir)
{
	static char msg[1024];
	berth_error_t err = NULL;
	int fd = memfd_create("apply", MFD_CLOEXEC);
	fs_write_all(fd, buf, len);
	lseek(fd, 0, SEEK_SET);
	int rc = layer_apply(fd, dir, NULL, NULL, &err);
	close(fd);
	if (rc == 0)
		return NULL;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	berth_error_free(&err);
	return msg;
}

/* The entries of a tar as "path type mtime [-> link]" lines. */
static char *tar_index(const char *buf, size_t len)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	archive_read_open_memory(a, buf, len);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *un = archive_entry_uname(e), *gn = archive_entry_gname(e);
		char when[32];
		/* Files the test made now: "new" (the clock is not ours). */
		if (archive_entry_mtime(e) > 1700000000)
			snprintf(when, sizeof(when), "new");
		else
			snprintf(when, sizeof(when), "%ld", (long)archive_entry_mtime(e));
		fprintf(f, "%s %o %s%s%s%s%s\n", archive_entry_pathname(e), archive_entry_mode(e), when,
		        archive_entry_hardlink(e) ? " => " : "",
		        archive_entry_hardlink(e) ? archive_entry_hardlink(e) : "", un && *un ? " uname" : "",
		        gn && *gn ? " gname" : "");
	}
	archive_read_free(a);
	fclose(f);
	return s;
}

static void base_layer(struct tb *t)
{
	tb_open(t, LAYER_COMPRESSION_NONE);
	tb_add(t, AE_IFDIR, "etc", 0755, NULL);
	tb_add(t, AE_IFREG, "etc/keep", 0644, "keep");
	tb_add(t, AE_IFREG, "etc/change", 0644, "before");
	tb_add(t, AE_IFREG, "etc/chmod", 0644, "mode");
	tb_add(t, AE_IFREG, "etc/gone", 0644, "gone");
	tb_add(t, AE_IFDIR, "dir2file", 0755, NULL);
	tb_add(t, AE_IFREG, "dir2file/x", 0644, "x");
	tb_add(t, AE_IFREG, "file2dir", 0644, "f");
	tb_add(t, AE_IFDIR, "tree", 0755, NULL);
	tb_add(t, AE_IFREG, "tree/a", 0644, "a");
	tb_add(t, AE_IFLNK, "link", 0777, "etc/keep");
	tb_add(t, AE_IFREG, "a-b", 0644, "sorts between a and a/");
	tb_add(t, AE_IFDIR, "a", 0755, NULL);
}

static void mutate(int up)
{
	struct timespec ts[2] = {{1700000000, 0}, {1700000000, 0}};
	int fd = openat(up, "etc/change", O_WRONLY | O_TRUNC | O_CLOEXEC);
	fs_write_all(fd, "after!", 6);
	futimens(fd, ts);
	close(fd);
	must(fchmodat(up, "etc/chmod", 0600, 0), "chmod");
	must(unlinkat(up, "etc/gone", 0), "unlink");
	fs_remove_tree_at(up, "dir2file", NULL);
	fs_write_file_atomic_at(up, "dir2file", "now a file", 10, 0644, NULL);
	must(unlinkat(up, "file2dir", 0), "unlink");
	must(mkdirat(up, "file2dir", 0700), "mkdir");
	fs_write_file_atomic_at(up, "file2dir/in", "in", 2, 0644, NULL);
	must(fchownat(up, "tree/a", 1234, 5678, 0), "chown");
	must(unlinkat(up, "link", 0), "unlink");
	must(symlinkat("elsewhere", up, "link"), "symlink");
	fs_write_file_atomic_at(up, "a/new", "new", 3, 0644, NULL);
	must(linkat(up, "a/new", up, "a/new-link", 0), "link");
	must(linkat(up, "a/new", up, "zz-link", 0), "link");
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d/tree/a", up);
	must(lsetxattr(p, "user.k", "v", 1, 0), "setxattr");
	must(mknodat(up, "nul", S_IFCHR | 0600, makedev(1, 3)), "mknod");
}

static void test_diff_roundtrip(void)
{
	char lp[512], upp[512];
	struct tb t;
	struct layer_diff_result r1, r2;
	size_t n1, n2;

	int lower = mkdtemp_in(lp, "diff-lower");
	int upper = mkdtemp_in(upp, "diff-upper");
	base_layer(&t);
	apply(&t, lower, 0, NULL);
	base_layer(&t);
	apply(&t, upper, 0, NULL);
	mutate(upper);

	char *b1 = diff_to(lower, upper, 0, LAYER_COMPRESSION_NONE, 0, &n1, &r1);
	char *b2 = diff_to(lower, upper, 0, LAYER_COMPRESSION_NONE, 0, &n2, &r2);
	ok(b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0, "diff: two diffs are the same bytes");
	ok(strcmp(r1.diff_id, r2.diff_id) == 0 && strcmp(r1.diff_id, r1.digest) == 0 && r1.size == n1,
	   "diff: uncompressed: diff_id == digest, size matches");
	char *idx = tar_index(b1, n1);
	is_str(idx,
	       "a/ 40755 new\n"
	       "a/new 100644 new\n"
	       "a/new-link 644 new => a/new\n"
	       "dir2file 100644 new\n"
	       "etc/ 40755 new\n"
	       "etc/.wh.gone 100000 0\n"
	       "etc/change 100644 1700000000\n"
	       "etc/chmod 100600 1600000000\n"
	       "file2dir/ 40700 new\n"
	       "file2dir/in 100644 new\n"
	       "link 120777 new\n"
	       "nul 20600 new\n"
	       "tree/a 100644 1600000000\n"
	       "zz-link 644 new => a/new\n",
	       "diff: the entries, sorted, with whiteouts and hard links, no uname/gname");
	free(idx);
	ok(apply_buf(b1, n1, lower) == NULL, "diff: the layer applies onto lower");
	char *ll = listing(lower, 0), *lu = listing(upper, 0);
	is_str(ll, lu, "diff: lower + diff == upper");
	free(ll);
	free(lu);

	/* gzip and zstd: deterministic, and the same tar inside */
	for (int c = LAYER_COMPRESSION_GZIP; c <= LAYER_COMPRESSION_ZSTD; c++) {
		struct layer_diff_result rc1, rc2;
		char *c1 = diff_to(-1, upper, 0, c, 0, &n1, &rc1);
		char *c2 = diff_to(-1, upper, 0, c, 0, &n2, &rc2);
		char *plain = diff_to(-1, upper, 0, LAYER_COMPRESSION_NONE, 0, &n2, &r2);
		ok(c1 && c2 && rc1.size == rc2.size && memcmp(c1, c2, rc1.size) == 0 &&
		       strcmp(rc1.digest, rc2.digest) == 0,
		   "diff: %s output is deterministic", c == LAYER_COMPRESSION_GZIP ? "gzip" : "zstd");
		ok(strcmp(rc1.diff_id, r2.diff_id) == 0 && strcmp(rc1.digest, rc1.diff_id) != 0,
		   "diff: %s diff_id is the uncompressed tar's",
		   c == LAYER_COMPRESSION_GZIP ? "gzip" : "zstd");
		char d[512];
		int fresh = mkdtemp_in(d, c == LAYER_COMPRESSION_GZIP ? "diff-gz" : "diff-zst");
		ok(apply_buf(c1, rc1.size, fresh) == NULL, "diff: the compressed full layer applies");
		ll = listing(fresh, 0);
		lu = listing(upper, 0);
		is_str(ll, lu, "diff: full layer (no lower) recreates upper");
		free(ll);
		free(lu);
		close(fresh);
		free(c1);
		free(c2);
		free(plain);
	}

	/* SOURCE_DATE_EPOCH */
	char *bs =
	    diff_to(-1, upper, LAYER_DIFF_SOURCE_DATE_EPOCH, LAYER_COMPRESSION_NONE, 1650000000, &n2, &r2);
	idx = tar_index(bs, n2);
	ok(strstr(idx, "etc/change 100644 1650000000\n") && strstr(idx, "tree/a 100644 1600000000\n") &&
	       strstr(idx, "a/new 100644 1650000000\n"),
	   "diff: SOURCE_DATE_EPOCH clamps newer mtimes, keeps older ones");
	if (!strstr(idx, "a/new 100644 1650000000\n"))
		printf("# %s", idx);
	free(idx);
	free(bs);
	free(b1);
	free(b2);
	close(lower);
	close(upper);
}

/* An overlayfs upper directory: mounted for real in a private mount
 * namespace (in a child), changed through the merged view. */
static void test_diff_overlay(void)
{
	char lp[512], up[512], wp[512], mp[512], opts[2048];
	struct tb t;
	int lower = mkdtemp_in(lp, "ovl-lower");
	int upper = mkdtemp_in(up, "ovl-upper");
	close(mkdtemp_in(wp, "ovl-work"));
	close(mkdtemp_in(mp, "ovl-merged"));
	base_layer(&t);
	apply(&t, lower, 0, NULL);
	int pipefd[2];
	must(pipe(pipefd), "pipe");

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", lp, up, wp);
		if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("overlay", mp, "overlay", 0, opts) < 0) {
			dprintf(pipefd[1], "SKIP overlay: %s", strerror(errno));
			_exit(0);
		}
		int m = open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		mutate(m);
		fs_remove_tree_at(m, "tree", NULL);
		mkdirat(m, "tree", 0755);
		fs_write_file_atomic_at(m, "tree/b", "b", 1, 0644, NULL);
		char *l = listing(m, 0);
		fs_write_all(pipefd[1], l, strlen(l));
		_exit(0);
	}
	close(pipefd[1]);
	static char merged[65536];
	memset(merged, 0, sizeof(merged));
	fs_read_all(pipefd[0], merged, sizeof(merged) - 1);
	close(pipefd[0]);
	waitpid(pid, NULL, 0);
	if (strncmp(merged, "SKIP", 4) == 0) {
		printf("# %s\n", merged);
		ok(0, "overlay: mount overlayfs");
		return;
	}
	ok(S_ISCHR(sat(upper, "etc/gone").st_mode) && xattr_of(upper, "tree", "trusted.overlay.opaque"),
	   "overlay: the upper dir has a whiteout device and an opaque directory");

	size_t n;
	struct layer_diff_result r;
	char *b = diff_to(-1, upper, LAYER_DIFF_OVERLAY, LAYER_COMPRESSION_GZIP, 0, &n, &r);
	char *idx = b ? tar_index(b, r.size) : NULL;
	ok(idx && strstr(idx, "etc/.wh.gone 100000 0\n") && strstr(idx, "tree/.wh..wh..opq 100000 0\n") &&
	       strstr(idx, "tree/b 100644") && !strstr(idx, "tree/a"),
	   "overlay: whiteouts and the opaque marker in the layer");
	ok(r.whiteouts == 3 && strstr(idx, "file2dir/.wh..wh..opq 100000 0\n"),
	   "overlay: 3 whiteout entries (a directory made over a lower file is opaque too)");
	if (r.whiteouts != 3)
		printf("# %s", idx);
	char lp2[512];
	int copy = mkdtemp_in(lp2, "ovl-apply");
	base_layer(&t);
	apply(&t, copy, 0, NULL);
	ok(b && apply_buf(b, r.size, copy) == NULL, "overlay: the layer applies onto a copy of lower");
	char *l = listing(copy, 0);
	is_str(l, merged, "overlay: lower + layer == the merged view");
	free(l);
	free(idx);
	free(b);
	close(copy);
	close(lower);
	close(upper);
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/berth-test-layer-XXXXXX");
	must(mkdtemp(tmp) ? 0 : -1, "mkdtemp");
	snprintf(canary, sizeof(canary), "%s/canary", tmp);
	must(mkdir(canary, 0755), "canary");
	int cfd = open(canary, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct timespec ts[2] = {{1500000000, 0}, {1500000000, 0}};
	must(fs_write_file_atomic_at(cfd, "secret", "secret\n", 7, 0600, NULL), "canary file");
	must(utimensat(cfd, "secret", ts, 0), "canary time");
	close(cfd);

	test_types(LAYER_COMPRESSION_NONE, "tar");
	test_types(LAYER_COMPRESSION_GZIP, "tar+gzip");
	test_types(LAYER_COMPRESSION_ZSTD, "tar+zstd");
	test_replace();
	test_whiteouts();
	test_hostile();
	test_unprivileged_device();
	test_diff_roundtrip();
	test_diff_overlay();
	ok(canary_untouched(), "the canary outside every target is untouched at the end");

	fs_remove_tree_at(AT_FDCWD, tmp, NULL);
	return tap_done();
}
