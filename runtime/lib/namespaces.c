#include "namespaces.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const unsigned long clone_flag_of[OCI_NS_COUNT] = {
    [OCI_NS_PID] = CLONE_NEWPID,       [OCI_NS_NETWORK] = CLONE_NEWNET, [OCI_NS_MOUNT] = CLONE_NEWNS,
    [OCI_NS_IPC] = CLONE_NEWIPC,       [OCI_NS_UTS] = CLONE_NEWUTS,     [OCI_NS_USER] = CLONE_NEWUSER,
    [OCI_NS_CGROUP] = CLONE_NEWCGROUP, [OCI_NS_TIME] = CLONE_NEWTIME,
};

/* The namespace a sysctl belongs to, or -1 when it is not namespaced: a
 * container may only set what its own namespaces isolate (as runc). */
static int sysctl_namespace(const char *key)
{
	static const char *const ipc_keys[] = {"kernel.msgmax", "kernel.msgmnb",         "kernel.msgmni",
	                                       "kernel.sem",    "kernel.shmall",         "kernel.shmmax",
	                                       "kernel.shmmni", "kernel.shm_rmid_forced"};

	if (strncmp(key, "net.", 4) == 0)
		return OCI_NS_NETWORK;
	if (strncmp(key, "fs.mqueue.", 10) == 0)
		return OCI_NS_IPC;
	for (size_t i = 0; i < sizeof(ipc_keys) / sizeof(ipc_keys[0]); i++) {
		if (strcmp(key, ipc_keys[i]) == 0)
			return OCI_NS_IPC;
	}
	if (strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0)
		return OCI_NS_UTS;
	return -1;
}

static int check_sysctls(const struct oci_spec *spec, berth_error_t *err)
{
	const struct oci_linux *l = spec->linux_;

	for (size_t i = 0; i < l->sysctl_len; i++) {
		const char *key = l->sysctl[i].key;
		int ns = sysctl_namespace(key);
		if (ns < 0)
			return berth_error_invalid(err,
			                           ".linux.sysctl[\"%s\"]: not in a namespace of "
			                           "the container: it would change the host",
			                           key);
		if (oci_spec_namespace(spec, (enum oci_namespace_type)ns) == NULL)
			return berth_error_invalid(err, ".linux.sysctl[\"%s\"]: needs a %s namespace", key,
			                           oci_namespace_type_name((enum oci_namespace_type)ns));
	}
	return 0;
}

int ns_plan_make(const struct oci_spec *spec, struct ns_plan *plan, berth_error_t *err)
{
	const struct oci_linux *l = spec->linux_;

	memset(plan, 0, sizeof(*plan));
	if (l == NULL)
		return berth_error_invalid(err, ".linux: required");
	for (size_t i = 0; i < l->namespaces_len; i++) {
		const struct oci_namespace *ns = &l->namespaces[i];
		if (ns->path != NULL && ns->path[0] != '\0') {
			plan->join_any = true;
			continue;
		}
		plan->new_flags |= clone_flag_of[ns->type];
	}
	plan->new_user = (plan->new_flags & CLONE_NEWUSER) != 0;
	/* Without a mount namespace the container shares the runtime's, as
	 * the spec says: init mounts under the rootfs there (rootfs.c). A user
	 * namespace does not own that mount namespace, so init could not mount
	 * anything in it: refused up front rather than failing at /proc. */
	plan->shared_mount_ns = oci_spec_namespace(spec, OCI_NS_MOUNT) == NULL;
	if (plan->shared_mount_ns && oci_spec_namespace(spec, OCI_NS_USER) != NULL)
		return berth_error_invalid(err, ".linux.namespaces: a user namespace needs a mount namespace "
		                                "(its root cannot mount in the runtime's)");
	if (plan->new_user && (l->uid_mappings_len == 0 || l->gid_mappings_len == 0))
		return berth_error_invalid(err, ".linux.uidMappings: a new user namespace needs "
		                                "uidMappings and gidMappings");
	if (!plan->new_user && (l->uid_mappings_len > 0 || l->gid_mappings_len > 0))
		return berth_error_invalid(err, ".linux.uidMappings: id mappings need a new user "
		                                "namespace");
	if (l->time_offsets_len > 0 && !(plan->new_flags & CLONE_NEWTIME))
		return berth_error_invalid(err, ".linux.timeOffsets: time offsets need a new time "
		                                "namespace");
	plan->slow_path = plan->join_any || (plan->new_flags & CLONE_NEWTIME) != 0;
	return check_sysctls(spec, err);
}

static int write_map(pid_t pid, const char *file, const struct oci_id_mapping *m, size_t n,
                     berth_error_t *err)
{
	char path[64], buf[4096];
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].container_id, m[i].host_id,
		                 m[i].size);
		if (w < 0 || (size_t)w >= sizeof(buf) - len)
			return berth_error_invalid(err, "too many id mappings for %s", file);
		len += (size_t)w;
	}
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	{
		cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || fs_write_all(fd, buf, len) < 0)
			return berth_error_sys(err, errno, "write %s", file);
	}
	return 0;
}

int ns_write_id_maps(pid_t pid, const struct oci_linux *l, berth_error_t *err)
{
	/* Without CAP_SETGID (rootless), the kernel takes a gid_map only once
	 * setgroups is denied. */
	if (geteuid() != 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
		if (fs_write_string_at(AT_FDCWD, path, "deny", err) < 0)
			return -1;
	}
	if (write_map(pid, "uid_map", l->uid_mappings, l->uid_mappings_len, err) < 0)
		return -1;
	return write_map(pid, "gid_map", l->gid_mappings, l->gid_mappings_len, err);
}

static int join_one(const struct oci_namespace *ns, berth_error_t *err)
{
	cleanup_close int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_sys(err, errno, "open %s namespace `%s`",
		                       oci_namespace_type_name(ns->type), ns->path);
	if (setns(fd, (int)clone_flag_of[ns->type]) < 0)
		return berth_error_sys(err, errno, "join %s namespace `%s`",
		                       oci_namespace_type_name(ns->type), ns->path);
	return 0;
}

int ns_join_paths(const struct oci_spec *spec, bool user_only, berth_error_t *err)
{
	const struct oci_linux *l = spec->linux_;

	for (size_t i = 0; i < l->namespaces_len; i++) {
		const struct oci_namespace *ns = &l->namespaces[i];
		if (ns->path == NULL || ns->path[0] == '\0')
			continue;
		if ((ns->type == OCI_NS_USER) != user_only)
			continue;
		if (join_one(ns, err) < 0)
			return -1;
	}
	return 0;
}

int ns_write_time_offsets(const struct oci_linux *l, berth_error_t *err)
{
	char buf[256];
	size_t len = 0;

	for (size_t i = 0; i < l->time_offsets_len; i++) {
		const struct oci_time_offset *t = &l->time_offsets[i];
		int w = snprintf(buf + len, sizeof(buf) - len, "%s %lld %u\n", t->clock, (long long)t->secs,
		                 t->nanosecs);
		if (w < 0 || (size_t)w >= sizeof(buf) - len)
			return berth_error_invalid(err, ".linux.timeOffsets: too many entries");
		len += (size_t)w;
	}
	if (len == 0)
		return 0;
	{
		cleanup_close int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || fs_write_all(fd, buf, len) < 0)
			return berth_error_sys(err, errno, "write time namespace offsets");
	}
	return 0;
}

int ns_become_root(berth_error_t *err)
{
	if (setresgid(0, 0, 0) < 0)
		return berth_error_sys(err, errno, "setresgid to root of the user namespace");
	if (setresuid(0, 0, 0) < 0)
		return berth_error_sys(err, errno, "setresuid to root of the user namespace");
	return 0;
}
