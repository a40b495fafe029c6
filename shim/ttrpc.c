/* ttrpc framing and envelopes: see the table in ttrpc.h. */
#include "ttrpc.h"
#include "ttrpc.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAMESPACE_KEY "containerd-namespace-ttrpc"

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void ttrpc_header_encode(const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_LEN])
{
	put_be32(out, h->length);
	put_be32(out + 4, h->stream_id);
	out[8] = h->type;
	out[9] = h->flags;
}

void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_LEN], struct ttrpc_header *h)
{
	h->length = get_be32(in);
	h->stream_id = get_be32(in + 4);
	h->type = in[8];
	h->flags = in[9];
}

/* ---- buffers ---- */

static int buf_reserve(struct ttrpc_buf *b, size_t more)
{
	size_t used = b->end - b->start, cap;
	uint8_t *data;

	if (b->end + more <= b->cap)
		return 0;
	if (b->start > 0) { /* slide the pending bytes to the front first */
		memmove(b->data, b->data + b->start, used);
		b->start = 0;
		b->end = used;
		if (used + more <= b->cap)
			return 0;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap < used + more)
		cap *= 2;
	data = realloc(b->data, cap);
	if (data == NULL) {
		errno = ENOMEM;
		return -1;
	}
	b->data = data;
	b->cap = cap;
	return 0;
}

static int buf_append(struct ttrpc_buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return -1;
	memcpy(b->data + b->end, data, len);
	b->end += len;
	return 0;
}

/* Gives memory back once a burst is over (idle connections stay small). */
static void buf_compact(struct ttrpc_buf *b)
{
	if (b->start == b->end) {
		b->start = b->end = 0;
		if (b->cap > 65536) {
			free(b->data);
			b->data = NULL;
			b->cap = 0;
		}
	}
}

void ttrpc_conn_init(struct ttrpc_conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
}

void ttrpc_conn_release(struct ttrpc_conn *c)
{
	free(c->in.data);
	free(c->out.data);
	memset(&c->in, 0, sizeof(c->in));
	memset(&c->out, 0, sizeof(c->out));
}

int ttrpc_conn_feed(struct ttrpc_conn *c, const void *data, size_t len)
{
	if (c->discard > 0) {
		size_t skip = len < c->discard ? len : c->discard;
		c->discard -= skip;
		data = (const uint8_t *)data + skip;
		len -= skip;
	}
	return len > 0 ? buf_append(&c->in, data, len) : 0;
}

long ttrpc_conn_read(struct ttrpc_conn *c)
{
	uint8_t chunk[16384];
	ssize_t n;

	do
		n = read(c->fd, chunk, sizeof(chunk));
	while (n < 0 && errno == EINTR);
	if (n > 0 && ttrpc_conn_feed(c, chunk, (size_t)n) < 0)
		return -1;
	return (long)n;
}

int ttrpc_conn_next(struct ttrpc_conn *c, struct ttrpc_header *h, const uint8_t **payload)
{
	struct ttrpc_buf *b = &c->in;
	size_t avail = b->end - b->start;

	if (avail < TTRPC_HEADER_LEN) {
		buf_compact(b);
		return TTRPC_FRAME_NONE;
	}
	ttrpc_header_decode(b->data + b->start, h);
	if (h->length > TTRPC_MAX_MESSAGE) {
		size_t have = avail - TTRPC_HEADER_LEN;
		size_t skip = have < h->length ? have : h->length;
		b->start += TTRPC_HEADER_LEN + skip;
		c->discard = h->length - skip;
		return TTRPC_FRAME_TOO_BIG;
	}
	if (avail < TTRPC_HEADER_LEN + (size_t)h->length)
		return TTRPC_FRAME_NONE;
	*payload = b->data + b->start + TTRPC_HEADER_LEN;
	b->start += TTRPC_HEADER_LEN + h->length;
	return TTRPC_FRAME_OK;
}

int ttrpc_conn_queue(struct ttrpc_conn *c, uint32_t stream_id, uint8_t type, const void *payload, size_t len)
{
	struct ttrpc_header h = {.length = (uint32_t)len, .stream_id = stream_id, .type = type};
	uint8_t head[TTRPC_HEADER_LEN];

	if (len > TTRPC_MAX_MESSAGE) {
		errno = EMSGSIZE;
		return -1;
	}
	ttrpc_header_encode(&h, head);
	if (buf_reserve(&c->out, sizeof(head) + len) < 0)
		return -1;
	memcpy(c->out.data + c->out.end, head, sizeof(head));
	c->out.end += sizeof(head);
	if (len > 0)
		memcpy(c->out.data + c->out.end, payload, len);
	c->out.end += len;
	return 0;
}

int ttrpc_conn_flush(struct ttrpc_conn *c)
{
	struct ttrpc_buf *b = &c->out;

	while (b->start < b->end) {
		ssize_t n = write(c->fd, b->data + b->start, b->end - b->start);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -1;
		b->start += (size_t)n;
	}
	buf_compact(b);
	return 1;
}

/* ---- envelopes ---- */

int ttrpc_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len)
{
	size_t n = msg != NULL ? protobuf_c_message_get_packed_size(msg) : 0;

	*out = malloc(n > 0 ? n : 1);
	if (*out == NULL) {
		errno = ENOMEM;
		return -1;
	}
	*len = n > 0 ? protobuf_c_message_pack(msg, *out) : 0;
	return 0;
}

int ttrpc_request_pack(const char *service, const char *method, const ProtobufCMessage *msg, const char *ns,
                       uint8_t **out, size_t *len)
{
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
	Ttrpc__KeyValue *md[1] = {&kv};
	uint8_t *payload = NULL;
	int ret;

	if (ttrpc_pack(msg, &payload, &req.payload.len) < 0)
		return -1;
	req.service = (char *)service;
	req.method = (char *)method;
	req.payload.data = payload;
	if (ns != NULL) {
		kv.key = (char *)NAMESPACE_KEY;
		kv.value = (char *)ns;
		req.metadata = md;
		req.n_metadata = 1;
	}
	ret = ttrpc_pack(&req.base, out, len);
	free(payload);
	return ret;
}

int ttrpc_response_pack(int code, const char *message, const ProtobufCMessage *msg, uint8_t **out,
                        size_t *len)
{
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	Ttrpc__Status status = TTRPC__STATUS__INIT;
	uint8_t *payload = NULL;
	int ret;

	if (code != TTRPC_OK) {
		status.code = code;
		status.message = (char *)(message != NULL ? message : "");
		resp.status = &status;
	} else {
		if (ttrpc_pack(msg, &payload, &resp.payload.len) < 0)
			return -1;
		resp.payload.data = payload;
	}
	ret = ttrpc_pack(&resp.base, out, len);
	free(payload);
	return ret;
}
