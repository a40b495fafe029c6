/* The executor of berth-build: stages, base images, the image config and
 * the output layout (see build.h).  The filesystem steps are in steps.c.
 *
 *   1. parse the Dockerfile with the build args and the target (stages.h);
 *      read .dockerignore
 *   2. the cache directory (or a temporary one for --no-cache) and this
 *      build's temporary directory; open the build contexts' layouts, and
 *      import the archives among them into the cache's layout
 *   3. the needed stages level by level (the stages of a level in parallel,
 *      in child processes): its base (scratch, a stage, an image), then its
 *      instructions, expanded with the base's Env (df_stage_eval)
 *   4. the final stage: config, manifest and blobs into the output layout,
 *      tagged; nothing is written there before this point
 *   5. unmount the views, remove the temporary directories */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "archive_read.h"
#include "build_int.h"
#include "fsops.h"
#include "output.h"
#include "reaper.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- small helpers ---- */

int build_strv_push(char ***v, size_t *len, const char *s)
{
	char **nv = realloc(*v, (*len + 2) * sizeof(*nv));
	if (nv == NULL)
		return -1;
	*v = nv;
	if ((nv[*len] = strdup(s)) == NULL)
		return -1;
	nv[++*len] = NULL;
	return 0;
}

static void strv_clear(char ***v, size_t *len)
{
	strv_free(*v);
	*v = NULL;
	*len = 0;
}

static int strv_set(char ***v, size_t *len, char *const *src)
{
	strv_clear(v, len);
	if ((*v = calloc(1, sizeof(**v))) == NULL)
		return -1;
	for (size_t i = 0; src != NULL && src[i] != NULL; i++)
		if (build_strv_push(v, len, src[i]) < 0)
			return -1;
	return 0;
}

int build_fail(const struct builder *b, const struct df_instr *in, berth_error_t *err, const char *fmt, ...)
{
	va_list ap;
	cleanup_free char *msg = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "build");
	if (*err != NULL) {
		berth_error_prefix(err, "%s:%d: %s", b->df_name, in->pos.line, msg);
		return -1;
	}
	return berth_error_set(err, BERTH_ERR_INVALID, 0, "%s:%d: %s", b->df_name, in->pos.line, msg);
}

void build_progress(const struct builder *b, const char *fmt, ...)
{
	va_list ap;
	cleanup_free char *text = NULL;
	if (b->o->quiet || b->progress == NULL)
		return;
	va_start(ap, fmt);
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n >= 0)
		progress_log(b->progress, "%s", text);
}

static char *json_of_strv(char *const *v)
{
	/* ["a","b"] as Docker prints exec forms in history */
	size_t len = 3;
	for (size_t i = 0; v != NULL && v[i]; i++)
		len += strlen(v[i]) * 2 + 4;
	char *s = malloc(len), *p = s;
	if (s == NULL)
		return NULL;
	*p++ = '[';
	for (size_t i = 0; v != NULL && v[i]; i++) {
		if (i)
			*p++ = ',';
		*p++ = '"';
		for (const char *c = v[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				*p++ = '\\';
			*p++ = *c;
		}
		*p++ = '"';
	}
	*p++ = ']';
	*p = '\0';
	return s;
}

/* ---- image config ---- */

static int env_set(struct oci_image_exec_config *c, const char *key, const char *value)
{
	cleanup_free char *kv = NULL;
	size_t kl = strlen(key);
	if (asprintf(&kv, "%s=%s", key, value) < 0)
		return -1;
	for (size_t i = 0; i < c->env_len; i++) {
		if (strncmp(c->env[i], key, kl) == 0 && c->env[i][kl] == '=') {
			free(c->env[i]);
			c->env[i] = steal_ptr(&kv);
			return 0;
		}
	}
	return build_strv_push(&c->env, &c->env_len, kv);
}

static const char *env_get(const struct oci_image_exec_config *c, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < c->env_len; i++)
		if (strncmp(c->env[i], key, kl) == 0 && c->env[i][kl] == '=')
			return c->env[i] + kl + 1;
	return NULL;
}

static int key_add(struct oci_image_key **keys, size_t *len, const char *k)
{
	for (size_t i = 0; i < *len; i++)
		if (strcmp((*keys)[i].key, k) == 0)
			return 0;
	struct oci_image_key *n = realloc(*keys, (*len + 1) * sizeof(*n));
	if (n == NULL)
		return -1;
	*keys = n;
	if ((n[*len].key = strdup(k)) == NULL)
		return -1;
	(*len)++;
	return 0;
}

static int label_set(struct oci_image_exec_config *c, const char *k, const char *v)
{
	for (size_t i = 0; i < c->labels_len; i++) {
		if (strcmp(c->labels[i].key, k) == 0) {
			char *nv = strdup(v);
			if (nv == NULL)
				return -1;
			free(c->labels[i].value);
			c->labels[i].value = nv;
			return 0;
		}
	}
	struct oci_kv *n = realloc(c->labels, (c->labels_len + 1) * sizeof(*n));
	if (n == NULL)
		return -1;
	c->labels = n;
	n[c->labels_len].key = strdup(k);
	n[c->labels_len].value = strdup(v);
	if (n[c->labels_len].key == NULL || n[c->labels_len].value == NULL)
		return -1;
	c->labels_len++;
	return 0;
}

int build_history(struct sstate *s, const struct builder *b, const char *created_by, bool empty,
                  berth_error_t *err)
{
	struct oci_image_config *c = s->cfg;
	struct oci_image_history *h = realloc(c->history, (c->history_len + 1) * sizeof(*h));
	if (h == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "history");
	c->history = h;
	h = &h[c->history_len];
	memset(h, 0, sizeof(*h));
	h->created = strdup(b->created);
	h->created_by = strdup(created_by);
	h->comment = strdup("buildkit.dockerfile.v0");
	h->empty_layer = empty;
	c->history_len++;
	if (h->created == NULL || h->created_by == NULL || h->comment == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "history");
	return 0;
}

int build_push_layer(struct sstate *s, const char *media_type, const char *digest, int64_t size,
                     const char *diff_id, struct oci_layout *src, berth_error_t *err)
{
	struct blayer *l = realloc(s->layers, (s->n_layers + 1) * sizeof(*l));
	if (l == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
	s->layers = l;
	l = &l[s->n_layers];
	memset(l, 0, sizeof(*l));
	if ((l->media_type = strdup(media_type)) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
	snprintf(l->digest, sizeof(l->digest), "%s", digest);
	l->size = size;
	l->src = src;
	s->n_layers++;
	if (diff_id != NULL && build_strv_push(&s->cfg->diff_ids, &s->cfg->diff_ids_len, diff_id) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
	return 0;
}

static int cfg_copy(const struct oci_image_config *src, struct oci_image_config **dst, berth_error_t *err)
{
	cleanup_free char *json = oci_image_config_to_json(src, false, err);
	if (json == NULL)
		return -1;
	if (oci_image_config_parse(json, strlen(json), "image config", dst, err) < 0)
		return -1;
	if ((*dst)->config == NULL && ((*dst)->config = calloc(1, sizeof(*(*dst)->config))) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "image config");
	return 0;
}

static void sstate_clear(struct sstate *s)
{
	oci_image_config_free(s->cfg);
	for (size_t i = 0; i < s->n_layers; i++)
		free(s->layers[i].media_type);
	free(s->layers);
	strv_free(s->lowers);
	expand_vars_free(&s->args);
	if (s->view_mounted)
		fsops_umount(s->view);
	free(s->view);
	memset(s, 0, sizeof(*s));
}

/* ---- bases ---- */

static int parse_oci_ref(const char *spec, char **path, char **ref)
{
	const char *p = spec + strlen("oci-layout://");
	char *at = strchr(p, '@'), *colon = strrchr(p, ':');
	if (at != NULL) {
		*path = strndup(p, (size_t)(at - p));
		*ref = strdup(at + 1);
	} else if (colon != NULL && strchr(colon, '/') == NULL) {
		*path = strndup(p, (size_t)(colon - p));
		*ref = strdup(colon + 1);
	} else {
		*path = strdup(p);
		*ref = NULL;
		return *path == NULL ? -1 : 0;
	}
	return *path == NULL || *ref == NULL ? -1 : 0;
}

/* NAME=oci-archive:///PATH.tar or NAME=docker-archive:///PATH.tar: the
 * archive's (first) image imported into the cache's layout */
static int open_archive_context(struct builder *b, struct bcontext *c, const char *url, berth_error_t *err)
{
	bool oci = strncmp(url, "oci-archive://", 14) == 0;
	const char *path = url + (oci ? 14 : 17);
	struct oci_archive_import_options io = {
	    .size = sizeof(io),
	    .format = oci ? OCI_ARCHIVE_OCI : OCI_ARCHIVE_DOCKER,
	};
	cleanup_oci_archive_import_result struct oci_archive_import_result *res = NULL;
	if ((c->path = strdup(path)) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "build context");
	if (oci_archive_import(b->cache_layout, path, &io, &res, err) < 0)
		return berth_error_prefix(err, "--build-context `%s`: import `%s`", c->name, path);
	if (res == NULL || res->manifests_len == 0)
		return berth_error_invalid(err, "--build-context `%s`: `%s` holds no image", c->name, path);
	if ((c->ref = strdup(res->manifests[0].digest)) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "build context");
	c->layout = b->cache_layout;
	c->borrowed = true;
	return 0;
}

static int open_context(struct builder *b, const char *spec, berth_error_t *err)
{
	const char *eq = strchr(spec, '=');
	bool archive = eq != NULL && (strncmp(eq + 1, "oci-archive://", 14) == 0 ||
	                              strncmp(eq + 1, "docker-archive://", 17) == 0);
	if (eq == NULL || (!archive && strncmp(eq + 1, "oci-layout://", 13) != 0))
		return berth_error_invalid(err,
		                           "--build-context `%s`: expected NAME=oci-layout:///PATH[:TAG], "
		                           "NAME=oci-archive:///PATH or NAME=docker-archive:///PATH",
		                           spec);
	struct bcontext *c = realloc(b->ctxs, (b->n_ctxs + 1) * sizeof(*c));
	if (c == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "build context");
	b->ctxs = c;
	c = &c[b->n_ctxs];
	memset(c, 0, sizeof(*c));
	b->n_ctxs++;
	if ((c->name = strndup(spec, (size_t)(eq - spec))) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "build context");
	if (archive)
		return open_archive_context(b, c, eq + 1, err);
	if (parse_oci_ref(eq + 1, &c->path, &c->ref) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "build context");
	if (oci_layout_open(c->path, NULL, &c->layout, err) < 0)
		return berth_error_prefix(err, "--build-context `%s`", c->name);
	return 0;
}

static bool name_matches(const char *ctx_name, const char *ref)
{
	if (strcmp(ctx_name, ref) == 0)
		return true;
	/* "busybox" names "busybox:latest" and "docker.io/library/busybox:latest" */
	size_t n = strlen(ctx_name);
	const char *names[] = {"docker.io/library/", "docker.io/", ""};
	for (size_t i = 0; i < 3; i++) {
		size_t pl = strlen(names[i]);
		if (strncmp(ref, names[i], pl) != 0)
			continue;
		const char *r = ref + pl;
		if (strcmp(r, ctx_name) == 0)
			return true;
		if (strncmp(r, ctx_name, n) == 0 && strcmp(r + n, ":latest") == 0)
			return true;
	}
	return false;
}

int build_find_image(struct builder *b, const char *name, struct oci_layout **layout, struct oci_image **img,
                     berth_error_t *err)
{
	struct oci_layout *l = NULL;
	const char *ref = NULL;
	cleanup_free char *path = NULL, *oref = NULL;

	*img = NULL;
	for (size_t i = 0; i < b->n_ctxs && l == NULL; i++) {
		if (name_matches(b->ctxs[i].name, name)) {
			l = b->ctxs[i].layout;
			ref = b->ctxs[i].ref;
		}
	}
	if (l == NULL && strncmp(name, "oci-layout://", 13) == 0) {
		/* FROM oci-layout:///path:tag: opened as an anonymous build context */
		cleanup_free char *spec = NULL;
		if (asprintf(&spec, "%s=%s", name, name) < 0)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "image");
		if (open_context(b, spec, err) < 0)
			return -1;
		l = b->ctxs[b->n_ctxs - 1].layout;
		ref = b->ctxs[b->n_ctxs - 1].ref;
	}
	if (l == NULL && strstr(name, "://") == NULL) {
		/* the local store: the output layout, with the -t names of
		 * earlier builds ("app" is "app:latest") */
		if (!b->store_tried) {
			berth_error_t e = NULL;
			b->store_tried = true;
			if (oci_layout_open(b->o->output, NULL, &b->store, &e) < 0)
				berth_error_free(&e);
		}
		const char *slash = strrchr(name, '/'), *colon = strrchr(name, ':');
		bool tagged = colon != NULL && (slash == NULL || colon > slash);
		if (b->store != NULL && strchr(name, '@') == NULL) {
			cleanup_free char *latest = NULL;
			if (!tagged && asprintf(&latest, "%s:latest", name) < 0)
				return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "image");
			const char *cands[] = {name, latest};
			for (size_t i = 0; i < 2 && l == NULL; i++) {
				struct oci_image *im = NULL;
				berth_error_t e = NULL;
				if (cands[i] == NULL)
					continue;
				if (oci_layout_resolve(b->store, cands[i], NULL, &im, &e) < 0) {
					if (e != NULL && e->code != BERTH_ERR_NOT_FOUND) {
						berth_error_move(err, &e);
						return berth_error_prefix(err, "image `%s` in `%s`", name,
						                          b->o->output);
					}
					berth_error_free(&e);
					continue;
				}
				oci_image_free(im);
				l = b->store;
				if ((oref = strdup(cands[i])) == NULL)
					return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "image");
				ref = oref;
			}
		}
	}
	if (l == NULL)
		return 0;
	struct oci_image **v = realloc(b->images, (b->n_images + 1) * sizeof(*v));
	if (v == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "image");
	b->images = v;
	if (oci_layout_resolve(l, ref, NULL, img, err) < 0)
		return berth_error_prefix(err, "image `%s`", name);
	v[b->n_images++] = *img;
	*layout = l;
	return 0;
}

static int host_config(struct oci_image_config **cfg, berth_error_t *err)
{
	const char *os, *arch, *variant;
	cleanup_free char *json = NULL;
	oci_platform_host(&os, &arch, &variant);
	if (asprintf(&json,
	             "{\"architecture\":\"%s\",\"os\":\"%s\"%s%s%s,\"rootfs\":{\"type\":\"layers\",\"diff_"
	             "ids\":[]}}",
	             arch, os, variant ? ",\"variant\":\"" : "", variant ? variant : "",
	             variant ? "\"" : "") < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "image config");
	if (oci_image_config_parse(json, strlen(json), "image config", cfg, err) < 0)
		return -1;
	if (((*cfg)->config = calloc(1, sizeof(*(*cfg)->config))) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "image config");
	return 0;
}

static int stage_base(struct builder *b, size_t i, berth_error_t *err)
{
	const struct df_stage *st = &b->df.stages[i];
	struct sstate *s = &b->st[i];

	expand_vars_init(&s->args);
	if (st->base_stage >= 0) {
		const struct sstate *p = &b->st[st->base_stage];
		if (cfg_copy(p->cfg, &s->cfg, err) < 0)
			return -1;
		for (size_t k = 0; k < p->n_layers; k++)
			if (build_push_layer(s, p->layers[k].media_type, p->layers[k].digest,
			                     p->layers[k].size, NULL, p->layers[k].src, err) < 0)
				return -1;
		for (size_t k = 0; k < p->n_lowers; k++)
			if (build_strv_push(&s->lowers, &s->n_lowers, p->lowers[k]) < 0)
				return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stage");
		memcpy(s->chain, p->chain, sizeof(s->chain));
		build_progress(b, "[stage %zu] FROM stage %ld", i, st->base_stage);
		return 0;
	}
	if (strcasecmp(st->base, "scratch") == 0) {
		if (host_config(&s->cfg, err) < 0)
			return -1;
		snprintf(s->chain, sizeof(s->chain), "scratch");
		build_progress(b, "[stage %zu] FROM scratch", i);
		goto path;
	}
	struct oci_layout *layout = NULL;
	struct oci_image *img = NULL;
	if (build_find_image(b, st->base, &layout, &img, err) < 0)
		return build_fail(b, st->from, err, "FROM %s", st->base);
	if (img == NULL)
		return build_fail(b, st->from, err,
		                  "base image `%s` not found: not a -t name in `%s`; name an OCI layout "
		                  "or an archive with --build-context %s=oci-layout:///PATH:TAG",
		                  st->base, b->o->output, st->base);
	if (cfg_copy(img->config, &s->cfg, err) < 0)
		return -1;
	/* the layers as the config lists them */
	strv_clear(&s->cfg->diff_ids, &s->cfg->diff_ids_len);
	if ((s->cfg->diff_ids = calloc(1, sizeof(char *))) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stage");
	if (img->manifest->layers_len != img->config->diff_ids_len)
		return build_fail(b, st->from, err, "image `%s`: %zu layers but %zu diff_ids", st->base,
		                  img->manifest->layers_len, img->config->diff_ids_len);
	for (size_t k = 0; k < img->manifest->layers_len; k++) {
		const struct oci_descriptor *d = &img->manifest->layers[k];
		enum oci_compression comp;
		if (oci_media_type_layer_compression(d->media_type, &comp) < 0)
			return build_fail(b, st->from, err, "image `%s`: layer %s: unknown media type `%s`",
			                  st->base, d->digest, d->media_type);
		if (build_push_layer(s, oci_media_type_layer(comp), d->digest, d->size,
		                     img->config->diff_ids[k], layout, err) < 0)
			return -1;
	}
	if (img->manifest->layers_len > 0) {
		char *dir = NULL;
		if (steps_unpack_base(b, layout, img, &dir, err) < 0)
			return build_fail(b, st->from, err, "FROM %s", st->base);
		int r = build_strv_push(&s->lowers, &s->n_lowers, dir);
		free(dir);
		if (r < 0)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stage");
	}
	snprintf(s->chain, sizeof(s->chain), "%s", img->manifest_desc.digest);
	build_progress(b, "[stage %zu] FROM %s (%s)", i, st->base, img->manifest_desc.digest);
path:
	/* BuildKit puts the default PATH into every image that lacks one */
	if (env_get(s->cfg->config, "PATH") == NULL &&
	    env_set(s->cfg->config, "PATH", DEFAULT_PATH + strlen("PATH=")) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stage");
	return 0;
}

/* ---- config instructions ---- */

static int shell_argv(const struct sstate *s, const struct df_instr *in, char ***out)
{
	const struct oci_image_exec_config *c = s->cfg->config;
	size_t n = 0;
	*out = calloc(1, sizeof(char *));
	if (*out == NULL)
		return -1;
	if (!in->shell_form)
		return strv_set(out, &n, in->cmd);
	if (c->shell_len > 0) {
		for (size_t i = 0; i < c->shell_len; i++)
			if (build_strv_push(out, &n, c->shell[i]) < 0)
				return -1;
	} else if (build_strv_push(out, &n, "/bin/sh") < 0 || build_strv_push(out, &n, "-c") < 0) {
		return -1;
	}
	return build_strv_push(out, &n, in->cmd[0]);
}

static int config_instr(struct builder *b, struct sstate *s, const struct df_instr *in, berth_error_t *err)
{
	struct oci_image_exec_config *c = s->cfg->config;
	cleanup_free char *by = NULL;
	cleanup_strv char **argv = NULL;
	int r = 0;

	switch (in->kind) {
	case DF_ENV: {
		if ((by = strdup("ENV")) == NULL)
			return -1;
		for (size_t i = 0; i < in->n_kvs; i++) {
			char *nb = NULL;
			if (asprintf(&nb, "%s %s=%s", by, in->kvs[i].key, in->kvs[i].value) < 0)
				return -1;
			free(by);
			by = nb;
			if (env_set(c, in->kvs[i].key, in->kvs[i].value) < 0)
				return -1;
		}
		break;
	}
	case DF_ARG:
		for (size_t i = 0; i < in->n_kvs; i++)
			if (in->kvs[i].value != NULL &&
			    expand_vars_set(&s->args, in->kvs[i].key, in->kvs[i].value, err) < 0)
				return -1;
		return 0; /* no history entry: BuildKit writes none for ARG */
	case DF_LABEL:
		for (size_t i = 0; i < in->n_kvs; i++)
			if (label_set(c, in->kvs[i].key, in->kvs[i].value) < 0)
				return -1;
		break;
	case DF_EXPOSE:
		for (size_t i = 0; in->words[i]; i++) {
			cleanup_free char *p = NULL;
			if (asprintf(&p, "%s%s", in->words[i], strchr(in->words[i], '/') ? "" : "/tcp") < 0 ||
			    key_add(&c->exposed_ports, &c->exposed_ports_len, p) < 0)
				return -1;
		}
		break;
	case DF_VOLUME:
		for (size_t i = 0; in->words[i]; i++)
			if (key_add(&c->volumes, &c->volumes_len, in->words[i]) < 0)
				return -1;
		break;
	case DF_USER:
		free(c->user);
		if ((c->user = strdup(in->value)) == NULL)
			return -1;
		if (asprintf(&by, "USER %s", in->value) < 0)
			return -1;
		break;
	case DF_STOPSIGNAL:
		free(c->stop_signal);
		if ((c->stop_signal = strdup(in->value)) == NULL)
			return -1;
		break;
	case DF_MAINTAINER:
		free(s->cfg->author);
		if ((s->cfg->author = strdup(in->value)) == NULL)
			return -1;
		break;
	case DF_SHELL:
		if (strv_set(&c->shell, &c->shell_len, in->cmd) < 0)
			return -1;
		break;
	case DF_CMD:
	case DF_ENTRYPOINT: {
		if (shell_argv(s, in, &argv) < 0)
			return -1;
		size_t n = 0;
		while (argv[n])
			n++;
		cleanup_free char *j = json_of_strv(argv);
		if (j == NULL || asprintf(&by, "%s %s", in->kind == DF_CMD ? "CMD" : "ENTRYPOINT", j) < 0)
			return -1;
		if (in->kind == DF_CMD) {
			if (strv_set(&c->cmd, &c->cmd_len, argv) < 0)
				return -1;
			c->has_cmd = true;
			s->cmd_set = true;
		} else {
			if (strv_set(&c->entrypoint, &c->entrypoint_len, argv) < 0)
				return -1;
			c->has_entrypoint = true;
			/* an ENTRYPOINT drops a CMD inherited from the base */
			if (!s->cmd_set) {
				strv_clear(&c->cmd, &c->cmd_len);
				c->has_cmd = false;
			}
		}
		break;
	}
	case DF_HEALTHCHECK: {
		struct oci_image_healthcheck *h = c->healthcheck;
		if (h == NULL && (h = c->healthcheck = calloc(1, sizeof(*h))) == NULL)
			return -1;
		size_t n = 0;
		if (strv_set(&h->test, &n, in->cmd) < 0)
			return -1;
		h->test_len = n;
		h->interval = in->interval;
		h->timeout = in->timeout;
		h->start_period = in->start_period;
		h->start_interval = in->start_interval;
		h->retries = in->retries;
		break;
	}
	case DF_ONBUILD:
		if (build_strv_push(&c->on_build, &c->on_build_len, in->expression) < 0)
			return -1;
		break;
	default:
		return berth_error_invalid(err, "unexpected instruction %s", df_kind_name(in->kind));
	}
	r = build_history(s, b, by != NULL ? by : in->text, true, err);
	return r;
}

static int stage_instr(struct builder *b, size_t i, struct sstate *s, const struct df_instr *in,
                       berth_error_t *err)
{
	switch (in->kind) {
	case DF_RUN:
		return steps_run(b, i, s, in, err);
	case DF_COPY:
	case DF_ADD:
		return steps_copy(b, i, s, in, err);
	case DF_WORKDIR:
		return steps_workdir(b, s, in, err);
	default:
		if (config_instr(b, s, in, err) < 0) {
			if (*err == NULL)
				berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "%s", df_kind_name(in->kind));
			return build_fail(b, in, err, "%s", df_kind_name(in->kind));
		}
		return 0;
	}
}

/* The ONBUILD triggers of the base, in order, right after FROM; the stage's
 * own config starts without them (Docker's rule).  A base that is a stage
 * of this Dockerfile is treated as if it had been built into an image
 * first, as BuildKit does: its triggers run in each stage built on it. */
static int run_triggers(struct builder *b, size_t i, struct sstate *s, berth_error_t *err)
{
	const struct df_stage *st = &b->df.stages[i];
	struct oci_image_exec_config *c = s->cfg->config;
	if (c->on_build_len == 0)
		return 0;
	char **trig = c->on_build;
	size_t n = c->on_build_len, n_ev = 0;
	c->on_build = NULL;
	c->on_build_len = 0;
	struct df_ast ast;
	struct df_instr **ev = NULL;
	int r = df_triggers_eval(&b->df, trig, n, (const char *const *)c->env, &ast, &ev, &n_ev, err);
	if (r < 0)
		build_fail(b, st->from, err, "FROM %s: its ONBUILD triggers", st->base);
	for (size_t k = 0; r == 0 && k < n_ev; k++) {
		/* errors and progress point at the FROM line */
		ev[k]->pos = st->from->pos;
		build_progress(b, "%s:%d: ONBUILD %s", b->df_name, st->from->pos.line, ev[k]->text);
		r = stage_instr(b, i, s, ev[k], err);
	}
	for (size_t k = 0; ev != NULL && k < n_ev; k++)
		df_instr_free(ev[k]);
	free(ev);
	df_ast_free(&ast);
	for (size_t k = 0; k < n; k++)
		free(trig[k]);
	free(trig);
	return r;
}

static int build_stage(struct builder *b, size_t i, berth_error_t *err)
{
	const struct df_stage *st = &b->df.stages[i];
	struct sstate *s = &b->st[i];
	struct df_instr **ev = NULL;
	int r = 0;

	if (stage_base(b, i, err) < 0 || run_triggers(b, i, s, err) < 0)
		return -1;
	if (df_stage_eval(&b->df, st, (const char *const *)s->cfg->config->env, &ev, err) < 0)
		return -1;
	for (size_t k = 0; k < st->n_instrs && r == 0; k++)
		r = stage_instr(b, i, s, ev[k], err);
	for (size_t k = 0; k < st->n_instrs; k++)
		df_instr_free(ev[k]);
	free(ev);
	s->built = r == 0;
	return r;
}

/* ---- stages in parallel ----
 *
 * The needed stages of one level do not depend on each other.  When a level
 * has more than one, each is built in a child process (at most one per
 * core at a time), in a mount namespace of its own (its overlays vanish with
 * it), with step names of its own (s<stage * 1000000 + N>).  A child's
 * result goes to the parent in <tmp>/stage<N>: the layers' blobs are in
 * layouts and its uppers in the cache (or tmp), so the state is their names:
 *
 *   chain KEY
 *   lowers N, then N lines of directories
 *   layers N, then N lines "MEDIA_TYPE DIGEST SIZE LAYOUT-PATH"
 *   the image config (JSON), to the end
 *
 * or, when it failed, <tmp>/stage<N>.err with the message. */

static int stage_save(const struct builder *b, size_t i, berth_error_t *err)
{
	const struct sstate *s = &b->st[i];
	cleanup_free char *path = NULL, *cjson = NULL;
	if (asprintf(&path, "%s/stage%zu", b->tmp, i) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stage");
	if ((cjson = oci_image_config_to_json(s->cfg, false, err)) == NULL)
		return -1;
	cleanup_fclose FILE *f = fopen(path, "we");
	if (f == NULL)
		return berth_error_sys(err, errno, "stage state `%s`", path);
	fprintf(f, "chain %s\nlowers %zu\n", s->chain, s->n_lowers);
	for (size_t k = 0; k < s->n_lowers; k++)
		fprintf(f, "%s\n", s->lowers[k]);
	fprintf(f, "layers %zu\n", s->n_layers);
	for (size_t k = 0; k < s->n_layers; k++)
		fprintf(f, "%s %s %" PRId64 " %s\n", s->layers[k].media_type, s->layers[k].digest,
		        s->layers[k].size, oci_layout_path(s->layers[k].src));
	fputs(cjson, f);
	if (fflush(f) != 0 || ferror(f))
		return berth_error_sys(err, errno, "stage state `%s`", path);
	return 0;
}

/* The open layout at path: the cache's, a context's, the store, or a new
 * anonymous context. */
static struct oci_layout *layout_by_path(struct builder *b, const char *path, berth_error_t *err)
{
	if (strcmp(oci_layout_path(b->cache_layout), path) == 0)
		return b->cache_layout;
	if (b->store != NULL && strcmp(oci_layout_path(b->store), path) == 0)
		return b->store;
	for (size_t i = 0; i < b->n_ctxs; i++)
		if (strcmp(oci_layout_path(b->ctxs[i].layout), path) == 0)
			return b->ctxs[i].layout;
	struct bcontext *c = realloc(b->ctxs, (b->n_ctxs + 1) * sizeof(*c));
	if (c == NULL) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stage");
		return NULL;
	}
	b->ctxs = c;
	c = &c[b->n_ctxs];
	memset(c, 0, sizeof(*c));
	if ((c->name = strdup("")) == NULL || (c->path = strdup(path)) == NULL) {
		free(c->name);
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stage");
		return NULL;
	}
	b->n_ctxs++;
	if (oci_layout_open(path, NULL, &c->layout, err) < 0)
		return NULL;
	return c->layout;
}

static int stage_load(struct builder *b, size_t i, berth_error_t *err)
{
	struct sstate *s = &b->st[i];
	cleanup_free char *path = NULL, *text = NULL;
	size_t len, n;
	if (asprintf(&path, "%s/stage%zu", b->tmp, i) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stage");
	if (fs_read_file_at(AT_FDCWD, path, &text, &len, err) < 0)
		return berth_error_prefix(err, "stage state");
	char *p = text, *line, *save = NULL;
#define NEXT_LINE() ((line = strtok_r(p, "\n", &save)) != NULL ? (p = NULL, line) : NULL)
	if (NEXT_LINE() == NULL || strncmp(line, "chain ", 6) != 0)
		goto bad;
	snprintf(s->chain, sizeof(s->chain), "%s", line + 6);
	if (NEXT_LINE() == NULL || sscanf(line, "lowers %zu", &n) != 1)
		goto bad;
	for (size_t k = 0; k < n; k++)
		if (NEXT_LINE() == NULL || build_strv_push(&s->lowers, &s->n_lowers, line) < 0)
			goto bad;
	if (NEXT_LINE() == NULL || sscanf(line, "layers %zu", &n) != 1)
		goto bad;
	for (size_t k = 0; k < n; k++) {
		char mt[256], dg[OCI_DIGEST_MAX];
		int64_t size;
		int off = 0;
		if (NEXT_LINE() == NULL ||
		    sscanf(line, "%255s %135s %" SCNd64 " %n", mt, dg, &size, &off) != 3 || off == 0)
			goto bad;
		struct oci_layout *l = layout_by_path(b, line + off, err);
		if (l == NULL)
			return berth_error_prefix(err, "stage %zu", i);
		if (build_push_layer(s, mt, dg, size, NULL, l, err) < 0)
			return -1;
	}
	/* the rest: the config */
	const char *json = save;
	if (json == NULL || oci_image_config_parse(json, strlen(json), "stage config", &s->cfg, err) < 0)
		return *err ? berth_error_prefix(err, "stage %zu", i)
		            : berth_error_invalid(err, "stage %zu", i);
	if (s->cfg->config == NULL && (s->cfg->config = calloc(1, sizeof(*s->cfg->config))) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stage");
	expand_vars_init(&s->args);
	s->built = true;
	return 0;
#undef NEXT_LINE
bad:
	return berth_error_invalid(err, "stage state `%s`: malformed", path);
}

/* In the child: build stage i, save its state or its error, exit. */
static void __attribute__((noreturn)) stage_child(struct builder *b, size_t i)
{
	berth_error_t err = NULL;
	char name[16];
	snprintf(name, sizeof(name), "berth:[stage%zu]", i);
	prctl(PR_SET_NAME, name);
	reaper_follow_parent();
	b->counter = (unsigned)(i + 1) * 1000000u;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		berth_error_sys(&err, errno, "stage %zu: a mount namespace", i);
	else if (build_stage(b, i, &err) == 0 && stage_save(b, i, &err) == 0)
		_exit(0);
	cleanup_free char *path = NULL;
	if (asprintf(&path, "%s/stage%zu.err", b->tmp, i) >= 0) {
		berth_error_t e = NULL;
		const char *msg = err != NULL ? err->msg : "failed";
		if (fs_write_file_atomic_at(AT_FDCWD, path, msg, strlen(msg), 0600, &e) < 0)
			berth_error_free(&e);
	}
	_exit(1);
}

/* Builds the stages idx[0..n) (one level) in child processes. */
static int build_level(struct builder *b, const size_t *idx, size_t n, berth_error_t *err)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t max = cores > 0 ? (size_t)cores : 1, running = 0, next = 0;
	cleanup_free pid_t *pids = calloc(n, sizeof(pid_t));
	cleanup_free int *status = calloc(n, sizeof(int));
	if (pids == NULL || status == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stages");
	fflush(stdout);
	fflush(stderr);
	while (next < n || running > 0) {
		while (next < n && running < max) {
			pid_t pid = fork();
			if (pid < 0) {
				berth_error_sys(err, errno, "fork for stage %zu", idx[next]);
				next = n; /* start no more; wait for the running ones */
				break;
			}
			if (pid == 0)
				stage_child(b, idx[next]);
			pids[next++] = pid;
			running++;
		}
		if (running == 0)
			break;
		int st;
		pid_t w = waitpid(-1, &st, 0);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return berth_error_sys(err, errno, "wait for the stages");
		}
		for (size_t k = 0; k < n; k++)
			if (pids[k] == w) {
				status[k] = st;
				pids[k] = 0;
				running--;
			}
	}
	if (*err != NULL)
		return -1;
	/* the results, in stage order; the first failure is the error */
	for (size_t k = 0; k < n; k++) {
		size_t i = idx[k];
		if (WIFEXITED(status[k]) && WEXITSTATUS(status[k]) == 0) {
			if (stage_load(b, i, err) < 0)
				return -1;
			continue;
		}
		cleanup_free char *path = NULL, *msg = NULL;
		berth_error_t e = NULL;
		if (asprintf(&path, "%s/stage%zu.err", b->tmp, i) < 0)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stage");
		if (fs_read_file_at(AT_FDCWD, path, &msg, NULL, &e) < 0) {
			berth_error_free(&e);
			return berth_error_set(err, BERTH_ERR_SYSTEM, 0,
			                       "stage %zu: the builder process died (status %d)", i,
			                       status[k]);
		}
		return berth_error_set(err, BERTH_ERR_INVALID, 0, "%s", msg);
	}
	return 0;
}

/* ---- output ---- */

/* A hard link to the blob in dst (blobs never change in place), made
 * durable when dst is; 1 when made, 0 when a link cannot be (another file
 * system: the caller copies). */
static int link_blob(struct oci_layout *dst, bool durable, const struct blayer *l, const char *rel,
                     berth_error_t *err)
{
	int sfd = oci_layout_dirfd(l->src), dfd = oci_layout_dirfd(dst);
	cleanup_free char *dir = strdup(rel);
	if (dir == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "blob");
	*strrchr(dir, '/') = '\0';
	if ((mkdirat(dfd, "blobs", 0755) < 0 && errno != EEXIST) ||
	    (mkdirat(dfd, dir, 0755) < 0 && errno != EEXIST))
		return berth_error_sys(err, errno, "blob %s: mkdir `%s`", l->digest, dir);
	if (linkat(sfd, rel, dfd, rel, 0) < 0) {
		if (errno == EEXIST)
			return 1;
		return 0;
	}
	if (!durable)
		return 1;
	/* what a copy would have done: the data, then the name */
	cleanup_close int fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC);
	cleanup_close int dirfd = openat(dfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0 || dirfd < 0 || fsync(dirfd) < 0)
		return berth_error_sys(err, errno, "blob %s: fsync", l->digest);
	return 1;
}

/* A blob of the build into the output: a link when it is one that this
 * build or an earlier one wrote into the cache (its digest computed as it
 * was written), else a verified copy (a base image's layout is the
 * user's: its blobs are read and checked). */
static int copy_blob(const struct builder *b, struct oci_layout *dst, bool durable, const struct blayer *l,
                     berth_error_t *err)
{
	int has = oci_layout_has_blob(dst, l->digest, err);
	if (has != 0)
		return has < 0 ? -1 : 0;
	cleanup_free char *rel = oci_layout_blob_relpath(l->digest, err);
	if (rel == NULL)
		return -1;
	int linked = l->src == b->cache_layout ? link_blob(dst, durable, l, rel, err) : 0;
	if (linked != 0)
		return linked < 0 ? -1 : 0;
	cleanup_close int fd = openat(oci_layout_dirfd(l->src), rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_sys(err, errno, "blob %s in `%s`", l->digest, oci_layout_path(l->src));
	return oci_layout_put_blob_fd(dst, fd, l->digest, l->size, NULL, NULL, err);
}

static int write_output(struct builder *b, struct sstate *s, struct build_result *res, berth_error_t *err)
{
	/* a tar: made of a layout in tmp (output.h) */
	cleanup_free char *tmp_layout = NULL;
	if (b->o->output_tar && asprintf(&tmp_layout, "%s/output", b->tmp) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "output");
	const char *dest = b->o->output_tar ? tmp_layout : b->o->output;
	struct oci_layout_options lo = {.size = sizeof(lo), .create = true, .fsync = !b->o->output_tar};
	cleanup_oci_layout struct oci_layout *out = NULL;
	struct oci_image_manifest m = {.schema_version = 2};
	struct oci_descriptor mdesc = {0};
	cleanup_free char *cjson = NULL, *mjson = NULL;
	int r = -1;

	free(s->cfg->created);
	if ((s->cfg->created = strdup(b->created)) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "config");
	if (oci_layout_open(dest, &lo, &out, err) < 0)
		return berth_error_prefix(err, "output `%s`", dest);
	for (size_t i = 0; i < s->n_layers; i++)
		if (copy_blob(b, out, lo.fsync, &s->layers[i], err) < 0)
			return berth_error_prefix(err, "output `%s`", dest);
	if ((cjson = oci_image_config_to_json(s->cfg, false, err)) == NULL)
		return -1;
	m.media_type = (char *)OCI_MEDIA_TYPE_MANIFEST;
	if (oci_layout_put_blob_desc(out, OCI_MEDIA_TYPE_CONFIG, cjson, strlen(cjson), &m.config, err) < 0)
		return -1;
	if ((m.layers = calloc(s->n_layers + 1, sizeof(*m.layers))) == NULL) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "manifest");
		goto out;
	}
	m.layers_len = s->n_layers;
	for (size_t i = 0; i < s->n_layers; i++) {
		m.layers[i].media_type = s->layers[i].media_type;
		m.layers[i].digest = s->layers[i].digest;
		m.layers[i].size = s->layers[i].size;
	}
	if ((mjson = oci_image_manifest_to_json(&m, false, err)) == NULL)
		goto out;
	if (oci_layout_put_blob_desc(out, OCI_MEDIA_TYPE_MANIFEST, mjson, strlen(mjson), &mdesc, err) < 0)
		goto out;
	snprintf(res->manifest_digest, sizeof(res->manifest_digest), "%s", mdesc.digest);
	snprintf(res->config_digest, sizeof(res->config_digest), "%s", m.config.digest);
	if ((b->o->tags == NULL || b->o->tags[0] == NULL) && oci_layout_add_once(out, &mdesc, err) < 0)
		goto out;
	for (size_t i = 0; b->o->tags != NULL && b->o->tags[i] != NULL; i++)
		if (oci_layout_tag(out, b->o->tags[i], &mdesc, err) < 0)
			goto out;
	if (b->o->output_tar &&
	    output_layout_tar(dest, b->o->output, b->o->has_source_date_epoch ? b->o->source_date_epoch : 0,
	                      err) < 0)
		goto out;
	r = 0;
out:
	free(m.layers);
	oci_descriptor_free_members(&m.config);
	oci_descriptor_free_members(&mdesc);
	return r;
}

/* ---- setup and teardown ---- */

char *build_default_cache_dir(void)
{
	char *s = NULL;
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (geteuid() == 0)
		return strdup("/var/cache/berth-build");
	if (x != NULL && *x == '/')
		return asprintf(&s, "%s/berth-build", x) < 0 ? NULL : s;
	if (home != NULL && *home == '/')
		return asprintf(&s, "%s/.cache/berth-build", home) < 0 ? NULL : s;
	return strdup("/var/tmp/berth-build");
}

static int setup_dirs(struct builder *b, berth_error_t *err)
{
	const struct build_options *o = b->o;
	if (o->no_cache) {
		/* $TMPDIR as mktemp(1) has it; /var/tmp, not /tmp, by default:
		 * the layers can be large and /tmp is often a small tmpfs */
		const char *tmp = getenv("TMPDIR");
		cleanup_free char *tmpl = NULL;
		if (asprintf(&tmpl, "%s/berth-build.XXXXXX", tmp != NULL && *tmp == '/' ? tmp : "/var/tmp") <
		    0)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "cache");
		if (mkdtemp(tmpl) == NULL)
			return berth_error_sys(err, errno, "cache: mkdtemp `%s`", tmpl);
		b->cache = steal_ptr(&tmpl);
		b->cache_owned = true;
	} else {
		b->cache = o->cache_dir != NULL ? strdup(o->cache_dir) : build_default_cache_dir();
	}
	if (b->cache == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "cache");
	cleanup_free char *tmpdir = NULL, *layoutdir = NULL;
	if (asprintf(&tmpdir, "%s/tmp", b->cache) < 0 || asprintf(&layoutdir, "%s/layout", b->cache) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "cache");
	if (fs_mkdir_p(tmpdir, 0700, err) < 0)
		return berth_error_prefix(err, "cache `%s`", b->cache);
	/* one build at a time per cache: entries are replaced in place */
	cleanup_free char *lock = NULL;
	if (asprintf(&lock, "%s/lock", b->cache) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "cache");
	b->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (b->lock_fd < 0)
		return berth_error_sys(err, errno, "cache lock `%s`", lock);
	if (flock(b->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return berth_error_sys(err, errno, "cache lock `%s`", lock);
		build_progress(b, "waiting for another build using the cache `%s`", b->cache);
		while (flock(b->lock_fd, LOCK_EX) < 0)
			if (errno != EINTR)
				return berth_error_sys(err, errno, "cache lock `%s`", lock);
	}
	/* what an interrupted build left (no build holds the lock) */
	cleanup_dir DIR *d = opendir(tmpdir);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		cleanup_free char *stale = NULL;
		berth_error_t e = NULL;
		if (strncmp(de->d_name, "b.", 2) != 0 || asprintf(&stale, "%s/%s", tmpdir, de->d_name) < 0)
			continue;
		cleanup_free char *stale_state = NULL;
		if (asprintf(&stale_state, "%s/state", stale) >= 0) /* its RUN containers, if any live */
			reaper_delete_containers(stale_state);
		if (fsops_remove(stale, &e) < 0)
			berth_error_free(&e);
	}
	if (asprintf(&b->tmp, "%s/b.XXXXXX", tmpdir) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "cache");
	if (mkdtemp(b->tmp) == NULL) {
		int e = errno;
		free(b->tmp);
		b->tmp = NULL;
		return berth_error_sys(err, e, "cache: mkdtemp in `%s`", tmpdir);
	}
	if (asprintf(&b->empty, "%s/empty", b->tmp) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "cache");
	if (mkdir(b->empty, 0755) < 0)
		return berth_error_sys(err, errno, "mkdir `%s`", b->empty);
	struct oci_layout_options lo = {.size = sizeof(lo), .create = true};
	if (oci_layout_open(layoutdir, &lo, &b->cache_layout, err) < 0)
		return berth_error_prefix(err, "cache `%s`", b->cache);
	return 0;
}

static int read_dockerfile(struct builder *b, berth_error_t *err)
{
	const struct build_options *o = b->o;
	cleanup_free char *path = NULL, *src = NULL;
	size_t len;
	const char *const none[] = {NULL};

	if (o->dockerfile != NULL)
		path = strdup(o->dockerfile);
	else if (asprintf(&path, "%s/Dockerfile", o->context) < 0)
		path = NULL;
	if (path == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "Dockerfile");
	const char *base = strrchr(path, '/');
	if ((b->df_name = strdup(base ? base + 1 : path)) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "Dockerfile");
	if (fs_read_file_at(AT_FDCWD, path, &src, &len, err) < 0)
		return berth_error_prefix(err, "Dockerfile");
	struct df_build_opts dopts = {
	    .size = sizeof(dopts),
	    .target = o->target,
	    .build_args = o->build_args != NULL ? o->build_args : none,
	};
	if (df_dockerfile_parse(b->df_name, src, len, &dopts, &b->df, err) < 0)
		return -1;
	/* .dockerignore */
	cleanup_free char *ign = dockerignore_pick(path, o->context, err);
	if (ign == NULL && *err != NULL)
		return -1;
	if (ign != NULL) {
		cleanup_free char *isrc = NULL;
		size_t ilen;
		if (fs_read_file_at(AT_FDCWD, ign, &isrc, &ilen, err) < 0 ||
		    dockerignore_parse(&b->di, isrc, ilen, err) < 0)
			return berth_error_prefix(err, "%s", ign);
		b->has_di = true;
	}
	return 0;
}

static void teardown(struct builder *b)
{
	berth_error_t e = NULL;
	for (size_t i = 0; b->st != NULL && i < b->df.n_stages; i++)
		sstate_clear(&b->st[i]);
	free(b->st);
	if (b->tmp != NULL && fsops_remove(b->tmp, &e) < 0) {
		fprintf(stderr, "berth-build: warning: remove `%s`: %s\n", b->tmp, e->msg);
		berth_error_free(&e);
	}
	oci_layout_close(b->cache_layout);
	oci_layout_close(b->store);
	statcache_free(b->digests);
	if (b->cache_owned && fsops_remove(b->cache, &e) < 0) {
		fprintf(stderr, "berth-build: warning: remove `%s`: %s\n", b->cache, e->msg);
		berth_error_free(&e);
	}
	for (size_t i = 0; i < b->n_images; i++)
		oci_image_free(b->images[i]);
	free(b->images);
	for (size_t i = 0; i < b->n_ctxs; i++) {
		free(b->ctxs[i].name);
		free(b->ctxs[i].path);
		free(b->ctxs[i].ref);
		if (!b->ctxs[i].borrowed)
			oci_layout_close(b->ctxs[i].layout);
	}
	free(b->ctxs);
	if (b->has_di)
		dockerignore_free(&b->di);
	if (b->ctx_fd >= 0)
		close(b->ctx_fd);
	if (b->lock_fd >= 0)
		close(b->lock_fd);
	df_dockerfile_free(&b->df);
	free(b->df_name);
	free(b->cache);
	free(b->tmp);
	free(b->empty);
	reaper_stop(b->reaper); /* last: until here, a kill still leaves nothing */
}

static int start_reaper(struct builder *b, berth_error_t *err)
{
	cleanup_free char *state = NULL;
	if (asprintf(&state, "%s/state", b->tmp) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "reaper");
	return reaper_start(state, b->cache_owned ? b->cache : b->tmp, &b->reaper, err);
}

int build_run(const struct build_options *o, struct build_result *res, berth_error_t *err)
{
	struct builder b = {.o = o, .ctx_fd = -1, .lock_fd = -1};
	int r = -1;
	struct timespec now;

	memset(res, 0, sizeof(*res));
	if (o->has_source_date_epoch) {
		now.tv_sec = (time_t)o->source_date_epoch;
		now.tv_nsec = 0;
	} else {
		clock_gettime(CLOCK_REALTIME, &now);
	}
	struct tm tm;
	gmtime_r(&now.tv_sec, &tm);
	size_t n = strftime(b.created, sizeof(b.created), "%Y-%m-%dT%H:%M:%S", &tm);
	if (now.tv_nsec != 0)
		snprintf(b.created + n, sizeof(b.created) - n, ".%09ldZ", now.tv_nsec);
	else
		snprintf(b.created + n, sizeof(b.created) - n, "Z");

	/* 1. the progress display; the Dockerfile, .dockerignore, the build
	 * contexts */
	memset(&b.df, 0, sizeof(b.df));
	if (progress_open(o->quiet ? PROGRESS_QUIET : o->progress, &b.progress, err) < 0)
		return -1;
	if (read_dockerfile(&b, err) < 0)
		goto out;
	b.ctx_fd = open(o->context, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.ctx_fd < 0) {
		berth_error_sys(err, errno, "context `%s`", o->context);
		goto out;
	}
	/* 2. directories, the reaper, the build contexts */
	if (setup_dirs(&b, err) < 0 || start_reaper(&b, err) < 0)
		goto out;
	for (size_t i = 0; o->contexts != NULL && o->contexts[i] != NULL; i++)
		if (open_context(&b, o->contexts[i], err) < 0)
			goto out;
	if ((b.st = calloc(b.df.n_stages, sizeof(*b.st))) == NULL) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "build");
		goto out;
	}
	/* 3. the stages the target needs, level by level: a level of more
	 * than one stage in parallel */
	for (size_t level = 0, left = 1; left > 0; level++) {
		cleanup_free size_t *idx = calloc(b.df.n_stages + 1, sizeof(size_t));
		size_t count = 0;
		if (idx == NULL) {
			berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "build");
			goto out;
		}
		left = 0;
		for (size_t i = 0; i <= b.df.target; i++) {
			if (!b.df.stages[i].needed || b.df.stages[i].level < level)
				continue;
			if (b.df.stages[i].level == level)
				idx[count++] = i;
			else
				left++;
		}
		if (count == 1 && build_stage(&b, idx[0], err) < 0)
			goto out;
		if (count > 1 && build_level(&b, idx, count, err) < 0)
			goto out;
	}
	/* 4. the image */
	if (write_output(&b, &b.st[b.df.target], res, err) < 0)
		goto out;
	r = 0;
out:
	/* 5. */
	teardown(&b);
	progress_close(b.progress, r == 0);
	return r;
}
