/* The attributes of the container process, applied by init just before the
 * user program runs: rlimits, oom_score_adj, umask, groups and ids,
 * capabilities, no_new_privs, and the lookup of the program on PATH.
 */
#ifndef BERTH_PROCESS_H
#define BERTH_PROCESS_H

#include "runtime_spec.h"

/* rlimits (a hard limit is never raised above the caller's: the error names
 * the limit), oom_score_adj. Done while still privileged. */
int process_apply_limits(const struct oci_process *process, berth_error_t *err);
/* Resolves args[0] on the PATH of process.env (as execvp would) inside the
 * current root, checking that it is an executable file. *path_out is the
 * path to pass to execve.  Errors read "exec `nope`: No such file or directory". */
int process_find_executable(const struct oci_process *process, char **path_out, berth_error_t *err);
/* umask, cwd (must exist), additional gids, gid, uid (keeping the
 * capabilities across the switch), then the five capability sets, then
 * noNewPrivileges.  Unknown capability names are rejected with the name. */
int process_apply_identity(const struct oci_process *process, berth_error_t *err);

/* Before the process is set up: fds 3 .. 3+preserve-1 are passed on to the
 * program (close-on-exec cleared); every other fd from 3 on is closed now,
 * except `keep` (close-on-exec channels still needed until execve), so that
 * nothing of the runtime (a state directory, a cgroup directory) can be
 * reached, not even through /proc/self/fd as a cwd. */
int process_keep_fds(unsigned int preserve, const int *keep, size_t n_keep, berth_error_t *err);
/* Adds HOME when the environment has none: the home directory of the
 * process's uid in the current root's /etc/passwd, else "/" (as runc). */
int process_default_home(struct oci_process *process, berth_error_t *err);

#endif
