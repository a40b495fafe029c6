/* ADD <url>: the downloads of a step (see add_url.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "add_url.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* A download with --checksum is recorded in <cache>/urls/<sha256 of URL
 * and checksum>: "DIGEST MTIME HAS_MTIME SIZE", what the step's key needs,
 * so that a later build with the same URL and checksum finds its cached
 * step without downloading (as BuildKit's checksum-keyed source does). */
static char *url_record_path(const struct builder *b, const char *url, const char *checksum)
{
	char d[OCI_DIGEST_MAX];
	berth_error_t e = NULL;
	struct oci_hasher *h = oci_hasher_new(OCI_DIGEST_SHA256, &e);
	char *path = NULL;
	if (h == NULL) {
		berth_error_free(&e);
		return NULL;
	}
	oci_hasher_update(h, url, strlen(url) + 1);
	oci_hasher_update(h, checksum, strlen(checksum) + 1);
	oci_hasher_final(h, d);
	oci_hasher_free(h);
	return asprintf(&path, "%s/urls/%s", b->cache, strchr(d, ':') + 1) < 0 ? NULL : path;
}

static bool url_record_read(const struct builder *b, const char *url, const char *checksum,
                            struct fetch_result *res)
{
	cleanup_free char *path = url_record_path(b, url, checksum), *text = NULL;
	berth_error_t e = NULL;
	int has = 0;
	if (path == NULL || fs_read_file_at(AT_FDCWD, path, &text, NULL, &e) < 0) {
		berth_error_free(&e);
		return false;
	}
	if (sscanf(text, "%135s %" SCNd64 " %d %" SCNd64, res->digest, &res->mtime, &has, &res->size) != 4 ||
	    strncmp(res->digest, "sha256:", 7) != 0)
		return false;
	res->has_mtime = has != 0;
	return true;
}

static void url_record_write(const struct builder *b, const char *url, const char *checksum,
                             const struct fetch_result *res)
{
	cleanup_free char *path = url_record_path(b, url, checksum), *text = NULL;
	berth_error_t e = NULL;
	if (path == NULL || asprintf(&text, "%s %" PRId64 " %d %" PRId64 "\n", res->digest, res->mtime,
	                             res->has_mtime, res->size) < 0)
		return;
	char *slash = strrchr(path, '/');
	*slash = '\0';
	int r = fs_mkdir_p(path, 0700, &e);
	*slash = '/';
	/* a failure costs a download next time */
	if (r < 0 || fs_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), 0600, &e) < 0)
		berth_error_free(&e);
}

/* Downloads d->url into d->tmp. */
static int url_download(struct builder *b, const struct df_instr *in, struct url_src *d, berth_error_t *err)
{
	cleanup_close int fd = open(d->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_error_sys(err, errno, "ADD: `%s`", d->tmp);
	build_progress(b, "%s:%d: ADD: downloading %s", b->df_name, in->pos.line, d->url);
	return fetch_url(d->url, in->checksum, fd, &d->res, err);
}

/* A cache miss: the downloads that a record stood in for.  The content is
 * the checksum's; the mtime stays the recorded one, which the key has. */
int urls_fetch_deferred(struct builder *b, const struct df_instr *in, struct urls *u, berth_error_t *err)
{
	for (size_t i = 0; i < u->n; i++) {
		struct url_src *d = &u->v[i];
		if (!d->deferred)
			continue;
		struct fetch_result rec = d->res;
		if (url_download(b, in, d, err) < 0)
			return -1;
		if (strcmp(d->res.digest, rec.digest) != 0)
			return berth_error_invalid(
			    err, "%s: content %s, the record of an earlier download says %s", d->url,
			    d->res.digest, rec.digest);
		d->res.mtime = rec.mtime;
		d->deferred = false;
	}
	return 0;
}

void urls_free(struct urls *u)
{
	for (size_t i = 0; i < u->n; i++) {
		if (u->v[i].tmp != NULL)
			unlink(u->v[i].tmp);
		free(u->v[i].tmp);
		free(u->v[i].dest);
	}
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/* Downloads every URL source of the ADD; into a destination ending in /,
 * under the name fetch_url_filename gives it. */
int urls_fetch(struct builder *b, const struct df_instr *in, const char *dest, bool dest_dir, struct urls *u,
               berth_error_t *err)
{
	for (size_t i = 0; in->srcs[i]; i++) {
		if (!fetch_is_url(in->srcs[i]))
			continue;
		struct url_src *nv = realloc(u->v, (u->n + 1) * sizeof(*nv));
		if (nv == NULL)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "ADD");
		u->v = nv;
		struct url_src *d = memset(&nv[u->n++], 0, sizeof(*nv));
		d->url = in->srcs[i];
		if (dest_dir) {
			cleanup_free char *name = fetch_url_filename(d->url);
			if (name == NULL)
				return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "ADD");
			if (asprintf(&d->dest, "%s/%s", strcmp(dest, "/") == 0 ? "" : dest, name) < 0)
				d->dest = NULL;
		} else {
			d->dest = strdup(dest);
		}
		if (d->dest == NULL || asprintf(&d->tmp, "%s/dl%u", b->tmp, ++b->counter) < 0) {
			d->tmp = NULL;
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "ADD");
		}
		bool record = in->checksum != NULL && !b->o->no_cache;
		if (record && url_record_read(b, d->url, in->checksum, &d->res)) {
			d->deferred = true;
		} else {
			if (url_download(b, in, d, err) < 0)
				return -1;
			/* no Last-Modified: the time of the download (clamped
			 * with SOURCE_DATE_EPOCH like every mtime of the layer) */
			if (!d->res.has_mtime)
				d->res.mtime = (int64_t)time(NULL);
			if (record)
				url_record_write(b, d->url, in->checksum, &d->res);
		}
		snprintf(d->mtime, sizeof(d->mtime), "%" PRId64, d->res.has_mtime ? d->res.mtime : -1);
	}
	return 0;
}

/* The downloads into the image: mode 0600 (or --chmod), root (or
 * --chown), mtime from Last-Modified; never extracted. */
int urls_copy(int merged_fd, const struct urls *u, const struct fsops_copy_opts *co, berth_error_t *err)
{
	uid_t uid = co->uid == (uid_t)-1 ? 0 : co->uid;
	gid_t gid = co->gid == (gid_t)-1 ? 0 : co->gid;
	for (size_t i = 0; i < u->n; i++) {
		const struct url_src *d = &u->v[i];
		const char *slash = strrchr(d->dest, '/');
		cleanup_free char *parent = strndup(d->dest, (size_t)(slash - d->dest));
		if (parent == NULL)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "ADD");
		cleanup_close int pfd = steps_mkdir_open(merged_fd, *parent ? parent : "/", uid, gid, err);
		cleanup_close int in = open(d->tmp, O_RDONLY | O_CLOEXEC);
		if (pfd < 0 || in < 0)
			return *err ? -1 : berth_error_sys(err, errno, "ADD %s", d->url);
		if (unlinkat(pfd, slash + 1, 0) < 0 && errno != ENOENT)
			return berth_error_sys(err, errno, "ADD %s: replace `%s`", d->url, d->dest);
		cleanup_close int out =
		    openat(pfd, slash + 1, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			return berth_error_sys(err, errno, "ADD %s: create `%s`", d->url, d->dest);
		char buf[65536];
		ssize_t n;
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (fs_write_all(out, buf, (size_t)n) < 0)
				return berth_error_sys(err, errno, "ADD %s: write `%s`", d->url, d->dest);
		struct timespec ts[2] = {{.tv_sec = (time_t)d->res.mtime}, {.tv_sec = (time_t)d->res.mtime}};
		if (n < 0 || fchown(out, uid, gid) < 0 ||
		    fchmod(out, fsops_copy_mode(co, S_IFREG | 0600)) < 0 || futimens(out, ts) < 0)
			return berth_error_sys(err, errno, "ADD %s: `%s`", d->url, d->dest);
	}
	return 0;
}
