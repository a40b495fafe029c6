/* Terminals: the container's pty, made by init inside the container (so it
 * belongs to the container's devpts), and the console socket protocol of
 * runc: the pty master is sent over a unix socket with SCM_RIGHTS, with the
 * pty's name as the payload (containerd and conmon receive it). */
#ifndef BERTH_TERMINAL_H
#define BERTH_TERMINAL_H

#include "runtime_spec.h"

/* In init, after pivot_root: opens a pty, makes its slave the controlling
 * terminal and stdin/stdout/stderr, sets consoleSize; returns the master fd. */
int terminal_setup(const struct oci_process *process, berth_error_t *err);
/* init only: the pty's slave bound onto /dev/console, as runc does. */
int terminal_bind_console(int master, berth_error_t *err);
/* Connects to the console socket at `path`. */
int terminal_connect_socket(const char *path, berth_error_t *err);
/* Sends the pty master over a connected console socket. */
int terminal_send_master(int sock, int master, berth_error_t *err);
/* run without a console socket: copies between our stdio and the master
 * until the container closes it; puts our terminal in raw mode meanwhile. */
int terminal_proxy(int master, berth_error_t *err);

#endif
