/* berth-build's progress display (--progress).
 *
 *  - plain: one line when a step starts (`Dockerfile:3: RUN make`), or one
 *    line `... (cached)` for a cache hit, the RUN output as it comes, and
 *    `Dockerfile:3: DONE 1.2s` (or `ERROR 1.2s`) when the step ends, as
 *    BuildKit's plain progress does; a summary line at the end;
 *  - tty: a renderer process owns the terminal and redraws a status of the
 *    running steps (elapsed time, the last lines of a RUN's output) with
 *    ANSI sequences; finished steps stay above it as one line each, and the
 *    summary replaces it at the end (see the protocol table in progress.c);
 *  - quiet: nothing but the RUN output.
 *
 * The parallel stages (child processes) report through the same handle:
 * its counters live in shared memory and the renderer's socket is shared. */
#ifndef BERTH_BUILDER_PROGRESS_H
#define BERTH_BUILDER_PROGRESS_H

#include <stdbool.h>
#include <time.h>

#include "util/error.h"

enum progress_mode {
	PROGRESS_AUTO, /* tty when stderr is a terminal (and TERM is not dumb), else plain */
	PROGRESS_PLAIN,
	PROGRESS_TTY,
	PROGRESS_QUIET,
};

/* "auto", "plain", "tty", "quiet"; -1 for anything else */
int progress_mode_parse(const char *s);

struct progress;

/* A step as the display sees it. */
struct progress_step {
	char *label;  /* "Dockerfile:3: RUN make" */
	int line_len; /* of the "Dockerfile:3" prefix */
	unsigned id;
	struct timespec t0;
	bool shown;
	bool ended;
};

/* Starts the display; in tty mode, forks the renderer and points this
 * process's stderr at it (until progress_close). */
int progress_open(enum progress_mode mode, struct progress **p, berth_error_t *err);
/* Ends the build's display with its summary, waits for the renderer and
 * gives stderr back.  NULL: nothing. */
void progress_close(struct progress *p, bool ok);

/* A line of its own (a FROM, a warning). */
void progress_log(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A step starts (the label is "FILE:LINE: INSTRUCTION ..."); it is shown
 * at once on a terminal, in plain mode when it turns out to run. */
void progress_step_begin(struct progress *p, struct progress_step *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The step was a cache hit: it is over. */
void progress_step_cached(struct progress *p, struct progress_step *s);
/* The step was not in the cache: it runs. */
void progress_step_run(struct progress *p, struct progress_step *s);
/* The fd that the step's process writes its output to (the caller closes
 * it); -1 with *err set on failure. */
int progress_step_output(struct progress *p, struct progress_step *s, berth_error_t *err);
/* The step is over (a no-op when it already is: call it on every path). */
void progress_step_end(struct progress *p, struct progress_step *s, bool ok);

#endif
