/* The task service, containerd.task.v2.Task, over libberth.
 *
 * | RPC        | does                                                        | event               |
 * |------------|-------------------------------------------------------------|---------------------|
 * | Create     | mount rootfs, open stdio, berth_container_create, OOM watch | /tasks/create       |
 * | Start      | init: berth_container_start; exec: berth_container_exec     | /tasks/start,       |
 * |            |                                                             | /tasks/exec-started |
 * | Exec       | records the process (spec JSON) until Start                 | /tasks/exec-added   |
 * | Wait       | parked until the process is reaped                          | (/tasks/exit)       |
 * | Delete     | init: berth_container_delete, unmount; exec: forget it      | /tasks/delete       |
 * | Kill       | berth_container_kill / kill(2); NOT_FOUND once exited       |                     |
 * | Pause etc. | berth_container_pause/resume/pids/update/stats              | /tasks/paused,      |
 * |            |                                                             | /tasks/resumed      |
 * | State etc. | State, Connect, CloseIO, ResizePty, Shutdown: own records   |                     |
 * | Checkpoint | UNIMPLEMENTED                                               |                     |
 * | (OOM fd)   | the cgroup saw an OOM kill (once per kill, before the exit) | /tasks/oom          |
 *
 * Every process's exit is published exactly once, when it is reaped; Start
 * queues its event before the loop can reap the process, so TaskStart comes
 * before TaskExit.  When init exits, what is left of the container (its
 * execs, whatever else its cgroup holds) is killed, as the runc shim does:
 * with a shared pid namespace the kernel would not.
 *
 * Each RPC runs to completion in the single-threaded loop (except Wait), so a
 * call waits for the one in progress: State of one container during the
 * Create of another returns when that Create does (tens of ms; the tests
 * check it).  What still holds the loop for as long as it takes: the
 * container's hooks (run inside Create, Start and Delete), a freezer that is
 * slow to settle (Pause), a binary:// logging binary that is slow to say it
 * is ready (Create, 10 s at most, stdio.c), execs killed with their init but
 * not reaped yet when the Delete comes (a moment each, 1 s at most), and
 * the publish-binary fallback of events.c (only while containerd's ttrpc
 * socket is unreachable).  Moving Create, Start and
 * Delete into a forked helper (as the runc shim runs runc) would lift it.
 */
#include "shim.h"
#include "events.pb-c.h"
#include "metrics.pb-c.h"
#include "options.pb-c.h"
#include "task.pb-c.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_ROOT "/run/containerd/berth"

typedef Containerd__Task__V2__Mount Mount;
typedef Google__Protobuf__Timestamp Timestamp;

/* ---- lookups and small helpers ---- */

static struct container *find_container(struct shim *s, const char *id)
{
	for (struct container *c = s->containers; c != NULL; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static struct process *find_process(struct container *c, const char *exec_id)
{
	if (exec_id == NULL || *exec_id == '\0')
		return &c->init;
	for (struct process *p = c->execs; p != NULL; p = p->next)
		if (strcmp(p->exec_id, exec_id) == 0)
			return p;
	return NULL;
}

static int berth_code(berth_error_t err)
{
	switch (berth_error_code(err)) {
	case BERTH_ERROR_NOT_FOUND:
		return TTRPC_NOT_FOUND;
	case BERTH_ERROR_EXISTS:
		return TTRPC_ALREADY_EXISTS;
	case BERTH_ERROR_STATE:
		return TTRPC_FAILED_PRECONDITION;
	case BERTH_ERROR_INVALID:
		return TTRPC_INVALID_ARGUMENT;
	case BERTH_ERROR_UNSUPPORTED:
		return TTRPC_UNIMPLEMENTED;
	default:
		return TTRPC_UNKNOWN;
	}
}

/* Replies with a libberth error and frees it. */
static void reply_berth(struct shim *s, struct client *cl, uint32_t stream, berth_error_t *err)
{
	shim_log(LOG_ERR, "%s", berth_error_message(*err));
	shim_reply(s, cl, stream, berth_code(*err), berth_error_message(*err), NULL);
	berth_error_free(err);
}

static void reply_empty(struct shim *s, struct client *cl, uint32_t stream)
{
	shim_reply(s, cl, stream, TTRPC_OK, NULL, NULL);
}

static void reply_not_found(struct shim *s, struct client *cl, uint32_t stream, const char *what,
                            const char *id)
{
	char msg[300];
	snprintf(msg, sizeof(msg), "%s %s: not found", what, id);
	shim_reply(s, cl, stream, TTRPC_NOT_FOUND, msg, NULL);
}

/* Finds the process of a request, or replies NOT_FOUND. */
static struct process *lookup(struct shim *s, struct client *cl, uint32_t stream, const char *id,
                              const char *exec_id)
{
	struct container *c = find_container(s, id);
	struct process *p;

	if (c == NULL) {
		reply_not_found(s, cl, stream, "container", id);
		return NULL;
	}
	p = find_process(c, exec_id);
	if (p == NULL)
		reply_not_found(s, cl, stream, "exec", exec_id);
	return p;
}

static void set_timestamp(Timestamp *t, const struct timespec *ts)
{
	t->seconds = ts->tv_sec;
	t->nanos = (int32_t)ts->tv_nsec;
}

static const char *process_id(const struct process *p)
{
	return p->exec_id != NULL ? p->exec_id : p->c->id;
}

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int read_pid_file(const char *path, pid_t *pid, berth_error_t *err)
{
	cleanup_free char *text = NULL;
	size_t len;

	if (fs_read_file_at(AT_FDCWD, path, &text, &len, err) < 0)
		return -1;
	*pid = (pid_t)atoi(text);
	unlink(path);
	return *pid > 0 ? 0 : berth_error_invalid(err, "pid file `%s`: no pid", path);
}

/* An Any's type URL names `name` (bare, or after a "host/" prefix). */
static char *any_text(const Google__Protobuf__Any *any)
{
	char *t = malloc(any->value.len + 1);
	if (t != NULL) {
		memcpy(t, any->value.data, any->value.len);
		t[any->value.len] = '\0';
	}
	return t;
}

/* ---- rootfs ---- */

static const struct {
	const char *name;
	unsigned long set, clear;
} mount_flags[] = {
    {"ro", MS_RDONLY, 0},           {"rw", 0, MS_RDONLY},       {"bind", MS_BIND, 0},
    {"rbind", MS_BIND | MS_REC, 0}, {"nosuid", MS_NOSUID, 0},   {"suid", 0, MS_NOSUID},
    {"nodev", MS_NODEV, 0},         {"dev", 0, MS_NODEV},       {"noexec", MS_NOEXEC, 0},
    {"exec", 0, MS_NOEXEC},         {"noatime", MS_NOATIME, 0}, {"relatime", MS_RELATIME, 0},
};

static int mount_one(const Mount *m, const char *target, berth_error_t *err)
{
	unsigned long flags = 0;
	cleanup_free char *data = calloc(1, 1);
	size_t data_len = 0;

	if (data == NULL)
		return berth_error_sys(err, ENOMEM, "mount options");
	for (size_t i = 0; i < m->n_options; i++) {
		const char *o = m->options[i];
		bool known = false;
		for (size_t j = 0; j < sizeof(mount_flags) / sizeof(mount_flags[0]); j++)
			if (strcmp(o, mount_flags[j].name) == 0) {
				flags = (flags | mount_flags[j].set) & ~mount_flags[j].clear;
				known = true;
			}
		if (!known) {
			size_t n = strlen(o);
			char *more = realloc(data, data_len + n + 2);
			if (more == NULL)
				return berth_error_sys(err, ENOMEM, "mount options");
			data = more;
			if (data_len > 0)
				data[data_len++] = ',';
			memcpy(data + data_len, o, n + 1);
			data_len += n;
		}
	}
	if (mount(m->source, target, m->type, flags & ~(unsigned long)MS_RDONLY, data) < 0)
		return berth_error_sys(err, errno, "mount %s `%s` on `%s`", m->type, m->source, target);
	/* A bind mount takes ro only on a remount. */
	if ((flags & MS_BIND) && (flags & MS_RDONLY) &&
	    mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | (flags & MS_REC), NULL) < 0)
		return berth_error_sys(err, errno, "remount `%s` read-only", target);
	if (!(flags & MS_BIND) && (flags & MS_RDONLY) &&
	    mount(NULL, target, NULL, MS_REMOUNT | MS_RDONLY, data) < 0)
		return berth_error_sys(err, errno, "remount `%s` read-only", target);
	return 0;
}

static void unmount_rootfs(struct container *c)
{
	if (!c->rootfs_mounted)
		return;
	for (int i = 0; i < 16; i++) /* stacked mounts come off one by one */
		if (umount2(c->rootfs, 0) < 0 && (errno != EBUSY || umount2(c->rootfs, MNT_DETACH) < 0))
			break;
	c->rootfs_mounted = false;
}

/* ---- OOM kills ---- */

/* Publishes TaskOOM if the container's cgroup saw an OOM kill since the last
 * look (berth_events_wait with no wait: once per kill). */
static void oom_check(struct shim *s, struct container *c)
{
	Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;
	enum berth_event_type type = BERTH_EVENT_TIMEOUT;
	berth_error_t err = NULL;

	if (c->events == NULL)
		return;
	if (berth_events_wait(c->events, 0, &type, &err) < 0) {
		shim_log(LOG_WARN, "OOM events of %s: %s", c->id, berth_error_message(err));
		berth_error_free(&err);
		return;
	}
	if (type != BERTH_EVENT_OOM)
		return;
	shim_log(LOG_INFO, "container %s: a process was killed by the OOM killer", c->id);
	ev.container_id = c->id;
	events_publish(s, "/tasks/oom", "containerd.events.TaskOOM", &ev.base);
}

static void on_oom(struct shim *s, struct watch *w, uint32_t events)
{
	struct container *c = (struct container *)(void *)((char *)w - offsetof(struct container, oom_w));

	if (events & EPOLLIN)
		oom_check(s, c);
}

/* After the Create: the cgroup's OOM notifications in the loop. */
static void oom_watch(struct shim *s, struct container *c)
{
	berth_error_t err = NULL;
	int fd;

	c->oom_w.fn = on_oom;
	if (berth_events_open(&c->ctx, c->id, &c->events, &err) < 0) {
		shim_log(LOG_WARN, "no OOM events for %s: %s", c->id, berth_error_message(err));
		berth_error_free(&err);
		return;
	}
	fd = berth_events_oom_fd(c->events);
	if (fd >= 0 && shim_watch(s, fd, EPOLLIN, &c->oom_w) < 0)
		shim_log(LOG_WARN, "no OOM events for %s: epoll: %s", c->id, strerror(errno));
}

static void oom_unwatch(struct shim *s, struct container *c)
{
	int fd;

	if (c->events == NULL)
		return;
	fd = berth_events_oom_fd(c->events);
	if (fd >= 0)
		shim_unwatch(s, fd);
	berth_events_close(c->events);
	c->events = NULL;
}

/* ---- creating and forgetting records ---- */

static void process_init(struct process *p, struct container *c, const char *in, const char *out,
                         const char *errp, bool terminal)
{
	p->c = c;
	p->io.stdin_path = strdup(in != NULL ? in : "");
	p->io.stdout_path = strdup(out != NULL ? out : "");
	p->io.stderr_path = strdup(errp != NULL ? errp : "");
	p->io.terminal = terminal;
	p->io.stdin_hold = p->io.master = p->io.log_pidfd = -1;
	p->io.child[0] = p->io.child[1] = p->io.child[2] = -1;
	p->io.in.src = p->io.in.dst = p->io.out.src = p->io.out.dst = p->io.err.src = p->io.err.dst = -1;
	p->status = PROC_CREATED;
}

static void process_free_fields(struct shim *s, struct process *p)
{
	stdio_release(s, p);
	free(p->io.stdin_path);
	free(p->io.stdout_path);
	free(p->io.stderr_path);
	free(p->exec_id);
	free(p->spec_json);
}

static void drop_waits(struct shim *s, struct process *p)
{
	struct pending_wait **pp = &s->waits;
	while (*pp != NULL) {
		struct pending_wait *w = *pp;
		if (w->p == p) {
			*pp = w->next;
			shim_reply(s, w->cl, w->stream, TTRPC_NOT_FOUND, "process deleted", NULL);
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

/* c's log is about to go away: another container's takes over. */
static void log_handover(struct shim *s, const struct container *c)
{
	if (s->log_owner != c)
		return;
	s->log_owner = NULL;
	for (struct container *o = s->containers; o != NULL; o = o->next)
		if (o != c && o->log_fd >= 0) {
			shim_log_to(o->log_fd);
			s->log_owner = o;
			shim_log(LOG_DEBUG, "log of %s gone: logging to the log of %s", c->id, o->id);
			return;
		}
}

/* Once c is created: its <bundle>/log is opened, and takes over when
 * stderr is nobody's yet (the start bundle's container owns it already). */
static void log_adopt(struct shim *s, struct container *c)
{
	cleanup_free char *log = path_join(c->bundle, "log");

	/* containerd reads it until the task's connection closes (without a
	 * reader: ENXIO, and the log stays where it is) */
	if (log != NULL)
		c->log_fd = open(log, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (s->log_owner != NULL || c->log_fd < 0)
		return;
	if (strcmp(c->bundle, s->bundle) != 0)
		shim_log_to(c->log_fd);
	s->log_owner = c;
}

static void container_free(struct shim *s, struct container *c)
{
	log_handover(s, c);
	if (c->log_fd >= 0)
		close(c->log_fd);
	oom_unwatch(s, c);
	while (c->execs != NULL) {
		struct process *p = c->execs;
		c->execs = p->next;
		drop_waits(s, p);
		process_free_fields(s, p);
		shim_defer_free(s, p);
	}
	drop_waits(s, &c->init);
	process_free_fields(s, &c->init);
	free(c->id);
	free(c->bundle);
	free(c->rootfs);
	free(c->state_root);
	options_free(&c->opts);
	shim_defer_free(s, c);
}

/* The berth root: the options' Root or the default, then <ns>. */
static char *state_root_for(struct shim *s, const struct shim_options *o)
{
	return path_join(o->root != NULL ? o->root : DEFAULT_ROOT, s->ns);
}

/* With a terminal, the pty master from the console socket (removed once
 * used); then the process's stdio is wired up. */
static int start_stdio(struct shim *s, struct process *p, int console_fd, const char *console,
                       berth_error_t *err)
{
	int master = -1;

	if (console_fd >= 0) {
		master = stdio_console_receive(console_fd, err);
		unlink(console);
		if (master < 0)
			return -1;
	}
	return stdio_start(s, p, master);
}

/* ---- Create ---- */

static int create_spawn(struct shim *s, struct container *c, berth_error_t *err)
{
	struct process *p = &c->init;
	cleanup_free char *pid_file = path_join(c->bundle, "init.pid");
	cleanup_free char *console = NULL;
	cleanup_close int console_fd = -1;
	struct berth_create_options o = {.size = sizeof(o),
	                                 .id = c->id,
	                                 .bundle = c->bundle,
	                                 .pid_file = pid_file,
	                                 .no_pivot = c->opts.no_pivot_root,
	                                 .no_new_keyring = c->opts.no_new_keyring};

	if (pid_file == NULL)
		return berth_error_sys(err, ENOMEM, "create");
	if (stdio_open(s, p, err) < 0)
		return -1;
	if (p->io.terminal) {
		console_fd = stdio_console_listen(s, &console, err);
		if (console_fd < 0)
			return -1;
		o.console_socket = console;
	} else {
		o.use_stdio_fds = true;
		memcpy(o.stdio_fds, p->io.child, sizeof(o.stdio_fds));
	}
	if (berth_container_create(&c->ctx, &o, err) < 0)
		return -1;
	if (read_pid_file(pid_file, &p->pid, err) < 0)
		return -1;
	return start_stdio(s, p, console_fd, console, err);
}

static void task_create(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__CreateTaskRequest *req = (const void *)m;
	Containerd__Task__V2__CreateTaskResponse resp = CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
	Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
	Containerd__Events__TaskIO io = CONTAINERD__EVENTS__TASK_IO__INIT;
	cleanup_free char *root_file = NULL;
	berth_error_t err = NULL;
	struct container *c;

	if (find_container(s, req->id) != NULL) {
		shim_reply(s, cl, stream, TTRPC_ALREADY_EXISTS, "container already exists", NULL);
		return;
	}
	if (req->checkpoint != NULL && *req->checkpoint != '\0') {
		shim_reply(s, cl, stream, TTRPC_UNIMPLEMENTED, "checkpoint is not supported", NULL);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		shim_reply(s, cl, stream, TTRPC_UNKNOWN, "out of memory", NULL);
		return;
	}
	c->log_fd = -1;
	c->id = strdup(req->id);
	c->bundle = strdup(*req->bundle ? req->bundle : s->bundle);
	c->rootfs = c->bundle != NULL ? path_join(c->bundle, "rootfs") : NULL;
	process_init(&c->init, c, req->stdin, req->stdout, req->stderr, req->terminal);
	/* 0. the options: runc's, or a runtimeoptions file */
	if (options_parse(req->options, &c->opts, &err) < 0)
		goto fail;
	c->state_root = state_root_for(s, &c->opts);
	c->ctx = (struct berth_context){.size = sizeof(c->ctx),
	                                .state_root = c->state_root,
	                                .systemd_cgroup = c->opts.systemd_cgroup,
	                                .debug = s->debug,
	                                .log = shim_berth_log};
	if (c->id == NULL || c->rootfs == NULL || c->state_root == NULL) {
		berth_error_sys(&err, ENOMEM, "create");
		goto fail;
	}
	/* 1. the state root, remembered in the bundle for the delete command
	 * (a grouped shim serves bundles other than its working directory) */
	root_file = path_join(c->bundle, "berth-root");
	if (root_file == NULL) {
		berth_error_sys(&err, ENOMEM, "create");
		goto fail;
	}
	if (fs_mkdir_p(c->state_root, 0711, &err) < 0 ||
	    fs_write_file_atomic_at(AT_FDCWD, root_file, c->state_root, strlen(c->state_root), 0600, &err) <
	        0)
		goto fail;
	/* 2. the rootfs containerd hands over */
	for (size_t i = 0; i < req->n_rootfs; i++) {
		if (mount_one(req->rootfs[i], c->rootfs, &err) < 0)
			goto fail;
		c->rootfs_mounted = true;
	}
	/* 3. stdio, the container and its init */
	if (create_spawn(s, c, &err) < 0)
		goto fail;
	c->next = s->containers;
	s->containers = c;
	oom_watch(s, c);
	log_adopt(s, c);
	shim_log(LOG_INFO, "created container %s, init pid %d", c->id, (int)c->init.pid);

	/* 4. the event, the reply */
	ev.container_id = c->id;
	ev.bundle = c->bundle;
	ev.rootfs = req->rootfs;
	ev.n_rootfs = req->n_rootfs;
	io.stdin = req->stdin;
	io.stdout = req->stdout;
	io.stderr = req->stderr;
	io.terminal = req->terminal;
	ev.io = &io;
	ev.pid = (uint32_t)c->init.pid;
	events_publish(s, "/tasks/create", "containerd.events.TaskCreate", &ev.base);
	resp.pid = (uint32_t)c->init.pid;
	shim_reply(s, cl, stream, TTRPC_OK, NULL, &resp.base);
	return;
fail:
	unmount_rootfs(c);
	reply_berth(s, cl, stream, &err);
	container_free(s, c);
}

/* ---- Start, Exec ---- */

static int exec_spawn(struct shim *s, struct process *p, berth_error_t *err)
{
	struct container *c = p->c;
	cleanup_free char *spec = path_join(c->bundle, "exec-process.json");
	cleanup_free char *pid_file = path_join(c->bundle, "exec.pid");
	cleanup_free char *console = NULL;
	cleanup_close int console_fd = -1;
	int status = 0, ret;
	struct berth_exec_options o = {.size = sizeof(o),
	                               .id = c->id,
	                               .process_file = spec,
	                               .detach = true,
	                               .pid_file = pid_file,
	                               .ignore_paused = false};

	if (spec == NULL || pid_file == NULL)
		return berth_error_sys(err, ENOMEM, "exec");
	if (fs_write_file_atomic_at(AT_FDCWD, spec, p->spec_json, strlen(p->spec_json), 0600, err) < 0)
		return -1;
	if (stdio_open(s, p, err) < 0)
		return -1;
	if (p->io.terminal) {
		console_fd = stdio_console_listen(s, &console, err);
		if (console_fd < 0)
			return -1;
		o.console_socket = console;
	} else {
		o.use_stdio_fds = true;
		memcpy(o.stdio_fds, p->io.child, sizeof(o.stdio_fds));
	}
	ret = berth_container_exec(&c->ctx, &o, &status, err);
	unlink(spec);
	if (ret < 0 || read_pid_file(pid_file, &p->pid, err) < 0)
		return -1;
	return start_stdio(s, p, console_fd, console, err);
}

static void task_start(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__StartRequest *req = (const void *)m;
	Containerd__Task__V2__StartResponse resp = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
	struct process *p = lookup(s, cl, stream, req->id, req->exec_id);
	berth_error_t err = NULL;

	if (p == NULL)
		return;
	if (p->status != PROC_CREATED || p->exited) {
		shim_reply(s, cl, stream, TTRPC_FAILED_PRECONDITION, "process is not in the created state",
		           NULL);
		return;
	}
	if (p->exec_id == NULL) {
		if (berth_container_start(&p->c->ctx, p->c->id, &err) < 0) {
			reply_berth(s, cl, stream, &err);
			return;
		}
		p->status = PROC_RUNNING;
		Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;
		ev.container_id = p->c->id;
		ev.pid = (uint32_t)p->pid;
		events_publish(s, "/tasks/start", "containerd.events.TaskStart", &ev.base);
	} else {
		if (exec_spawn(s, p, &err) < 0) {
			stdio_release(s, p);
			reply_berth(s, cl, stream, &err);
			return;
		}
		p->status = PROC_RUNNING;
		Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
		ev.container_id = p->c->id;
		ev.exec_id = p->exec_id;
		ev.pid = (uint32_t)p->pid;
		events_publish(s, "/tasks/exec-started", "containerd.events.TaskExecStarted", &ev.base);
	}
	resp.pid = (uint32_t)p->pid;
	shim_reply(s, cl, stream, TTRPC_OK, NULL, &resp.base);
}

static void task_exec(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__ExecProcessRequest *req = (const void *)m;
	Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
	struct container *c = find_container(s, req->id);
	struct process *p;

	if (c == NULL) {
		reply_not_found(s, cl, stream, "container", req->id);
		return;
	}
	if (*req->exec_id == '\0' || find_process(c, req->exec_id) != NULL) {
		shim_reply(s, cl, stream, TTRPC_ALREADY_EXISTS, "id already in use", NULL);
		return;
	}
	if (c->init.exited || c->init.status == PROC_STOPPED) {
		shim_reply(s, cl, stream, TTRPC_FAILED_PRECONDITION, "container is stopped", NULL);
		return;
	}
	if (req->spec == NULL) {
		shim_reply(s, cl, stream, TTRPC_INVALID_ARGUMENT, "exec without a process spec", NULL);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		shim_reply(s, cl, stream, TTRPC_UNKNOWN, "out of memory", NULL);
		return;
	}
	process_init(p, c, req->stdin, req->stdout, req->stderr, req->terminal);
	p->exec_id = strdup(req->exec_id);
	p->spec_json = any_text(req->spec);
	if (p->exec_id == NULL || p->spec_json == NULL) {
		process_free_fields(s, p);
		free(p);
		shim_reply(s, cl, stream, TTRPC_UNKNOWN, "out of memory", NULL);
		return;
	}
	p->next = c->execs;
	c->execs = p;
	ev.container_id = c->id;
	ev.exec_id = p->exec_id;
	events_publish(s, "/tasks/exec-added", "containerd.events.TaskExecAdded", &ev.base);
	reply_empty(s, cl, stream);
}

/* ---- exits, Wait ---- */

static void reply_wait(struct shim *s, struct client *cl, uint32_t stream, const struct process *p)
{
	Containerd__Task__V2__WaitResponse resp = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	Timestamp at = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	set_timestamp(&at, &p->exited_at);
	resp.exit_status = p->exit_status;
	resp.exited_at = &at;
	shim_reply(s, cl, stream, TTRPC_OK, NULL, &resp.base);
}

static void process_exited(struct shim *s, struct process *p, uint32_t exit_status)
{
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Timestamp at = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct pending_wait **pp = &s->waits;

	/* an OOM kill that ended init is reported before its exit */
	if (p->exec_id == NULL) {
		oom_check(s, p->c);
		oom_unwatch(s, p->c);
	}
	p->exited = true;
	p->status = PROC_STOPPED;
	p->exit_status = exit_status;
	clock_gettime(CLOCK_REALTIME, &p->exited_at);
	stdio_exited(s, p);
	shim_log(LOG_DEBUG, "process %s (pid %d) exited with status %u", process_id(p), (int)p->pid,
	         exit_status);
	set_timestamp(&at, &p->exited_at);
	ev.container_id = p->c->id;
	ev.id = (char *)process_id(p);
	ev.pid = (uint32_t)p->pid;
	ev.exit_status = exit_status;
	ev.exited_at = &at;
	events_publish(s, "/tasks/exit", "containerd.events.TaskExit", &ev.base);
	while (*pp != NULL) {
		struct pending_wait *w = *pp;
		if (w->p == p) {
			*pp = w->next;
			reply_wait(s, w->cl, w->stream, p);
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

/* After init's exit, nothing of the container may run on (runc shim's
 * KillAll): with a pid namespace of its own the kernel has killed the rest
 * already; sharing one (the host's, or one joined by path), what is left in
 * its cgroup is killed here, and the execs we know of in any case.  Their
 * exits are reaped and published one by one, as usual. */
static void kill_remaining(struct container *c)
{
	berth_error_t err = NULL;

	for (struct process *p = c->execs; p != NULL; p = p->next)
		if (p->pid > 0 && !p->exited) /* not reaped: the pid is still ours */
			kill(p->pid, SIGKILL);
	/* a few passes: a process may fork before its SIGKILL lands */
	for (int pass = 0; pass < 3; pass++) {
		cleanup_free pid_t *pids = NULL;
		size_t n = 0;

		if (berth_container_pids(&c->ctx, c->id, &pids, &n, &err) < 0) {
			shim_log(LOG_DEBUG, "processes of %s after its exit: %s", c->id,
			         berth_error_message(err));
			berth_error_free(&err);
			return;
		}
		if (n == 0)
			return;
		shim_log(LOG_DEBUG, "container %s: killing %zu processes left after init", c->id, n);
		for (size_t i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
	}
}

/* Delete of a container whose execs were killed but not reaped yet: their
 * exits go out first (briefly waited for, never left unreported). */
static void reap_execs(struct shim *s, struct container *c)
{
	for (struct process *p = c->execs; p != NULL; p = p->next) {
		int status;
		pid_t r = 0;

		if (p->pid <= 0 || p->exited)
			continue;
		for (int i = 0; i < 200 && (r = waitpid(p->pid, &status, WNOHANG)) == 0; i++)
			usleep(5000);
		if (r == p->pid)
			service_reaped(s, p->pid, status);
	}
}

void service_reaped(struct shim *s, pid_t pid, int status)
{
	uint32_t code = WIFEXITED(status) ? (uint32_t)WEXITSTATUS(status) : 128u + (uint32_t)WTERMSIG(status);

	for (struct container *c = s->containers; c != NULL; c = c->next) {
		if (c->init.pid == pid && !c->init.exited) {
			process_exited(s, &c->init, code);
			kill_remaining(c);
			return;
		}
		for (struct process *p = c->execs; p != NULL; p = p->next)
			if (p->pid == pid && !p->exited) {
				process_exited(s, p, code);
				return;
			}
	}
	shim_log(LOG_DEBUG, "reaped pid %d (not a task)", (int)pid);
}

void service_client_gone(struct shim *s, struct client *cl)
{
	struct pending_wait **pp = &s->waits;
	while (*pp != NULL) {
		struct pending_wait *w = *pp;
		if (w->cl == cl) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

static void task_wait(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__WaitRequest *req = (const void *)m;
	struct process *p = lookup(s, cl, stream, req->id, req->exec_id);
	struct pending_wait *w;

	if (p == NULL)
		return;
	if (p->exited) {
		reply_wait(s, cl, stream, p);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		shim_reply(s, cl, stream, TTRPC_UNKNOWN, "out of memory", NULL);
		return;
	}
	*w = (struct pending_wait){.next = s->waits, .cl = cl, .stream = stream, .p = p};
	s->waits = w;
}

/* ---- Delete ---- */

static void reply_delete(struct shim *s, struct client *cl, uint32_t stream, const struct process *p)
{
	Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Timestamp at = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	set_timestamp(&at, &p->exited_at);
	resp.pid = (uint32_t)p->pid;
	resp.exit_status = p->exit_status;
	resp.exited_at = &at;
	shim_reply(s, cl, stream, TTRPC_OK, NULL, &resp.base);
}

static void delete_exec(struct shim *s, struct client *cl, uint32_t stream, struct process *p)
{
	struct process **pp;

	if (p->status != PROC_CREATED && !p->exited) {
		shim_reply(s, cl, stream, TTRPC_FAILED_PRECONDITION, "cannot delete a running process", NULL);
		return;
	}
	reply_delete(s, cl, stream, p);
	for (pp = &p->c->execs; *pp != p; pp = &(*pp)->next)
		;
	*pp = p->next;
	drop_waits(s, p);
	process_free_fields(s, p);
	shim_defer_free(s, p);
}

static void delete_init(struct shim *s, struct client *cl, uint32_t stream, struct container *c)
{
	Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
	Timestamp at = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct process *p = &c->init;
	berth_error_t err = NULL;
	struct container **pp;

	if ((p->status == PROC_RUNNING || p->status == PROC_PAUSED) && !p->exited) {
		shim_reply(s, cl, stream, TTRPC_FAILED_PRECONDITION, "cannot delete a running container",
		           NULL);
		return;
	}
	reap_execs(s, c);
	/* 1. the container (a created one: its init is killed) */
	if (berth_container_delete(&c->ctx, c->id, true, &err) < 0) {
		if (berth_error_code(err) != BERTH_ERROR_NOT_FOUND) {
			reply_berth(s, cl, stream, &err);
			return;
		}
		berth_error_free(&err);
	}
	if (!p->exited) { /* never started: it was killed */
		p->exited = true;
		p->status = PROC_STOPPED;
		p->exit_status = 128 + SIGKILL;
		clock_gettime(CLOCK_REALTIME, &p->exited_at);
	}
	/* 2. the rootfs, the records */
	stdio_release(s, p);
	unmount_rootfs(c);
	set_timestamp(&at, &p->exited_at);
	ev.container_id = c->id;
	ev.id = c->id;
	ev.pid = (uint32_t)p->pid;
	ev.exit_status = p->exit_status;
	ev.exited_at = &at;
	events_publish(s, "/tasks/delete", "containerd.events.TaskDelete", &ev.base);
	reply_delete(s, cl, stream, p);
	for (pp = &s->containers; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	shim_log(LOG_INFO, "deleted container %s", c->id);
	container_free(s, c);
}

static void task_delete(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__DeleteRequest *req = (const void *)m;
	struct process *p = lookup(s, cl, stream, req->id, req->exec_id);

	if (p == NULL)
		return;
	if (p->exec_id != NULL)
		delete_exec(s, cl, stream, p);
	else
		delete_init(s, cl, stream, p->c);
}

/* ---- State, Connect, Kill, CloseIO, ResizePty ---- */

static void task_state(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__StateRequest *req = (const void *)m;
	Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Timestamp at = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct process *p = lookup(s, cl, stream, req->id, req->exec_id);

	if (p == NULL)
		return;
	resp.id = p->c->id;
	resp.bundle = p->c->bundle;
	resp.pid = (uint32_t)p->pid;
	resp.status = (Containerd__Task__V2__Status)p->status;
	resp.stdin = p->io.stdin_path;
	resp.stdout = p->io.stdout_path;
	resp.stderr = p->io.stderr_path;
	resp.terminal = p->io.terminal;
	resp.exec_id = p->exec_id != NULL ? p->exec_id : (char *)"";
	if (p->exited) {
		resp.exit_status = p->exit_status;
		set_timestamp(&at, &p->exited_at);
		resp.exited_at = &at;
	}
	shim_reply(s, cl, stream, TTRPC_OK, NULL, &resp.base);
}

static void task_connect(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__ConnectRequest *req = (const void *)m;
	Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
	struct container *c = find_container(s, req->id);

	resp.shim_pid = (uint32_t)getpid();
	resp.task_pid = c != NULL ? (uint32_t)c->init.pid : 0;
	resp.version = (char *)PACKAGE_VERSION;
	shim_reply(s, cl, stream, TTRPC_OK, NULL, &resp.base);
}

static void task_kill(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__KillRequest *req = (const void *)m;
	struct process *p = lookup(s, cl, stream, req->id, req->exec_id);
	berth_error_t err = NULL;

	if (p == NULL)
		return;
	if (p->exited || (p->exec_id != NULL && p->pid <= 0)) {
		shim_reply(s, cl, stream, TTRPC_NOT_FOUND, "process already finished: not found", NULL);
		return;
	}
	if (p->exec_id == NULL) {
		if (berth_container_kill(&p->c->ctx, p->c->id, (int)req->signal, req->all, &err) < 0) {
			if (berth_error_code(err) == BERTH_ERROR_STATE) {
				berth_error_free(&err);
				shim_reply(s, cl, stream, TTRPC_NOT_FOUND,
				           "process already finished: not found", NULL);
				return;
			}
			reply_berth(s, cl, stream, &err);
			return;
		}
	} else if (kill(p->pid, (int)req->signal) < 0) {
		char msg[100];
		snprintf(msg, sizeof(msg), "kill exec %s: %s", p->exec_id, strerror(errno));
		shim_reply(s, cl, stream, errno == ESRCH ? TTRPC_NOT_FOUND : TTRPC_UNKNOWN, msg, NULL);
		return;
	}
	reply_empty(s, cl, stream);
}

static void task_close_io(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__CloseIORequest *req = (const void *)m;
	struct process *p = lookup(s, cl, stream, req->id, req->exec_id);

	if (p == NULL)
		return;
	if (req->stdin)
		stdio_close_stdin(s, p);
	reply_empty(s, cl, stream);
}

static void task_resize_pty(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__ResizePtyRequest *req = (const void *)m;
	struct process *p = lookup(s, cl, stream, req->id, req->exec_id);
	struct winsize ws = {0};

	if (p == NULL)
		return;
	ws.ws_col = (unsigned short)req->width;
	ws.ws_row = (unsigned short)req->height;
	/* After the exit, or 0x0: accepted quietly. */
	if (p->io.master >= 0 && !p->exited && (ws.ws_col > 0 || ws.ws_row > 0) &&
	    ioctl(p->io.master, TIOCSWINSZ, &ws) < 0)
		shim_log(LOG_WARN, "resize pty of %s: %s", process_id(p), strerror(errno));
	reply_empty(s, cl, stream);
}

/* ---- cgroup-backed: Pids, Pause, Resume, Update, Stats ---- */

static struct container *running_container(struct shim *s, struct client *cl, uint32_t stream, const char *id)
{
	struct container *c = find_container(s, id);
	if (c == NULL)
		reply_not_found(s, cl, stream, "container", id);
	return c;
}

static void task_pids(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__PidsRequest *req = (const void *)m;
	Containerd__Task__V2__PidsResponse resp = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
	struct container *c = running_container(s, cl, stream, req->id);
	cleanup_free pid_t *pids = NULL;
	cleanup_free Containerd__Task__V2__ProcessInfo *infos = NULL;
	cleanup_free Containerd__Task__V2__ProcessInfo **ptrs = NULL;
	cleanup_free Google__Protobuf__Any *anys = NULL;
	cleanup_free Containerd__Runc__V1__ProcessDetails *details = NULL;
	cleanup_free uint8_t *packed = NULL;
	size_t n = 0, off = 0;
	berth_error_t err = NULL;

	if (c == NULL)
		return;
	if (berth_container_pids(&c->ctx, c->id, &pids, &n, &err) < 0) {
		reply_berth(s, cl, stream, &err);
		return;
	}
	infos = calloc(n + 1, sizeof(*infos));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	anys = calloc(n + 1, sizeof(*anys));
	details = calloc(n + 1, sizeof(*details));
	packed = malloc(n * 300 + 1);
	if (infos == NULL || ptrs == NULL || anys == NULL || details == NULL || packed == NULL) {
		shim_reply(s, cl, stream, TTRPC_UNKNOWN, "out of memory", NULL);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		containerd__task__v2__process_info__init(&infos[i]);
		infos[i].pid = (uint32_t)pids[i];
		ptrs[i] = &infos[i];
		for (struct process *p = c->execs; p != NULL; p = p->next) {
			if (p->pid != pids[i] || p->exited || strlen(p->exec_id) > 250)
				continue;
			containerd__runc__v1__process_details__init(&details[i]);
			details[i].exec_id = p->exec_id;
			google__protobuf__any__init(&anys[i]);
			anys[i].type_url = (char *)"containerd.runc.v1.ProcessDetails";
			anys[i].value.data = packed + off;
			anys[i].value.len = protobuf_c_message_pack(&details[i].base, packed + off);
			off += anys[i].value.len;
			infos[i].info = &anys[i];
		}
	}
	resp.processes = ptrs;
	resp.n_processes = n;
	shim_reply(s, cl, stream, TTRPC_OK, NULL, &resp.base);
}

static void task_pause_resume(struct shim *s, struct client *cl, uint32_t stream, const char *id, bool pause)
{
	Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
	struct container *c = running_container(s, cl, stream, id);
	berth_error_t err = NULL;

	if (c == NULL)
		return;
	if ((pause ? berth_container_pause : berth_container_resume)(&c->ctx, c->id, &err) < 0) {
		reply_berth(s, cl, stream, &err);
		return;
	}
	if (!c->init.exited)
		c->init.status = pause ? PROC_PAUSED : PROC_RUNNING;
	/* TaskResumed has the same fields as TaskPaused */
	ev.container_id = c->id;
	events_publish(s, pause ? "/tasks/paused" : "/tasks/resumed",
	               pause ? "containerd.events.TaskPaused" : "containerd.events.TaskResumed", &ev.base);
	reply_empty(s, cl, stream);
}

static void task_pause(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	task_pause_resume(s, cl, stream, ((const Containerd__Task__V2__PauseRequest *)(const void *)m)->id,
	                  true);
}

static void task_resume(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	task_pause_resume(s, cl, stream, ((const Containerd__Task__V2__ResumeRequest *)(const void *)m)->id,
	                  false);
}

static void task_update(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__UpdateTaskRequest *req = (const void *)m;
	struct container *c = running_container(s, cl, stream, req->id);
	cleanup_free char *json = NULL;
	berth_error_t err = NULL;
	struct berth_update_options o = {.size = sizeof(o), .resources_origin = "update resources"};

	if (c == NULL)
		return;
	if (req->resources == NULL) {
		reply_empty(s, cl, stream);
		return;
	}
	json = any_text(req->resources);
	o.id = c->id;
	o.resources_json = json;
	if (json == NULL || berth_container_update(&c->ctx, &o, &err) < 0) {
		if (json == NULL)
			berth_error_sys(&err, ENOMEM, "update");
		reply_berth(s, cl, stream, &err);
		return;
	}
	reply_empty(s, cl, stream);
}

/* Stats: libberth's runc-style JSON -> io.containerd.cgroups.v1.Metrics. */
static uint64_t ju64(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = NULL;
	if (o == NULL || !json_object_object_get_ex(o, a, &v))
		return 0;
	if (b != NULL && !json_object_object_get_ex(v, b, &v))
		return 0;
	return (uint64_t)json_object_get_uint64(v);
}

static struct json_object *jobj(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	return o != NULL && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static void memory_entry(Io__Containerd__Cgroups__V1__MemoryEntry *e, struct json_object *m, const char *k)
{
	struct json_object *o = jobj(m, k);
	e->usage = ju64(o, "usage", NULL);
	e->limit = ju64(o, "limit", NULL);
	e->max = ju64(o, "max", NULL);
	e->failcnt = ju64(o, "failcnt", NULL);
}

static int stats_to_metrics(const char *json, uint8_t **out, size_t *len)
{
	Io__Containerd__Cgroups__V1__Metrics mt = IO__CONTAINERD__CGROUPS__V1__METRICS__INIT;
	Io__Containerd__Cgroups__V1__PidsStat pids = IO__CONTAINERD__CGROUPS__V1__PIDS_STAT__INIT;
	Io__Containerd__Cgroups__V1__CPUStat cpu = IO__CONTAINERD__CGROUPS__V1__CPUSTAT__INIT;
	Io__Containerd__Cgroups__V1__CPUUsage usage = IO__CONTAINERD__CGROUPS__V1__CPUUSAGE__INIT;
	Io__Containerd__Cgroups__V1__Throttle thr = IO__CONTAINERD__CGROUPS__V1__THROTTLE__INIT;
	Io__Containerd__Cgroups__V1__MemoryStat mem = IO__CONTAINERD__CGROUPS__V1__MEMORY_STAT__INIT;
	Io__Containerd__Cgroups__V1__MemoryEntry mu = IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT,
	                                         ms = IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT,
	                                         mk = IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT;
	struct json_object *root = json_tokener_parse(json), *c, *m, *raw, *percpu;
	uint64_t per_cpu[1024];
	int ret;

	if (root == NULL)
		return -1;
	pids.current = ju64(root, "pids", "current");
	pids.limit = ju64(root, "pids", "limit");
	mt.pids = &pids;
	c = jobj(root, "cpu");
	usage.total = ju64(c, "usage", "total");
	usage.kernel = ju64(c, "usage", "kernel");
	usage.user = ju64(c, "usage", "user");
	percpu = jobj(jobj(c, "usage"), "percpu");
	if (percpu != NULL && json_object_is_type(percpu, json_type_array)) {
		size_t n = json_object_array_length(percpu);
		for (size_t i = 0; i < n && i < 1024; i++)
			per_cpu[i] = (uint64_t)json_object_get_uint64(json_object_array_get_idx(percpu, i));
		usage.per_cpu = per_cpu;
		usage.n_per_cpu = n < 1024 ? n : 1024;
	}
	thr.periods = ju64(c, "throttling", "periods");
	thr.throttled_periods = ju64(c, "throttling", "throttledPeriods");
	thr.throttled_time = ju64(c, "throttling", "throttledTime");
	cpu.usage = &usage;
	cpu.throttling = &thr;
	mt.cpu = &cpu;
	m = jobj(root, "memory");
	memory_entry(&mu, m, "usage");
	memory_entry(&ms, m, "swap");
	memory_entry(&mk, m, "kernel");
	mem.usage = &mu;
	mem.swap = &ms;
	mem.kernel = &mk;
	raw = jobj(m, "raw");
	mem.cache = ju64(raw, "cache", NULL);
	mem.rss = ju64(raw, "rss", NULL);
	mem.rss_huge = ju64(raw, "rss_huge", NULL);
	mem.mapped_file = ju64(raw, "mapped_file", NULL);
	mem.dirty = ju64(raw, "dirty", NULL);
	mem.writeback = ju64(raw, "writeback", NULL);
	mem.pg_fault = ju64(raw, "pgfault", NULL);
	mem.pg_maj_fault = ju64(raw, "pgmajfault", NULL);
	mem.inactive_anon = ju64(raw, "inactive_anon", NULL);
	mem.active_anon = ju64(raw, "active_anon", NULL);
	mem.inactive_file = ju64(raw, "inactive_file", NULL);
	mem.active_file = ju64(raw, "active_file", NULL);
	mem.unevictable = ju64(raw, "unevictable", NULL);
	mem.hierarchical_memory_limit = ju64(raw, "hierarchical_memory_limit", NULL);
	mem.total_cache = ju64(raw, "total_cache", NULL);
	mem.total_rss = ju64(raw, "total_rss", NULL);
	mt.memory = &mem;
	ret = ttrpc_pack(&mt.base, out, len);
	json_object_put(root);
	return ret;
}

static void task_stats(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	const Containerd__Task__V2__StatsRequest *req = (const void *)m;
	Containerd__Task__V2__StatsResponse resp = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	struct container *c = running_container(s, cl, stream, req->id);
	cleanup_free char *json = NULL;
	cleanup_free uint8_t *packed = NULL;
	berth_error_t err = NULL;

	if (c == NULL)
		return;
	if (berth_container_stats(&c->ctx, c->id, &json, &err) < 0) {
		reply_berth(s, cl, stream, &err);
		return;
	}
	if (stats_to_metrics(json, &packed, &any.value.len) < 0) {
		shim_reply(s, cl, stream, TTRPC_UNKNOWN, "cannot convert the cgroup statistics", NULL);
		return;
	}
	any.type_url = (char *)"io.containerd.cgroups.v1.Metrics";
	any.value.data = packed;
	resp.stats = &any;
	shim_reply(s, cl, stream, TTRPC_OK, NULL, &resp.base);
}

/* ---- Checkpoint, Shutdown ---- */

static void task_checkpoint(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	(void)m;
	shim_reply(s, cl, stream, TTRPC_UNIMPLEMENTED, "checkpoint is not supported", NULL);
}

static void task_shutdown(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *m)
{
	(void)m;
	reply_empty(s, cl, stream);
	if (s->containers == NULL) {
		shim_log(LOG_INFO, "shutdown: no container left");
		s->quit = true;
	}
}

/* ---- dispatch ---- */

static const struct method {
	const char *name;
	const ProtobufCMessageDescriptor *request;
	void (*fn)(struct shim *s, struct client *cl, uint32_t stream, const ProtobufCMessage *req);
} methods[] = {
    {"State", &containerd__task__v2__state_request__descriptor, task_state},
    {"Create", &containerd__task__v2__create_task_request__descriptor, task_create},
    {"Start", &containerd__task__v2__start_request__descriptor, task_start},
    {"Delete", &containerd__task__v2__delete_request__descriptor, task_delete},
    {"Pids", &containerd__task__v2__pids_request__descriptor, task_pids},
    {"Pause", &containerd__task__v2__pause_request__descriptor, task_pause},
    {"Resume", &containerd__task__v2__resume_request__descriptor, task_resume},
    {"Checkpoint", &containerd__task__v2__checkpoint_task_request__descriptor, task_checkpoint},
    {"Kill", &containerd__task__v2__kill_request__descriptor, task_kill},
    {"Exec", &containerd__task__v2__exec_process_request__descriptor, task_exec},
    {"ResizePty", &containerd__task__v2__resize_pty_request__descriptor, task_resize_pty},
    {"CloseIO", &containerd__task__v2__close_iorequest__descriptor, task_close_io},
    {"Update", &containerd__task__v2__update_task_request__descriptor, task_update},
    {"Wait", &containerd__task__v2__wait_request__descriptor, task_wait},
    {"Stats", &containerd__task__v2__stats_request__descriptor, task_stats},
    {"Connect", &containerd__task__v2__connect_request__descriptor, task_connect},
    {"Shutdown", &containerd__task__v2__shutdown_request__descriptor, task_shutdown},
};

void service_dispatch(struct shim *s, struct client *cl, uint32_t stream, const char *method,
                      const uint8_t *payload, size_t len)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		ProtobufCMessage *req;
		if (strcmp(methods[i].name, method) != 0)
			continue;
		req = protobuf_c_message_unpack(methods[i].request, NULL, len, payload);
		if (req == NULL) {
			shim_reply(s, cl, stream, TTRPC_INVALID_ARGUMENT, "cannot decode the request", NULL);
			return;
		}
		methods[i].fn(s, cl, stream, req);
		protobuf_c_message_free_unpacked(req, NULL);
		/* libberth parses the spec and more on these: give the freed
		 * heap back rather than keep it resident for the task's life */
		if (methods[i].fn == task_create || methods[i].fn == task_start ||
		    methods[i].fn == task_delete)
			malloc_trim(0);
		return;
	}
	char msg[300];
	snprintf(msg, sizeof(msg), "method %s", method);
	shim_reply(s, cl, stream, TTRPC_UNIMPLEMENTED, msg, NULL);
}
