/* seccomp-agent: a seccomp notify agent for the integration tests (runs on
 * the host).
 *
 *   seccomp-agent SOCKET STATE_FILE [ERRNO]
 *
 * Listens on the unix stream socket SOCKET (a container's
 * .linux.seccomp.listenerPath), accepts one connection and reads, until EOF,
 * the container process state the runtime sends with the listener fd in
 * SCM_RIGHTS.  Writes the document to STATE_FILE (atomically: a test may poll
 * for it), then answers every notification of the fd:
 *   mkdir, mkdirat   fail with ERRNO (default EXDEV, 18)
 *   anything else    continue (SECCOMP_USER_NOTIF_FLAG_CONTINUE)
 * and exits 0 when the kernel reports the filter gone (no process uses it).
 * Each answer is logged on stderr: "seccomp-agent: <syscall> pid <n>: <answer>".
 * Exit status 1: a setup error, with a message on stderr.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif

#define DOC_MAX (1024 * 1024)

static int die(const char *what)
{
	fprintf(stderr, "seccomp-agent: %s: %s\n", what, strerror(errno));
	return 1;
}

static int write_file(const char *path, const char *buf, size_t len)
{
	char tmp[4096];
	int fd;
	size_t done = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	if (close(fd) < 0)
		return -1;
	return rename(tmp, path);
}

/* The document until EOF; *fd_out gets the first fd that came with it. */
static ssize_t receive(int conn, char *buf, size_t len, int *fd_out)
{
	size_t got = 0;

	*fd_out = -1;
	while (got < len - 1) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * 8)];
			struct cmsghdr align;
		} u;
		struct iovec iov = {.iov_base = buf + got, .iov_len = len - 1 - got};
		struct msghdr msg = {
		    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
		ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < nfds; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (*fd_out < 0)
					*fd_out = fd;
				else
					close(fd);
			}
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

static int answer_all(int nfd, int error)
{
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;

	if (seccomp_notify_alloc(&req, &resp) < 0)
		return die("seccomp_notify_alloc");
	for (;;) {
		struct pollfd pfd = {.fd = nfd, .events = POLLIN};
		char *name;
		bool deny;

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return die("poll");
		}
		if (!(pfd.revents & POLLIN) && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
			break; /* no process uses the filter any more */
		memset(req, 0, sizeof(*req));
		if (seccomp_notify_receive(nfd, req) < 0) {
			/* ENOENT: the caller died or was interrupted meanwhile. */
			continue;
		}
		name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
		deny = name != NULL && (strcmp(name, "mkdir") == 0 || strcmp(name, "mkdirat") == 0);
		memset(resp, 0, sizeof(*resp));
		resp->id = req->id;
		if (deny)
			resp->error = -error;
		else
			resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		if (seccomp_notify_respond(nfd, resp) < 0)
			fprintf(stderr, "seccomp-agent: %s pid %u: respond failed (the caller is gone)\n",
			        name ? name : "?", req->pid);
		else if (deny)
			fprintf(stderr, "seccomp-agent: %s pid %u: errno %d\n", name, req->pid, error);
		else
			fprintf(stderr, "seccomp-agent: %s pid %u: continue\n", name ? name : "?", req->pid);
		free(name);
	}
	seccomp_notify_free(req, resp);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int lfd, conn, nfd, error = EXDEV;
	char *doc;
	ssize_t n;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: seccomp-agent SOCKET STATE_FILE [ERRNO]\n");
		return 2;
	}
	if (argc == 4)
		error = atoi(argv[3]);
	if (strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "seccomp-agent: %s: path too long\n", argv[1]);
		return 1;
	}
	memcpy(addr.sun_path, argv[1], strlen(argv[1]) + 1);
	unlink(argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 1) < 0)
		return die(argv[1]);
	do
		conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0)
		return die("accept");
	close(lfd);
	unlink(argv[1]);

	doc = malloc(DOC_MAX);
	if (doc == NULL)
		return die("malloc");
	n = receive(conn, doc, DOC_MAX, &nfd);
	close(conn);
	if (n < 0)
		return die("receive");
	if (nfd < 0) {
		errno = EBADMSG;
		return die("no fd with the container process state");
	}
	if (write_file(argv[2], doc, (size_t)n) < 0)
		return die(argv[2]);
	free(doc);
	return answer_all(nfd, error);
}
