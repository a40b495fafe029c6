/* The v2 back-end against a scratch directory of plain files: the test
 * root stands for the unified hierarchy, every write is appended ("value\n")
 * so each file shows all that was written to it, in order.  Checks the
 * files of a full linux.resources, an update, freeze/kill, stats and
 * destroy. */
#include "../tap.h"
#include "cgroup_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

static char root[64];

static void put(const char *rel, const char *content)
{
	char path[512];
	berth_error_t err = NULL;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (fs_write_file_atomic_at(AT_FDCWD, path, content, strlen(content), 0644, &err) < 0) {
		printf("# %s\n", err->msg);
		berth_error_free(&err);
	}
}

static char *get(const char *rel)
{
	char path[512];
	char *text = NULL;
	berth_error_t err = NULL;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (fs_read_file_at(AT_FDCWD, path, &text, NULL, &err) < 0)
		berth_error_free(&err);
	return text;
}

#define file_is(rel, want)                                                                                   \
	do {                                                                                                 \
		cleanup_free char *got_ = get(rel);                                                          \
		is_str(got_, want, "%s", rel);                                                               \
	} while (0)

static bool exists(const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return access(path, F_OK) == 0;
}

int main(void)
{
	struct oci_memory mem = {.limit = {true, 1 << 30},
	                         .reservation = {true, 1 << 29},
	                         .swap = {true, 2LL << 30},
	                         .swappiness = {true, 60},
	                         .kernel = {true, 1 << 20},
	                         .disable_oom_killer = {true, true}};
	struct oci_cpu cpu = {.shares = {true, 1024},
	                      .quota = {true, 50000},
	                      .period = {true, 100000},
	                      .burst = {true, 1000},
	                      .cpus = (char *)"0-1",
	                      .mems = (char *)"0",
	                      .idle = {true, 1}};
	struct oci_throttle_device rbps = {8, 0, 1048576}, wiops[2] = {{8, 16, 100}, {8, 32, 200}};
	struct oci_weight_device wdev = {8, 0, {true, 300}, {true, 10}};
	struct oci_block_io bio = {.weight = {true, 500},
	                           .leaf_weight = {true, 200},
	                           .weight_device = &wdev,
	                           .weight_device_len = 1,
	                           .throttle_read_bps_device = &rbps,
	                           .throttle_read_bps_device_len = 1,
	                           .throttle_write_iops_device = wiops,
	                           .throttle_write_iops_device_len = 2};
	struct oci_hugepage_limit huge = {(char *)"2MB", 4194304};
	struct oci_rdma_limit rdma[2] = {{(char *)"mlx5_1", {true, 3}, {true, 100}},
	                                 {(char *)"mlx4_0", {true, 2}, {0}}};
	struct oci_kv unified[2] = {{(char *)"memory.high", (char *)"2000000000"},
	                            {(char *)"memory.oom.group", (char *)"1"}};
	struct oci_device_cgroup devs[1] = {{false, NULL, {0}, {0}, (char *)"rwm"}};
	struct oci_resources res = {.devices = devs,
	                            .devices_len = 1,
	                            .memory = &mem,
	                            .cpu = &cpu,
	                            .pids_limit = {true, 100},
	                            .has_pids = true,
	                            .block_io = &bio,
	                            .hugepage_limits = &huge,
	                            .hugepage_limits_len = 1,
	                            .rdma = rdma,
	                            .rdma_len = 2,
	                            .unified = unified,
	                            .unified_len = 2};
	struct cgroup *cg = NULL;
	berth_error_t err = NULL;
	const char *enable = "+cpuset +cpu +io +memory +hugetlb +pids +rdma\n";

	snprintf(root, sizeof(root), "/tmp/berth-cgv2-XXXXXX");
	if (mkdtemp(root) == NULL) {
		printf("1..0 # SKIP mkdtemp failed\n");
		return 0;
	}
	put("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma\n");
	cgroup_set_root_for_tests(CGROUP_MODE_V2, root);

	ok(cgroup_open(&(struct cgroup_config){.id = "c1", .cgroups_path = "/berth/c1"}, &cg, &err) == 0,
	   "open /berth/c1");
	ok(cgroup_create(cg, &res, &err) == 0, "create with full resources: %s", err ? err->msg : "ok");
	berth_error_free(&err);

	/* 1. controllers delegated by each ancestor */
	file_is("cgroup.subtree_control", enable);
	file_is("berth/cgroup.subtree_control", enable);
	ok(!exists("berth/c1/cgroup.subtree_control"), "the leaf delegates nothing");
	/* 2. the resources */
	file_is("berth/c1/pids.max", "100\n");
	file_is("berth/c1/memory.swap.max", "1073741824\n");
	file_is("berth/c1/memory.max", "1073741824\n");
	file_is("berth/c1/memory.low", "536870912\n");
	ok(!exists("berth/c1/memory.swappiness") && !exists("berth/c1/memory.oom_control"),
	   "swappiness, disableOOMKiller: no v2 file written");
	file_is("berth/c1/io.weight", "4950\n");
	ok(!exists("berth/c1/io.bfq.weight"), "no bfq: no per-device weights");
	file_is("berth/c1/io.max", "8:0 rbps=1048576\n8:16 wiops=100\n8:32 wiops=200\n");
	file_is("berth/c1/cpu.idle", "1\n");
	file_is("berth/c1/cpu.weight", "39\n");
	file_is("berth/c1/cpu.max", "50000 100000\n");
	file_is("berth/c1/cpu.max.burst", "1000\n");
	file_is("berth/c1/cpuset.cpus", "0-1\n");
	file_is("berth/c1/cpuset.mems", "0\n");
	file_is("berth/c1/hugetlb.2MB.max", "4194304\n");
	file_is("berth/c1/rdma.max", "mlx5_1 hca_handle=3 hca_object=100\nmlx4_0 hca_handle=2\n");
	file_is("berth/c1/memory.high", "2000000000\n");
	file_is("berth/c1/memory.oom.group", "1\n");

	/* update: only what is set; -1 and <= 0 are "max" */
	{
		struct oci_memory m2 = {.limit = {true, -1}};
		struct oci_cpu c2 = {.quota = {true, -1}};
		struct oci_resources u = {
		    .memory = &m2, .cpu = &c2, .pids_limit = {true, 0}, .has_pids = true};
		ok(cgroup_update(cg, &u, &err) == 0, "update: %s", err ? err->msg : "ok");
		berth_error_free(&err);
		file_is("berth/c1/memory.max", "1073741824\nmax\n");
		file_is("berth/c1/memory.swap.max", "1073741824\nmax\n");
		file_is("berth/c1/cpu.max", "50000 100000\nmax\n");
		file_is("berth/c1/pids.max", "100\nmax\n");
		file_is("berth/c1/cpu.weight", "39\n");
	}
	/* checkBeforeUpdate refuses a limit below the usage */
	{
		struct oci_memory m3 = {.limit = {true, 1000}, .check_before_update = {true, true}};
		struct oci_resources u = {.memory = &m3};
		put("berth/c1/memory.current", "4096\n");
		ok(cgroup_update(cg, &u, &err) < 0 &&
		       strstr(err->msg, "below the current usage 4096") != NULL,
		   "checkBeforeUpdate: %s", err ? err->msg : "no error");
		berth_error_free(&err);
		file_is("berth/c1/memory.max", "1073741824\nmax\n");
	}
	/* errors name the value */
	{
		struct oci_memory m4 = {.limit = {true, 2000}, .swap = {true, 1000}};
		struct oci_kv bad = {(char *)"../x", (char *)"1"};
		struct oci_resources u = {.memory = &m4};
		struct oci_resources v = {.unified = &bad, .unified_len = 1};
		struct oci_cpu rt = {.realtime_runtime = {true, 1000}};
		struct oci_resources w = {.cpu = &rt};
		ok(cgroup_update(cg, &u, &err) < 0 && strstr(err->msg, "1000") != NULL, "swap < limit: %s",
		   err ? err->msg : "");
		berth_error_free(&err);
		ok(cgroup_update(cg, &v, &err) < 0 && strstr(err->msg, "`../x`") != NULL,
		   "unified with a slash: %s", err ? err->msg : "");
		berth_error_free(&err);
		ok(cgroup_update(cg, &w, &err) < 0 && strstr(err->msg, "realtime") != NULL,
		   "realtime on v2: %s", err ? err->msg : "");
		berth_error_free(&err);
	}

	/* freeze and kill go through cgroup.freeze and cgroup.kill */
	ok(cgroup_freeze(cg, true, &err) == 0 && cgroup_freeze(cg, false, &err) == 0, "freeze, thaw");
	file_is("berth/c1/cgroup.freeze", "1\n0\n");
	put("berth/c1/cgroup.procs", "");
	ok(cgroup_kill_all(cg, SIGKILL, &err) == 0, "kill all");
	file_is("berth/c1/cgroup.kill", "1\n");

	/* stats from the v2 files */
	put("berth/c1/cpu.stat",
	    "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 5\nnr_throttled 1\n"
	    "throttled_usec 7\n");
	put("berth/c1/memory.current", "4096\n");
	put("berth/c1/memory.max", "max\n");
	put("berth/c1/memory.stat", "anon 1024\nfile 2048\n");
	put("berth/c1/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
	put("berth/c1/pids.current", "2\n");
	put("berth/c1/pids.max", "max\n");
	put("berth/c1/io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
	{
		cleanup_free char *json = cgroup_stats_json(cg, &err);
		struct json_object *o = json != NULL ? json_tokener_parse(json) : NULL, *x;
		printf("# %s\n", json ? json : err->msg);
		ok(o != NULL, "stats are JSON");
		ok(json_object_object_get_ex(o, "cpu", &x) && json_object_object_get_ex(x, "usage", &x) &&
		       json_object_object_get_ex(x, "total", &x) && json_object_get_uint64(x) == 100000,
		   "cpu.usage.total in ns");
		ok(json_object_object_get_ex(o, "cpu", &x) &&
		       json_object_object_get_ex(x, "throttling", &x) &&
		       json_object_object_get_ex(x, "throttledTime", &x) && json_object_get_uint64(x) == 7000,
		   "cpu.throttling.throttledTime");
		ok(json_object_object_get_ex(o, "memory", &x) && json_object_object_get_ex(x, "usage", &x) &&
		       json_object_object_get_ex(x, "usage", &x) && json_object_get_uint64(x) == 4096,
		   "memory.usage.usage");
		ok(json_object_object_get_ex(o, "memory", &x) && json_object_object_get_ex(x, "usage", &x) &&
		       json_object_object_get_ex(x, "failcnt", &x) && json_object_get_uint64(x) == 3,
		   "memory.usage.failcnt from memory.events max");
		ok(json_object_object_get_ex(o, "memory", &x) && json_object_object_get_ex(x, "cache", &x) &&
		       json_object_get_uint64(x) == 2048,
		   "memory.cache from file");
		ok(json_object_object_get_ex(o, "pids", &x) && json_object_object_get_ex(x, "current", &x) &&
		       json_object_get_uint64(x) == 2,
		   "pids.current");
		ok(json_object_object_get_ex(o, "blkio", &x) &&
		       json_object_object_get_ex(x, "ioServiceBytesRecursive", &x) &&
		       json_object_array_length(x) == 2,
		   "blkio read and write bytes");
		json_object_put(o);
	}
	/* the oom fd watches memory.events */
	{
		int fd = cgroup_oom_fd(cg, &err);
		ok(fd >= 0, "oom fd: %s", err ? err->msg : "ok");
		berth_error_free(&err);
		ok(fd >= 0 && !cgroup_oom_check(cg, fd), "no new oom_kill");
		put("berth/c1/memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n");
		ok(fd >= 0 && cgroup_oom_check(cg, fd), "oom_kill 1 -> 2 is an OOM kill");
		ok(fd >= 0 && !cgroup_oom_check(cg, fd), "seen once");
		if (fd >= 0)
			close(fd);
	}

	ok(cgroup_destroy(cg, &err) == 0, "destroy: %s", err ? err->msg : "ok");
	berth_error_free(&err);
	ok(!exists("berth/c1") && exists("berth"), "the leaf is gone, the parent stays");
	cgroup_free(cg);

	/* v1-only: linux.resources.unified is an error; a missing controller is named */
	{
		char sub[128];
		struct oci_resources u = {.unified = unified, .unified_len = 1};
		struct oci_network_resources net = {.class_id = {true, 0x100001}};
		struct oci_resources n = {.network = &net};
		snprintf(sub, sizeof(sub), "%s/v1", root);
		mkdir(sub, 0755);
		snprintf(sub, sizeof(sub), "%s/v1/memory", root);
		mkdir(sub, 0755);
		snprintf(sub, sizeof(sub), "%s/v1", root);
		cgroup_set_root_for_tests(CGROUP_MODE_V1, sub);
		ok(cgroup_open(&(struct cgroup_config){.id = "c2", .cgroups_path = "/c2"}, &cg, &err) == 0,
		   "open v1");
		ok(cgroup_update(cg, &u, &err) < 0 && strstr(err->msg, "needs cgroup v2") != NULL, "%s",
		   err ? err->msg : "unified on v1 accepted");
		berth_error_free(&err);
		ok(cgroup_update(cg, &n, &err) < 0 && strstr(err->msg, "net_cls") != NULL, "%s",
		   err ? err->msg : "net_cls accepted");
		berth_error_free(&err);
		cgroup_free(cg);
	}

	cgroup_set_root_for_tests(CGROUP_MODE_V2, NULL);
	fs_remove_tree_at(AT_FDCWD, root, NULL);
	return tap_done();
}
