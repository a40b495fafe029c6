/* The state directory of a container: <root>/<id>/
 *
 *   state.json   what `create` recorded (init pid and its start time, bundle,
 *                rootfs, created, owner, cgroup, and without a mount namespace
 *                of its own the mount under its mounts); written atomically
 *   config.json  the config the container was created with (later changes to
 *                the bundle's config.json do not affect it, as the spec asks)
 *   exec.fifo    present from create until start: init blocks opening it
 *
 * The directory itself is the per-container lock (flock): commands that
 * change a container hold it; `state` and `list` read without it.
 */
#ifndef BERTH_STATE_H
#define BERTH_STATE_H

#include <stdbool.h>
#include <sys/types.h>

#include "berth/berth.h"
#include "runtime_spec.h"

enum container_status {
	STATUS_CREATING,
	STATUS_CREATED,
	STATUS_RUNNING,
	STATUS_STOPPED,
	STATUS_PAUSED, /* running, with its cgroup frozen */
};

struct container {
	char *id;
	int root_fd;                   /* the state root */
	int dir_fd;                    /* <root>/<id> */
	pid_t pid;                     /* 0 until state.json exists */
	unsigned long long start_time; /* of pid, from /proc/<pid>/stat, to detect reuse */
	char *bundle;
	char *rootfs;
	char *created;
	char *owner;
	char *cgroup; /* cgroup_path() of its cgroup */
	/* Without a mount namespace of its own: the id of the mount that was on
	 * top of the rootfs before create (rootfs_shared_base); delete unmounts
	 * what is stacked above it. -1 when the container has its own. */
	int mount_base;
	struct oci_spec *spec; /* NULL until loaded */
};

#define STATE_FILE  "state.json"
#define CONFIG_FILE "config.json"
#define FIFO_FILE   "exec.fifo"

const char *state_root_path(const struct berth_context *ctx);
/* Checks an id the way runc does: [A-Za-z0-9_+.-], not "." or "..". */
int state_validate_id(const char *id, berth_error_t *err);
/* Makes the state directory of a new container and locks it; fails with
 * BERTH_ERR_EXISTS when the id is taken. */
int state_create(const struct berth_context *ctx, const char *id, struct container **out, berth_error_t *err);
/* Opens an existing container; with `lock`, waits for its lock; with
 * `load_spec`, reads its config.json too. */
int state_open(const struct berth_context *ctx, const char *id, bool lock, bool load_spec,
               struct container **out, berth_error_t *err);
/* Writes state.json atomically. */
int state_save(const struct container *c, berth_error_t *err);
/* Removes the state directory (the container struct stays usable). */
int state_remove(struct container *c, berth_error_t *err);
enum container_status state_status(const struct container *c);
const char *state_status_name(enum container_status status);
/* The start time of a process (field 22 of /proc/<pid>/stat), or 0 when it
 * is gone or a zombie. */
unsigned long long state_pid_start_time(pid_t pid);
/* The OCI state document of the container (for hooks and `state`). */
char *state_to_oci_json(const struct container *c, enum container_status status, bool runc_fields,
                        berth_error_t *err);
void container_free(struct container *c);

/* start and delete of a container already open and locked, with its spec
 * loaded (`run` holds it from create to delete: nothing is read again). */
int lifecycle_start(const struct berth_context *ctx, struct container *c, berth_error_t *err);
/* The poststart hooks, once the program runs (failures only warn). */
void lifecycle_poststart(const struct berth_context *ctx, struct container *c);
int lifecycle_delete(const struct berth_context *ctx, struct container *c, bool force, berth_error_t *err);

static inline void container_freep(struct container **c)
{
	container_free(*c);
}
#define cleanup_container __attribute__((cleanup(container_freep)))

#endif
