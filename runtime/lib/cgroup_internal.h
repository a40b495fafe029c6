/* Internals of the cgroup module, shared by cgroup.c (detection, paths, the
 * public entry points), cgroup_v1.c (v1 and hybrid back-ends), cgroup_v2.c
 * (the unified back-end) and cgroup_bpf.c (the v2 device controller).
 *
 * A back-end is a table of operations (struct cgroup_ops); cgroup.c picks
 * one by the mode that cgroup_detect() found.  Pure conversions (values and
 * file names that differ between v1 and v2) live here too, so that the unit
 * tests reach them without a cgroup file system.
 */
#ifndef BERTH_CGROUP_INTERNAL_H
#define BERTH_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"

struct json_object;

/* The v1 hierarchies the code knows, in the order they are created and
 * joined (cpuset first: its files must be filled before anything joins). */
enum cg_ctrl {
	CG_CPUSET,
	CG_CPU,
	CG_CPUACCT,
	CG_MEMORY,
	CG_DEVICES,
	CG_FREEZER,
	CG_BLKIO,
	CG_PIDS,
	CG_HUGETLB,
	CG_NET_CLS,
	CG_NET_PRIO,
	CG_RDMA,
	CG_PERF_EVENT,
	CG_MISC,
	CG_NAME_SYSTEMD, /* the named hierarchy "name=systemd": joined, never limited */
	CG_V1_N,
};

struct cgroup {
	enum cgroup_mode mode;
	const struct cgroup_ops *ops;
	char *path; /* what cgroup_path() returns */
	/* v1: per controller, the cgroup's path inside the hierarchy ("/a/b")
	 * and its absolute directory; NULL when the controller is not mounted.
	 * v1_alias[c] is true when an earlier controller shares the hierarchy
	 * (cpu,cpuacct co-mounted): the directory is then visited once. */
	char *v1_rel[CG_V1_N];
	char *v1_dir[CG_V1_N];
	bool v1_alias[CG_V1_N];
	/* The v2 (v2 mode) or unified (hybrid mode) cgroup; NULL if none. */
	char *v2_rel;
	char *v2_dir;
	char *v2_root; /* the hierarchy's mount point */
	int v2_fd;     /* cached O_PATH fd, or -1 */
	bool rootless;
	const struct oci_device *extra_devices; /* linux.devices, from the config */
	size_t extra_devices_len;
	uint64_t oom_kills; /* v2: the oom_kill count last seen in memory.events */
};

struct cgroup_ops {
	const char *name;
	/* mkdir in every hierarchy, then apply(create = true) */
	int (*create)(struct cgroup *cg, const struct oci_resources *r, berth_error_t *err);
	int (*apply)(struct cgroup *cg, const struct oci_resources *r, bool create, berth_error_t *err);
	int (*enter)(struct cgroup *cg, pid_t pid, berth_error_t *err);
	int (*freeze)(struct cgroup *cg, bool frozen, berth_error_t *err);
	int (*is_frozen)(struct cgroup *cg, bool *frozen, berth_error_t *err);
	/* The directory whose cgroup.procs (recursively) lists the container's
	 * processes. */
	const char *(*procs_dir)(struct cgroup *cg);
	/* SIGKILL through cgroup.kill: 1 done, 0 not available, -1 error. */
	int (*kill_fast)(struct cgroup *cg, berth_error_t *err);
	int (*stats)(struct cgroup *cg, struct json_object *data, berth_error_t *err);
	int (*oom_fd)(struct cgroup *cg, berth_error_t *err);
	bool (*oom_check)(struct cgroup *cg, int fd);
};

extern const struct cgroup_ops cgroup_v1_ops;
extern const struct cgroup_ops cgroup_hybrid_ops;
extern const struct cgroup_ops cgroup_v2_ops;

/* cgroup.c: the name of a v1 controller ("cpu", ..., "name=systemd"). */
const char *cgroup_ctrl_name(enum cg_ctrl c);
/* true while cgroup_set_root_for_tests() is in effect: writes then append
 * "value\n" to plain files (created if missing) instead of replacing the
 * content of cgroup files, so a test sees every write. */
bool cgroup_test_mode(void);

/* ---- file access (cgroup.c) ---- */

/* Writes value to dir/file (O_WRONLY|O_TRUNC); the error names the file and
 * the value: "write `<dir>/memory.max` = `1048576`: Device or resource busy". */
int cg_write(const char *dir, const char *file, const char *value, berth_error_t *err);
/* As cg_write, but returns -errno instead of setting an error (for callers
 * that tolerate some failures). */
int cg_write_try(const char *dir, const char *file, const char *value);
/* dir/file opened for a series of writes, each taken by the kernel as one
 * value (devices.allow: one rule per write); -errno on failure. */
int cg_open_write(const char *dir, const char *file);
/* One value to a file of cg_open_write; 0 or -errno. */
int cg_write_fd(int fd, const char *value);
int cg_write_u64(const char *dir, const char *file, uint64_t v, berth_error_t *err);
int cg_write_i64(const char *dir, const char *file, int64_t v, berth_error_t *err);
/* Reads dir/file whole (NUL-terminated, trailing newline kept). */
int cg_read(const char *dir, const char *file, char **out, berth_error_t *err);
/* Reads a single number; "max" reads as UINT64_MAX.  -1 with errno set, no
 * error object (stats tolerate missing files). */
int cg_read_u64(const char *dir, const char *file, uint64_t *out);
/* The value of `key` in a flat keyed file ("key value\n"...); -1 if absent. */
int cg_keyed_u64(const char *text, const char *key, uint64_t *out);
bool cg_file_exists(const char *dir, const char *file);
/* mkdir dir (and missing parents); EEXIST is fine.  *created tells whether
 * the last component was made now. */
int cg_mkdir(const char *dir, bool *created, berth_error_t *err);
/* Every pid listed in dir/cgroup.procs and in the sub-cgroups below it. */
int cg_read_pids(const char *dir, pid_t **pids, size_t *n, berth_error_t *err);
/* rmdir dir and every sub-cgroup below it, deepest first; retries EBUSY a
 * bounded number of times.  A missing dir is fine. */
int cg_rmdir_tree(const char *dir, berth_error_t *err);
/* Sends sig to each pid of dir (recursively); returns the number signalled. */
int cg_signal_pids(const char *dir, int sig, berth_error_t *err);

/* ---- stats JSON (cgroup.c), shaped as runc's types.Stats ---- */

/* Adds key: v; with omitempty (Go's `json:",omitempty"`) a 0 is left out. */
void cg_json_u64(struct json_object *o, const char *key, uint64_t v, bool omitempty);
/* The object at parent[key], added when missing; NULL on ENOMEM. */
struct json_object *cg_json_obj(struct json_object *parent, const char *key);
/* Appends {"major","minor","op","value"} to parent[key] (an array). */
void cg_json_blkio(struct json_object *parent, const char *key, uint64_t major, uint64_t minor,
                   const char *op, uint64_t value);
/* memory.stat-like "key value" lines into o (the "raw" map). */
void cg_json_raw(struct json_object *o, const char *text);
/* The huge page sizes of the machine as cgroup file names use them
 * ("2MB", "1GB"), NULL-terminated; the caller frees with strv_free. */
char **cg_hugepage_sizes(void);

/* ---- v2 helpers shared with the hybrid back-end (cgroup_v2.c) ---- */

/* mkdir the v2 cgroup, enabling `controllers` (space-separated, e.g.
 * "hugetlb"; NULL: every available one) in cgroup.subtree_control of each
 * ancestor below the hierarchy root. */
int cgroup_v2_make(struct cgroup *cg, const char *controllers, berth_error_t *err);
int cgroup_v2_enter_dir(const char *dir, pid_t pid, berth_error_t *err);
int cgroup_v2_freeze_dir(const char *dir, bool frozen, berth_error_t *err);
int cgroup_v2_kill_dir(const char *dir, berth_error_t *err); /* 1 / 0 / -1 as kill_fast */
/* rdma.max lines "dev hca_handle=N hca_object=M" (v1 and v2 alike). */
int cgroup_rdma_write(const char *dir, const struct oci_resources *r, berth_error_t *err);
int cgroup_v2_hugetlb(const char *dir, const struct oci_resources *r, berth_error_t *err);
int cgroup_v2_hugetlb_stats(const char *dir, struct json_object *data);
/* Writes linux.resources.unified; keys of controllers the hierarchy does
 * not have are an error naming the key. */
int cgroup_v2_unified(const char *dir, const struct oci_resources *r, berth_error_t *err);

/* ---- the device controller ---- */

/* One rule after defaults were filled in: type 'a', 'c' or 'b'; major and
 * minor -1 for "*"; access bits as below. */
enum { CG_DEV_MKNOD = 1, CG_DEV_READ = 2, CG_DEV_WRITE = 4 };
struct cg_dev_rule {
	bool allow;
	char type;
	int64_t major, minor;
	unsigned access;
};

/* The rules to apply: linux.resources.devices in order, then the devices
 * runc always allows (null, zero, full, random, urandom, tty, console,
 * ptmx, pts/N, net/tun, mknod of any c and b), then linux.devices (rwm).
 * The caller frees *out. */
int cgroup_device_rules(const struct cgroup *cg, const struct oci_resources *r, struct cg_dev_rule **out,
                        size_t *n, berth_error_t *err);
/* "c 1:3 rwm", "a *:* rwm" (the v1 devices.allow syntax); buf >= 64 bytes. */
const char *cgroup_device_rule_string(const struct cg_dev_rule *rule, char *buf, size_t size);
int cgroup_device_rule_from_oci(const struct oci_device_cgroup *d, struct cg_dev_rule *out,
                                berth_error_t *err);
/* The v1 kernel's semantics reduced to a default and exceptions (what the
 * eBPF program checks): rules in order, 'a' resets the default. */
struct cg_dev_state {
	bool default_allow;
	struct cg_dev_rule *ex;
	size_t n;
};
int cgroup_device_emulate(const struct cg_dev_rule *rules, size_t n, struct cg_dev_state *st,
                          berth_error_t *err);
void cgroup_device_state_free(struct cg_dev_state *st);
/* Builds, loads and attaches (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI) the
 * program to the cgroup open at dirfd; detaches programs attached earlier
 * by an `update`.  Returns 0 or -1. */
int cgroup_bpf_devices_attach(int dirfd, const struct cg_dev_rule *rules, size_t n, berth_error_t *err);
/* The instruction count of the program for these rules (for tests). */
size_t cgroup_bpf_program_len(const struct cg_dev_rule *rules, size_t n);

/* ---- pure conversions (tested by tests/unit/test_cgroup_values.c) ---- */

/* cpu.shares (2..262144) -> cpu.weight (1..10000); 0 stays 0. */
uint64_t cgroup_shares_to_weight(uint64_t shares);
/* blkio.weight (10..1000) -> io.weight (1..10000); 0 stays 0. */
uint64_t cgroup_blkio_to_io_weight(uint64_t weight);
/* memory.swap.max from the spec's swap (memory+swap) and limit, as runc
 * does: *out is -1 for "max", 0 for "leave alone" when *write is false.
 * Errors: swap without a limit, swap below the limit. */
int cgroup_swap_to_v2(int64_t swap, int64_t limit, int64_t *out, bool *write, berth_error_t *err);
/* A v2 number: -1 -> "max", else decimal.  buf >= 24 bytes. */
const char *cgroup_v2_num(int64_t v, char *buf, size_t size);
/* cpu.max: "quota period", "max period", or just "quota"/"max" when the
 * period is 0 (the kernel keeps its period). */
const char *cgroup_cpu_max(int64_t quota, uint64_t period, char *buf, size_t size);
/* v1 file name -> v2 file name ("memory.limit_in_bytes" -> "memory.max");
 * NULL when there is none.  cgroup_v1_name() maps back. */
const char *cgroup_v2_name(const char *v1, char *buf, size_t size);
const char *cgroup_v1_name(const char *v2, char *buf, size_t size);

#endif
