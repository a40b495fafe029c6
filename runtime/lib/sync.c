#include "sync.h"
#include "util/cleanup.h"
#include "util/socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/uio.h>

int sync_send(int sock, enum sync_type type, int32_t value, const char *text, int fd, berth_error_t *err)
{
	struct sync_msg msg = {.type = type, .value = value};
	size_t len = offsetof(struct sync_msg, text);

	if (text != NULL) {
		size_t n = strnlen(text, SYNC_TEXT_MAX - 1);
		memcpy(msg.text, text, n);
		msg.text[n] = '\0';
		len += n + 1;
	}
	if (socket_send_with_fd(sock, &msg, len, fd) < 0)
		return berth_error_sys(err, errno, "send sync message %d", (int)type);
	return 0;
}

int sync_recv(int sock, struct sync_msg *msg, int *fd_out, berth_error_t *err)
{
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof(*msg)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr mh = {0};
	struct cmsghdr *cm;
	ssize_t n;

	if (fd_out != NULL)
		*fd_out = -1;
	memset(msg, 0, offsetof(struct sync_msg, text) + 1);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return berth_error_sys(err, errno, "receive sync message");
	if (n == 0)
		return berth_error_set(err, BERTH_ERR_STATE, 0, "container init exited unexpectedly");
	if ((size_t)n < offsetof(struct sync_msg, text))
		return berth_error_invalid(err, "short sync message (%zd bytes)", n);
	msg->text[SYNC_TEXT_MAX - 1] = '\0';
	if ((size_t)n == offsetof(struct sync_msg, text))
		msg->text[0] = '\0';
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
			if (fd_out != NULL)
				*fd_out = fd;
			else
				close(fd);
		}
	}
	return 0;
}

int sync_expect(int sock, enum sync_type type, struct sync_msg *msg, berth_error_t *err)
{
	if (sync_recv(sock, msg, NULL, err) < 0)
		return -1;
	if (msg->type == SYNC_ERROR)
		return berth_error_set(err, msg->value == ENOENT ? BERTH_ERR_NOT_FOUND : BERTH_ERR_SYSTEM, 0,
		                       "%s", msg->text);
	if (msg->type != (uint32_t)type)
		return berth_error_invalid(err, "unexpected sync message %u (wanted %d)", msg->type,
		                           (int)type);
	return 0;
}

void sync_send_error(int sock, berth_error_t *err)
{
	const char *text = (err != NULL && *err != NULL) ? (*err)->msg : "unknown error";
	int errnum = (err != NULL && *err != NULL) ? (*err)->errnum : 0;
	sync_send(sock, SYNC_ERROR, errnum, text, -1, NULL);
}
