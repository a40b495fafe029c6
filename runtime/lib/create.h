/* Shared between the runtime side of `create` (create.c) and the container's
 * init (init.c), which starts as a copy of the runtime's memory. */
#ifndef BERTH_CREATE_H
#define BERTH_CREATE_H

#include <stdbool.h>
#include <sys/types.h>

#include "berth/berth.h"
#include "cgroup.h"
#include "namespaces.h"
#include "rootfs.h"
#include "seccomp.h"
#include "state.h"

struct create_ctx {
	const struct berth_context *ctx;
	const struct berth_create_options *opts;
	struct container *c;
	struct cgroup *cgroup;
	bool cgroup_owned;              /* ours to remove if create fails */
	struct seccomp_filter *seccomp; /* compiled before the clone; NULL: none */
	struct oci_spec *spec;
	struct ns_plan plan;
	struct rootfs_options rootfs;
	int *idmap_fds;         /* id-mapped mount trees, made before the clone */
	bool for_run;           /* `run`: keep the sync socket to learn whether exec worked */
	bool init_unshares_net; /* cloned without CLONE_NEWNET: init unshares it (see spawn) */
	int sync_rt;            /* the runtime's end of the sync socket */
	int sync_init;          /* init's end */
	int fifo_fd;            /* O_PATH fd of exec.fifo, for init; -1 for run */
	int console_sock;       /* connected console socket, or -1 */
	unsigned int extra_fds; /* LISTEN_FDS + --preserve-fds: fds 3.. kept for the container */
	unsigned int listen_fds;
	pid_t init_pid; /* host view */
	int pty_master; /* run with a terminal and no console socket */
};

/* Runs in the child; never returns. `fast` tells that it was cloned with
 * every namespace at once (it then waits for its id maps itself). */
__attribute__((noreturn)) void init_main(struct create_ctx *cc, bool fast);
/* Runs in the stage-1 child of the slow path; never returns. */
__attribute__((noreturn)) void init_stage1(struct create_ctx *cc);

/* Default dispositions and an empty mask for every signal. */
void signals_reset(void);
/* Makes fds[0..2] (when >= 0) the process's stdin, stdout and stderr. */
int stdio_from(const int fds[3], berth_error_t *err);
/* The whole of `create`; on success cc->c holds the container and its init
 * waits on the fifo, or (for run) for SYNC_START on cc->sync_rt, which is
 * still open, and the container is identified but not recorded yet (create_record). */
int create_container(struct create_ctx *cc, berth_error_t *err);
/* init's pid and start time (which tell it from a later process with the
 * same pid) into cc->c: read before init may run the program, which may
 * exit at once. */
int create_identify_init(struct create_ctx *cc, berth_error_t *err);
/* state.json with init's pid, and the pid file. */
int create_record(struct create_ctx *cc, berth_error_t *err);
void create_ctx_release(struct create_ctx *cc);
/* The state document for hooks, at the given status. */
char *create_hook_state(const struct create_ctx *cc, enum container_status status, berth_error_t *err);

#endif
