/* in-pty: run a command with a new pty as its controlling terminal and
 * stdio, and copy what the pty shows to stdout.
 *
 * usage: in-pty COMMAND [ARG...]
 *
 * Unlike script(1) it never writes into the pty: script sends the terminal's
 * EOF character when its own stdin ends, and whether the program sees it
 * depends on whether it has switched the terminal to raw mode yet, a race
 * that made tests of `ctr run --tty` fail on slow machines. Here the
 * program's input simply never ends. It copies output until the last slave
 * fd is closed (EIO) or the command has exited and the pty stayed quiet for
 * a moment, and exits with the command's status (128+N for a signal). It
 * gives up after $IN_PTY_TIMEOUT seconds (default 90) so that a test never
 * hangs on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static pid_t child;

static void on_alarm(int sig)
{
	static const char msg[] = "in-pty: timed out\n";
	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do */
	}
	if (child > 0)
		kill(child, SIGKILL);
	_exit(124);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

static void run_child(int master, char **argv)
{
	const char *slave_name = ptsname(master);
	int slave;

	if (setsid() < 0 || !slave_name)
		_exit(126);
	slave = open(slave_name, O_RDWR);
	if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
		_exit(126);
	if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		_exit(126);
	if (slave > 2)
		close(slave);
	execvp(argv[0], argv);
	fprintf(stderr, "in-pty: %s: %m\n", argv[0]);
	_exit(127);
}

int main(int argc, char **argv)
{
	const char *timeout_env = getenv("IN_PTY_TIMEOUT");
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	int master, status = 0, exited = 0;
	char buf[4096];

	if (argc < 2) {
		fprintf(stderr, "usage: in-pty COMMAND [ARG...]\n");
		return 2;
	}
	signal(SIGALRM, on_alarm);
	alarm(timeout_env ? (unsigned)atoi(timeout_env) : 90);

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
		perror("in-pty: pty");
		return 1;
	}
	ioctl(master, TIOCSWINSZ, &ws);
	child = fork();
	if (child < 0) {
		perror("in-pty: fork");
		return 1;
	}
	if (child == 0)
		run_child(master, argv + 1);

	for (;;) {
		struct pollfd pfd = {.fd = master, .events = POLLIN};
		/* while the command runs, wait for output as long as it takes;
		 * once it has exited, what a grandchild still writes gets 200 ms */
		int ready = poll(&pfd, 1, exited ? 200 : 100);
		if (ready < 0 && errno != EINTR)
			break;
		if (ready > 0) {
			ssize_t n = read(master, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break; /* EIO: no slave fd is open any more */
			if (write_all(1, buf, (size_t)n) < 0)
				break;
			continue;
		}
		if (exited)
			break;
		if (waitpid(child, &status, WNOHANG) == child)
			exited = 1;
	}
	if (!exited && waitpid(child, &status, 0) < 0)
		return 1;
	return exit_code(status);
}
