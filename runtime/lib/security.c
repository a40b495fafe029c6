/* Personality, I/O priority, scheduler, CPU affinity, SELinux and AppArmor
 * labels: see security.h for what each does and where it is called.
 *
 * Syscalls without a glibc wrapper on the distributions we build on
 * (ioprio_set, sched_setattr) are called through syscall(2) with the
 * kernel's structures and constants, defined here so that the build does
 * not depend on the age of the kernel headers.
 */
#include "security.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <selinux/selinux.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* <linux/ioprio.h> */
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_SHIFT 13

/* <linux/sched.h> and <linux/sched/types.h> */
#define BERTH_SCHED_ATTR_SIZE 56 /* SCHED_ATTR_SIZE_VER1 */
struct berth_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
	uint32_t sched_util_min;
	uint32_t sched_util_max;
};

struct name_value {
	const char *name;
	unsigned long value;
};

static int lookup(const struct name_value *table, size_t n, const char *name, unsigned long *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(table[i].name, name) == 0) {
			*out = table[i].value;
			return 0;
		}
	}
	return -1;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Personality */

static const struct name_value personality_domains[] = {
    {"LINUX", PER_LINUX},
    {"LINUX32", PER_LINUX32},
};

static const struct name_value personality_flags[] = {
    {"UNAME26", UNAME26},
    {"ADDR_NO_RANDOMIZE", ADDR_NO_RANDOMIZE},
    {"FDPIC_FUNCPTRS", FDPIC_FUNCPTRS},
    {"MMAP_PAGE_ZERO", MMAP_PAGE_ZERO},
    {"ADDR_COMPAT_LAYOUT", ADDR_COMPAT_LAYOUT},
    {"READ_IMPLIES_EXEC", READ_IMPLIES_EXEC},
    {"ADDR_LIMIT_32BIT", ADDR_LIMIT_32BIT},
    {"SHORT_INODE", SHORT_INODE},
    {"WHOLE_SECONDS", WHOLE_SECONDS},
    {"STICKY_TIMEOUTS", STICKY_TIMEOUTS},
    {"ADDR_LIMIT_3GB", ADDR_LIMIT_3GB},
};

int security_personality_value(const struct oci_personality *p, unsigned long *out, berth_error_t *err)
{
	unsigned long value, flag;

	if (p->domain == NULL || lookup(personality_domains, N(personality_domains), p->domain, &value) < 0)
		return berth_error_invalid(err, ".linux.personality.domain: unknown domain `%s`",
		                           p->domain != NULL ? p->domain : "");
	for (size_t i = 0; i < p->flags_len; i++) {
		if (lookup(personality_flags, N(personality_flags), p->flags[i], &flag) < 0)
			return berth_error_invalid(err, ".linux.personality.flags[%zu]: unknown flag `%s`", i,
			                           p->flags[i]);
		value |= flag;
	}
	*out = value;
	return 0;
}

int security_apply_personality(const struct oci_linux *l, berth_error_t *err)
{
	unsigned long value;

	if (l == NULL || l->personality == NULL)
		return 0;
	if (security_personality_value(l->personality, &value, err) < 0)
		return -1;
	if (personality(value) < 0)
		return berth_error_sys(err, errno, "set personality `%s` (0x%lx)", l->personality->domain,
		                       value);
	return 0;
}

/* I/O priority and scheduler */

static const struct name_value ioprio_classes[] = {
    {"IOPRIO_CLASS_RT", 1},
    {"IOPRIO_CLASS_BE", 2},
    {"IOPRIO_CLASS_IDLE", 3},
};

static const struct name_value sched_policies[] = {
    {"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2},       {"SCHED_BATCH", 3},
    {"SCHED_ISO", 4},   {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6},
};

static const struct name_value sched_flags[] = {
    {"SCHED_FLAG_RESET_ON_FORK", 0x01},  {"SCHED_FLAG_RECLAIM", 0x02},
    {"SCHED_FLAG_DL_OVERRUN", 0x04},     {"SCHED_FLAG_KEEP_POLICY", 0x08},
    {"SCHED_FLAG_KEEP_PARAMS", 0x10},    {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
};

static int apply_io_priority(const struct oci_io_priority *io, berth_error_t *err)
{
	unsigned long class;

	if (io->class == NULL || lookup(ioprio_classes, N(ioprio_classes), io->class, &class) < 0)
		return berth_error_invalid(err, ".process.ioPriority.class: unknown class `%s`",
		                           io->class != NULL ? io->class : "");
	if (io->priority < 0 || io->priority > 7)
		return berth_error_invalid(err, ".process.ioPriority.priority: %d is not in 0-7",
		                           (int)io->priority);
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
	            (int)(class << IOPRIO_CLASS_SHIFT) | io->priority) < 0)
		return berth_error_sys(err, errno, "set .process.ioPriority (class %s, priority %d)",
		                       io->class, (int)io->priority);
	return 0;
}

static int apply_scheduler(const struct oci_scheduler *s, berth_error_t *err)
{
	struct berth_sched_attr attr = {.size = BERTH_SCHED_ATTR_SIZE};
	unsigned long value;

	if (s->policy == NULL || lookup(sched_policies, N(sched_policies), s->policy, &value) < 0)
		return berth_error_invalid(err, ".process.scheduler.policy: unknown policy `%s`",
		                           s->policy != NULL ? s->policy : "");
	attr.sched_policy = (uint32_t)value;
	for (size_t i = 0; i < s->flags_len; i++) {
		if (lookup(sched_flags, N(sched_flags), s->flags[i], &value) < 0)
			return berth_error_invalid(err, ".process.scheduler.flags[%zu]: unknown flag `%s`", i,
			                           s->flags[i]);
		attr.sched_flags |= value;
	}
	if (s->nice.set && (s->nice.value < -20 || s->nice.value > 19))
		return berth_error_invalid(err, ".process.scheduler.nice: %d is not in -20-19",
		                           (int)s->nice.value);
	if (s->priority.set && s->priority.value < 0)
		return berth_error_invalid(err, ".process.scheduler.priority: %d is negative",
		                           (int)s->priority.value);
	attr.sched_nice = s->nice.set ? s->nice.value : 0;
	attr.sched_priority = s->priority.set ? (uint32_t)s->priority.value : 0;
	attr.sched_runtime = s->runtime.set ? s->runtime.value : 0;
	attr.sched_deadline = s->deadline.set ? s->deadline.value : 0;
	attr.sched_period = s->period.set ? s->period.value : 0;
	if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
		return berth_error_sys(
		    err, errno,
		    "set .process.scheduler (policy %s, nice %d, priority %u, flags 0x%llx, "
		    "runtime %llu, deadline %llu, period %llu)",
		    s->policy, (int)attr.sched_nice, attr.sched_priority,
		    (unsigned long long)attr.sched_flags, (unsigned long long)attr.sched_runtime,
		    (unsigned long long)attr.sched_deadline, (unsigned long long)attr.sched_period);
	return 0;
}

int security_apply_scheduling(const struct oci_process *p, berth_error_t *err)
{
	if (p->io_priority != NULL && apply_io_priority(p->io_priority, err) < 0)
		return -1;
	if (p->scheduler != NULL && apply_scheduler(p->scheduler, err) < 0)
		return -1;
	return 0;
}

/* CPU affinity */

static bool parse_cpu(const char **s, unsigned long *cpu)
{
	char *end;

	if (**s < '0' || **s > '9')
		return false;
	errno = 0;
	*cpu = strtoul(*s, &end, 10);
	if (errno != 0 || *cpu >= CPU_SETSIZE)
		return false;
	*s = end;
	return true;
}

static void skip_blanks(const char **s)
{
	while (**s == ' ' || **s == '\t')
		(*s)++;
}

int security_parse_cpu_list(const char *cpus, cpu_set_t *set, berth_error_t *err)
{
	const char *s = cpus;

	CPU_ZERO(set);
	for (;;) {
		unsigned long first, last;

		skip_blanks(&s);
		if (!parse_cpu(&s, &first))
			goto invalid;
		last = first;
		if (*s == '-') {
			s++;
			if (!parse_cpu(&s, &last) || last < first)
				goto invalid;
		}
		for (unsigned long cpu = first; cpu <= last; cpu++)
			CPU_SET(cpu, set);
		skip_blanks(&s);
		if (*s == '\0')
			return 0;
		if (*s != ',')
			goto invalid;
		s++;
	}
invalid:
	return berth_error_invalid(err,
	                           "invalid cpu list `%s`: expected cpus and ranges such as `0-3,7` "
	                           "(cpus below %d)",
	                           cpus, CPU_SETSIZE);
}

int security_apply_cpu_affinity(const char *cpus, berth_error_t *err)
{
	cpu_set_t set;

	if (cpus == NULL)
		return 0;
	if (security_parse_cpu_list(cpus, &set, err) < 0)
		return -1;
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return berth_error_sys(err, errno, "set cpu affinity `%s`", cpus);
	return 0;
}

int security_apply_exec_cpu_affinity(const struct oci_exec_cpu_affinity *a, bool final, berth_error_t *err)
{
	if (a == NULL)
		return 0;
	if (security_apply_cpu_affinity(final ? a->final : a->initial, err) < 0)
		return berth_error_prefix(err, ".process.execCPUAffinity.%s", final ? "final" : "initial");
	return 0;
}

/* SELinux
 *
 * libselinux is loaded only for a container with a label: its constructor
 * alone (finding selinuxfs, reading /proc/filesystems and the config) cost
 * every container start 0.05 ms.  The load happens in the runtime before
 * init or an exec'd process can see anything of the container: loaded
 * later, the library could be the container's copy. */

static struct {
	int override;  /* security_selinux_override: -1, 0 or 1 */
	bool prepared; /* security_selinux_prepare loaded (or tried) */
	bool enabled;
	typeof(&setexeccon) setexeccon;
} selinux = {.override = -1};

void security_selinux_override(int enabled)
{
	selinux.override = enabled;
}

static bool has_text(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int security_selinux_prepare(const char *process_label, const char *mount_label, berth_error_t *err)
{
	typeof(&is_selinux_enabled) is_enabled;
	struct stat st;
	void *lib;

	if (selinux.prepared || selinux.override >= 0 || (!has_text(process_label) && !has_text(mount_label)))
		return 0;
	selinux.prepared = true;
	lib = dlopen("libselinux.so.1", RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		/* no library, no SELinux to label for, unless the kernel has it */
		if (stat("/sys/fs/selinux/enforce", &st) == 0)
			return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0,
			                       "SELinux is enabled but libselinux cannot be loaded: %s",
			                       dlerror());
		return 0;
	}
	is_enabled = (typeof(is_enabled))dlsym(lib, "is_selinux_enabled");
	selinux.setexeccon = (typeof(selinux.setexeccon))dlsym(lib, "setexeccon");
	if (is_enabled == NULL || selinux.setexeccon == NULL)
		return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0, "libselinux.so.1 lacks %s",
		                       is_enabled == NULL ? "is_selinux_enabled" : "setexeccon");
	selinux.enabled = is_enabled() > 0;
	return 0;
}

static bool selinux_enabled(void)
{
	if (selinux.override >= 0)
		return selinux.override > 0;
	return selinux.enabled;
}

int security_set_exec_label(const char *label, berth_error_t *err)
{
	if (!has_text(label) || !selinux_enabled())
		return 0;
	if (selinux.setexeccon == NULL)
		return 0; /* enabled by security_selinux_override alone */
	if (selinux.setexeccon(label) < 0)
		return berth_error_sys(err, errno, "set selinux exec label `%s`", label);
	return 0;
}

int security_mount_label_option(const char *mount_label, char **data_inout, berth_error_t *err)
{
	const char *data = *data_inout;
	char *out = NULL;

	if (mount_label == NULL || mount_label[0] == '\0' || !selinux_enabled())
		return 0;
	if (strchr(mount_label, '"') != NULL)
		return berth_error_invalid(err, ".linux.mountLabel: `%s` contains a double quote",
		                           mount_label);
	if (asprintf(&out, "%s%scontext=\"%s\"", data != NULL ? data : "",
	             data != NULL && data[0] != '\0' ? "," : "", mount_label) < 0)
		return berth_error_sys(err, ENOMEM, "mount label `%s`", mount_label);
	free(*data_inout);
	*data_inout = out;
	return 0;
}

/* AppArmor */

bool security_apparmor_enabled(void)
{
	char buf[8] = {0};
	cleanup_close int fd = open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		return false;
	return buf[0] == 'Y';
}

int security_set_apparmor_profile(const char *profile, berth_error_t *err)
{
	cleanup_free char *cmd = NULL;
	cleanup_close int fd = -1;
	const char *path = "/proc/self/attr/apparmor/exec";
	int len;

	if (profile == NULL || profile[0] == '\0')
		return 0;
	if (!security_apparmor_enabled())
		return berth_error_set(
		    err, BERTH_ERR_UNSUPPORTED, 0,
		    "apparmor profile `%s` requested but AppArmor is not enabled on this host", profile);
	len = asprintf(&cmd, "exec %s", profile);
	if (len < 0) {
		cmd = NULL;
		return berth_error_sys(err, ENOMEM, "apparmor profile `%s`", profile);
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* Kernels before 5.8 have only the shared attribute. */
		path = "/proc/self/attr/exec";
		fd = open(path, O_WRONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return berth_error_sys(err, errno, "apparmor profile `%s`: open %s", profile, path);
	if (fs_write_all(fd, cmd, (size_t)len) < 0)
		return berth_error_sys(err, errno, "apparmor profile `%s`: write %s", profile, path);
	return 0;
}
