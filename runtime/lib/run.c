/* create and run: the public entry points around create.c. */
#include "berth/berth.h"
#include "create.h"
#include "sync.h"
#include "terminal.h"
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

/* After start: EOF on the sync socket means the program was executed; a
 * message is the error of a failed execve or startContainer hook. */
static int check_exec(struct create_ctx *cc, berth_error_t *err)
{
	struct sync_msg msg;
	berth_error_t eof = NULL;

	if (sync_recv(cc->sync_rt, &msg, NULL, &eof) < 0) {
		berth_error_free(&eof);
		return 0;
	}
	if (msg.type == SYNC_ERROR)
		return berth_error_set(err, msg.value == ENOENT ? BERTH_ERR_NOT_FOUND : BERTH_ERR_SYSTEM, 0,
		                       "%s", msg.text);
	return 0;
}

static int exit_status_of(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Forwards signals to init and reaps children until init exits. */
static int wait_forwarding(struct create_ctx *cc, int *exit_status, berth_error_t *err)
{
	sigset_t all, old;
	cleanup_close int sfd = -1;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	sfd = signalfd(-1, &all, SFD_CLOEXEC);
	if (sfd < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return berth_error_sys(err, errno, "signalfd");
	}
	for (;;) {
		struct signalfd_siginfo si;
		int status;
		pid_t pid;

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == cc->init_pid) {
				*exit_status = exit_status_of(status);
				sigprocmask(SIG_SETMASK, &old, NULL);
				return 0;
			}
		}
		if (pid < 0 && errno == ECHILD) {
			*exit_status = 255;
			sigprocmask(SIG_SETMASK, &old, NULL);
			return berth_error_set(err, BERTH_ERR_STATE, 0, "container init is not our child");
		}
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo != SIGCHLD && si.ssi_signo != SIGWINCH)
			kill(cc->init_pid, (int)si.ssi_signo);
	}
}

/* With a terminal and no console socket, the pty is copied to our stdio in
 * a child while we wait, so that signals are still forwarded. */
static pid_t start_proxy(struct create_ctx *cc)
{
	pid_t pid;

	if (cc->pty_master < 0)
		return 0;
	pid = fork();
	if (pid == 0) {
		terminal_proxy(cc->pty_master, NULL);
		_exit(0);
	}
	close(cc->pty_master);
	cc->pty_master = -1;
	return pid;
}

int berth_container_run(const struct berth_context *ctx, const struct berth_create_options *opts,
                        int *exit_status, berth_error_t *err)
{
	struct create_ctx cc = {.ctx = ctx, .opts = opts, .for_run = true};
	pid_t proxy;
	int ret;

	*exit_status = 0;
	if (create_container(&cc, err) < 0) {
		create_ctx_release(&cc);
		return -1;
	}
	ret = berth_container_start(ctx, opts->id, err);
	if (ret == 0)
		ret = check_exec(&cc, err);
	if (ret < 0 || opts->detach) {
		if (ret < 0)
			berth_container_delete(ctx, opts->id, true, NULL);
		create_ctx_release(&cc);
		return ret;
	}
	proxy = start_proxy(&cc);
	ret = wait_forwarding(&cc, exit_status, err);
	if (proxy > 0)
		while (waitpid(proxy, NULL, 0) < 0 && errno == EINTR)
			;
	create_ctx_release(&cc);
	if (ret == 0)
		ret = berth_container_delete(ctx, opts->id, true, err);
	return ret;
}
