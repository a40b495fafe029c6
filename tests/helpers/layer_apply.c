/* A test driver for oci-spec/layer.c.
 *
 *   layer-apply [--rootless] [--uid-offset N] [--gid-offset N] [--stats] TARGET BLOB...
 *       applies the layer blobs, in order, onto the directory TARGET
 *   layer-apply --diff [--overlay] [--gzip|--zstd] [--sde EPOCH] LOWER|- UPPER OUT
 *       writes the layer from LOWER to UPPER into the file OUT and prints
 *       "<diff_id> <digest> <size>"
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layer.h"

static int fail(berth_error_t *err)
{
	fprintf(stderr, "layer-apply: %s\n", (*err)->msg);
	berth_error_free(err);
	return 1;
}

static int do_diff(int argc, char **argv)
{
	struct layer_diff_options opts = {.size = sizeof(opts)};
	struct layer_diff_result res;
	berth_error_t err = NULL;
	int i = 0, lower = -1, upper, out;

	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--overlay") == 0)
			opts.flags |= LAYER_DIFF_OVERLAY;
		else if (strcmp(argv[i], "--gzip") == 0)
			opts.compression = LAYER_COMPRESSION_GZIP;
		else if (strcmp(argv[i], "--zstd") == 0)
			opts.compression = LAYER_COMPRESSION_ZSTD;
		else if (strcmp(argv[i], "--content") == 0)
			opts.flags |= LAYER_DIFF_COMPARE_CONTENT;
		else if (strcmp(argv[i], "--sde") == 0 && i + 1 < argc) {
			opts.flags |= LAYER_DIFF_SOURCE_DATE_EPOCH;
			opts.source_date_epoch = strtoll(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "layer-apply: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc - i != 3) {
		fprintf(stderr, "usage: layer-apply --diff [options] LOWER|- UPPER OUT\n");
		return 2;
	}
	if (strcmp(argv[i], "-") != 0 && (lower = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror(argv[i]);
		return 1;
	}
	upper = open(argv[i + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	out = open(argv[i + 2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (upper < 0 || out < 0) {
		perror("open");
		return 1;
	}
	if (layer_diff(lower, upper, out, &opts, &res, &err) < 0)
		return fail(&err);
	printf("%s %s %" PRIu64 "\n", res.diff_id, res.digest, res.size);
	return 0;
}

int main(int argc, char **argv)
{
	struct layer_apply_options opts = {.size = sizeof(opts)};
	struct layer_apply_stats st;
	berth_error_t err = NULL;
	int i = 1, stats = 0, target;

	if (argc > 1 && strcmp(argv[1], "--diff") == 0)
		return do_diff(argc - 2, argv + 2);
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--rootless") == 0)
			opts.flags |= LAYER_APPLY_ROOTLESS;
		else if (strcmp(argv[i], "--stats") == 0)
			stats = 1;
		else if (strcmp(argv[i], "--uid-offset") == 0 && i + 1 < argc)
			opts.uid_offset = (uid_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--gid-offset") == 0 && i + 1 < argc)
			opts.gid_offset = (gid_t)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "layer-apply: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc - i < 1) {
		fprintf(stderr, "usage: layer-apply [options] TARGET BLOB...\n");
		return 2;
	}
	target = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (target < 0) {
		perror(argv[i]);
		return 1;
	}
	for (i++; i < argc; i++) {
		int fd = strcmp(argv[i], "-") == 0 ? 0 : open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(argv[i]);
			return 1;
		}
		if (layer_apply(fd, target, &opts, &st, &err) < 0)
			return fail(&err);
		if (fd != 0)
			close(fd);
		if (stats)
			printf("%s: %" PRIu64 " entries, %" PRIu64 " files, %" PRIu64 " dirs, %" PRIu64
			       " symlinks, %" PRIu64 " hardlinks, %" PRIu64 " whiteouts, %" PRIu64
			       " opaque, %" PRIu64 " bytes, %" PRIu64 " skipped\n",
			       argv[i], st.entries, st.files, st.dirs, st.symlinks, st.hardlinks,
			       st.whiteouts, st.opaque_dirs, st.bytes, st.skipped);
	}
	return 0;
}
