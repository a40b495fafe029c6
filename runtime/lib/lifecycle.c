/* start, state, kill, delete and list of existing containers. */
#include "berth/berth.h"
#include "cgroup.h"
#include "hooks.h"
#include "rootfs.h"
#include "state.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void log_warning(const struct berth_context *ctx, berth_error_t *err)
{
	if (ctx != NULL && ctx->log != NULL && *err != NULL)
		ctx->log(ctx->log_data, BERTH_LOG_WARNING, (*err)->msg);
	berth_error_free(err);
}

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Runs a hook list whose failures only warn (poststart, poststop): every
 * hook runs, as the spec asks, even after one failed. */
static void run_warning_hooks(const struct berth_context *ctx, struct container *c,
                              const struct oci_hook *hooks, size_t n, const char *kind,
                              enum container_status status)
{
	berth_error_t err = NULL;
	cleanup_free char *state = NULL;

	if (n == 0)
		return;
	state = state_to_oci_json(c, status, false, &err);
	if (state == NULL) {
		log_warning(ctx, &err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (hooks_run(&hooks[i], 1, kind, state, &err) < 0)
			log_warning(ctx, &err);
	}
}

/* Opens the fifo and waits for init to write its byte; fails if init dies. */
static int release_init(struct container *c, berth_error_t *err)
{
	cleanup_close int fifo = openat(c->dir_fd, FIFO_FILE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	cleanup_close int pidfd = pidfd_of(c->pid);
	struct pollfd pfd[2] = {{.fd = -1, .events = POLLIN}, {.fd = -1, .events = POLLIN}};
	char byte;

	if (fifo < 0)
		return berth_error_sys(err, errno, "open exec fifo");
	pfd[0].fd = fifo;
	pfd[1].fd = pidfd;
	for (;;) {
		int r = poll(pfd, 2, 1000);
		if (r < 0 && errno != EINTR)
			return berth_error_sys(err, errno, "wait for container init");
		if (pfd[0].revents & POLLIN) {
			if (read(fifo, &byte, 1) == 1)
				break;
		}
		if ((pfd[1].revents & POLLIN) || state_pid_start_time(c->pid) != c->start_time)
			return berth_error_set(err, BERTH_ERR_STATE, 0, "container init exited before start");
	}
	/* Without the fifo the container reads as running. */
	if (unlinkat(c->dir_fd, FIFO_FILE, 0) < 0)
		return berth_error_sys(err, errno, "remove exec fifo");
	/* init keeps its end open until execve (or exit) closes it: EOF means
	 * the startContainer hooks are done and the program runs. */
	pfd[0].events = POLLIN | POLLHUP;
	for (;;) {
		ssize_t n;
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return berth_error_sys(err, errno, "wait for container init");
		n = read(fifo, &byte, 1);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || (pfd[1].revents & POLLIN))
			return 0;
	}
}

int lifecycle_start(const struct berth_context *ctx, struct container *c, berth_error_t *err)
{
	enum container_status status = state_status(c);

	if (status != STATUS_CREATED)
		return berth_error_set(err, BERTH_ERR_STATE, 0, "cannot start a container in %s state",
		                       state_status_name(status));
	if (release_init(c, err) < 0)
		return berth_error_prefix(err, "start container `%s`", c->id);
	lifecycle_poststart(ctx, c);
	return 0;
}

void lifecycle_poststart(const struct berth_context *ctx, struct container *c)
{
	run_warning_hooks(ctx, c, c->spec->hooks.poststart, c->spec->hooks.poststart_len, "poststart",
	                  STATUS_RUNNING);
}

int berth_container_start(const struct berth_context *ctx, const char *id, berth_error_t *err)
{
	cleanup_container struct container *c = NULL;

	if (state_open(ctx, id, true, true, &c, err) < 0)
		return -1;
	return lifecycle_start(ctx, c, err);
}

int berth_container_state(const struct berth_context *ctx, const char *id, char **json_out,
                          berth_error_t *err)
{
	cleanup_container struct container *c = NULL;

	if (state_open(ctx, id, false, true, &c, err) < 0)
		return -1;
	*json_out = state_to_oci_json(c, state_status(c), true, err);
	return *json_out == NULL ? -1 : 0;
}

static void cgroup_freep(struct cgroup **cg)
{
	cgroup_free(*cg);
}
#define cleanup_cgroup __attribute__((cleanup(cgroup_freep)))

/* The container's cgroup, or NULL (and no error) when it recorded none. */
static int open_cgroup(const struct container *c, struct cgroup **out, berth_error_t *err)
{
	*out = NULL;
	if (c->cgroup == NULL || c->cgroup[0] == '\0')
		return 0;
	return cgroup_open_path(c->cgroup, out, err);
}

static int kill_all_in_pidns(struct container *c, int signal, berth_error_t *err);

/* Every process of the container: those of its cgroup, or, without one,
 * those in its pid namespace. */
static int kill_all(struct container *c, int signal, berth_error_t *err)
{
	cleanup_cgroup struct cgroup *cg = NULL;

	if (open_cgroup(c, &cg, err) < 0)
		return -1;
	/* init first, whatever the cgroup holds: it is the container's for sure. */
	if (state_pid_start_time(c->pid) == c->start_time && kill(c->pid, signal) < 0 && errno != ESRCH)
		return berth_error_sys(err, errno, "kill container `%s`", c->id);
	if (cg != NULL)
		return cgroup_kill_all(cg, signal, err);
	return kill_all_in_pidns(c, signal, err);
}

static int kill_all_in_pidns(struct container *c, int signal, berth_error_t *err)
{
	char path[64];
	struct stat init_ns;
	cleanup_dir DIR *proc = NULL;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)c->pid);
	if (stat(path, &init_ns) < 0)
		return berth_error_sys(err, errno, "pid namespace of `%s`", c->id);
	if (kill(c->pid, signal) < 0 && errno != ESRCH)
		return berth_error_sys(err, errno, "kill container `%s`", c->id);
	{
		/* A container sharing our pid namespace: only its init is known
		 * to be its own. */
		struct stat self_ns;
		if (stat("/proc/self/ns/pid", &self_ns) == 0 && self_ns.st_ino == init_ns.st_ino &&
		    self_ns.st_dev == init_ns.st_dev)
			return 0;
	}
	proc = opendir("/proc");
	if (proc == NULL)
		return berth_error_sys(err, errno, "open /proc");
	while ((de = readdir(proc)) != NULL) {
		struct stat st;
		int pid = atoi(de->d_name);
		if (pid <= 0 || pid == c->pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
		if (stat(path, &st) == 0 && st.st_ino == init_ns.st_ino && st.st_dev == init_ns.st_dev)
			kill(pid, signal);
	}
	return 0;
}

int berth_container_kill(const struct berth_context *ctx, const char *id, int signal, bool all,
                         berth_error_t *err)
{
	cleanup_container struct container *c = NULL;
	enum container_status status;

	if (state_open(ctx, id, true, false, &c, err) < 0)
		return -1;
	status = state_status(c);
	if (status != STATUS_CREATED && status != STATUS_RUNNING && status != STATUS_PAUSED)
		return berth_error_set(err, BERTH_ERR_STATE, 0, "container `%s` is not running", id);
	if (all)
		return kill_all(c, signal, err);
	if (kill(c->pid, signal) < 0)
		return berth_error_sys(err, errno, "kill container `%s`", id);
	return 0;
}

/* SIGKILL and wait until init is gone (it may not be our child). */
static int kill_and_wait(struct container *c, berth_error_t *err)
{
	cleanup_close int pidfd = pidfd_of(c->pid);

	if (state_pid_start_time(c->pid) != c->start_time)
		return 0;
	if (kill_all(c, SIGKILL, err) < 0)
		return -1;
	if (pidfd >= 0) {
		struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
		while (poll(&pfd, 1, 10000) < 0 && errno == EINTR)
			;
	}
	/* Reap it if it is ours (run --detach's parent never is). */
	waitpid(c->pid, NULL, WNOHANG);
	for (int i = 0; i < 1000 && state_pid_start_time(c->pid) == c->start_time; i++)
		usleep(1000);
	return 0;
}

static int destroy_cgroup(struct container *c, berth_error_t *err)
{
	cleanup_cgroup struct cgroup *cg = NULL;

	if (open_cgroup(c, &cg, err) < 0)
		return -1;
	return cg != NULL ? cgroup_destroy(cg, err) : 0;
}

int lifecycle_delete(const struct berth_context *ctx, struct container *c, bool force, berth_error_t *err)
{
	enum container_status status = state_status(c);

	/* A created container is not stopped either: the spec wants an error
	 * and no effect, as crun does (runc kills it). Engines delete created
	 * containers with --force or after a kill. */
	if ((status == STATUS_RUNNING || status == STATUS_CREATED || status == STATUS_PAUSED) && !force)
		return berth_error_set(err, BERTH_ERR_STATE, 0,
		                       "cannot delete container `%s` that is not stopped: %s", c->id,
		                       state_status_name(status));
	if (status == STATUS_CREATING && !force)
		return berth_error_set(err, BERTH_ERR_STATE, 0,
		                       "cannot delete container `%s` while it is being created", c->id);
	if ((status == STATUS_RUNNING || status == STATUS_CREATED || status == STATUS_PAUSED) &&
	    kill_and_wait(c, err) < 0)
		return berth_error_prefix(err, "delete container `%s`", c->id);
	if (destroy_cgroup(c, err) < 0)
		return berth_error_prefix(err, "delete container `%s`", c->id);
	/* Its mounts in the runtime's mount namespace, once nothing runs in
	 * it; on failure the state stays, so that delete can be retried. */
	if (c->mount_base >= 0 && c->rootfs != NULL &&
	    rootfs_shared_release(c->rootfs, c->mount_base, err) < 0)
		return berth_error_prefix(err, "delete container `%s`", c->id);
	if (status != STATUS_CREATING && c->spec != NULL)
		run_warning_hooks(ctx, c, c->spec->hooks.poststop, c->spec->hooks.poststop_len, "poststop",
		                  STATUS_STOPPED);
	if (state_remove(c, err) < 0)
		return berth_error_prefix(err, "delete container `%s`", c->id);
	return 0;
}

int berth_container_delete(const struct berth_context *ctx, const char *id, bool force, berth_error_t *err)
{
	cleanup_container struct container *c = NULL;
	berth_error_t spec_err = NULL;

	if (state_open(ctx, id, true, false, &c, err) < 0)
		return -1;
	/* A broken config copy must not make a container undeletable. */
	if (c->pid > 0) {
		cleanup_free char *config = NULL;
		size_t len;
		if (fs_read_file_at(c->dir_fd, CONFIG_FILE, &config, &len, &spec_err) < 0 ||
		    oci_spec_parse(config, len, CONFIG_FILE, &c->spec, &spec_err) < 0)
			log_warning(ctx, &spec_err);
	}
	return lifecycle_delete(ctx, c, force, err);
}

static int compare_info(const void *a, const void *b)
{
	return strcmp(((const struct berth_container_info *)a)->id,
	              ((const struct berth_container_info *)b)->id);
}

static int fill_info(const struct berth_context *ctx, const char *id, struct berth_container_info *info,
                     berth_error_t *err)
{
	cleanup_container struct container *c = NULL;
	enum container_status status;
	struct stat st;
	struct passwd *pw;

	if (state_open(ctx, id, false, false, &c, err) < 0)
		return -1;
	status = state_status(c);
	info->id = strdup(id);
	info->pid = status == STATUS_STOPPED ? 0 : c->pid;
	info->status = strdup(state_status_name(status));
	info->bundle = steal_ptr(&c->bundle);
	info->rootfs = steal_ptr(&c->rootfs);
	info->created = steal_ptr(&c->created);
	pw = fstat(c->dir_fd, &st) == 0 ? getpwuid(st.st_uid) : NULL;
	info->owner = strdup(pw != NULL ? pw->pw_name : "");
	return 0;
}

int berth_container_list(const struct berth_context *ctx, struct berth_container_info **out, size_t *n_out,
                         berth_error_t *err)
{
	cleanup_dir DIR *dir = opendir(state_root_path(ctx));
	struct berth_container_info *infos = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	*out = NULL;
	*n_out = 0;
	if (dir == NULL) {
		if (errno == ENOENT)
			return 0;
		return berth_error_sys(err, errno, "open state root `%s`", state_root_path(ctx));
	}
	while ((de = readdir(dir)) != NULL) {
		berth_error_t skip = NULL;
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		if (n == cap) {
			struct berth_container_info *more =
			    realloc(infos, (cap = cap * 2 + 8) * sizeof(*infos));
			if (more == NULL) {
				berth_container_info_free(infos, n);
				return berth_error_sys(err, ENOMEM, "list");
			}
			infos = more;
		}
		memset(&infos[n], 0, sizeof(infos[n]));
		/* A container deleted while we list is simply not listed. */
		if (fill_info(ctx, de->d_name, &infos[n], &skip) < 0) {
			berth_error_free(&skip);
			continue;
		}
		n++;
	}
	if (n > 1) /* qsort's array may not be NULL, as infos is when there is none (UBSan) */
		qsort(infos, n, sizeof(*infos), compare_info);
	*out = infos;
	*n_out = n;
	return 0;
}

void berth_container_info_free(struct berth_container_info *infos, size_t n)
{
	for (size_t i = 0; infos != NULL && i < n; i++) {
		free(infos[i].id);
		free(infos[i].status);
		free(infos[i].bundle);
		free(infos[i].rootfs);
		free(infos[i].created);
		free(infos[i].owner);
	}
	free(infos);
}
