/* The foreground side of `run` and `exec`: learn whether the program was
 * executed, then wait for it while forwarding signals and copying its pty. */
#ifndef BERTH_SUPERVISE_H
#define BERTH_SUPERVISE_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

/* Reads the sync socket after the child was let go: EOF means execve
 * succeeded (the child's end is close-on-exec), SYNC_ERROR carries why not. */
int supervise_check_exec(int sync_sock, berth_error_t *err);
/* Waits for `pid` (our child, or adopted as subreaper) to exit, forwarding
 * every signal we get to it; with pty_master >= 0, copies it to our stdio
 * meanwhile (and closes it).  *exit_status: the exit code, 128+signal when
 * killed.  With kill_on_interrupt, SIGINT, SIGTERM and SIGHUP kill `pid`
 * instead, and the wait fails with "interrupted" once it is gone. */
int supervise_wait(pid_t pid, int pty_master, bool kill_on_interrupt, int *exit_status, berth_error_t *err);

#endif
