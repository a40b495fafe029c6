/* ttrpc: containerd's RPC protocol over a stream socket.
 *
 * | item     | wire                                                                |
 * |----------|---------------------------------------------------------------------|
 * | header   | length u32 BE (payload only, <= 4 MiB), stream id u32 BE, type u8, flags u8 |
 * | type 1   | request: ttrpc.Request{service, method, payload, timeout_nano, metadata} |
 * | type 2   | response: ttrpc.Response{status google.rpc.Status, payload}          |
 * | streams  | client ids are odd and increase; replies carry the request's id, in any order |
 *
 * A struct ttrpc_conn holds one connection's input and output bytes; the
 * caller reads and writes the fd (non-blocking) and takes whole frames out.
 */
#ifndef BERTH_SHIM_TTRPC_H
#define BERTH_SHIM_TTRPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TTRPC_HEADER_LEN    10
#define TTRPC_MAX_MESSAGE   (4u << 20)
#define TTRPC_TYPE_REQUEST  1
#define TTRPC_TYPE_RESPONSE 2

/* gRPC status codes, as containerd maps them to its errors. */
enum {
	TTRPC_OK = 0,
	TTRPC_UNKNOWN = 2,
	TTRPC_INVALID_ARGUMENT = 3,
	TTRPC_DEADLINE_EXCEEDED = 4,
	TTRPC_NOT_FOUND = 5,
	TTRPC_ALREADY_EXISTS = 6,
	TTRPC_RESOURCE_EXHAUSTED = 8,
	TTRPC_FAILED_PRECONDITION = 9,
	TTRPC_UNIMPLEMENTED = 12,
	TTRPC_INTERNAL = 13,
	TTRPC_UNAVAILABLE = 14,
};

struct ttrpc_header {
	uint32_t length;
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
};

void ttrpc_header_encode(const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_LEN]);
void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_LEN], struct ttrpc_header *h);

struct ttrpc_buf {
	uint8_t *data;
	size_t start, end, cap; /* bytes [start, end) are pending */
};

struct ttrpc_conn {
	int fd;
	struct ttrpc_buf in, out;
	size_t discard; /* payload bytes of an oversized frame still to skip */
};

/* Results of ttrpc_conn_next. */
enum { TTRPC_FRAME_NONE = 0, TTRPC_FRAME_OK = 1, TTRPC_FRAME_TOO_BIG = 2 };

void ttrpc_conn_init(struct ttrpc_conn *c, int fd);
/* Frees the buffers (the fd is the caller's). */
void ttrpc_conn_release(struct ttrpc_conn *c);
/* Appends received bytes; -1 on ENOMEM. */
int ttrpc_conn_feed(struct ttrpc_conn *c, const void *data, size_t len);
/* Reads what the fd has: > 0 bytes read, 0 end of file, -1 error (errno;
 * EAGAIN when nothing is there). */
long ttrpc_conn_read(struct ttrpc_conn *c);
/* Takes the next whole frame: TTRPC_FRAME_OK with *payload pointing into the
 * buffer (valid until the next call), TTRPC_FRAME_TOO_BIG with only *h set
 * (its payload is skipped as it arrives), TTRPC_FRAME_NONE when more bytes
 * are needed. */
int ttrpc_conn_next(struct ttrpc_conn *c, struct ttrpc_header *h, const uint8_t **payload);
/* Queues one frame for sending; -1 on ENOMEM or an oversized payload. */
int ttrpc_conn_queue(struct ttrpc_conn *c, uint32_t stream_id, uint8_t type, const void *payload, size_t len);
/* Writes queued bytes: 1 all sent, 0 some left (wait for EPOLLOUT), -1 error. */
int ttrpc_conn_flush(struct ttrpc_conn *c);
static inline bool ttrpc_conn_pending(const struct ttrpc_conn *c)
{
	return c->out.end > c->out.start;
}

/* Packs a protobuf-c message into a new buffer (NULL msg: empty); -1 on ENOMEM. */
int ttrpc_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len);
/* A ttrpc.Request for service/method with msg as payload; ns (may be NULL)
 * goes into the containerd-namespace-ttrpc metadata. */
int ttrpc_request_pack(const char *service, const char *method, const ProtobufCMessage *msg, const char *ns,
                       uint8_t **out, size_t *len);
/* A ttrpc.Response: code 0 carries msg, any other code only the status. */
int ttrpc_response_pack(int code, const char *message, const ProtobufCMessage *msg, uint8_t **out,
                        size_t *len);

#endif
