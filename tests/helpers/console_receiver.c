/* console-receiver: the other end of `berth create --console-socket`, as
 * containerd's shim and conmon implement it.
 *
 * usage: console-receiver SOCKET_PATH [TEXT]
 *
 * Protocol (one connection, one message):
 *
 *   message      direction                 payload             fds
 *   -----------  ------------------------  ------------------  ------------------------------
 *   pty master   runtime -> this program   any bytes (ignored)  1, the pty master (SCM_RIGHTS)
 *
 * It listens on SOCKET_PATH, accepts one connection, receives the pty master,
 * prints "received pty" on stdout, writes TEXT into the pty if given, and then
 * copies everything the pty produces to stdout until EOF or EIO (the last
 * slave fd closed). It gives up after $CONSOLE_RECEIVER_TIMEOUT seconds
 * (default 60) so that a test never hangs on it. The socket path is removed
 * before it exits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *sock_path;

static void on_alarm(int sig)
{
	static const char msg[] = "console-receiver: timed out\n";
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do */
	}
	if (sock_path)
		unlink(sock_path);
	_exit(124);
}

static int die(const char *what)
{
	fprintf(stderr, "console-receiver: %s: %s\n", what, strerror(errno));
	if (sock_path)
		unlink(sock_path);
	return 1;
}

static int receive_fd(int conn)
{
	char data[64];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = control.buf,
	    .msg_controllen = sizeof(control.buf),
	};
	ssize_t n;
	do
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int))) {
			int fd;
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
			return fd;
		}
	}
	errno = EBADMSG;
	return -1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: console-receiver SOCKET_PATH [TEXT]\n");
		return 2;
	}
	const char *timeout = getenv("CONSOLE_RECEIVER_TIMEOUT");
	signal(SIGALRM, on_alarm);
	alarm(timeout ? (unsigned)atoi(timeout) : 60);

	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "console-receiver: socket path too long: %s\n", argv[1]);
		return 1;
	}
	memcpy(addr.sun_path, argv[1], strlen(argv[1]) + 1);

	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return die("socket");
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return die(argv[1]);
	sock_path = argv[1];
	if (listen(lfd, 1) < 0)
		return die("listen");

	int conn;
	do
		conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0)
		return die("accept");
	int pty = receive_fd(conn);
	if (pty < 0)
		return die("receive pty master");
	close(conn);
	close(lfd);
	unlink(sock_path);
	sock_path = NULL;

	printf("received pty\n");
	fflush(stdout);

	if (argc == 3) {
		size_t len = strlen(argv[2]);
		if (write(pty, argv[2], len) != (ssize_t)len)
			return die("write to pty");
	}

	char buf[4096];
	for (;;) {
		ssize_t n = read(pty, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && errno == EIO))
			break;
		if (n < 0)
			return die("read from pty");
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return die("stdout");
		fflush(stdout);
	}
	close(pty);
	return 0;
}
