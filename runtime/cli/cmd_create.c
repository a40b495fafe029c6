/* berth create / berth run */
#include "cli.h"

#include <stdio.h>

static int parse_create(struct cli_global *g, int argc, char **argv, struct berth_create_options *opts,
                        bool with_detach, const char *command)
{
	struct cli_flag flags[] = {
	    {"bundle", 'b', CLI_STRING, &opts->bundle},
	    {"pid-file", 0, CLI_STRING, &opts->pid_file},
	    {"console-socket", 0, CLI_STRING, &opts->console_socket},
	    {"no-pivot", 0, CLI_BOOL, &opts->no_pivot},
	    {"no-new-keyring", 0, CLI_BOOL, &opts->no_new_keyring},
	    {"preserve-fds", 0, CLI_UINT, &opts->preserve_fds},
	    {"detach", 'd', CLI_BOOL, &opts->detach},
	    {NULL, 0, CLI_BOOL, NULL},
	};
	int first;

	if (!with_detach)
		flags[6] = flags[7]; /* create has no --detach */
	first = cli_parse(argc, argv, flags, command);

	if (cli_expect_args(g, argc, first, 1, command, "[options] <container-id>") < 0)
		return -1;
	opts->size = sizeof(*opts);
	opts->id = argv[first];
	return 0;
}

int cmd_create(struct cli_global *g, int argc, char **argv)
{
	struct berth_create_options opts = {0};
	berth_error_t err = NULL;

	if (parse_create(g, argc, argv, &opts, false, "create") < 0)
		return 1;
	if (berth_container_create(&g->ctx, &opts, &err) < 0)
		return cli_fail(g, &err);
	return 0;
}

int cmd_run(struct cli_global *g, int argc, char **argv)
{
	struct berth_create_options opts = {0};
	berth_error_t err = NULL;
	int status = 0;

	if (parse_create(g, argc, argv, &opts, true, "run") < 0)
		return 1;
	if (berth_container_run(&g->ctx, &opts, &status, &err) < 0) {
		cli_fail(g, &err);
		return status != 0 ? status : 1;
	}
	return status;
}
