/* Chunked gzip layers with a member cache (see gzchunks.h). */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gzchunks.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define LEVEL     4
#define MIN_CHUNK (256u * 1024u)
#define MAX_CHUNK (4u * 1024u * 1024u)
#define CUT_MASK  ((1ull << 20) - 1) /* a cut about every MiB past MIN_CHUNK */
#define READ_SIZE (1024u * 1024u)
#define WRITEBACK (8u << 20) /* bytes of the output between two writeback starts */
/* The blob is written with O_DIRECT where the file system allows it, from
 * a buffer of WBUF bytes aligned to ALIGN: a new blob is mostly members
 * copied from an old one (or incompressible data), and filling as much new
 * page cache costs more CPU than the compression it saves (a VM's fresh
 * pages are the host's to fault in); the data goes to the disk now rather
 * than at the output's fsync.  Members are read from old blobs the same
 * way, as they are not in the page cache then. */
#define ALIGN 4096u
#define WBUF  (8u << 20)

/* A ring of chunks: the reader (the caller's thread) cuts chunks and looks
 * each up in the cache; worker threads (one per core, at most MAX_THREADS)
 * compress the misses while the reader goes on; the reader writes the
 * members in order as they are done (waiting for the oldest when the ring
 * is full). */
#define SLOTS       16
#define MAX_THREADS 4

enum job_state { J_FREE, J_TODO, J_BUSY, J_DONE, J_FAILED };

struct job {
	unsigned char *data; /* the chunk (MAX_CHUNK) */
	size_t len;
	unsigned char *member; /* its gzip member */
	size_t member_len;
	size_t member_off; /* where in `member` it starts (an aligned read) */
	char *path;        /* its place in the cache, or NULL */
	/* a cached member to read (by a worker: the reads overlap the
	 * reader's hashing) from this blob at fetch_off, or NULL */
	char *fetch;
	off_t fetch_off;
	size_t fetch_len;
	bool miss; /* compressed here: into the cache when written */
	enum job_state state;
};

/* A member compressed here, at offset in the blob being written. */
struct ref {
	char *path; /* in the cache */
	uint64_t offset;
	size_t len;
};

#define REF_MAX 160 /* "blob HEX OFFSET LENGTH\n" */

struct gz {
	int out;
	const char *cache; /* NULL: none */
	const char *blobs; /* where the blob will be, by its digest's hex */
	struct ref *refs;
	size_t n_refs;
	struct oci_hasher *blob; /* of what is written */
	uint64_t size;
	uint64_t started;        /* written back up to here (WRITEBACK) */
	bool direct;             /* out has O_DIRECT */
	unsigned char *wbufs[2]; /* WBUF each, aligned: one filled, one written */
	unsigned char *wbuf;     /* the one being filled */
	size_t wlen;
	/* the writer thread: writes `pending` (WBUF bytes) while the reader
	 * fills the other buffer */
	pthread_t wth;
	bool wth_on, wstop;
	unsigned char *pending;
	int werr; /* its errno */
	pthread_mutex_t wlock;
	pthread_cond_t wcond;
	size_t member_buf; /* the size of a job's member buffer (aligned reads) */
	size_t member_cap;
	char tag[64]; /* compressor and level, part of a member's key */
	struct job jobs[SLOTS];
	size_t head, tail; /* the next to write, the next to fill (slot: % SLOTS) */
	pthread_t th[MAX_THREADS];
	size_t n_threads, n_th;
	/* shared with the workers */
	pthread_mutex_t lock;
	pthread_cond_t todo, done;
	bool stop;
};

static uint64_t gear[256];

static void gear_init(void)
{
	/* splitmix64 from a fixed seed: the same table everywhere */
	uint64_t x = 0x6265727468ull;
	for (size_t i = 0; i < 256; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		gear[i] = z ^ (z >> 31);
	}
}

/* Writes n bytes of buf (a multiple of ALIGN unless `last`); an errno. */
static int write_block(struct gz *g, const unsigned char *buf, size_t n, bool last)
{
	if (g->direct && (n % ALIGN != 0 || last)) {
		/* the tail: through the page cache */
		int fl = fcntl(g->out, F_GETFL);
		if (fl >= 0)
			fcntl(g->out, F_SETFL, fl & ~O_DIRECT);
		g->direct = false;
	}
	if (fs_write_all(g->out, buf, n) == 0)
		return 0;
	if (errno != EINVAL || !g->direct)
		return errno;
	/* O_DIRECT refused after all: the page cache then */
	int fl = fcntl(g->out, F_GETFL);
	if (fl < 0 || fcntl(g->out, F_SETFL, fl & ~O_DIRECT) < 0)
		return errno;
	g->direct = false;
	return fs_write_all(g->out, buf, n) == 0 ? 0 : errno;
}

static void *writer(void *arg)
{
	struct gz *g = arg;
	pthread_mutex_lock(&g->wlock);
	for (;;) {
		while (g->pending == NULL && !g->wstop)
			pthread_cond_wait(&g->wcond, &g->wlock);
		if (g->pending == NULL)
			break;
		unsigned char *buf = g->pending;
		pthread_mutex_unlock(&g->wlock);
		/* the blob's digest here too: one pass less on the reader's thread */
		oci_hasher_update(g->blob, buf, WBUF);
		int e = g->werr == 0 ? write_block(g, buf, WBUF, false) : 0;
		pthread_mutex_lock(&g->wlock);
		if (e != 0)
			g->werr = e;
		g->pending = NULL;
		pthread_cond_broadcast(&g->wcond);
	}
	pthread_mutex_unlock(&g->wlock);
	return NULL;
}

/* Waits for the writer to be idle; its error, if it had one. */
static int writer_wait(struct gz *g, berth_error_t *err)
{
	pthread_mutex_lock(&g->wlock);
	while (g->pending != NULL)
		pthread_cond_wait(&g->wcond, &g->wlock);
	int e = g->werr;
	pthread_mutex_unlock(&g->wlock);
	return e != 0 ? berth_error_sys(err, e, "write the layer") : 0;
}

/* The full buffer to the writer (or written here without a thread). */
static int hand_over(struct gz *g, berth_error_t *err)
{
	if (!g->wth_on) {
		if (pthread_create(&g->wth, NULL, writer, g) != 0) {
			oci_hasher_update(g->blob, g->wbuf, WBUF);
			int e = write_block(g, g->wbuf, WBUF, false);
			g->wlen = 0;
			return e != 0 ? berth_error_sys(err, e, "write the layer") : 0;
		}
		g->wth_on = true;
	}
	if (writer_wait(g, err) < 0)
		return -1;
	pthread_mutex_lock(&g->wlock);
	g->pending = g->wbuf;
	pthread_cond_signal(&g->wcond);
	pthread_mutex_unlock(&g->wlock);
	g->wbuf = g->wbuf == g->wbufs[0] ? g->wbufs[1] : g->wbufs[0];
	g->wlen = 0;
	return 0;
}

/* The rest of the blob, once all was put. */
static int finish_writes(struct gz *g, berth_error_t *err)
{
	if (g->wth_on && writer_wait(g, err) < 0)
		return -1;
	oci_hasher_update(g->blob, g->wbuf, g->wlen);
	size_t aligned = g->wlen & ~(size_t)(ALIGN - 1);
	int e = aligned > 0 ? write_block(g, g->wbuf, aligned, false) : 0;
	if (e == 0 && g->wlen > aligned)
		e = write_block(g, g->wbuf + aligned, g->wlen - aligned, true);
	if (e == 0 && g->direct)
		e = write_block(g, g->wbuf, 0, true); /* O_DIRECT off for the caller */
	return e != 0 ? berth_error_sys(err, e, "write the layer") : 0;
}

static void stop_writer(struct gz *g)
{
	if (!g->wth_on)
		return;
	pthread_mutex_lock(&g->wlock);
	g->wstop = true;
	pthread_cond_broadcast(&g->wcond);
	pthread_mutex_unlock(&g->wlock);
	pthread_join(g->wth, NULL);
	g->wth_on = false;
}

static int put(struct gz *g, const void *buf, size_t len, berth_error_t *err)
{
	g->size += len;
	for (const unsigned char *p = buf; len > 0;) {
		size_t n = WBUF - g->wlen < len ? WBUF - g->wlen : len;
		memcpy(g->wbuf + g->wlen, p, n);
		g->wlen += n;
		p += n;
		len -= n;
		if (g->wlen == WBUF && hand_over(g, err) < 0)
			return -1;
	}
	if (!g->direct && g->size - g->started >= WRITEBACK) {
		/* the disk writes start now, while the rest is compressed, not
		 * all at the fsync of an output layout (an error is that
		 * fsync's to report) */
		sync_file_range(g->out, (off64_t)g->started, (off64_t)(g->size - g->started),
		                SYNC_FILE_RANGE_WRITE);
		g->started = g->size;
	}
	return 0;
}

static int pread_all(int fd, unsigned char *buf, size_t n, off_t off);

/* n bytes at off of the blob at path into dst (aligned, g->member_buf
 * bytes), from *dst_off on: the aligned blocks around them read with
 * O_DIRECT (the old blob is not in the page cache, and reading it through
 * would fill as much new page cache), or through the page cache where the
 * file system has no O_DIRECT. */
static int read_member(struct gz *g, const char *path, unsigned char *dst, size_t n, off_t off,
                       size_t *dst_off)
{
	off_t a = off & ~(off_t)(ALIGN - 1);
	size_t head = (size_t)(off - a), span = (head + n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	cleanup_close int fd = span <= g->member_buf ? open(path, O_RDONLY | O_DIRECT | O_CLOEXEC) : -1;
	if (fd >= 0) {
		size_t got = 0;
		while (got < head + n) {
			ssize_t r = pread(fd, dst + got, span - got, a + (off_t)got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
			if (got % ALIGN != 0)
				break; /* the end of the file */
		}
		if (got >= head + n) {
			*dst_off = head;
			return 0;
		}
	}
	*dst_off = 0;
	cleanup_close int bfd = open(path, O_RDONLY | O_CLOEXEC);
	return bfd < 0 ? -1 : pread_all(bfd, dst, n, off);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Whether the member m of n bytes decompresses to the job's chunk (its
 * trailer: CRC-32 and length). */
static bool member_ok(const struct job *j, const unsigned char *m, size_t n)
{
	return le32(m + n - 8) == libdeflate_crc32(0, j->data, j->len) && le32(m + n - 4) == (uint32_t)j->len;
}

/* The cached member of the job's chunk into job->member, when there is
 * one and it decompresses to the chunk; when it is in a blob, only where
 * (job->fetch), for a worker to read. */
static void lookup(struct gz *g, struct job *j, berth_error_t *err)
{
	char key[OCI_DIGEST_MAX];
	struct oci_hasher *h = oci_hasher_new(OCI_DIGEST_SHA256, err);
	if (h == NULL)
		return;
	oci_hasher_update(h, g->tag, strlen(g->tag) + 1);
	oci_hasher_update(h, j->data, j->len);
	oci_hasher_final(h, key);
	oci_hasher_free(h);
	if (asprintf(&j->path, "%s/%.2s/%s", g->cache, key + 7, key + 9) < 0) {
		j->path = NULL;
		return;
	}
	cleanup_close int fd = open(j->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 18 || (size_t)st.st_size > g->member_cap)
		return;
	size_t n = (size_t)st.st_size;
	if (fs_read_all(fd, j->member, n) != (ssize_t)n)
		return;
	if (n < REF_MAX && memcmp(j->member, "blob ", 5) == 0) {
		/* a reference: the member is in a blob of the cache's layout */
		char text[REF_MAX], hex[72];
		long long o, len;
		memcpy(text, j->member, n);
		text[n] = '\0';
		if (g->blobs == NULL || sscanf(text, "blob %71s %lld %lld", hex, &o, &len) != 3 || o < 0 ||
		    len < 18 || (size_t)len > g->member_cap || strchr(hex, '/') != NULL)
			return;
		cleanup_free char *blob = NULL;
		if (asprintf(&blob, "%s/%s", g->blobs, hex) < 0)
			return;
		j->fetch = blob;
		blob = NULL;
		j->fetch_off = (off_t)o;
		j->fetch_len = (size_t)len;
		return;
	}
	if (member_ok(j, j->member, n))
		j->member_len = n;
}

static int pread_all(int fd, unsigned char *buf, size_t n, off_t off)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = pread(fd, buf + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void *worker(void *arg)
{
	struct gz *g = arg;
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(LEVEL);
	pthread_mutex_lock(&g->lock);
	for (;;) {
		struct job *j = NULL;
		for (size_t n = g->head; n < g->tail && j == NULL; n++)
			if (g->jobs[n % SLOTS].state == J_TODO)
				j = &g->jobs[n % SLOTS];
		if (j == NULL) {
			if (g->stop)
				break;
			pthread_cond_wait(&g->todo, &g->lock);
			continue;
		}
		j->state = J_BUSY;
		pthread_mutex_unlock(&g->lock);
		size_t len = 0, off = 0;
		if (j->fetch != NULL &&
		    read_member(g, j->fetch, j->member, j->fetch_len, j->fetch_off, &off) == 0 &&
		    member_ok(j, j->member + off, j->fetch_len))
			len = j->fetch_len;
		bool compressed = len == 0;
		if (compressed) {
			/* no cached member after all: compressed here */
			off = 0;
			len = c != NULL
			          ? libdeflate_gzip_compress(c, j->data, j->len, j->member, g->member_cap)
			          : 0;
		}
		free(j->fetch);
		j->fetch = NULL;
		pthread_mutex_lock(&g->lock);
		j->member_len = len;
		j->member_off = off;
		j->miss = j->miss || compressed;
		j->state = len != 0 ? J_DONE : J_FAILED;
		pthread_cond_broadcast(&g->done);
	}
	pthread_mutex_unlock(&g->lock);
	if (c != NULL)
		libdeflate_free_compressor(c);
	return NULL;
}

/* Writes the oldest chunk's member, waiting for it when wait is set; 1 when
 * written, 0 when not done yet. */
static int write_head(struct gz *g, bool wait, berth_error_t *err)
{
	struct job *j = &g->jobs[g->head % SLOTS];
	pthread_mutex_lock(&g->lock);
	while (wait && (j->state == J_TODO || j->state == J_BUSY))
		pthread_cond_wait(&g->done, &g->lock);
	enum job_state st = j->state;
	pthread_mutex_unlock(&g->lock);
	if (st == J_FAILED)
		return berth_error_set(err, BERTH_ERR_SYSTEM, 0, "layer: gzip of a chunk failed");
	if (st != J_DONE)
		return 0;
	uint64_t at = g->size;
	if (put(g, j->member + j->member_off, j->member_len, err) < 0)
		return -1;
	if (j->miss && j->path != NULL) {
		/* a reference to it, written once the blob's name is known */
		struct ref *nr = realloc(g->refs, (g->n_refs + 1) * sizeof(*nr));
		if (nr == NULL)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
		g->refs = nr;
		g->refs[g->n_refs++] = (struct ref){.path = j->path, .offset = at, .len = j->member_len};
		j->path = NULL;
	}
	free(j->path);
	j->path = NULL;
	pthread_mutex_lock(&g->lock);
	j->state = J_FREE;
	g->head++;
	pthread_mutex_unlock(&g->lock);
	return 1;
}

static int chunk_out(struct gz *g, const unsigned char *chunk, size_t len, berth_error_t *err)
{
	if (g->tail - g->head == SLOTS && write_head(g, true, err) < 0)
		return -1;
	struct job *j = &g->jobs[g->tail % SLOTS];
	if (j->data == NULL && ((j->data = malloc(MAX_CHUNK)) == NULL ||
	                        posix_memalign((void **)&j->member, ALIGN, g->member_buf) != 0))
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
	memcpy(j->data, chunk, len);
	j->len = len;
	j->member_len = 0;
	j->member_off = 0;
	if (g->cache != NULL)
		lookup(g, j, err);
	if (*err != NULL)
		return -1;
	j->miss = j->member_len == 0 && j->fetch == NULL;
	bool todo = j->member_len == 0; /* to compress or to fetch */
	if (todo && g->n_th < g->n_threads) {
		/* a worker more, up to one per core */
		if (pthread_create(&g->th[g->n_th], NULL, worker, g) == 0)
			g->n_th++;
		else if (g->n_th == 0)
			return berth_error_set(err, BERTH_ERR_SYSTEM, 0, "layer: no thread for gzip");
	}
	pthread_mutex_lock(&g->lock);
	j->state = todo ? J_TODO : J_DONE;
	g->tail++;
	pthread_cond_signal(&g->todo);
	pthread_mutex_unlock(&g->lock);
	/* what is done already, in order */
	int r;
	while (g->head < g->tail && (r = write_head(g, false, err)) != 0)
		if (r < 0)
			return -1;
	return 0;
}

static void stop_workers(struct gz *g)
{
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_broadcast(&g->todo);
	pthread_mutex_unlock(&g->lock);
	for (size_t t = 0; t < g->n_th; t++)
		pthread_join(g->th[t], NULL);
	g->n_th = 0;
}

/* The references to the members compressed here, now that the blob has a
 * name; a failure only costs a compression later. */
static void write_refs(struct gz *g, const char *digest)
{
	const char *hex = strchr(digest, ':');
	for (size_t i = 0; hex != NULL && i < g->n_refs; i++) {
		struct ref *rf = &g->refs[i];
		char text[REF_MAX];
		berth_error_t e = NULL;
		int n =
		    snprintf(text, sizeof(text), "blob %s %" PRIu64 " %zu\n", hex + 1, rf->offset, rf->len);
		char *slash = strrchr(rf->path, '/');
		*slash = '\0';
		int r = fs_mkdir_p(rf->path, 0700, &e);
		*slash = '/';
		if (r < 0 || fs_write_file_atomic_at(AT_FDCWD, rf->path, text, (size_t)n, 0600, &e) < 0)
			berth_error_free(&e);
	}
}

int gzchunks_compress(int tar_fd, int out_fd, const char *member_cache, const char *blob_dir,
                      char digest[OCI_DIGEST_MAX], uint64_t *size, berth_error_t *err)
{
	struct gz g = {.out = out_fd, .cache = member_cache, .blobs = blob_dir};
	size_t cap = MAX_CHUNK + READ_SIZE, have = 0, scanned = 0;
	cleanup_free unsigned char *buf = malloc(cap);
	uint64_t h = 0;
	bool eof = false;
	int r = -1;

	if (gear[0] == 0)
		gear_init();
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	g.n_threads = cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (size_t)cores;
	pthread_mutex_init(&g.lock, NULL);
	pthread_mutex_init(&g.wlock, NULL);
	pthread_cond_init(&g.wcond, NULL);
	pthread_cond_init(&g.todo, NULL);
	pthread_cond_init(&g.done, NULL);
	snprintf(g.tag, sizeof(g.tag), "libdeflate %s level %d", LIBDEFLATE_VERSION_STRING, LEVEL);
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(LEVEL);
	if (buf == NULL || c == NULL) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
		goto out;
	}
	g.member_cap = libdeflate_gzip_compress_bound(c, MAX_CHUNK);
	g.member_buf = (g.member_cap + 2 * ALIGN) & ~(size_t)(ALIGN - 1);
	if (posix_memalign((void **)&g.wbufs[0], ALIGN, WBUF) != 0 ||
	    posix_memalign((void **)&g.wbufs[1], ALIGN, WBUF) != 0) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
		goto out;
	}
	g.wbuf = g.wbufs[0];
	int fl = fcntl(out_fd, F_GETFL);
	g.direct = fl >= 0 && lseek(out_fd, 0, SEEK_CUR) == 0 && fcntl(out_fd, F_SETFL, fl | O_DIRECT) == 0;
	if ((g.blob = oci_hasher_new(OCI_DIGEST_SHA256, err)) == NULL)
		goto out;
	for (;;) {
		if (scanned == have && !eof) {
			ssize_t n = read(tar_fd, buf + have, cap - have);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				berth_error_sys(err, errno, "read the layer");
				goto out;
			}
			eof = n == 0;
			have += (size_t)n;
		}
		size_t cut = 0;
		/* h holds the last 64 bytes only (a shift a byte): the bytes
		 * before MIN_CHUNK - 64 cannot matter to a cut */
		if (scanned < MIN_CHUNK - 64)
			scanned = have < MIN_CHUNK - 64 ? have : MIN_CHUNK - 64;
		while (scanned < have) {
			h = (h << 1) + gear[buf[scanned++]];
			if ((scanned >= MIN_CHUNK && (h & CUT_MASK) == 0) || scanned >= MAX_CHUNK) {
				cut = scanned;
				break;
			}
		}
		if (cut == 0 && eof)
			cut = have;
		if (cut > 0) {
			if (chunk_out(&g, buf, cut, err) < 0)
				goto out;
			memmove(buf, buf + cut, have - cut);
			have -= cut;
			scanned = 0;
			h = 0;
		}
		if (eof && have == 0)
			break;
	}
	while (g.head < g.tail)
		if (write_head(&g, true, err) < 0)
			goto out;
	if (g.size == 0) {
		/* an empty input: one empty member, still a gzip file */
		unsigned char m[64];
		size_t n = libdeflate_gzip_compress(c, "", 0, m, sizeof(m));
		if (n == 0 || put(&g, m, n, err) < 0)
			goto out;
	}
	if (finish_writes(&g, err) < 0)
		goto out;
	oci_hasher_final(g.blob, digest);
	*size = g.size;
	if (g.blobs != NULL)
		write_refs(&g, digest);
	r = 0;
out:
	stop_workers(&g);
	if (g.blob != NULL)
		oci_hasher_free(g.blob);
	if (c != NULL)
		libdeflate_free_compressor(c);
	for (size_t i = 0; i < SLOTS; i++) {
		free(g.jobs[i].data);
		free(g.jobs[i].member);
		free(g.jobs[i].path);
		free(g.jobs[i].fetch);
	}
	for (size_t i = 0; i < g.n_refs; i++)
		free(g.refs[i].path);
	free(g.refs);
	stop_writer(&g);
	free(g.wbufs[0]);
	free(g.wbufs[1]);
	pthread_cond_destroy(&g.wcond);
	pthread_mutex_destroy(&g.wlock);
	pthread_cond_destroy(&g.todo);
	pthread_cond_destroy(&g.done);
	pthread_mutex_destroy(&g.lock);
	return r;
}
