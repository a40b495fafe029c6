/* Chunked gzip layers with a member cache (see gzchunks.h). */
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
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

struct gz {
	int out;
	const char *cache; /* NULL: none */
	bool cache_made;
	struct libdeflate_compressor *c;
	struct oci_hasher *blob; /* of what is written */
	uint64_t size;
	unsigned char *member; /* a compressed member */
	size_t member_cap;
	char tag[64]; /* compressor and level, part of a member's key */
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

static int put(struct gz *g, const void *buf, size_t len, berth_error_t *err)
{
	if (fs_write_all(g->out, buf, len) < 0)
		return berth_error_sys(err, errno, "write the layer");
	oci_hasher_update(g->blob, buf, len);
	g->size += len;
	return 0;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A cached member for the chunk into g->member: its length, or 0. */
static size_t cached(struct gz *g, const char *path, const unsigned char *chunk, size_t len)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 18 || (size_t)st.st_size > g->member_cap)
		return 0;
	size_t n = (size_t)st.st_size, got = 0;
	while (got < n) {
		ssize_t r = read(fd, g->member + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		got += (size_t)r;
	}
	/* the trailer: CRC-32 and length of what it decompresses to */
	if (le32(g->member + n - 8) != libdeflate_crc32(0, chunk, len) ||
	    le32(g->member + n - 4) != (uint32_t)len)
		return 0;
	return n;
}

static int chunk_out(struct gz *g, const unsigned char *chunk, size_t len, berth_error_t *err)
{
	char key[OCI_DIGEST_MAX];
	cleanup_free char *dir = NULL, *path = NULL;
	if (g->cache != NULL) {
		struct oci_hasher *h = oci_hasher_new(OCI_DIGEST_SHA256, err);
		if (h == NULL)
			return -1;
		oci_hasher_update(h, g->tag, strlen(g->tag) + 1);
		oci_hasher_update(h, chunk, len);
		oci_hasher_final(h, key);
		oci_hasher_free(h);
		if (asprintf(&dir, "%s/%.2s", g->cache, key + 7) < 0 ||
		    asprintf(&path, "%s/%s", dir, key + 9) < 0)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
		size_t n = cached(g, path, chunk, len);
		if (n > 0)
			return put(g, g->member, n, err);
	}
	size_t n = libdeflate_gzip_compress(g->c, chunk, len, g->member, g->member_cap);
	if (n == 0)
		return berth_error_set(err, BERTH_ERR_SYSTEM, 0, "layer: gzip of a chunk failed");
	if (put(g, g->member, n, err) < 0)
		return -1;
	if (g->cache == NULL)
		return 0;
	/* into the cache; a failure there only costs a compression later */
	berth_error_t e = NULL;
	if (fs_mkdir_p(dir, 0700, &e) < 0 ||
	    fs_write_file_atomic_at(AT_FDCWD, path, g->member, n, 0600, &e) < 0)
		berth_error_free(&e);
	return 0;
}

int gzchunks_compress(int tar_fd, int out_fd, const char *member_cache, char digest[OCI_DIGEST_MAX],
                      uint64_t *size, berth_error_t *err)
{
	struct gz g = {.out = out_fd, .cache = member_cache};
	size_t cap = MAX_CHUNK + READ_SIZE, have = 0, scanned = 0;
	cleanup_free unsigned char *buf = malloc(cap);
	uint64_t h = 0;
	bool eof = false;
	int r = -1;

	if (gear[0] == 0)
		gear_init();
	snprintf(g.tag, sizeof(g.tag), "libdeflate %s level %d", LIBDEFLATE_VERSION_STRING, LEVEL);
	g.c = libdeflate_alloc_compressor(LEVEL);
	g.member_cap = libdeflate_gzip_compress_bound(g.c, MAX_CHUNK);
	g.member = malloc(g.member_cap);
	if (buf == NULL || g.c == NULL || g.member == NULL) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
		goto out;
	}
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
	if (g.size == 0) {
		/* an empty input: one empty member, still a gzip file */
		size_t n = libdeflate_gzip_compress(g.c, "", 0, g.member, g.member_cap);
		if (n == 0 || put(&g, g.member, n, err) < 0)
			goto out;
	}
	oci_hasher_final(g.blob, digest);
	*size = g.size;
	r = 0;
out:
	if (g.blob != NULL)
		oci_hasher_free(g.blob);
	if (g.c != NULL)
		libdeflate_free_compressor(g.c);
	free(g.member);
	return r;
}
