/* Importing image archives into a layout store:
 *
 *   - an OCI archive: a tar (possibly gzip'd or zstd'd) of an image layout
 *     (`skopeo copy ... oci-archive:FILE`, `podman save --format oci-archive`);
 *   - a `docker save` archive: manifest.json ([{Config, RepoTags, Layers}])
 *     with the config and layers as blobs/sha256/<hex> (docker 25 and later,
 *     which also carries an OCI layout: read as such), <hex>.json + <id>/layer.tar
 *     (older docker, with symlinks between layer directories), or <hex>.tar
 *     (skopeo's docker-archive).
 *
 * The archive is read in one pass, never extracted: files named
 * blobs/<alg>/<hex> go straight into the store through its verifying put
 * (so a blob whose content does not match its name fails the import), other
 * large files (layer tars) go in under the digest of their content, small
 * documents stay in memory.  Entry names are checked first: an absolute path
 * or a `..` component is an error naming the entry, and links are followed
 * only inside the archive's own namespace (nothing is written to disk but
 * blobs).
 *
 * A docker archive is converted: its config blob as it is, its layers as
 * they are (uncompressed tars: OCI layer media type, or +gzip / +zstd when the
 * content says so), an OCI manifest, and an index.json entry per RepoTags
 * name (platform from the config).  An OCI archive's index.json entries are
 * merged into the store's: a tag replaces the store's entry of that tag.
 */
#ifndef BERTH_OCI_ARCHIVE_READ_H
#define BERTH_OCI_ARCHIVE_READ_H

#include <stdbool.h>
#include <stddef.h>

#include "image_spec.h"
#include "layout.h"
#include "util/error.h"

enum oci_archive_format {
	OCI_ARCHIVE_AUTO, /* an OCI layout when the archive has oci-layout, else docker's manifest.json */
	OCI_ARCHIVE_OCI,
	OCI_ARCHIVE_DOCKER,
};

struct oci_archive_import_options {
	size_t size; /* sizeof(struct oci_archive_import_options) */
	enum oci_archive_format format;
	/* Tags the image with this name instead of the archive's own names
	 * (an archive of one image only). */
	const char *tag;
};

/* What an import added to index.json, in order. */
struct oci_archive_import_result {
	enum oci_archive_format format;   /* what the archive was */
	struct oci_descriptor *manifests; /* as added to index.json (with ref.name when tagged) */
	size_t manifests_len;
};

/* Imports the archive at path (or read from fd, named `name` in errors) into
 * layout; *out (may be NULL) receives what was added. */
int oci_archive_import(struct oci_layout *layout, const char *path,
                       const struct oci_archive_import_options *opts, struct oci_archive_import_result **out,
                       berth_error_t *err);
int oci_archive_import_fd(struct oci_layout *layout, int fd, const char *name,
                          const struct oci_archive_import_options *opts,
                          struct oci_archive_import_result **out, berth_error_t *err);
void oci_archive_import_result_free(struct oci_archive_import_result *result);

static inline void oci_archive_import_result_freep(struct oci_archive_import_result **p)
{
	oci_archive_import_result_free(*p);
}
#define cleanup_oci_archive_import_result __attribute__((cleanup(oci_archive_import_result_freep)))

#endif
