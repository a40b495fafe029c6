/* `create`, the runtime's side.
 *
 * The steps, numbered as in init.c:
 *   1. load config.json from the bundle, validate, plan the namespaces
 *   2. claim the id: mkdir + lock of the state directory, exec.fifo (not for
 *      `run`, which starts init through the sync socket); the cgroup's path
 *      recorded
 *   3. the sync socket, the console socket
 *   4. spawn init: clone with every new namespace (fast path; clone3 straight
 *      into a v2 cgroup where it can; on v1 and hybrid hierarchies init
 *      unshares the network namespace itself), or a stage-1 child that joins
 *      namespaces by path and forks init (slow path); make the cgroup with
 *      its resources (before the clone on v2 and on the slow path), put the
 *      child in it, write its id maps (fast path), send SYNC_GO
 *   4b. the copy of the config in the state directory, written while init
 *      sets up its mounts
 *   5. serve init's requests (id maps, hooks, pty) until it is ready
 *   6. state.json and the pid file (`run`: once init was told to start, so
 *      that these writes overlap its execve)
 * On any failure init is killed, its mounts in the runtime's mount namespace
 * (when it has none of its own) undone, and the state directory removed.
 */
#include "create.h"
#include "hooks.h"
#include "mounts.h"
#include "security.h"
#include "sync.h"
#include "terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* 1. Configuration. */
static int load_config(struct create_ctx *cc, berth_error_t *err)
{
	const char *bundle_arg = cc->opts->bundle != NULL ? cc->opts->bundle : ".";
	char bundle[PATH_MAX], rootfs[2 * PATH_MAX + 2], config[PATH_MAX + 16];
	struct oci_spec *spec;
	struct stat st;

	if (realpath(bundle_arg, bundle) == NULL)
		return berth_error_sys(err, errno, "bundle `%s`", bundle_arg);
	snprintf(config, sizeof(config), "%s/config.json", bundle);
	if (oci_spec_parse_file(config, &cc->spec, err) < 0)
		return -1;
	spec = cc->spec;
	if (spec->process == NULL)
		return berth_error_invalid(err, "%s: .process: required", config);
	if (spec->root == NULL || spec->root->path == NULL)
		return berth_error_invalid(err, "%s: .root.path: required", config);
	if (spec->root->path[0] == '/')
		snprintf(rootfs, sizeof(rootfs), "%s", spec->root->path);
	else
		snprintf(rootfs, sizeof(rootfs), "%s/%s", bundle, spec->root->path);
	if (stat(rootfs, &st) < 0)
		return berth_error_sys(err, errno, "rootfs `%s`", rootfs);
	if (!S_ISDIR(st.st_mode))
		return berth_error_invalid(err, "rootfs `%s`: not a directory", rootfs);
	if (ns_plan_make(spec, &cc->plan, err) < 0)
		return berth_error_prefix(err, "%s", config);
	if (security_selinux_prepare(spec->process->selinux_label, spec->linux_->mount_label, err) < 0)
		return berth_error_prefix(err, "%s", config);
	/* Compiled here so that a bad filter is a config error of the runtime's. */
	if (spec->linux_->seccomp != NULL &&
	    seccomp_filter_build(spec->linux_->seccomp, &cc->seccomp, err) < 0)
		return -1;
	if ((spec->hostname != NULL || spec->domainname != NULL) &&
	    oci_spec_namespace(spec, OCI_NS_UTS) == NULL)
		return berth_error_invalid(err, "%s: .hostname: setting the hostname needs a UTS namespace",
		                           config);
	if (spec->process->terminal && cc->opts->console_socket == NULL &&
	    !(cc->for_run && !cc->opts->detach))
		return berth_error_invalid(
		    err, "cannot allocate a terminal without --console-socket when detached");

	cc->c->bundle = strdup(bundle);
	cc->c->rootfs = realpath(rootfs, NULL);
	if (cc->c->bundle == NULL || cc->c->rootfs == NULL)
		return berth_error_sys(err, errno, "rootfs `%s`", rootfs);
	/* Without a mount namespace, init's mounts are the host's: what is on
	 * the rootfs now is what delete (or a failure below) leaves there. */
	if (cc->plan.shared_mount_ns && rootfs_shared_base(cc->c->rootfs, &cc->c->mount_base, err) < 0)
		return -1;
	cc->rootfs.spec = spec;
	cc->rootfs.rootfs = cc->c->rootfs;
	cc->rootfs.bundle = cc->c->bundle;
	cc->rootfs.no_pivot = cc->opts->no_pivot;
	cc->rootfs.in_user_namespace = oci_spec_namespace(spec, OCI_NS_USER) != NULL;
	if (mounts_prepare_idmapped(spec, cc->c->bundle, &cc->idmap_fds, err) < 0)
		return -1;
	cc->rootfs.idmap_fds = cc->idmap_fds;
	return 0;
}

/* The host id of the container's id 0 (ours when there is no mapping). */
static unsigned int host_root_id(const struct oci_id_mapping *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (m[i].container_id == 0)
			return m[i].host_id;
	}
	return 0;
}

/* 2. The state directory's content.  `run` makes no exec fifo: nothing but
 * itself can start the container, and it tells init over the sync socket. */
static int prepare_state_dir(struct create_ctx *cc, berth_error_t *err)
{
	char created[64];
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	timefmt_rfc3339_utc(&now, created, sizeof(created));
	cc->c->created = strdup(created);
	cc->c->owner = strdup("");
	if (cc->c->created == NULL || cc->c->owner == NULL)
		return berth_error_sys(err, ENOMEM, "create");
	if (cc->for_run)
		return 0;
	/* Owned by the container's root, who opens it from inside a user
	 * namespace; the mode is set explicitly because umask applies. */
	if (mkfifoat(cc->c->dir_fd, FIFO_FILE, 0600) < 0)
		return berth_error_sys(err, errno, "create exec fifo");
	if (fchownat(cc->c->dir_fd, FIFO_FILE,
	             host_root_id(cc->spec->linux_->uid_mappings, cc->spec->linux_->uid_mappings_len),
	             host_root_id(cc->spec->linux_->gid_mappings, cc->spec->linux_->gid_mappings_len),
	             0) < 0 ||
	    fchmodat(cc->c->dir_fd, FIFO_FILE, 0622, 0) < 0)
		return berth_error_sys(err, errno, "set owner of exec fifo");
	cc->fifo_fd = openat(cc->c->dir_fd, FIFO_FILE, O_PATH | O_CLOEXEC);
	if (cc->fifo_fd < 0)
		return berth_error_sys(err, errno, "open exec fifo");
	return 0;
}

/* 4b. start, state, exec and delete read the config from here.  Until it is
 * written the state says pid 0 (creating), for which nobody reads it. */
static int write_config_copy(struct create_ctx *cc, berth_error_t *err)
{
	cleanup_free char *config = oci_spec_to_json(cc->spec, false, err);

	if (config == NULL)
		return -1;
	return fs_write_file_atomic_at(cc->c->dir_fd, CONFIG_FILE, config, strlen(config), 0600, err);
}

/* 3. Sockets and inherited fds. */
static int prepare_channels(struct create_ctx *cc, berth_error_t *err)
{
	int sv[2];
	const char *listen = getenv("LISTEN_FDS");

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return berth_error_sys(err, errno, "sync socketpair");
	cc->sync_rt = sv[0];
	cc->sync_init = sv[1];
	if (cc->opts->console_socket != NULL) {
		cc->console_sock = terminal_connect_socket(cc->opts->console_socket, err);
		if (cc->console_sock < 0)
			return -1;
	}
	/* Socket activation, as runc: LISTEN_FDS of our environment passes
	 * those fds on, before the --preserve-fds ones. */
	if (listen != NULL) {
		long n = strtol(listen, NULL, 10);
		if (n > 0 && n < 1024)
			cc->listen_fds = (unsigned int)n;
	}
	cc->extra_fds = cc->listen_fds + cc->opts->preserve_fds;
	return 0;
}

/* Two containers in one cgroup would limit, freeze and kill each other: a
 * cgroup that already holds processes is refused (as runc 1.2 does). */
static int check_cgroup_unused(struct cgroup *cg, berth_error_t *err)
{
	pid_t *pids = NULL;
	size_t n = 0;
	berth_error_t missing = NULL;

	if (cgroup_pids(cg, &pids, &n, &missing) < 0) {
		berth_error_free(&missing); /* not there yet: the usual case */
		return 0;
	}
	free(pids);
	if (n > 0)
		return berth_error_set(err, BERTH_ERR_EXISTS, 0,
		                       "cgroup `%s` is not empty: %zu processes of something else are in it",
		                       cgroup_path(cg), n);
	return 0;
}

/* 2b. The cgroup: its path recorded (made in spawn). */
static int prepare_cgroup(struct create_ctx *cc, berth_error_t *err)
{
	const struct oci_linux *l = cc->spec->linux_;
	struct cgroup_config config = {
	    .id = cc->c->id,
	    .cgroups_path = l->cgroups_path,
	    .systemd = cc->ctx != NULL && cc->ctx->systemd_cgroup,
	    .rootless = geteuid() != 0,
	    .devices = l->devices,
	    .devices_len = l->devices_len,
	};

	if (cgroup_open(&config, &cc->cgroup, err) < 0 || check_cgroup_unused(cc->cgroup, err) < 0)
		return -1;
	cc->cgroup_owned = true; /* from here a failure removes it */
	cc->c->cgroup = strdup(cgroup_path(cc->cgroup));
	if (cc->c->cgroup == NULL)
		return berth_error_sys(err, ENOMEM, "cgroup path");
	/* Recorded before it exists (pid 0: still "creating"), so that after a
	 * create killed from here on, delete --force removes the cgroup and
	 * whatever is in it: init, once ready, would wait on the fifo forever. */
	return state_save(cc->c, err);
}

/* 4. Spawn. */
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

struct clone_args_v2 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
	    set_tid_size, cgroup;
};

/* Clones init straight into its v2 cgroup; -1 with errno when clone3 or
 * CLONE_INTO_CGROUP is missing or filtered, and the caller falls back. */
static pid_t clone_into_cgroup(unsigned long flags, int cgroup_fd)
{
	struct clone_args_v2 args = {
	    .flags = flags | CLONE_INTO_CGROUP,
	    .exit_signal = SIGCHLD,
	    .cgroup = (uint64_t)cgroup_fd,
	};
	if (cgroup_fd < 0) {
		errno = ENOSYS;
		return -1;
	}
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

static pid_t clone_fast(unsigned long flags, int cgroup_fd, bool *in_cgroup)
{
	pid_t pid = clone_into_cgroup(flags, cgroup_fd);

	*in_cgroup = pid >= 0;
	if (pid >= 0 || (errno != ENOSYS && errno != E2BIG && errno != EPERM && errno != EINVAL))
		return pid;
	/* A raw clone without a new stack behaves like fork, with namespaces. */
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* The cgroup is made and configured before init runs anything.  Before the
 * clone when init is born in it (v2: clone3 CLONE_INTO_CGROUP) or comes from
 * a stage-1 child; otherwise (v1, hybrid) init is moved in after the clone
 * anyway, and the cgroup is made while init creates its network namespace,
 * the dearest one to create (about 0.3 ms), on another CPU.  init is moved
 * in once it said it is done (SYNC_NETNS), so that the namespace is charged
 * to the runtime's cgroup, as with a clone that makes every namespace. */
static int spawn(struct create_ctx *cc, pid_t *child, berth_error_t *err)
{
	const struct oci_resources *resources = cc->spec->linux_->resources;
	bool cgroup_first = cc->plan.slow_path || cgroup_born_inside(cc->cgroup);
	unsigned long flags = cc->plan.new_flags & ~(unsigned long)CLONE_NEWCGROUP;
	bool in_cgroup = false;
	pid_t pid;

	if (cgroup_first && cgroup_create(cc->cgroup, resources, err) < 0)
		return -1;
	if (!cgroup_first && (flags & CLONE_NEWNET)) {
		flags &= ~(unsigned long)CLONE_NEWNET;
		cc->init_unshares_net = true;
	}
	if (cc->plan.slow_path) {
		/* init's parent, stage-1, exits at once: we adopt init so that
		 * `run` can wait for it. */
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		pid = fork();
	} else {
		/* The cgroup namespace is unshared by init once it is in its
		 * cgroup, so that the container sees its cgroup as the root. */
		pid = clone_fast(flags, cgroup_first ? cgroup_v2_fd(cc->cgroup) : -1, &in_cgroup);
	}
	if (pid < 0)
		return berth_error_sys(err, errno, "clone container init");
	if (pid == 0) {
		if (cc->plan.slow_path)
			init_stage1(cc);
		init_main(cc, true);
	}
	*child = pid;
	close(cc->sync_init);
	cc->sync_init = -1;
	if (!cc->plan.slow_path)
		cc->init_pid = pid;
	if (!cgroup_first && cgroup_create(cc->cgroup, resources, err) < 0)
		return -1;
	if (cc->init_unshares_net) {
		struct sync_msg msg;
		if (sync_expect(cc->sync_rt, SYNC_NETNS, &msg, err) < 0)
			return -1;
	}
	if (!in_cgroup && cgroup_enter(cc->cgroup, pid, err) < 0)
		return -1;
	if (!cc->plan.slow_path && cc->plan.new_user && ns_write_id_maps(pid, cc->spec->linux_, err) < 0)
		return -1;
	return sync_send(cc->sync_rt, SYNC_GO, 0, NULL, -1, err);
}

char *create_hook_state(const struct create_ctx *cc, enum container_status status, berth_error_t *err)
{
	struct container view = *cc->c;
	view.pid = cc->init_pid;
	view.spec = cc->spec;
	return state_to_oci_json(&view, status, false, err);
}

static int run_runtime_hooks(struct create_ctx *cc, berth_error_t *err)
{
	const struct oci_hooks *h = &cc->spec->hooks;
	cleanup_free char *state = NULL;

	if (h->prestart_len == 0 && h->create_runtime_len == 0)
		return 0;
	state = create_hook_state(cc, STATUS_CREATED, err);
	if (state == NULL)
		return -1;
	if (hooks_run(h->prestart, h->prestart_len, "prestart", state, err) < 0)
		return -1;
	return hooks_run(h->create_runtime, h->create_runtime_len, "createRuntime", state, err);
}

static int forward_pty(struct create_ctx *cc, int master, berth_error_t *err)
{
	if (cc->console_sock >= 0) {
		int ret = terminal_send_master(cc->console_sock, master, err);
		close(master);
		return ret;
	}
	cc->pty_master = master; /* run in the foreground proxies it */
	return 0;
}

static int send_seccomp_fd(struct create_ctx *cc, int fd, berth_error_t *err)
{
	const struct oci_seccomp *sc = cc->spec->linux_->seccomp;
	cleanup_free char *state = create_hook_state(cc, STATUS_CREATING, err);
	int ret;

	if (state == NULL) {
		close(fd);
		return -1;
	}
	ret =
	    seccomp_send_to_listener(sc->listener_path, fd, sc->listener_metadata, state, cc->init_pid, err);
	close(fd);
	return ret;
}

/* 5. Serve init until it is ready. */
static int serve_init(struct create_ctx *cc, pid_t child, berth_error_t *err)
{
	for (;;) {
		struct sync_msg msg;
		int fd = -1;

		if (sync_recv(cc->sync_rt, &msg, &fd, err) < 0)
			return -1;
		switch (msg.type) {
		case SYNC_USERNS_MAP:
			if (ns_write_id_maps(msg.value, cc->spec->linux_, err) < 0)
				return -1;
			if (sync_send(cc->sync_rt, SYNC_USERNS_DONE, 0, NULL, -1, err) < 0)
				return -1;
			break;
		case SYNC_INIT_PID:
			cc->init_pid = msg.value;
			while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
				;
			break;
		case SYNC_HOOKS:
			if (run_runtime_hooks(cc, err) < 0)
				return -1;
			if (sync_send(cc->sync_rt, SYNC_HOOKS_DONE, cc->init_pid, NULL, -1, err) < 0)
				return -1;
			break;
		case SYNC_PTY:
			if (fd < 0)
				return berth_error_invalid(err, "init sent no pty");
			if (forward_pty(cc, fd, err) < 0)
				return -1;
			break;
		case SYNC_SECCOMP:
			if (fd < 0)
				return berth_error_invalid(err, "init sent no seccomp fd");
			if (send_seccomp_fd(cc, fd, err) < 0)
				return -1;
			if (sync_send(cc->sync_rt, SYNC_SECCOMP_DONE, 0, NULL, -1, err) < 0)
				return -1;
			break;
		case SYNC_READY:
			return 0;
		case SYNC_ERROR:
			return berth_error_set(err,
			                       msg.value == ENOENT ? BERTH_ERR_NOT_FOUND : BERTH_ERR_SYSTEM,
			                       0, "%s", msg.text);
		default:
			if (fd >= 0)
				close(fd);
			return berth_error_invalid(err, "unexpected sync message %u from init", msg.type);
		}
	}
}

/* 6. Record the container. */
/* Rootless, the cgroup may not have been made: record it only if init is
 * really in it, or delete and kill --all would act on a stranger's. */
static void check_rootless_cgroup(struct create_ctx *cc)
{
	pid_t *pids = NULL;
	size_t n = 0;
	bool found = false;
	berth_error_t ignored = NULL;

	if (geteuid() == 0 || cc->c->cgroup == NULL)
		return;
	if (cgroup_pids(cc->cgroup, &pids, &n, &ignored) == 0)
		for (size_t i = 0; i < n && !found; i++)
			found = pids[i] == cc->init_pid;
	berth_error_free(&ignored);
	free(pids);
	if (!found) {
		free(cc->c->cgroup);
		cc->c->cgroup = NULL;
	}
}

/* init's start time, read while it sets up its mounts rather than between
 * its SYNC_READY and its execve. */
static void identify_init_early(struct create_ctx *cc)
{
	if (cc->init_pid <= 0)
		return; /* the slow path: init's pid comes later */
	cc->c->pid = cc->init_pid;
	cc->c->start_time = state_pid_start_time(cc->init_pid);
}

int create_identify_init(struct create_ctx *cc, berth_error_t *err)
{
	if (cc->c->pid != cc->init_pid) { /* the slow path: not read early */
		cc->c->pid = cc->init_pid;
		cc->c->start_time = state_pid_start_time(cc->init_pid);
	}
	if (cc->c->start_time == 0)
		return berth_error_set(err, BERTH_ERR_STATE, 0, "container init exited during create");
	return 0;
}

int create_record(struct create_ctx *cc, berth_error_t *err)
{
	if (state_save(cc->c, err) < 0)
		return -1;
	if (cc->opts->pid_file != NULL) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d", (int)cc->init_pid);
		if (fs_write_file_atomic_at(AT_FDCWD, cc->opts->pid_file, buf, (size_t)n, 0644, err) < 0)
			return berth_error_prefix(err, "pid file");
	}
	return 0;
}

static void kill_init(struct create_ctx *cc, pid_t child)
{
	if (cc->init_pid > 0) {
		kill(cc->init_pid, SIGKILL);
		while (waitpid(cc->init_pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (child > 0 && child != cc->init_pid) {
		kill(child, SIGKILL);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
	}
}

int create_container(struct create_ctx *cc, berth_error_t *err)
{
	pid_t child = -1;

	cc->sync_rt = cc->sync_init = cc->fifo_fd = cc->console_sock = cc->pty_master = -1;
	if (state_create(cc->ctx, cc->opts->id, &cc->c, err) < 0)
		return -1;
	if (load_config(cc, err) < 0 || prepare_state_dir(cc, err) < 0 || prepare_cgroup(cc, err) < 0 ||
	    prepare_channels(cc, err) < 0 || spawn(cc, &child, err) < 0 || write_config_copy(cc, err) < 0)
		goto fail;
	identify_init_early(cc);
	if (serve_init(cc, child, err) < 0)
		goto fail;
	check_rootless_cgroup(cc);
	if (create_identify_init(cc, err) < 0)
		goto fail;
	/* run records the container itself, once init runs on, with the
	 * directory still locked */
	if (cc->for_run)
		return 0;
	if (create_record(cc, err) < 0)
		goto fail;
	close(cc->fifo_fd);
	cc->fifo_fd = -1;
	close(cc->sync_rt);
	cc->sync_rt = -1;
	return 0;
fail:
	kill_init(cc, child);
	if (cc->c->mount_base >= 0)
		rootfs_shared_release(cc->c->rootfs, cc->c->mount_base, NULL);
	if (cc->cgroup_owned)
		cgroup_destroy(cc->cgroup, NULL);
	state_remove(cc->c, NULL);
	return berth_error_prefix(err, "create container `%s`", cc->opts->id);
}

void create_ctx_release(struct create_ctx *cc)
{
	int *fds[] = {&cc->sync_rt, &cc->sync_init, &cc->fifo_fd, &cc->console_sock, &cc->pty_master};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	container_free(cc->c);
	cc->c = NULL;
	cgroup_free(cc->cgroup);
	cc->cgroup = NULL;
	seccomp_filter_free(cc->seccomp);
	cc->seccomp = NULL;
	if (cc->spec != NULL)
		mounts_close_idmapped(cc->idmap_fds, cc->spec->mounts_len);
	cc->idmap_fds = NULL;
	oci_spec_free(cc->spec);
	cc->spec = NULL;
}
