/* Internals shared by build.c (stages, bases, image config, output) and
 * steps.c (the filesystem steps and the layer cache). */
#ifndef BERTH_BUILDER_BUILD_INT_H
#define BERTH_BUILDER_BUILD_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "build.h"
#include "dockerignore.h"
#include "image_spec.h"
#include "layout.h"
#include "progress.h"
#include "stages.h"
#include "statcache.h"

/* A layer of an image being built: its blob lives in `src`. */
struct blayer {
	char *media_type;
	char digest[OCI_DIGEST_MAX];
	int64_t size;
	struct oci_layout *src; /* borrowed */
};

struct sstate {
	bool built;
	struct oci_image_config *cfg; /* cfg->config always set */
	struct blayer *layers;
	size_t n_layers;
	char **lowers; /* directories, bottom first */
	size_t n_lowers;
	char chain[OCI_DIGEST_MAX]; /* the cache key of the last layer step */
	bool cmd_set;               /* CMD given in this stage */
	struct expand_vars args;    /* ARGs in scope (for RUN's environment) */
	char *view;                 /* a read-only merged view for COPY --from */
	bool view_mounted;
};

/* A named build context: an OCI layout and a reference in it (an archive's
 * image is imported into the cache's layout, which it then borrows). */
struct bcontext {
	char *name;
	char *path;
	char *ref;
	struct oci_layout *layout;
	bool borrowed;
};

struct builder {
	const struct build_options *o;
	struct df_dockerfile df;
	char *df_name; /* the Dockerfile's name for messages ("Dockerfile") */
	struct dockerignore di;
	bool has_di;
	int ctx_fd;
	int lock_fd;      /* flock of <cache>/lock, held for the build */
	pid_t reaper;     /* cleans up should this build be killed (reaper.h) */
	char *cache;      /* the cache directory */
	bool cache_owned; /* a temporary one (--no-cache): removed at the end */
	char *tmp;        /* this build's directory (inside cache/tmp) */
	char *empty;      /* an empty directory (an overlay without lowers) */
	struct oci_layout *cache_layout;
	struct oci_layout *store; /* the output layout, when it exists: the local store */
	bool store_tried;
	struct bcontext *ctxs;
	size_t n_ctxs;
	struct oci_image **images; /* resolved base images, freed at the end */
	size_t n_images;
	struct sstate *st;
	unsigned counter;
	char created[64]; /* RFC 3339 */
	/* file digests by stat (statcache.h), opened by the first COPY */
	struct statcache *digests;
	struct progress *progress; /* NULL until opened */
};

/* steps.c */
int steps_run(struct builder *b, size_t stage, struct sstate *s, const struct df_instr *in,
              berth_error_t *err);
int steps_copy(struct builder *b, size_t stage, struct sstate *s, const struct df_instr *in,
               berth_error_t *err);
int steps_workdir(struct builder *b, struct sstate *s, const struct df_instr *in, berth_error_t *err);
/* The root directory of an image (unpacked into the cache once). */
int steps_unpack_base(struct builder *b, struct oci_layout *layout, const struct oci_image *img, char **dir,
                      berth_error_t *err);
/* mkdir -p in the root (new directories 0755 uid:gid); the directory
 * opened for reading. */
int steps_mkdir_open(int root_fd, const char *path, uid_t uid, gid_t gid, berth_error_t *err);

/* layer_make.c: the upper directory as a layer blob in the build's
 * compression (written to blob_path, then renamed into the cache's layout
 * unless it has no entries). */
int steps_make_layer(struct builder *b, const char *upper, const char *blob_path,
                     struct layer_diff_result *res, berth_error_t *err);

/* A read-only view of a built stage for COPY --from. */
int steps_stage_view(struct builder *b, struct sstate *s, const char **dir, berth_error_t *err);

/* build.c */
/* Resolves an image by FROM/--from name: a build context or an
 * oci-layout:// reference; NULL *img (no error) when the name is neither. */
int build_find_image(struct builder *b, const char *name, struct oci_layout **layout, struct oci_image **img,
                     berth_error_t *err);
int build_history(struct sstate *s, const struct builder *b, const char *created_by, bool empty,
                  berth_error_t *err);
int build_push_layer(struct sstate *s, const char *media_type, const char *digest, int64_t size,
                     const char *diff_id, struct oci_layout *src, berth_error_t *err);
int build_strv_push(char ***v, size_t *len, const char *s);
/* "Dockerfile:LINE" prefix */
int build_fail(const struct builder *b, const struct df_instr *in, berth_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void build_progress(const struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
