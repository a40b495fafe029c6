/* The OCI image-spec documents (descriptor, platform, index, manifest, image
 * config, oci-layout) as tables for the generic JSON mapper in oci_json.c,
 * the checks that need more than a table, media types and platforms. */
#include "config.h"
#include "image_spec.h"
#include "digest.h"
#include "oci_json.h"
#include "util/cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Table helpers: S names the struct being described (as in runtime_spec.c). */
/* clang-format off */
#define FIELD(k, kind_, m, ...) {.key = (k), .kind = OCI_JSON_##kind_, .off = offsetof(S, m), __VA_ARGS__}
#define ARRAY(k, kind_, m, ...) \
	{.key = (k), .kind = OCI_JSON_##kind_, .off = offsetof(S, m), .len_off = offsetof(S, m##_len), __VA_ARGS__}
#define REQ                     .flags = OCI_JSON_REQUIRED
#define END                     {.key = NULL}
#define TYPE(st, ...)           {.size = sizeof(st), __VA_ARGS__}
/* clang-format on */

/* ---- media types ---- */

bool oci_media_type_is_index(const char *media_type)
{
	return media_type != NULL && (strcmp(media_type, OCI_MEDIA_TYPE_INDEX) == 0 ||
	                              strcmp(media_type, DOCKER_MEDIA_TYPE_LIST) == 0);
}

bool oci_media_type_is_manifest(const char *media_type)
{
	return media_type != NULL && (strcmp(media_type, OCI_MEDIA_TYPE_MANIFEST) == 0 ||
	                              strcmp(media_type, DOCKER_MEDIA_TYPE_MANIFEST) == 0);
}

bool oci_media_type_is_config(const char *media_type)
{
	return media_type != NULL && (strcmp(media_type, OCI_MEDIA_TYPE_CONFIG) == 0 ||
	                              strcmp(media_type, DOCKER_MEDIA_TYPE_CONFIG) == 0);
}

static const struct {
	const char *media_type;
	enum oci_compression comp;
} layer_types[] = {
    {OCI_MEDIA_TYPE_LAYER, OCI_COMPRESSION_NONE},
    {OCI_MEDIA_TYPE_LAYER_GZIP, OCI_COMPRESSION_GZIP},
    {OCI_MEDIA_TYPE_LAYER_ZSTD, OCI_COMPRESSION_ZSTD},
    {OCI_MEDIA_TYPE_LAYER_ND, OCI_COMPRESSION_NONE},
    {OCI_MEDIA_TYPE_LAYER_ND_GZIP, OCI_COMPRESSION_GZIP},
    {OCI_MEDIA_TYPE_LAYER_ND_ZSTD, OCI_COMPRESSION_ZSTD},
    {DOCKER_MEDIA_TYPE_LAYER, OCI_COMPRESSION_NONE},
    {DOCKER_MEDIA_TYPE_LAYER_GZIP, OCI_COMPRESSION_GZIP},
    {DOCKER_MEDIA_TYPE_LAYER_ZSTD, OCI_COMPRESSION_ZSTD},
    {DOCKER_MEDIA_TYPE_FOREIGN_GZIP, OCI_COMPRESSION_GZIP},
};

int oci_media_type_layer_compression(const char *media_type, enum oci_compression *comp)
{
	for (size_t i = 0; media_type != NULL && i < sizeof(layer_types) / sizeof(layer_types[0]); i++) {
		if (strcmp(media_type, layer_types[i].media_type) == 0) {
			*comp = layer_types[i].comp;
			return 0;
		}
	}
	return -1;
}

const char *oci_media_type_layer(enum oci_compression comp)
{
	switch (comp) {
	case OCI_COMPRESSION_GZIP:
		return OCI_MEDIA_TYPE_LAYER_GZIP;
	case OCI_COMPRESSION_ZSTD:
		return OCI_MEDIA_TYPE_LAYER_ZSTD;
	default:
		return OCI_MEDIA_TYPE_LAYER;
	}
}

const char *oci_compression_name(enum oci_compression comp)
{
	switch (comp) {
	case OCI_COMPRESSION_GZIP:
		return "gzip";
	case OCI_COMPRESSION_ZSTD:
		return "zstd";
	default:
		return "none";
	}
}

/* ---- checks ---- */

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict standard base64 (RFC 4648 with padding); returns the decoded
 * length or -1.  out needs room for len / 4 * 3 bytes. */
static ssize_t b64_decode(const char *s, size_t len, unsigned char *out)
{
	size_t n = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		size_t pad = 0;
		for (size_t k = 0; k < 4; k++) {
			bool last = i + 4 == len;
			if (last && k >= 2 && s[i + k] == '=' && (k == 3 || s[i + 3] == '=')) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = b64_value(s[i + k]);
			if (v[k] < 0)
				return -1;
		}
		out[n++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[n++] = (unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (pad < 1)
			out[n++] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
	}
	return (ssize_t)n;
}

static int check_digest(struct oci_json_ctx *ctx, const char *key, const char *digest)
{
	if (!oci_digest_valid(digest))
		return oci_json_fail(ctx, key, "invalid digest `%s`", digest);
	return 0;
}

static int check_descriptor(const void *obj, json_object *json, struct oci_json_ctx *ctx)
{
	const struct oci_descriptor *d = obj;
	cleanup_free unsigned char *data = NULL;
	berth_error_t verr = NULL;
	size_t len;
	ssize_t n;

	if (check_digest(ctx, "digest", d->digest) < 0)
		return -1;
	if (d->size < 0)
		return oci_json_fail(ctx, "size", "expected a non-negative integer");
	if (d->data == NULL)
		return 0;
	len = strlen(d->data);
	data = malloc(len / 4 * 3 + 1);
	if (data == NULL)
		return oci_json_fail(ctx, "data", "out of memory");
	n = b64_decode(d->data, len, data);
	if (n < 0)
		return oci_json_fail(ctx, "data", "invalid base64");
	if (oci_digest_verify_buffer(d->digest, d->size, data, (size_t)n, &verr) < 0) {
		/* "blob sha256:..: digest mismatch (...)": the message names the digest already. */
		oci_json_fail(ctx, "data", "%s", verr->msg);
		berth_error_free(&verr);
		return -1;
	}
	return 0;
}

static int check_schema_version(struct oci_json_ctx *ctx, int version)
{
	if (version != 2)
		return oci_json_fail(ctx, "schemaVersion", "unsupported schema version %d (expected 2)",
		                     version);
	return 0;
}

/* ---- descriptor and platform ---- */

#define S struct oci_platform
static const struct oci_json_field platform_fields[] = {
    FIELD("architecture", STR, architecture, REQ),
    FIELD("os", STR, os, REQ),
    FIELD("os.version", STR, os_version),
    ARRAY("os.features", STRV, os_features),
    FIELD("variant", STR, variant),
    ARRAY("features", STRV, features),
    END,
};
static const struct oci_json_type platform_type = TYPE(S, .fields = platform_fields);
#undef S

#define S struct oci_descriptor
static const struct oci_json_field descriptor_fields[] = {
    FIELD("mediaType", STR, media_type, REQ),
    FIELD("digest", STR, digest, REQ),
    FIELD("size", I64, size, REQ),
    ARRAY("urls", STRV, urls),
    ARRAY("annotations", KV, annotations),
    FIELD("platform", OBJ_PTR, platform, .type = &platform_type),
    FIELD("artifactType", STR, artifact_type),
    FIELD("data", STR, data),
    END,
};
static const struct oci_json_type descriptor_type =
    TYPE(S, .fields = descriptor_fields, .check = check_descriptor);
#undef S

const char *oci_descriptor_annotation(const struct oci_descriptor *desc, const char *key)
{
	for (size_t i = 0; desc != NULL && i < desc->annotations_len; i++)
		if (desc->annotations[i].key != NULL && strcmp(desc->annotations[i].key, key) == 0)
			return desc->annotations[i].value;
	return NULL;
}

int oci_descriptor_set_annotation(struct oci_descriptor *desc, const char *key, const char *value,
                                  berth_error_t *err)
{
	char *v = strdup(value), *k;
	struct oci_kv *grown;

	if (v == NULL)
		return berth_error_sys(err, ENOMEM, "annotation %s", key);
	for (size_t i = 0; i < desc->annotations_len; i++) {
		if (strcmp(desc->annotations[i].key, key) == 0) {
			free(desc->annotations[i].value);
			desc->annotations[i].value = v;
			return 0;
		}
	}
	k = strdup(key);
	grown = k != NULL ? realloc(desc->annotations, (desc->annotations_len + 1) * sizeof(*grown)) : NULL;
	if (grown == NULL) {
		free(k);
		free(v);
		return berth_error_sys(err, ENOMEM, "annotation %s", key);
	}
	grown[desc->annotations_len].key = k;
	grown[desc->annotations_len].value = v;
	desc->annotations = grown;
	desc->annotations_len++;
	return 0;
}

/* Copies through JSON: the tables know every member, so nothing is forgotten. */
int oci_descriptor_copy(struct oci_descriptor *dst, const struct oci_descriptor *src, berth_error_t *err)
{
	cleanup_json json_object *json = oci_json_to_object(&descriptor_type, src, err);

	if (json == NULL)
		return -1;
	if (oci_json_parse_object(&descriptor_type, json, "descriptor", dst, err) < 0) {
		oci_json_free_members(&descriptor_type, dst);
		memset(dst, 0, sizeof(*dst));
		return -1;
	}
	return 0;
}

void oci_descriptor_free_members(struct oci_descriptor *desc)
{
	oci_json_free_members(&descriptor_type, desc);
}

int oci_descriptor_parse(const char *json, size_t len, const char *origin, struct oci_descriptor **out,
                         berth_error_t *err)
{
	*out = oci_json_parse(&descriptor_type, json, len, origin, err);
	return *out == NULL ? -1 : 0;
}

char *oci_descriptor_to_json(const struct oci_descriptor *desc, bool pretty, berth_error_t *err)
{
	return oci_json_to_string(&descriptor_type, desc, pretty, err);
}

void oci_descriptor_free(struct oci_descriptor *desc)
{
	oci_json_free(&descriptor_type, desc);
}

int oci_platform_parse(const char *json, size_t len, const char *origin, struct oci_platform **out,
                       berth_error_t *err)
{
	*out = oci_json_parse(&platform_type, json, len, origin, err);
	return *out == NULL ? -1 : 0;
}

char *oci_platform_to_json(const struct oci_platform *platform, bool pretty, berth_error_t *err)
{
	return oci_json_to_string(&platform_type, platform, pretty, err);
}

void oci_platform_free(struct oci_platform *platform)
{
	oci_json_free(&platform_type, platform);
}

/* ---- index ---- */

static int check_index(const void *obj, json_object *json, struct oci_json_ctx *ctx)
{
	return check_schema_version(ctx, ((const struct oci_image_index *)obj)->schema_version);
}

#define S struct oci_image_index
static const struct oci_json_field index_fields[] = {
    FIELD("schemaVersion", I32, schema_version, REQ),
    FIELD("mediaType", STR, media_type),
    FIELD("artifactType", STR, artifact_type),
    ARRAY("manifests", OBJ_ARRAY, manifests, REQ, .type = &descriptor_type),
    FIELD("subject", OBJ_PTR, subject, .type = &descriptor_type),
    ARRAY("annotations", KV, annotations),
    END,
};
static const struct oci_json_type index_type = TYPE(S, .fields = index_fields, .check = check_index);
#undef S

int oci_image_index_parse(const char *json, size_t len, const char *origin, struct oci_image_index **out,
                          berth_error_t *err)
{
	*out = oci_json_parse(&index_type, json, len, origin, err);
	return *out == NULL ? -1 : 0;
}

char *oci_image_index_to_json(const struct oci_image_index *index, bool pretty, berth_error_t *err)
{
	struct oci_image_index copy = *index;
	struct oci_descriptor none;

	/* "manifests" is required: an empty index writes []. */
	if (copy.manifests == NULL)
		copy.manifests = &none;
	return oci_json_to_string(&index_type, &copy, pretty, err);
}

void oci_image_index_free(struct oci_image_index *index)
{
	oci_json_free(&index_type, index);
}

int oci_image_index_append(struct oci_image_index *index, const struct oci_descriptor *desc,
                           berth_error_t *err)
{
	struct oci_descriptor *grown = realloc(index->manifests, (index->manifests_len + 1) * sizeof(*grown));

	if (grown == NULL)
		return berth_error_sys(err, ENOMEM, "index");
	index->manifests = grown;
	memset(&grown[index->manifests_len], 0, sizeof(*grown));
	if (oci_descriptor_copy(&grown[index->manifests_len], desc, err) < 0)
		return -1;
	index->manifests_len++;
	return 0;
}

void oci_image_index_remove(struct oci_image_index *index, size_t i)
{
	if (i >= index->manifests_len)
		return;
	oci_descriptor_free_members(&index->manifests[i]);
	memmove(&index->manifests[i], &index->manifests[i + 1],
	        (index->manifests_len - i - 1) * sizeof(index->manifests[0]));
	index->manifests_len--;
}

/* ---- manifest ---- */

static int check_manifest(const void *obj, json_object *json, struct oci_json_ctx *ctx)
{
	return check_schema_version(ctx, ((const struct oci_image_manifest *)obj)->schema_version);
}

#define S struct oci_image_manifest
static const struct oci_json_field manifest_fields[] = {
    FIELD("schemaVersion", I32, schema_version, REQ),
    FIELD("mediaType", STR, media_type),
    FIELD("artifactType", STR, artifact_type),
    FIELD("config", OBJ, config, REQ, .type = &descriptor_type),
    ARRAY("layers", OBJ_ARRAY, layers, REQ, .type = &descriptor_type),
    FIELD("subject", OBJ_PTR, subject, .type = &descriptor_type),
    ARRAY("annotations", KV, annotations),
    END,
};
static const struct oci_json_type manifest_type = TYPE(S, .fields = manifest_fields, .check = check_manifest);
#undef S

int oci_image_manifest_parse(const char *json, size_t len, const char *origin,
                             struct oci_image_manifest **out, berth_error_t *err)
{
	*out = oci_json_parse(&manifest_type, json, len, origin, err);
	return *out == NULL ? -1 : 0;
}

char *oci_image_manifest_to_json(const struct oci_image_manifest *manifest, bool pretty, berth_error_t *err)
{
	struct oci_image_manifest copy = *manifest;
	struct oci_descriptor none;

	/* "layers" is required: an image without layers writes []. */
	if (copy.layers == NULL)
		copy.layers = &none;
	return oci_json_to_string(&manifest_type, &copy, pretty, err);
}

void oci_image_manifest_free(struct oci_image_manifest *manifest)
{
	oci_json_free(&manifest_type, manifest);
}

/* ---- image config ---- */

/* "80", "80/tcp", "53/udp", "9/sctp". */
static bool valid_port(const char *s)
{
	char *end = NULL;
	long port;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	port = strtol(s, &end, 10);
	if (errno != 0 || port < 1 || port > 65535)
		return false;
	return *end == '\0' || strcmp(end, "/tcp") == 0 || strcmp(end, "/udp") == 0 ||
	       strcmp(end, "/sctp") == 0;
}

static int check_exec_config(const void *obj, json_object *json, struct oci_json_ctx *ctx)
{
	const struct oci_image_exec_config *c = obj;

	for (size_t i = 0; i < c->exposed_ports_len; i++)
		if (!valid_port(c->exposed_ports[i].key))
			return oci_json_fail(ctx, "ExposedPorts", "invalid port `%s`",
			                     c->exposed_ports[i].key);
	for (size_t i = 0; i < c->env_len; i++)
		if (strchr(c->env[i], '=') == NULL)
			return oci_json_fail(ctx, "Env", "invalid variable `%s` (expected NAME=value)",
			                     c->env[i]);
	return 0;
}

/* The values of ExposedPorts and Volumes are empty objects. */
static const struct oci_json_field key_fields[] = {END};
static const struct oci_json_type key_type = {
    .size = sizeof(struct oci_image_key),
    .fields = key_fields,
    .has_key = true,
    .key_off = offsetof(struct oci_image_key, key),
};

#define S struct oci_image_healthcheck
static const struct oci_json_field healthcheck_fields[] = {
    ARRAY("Test", STRV, test),
    FIELD("Interval", I64, interval, .flags = OCI_JSON_OMITZERO),
    FIELD("Timeout", I64, timeout, .flags = OCI_JSON_OMITZERO),
    FIELD("StartPeriod", I64, start_period, .flags = OCI_JSON_OMITZERO),
    FIELD("StartInterval", I64, start_interval, .flags = OCI_JSON_OMITZERO),
    FIELD("Retries", I32, retries, .flags = OCI_JSON_OMITZERO),
    END,
};
static const struct oci_json_type healthcheck_type = TYPE(S, .fields = healthcheck_fields);
#undef S

#define S struct oci_image_exec_config
static const struct oci_json_field exec_config_fields[] = {
    FIELD("User", STR, user),
    ARRAY("ExposedPorts", OBJ_MAP, exposed_ports, .type = &key_type),
    ARRAY("Env", STRV, env),
    ARRAY("Entrypoint", STRV, entrypoint),
    ARRAY("Cmd", STRV, cmd),
    ARRAY("Volumes", OBJ_MAP, volumes, .type = &key_type),
    FIELD("WorkingDir", STR, working_dir),
    ARRAY("Labels", KV, labels),
    FIELD("StopSignal", STR, stop_signal),
    FIELD("ArgsEscaped", BOOL, args_escaped),
    FIELD("Healthcheck", OBJ_PTR, healthcheck, .type = &healthcheck_type),
    ARRAY("OnBuild", STRV, on_build),
    ARRAY("Shell", STRV, shell),
    END,
};
static const struct oci_json_type exec_config_type =
    TYPE(S, .fields = exec_config_fields, .check = check_exec_config);
#undef S

#define S struct oci_image_history
static const struct oci_json_field history_fields[] = {
    FIELD("created", STR, created), FIELD("created_by", STR, created_by),    FIELD("author", STR, author),
    FIELD("comment", STR, comment), FIELD("empty_layer", BOOL, empty_layer), END,
};
static const struct oci_json_type history_type = TYPE(S, .fields = history_fields);
#undef S

static int check_rootfs(const void *obj, json_object *json, struct oci_json_ctx *ctx)
{
	const struct oci_image_config *c = obj;

	if (strcmp(c->rootfs_type, "layers") != 0)
		return oci_json_fail(ctx, "type", "unsupported rootfs type `%s` (expected `layers`)",
		                     c->rootfs_type);
	for (size_t i = 0; i < c->diff_ids_len; i++)
		if (!oci_digest_valid(c->diff_ids[i]))
			return oci_json_fail(ctx, "diff_ids", "invalid digest `%s` at index %zu",
			                     c->diff_ids[i], i);
	return 0;
}

#define S struct oci_image_config
static const struct oci_json_field rootfs_fields[] = {
    FIELD("type", STR, rootfs_type, REQ),
    ARRAY("diff_ids", STRV, diff_ids, REQ),
    END,
};
static const struct oci_json_type rootfs_type = {.fields = rootfs_fields, .check = check_rootfs};

static const struct oci_json_field config_fields[] = {
    FIELD("created", STR, created),
    FIELD("author", STR, author),
    FIELD("architecture", STR, architecture, REQ),
    FIELD("os", STR, os, REQ),
    FIELD("os.version", STR, os_version),
    ARRAY("os.features", STRV, os_features),
    FIELD("variant", STR, variant),
    FIELD("config", OBJ_PTR, config, .type = &exec_config_type),
    FIELD("rootfs", FLAT, rootfs_type, REQ, .type = &rootfs_type),
    ARRAY("history", OBJ_ARRAY, history, .type = &history_type),
    END,
};
static const struct oci_json_type config_type = TYPE(S, .fields = config_fields);
#undef S

int oci_image_config_parse(const char *json, size_t len, const char *origin, struct oci_image_config **out,
                           berth_error_t *err)
{
	*out = oci_json_parse(&config_type, json, len, origin, err);
	return *out == NULL ? -1 : 0;
}

char *oci_image_config_to_json(const struct oci_image_config *config, bool pretty, berth_error_t *err)
{
	struct oci_image_config copy = *config;
	char *none = NULL;

	/* rootfs.diff_ids is required: an image without layers writes []. */
	if (copy.diff_ids == NULL)
		copy.diff_ids = &none;
	if (copy.rootfs_type == NULL)
		copy.rootfs_type = (char *)"layers";
	return oci_json_to_string(&config_type, &copy, pretty, err);
}

void oci_image_config_free(struct oci_image_config *config)
{
	oci_json_free(&config_type, config);
}

/* ---- oci-layout ---- */

static int check_layout(const void *obj, json_object *json, struct oci_json_ctx *ctx)
{
	const struct oci_image_layout *l = obj;

	/* 1.x layouts are compatible with what we read. */
	if (strncmp(l->image_layout_version, "1.", 2) != 0)
		return oci_json_fail(ctx, "imageLayoutVersion", "unsupported image layout version `%s`",
		                     l->image_layout_version);
	return 0;
}

#define S struct oci_image_layout
static const struct oci_json_field layout_fields[] = {
    FIELD("imageLayoutVersion", STR, image_layout_version, REQ),
    END,
};
static const struct oci_json_type layout_type = TYPE(S, .fields = layout_fields, .check = check_layout);
#undef S

int oci_image_layout_parse(const char *json, size_t len, const char *origin, struct oci_image_layout **out,
                           berth_error_t *err)
{
	*out = oci_json_parse(&layout_type, json, len, origin, err);
	return *out == NULL ? -1 : 0;
}

char *oci_image_layout_to_json(const struct oci_image_layout *layout, berth_error_t *err)
{
	return oci_json_to_string(&layout_type, layout, false, err);
}

void oci_image_layout_free(struct oci_image_layout *layout)
{
	oci_json_free(&layout_type, layout);
}

/* ---- platforms ---- */

void oci_platform_host(const char **os, const char **architecture, const char **variant)
{
	*os = "linux";
	*variant = NULL;
#if defined(__x86_64__)
	*architecture = "amd64";
#elif defined(__aarch64__)
	*architecture = "arm64";
	*variant = "v8";
#elif defined(__arm__)
	*architecture = "arm";
#if defined(__ARM_ARCH) && __ARM_ARCH >= 7
	*variant = "v7";
#elif defined(__ARM_ARCH) && __ARM_ARCH == 6
	*variant = "v6";
#endif
#elif defined(__i386__)
	*architecture = "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	*architecture = "ppc64le";
#elif defined(__s390x__)
	*architecture = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	*architecture = "riscv64";
#elif defined(__loongarch64)
	*architecture = "loong64";
#else
	*architecture = "unknown";
#endif
}

static const char *normal_arch(const char *arch)
{
	if (arch == NULL)
		return "";
	if (strcmp(arch, "x86_64") == 0 || strcmp(arch, "x86-64") == 0)
		return "amd64";
	if (strcmp(arch, "aarch64") == 0)
		return "arm64";
	if (strcmp(arch, "i386") == 0 || strcmp(arch, "i686") == 0)
		return "386";
	return arch;
}

/* arm64 images without a variant are v8. */
static const char *normal_variant(const char *arch, const char *variant)
{
	if ((variant == NULL || variant[0] == '\0') && strcmp(arch, "arm64") == 0)
		return "v8";
	return variant != NULL ? variant : "";
}

bool oci_platform_matches(const struct oci_platform *p, const char *os, const char *architecture,
                          const char *variant)
{
	const char *arch;

	if (p == NULL)
		return true;
	arch = normal_arch(p->architecture);
	if (os != NULL && (p->os == NULL || strcmp(p->os, os) != 0))
		return false;
	if (architecture != NULL && strcmp(arch, normal_arch(architecture)) != 0)
		return false;
	if (variant != NULL && strcmp(normal_variant(arch, p->variant), normal_variant(arch, variant)) != 0)
		return false;
	return true;
}

const char *oci_platform_format(const struct oci_platform *p, char *buf, size_t size)
{
	if (p == NULL)
		snprintf(buf, size, "(any)");
	else
		snprintf(buf, size, "%s/%s%s%s", p->os != NULL ? p->os : "?",
		         p->architecture != NULL ? p->architecture : "?", p->variant != NULL ? "/" : "",
		         p->variant != NULL ? p->variant : "");
	return buf;
}
