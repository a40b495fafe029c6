/* Unit tests of security.c: cpu lists, personality values, the SELinux mount
 * option string, the no-op and error paths of the LSM labels on a host
 * without them, and (in forked children) affinity and scheduling applied to
 * the calling process. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "security.h"
#include "../tap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int cpu_count(const cpu_set_t *set)
{
	return CPU_COUNT(set);
}

static void test_cpu_list_valid(void)
{
	cpu_set_t set;
	berth_error_t err = NULL;

	ok(security_parse_cpu_list("0-3,7", &set, &err) == 0, "cpu list `0-3,7` parses");
	ok(cpu_count(&set) == 5 && CPU_ISSET(0, &set) && CPU_ISSET(3, &set) && CPU_ISSET(7, &set) &&
	       !CPU_ISSET(4, &set),
	   "`0-3,7`: cpus 0 1 2 3 7");
	ok(security_parse_cpu_list("5", &set, &err) == 0 && cpu_count(&set) == 1 && CPU_ISSET(5, &set),
	   "`5`: one cpu");
	ok(security_parse_cpu_list(" 1 , 2-2 ,4-5", &set, &err) == 0 && cpu_count(&set) == 4 &&
	       CPU_ISSET(1, &set) && CPU_ISSET(2, &set) && CPU_ISSET(4, &set) && CPU_ISSET(5, &set),
	   "blanks around elements, a one-cpu range");
	ok(security_parse_cpu_list("1023", &set, &err) == 0 && CPU_ISSET(1023, &set),
	   "the last cpu of a cpu_set_t");
	ok(err == NULL, "no error set by valid lists");
}

static void test_cpu_list_invalid(void)
{
	static const char *const bad[] = {
	    "",
	    " ",
	    ",",
	    "0,",
	    ",1",
	    "1,,2",
	    "3-1",
	    "0-",
	    "-3",
	    "a",
	    "1-a",
	    "1 2",
	    "0x1",
	    "1024",
	    "0-1024",
	    "+1",
	    "99999999999999999999999",
	};

	for (size_t i = 0; i < N(bad); i++) {
		cpu_set_t set;
		berth_error_t err = NULL;
		char want[64];
		ok(security_parse_cpu_list(bad[i], &set, &err) < 0, "cpu list `%s` is rejected", bad[i]);
		snprintf(want, sizeof(want), "invalid cpu list `%s`", bad[i]);
		ok(err != NULL && err->code == BERTH_ERR_INVALID && strstr(err->msg, want) != NULL,
		   "the error names `%s`: %s", bad[i], err != NULL ? err->msg : "(none)");
		berth_error_free(&err);
	}
}

static void test_personality(void)
{
	char *flags[] = {(char *)"ADDR_NO_RANDOMIZE", (char *)"READ_IMPLIES_EXEC", NULL};
	char *bad_flags[] = {(char *)"ADDR_NO_RANDOMIZE", (char *)"NOPE", NULL};
	struct oci_personality p = {.domain = (char *)"LINUX"};
	unsigned long v = 1;
	berth_error_t err = NULL;

	ok(security_personality_value(&p, &v, &err) == 0 && v == PER_LINUX, "LINUX: PER_LINUX");
	p.domain = (char *)"LINUX32";
	ok(security_personality_value(&p, &v, &err) == 0 && v == PER_LINUX32, "LINUX32: PER_LINUX32");
	p.flags = flags;
	p.flags_len = 2;
	ok(security_personality_value(&p, &v, &err) == 0 &&
	       v == (PER_LINUX32 | ADDR_NO_RANDOMIZE | READ_IMPLIES_EXEC),
	   "LINUX32 with ADDR_NO_RANDOMIZE and READ_IMPLIES_EXEC: 0x%lx", v);
	p.flags = bad_flags;
	ok(security_personality_value(&p, &v, &err) < 0, "an unknown flag is rejected");
	is_str(err != NULL ? err->msg : NULL, ".linux.personality.flags[1]: unknown flag `NOPE`",
	       "the error names the flag and its index");
	berth_error_free(&err);
	p.flags = NULL;
	p.flags_len = 0;
	p.domain = (char *)"LINUX64";
	ok(security_personality_value(&p, &v, &err) < 0 && err != NULL &&
	       strstr(err->msg, "`LINUX64`") != NULL,
	   "an unknown domain is rejected with its name");
	berth_error_free(&err);

	ok(security_apply_personality(NULL, &err) == 0, "no linux section: nothing to do");
}

static void test_mount_label(void)
{
	char *data = NULL;
	berth_error_t err = NULL;

	security_selinux_override(1);
	ok(security_mount_label_option("system_u:object_r:container_file_t:s0:c1,c2", &data, &err) == 0,
	   "mount label without data");
	is_str(data, "context=\"system_u:object_r:container_file_t:s0:c1,c2\"", "context= alone, quoted");
	free(data);

	data = strdup("mode=755,size=65536k");
	ok(security_mount_label_option("system_u:object_r:container_file_t:s0", &data, &err) == 0,
	   "mount label after data");
	is_str(data, "mode=755,size=65536k,context=\"system_u:object_r:container_file_t:s0\"",
	       "context= appended after a comma");
	free(data);

	data = strdup("");
	ok(security_mount_label_option("a:b:c:s0", &data, &err) == 0, "mount label after empty data");
	is_str(data, "context=\"a:b:c:s0\"", "no leading comma after empty data");
	free(data);

	data = strdup("mode=755");
	ok(security_mount_label_option(NULL, &data, &err) == 0 &&
	       security_mount_label_option("", &data, &err) == 0,
	   "no mount label: fine");
	is_str(data, "mode=755", "no mount label: data unchanged");

	ok(security_mount_label_option("a\"b", &data, &err) < 0 && err != NULL &&
	       strstr(err->msg, "a\"b") != NULL,
	   "a label with a double quote is rejected");
	berth_error_free(&err);
	is_str(data, "mode=755", "data unchanged after an error");

	security_selinux_override(0);
	ok(security_mount_label_option("a:b:c:s0", &data, &err) == 0, "SELinux disabled: accepted");
	is_str(data, "mode=755", "SELinux disabled: data unchanged");
	free(data);

	/* The machine's own state from here on. */
	security_selinux_override(-1);
}

static void test_lsm_labels_here(void)
{
	berth_error_t err = NULL;

	ok(security_set_exec_label(NULL, &err) == 0 && security_set_exec_label("", &err) == 0,
	   "no selinux label: no-op");
	ok(security_set_apparmor_profile(NULL, &err) == 0 && security_set_apparmor_profile("", &err) == 0,
	   "no apparmor profile: no-op");
	security_selinux_override(0);
	ok(security_set_exec_label("system_u:system_r:container_t:s0", &err) == 0,
	   "selinux label with SELinux disabled: accepted and ignored");
	security_selinux_override(-1);
	if (security_apparmor_enabled()) {
		printf("ok %d - # SKIP AppArmor is enabled on this host\n", ++tap_count);
		return;
	}
	ok(security_set_apparmor_profile("berth-test", &err) < 0, "apparmor profile without AppArmor: error");
	is_str(err != NULL ? err->msg : NULL,
	       "apparmor profile `berth-test` requested but AppArmor is not enabled on this host",
	       "the error names the profile");
	berth_error_free(&err);
}

/* Runs fn in a child and returns its exit status (0 = all good). */
static int in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int child_affinity(void)
{
	cpu_set_t set;
	berth_error_t err = NULL;

	if (security_apply_cpu_affinity("0", &err) < 0)
		return 1;
	if (sched_getaffinity(0, sizeof(set), &set) < 0 || CPU_COUNT(&set) != 1 || !CPU_ISSET(0, &set))
		return 2;
	if (security_apply_cpu_affinity(NULL, &err) < 0)
		return 3;
	if (security_apply_cpu_affinity("0-", &err) == 0 || err == NULL || strstr(err->msg, "`0-`") == NULL)
		return 4;
	return 0;
}

static int child_scheduling(void)
{
	char *flags[] = {(char *)"SCHED_FLAG_RESET_ON_FORK", NULL};
	struct oci_io_priority io = {.class = (char *)"IOPRIO_CLASS_BE", .priority = 6};
	struct oci_scheduler s = {
	    .policy = (char *)"SCHED_BATCH", .nice = {true, 5}, .flags = flags, .flags_len = 1};
	struct oci_process p = {.io_priority = &io, .scheduler = &s};
	berth_error_t err = NULL;
	long ioprio;

	if (security_apply_scheduling(&p, &err) < 0) {
		fprintf(stderr, "# %s\n", err->msg);
		return 1;
	}
	ioprio = syscall(SYS_ioprio_get, 1, 0);
	if (ioprio != ((2 << 13) | 6))
		return 2;
	if (sched_getscheduler(0) != (SCHED_BATCH | SCHED_RESET_ON_FORK))
		return 3;
	errno = 0;
	if (getpriority(PRIO_PROCESS, 0) != 5 || errno != 0)
		return 4;
	io.priority = 8;
	if (security_apply_scheduling(&p, &err) == 0 || err == NULL ||
	    strcmp(err->msg, ".process.ioPriority.priority: 8 is not in 0-7") != 0)
		return 5;
	berth_error_free(&err);
	io.priority = 0;
	s.policy = (char *)"SCHED_DEADLINE"; /* no runtime/deadline/period: the kernel refuses */
	s.flags_len = 0;
	if (security_apply_scheduling(&p, &err) == 0 || err == NULL ||
	    strstr(err->msg, "set .process.scheduler (policy SCHED_DEADLINE") == NULL)
		return 6;
	berth_error_free(&err);
	return 0;
}

int main(void)
{
	test_cpu_list_valid();
	test_cpu_list_invalid();
	test_personality();
	test_mount_label();
	test_lsm_labels_here();
	ok(in_child(child_affinity) == 0, "affinity applied to the calling process; a bad list names it");
	ok(in_child(child_scheduling) == 0,
	   "ioPriority BE 6, SCHED_BATCH nice 5 reset-on-fork applied; errors name field and value");
	return tap_done();
}
