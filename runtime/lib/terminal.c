#include "terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

int terminal_setup(const struct oci_process *process, berth_error_t *err)
{
	cleanup_close int master = -1, slave = -1;
	char name[64];

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return berth_error_sys(err, errno, "open `/dev/ptmx`");
	if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
		return berth_error_sys(err, errno, "unlock pty");
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return berth_error_sys(err, errno, "open `%s`", name);
	if (process->has_console_size) {
		struct winsize ws = {.ws_row = (unsigned short)process->console_size.height,
		                     .ws_col = (unsigned short)process->console_size.width};
		if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
			return berth_error_sys(err, errno, "set console size");
	}
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return berth_error_sys(err, errno, "make `%s` the controlling terminal", name);
	for (int fd = 0; fd < 3; fd++) {
		if (dup2(slave, fd) < 0)
			return berth_error_sys(err, errno, "dup pty to fd %d", fd);
	}
	return steal_fd(&master);
}

int terminal_bind_console(int master, berth_error_t *err)
{
	char name[64], target[64];
	cleanup_close int fd = -1;

	if (ptsname_r(master, name, sizeof(name)) != 0)
		return berth_error_sys(err, errno, "pty name");
	fd = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0 && errno != EEXIST)
		return berth_error_sys(err, errno, "create `/dev/console`");
	if (fd >= 0)
		close(fd);
	/* Mount through an fd of the node itself, never through a symlink. */
	fd = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_error_sys(err, errno, "open `/dev/console`");
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	if (mount(name, target, NULL, MS_BIND, NULL) < 0)
		return berth_error_sys(err, errno, "bind `%s` to `/dev/console`", name);
	return 0;
}

int terminal_connect_socket(const char *path, berth_error_t *err)
{
	return socket_connect_unix(path, "console socket", err);
}

int terminal_send_master(int sock, int master, berth_error_t *err)
{
	/* The payload is the pty's name, as runc sends it. */
	static const char name[] = "/dev/ptmx";

	if (socket_send_with_fd(sock, name, sizeof(name) - 1, master) < 0)
		return berth_error_sys(err, errno, "send pty to console socket");
	return 0;
}

/* Copies what is readable on `from` to `to`; returns bytes copied, 0 at EOF. */
static ssize_t pump(int from, int to)
{
	char buf[8192];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n <= 0)
		return n < 0 && errno == EINTR ? 1 : (n < 0 ? -1 : 0);
	if (fs_write_all(to, buf, (size_t)n) < 0)
		return -1;
	return n;
}

int terminal_proxy(int master, berth_error_t *err)
{
	struct termios saved, raw;
	bool restore = false;
	struct pollfd pfd[2] = {{.fd = master, .events = POLLIN}, {.fd = 0, .events = POLLIN}};

	if (isatty(0) && tcgetattr(0, &saved) == 0) {
		struct winsize ws;
		raw = saved;
		cfmakeraw(&raw);
		raw.c_oflag = saved.c_oflag; /* keep output processing: the pty does its own */
		if (tcsetattr(0, TCSANOW, &raw) == 0)
			restore = true;
		if (ioctl(0, TIOCGWINSZ, &ws) == 0)
			ioctl(master, TIOCSWINSZ, &ws);
	}
	for (;;) {
		int r = poll(pfd, 2, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (pump(master, 1) <= 0)
				break; /* EIO: the container closed its side */
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (pump(0, master) <= 0)
				pfd[1].fd = -1; /* our stdin ended; keep copying output */
		}
	}
	if (restore)
		tcsetattr(0, TCSANOW, &saved);
	(void)err;
	return 0;
}
