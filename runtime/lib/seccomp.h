/* seccomp: config.json's .linux.seccomp compiled with libseccomp.
 *
 * Two halves, so that config errors surface in `create` before any clone:
 *
 *   seccomp_filter_build   validates .linux.seccomp and compiles it into a
 *                          libseccomp context, without touching the calling
 *                          process.  Call it in the runtime before the clone;
 *                          init inherits the compiled filter with its memory.
 *   seccomp_filter_load    installs it on the calling process (init, or the
 *                          process of `exec`).  The kernel accepts a filter
 *                          only from a process with no_new_privs set or with
 *                          CAP_SYS_ADMIN in its user namespace; this function
 *                          never sets no_new_privs itself (libseccomp's own
 *                          SCMP_FLTATR_CTL_NNP is turned off): the caller
 *                          picks the place, before dropping capabilities or
 *                          after setting no_new_privs.  Every syscall made
 *                          after it goes through the filter.
 *   seccomp_filter_free    releases the context (NULL is fine).
 *
 * What build does, as runc does:
 *   - actions: SCMP_ACT_KILL (= KILL_THREAD), KILL_PROCESS, KILL_THREAD, TRAP,
 *     ERRNO and TRACE (errnoRet, default EPERM), ALLOW, LOG, NOTIFY;
 *     defaultErrnoRet for the default action
 *   - a syscall name neither libseccomp nor the kernel knows is skipped;
 *     a rule whose action is the default action is skipped
 *   - conditions on distinct argument indexes make one rule (AND); when an
 *     index appears twice, libseccomp refuses them in one rule, so each
 *     condition becomes a rule of its own (OR), exactly as runc does
 *   - SCMP_CMP_MASKED_EQ: `value` is the mask, `valueTwo` the datum
 *   - flags: SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW and (libseccomp
 *     >= 2.6) _WAIT_KILLABLE_RECV, as libseccomp filter attributes
 *   - SCMP_ACT_NOTIFY needs listenerPath; listenerPath without a NOTIFY rule
 *     is accepted (nothing is sent then: *notify_fd_out is -1)
 * An unknown action, architecture, flag or operator is an error of code
 * BERTH_ERR_INVALID naming the JSON path:
 *   config.json: .linux.seccomp.syscalls[3].action: unknown action `SCMP_ACT_FOO`
 *
 * The seccomp agent (SCMP_ACT_NOTIFY with listenerPath): after loading, the
 * loading process hands the listener fd to the runtime (it is the runtime that
 * knows the container's state and the pid as the host sees it), and the
 * runtime calls seccomp_send_to_listener, then closes its copy.
 *
 * The lists for `berth features` come from the tables build uses.
 */

/* libseccomp's header has this file's name, and runtime/lib is on the include
 * path: reach past this directory for it.  Outside the guard on purpose: when
 * this file was found next to its includer, the search restarts at the head of
 * the path, finds this file again through runtime/lib, and that copy's
 * include_next gets libseccomp's header. */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Winclude-next-absolute-path"
#endif
#include_next <seccomp.h>
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#ifndef BERTH_SECCOMP_H
#define BERTH_SECCOMP_H

#include <sys/types.h>

#include "runtime_spec.h"
#include "util/error.h"

struct seccomp_filter;

/* Validates and compiles `spec`; *out gets the filter. */
int seccomp_filter_build(const struct oci_seccomp *spec, struct seccomp_filter **out, berth_error_t *err);
/* Loads the filter on the calling process (see above: no_new_privs or
 * CAP_SYS_ADMIN).  *notify_fd_out gets the listener fd (close-on-exec, owned
 * by the caller) when the filter has a NOTIFY rule, -1 otherwise. */
int seccomp_filter_load(struct seccomp_filter *f, int *notify_fd_out, berth_error_t *err);
/* Whether the filter has a SCMP_ACT_NOTIFY rule (load will give a listener fd). */
/* In init or an exec'd process: loads the filter (NULL: nothing to do) and
 * hands a listener fd to the runtime over the sync socket (SYNC_SECCOMP),
 * waiting until it was passed on to listenerPath. */
int seccomp_filter_load_sync(struct seccomp_filter *f, int sync_sock, berth_error_t *err);
bool seccomp_filter_has_notify(const struct seccomp_filter *f);
void seccomp_filter_free(struct seccomp_filter *f);

static inline void seccomp_filter_freep(struct seccomp_filter **p)
{
	seccomp_filter_free(*p);
}
#define cleanup_seccomp_filter __attribute__((cleanup(seccomp_filter_freep)))

/* Connects to the unix stream socket `listener_path` and sends, in one
 * message, the runtime-spec's container process state
 *   {"ociVersion":"1.0.2","fds":["seccompFd"],"pid":<pid>,
 *    "metadata":<listener_metadata>,"state":<state_json>}
 * ("metadata" only when set) with `notify_fd` in SCM_RIGHTS.  `state_json` is
 * the container's state document (state.json's form); `pid` is the process's
 * pid as the runtime sees it.  The caller keeps notify_fd. */
int seccomp_send_to_listener(const char *listener_path, int notify_fd, const char *listener_metadata,
                             const char *state_json, pid_t pid, berth_error_t *err);

/* NULL-terminated, sorted lists for `features`: every name build accepts. */
const char *const *seccomp_known_actions(void);
const char *const *seccomp_known_operators(void);
const char *const *seccomp_known_archs(void);
const char *const *seccomp_known_flags(void);
/* The known flags the running kernel accepts (probed once, then cached). */
const char *const *seccomp_supported_flags(void);

#endif
