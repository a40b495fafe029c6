/* Unix sockets: connecting to a path, and sending bytes with an fd riding
 * along (SCM_RIGHTS), as the console socket, the sync socket and the seccomp
 * listener all do. */
#ifndef BERTH_UTIL_SOCKET_H
#define BERTH_UTIL_SOCKET_H

#include <stddef.h>

#include "error.h"

/* Connects a SOCK_STREAM unix socket to `path`; `what` names it in errors
 * ("connect to console socket `/x`: ..."). */
int socket_connect_unix(const char *path, const char *what, berth_error_t *err);
/* Sends all of buf; fd (when >= 0) goes with the first byte.  -1 with
 * errno on failure. */
int socket_send_with_fd(int sock, const void *buf, size_t len, int fd);

#endif
