/* A RUN step through libberth: a bundle config.json made from berth's
 * default spec (berth_spec_generate) with the step's process and root, then
 * berth_container_run with the container's stdout and stderr on the
 * builder's stderr and stdin on /dev/null.
 *
 * Differences from BuildKit, on purpose: without --network=host the step
 * gets a new network namespace with no interfaces up (BuildKit's default
 * has network); capabilities are Docker's default set. */
#ifndef BERTH_BUILDER_RUN_STEP_H
#define BERTH_BUILDER_RUN_STEP_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

/* A mount of the step (RUN --mount), after the default spec's. */
struct run_step_mount {
	char *destination; /* absolute, in the container */
	char *type;        /* "bind" or "tmpfs" */
	char *source;
	char *options; /* comma-separated */
};

struct run_step {
	const char *id;         /* container id */
	const char *rootfs;     /* the merged overlay, absolute */
	const char *bundle;     /* a directory for config.json */
	const char *state_root; /* berth's --root for the step */
	char *const *argv;
	char *const *env; /* "K=V" */
	const char *cwd;
	uid_t uid;
	gid_t gid;
	bool host_network;
	const char *cgroups_path;
	const struct run_step_mount *mounts;
	size_t n_mounts;
	int output_fd; /* the process's stdout and stderr */
};

/* Runs the step; *status gets the exit status (128+N for signal N). */
int run_step_exec(const struct run_step *rs, int *status, berth_error_t *err);

#endif
