/* The OCI runtime-spec documents (config.json, state, features) as tables
 * for the generic JSON mapper in oci_json.c.  Each struct of runtime_spec.h
 * has one table here: JSON key, kind, member offsets, and the flags and
 * enumerations that validate it.  Checks that need more than one member
 * are `check` hooks next to their table. */
#include "config.h"
#include "runtime_spec.h"
#include "oci_json.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

/* Table helpers: S names the struct being described. */
/* clang-format off */
#define FIELD(k, kind_, m, ...) {.key = (k), .kind = OCI_JSON_##kind_, .off = offsetof(S, m), __VA_ARGS__}
#define ARRAY(k, kind_, m, ...) \
	{.key = (k), .kind = OCI_JSON_##kind_, .off = offsetof(S, m), .len_off = offsetof(S, m##_len), __VA_ARGS__}
#define HAS(m)                  .has_off = offsetof(S, m) + 1
#define REQ                     .flags = OCI_JSON_REQUIRED
#define END                     {.key = NULL}
#define TYPE(st, ...)           {.size = sizeof(st), __VA_ARGS__}
#define CHOICES(what_, arr)     {.what = (what_), .names = (arr), .count = sizeof(arr) / sizeof((arr)[0])}
/* clang-format on */

/* ---- enumerations ---- */

/* Indexed by enum oci_namespace_type. */
static const char *const namespace_names[] = {"pid", "network", "mount",  "ipc",
                                              "uts", "user",    "cgroup", "time"};
_Static_assert(sizeof(namespace_names) / sizeof(namespace_names[0]) == OCI_NS_COUNT,
               "one name per namespace");
static const struct oci_json_choices namespace_choices = CHOICES("namespace type", namespace_names);

/* Indexed by enum oci_seccomp_op. */
static const char *const seccomp_op_names[] = {"SCMP_CMP_NE",       "SCMP_CMP_LT", "SCMP_CMP_LE",
                                               "SCMP_CMP_EQ",       "SCMP_CMP_GE", "SCMP_CMP_GT",
                                               "SCMP_CMP_MASKED_EQ"};
_Static_assert(sizeof(seccomp_op_names) / sizeof(seccomp_op_names[0]) == OCI_SCMP_CMP_MASKED_EQ + 1,
               "one name per seccomp operator");
static const struct oci_json_choices seccomp_op_choices = CHOICES("seccomp operator", seccomp_op_names);

static const char *const rlimit_names[] = {
    "RLIMIT_AS",      "RLIMIT_CORE",     "RLIMIT_CPU",        "RLIMIT_DATA",   "RLIMIT_FSIZE", "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",       "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS",
    "RLIMIT_RTPRIO",  "RLIMIT_RTTIME",   "RLIMIT_SIGPENDING", "RLIMIT_STACK",
};
static const struct oci_json_choices rlimit_choices = CHOICES("rlimit type", rlimit_names);

static const char *const ioprio_class_names[] = {"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"};
static const struct oci_json_choices ioprio_class_choices = CHOICES("I/O priority class", ioprio_class_names);

static const char *const sched_policy_names[] = {"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR",      "SCHED_BATCH",
                                                 "SCHED_ISO",   "SCHED_IDLE", "SCHED_DEADLINE"};
static const struct oci_json_choices sched_policy_choices = CHOICES("scheduler policy", sched_policy_names);

static const char *const sched_flag_names[] = {
    "SCHED_FLAG_RESET_ON_FORK",  "SCHED_FLAG_RECLAIM",     "SCHED_FLAG_DL_OVERRUN",
    "SCHED_FLAG_KEEP_POLICY",    "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN",
    "SCHED_FLAG_UTIL_CLAMP_MAX",
};
static const struct oci_json_choices sched_flag_choices = CHOICES("scheduler flag", sched_flag_names);

static const char *const clock_names[] = {"monotonic", "boottime"};
static const struct oci_json_choices clock_choices = CHOICES("time offset clock", clock_names);

static const char *const device_type_names[] = {"c", "b", "u", "p"};
static const struct oci_json_choices device_type_choices = CHOICES("device type", device_type_names);

static const char *const device_cgroup_type_names[] = {"a", "c", "b"};
static const struct oci_json_choices device_cgroup_type_choices =
    CHOICES("device cgroup type", device_cgroup_type_names);

static const char *const propagation_names[] = {"private", "rprivate",   "slave",       "rslave", "shared",
                                                "rshared", "unbindable", "runbindable", ""};
static const struct oci_json_choices propagation_choices = CHOICES("rootfs propagation", propagation_names);

static const char *const personality_domain_names[] = {"LINUX", "LINUX32"};
static const struct oci_json_choices personality_domain_choices =
    CHOICES("personality domain", personality_domain_names);

static const char *const status_names[] = {"creating", "created", "running", "stopped"};
static const struct oci_json_choices status_choices = CHOICES("container status", status_names);

/* ---- config.json: the common part ---- */

#define S struct oci_id_mapping
static const struct oci_json_field id_mapping_fields[] = {
    FIELD("containerID", U32, container_id, REQ),
    FIELD("hostID", U32, host_id, REQ),
    FIELD("size", U32, size, REQ),
    END,
};
static const struct oci_json_type id_mapping_type = TYPE(S, .fields = id_mapping_fields);
#undef S

#define S struct oci_root
static const struct oci_json_field root_fields[] = {
    FIELD("path", STR, path, REQ),
    FIELD("readonly", BOOL, readonly),
    END,
};
static const struct oci_json_type root_type = TYPE(S, .fields = root_fields);
#undef S

#define S struct oci_mount
static const struct oci_json_field mount_fields[] = {
    FIELD("destination", STR, destination, REQ),
    FIELD("type", STR, type),
    FIELD("source", STR, source),
    ARRAY("options", STRV, options),
    ARRAY("uidMappings", OBJ_ARRAY, uid_mappings, .type = &id_mapping_type),
    ARRAY("gidMappings", OBJ_ARRAY, gid_mappings, .type = &id_mapping_type),
    END,
};
static const struct oci_json_type mount_type = TYPE(S, .fields = mount_fields);
#undef S

/* ---- .process ---- */

#define S struct oci_console_size
static const struct oci_json_field console_size_fields[] = {
    FIELD("height", U32, height, REQ),
    FIELD("width", U32, width, REQ),
    END,
};
static const struct oci_json_type console_size_type = TYPE(S, .fields = console_size_fields);
#undef S

#define S struct oci_user
static const struct oci_json_field user_fields[] = {
    FIELD("uid", U32, uid, REQ),      FIELD("gid", U32, gid, REQ),
    FIELD("umask", OPT_U32, umask),   ARRAY("additionalGids", U32V, additional_gids),
    FIELD("username", STR, username), END,
};
static const struct oci_json_type user_type = TYPE(S, .fields = user_fields);
#undef S

#define S struct oci_capabilities
static const struct oci_json_field capabilities_fields[] = {
    ARRAY("bounding", STRV, bounding, HAS(has_bounding)),
    ARRAY("effective", STRV, effective, HAS(has_effective)),
    ARRAY("inheritable", STRV, inheritable, HAS(has_inheritable)),
    ARRAY("permitted", STRV, permitted, HAS(has_permitted)),
    ARRAY("ambient", STRV, ambient, HAS(has_ambient)),
    END,
};
static const struct oci_json_type capabilities_type = TYPE(S, .fields = capabilities_fields);
#undef S

#define S struct oci_rlimit
static const struct oci_json_field rlimit_fields[] = {
    FIELD("type", STR, type, .flags = OCI_JSON_REQUIRED | OCI_JSON_UNIQUE, .choices = &rlimit_choices),
    FIELD("hard", U64, hard, REQ),
    FIELD("soft", U64, soft, REQ),
    END,
};
static const struct oci_json_type rlimit_type = TYPE(S, .fields = rlimit_fields);
#undef S

#define S struct oci_io_priority
static const struct oci_json_field io_priority_fields[] = {
    FIELD("class", STR, class, REQ, .choices = &ioprio_class_choices),
    FIELD("priority", I32, priority, REQ),
    END,
};
static const struct oci_json_type io_priority_type = TYPE(S, .fields = io_priority_fields);
#undef S

#define S struct oci_scheduler
static const struct oci_json_field scheduler_fields[] = {
    FIELD("policy", STR, policy, REQ, .choices = &sched_policy_choices),
    FIELD("nice", OPT_I32, nice),
    FIELD("priority", OPT_I32, priority),
    ARRAY("flags", STRV, flags, .choices = &sched_flag_choices),
    FIELD("runtime", OPT_U64, runtime),
    FIELD("deadline", OPT_U64, deadline),
    FIELD("period", OPT_U64, period),
    END,
};
static const struct oci_json_type scheduler_type = TYPE(S, .fields = scheduler_fields);
#undef S

#define S struct oci_exec_cpu_affinity
static const struct oci_json_field exec_cpu_affinity_fields[] = {
    FIELD("initial", STR, initial),
    FIELD("final", STR, final),
    END,
};
static const struct oci_json_type exec_cpu_affinity_type = TYPE(S, .fields = exec_cpu_affinity_fields);
#undef S

#define S struct oci_process
static const struct oci_json_field process_fields[] = {
    FIELD("terminal", BOOL, terminal),
    FIELD("consoleSize", OBJ, console_size, HAS(has_console_size), .type = &console_size_type),
    FIELD("user", OBJ, user, .type = &user_type),
    ARRAY("args", STRV, args, .flags = OCI_JSON_REQUIRED | OCI_JSON_NONEMPTY),
    FIELD("commandLine", STR, command_line),
    ARRAY("env", STRV, env),
    FIELD("cwd", STR, cwd, .flags = OCI_JSON_REQUIRED | OCI_JSON_ABSPATH),
    FIELD("capabilities", OBJ, capabilities, HAS(has_capabilities), .type = &capabilities_type),
    ARRAY("rlimits", OBJ_ARRAY, rlimits, .type = &rlimit_type),
    FIELD("noNewPrivileges", BOOL, no_new_privileges),
    FIELD("apparmorProfile", STR, apparmor_profile),
    FIELD("oomScoreAdj", OPT_I32, oom_score_adj),
    FIELD("selinuxLabel", STR, selinux_label),
    FIELD("ioPriority", OBJ_PTR, io_priority, .type = &io_priority_type),
    FIELD("scheduler", OBJ_PTR, scheduler, .type = &scheduler_type),
    FIELD("execCPUAffinity", OBJ_PTR, exec_cpu_affinity, .type = &exec_cpu_affinity_type),
    END,
};
static const struct oci_json_type process_type = TYPE(S, .fields = process_fields);
#undef S

/* ---- .hooks ---- */

#define S struct oci_hook
static const struct oci_json_field hook_fields[] = {
    FIELD("path", STR, path, .flags = OCI_JSON_REQUIRED | OCI_JSON_ABSPATH),
    ARRAY("args", STRV, args),
    ARRAY("env", STRV, env),
    FIELD("timeout", OPT_I32, timeout, .flags = OCI_JSON_POSITIVE),
    END,
};
static const struct oci_json_type hook_type = TYPE(S, .fields = hook_fields);
#undef S

#define S struct oci_hooks
static const struct oci_json_field hooks_fields[] = {
    ARRAY("prestart", OBJ_ARRAY, prestart, .type = &hook_type),
    ARRAY("createRuntime", OBJ_ARRAY, create_runtime, .type = &hook_type),
    ARRAY("createContainer", OBJ_ARRAY, create_container, .type = &hook_type),
    ARRAY("startContainer", OBJ_ARRAY, start_container, .type = &hook_type),
    ARRAY("poststart", OBJ_ARRAY, poststart, .type = &hook_type),
    ARRAY("poststop", OBJ_ARRAY, poststop, .type = &hook_type),
    END,
};
static const struct oci_json_type hooks_type = TYPE(S, .fields = hooks_fields);
#undef S

/* ---- .linux ---- */

#define S struct oci_namespace
static const struct oci_json_field namespace_fields[] = {
    FIELD("type", ENUM, type, .flags = OCI_JSON_REQUIRED | OCI_JSON_UNIQUE, .choices = &namespace_choices),
    FIELD("path", STR, path),
    END,
};
static const struct oci_json_type namespace_type = TYPE(S, .fields = namespace_fields);
#undef S

#define S struct oci_time_offset
static const struct oci_json_field time_offset_fields[] = {
    FIELD("secs", I64, secs),
    FIELD("nanosecs", U32, nanosecs),
    END,
};
static const struct oci_json_type time_offset_type =
    TYPE(S, .fields = time_offset_fields, .has_key = true, .key_off = offsetof(S, clock),
         .key_choices = &clock_choices);
#undef S

/* major and minor may only be left out for fifos. */
static int check_device(const void *obj, json_object *json, struct oci_json_ctx *ctx)
{
	const struct oci_device *dev = obj;
	static const char *const numbers[] = {"major", "minor"};

	if (strcmp(dev->type, "p") == 0)
		return 0;
	for (size_t i = 0; i < 2; i++)
		if (!json_object_object_get_ex(json, numbers[i], NULL))
			return oci_json_fail(ctx, numbers[i], "required for device type \"%s\"", dev->type);
	return 0;
}

#define S struct oci_device
static const struct oci_json_field device_fields[] = {
    FIELD("type", STR, type, REQ, .choices = &device_type_choices),
    FIELD("path", STR, path, .flags = OCI_JSON_REQUIRED | OCI_JSON_ABSPATH),
    FIELD("major", I64, major),
    FIELD("minor", I64, minor),
    FIELD("fileMode", OPT_U32, file_mode),
    FIELD("uid", OPT_U32, uid),
    FIELD("gid", OPT_U32, gid),
    END,
};
static const struct oci_json_type device_type = TYPE(S, .fields = device_fields, .check = check_device);
#undef S

#define S struct oci_device_cgroup
static const struct oci_json_field device_cgroup_fields[] = {
    FIELD("allow", BOOL, allow, REQ), FIELD("type", STR, type, .choices = &device_cgroup_type_choices),
    FIELD("major", OPT_I64, major),   FIELD("minor", OPT_I64, minor),
    FIELD("access", STR, access),     END,
};
static const struct oci_json_type device_cgroup_type = TYPE(S, .fields = device_cgroup_fields);
#undef S

#define S struct oci_memory
static const struct oci_json_field memory_fields[] = {
    FIELD("limit", OPT_I64, limit),
    FIELD("reservation", OPT_I64, reservation),
    FIELD("swap", OPT_I64, swap),
    FIELD("kernel", OPT_I64, kernel),
    FIELD("kernelTCP", OPT_I64, kernel_tcp),
    FIELD("swappiness", OPT_U64, swappiness),
    FIELD("disableOOMKiller", OPT_BOOL, disable_oom_killer),
    FIELD("useHierarchy", OPT_BOOL, use_hierarchy),
    FIELD("checkBeforeUpdate", OPT_BOOL, check_before_update),
    END,
};
static const struct oci_json_type memory_type = TYPE(S, .fields = memory_fields);
#undef S

#define S struct oci_cpu
static const struct oci_json_field cpu_fields[] = {
    FIELD("shares", OPT_U64, shares),
    FIELD("quota", OPT_I64, quota),
    FIELD("burst", OPT_U64, burst),
    FIELD("period", OPT_U64, period),
    FIELD("realtimeRuntime", OPT_I64, realtime_runtime),
    FIELD("realtimePeriod", OPT_U64, realtime_period),
    FIELD("cpus", STR, cpus),
    FIELD("mems", STR, mems),
    FIELD("idle", OPT_I64, idle),
    END,
};
static const struct oci_json_type cpu_type = TYPE(S, .fields = cpu_fields);
#undef S

#define S struct oci_weight_device
static const struct oci_json_field weight_device_fields[] = {
    FIELD("major", I64, major, REQ),
    FIELD("minor", I64, minor, REQ),
    FIELD("weight", OPT_U16, weight),
    FIELD("leafWeight", OPT_U16, leaf_weight),
    END,
};
static const struct oci_json_type weight_device_type = TYPE(S, .fields = weight_device_fields);
#undef S

#define S struct oci_throttle_device
static const struct oci_json_field throttle_device_fields[] = {
    FIELD("major", I64, major, REQ),
    FIELD("minor", I64, minor, REQ),
    FIELD("rate", U64, rate, REQ),
    END,
};
static const struct oci_json_type throttle_device_type = TYPE(S, .fields = throttle_device_fields);
#undef S

#define S struct oci_block_io
static const struct oci_json_field block_io_fields[] = {
    FIELD("weight", OPT_U16, weight),
    FIELD("leafWeight", OPT_U16, leaf_weight),
    ARRAY("weightDevice", OBJ_ARRAY, weight_device, .type = &weight_device_type),
    ARRAY("throttleReadBpsDevice", OBJ_ARRAY, throttle_read_bps_device, .type = &throttle_device_type),
    ARRAY("throttleWriteBpsDevice", OBJ_ARRAY, throttle_write_bps_device, .type = &throttle_device_type),
    ARRAY("throttleReadIOPSDevice", OBJ_ARRAY, throttle_read_iops_device, .type = &throttle_device_type),
    ARRAY("throttleWriteIOPSDevice", OBJ_ARRAY, throttle_write_iops_device, .type = &throttle_device_type),
    END,
};
static const struct oci_json_type block_io_type = TYPE(S, .fields = block_io_fields);
#undef S

#define S struct oci_hugepage_limit
static const struct oci_json_field hugepage_limit_fields[] = {
    FIELD("pageSize", STR, page_size, REQ),
    FIELD("limit", U64, limit, REQ),
    END,
};
static const struct oci_json_type hugepage_limit_type = TYPE(S, .fields = hugepage_limit_fields);
#undef S

#define S struct oci_net_priority
static const struct oci_json_field net_priority_fields[] = {
    FIELD("name", STR, name, REQ),
    FIELD("priority", U32, priority, REQ),
    END,
};
static const struct oci_json_type net_priority_type = TYPE(S, .fields = net_priority_fields);
#undef S

#define S struct oci_network_resources
static const struct oci_json_field network_fields[] = {
    FIELD("classID", OPT_U32, class_id),
    ARRAY("priorities", OBJ_ARRAY, priorities, .type = &net_priority_type),
    END,
};
static const struct oci_json_type network_type = TYPE(S, .fields = network_fields);
#undef S

#define S struct oci_rdma_limit
static const struct oci_json_field rdma_fields[] = {
    FIELD("hcaHandles", OPT_U32, hca_handles),
    FIELD("hcaObjects", OPT_U32, hca_objects),
    END,
};
static const struct oci_json_type rdma_type =
    TYPE(S, .fields = rdma_fields, .has_key = true, .key_off = offsetof(S, device));
#undef S

#define S struct oci_resources
/* .pids lives in struct oci_resources itself. */
static const struct oci_json_field pids_fields[] = {
    FIELD("limit", OPT_I64, pids_limit),
    END,
};
static const struct oci_json_type pids_type = {.fields = pids_fields};

static const struct oci_json_field resources_fields[] = {
    ARRAY("devices", OBJ_ARRAY, devices, .type = &device_cgroup_type),
    FIELD("memory", OBJ_PTR, memory, .type = &memory_type),
    FIELD("cpu", OBJ_PTR, cpu, .type = &cpu_type),
    FIELD("pids", FLAT, pids_limit, HAS(has_pids), .type = &pids_type),
    FIELD("blockIO", OBJ_PTR, block_io, .type = &block_io_type),
    ARRAY("hugepageLimits", OBJ_ARRAY, hugepage_limits, .type = &hugepage_limit_type),
    FIELD("network", OBJ_PTR, network, .type = &network_type),
    ARRAY("rdma", OBJ_MAP, rdma, .type = &rdma_type),
    ARRAY("unified", KV, unified),
    END,
};
static const struct oci_json_type resources_type = TYPE(S, .fields = resources_fields);
#undef S

#define S struct oci_seccomp_arg
static const struct oci_json_field seccomp_arg_fields[] = {
    FIELD("index", U32, index, REQ),
    FIELD("value", U64, value, REQ),
    FIELD("valueTwo", U64, value_two, .flags = OCI_JSON_OMITZERO),
    FIELD("op", ENUM, op, REQ, .choices = &seccomp_op_choices),
    END,
};
static const struct oci_json_type seccomp_arg_type = TYPE(S, .fields = seccomp_arg_fields);
#undef S

#define S struct oci_seccomp_syscall
static const struct oci_json_field seccomp_syscall_fields[] = {
    ARRAY("names", STRV, names, .flags = OCI_JSON_REQUIRED | OCI_JSON_NONEMPTY),
    FIELD("action", STR, action, REQ),
    FIELD("errnoRet", OPT_U32, errno_ret),
    ARRAY("args", OBJ_ARRAY, args, .type = &seccomp_arg_type),
    END,
};
static const struct oci_json_type seccomp_syscall_type = TYPE(S, .fields = seccomp_syscall_fields);
#undef S

#define S struct oci_seccomp
static const struct oci_json_field seccomp_fields[] = {
    FIELD("defaultAction", STR, default_action, REQ),
    FIELD("defaultErrnoRet", OPT_U32, default_errno_ret),
    ARRAY("architectures", STRV, architectures),
    ARRAY("flags", STRV, flags),
    FIELD("listenerPath", STR, listener_path),
    FIELD("listenerMetadata", STR, listener_metadata),
    ARRAY("syscalls", OBJ_ARRAY, syscalls, .type = &seccomp_syscall_type),
    END,
};
static const struct oci_json_type seccomp_type = TYPE(S, .fields = seccomp_fields);
#undef S

#define S struct oci_intel_rdt
static const struct oci_json_field intel_rdt_fields[] = {
    FIELD("closID", STR, clos_id),
    FIELD("l3CacheSchema", STR, l3_cache_schema),
    FIELD("memBwSchema", STR, mem_bw_schema),
    FIELD("enableCMT", OPT_BOOL, enable_cmt),
    FIELD("enableMBM", OPT_BOOL, enable_mbm),
    END,
};
static const struct oci_json_type intel_rdt_type = TYPE(S, .fields = intel_rdt_fields);
#undef S

#define S struct oci_personality
static const struct oci_json_field personality_fields[] = {
    FIELD("domain", STR, domain, REQ, .choices = &personality_domain_choices),
    ARRAY("flags", STRV, flags),
    END,
};
static const struct oci_json_type personality_type = TYPE(S, .fields = personality_fields);
#undef S

#define S struct oci_linux
static const struct oci_json_field linux_fields[] = {
    ARRAY("namespaces", OBJ_ARRAY, namespaces, .type = &namespace_type),
    ARRAY("uidMappings", OBJ_ARRAY, uid_mappings, .type = &id_mapping_type),
    ARRAY("gidMappings", OBJ_ARRAY, gid_mappings, .type = &id_mapping_type),
    ARRAY("timeOffsets", OBJ_MAP, time_offsets, .type = &time_offset_type),
    ARRAY("devices", OBJ_ARRAY, devices, .type = &device_type),
    FIELD("cgroupsPath", STR, cgroups_path),
    FIELD("resources", OBJ_PTR, resources, .type = &resources_type),
    FIELD("rootfsPropagation", STR, rootfs_propagation, .choices = &propagation_choices),
    FIELD("seccomp", OBJ_PTR, seccomp, .type = &seccomp_type),
    ARRAY("sysctl", KV, sysctl),
    ARRAY("maskedPaths", STRV, masked_paths),
    ARRAY("readonlyPaths", STRV, readonly_paths),
    FIELD("mountLabel", STR, mount_label),
    FIELD("intelRdt", OBJ_PTR, intel_rdt, .type = &intel_rdt_type),
    FIELD("personality", OBJ_PTR, personality, .type = &personality_type),
    END,
};
static const struct oci_json_type linux_type = TYPE(S, .fields = linux_fields);
#undef S

#define S struct oci_spec
static const struct oci_json_field spec_fields[] = {
    FIELD("ociVersion", STR, oci_version, REQ),
    FIELD("root", OBJ_PTR, root, .type = &root_type),
    ARRAY("mounts", OBJ_ARRAY, mounts, .type = &mount_type),
    FIELD("process", OBJ_PTR, process, .type = &process_type),
    FIELD("hostname", STR, hostname),
    FIELD("domainname", STR, domainname),
    FIELD("hooks", OBJ, hooks, HAS(has_hooks), .type = &hooks_type),
    ARRAY("annotations", KV, annotations),
    FIELD("linux", OBJ_PTR, linux_, .type = &linux_type),
    END,
};
static const struct oci_json_type spec_type = TYPE(S, .fields = spec_fields);
#undef S

/* ---- config.json: API ---- */

int oci_spec_parse(const char *json, size_t len, const char *origin, struct oci_spec **out,
                   berth_error_t *err)
{
	*out = oci_json_parse(&spec_type, json, len, origin, err);
	return *out == NULL ? -1 : 0;
}

int oci_spec_parse_file(const char *path, struct oci_spec **out, berth_error_t *err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;

	if (fs_read_file_at(AT_FDCWD, path, &text, &len, err) < 0)
		return -1;
	return oci_spec_parse(text, len, path, out, err);
}

int oci_process_parse(const char *json, size_t len, const char *origin, struct oci_process **out,
                      berth_error_t *err)
{
	*out = oci_json_parse(&process_type, json, len, origin, err);
	return *out == NULL ? -1 : 0;
}

char *oci_spec_to_json(const struct oci_spec *spec, bool pretty, berth_error_t *err)
{
	return oci_json_to_string(&spec_type, spec, pretty, err);
}

char *oci_process_to_json(const struct oci_process *process, bool pretty, berth_error_t *err)
{
	return oci_json_to_string(&process_type, process, pretty, err);
}

void oci_spec_free(struct oci_spec *spec)
{
	oci_json_free(&spec_type, spec);
}

void oci_process_free(struct oci_process *process)
{
	oci_json_free(&process_type, process);
}

int oci_resources_parse(const char *json, size_t len, const char *origin, struct oci_resources **out,
                        berth_error_t *err)
{
	*out = oci_json_parse(&resources_type, json, len, origin, err);
	return *out == NULL ? -1 : 0;
}

char *oci_resources_to_json(const struct oci_resources *resources, bool pretty, berth_error_t *err)
{
	return oci_json_to_string(&resources_type, resources, pretty, err);
}

void oci_resources_free(struct oci_resources *resources)
{
	oci_json_free(&resources_type, resources);
}

const char *oci_hook_kind_name(size_t i)
{
	return i < sizeof(hooks_fields) / sizeof(hooks_fields[0]) ? hooks_fields[i].key : NULL;
}

const char *oci_seccomp_op_name(enum oci_seccomp_op op)
{
	if ((int)op < 0 || (size_t)op >= sizeof(seccomp_op_names) / sizeof(seccomp_op_names[0]))
		return NULL;
	return seccomp_op_names[op];
}

const char *oci_namespace_type_name(enum oci_namespace_type type)
{
	if ((int)type < 0 || type >= OCI_NS_COUNT)
		return NULL;
	return namespace_names[type];
}

int oci_namespace_type_from_name(const char *name)
{
	return name == NULL ? -1 : oci_json_choice_find(&namespace_choices, name);
}

const struct oci_namespace *oci_spec_namespace(const struct oci_spec *spec, enum oci_namespace_type type)
{
	if (spec == NULL || spec->linux_ == NULL)
		return NULL;
	for (size_t i = 0; i < spec->linux_->namespaces_len; i++)
		if (spec->linux_->namespaces[i].type == type)
			return &spec->linux_->namespaces[i];
	return NULL;
}

/* ---- state ---- */

/* A created or running container has a process. */
static int check_state(const void *obj, json_object *json, struct oci_json_ctx *ctx)
{
	const struct oci_state *state = obj;

	if ((strcmp(state->status, "created") == 0 || strcmp(state->status, "running") == 0) &&
	    state->pid <= 0)
		return oci_json_fail(ctx, "pid", "required (a positive integer) when the status is \"%s\"",
		                     state->status);
	return 0;
}

#define S struct oci_state
static const struct oci_json_field state_fields[] = {
    FIELD("ociVersion", STR, oci_version, REQ),
    FIELD("id", STR, id, REQ),
    FIELD("status", STR, status, REQ, .choices = &status_choices),
    FIELD("pid", I32, pid, .flags = OCI_JSON_OMITZERO),
    FIELD("bundle", STR, bundle, REQ),
    ARRAY("annotations", KV, annotations),
    END,
};
static const struct oci_json_type state_type = TYPE(S, .fields = state_fields, .check = check_state);
#undef S

int oci_state_parse(const char *json, size_t len, const char *origin, struct oci_state **out,
                    berth_error_t *err)
{
	*out = oci_json_parse(&state_type, json, len, origin, err);
	return *out == NULL ? -1 : 0;
}

char *oci_state_to_json(const struct oci_state *state, bool pretty, berth_error_t *err)
{
	return oci_json_to_string(&state_type, state, pretty, err);
}

void oci_state_free(struct oci_state *state)
{
	oci_json_free(&state_type, state);
}

/* ---- features ---- */

/* The nested objects of features.json all live in struct oci_features. */
#define S struct oci_features
static const struct oci_json_field features_cgroup_fields[] = {
    FIELD("v1", OPT_BOOL, cgroup_v1),           FIELD("v2", OPT_BOOL, cgroup_v2),
    FIELD("systemd", OPT_BOOL, cgroup_systemd), FIELD("systemdUser", OPT_BOOL, cgroup_systemd_user),
    FIELD("rdma", OPT_BOOL, cgroup_rdma),       END,
};
static const struct oci_json_field features_seccomp_fields[] = {
    FIELD("enabled", OPT_BOOL, seccomp_enabled),
    ARRAY("actions", STRV, seccomp_actions),
    ARRAY("operators", STRV, seccomp_operators),
    ARRAY("archs", STRV, seccomp_archs),
    ARRAY("knownFlags", STRV, seccomp_known_flags),
    ARRAY("supportedFlags", STRV, seccomp_supported_flags),
    END,
};
static const struct oci_json_field features_apparmor_fields[] = {FIELD("enabled", OPT_BOOL, apparmor_enabled),
                                                                 END};
static const struct oci_json_field features_selinux_fields[] = {FIELD("enabled", OPT_BOOL, selinux_enabled),
                                                                END};
static const struct oci_json_field features_intel_rdt_fields[] = {
    FIELD("enabled", OPT_BOOL, intel_rdt_enabled), END};
static const struct oci_json_field features_idmap_fields[] = {
    FIELD("enabled", OPT_BOOL, mount_extensions_idmap_enabled),
    END,
};
static const struct oci_json_type features_cgroup_type = {.fields = features_cgroup_fields};
static const struct oci_json_type features_seccomp_type = {.fields = features_seccomp_fields};
static const struct oci_json_type features_apparmor_type = {.fields = features_apparmor_fields};
static const struct oci_json_type features_selinux_type = {.fields = features_selinux_fields};
static const struct oci_json_type features_intel_rdt_type = {.fields = features_intel_rdt_fields};
static const struct oci_json_type features_idmap_type = {.fields = features_idmap_fields};

static const struct oci_json_field features_mount_ext_fields[] = {
    FIELD("idmap", FLAT, mount_extensions_idmap_enabled, .type = &features_idmap_type),
    END,
};
static const struct oci_json_type features_mount_ext_type = {.fields = features_mount_ext_fields};

static const struct oci_json_field features_linux_fields[] = {
    ARRAY("namespaces", STRV, namespaces),
    ARRAY("capabilities", STRV, capabilities),
    FIELD("cgroup", FLAT, cgroup_v1, .type = &features_cgroup_type),
    FIELD("seccomp", FLAT, seccomp_enabled, .type = &features_seccomp_type),
    FIELD("apparmor", FLAT, apparmor_enabled, .type = &features_apparmor_type),
    FIELD("selinux", FLAT, selinux_enabled, .type = &features_selinux_type),
    FIELD("intelRdt", FLAT, intel_rdt_enabled, .type = &features_intel_rdt_type),
    FIELD("mountExtensions", FLAT, mount_extensions_idmap_enabled, .type = &features_mount_ext_type),
    END,
};
static const struct oci_json_type features_linux_type = {.fields = features_linux_fields};

static const struct oci_json_field features_fields[] = {
    FIELD("ociVersionMin", STR, oci_version_min, REQ),
    FIELD("ociVersionMax", STR, oci_version_max, REQ),
    ARRAY("hooks", STRV, hooks),
    ARRAY("mountOptions", STRV, mount_options),
    FIELD("linux", FLAT, namespaces, .type = &features_linux_type),
    ARRAY("annotations", KV, annotations),
    END,
};
static const struct oci_json_type features_type = TYPE(S, .fields = features_fields);
#undef S

int oci_features_parse(const char *json, size_t len, const char *origin, struct oci_features **out,
                       berth_error_t *err)
{
	*out = oci_json_parse(&features_type, json, len, origin, err);
	return *out == NULL ? -1 : 0;
}

char *oci_features_to_json(const struct oci_features *features, bool pretty, berth_error_t *err)
{
	return oci_json_to_string(&features_type, features, pretty, err);
}

void oci_features_free(struct oci_features *features)
{
	oci_json_free(&features_type, features);
}
