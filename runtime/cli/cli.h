/* Shared by the command files: flag parsing as runc's CLI library does it
 * (`-flag`, `--flag`, `--flag=value`, `--flag value`; flags before the
 * positional arguments), logging, and error reporting. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include <stdbool.h>

#include "berth/berth.h"

enum cli_kind { CLI_BOOL, CLI_STRING, CLI_UINT, CLI_MULTI };

/* A repeatable string flag (--env A=1 --env B=2). */
struct cli_multi {
	char **items;
	size_t len;
};

struct cli_flag {
	const char *name; /* long name */
	char short_name;  /* 0: none */
	enum cli_kind kind;
	void *target; /* bool *, const char **, unsigned int * */
};

struct cli_global {
	struct berth_context ctx;
	const char *log_path;
	bool log_json;
	int argv_offset; /* index of the command in main's argv */
};

/* Parses flags from argv[1..]; returns the index of the first positional
 * argument, or -1 after printing the error. */
int cli_parse(int argc, char **argv, const struct cli_flag *flags, const char *command);
/* Reports a failed command: stderr and the --log file; returns 1. */
int cli_fail(const struct cli_global *g, berth_error_t *err);
/* Reports a usage error; returns 1. */
int cli_usage_error(const struct cli_global *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs a line (warnings from the library, debug). */
void cli_log(void *data, enum berth_log_level level, const char *msg);
/* Checks that exactly `n` positional arguments are left. */
int cli_expect_args(const struct cli_global *g, int argc, int first, int n, const char *command,
                    const char *usage);

int cmd_create(struct cli_global *g, int argc, char **argv);
int cmd_run(struct cli_global *g, int argc, char **argv);
int cmd_start(struct cli_global *g, int argc, char **argv);
int cmd_state(struct cli_global *g, int argc, char **argv);
int cmd_kill(struct cli_global *g, int argc, char **argv);
int cmd_delete(struct cli_global *g, int argc, char **argv);
int cmd_list(struct cli_global *g, int argc, char **argv);
int cmd_exec(struct cli_global *g, int argc, char **argv);
int cmd_unpack(struct cli_global *g, int argc, char **argv);
int cmd_spec(struct cli_global *g, int argc, char **argv);
int cmd_pause(struct cli_global *g, int argc, char **argv);
int cmd_resume(struct cli_global *g, int argc, char **argv);
int cmd_ps(struct cli_global *g, int argc, char **argv);
int cmd_update(struct cli_global *g, int argc, char **argv);
int cmd_events(struct cli_global *g, int argc, char **argv);
int cmd_features(struct cli_global *g, int argc, char **argv);

#endif
