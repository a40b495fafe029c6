/* File content digests cached by stat (see statcache.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "statcache.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MAGIC "berth-build statcache 1"
/* more entries than this: only those this build used are written back */
#define MAX_ENTRIES (256u * 1024u)

struct record {
	uint64_t dev, ino;
	int64_t size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	char hex[64];
};

struct slot {
	struct record r;
	bool used; /* set in this build (looked up or added) */
	bool full;
};

struct statcache {
	char *path;
	struct slot *slots;
	size_t cap, n; /* cap: a power of two, at least twice n */
	bool dirty;
};

static size_t slot_of(const struct statcache *sc, uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ (dev * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
	h ^= h >> 31;
	size_t i = (size_t)h & (sc->cap - 1);
	while (sc->slots[i].full && (sc->slots[i].r.dev != dev || sc->slots[i].r.ino != ino))
		i = (i + 1) & (sc->cap - 1);
	return i;
}

static int grow(struct statcache *sc)
{
	size_t ncap = sc->cap ? sc->cap * 2 : 1024;
	struct slot *old = sc->slots, *nw = calloc(ncap, sizeof(*nw));
	size_t ocap = sc->cap;
	if (nw == NULL)
		return -1;
	sc->slots = nw;
	sc->cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].full)
			sc->slots[slot_of(sc, old[i].r.dev, old[i].r.ino)] = old[i];
	free(old);
	return 0;
}

/* Inserts r; an entry of the same file is replaced when `replace`. */
static int put(struct statcache *sc, const struct record *r, bool used, bool replace)
{
	if ((sc->n + 1) * 2 > sc->cap && grow(sc) < 0)
		return -1;
	struct slot *s = &sc->slots[slot_of(sc, r->dev, r->ino)];
	if (s->full && !replace)
		return 0;
	if (!s->full)
		sc->n++;
	s->r = *r;
	s->full = true;
	s->used = used;
	return 0;
}

/* Records of a cache file into sc (not replacing what sc has). */
static void load(struct statcache *sc, const char *text, size_t len)
{
	char want[64];
	int hl = snprintf(want, sizeof(want), "%s %zu\n", MAGIC, sizeof(struct record));
	if (len < (size_t)hl || memcmp(text, want, (size_t)hl) != 0 ||
	    (len - (size_t)hl) % sizeof(struct record) != 0)
		return; /* another format: start over */
	for (size_t off = (size_t)hl; off < len; off += sizeof(struct record)) {
		struct record r;
		memcpy(&r, text + off, sizeof(r));
		if (put(sc, &r, false, false) < 0)
			return;
	}
}

int statcache_open(const char *path, struct statcache **out, berth_error_t *err)
{
	struct statcache *sc = calloc(1, sizeof(*sc));
	if (sc == NULL || (path != NULL && (sc->path = strdup(path)) == NULL) || grow(sc) < 0) {
		statcache_free(sc);
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stat cache");
	}
	if (path != NULL) {
		cleanup_free char *text = NULL;
		size_t len = 0;
		berth_error_t e = NULL;
		if (fs_read_file_at(AT_FDCWD, path, &text, &len, &e) == 0)
			load(sc, text, len);
		berth_error_free(&e);
	}
	*out = sc;
	return 0;
}

int statcache_open_file(int dir_fd, const char *name)
{
	char p[64];
	if (*name != '\0')
		return openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	snprintf(p, sizeof(p), "/proc/self/fd/%d", dir_fd);
	return open(p, O_RDONLY | O_CLOEXEC);
}

static bool same(const struct record *r, const struct stat *st)
{
	return r->size == (int64_t)st->st_size && r->mtime_sec == (int64_t)st->st_mtim.tv_sec &&
	       r->mtime_nsec == (int64_t)st->st_mtim.tv_nsec && r->ctime_sec == (int64_t)st->st_ctim.tv_sec &&
	       r->ctime_nsec == (int64_t)st->st_ctim.tv_nsec;
}

static void fill(struct record *r, const struct stat *st)
{
	memset(r, 0, sizeof(*r));
	r->dev = (uint64_t)st->st_dev;
	r->ino = (uint64_t)st->st_ino;
	r->size = (int64_t)st->st_size;
	r->mtime_sec = (int64_t)st->st_mtim.tv_sec;
	r->mtime_nsec = (int64_t)st->st_mtim.tv_nsec;
	r->ctime_sec = (int64_t)st->st_ctim.tv_sec;
	r->ctime_nsec = (int64_t)st->st_ctim.tv_nsec;
}

int statcache_lookup(struct statcache *sc, const struct stat *st, char out[OCI_DIGEST_MAX])
{
	struct slot *s = &sc->slots[slot_of(sc, (uint64_t)st->st_dev, (uint64_t)st->st_ino)];
	if (!s->full || !same(&s->r, st))
		return 0;
	s->used = true;
	snprintf(out, OCI_DIGEST_MAX, "sha256:%.64s", s->r.hex);
	return 1;
}

int statcache_digest(struct statcache *sc, int dir_fd, const char *name, char out[OCI_DIGEST_MAX],
                     berth_error_t *err)
{
	struct stat st;
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH)) < 0)
		return berth_error_sys(err, errno, "stat `%s`", name);
	struct slot *s = &sc->slots[slot_of(sc, (uint64_t)st.st_dev, (uint64_t)st.st_ino)];
	if (s->full && same(&s->r, &st)) {
		s->used = true;
		snprintf(out, OCI_DIGEST_MAX, "sha256:%.64s", s->r.hex);
		return 0;
	}

	/* read it; the clock first (see "racily clean" in statcache.h) */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	cleanup_close int fd = statcache_open_file(dir_fd, name);
	struct stat before, after;
	if (fd < 0 || fstat(fd, &before) < 0)
		return berth_error_sys(err, errno, "open `%s`", name);
	if (oci_digest_fd(OCI_DIGEST_SHA256, fd, out, NULL, err) < 0)
		return berth_error_prefix(err, "`%s`", name);
	if (fstat(fd, &after) < 0)
		return berth_error_sys(err, errno, "stat `%s`", name);
	struct record r;
	fill(&r, &before);
	bool settled = before.st_ctim.tv_sec + 1 < now.tv_sec;
	if (!settled || !same(&r, &after) || strlen(out) != 7 + 64)
		return 0;
	memcpy(r.hex, out + 7, 64);
	if (put(sc, &r, true, true) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stat cache");
	sc->dirty = true;
	return 0;
}

int statcache_save(struct statcache *sc, berth_error_t *err)
{
	if (sc == NULL || sc->path == NULL || !sc->dirty)
		return 0;
	/* what other builds wrote since we read it */
	cleanup_free char *text = NULL, *buf = NULL;
	size_t len = 0;
	berth_error_t e = NULL;
	if (fs_read_file_at(AT_FDCWD, sc->path, &text, &len, &e) == 0)
		load(sc, text, len);
	berth_error_free(&e);
	bool only_used = sc->n > MAX_ENTRIES;
	char head[64];
	int hl = snprintf(head, sizeof(head), "%s %zu\n", MAGIC, sizeof(struct record));
	if ((buf = malloc((size_t)hl + sc->n * sizeof(struct record))) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stat cache");
	memcpy(buf, head, (size_t)hl);
	size_t off = (size_t)hl;
	for (size_t i = 0; i < sc->cap; i++) {
		if (!sc->slots[i].full || (only_used && !sc->slots[i].used))
			continue;
		memcpy(buf + off, &sc->slots[i].r, sizeof(struct record));
		off += sizeof(struct record);
	}
	if (fs_write_file_atomic_at(AT_FDCWD, sc->path, buf, off, 0600, err) < 0)
		return berth_error_prefix(err, "stat cache");
	sc->dirty = false;
	return 0;
}

void statcache_free(struct statcache *sc)
{
	if (sc == NULL)
		return;
	free(sc->path);
	free(sc->slots);
	free(sc);
}
