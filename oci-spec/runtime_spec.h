/* The OCI runtime-spec (v1.2) as C types: config.json for Linux, the state
 * document and the features document.
 *
 * Parsing validates types and enumerations and names the JSON path of a bad
 * value ("config.json: .process.args: expected an array of strings").
 * Unknown keys are ignored, as the spec asks.  Optional scalars are
 * oci_opt_* pairs so that "absent" and "zero" stay different, and uint64
 * fields keep values above INT64_MAX exactly.
 *
 * Arrays are a pointer plus a count (`x` and `x_len`); arrays of strings are
 * NULL-terminated as well (so args and env go straight to execve); string
 * maps are arrays of key/value pairs in document order.
 */
#ifndef BERTH_OCI_RUNTIME_SPEC_H
#define BERTH_OCI_RUNTIME_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct oci_opt_bool {
	bool set;
	bool value;
};
struct oci_opt_i64 {
	bool set;
	int64_t value;
};
struct oci_opt_u64 {
	bool set;
	uint64_t value;
};
struct oci_opt_u32 {
	bool set;
	uint32_t value;
};
struct oci_opt_i32 {
	bool set;
	int32_t value;
};
struct oci_opt_u16 {
	bool set;
	uint16_t value;
};

struct oci_kv {
	char *key;
	char *value;
};

struct oci_id_mapping {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size;
};

struct oci_root {
	char *path;
	bool readonly;
};

struct oci_mount {
	char *destination;
	char *type;   /* may be NULL */
	char *source; /* may be NULL */
	char **options;
	size_t options_len;
	struct oci_id_mapping *uid_mappings;
	size_t uid_mappings_len;
	struct oci_id_mapping *gid_mappings;
	size_t gid_mappings_len;
};

struct oci_user {
	uint32_t uid;
	uint32_t gid;
	struct oci_opt_u32 umask;
	uint32_t *additional_gids;
	size_t additional_gids_len;
	char *username; /* windows only; kept for round trips */
};

struct oci_capabilities {
	char **bounding;
	size_t bounding_len;
	char **effective;
	size_t effective_len;
	char **inheritable;
	size_t inheritable_len;
	char **permitted;
	size_t permitted_len;
	char **ambient;
	size_t ambient_len;
	/* Which sets were present in the document (absent != empty). */
	bool has_bounding, has_effective, has_inheritable, has_permitted, has_ambient;
};

struct oci_rlimit {
	char *type; /* RLIMIT_NOFILE, ... */
	uint64_t hard;
	uint64_t soft;
};

struct oci_console_size {
	uint32_t height;
	uint32_t width;
};

struct oci_io_priority {
	char *class; /* IOPRIO_CLASS_RT | IOPRIO_CLASS_BE | IOPRIO_CLASS_IDLE */
	int32_t priority;
};

struct oci_scheduler {
	char *policy; /* SCHED_OTHER, SCHED_FIFO, ... */
	struct oci_opt_i32 nice;
	struct oci_opt_i32 priority;
	char **flags; /* SCHED_FLAG_* */
	size_t flags_len;
	struct oci_opt_u64 runtime;
	struct oci_opt_u64 deadline;
	struct oci_opt_u64 period;
};

struct oci_exec_cpu_affinity {
	char *initial; /* may be NULL */
	char *final;   /* may be NULL */
};

struct oci_process {
	bool terminal;
	bool has_console_size;
	struct oci_console_size console_size;
	struct oci_user user;
	char **args;
	size_t args_len;
	char *command_line; /* windows only */
	char **env;
	size_t env_len;
	char *cwd;
	bool has_capabilities;
	struct oci_capabilities capabilities;
	struct oci_rlimit *rlimits;
	size_t rlimits_len;
	bool no_new_privileges;
	char *apparmor_profile;
	struct oci_opt_i32 oom_score_adj;
	char *selinux_label;
	struct oci_io_priority *io_priority;             /* NULL when absent */
	struct oci_scheduler *scheduler;                 /* NULL when absent */
	struct oci_exec_cpu_affinity *exec_cpu_affinity; /* NULL when absent */
};

struct oci_hook {
	char *path;
	char **args;
	size_t args_len;
	char **env;
	size_t env_len;
	struct oci_opt_i32 timeout; /* seconds; > 0 when set */
};

struct oci_hooks {
	struct oci_hook *prestart;
	size_t prestart_len;
	struct oci_hook *create_runtime;
	size_t create_runtime_len;
	struct oci_hook *create_container;
	size_t create_container_len;
	struct oci_hook *start_container;
	size_t start_container_len;
	struct oci_hook *poststart;
	size_t poststart_len;
	struct oci_hook *poststop;
	size_t poststop_len;
};

enum oci_namespace_type {
	OCI_NS_PID,
	OCI_NS_NETWORK,
	OCI_NS_MOUNT,
	OCI_NS_IPC,
	OCI_NS_UTS,
	OCI_NS_USER,
	OCI_NS_CGROUP,
	OCI_NS_TIME,
	OCI_NS_COUNT
};

struct oci_namespace {
	enum oci_namespace_type type;
	char *path; /* NULL: create a new one */
};

struct oci_time_offset {
	char *clock; /* "monotonic" | "boottime" */
	int64_t secs;
	uint32_t nanosecs;
};

struct oci_device {
	char *type; /* c, b, u or p */
	char *path;
	int64_t major;
	int64_t minor;
	struct oci_opt_u32 file_mode;
	struct oci_opt_u32 uid;
	struct oci_opt_u32 gid;
};

struct oci_device_cgroup {
	bool allow;
	char *type;               /* a, c or b; NULL means "a" */
	struct oci_opt_i64 major; /* absent: any */
	struct oci_opt_i64 minor;
	char *access; /* rwm; NULL means "rwm" */
};

struct oci_memory {
	struct oci_opt_i64 limit;
	struct oci_opt_i64 reservation;
	struct oci_opt_i64 swap;
	struct oci_opt_i64 kernel;
	struct oci_opt_i64 kernel_tcp;
	struct oci_opt_u64 swappiness;
	struct oci_opt_bool disable_oom_killer;
	struct oci_opt_bool use_hierarchy;
	struct oci_opt_bool check_before_update;
};

struct oci_cpu {
	struct oci_opt_u64 shares;
	struct oci_opt_i64 quota;
	struct oci_opt_u64 burst;
	struct oci_opt_u64 period;
	struct oci_opt_i64 realtime_runtime;
	struct oci_opt_u64 realtime_period;
	char *cpus;
	char *mems;
	struct oci_opt_i64 idle;
};

struct oci_weight_device {
	int64_t major;
	int64_t minor;
	struct oci_opt_u16 weight;
	struct oci_opt_u16 leaf_weight;
};

struct oci_throttle_device {
	int64_t major;
	int64_t minor;
	uint64_t rate;
};

struct oci_block_io {
	struct oci_opt_u16 weight;
	struct oci_opt_u16 leaf_weight;
	struct oci_weight_device *weight_device;
	size_t weight_device_len;
	struct oci_throttle_device *throttle_read_bps_device;
	size_t throttle_read_bps_device_len;
	struct oci_throttle_device *throttle_write_bps_device;
	size_t throttle_write_bps_device_len;
	struct oci_throttle_device *throttle_read_iops_device;
	size_t throttle_read_iops_device_len;
	struct oci_throttle_device *throttle_write_iops_device;
	size_t throttle_write_iops_device_len;
};

struct oci_hugepage_limit {
	char *page_size; /* "2MB", ... */
	uint64_t limit;
};

struct oci_net_priority {
	char *name;
	uint32_t priority;
};

struct oci_network_resources {
	struct oci_opt_u32 class_id;
	struct oci_net_priority *priorities;
	size_t priorities_len;
};

struct oci_rdma_limit {
	char *device; /* the map key */
	struct oci_opt_u32 hca_handles;
	struct oci_opt_u32 hca_objects;
};

struct oci_resources {
	struct oci_device_cgroup *devices;
	size_t devices_len;
	struct oci_memory *memory;     /* NULL when absent */
	struct oci_cpu *cpu;           /* NULL when absent */
	struct oci_opt_i64 pids_limit; /* .pids.limit */
	bool has_pids;
	struct oci_block_io *block_io; /* NULL when absent */
	struct oci_hugepage_limit *hugepage_limits;
	size_t hugepage_limits_len;
	struct oci_network_resources *network; /* NULL when absent */
	struct oci_rdma_limit *rdma;
	size_t rdma_len;
	struct oci_kv *unified;
	size_t unified_len;
};

enum oci_seccomp_op {
	OCI_SCMP_CMP_NE,
	OCI_SCMP_CMP_LT,
	OCI_SCMP_CMP_LE,
	OCI_SCMP_CMP_EQ,
	OCI_SCMP_CMP_GE,
	OCI_SCMP_CMP_GT,
	OCI_SCMP_CMP_MASKED_EQ,
};

struct oci_seccomp_arg {
	uint32_t index;
	uint64_t value;
	uint64_t value_two;
	enum oci_seccomp_op op;
};

struct oci_seccomp_syscall {
	char **names;
	size_t names_len;
	char *action; /* SCMP_ACT_* */
	struct oci_opt_u32 errno_ret;
	struct oci_seccomp_arg *args;
	size_t args_len;
};

struct oci_seccomp {
	char *default_action;
	struct oci_opt_u32 default_errno_ret;
	char **architectures;
	size_t architectures_len;
	char **flags;
	size_t flags_len;
	char *listener_path;
	char *listener_metadata;
	struct oci_seccomp_syscall *syscalls;
	size_t syscalls_len;
};

struct oci_intel_rdt {
	char *clos_id;
	char *l3_cache_schema;
	char *mem_bw_schema;
	struct oci_opt_bool enable_cmt;
	struct oci_opt_bool enable_mbm;
};

struct oci_personality {
	char *domain; /* LINUX | LINUX32 */
	char **flags;
	size_t flags_len;
};

struct oci_linux {
	struct oci_namespace *namespaces;
	size_t namespaces_len;
	struct oci_id_mapping *uid_mappings;
	size_t uid_mappings_len;
	struct oci_id_mapping *gid_mappings;
	size_t gid_mappings_len;
	struct oci_time_offset *time_offsets; /* map in JSON, keyed by clock */
	size_t time_offsets_len;
	struct oci_device *devices;
	size_t devices_len;
	char *cgroups_path;
	struct oci_resources *resources; /* NULL when absent */
	char *rootfs_propagation;        /* shared|slave|private|unbindable|rshared|... */
	struct oci_seccomp *seccomp;     /* NULL when absent */
	struct oci_kv *sysctl;
	size_t sysctl_len;
	char **masked_paths;
	size_t masked_paths_len;
	char **readonly_paths;
	size_t readonly_paths_len;
	char *mount_label;
	struct oci_intel_rdt *intel_rdt;     /* NULL when absent */
	struct oci_personality *personality; /* NULL when absent */
};

struct oci_spec {
	char *oci_version;
	struct oci_root *root; /* NULL when absent */
	struct oci_mount *mounts;
	size_t mounts_len;
	struct oci_process *process; /* NULL when absent (allowed by the spec for create) */
	char *hostname;
	char *domainname;
	bool has_hooks;
	struct oci_hooks hooks;
	struct oci_kv *annotations;
	size_t annotations_len;
	struct oci_linux *linux_; /* NULL when absent */
};

/* ---- config.json ---- */

/* Parses a config.json document.  `origin` names the document in errors
 * ("config.json").  Validates types, enumerations (namespace types, rlimit
 * names, seccomp operators, ...), required fields (ociVersion, process.args
 * non-empty, process.cwd absolute, mount destination). */
int oci_spec_parse(const char *json, size_t len, const char *origin, struct oci_spec **out,
                   berth_error_t *err);
int oci_spec_parse_file(const char *path, struct oci_spec **out, berth_error_t *err);
/* A process.json (for exec --process): the same rules as .process. */
int oci_process_parse(const char *json, size_t len, const char *origin, struct oci_process **out,
                      berth_error_t *err);
/* Serialises to JSON text (pretty when `pretty`); the caller frees it. */
char *oci_spec_to_json(const struct oci_spec *spec, bool pretty, berth_error_t *err);
char *oci_process_to_json(const struct oci_process *process, bool pretty, berth_error_t *err);
void oci_spec_free(struct oci_spec *spec);
void oci_process_free(struct oci_process *process);

/* A linux.resources object on its own (`update --resources`); errors name
 * the path from the object: "resources.json: .memory.limit: expected an integer". */
int oci_resources_parse(const char *json, size_t len, const char *origin, struct oci_resources **out,
                        berth_error_t *err);
char *oci_resources_to_json(const struct oci_resources *resources, bool pretty, berth_error_t *err);
void oci_resources_free(struct oci_resources *resources);
/* The i-th hook kind of config.json's .hooks ("prestart", ...), NULL past the last. */
const char *oci_hook_kind_name(size_t i);
/* "SCMP_CMP_NE", ...; NULL for an unknown value. */
const char *oci_seccomp_op_name(enum oci_seccomp_op op);

const char *oci_namespace_type_name(enum oci_namespace_type type);
/* Returns -1 for an unknown name. */
int oci_namespace_type_from_name(const char *name);
/* The namespace of that type, or NULL. */
const struct oci_namespace *oci_spec_namespace(const struct oci_spec *spec, enum oci_namespace_type type);

static inline void oci_spec_freep(struct oci_spec **p)
{
	oci_spec_free(*p);
}
#define cleanup_oci_spec __attribute__((cleanup(oci_spec_freep)))

/* ---- state ---- */

struct oci_state {
	char *oci_version;
	char *id;
	char *status; /* creating | created | running | stopped */
	int pid;      /* 0: absent */
	char *bundle;
	struct oci_kv *annotations;
	size_t annotations_len;
};

int oci_state_parse(const char *json, size_t len, const char *origin, struct oci_state **out,
                    berth_error_t *err);
char *oci_state_to_json(const struct oci_state *state, bool pretty, berth_error_t *err);
void oci_state_free(struct oci_state *state);

/* ---- features ---- */

struct oci_features {
	char *oci_version_min;
	char *oci_version_max;
	char **hooks;
	size_t hooks_len;
	char **mount_options;
	size_t mount_options_len;
	/* .linux */
	char **namespaces;
	size_t namespaces_len;
	char **capabilities;
	size_t capabilities_len;
	struct oci_opt_bool cgroup_v1, cgroup_v2, cgroup_systemd, cgroup_systemd_user, cgroup_rdma;
	struct oci_opt_bool seccomp_enabled;
	char **seccomp_actions;
	size_t seccomp_actions_len;
	char **seccomp_operators;
	size_t seccomp_operators_len;
	char **seccomp_archs;
	size_t seccomp_archs_len;
	char **seccomp_known_flags;
	size_t seccomp_known_flags_len;
	char **seccomp_supported_flags;
	size_t seccomp_supported_flags_len;
	struct oci_opt_bool apparmor_enabled;
	struct oci_opt_bool selinux_enabled;
	struct oci_opt_bool intel_rdt_enabled;
	struct oci_opt_bool mount_extensions_idmap_enabled;
	struct oci_kv *annotations;
	size_t annotations_len;
};

int oci_features_parse(const char *json, size_t len, const char *origin, struct oci_features **out,
                       berth_error_t *err);
char *oci_features_to_json(const struct oci_features *features, bool pretty, berth_error_t *err);
void oci_features_free(struct oci_features *features);

#endif
