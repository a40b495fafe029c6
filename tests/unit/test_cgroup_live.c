/* The cgroup module on the machine's real hierarchies (root only): a
 * cgroup /berth-test-<pid> with limits, a child placed in it, frozen and
 * thawed, listed, OOM-killed, killed, and the cgroup destroyed; then the
 * v2 device program on a cgroup of the v2 hierarchy.  Everything made is
 * removed at exit, also on failure.  Skips without root or cgroups. */
#include "../tap.h"
#include "cgroup_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

static struct cgroup *cg;
static char bpf_dir[256];
static pid_t children[4];

static void cleanup(void)
{
	berth_error_t err = NULL;
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
		}
	if (cg != NULL && cgroup_destroy(cg, &err) < 0) {
		printf("# cleanup: %s\n", err->msg);
		berth_error_free(&err);
	}
	cgroup_free(cg);
	cg = NULL;
	if (bpf_dir[0] != '\0')
		rmdir(bpf_dir);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A child that waits for a byte on fd, then runs fn and exits with its
 * result. */
static pid_t spawn(int *go, int (*fn)(void))
{
	int p[2];
	pid_t pid;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(99);
		_exit(fn());
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

static int loop_forever(void)
{
	for (;;)
		pause();
	return 0;
}

static int eat_memory(void)
{
	size_t sz = 256UL << 20;
	char *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 2;
	for (size_t i = 0; i < sz; i += 4096)
		m[i] = 1;
	return 0;
}

/* 0: /dev/null opens and /dev/kmsg (c 1:11, not allowed) does not (EPERM). */
static int probe_devices(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	close(fd);
	fd = open("/dev/kmsg", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return 2;
	return errno == EPERM ? 0 : 3;
}

static char *read_dir_file(const char *dir, const char *file)
{
	char *text = NULL;
	berth_error_t err = NULL;
	if (cg_read(dir, file, &text, &err) < 0) {
		printf("# %s\n", err->msg);
		berth_error_free(&err);
		return strdup("");
	}
	text[strcspn(text, "\n")] = '\0';
	return text;
}

#define file_is(dir, file, want)                                                                             \
	do {                                                                                                 \
		cleanup_free char *got_ = read_dir_file(dir, file);                                          \
		is_str(got_, want, "%s", file);                                                              \
	} while (0)

static void live(enum cgroup_mode mode)
{
	struct oci_memory mem = {.limit = {true, 64 << 20}, .swap = {true, 64 << 20}};
	struct oci_cpu cpu = {.shares = {true, 512}, .quota = {true, 20000}, .period = {true, 100000}};
	struct oci_device_cgroup devs[2] = {{false, NULL, {0}, {0}, (char *)"rwm"},
	                                    {true, (char *)"c", {true, 1}, {true, 11}, (char *)"rw"}};
	struct oci_resources res = {.devices = devs,
	                            .devices_len = 2,
	                            .memory = &mem,
	                            .cpu = &cpu,
	                            .pids_limit = {true, 32},
	                            .has_pids = true};
	berth_error_t err = NULL;
	char path[64];
	cleanup_free pid_t *pids = NULL;
	size_t npids = 0;
	bool frozen = true;
	int go = -1, status = 0;
	double t0, t1, t2;

	snprintf(path, sizeof(path), "/berth-test-%d", (int)getpid());
	t0 = now_ms();
	ok(cgroup_open(&(struct cgroup_config){.id = "live", .cgroups_path = path}, &cg, &err) == 0,
	   "open %s", path);
	if (cg == NULL)
		return;
	ok(cgroup_create(cg, &res, &err) == 0, "create: %s", err ? err->msg : "ok");
	berth_error_free(&err);
	t1 = now_ms();

	if (mode != CGROUP_MODE_V2) {
		file_is(cg->v1_dir[CG_MEMORY], "memory.limit_in_bytes", "67108864");
		file_is(cg->v1_dir[CG_MEMORY], "memory.memsw.limit_in_bytes", "67108864");
		file_is(cg->v1_dir[CG_CPU], "cpu.shares", "512");
		file_is(cg->v1_dir[CG_CPU], "cpu.cfs_quota_us", "20000");
		file_is(cg->v1_dir[CG_CPU], "cpu.cfs_period_us", "100000");
		file_is(cg->v1_dir[CG_PIDS], "pids.max", "32");
		if (cg->v1_dir[CG_CPUSET] != NULL) {
			cleanup_free char *cpus = read_dir_file(cg->v1_dir[CG_CPUSET], "cpuset.cpus");
			ok(cpus[0] != '\0', "cpuset.cpus copied from the parent: %s", cpus);
		}
		{
			cleanup_free char *list = NULL;
			(void)cg_read(cg->v1_dir[CG_DEVICES], "devices.list", &list, &err);
			ok(list != NULL && strstr(list, "c 1:3 rwm\n") != NULL &&
			       strstr(list, "c 1:11 rw\n") != NULL && strstr(list, "a *:* rwm") == NULL,
			   "devices.list: deny-all plus the allowed ones");
		}
	} else {
		file_is(cg->v2_dir, "memory.max", "67108864");
		file_is(cg->v2_dir, "cpu.weight", "20");
		file_is(cg->v2_dir, "cpu.max", "20000 100000");
		file_is(cg->v2_dir, "pids.max", "32");
	}

	/* a child in the cgroup */
	children[0] = spawn(&go, loop_forever);
	t2 = now_ms();
	ok(cgroup_enter(cg, children[0], &err) == 0, "enter child %d: %s", (int)children[0],
	   err ? err->msg : "ok");
	berth_error_free(&err);
	printf("# open+create %.2f ms, enter %.2f ms\n", t1 - t0, now_ms() - t2);
	(void)!write(go, "x", 1);
	close(go);
	ok(cgroup_pids(cg, &pids, &npids, &err) == 0 && npids == 1 && pids[0] == children[0], "pids: %zu",
	   npids);
	berth_error_free(&err);

	ok(cgroup_freeze(cg, true, &err) == 0, "freeze: %s", err ? err->msg : "ok");
	berth_error_free(&err);
	ok(cgroup_is_frozen(cg, &frozen, &err) == 0 && frozen, "frozen");
	if (cg->v1_dir[CG_FREEZER] != NULL)
		file_is(cg->v1_dir[CG_FREEZER], "freezer.state", "FROZEN");
	ok(cgroup_freeze(cg, false, &err) == 0, "thaw: %s", err ? err->msg : "ok");
	berth_error_free(&err);
	ok(cgroup_is_frozen(cg, &frozen, &err) == 0 && !frozen, "thawed");

	{
		cleanup_free char *json = cgroup_stats_json(cg, &err);
		struct json_object *o = json ? json_tokener_parse(json) : NULL, *x;
		ok(o != NULL, "stats JSON: %.300s", json ? json : err->msg);
		ok(json_object_object_get_ex(o, "memory", &x) && json_object_object_get_ex(x, "usage", &x) &&
		       json_object_object_get_ex(x, "limit", &x) && json_object_get_uint64(x) == 64 << 20,
		   "memory.usage.limit");
		ok(json_object_object_get_ex(o, "pids", &x) && json_object_object_get_ex(x, "current", &x) &&
		       json_object_get_uint64(x) == 1,
		   "pids.current 1");
		json_object_put(o);
	}

	/* an OOM kill is seen on the OOM fd */
	{
		int ofd = cgroup_oom_fd(cg, &err);
		ok(ofd >= 0, "oom fd: %s", err ? err->msg : "ok");
		berth_error_free(&err);
		children[1] = spawn(&go, eat_memory);
		ok(cgroup_enter(cg, children[1], &err) == 0, "enter the memory eater");
		berth_error_free(&err);
		(void)!write(go, "x", 1);
		close(go);
		waitpid(children[1], &status, 0);
		children[1] = 0;
		ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the memory eater was OOM-killed");
		if (ofd >= 0) {
			struct pollfd p = {ofd, POLLIN, 0};
			ok(poll(&p, 1, 2000) == 1 && cgroup_oom_check(cg, ofd), "the OOM fd reported it");
			close(ofd);
		}
	}

	ok(cgroup_kill_all(cg, SIGKILL, &err) == 0, "kill all: %s", err ? err->msg : "ok");
	berth_error_free(&err);
	waitpid(children[0], &status, 0);
	children[0] = 0;
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child killed by SIGKILL");

	/* destroy also kills what is left */
	children[2] = spawn(&go, loop_forever);
	(void)cgroup_enter(cg, children[2], &err);
	berth_error_free(&err);
	(void)!write(go, "x", 1);
	close(go);
	t0 = now_ms();
	ok(cgroup_destroy(cg, &err) == 0, "destroy with a process inside: %s", err ? err->msg : "ok");
	berth_error_free(&err);
	printf("# destroy %.2f ms\n", now_ms() - t0);
	waitpid(children[2], &status, 0);
	children[2] = 0;
	ok(WIFSIGNALED(status), "the process left was killed");
	{
		bool gone = true;
		for (int c = 0; c < CG_V1_N; c++)
			if (cg->v1_dir[c] != NULL && access(cg->v1_dir[c], F_OK) == 0)
				gone = false;
		if (cg->v2_dir != NULL && access(cg->v2_dir, F_OK) == 0)
			gone = false;
		ok(gone, "removed from every hierarchy");
	}
	ok(cgroup_destroy(cg, &err) == 0, "destroy again: missing directories are fine");
	berth_error_free(&err);
	cgroup_free(cg);
	cg = NULL;
}

/* The eBPF device program on a cgroup of the v2 hierarchy. */
static void live_bpf(const char *v2root)
{
	struct oci_device_cgroup deny = {false, NULL, {0}, {0}, (char *)"rwm"};
	struct oci_resources res = {.devices = &deny, .devices_len = 1};
	struct cgroup fake = {0};
	cleanup_free struct cg_dev_rule *rules = NULL;
	cleanup_close int dfd = -1;
	berth_error_t err = NULL;
	size_t n = 0;
	int go = -1, status = 0;

	snprintf(bpf_dir, sizeof(bpf_dir), "%s/berth-test-%d-bpf", v2root, (int)getpid());
	ok(mkdir(bpf_dir, 0755) == 0, "mkdir %s", bpf_dir);
	dfd = open(bpf_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ok(cgroup_device_rules(&fake, &res, &rules, &n, &err) == 0, "rules");
	ok(cgroup_bpf_devices_attach(dfd, rules, n, &err) == 0, "attach the device program: %s",
	   err ? err->msg : "ok");
	berth_error_free(&err);
	ok(cgroup_bpf_devices_attach(dfd, rules, n, &err) == 0, "attach again (replaces): %s",
	   err ? err->msg : "ok");
	berth_error_free(&err);
	children[3] = spawn(&go, probe_devices);
	ok(cgroup_v2_enter_dir(bpf_dir, children[3], &err) == 0, "enter: %s", err ? err->msg : "ok");
	berth_error_free(&err);
	(void)!write(go, "x", 1);
	close(go);
	waitpid(children[3], &status, 0);
	children[3] = 0;
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "/dev/null opens, /dev/kmsg is EPERM (status %d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	ok(rmdir(bpf_dir) == 0, "rmdir");
	bpf_dir[0] = '\0';
}

int main(void)
{
	enum cgroup_mode mode;
	berth_error_t err = NULL;

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	if (cgroup_detect(&mode, &err) < 0) {
		printf("1..0 # SKIP %s\n", err->msg);
		return 0;
	}
	atexit(cleanup);
	printf("# mode %s\n", cgroup_mode_name(mode));
	live(mode);
	{
		/* the v2 hierarchy's mount point, from a throwaway cgroup */
		struct cgroup *probe = NULL;
		if (mode != CGROUP_MODE_V1 &&
		    cgroup_open(&(struct cgroup_config){.id = "x", .cgroups_path = "/x"}, &probe, &err) ==
		        0) {
			live_bpf(probe->v2_root);
			cgroup_free(probe);
		}
		berth_error_free(&err);
	}
	return tap_done();
}
