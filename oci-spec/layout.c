/* The OCI image layout store (see layout.h). */
#include "config.h"
#include "layout.h"
#include "oci_json.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

/* Manifests, indexes and configs are read whole; nothing legitimate is near this. */
#define JSON_BLOB_MAX (32u << 20)
/* Nested indexes deeper than this are refused. */
#define MAX_INDEX_DEPTH 8

struct oci_layout {
	char *path;
	int dirfd;
	bool fsync;
};

/* ---- small helpers ---- */

/* A temporary name that no blob or document can have. */
static void temp_name(char *buf, size_t size, const char *what)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)buf;
	snprintf(buf, size, ".tmp-%s-%016" PRIx64, what, r);
}

static int mkdir_at(int dirfd, const char *name, const char *path, berth_error_t *err)
{
	if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
		return berth_error_sys(err, errno, "mkdir `%s/%s`", path, name);
	return 0;
}

static int fsync_dir(int dirfd, const char *path, berth_error_t *err)
{
	if (fsync(dirfd) < 0)
		return berth_error_sys(err, errno, "fsync `%s`", path);
	return 0;
}

/* index.json changes (read, change, write back) hold an exclusive flock of
 * the layout directory, taken on a fresh open so that writers in this
 * process and in others wait for each other.  Returns the fd to close. */
static int lock_index(struct oci_layout *l, berth_error_t *err)
{
	int fd = openat(l->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return berth_error_sys(err, errno, "lock `%s`", l->path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int saved = errno;
			close(fd);
			return berth_error_sys(err, saved, "lock `%s`", l->path);
		}
	}
	return fd;
}

/* Writes a document of the layout atomically: temporary file, optional
 * fsync, rename. */
static int write_atomic(struct oci_layout *l, const char *name, const char *content, size_t len,
                        berth_error_t *err)
{
	char tmp[64];
	cleanup_close int fd = -1;

	if (!l->fsync)
		return fs_write_file_atomic_at(l->dirfd, name, content, len, 0644, err);
	temp_name(tmp, sizeof(tmp), name);
	fd = openat(l->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return berth_error_sys(err, errno, "create `%s/%s`", l->path, tmp);
	if (fs_write_all(fd, content, len) < 0 || fsync(fd) < 0) {
		int saved = errno;
		unlinkat(l->dirfd, tmp, 0);
		return berth_error_sys(err, saved, "write `%s/%s`", l->path, name);
	}
	if (renameat(l->dirfd, tmp, l->dirfd, name) < 0) {
		int saved = errno;
		unlinkat(l->dirfd, tmp, 0);
		return berth_error_sys(err, saved, "rename to `%s/%s`", l->path, name);
	}
	return fsync_dir(l->dirfd, l->path, err);
}

/* ---- open and close ---- */

/* A temporary file is stale when no writer holds it (a blob's writer locks
 * it from its creation on) and it is older than a writer needs to lock it. */
#define STALE_TEMP_SECONDS 60

/* What killed writers left: temporary blobs in blobs/<alg>/ that no writer
 * holds, and (under the index lock, so that none is being written by a
 * locked writer) old temporary copies of index.json. */
static void remove_stale_temps(struct oci_layout *l)
{
	static const char *const algs[] = {"blobs/sha256", "blobs/sha512"};
	struct timespec now;
	struct dirent *de;

	clock_gettime(CLOCK_REALTIME, &now);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		int fd = openat(l->dirfd, algs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		if (d == NULL) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			struct stat st;
			if (strncmp(de->d_name, ".tmp-blob-", 10) != 0)
				continue;
			cleanup_close int tfd =
			    openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (tfd >= 0 && fstat(tfd, &st) == 0 &&
			    st.st_mtime + STALE_TEMP_SECONDS < now.tv_sec &&
			    flock(tfd, LOCK_EX | LOCK_NB) == 0)
				unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	berth_error_t e = NULL;
	cleanup_close int lock = lock_index(l, &e);
	int fd = lock >= 0 ? openat(l->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	berth_error_free(&e);
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if ((strncmp(de->d_name, ".tmp-index.json-", 16) == 0 ||
		     strncmp(de->d_name, "index.json.tmp-", 15) == 0) &&
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_mtime + STALE_TEMP_SECONDS < now.tv_sec)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

static int check_layout_file(struct oci_layout *l, bool create, berth_error_t *err)
{
	cleanup_free char *text = NULL, *origin = NULL;
	struct oci_image_layout *parsed = NULL;
	size_t len;

	if (asprintf(&origin, "%s/oci-layout", l->path) < 0)
		return berth_error_sys(err, ENOMEM, "open layout");
	if (fs_read_file_at(l->dirfd, "oci-layout", &text, &len, NULL) < 0) {
		static const char header[] = "{\"imageLayoutVersion\":\"" OCI_IMAGE_LAYOUT_VERSION "\"}";
		if (errno != ENOENT)
			return berth_error_sys(err, errno, "read `%s`", origin);
		if (!create)
			return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0,
			                       "`%s` is not an OCI image layout: no oci-layout file",
			                       l->path);
		return write_atomic(l, "oci-layout", header, strlen(header), err);
	}
	if (oci_image_layout_parse(text, len, origin, &parsed, err) < 0)
		return -1;
	oci_image_layout_free(parsed);
	return 0;
}

static int check_index_file(struct oci_layout *l, bool create, berth_error_t *err)
{
	struct stat st;

	if (fstatat(l->dirfd, "index.json", &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return berth_error_sys(err, errno, "stat `%s/index.json`", l->path);
	if (!create)
		return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0,
		                       "`%s` is not an OCI image layout: no index.json", l->path);
	/* another creator may have written it (and tagged) meanwhile */
	cleanup_close int lock = lock_index(l, err);
	if (lock < 0)
		return -1;
	if (fstatat(l->dirfd, "index.json", &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	struct oci_image_index empty = {.schema_version = 2, .media_type = (char *)OCI_MEDIA_TYPE_INDEX};
	return oci_layout_write_index(l, &empty, err);
}

int oci_layout_open(const char *path, const struct oci_layout_options *opts, struct oci_layout **out,
                    berth_error_t *err)
{
	bool create = opts != NULL &&
	              opts->size >= offsetof(struct oci_layout_options, create) + sizeof(bool) &&
	              opts->create;
	bool do_fsync = opts != NULL &&
	                opts->size >= offsetof(struct oci_layout_options, fsync) + sizeof(bool) &&
	                opts->fsync;
	struct oci_layout *l;

	*out = NULL;
	/* 1. the directory */
	if (create && fs_mkdir_p(path, 0755, err) < 0)
		return berth_error_prefix(err, "create layout `%s`", path);
	l = calloc(1, sizeof(*l));
	if (l == NULL || (l->path = strdup(path)) == NULL) {
		free(l);
		return berth_error_sys(err, ENOMEM, "open layout `%s`", path);
	}
	l->fsync = do_fsync;
	l->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0) {
		int saved = errno;
		oci_layout_close(l);
		return berth_error_sys(err, saved, "open layout `%s`", path);
	}
	/* 2. oci-layout, index.json and blobs/ */
	if (check_layout_file(l, create, err) < 0 || check_index_file(l, create, err) < 0 ||
	    (create && mkdir_at(l->dirfd, "blobs", l->path, err) < 0)) {
		oci_layout_close(l);
		return -1;
	}
	/* 3. a writer clears what killed writers left */
	if (create)
		remove_stale_temps(l);
	*out = l;
	return 0;
}

void oci_layout_close(struct oci_layout *layout)
{
	if (layout == NULL)
		return;
	if (layout->dirfd >= 0)
		close(layout->dirfd);
	free(layout->path);
	free(layout);
}

const char *oci_layout_path(const struct oci_layout *layout)
{
	return layout->path;
}

int oci_layout_dirfd(const struct oci_layout *layout)
{
	return layout->dirfd;
}

/* ---- blobs ---- */

char *oci_layout_blob_relpath(const char *digest, berth_error_t *err)
{
	enum oci_digest_alg alg;
	const char *hex;
	char *rel = NULL;

	if (oci_digest_parse(digest, &alg, &hex, err) < 0)
		return NULL;
	if (asprintf(&rel, "blobs/%s/%s", oci_digest_alg_name(alg), hex) < 0) {
		berth_error_sys(err, ENOMEM, "blob %s", digest);
		return NULL;
	}
	return rel;
}

struct put_state {
	struct oci_layout *l;
	int algfd;
	char tmp[64];
	bool tmp_made;
	bool unnamed; /* O_TMPFILE: nothing to remove if we die */
};

/* Gives an O_TMPFILE file its name: AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH,
 * the /proc path needs /proc. */
static int link_unnamed(int fd, int dirfd, const char *name)
{
	char path[64];

	if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW);
}

static void put_abort(struct put_state *s)
{
	if (s->tmp_made)
		unlinkat(s->algfd, s->tmp, 0);
	if (s->algfd >= 0)
		close(s->algfd);
}

/* Copies the stream into the temporary file, hashing (or verifying) it. */
static int put_copy(struct put_state *s, int fd, oci_layout_read_fn read_fn, void *ctx,
                    struct oci_verifier *v, struct oci_hasher *h, int64_t *count, berth_error_t *err)
{
	cleanup_free char *buf = malloc(1 << 17);

	if (buf == NULL)
		return berth_error_sys(err, ENOMEM, "put blob");
	for (;;) {
		ssize_t n = read_fn(ctx, buf, 1 << 17, err);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (v != NULL && oci_verifier_update(v, buf, (size_t)n, err) < 0)
			return -1;
		if (h != NULL)
			oci_hasher_update(h, buf, (size_t)n);
		if (fs_write_all(fd, buf, (size_t)n) < 0)
			return berth_error_sys(err, errno, "write `%s/blobs/.../%s`", s->l->path, s->tmp);
		*count += n;
	}
}

int oci_layout_put_blob_stream(struct oci_layout *layout, oci_layout_read_fn read_fn, void *ctx,
                               const char *digest, int64_t size, char digest_out[OCI_DIGEST_MAX],
                               int64_t *size_out, berth_error_t *err)
{
	struct put_state s = {.l = layout, .algfd = -1};
	enum oci_digest_alg alg = OCI_DIGEST_SHA256;
	cleanup_oci_verifier struct oci_verifier *v = NULL;
	cleanup_oci_hasher struct oci_hasher *h = NULL;
	cleanup_close int fd = -1;
	char got[OCI_DIGEST_MAX], algdir[32];
	const char *hex;
	int64_t count = 0;

	/* 1. what the blob must be */
	if (digest != NULL) {
		if (oci_digest_parse(digest, &alg, NULL, err) < 0)
			return berth_error_prefix(err, "put blob");
		v = oci_verifier_new(digest, size, err);
		if (v == NULL)
			return -1;
	} else {
		h = oci_hasher_new(alg, err);
		if (h == NULL)
			return -1;
	}
	/* 2. a temporary file beside where it goes */
	snprintf(algdir, sizeof(algdir), "blobs/%s", oci_digest_alg_name(alg));
	if (mkdir_at(layout->dirfd, "blobs", layout->path, err) < 0 ||
	    mkdir_at(layout->dirfd, algdir, layout->path, err) < 0)
		return -1;
	s.algfd = openat(layout->dirfd, algdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (s.algfd < 0)
		return berth_error_sys(err, errno, "open `%s/%s`", layout->path, algdir);
	/* An unnamed file, linked in once complete: a writer killed meanwhile
	 * leaves nothing in the layout. Without O_TMPFILE on this file
	 * system, a named temporary file, locked while it is written. */
	temp_name(s.tmp, sizeof(s.tmp), "blob");
	fd = openat(s.algfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd >= 0) {
		s.unnamed = true;
	} else {
		fd = openat(s.algfd, s.tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0) {
			put_abort(&s);
			return berth_error_sys(err, errno, "create `%s/%s/%s`", layout->path, algdir, s.tmp);
		}
		s.tmp_made = true;
		/* held while the blob is written: remove_stale_temps leaves it alone */
		while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
			;
	}
	/* 3. the content, checked */
	if (put_copy(&s, fd, read_fn, ctx, v, h, &count, err) < 0 ||
	    (v != NULL && oci_verifier_finish(v, err) < 0)) {
		put_abort(&s);
		return -1;
	}
	if (h != NULL) {
		oci_hasher_final(h, got);
		if (size >= 0 && count != size) {
			put_abort(&s);
			return berth_error_invalid(
			    err, "blob %s: size mismatch: expected %" PRId64 " bytes, got %" PRId64, got,
			    size, count);
		}
	} else {
		snprintf(got, sizeof(got), "%s", digest);
	}
	if (layout->fsync && fsync(fd) < 0) {
		put_abort(&s);
		return berth_error_sys(err, errno, "fsync blob %s", got);
	}
	/* 4. the name: the content checked out */
	oci_digest_parse(got, NULL, &hex, NULL);
	/* linked under the temporary name, then renamed: rename replaces a
	 * corrupted blob of that name (a stray name only if we die between) */
	if (s.unnamed) {
		if (link_unnamed(fd, s.algfd, s.tmp) < 0) {
			int saved = errno;
			put_abort(&s);
			return berth_error_sys(err, saved, "link blob %s into place", got);
		}
		s.tmp_made = true;
	}
	if (renameat(s.algfd, s.tmp, s.algfd, hex) < 0) {
		int saved = errno;
		put_abort(&s);
		return berth_error_sys(err, saved, "rename blob %s into place", got);
	}
	s.tmp_made = false;
	if (layout->fsync && fsync_dir(s.algfd, layout->path, err) < 0) {
		put_abort(&s);
		return -1;
	}
	put_abort(&s);
	if (digest_out != NULL)
		memcpy(digest_out, got, strlen(got) + 1);
	if (size_out != NULL)
		*size_out = count;
	return 0;
}

struct buf_src {
	const char *p;
	size_t left;
};

static ssize_t buf_read(void *ctx, void *buf, size_t len, berth_error_t *err)
{
	struct buf_src *b = ctx;
	size_t n = len < b->left ? len : b->left;

	memcpy(buf, b->p, n);
	b->p += n;
	b->left -= n;
	return (ssize_t)n;
}

static ssize_t fd_read(void *ctx, void *buf, size_t len, berth_error_t *err)
{
	ssize_t n;

	do
		n = read(*(int *)ctx, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return berth_error_sys(err, errno, "put blob: read");
	return n;
}

int oci_layout_put_blob(struct oci_layout *layout, const void *buf, size_t len, const char *digest,
                        char digest_out[OCI_DIGEST_MAX], berth_error_t *err)
{
	struct buf_src src = {buf, len};

	return oci_layout_put_blob_stream(layout, buf_read, &src, digest, digest != NULL ? (int64_t)len : -1,
	                                  digest_out, NULL, err);
}

int oci_layout_put_blob_fd(struct oci_layout *layout, int fd, const char *digest, int64_t size,
                           char digest_out[OCI_DIGEST_MAX], int64_t *size_out, berth_error_t *err)
{
	return oci_layout_put_blob_stream(layout, fd_read, &fd, digest, size, digest_out, size_out, err);
}

int oci_layout_put_blob_desc(struct oci_layout *layout, const char *media_type, const void *buf, size_t len,
                             struct oci_descriptor *desc, berth_error_t *err)
{
	char digest[OCI_DIGEST_MAX];

	if (oci_layout_put_blob(layout, buf, len, NULL, digest, err) < 0)
		return -1;
	desc->media_type = strdup(media_type);
	desc->digest = strdup(digest);
	desc->size = (int64_t)len;
	if (desc->media_type == NULL || desc->digest == NULL) {
		oci_descriptor_free_members(desc);
		memset(desc, 0, sizeof(*desc));
		return berth_error_sys(err, ENOMEM, "put blob");
	}
	return 0;
}

int oci_layout_has_blob(struct oci_layout *layout, const char *digest, berth_error_t *err)
{
	cleanup_free char *rel = oci_layout_blob_relpath(digest, err);
	struct stat st;

	if (rel == NULL)
		return -1;
	if (fstatat(layout->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISREG(st.st_mode) ? 1 : 0;
	if (errno == ENOENT)
		return 0;
	return berth_error_sys(err, errno, "stat blob %s", digest);
}

int oci_layout_open_blob(struct oci_layout *layout, const char *digest, int64_t size,
                         struct oci_blob_reader **out, berth_error_t *err)
{
	cleanup_free char *rel = oci_layout_blob_relpath(digest, err);
	cleanup_close int fd = -1;
	struct stat st;

	if (rel == NULL)
		return -1;
	/* O_NOFOLLOW: a blob is a regular file of the layout, never a link out of it. */
	fd = openat(layout->dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0, "blob %s: not found in `%s`", digest,
		                       layout->path);
	if (fd < 0)
		return berth_error_sys(err, errno, "blob %s: open `%s/%s`", digest, layout->path, rel);
	if (fstat(fd, &st) < 0)
		return berth_error_sys(err, errno, "blob %s: stat", digest);
	if (!S_ISREG(st.st_mode))
		return berth_error_invalid(err, "blob %s: not a regular file", digest);
	if (size >= 0 && st.st_size != size)
		return berth_error_invalid(err,
		                           "blob %s: size mismatch: expected %" PRId64 " bytes, got %" PRId64,
		                           digest, size, (int64_t)st.st_size);
	*out = oci_blob_reader_new(steal_fd(&fd), digest, size, err);
	return *out == NULL ? -1 : 0;
}

int oci_layout_read_blob(struct oci_layout *layout, const char *digest, int64_t size, size_t max_size,
                         char **out, size_t *len_out, berth_error_t *err)
{
	cleanup_oci_blob_reader struct oci_blob_reader *r = NULL;
	cleanup_free char *buf = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t n;

	if (oci_layout_open_blob(layout, digest, size, &r, err) < 0)
		return -1;
	if (fstat(oci_blob_reader_fd(r), &st) < 0)
		return berth_error_sys(err, errno, "blob %s: stat", digest);
	if ((uint64_t)st.st_size > max_size)
		return berth_error_invalid(err, "blob %s: too large (%" PRId64 " bytes, at most %zu)", digest,
		                           (int64_t)st.st_size, max_size);
	buf = malloc((size_t)st.st_size + 2);
	if (buf == NULL)
		return berth_error_sys(err, ENOMEM, "blob %s", digest);
	/* One byte more than the size, so that a file that grew is read to its end and caught. */
	while ((n = oci_blob_reader_read(r, buf + len, (size_t)st.st_size + 1 - len, err)) > 0) {
		len += (size_t)n;
		if (len > (size_t)st.st_size)
			return berth_error_invalid(err, "blob %s: changed while read", digest);
	}
	if (n < 0)
		return -1;
	buf[len] = '\0';
	*out = steal_ptr(&buf);
	if (len_out != NULL)
		*len_out = len;
	return 0;
}

/* ---- index.json ---- */

int oci_layout_read_index(struct oci_layout *layout, struct oci_image_index **out, berth_error_t *err)
{
	cleanup_free char *text = NULL, *origin = NULL;
	size_t len;

	if (asprintf(&origin, "%s/index.json", layout->path) < 0)
		return berth_error_sys(err, ENOMEM, "read index");
	if (fs_read_file_at(layout->dirfd, "index.json", &text, &len, err) < 0)
		return -1;
	return oci_image_index_parse(text, len, origin, out, err);
}

int oci_layout_write_index(struct oci_layout *layout, const struct oci_image_index *index, berth_error_t *err)
{
	cleanup_free char *json = oci_image_index_to_json(index, false, err);

	if (json == NULL)
		return berth_error_prefix(err, "write `%s/index.json`", layout->path);
	return write_atomic(layout, "index.json", json, strlen(json), err);
}

/* A ref.name as the image-spec allows it: components of [A-Za-z0-9] joined by [-._:@+/]. */
static bool valid_ref_name(const char *s)
{
	bool prev_alnum = false;

	if (s == NULL || s[0] == '\0')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
		if (!alnum &&
		    (strchr("-._:@+/", *p) == NULL || (!prev_alnum && !(*p == '-' && p[-1] == '-'))))
			return false;
		prev_alnum = alnum;
	}
	return prev_alnum;
}

static void remove_tag(struct oci_image_index *index, const char *tag, size_t *removed)
{
	for (size_t i = index->manifests_len; i-- > 0;) {
		const char *name = oci_descriptor_annotation(&index->manifests[i], OCI_ANNOTATION_REF_NAME);
		if (name != NULL && strcmp(name, tag) == 0) {
			oci_image_index_remove(index, i);
			(*removed)++;
		}
	}
}

int oci_layout_tag(struct oci_layout *layout, const char *tag, const struct oci_descriptor *desc,
                   berth_error_t *err)
{
	cleanup_oci_image_index struct oci_image_index *index = NULL;
	size_t removed = 0;

	if (!valid_ref_name(tag))
		return berth_error_invalid(err, "tag `%s`: invalid reference name", tag != NULL ? tag : "");
	if (!oci_media_type_is_index(desc->media_type) && !oci_media_type_is_manifest(desc->media_type))
		return berth_error_invalid(err,
		                           "tag `%s`: media type `%s` is neither a manifest nor an index",
		                           tag, desc->media_type != NULL ? desc->media_type : "");
	cleanup_close int lock = lock_index(layout, err);
	if (lock < 0)
		return berth_error_prefix(err, "tag `%s`", tag);
	if (oci_layout_read_index(layout, &index, err) < 0)
		return berth_error_prefix(err, "tag `%s`", tag);
	remove_tag(index, tag, &removed);
	if (oci_image_index_append(index, desc, err) < 0 ||
	    oci_descriptor_set_annotation(&index->manifests[index->manifests_len - 1],
	                                  OCI_ANNOTATION_REF_NAME, tag, err) < 0)
		return berth_error_prefix(err, "tag `%s`", tag);
	if (index->media_type == NULL && (index->media_type = strdup(OCI_MEDIA_TYPE_INDEX)) == NULL)
		return berth_error_sys(err, ENOMEM, "tag `%s`", tag);
	return oci_layout_write_index(layout, index, err);
}

int oci_layout_add(struct oci_layout *layout, const struct oci_descriptor *desc, berth_error_t *err)
{
	cleanup_oci_image_index struct oci_image_index *index = NULL;
	cleanup_close int lock = lock_index(layout, err);

	if (lock < 0)
		return -1;
	if (oci_layout_read_index(layout, &index, err) < 0 || oci_image_index_append(index, desc, err) < 0)
		return berth_error_prefix(err, "add %s to `%s/index.json`", desc->digest, layout->path);
	return oci_layout_write_index(layout, index, err);
}

int oci_layout_add_once(struct oci_layout *layout, const struct oci_descriptor *desc, berth_error_t *err)
{
	cleanup_oci_image_index struct oci_image_index *index = NULL;
	cleanup_close int lock = lock_index(layout, err);

	if (lock < 0)
		return -1;
	if (oci_layout_read_index(layout, &index, err) < 0)
		return berth_error_prefix(err, "add %s to `%s/index.json`", desc->digest, layout->path);
	for (size_t i = 0; i < index->manifests_len; i++)
		if (strcmp(index->manifests[i].digest, desc->digest) == 0 &&
		    oci_descriptor_annotation(&index->manifests[i], OCI_ANNOTATION_REF_NAME) == NULL)
			return 0;
	if (oci_image_index_append(index, desc, err) < 0)
		return berth_error_prefix(err, "add %s to `%s/index.json`", desc->digest, layout->path);
	return oci_layout_write_index(layout, index, err);
}

int oci_layout_untag(struct oci_layout *layout, const char *tag, berth_error_t *err)
{
	cleanup_oci_image_index struct oci_image_index *index = NULL;
	size_t removed = 0;

	cleanup_close int lock = lock_index(layout, err);
	if (lock < 0)
		return berth_error_prefix(err, "untag `%s`", tag);
	if (oci_layout_read_index(layout, &index, err) < 0)
		return berth_error_prefix(err, "untag `%s`", tag);
	remove_tag(index, tag, &removed);
	if (removed == 0)
		return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0, "tag `%s`: not found in `%s`", tag,
		                       layout->path);
	return oci_layout_write_index(layout, index, err);
}

int oci_layout_list_tags(struct oci_layout *layout, char ***tags, size_t *count, berth_error_t *err)
{
	cleanup_oci_image_index struct oci_image_index *index = NULL;
	cleanup_strv char **v = NULL;
	size_t n = 0;

	if (oci_layout_read_index(layout, &index, err) < 0)
		return -1;
	v = calloc(index->manifests_len + 1, sizeof(*v));
	if (v == NULL)
		return berth_error_sys(err, ENOMEM, "list tags");
	for (size_t i = 0; i < index->manifests_len; i++) {
		const char *name = oci_descriptor_annotation(&index->manifests[i], OCI_ANNOTATION_REF_NAME);
		if (name == NULL)
			continue;
		v[n] = strdup(name);
		if (v[n++] == NULL)
			return berth_error_sys(err, ENOMEM, "list tags");
	}
	*tags = steal_ptr(&v);
	if (count != NULL)
		*count = n;
	return 0;
}

/* ---- resolving ---- */

void oci_image_free(struct oci_image *image)
{
	if (image == NULL)
		return;
	oci_descriptor_free_members(&image->manifest_desc);
	oci_image_manifest_free(image->manifest);
	oci_image_config_free(image->config);
	free(image);
}

struct want {
	const char *os, *arch, *variant;
	bool explicit;
};

/* Picks among n descriptors by platform: the first that matches; entries
 * without a platform match only when they are alone. */
static const struct oci_descriptor *pick(const struct oci_descriptor *const *cands, size_t n,
                                         const struct want *w, berth_error_t *err)
{
	char list[512] = "", one[96];
	size_t used = 0;

	if (n == 1 && (cands[0]->platform == NULL || !w->explicit))
		return cands[0];
	for (size_t i = 0; i < n; i++)
		if (cands[i]->platform != NULL &&
		    oci_platform_matches(cands[i]->platform, w->os, w->arch, w->variant))
			return cands[i];
	for (size_t i = 0; i < n && used < sizeof(list); i++) {
		int r = snprintf(list + used, sizeof(list) - used, "%s%s", i > 0 ? ", " : "",
		                 oci_platform_format(cands[i]->platform, one, sizeof(one)));
		used += r > 0 ? (size_t)r : 0;
	}
	berth_error_set(err, BERTH_ERR_NOT_FOUND, 0, "no manifest for platform %s/%s%s%s (available: %s)",
	                w->os, w->arch, w->variant != NULL ? "/" : "", w->variant != NULL ? w->variant : "",
	                list);
	return NULL;
}

/* The media type of a blob that index.json does not list: from its mediaType, or its shape. */
static int sniff_media_type(struct oci_layout *l, const char *digest, struct oci_descriptor *desc,
                            berth_error_t *err)
{
	cleanup_free char *text = NULL;
	cleanup_json json_object *json = NULL;
	json_object *mt = NULL;
	size_t len;

	if (oci_layout_read_blob(l, digest, -1, JSON_BLOB_MAX, &text, &len, err) < 0)
		return -1;
	if (oci_json_parse_text(text, len, digest, &json, err) < 0)
		return -1;
	if (json_object_object_get_ex(json, "mediaType", &mt) && json_object_is_type(mt, json_type_string))
		desc->media_type = strdup(json_object_get_string(mt));
	else
		desc->media_type =
		    strdup(json_object_object_get_ex(json, "manifests", NULL) ? OCI_MEDIA_TYPE_INDEX
		                                                              : OCI_MEDIA_TYPE_MANIFEST);
	desc->digest = strdup(digest);
	desc->size = (int64_t)len;
	return desc->media_type == NULL || desc->digest == NULL ? berth_error_sys(err, ENOMEM, "%s", digest)
	                                                        : 0;
}

/* The candidates of index.json for ref; *pick_from is set to a copy of the chosen descriptor. */
static int top_level(struct oci_layout *l, const struct oci_image_index *index, const char *ref,
                     const struct want *w, struct oci_descriptor *chosen, berth_error_t *err)
{
	cleanup_free const struct oci_descriptor **cands = calloc(index->manifests_len + 1, sizeof(*cands));
	const struct oci_descriptor *d;
	bool by_digest = ref != NULL && oci_digest_valid(ref);
	size_t n = 0;

	if (cands == NULL)
		return berth_error_sys(err, ENOMEM, "resolve");
	for (size_t i = 0; i < index->manifests_len; i++) {
		const struct oci_descriptor *m = &index->manifests[i];
		const char *name = oci_descriptor_annotation(m, OCI_ANNOTATION_REF_NAME);
		if (ref == NULL || (by_digest && strcmp(m->digest, ref) == 0) ||
		    (!by_digest && name != NULL && strcmp(name, ref) == 0))
			cands[n++] = m;
	}
	if (n == 0 && by_digest)
		return sniff_media_type(l, ref, chosen, err);
	if (n == 0)
		return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0, "image `%s`: not found in `%s`",
		                       ref != NULL ? ref : "", l->path);
	d = pick(cands, n, w, err);
	return d == NULL ? -1 : oci_descriptor_copy(chosen, d, err);
}

static int load_config(struct oci_layout *l, struct oci_image *img, berth_error_t *err)
{
	const struct oci_descriptor *c = &img->manifest->config;
	cleanup_free char *text = NULL, *origin = NULL;
	size_t len;

	if (!oci_media_type_is_config(c->media_type))
		return berth_error_invalid(err, "manifest %s: config media type `%s` is not an image config",
		                           img->manifest_desc.digest, c->media_type);
	if (oci_layout_read_blob(l, c->digest, c->size, JSON_BLOB_MAX, &text, &len, err) < 0)
		return -1;
	if (asprintf(&origin, "config %s", c->digest) < 0)
		return berth_error_sys(err, ENOMEM, "config");
	return oci_image_config_parse(text, len, origin, &img->config, err);
}

int oci_layout_resolve(struct oci_layout *layout, const char *ref, const struct oci_platform_want *platform,
                       struct oci_image **out, berth_error_t *err)
{
	cleanup_oci_image_index struct oci_image_index *index = NULL;
	cleanup_oci_image struct oci_image *img = calloc(1, sizeof(*img));
	struct want w = {0};
	const char *what = ref != NULL ? ref : layout->path;

	if (img == NULL)
		return berth_error_sys(err, ENOMEM, "resolve");
	/* 1. the platform wanted */
	oci_platform_host(&w.os, &w.arch, &w.variant);
	if (platform != NULL && (platform->os != NULL || platform->architecture != NULL)) {
		w.explicit = true;
		w.os = platform->os != NULL ? platform->os : w.os;
		if (platform->architecture != NULL) {
			w.arch = platform->architecture;
			w.variant = platform->variant;
		}
	} else if (platform == NULL || platform->variant == NULL) {
		w.variant = NULL; /* the host's variant is a preference, not a requirement */
	}
	/* 2. the entry of index.json */
	if (oci_layout_read_index(layout, &index, err) < 0 ||
	    top_level(layout, index, ref, &w, &img->manifest_desc, err) < 0)
		return berth_error_prefix(err, "resolve `%s`", what);
	/* 3. down through nested indexes to a manifest */
	for (int depth = 0; oci_media_type_is_index(img->manifest_desc.media_type); depth++) {
		cleanup_oci_image_index struct oci_image_index *nested = NULL;
		cleanup_free char *text = NULL, *origin = NULL;
		cleanup_free const struct oci_descriptor **cands = NULL;
		const struct oci_descriptor *d;
		struct oci_descriptor next = {0};
		size_t len;

		if (depth >= MAX_INDEX_DEPTH)
			return berth_error_invalid(err, "resolve `%s`: indexes nested deeper than %d", what,
			                           MAX_INDEX_DEPTH);
		if (oci_layout_read_blob(layout, img->manifest_desc.digest, img->manifest_desc.size,
		                         JSON_BLOB_MAX, &text, &len, err) < 0)
			return berth_error_prefix(err, "resolve `%s`", what);
		if (asprintf(&origin, "index %s", img->manifest_desc.digest) < 0)
			return berth_error_sys(err, ENOMEM, "resolve");
		if (oci_image_index_parse(text, len, origin, &nested, err) < 0)
			return berth_error_prefix(err, "resolve `%s`", what);
		cands = calloc(nested->manifests_len + 1, sizeof(*cands));
		if (cands == NULL)
			return berth_error_sys(err, ENOMEM, "resolve");
		for (size_t i = 0; i < nested->manifests_len; i++)
			cands[i] = &nested->manifests[i];
		/* In an index, the platform decides even for a single entry. */
		w.explicit = true;
		d = nested->manifests_len == 0 ? NULL : pick(cands, nested->manifests_len, &w, err);
		if (d == NULL && nested->manifests_len == 0)
			return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0, "resolve `%s`: index %s is empty",
			                       what, img->manifest_desc.digest);
		if (d == NULL || oci_descriptor_copy(&next, d, err) < 0)
			return berth_error_prefix(err, "resolve `%s`: index %s", what,
			                          img->manifest_desc.digest);
		oci_descriptor_free_members(&img->manifest_desc);
		img->manifest_desc = next;
	}
	/* 4. the manifest and its config */
	if (!oci_media_type_is_manifest(img->manifest_desc.media_type))
		return berth_error_invalid(err, "resolve `%s`: %s: media type `%s` is not an image manifest",
		                           what, img->manifest_desc.digest, img->manifest_desc.media_type);
	{
		cleanup_free char *text = NULL, *origin = NULL;
		size_t len;

		if (oci_layout_read_blob(layout, img->manifest_desc.digest, img->manifest_desc.size,
		                         JSON_BLOB_MAX, &text, &len, err) < 0)
			return berth_error_prefix(err, "resolve `%s`", what);
		if (asprintf(&origin, "manifest %s", img->manifest_desc.digest) < 0)
			return berth_error_sys(err, ENOMEM, "resolve");
		if (oci_image_manifest_parse(text, len, origin, &img->manifest, err) < 0)
			return berth_error_prefix(err, "resolve `%s`", what);
	}
	if (load_config(layout, img, err) < 0)
		return berth_error_prefix(err, "resolve `%s`", what);
	*out = steal_ptr(&img);
	return 0;
}
