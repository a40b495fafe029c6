/* berth-build's executor: a parsed Dockerfile (stages.h) built into an OCI
 * image layout.
 *
 *  - the stages that the target needs, dependencies first, the independent
 *    stages of a level in parallel (a process each, up to one per core);
 *    FROM scratch, a stage, or
 *    an OCI layout named by a build context (`name=oci-layout:///path:tag`,
 *    BuildKit's spelling) or written as `FROM oci-layout:///path:tag`, an
 *    OCI or docker-save archive named by a build context (imported into the
 *    cache's layout), or a -t name of an earlier build in the output layout
 *    (the local store);
 *  - each filesystem step (RUN, COPY, ADD, WORKDIR that makes its directory)
 *    runs on an overlay of the stage's layers (the base image unpacked once
 *    per manifest digest, then one upper directory per earlier step) with a
 *    fresh upper directory, which becomes the step's layer (gzip);
 *  - RUN through libberth (run_step.h), COPY/ADD by copying into the merged
 *    view (fsops.h), the config instructions into the image config, each
 *    with its history entry;
 *  - the layer cache: a step's key is its parent's key, the instruction
 *    after expansion with what it sees (env, user, workdir, shell) and, for
 *    COPY/ADD, a hash of the copied content and metadata; a hit reuses the
 *    layer blob and the upper directory (COPY/ADD --link: made on an empty
 *    directory and keyed without the parent, so reused under a new one);
 *  - the output layout gets the final stage's blobs only at the end (no
 *    partial image on failure), tagged with each -t name.
 */
#ifndef BERTH_BUILDER_BUILD_H
#define BERTH_BUILDER_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "layer.h"
#include "progress.h"
#include "util/error.h"

struct build_options {
	size_t size;                   /* sizeof(struct build_options) */
	const char *dockerfile;        /* path; NULL: CONTEXT/Dockerfile */
	const char *context;           /* the context directory */
	const char *const *tags;       /* NULL-terminated; may be NULL */
	const char *target;            /* NULL: the last stage */
	const char *const *build_args; /* "K=V", NULL-terminated; may be NULL */
	const char *output;            /* the output layout directory */
	/* "name=oci-layout:///path[:tag|@digest]", "name=oci-archive:///path",
	 * "name=docker-archive:///path" */
	const char *const *contexts;
	const char *cache_dir;      /* NULL: the default */
	const char *const *secrets; /* "id=X,src=FILE" or "id=X,env=VAR", for RUN --mount=type=secret */
	const char *const *ssh;     /* "ID=SOCKET" (an ssh agent's), for RUN --mount=type=ssh */
	bool no_cache;              /* neither read nor write the cache */
	bool has_source_date_epoch;
	int64_t source_date_epoch;
	/* no progress lines on stderr (the same as progress = PROGRESS_QUIET) */
	bool quiet;
	/* the output is a tar of the layout (type=oci,dest=FILE.tar) */
	bool output_tar;
	/* of the layers the build makes: LAYER_COMPRESSION_GZIP (AUTO means
	 * that too), _ZSTD or _NONE */
	enum layer_compression compression;
	/* the progress display (progress.h) */
	enum progress_mode progress;
};

struct build_result {
	char manifest_digest[OCI_DIGEST_MAX];
	char config_digest[OCI_DIGEST_MAX];
};

/* The default cache directory: /var/cache/berth-build for root, else
 * $XDG_CACHE_HOME/berth-build or ~/.cache/berth-build (a new string). */
char *build_default_cache_dir(void);

/* Builds; the caller must be in a mount namespace of its own (the overlay
 * mounts are made there). */
int build_run(const struct build_options *o, struct build_result *res, berth_error_t *err);

#endif
