/* Unit tests: the shim's ttrpc framing (shim/ttrpc.c) and protobuf round
 * trips of the messages containerd exchanges with it. */
#include "../tap.h"
#include "events.pb-c.h"
#include "task.pb-c.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_header(void)
{
	struct ttrpc_header h = {.length = 0x4f, .stream_id = 1, .type = TTRPC_TYPE_REQUEST}, back;
	const uint8_t want[] = {0, 0, 0, 0x4f, 0, 0, 0, 1, 1, 0};
	uint8_t buf[TTRPC_HEADER_LEN];

	ttrpc_header_encode(&h, buf);
	ok(memcmp(buf, want, sizeof(want)) == 0, "header encodes big-endian length and stream, type, flags");
	h = (struct ttrpc_header){.length = 0x01020304, .stream_id = 0xfffffffd, .type = 2, .flags = 4};
	ttrpc_header_encode(&h, buf);
	ttrpc_header_decode(buf, &back);
	ok(back.length == 0x01020304 && back.stream_id == 0xfffffffd && back.type == 2 && back.flags == 4,
	   "header round trip");
}

/* The worked example of the notes: Connect{id="t1"} with namespace default. */
static void test_request_bytes(void)
{
	Containerd__Task__V2__ConnectRequest req = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
	uint8_t *buf = NULL;
	size_t len = 0;
	Ttrpc__Request *back;

	req.id = (char *)"t1";
	ok(ttrpc_request_pack("containerd.task.v2.Task", "Connect", &req.base, "default", &buf, &len) == 0,
	   "pack a request");
	ok(len == 0x4f, "Connect request is 79 bytes (got %zu)", len);
	back = ttrpc__request__unpack(NULL, len, buf);
	ok(back != NULL, "request decodes");
	if (back != NULL) {
		is_str(back->service, "containerd.task.v2.Task", "service");
		is_str(back->method, "Connect", "method");
		ok(back->payload.len == 4 && memcmp(back->payload.data, "\x0a\x02t1", 4) == 0, "payload");
		ok(back->n_metadata == 1, "one metadata pair");
		if (back->n_metadata == 1) {
			is_str(back->metadata[0]->key, "containerd-namespace-ttrpc", "metadata key");
			is_str(back->metadata[0]->value, "default", "metadata value");
		}
		ttrpc__request__free_unpacked(back, NULL);
	}
	free(buf);
}

static void test_response_bytes(void)
{
	Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
	const uint8_t ok_want[] = {0x12, 0x03, 0x10, 0xd2, 0x09};
	uint8_t *buf = NULL;
	size_t len = 0;
	Ttrpc__Response *back;

	resp.task_pid = 1234;
	ok(ttrpc_response_pack(TTRPC_OK, NULL, &resp.base, &buf, &len) == 0 && len == sizeof(ok_want) &&
	       memcmp(buf, ok_want, len) == 0,
	   "a success carries only the payload");
	free(buf);
	ok(ttrpc_response_pack(TTRPC_NOT_FOUND, "not found", NULL, &buf, &len) == 0, "pack an error");
	back = ttrpc__response__unpack(NULL, len, buf);
	ok(back != NULL && back->status != NULL && back->status->code == 5 && back->payload.len == 0,
	   "an error carries the status and no payload");
	if (back != NULL && back->status != NULL)
		is_str(back->status->message, "not found", "status message");
	if (back != NULL)
		ttrpc__response__free_unpacked(back, NULL);
	free(buf);
	ok(ttrpc_response_pack(TTRPC_OK, NULL, NULL, &buf, &len) == 0 && len == 0,
	   "Empty gives a 0-byte body");
	free(buf);
}

/* Frames fed a byte at a time come out whole, and in order. */
static void test_partial_and_streams(void)
{
	struct ttrpc_conn out, in;
	struct ttrpc_header h;
	const uint8_t *payload;
	int r, frames = 0, partial_none = 1;

	ttrpc_conn_init(&out, -1);
	ttrpc_conn_init(&in, -1);
	ok(ttrpc_conn_queue(&out, 1, TTRPC_TYPE_REQUEST, "first", 5) == 0 &&
	       ttrpc_conn_queue(&out, 3, TTRPC_TYPE_REQUEST, "", 0) == 0 &&
	       ttrpc_conn_queue(&out, 5, TTRPC_TYPE_REQUEST, "third!", 6) == 0,
	   "queue three frames");
	for (size_t i = out.out.start; i < out.out.end; i++) {
		ttrpc_conn_feed(&in, out.out.data + i, 1);
		while ((r = ttrpc_conn_next(&in, &h, &payload)) == TTRPC_FRAME_OK) {
			frames++;
			if (frames == 1)
				ok(h.stream_id == 1 && h.length == 5 && memcmp(payload, "first", 5) == 0,
				   "frame 1 after byte %zu", i);
			else if (frames == 2)
				ok(h.stream_id == 3 && h.length == 0, "frame 2 (empty) after byte %zu", i);
			else
				ok(h.stream_id == 5 && h.length == 6 && memcmp(payload, "third!", 6) == 0,
				   "frame 3 after byte %zu", i);
		}
		if (frames == 0 && i + 1 < TTRPC_HEADER_LEN + 5)
			partial_none &= r == TTRPC_FRAME_NONE;
	}
	ok(partial_none, "no frame before its last byte");
	ok(frames == 3, "three frames out of a byte-at-a-time stream");
	ttrpc_conn_release(&out);
	ttrpc_conn_release(&in);
}

static void test_too_big(void)
{
	struct ttrpc_conn in;
	struct ttrpc_header big = {.length = TTRPC_MAX_MESSAGE + 1, .stream_id = 7, .type = 1}, h;
	uint8_t head[TTRPC_HEADER_LEN], junk[1000] = {0};
	const uint8_t *payload;
	size_t left = big.length;
	struct ttrpc_conn next;

	ttrpc_conn_init(&in, -1);
	ttrpc_header_encode(&big, head);
	ttrpc_conn_feed(&in, head, sizeof(head));
	ok(ttrpc_conn_next(&in, &h, &payload) == TTRPC_FRAME_TOO_BIG && h.stream_id == 7,
	   "an oversized frame is reported with its stream");
	while (left > 0) {
		size_t n = left < sizeof(junk) ? left : sizeof(junk);
		ttrpc_conn_feed(&in, junk, n);
		left -= n;
	}
	ttrpc_conn_init(&next, -1);
	ttrpc_conn_queue(&next, 9, TTRPC_TYPE_REQUEST, "ok", 2);
	ttrpc_conn_feed(&in, next.out.data, next.out.end);
	ok(ttrpc_conn_next(&in, &h, &payload) == TTRPC_FRAME_OK && h.stream_id == 9 && h.length == 2,
	   "its payload is skipped and the next frame read");
	ok(in.in.cap < 65536, "the skipped payload was never buffered");
	ttrpc_conn_release(&in);
	ttrpc_conn_release(&next);
}

/* Through a real socket, with the non-blocking read and flush. */
static void test_socket(void)
{
	struct ttrpc_conn a, b;
	struct ttrpc_header h;
	const uint8_t *payload;
	char big[200000];
	int sv[2], got = 0, r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		ok(0, "socketpair");
		return;
	}
	memset(big, 'x', sizeof(big));
	ttrpc_conn_init(&a, sv[0]);
	ttrpc_conn_init(&b, sv[1]);
	ttrpc_conn_queue(&a, 1, TTRPC_TYPE_RESPONSE, big, sizeof(big));
	ttrpc_conn_queue(&a, 3, TTRPC_TYPE_RESPONSE, "tail", 4);
	for (int i = 0; i < 1000 && got < 2; i++) {
		r = ttrpc_conn_flush(&a);
		if (r < 0)
			break;
		while (ttrpc_conn_read(&b) > 0)
			;
		while (ttrpc_conn_next(&b, &h, &payload) == TTRPC_FRAME_OK) {
			got++;
			if (got == 1)
				ok(h.stream_id == 1 && h.length == sizeof(big) &&
				       payload[sizeof(big) - 1] == 'x',
				   "a 200 kB frame crosses the socket whole");
			else
				ok(h.stream_id == 3 && memcmp(payload, "tail", 4) == 0,
				   "and the next one after it");
		}
	}
	ok(got == 2 && !ttrpc_conn_pending(&a), "everything sent and received");
	ttrpc_conn_release(&a);
	ttrpc_conn_release(&b);
	close(sv[0]);
	close(sv[1]);
}

static void test_messages(void)
{
	Containerd__Task__V2__CreateTaskRequest req = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Task__V2__Mount m = CONTAINERD__TASK__V2__MOUNT__INIT, *mounts[] = {&m};
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	char *opts[] = {(char *)"lowerdir=/a", (char *)"upperdir=/b"};
	Containerd__Task__V2__CreateTaskRequest *req2;
	Containerd__Events__TaskExit *ev2;
	uint8_t *buf = NULL;
	size_t len = 0;

	m.type = (char *)"overlay";
	m.source = (char *)"overlay";
	m.options = opts;
	m.n_options = 2;
	req.id = (char *)"c1";
	req.bundle = (char *)"/run/b";
	req.rootfs = mounts;
	req.n_rootfs = 1;
	req.terminal = true;
	req.stdout = (char *)"/fifo/out";
	ttrpc_pack(&req.base, &buf, &len);
	/* field 1 (id) is the first thing on the wire */
	ok(len > 4 && buf[0] == 0x0a && buf[1] == 2 && buf[2] == 'c',
	   "CreateTaskRequest starts with field 1");
	req2 = containerd__task__v2__create_task_request__unpack(NULL, len, buf);
	ok(req2 != NULL && req2->n_rootfs == 1 && req2->terminal &&
	       strcmp(req2->rootfs[0]->options[1], opts[1]) == 0 && strcmp(req2->stdout, "/fifo/out") == 0 &&
	       *req2->stdin == '\0',
	   "CreateTaskRequest round trip");
	if (req2 != NULL)
		containerd__task__v2__create_task_request__free_unpacked(req2, NULL);
	free(buf);

	ts.seconds = 1700000000;
	ts.nanos = 5;
	ev.container_id = (char *)"c1";
	ev.id = (char *)"exec1";
	ev.pid = 42;
	ev.exit_status = 137;
	ev.exited_at = &ts;
	ttrpc_pack(&ev.base, &buf, &len);
	ev2 = containerd__events__task_exit__unpack(NULL, len, buf);
	ok(ev2 != NULL && ev2->pid == 42 && ev2->exit_status == 137 && ev2->exited_at != NULL &&
	       ev2->exited_at->seconds == 1700000000 && ev2->exited_at->nanos == 5 &&
	       strcmp(ev2->id, "exec1") == 0,
	   "TaskExit round trip");
	if (ev2 != NULL)
		containerd__events__task_exit__free_unpacked(ev2, NULL);
	free(buf);
}

int main(void)
{
	test_header();
	test_request_bytes();
	test_response_bytes();
	test_partial_and_streams();
	test_too_big();
	test_socket();
	test_messages();
	return tap_done();
}
