/* create and run: the public entry points around create.c. */
#include "berth/berth.h"
#include "create.h"
#include "supervise.h"
#include "sync.h"
#include "util/cleanup.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

int berth_container_create(const struct berth_context *ctx, const struct berth_create_options *opts,
                           berth_error_t *err)
{
	struct create_ctx cc = {.ctx = ctx, .opts = opts};
	int ret = create_container(&cc, err);
	create_ctx_release(&cc);
	return ret;
}

/* init's word on why it went away, if it sent one: the better error. */
static int why_init_failed(int sync_rt, berth_error_t *err)
{
	berth_error_t why = NULL;

	if (supervise_check_exec(sync_rt, &why) < 0) {
		berth_error_free(err);
		*err = why;
	}
	return -1;
}

/* run's start: init is told over the sync socket (run made no exec fifo),
 * and the container is recorded while init executes the program.  EOF on
 * the socket says the program runs, then the poststart hooks run; a
 * SYNC_ERROR instead is init's word on why it did not. */
static int start_for_run(const struct berth_context *ctx, struct create_ctx *cc, berth_error_t *err)
{
	if (sync_send(cc->sync_rt, SYNC_START, 0, NULL, -1, NULL) < 0) {
		berth_error_set(err, BERTH_ERR_STATE, 0,
		                "start container `%s`: container init exited before start", cc->c->id);
		return why_init_failed(cc->sync_rt, err);
	}
	if (create_record(cc, err) < 0) {
		berth_error_prefix(err, "create container `%s`", cc->c->id);
		return why_init_failed(cc->sync_rt, err);
	}
	if (supervise_check_exec(cc->sync_rt, err) < 0)
		return -1;
	lifecycle_poststart(ctx, cc->c);
	return 0;
}

/* run holds the container it created (spec included) through start and
 * delete; the lock is let go while the container runs, so that other
 * commands (kill, exec, state) can reach it meanwhile. */
int berth_container_run(const struct berth_context *ctx, const struct berth_create_options *opts,
                        int *exit_status, berth_error_t *err)
{
	struct create_ctx cc = {.ctx = ctx, .opts = opts, .for_run = true};
	struct container *c;
	int ret;

	*exit_status = 0;
	if (create_container(&cc, err) < 0) {
		create_ctx_release(&cc);
		return -1;
	}
	c = cc.c;
	c->spec = cc.spec; /* borrowed: handed back before release */
	ret = start_for_run(ctx, &cc, err);
	if (ret == 0 && opts->detach)
		goto out;
	if (ret == 0) {
		/* an option added after the first release: read only if given */
		bool kill_on_interrupt =
		    opts->size >= offsetof(struct berth_create_options, kill_on_interrupt) +
		                      sizeof(opts->kill_on_interrupt) &&
		    opts->kill_on_interrupt;
		flock(c->dir_fd, LOCK_UN);
		ret = supervise_wait(cc.init_pid, cc.pty_master, kill_on_interrupt, exit_status, err);
		cc.pty_master = -1;
		while (flock(c->dir_fd, LOCK_EX) < 0 && errno == EINTR)
			;
		/* deleted also after an interrupted wait: its error is kept */
		if (ret == 0)
			ret = lifecycle_delete(ctx, c, true, err);
		else
			lifecycle_delete(ctx, c, true, NULL);
	} else {
		lifecycle_delete(ctx, c, true, NULL);
	}
out:
	c->spec = NULL;
	create_ctx_release(&cc);
	return ret;
}
