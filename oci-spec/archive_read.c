/* Importing OCI and docker-save archives into a layout store (see
 * archive_read.h).  One pass over the tar with libarchive: blobs go into the
 * store as they stream by, small documents are kept in memory, links are
 * remembered by name; then the archive's index.json or manifest.json decides
 * what gets tagged. */
#include "config.h"
#include "archive_read.h"
#include "digest.h"
#include "oci_json.h"
#include "util/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

/* Files other than blobs up to this size are kept in memory (manifest.json, configs). */
#define MEM_MAX (16u << 20)
/* Links followed from one name before giving up. */
#define MAX_LINKS 16

enum entry_kind {
	ENTRY_MEM,  /* a small document, in data */
	ENTRY_BLOB, /* in the store, as digest */
	ENTRY_LINK, /* a symlink or hard link to target (an archive path) */
};

struct entry {
	char *path; /* normalised */
	enum entry_kind kind;
	char *data; /* ENTRY_MEM (NUL-terminated) */
	size_t len;
	char digest[OCI_DIGEST_MAX]; /* ENTRY_BLOB */
	int64_t size;
	unsigned char magic[4]; /* the first bytes, to tell compressed layers */
	size_t magic_len;
	char *target; /* ENTRY_LINK */
};

struct import {
	struct oci_layout *layout;
	const char *name; /* of the archive, for errors */
	struct archive *a;
	struct entry *entries;
	size_t n, cap;
	struct oci_archive_import_result *result;
};

static void import_free(struct import *imp)
{
	for (size_t i = 0; i < imp->n; i++) {
		free(imp->entries[i].path);
		free(imp->entries[i].data);
		free(imp->entries[i].target);
	}
	free(imp->entries);
	if (imp->a != NULL)
		archive_read_free(imp->a);
}

/* ---- names ---- */

/* Normalises a path of the archive: "./a//b/" -> "a/b".  With `base` (a
 * symlink's directory), a relative target is taken from there and `..` may
 * climb, but never above the archive's root.  Entry names themselves may not
 * hold `..` at all.  Returns NULL (errno EINVAL) for what leaves the archive,
 * an empty string for the root. */
static char *normalise(const char *base, const char *name, bool allow_dotdot)
{
	cleanup_free char *joined = NULL;
	char *out, *save = NULL;
	size_t len = 0;

	if (name[0] == '/') {
		errno = EINVAL;
		return NULL;
	}
	if (asprintf(&joined, "%s%s%s", base != NULL ? base : "", base != NULL && base[0] != '\0' ? "/" : "",
	             name) < 0)
		return NULL;
	out = calloc(1, strlen(joined) + 1);
	if (out == NULL)
		return NULL;
	for (char *c = strtok_r(joined, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			char *slash;
			if (!allow_dotdot || len == 0) {
				free(out);
				errno = EINVAL;
				return NULL;
			}
			slash = strrchr(out, '/');
			len = slash != NULL ? (size_t)(slash - out) : 0;
			out[len] = '\0';
			continue;
		}
		if (len > 0)
			out[len++] = '/';
		memcpy(out + len, c, strlen(c) + 1);
		len += strlen(c);
	}
	return out;
}

static struct entry *new_entry(struct import *imp, char *path, berth_error_t *err)
{
	struct entry *e = NULL;

	if (imp->n == imp->cap) {
		size_t cap = imp->cap == 0 ? 32 : imp->cap * 2;
		struct entry *grown = realloc(imp->entries, cap * sizeof(*grown));
		if (grown == NULL) {
			free(path);
			berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
			return NULL;
		}
		imp->entries = grown;
		imp->cap = cap;
	}
	e = &imp->entries[imp->n++];
	memset(e, 0, sizeof(*e));
	e->path = path;
	return e;
}

/* The entry a path names, links followed (the last entry of a name wins, as when extracting). */
static struct entry *lookup(struct import *imp, const char *path, berth_error_t *err)
{
	const char *p = path;

	for (int hops = 0; hops <= MAX_LINKS; hops++) {
		struct entry *e = NULL;
		for (size_t i = imp->n; i-- > 0;) {
			if (strcmp(imp->entries[i].path, p) == 0) {
				e = &imp->entries[i];
				break;
			}
		}
		if (e == NULL) {
			berth_error_set(err, BERTH_ERR_NOT_FOUND, 0,
			                "archive `%s`: `%s`: no such file in the archive", imp->name, path);
			return NULL;
		}
		if (e->kind != ENTRY_LINK)
			return e;
		p = e->target;
	}
	berth_error_invalid(err, "archive `%s`: `%s`: too many levels of links", imp->name, path);
	return NULL;
}

/* ---- reading the tar ---- */

struct data_src {
	struct import *imp;
	struct entry *e;
};

static ssize_t archive_src_read(void *ctx, void *buf, size_t len, berth_error_t *err)
{
	struct data_src *s = ctx;
	la_ssize_t n = archive_read_data(s->imp->a, buf, len);

	if (n < 0)
		return berth_error_invalid(err, "archive `%s`: `%s`: %s", s->imp->name, s->e->path,
		                           archive_error_string(s->imp->a));
	for (size_t i = 0; s->e->magic_len < sizeof(s->e->magic) && i < (size_t)n; i++)
		s->e->magic[s->e->magic_len++] = ((unsigned char *)buf)[i];
	return n;
}

static int read_mem(struct import *imp, struct entry *e, berth_error_t *err)
{
	size_t cap = 4096;
	la_ssize_t n;

	e->data = malloc(cap);
	if (e->data == NULL)
		return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
	for (;;) {
		if (e->len + 1 >= cap) {
			char *grown;
			if (cap >= MEM_MAX * 2)
				return berth_error_invalid(err, "archive `%s`: `%s`: too large", imp->name,
				                           e->path);
			grown = realloc(e->data, cap * 2);
			if (grown == NULL)
				return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
			e->data = grown;
			cap *= 2;
		}
		n = archive_read_data(imp->a, e->data + e->len, cap - 1 - e->len);
		if (n < 0)
			return berth_error_invalid(err, "archive `%s`: `%s`: %s", imp->name, e->path,
			                           archive_error_string(imp->a));
		if (n == 0)
			break;
		e->len += (size_t)n;
	}
	e->data[e->len] = '\0';
	e->magic_len = e->len < sizeof(e->magic) ? e->len : sizeof(e->magic);
	memcpy(e->magic, e->data, e->magic_len);
	return 0;
}

/* "blobs/sha256/<hex>" -> "sha256:<hex>" when it is a valid digest. */
static bool blob_name(const char *path, char digest[OCI_DIGEST_MAX])
{
	const char *alg, *hex;

	if (strncmp(path, "blobs/", 6) != 0)
		return false;
	alg = path + 6;
	hex = strchr(alg, '/');
	if (hex == NULL || (size_t)(hex - alg) > 16 || strlen(hex + 1) > 128)
		return false;
	snprintf(digest, OCI_DIGEST_MAX, "%.*s:%s", (int)(hex - alg), alg, hex + 1);
	return oci_digest_valid(digest);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int read_regular(struct import *imp, struct archive_entry *ae, struct entry *e, berth_error_t *err)
{
	struct data_src src = {imp, e};
	char expected[OCI_DIGEST_MAX];
	bool named = blob_name(e->path, expected);
	int64_t size = archive_entry_size_is_set(ae) ? archive_entry_size(ae) : -1;

	if (!named && !ends_with(e->path, ".tar") && size >= 0 && size <= (int64_t)MEM_MAX) {
		e->kind = ENTRY_MEM;
		return read_mem(imp, e, err);
	}
	e->kind = ENTRY_BLOB;
	if (oci_layout_put_blob_stream(imp->layout, archive_src_read, &src, named ? expected : NULL,
	                               named ? size : -1, e->digest, &e->size, err) < 0)
		return berth_error_prefix(err, "archive `%s`: `%s`", imp->name, e->path);
	return 0;
}

static int read_link(struct import *imp, struct archive_entry *ae, struct entry *e, berth_error_t *err)
{
	const char *hard = archive_entry_hardlink(ae);
	const char *sym = archive_entry_symlink(ae);
	cleanup_free char *dir = strdup(e->path);
	char *slash;

	if (dir == NULL)
		return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
	slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	else
		dir[0] = '\0';
	e->kind = ENTRY_LINK;
	/* Hard link targets are archive paths; symlink targets are relative to the link's directory. */
	e->target = hard != NULL ? normalise(NULL, hard, false) : normalise(dir, sym, true);
	if (e->target == NULL && errno == EINVAL)
		return berth_error_invalid(err, "archive `%s`: entry `%s`: link to `%s` leaves the archive",
		                           imp->name, e->path, hard != NULL ? hard : sym);
	if (e->target == NULL)
		return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
	return 0;
}

static int read_archive(struct import *imp, int fd, berth_error_t *err)
{
	struct archive_entry *ae;
	int r;

	imp->a = archive_read_new();
	if (imp->a == NULL)
		return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
	archive_read_support_filter_all(imp->a);
	archive_read_support_format_tar(imp->a);
	if (archive_read_open_fd(imp->a, fd, 1 << 16) != ARCHIVE_OK)
		return berth_error_invalid(err, "archive `%s`: %s", imp->name, archive_error_string(imp->a));
	while ((r = archive_read_next_header(imp->a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(ae);
		mode_t type = archive_entry_filetype(ae);
		char *path;
		struct entry *e;

		if (name == NULL)
			return berth_error_invalid(err, "archive `%s`: an entry without a name", imp->name);
		/* 1. a name inside the archive */
		path = normalise(NULL, name, false);
		if (path == NULL && errno == EINVAL)
			return berth_error_invalid(err, "archive `%s`: entry `%s`: path outside the archive",
			                           imp->name, name);
		if (path == NULL)
			return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
		if (path[0] == '\0' || (type == AE_IFDIR && archive_entry_hardlink(ae) == NULL)) {
			free(path);
			continue;
		}
		/* 2. what it holds */
		e = new_entry(imp, path, err);
		if (e == NULL)
			return -1;
		if (archive_entry_hardlink(ae) != NULL || type == AE_IFLNK)
			r = read_link(imp, ae, e, err);
		else if (type == AE_IFREG)
			r = read_regular(imp, ae, e, err);
		else
			r = 0, e->kind = ENTRY_MEM,
			e->data = NULL; /* devices, fifos: not part of an image archive */
		if (r < 0)
			return -1;
	}
	if (r != ARCHIVE_EOF)
		return berth_error_invalid(err, "archive `%s`: %s", imp->name, archive_error_string(imp->a));
	return 0;
}

/* ---- common to both formats ---- */

static int result_add(struct import *imp, const struct oci_descriptor *desc, berth_error_t *err)
{
	struct oci_archive_import_result *res = imp->result;
	struct oci_descriptor *grown = realloc(res->manifests, (res->manifests_len + 1) * sizeof(*grown));

	if (grown == NULL)
		return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
	res->manifests = grown;
	memset(&grown[res->manifests_len], 0, sizeof(*grown));
	if (oci_descriptor_copy(&grown[res->manifests_len], desc, err) < 0)
		return -1;
	res->manifests_len++;
	return 0;
}

/* Adds desc to the store's index.json: by its tag (replacing), or untagged unless already there. */
static int add_to_index(struct import *imp, const struct oci_descriptor *desc, berth_error_t *err)
{
	const char *tag = oci_descriptor_annotation(desc, OCI_ANNOTATION_REF_NAME);

	if (tag != NULL) {
		if (oci_layout_tag(imp->layout, tag, desc, err) < 0)
			return -1;
		return result_add(imp, desc, err);
	}
	if (oci_layout_add_once(imp->layout, desc, err) < 0)
		return -1;
	return result_add(imp, desc, err);
}

static int mem_document(struct import *imp, const char *path, struct entry **out, berth_error_t *err)
{
	struct entry *e = lookup(imp, path, err);

	if (e == NULL)
		return -1;
	if (e->kind != ENTRY_MEM || e->data == NULL)
		return berth_error_invalid(err, "archive `%s`: `%s`: not a small regular file", imp->name,
		                           path);
	*out = e;
	return 0;
}

/* ---- OCI archives ---- */

static int require_blob(struct import *imp, const char *what, const char *digest, berth_error_t *err)
{
	int r = oci_layout_has_blob(imp->layout, digest, err);

	if (r < 0)
		return -1;
	if (r == 0)
		return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0,
		                       "archive `%s`: %s: blob %s missing from the archive", imp->name, what,
		                       digest);
	return 0;
}

/* A manifest's config and layers are all in the archive. */
static int check_manifest_blobs(struct import *imp, const struct oci_descriptor *desc, berth_error_t *err)
{
	cleanup_oci_image_manifest struct oci_image_manifest *m = NULL;
	cleanup_free char *text = NULL, *origin = NULL;
	size_t len;

	if (oci_layout_read_blob(imp->layout, desc->digest, desc->size, MEM_MAX, &text, &len, err) < 0)
		return berth_error_prefix(err, "archive `%s`", imp->name);
	if (asprintf(&origin, "archive `%s`: manifest %s", imp->name, desc->digest) < 0)
		return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
	if (oci_image_manifest_parse(text, len, origin, &m, err) < 0 ||
	    require_blob(imp, "config", m->config.digest, err) < 0)
		return -1;
	for (size_t i = 0; i < m->layers_len; i++)
		if (require_blob(imp, "layer", m->layers[i].digest, err) < 0)
			return -1;
	return 0;
}

static int import_oci(struct import *imp, const char *tag, berth_error_t *err)
{
	cleanup_oci_image_index struct oci_image_index *index = NULL;
	struct oci_image_layout *header = NULL;
	cleanup_free char *origin = NULL;
	struct entry *e = NULL;

	/* 1. oci-layout and index.json */
	if (mem_document(imp, "oci-layout", &e, err) < 0)
		return -1;
	if (asprintf(&origin, "archive `%s`: oci-layout", imp->name) < 0)
		return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
	if (oci_image_layout_parse(e->data, e->len, origin, &header, err) < 0)
		return -1;
	oci_image_layout_free(header);
	free(origin);
	origin = NULL; /* freed again on return when index.json is missing */
	if (mem_document(imp, "index.json", &e, err) < 0)
		return -1;
	if (asprintf(&origin, "archive `%s`: index.json", imp->name) < 0)
		return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
	if (oci_image_index_parse(e->data, e->len, origin, &index, err) < 0)
		return -1;
	if (tag != NULL && index->manifests_len != 1)
		return berth_error_invalid(err,
		                           "archive `%s`: a tag needs an archive of one image (it has %zu)",
		                           imp->name, index->manifests_len);
	/* 2. each entry: its blobs are here, then into the store's index.json */
	for (size_t i = 0; i < index->manifests_len; i++) {
		struct oci_descriptor *d = &index->manifests[i];
		char what[64];

		snprintf(what, sizeof(what), "index.json: .manifests[%zu]", i);
		if (require_blob(imp, what, d->digest, err) < 0)
			return -1;
		if (oci_media_type_is_manifest(d->media_type) && check_manifest_blobs(imp, d, err) < 0)
			return -1;
		if (tag != NULL && oci_descriptor_set_annotation(d, OCI_ANNOTATION_REF_NAME, tag, err) < 0)
			return -1;
		if (add_to_index(imp, d, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- docker archives ---- */

struct docker_manifest {
	char *config;
	char **repo_tags;
	size_t repo_tags_len;
	char **layers;
	size_t layers_len;
};

#define S struct docker_manifest
static const struct oci_json_field docker_manifest_fields[] = {
    {.key = "Config", .kind = OCI_JSON_STR, .flags = OCI_JSON_REQUIRED, .off = offsetof(S, config)},
    {.key = "RepoTags",
     .kind = OCI_JSON_STRV,
     .off = offsetof(S, repo_tags),
     .len_off = offsetof(S, repo_tags_len)},
    {.key = "Layers",
     .kind = OCI_JSON_STRV,
     .flags = OCI_JSON_REQUIRED,
     .off = offsetof(S, layers),
     .len_off = offsetof(S, layers_len)},
    {.key = NULL},
};
static const struct oci_json_type docker_manifest_type = {.size = sizeof(S),
                                                          .fields = docker_manifest_fields};
#undef S

/* The blob behind an archive path: a blob already, or a small file put now. */
static int blob_of(struct import *imp, const char *path, struct entry **out, berth_error_t *err)
{
	cleanup_free char *norm = normalise(NULL, path, false);
	struct entry *e = NULL;

	if (norm == NULL)
		return berth_error_invalid(err, "archive `%s`: manifest.json: path `%s` outside the archive",
		                           imp->name, path);
	e = lookup(imp, norm, err);
	if (e == NULL)
		return -1;
	if (e->kind == ENTRY_MEM && e->digest[0] == '\0') {
		if (e->data == NULL)
			return berth_error_invalid(err, "archive `%s`: `%s`: not a regular file", imp->name,
			                           path);
		if (oci_layout_put_blob(imp->layout, e->data, e->len, NULL, e->digest, err) < 0)
			return berth_error_prefix(err, "archive `%s`: `%s`", imp->name, path);
		e->size = (int64_t)e->len;
	}
	*out = e;
	return 0;
}

static enum oci_compression sniff_compression(const struct entry *e)
{
	if (e->magic_len >= 2 && e->magic[0] == 0x1f && e->magic[1] == 0x8b)
		return OCI_COMPRESSION_GZIP;
	if (e->magic_len >= 4 && e->magic[0] == 0x28 && e->magic[1] == 0xb5 && e->magic[2] == 0x2f &&
	    e->magic[3] == 0xfd)
		return OCI_COMPRESSION_ZSTD;
	return OCI_COMPRESSION_NONE;
}

static int set_desc(struct oci_descriptor *d, const char *media_type, const struct entry *e,
                    berth_error_t *err)
{
	d->media_type = strdup(media_type);
	d->digest = strdup(e->digest);
	d->size = e->size;
	return d->media_type == NULL || d->digest == NULL ? berth_error_sys(err, ENOMEM, "archive") : 0;
}

/* The config of a docker image, read back and validated. */
static int docker_config(struct import *imp, struct entry *e, const char *path, struct oci_image_config **out,
                         berth_error_t *err)
{
	cleanup_free char *text = NULL, *origin = NULL;
	size_t len = 0;

	if (asprintf(&origin, "archive `%s`: %s", imp->name, path) < 0)
		return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
	if (e->data != NULL)
		return oci_image_config_parse(e->data, e->len, origin, out, err);
	if (oci_layout_read_blob(imp->layout, e->digest, e->size, MEM_MAX, &text, &len, err) < 0)
		return berth_error_prefix(err, "archive `%s`", imp->name);
	return oci_image_config_parse(text, len, origin, out, err);
}

/* One image of manifest.json: config, layers, an OCI manifest, its index entries. */
static int import_docker_image(struct import *imp, const struct docker_manifest *dm, size_t i,
                               const char *tag, berth_error_t *err)
{
	cleanup_oci_image_config struct oci_image_config *config = NULL;
	struct oci_image_manifest m = {.schema_version = 2, .media_type = (char *)OCI_MEDIA_TYPE_MANIFEST};
	struct oci_descriptor desc = {0};
	cleanup_free char *json = NULL;
	struct entry *e = NULL;
	int r = -1;

	/* 1. the config, valid and with one diff_id per layer */
	if (blob_of(imp, dm->config, &e, err) < 0 || docker_config(imp, e, dm->config, &config, err) < 0)
		return -1;
	if (config->diff_ids_len != dm->layers_len)
		return berth_error_invalid(
		    err, "archive `%s`: manifest.json[%zu]: %zu layers but %zu diff_ids in %s", imp->name, i,
		    dm->layers_len, config->diff_ids_len, dm->config);
	m.layers = calloc(dm->layers_len + 1, sizeof(*m.layers));
	if (m.layers == NULL)
		return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
	if (set_desc(&m.config, OCI_MEDIA_TYPE_CONFIG, e, err) < 0)
		goto out;
	/* 2. the layers, as they are; an uncompressed one must be its diff_id */
	for (size_t k = 0; k < dm->layers_len; k++, m.layers_len++) {
		enum oci_compression comp;
		if (blob_of(imp, dm->layers[k], &e, err) < 0)
			goto out;
		comp = sniff_compression(e);
		if (comp == OCI_COMPRESSION_NONE && strcmp(e->digest, config->diff_ids[k]) != 0) {
			berth_error_invalid(
			    err, "archive `%s`: layer `%s` is %s but the config's diff_ids[%zu] is %s",
			    imp->name, dm->layers[k], e->digest, k, config->diff_ids[k]);
			goto out;
		}
		if (set_desc(&m.layers[k], oci_media_type_layer(comp), e, err) < 0)
			goto out;
	}
	/* 3. the manifest */
	json = oci_image_manifest_to_json(&m, false, err);
	if (json == NULL || oci_layout_put_blob_desc(imp->layout, OCI_MEDIA_TYPE_MANIFEST, json, strlen(json),
	                                             &desc, err) < 0)
		goto out;
	desc.platform = calloc(1, sizeof(*desc.platform));
	if (desc.platform == NULL || (desc.platform->os = strdup(config->os)) == NULL ||
	    (desc.platform->architecture = strdup(config->architecture)) == NULL ||
	    (config->variant != NULL && (desc.platform->variant = strdup(config->variant)) == NULL)) {
		berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
		goto out;
	}
	/* 4. index.json: one entry per name */
	if (tag != NULL || dm->repo_tags_len == 0) {
		if ((tag != NULL &&
		     oci_descriptor_set_annotation(&desc, OCI_ANNOTATION_REF_NAME, tag, err) < 0) ||
		    add_to_index(imp, &desc, err) < 0)
			goto out;
	}
	for (size_t k = 0; tag == NULL && k < dm->repo_tags_len; k++) {
		if (oci_descriptor_set_annotation(&desc, OCI_ANNOTATION_REF_NAME, dm->repo_tags[k], err) <
		        0 ||
		    add_to_index(imp, &desc, err) < 0)
			goto out;
	}
	r = 0;
out:
	oci_descriptor_free_members(&m.config);
	for (size_t k = 0; k < dm->layers_len; k++)
		oci_descriptor_free_members(&m.layers[k]);
	free(m.layers);
	oci_descriptor_free_members(&desc);
	return r;
}

static int import_docker(struct import *imp, const char *tag, berth_error_t *err)
{
	cleanup_json json_object *json = NULL;
	cleanup_free char *origin = NULL;
	struct entry *e = NULL;
	size_t n;

	if (mem_document(imp, "manifest.json", &e, err) < 0)
		return -1;
	if (asprintf(&origin, "archive `%s`: manifest.json", imp->name) < 0)
		return berth_error_sys(err, ENOMEM, "archive `%s`", imp->name);
	if (oci_json_parse_text(e->data, e->len, origin, &json, err) < 0)
		return -1;
	if (!json_object_is_type(json, json_type_array))
		return berth_error_invalid(err, "%s: expected an array", origin);
	n = json_object_array_length(json);
	if (n == 0)
		return berth_error_invalid(err, "%s: no images", origin);
	if (tag != NULL && n != 1)
		return berth_error_invalid(
		    err, "archive `%s`: a tag needs an archive of one image (it has %zu)", imp->name, n);
	for (size_t i = 0; i < n; i++) {
		struct docker_manifest dm = {0};
		char elem_origin[512];
		int r;

		snprintf(elem_origin, sizeof(elem_origin), "%s[%zu]", origin, i);
		r = oci_json_parse_object(&docker_manifest_type, json_object_array_get_idx(json, i),
		                          elem_origin, &dm, err);
		if (r == 0)
			r = import_docker_image(imp, &dm, i, tag, err);
		oci_json_free_members(&docker_manifest_type, &dm);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* ---- entry points ---- */

int oci_archive_import_fd(struct oci_layout *layout, int fd, const char *name,
                          const struct oci_archive_import_options *opts,
                          struct oci_archive_import_result **out, berth_error_t *err)
{
	struct import imp = {.layout = layout, .name = name};
	enum oci_archive_format format = OCI_ARCHIVE_AUTO;
	const char *tag = NULL;
	berth_error_t lookup_err = NULL;
	int r = -1;

	if (opts != NULL &&
	    opts->size >= offsetof(struct oci_archive_import_options, format) + sizeof(format))
		format = opts->format;
	if (opts != NULL && opts->size >= offsetof(struct oci_archive_import_options, tag) + sizeof(tag))
		tag = opts->tag;
	if (out != NULL)
		*out = NULL;
	imp.result = calloc(1, sizeof(*imp.result));
	if (imp.result == NULL)
		return berth_error_sys(err, ENOMEM, "archive `%s`", name);
	/* 1. one pass over the tar: blobs into the store */
	if (read_archive(&imp, fd, err) < 0)
		goto out;
	/* 2. which format */
	if (format == OCI_ARCHIVE_AUTO) {
		struct entry *e = lookup(&imp, "oci-layout", &lookup_err);
		berth_error_free(&lookup_err);
		if (e == NULL && (e = lookup(&imp, "manifest.json", &lookup_err)) == NULL) {
			berth_error_free(&lookup_err);
			berth_error_invalid(
			    err,
			    "archive `%s`: neither an OCI archive (no oci-layout) nor a docker "
			    "archive (no manifest.json)",
			    name);
			goto out;
		}
		format = strcmp(e->path, "oci-layout") == 0 ? OCI_ARCHIVE_OCI : OCI_ARCHIVE_DOCKER;
	}
	imp.result->format = format;
	/* 3. its images into index.json */
	r = format == OCI_ARCHIVE_OCI ? import_oci(&imp, tag, err) : import_docker(&imp, tag, err);
out:
	if (r == 0 && out != NULL)
		*out = steal_ptr(&imp.result);
	oci_archive_import_result_free(imp.result);
	import_free(&imp);
	return r;
}

int oci_archive_import(struct oci_layout *layout, const char *path,
                       const struct oci_archive_import_options *opts, struct oci_archive_import_result **out,
                       berth_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return berth_error_sys(err, errno, "open archive `%s`", path);
	return oci_archive_import_fd(layout, fd, path, opts, out, err);
}

void oci_archive_import_result_free(struct oci_archive_import_result *result)
{
	if (result == NULL)
		return;
	for (size_t i = 0; i < result->manifests_len; i++)
		oci_descriptor_free_members(&result->manifests[i]);
	free(result->manifests);
	free(result);
}
