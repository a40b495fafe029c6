/* The filesystem steps of a stage: RUN, COPY/ADD, WORKDIR, and the layer
 * cache under them (see build.h).
 *
 * A step:
 *   1. its cache key: the parent's key, the instruction after expansion and
 *      what it sees (RUN: argv, env, user, workdir, network), for COPY/ADD
 *      the hash of what was copied; a hit takes the cached layer.  COPY/ADD
 *      --link leaves the parent out: its layer is made on an empty
 *      directory, so it is the same under any parent and a hit stacks it on
 *      the new one (the stage's chain then covers both)
 *   2. <tmp>/s<N>/{u,w,m}: upper, work, and the merged view mounted on the
 *      stage's lowers (top first)
 *   3. the work (a container, a copy, a mkdir) in the merged view
 *   4. unmount; the upper directory diffed as an overlayfs upper (whiteouts,
 *      opaque dirs) into a gzip layer; the blob into the cache's layout
 *   5. the upper directory renamed to <cache>/steps/<key>/u (or kept in tmp
 *      with --no-cache), and becomes the next step's top lower
 *
 * Cache entries: <cache>/steps/<first 32 hex of key>/
 *   u/        the upper directory (a lower of later steps)
 *   layer     "digest size diff_id" of the layer blob, or "empty"
 * An entry is complete once `layer` exists (written last, atomically). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "add_url.h"
#include "build_int.h"
#include "copy_reuse.h"
#include "fetch.h"
#include "fsops.h"
#include "gzchunks.h"
#include "progress.h"
#include "layer.h"
#include "run_mounts.h"
#include "run_step.h"
#include "util/cleanup.h"
#include "util/fs.h"

struct step {
	char *dir; /* <tmp>/s<N> */
	char *upper, *work, *merged;
	bool mounted;
	int merged_fd;
};

static void step_release(struct step *st)
{
	berth_error_t e = NULL;
	if (st->merged_fd >= 0)
		close(st->merged_fd);
	st->merged_fd = -1;
	if (st->mounted)
		fsops_umount(st->merged);
	st->mounted = false;
	if (st->dir != NULL && fsops_remove(st->dir, &e) < 0)
		berth_error_free(&e);
	free(st->dir);
	free(st->upper);
	free(st->work);
	free(st->merged);
	memset(st, 0, sizeof(*st));
	st->merged_fd = -1;
}

static int step_begin(struct builder *b, struct sstate *s, struct step *st, berth_error_t *err)
{
	memset(st, 0, sizeof(*st));
	st->merged_fd = -1;
	unsigned n = ++b->counter;
	if (asprintf(&st->dir, "%s/s%u", b->tmp, n) < 0 || asprintf(&st->upper, "%s/u", st->dir) < 0 ||
	    asprintf(&st->work, "%s/w", st->dir) < 0 || asprintf(&st->merged, "%s/m", st->dir) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "step");
	if (mkdir(st->dir, 0700) < 0 || mkdir(st->upper, 0755) < 0 || mkdir(st->work, 0700) < 0 ||
	    mkdir(st->merged, 0755) < 0)
		return berth_error_sys(err, errno, "step directory `%s`", st->dir);
	/* lowers top first */
	cleanup_free char **lowers = calloc(s->n_lowers + 1, sizeof(char *));
	if (lowers == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "step");
	for (size_t i = 0; i < s->n_lowers; i++)
		lowers[i] = s->lowers[s->n_lowers - 1 - i];
	if (fsops_overlay_mount(lowers, s->n_lowers, st->upper, st->work, b->empty, st->merged, err) < 0)
		return -1;
	st->mounted = true;
	st->merged_fd = open(st->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->merged_fd < 0)
		return berth_error_sys(err, errno, "open `%s`", st->merged);
	return 0;
}

/* --link: the copy goes into an empty directory of its own instead of
 * onto the stage.  The overlay that step_begin mounted on the stage served
 * only to read the parent (--chown names); it is let go, and a new empty
 * directory becomes both the copy's root and the step's upper directory. */
static int step_detach(struct step *st, berth_error_t *err)
{
	close(st->merged_fd);
	st->merged_fd = -1;
	fsops_umount(st->merged);
	st->mounted = false;
	free(st->upper);
	if (asprintf(&st->upper, "%s/l", st->dir) < 0) {
		st->upper = NULL;
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "step");
	}
	/* created parents are 0755 whatever the umask */
	if (mkdir(st->upper, 0755) < 0 || chmod(st->upper, 0755) < 0)
		return berth_error_sys(err, errno, "step directory `%s`", st->upper);
	st->merged_fd = open(st->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->merged_fd < 0)
		return berth_error_sys(err, errno, "open `%s`", st->upper);
	return 0;
}

/* ---- the cache ---- */

static void key_add(struct oci_hasher *h, const char *tag, const char *s)
{
	oci_hasher_update(h, tag, strlen(tag) + 1);
	if (s != NULL)
		oci_hasher_update(h, s, strlen(s) + 1);
	else
		oci_hasher_update(h, "\xff", 1);
}

static void key_addv(struct oci_hasher *h, const char *tag, char *const *v)
{
	key_add(h, tag, NULL);
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		key_add(h, "", v[i]);
}

/* Every step's key starts with its parent and the build's
 * SOURCE_DATE_EPOCH, which clamps the layer's times: a layer cached
 * without it (or with another) is not the one this build would make. */
static void key_parent(const struct builder *b, struct oci_hasher *h, const char *chain)
{
	char epoch[32] = "";

	key_add(h, "parent", chain);
	if (b->o->has_source_date_epoch)
		snprintf(epoch, sizeof(epoch), "%lld", (long long)b->o->source_date_epoch);
	key_add(h, "source_date_epoch", b->o->has_source_date_epoch ? epoch : NULL);
}

/* A COPY/ADD --link step's key starts without the parent: its layer is
 * made on an empty directory and serves under any parent (BuildKit's
 * rebase of a linked layer). */
static void key_start(const struct builder *b, struct oci_hasher *h, const struct sstate *s, bool link)
{
	if (link) {
		key_add(h, "link", "1");
		key_parent(b, h, NULL);
	} else {
		key_parent(b, h, s->chain);
	}
}

/* After a --link step: the stage's chain (the parent of the next step's
 * key) is the parent's chain with the linked layer's key on top, so the
 * steps after it still depend on everything below. */
static int chain_link(struct sstate *s, const char *parent, const char *key, berth_error_t *err)
{
	struct oci_hasher *h = oci_hasher_new(OCI_DIGEST_SHA256, err);
	if (h == NULL)
		return -1;
	key_add(h, "parent", parent);
	key_add(h, "linked", key);
	oci_hasher_final(h, s->chain);
	oci_hasher_free(h);
	return 0;
}

static char *entry_dir(const struct builder *b, const char *key)
{
	char *s = NULL;
	const char *hex = strchr(key, ':');
	hex = hex ? hex + 1 : key;
	if (asprintf(&s, "%s/steps/%.32s", b->cache, hex) < 0)
		return NULL;
	return s;
}

static const char *layer_media_type(const struct builder *b)
{
	switch (b->o->compression) {
	case LAYER_COMPRESSION_ZSTD:
		return OCI_MEDIA_TYPE_LAYER_ZSTD;
	case LAYER_COMPRESSION_NONE:
		return OCI_MEDIA_TYPE_LAYER;
	default:
		return OCI_MEDIA_TYPE_LAYER_GZIP;
	}
}

/* A cache entry's `layer` file: a line "DIGEST SIZE DIFF_ID MEDIA_TYPE" per
 * compression made of the step's upper directory (entries of older builds
 * lack the media type: gzip).  1 when the line for media_type is there, 0
 * when not, -1 when the file is malformed. */
static int layer_meta_find(const char *meta, const char *media_type, char digest[OCI_DIGEST_MAX],
                           int64_t *size, char diff_id[OCI_DIGEST_MAX])
{
	for (const char *line = meta; line != NULL && *line != '\0';) {
		char mt[128] = OCI_MEDIA_TYPE_LAYER_GZIP;
		int n = sscanf(line, "%135s %" SCNd64 " %135s %127s", digest, size, diff_id, mt);
		if (n < 3)
			return -1;
		if (strcmp(mt, media_type) == 0)
			return 1;
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	return 0;
}

/* Applies the cached layer of key to the stage: 1 on a hit, 0 on a miss. */
static int cache_take(struct builder *b, struct sstate *s, const char *key, const char *created_by,
                      berth_error_t *err)
{
	if (b->o->no_cache)
		return 0;
	cleanup_free char *dir = entry_dir(b, key), *meta = NULL, *upper = NULL;
	if (dir == NULL || asprintf(&upper, "%s/u", dir) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "cache");
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	berth_error_t e = NULL;
	if (dfd < 0 || fs_read_file_at(dfd, "layer", &meta, NULL, &e) < 0) {
		berth_error_free(&e);
		return 0;
	}
	if (strncmp(meta, "empty", 5) == 0) {
		utimensat(dfd, "layer", NULL, 0); /* used now (prune.h) */
		if (build_history(s, b, created_by, true, err) < 0)
			return -1;
		memcpy(s->chain, key, sizeof(s->chain));
		return 1;
	}
	char digest[OCI_DIGEST_MAX], diff_id[OCI_DIGEST_MAX];
	int64_t size;
	int has = layer_meta_find(meta, layer_media_type(b), digest, &size, diff_id);
	if (has == 0) {
		/* the step's layer in another compression: the same upper
		 * directory, compressed again */
		struct stat usb;
		struct layer_diff_result res;
		cleanup_free char *tmpf = NULL, *nmeta = NULL;
		if (stat(upper, &usb) < 0 || !S_ISDIR(usb.st_mode))
			return 0;
		if (asprintf(&tmpf, "%s/layer%u", b->tmp, ++b->counter) < 0)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "cache");
		int lr = steps_make_layer(b, upper, tmpf, &res, err);
		unlink(tmpf);
		if (lr < 0)
			return -1;
		snprintf(digest, OCI_DIGEST_MAX, "%s", res.digest);
		snprintf(diff_id, OCI_DIGEST_MAX, "%s", res.diff_id);
		size = (int64_t)res.size;
		if (asprintf(&nmeta, "%s%s %" PRId64 " %s %s\n", meta, digest, size, diff_id,
		             layer_media_type(b)) < 0)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "cache");
		if (fs_write_file_atomic_at(dfd, "layer", nmeta, strlen(nmeta), 0600, err) < 0)
			return -1;
		has = 1;
	}
	if (has >= 0)
		has = oci_layout_has_blob(b->cache_layout, digest, &e);
	berth_error_free(&e);
	if (has != 1)
		return 0;
	/* used now: `berth-build prune --keep-storage` removes the steps
	 * used longest ago first */
	utimensat(dfd, "layer", NULL, 0);
	if (build_push_layer(s, layer_media_type(b), digest, size, diff_id, b->cache_layout, err) < 0 ||
	    build_strv_push(&s->lowers, &s->n_lowers, upper) < 0 ||
	    build_history(s, b, created_by, false, err) < 0)
		return *err ? -1 : berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "cache");
	memcpy(s->chain, key, sizeof(s->chain));
	return 1;
}

/* 4. and 5.: the step's upper directory becomes a layer. */
static int step_commit(struct builder *b, struct sstate *s, struct step *st, const char *key,
                       const char *created_by, struct copy_reuse *ru, berth_error_t *err)
{
	if (st->merged_fd >= 0)
		close(st->merged_fd);
	st->merged_fd = -1;
	if (st->mounted)
		fsops_umount(st->merged);
	st->mounted = false;
	size_t linked = 0;
	if (ru != NULL && copy_reuse_finish(ru, &linked, err) < 0)
		return -1;
	if (linked > 0)
		build_progress(b, "%zu unchanged files linked from the previous build of the step", linked);

	cleanup_free char *blob_path = NULL;
	if (asprintf(&blob_path, "%s/layer.blob", st->dir) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
	struct layer_diff_result res;
	if (steps_make_layer(b, st->upper, blob_path, &res, err) < 0)
		return -1;

	cleanup_free char *dir = entry_dir(b, key), *final_upper = NULL, *steps = NULL;
	if (dir == NULL || asprintf(&final_upper, "%s/u", dir) < 0 ||
	    asprintf(&steps, "%s/steps", b->cache) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
	bool empty = res.entries == 0;
	char meta[OCI_DIGEST_MAX * 2 + 160];
	if (empty)
		snprintf(meta, sizeof(meta), "empty\n");
	else
		snprintf(meta, sizeof(meta), "%s %" PRIu64 " %s %s\n", res.digest, res.size, res.diff_id,
		         layer_media_type(b));
	const char *lower = st->upper;
	bool keep_tmp = b->o->no_cache;
	if (!b->o->no_cache) {
		/* stages built in parallel may commit the same key: one at a
		 * time, and an entry that is complete by then stays */
		cleanup_free char *lock = NULL;
		if (fs_mkdir_p(steps, 0700, err) < 0)
			return -1;
		if (asprintf(&lock, "%s/lock", steps) < 0)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
		cleanup_close int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (lfd < 0)
			return berth_error_sys(err, errno, "cache lock `%s`", lock);
		while (flock(lfd, LOCK_EX) < 0)
			if (errno != EINTR)
				return berth_error_sys(err, errno, "cache lock `%s`", lock);
		cleanup_close int edfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct stat lsb;
		if (edfd >= 0 && fstatat(edfd, "layer", &lsb, 0) == 0) {
			keep_tmp = true; /* our own upper, kept in tmp, is the lower */
		} else {
			/* a stale entry (no `layer` file) is replaced */
			berth_error_t e = NULL;
			if (fsops_remove(dir, &e) < 0)
				berth_error_free(&e);
			if (mkdir(dir, 0700) < 0)
				return berth_error_sys(err, errno, "cache entry `%s`", dir);
			if (!empty && rename(st->upper, final_upper) < 0)
				return berth_error_sys(err, errno, "cache entry `%s`", dir);
			cleanup_close int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (dfd >= 0 && !empty && ru != NULL && copy_reuse_save(ru, dfd, err) < 0)
				return -1;
			if (dfd < 0 ||
			    fs_write_file_atomic_at(dfd, "layer", meta, strlen(meta), 0600, err) < 0)
				return *err ? -1 : berth_error_sys(err, errno, "cache entry `%s`", dir);
			lower = final_upper;
		}
	}
	if (!empty) {
		if (build_push_layer(s, layer_media_type(b), res.digest, (int64_t)res.size, res.diff_id,
		                     b->cache_layout, err) < 0)
			return -1;
		if (build_strv_push(&s->lowers, &s->n_lowers, lower) < 0)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "layer");
		if (keep_tmp) {
			/* keep the upper: it is a lower now; the step dir goes with tmp */
			free(st->dir);
			st->dir = NULL;
		}
	}
	memcpy(s->chain, key, sizeof(s->chain));
	return build_history(s, b, created_by, empty, err);
}

/* ---- bases ---- */

int steps_unpack_base(struct builder *b, struct oci_layout *layout, const struct oci_image *img, char **dir,
                      berth_error_t *err)
{
	const char *hex = strchr(img->manifest_desc.digest, ':') + 1;
	cleanup_free char *bases = NULL, *final = NULL, *tmp = NULL;
	if (asprintf(&bases, "%s/bases", b->cache) < 0 || asprintf(&final, "%s/%.32s", bases, hex) < 0 ||
	    asprintf(&tmp, "%s/base.XXXXXX", b->tmp) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "base");
	struct stat sb;
	if (stat(final, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		utimensat(AT_FDCWD, final, NULL, 0); /* used now (prune.h) */
		*dir = steal_ptr(&final);
		return 0;
	}
	if (fs_mkdir_p(bases, 0700, err) < 0 || mkdtemp(tmp) == NULL)
		return *err ? -1 : berth_error_sys(err, errno, "base `%s`", tmp);
	chmod(tmp, 0755);
	cleanup_close int tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		return berth_error_sys(err, errno, "base `%s`", tmp);
	for (size_t i = 0; i < img->manifest->layers_len; i++) {
		const struct oci_descriptor *d = &img->manifest->layers[i];
		cleanup_oci_blob_reader struct oci_blob_reader *rd = NULL;
		if (oci_layout_open_blob(layout, d->digest, d->size, &rd, err) < 0)
			return -1;
		if (layer_apply(oci_blob_reader_fd(rd), tfd, NULL, NULL, err) < 0)
			return berth_error_prefix(err, "layer %s", d->digest);
		/* the content must match its digest */
		if (lseek(oci_blob_reader_fd(rd), 0, SEEK_SET) == 0) {
			char got[OCI_DIGEST_MAX];
			if (oci_digest_fd(OCI_DIGEST_SHA256, oci_blob_reader_fd(rd), got, NULL, err) < 0)
				return -1;
			if (strcmp(got, d->digest) != 0)
				return berth_error_invalid(err, "blob %s: digest mismatch (got %s)",
				                           d->digest, got);
		}
	}
	if (rename(tmp, final) < 0 && errno != ENOTEMPTY && errno != EEXIST)
		return berth_error_sys(err, errno, "base `%s`", final);
	*dir = steal_ptr(&final);
	return 0;
}

int steps_stage_view(struct builder *b, struct sstate *s, const char **dir, berth_error_t *err)
{
	if (s->view != NULL) {
		*dir = s->view;
		return 0;
	}
	if (s->n_lowers == 0) {
		*dir = b->empty;
		return 0;
	}
	if (s->n_lowers == 1) {
		if ((s->view = strdup(s->lowers[0])) == NULL)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "view");
		*dir = s->view;
		return 0;
	}
	if (asprintf(&s->view, "%s/v%u", b->tmp, ++b->counter) < 0) {
		s->view = NULL;
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "view");
	}
	if (mkdir(s->view, 0755) < 0)
		return berth_error_sys(err, errno, "mkdir `%s`", s->view);
	cleanup_free char **lowers = calloc(s->n_lowers + 1, sizeof(char *));
	if (lowers == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "view");
	for (size_t i = 0; i < s->n_lowers; i++)
		lowers[i] = s->lowers[s->n_lowers - 1 - i];
	if (fsops_overlay_mount(lowers, s->n_lowers, NULL, NULL, b->empty, s->view, err) < 0)
		return -1;
	s->view_mounted = true;
	*dir = s->view;
	return 0;
}

/* ---- RUN ---- */

static char *path_join_clean(const char *base, const char *p)
{
	cleanup_free char *joined = NULL;
	char out[4096];
	if (asprintf(&joined, "%s/%s", *p == '/' ? "" : (base ? base : ""), p) < 0)
		return NULL;
	int r = layer_clean_path(joined, out + 1, sizeof(out) - 1);
	if (r < 0)
		return NULL;
	out[0] = '/';
	return strdup(out);
}

/* The shell script of a RUN in shell form, heredocs included. */
static char *run_script(const struct df_instr *in)
{
	const char *cmd = in->cmd[0];
	char *s = NULL;
	if (in->n_files == 0)
		return strdup(cmd);
	/* `RUN <<EOF` alone: the heredoc is the script */
	const char *p = cmd;
	while (*p == ' ' || *p == '\t')
		p++;
	if (in->n_files == 1 && strncmp(p, "<<", 2) == 0 && strpbrk(p, " \t") == NULL)
		return strdup(in->files[0].data);
	/* otherwise the shell reads the heredocs itself */
	size_t len = strlen(cmd) + 2;
	for (size_t i = 0; i < in->n_files; i++)
		len += strlen(in->files[i].data) + strlen(in->files[i].name) + 2;
	if ((s = malloc(len)) == NULL)
		return NULL;
	size_t off = (size_t)snprintf(s, len, "%s\n", cmd);
	for (size_t i = 0; i < in->n_files; i++)
		off += (size_t)snprintf(s + off, len - off, "%s%s\n", in->files[i].data, in->files[i].name);
	return s;
}

static int run_argv(const struct sstate *s, const struct df_instr *in, char ***argv)
{
	const struct oci_image_exec_config *c = s->cfg->config;
	size_t n = 0;
	if ((*argv = calloc(1, sizeof(char *))) == NULL)
		return -1;
	if (!in->shell_form) {
		for (size_t i = 0; in->cmd[i]; i++)
			if (build_strv_push(argv, &n, in->cmd[i]) < 0)
				return -1;
		return 0;
	}
	if (c->shell_len > 0) {
		for (size_t i = 0; i < c->shell_len; i++)
			if (build_strv_push(argv, &n, c->shell[i]) < 0)
				return -1;
	} else if (build_strv_push(argv, &n, "/bin/sh") < 0 || build_strv_push(argv, &n, "-c") < 0) {
		return -1;
	}
	cleanup_free char *script = run_script(in);
	return script == NULL ? -1 : build_strv_push(argv, &n, script);
}

/* The image's Env plus the ARGs in scope that Env does not set. */
static int run_env(const struct sstate *s, char ***env)
{
	const struct oci_image_exec_config *c = s->cfg->config;
	size_t n = 0;
	if ((*env = calloc(1, sizeof(char *))) == NULL)
		return -1;
	for (size_t i = 0; i < c->env_len; i++)
		if (build_strv_push(env, &n, c->env[i]) < 0)
			return -1;
	for (size_t i = 0; i < s->args.n; i++) {
		bool shadowed = false;
		size_t kl = strlen(s->args.keys[i]);
		for (size_t k = 0; k < c->env_len && !shadowed; k++)
			shadowed = strncmp(c->env[k], s->args.keys[i], kl) == 0 && c->env[k][kl] == '=';
		if (shadowed)
			continue;
		cleanup_free char *kv = NULL;
		if (asprintf(&kv, "%s=%s", s->args.keys[i], s->args.values[i]) < 0 ||
		    build_strv_push(env, &n, kv) < 0)
			return -1;
	}
	return 0;
}

static char *cmd_text(const struct df_instr *in)
{
	if (in->shell_form)
		return strdup(in->cmd[0]);
	size_t len = 1;
	for (size_t i = 0; in->cmd[i]; i++)
		len += strlen(in->cmd[i]) + 1;
	char *s = calloc(1, len);
	for (size_t i = 0; s != NULL && in->cmd[i]; i++) {
		if (i)
			strncat(s, " ", len - strlen(s) - 1);
		strncat(s, in->cmd[i], len - strlen(s) - 1);
	}
	return s;
}

int steps_run(struct builder *b, size_t stage, struct sstate *s, const struct df_instr *in,
              berth_error_t *err)
{
	const struct oci_image_exec_config *c = s->cfg->config;
	cleanup_strv char **argv = NULL, **env = NULL;
	cleanup_free char *text = cmd_text(in), *by = NULL, *argtext = NULL;
	bool host_net = in->network != NULL && strcmp(in->network, "host") == 0;
	const char *cwd = c->working_dir != NULL && *c->working_dir ? c->working_dir : "/";
	char key[OCI_DIGEST_MAX];
	struct step st = {.merged_fd = -1};
	struct run_mounts rm = {0};
	struct mount_point *mps = NULL;
	cleanup_free const char **targets = NULL;
	size_t n_mps = 0;
	int status = 0, r = -1;
	struct progress_step ps = {0};
	cleanup_close int out_fd = -1;
	if (in->security != NULL && strcmp(in->security, "sandbox") != 0)
		return build_fail(b, in, err, "RUN --security=%s is not supported", in->security);
	if (text == NULL || run_argv(s, in, &argv) < 0 || run_env(s, &env) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "RUN");
	/* history as BuildKit writes it */
	size_t alen = 1;
	for (size_t i = 0; argv[i]; i++)
		alen += strlen(argv[i]) + 1;
	if ((argtext = calloc(1, alen)) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "RUN");
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			strncat(argtext, " ", alen - strlen(argtext) - 1);
		strncat(argtext, argv[i], alen - strlen(argtext) - 1);
	}
	if (asprintf(&by, "RUN %s # buildkit", argtext) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "RUN");

	/* 1. */
	progress_step_begin(b->progress, &ps, "%s:%d: RUN %s", b->df_name, in->pos.line, text);
	struct oci_hasher *h = oci_hasher_new(OCI_DIGEST_SHA256, err);
	if (h == NULL) {
		progress_step_end(b->progress, &ps, false);
		return -1;
	}
	key_parent(b, h, s->chain);
	key_addv(h, "RUN", argv);
	key_addv(h, "env", env);
	key_add(h, "user", c->user);
	key_add(h, "cwd", cwd);
	key_add(h, "network", host_net ? "host" : "none");
	if (run_mounts_prepare(b, stage, in, cwd, h, &rm, err) < 0) {
		oci_hasher_free(h);
		run_mounts_release(&rm);
		progress_step_end(b->progress, &ps, false);
		return build_fail(b, in, err, "RUN `%s`", text);
	}
	oci_hasher_final(h, key);
	oci_hasher_free(h);
	int hit = cache_take(b, s, key, by, err);
	if (hit != 0) {
		/* (returns here: the cleanup variables below are not set yet) */
		run_mounts_release(&rm);
		if (hit > 0)
			progress_step_cached(b->progress, &ps);
		progress_step_end(b->progress, &ps, hit > 0);
		return hit < 0 ? -1 : 0;
	}
	progress_step_run(b->progress, &ps);

	/* 2. and 3. */
	if (step_begin(b, s, &st, err) < 0)
		goto fail;
	uid_t uid = 0;
	gid_t gid = 0;
	if (c->user != NULL && *c->user &&
	    fsops_lookup_user(st.merged_fd, c->user, false, &uid, &gid, err) < 0)
		goto fail;
	bool made;
	int wfd = fsops_mkdir_in_root(st.merged_fd, cwd, 0755, 0, 0, &made, err);
	if (wfd < 0)
		goto fail;
	close(wfd);
	cleanup_free char *id = NULL, *bundle = NULL, *state = NULL, *cgpath = NULL;
	if (asprintf(&id, "berth-build-%d-%u", (int)getpid(), b->counter) < 0 ||
	    asprintf(&bundle, "%s/bundle", st.dir) < 0 || asprintf(&state, "%s/state", b->tmp) < 0 ||
	    asprintf(&cgpath, "/berth-build/%s", id) < 0) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "RUN");
		goto fail;
	}
	if (mkdir(bundle, 0700) < 0 || (mkdir(state, 0700) < 0 && errno != EEXIST)) {
		berth_error_sys(err, errno, "RUN: bundle `%s`", bundle);
		goto fail;
	}
	struct run_step rs = {
	    .id = id,
	    .rootfs = st.merged,
	    .bundle = bundle,
	    .state_root = state,
	    .argv = argv,
	    .env = env,
	    .cwd = cwd,
	    .uid = uid,
	    .gid = gid,
	    .host_network = host_net,
	    .cgroups_path = cgpath,
	    .mounts = rm.v,
	    .n_mounts = rm.n,
	};
	/* secrets as variables: in the process's environment only */
	size_t n_env = 0;
	while (env[n_env])
		n_env++;
	for (size_t i = 0; i < rm.n_env; i++)
		if (build_strv_push(&env, &n_env, rm.env[i]) < 0) {
			berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "RUN");
			goto fail;
		}
	rs.env = env;
	targets = calloc(rm.n + 1, sizeof(char *));
	if (targets == NULL) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "RUN");
		goto fail;
	}
	for (size_t i = 0; i < rm.n; i++)
		targets[i] = rm.v[i].destination;
	n_mps = rm.n;
	if (mount_points_record(st.merged_fd, targets, rm.n, &mps, err) < 0)
		goto fail;
	/* the runtime makes its mount points in the rootfs: those that the
	 * image lacked are not part of the layer */
	static const char *const mountpoints[] = {"proc", "sys", "dev", NULL};
	bool existed[3];
	for (size_t i = 0; mountpoints[i]; i++) {
		struct stat msb;
		existed[i] = fstatat(st.merged_fd, mountpoints[i], &msb, AT_SYMLINK_NOFOLLOW) == 0;
	}
	if ((out_fd = progress_step_output(b->progress, &ps, err)) < 0)
		goto fail;
	rs.output_fd = out_fd;
	if (run_step_exec(&rs, &status, err) < 0)
		goto fail;
	close(out_fd);
	out_fd = -1;
	close(st.merged_fd);
	st.merged_fd = -1;
	fsops_umount(st.merged);
	st.mounted = false;
	for (size_t i = 0; mountpoints[i]; i++) {
		cleanup_free char *mp = NULL;
		berth_error_t e = NULL;
		if (existed[i] || asprintf(&mp, "%s/%s", st.upper, mountpoints[i]) < 0)
			continue;
		if (fsops_remove(mp, &e) < 0)
			berth_error_free(&e);
	}
	mount_points_clean(st.upper, mps, n_mps);
	if (status != 0) {
		berth_error_set(err, BERTH_ERR_INVALID, 0, "%s:%d: RUN `%s`: exit status %d", b->df_name,
		                in->pos.line, text, status);
		goto out;
	}
	/* 4. and 5. */
	if (step_commit(b, s, &st, key, by, NULL, err) < 0)
		goto fail;
	r = 0;
	goto out;
fail:
	build_fail(b, in, err, "RUN `%s`", text);
out:
	progress_step_end(b->progress, &ps, r == 0);
	step_release(&st);
	run_mounts_release(&rm);
	mount_points_free(mps, n_mps);
	return r;
}

/* ---- COPY, ADD ---- */

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

struct matches {
	char **v;
	size_t n;
};

/* Matches the pattern's components from dir `rel` (relative to the root). */
static int glob_walk(int root_fd, const char *rel, char **comps, size_t nc, struct matches *m,
                     const struct builder *b, bool context, berth_error_t *err)
{
	if (nc == 0) {
		return build_strv_push(&m->v, &m->n, rel) < 0
		           ? berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "glob")
		           : 0;
	}
	int fd = fsops_open_in_root(root_fd, *rel ? rel : "/", O_RDONLY | O_DIRECTORY, err);
	if (fd < 0) {
		berth_error_free(err);
		return 0;
	}
	cleanup_dir DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return berth_error_sys(err, errno, "glob `%s`", rel);
	}
	struct dirent *de;
	char **names = NULL;
	size_t nn = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int r = expand_glob_match(comps[0], de->d_name, strlen(de->d_name), err);
		if (r < 0) {
			strv_free(names);
			return -1;
		}
		if (r && build_strv_push(&names, &nn, de->d_name) < 0) {
			strv_free(names);
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "glob");
		}
	}
	/* sorted: a deterministic order */
	for (size_t i = 1; i < nn; i++)
		for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
			char *t = names[k];
			names[k] = names[k - 1];
			names[k - 1] = t;
		}
	int r = 0;
	for (size_t i = 0; i < nn && r == 0; i++) {
		cleanup_free char *sub = NULL;
		if (asprintf(&sub, "%s%s%s", rel, *rel ? "/" : "", names[i]) < 0) {
			r = berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "glob");
			break;
		}
		if (context && b->has_di) {
			int ex = dockerignore_matches(&b->di, sub, err);
			if (ex < 0) {
				r = -1;
				break;
			}
			if (ex && !b->di.has_exceptions)
				continue;
		}
		r = glob_walk(root_fd, sub, comps + 1, nc - 1, m, b, context, err);
	}
	strv_free(names);
	return r;
}

static bool is_archive(int fd)
{
	unsigned char h[512];
	ssize_t n = pread(fd, h, sizeof(h), 0);
	if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
		return true; /* gzip */
	if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
		return true; /* zstd */
	if (n >= 3 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h')
		return true;
	if (n >= 6 && memcmp(h,
	                     "\xfd"
	                     "7zXZ\0",
	                     6) == 0)
		return true;
	return n >= 262 && memcmp(h + 257, "ustar", 5) == 0;
}

/* --chmod: octal into *mode, or symbolic (applied per file) into *sym */
static int parse_chmod(const struct builder *b, const struct df_instr *in, int *mode, const char **sym,
                       berth_error_t *err)
{
	*mode = -1;
	*sym = NULL;
	if (in->chmod == NULL)
		return 0;
	char *end;
	mode_t m2;
	long m = strtol(in->chmod, &end, 8);
	if (*in->chmod >= '0' && *in->chmod <= '9') {
		if (*end != '\0' || m < 0 || m > 07777)
			return build_fail(b, in, err, "invalid chmod parameter: %s", in->chmod);
		*mode = (int)m;
		return 0;
	}
	if (fsops_mode_apply(in->chmod, 0, false, &m2) < 0)
		return build_fail(b, in, err, "invalid chmod parameter: %s", in->chmod);
	*sym = in->chmod;
	return 0;
}

/* COPY <<EOF DEST: the heredoc as a file (0644, root, unless --chown or
 * --chmod say otherwise) */
static int copy_heredoc(int merged_fd, const struct df_inline *f, const char *dest, bool dest_dir,
                        const struct fsops_copy_opts *co, berth_error_t *err)
{
	cleanup_free char *path = NULL, *parent = NULL;
	if (dest_dir ? asprintf(&path, "%s/%s", dest, f->name) < 0 : (path = strdup(dest)) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "heredoc");
	const char *slash = strrchr(path, '/');
	if ((parent = strndup(path, (size_t)(slash - path))) == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "heredoc");
	uid_t uid = co->uid == (uid_t)-1 ? 0 : co->uid;
	gid_t gid = co->gid == (gid_t)-1 ? 0 : co->gid;
	mode_t mode = fsops_copy_mode(co, S_IFREG | 0644);
	size_t len = strlen(f->data);
	if (co->dry) {
		char meta[64];
		snprintf(meta, sizeof(meta), "%o %u %u", (unsigned)mode, (unsigned)uid, (unsigned)gid);
		oci_hasher_update(co->hash, "heredoc", 8);
		oci_hasher_update(co->hash, path, strlen(path) + 1);
		oci_hasher_update(co->hash, meta, strlen(meta) + 1);
		oci_hasher_update(co->hash, f->data, len + 1);
		return 0;
	}
	int pfd = fsops_mkdir_in_root(merged_fd, *parent ? parent : "/", 0755, uid, gid, NULL, err);
	if (pfd < 0)
		return -1;
	cleanup_close int pfd_c = pfd;
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", pfd);
	cleanup_close int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_error_sys(err, errno, "heredoc `%s`", f->name);
	if (unlinkat(dfd, slash + 1, 0) < 0 && errno != ENOENT)
		return berth_error_sys(err, errno, "heredoc `%s`: replace `%s`", f->name, path);
	cleanup_close int out =
	    openat(dfd, slash + 1, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0 || fs_write_all(out, f->data, len) < 0 || fchown(out, uid, gid) < 0 ||
	    fchmod(out, mode) < 0)
		return berth_error_sys(err, errno, "heredoc `%s` to `%s`", f->name, path);
	return 0;
}

/* An fd of what the O_PATH fd `fd` names, opened with flags. */
static int reopen(int fd, int flags)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return open(p, flags | O_CLOEXEC);
}

int steps_mkdir_open(int root_fd, const char *path, uid_t uid, gid_t gid, berth_error_t *err)
{
	int pfd = fsops_mkdir_in_root(root_fd, path, 0755, uid, gid, NULL, err);
	if (pfd < 0)
		return -1;
	int fd = reopen(pfd, O_RDONLY | O_DIRECTORY);
	close(pfd);
	if (fd < 0)
		return berth_error_sys(err, errno, "open `%s`", path);
	return fd;
}

/* Copies one source (a match, relative to the source root) to dest; with
 * co->dry, only hashes what the copy would take (merged_fd unused). */
static int copy_one(struct builder *b, const struct df_instr *in, int src_root, const char *src, bool context,
                    int merged_fd, const char *dest, bool dest_dir, const struct fsops_copy_opts *co,
                    berth_error_t *err)
{
	(void)b;
	int sfd = fsops_open_in_root(src_root, src, O_PATH, err);
	if (sfd < 0)
		return -1;
	cleanup_close int sfd_c = sfd;
	struct stat sb;
	if (fstat(sfd, &sb) < 0)
		return berth_error_sys(err, errno, "stat `%s`", src);
	if (co->exclude != NULL && *src != '\0') {
		/* --exclude: the match by its name */
		const char *bn = strrchr(src, '/');
		int ex = dockerignore_matches(co->exclude, bn ? bn + 1 : src, err);
		if (ex != 0)
			return ex < 0 ? -1 : 0;
	}
	if (co->hash != NULL) {
		oci_hasher_update(co->hash, "src", 4);
		oci_hasher_update(co->hash, src, strlen(src) + 1);
	}
	uid_t duid = co->uid == (uid_t)-1 ? 0 : co->uid;
	gid_t dgid = co->gid == (gid_t)-1 ? 0 : co->gid;
	if (S_ISDIR(sb.st_mode)) {
		/* a directory: its contents into dest */
		cleanup_close int wdfd = -1;
		if (!co->dry && (wdfd = steps_mkdir_open(merged_fd, dest, duid, dgid, err)) < 0)
			return -1;
		cleanup_close int rsfd = reopen(sfd, O_RDONLY | O_DIRECTORY);
		if (rsfd < 0)
			return berth_error_sys(err, errno, "copy `%s`", src);
		struct fsops_copy_opts o2 = *co;
		if (!context)
			o2.ignore = NULL;
		o2.exclude_base = src;
		return fsops_copy_contents(rsfd, src, wdfd, &o2, err);
	}
	if (in->kind == DF_ADD && S_ISREG(sb.st_mode) && !(in->unpack_set && !in->unpack)) {
		cleanup_close int afd = reopen(sfd, O_RDONLY);
		if (afd >= 0 && is_archive(afd)) {
			/* ADD of a local archive: extracted into dest */
			if (co->dry) {
				char d[OCI_DIGEST_MAX];
				if (fsops_file_digest(co, sfd, "", d, err) < 0)
					return berth_error_prefix(err, "ADD `%s`", src);
				oci_hasher_update(co->hash, d, strlen(d) + 1);
				return 0;
			}
			cleanup_close int wdfd = steps_mkdir_open(merged_fd, dest, 0, 0, err);
			if (wdfd < 0)
				return -1;
			if (layer_apply(afd, wdfd, NULL, NULL, err) < 0)
				return berth_error_prefix(err, "ADD `%s`", src);
			return 0;
		}
	}
	/* a file: into dest/ or as dest */
	cleanup_free char *parent = NULL, *name = NULL;
	const char *base = strrchr(src, '/');
	base = base ? base + 1 : src;
	if (dest_dir) {
		parent = strdup(dest);
		name = strdup(base);
	} else {
		const char *slash = strrchr(dest, '/');
		parent = strndup(dest, (size_t)(slash - dest));
		name = strdup(slash + 1);
	}
	if (parent == NULL || name == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy");
	cleanup_close int wpfd = -1;
	if (!co->dry && (wpfd = steps_mkdir_open(merged_fd, *parent ? parent : "/", duid, dgid, err)) < 0)
		return -1;
	/* the source's own name: copy from its parent directory */
	cleanup_free char *sparent = NULL;
	const char *sl = strrchr(src, '/');
	sparent = sl ? strndup(src, (size_t)(sl - src)) : strdup("/");
	if (sparent == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "copy");
	int spfd = fsops_open_in_root(src_root, *sparent ? sparent : "/", O_RDONLY | O_DIRECTORY, err);
	if (spfd < 0)
		return -1;
	cleanup_close int spfd_c = spfd;
	/* a symlink named as a source is followed (inside the root) */
	struct stat lsb;
	if (fstatat(spfd, base, &lsb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lsb.st_mode)) {
		uid_t uid = co->uid == (uid_t)-1 ? sb.st_uid : co->uid;
		gid_t gid = co->gid == (gid_t)-1 ? sb.st_gid : co->gid;
		mode_t mode = fsops_copy_mode(co, sb.st_mode);
		if (co->dry) {
			char d[OCI_DIGEST_MAX], meta[64];
			if (fsops_file_digest(co, sfd, "", d, err) < 0)
				return berth_error_prefix(err, "copy `%s`", src);
			snprintf(meta, sizeof(meta), "%o %o %u %u", (unsigned)(sb.st_mode & S_IFMT),
			         (unsigned)mode, (unsigned)uid, (unsigned)gid);
			oci_hasher_update(co->hash, meta, strlen(meta) + 1);
			oci_hasher_update(co->hash, d, strlen(d) + 1);
			return 0;
		}
		cleanup_close int rfd = reopen(sfd, O_RDONLY);
		if (rfd < 0)
			return berth_error_sys(err, errno, "copy `%s`", src);
		cleanup_close int out =
		    openat(wpfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			return berth_error_sys(err, errno, "copy `%s`", src);
		char buf[65536];
		ssize_t n;
		while ((n = read(rfd, buf, sizeof(buf))) > 0)
			if (fs_write_all(out, buf, (size_t)n) < 0)
				return berth_error_sys(err, errno, "copy `%s`", src);
		if (n < 0 || fchown(out, uid, gid) < 0 || fchmod(out, mode) < 0)
			return berth_error_sys(err, errno, "copy `%s`", src);
		return 0;
	}
	struct fsops_copy_opts o2 = *co;
	o2.ignore = NULL;  /* the match was checked already */
	o2.exclude = NULL; /* (by its name) */
	return fsops_copy(spfd, base, src, wpfd, name, &o2, err);
}

/* Every match and heredoc of a COPY/ADD to dest (or, with co->dry, into
 * the hash only). */
static int copy_all(struct builder *b, const struct df_instr *in, int src_root, const struct matches *m,
                    bool context, int merged_fd, const char *dest, bool dest_dir,
                    const struct fsops_copy_opts *co, berth_error_t *err)
{
	bool many = dest_dir || m->n + in->n_files > 1;
	for (size_t i = 0; i < m->n; i++) {
		cleanup_free char *pdest = NULL;
		const char *d = dest;
		if (in->parents && *m->v[i] != '\0') {
			/* --parents: the source's directories (a directory source
			 * itself too) are kept below dest */
			struct stat psb;
			int pfd = fsops_open_in_root(src_root, m->v[i], O_PATH, err);
			if (pfd < 0)
				return -1;
			bool isdir = fstat(pfd, &psb) == 0 && S_ISDIR(psb.st_mode);
			close(pfd);
			const char *sl = strrchr(m->v[i], '/');
			int plen = isdir ? (int)strlen(m->v[i]) : sl ? (int)(sl - m->v[i]) : 0;
			if (plen > 0 && asprintf(&pdest, "%s/%.*s", dest, plen, m->v[i]) < 0) {
				pdest = NULL;
				return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "COPY");
			}
			d = pdest != NULL ? pdest : dest;
		}
		if (copy_one(b, in, src_root, m->v[i], context, merged_fd, d, many || in->parents, co, err) <
		    0)
			return -1;
	}
	for (size_t i = 0; i < in->n_files; i++)
		if (copy_heredoc(merged_fd, &in->files[i], dest, many, co, err) < 0)
			return -1;
	return 0;
}

/* The stat cache of file digests, beside the layer cache. */
static int open_digests(struct builder *b, berth_error_t *err)
{
	cleanup_free char *path = NULL;
	if (asprintf(&path, "%s/statcache", b->cache) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stat cache");
	return statcache_open(path, &b->digests, err);
}

/* What a COPY's key has but the sources' content: the previous build of
 * the step is found by it (copy_reuse.h). */
static int prev_key(const struct builder *b, const struct sstate *s, const struct df_instr *in,
                    const char *dest, bool dest_dir, const char *by, char prev[OCI_DIGEST_MAX],
                    berth_error_t *err)
{
	struct oci_hasher *h = oci_hasher_new(OCI_DIGEST_SHA256, err);
	if (h == NULL)
		return -1;
	key_start(b, h, s, in->link);
	key_add(h, "by", by);
	key_add(h, "dest", dest);
	key_add(h, "dest_dir", dest_dir ? "1" : "0");
	key_add(h, "chown", in->chown);
	key_add(h, "chmod", in->chmod);
	key_addv(h, "exclude", in->excludes);
	key_add(h, "parents", in->parents ? "1" : "0");
	oci_hasher_final(h, prev);
	oci_hasher_free(h);
	return 0;
}

int steps_copy(struct builder *b, size_t stage, struct sstate *s, const struct df_instr *in,
               berth_error_t *err)
{
	const char *kind = in->kind == DF_ADD ? "ADD" : "COPY";
	const struct oci_image_exec_config *c = s->cfg->config;
	struct step st = {.merged_fd = -1};
	struct matches m = {0};
	cleanup_free char *dest = NULL, *by = NULL, *srcs_text = NULL;
	cleanup_close int from_fd = -1;
	bool context = in->from == NULL;
	int src_root = b->ctx_fd;
	struct urls dls = {0};
	struct progress_step ps = {0};
	char key[OCI_DIGEST_MAX];
	int r = -1;
	struct oci_hasher *h = NULL;
	struct copy_reuse *ru = NULL;
	struct fsops_reuse hooks;
	char prev[OCI_DIGEST_MAX];

	__attribute__((cleanup(dockerignore_free))) struct dockerignore excl = {0};
	bool has_excl = in->excludes != NULL && in->excludes[0] != NULL;
	/* --link: the copy is made on an empty directory (step_detach), its
	 * key has no parent (key_start), and its layer goes on top of the
	 * stage's (chain_link) */
	bool link = in->link;
	char parent_chain[OCI_DIGEST_MAX];
	memcpy(parent_chain, s->chain, sizeof(parent_chain));
	if (has_excl) {
		size_t el = 1;
		for (size_t i = 0; in->excludes[i]; i++)
			el += strlen(in->excludes[i]) + 1;
		cleanup_free char *etext = calloc(1, el);
		size_t off = 0;
		if (etext == NULL)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "%s", kind);
		for (size_t i = 0; in->excludes[i]; i++)
			off += (size_t)snprintf(etext + off, el - off, "%s\n", in->excludes[i]);
		if (dockerignore_parse(&excl, etext, off, err) < 0)
			return build_fail(b, in, err, "%s --exclude", kind);
	}
	size_t n_urls = 0;
	for (size_t i = 0; in->srcs[i]; i++) {
		if (fetch_is_url(in->srcs[i]) && in->kind == DF_COPY)
			return build_fail(b, in, err, "source can't be a URL for COPY: %s", in->srcs[i]);
		if (fetch_is_url(in->srcs[i]))
			n_urls++;
		else if (strncmp(in->srcs[i], "git@", 4) == 0 || strncmp(in->srcs[i], "git://", 6) == 0)
			return build_fail(b, in, err, "%s of a git repository is not supported: `%s`", kind,
			                  in->srcs[i]);
		else if (in->checksum != NULL)
			return build_fail(b, in, err,
			                  "checksum can't be specified for non-HTTP(S) sources: %s",
			                  in->srcs[i]);
	}
	int mode;
	const char *chmod_sym;
	if (parse_chmod(b, in, &mode, &chmod_sym, err) < 0)
		return -1;

	/* the source root: the context, a stage, an image */
	if (!context) {
		long si = df_stage_lookup(&b->df, in->from, stage);
		const char *dir = NULL;
		cleanup_free char *idir = NULL;
		if (si >= 0) {
			if (!b->st[si].built)
				return build_fail(b, in, err, "%s --from=%s: the stage is not built", kind,
				                  in->from);
			if (steps_stage_view(b, &b->st[si], &dir, err) < 0)
				return build_fail(b, in, err, "%s --from=%s", kind, in->from);
		} else {
			struct oci_layout *l = NULL;
			struct oci_image *img = NULL;
			if (build_find_image(b, in->from, &l, &img, err) < 0)
				return build_fail(b, in, err, "%s --from=%s", kind, in->from);
			if (img == NULL)
				return build_fail(
				    b, in, err,
				    "%s --from=%s: no such stage, and no build context names that image",
				    kind, in->from);
			if (img->manifest->layers_len == 0)
				dir = b->empty;
			else if (steps_unpack_base(b, l, img, &idir, err) < 0)
				return build_fail(b, in, err, "%s --from=%s", kind, in->from);
			else
				dir = idir;
		}
		from_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (from_fd < 0)
			return build_fail(b, in, err, "%s --from=%s: open `%s`: %s", kind, in->from, dir,
			                  strerror(errno));
		src_root = from_fd;
	}

	/* the sources: cleaned, inside the root, globs expanded */
	size_t n_srcs = 0;
	for (size_t i = 0; in->srcs[i]; i++, n_srcs++) {
		char clean[4096];
		if (fetch_is_url(in->srcs[i]))
			continue; /* downloaded below */
		int cr = layer_clean_path(in->srcs[i], clean, sizeof(clean));
		if (cr < 0 && errno == EXDEV) {
			build_fail(b, in, err, "%s %s: the path is outside the %s", kind, in->srcs[i],
			           context ? "build context" : "source image");
			goto out;
		}
		if (cr < 0) {
			build_fail(b, in, err, "%s %s: path too long", kind, in->srcs[i]);
			goto out;
		}
		size_t before = m.n;
		if (has_glob(clean)) {
			cleanup_free char *pc = strdup(clean);
			char *comps[256];
			size_t nc = 0;
			char *save = NULL;
			for (char *t = strtok_r(pc, "/", &save); t && nc < 256;
			     t = strtok_r(NULL, "/", &save))
				comps[nc++] = t;
			if (glob_walk(src_root, "", comps, nc, &m, b, context, err) < 0)
				goto fail;
		} else {
			int ex = 0;
			if (context && b->has_di && cr == 0 &&
			    (ex = dockerignore_matches(&b->di, clean, err)) < 0)
				goto fail;
			struct stat sb;
			int fd = ex ? -1 : fsops_open_in_root(src_root, cr == 1 ? "/" : clean, O_PATH, err);
			if (fd < 0 || fstat(fd, &sb) < 0) {
				if (fd >= 0)
					close(fd);
				berth_error_free(err);
				build_fail(b, in, err, "%s %s: not found%s", kind, in->srcs[i],
				           ex ? " (excluded by .dockerignore)" : "");
				goto out;
			}
			close(fd);
			if (build_strv_push(&m.v, &m.n, cr == 1 ? "" : clean) < 0) {
				berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "COPY");
				goto fail;
			}
		}
		if (m.n == before) {
			build_fail(b, in, err, "%s %s: no source files were specified (nothing matches)",
			           kind, in->srcs[i]);
			goto out;
		}
	}

	/* the destination, relative to WORKDIR */
	size_t dl = strlen(in->dest);
	bool dest_dir = dl > 0 && (in->dest[dl - 1] == '/' || strcmp(in->dest, ".") == 0);
	dest = path_join_clean(c->working_dir != NULL && *c->working_dir ? c->working_dir : "/", in->dest);
	if (dest == NULL) {
		build_fail(b, in, err, "%s: destination `%s` escapes the root", kind, in->dest);
		goto out;
	}
	if (!dest_dir && (m.n + in->n_files + n_urls > 1 || (in->parents && m.n > 0))) {
		build_fail(b, in, err,
		           "When using %s with more than one source file, the destination must be a "
		           "directory and end with a /",
		           kind);
		goto out;
	}

	/* history and key */
	size_t tl = strlen(kind) + strlen(dest) + 32 + (in->from ? strlen(in->from) + 8 : 0);
	for (size_t i = 0; in->srcs[i]; i++)
		tl += strlen(in->srcs[i]) + 1;
	for (size_t i = 0; i < in->n_files; i++)
		tl += strlen(in->files[i].name) + 3;
	if ((srcs_text = calloc(1, tl)) == NULL) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "COPY");
		goto fail;
	}
	for (size_t i = 0; i < in->n_files; i++) {
		strncat(srcs_text, "<<", tl - strlen(srcs_text) - 1);
		strncat(srcs_text, in->files[i].name, tl - strlen(srcs_text) - 1);
		strncat(srcs_text, " ", tl - strlen(srcs_text) - 1);
	}
	for (size_t i = 0; in->srcs[i]; i++) {
		strncat(srcs_text, in->srcs[i], tl - strlen(srcs_text) - 1);
		strncat(srcs_text, " ", tl - strlen(srcs_text) - 1);
	}
	if (asprintf(&by, "%s %s%s%s%s%s # buildkit", kind, in->from ? "--from=" : "",
	             in->from ? in->from : "", in->from ? " " : "", srcs_text, in->dest) < 0) {
		by = NULL;
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "COPY");
		goto fail;
	}
	progress_step_begin(b->progress, &ps, "%s:%d: %s %s%s", b->df_name, in->pos.line, kind, srcs_text,
	                    in->dest);

	/* 2. and 3.: the copy */
	if (step_begin(b, s, &st, err) < 0)
		goto fail;
	struct fsops_copy_opts co = {
	    .uid = context ? 0 : (uid_t)-1,
	    .gid = context ? 0 : (gid_t)-1,
	    .mode = mode,
	    .chmod_sym = chmod_sym,
	    .ignore = context && b->has_di ? &b->di : NULL,
	    .exclude = has_excl ? &excl : NULL,
	};
	/* --chown names are the parent's (as a plain COPY sees them); a
	 * --link key has the ids they resolve to */
	if (in->chown != NULL && fsops_lookup_user(st.merged_fd, in->chown, true, &co.uid, &co.gid, err) < 0)
		goto fail;
	if (link && step_detach(&st, err) < 0)
		goto fail;
	if (!dest_dir && !link) {
		/* an existing directory as the destination takes the files in
		 * (not with --link: it reads nothing of the parent, as in
		 * BuildKit) */
		berth_error_t e = NULL;
		int fd = fsops_open_in_root(st.merged_fd, dest, O_PATH, &e);
		struct stat sb;
		if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode))
			dest_dir = true;
		if (fd >= 0)
			close(fd);
		berth_error_free(&e);
	}
	/* the URLs, downloaded into tmp */
	if (n_urls > 0 && urls_fetch(b, in, dest, dest_dir, &dls, err) < 0)
		goto fail;

	/* 1.: the key, from a walk of the sources that copies nothing and
	 * reads only the files whose stat changed (statcache.h) */
	if ((h = oci_hasher_new(OCI_DIGEST_SHA256, err)) == NULL)
		goto fail;
	for (size_t i = 0; i < dls.n; i++) {
		key_add(h, "url", dls.v[i].url);
		key_add(h, "to", dls.v[i].dest);
		key_add(h, "digest", dls.v[i].res.digest);
		key_add(h, "mtime", dls.v[i].mtime);
	}
	key_start(b, h, s, link);
	if (link && in->chown != NULL) {
		char ids[64];
		snprintf(ids, sizeof(ids), "%u:%u", (unsigned)co.uid, (unsigned)co.gid);
		key_add(h, "chown_ids", ids);
	}
	key_add(h, kind, dest);
	key_add(h, "dest_dir", dest_dir ? "1" : "0");
	key_add(h, "chown", in->chown);
	key_add(h, "chmod", in->chmod);
	key_addv(h, "exclude", in->excludes);
	key_add(h, "parents", in->parents ? "1" : "0");
	if (!b->o->no_cache) {
		co.hash = h;
		co.dry = true;
		if (b->digests == NULL && open_digests(b, err) < 0)
			goto fail;
		co.digests = b->digests;
		if (copy_all(b, in, src_root, &m, context, st.merged_fd, dest, dest_dir, &co, err) < 0)
			goto fail;
		berth_error_t e = NULL;
		if (statcache_save(b->digests, &e) < 0) {
			build_progress(b, "warning: %s", e->msg);
			berth_error_free(&e);
		}
	}
	oci_hasher_final(h, key);
	oci_hasher_free(h);
	h = NULL;

	int hit = cache_take(b, s, key, by, err);
	if (hit < 0)
		goto fail;
	if (hit) {
		if (link && chain_link(s, parent_chain, key, err) < 0)
			goto fail;
		progress_step_cached(b->progress, &ps);
		r = 0;
		goto out;
	}
	progress_step_run(b->progress, &ps);
	co.hash = NULL;
	co.dry = false;
	/* the files the previous build of the step made, where they did not
	 * change (copy_reuse.h) */
	if (!b->o->no_cache && prev_key(b, s, in, dest, dest_dir, by, prev, err) < 0)
		goto fail;
	if (!b->o->no_cache) {
		char old_key[OCI_DIGEST_MAX];
		cleanup_free char *old =
		    copy_reuse_prev_get(b->cache, prev, old_key) ? entry_dir(b, old_key) : NULL;
		if (copy_reuse_new(old, link ? st.upper : st.merged, st.upper, b->digests, &ru, err) < 0)
			goto fail;
		copy_reuse_hooks(ru, &hooks);
		co.reuse = &hooks;
	}
	if (copy_all(b, in, src_root, &m, context, st.merged_fd, dest, dest_dir, &co, err) < 0 ||
	    urls_fetch_deferred(b, in, &dls, err) < 0 || urls_copy(st.merged_fd, &dls, &co, err) < 0)
		goto fail;
	if (step_commit(b, s, &st, key, by, ru, err) < 0 ||
	    (link && chain_link(s, parent_chain, key, err) < 0))
		goto fail;
	if (ru != NULL) {
		berth_error_t e = NULL;
		if (copy_reuse_prev_set(b->cache, prev, key, &e) < 0) {
			build_progress(b, "warning: %s", e->msg);
			berth_error_free(&e);
		}
	}
	r = 0;
	goto out;
fail:
	build_fail(b, in, err, "%s", kind);
out:
	progress_step_end(b->progress, &ps, r == 0);
	if (h != NULL)
		oci_hasher_free(h);
	copy_reuse_free(ru);
	strv_free(m.v);
	urls_free(&dls);
	step_release(&st);
	return r;
}

/* ---- WORKDIR ---- */

int steps_workdir(struct builder *b, struct sstate *s, const struct df_instr *in, berth_error_t *err)
{
	struct oci_image_exec_config *c = s->cfg->config;
	cleanup_free char *path = path_join_clean(c->working_dir, in->value), *by = NULL;
	struct step st = {.merged_fd = -1};
	char key[OCI_DIGEST_MAX];
	int r = -1;
	struct progress_step ps = {0};

	if (path == NULL || asprintf(&by, "WORKDIR %s", path) < 0)
		return build_fail(b, in, err, "WORKDIR %s: invalid path", in->value);
	free(c->working_dir);
	c->working_dir = strdup(path);
	if (c->working_dir == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "WORKDIR");

	struct oci_hasher *h = oci_hasher_new(OCI_DIGEST_SHA256, err);
	if (h == NULL)
		return -1;
	key_parent(b, h, s->chain);
	key_add(h, "WORKDIR", path);
	oci_hasher_final(h, key);
	oci_hasher_free(h);
	progress_step_begin(b->progress, &ps, "%s:%d: WORKDIR %s", b->df_name, in->pos.line, path);
	int hit = cache_take(b, s, key, by, err);
	if (hit != 0) {
		if (hit > 0)
			progress_step_cached(b->progress, &ps);
		progress_step_end(b->progress, &ps, hit > 0);
		return hit < 0 ? -1 : 0;
	}
	progress_step_run(b->progress, &ps);

	if (step_begin(b, s, &st, err) < 0)
		goto fail;
	bool made = false;
	int fd = fsops_mkdir_in_root(st.merged_fd, path, 0755, 0, 0, &made, err);
	if (fd < 0)
		goto fail;
	close(fd);
	if (step_commit(b, s, &st, key, by, NULL, err) < 0)
		goto fail;
	r = 0;
	goto out;
fail:
	build_fail(b, in, err, "WORKDIR %s", path);
out:
	progress_step_end(b->progress, &ps, r == 0);
	step_release(&st);
	return r;
}
