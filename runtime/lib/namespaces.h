/* Namespaces of a new container: which to create, which to join by path,
 * user namespace id maps and time namespace offsets. */
#ifndef BERTH_NAMESPACES_H
#define BERTH_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "runtime_spec.h"

struct ns_plan {
	unsigned long new_flags; /* CLONE_NEW* of the namespaces to create */
	bool new_user;
	bool join_any; /* some namespace is given by path */
	/* No mount namespace, neither new nor joined: init stays in the
	 * runtime's and its mounts are made (and undone by delete) there. */
	bool shared_mount_ns;
	/* The fast path clones init with every flag at once; the slow path
	 * (joins, or a new time namespace whose offsets must be written before a
	 * process enters it) goes through a stage-1 child that forks init. */
	bool slow_path;
};

int ns_plan_make(const struct oci_spec *spec, struct ns_plan *plan, berth_error_t *err);
/* Runtime side: writes uid_map and gid_map of `pid`. */
int ns_write_id_maps(pid_t pid, const struct oci_linux *linux_, berth_error_t *err);
/* stage-1: joins the namespaces given by path, the user namespace first.
 * With `user_only`, joins just that one; without, all but the user one. */
int ns_join_paths(const struct oci_spec *spec, bool user_only, berth_error_t *err);
/* stage-1: after unshare(CLONE_NEWTIME), before forking init. */
int ns_write_time_offsets(const struct oci_linux *linux_, berth_error_t *err);
/* init: become root of a new user namespace. */
int ns_become_root(berth_error_t *err);

#endif
