/* Events to containerd, in order, one at a time.
 *
 * | way             | how                                                                 |
 * |-----------------|---------------------------------------------------------------------|
 * | ttrpc (first)   | client of $TTRPC_ADDRESS: containerd.services.events.ttrpc.v1.Events/Forward, |
 * |                 | ForwardRequest{Envelope{timestamp, namespace, topic, event Any}} -> Empty      |
 * | publish binary  | `<publish-binary> --address <containerd.sock> publish --topic T --namespace N`, |
 * |                 | the event Any on stdin: when the socket cannot be reached, or an event failed 5 times |
 *
 * containerd's ttrpc server handles each request in its own goroutine, so
 * only one Forward is in flight at a time: that keeps the order.
 */
#include "shim.h"
#include "events.pb-c.h"
#include "ttrpc.pb-c.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_SERVICE "containerd.services.events.ttrpc.v1.Events"
#define MAX_ATTEMPTS   5

struct event {
	struct event *next;
	char *topic, *type_url;
	uint8_t *value;
	size_t len;
	struct timespec ts;
	unsigned attempts;
};

static void event_free(struct event *e)
{
	free(e->topic);
	free(e->type_url);
	free(e->value);
	free(e);
}

static void pop(struct publisher *pub)
{
	struct event *e = pub->head;
	pub->head = e->next;
	if (pub->head == NULL)
		pub->tail = NULL;
	event_free(e);
}

void events_publish(struct shim *s, const char *topic, const char *type_url, const ProtobufCMessage *msg)
{
	struct event *e = calloc(1, sizeof(*e));

	if (e == NULL || (e->topic = strdup(topic)) == NULL || (e->type_url = strdup(type_url)) == NULL ||
	    ttrpc_pack(msg, &e->value, &e->len) < 0) {
		shim_log(LOG_ERR, "event %s lost: out of memory", topic);
		if (e != NULL)
			event_free(e);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &e->ts);
	if (s->pub.tail != NULL)
		s->pub.tail->next = e;
	else
		s->pub.head = e;
	s->pub.tail = e;
	shim_log(LOG_DEBUG, "event %s queued", topic);
}

/* ---- the publish binary ---- */

static int publish_binary(struct shim *s, const struct event *e)
{
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	uint8_t *buf = NULL;
	size_t len = 0;
	int in[2], status = 0;
	pid_t pid;

	if (s->publish_binary == NULL || *s->publish_binary == '\0')
		return -1;
	any.type_url = e->type_url;
	any.value.data = e->value;
	any.value.len = e->len;
	if (ttrpc_pack(&any.base, &buf, &len) < 0)
		return -1;
	if (pipe2(in, O_CLOEXEC) < 0) {
		free(buf);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(in[0], STDIN_FILENO);
		execl(s->publish_binary, s->publish_binary, "--address", s->address, "publish", "--topic",
		      e->topic, "--namespace", s->ns, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	if (pid > 0)
		(void)fs_write_all(in[1], buf, len);
	close(in[1]);
	free(buf);
	if (pid < 0)
		return -1;
	/* The loop cannot reap it first: it does not run until we return. */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		shim_log(LOG_WARN, "publish binary failed for %s (status %d)", e->topic, status);
		return -1;
	}
	return 0;
}

/* ---- the ttrpc client ---- */

static void disconnect(struct shim *s)
{
	struct publisher *pub = &s->pub;

	if (pub->fd >= 0) {
		shim_unwatch(s, pub->fd);
		close(pub->fd);
	}
	pub->fd = -1;
	pub->in_flight = false;
	ttrpc_conn_release(&pub->conn);
}

static void on_events_conn(struct shim *s, struct watch *w, uint32_t events);

static int connect_events(struct shim *s)
{
	struct publisher *pub = &s->pub;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	const char *path = s->ttrpc_address;
	int fd;

	if (path == NULL || *path == '\0')
		return -1;
	if (strncmp(path, "unix://", 7) == 0)
		path += 7;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -1;
	memcpy(addr.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		shim_log(LOG_DEBUG, "connect to %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	pub->w.fn = on_events_conn;
	if (shim_watch(s, fd, EPOLLIN, &pub->w) < 0) {
		close(fd);
		return -1;
	}
	pub->fd = fd;
	pub->next_stream = 1;
	ttrpc_conn_init(&pub->conn, fd);
	return 0;
}

static int send_head(struct shim *s)
{
	struct publisher *pub = &s->pub;
	struct event *e = pub->head;
	Containerd__Events__ForwardRequest fwd = CONTAINERD__EVENTS__FORWARD_REQUEST__INIT;
	Containerd__Events__Envelope env = CONTAINERD__EVENTS__ENVELOPE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	ts.seconds = e->ts.tv_sec;
	ts.nanos = (int32_t)e->ts.tv_nsec;
	any.type_url = e->type_url;
	any.value.data = e->value;
	any.value.len = e->len;
	env.timestamp = &ts;
	env.namespace_ = (char *)s->ns;
	env.topic = e->topic;
	env.event = &any;
	fwd.envelope = &env;
	if (ttrpc_request_pack(EVENTS_SERVICE, "Forward", &fwd.base, s->ns, &buf, &len) < 0)
		return -1;
	r = ttrpc_conn_queue(&pub->conn, pub->next_stream, TTRPC_TYPE_REQUEST, buf, len);
	free(buf);
	if (r < 0)
		return -1;
	pub->next_stream += 2;
	pub->in_flight = true;
	r = ttrpc_conn_flush(&pub->conn);
	if (r == 0)
		shim_rewatch(s, pub->fd, EPOLLIN | EPOLLOUT, &pub->w);
	return r < 0 ? -1 : 0;
}

/* The head event could not be delivered this time. */
static void failed(struct shim *s)
{
	struct publisher *pub = &s->pub;
	struct timespec now;

	disconnect(s);
	pub->failures++;
	if (pub->head != NULL && ++pub->head->attempts >= MAX_ATTEMPTS) {
		if (publish_binary(s, pub->head) < 0)
			shim_log(LOG_ERR, "event %s lost", pub->head->topic);
		pop(pub);
		pub->failures = 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	pub->retry_at = now;
	pub->retry_at.tv_nsec += 100000000L * (pub->failures < 10 ? pub->failures : 10);
	while (pub->retry_at.tv_nsec >= 1000000000L) {
		pub->retry_at.tv_nsec -= 1000000000L;
		pub->retry_at.tv_sec++;
	}
}

static void on_events_conn(struct shim *s, struct watch *w, uint32_t events)
{
	struct publisher *pub = &s->pub;
	struct ttrpc_header h;
	const uint8_t *payload;
	long n;
	int r;

	(void)w;
	if (events & EPOLLOUT) {
		r = ttrpc_conn_flush(&pub->conn);
		if (r < 0) {
			failed(s);
			return;
		}
		if (r > 0)
			shim_rewatch(s, pub->fd, EPOLLIN, &pub->w);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = ttrpc_conn_read(&pub->conn);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		shim_log(LOG_DEBUG, "events connection closed");
		if (pub->in_flight)
			failed(s);
		else
			disconnect(s);
		return;
	}
	while ((r = ttrpc_conn_next(&pub->conn, &h, &payload)) == TTRPC_FRAME_OK) {
		Ttrpc__Response *resp;
		if (h.type != TTRPC_TYPE_RESPONSE || !pub->in_flight || pub->head == NULL)
			continue;
		resp = ttrpc__response__unpack(NULL, h.length, payload);
		if (resp != NULL && resp->status != NULL && resp->status->code != 0)
			shim_log(LOG_WARN, "containerd refused event %s: %s", pub->head->topic,
			         resp->status->message);
		if (resp != NULL)
			ttrpc__response__free_unpacked(resp, NULL);
		pub->in_flight = false;
		pub->failures = 0;
		pop(pub);
	}
}

int events_timeout(struct shim *s)
{
	struct publisher *pub = &s->pub;
	struct timespec now;
	long ms;

	if (pub->head == NULL || pub->fd >= 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (pub->retry_at.tv_sec - now.tv_sec) * 1000 + (pub->retry_at.tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? (int)ms + 1 : 0;
}

void events_pump(struct shim *s)
{
	struct publisher *pub = &s->pub;

	while (pub->head != NULL && !pub->in_flight) {
		if (s->ttrpc_address == NULL || *s->ttrpc_address == '\0') {
			if (publish_binary(s, pub->head) < 0)
				shim_log(LOG_ERR, "event %s lost", pub->head->topic);
			pop(pub);
			continue;
		}
		if (pub->fd < 0) {
			if (events_timeout(s) > 0)
				return;
			if (connect_events(s) < 0) {
				failed(s);
				continue;
			}
		}
		if (send_head(s) < 0)
			failed(s);
		else
			return;
	}
}

void events_drain(struct shim *s, int timeout_ms)
{
	struct publisher *pub = &s->pub;
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd;
		long left;

		events_pump(s);
		if (pub->head == NULL)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms -
		       ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0)
			break;
		if (pub->fd < 0) {
			int wait = events_timeout(s);
			poll(NULL, 0, wait > 0 && wait < left ? wait : (int)left);
			continue;
		}
		pfd = (struct pollfd){.fd = pub->fd,
		                      .events = POLLIN | (ttrpc_conn_pending(&pub->conn) ? POLLOUT : 0)};
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		on_events_conn(s, &pub->w,
		               (pfd.revents & POLLIN ? EPOLLIN : 0) | (pfd.revents & POLLOUT ? EPOLLOUT : 0) |
		                   (pfd.revents & (POLLHUP | POLLERR) ? EPOLLHUP : 0));
	}
	while (pub->head != NULL) {
		shim_log(LOG_ERR, "event %s not delivered before exit", pub->head->topic);
		pop(pub);
	}
}
