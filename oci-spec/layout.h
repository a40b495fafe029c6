/* An OCI image layout as a blob store:
 *
 *   <dir>/oci-layout           {"imageLayoutVersion":"1.0.0"}
 *   <dir>/index.json           the image index: tags via org.opencontainers.image.ref.name
 *   <dir>/blobs/<alg>/<hex>    content, named by its digest
 *
 * Blobs are written to a temporary file in blobs/<alg>/ and renamed into
 * place only once their digest (and size, when given) checked out, so an
 * interrupted or failed put never leaves a blob with wrong content under a
 * digest name.  Reads verify too: a blob whose content does not match its
 * name is an error naming the blob ("blob sha256:..: digest mismatch (got
 * sha256:..)").  index.json is replaced atomically (temporary file +
 * rename).  Digests are validated before they become paths, so no blob
 * path leaves the layout.
 *
 * Concurrent writers, in one process or several, are safe: blobs go to
 * temporary files of their own and a blob's name vouches for its content;
 * the read-change-write of index.json (oci_layout_tag, oci_layout_untag,
 * oci_layout_add, creating it) holds an exclusive flock of the layout
 * directory, so no writer loses another's entry.  oci_layout_write_index
 * alone replaces the file without that lock.
 */
#ifndef BERTH_OCI_LAYOUT_H
#define BERTH_OCI_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "image_spec.h"
#include "util/error.h"

struct oci_layout;

struct oci_layout_options {
	size_t size; /* sizeof(struct oci_layout_options) */
	bool create; /* make the layout (and the directory) when missing */
	bool fsync;  /* fsync blobs and index.json before renaming them (durability for the builder) */
};

/* Opens the layout at path; with opts->create, makes what is missing.  opts may be NULL. */
int oci_layout_open(const char *path, const struct oci_layout_options *opts, struct oci_layout **out,
                    berth_error_t *err);
void oci_layout_close(struct oci_layout *layout);
const char *oci_layout_path(const struct oci_layout *layout);
/* The layout's directory fd (owned by the layout). */
int oci_layout_dirfd(const struct oci_layout *layout);

/* ---- blobs ---- */

/* A source of bytes for oci_layout_put_blob_stream: returns bytes read, 0 at end, < 0 with *err set. */
typedef ssize_t (*oci_layout_read_fn)(void *ctx, void *buf, size_t len, berth_error_t *err);

/* Puts a blob.  `digest` (may be NULL: computed with sha256) and `size`
 * (-1: any) are checked before the blob gets its name; digest_out (may be
 * NULL) receives "alg:hex", size_out (may be NULL) the byte count.  A blob
 * that exists already is left as it is (its name vouches for its content). */
int oci_layout_put_blob(struct oci_layout *layout, const void *buf, size_t len, const char *digest,
                        char digest_out[OCI_DIGEST_MAX], berth_error_t *err);
int oci_layout_put_blob_fd(struct oci_layout *layout, int fd, const char *digest, int64_t size,
                           char digest_out[OCI_DIGEST_MAX], int64_t *size_out, berth_error_t *err);
int oci_layout_put_blob_stream(struct oci_layout *layout, oci_layout_read_fn read_fn, void *ctx,
                               const char *digest, int64_t size, char digest_out[OCI_DIGEST_MAX],
                               int64_t *size_out, berth_error_t *err);
/* Puts a blob and fills *desc (zeroed by the caller) with media type, digest and size. */
int oci_layout_put_blob_desc(struct oci_layout *layout, const char *media_type, const void *buf, size_t len,
                             struct oci_descriptor *desc, berth_error_t *err);

/* 1 when the blob exists, 0 when not, -1 on error (an invalid digest, ...). */
int oci_layout_has_blob(struct oci_layout *layout, const char *digest, berth_error_t *err);
/* "blobs/sha256/<hex>" relative to the layout (validated digest); free it. */
char *oci_layout_blob_relpath(const char *digest, berth_error_t *err);
/* Opens a blob for a verified streaming read: the reader checks digest and
 * size (-1: any) and fails at the end when they do not match.  A missing
 * blob is BERTH_ERR_NOT_FOUND ("blob sha256:..: not found in <dir>"). */
int oci_layout_open_blob(struct oci_layout *layout, const char *digest, int64_t size,
                         struct oci_blob_reader **out, berth_error_t *err);
/* Reads a whole blob (at most max_size bytes: JSON documents) and verifies
 * it; the buffer is NUL-terminated. */
int oci_layout_read_blob(struct oci_layout *layout, const char *digest, int64_t size, size_t max_size,
                         char **out, size_t *len_out, berth_error_t *err);

/* ---- index.json and references ---- */

int oci_layout_read_index(struct oci_layout *layout, struct oci_image_index **out, berth_error_t *err);
/* Replaces index.json atomically. */
int oci_layout_write_index(struct oci_layout *layout, const struct oci_image_index *index,
                           berth_error_t *err);
/* Points tag at desc (a manifest or an index): adds an index.json entry with
 * desc and the ref.name annotation, replacing the entry that had the tag. */
int oci_layout_tag(struct oci_layout *layout, const char *tag, const struct oci_descriptor *desc,
                   berth_error_t *err);
/* Adds an entry for desc without a tag. */
int oci_layout_add(struct oci_layout *layout, const struct oci_descriptor *desc, berth_error_t *err);
/* The same, unless index.json has an untagged entry of desc's digest; the
 * check and the change under one lock. */
int oci_layout_add_once(struct oci_layout *layout, const struct oci_descriptor *desc, berth_error_t *err);
/* Removes the entries tagged `tag`; not found is BERTH_ERR_NOT_FOUND. */
int oci_layout_untag(struct oci_layout *layout, const char *tag, berth_error_t *err);
/* The tags of index.json, in index order (NULL-terminated; free with strv_free). */
int oci_layout_list_tags(struct oci_layout *layout, char ***tags, size_t *count, berth_error_t *err);

/* The platform to pick from an index; NULL members (or a NULL struct) mean
 * the host's os and architecture (oci_platform_host), and any variant when
 * architecture is given without one. */
struct oci_platform_want {
	const char *os;
	const char *architecture;
	const char *variant;
};

/* A resolved image: the manifest descriptor and the parsed manifest and config. */
struct oci_image {
	struct oci_descriptor manifest_desc;
	struct oci_image_manifest *manifest;
	struct oci_image_config *config;
};

/* Resolves a reference to an image:
 *   - a tag (an index.json entry's org.opencontainers.image.ref.name), or
 *   - a digest ("sha256:...") of an index.json entry or any manifest/index blob, or
 *   - NULL when index.json holds a single image (or a single index);
 * through nested indexes (OCI and Docker lists), picking the platform, to the
 * manifest; then reads the config.  All blobs are verified. */
int oci_layout_resolve(struct oci_layout *layout, const char *ref, const struct oci_platform_want *platform,
                       struct oci_image **out, berth_error_t *err);
void oci_image_free(struct oci_image *image);

static inline void oci_layout_closep(struct oci_layout **p)
{
	oci_layout_close(*p);
}
static inline void oci_image_freep(struct oci_image **p)
{
	oci_image_free(*p);
}
#define cleanup_oci_layout __attribute__((cleanup(oci_layout_closep)))
#define cleanup_oci_image  __attribute__((cleanup(oci_image_freep)))

#endif
