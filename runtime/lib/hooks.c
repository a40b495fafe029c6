#include "hooks.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Child: stdin from the pipe, then exec; never returns. */
static void exec_hook(const struct oci_hook *hook, int stdin_fd)
{
	static char *empty_env[] = {NULL};
	char *default_argv[] = {hook->path, NULL};

	if (dup2(stdin_fd, 0) < 0)
		_exit(127);
	execve(hook->path, hook->args_len > 0 ? hook->args : default_argv,
	       hook->env_len > 0 ? hook->env : empty_env);
	_exit(127);
}

/* Waits for the hook within its timeout (seconds, 0: none); kills it then. */
static int wait_hook(pid_t pid, int timeout, int *status, bool *timed_out)
{
	cleanup_close int pidfd = pidfd_open_(pid);

	*timed_out = false;
	if (timeout > 0 && pidfd >= 0) {
		struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
		struct timespec start, now;
		clock_gettime(CLOCK_MONOTONIC, &start);
		for (;;) {
			long left;
			int r;
			clock_gettime(CLOCK_MONOTONIC, &now);
			left = timeout * 1000L - ((now.tv_sec - start.tv_sec) * 1000L +
			                          (now.tv_nsec - start.tv_nsec) / 1000000L);
			if (left <= 0) {
				*timed_out = true;
				kill(pid, SIGKILL);
				break;
			}
			r = poll(&pfd, 1, (int)left);
			if (r > 0)
				break;
			if (r < 0 && errno != EINTR)
				break;
		}
	}
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

static int run_one(const struct oci_hook *hook, const char *kind, const char *state_json, berth_error_t *err)
{
	int pipefd[2];
	pid_t pid;
	int status = 0;
	bool timed_out;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return berth_error_sys(err, errno, "%s hook `%s`: pipe", kind, hook->path);
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return berth_error_sys(err, errno, "%s hook `%s`: fork", kind, hook->path);
	}
	if (pid == 0)
		exec_hook(hook, pipefd[0]);
	close(pipefd[0]);
	/* A hook that does not read its stdin must not make us fail or block:
	 * the state fits the pipe buffer, and EPIPE is ignored. */
	{
		struct sigaction ign = {.sa_handler = SIG_IGN}, old;
		sigaction(SIGPIPE, &ign, &old);
		fs_write_all(pipefd[1], state_json, strlen(state_json));
		close(pipefd[1]);
		sigaction(SIGPIPE, &old, NULL);
	}
	if (wait_hook(pid, hook->timeout.set ? hook->timeout.value : 0, &status, &timed_out) < 0)
		return berth_error_sys(err, errno, "%s hook `%s`: wait", kind, hook->path);
	if (timed_out)
		return berth_error_set(err, BERTH_ERR_SYSTEM, 0, "%s hook `%s`: timed out after %d s", kind,
		                       hook->path, hook->timeout.value);
	if (WIFSIGNALED(status))
		return berth_error_set(err, BERTH_ERR_SYSTEM, 0, "%s hook `%s`: killed by signal %d", kind,
		                       hook->path, WTERMSIG(status));
	if (WEXITSTATUS(status) == 127 && access(hook->path, X_OK) < 0)
		return berth_error_sys(err, errno, "%s hook `%s`", kind, hook->path);
	if (WEXITSTATUS(status) != 0)
		return berth_error_set(err, BERTH_ERR_SYSTEM, 0, "%s hook `%s`: exit status %d", kind,
		                       hook->path, WEXITSTATUS(status));
	return 0;
}

int hooks_run(const struct oci_hook *hooks, size_t n, const char *kind, const char *state_json,
              berth_error_t *err)
{
	for (size_t i = 0; i < n; i++) {
		if (run_one(&hooks[i], kind, state_json, err) < 0)
			return -1;
	}
	return 0;
}
