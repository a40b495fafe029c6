/* The shim's event loop: ttrpc clients, signals, reaping.
 *
 * | source            | event            | action                                             |
 * |-------------------|------------------|----------------------------------------------------|
 * | listening socket  | readable         | accept (same uid only), watch the client            |
 * | client            | readable         | take whole frames; requests go to service_dispatch |
 * | client            | writable         | flush queued replies                               |
 * | signalfd          | SIGCHLD          | waitpid(-1) until nothing is left: service_reaped  |
 * | signalfd          | SIGTERM, SIGINT  | leave the loop                                     |
 * | stdio, events     | (their watches)  | stdio.c, events.c                                  |
 */
#include "shim.h"
#include "ttrpc.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVICE_TASK    "containerd.task.v2.Task"
#define SERVICE_TASK_V3 "containerd.task.v3.Task"

/* ---- logging: logfmt lines on stderr (containerd's log fifo) ---- */

static bool log_debug;

void shim_log_set_debug(bool debug)
{
	log_debug = debug;
}

void shim_log_to(int fd)
{
	if (fd >= 0 && fd != STDERR_FILENO)
		dup2(fd, STDERR_FILENO);
}

void shim_log(int level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	char msg[1024], line[1200], when[40];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level == LOG_DEBUG && !log_debug)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	for (char *p = msg; *p; p++)
		if (*p == '"' || *p == '\n')
			*p = *p == '"' ? '\'' : ' ';
	n = snprintf(line, sizeof(line),
	             "time=\"%s.%09ldZ\" level=%s msg=\"%s\" runtime=io.containerd.berth.v2\n", when,
	             ts.tv_nsec, names[level], msg);
	if (n > 0) /* the fifo is non-blocking: a full or closed log drops lines */
		(void)!write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void shim_berth_log(void *data, enum berth_log_level level, const char *msg)
{
	(void)data;
	shim_log(level == BERTH_LOG_ERROR     ? LOG_ERR
	         : level == BERTH_LOG_WARNING ? LOG_WARN
	         : level == BERTH_LOG_INFO    ? LOG_INFO
	                                      : LOG_DEBUG,
	         "%s", msg);
}

/* ---- epoll ---- */

int shim_watch(struct shim *s, int fd, uint32_t events, struct watch *w)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int shim_rewatch(struct shim *s, int fd, uint32_t events, struct watch *w)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	return epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void shim_unwatch(struct shim *s, int fd)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- clients ---- */

static void client_close(struct shim *s, struct client *cl)
{
	struct client **pp;

	for (pp = &s->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	service_client_gone(s, cl);
	shim_unwatch(s, cl->conn.fd);
	close(cl->conn.fd);
	ttrpc_conn_release(&cl->conn);
	shim_defer_free(s, cl);
	shim_log(LOG_DEBUG, "client disconnected");
}

static void client_update_out(struct shim *s, struct client *cl)
{
	bool want = ttrpc_conn_pending(&cl->conn);

	if (want != cl->out_watched) {
		cl->out_watched = want;
		shim_rewatch(s, cl->conn.fd, EPOLLIN | (want ? EPOLLOUT : 0), &cl->w);
	}
}

void shim_reply(struct shim *s, struct client *cl, uint32_t stream, int code, const char *message,
                const ProtobufCMessage *resp)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (code != TTRPC_OK)
		shim_log(LOG_DEBUG, "reply to stream %u: code %d: %s", stream, code, message);
	if (ttrpc_response_pack(code, message, resp, &buf, &len) < 0 ||
	    ttrpc_conn_queue(&cl->conn, stream, TTRPC_TYPE_RESPONSE, buf, len) < 0) {
		shim_log(LOG_ERR, "reply to stream %u: %s", stream, strerror(errno));
		free(buf);
		return;
	}
	free(buf);
	if (ttrpc_conn_flush(&cl->conn) < 0) {
		shim_log(LOG_DEBUG, "write to client: %s", strerror(errno));
		return; /* the read side sees the end and closes it */
	}
	client_update_out(s, cl);
}

static void handle_request(struct shim *s, struct client *cl, const struct ttrpc_header *h,
                           const uint8_t *payload)
{
	Ttrpc__Request *req;

	if (h->stream_id % 2 == 0) {
		shim_reply(s, cl, h->stream_id, TTRPC_INVALID_ARGUMENT, "stream id must be odd", NULL);
		return;
	}
	req = ttrpc__request__unpack(NULL, h->length, payload);
	if (req == NULL) {
		shim_reply(s, cl, h->stream_id, TTRPC_INVALID_ARGUMENT, "cannot decode the request", NULL);
		return;
	}
	shim_log(LOG_DEBUG, "request %s/%s stream %u", req->service, req->method, h->stream_id);
	if (strcmp(req->service, SERVICE_TASK) != 0 && strcmp(req->service, SERVICE_TASK_V3) != 0) {
		char msg[300];
		snprintf(msg, sizeof(msg), "service %s", req->service);
		shim_reply(s, cl, h->stream_id, TTRPC_UNIMPLEMENTED, msg, NULL);
	} else {
		service_dispatch(s, cl, h->stream_id, req->method, req->payload.data, req->payload.len);
	}
	ttrpc__request__free_unpacked(req, NULL);
}

static void on_client(struct shim *s, struct watch *w, uint32_t events)
{
	struct client *cl = (struct client *)w;
	struct ttrpc_header h;
	const uint8_t *payload;
	long n;
	int r;

	if (events & EPOLLOUT) {
		if (ttrpc_conn_flush(&cl->conn) < 0) {
			client_close(s, cl);
			return;
		}
		client_update_out(s, cl);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = ttrpc_conn_read(&cl->conn);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(s, cl);
		return;
	}
	while ((r = ttrpc_conn_next(&cl->conn, &h, &payload)) != TTRPC_FRAME_NONE) {
		if (r == TTRPC_FRAME_TOO_BIG)
			shim_reply(s, cl, h.stream_id, TTRPC_RESOURCE_EXHAUSTED, "message too large", NULL);
		else if (h.type == TTRPC_TYPE_REQUEST)
			handle_request(s, cl, &h, payload);
		else
			shim_log(LOG_WARN, "ignoring a frame of type %u", h.type);
		if (s->quit)
			break;
	}
}

static void on_listen(struct shim *s, struct watch *w, uint32_t events)
{
	struct client *cl;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	(void)w;
	(void)events;
	fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
		shim_log(LOG_WARN, "refusing a connection from uid %d", (int)cred.uid);
		close(fd);
		return;
	}
	cl = calloc(1, sizeof(*cl));
	if (cl == NULL) {
		close(fd);
		return;
	}
	cl->w.fn = on_client;
	ttrpc_conn_init(&cl->conn, fd);
	if (shim_watch(s, fd, EPOLLIN, &cl->w) < 0) {
		close(fd);
		free(cl);
		return;
	}
	cl->next = s->clients;
	s->clients = cl;
	s->had_client = true;
	shim_log(LOG_DEBUG, "client connected");
}

/* ---- signals ---- */

static void on_signal(struct shim *s, struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si;
	bool reap = false;

	(void)w;
	(void)events;
	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap = true;
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			shim_log(LOG_INFO, "exiting on signal %u", si.ssi_signo);
			s->quit = true;
		}
	}
	if (reap) {
		pid_t pid;
		int status;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			service_reaped(s, pid, status);
	}
}

void shim_defer_free(struct shim *s, void *p)
{
	if (s->n_dead == s->cap_dead) {
		size_t cap = s->cap_dead * 2 + 8;
		void **more = realloc(s->dead, cap * sizeof(*more));
		if (more == NULL) {
			shim_log(LOG_ERR, "out of memory: a record is leaked");
			return;
		}
		s->dead = more;
		s->cap_dead = cap;
	}
	s->dead[s->n_dead++] = p;
}

static void collect(struct shim *s)
{
	for (size_t i = 0; i < s->n_dead; i++)
		free(s->dead[i]);
	s->n_dead = 0;
}

static bool idle_exit(const struct shim *s)
{
	/* containerd 2.x sends no Shutdown for some containers: once every
	 * container is gone and the last client has left, the work is done. */
	return s->containers == NULL && s->clients == NULL && s->had_client;
}

int shim_serve(struct shim *s)
{
	sigset_t mask;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sigfd < 0)
		return -1;
	s->sig_w.fn = on_signal;
	s->listen_w.fn = on_listen;
	if (shim_watch(s, s->sigfd, EPOLLIN, &s->sig_w) < 0 ||
	    shim_watch(s, s->listen_fd, EPOLLIN, &s->listen_w) < 0)
		return -1;
	/* Children that exited before the signalfd existed. */
	on_signal(s, &s->sig_w, 0);
	kill(getpid(), SIGCHLD);
	while (!s->quit) {
		struct epoll_event evs[32];
		int n = epoll_wait(s->epfd, evs, 32, events_timeout(s));
		if (n < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < n && !s->quit; i++) {
			struct watch *w = evs[i].data.ptr;
			w->fn(s, w, evs[i].events);
		}
		collect(s);
		events_pump(s);
		if (idle_exit(s))
			s->quit = true;
	}
	/* No new clients: from now on a start of this group starts a new
	 * server, which may bind the same path (so it is not unlinked later). */
	shim_unwatch(s, s->listen_fd);
	close(s->listen_fd);
	unlink(s->socket_path);
	/* Replies (Shutdown's) and events still queued go out before we leave. */
	for (struct client *cl = s->clients; cl != NULL; cl = cl->next) {
		int flags = fcntl(cl->conn.fd, F_GETFL);
		fcntl(cl->conn.fd, F_SETFL, flags & ~O_NONBLOCK);
		(void)ttrpc_conn_flush(&cl->conn);
	}
	events_drain(s, 5000);
	return 0;
}
