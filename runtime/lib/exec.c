/* `exec`: a new process in an existing container.
 *
 *   1. the container must be created or running (paused: only with
 *      --ignore-paused); the process comes from --process or from the
 *      container's own process with the flags applied
 *   2. fork the joiner; put it in the container's cgroup; SYNC_GO
 *   3. joiner: meanwhile, setns into every namespace of init at once (a
 *      pidfd), or one by one through /proc/<pid>/ns (user first), or, in our
 *      own mount namespace, chroot to init's root (what that allocates is
 *      charged to the runtime's cgroup, as the namespaces of create are);
 *      after SYNC_GO, fork the process, which is then in the container's
 *      cgroup and pid namespace; report its pid; exit
 *   4. process: execCPUAffinity.initial, new session, pty (sent as
 *      SYNC_PTY), rlimits, program lookup, fds, personality, ioPriority,
 *      scheduler, LSM labels, execCPUAffinity.final, identity and
 *      capabilities, execve
 *   5. runtime: pid file, pty to the console socket, then (unless detached)
 *      wait, forwarding signals
 *
 * Messages on the sync socket are those of sync.h: SYNC_GO, SYNC_INIT_PID
 * (here: the exec'd process's pid), SYNC_PTY, SYNC_ERROR; EOF after the pid
 * means execve succeeded.
 */
#include "berth/berth.h"
#include "cgroup.h"
#include "create.h"
#include "process.h"
#include "seccomp.h"
#include "security.h"
#include "state.h"
#include "supervise.h"
#include "sync.h"
#include "terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

struct exec_ctx {
	const struct berth_exec_options *opts;
	struct container *c;
	struct oci_process *process;
	struct cgroup *cgroup;
	struct seccomp_filter *seccomp;
	int sync_rt, sync_child;
	int console_sock;
	int pty_master;
	pid_t pid; /* the exec'd process, host view */
};

static char **strv_copy(char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; out != NULL && i < n; i++) {
		out[i] = strdup(v[i]);
		if (out[i] == NULL) {
			strv_free(out);
			return NULL;
		}
	}
	return out;
}

/* Sets NAME=value in env, replacing an entry of the same name. */
static int env_set(struct oci_process *p, const char *entry, berth_error_t *err)
{
	const char *eq = strchr(entry, '=');
	size_t name_len = eq != NULL ? (size_t)(eq - entry) : strlen(entry);
	char *copy = strdup(entry), **env;

	if (copy == NULL)
		return berth_error_sys(err, ENOMEM, "exec environment");
	for (size_t i = 0; i < p->env_len; i++) {
		if (strncmp(p->env[i], entry, name_len) == 0 && p->env[i][name_len] == '=') {
			free(p->env[i]);
			p->env[i] = copy;
			return 0;
		}
	}
	env = realloc(p->env, (p->env_len + 2) * sizeof(char *));
	if (env == NULL) {
		free(copy);
		return berth_error_sys(err, ENOMEM, "exec environment");
	}
	env[p->env_len++] = copy;
	env[p->env_len] = NULL;
	p->env = env;
	return 0;
}

static int add_cap(char ***set, size_t *len, const char *cap, berth_error_t *err)
{
	char **more = realloc(*set, (*len + 2) * sizeof(char *));
	if (more == NULL)
		return berth_error_sys(err, ENOMEM, "capabilities");
	*set = more;
	more[*len] = strdup(cap);
	if (more[*len] == NULL)
		return berth_error_sys(err, ENOMEM, "capabilities");
	more[++*len] = NULL;
	return 0;
}

static int parse_user(struct oci_process *p, const char *user, berth_error_t *err)
{
	char *end;
	unsigned long uid = strtoul(user, &end, 10), gid = p->user.gid;

	if (end == user || (*end != '\0' && *end != ':') || uid > UINT_MAX)
		return berth_error_invalid(err, "invalid --user `%s`: expected uid[:gid]", user);
	if (*end == ':') {
		const char *g = end + 1;
		gid = strtoul(g, &end, 10);
		if (end == g || *end != '\0' || gid > UINT_MAX)
			return berth_error_invalid(err, "invalid --user `%s`: expected uid[:gid]", user);
	}
	p->user.uid = (uint32_t)uid;
	p->user.gid = (uint32_t)gid;
	return 0;
}

/* The container's process with the command line's changes (as runc's exec). */
static int process_from_flags(struct exec_ctx *ec, berth_error_t *err)
{
	const struct berth_exec_options *o = ec->opts;
	cleanup_free char *json = NULL;
	struct oci_process *p;

	if (o->args_len == 0)
		return berth_error_invalid(err, "exec: no command given");
	json = oci_process_to_json(ec->c->spec->process, false, err);
	if (json == NULL || oci_process_parse(json, strlen(json), "process", &ec->process, err) < 0)
		return -1;
	p = ec->process;
	strv_free(p->args);
	p->args = strv_copy(o->args, o->args_len);
	p->args_len = o->args_len;
	if (p->args == NULL)
		return berth_error_sys(err, ENOMEM, "exec arguments");
	p->terminal = o->tty;
	for (size_t i = 0; i < o->env_len; i++) {
		if (env_set(p, o->env[i], err) < 0)
			return -1;
	}
	if (o->cwd != NULL) {
		free(p->cwd);
		p->cwd = strdup(o->cwd);
	}
	if (o->user != NULL && parse_user(p, o->user, err) < 0)
		return -1;
	if (o->additional_gids_len > 0) {
		free(p->user.additional_gids);
		p->user.additional_gids = calloc(o->additional_gids_len, sizeof(uint32_t));
		if (p->user.additional_gids == NULL)
			return berth_error_sys(err, ENOMEM, "additional gids");
		for (size_t i = 0; i < o->additional_gids_len; i++)
			p->user.additional_gids[i] = o->additional_gids[i];
		p->user.additional_gids_len = o->additional_gids_len;
	}
	for (size_t i = 0; i < o->caps_len; i++) {
		struct oci_capabilities *caps = &p->capabilities;
		p->has_capabilities = caps->has_bounding = caps->has_effective = caps->has_permitted = true;
		if (add_cap(&caps->bounding, &caps->bounding_len, o->caps[i], err) < 0 ||
		    add_cap(&caps->effective, &caps->effective_len, o->caps[i], err) < 0 ||
		    add_cap(&caps->permitted, &caps->permitted_len, o->caps[i], err) < 0)
			return -1;
	}
	if (o->no_new_privs)
		p->no_new_privileges = true;
	if (o->apparmor != NULL) {
		free(p->apparmor_profile);
		p->apparmor_profile = strdup(o->apparmor);
	}
	if (o->process_label != NULL) {
		free(p->selinux_label);
		p->selinux_label = strdup(o->process_label);
	}
	return 0;
}

/* 1. */
static int load(const struct berth_context *ctx, struct exec_ctx *ec, berth_error_t *err)
{
	const struct berth_exec_options *o = ec->opts;
	enum container_status status;

	if (state_open(ctx, o->id, false, true, &ec->c, err) < 0)
		return -1;
	status = state_status(ec->c);
	if (status == STATUS_PAUSED && !o->ignore_paused)
		return berth_error_set(err, BERTH_ERR_STATE, 0, "cannot exec in a paused container `%s`",
		                       o->id);
	if (status != STATUS_CREATED && status != STATUS_RUNNING && status != STATUS_PAUSED)
		return berth_error_set(err, BERTH_ERR_STATE, 0, "cannot exec in a %s container `%s`",
		                       state_status_name(status), o->id);
	if (o->process_file != NULL) {
		cleanup_free char *json = NULL;
		size_t len;
		if (fs_read_file_at(AT_FDCWD, o->process_file, &json, &len, err) < 0 ||
		    oci_process_parse(json, len, o->process_file, &ec->process, err) < 0)
			return -1;
	} else if (process_from_flags(ec, err) < 0) {
		return -1;
	}
	if (ec->process->terminal && o->detach && o->console_socket == NULL)
		return berth_error_invalid(
		    err, "cannot allocate a terminal without --console-socket when detached");
	if (ec->c->cgroup != NULL && ec->c->cgroup[0] != '\0' &&
	    cgroup_open_path(ec->c->cgroup, &ec->cgroup, err) < 0)
		return -1;
	if (ec->c->spec->linux_->seccomp != NULL &&
	    seccomp_filter_build(ec->c->spec->linux_->seccomp, &ec->seccomp, err) < 0)
		return -1;
	if (o->cgroup != NULL && o->cgroup[0] != '\0') {
		struct cgroup *sub = NULL;
		if (ec->cgroup == NULL)
			return berth_error_invalid(err, "exec --cgroup `%s`: the container has no cgroup",
			                           o->cgroup);
		if (cgroup_open_sub(ec->cgroup, o->cgroup, &sub, err) < 0)
			return -1;
		cgroup_free(ec->cgroup);
		ec->cgroup = sub;
	}
	return 0;
}

__attribute__((noreturn)) static void child_fail(struct exec_ctx *ec, berth_error_t *err)
{
	sync_send_error(ec->sync_child, err);
	_exit(1);
}

/* A container in our mount namespace (it has none of its own) lives in a
 * chroot: the same one, through init's root (the bind of its rootfs). */
static int enter_root_of(pid_t pid, berth_error_t *err)
{
	char path[64];
	cleanup_close int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fchdir(fd) < 0 || chroot(".") < 0)
		return berth_error_sys(err, errno, "enter the root of the container (`%s`)", path);
	return 0;
}

/* 3. One setns with a pidfd joins all at once (the kernel orders them); the
 * fallback joins the user namespace first, as the kernel requires. */
static int join_namespaces(pid_t pid, berth_error_t *err)
{
	static const struct {
		const char *name;
		int flag;
	} kinds[] = {
	    {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
	    {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP},
	    {"time", CLONE_NEWTIME}, {"mnt", CLONE_NEWNS},
	};
	int flags = 0;
	cleanup_close int pidfd = -1;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char theirs[64], ours[64];
		struct stat a, b;
		snprintf(theirs, sizeof(theirs), "/proc/%d/ns/%s", (int)pid, kinds[i].name);
		snprintf(ours, sizeof(ours), "/proc/self/ns/%s", kinds[i].name);
		if (stat(theirs, &a) < 0 || stat(ours, &b) < 0)
			continue; /* a kernel without that namespace */
		if (a.st_ino != b.st_ino || a.st_dev != b.st_dev)
			flags |= kinds[i].flag;
	}
	if (!(flags & CLONE_NEWNS) && enter_root_of(pid, err) < 0)
		return -1;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0 && setns(pidfd, flags) == 0)
		return 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char path[64];
		cleanup_close int fd = -1;
		if (!(flags & kinds[i].flag))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, kinds[i].name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, kinds[i].flag) < 0)
			return berth_error_sys(err, errno, "join %s namespace of the container",
			                       kinds[i].name);
	}
	return 0;
}

/* The listener gets the container's state, as for init. */
static int send_seccomp_fd(struct exec_ctx *ec, int fd, berth_error_t *err)
{
	const struct oci_seccomp *sc = ec->c->spec->linux_->seccomp;
	cleanup_free char *state = state_to_oci_json(ec->c, state_status(ec->c), false, err);
	int ret = -1;

	if (state != NULL)
		ret = seccomp_send_to_listener(sc->listener_path, fd, sc->listener_metadata, state, ec->pid,
		                               err);
	close(fd);
	if (ret < 0)
		return -1;
	return sync_send(ec->sync_rt, SYNC_SECCOMP_DONE, 0, NULL, -1, err);
}

/* 4. */
__attribute__((noreturn)) static void exec_process(struct exec_ctx *ec)
{
	berth_error_t err = NULL;
	cleanup_free char *exe = NULL;
	struct oci_process *p = ec->process;

	prctl(PR_SET_NAME, "berth:[exec]");
	signals_reset();
	if (security_apply_exec_cpu_affinity(p->exec_cpu_affinity, false, &err) < 0)
		child_fail(ec, &err);
	if (ec->opts->use_stdio_fds && stdio_from(ec->opts->stdio_fds, &err) < 0)
		child_fail(ec, &err);
	if (setsid() < 0) {
		berth_error_sys(&err, errno, "setsid");
		child_fail(ec, &err);
	}
	if (p->terminal) {
		int master = terminal_setup(p, &err);
		if (master < 0 || sync_send(ec->sync_child, SYNC_PTY, 0, NULL, master, &err) < 0)
			child_fail(ec, &err);
		close(master);
	}
	if (process_apply_limits(p, &err) < 0 || process_default_home(p, &err) < 0 ||
	    process_find_executable(p, &exe, &err) < 0 ||
	    process_keep_fds(ec->opts->preserve_fds, &ec->sync_child, 1, &err) < 0)
		child_fail(ec, &err);
	if (security_apply_personality(ec->c->spec->linux_, &err) < 0 ||
	    security_apply_scheduling(p, &err) < 0 ||
	    security_set_apparmor_profile(p->apparmor_profile, &err) < 0 ||
	    security_set_exec_label(p->selinux_label, &err) < 0 ||
	    security_apply_exec_cpu_affinity(p->exec_cpu_affinity, true, &err) < 0)
		child_fail(ec, &err);
	/* As in init: the filter before the identity change unless
	 * no_new_privs lets an unprivileged process load it. */
	if ((!p->no_new_privileges && seccomp_filter_load_sync(ec->seccomp, ec->sync_child, &err) < 0) ||
	    process_apply_identity(p, &err) < 0 ||
	    (p->no_new_privileges && seccomp_filter_load_sync(ec->seccomp, ec->sync_child, &err) < 0))
		child_fail(ec, &err);
	execve(exe, p->args, p->env);
	berth_error_sys(&err, errno, "exec `%s`", p->args[0]);
	child_fail(ec, &err);
}

__attribute__((noreturn)) static void joiner(struct exec_ctx *ec)
{
	berth_error_t err = NULL;
	struct sync_msg msg;
	pid_t pid;

	close(ec->sync_rt);
	prctl(PR_SET_NAME, "berth:[exec]");
	if (join_namespaces(ec->c->pid, &err) < 0 || sync_expect(ec->sync_child, SYNC_GO, &msg, &err) < 0)
		child_fail(ec, &err);
	pid = fork();
	if (pid < 0) {
		berth_error_sys(&err, errno, "fork");
		child_fail(ec, &err);
	}
	if (pid == 0)
		exec_process(ec);
	sync_send(ec->sync_child, SYNC_INIT_PID, pid, NULL, -1, NULL);
	_exit(0);
}

/* 2. and 5. */
static int spawn_and_serve(struct exec_ctx *ec, berth_error_t *err)
{
	int sv[2];
	pid_t joiner_pid;

	if (security_selinux_prepare(ec->process->selinux_label, NULL, err) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return berth_error_sys(err, errno, "sync socketpair");
	ec->sync_rt = sv[0];
	ec->sync_child = sv[1];
	/* The joiner exits after the fork: adopt the process to wait for it. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	joiner_pid = fork();
	if (joiner_pid < 0)
		return berth_error_sys(err, errno, "fork");
	if (joiner_pid == 0)
		joiner(ec);
	close(ec->sync_child);
	ec->sync_child = -1;
	if ((ec->cgroup != NULL && cgroup_enter(ec->cgroup, joiner_pid, err) < 0) ||
	    sync_send(ec->sync_rt, SYNC_GO, 0, NULL, -1, err) < 0) {
		kill(joiner_pid, SIGKILL);
		waitpid(joiner_pid, NULL, 0);
		return -1;
	}
	for (;;) {
		struct sync_msg msg;
		int fd = -1;
		berth_error_t eof = NULL;

		if (sync_recv(ec->sync_rt, &msg, &fd, &eof) < 0) {
			berth_error_free(&eof);
			break; /* the program was executed */
		}
		if (msg.type == SYNC_INIT_PID) {
			ec->pid = msg.value;
			waitpid(joiner_pid, NULL, 0);
		} else if (msg.type == SYNC_PTY && fd >= 0) {
			if (ec->console_sock >= 0) {
				int ret = terminal_send_master(ec->console_sock, fd, err);
				close(fd);
				if (ret < 0)
					return -1;
			} else {
				ec->pty_master = fd;
			}
		} else if (msg.type == SYNC_SECCOMP && fd >= 0) {
			if (send_seccomp_fd(ec, fd, err) < 0)
				return -1;
		} else if (msg.type == SYNC_ERROR) {
			if (ec->pid <= 0)
				waitpid(joiner_pid, NULL, 0);
			else
				waitpid(ec->pid, NULL, 0);
			return berth_error_set(err,
			                       msg.value == ENOENT ? BERTH_ERR_NOT_FOUND : BERTH_ERR_SYSTEM,
			                       0, "%s", msg.text);
		}
	}
	if (ec->pid <= 0) {
		waitpid(joiner_pid, NULL, 0);
		return berth_error_set(err, BERTH_ERR_STATE, 0, "exec: the process could not be started");
	}
	return 0;
}

static void exec_ctx_release(struct exec_ctx *ec)
{
	int *fds[] = {&ec->sync_rt, &ec->sync_child, &ec->console_sock, &ec->pty_master};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
	}
	container_free(ec->c);
	oci_process_free(ec->process);
	cgroup_free(ec->cgroup);
	seccomp_filter_free(ec->seccomp);
}

int berth_container_exec(const struct berth_context *ctx, const struct berth_exec_options *opts,
                         int *exit_status, berth_error_t *err)
{
	struct exec_ctx ec = {
	    .opts = opts, .sync_rt = -1, .sync_child = -1, .console_sock = -1, .pty_master = -1};
	int ret = -1;

	*exit_status = 0;
	if (load(ctx, &ec, err) < 0)
		goto out;
	if (opts->console_socket != NULL) {
		ec.console_sock = terminal_connect_socket(opts->console_socket, err);
		if (ec.console_sock < 0)
			goto out;
	}
	if (spawn_and_serve(&ec, err) < 0)
		goto out;
	if (opts->pid_file != NULL) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d", (int)ec.pid);
		if (fs_write_file_atomic_at(AT_FDCWD, opts->pid_file, buf, (size_t)n, 0644, err) < 0) {
			kill(ec.pid, SIGKILL);
			goto out;
		}
	}
	if (opts->detach) {
		ret = 0;
		goto out;
	}
	ret = supervise_wait(ec.pid, ec.pty_master, false, exit_status, err);
	ec.pty_master = -1;
out:
	exec_ctx_release(&ec);
	if (ret < 0)
		berth_error_prefix(err, "exec in container `%s`", opts->id);
	return ret;
}
