/* A step's layer: its upper directory as a blob of the build's
 * compression, in the cache's layout (see steps_make_layer in
 * build_int.h).
 *
 *   1. layer_diff of the upper directory (overlay whiteouts, clamped times
 *      with SOURCE_DATE_EPOCH) -> a tar
 *   2. gzip: the tar goes through a pipe from a thread that writes it to
 *      gzchunks_compress, which cuts and compresses it as it comes (never
 *      written to disk); zstd and uncompressed: layer_diff writes the blob
 *   3. the blob (its digest computed as it was written) renamed into the
 *      cache's layout */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_int.h"
#include "gzchunks.h"
#include "layer.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* The blob at path, written by this build (its digest computed as it was
 * written), into the cache's layout: renamed into place, not copied (the
 * build's directory is in the cache, so on its file system).  The cache's
 * layout is not fsynced: a blob lost in a crash is a cache miss. */
static int cache_adopt_blob(struct builder *b, int fd, const char *path, const char *digest, int64_t size,
                            berth_error_t *err)
{
	cleanup_free char *rel = oci_layout_blob_relpath(digest, err);
	if (rel == NULL)
		return -1;
	int dfd = oci_layout_dirfd(b->cache_layout);
	char *slash = strrchr(rel, '/');
	*slash = '\0';
	if (mkdirat(dfd, "blobs", 0755) < 0 && errno != EEXIST)
		return berth_error_sys(err, errno, "layer: mkdir `blobs`");
	if (mkdirat(dfd, rel, 0755) < 0 && errno != EEXIST)
		return berth_error_sys(err, errno, "layer: mkdir `%s`", rel);
	*slash = '/';
	if (fchmod(fd, 0644) == 0 && renameat(AT_FDCWD, path, dfd, rel) == 0)
		return 0;
	/* elsewhere (a cache directory whose tmp is a mount of its own): a copy */
	if (lseek(fd, 0, SEEK_SET) < 0)
		return berth_error_sys(err, errno, "layer");
	if (oci_layout_put_blob_fd(b->cache_layout, fd, digest, size, NULL, NULL, err) < 0)
		return berth_error_prefix(err, "layer");
	return 0;
}

struct diff_job {
	int ufd, out;
	const struct layer_diff_options *o;
	struct layer_diff_result *res;
	berth_error_t err;
	int r;
};

static void *diff_thread(void *arg)
{
	struct diff_job *j = arg;
	sigset_t pipe_set;
	/* a reader that failed closes the pipe: EPIPE here, not a SIGPIPE */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
	j->r = layer_diff(-1, j->ufd, j->out, j->o, j->res, &j->err);
	close(j->out);
	return NULL;
}

/* The upper directory's tar (layer_diff) compressed in chunks into out:
 * the tar goes through a pipe from a thread that writes it, so it is
 * compressed as it is made and never written to disk. */
static int diff_gzip(int ufd, int out, const char *members, const char *blobs,
                     const struct layer_diff_options *o, struct layer_diff_result *res, berth_error_t *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return berth_error_sys(err, errno, "layer: pipe");
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20); /* fewer switches; the default works too */
	struct diff_job j = {.ufd = ufd, .out = p[1], .o = o, .res = res};
	pthread_t th;
	int e = pthread_create(&th, NULL, diff_thread, &j);
	if (e != 0) {
		close(p[0]);
		close(p[1]);
		return berth_error_sys(err, e, "layer: a thread");
	}
	char d[OCI_DIGEST_MAX];
	uint64_t size = 0;
	int r = gzchunks_compress(p[0], out, members, blobs, d, &size, err);
	close(p[0]); /* the writer, if still writing, gets EPIPE */
	pthread_join(th, NULL);
	/* gzip failing makes the writer fail (EPIPE): then gzip's error; the
	 * writer failing ends the tar early: then the writer's */
	if (r < 0) {
		berth_error_free(&j.err);
		return berth_error_prefix(err, "layer");
	}
	if (j.r < 0) {
		*err = j.err;
		return berth_error_prefix(err, "layer");
	}
	snprintf(res->digest, sizeof(res->digest), "%.*s", (int)sizeof(res->digest) - 1, d);
	res->size = size;
	return 0;
}

/* The overlay upper directory as a layer blob in the build's compression
 * (written to blob_path first), put into the cache's layout unless it has
 * no entries. */
int steps_make_layer(struct builder *b, const char *upper, const char *blob_path,
                     struct layer_diff_result *res, berth_error_t *err)
{
	cleanup_close int out = open(blob_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cleanup_close int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (out < 0 || ufd < 0)
		return berth_error_sys(err, errno, "layer of `%s`", upper);
	struct layer_diff_options dopts = {
	    .size = sizeof(dopts),
	    .flags = LAYER_DIFF_OVERLAY,
	    .compression =
	        b->o->compression == LAYER_COMPRESSION_AUTO ? LAYER_COMPRESSION_GZIP : b->o->compression,
	};
	if (b->o->has_source_date_epoch) {
		dopts.flags |= LAYER_DIFF_SOURCE_DATE_EPOCH;
		dopts.source_date_epoch = b->o->source_date_epoch;
	}
	if (dopts.compression == LAYER_COMPRESSION_GZIP) {
		/* the tar's chunks compressed as it is made (gzchunks.h) */
		cleanup_free char *members = NULL, *blobs = NULL;
		if (!b->o->no_cache &&
		    (asprintf(&members, "%s/gz", b->cache) < 0 ||
		     asprintf(&blobs, "%s/blobs/sha256", oci_layout_path(b->cache_layout)) < 0))
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
		dopts.compression = LAYER_COMPRESSION_NONE;
		if (diff_gzip(ufd, out, members, blobs, &dopts, res, err) < 0)
			return -1;
	} else if (layer_diff(-1, ufd, out, &dopts, res, err) < 0) {
		return berth_error_prefix(err, "layer");
	}
	if (res->entries == 0)
		return 0;
	if (cache_adopt_blob(b, out, blob_path, res->digest, (int64_t)res->size, err) < 0)
		return -1;
	return 0;
}
