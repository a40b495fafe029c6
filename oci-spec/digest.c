/* sha256/sha512 digests through libcrypto's EVP interface, and the
 * verifiers built on them (see digest.h). */
#include "config.h"
#include "digest.h"
#include "util/cleanup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

struct alg_info {
	const char *name;
	size_t hex_len;
};

static const struct alg_info algs[] = {
    [OCI_DIGEST_SHA256] = {"sha256", 64},
    [OCI_DIGEST_SHA512] = {"sha512", 128},
};

const char *oci_digest_alg_name(enum oci_digest_alg alg)
{
	if ((int)alg < 0 || (size_t)alg >= sizeof(algs) / sizeof(algs[0]))
		return NULL;
	return algs[alg].name;
}

int oci_digest_parse(const char *digest, enum oci_digest_alg *alg, const char **hex, berth_error_t *err)
{
	const char *colon = digest != NULL ? strchr(digest, ':') : NULL;

	if (colon == NULL)
		return berth_error_invalid(err, "invalid digest `%s`", digest != NULL ? digest : "");
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		const char *h = colon + 1;
		size_t n = 0;

		if (strlen(algs[i].name) != (size_t)(colon - digest) ||
		    strncmp(digest, algs[i].name, (size_t)(colon - digest)) != 0)
			continue;
		while ((h[n] >= '0' && h[n] <= '9') || (h[n] >= 'a' && h[n] <= 'f'))
			n++;
		if (h[n] != '\0' || n != algs[i].hex_len)
			break;
		if (alg != NULL)
			*alg = (enum oci_digest_alg)i;
		if (hex != NULL)
			*hex = h;
		return 0;
	}
	return berth_error_invalid(err, "invalid digest `%s`", digest);
}

bool oci_digest_valid(const char *digest)
{
	return oci_digest_parse(digest, NULL, NULL, NULL) == 0;
}

/* ---- hashing ---- */

struct oci_hasher {
	enum oci_digest_alg alg;
	EVP_MD_CTX *ctx;
};

struct oci_hasher *oci_hasher_new(enum oci_digest_alg alg, berth_error_t *err)
{
	struct oci_hasher *h;
	const EVP_MD *md = alg == OCI_DIGEST_SHA512 ? EVP_sha512() : EVP_sha256();

	if (oci_digest_alg_name(alg) == NULL) {
		berth_error_invalid(err, "unknown digest algorithm %d", (int)alg);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		berth_error_sys(err, ENOMEM, "digest");
		return NULL;
	}
	h->alg = alg;
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
		oci_hasher_free(h);
		berth_error_set(err, BERTH_ERR_SYSTEM, 0, "digest: cannot initialise %s", algs[alg].name);
		return NULL;
	}
	return h;
}

void oci_hasher_update(struct oci_hasher *h, const void *buf, size_t len)
{
	if (len > 0)
		EVP_DigestUpdate(h->ctx, buf, len);
}

void oci_hasher_final(struct oci_hasher *h, char out[OCI_DIGEST_MAX])
{
	static const char hexdigits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t n = strlen(algs[h->alg].name);

	EVP_DigestFinal_ex(h->ctx, md, &md_len);
	memcpy(out, algs[h->alg].name, n);
	out[n++] = ':';
	for (unsigned int i = 0; i < md_len && n + 2 < OCI_DIGEST_MAX; i++) {
		out[n++] = hexdigits[md[i] >> 4];
		out[n++] = hexdigits[md[i] & 0xf];
	}
	out[n] = '\0';
}

void oci_hasher_free(struct oci_hasher *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int oci_digest_buffer(enum oci_digest_alg alg, const void *buf, size_t len, char out[OCI_DIGEST_MAX],
                      berth_error_t *err)
{
	cleanup_oci_hasher struct oci_hasher *h = oci_hasher_new(alg, err);

	if (h == NULL)
		return -1;
	oci_hasher_update(h, buf, len);
	oci_hasher_final(h, out);
	return 0;
}

int oci_digest_fd(enum oci_digest_alg alg, int fd, char out[OCI_DIGEST_MAX], int64_t *size,
                  berth_error_t *err)
{
	cleanup_oci_hasher struct oci_hasher *h = oci_hasher_new(alg, err);
	cleanup_free char *buf = malloc(65536);
	int64_t total = 0;

	if (h == NULL)
		return -1;
	if (buf == NULL)
		return berth_error_sys(err, ENOMEM, "digest");
	for (;;) {
		ssize_t n = read(fd, buf, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_error_sys(err, errno, "digest: read");
		if (n == 0)
			break;
		oci_hasher_update(h, buf, (size_t)n);
		total += n;
	}
	oci_hasher_final(h, out);
	if (size != NULL)
		*size = total;
	return 0;
}

/* ---- verification ---- */

struct oci_verifier {
	struct oci_hasher *hasher;
	char *digest;
	int64_t size; /* -1: any */
	int64_t count;
};

struct oci_verifier *oci_verifier_new(const char *digest, int64_t size, berth_error_t *err)
{
	enum oci_digest_alg alg;
	struct oci_verifier *v;

	if (oci_digest_parse(digest, &alg, NULL, err) < 0)
		return NULL;
	v = calloc(1, sizeof(*v));
	if (v == NULL || (v->digest = strdup(digest)) == NULL) {
		free(v);
		berth_error_sys(err, ENOMEM, "blob %s", digest);
		return NULL;
	}
	v->hasher = oci_hasher_new(alg, err);
	if (v->hasher == NULL) {
		oci_verifier_free(v);
		return NULL;
	}
	v->size = size < 0 ? -1 : size;
	return v;
}

int oci_verifier_update(struct oci_verifier *v, const void *buf, size_t len, berth_error_t *err)
{
	if (v->size >= 0 && (uint64_t)v->count + len > (uint64_t)v->size)
		return berth_error_invalid(
		    err, "blob %s: size mismatch: expected %" PRId64 " bytes, got at least %" PRIu64,
		    v->digest, v->size, (uint64_t)v->count + len);
	oci_hasher_update(v->hasher, buf, len);
	v->count += (int64_t)len;
	return 0;
}

int oci_verifier_finish(struct oci_verifier *v, berth_error_t *err)
{
	char got[OCI_DIGEST_MAX];

	if (v->size >= 0 && v->count != v->size)
		return berth_error_invalid(err,
		                           "blob %s: size mismatch: expected %" PRId64 " bytes, got %" PRId64,
		                           v->digest, v->size, v->count);
	oci_hasher_final(v->hasher, got);
	if (strcmp(got, v->digest) != 0)
		return berth_error_invalid(err, "blob %s: digest mismatch (got %s)", v->digest, got);
	return 0;
}

int64_t oci_verifier_count(const struct oci_verifier *v)
{
	return v->count;
}

void oci_verifier_free(struct oci_verifier *v)
{
	if (v == NULL)
		return;
	oci_hasher_free(v->hasher);
	free(v->digest);
	free(v);
}

int oci_digest_verify_buffer(const char *digest, int64_t size, const void *buf, size_t len,
                             berth_error_t *err)
{
	cleanup_oci_verifier struct oci_verifier *v = oci_verifier_new(digest, size, err);

	if (v == NULL || oci_verifier_update(v, buf, len, err) < 0)
		return -1;
	return oci_verifier_finish(v, err);
}

/* ---- the verifying reader ---- */

struct oci_blob_reader {
	int fd;
	struct oci_verifier *verifier;
	bool done; /* verified to the end */
};

struct oci_blob_reader *oci_blob_reader_new(int fd, const char *digest, int64_t size, berth_error_t *err)
{
	struct oci_blob_reader *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		close(fd);
		berth_error_sys(err, ENOMEM, "blob %s", digest);
		return NULL;
	}
	r->fd = fd;
	r->verifier = oci_verifier_new(digest, size, err);
	if (r->verifier == NULL) {
		oci_blob_reader_free(r);
		return NULL;
	}
	return r;
}

ssize_t oci_blob_reader_read(struct oci_blob_reader *r, void *buf, size_t len, berth_error_t *err)
{
	ssize_t n;

	if (r->done)
		return 0;
	do
		n = read(r->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return berth_error_sys(err, errno, "blob %s: read", r->verifier->digest);
	if (n == 0 && len > 0) {
		if (oci_verifier_finish(r->verifier, err) < 0)
			return -1;
		r->done = true;
		return 0;
	}
	if (oci_verifier_update(r->verifier, buf, (size_t)n, err) < 0)
		return -1;
	return n;
}

int oci_blob_reader_drain(struct oci_blob_reader *r, berth_error_t *err)
{
	char buf[16384];
	ssize_t n;

	while ((n = oci_blob_reader_read(r, buf, sizeof(buf), err)) > 0)
		;
	return n < 0 ? -1 : 0;
}

int oci_blob_reader_fd(const struct oci_blob_reader *r)
{
	return r->fd;
}

void oci_blob_reader_free(struct oci_blob_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	oci_verifier_free(r->verifier);
	free(r);
}
