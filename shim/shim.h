/* containerd-shim-berth-v2: the server's shared state.
 *
 * One single-threaded event loop (server.c) waits in epoll on: the listening
 * ttrpc socket and its clients, a signalfd (SIGCHLD: reap; SIGTERM/SIGINT:
 * exit), the stdio copiers (stdio.c) and the events connection to containerd
 * (events.c).  The task service (service.c) runs each RPC to completion,
 * except Wait, whose reply is parked until the process is reaped.
 */
#ifndef BERTH_SHIM_SHIM_H
#define BERTH_SHIM_SHIM_H

#include "berth/berth.h"
#include "options.h"
#include "ttrpc.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct shim;

/* Everything epoll watches starts with one of these. */
struct watch {
	void (*fn)(struct shim *s, struct watch *w, uint32_t events);
};

/* Values of containerd.v1.types.Status. */
enum proc_status { PROC_CREATED = 1, PROC_RUNNING = 2, PROC_STOPPED = 3, PROC_PAUSED = 4 };

/* One direction of copying: src -> buf -> dst (non-blocking). */
struct copier {
	struct watch src_w, dst_w;
	struct process *p;
	int src, dst;
	bool src_watched, dst_watched;
	bool eof;           /* src ended: close dst once buf is written */
	bool close_src_eof; /* src is ours alone (not shared with another copier) */
	bool tty_eof;       /* dst is a pty master: write the EOF character at the end */
	char last;          /* the last byte read from src */
	char *buf;
	size_t start, end;
};

struct stdio {
	char *stdin_path, *stdout_path, *stderr_path;
	bool terminal;
	int stdin_hold; /* our write end of the stdin fifo: EOF only on CloseIO */
	int master;     /* the pty master (terminal) */
	int child[3];   /* the process's ends until it is spawned */
	int log_pidfd;  /* the binary:// logging binary (-1: none) */
	struct copier in, out, err;
};

struct container;

struct process {
	struct process *next;
	struct container *c;
	char *exec_id;   /* NULL: the container's init */
	char *spec_json; /* an exec's process.json until Start */
	pid_t pid;
	enum proc_status status;
	bool exited;
	uint32_t exit_status;
	struct timespec exited_at;
	struct stdio io;
};

struct container {
	struct container *next;
	char *id, *bundle, *rootfs;
	char *state_root; /* the berth --root for this namespace */
	struct shim_options opts;
	int log_fd; /* <bundle>/log, containerd's copy of the shim's log for this task (-1: none) */
	struct berth_context ctx;
	bool rootfs_mounted;
	struct berth_events *events; /* OOM kills, until init exits (NULL: none) */
	struct watch oom_w;
	struct process init;
	struct process *execs;
};

struct client {
	struct watch w;
	struct client *next;
	struct ttrpc_conn conn;
	bool out_watched;
};

/* A Wait whose reply waits for the process's exit. */
struct pending_wait {
	struct pending_wait *next;
	struct client *cl;
	uint32_t stream;
	struct process *p;
};

struct event;

struct publisher {
	struct watch w;
	int fd;         /* connection to $TTRPC_ADDRESS, -1 when none */
	bool in_flight; /* the head event was sent, its reply not yet read */
	uint32_t next_stream;
	unsigned failures; /* consecutive connection failures */
	struct timespec retry_at;
	struct ttrpc_conn conn;
	struct event *head, *tail;
};

struct shim {
	const char *ns, *id, *address, *publish_binary, *bundle, *ttrpc_address, *socket_path;
	bool debug;
	int epfd, sigfd, listen_fd;
	struct watch listen_w, sig_w;
	struct client *clients;
	bool had_client;
	struct container *containers;
	/* The container whose <bundle>/log is stderr (NULL: start's bundle,
	 * before its container exists); when it goes, another one's takes
	 * over, so that a grouped shim's log outlives its first container. */
	struct container *log_owner;
	struct pending_wait *waits;
	struct publisher pub;
	bool quit;
	/* Records freed after the current batch of epoll events, which may
	 * still point at them. */
	void **dead;
	size_t n_dead, cap_dead;
};

/* ---- server.c ---- */
enum { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };
void shim_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void shim_log_set_debug(bool debug);
/* Sends the log from now on to fd (a <bundle>/log fifo). */
void shim_log_to(int fd);
/* The libberth log callback. */
void shim_berth_log(void *data, enum berth_log_level level, const char *msg);
int shim_watch(struct shim *s, int fd, uint32_t events, struct watch *w);
int shim_rewatch(struct shim *s, int fd, uint32_t events, struct watch *w);
void shim_unwatch(struct shim *s, int fd);
/* Sends the reply to one request (code TTRPC_OK: resp, else the status). */
void shim_reply(struct shim *s, struct client *cl, uint32_t stream, int code, const char *message,
                const ProtobufCMessage *resp);
int shim_serve(struct shim *s);
/* Frees p once the current batch of events is handled. */
void shim_defer_free(struct shim *s, void *p);

/* ---- service.c ---- */
void service_dispatch(struct shim *s, struct client *cl, uint32_t stream, const char *method,
                      const uint8_t *payload, size_t len);
/* A child was reaped with wait status `status`. */
void service_reaped(struct shim *s, pid_t pid, int status);
void service_client_gone(struct shim *s, struct client *cl);

/* ---- stdio.c ---- */
/* Opens the client's fifos/files and the process's ends (io->child). */
int stdio_open(struct shim *s, struct process *p, berth_error_t *err);
/* After the spawn: closes the process's ends and starts copying; master is
 * the pty master received over the console socket (-1 without a terminal). */
int stdio_start(struct shim *s, struct process *p, int master);
void stdio_close_stdin(struct shim *s, struct process *p);
/* The process exited: no more input. */
void stdio_exited(struct shim *s, struct process *p);
/* Closes everything (after a last drain of the output pipes). */
void stdio_release(struct shim *s, struct process *p);
/* A listening console socket next to the shim's socket; path_out is freed
 * by the caller. */
int stdio_console_listen(const struct shim *s, char **path_out, berth_error_t *err);
/* Takes the pty master that the runtime sent to the console socket. */
int stdio_console_receive(int listen_fd, berth_error_t *err);

/* ---- events.c ---- */
/* Queues an event (a containerd.events message) for containerd. */
void events_publish(struct shim *s, const char *topic, const char *type_url, const ProtobufCMessage *msg);
/* The loop's timeout (ms) for the next retry, -1 when none is due. */
int events_timeout(struct shim *s);
/* Sends what can be sent (called after every loop turn). */
void events_pump(struct shim *s);
/* Delivers what is queued before the shim exits (bounded wait). */
void events_drain(struct shim *s, int timeout_ms);

#endif
