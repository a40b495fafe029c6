/* ADD <url>: an ADD's http(s) sources, downloaded into the build's
 * directory before the step's key is computed (the key has each URL's
 * destination, content digest and Last-Modified), then copied into the
 * step's root (mode 0600 or --chmod, root or --chown, the mtime from
 * Last-Modified, never extracted).
 *
 * With --checksum, a download is recorded in <cache>/urls (the content
 * digest and mtime, by URL and checksum): a later build takes the key's
 * parts from the record and downloads only if the step misses the cache. */
#ifndef BERTH_BUILDER_ADD_URL_H
#define BERTH_BUILDER_ADD_URL_H

#include <stdbool.h>

#include "build_int.h"
#include "fetch.h"
#include "fsops.h"

struct url_src {
	const char *url;
	char *tmp;  /* the download */
	char *dest; /* the file's path in the image */
	char mtime[24];
	struct fetch_result res;
	bool deferred; /* res from the record of an earlier download: fetched on a cache miss only */
};

struct urls {
	struct url_src *v;
	size_t n;
};

/* Downloads (or finds the record of) every URL source of the ADD into u; a
 * destination ending in / takes the name the URL's path ends with. */
int urls_fetch(struct builder *b, const struct df_instr *in, const char *dest, bool dest_dir, struct urls *u,
               berth_error_t *err);
/* On a cache miss: the downloads that records stood in for. */
int urls_fetch_deferred(struct builder *b, const struct df_instr *in, struct urls *u, berth_error_t *err);
/* The downloads into the step's root. */
int urls_copy(int merged_fd, const struct urls *u, const struct fsops_copy_opts *co, berth_error_t *err);
void urls_free(struct urls *u);

#endif
