/* RUN --mount: the mounts of a RUN step, as bind (and tmpfs) mounts in the
 * step container's config.json, and the cleanup of the mount points the
 * runtime made in the rootfs for them.
 *
 *  - type=bind: a path of the context (copied, .dockerignore applied, its
 *    content in the cache key), or of a stage or image (`from=`; bound
 *    read-only as it is, or copied for `rw`: writes are discarded);
 *  - type=cache: a directory per id (default: the target) under
 *    <cache-dir>/mounts that outlives the build (and --no-cache);
 *    sharing=shared (flock LOCK_SH), locked (LOCK_EX: one step at a time),
 *    private (a fresh directory while another step holds it); mode/uid/gid
 *    apply when it is made;
 *  - type=tmpfs: a tmpfs (size=);
 *  - type=secret: `--secret id=X,src=FILE|env=VAR` of the command line,
 *    copied into a tmpfs of the step (mode 0400 unless mode=) and bound
 *    read-only at target (default /run/secrets/<id>), or in an env=
 *    variable; only the id and target are in the cache key;
 *  - type=ssh: the ssh agent's socket of `--ssh ID=SOCKET` bound at target
 *    (default /run/buildkit/ssh_agent.N), SSH_AUTH_SOCK naming the first;
 *    the id and target are in the cache key;
 *  - type=cache,from=: a cache made for the first time starts as a copy of
 *    the stage's or image's directory `source`.
 *
 * Mount points: the targets that the image lacked
 * are made by the runtime in the step's upper directory; afterwards the ones
 * still empty are removed from it, with the parents made for them and the
 * copied-up directories left as they were, so they are not in the layer
 * (as BuildKit does). */
#ifndef BERTH_BUILDER_RUN_MOUNTS_H
#define BERTH_BUILDER_RUN_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "build_int.h"
#include "run_step.h"

struct run_mounts {
	struct run_step_mount *v;
	size_t n;
	char *dir; /* <tmp>/r<N>: copies of bind sources, the secrets' tmpfs */
	bool secrets_mounted;
	int *locks; /* flocks of cache mounts, held for the step */
	size_t n_locks;
	char **env; /* secrets as "K=V" */
	size_t n_env;
};

/* Prepares the mounts of RUN `in` of stage `stage`; adds what they mean to
 * the cache key. */
int run_mounts_prepare(struct builder *b, size_t stage, const struct df_instr *in, const char *cwd,
                       struct oci_hasher *key, struct run_mounts *rm, berth_error_t *err);
void run_mounts_release(struct run_mounts *rm);

struct mount_point {
	char **comps; /* the path's components */
	size_t n_comps;
	size_t missing;   /* trailing components that did not exist (0: it did) */
	struct stat *anc; /* anc[i]: the existing directory of components 0..i */
};

/* Records which of the paths exist in the root, before the run. */
int mount_points_record(int root_fd, const char *const *paths, size_t n, struct mount_point **out,
                        berth_error_t *err);
/* Removes from upper what the runtime made for them, when still empty. */
void mount_points_clean(const char *upper, struct mount_point *mp, size_t n);
void mount_points_free(struct mount_point *mp, size_t n);

#endif
