/* Content digests ("sha256:<64 hex>", "sha512:<128 hex>") with OpenSSL's
 * libcrypto, and verification of content against a descriptor's digest and
 * size while it streams.
 *
 *   struct oci_hasher *h = oci_hasher_new(OCI_DIGEST_SHA256, &err);
 *   oci_hasher_update(h, buf, n); ...
 *   oci_hasher_final(h, digest);        digest: "sha256:..."
 *
 *   struct oci_verifier *v = oci_verifier_new("sha256:...", 1234, &err);
 *   oci_verifier_update(v, buf, n, &err) fails as soon as the size is passed;
 *   oci_verifier_finish(v, &err) checks size and digest:
 *     "blob sha256:ab..: digest mismatch (got sha256:cd..)"
 *     "blob sha256:ab..: size mismatch: expected 1234 bytes, got 1000"
 *
 * A verifying reader wraps an fd: reads return the content, and the read
 * that would report end of file fails instead when the content does not
 * match.  The layer module reads layers through it (libarchive callbacks).
 */
#ifndef BERTH_OCI_DIGEST_H
#define BERTH_OCI_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

enum oci_digest_alg {
	OCI_DIGEST_SHA256,
	OCI_DIGEST_SHA512,
};

/* Room for "sha512:" + 128 hex + NUL. */
#define OCI_DIGEST_MAX 136

/* "sha256" */
const char *oci_digest_alg_name(enum oci_digest_alg alg);
/* Validates "alg:hex" (a known algorithm, lowercase hex of its length);
 * sets *alg and *hex (pointing into digest) when not NULL.  The message
 * reads "invalid digest `x`" (callers add where it came from). */
int oci_digest_parse(const char *digest, enum oci_digest_alg *alg, const char **hex, berth_error_t *err);
bool oci_digest_valid(const char *digest);

/* Streaming. */
struct oci_hasher;
struct oci_hasher *oci_hasher_new(enum oci_digest_alg alg, berth_error_t *err);
void oci_hasher_update(struct oci_hasher *h, const void *buf, size_t len);
/* Writes "alg:hex" to out; the hasher can then only be freed. */
void oci_hasher_final(struct oci_hasher *h, char out[OCI_DIGEST_MAX]);
void oci_hasher_free(struct oci_hasher *h);

/* One shot: the digest of a buffer, or of what an fd reads to EOF (*size
 * receives the byte count when not NULL). */
int oci_digest_buffer(enum oci_digest_alg alg, const void *buf, size_t len, char out[OCI_DIGEST_MAX],
                      berth_error_t *err);
int oci_digest_fd(enum oci_digest_alg alg, int fd, char out[OCI_DIGEST_MAX], int64_t *size,
                  berth_error_t *err);

/* Verification of content against a digest and a size (-1: any size). */
struct oci_verifier;
struct oci_verifier *oci_verifier_new(const char *digest, int64_t size, berth_error_t *err);
int oci_verifier_update(struct oci_verifier *v, const void *buf, size_t len, berth_error_t *err);
int oci_verifier_finish(struct oci_verifier *v, berth_error_t *err);
/* Bytes seen so far. */
int64_t oci_verifier_count(const struct oci_verifier *v);
void oci_verifier_free(struct oci_verifier *v);
/* Verifies a buffer in one go. */
int oci_digest_verify_buffer(const char *digest, int64_t size, const void *buf, size_t len,
                             berth_error_t *err);

/* A reader of an fd that verifies as it goes; it owns the fd. */
struct oci_blob_reader;
struct oci_blob_reader *oci_blob_reader_new(int fd, const char *digest, int64_t size, berth_error_t *err);
/* Returns bytes read, 0 at a verified end, -1 on an I/O error or mismatch. */
ssize_t oci_blob_reader_read(struct oci_blob_reader *r, void *buf, size_t len, berth_error_t *err);
/* Reads and verifies the rest (e.g. after a consumer stopped early). */
int oci_blob_reader_drain(struct oci_blob_reader *r, berth_error_t *err);
int oci_blob_reader_fd(const struct oci_blob_reader *r);
void oci_blob_reader_free(struct oci_blob_reader *r);

static inline void oci_blob_reader_freep(struct oci_blob_reader **p)
{
	oci_blob_reader_free(*p);
}
static inline void oci_verifier_freep(struct oci_verifier **p)
{
	oci_verifier_free(*p);
}
static inline void oci_hasher_freep(struct oci_hasher **p)
{
	oci_hasher_free(*p);
}
#define cleanup_oci_blob_reader __attribute__((cleanup(oci_blob_reader_freep)))
#define cleanup_oci_verifier    __attribute__((cleanup(oci_verifier_freep)))
#define cleanup_oci_hasher      __attribute__((cleanup(oci_hasher_freep)))

#endif
