/* Unit tests for the pure parts of the cgroup module: value conversions
 * between the spec (v1-shaped) and v2, file names, device rules and their
 * reduction, and the path computation (against a test root, which reads no
 * /proc file). */
#include "../tap.h"
#include "cgroup_internal.h"
#include "util/cleanup.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_weights(void)
{
	ok(cgroup_shares_to_weight(0) == 0, "shares 0: unset");
	ok(cgroup_shares_to_weight(2) == 1, "shares 2 -> weight 1");
	ok(cgroup_shares_to_weight(1024) == 39, "shares 1024 -> weight 39 (runc's formula)");
	ok(cgroup_shares_to_weight(262144) == 10000, "shares 262144 -> weight 10000");
	ok(cgroup_shares_to_weight(512) == 1 + (510ULL * 9999) / 262142, "shares 512");
	ok(cgroup_blkio_to_io_weight(0) == 0, "blkio weight 0: unset");
	ok(cgroup_blkio_to_io_weight(10) == 1, "blkio weight 10 -> io.weight 1");
	ok(cgroup_blkio_to_io_weight(1000) == 10000, "blkio weight 1000 -> io.weight 10000");
	ok(cgroup_blkio_to_io_weight(500) == 4950, "blkio weight 500 -> io.weight 4950");
}

static void test_swap(void)
{
	berth_error_t err = NULL;
	int64_t out = 7;
	bool write = false;

	ok(cgroup_swap_to_v2(2 << 20, 1 << 20, &out, &write, &err) == 0 && write && out == 1 << 20,
	   "swap 2M, limit 1M -> memory.swap.max 1M");
	ok(cgroup_swap_to_v2(-1, 1 << 20, &out, &write, &err) == 0 && write && out == -1, "swap -1 -> max");
	ok(cgroup_swap_to_v2(0, -1, &out, &write, &err) == 0 && write && out == -1,
	   "limit -1 without swap -> swap max too");
	ok(cgroup_swap_to_v2(0, 1 << 20, &out, &write, &err) == 0 && !write, "swap unset: not written");
	ok(cgroup_swap_to_v2(1 << 20, 1 << 20, &out, &write, &err) == 0 && write && out == 0,
	   "swap == limit -> 0 (no swap)");
	ok(cgroup_swap_to_v2(100, 200, &out, &write, &err) < 0 && err != NULL &&
	       strstr(err->msg, "below memory.limit") != NULL,
	   "swap below limit: error (%s)", err ? err->msg : "");
	berth_error_free(&err);
	ok(cgroup_swap_to_v2(100, 0, &out, &write, &err) < 0 && err != NULL &&
	       strstr(err->msg, "without a memory limit") != NULL,
	   "swap without limit: error");
	berth_error_free(&err);
}

static void test_strings(void)
{
	char buf[64];

	is_str(cgroup_v2_num(-1, buf, sizeof(buf)), "max", "-1 -> max");
	is_str(cgroup_v2_num(4096, buf, sizeof(buf)), "4096", "4096");
	is_str(cgroup_cpu_max(50000, 100000, buf, sizeof(buf)), "50000 100000", "cpu.max quota period");
	is_str(cgroup_cpu_max(-1, 100000, buf, sizeof(buf)), "max 100000", "cpu.max max period");
	is_str(cgroup_cpu_max(0, 250000, buf, sizeof(buf)), "max 250000",
	       "quota 0 with a period: max period");
	is_str(cgroup_cpu_max(20000, 0, buf, sizeof(buf)), "20000", "no period: quota alone");
	is_str(cgroup_v2_name("memory.limit_in_bytes", buf, sizeof(buf)), "memory.max",
	       "v1->v2 memory limit");
	is_str(cgroup_v2_name("memory.memsw.limit_in_bytes", buf, sizeof(buf)), "memory.swap.max",
	       "v1->v2 swap");
	is_str(cgroup_v2_name("memory.soft_limit_in_bytes", buf, sizeof(buf)), "memory.low",
	       "v1->v2 reservation");
	is_str(cgroup_v2_name("cpu.shares", buf, sizeof(buf)), "cpu.weight", "v1->v2 shares");
	is_str(cgroup_v2_name("cpu.cfs_quota_us", buf, sizeof(buf)), "cpu.max", "v1->v2 quota");
	is_str(cgroup_v2_name("blkio.weight", buf, sizeof(buf)), "io.weight", "v1->v2 blkio weight");
	is_str(cgroup_v2_name("freezer.state", buf, sizeof(buf)), "cgroup.freeze", "v1->v2 freezer");
	is_str(cgroup_v2_name("hugetlb.2MB.limit_in_bytes", buf, sizeof(buf)), "hugetlb.2MB.max",
	       "v1->v2 hugetlb");
	ok(cgroup_v2_name("memory.kmem.limit_in_bytes", buf, sizeof(buf)) == NULL, "kmem has no v2 name");
	is_str(cgroup_v1_name("memory.max", buf, sizeof(buf)), "memory.limit_in_bytes", "v2->v1 memory.max");
	is_str(cgroup_v1_name("cpu.weight", buf, sizeof(buf)), "cpu.shares", "v2->v1 cpu.weight");
	is_str(cgroup_v1_name("io.weight", buf, sizeof(buf)), "blkio.weight", "v2->v1 io.weight");
	is_str(cgroup_v1_name("hugetlb.1GB.max", buf, sizeof(buf)), "hugetlb.1GB.limit_in_bytes",
	       "v2->v1 hugetlb");
	ok(cgroup_v1_name("memory.oom.group", buf, sizeof(buf)) == NULL, "memory.oom.group has no v1 name");
}

static void test_device_rules(void)
{
	struct oci_device_cgroup d;
	struct cg_dev_rule r;
	berth_error_t err = NULL;
	char buf[64];

	d = (struct oci_device_cgroup){true, (char *)"c", {true, 1}, {true, 3}, (char *)"rwm"};
	ok(cgroup_device_rule_from_oci(&d, &r, &err) == 0, "c 1:3 rwm parses");
	is_str(cgroup_device_rule_string(&r, buf, sizeof(buf)), "c 1:3 rwm", "c 1:3 rwm");
	d = (struct oci_device_cgroup){false, NULL, {false, 0}, {false, 0}, NULL};
	ok(cgroup_device_rule_from_oci(&d, &r, &err) == 0 && !r.allow, "defaults parse");
	is_str(cgroup_device_rule_string(&r, buf, sizeof(buf)), "a *:* rwm",
	       "type and access default: a *:* rwm");
	d = (struct oci_device_cgroup){true, (char *)"b", {true, 8}, {false, 0}, (char *)"mr"};
	ok(cgroup_device_rule_from_oci(&d, &r, &err) == 0, "b 8:* parses");
	is_str(cgroup_device_rule_string(&r, buf, sizeof(buf)), "b 8:* rm", "b 8:* rm (access in rwm order)");
	d = (struct oci_device_cgroup){true, (char *)"x", {false, 0}, {false, 0}, NULL};
	ok(cgroup_device_rule_from_oci(&d, &r, &err) < 0 && strstr(err->msg, "`x`") != NULL,
	   "type x rejected");
	berth_error_free(&err);
	d = (struct oci_device_cgroup){true, (char *)"c", {false, 0}, {false, 0}, (char *)"rq"};
	ok(cgroup_device_rule_from_oci(&d, &r, &err) < 0 && strstr(err->msg, "`rq`") != NULL,
	   "access rq rejected");
	berth_error_free(&err);
}

static void test_device_list(void)
{
	struct oci_device_cgroup spec[2] = {
	    {false, NULL, {false, 0}, {false, 0}, (char *)"rwm"},
	    {true, (char *)"c", {true, 1}, {true, 11}, (char *)"rw"},
	};
	struct oci_resources res = {.devices = spec, .devices_len = 2};
	struct oci_device extra[2] = {
	    {(char *)"b", (char *)"/dev/sda", 8, 0, {0}, {0}, {0}},
	    {(char *)"p", (char *)"/dev/fifo", 0, 0, {0}, {0}, {0}},
	};
	struct cgroup cg = {.extra_devices = extra, .extra_devices_len = 2};
	cleanup_free struct cg_dev_rule *rules = NULL;
	struct cg_dev_state st = {0};
	berth_error_t err = NULL;
	size_t n = 0;
	char buf[64];

	ok(cgroup_device_rules(&cg, &res, &rules, &n, &err) == 0, "device rules built");
	ok(n == 2 + 12 + 1, "spec rules, 12 defaults, one linux.devices entry (fifo skipped): %zu", n);
	is_str(cgroup_device_rule_string(&rules[0], buf, sizeof(buf)), "a *:* rwm", "spec rule first");
	is_str(cgroup_device_rule_string(&rules[1], buf, sizeof(buf)), "c 1:11 rw", "spec rule second");
	is_str(cgroup_device_rule_string(&rules[2], buf, sizeof(buf)), "c *:* m", "then the defaults");
	is_str(cgroup_device_rule_string(&rules[4], buf, sizeof(buf)), "c 1:3 rwm", "/dev/null allowed");
	is_str(cgroup_device_rule_string(&rules[n - 1], buf, sizeof(buf)), "b 8:0 rwm", "linux.devices last");

	ok(cgroup_device_emulate(rules, n, &st, &err) == 0 && !st.default_allow && st.n == n - 1,
	   "deny-all then allows: a whitelist of %zu", st.n);
	cgroup_device_state_free(&st);

	{
		struct cg_dev_rule seq[] = {
		    {false, 'a', -1, -1, 7},          {true, 'c', 1, 3, 7},
		    {false, 'c', 1, 3, CG_DEV_WRITE}, {true, 'c', 1, 5, CG_DEV_READ},
		    {true, 'c', 1, 5, CG_DEV_WRITE},
		};
		ok(cgroup_device_emulate(seq, 5, &st, &err) == 0 && st.n == 2, "deny takes access away");
		ok(st.n == 2 && st.ex[0].access == (CG_DEV_READ | CG_DEV_MKNOD) && st.ex[1].access == 6,
		   "c 1:3 rm, c 1:5 rw");
		cgroup_device_state_free(&st);
		seq[3] = (struct cg_dev_rule){true, 'a', -1, -1, 7};
		ok(cgroup_device_emulate(seq, 4, &st, &err) == 0 && st.default_allow && st.n == 0,
		   "allow a: everything, no exceptions");
		cgroup_device_state_free(&st);
		/* blacklist: 6 header instructions, one block, 2 closing */
		seq[4] = (struct cg_dev_rule){false, 'c', 1, 1, 7};
		ok(cgroup_bpf_program_len(seq, 5) == 6 + 5 + 2, "program: header, c 1:1 block, default (%zu)",
		   cgroup_bpf_program_len(seq, 5));
	}
	berth_error_free(&err);
}

static void test_paths(void)
{
	char root[] = "/tmp/berth-cgpaths-XXXXXX";
	struct cgroup *cg = NULL;
	berth_error_t err = NULL;
	enum cgroup_mode mode;

	ok(mkdtemp(root) != NULL, "temp root");
	cgroup_set_root_for_tests(CGROUP_MODE_V2, root);
	ok(cgroup_detect(&mode, &err) == 0 && mode == CGROUP_MODE_V2, "test root: v2");

	ok(cgroup_open(&(struct cgroup_config){.id = "abc", .cgroups_path = "/a/./b//c/../d"}, &cg, &err) ==
	       0,
	   "absolute path opens");
	is_str(cg ? cgroup_path(cg) : NULL, "/a/b/d", "cleaned: /a/b/d");
	is_str(cg ? cg->v2_dir + strlen(root) : NULL, "/a/b/d", "below the hierarchy root");
	cgroup_free(cg);
	cg = NULL;
	ok(cgroup_open(&(struct cgroup_config){.id = "abc"}, &cg, &err) == 0, "no cgroupsPath opens");
	is_str(cg ? cgroup_path(cg) : NULL, "/abc", "default: the id below the runtime's cgroup");
	cgroup_free(cg);
	cg = NULL;
	ok(cgroup_open(&(struct cgroup_config){.id = "abc", .cgroups_path = "x/y"}, &cg, &err) == 0,
	   "relative path opens");
	is_str(cg ? cgroup_path(cg) : NULL, "/x/y", "relative: below the runtime's cgroup");
	cgroup_free(cg);
	cg = NULL;

	ok(cgroup_open(&(struct cgroup_config){.id = "abc", .cgroups_path = "/a/../../etc"}, &cg, &err) < 0 &&
	       err->code == BERTH_ERR_INVALID && strstr(err->msg, "escapes") != NULL,
	   "`..` above the root: %s", err ? err->msg : "");
	berth_error_free(&err);
	ok(cgroup_open(&(struct cgroup_config){.id = "abc", .cgroups_path = "/.."}, &cg, &err) < 0,
	   "/.. rejected");
	berth_error_free(&err);
	ok(cgroup_open(&(struct cgroup_config){.id = "abc", .cgroups_path = "/a/.."}, &cg, &err) < 0 &&
	       strstr(err->msg, "root cgroup") != NULL,
	   "the root cgroup itself is refused");
	berth_error_free(&err);
	ok(cgroup_open(&(struct cgroup_config){.id = "abc", .cgroups_path = "system.slice:berth:abc"}, &cg,
	               &err) < 0 &&
	       strcmp(err->msg, "the systemd cgroup driver is not supported yet (cgroupsPath "
	                        "`system.slice:berth:abc`)") == 0,
	   "systemd form refused: %s", err ? err->msg : "");
	berth_error_free(&err);
	ok(cgroup_open(&(struct cgroup_config){.id = "abc", .systemd = true}, &cg, &err) < 0 &&
	       strstr(err->msg, "systemd cgroup driver") != NULL,
	   "--systemd-cgroup refused");
	berth_error_free(&err);

	/* hybrid: v1 controllers under root/<name>, v2 at root */
	{
		char sub[256];
		snprintf(sub, sizeof(sub), "%s/memory", root);
		mkdir(sub, 0755);
		snprintf(sub, sizeof(sub), "%s/cpu", root);
		mkdir(sub, 0755);
	}
	cgroup_set_root_for_tests(CGROUP_MODE_HYBRID, root);
	ok(cgroup_open_path("cpu:/x/c1;memory:/y/c1;:/z/c1", &cg, &err) == 0, "recorded map reopens");
	ok(cg != NULL && cg->v1_dir[CG_CPU] != NULL && strcmp(cg->v1_rel[CG_CPU], "/x/c1") == 0 &&
	       strcmp(cg->v1_rel[CG_MEMORY], "/y/c1") == 0 && strcmp(cg->v2_rel, "/z/c1") == 0,
	   "each hierarchy has its own path");
	is_str(cg ? cgroup_path(cg) : NULL, "cpu:/x/c1;memory:/y/c1;:/z/c1", "and records them all again");
	cgroup_free(cg);
	cg = NULL;
	ok(cgroup_open_path("/berth/c1", &cg, &err) == 0 && strcmp(cgroup_path(cg), "/berth/c1") == 0,
	   "a single recorded path");
	cgroup_free(cg);
	cgroup_set_root_for_tests(CGROUP_MODE_V2, NULL);
	{
		char sub[256];
		snprintf(sub, sizeof(sub), "%s/memory", root);
		rmdir(sub);
		snprintf(sub, sizeof(sub), "%s/cpu", root);
		rmdir(sub);
		rmdir(root);
	}
	berth_error_free(&err);
}

int main(void)
{
	test_weights();
	test_swap();
	test_strings();
	test_device_rules();
	test_device_list();
	test_paths();
	ok(strcmp(cgroup_v1_controllers[0], "cpuset") == 0, "controllers list for `features`");
	return tap_done();
}
