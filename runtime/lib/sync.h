/* The sync socket between the runtime and the container's init.
 *
 * One SOCK_SEQPACKET socketpair, created by `create` before the clone; every
 * message is one struct sync_msg (plus at most one fd in SCM_RIGHTS).
 *
 * | message           | direction        | value / payload           | fd        | reply            |
 * |-------------------|------------------|---------------------------|-----------|------------------|
 * | SYNC_NETNS        | init -> rt       | network namespace made    |           |                  |
 * |                   |                  | (v1/hybrid fast path)     |           |                  |
 * | SYNC_GO           | rt -> child      | in the cgroup (fast path: |           |                  |
 * |                   |                  | id maps written): go on   |           |                  |
 * | SYNC_USERNS_MAP   | stage-1 -> rt    | pid whose maps to write   |           | SYNC_USERNS_DONE |
 * | SYNC_USERNS_DONE  | rt -> stage-1    | -                         |           |                  |
 * | SYNC_INIT_PID     | stage-1 -> rt    | pid of init (host view)   |           |                  |
 * | SYNC_HOOKS        | init -> rt       | run prestart+createRuntime|           | SYNC_HOOKS_DONE  |
 * | SYNC_HOOKS_DONE   | rt -> init       | -                         |           |                  |
 * | SYNC_PTY          | init -> rt       | -                         | pty master|                  |
 * | SYNC_SECCOMP      | init -> rt       | -                         | notify fd | SYNC_SECCOMP_DONE|
 * | SYNC_SECCOMP_DONE | rt -> init       | sent to listenerPath      |           |                  |
 * | SYNC_READY        | init -> rt       | set up, waiting on fifo   |           |                  |
 * |                   |                  | (run: for SYNC_START)     |           |                  |
 * | SYNC_START        | rt -> init       | run only: execute the     |           |                  |
 * |                   |                  | program (no exec fifo)    |           |                  |
 * | SYNC_ERROR        | init/stage-1->rt | errno; text: the message  |           |                  |
 *
 * The child (init, or stage-1) waits for SYNC_GO before anything else, so
 * that it runs nothing outside the container's cgroup, except, on the fast
 * path with v1 or hybrid cgroups, the unshare of its network namespace
 * (see create.c, spawn), which it reports with SYNC_NETNS: the runtime moves
 * it into the cgroup only then, so that the namespace is always charged to
 * the runtime's cgroup, as when the clone makes it.
 * stage-1 exists only on the slow path (namespaces joined by path, or a new
 * time namespace): it joins and unshares, then forks init.  After SYNC_READY
 * init keeps its end open (close-on-exec): EOF there means the user program
 * was executed, a SYNC_ERROR means execve failed (seen by `run`).
 */
#ifndef BERTH_SYNC_H
#define BERTH_SYNC_H

#include <stdint.h>

#include "util/error.h"

enum sync_type {
	SYNC_GO = 1,
	SYNC_NETNS,
	SYNC_USERNS_MAP,
	SYNC_USERNS_DONE,
	SYNC_INIT_PID,
	SYNC_HOOKS,
	SYNC_HOOKS_DONE,
	SYNC_PTY,
	SYNC_SECCOMP,
	SYNC_SECCOMP_DONE,
	SYNC_READY,
	SYNC_START,
	SYNC_ERROR,
};

#define SYNC_TEXT_MAX 3072

struct sync_msg {
	uint32_t type;
	int32_t value; /* a pid, or the errno of SYNC_ERROR */
	char text[SYNC_TEXT_MAX];
};

/* Sends a message with an optional fd (-1: none). */
int sync_send(int sock, enum sync_type type, int32_t value, const char *text, int fd, berth_error_t *err);
/* Receives one message; *fd_out (may be NULL) gets a passed fd or -1.
 * Returns 0, or -1; EOF is an error with errnum 0 and code BERTH_ERR_STATE. */
int sync_recv(int sock, struct sync_msg *msg, int *fd_out, berth_error_t *err);
/* Receives and checks the type; a SYNC_ERROR becomes *err. */
int sync_expect(int sock, enum sync_type type, struct sync_msg *msg, berth_error_t *err);
/* Sends an error (its message and errno) to the runtime; best effort. */
void sync_send_error(int sock, berth_error_t *err);

#endif
