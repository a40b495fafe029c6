/* What a build killed by a signal leaves behind (RUN containers still
 * running, their cgroups, its temporary directory) is cleaned up by a small
 * process of its own, the reaper; see the table in reaper.c. */
#ifndef BERTH_BUILDER_REAPER_H
#define BERTH_BUILDER_REAPER_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

/* Starts the reaper of this build: should this process die before
 * reaper_stop, the reaper deletes the containers of state_root, unmounts
 * what is mounted under dir and removes dir.  It keeps the fds it inherits
 * (the cache lock among them) until it is done. */
int reaper_start(const char *state_root, const char *dir, pid_t *pid, berth_error_t *err);
/* The build ended on its own: the reaper exits without doing anything. */
void reaper_stop(pid_t pid);
/* In a child process of the build (a parallel stage): die with the build. */
void reaper_follow_parent(void);
/* Deletes (with force) every container whose state is under state_root:
 * what a build that died left running.  Missing state_root: nothing. */
void reaper_delete_containers(const char *state_root);

#endif
