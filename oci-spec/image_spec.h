/* The OCI image-spec (v1.1) as C types: descriptor, platform, index,
 * manifest, image config and the oci-layout file, and the media types of
 * OCI and of Docker's schema 2.
 *
 * Parsing validates (schemaVersion 2, digests "alg:hex", sizes, base64
 * `data` that matches its digest) and names the origin and the JSON path of
 * a bad value:
 *
 *   index.json: .manifests[0].digest: invalid digest `sha256:xyz`
 *
 * Serialising is deterministic: keys in the order of the structs below,
 * maps (annotations, labels, ports, volumes) in document order, no
 * whitespace.  Digests are computed over these bytes, so a document that is
 * written, read back and written again gives the same digest.  A blob read
 * from a store keeps its own bytes: never re-serialise a document to find
 * its digest.
 *
 * Arrays are a pointer plus a count (`x` and `x_len`), string arrays are
 * NULL-terminated too, string maps are struct oci_kv arrays (see
 * runtime_spec.h for the conventions).
 */
#ifndef BERTH_OCI_IMAGE_SPEC_H
#define BERTH_OCI_IMAGE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime_spec.h"
#include "util/error.h"

/* ---- media types ---- */

#define OCI_MEDIA_TYPE_DESCRIPTOR      "application/vnd.oci.descriptor.v1+json"
#define OCI_MEDIA_TYPE_LAYOUT_HEADER   "application/vnd.oci.layout.header.v1+json"
#define OCI_MEDIA_TYPE_INDEX           "application/vnd.oci.image.index.v1+json"
#define OCI_MEDIA_TYPE_MANIFEST        "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_TYPE_CONFIG          "application/vnd.oci.image.config.v1+json"
#define OCI_MEDIA_TYPE_EMPTY           "application/vnd.oci.empty.v1+json"
#define OCI_MEDIA_TYPE_LAYER           "application/vnd.oci.image.layer.v1.tar"
#define OCI_MEDIA_TYPE_LAYER_GZIP      "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_MEDIA_TYPE_LAYER_ZSTD      "application/vnd.oci.image.layer.v1.tar+zstd"
#define OCI_MEDIA_TYPE_LAYER_ND        "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define OCI_MEDIA_TYPE_LAYER_ND_GZIP   "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define OCI_MEDIA_TYPE_LAYER_ND_ZSTD   "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#define DOCKER_MEDIA_TYPE_MANIFEST     "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MEDIA_TYPE_LIST         "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MEDIA_TYPE_CONFIG       "application/vnd.docker.container.image.v1+json"
#define DOCKER_MEDIA_TYPE_LAYER        "application/vnd.docker.image.rootfs.diff.tar"
#define DOCKER_MEDIA_TYPE_LAYER_GZIP   "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define DOCKER_MEDIA_TYPE_LAYER_ZSTD   "application/vnd.docker.image.rootfs.diff.tar.zstd"
#define DOCKER_MEDIA_TYPE_FOREIGN_GZIP "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

/* Annotations of the image-spec that the store reads or writes. */
#define OCI_ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"
#define OCI_ANNOTATION_CREATED  "org.opencontainers.image.created"

#define OCI_IMAGE_LAYOUT_VERSION "1.0.0"

enum oci_compression {
	OCI_COMPRESSION_NONE,
	OCI_COMPRESSION_GZIP,
	OCI_COMPRESSION_ZSTD,
};

/* An index (OCI) or manifest list (Docker). */
bool oci_media_type_is_index(const char *media_type);
/* An image manifest, OCI or Docker schema 2. */
bool oci_media_type_is_manifest(const char *media_type);
/* An image config, OCI or Docker. */
bool oci_media_type_is_config(const char *media_type);
/* A layer (distributable or not, OCI or Docker): returns 0 and sets *comp,
 * or -1 when the media type is not a known layer type. */
int oci_media_type_layer_compression(const char *media_type, enum oci_compression *comp);
/* The OCI layer media type for a compression. */
const char *oci_media_type_layer(enum oci_compression comp);
/* "none", "gzip", "zstd". */
const char *oci_compression_name(enum oci_compression comp);

/* ---- descriptor and platform ---- */

struct oci_platform {
	char *architecture;
	char *os;
	char *os_version;
	char **os_features;
	size_t os_features_len;
	char *variant;
	char **features; /* reserved by the spec; kept for round trips */
	size_t features_len;
};

struct oci_descriptor {
	char *media_type;
	char *digest; /* "alg:hex", validated */
	int64_t size; /* >= 0 */
	char **urls;
	size_t urls_len;
	struct oci_kv *annotations;
	size_t annotations_len;
	struct oci_platform *platform; /* NULL when absent */
	char *artifact_type;
	char *data; /* base64, validated against digest and size; NULL when absent */
};

/* The value of annotation `key`, or NULL. */
const char *oci_descriptor_annotation(const struct oci_descriptor *desc, const char *key);
/* Sets (replaces or appends) annotation `key`. */
int oci_descriptor_set_annotation(struct oci_descriptor *desc, const char *key, const char *value,
                                  berth_error_t *err);
/* Deep copy into *dst (zeroed by the caller); free with oci_descriptor_free_members(). */
int oci_descriptor_copy(struct oci_descriptor *dst, const struct oci_descriptor *src, berth_error_t *err);
void oci_descriptor_free_members(struct oci_descriptor *desc);
int oci_descriptor_parse(const char *json, size_t len, const char *origin, struct oci_descriptor **out,
                         berth_error_t *err);
char *oci_descriptor_to_json(const struct oci_descriptor *desc, bool pretty, berth_error_t *err);
void oci_descriptor_free(struct oci_descriptor *desc);

int oci_platform_parse(const char *json, size_t len, const char *origin, struct oci_platform **out,
                       berth_error_t *err);
char *oci_platform_to_json(const struct oci_platform *platform, bool pretty, berth_error_t *err);
void oci_platform_free(struct oci_platform *platform);

/* ---- index ---- */

struct oci_image_index {
	int schema_version; /* 2 */
	char *media_type;
	char *artifact_type;
	struct oci_descriptor *manifests;
	size_t manifests_len;
	struct oci_descriptor *subject; /* NULL when absent */
	struct oci_kv *annotations;
	size_t annotations_len;
};

int oci_image_index_parse(const char *json, size_t len, const char *origin, struct oci_image_index **out,
                          berth_error_t *err);
char *oci_image_index_to_json(const struct oci_image_index *index, bool pretty, berth_error_t *err);
void oci_image_index_free(struct oci_image_index *index);
/* Appends a deep copy of desc to index->manifests. */
int oci_image_index_append(struct oci_image_index *index, const struct oci_descriptor *desc,
                           berth_error_t *err);
/* Removes manifests[i]. */
void oci_image_index_remove(struct oci_image_index *index, size_t i);

/* ---- manifest ---- */

struct oci_image_manifest {
	int schema_version; /* 2 */
	char *media_type;
	char *artifact_type;
	struct oci_descriptor config;
	struct oci_descriptor *layers;
	size_t layers_len;
	struct oci_descriptor *subject; /* NULL when absent */
	struct oci_kv *annotations;
	size_t annotations_len;
};

int oci_image_manifest_parse(const char *json, size_t len, const char *origin,
                             struct oci_image_manifest **out, berth_error_t *err);
char *oci_image_manifest_to_json(const struct oci_image_manifest *manifest, bool pretty, berth_error_t *err);
void oci_image_manifest_free(struct oci_image_manifest *manifest);

/* ---- image config ---- */

/* An element of ExposedPorts ("80/tcp") or Volumes ("/data"): JSON {}. */
struct oci_image_key {
	char *key;
};

/* Docker's HEALTHCHECK; durations in nanoseconds, 0 when absent. */
struct oci_image_healthcheck {
	char **test; /* ["NONE"], ["CMD", args...], ["CMD-SHELL", command] */
	size_t test_len;
	int64_t interval;
	int64_t timeout;
	int64_t start_period;
	int64_t start_interval;
	int retries;
};

struct oci_image_exec_config {
	char *user;
	struct oci_image_key *exposed_ports;
	size_t exposed_ports_len;
	char **env;
	size_t env_len;
	/* Entrypoint and Cmd: absent (has_* false) differs from [] */
	char **entrypoint;
	size_t entrypoint_len;
	bool has_entrypoint;
	char **cmd;
	size_t cmd_len;
	bool has_cmd;
	struct oci_image_key *volumes;
	size_t volumes_len;
	char *working_dir;
	struct oci_kv *labels;
	size_t labels_len;
	char *stop_signal;
	bool args_escaped;
	struct oci_image_healthcheck *healthcheck; /* docker */
	char **on_build;                           /* docker */
	size_t on_build_len;
	char **shell; /* docker */
	size_t shell_len;
};

struct oci_image_history {
	char *created; /* RFC 3339 */
	char *created_by;
	char *author;
	char *comment;
	bool empty_layer;
};

struct oci_image_config {
	char *created; /* RFC 3339 */
	char *author;
	char *architecture;
	char *os;
	char *os_version;
	char **os_features;
	size_t os_features_len;
	char *variant;
	struct oci_image_exec_config *config; /* NULL when absent */
	char *rootfs_type;                    /* "layers" */
	char **diff_ids;                      /* validated digests */
	size_t diff_ids_len;
	struct oci_image_history *history;
	size_t history_len;
};

int oci_image_config_parse(const char *json, size_t len, const char *origin, struct oci_image_config **out,
                           berth_error_t *err);
char *oci_image_config_to_json(const struct oci_image_config *config, bool pretty, berth_error_t *err);
void oci_image_config_free(struct oci_image_config *config);

/* ---- the oci-layout file ---- */

struct oci_image_layout {
	char *image_layout_version; /* "1.0.0" */
};

int oci_image_layout_parse(const char *json, size_t len, const char *origin, struct oci_image_layout **out,
                           berth_error_t *err);
char *oci_image_layout_to_json(const struct oci_image_layout *layout, berth_error_t *err);
void oci_image_layout_free(struct oci_image_layout *layout);

/* ---- platforms ---- */

/* The platform berth runs on (linux/amd64, linux/arm64/v8, ...), static strings. */
void oci_platform_host(const char **os, const char **architecture, const char **variant);
/* Whether `p` (NULL: unknown, matches anything) is os/arch/variant; a NULL
 * variant matches any, and "x86_64"/"aarch64" are read as amd64/arm64. */
bool oci_platform_matches(const struct oci_platform *p, const char *os, const char *architecture,
                          const char *variant);
/* "linux/arm64/v8" into buf. */
const char *oci_platform_format(const struct oci_platform *p, char *buf, size_t size);

static inline void oci_image_index_freep(struct oci_image_index **p)
{
	oci_image_index_free(*p);
}
static inline void oci_image_manifest_freep(struct oci_image_manifest **p)
{
	oci_image_manifest_free(*p);
}
static inline void oci_image_config_freep(struct oci_image_config **p)
{
	oci_image_config_free(*p);
}
static inline void oci_descriptor_freep(struct oci_descriptor **p)
{
	oci_descriptor_free(*p);
}
#define cleanup_oci_image_index    __attribute__((cleanup(oci_image_index_freep)))
#define cleanup_oci_image_manifest __attribute__((cleanup(oci_image_manifest_freep)))
#define cleanup_oci_image_config   __attribute__((cleanup(oci_image_config_freep)))
#define cleanup_oci_descriptor     __attribute__((cleanup(oci_descriptor_freep)))

#endif
