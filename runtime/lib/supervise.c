#include "supervise.h"
#include "sync.h"
#include "terminal.h"
#include "util/cleanup.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

int supervise_check_exec(int sync_sock, berth_error_t *err)
{
	struct sync_msg msg;
	berth_error_t eof = NULL;

	if (sync_recv(sync_sock, &msg, NULL, &eof) < 0) {
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

/* The pty is copied in a child so that this process keeps forwarding
 * signals; the child ends when the container closes the pty. */
static pid_t start_proxy(int pty_master)
{
	pid_t pid;

	if (pty_master < 0)
		return 0;
	pid = fork();
	if (pid == 0) {
		terminal_proxy(pty_master, NULL);
		_exit(0);
	}
	close(pty_master);
	return pid;
}

static bool is_interrupt(uint32_t signo)
{
	return signo == SIGINT || signo == SIGTERM || signo == SIGHUP;
}

int supervise_wait(pid_t target, int pty_master, bool kill_on_interrupt, int *exit_status, berth_error_t *err)
{
	sigset_t all, old;
	cleanup_close int sfd = -1;
	pid_t proxy;
	int ret = 0, interrupted = 0;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	sfd = signalfd(-1, &all, SFD_CLOEXEC);
	if (sfd < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (pty_master >= 0)
			close(pty_master);
		return berth_error_sys(err, errno, "signalfd");
	}
	proxy = start_proxy(pty_master);
	for (;;) {
		struct signalfd_siginfo si;
		int status;
		pid_t pid;

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == target) {
				*exit_status = exit_status_of(status);
				if (interrupted)
					ret = berth_error_set(err, BERTH_ERR_SYSTEM, EINTR,
					                      "interrupted by SIG%s",
					                      sigabbrev_np(interrupted));
				goto done;
			}
		}
		if (pid < 0 && errno == ECHILD) {
			*exit_status = 255;
			ret = berth_error_set(err, BERTH_ERR_STATE, 0, "process %d is not our child",
			                      (int)target);
			goto done;
		}
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (kill_on_interrupt && is_interrupt(si.ssi_signo)) {
			interrupted = (int)si.ssi_signo;
			kill(target, SIGKILL);
		} else if (si.ssi_signo != SIGCHLD && si.ssi_signo != SIGWINCH) {
			kill(target, (int)si.ssi_signo);
		}
	}
done:
	if (proxy > 0)
		while (waitpid(proxy, NULL, 0) < 0 && errno == EINTR)
			;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}
