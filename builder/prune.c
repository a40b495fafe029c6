/* berth-build prune (see prune.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsops.h"
#include "image_spec.h"
#include "layout.h"
#include "prune.h"
#include "reaper.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define HEX_LEN 64

/* ---- sizes ---- */

int prune_parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		return -1;
	}
	if (shift != 0) {
		end++;
		if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0 || *end == '\0')
			end += strlen(end);
	} else if (strcmp(end, "B") == 0) {
		end++;
	}
	if (*end != '\0' || (shift != 0 && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* A directory opened for reading (its fd is dirfd(d)); NULL when not. */
static DIR *dir_at(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (d == NULL)
		close(fd);
	return d;
}

/* The blocks that dir_fd/name takes (a directory with everything in it). */
static uint64_t du_at(int dir_fd, const char *name)
{
	struct stat st;
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	uint64_t n = (uint64_t)st.st_blocks * 512;
	if (!S_ISDIR(st.st_mode))
		return n;
	cleanup_dir DIR *d = dir_at(dir_fd, name);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n += du_at(dirfd(d), de->d_name);
	return n;
}

/* ---- the digests that something references ---- */

struct refs {
	char (*v)[HEX_LEN + 1];
	unsigned *count; /* how many steps (UINT_MAX/2 and more: the index) */
	size_t n, cap;
};

static long refs_find(const struct refs *r, const char *hex)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i], hex) == 0)
			return (long)i;
	return -1;
}

static int refs_add(struct refs *r, const char *digest, unsigned weight)
{
	if (strncmp(digest, "sha256:", 7) != 0 || strlen(digest + 7) != HEX_LEN)
		return 0;
	long i = refs_find(r, digest + 7);
	if (i >= 0) {
		r->count[i] += weight;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		void *v = realloc(r->v, cap * sizeof(*r->v));
		if (v == NULL)
			return -1;
		r->v = v;
		unsigned *c = realloc(r->count, cap * sizeof(*c));
		if (c == NULL)
			return -1;
		r->count = c;
		r->cap = cap;
	}
	snprintf(r->v[r->n], sizeof(r->v[r->n]), "%s", digest + 7);
	r->count[r->n++] = weight;
	return 0;
}

#define INDEX_WEIGHT (1u << 30)

/* The blobs of the images that the layout's index.json names: kept. */
static int refs_from_layout(struct refs *r, struct oci_layout *l, const struct oci_descriptor *d, int depth,
                            berth_error_t *err)
{
	if (refs_add(r, d->digest, INDEX_WEIGHT) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "prune");
	bool index = d->media_type != NULL && strcmp(d->media_type, OCI_MEDIA_TYPE_INDEX) == 0;
	bool manifest = d->media_type != NULL && strcmp(d->media_type, OCI_MEDIA_TYPE_MANIFEST) == 0;
	if ((!index && !manifest) || depth > 8)
		return 0;
	cleanup_free char *json = NULL;
	size_t len;
	berth_error_t e = NULL;
	if (oci_layout_read_blob(l, d->digest, d->size, 4 << 20, &json, &len, &e) < 0) {
		berth_error_free(&e); /* a missing manifest: nothing more to keep */
		return 0;
	}
	if (index) {
		struct oci_image_index *ix = NULL;
		if (oci_image_index_parse(json, len, d->digest, &ix, &e) < 0) {
			berth_error_free(&e);
			return 0;
		}
		int rc = 0;
		for (size_t i = 0; i < ix->manifests_len && rc == 0; i++)
			rc = refs_from_layout(r, l, &ix->manifests[i], depth + 1, err);
		oci_image_index_free(ix);
		return rc;
	}
	struct oci_image_manifest *m = NULL;
	if (oci_image_manifest_parse(json, len, d->digest, &m, &e) < 0) {
		berth_error_free(&e);
		return 0;
	}
	int rc = refs_add(r, m->config.digest, INDEX_WEIGHT);
	for (size_t i = 0; i < m->layers_len && rc == 0; i++)
		rc = refs_add(r, m->layers[i].digest, INDEX_WEIGHT);
	oci_image_manifest_free(m);
	return rc < 0 ? berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "prune") : 0;
}

/* ---- cached steps and bases ---- */

struct entry {
	char name[80];
	bool base;
	struct timespec used;
	char **blobs; /* hex digests (steps) */
	size_t n_blobs;
};

static void entry_free(struct entry *e)
{
	for (size_t i = 0; i < e->n_blobs; i++)
		free(e->blobs[i]);
	free(e->blobs);
}

/* The digests of a step's `layer` file; false when it has none (a step
 * that a killed build left). */
static bool step_blobs(int steps_fd, struct entry *e)
{
	cleanup_free char *path = NULL, *meta = NULL;
	berth_error_t err = NULL;
	if (asprintf(&path, "%s/layer", e->name) < 0)
		return false;
	struct stat st;
	if (fstatat(steps_fd, path, &st, 0) < 0 || fs_read_file_at(steps_fd, path, &meta, NULL, &err) < 0) {
		berth_error_free(&err);
		return false;
	}
	e->used = st.st_mtim;
	char *save = NULL;
	for (char *line = strtok_r(meta, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char digest[160];
		if (sscanf(line, "%159s", digest) != 1 || strncmp(digest, "sha256:", 7) != 0)
			continue;
		char **v = realloc(e->blobs, (e->n_blobs + 1) * sizeof(*v));
		if (v == NULL)
			return true;
		e->blobs = v;
		if ((v[e->n_blobs] = strdup(digest)) != NULL)
			e->n_blobs++;
	}
	return true;
}

static int by_age(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	if (x->used.tv_nsec != y->used.tv_nsec)
		return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void remove_at(const char *cache, const char *rel)
{
	cleanup_free char *path = NULL;
	berth_error_t e = NULL;
	if (asprintf(&path, "%s/%s", cache, rel) >= 0 && fsops_remove(path, &e) < 0)
		berth_error_free(&e);
}

/* Lists steps/ (stale entries removed) and bases/. */
static int list_entries(const char *cache, struct entry **out, size_t *n_out, unsigned *stale,
                        berth_error_t *err)
{
	static const char *const dirs[] = {"steps", "bases"};
	struct entry *v = NULL;
	size_t n = 0;
	for (size_t k = 0; k < 2; k++) {
		cleanup_free char *path = NULL;
		if (asprintf(&path, "%s/%s", cache, dirs[k]) < 0)
			goto nomem;
		cleanup_dir DIR *d = dir_at(AT_FDCWD, path);
		if (d == NULL)
			continue;
		int fd = dirfd(d);
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' || strcmp(de->d_name, "lock") == 0 ||
			    strlen(de->d_name) >= 80)
				continue;
			struct entry *nv = realloc(v, (n + 1) * sizeof(*nv));
			if (nv == NULL)
				goto nomem;
			v = nv;
			struct entry *e = memset(&v[n], 0, sizeof(*v));
			snprintf(e->name, sizeof(e->name), "%s", de->d_name);
			e->base = k == 1;
			struct stat st;
			if (e->base) {
				if (fstatat(fd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
				    !S_ISDIR(st.st_mode))
					continue;
				e->used = st.st_mtim;
			} else if (!step_blobs(fd, e)) {
				cleanup_free char *rel = NULL;
				entry_free(e);
				if (asprintf(&rel, "steps/%s", e->name) >= 0)
					remove_at(cache, rel);
				++*stale;
				continue;
			}
			n++;
		}
	}
	qsort(v, n, sizeof(*v), by_age);
	*out = v;
	*n_out = n;
	return 0;
nomem:
	for (size_t i = 0; i < n; i++)
		entry_free(&v[i]);
	free(v);
	return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "prune");
}

/* ---- the sweep ---- */

/* Removes the layout's sha256 blobs that r does not reference. */
static unsigned sweep_blobs(const char *cache, const struct refs *r)
{
	cleanup_free char *path = NULL;
	unsigned removed = 0;
	if (asprintf(&path, "%s/layout/blobs/sha256", cache) < 0)
		return 0;
	cleanup_dir DIR *d = dir_at(AT_FDCWD, path);
	if (d == NULL)
		return 0;
	int fd = dirfd(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != HEX_LEN)
			continue; /* the layout's own temporary files are its business */
		long i = refs_find(r, de->d_name);
		if ((i < 0 || r->count[i] == 0) && unlinkat(fd, de->d_name, 0) == 0)
			removed++;
	}
	return removed;
}

/* Removes the gzip members whose blob is gone, and the copies of members
 * that older builds kept. */
static unsigned sweep_members(const char *cache)
{
	cleanup_free char *gz = NULL, *blobs = NULL;
	unsigned removed = 0;
	if (asprintf(&gz, "%s/gz", cache) < 0 || asprintf(&blobs, "%s/layout/blobs/sha256", cache) < 0)
		return 0;
	cleanup_dir DIR *d = dir_at(AT_FDCWD, gz);
	if (d == NULL)
		return 0;
	int gfd = dirfd(d);
	cleanup_close int bfd = open(blobs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		cleanup_dir DIR *sd = dir_at(gfd, de->d_name);
		if (sd == NULL)
			continue;
		int sfd = dirfd(sd);
		struct dirent *me;
		bool left = false;
		while ((me = readdir(sd)) != NULL) {
			if (me->d_name[0] == '.')
				continue;
			char text[200] = "", hex[HEX_LEN + 8];
			cleanup_close int mfd = openat(sfd, me->d_name, O_RDONLY | O_CLOEXEC);
			ssize_t n = mfd < 0 ? -1 : fs_read_all(mfd, text, sizeof(text) - 1);
			bool keep = n > 0 && sscanf(text, "blob %70s", hex) == 1 && strlen(hex) == HEX_LEN &&
			            bfd >= 0 && faccessat(bfd, hex, F_OK, 0) == 0;
			if (!keep && unlinkat(sfd, me->d_name, 0) == 0)
				removed++;
			else
				left = true;
		}
		if (!left)
			unlinkat(gfd, de->d_name, AT_REMOVEDIR);
	}
	return removed;
}

/* Everything but the lock. */
static void remove_all(const char *cache, struct prune_result *res)
{
	static const char *const all[] = {"steps", "bases",     "layout", "gz",
	                                  "urls",  "statcache", "mounts", "tmp"};
	cleanup_free struct entry *v = NULL;
	size_t n = 0;
	unsigned stale = 0;
	berth_error_t e = NULL;
	if (list_entries(cache, &v, &n, &stale, &e) == 0) {
		for (size_t i = 0; i < n; i++) {
			res->bases += v[i].base;
			res->steps += !v[i].base;
			res->blobs += (unsigned)v[i].n_blobs;
			entry_free(&v[i]);
		}
	}
	berth_error_free(&e);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		remove_at(cache, all[i]);
}

int prune_run(const struct prune_options *o, struct prune_result *res, berth_error_t *err)
{
	const char *cache = o->cache;
	memset(res, 0, sizeof(*res));
	cleanup_close int cfd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return berth_error_sys(err, errno, "cache `%s`", cache);
	cleanup_close int lock = openat(cfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0)
		return berth_error_sys(err, errno, "cache lock `%s/lock`", cache);
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return berth_error_sys(err, errno, "cache lock `%s/lock`", cache);
	res->before = du_at(AT_FDCWD, cache);
	if (o->all) {
		remove_all(cache, res);
		res->after = du_at(AT_FDCWD, cache);
		return 0;
	}

	/* what the layout's index.json keeps, and what each step does */
	struct refs r = {0};
	cleanup_free char *layout_path = NULL;
	struct entry *v = NULL;
	size_t n = 0;
	int rc = -1;
	if (asprintf(&layout_path, "%s/layout", cache) < 0) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "prune");
		goto out;
	}
	struct oci_layout *l = NULL;
	berth_error_t e = NULL;
	if (oci_layout_open(layout_path, NULL, &l, &e) == 0) {
		struct oci_image_index *ix = NULL;
		if (oci_layout_read_index(l, &ix, &e) == 0) {
			for (size_t i = 0; i < ix->manifests_len && rc != -2; i++)
				if (refs_from_layout(&r, l, &ix->manifests[i], 0, err) < 0)
					rc = -2;
			oci_image_index_free(ix);
		}
		oci_layout_close(l);
	}
	berth_error_free(&e);
	if (rc == -2)
		goto out;
	unsigned stale = 0;
	if (list_entries(cache, &v, &n, &stale, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].n_blobs; k++)
			if (refs_add(&r, v[i].blobs[k], 1) < 0) {
				berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "prune");
				goto out;
			}

	/* 1. the least recently used first, until the rest fits */
	if (o->has_keep_storage) {
		uint64_t total = res->before;
		cleanup_free char *bdir = NULL;
		if (asprintf(&bdir, "%s/layout/blobs/sha256", cache) < 0) {
			berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "prune");
			goto out;
		}
		for (size_t i = 0; i < n && total > o->keep_storage; i++) {
			cleanup_free char *rel = NULL;
			if (asprintf(&rel, "%s/%s", v[i].base ? "bases" : "steps", v[i].name) < 0)
				continue;
			uint64_t freed = du_at(cfd, rel);
			for (size_t k = 0; k < v[i].n_blobs; k++) {
				long j = refs_find(&r, v[i].blobs[k] + 7);
				if (j >= 0 && --r.count[j] == 0) {
					cleanup_free char *bp = NULL;
					if (asprintf(&bp, "%s/%s", bdir, r.v[j]) >= 0)
						freed += du_at(AT_FDCWD, bp);
				}
			}
			remove_at(cache, rel);
			res->bases += v[i].base;
			res->steps += !v[i].base;
			total = total > freed ? total - freed : 0;
		}
	}
	/* 2. */
	res->blobs += sweep_blobs(cache, &r);
	res->members += sweep_members(cache);
	res->steps += stale;
	cleanup_free char *tmp = NULL;
	if (asprintf(&tmp, "%s/tmp", cache) >= 0) {
		/* no build holds the lock: what is there, killed builds left */
		cleanup_dir DIR *d = opendir(tmp);
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL) {
			cleanup_free char *rel = NULL, *state = NULL;
			if (strncmp(de->d_name, "b.", 2) != 0 || asprintf(&rel, "tmp/%s", de->d_name) < 0)
				continue;
			if (asprintf(&state, "%s/%s/state", tmp, de->d_name) >= 0)
				reaper_delete_containers(state); /* its RUN containers, if any live */
			remove_at(cache, rel);
		}
	}
	res->after = du_at(AT_FDCWD, cache);
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		entry_free(&v[i]);
	free(v);
	free(r.v);
	free(r.count);
	return rc < 0 ? -1 : 0;
}
