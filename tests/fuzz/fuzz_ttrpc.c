/* Fuzz target: what the shim reads from containerd: the ttrpc frame reader
 * (shim/ttrpc.c) and the protobuf-c decoding of every message (the code
 * generated from shim/proto/).
 *
 * Input: the bytes of a connection, as containerd would send them:
 * frames (10-byte header, then the payload).
 *
 *   1. The stream is fed in one piece, and again in pieces of 1 to 13 bytes
 *      (chosen by the input's length): both give the same frames.  Oversized
 *      frames are skipped and their payload never shows.
 *   2. Each request frame is decoded as the shim does it (server.c): a
 *      ttrpc.Request, then its payload as the request type of the method
 *      (service.c's table: the list below must name the same methods), with
 *      the runc Options inside CreateTaskRequest.options; response frames as
 *      a ttrpc.Response (events.c reads containerd's replies).  The payload
 *      is also decoded as what `start` and `-info` read on stdin (Any,
 *      BootstrapParams).
 *   3. Every decoded message survives a round trip: packed, decoded again
 *      and packed again, it gives the same bytes as the first packing.
 *
 * Any input: no crash, no leak, no undefined behaviour. */
#include "fuzz.h"

#include "introspection.pb-c.h"
#include "options.pb-c.h"
#include "task.pb-c.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"
#include "wellknown.pb-c.h"

/* The methods of the shim's task service (shim/service.c) and their request types. */
static const struct {
	const char *name;
	const ProtobufCMessageDescriptor *request;
} methods[] = {
    {"State", &containerd__task__v2__state_request__descriptor},
    {"Create", &containerd__task__v2__create_task_request__descriptor},
    {"Start", &containerd__task__v2__start_request__descriptor},
    {"Delete", &containerd__task__v2__delete_request__descriptor},
    {"Pids", &containerd__task__v2__pids_request__descriptor},
    {"Pause", &containerd__task__v2__pause_request__descriptor},
    {"Resume", &containerd__task__v2__resume_request__descriptor},
    {"Checkpoint", &containerd__task__v2__checkpoint_task_request__descriptor},
    {"Kill", &containerd__task__v2__kill_request__descriptor},
    {"Exec", &containerd__task__v2__exec_process_request__descriptor},
    {"ResizePty", &containerd__task__v2__resize_pty_request__descriptor},
    {"CloseIO", &containerd__task__v2__close_iorequest__descriptor},
    {"Update", &containerd__task__v2__update_task_request__descriptor},
    {"Wait", &containerd__task__v2__wait_request__descriptor},
    {"Stats", &containerd__task__v2__stats_request__descriptor},
    {"Connect", &containerd__task__v2__connect_request__descriptor},
    {"Shutdown", &containerd__task__v2__shutdown_request__descriptor},
};

#define MAX_FRAMES 256

struct frame {
	struct ttrpc_header h;
	int kind; /* TTRPC_FRAME_OK or TTRPC_FRAME_TOO_BIG */
	uint8_t *payload;
};

struct frames {
	struct frame f[MAX_FRAMES];
	size_t n;
};

/* libprotobuf-c (1.4) takes a field numbered 0 whose tag is spelt in more
 * than one byte as an unknown field, and packs it back in one byte, which it
 * then refuses.  Nothing containerd sends has one; the round trip is not
 * checked for such messages. */
static bool has_field_zero(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return true;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *at = (const char *)m + f->offset;
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n;
			ProtobufCMessage **v;
			memcpy(&n, (const char *)m + f->quantifier_offset, sizeof(n));
			memcpy(&v, at, sizeof(v));
			for (size_t k = 0; k < n; k++)
				if (v[k] != NULL && has_field_zero(v[k]))
					return true;
		} else {
			ProtobufCMessage *sub;
			memcpy(&sub, at, sizeof(sub));
			if (sub != NULL && has_field_zero(sub))
				return true;
		}
	}
	return false;
}

/* Decodes, packs, decodes again and packs again; the two packings must be
 * equal.  Returns the first decoded message (or NULL when it does not decode). */
static ProtobufCMessage *decode(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, data), *again;
	uint8_t *p1, *p2;
	size_t n1, n2;

	if (m == NULL)
		return NULL;
	n1 = protobuf_c_message_get_packed_size(m);
	p1 = malloc(n1 > 0 ? n1 : 1);
	fuzz_require(p1 != NULL, "out of memory");
	fuzz_require(protobuf_c_message_pack(m, p1) == n1, "%s: packed size differs from its estimate",
	             d->name);
	again = protobuf_c_message_unpack(d, NULL, n1, p1);
	if (again == NULL && has_field_zero(m)) {
		free(p1);
		return m;
	}
	fuzz_require(again != NULL, "%s: does not decode what it packed", d->name);
	n2 = protobuf_c_message_get_packed_size(again);
	p2 = malloc(n2 > 0 ? n2 : 1);
	fuzz_require(p2 != NULL, "out of memory");
	fuzz_require(protobuf_c_message_pack(again, p2) == n2, "%s: packed size differs", d->name);
	fuzz_require(n1 == n2 && memcmp(p1, p2, n1) == 0,
	             "%s: round trip changed the message (%zu, %zu bytes)", d->name, n1, n2);
	protobuf_c_message_free_unpacked(again, NULL);
	free(p1);
	free(p2);
	return m;
}

static void decode_free(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len)
{
	ProtobufCMessage *m = decode(d, data, len);
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
}

/* What main.c reads of BootstrapParams: every string is there (proto3). */
static void check_bootstrap(const uint8_t *data, size_t len)
{
	Containerd__Types__BootstrapParams *bp = (Containerd__Types__BootstrapParams *)decode(
	    &containerd__types__bootstrap_params__descriptor, data, len);
	if (bp == NULL)
		return;
	fuzz_require(bp->containerd_version != NULL && bp->containerd_ttrpc_address != NULL &&
	                 bp->containerd_grpc_address != NULL && bp->containerd_binary != NULL &&
	                 bp->socket_dir != NULL && bp->instance_id != NULL && bp->namespace_ != NULL,
	             "BootstrapParams with a NULL string");
	containerd__types__bootstrap_params__free_unpacked(bp, NULL);
}

static void handle_request(const uint8_t *payload, size_t len)
{
	Ttrpc__Request *req = (Ttrpc__Request *)decode(&ttrpc__request__descriptor, payload, len);

	if (req == NULL)
		return;
	fuzz_require(req->service != NULL && req->method != NULL, "a request without service or method");
	for (size_t i = 0; i < req->n_metadata; i++)
		fuzz_require(req->metadata[i] != NULL && req->metadata[i]->key != NULL &&
		                 req->metadata[i]->value != NULL,
		             "metadata %zu incomplete", i);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		ProtobufCMessage *m;
		if (strcmp(methods[i].name, req->method) != 0)
			continue;
		m = decode(methods[i].request, req->payload.data, req->payload.len);
		if (m != NULL &&
		    methods[i].request == &containerd__task__v2__create_task_request__descriptor) {
			Containerd__Task__V2__CreateTaskRequest *c =
			    (Containerd__Task__V2__CreateTaskRequest *)m;
			if (c->options != NULL)
				decode_free(&containerd__runc__v1__options__descriptor,
				            c->options->value.data, c->options->value.len);
		}
		if (m != NULL)
			protobuf_c_message_free_unpacked(m, NULL);
		break;
	}
	ttrpc__request__free_unpacked(req, NULL);
}

/* Feeds data in pieces of `piece` bytes (0: all at once) and takes every frame out. */
static void read_frames(const uint8_t *data, size_t size, size_t piece, struct frames *out)
{
	struct ttrpc_conn c;
	size_t off = 0;

	ttrpc_conn_init(&c, -1);
	out->n = 0;
	while (off < size) {
		size_t n = piece == 0 || size - off < piece ? size - off : piece;
		struct ttrpc_header h;
		const uint8_t *payload = NULL;
		int r;

		fuzz_require(ttrpc_conn_feed(&c, data + off, n) == 0, "ttrpc_conn_feed failed");
		off += n;
		while ((r = ttrpc_conn_next(&c, &h, &payload)) != TTRPC_FRAME_NONE && out->n < MAX_FRAMES) {
			struct frame *f = &out->f[out->n++];
			fuzz_require(r == TTRPC_FRAME_OK || r == TTRPC_FRAME_TOO_BIG, "ttrpc_conn_next: %d",
			             r);
			f->h = h;
			f->kind = r;
			f->payload = NULL;
			if (r == TTRPC_FRAME_TOO_BIG) {
				fuzz_require(h.length > TTRPC_MAX_MESSAGE, "a frame of %u bytes is too big",
				             h.length);
				continue;
			}
			fuzz_require(h.length <= TTRPC_MAX_MESSAGE, "a frame of %u bytes taken", h.length);
			fuzz_require(payload >= c.in.data && payload + h.length <= c.in.data + c.in.end,
			             "the payload lies outside the buffer");
			f->payload = malloc(h.length > 0 ? h.length : 1);
			fuzz_require(f->payload != NULL, "out of memory");
			memcpy(f->payload, payload, h.length);
		}
		if (out->n >= MAX_FRAMES)
			break;
	}
	ttrpc_conn_release(&c);
}

static void frames_free(struct frames *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		free(fs->f[i].payload);
	fs->n = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frames whole, pieces;

	/* 1. framing, whole and in pieces */
	read_frames(data, size, 0, &whole);
	read_frames(data, size, 1 + size % 13, &pieces);
	if (whole.n < MAX_FRAMES && pieces.n < MAX_FRAMES) {
		fuzz_require(whole.n == pieces.n, "%zu frames whole, %zu in pieces", whole.n, pieces.n);
		for (size_t i = 0; i < whole.n; i++) {
			const struct frame *a = &whole.f[i], *b = &pieces.f[i];
			fuzz_require(a->kind == b->kind && a->h.length == b->h.length &&
			                 a->h.stream_id == b->h.stream_id && a->h.type == b->h.type &&
			                 a->h.flags == b->h.flags,
			             "frame %zu differs in pieces", i);
			fuzz_require(a->kind != TTRPC_FRAME_OK ||
			                 memcmp(a->payload, b->payload, a->h.length) == 0,
			             "frame %zu: payload differs in pieces", i);
		}
	}
	/* 2. and 3. the messages */
	for (size_t i = 0; i < whole.n; i++) {
		const struct frame *f = &whole.f[i];
		if (f->kind != TTRPC_FRAME_OK)
			continue;
		if (f->h.type == TTRPC_TYPE_REQUEST)
			handle_request(f->payload, f->h.length);
		else if (f->h.type == TTRPC_TYPE_RESPONSE)
			decode_free(&ttrpc__response__descriptor, f->payload, f->h.length);
	}
	/* what `start` and `-info` read on stdin */
	decode_free(&google__protobuf__any__descriptor, data, size);
	check_bootstrap(data, size);
	frames_free(&whole);
	frames_free(&pieces);
	return 0;
}
