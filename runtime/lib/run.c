/* create and run: the public entry points around create.c. */
#include "berth/berth.h"
#include "create.h"
#include "supervise.h"
#include "util/cleanup.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
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

int berth_container_run(const struct berth_context *ctx, const struct berth_create_options *opts,
                        int *exit_status, berth_error_t *err)
{
	struct create_ctx cc = {.ctx = ctx, .opts = opts, .for_run = true};
	int ret;

	*exit_status = 0;
	if (create_container(&cc, err) < 0) {
		create_ctx_release(&cc);
		return -1;
	}
	ret = berth_container_start(ctx, opts->id, err);
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
	if (ret < 0 || opts->detach) {
		if (ret < 0)
			berth_container_delete(ctx, opts->id, true, NULL);
		create_ctx_release(&cc);
		return ret;
	}
	ret = supervise_wait(cc.init_pid, cc.pty_master, exit_status, err);
	cc.pty_master = -1;
	create_ctx_release(&cc);
	if (ret == 0)
		ret = berth_container_delete(ctx, opts->id, true, err);
	return ret;
}
