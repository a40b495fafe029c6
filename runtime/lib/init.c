/* The container's init: from the clone to the execve of the user program.
 *
 * Steps (the runtime's side is in create.c):
 *   stage-1 (slow path only): join namespaces by path (user first), unshare
 *      the new ones, write time offsets, fork init, report its pid, exit
 *   1. (v1 and hybrid cgroups: unshare the network namespace while the
 *      runtime makes the cgroup), wait until the runtime put us in the cgroup
 *      (and, fast path, wrote our id maps); become root of a new user
 *      namespace
 *   2. new session, session keyring, hostname and domainname
 *   3. rootfs_prepare: mounts and /dev inside the rootfs
 *   4. SYNC_HOOKS: the runtime runs prestart and createRuntime hooks; then
 *      createContainer hooks here, before pivot_root
 *   5. pivot_root, then sysctl, masked and read-only paths, read-only root
 *   6. the terminal (pty master sent to the runtime)
 *   7. rlimits, oom score, lookup of the program, fds for the container
 *   8. personality, ioPriority, scheduler, AppArmor profile, SELinux exec
 *      label (security.h); seccomp (before or after the identity change:
 *      see there), user, groups, capabilities, no_new_privs
 *   9. SYNC_READY, then block on exec.fifo until `start` (`run`: until
 *      SYNC_START on the sync socket)
 *  10. startContainer hooks, execve
 * Any error goes to the runtime as SYNC_ERROR and init exits.
 */
#include "create.h"
#include "hooks.h"
#include "process.h"
#include "security.h"
#include "sync.h"
#include "terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1

__attribute__((noreturn)) static void fail(struct create_ctx *cc, berth_error_t *err)
{
	sync_send_error(cc->sync_init, err);
	_exit(1);
}

/* The state directory's fds are the runtime's: the lock on it is shared with
 * every copy of the fd, so init must not keep one while it waits for start. */
static void release_state_dir(struct create_ctx *cc)
{
	if (cc->c->dir_fd >= 0)
		close(cc->c->dir_fd);
	if (cc->c->root_fd >= 0)
		close(cc->c->root_fd);
	cc->c->dir_fd = cc->c->root_fd = -1;
}

static int wait_go(struct create_ctx *cc, berth_error_t *err)
{
	struct sync_msg msg;
	return sync_expect(cc->sync_init, SYNC_GO, &msg, err);
}

__attribute__((noreturn)) void init_stage1(struct create_ctx *cc)
{
	berth_error_t err = NULL;
	unsigned long unshare_flags = cc->plan.new_flags & ~(unsigned long)CLONE_NEWUSER;
	pid_t pid;

	close(cc->sync_rt);
	release_state_dir(cc);
	prctl(PR_SET_NAME, "berth:[stage1]");
	if (wait_go(cc, &err) < 0)
		fail(cc, &err);
	if (ns_join_paths(cc->spec, true, &err) < 0)
		fail(cc, &err);
	if (cc->plan.new_user) {
		struct sync_msg msg;
		if (unshare(CLONE_NEWUSER) < 0) {
			berth_error_sys(&err, errno, "unshare user namespace");
			fail(cc, &err);
		}
		if (sync_send(cc->sync_init, SYNC_USERNS_MAP, getpid(), NULL, -1, &err) < 0 ||
		    sync_expect(cc->sync_init, SYNC_USERNS_DONE, &msg, &err) < 0 || ns_become_root(&err) < 0)
			fail(cc, &err);
		/* Becoming root of the new namespace made us non-dumpable, which
		 * closes our own /proc/self files (timens_offsets) to us. */
		prctl(PR_SET_DUMPABLE, 1);
	}
	if (ns_join_paths(cc->spec, false, &err) < 0)
		fail(cc, &err);
	if (unshare_flags != 0 && unshare((int)unshare_flags) < 0) {
		berth_error_sys(&err, errno, "unshare namespaces");
		fail(cc, &err);
	}
	if ((unshare_flags & CLONE_NEWTIME) && ns_write_time_offsets(cc->spec->linux_, &err) < 0)
		fail(cc, &err);
	pid = fork();
	if (pid < 0) {
		berth_error_sys(&err, errno, "fork container init");
		fail(cc, &err);
	}
	if (pid == 0)
		init_main(cc, false);
	sync_send(cc->sync_init, SYNC_INIT_PID, pid, NULL, -1, NULL);
	_exit(0);
}

/* 2. */
static int setup_session(struct create_ctx *cc, berth_error_t *err)
{
	const struct oci_spec *spec = cc->spec;

	if (setsid() < 0)
		return berth_error_sys(err, errno, "setsid");
	if (!cc->opts->no_new_keyring) {
		char name[128];
		snprintf(name, sizeof(name), "_ses.%s", cc->c->id);
		/* Kernels or filters without keyrings are fine: the keyring only
		 * keeps containers' keys apart. */
		if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name) < 0 && errno != ENOSYS &&
		    errno != EPERM && errno != EACCES)
			return berth_error_sys(err, errno, "join session keyring");
	}
	if (spec->hostname != NULL && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return berth_error_sys(err, errno, "sethostname `%s`", spec->hostname);
	if (spec->domainname != NULL && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
		return berth_error_sys(err, errno, "setdomainname `%s`", spec->domainname);
	return 0;
}

static bool has_init_hooks(const struct oci_hooks *h)
{
	return h->prestart_len > 0 || h->create_runtime_len > 0 || h->create_container_len > 0 ||
	       h->start_container_len > 0;
}

/* 4. The runtime runs its hooks and tells us our pid as the host sees it. */
static int runtime_hooks(struct create_ctx *cc, berth_error_t *err)
{
	const struct oci_hooks *h = &cc->spec->hooks;
	struct sync_msg msg;
	cleanup_free char *state = NULL;

	if (!has_init_hooks(h))
		return 0;
	if (sync_send(cc->sync_init, SYNC_HOOKS, 0, NULL, -1, err) < 0 ||
	    sync_expect(cc->sync_init, SYNC_HOOKS_DONE, &msg, err) < 0)
		return -1;
	cc->init_pid = msg.value;
	if (h->create_container_len == 0)
		return 0;
	state = create_hook_state(cc, STATUS_CREATED, err);
	if (state == NULL)
		return -1;
	return hooks_run(h->create_container, h->create_container_len, "createContainer", state, err);
}

/* 6. */
static int setup_terminal(struct create_ctx *cc, berth_error_t *err)
{
	int master;

	if (!cc->spec->process->terminal)
		return 0;
	master = terminal_setup(cc->spec->process, err);
	if (master < 0)
		return -1;
	if (terminal_bind_console(master, err) < 0) {
		close(master);
		return -1;
	}
	if (sync_send(cc->sync_init, SYNC_PTY, 0, NULL, master, err) < 0) {
		close(master);
		return -1;
	}
	close(master);
	return 0;
}

/* 7. Only 0-2, the fds passed on, and our channels (close-on-exec) stay. */
static int setup_fds(struct create_ctx *cc, berth_error_t *err)
{
	int keep[] = {cc->sync_init, cc->fifo_fd};
	return process_keep_fds(cc->extra_fds, keep, sizeof(keep) / sizeof(keep[0]), err);
}

static int add_env(struct oci_process *p, const char *entry, berth_error_t *err)
{
	char **env = realloc(p->env, (p->env_len + 2) * sizeof(char *));
	if (env == NULL)
		return berth_error_sys(err, ENOMEM, "environment");
	p->env = env;
	env[p->env_len] = strdup(entry);
	if (env[p->env_len] == NULL)
		return berth_error_sys(err, ENOMEM, "environment");
	env[++p->env_len] = NULL;
	return 0;
}

static int setup_listen_env(struct create_ctx *cc, berth_error_t *err)
{
	char buf[64];

	if (cc->listen_fds == 0)
		return 0;
	snprintf(buf, sizeof(buf), "LISTEN_FDS=%u", cc->listen_fds);
	if (add_env(cc->spec->process, buf, err) < 0)
		return -1;
	return add_env(cc->spec->process, "LISTEN_PID=1", err);
}

/* 9. Blocks until `start` opens the fifo for reading, or `run` says so. */
static int wait_for_start(struct create_ctx *cc, berth_error_t *err)
{
	char path[64];
	int fd;

	if (cc->for_run) {
		struct sync_msg msg;
		return sync_expect(cc->sync_init, SYNC_START, &msg, err);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", cc->fifo_fd);
	do
		fd = open(path, O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return berth_error_sys(err, errno, "open exec fifo");
	close(cc->fifo_fd);
	/* The write end stays open until execve closes it (or init exits):
	 * `start` waits for that EOF, so that its poststart hooks run once the
	 * program runs, after the startContainer hooks. */
	cc->fifo_fd = fd;
	if (fs_write_all(fd, "0", 1) < 0)
		return berth_error_sys(err, errno, "write exec fifo");
	return 0;
}

static int start_hooks(struct create_ctx *cc, berth_error_t *err)
{
	const struct oci_hooks *h = &cc->spec->hooks;
	cleanup_free char *state = NULL;

	if (h->start_container_len == 0)
		return 0;
	state = create_hook_state(cc, STATUS_CREATED, err);
	if (state == NULL)
		return -1;
	return hooks_run(h->start_container, h->start_container_len, "startContainer", state, err);
}

/* A supervisor's blocked or ignored signals must not reach the container
 * (both survive execve). */
void signals_reset(void)
{
	char buf[4096], *line;
	unsigned long long ignored = 0;
	sigset_t none;
	ssize_t n;
	int fd;

	/* Handled signals go back to default at execve by themselves; only the
	 * ignored ones (SigIgn of /proc/self/status) and the mask stay. */
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? fs_read_all(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		buf[n] = '\0';
		line = strstr(buf, "\nSigIgn:");
		if (line != NULL)
			ignored = strtoull(line + 9, NULL, 16);
	} else {
		ignored = ~0ULL; /* unknown: reset them all */
	}
	for (int sig = 1; sig < NSIG && sig <= 64; sig++) {
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		if (ignored & (1ULL << (sig - 1)))
			sigaction(sig, &dfl, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The supervisor's stdio fds become 0, 1 and 2. */
int stdio_from(const int fds[3], berth_error_t *err)
{
	for (int i = 0; i < 3; i++) {
		if (fds[i] < 0 || fds[i] == i)
			continue;
		if (dup2(fds[i], i) < 0)
			return berth_error_sys(err, errno, "stdio fd %d", i);
	}
	return 0;
}

__attribute__((noreturn)) void init_main(struct create_ctx *cc, bool fast)
{
	berth_error_t err = NULL;
	struct oci_process *process = cc->spec->process;
	cleanup_free char *exe = NULL;

	if (fast) {
		close(cc->sync_rt);
		release_state_dir(cc);
	}
	cc->sync_rt = -1;
	prctl(PR_SET_NAME, "berth:[init]");
	signals_reset();
	if (cc->opts->use_stdio_fds && stdio_from(cc->opts->stdio_fds, &err) < 0)
		fail(cc, &err);
	/* Until create returns, init must not outlive a killed runtime. */
	if (fast)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* While the runtime makes the cgroup (see spawn). */
	if (cc->init_unshares_net) {
		if (unshare(CLONE_NEWNET) < 0) {
			berth_error_sys(&err, errno, "unshare network namespace");
			fail(cc, &err);
		}
		if (sync_send(cc->sync_init, SYNC_NETNS, 0, NULL, -1, &err) < 0)
			fail(cc, &err);
	}

	/* 1. */
	if (fast && (wait_go(cc, &err) < 0 || (cc->plan.new_user && ns_become_root(&err) < 0)))
		fail(cc, &err);
	if (fast && (cc->plan.new_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0) {
		berth_error_sys(&err, errno, "unshare cgroup namespace");
		fail(cc, &err);
	}
	/* 2. - 3. */
	if (setup_session(cc, &err) < 0 || rootfs_prepare(&cc->rootfs, &err) < 0)
		fail(cc, &err);
	/* 4. - 5. */
	if (runtime_hooks(cc, &err) < 0 || rootfs_pivot(&cc->rootfs, &err) < 0 ||
	    rootfs_finalize(&cc->rootfs, &err) < 0)
		fail(cc, &err);
	/* 6. - 7. */
	if (setup_terminal(cc, &err) < 0 || process_apply_limits(process, &err) < 0 ||
	    process_find_executable(process, &exe, &err) < 0 || setup_listen_env(cc, &err) < 0 ||
	    process_default_home(process, &err) < 0 || setup_fds(cc, &err) < 0)
		fail(cc, &err);
	/* 8. The attributes that may need privileges and syscalls the filter
	 * may deny come first. Without no_new_privs the filter needs
	 * CAP_SYS_ADMIN: load it before the identity change drops it; with
	 * it, after. */
	if (security_apply_personality(cc->spec->linux_, &err) < 0 ||
	    security_apply_scheduling(process, &err) < 0 ||
	    security_set_apparmor_profile(process->apparmor_profile, &err) < 0 ||
	    security_set_exec_label(process->selinux_label, &err) < 0)
		fail(cc, &err);
	if (!process->no_new_privileges && seccomp_filter_load_sync(cc->seccomp, cc->sync_init, &err) < 0)
		fail(cc, &err);
	if (process_apply_identity(process, &err) < 0)
		fail(cc, &err);
	if (process->no_new_privileges && seccomp_filter_load_sync(cc->seccomp, cc->sync_init, &err) < 0)
		fail(cc, &err);
	/* 9. From here init outlives the runtime, which exits after create. */
	prctl(PR_SET_PDEATHSIG, 0);
	if (sync_send(cc->sync_init, SYNC_READY, 0, NULL, -1, &err) < 0)
		fail(cc, &err);
	if (wait_for_start(cc, &err) < 0)
		fail(cc, &err);
	/* 10. */
	if (start_hooks(cc, &err) < 0)
		fail(cc, &err);
	execve(exe, process->args, process->env);
	berth_error_sys(&err, errno, "exec `%s`", process->args[0]);
	fail(cc, &err);
}
