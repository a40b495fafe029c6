/* berth-build prune: what a cache directory keeps that nothing needs.
 *
 * The cache (build.h) holds, besides the RUN cache mounts (`mounts/`):
 *   steps/KEY/      a cached step: `layer` (its blobs' digests) and `u/`
 *                   (its upper directory, a lower of later steps)
 *   layout/         an OCI layout: the steps' layer blobs, and the images
 *                   of imported archives (from its index.json)
 *   gz/             gzip members by chunk: references into layer blobs
 *   bases/MANIFEST/ base images unpacked once
 *   statcache, urls/ file digests by stat, ADD --checksum records
 *
 * Under the cache's lock (a running build is waited for):
 *   1. with keep_storage: the steps and bases used longest ago are removed
 *      (a step's `layer` file is touched when it is a hit, a base's
 *      directory when it is used) until the cache's size is at most that;
 *      with all: every step, base, blob, member, record, the statcache and
 *      the cache mounts
 *   2. the blobs of the layout that no step and no image of its index.json
 *      references; the gzip members whose blob is gone (and the copies
 *      that older builds kept); step entries without a `layer` file; the
 *      directories of builds that were killed */
#ifndef BERTH_BUILDER_PRUNE_H
#define BERTH_BUILDER_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

struct prune_options {
	size_t size;       /* sizeof(struct prune_options) */
	const char *cache; /* the cache directory */
	bool has_keep_storage;
	uint64_t keep_storage; /* bytes */
	bool all;
};

struct prune_result {
	unsigned steps, bases, blobs, members;
	uint64_t before, after; /* the cache's size in bytes (allocated blocks) */
};

int prune_run(const struct prune_options *o, struct prune_result *res, berth_error_t *err);

/* "512M", "10GiB", "1000000" (bytes); -1 when it is not a size. */
int prune_parse_size(const char *s, uint64_t *out);

#endif
