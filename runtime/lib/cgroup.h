/* Cgroups of a container: one interface, three back-ends (v1: a hierarchy
 * per controller; v2: unified; hybrid: v1 controllers plus a v2 hierarchy,
 * e.g. at /sys/fs/cgroup/unified), picked at run time by cgroup_detect().
 *
 * The runtime opens a manager from the container's config (or from the path
 * recorded in its state), creates the cgroup before init runs anything, puts
 * init into it, and removes it on delete.
 */
#ifndef BERTH_CGROUP_H
#define BERTH_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "runtime_spec.h"

enum cgroup_mode {
	CGROUP_MODE_V1,
	CGROUP_MODE_V2,
	CGROUP_MODE_HYBRID,
};

struct cgroup;

struct cgroup_config {
	const char *id;           /* the container id */
	const char *cgroups_path; /* linux.cgroupsPath; NULL: the default */
	bool systemd;             /* --systemd-cgroup: rejected until a systemd driver exists */
	bool rootless;            /* errors creating the cgroup are tolerated, as runc does */
	/* linux.devices: each one is allowed "rwm" by the device controller,
	 * after linux.resources.devices and the devices runc always allows. */
	const struct oci_device *devices;
	size_t devices_len;
};

/* Reads /proc/self/mountinfo (once per process; cached). */
int cgroup_detect(enum cgroup_mode *mode, berth_error_t *err);
/* The /proc/self/mountinfo cgroup_detect read, or NULL: container init,
 * forked after it, finds the hierarchies to mount in it without reading
 * the file again on its way to the container's program. */
const char *cgroup_mountinfo(void);
const char *cgroup_mode_name(enum cgroup_mode mode);

/* Computes the cgroup's paths (absolute cgroupsPath: from the hierarchy root;
 * relative: below the runtime's own cgroup; absent: the default as runc
 * computes it).  Touches nothing. */
int cgroup_open(const struct cgroup_config *config, struct cgroup **out, berth_error_t *err);
/* Reopens the cgroup of an existing container from the path it recorded. */
int cgroup_open_path(const char *path, struct cgroup **out, berth_error_t *err);
/* The path to record in the container's state (the cgroupsPath as resolved,
 * e.g. "/berth/abc"); when hierarchies differ (a relative path below
 * runtime cgroups that differ per controller) every one is listed:
 * "cpu:/abc;memory:/x/abc;:/abc" ("" names the v2 hierarchy).
 * cgroup_open_path() takes either form. */
const char *cgroup_path(const struct cgroup *cg);
/* A sub-cgroup (that must exist) of a container's cgroup, for exec --cgroup:
 * "path" goes below the cgroup in every hierarchy, "controller:path" only in
 * that controller's. */
int cgroup_open_sub(const struct cgroup *cg, const char *sub, struct cgroup **out, berth_error_t *err);
void cgroup_free(struct cgroup *cg);

/* mkdir in every hierarchy, then linux.resources applied (error names the
 * file and value: "write `memory.limit_in_bytes` = `1048576`: Device or resource busy"). */
int cgroup_create(struct cgroup *cg, const struct oci_resources *resources, berth_error_t *err);
/* An O_PATH|O_DIRECTORY fd of the v2 cgroup for clone3(CLONE_INTO_CGROUP),
 * or -1 when there is no usable v2 cgroup (v1, hybrid). */
int cgroup_v2_fd(struct cgroup *cg);
/* Whether a process can be cloned straight into the cgroup once it exists
 * (v2 only: on v1 and hybrid hierarchies it must be moved in). */
bool cgroup_born_inside(const struct cgroup *cg);
/* Moves pid into the cgroup of every hierarchy. */
int cgroup_enter(struct cgroup *cg, pid_t pid, berth_error_t *err);
/* Applies resources again (`update`); fields not set are left alone. */
int cgroup_update(struct cgroup *cg, const struct oci_resources *resources, berth_error_t *err);
/* Freezer: v1 freezer.state FROZEN/THAWED, v2 cgroup.freeze; waits until done. */
int cgroup_freeze(struct cgroup *cg, bool frozen, berth_error_t *err);
int cgroup_is_frozen(struct cgroup *cg, bool *frozen, berth_error_t *err);
/* Every pid in the cgroup and its sub-cgroups. */
int cgroup_pids(struct cgroup *cg, pid_t **pids_out, size_t *n_out, berth_error_t *err);
/* Signals every process (v2 SIGKILL: cgroup.kill; otherwise freeze, signal
 * each pid, thaw). */
int cgroup_kill_all(struct cgroup *cg, int signal, berth_error_t *err);
/* Removes the cgroup in every hierarchy, sub-cgroups first; processes still
 * inside are killed first. Missing directories are fine. */
int cgroup_destroy(struct cgroup *cg, berth_error_t *err);
/* runc's `events --stats` data object as JSON text ({"cpu":..,"memory":..,
 * "pids":..,"blkio":..,"hugetlb":..}); the caller frees it. */
char *cgroup_stats_json(struct cgroup *cg, berth_error_t *err);
/* An fd that becomes readable on each OOM kill in the cgroup (v1:
 * eventfd + cgroup.event_control on memory.oom_control; v2: inotify on
 * memory.events, re-read to tell an oom_kill from other changes). */
int cgroup_oom_fd(struct cgroup *cg, berth_error_t *err);
/* After cgroup_oom_fd became readable: true if an OOM kill happened. */
bool cgroup_oom_check(struct cgroup *cg, int fd);

/* Tests only: instead of the mounted hierarchies, use `root` (NULL: back
 * to detection).  V2: root is the unified hierarchy; V1: root/<controller>
 * for each v1 controller directory that exists there.  Writes then append
 * "value\n" to plain files, creating them, so a test reads every write. */
void cgroup_set_root_for_tests(enum cgroup_mode mode, const char *root);

/* For `features`: the names the code handles. */
extern const char *const cgroup_v1_controllers[];

#endif
