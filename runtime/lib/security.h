/* The process attributes that are neither identity nor limits: personality,
 * I/O priority, CPU scheduler, CPU affinity (execCPUAffinity), and the two
 * Linux security modules' labels (SELinux process and mount labels, the
 * AppArmor exec profile).
 *
 * Where they are applied (init.c step 8, exec.c step 4):
 *   - personality, ioPriority, scheduler: while still privileged (the RT
 *     classes and lower nice values need CAP_SYS_NICE / CAP_SYS_ADMIN) and
 *     before the seccomp filter, which may deny the syscalls
 *   - AppArmor profile, SELinux exec label: also before the identity change
 *     and the filter, as runc does; both take effect at the next execve
 *   - execCPUAffinity (exec only; the spec does not apply it to init):
 *     .initial first thing in the exec'd process, .final just before the
 *     identity change and execve
 *
 * LSMs on hosts that lack them:
 *   - SELinux disabled: a label (process or mount) is accepted and ignored,
 *     as runc ignores labels there; nothing is set
 *   - AppArmor disabled: asking for a profile is an error, as in runc
 */
#ifndef BERTH_SECURITY_H
#define BERTH_SECURITY_H

#include "runtime_spec.h"

#include <sched.h>

/* linux.personality: the domain (LINUX or LINUX32) or'ed with the flags.
 * The spec names no flags yet; berth accepts the kernel's names from
 * <sys/personality.h> (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, UNAME26, ...).
 * An unknown one is an error naming ".linux.personality.flags[i]".
 * A NULL personality is a no-op. */
int security_apply_personality(const struct oci_linux *l, berth_error_t *err);
/* The value personality(2) is given for p (exposed for the unit tests). */
int security_personality_value(const struct oci_personality *p, unsigned long *out, berth_error_t *err);

/* process.ioPriority (ioprio_set on the calling process) then
 * process.scheduler (sched_setattr on the calling process). Either may be
 * absent. Errors name the field and the value. */
int security_apply_scheduling(const struct oci_process *p, berth_error_t *err);

/* Parses a cpu list such as "0-3,7" (elements separated by ',', each a cpu
 * or an inclusive range a-b, blanks around elements allowed) into *set.
 * An empty list, an empty element, a reversed range or a cpu >= CPU_SETSIZE
 * is an error naming the list. */
int security_parse_cpu_list(const char *cpus, cpu_set_t *set, berth_error_t *err);
/* sched_setaffinity(0) to the cpus of the list; NULL is a no-op. */
int security_apply_cpu_affinity(const char *cpus, berth_error_t *err);
/* process.execCPUAffinity's .initial (final false) or .final list, with the
 * field named in errors; a NULL affinity or list is a no-op. */
int security_apply_exec_cpu_affinity(const struct oci_exec_cpu_affinity *a, bool final, berth_error_t *err);

/* SELinux: loads libselinux when either label is set (NULL or "": not),
 * and finds out whether SELinux is enabled.  Called by the runtime before
 * anything of the container is visible to it (the library is looked up by
 * name); the two below act only on what it found. */
int security_selinux_prepare(const char *process_label, const char *mount_label, berth_error_t *err);
/* SELinux: setexeccon(label), so that the next execve runs in that
 * context. NULL or "" is a no-op; so is any label when SELinux is disabled
 * (as runc). */
int security_set_exec_label(const char *label, berth_error_t *err);
/* Appends context="<mount_label>" to the mount data *data_inout (a
 * malloc'd string or NULL; replaced by a new malloc'd string) when SELinux
 * is enabled and mount_label is not NULL or "". Otherwise leaves it as is. */
int security_mount_label_option(const char *mount_label, char **data_inout, berth_error_t *err);
/* For the unit tests: 1 or 0 pretends SELinux is enabled or disabled; -1
 * (the default) goes by security_selinux_prepare. */
void security_selinux_override(int enabled);

/* AppArmor: writes "exec <profile>" to /proc/self/attr/apparmor/exec (or
 * /proc/self/attr/exec on kernels before 5.8) so that the next execve runs
 * under the profile. NULL or "" is a no-op; a profile asked for on a host
 * without AppArmor is an error. */
int security_set_apparmor_profile(const char *profile, berth_error_t *err);
/* /sys/module/apparmor/parameters/enabled reads "Y". */
bool security_apparmor_enabled(void);

#endif
