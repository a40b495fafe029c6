/* Stdio of container processes: the client's fifos (or file:// logs) on one
 * side, pipes or a pty master on the other, copied in the event loop.
 *
 * | stream | client side                          | process side           | copier             |
 * |--------|--------------------------------------|------------------------|--------------------|
 * | stdin  | fifo O_RDONLY, plus our own writer    | pipe (or pty master)   | fifo -> pipe       |
 * | stdout | fifo O_RDWR (no EPIPE when it leaves) | pipe (or pty master)   | pipe -> fifo       |
 * | stderr | fifo O_RDWR                           | pipe (unused with pty) | pipe -> fifo       |
 * | file:// | the file, O_APPEND, given to the process directly (stdout and stderr share it) |
 * | binary:// | pipes whose read ends are fds 3 and 4 of the logging binary (open_binary)      |
 * | ""     | /dev/null                                                                        |
 *
 * Our writer on the stdin fifo means the process sees EOF only after
 * CloseIO(stdin) closes it and the client has closed its own; on a terminal
 * that end is the EOF character (VEOF) written to the master.  An output
 * fifo is closed when its pipe ends, so the client reads to EOF.
 */
#include "shim.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define COPY_CHUNK 32768
/* A logging binary: time to close fd 5, time to exit once its pipes end. */
#define LOG_BINARY_READY_MS 10000
#define LOG_BINARY_GRACE    12

static char scratch[COPY_CHUNK];

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- copiers ---- */

static void copier_set_src(struct shim *s, struct copier *c, bool on)
{
	if (c->src < 0 || on == c->src_watched)
		return;
	if (on)
		shim_watch(s, c->src, EPOLLIN, &c->src_w);
	else
		shim_unwatch(s, c->src);
	c->src_watched = on;
}

static void copier_set_dst(struct shim *s, struct copier *c, bool on)
{
	if (c->dst < 0 || on == c->dst_watched)
		return;
	if (on)
		shim_watch(s, c->dst, EPOLLOUT, &c->dst_w);
	else
		shim_unwatch(s, c->dst);
	c->dst_watched = on;
}

static void copier_close(struct shim *s, struct copier *c)
{
	copier_set_src(s, c, false);
	copier_set_dst(s, c, false);
	close_fd(&c->src);
	close_fd(&c->dst);
	free(c->buf);
	c->buf = NULL;
	c->start = c->end = 0;
}

/* Writes data (scratch, or the pending part of buf): 1 all written, 0 the
 * rest is kept in buf, -1 the reader is gone. */
static int copier_write(struct copier *c, const char *data, size_t len)
{
	bool from_buf = c->buf != NULL && data == c->buf + c->start;

	while (len > 0) {
		ssize_t n = write(c->dst, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (from_buf) {
				c->start = c->end - len;
				return 0;
			}
			if (c->buf == NULL && (c->buf = malloc(COPY_CHUNK)) == NULL)
				return -1;
			memcpy(c->buf, data, len);
			c->start = 0;
			c->end = len;
			return 0;
		}
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	free(c->buf);
	c->buf = NULL;
	c->start = c->end = 0;
	return 1;
}

/* The source ended and buf is written: on a terminal's stdin the line
 * discipline learns of it from the EOF character (twice after a partial
 * line: the first only ends the line), as the runc shim does; then dst is
 * closed. */
static void copier_finish(struct shim *s, struct copier *c)
{
	if (c->tty_eof) {
		struct termios t;
		char eof = 4; /* ^D */
		char eofs[2];
		size_t n = c->last != '\0' && c->last != '\n' ? 2 : 1;

		c->tty_eof = false;
		if (tcgetattr(c->dst, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE)
			eof = (char)t.c_cc[VEOF];
		eofs[0] = eofs[1] = eof;
		if (copier_write(c, eofs, n) == 0) {
			copier_set_dst(s, c, true);
			return;
		}
	}
	copier_close(s, c);
}

static void copier_src_ready(struct shim *s, struct watch *w, uint32_t events)
{
	struct copier *c = (struct copier *)((char *)w - offsetof(struct copier, src_w));
	ssize_t n;
	int r;

	(void)events;
	if (c->src < 0)
		return;
	n = read(c->src, scratch, sizeof(scratch));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* end of file; EIO: the pty's last slave closed */
		c->eof = true;
		copier_set_src(s, c, false);
		close_fd(&c->src);
		if (c->buf == NULL)
			copier_finish(s, c);
		return;
	}
	c->last = scratch[n - 1];
	r = copier_write(c, scratch, (size_t)n);
	if (r < 0) {
		copier_close(s, c);
	} else if (r == 0) {
		copier_set_src(s, c, false);
		copier_set_dst(s, c, true);
	}
}

static void copier_dst_ready(struct shim *s, struct watch *w, uint32_t events)
{
	struct copier *c = (struct copier *)((char *)w - offsetof(struct copier, dst_w));
	int r;

	(void)events;
	if (c->dst < 0 || c->buf == NULL)
		return;
	r = copier_write(c, c->buf + c->start, c->end - c->start);
	if (r < 0) {
		copier_close(s, c);
	} else if (r > 0 && c->eof) {
		copier_finish(s, c);
	} else if (r > 0) {
		copier_set_dst(s, c, false);
		copier_set_src(s, c, true);
	}
}

static void copier_start(struct shim *s, struct copier *c, struct process *p)
{
	c->p = p;
	c->src_w.fn = copier_src_ready;
	c->dst_w.fn = copier_dst_ready;
	if (c->src >= 0 && c->dst >= 0) {
		fcntl(c->src, F_SETFL, fcntl(c->src, F_GETFL) | O_NONBLOCK);
		fcntl(c->dst, F_SETFL, fcntl(c->dst, F_GETFL) | O_NONBLOCK);
		copier_set_src(s, c, true);
	} else {
		close_fd(&c->src);
		close_fd(&c->dst);
	}
}

/* A last, bounded, copy of what an output pipe still holds (never waiting:
 * after a failed Create or Start the copier was never started, and its
 * pipe still has a writer). */
static void copier_drain(struct copier *c)
{
	if (c->src >= 0)
		fcntl(c->src, F_SETFL, fcntl(c->src, F_GETFL) | O_NONBLOCK);
	for (int i = 0; i < 64 && c->src >= 0 && c->dst >= 0; i++) {
		ssize_t n;
		if (c->buf != NULL && copier_write(c, c->buf + c->start, c->end - c->start) != 1)
			return;
		n = read(c->src, scratch, sizeof(scratch));
		if (n <= 0 || copier_write(c, scratch, (size_t)n) != 1)
			return;
	}
}

/* ---- opening ---- */

static int open_null(int flags, berth_error_t *err)
{
	int fd = open("/dev/null", flags | O_CLOEXEC);
	if (fd < 0)
		berth_error_sys(err, errno, "open /dev/null");
	return fd;
}

static const char *fifo_path(const char *uri)
{
	return strncmp(uri, "fifo://", 7) == 0 ? uri + 7 : uri;
}

/* ---- binary:// logging ---- */

/* A logging binary's last chance after its process's stdio closed. */
struct log_binary {
	struct watch w;
	int timer, pidfd;
};

static void log_binary_deadline(struct shim *s, struct watch *w, uint32_t events)
{
	struct log_binary *lb = (struct log_binary *)(void *)w;

	(void)events;
	shim_unwatch(s, lb->timer);
	/* already gone (and reaped by the loop): ESRCH */
	if (syscall(SYS_pidfd_send_signal, lb->pidfd, SIGKILL, NULL, 0) == 0)
		shim_log(LOG_WARN, "the logging binary did not exit within %d s: killed", LOG_BINARY_GRACE);
	close(lb->timer);
	close(lb->pidfd);
	shim_defer_free(s, lb);
}

/* Arms the deadline of io's logging binary (it should exit on its own once
 * its pipes end). */
static void log_binary_release(struct shim *s, struct stdio *io)
{
	struct itimerspec when = {.it_value = {.tv_sec = LOG_BINARY_GRACE}};
	struct log_binary *lb;

	if (io->log_pidfd < 0)
		return;
	lb = calloc(1, sizeof(*lb));
	if (lb == NULL) {
		close_fd(&io->log_pidfd);
		return;
	}
	lb->w.fn = log_binary_deadline;
	lb->pidfd = io->log_pidfd;
	io->log_pidfd = -1;
	lb->timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (lb->timer < 0 || timerfd_settime(lb->timer, 0, &when, NULL) < 0 ||
	    shim_watch(s, lb->timer, EPOLLIN, &lb->w) < 0) {
		if (lb->timer >= 0)
			close(lb->timer);
		close(lb->pidfd);
		free(lb);
	}
}

/* One %XX- and +-decoded query part, NUL-terminated in place. */
static char *query_unescape(char *t)
{
	char *r = t, *w = t;

	for (; *r != '\0'; r++, w++) {
		unsigned int c;
		if (*r == '+') {
			*w = ' ';
		} else if (*r == '%' && r[1] != '\0' && r[2] != '\0' && sscanf(r + 1, "%2x", &c) == 1) {
			*w = (char)c;
			r += 2;
		} else {
			*w = *r;
		}
	}
	*w = '\0';
	return t;
}

/* The logging binary's child side: fds 3, 4, 5, the bare environment. */
__attribute__((noreturn)) static void log_binary_exec(char **argv, char **env, int out, int errp, int ready)
{
	sigset_t none;
	int fds[3] = {out, errp, ready}, null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int saved;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* out of the way of 0..5 first, then into place */
	for (int i = 0; i < 3; i++)
		fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
	for (int i = 0; i < 3; i++)
		dup2(null, i);
	for (int i = 0; i < 3; i++)
		dup2(fds[i], 3 + i);
	execve(argv[0], argv, env);
	saved = errno;
	(void)!write(5, &saved, sizeof(saved));
	_exit(127);
}

/* binary:///path?k=v&...: starts /path with args `k v ...`, env only
 * CONTAINER_ID and CONTAINER_NAMESPACE, the process's stdout and stderr
 * pipes as fds 3 and 4, and waits until it closes fd 5 (containerd's
 * logging binary protocol).  The process gets the pipes' write ends. */
static int open_binary(struct shim *s, struct process *p, const char *uri, berth_error_t *err)
{
	struct stdio *io = &p->io;
	cleanup_free char *path = strdup(uri + strlen("binary://"));
	cleanup_free char *env_id = NULL, *env_ns = NULL;
	cleanup_free char **argv = NULL;
	char *env[3], *query, *save = NULL;
	int out[2] = {-1, -1}, errp[2] = {-1, -1}, ready[2] = {-1, -1}, status, failed = 0;
	size_t argc = 1;
	struct pollfd pfd;
	ssize_t n;
	pid_t pid;

	if (path == NULL || asprintf(&env_id, "CONTAINER_ID=%s", p->c->id) < 0 ||
	    asprintf(&env_ns, "CONTAINER_NAMESPACE=%s", s->ns) < 0)
		return berth_error_sys(err, ENOMEM, "logging binary");
	env[0] = env_id;
	env[1] = env_ns;
	env[2] = NULL;
	argv = calloc(strlen(path) + 2, sizeof(*argv));
	if (argv == NULL)
		return berth_error_sys(err, ENOMEM, "logging binary");
	query = strchr(path, '?');
	if (query != NULL) {
		*query++ = '\0';
		for (char *kv = strtok_r(query, "&", &save); kv != NULL; kv = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(kv, '=');
			if (eq != NULL)
				*eq = '\0';
			argv[argc++] = query_unescape(kv);
			if (eq != NULL && eq[1] != '\0')
				argv[argc++] = query_unescape(eq + 1);
		}
	}
	argv[0] = path;
	if (*path != '/')
		return berth_error_invalid(err, "logging binary `%s`: not an absolute path", path);
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0) {
		berth_error_sys(err, errno, "logging binary: pipe");
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		berth_error_sys(err, errno, "logging binary: fork");
		goto fail;
	}
	if (pid == 0)
		log_binary_exec(argv, env, out[0], errp[0], ready[1]);
	io->log_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	close_fd(&out[0]);
	close_fd(&errp[0]);
	close_fd(&ready[1]);
	/* 1. ready: fd 5 closed (an errno from the child: exec failed) */
	pfd = (struct pollfd){.fd = ready[0], .events = POLLIN};
	if (poll(&pfd, 1, LOG_BINARY_READY_MS) <= 0) {
		berth_error_set(err, BERTH_ERROR_SYSTEM, 0, "logging binary `%s`: not ready after %d s", path,
		                LOG_BINARY_READY_MS / 1000);
		goto fail;
	}
	n = read(ready[0], &failed, sizeof(failed));
	if (n == (ssize_t)sizeof(failed)) {
		waitpid(pid, &status, 0);
		berth_error_sys(err, failed, "start logging binary `%s`", path);
		goto fail;
	}
	close_fd(&ready[0]);
	/* 2. the process writes into the pipes */
	io->child[1] = out[1];
	io->child[2] = errp[1];
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		close_fd(&out[i]);
		close_fd(&errp[i]);
		close_fd(&ready[i]);
	}
	return -1;
}

/* An output stream: its file:// log, or a fifo and a pipe. */
static int open_output(struct copier *c, const char *uri, int *child, berth_error_t *err)
{
	int pipefd[2];

	if (*uri == '\0') {
		*child = open_null(O_WRONLY, err);
		return *child < 0 ? -1 : 0;
	}
	if (strncmp(uri, "file://", 7) == 0) {
		const char *path = uri + 7;
		cleanup_free char *dir = strdup(path);
		char *slash = dir != NULL ? strrchr(dir, '/') : NULL;
		if (slash != NULL && slash != dir) {
			*slash = '\0';
			if (fs_mkdir_p(dir, 0755, err) < 0)
				return -1;
		}
		*child = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (*child < 0)
			return berth_error_sys(err, errno, "open log file `%s`", path);
		return 0;
	}
	c->dst = open(fifo_path(uri), O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (c->dst < 0)
		return berth_error_sys(err, errno, "open `%s`", fifo_path(uri));
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return berth_error_sys(err, errno, "pipe");
	c->src = pipefd[0];
	*child = pipefd[1];
	return 0;
}

static int open_stdin(struct stdio *io, struct copier *c, bool pty, int *child, berth_error_t *err)
{
	const char *path = fifo_path(io->stdin_path);
	int pipefd[2];

	if (*path == '\0') {
		if (!pty)
			*child = open_null(O_RDONLY, err);
		return !pty && *child < 0 ? -1 : 0;
	}
	c->src = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (c->src < 0)
		return berth_error_sys(err, errno, "open `%s`", path);
	io->stdin_hold = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (io->stdin_hold < 0)
		return berth_error_sys(err, errno, "open `%s` for writing", path);
	if (pty)
		return 0; /* the master is the destination, once it arrives */
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return berth_error_sys(err, errno, "pipe");
	*child = pipefd[0];
	c->dst = pipefd[1];
	return 0;
}

/* Options IoUid/IoGid: the pipes the process gets belong to that user, so
 * that a process running as it can reopen them (/dev/stdout is
 * /proc/self/fd/1); never a file or device of the client's or the host's. */
static int chown_pipes(const struct process *p, berth_error_t *err)
{
	const struct shim_options *o = &p->c->opts;
	const struct stdio *io = &p->io;
	struct stat st;

	if (o->io_uid == 0 && o->io_gid == 0)
		return 0;
	for (int i = 0; i < 3; i++) {
		/* the process's ends are our pipes, a file:// log or /dev/null */
		if (io->child[i] < 0 || fstat(io->child[i], &st) < 0 || !S_ISFIFO(st.st_mode))
			continue;
		if (fchown(io->child[i], o->io_uid, o->io_gid) < 0)
			return berth_error_sys(err, errno, "chown the stdio pipes to %u:%u", o->io_uid,
			                       o->io_gid);
	}
	return 0;
}

int stdio_open(struct shim *s, struct process *p, berth_error_t *err)
{
	struct stdio *io = &p->io;

	if (open_stdin(io, &io->in, io->terminal, &io->child[0], err) < 0)
		goto fail;
	if (io->terminal) {
		/* the master is the source; without a client, output goes nowhere */
		if (*io->stdout_path == '\0')
			io->out.dst = open_null(O_WRONLY, err);
		else
			io->out.dst = open(fifo_path(io->stdout_path), O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (io->out.dst < 0) {
			berth_error_sys(err, errno, "open `%s`", io->stdout_path);
			goto fail;
		}
		return 0;
	}
	if (strncmp(io->stdout_path, "binary://", 9) == 0) {
		/* stderr goes to the same binary (containerd sets both) */
		if (open_binary(s, p, io->stdout_path, err) < 0 || chown_pipes(p, err) < 0)
			goto fail;
		return 0;
	}
	if (open_output(&io->out, io->stdout_path, &io->child[1], err) < 0)
		goto fail;
	if (strncmp(io->stderr_path, "file://", 7) == 0 && strcmp(io->stderr_path, io->stdout_path) == 0) {
		io->child[2] = fcntl(io->child[1], F_DUPFD_CLOEXEC, 3);
		if (io->child[2] < 0) {
			berth_error_sys(err, errno, "dup");
			goto fail;
		}
	} else if (open_output(&io->err, io->stderr_path, &io->child[2], err) < 0) {
		goto fail;
	}
	if (chown_pipes(p, err) < 0)
		goto fail;
	return 0;
fail:
	berth_error_prefix(err, "stdio");
	return -1;
}

int stdio_start(struct shim *s, struct process *p, int master)
{
	struct stdio *io = &p->io;

	for (int i = 0; i < 3; i++)
		close_fd(&io->child[i]);
	if (master >= 0) {
		io->master = master;
		io->out.src = fcntl(master, F_DUPFD_CLOEXEC, 3);
		if (io->in.src >= 0) {
			io->in.dst = fcntl(master, F_DUPFD_CLOEXEC, 3);
			io->in.tty_eof = true;
		}
	}
	copier_start(s, &io->in, p);
	copier_start(s, &io->out, p);
	copier_start(s, &io->err, p);
	return 0;
}

void stdio_close_stdin(struct shim *s, struct process *p)
{
	(void)s;
	/* The fifo's read end now ends when the client's writer closes. */
	close_fd(&p->io.stdin_hold);
}

void stdio_exited(struct shim *s, struct process *p)
{
	/* Nobody reads the process's stdin any more. */
	copier_close(s, &p->io.in);
	close_fd(&p->io.stdin_hold);
}

void stdio_release(struct shim *s, struct process *p)
{
	struct stdio *io = &p->io;

	for (int i = 0; i < 3; i++)
		close_fd(&io->child[i]);
	copier_drain(&io->out);
	copier_drain(&io->err);
	copier_close(s, &io->in);
	copier_close(s, &io->out);
	copier_close(s, &io->err);
	close_fd(&io->stdin_hold);
	close_fd(&io->master);
	log_binary_release(s, io);
}

/* ---- the console socket ---- */

int stdio_console_listen(const struct shim *s, char **path_out, berth_error_t *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	cleanup_close int fd = -1;
	int n;

	n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s.console", s->socket_path);
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
		return berth_error_invalid(err, "console socket path too long");
	*path_out = strdup(addr.sun_path);
	if (*path_out == NULL)
		return berth_error_sys(err, ENOMEM, "console socket");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return berth_error_sys(err, errno, "console socket");
	unlink(addr.sun_path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0)
		return berth_error_sys(err, errno, "console socket `%s`", addr.sun_path);
	return steal_fd(&fd);
}

int stdio_console_receive(int listen_fd, berth_error_t *err)
{
	struct pollfd pfd = {.fd = listen_fd, .events = POLLIN};
	char name[256], control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
	cleanup_close int conn = -1;
	struct cmsghdr *cmsg;
	int master;

	if (poll(&pfd, 1, 5000) <= 0)
		return berth_error_set(err, BERTH_ERROR_SYSTEM, 0, "no pty arrived on the console socket");
	conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return berth_error_sys(err, errno, "accept on the console socket");
	if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) < 0)
		return berth_error_sys(err, errno, "receive the pty master");
	cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg == NULL || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
		return berth_error_set(err, BERTH_ERROR_SYSTEM, 0, "no pty master in the console message");
	memcpy(&master, CMSG_DATA(cmsg), sizeof(master));
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
	return master;
}
