/* create and run: the public entry points around create.c. */
#include "berth/berth.h"
#include "create.h"
#include "supervise.h"
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
	ret = lifecycle_start(ctx, c, err);
	if (ret < 0) {
		/* init may have said why it went away: that is the better error. */
		berth_error_t why = NULL;
		if (supervise_check_exec(cc.sync_rt, &why) < 0) {
			berth_error_free(err);
			*err = why;
		}
	} else {
		ret = supervise_check_exec(cc.sync_rt, err);
	}
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
