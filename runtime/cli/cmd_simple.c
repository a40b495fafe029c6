/* berth start / state / delete: one container id, few flags. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

int cmd_start(struct cli_global *g, int argc, char **argv)
{
	const struct cli_flag flags[] = {{NULL, 0, CLI_BOOL, NULL}};
	berth_error_t err = NULL;
	int first = cli_parse(argc, argv, flags, "start");

	if (cli_expect_args(g, argc, first, 1, "start", "<container-id>") < 0)
		return 1;
	if (berth_container_start(&g->ctx, argv[first], &err) < 0)
		return cli_fail(g, &err);
	return 0;
}

int cmd_state(struct cli_global *g, int argc, char **argv)
{
	const struct cli_flag flags[] = {{NULL, 0, CLI_BOOL, NULL}};
	berth_error_t err = NULL;
	char *json = NULL;
	int first = cli_parse(argc, argv, flags, "state");

	if (cli_expect_args(g, argc, first, 1, "state", "<container-id>") < 0)
		return 1;
	if (berth_container_state(&g->ctx, argv[first], &json, &err) < 0)
		return cli_fail(g, &err);
	printf("%s\n", json);
	free(json);
	return 0;
}

int cmd_delete(struct cli_global *g, int argc, char **argv)
{
	bool force = false;
	const struct cli_flag flags[] = {{"force", 'f', CLI_BOOL, &force}, {NULL, 0, CLI_BOOL, NULL}};
	berth_error_t err = NULL;
	int first = cli_parse(argc, argv, flags, "delete");

	if (cli_expect_args(g, argc, first, 1, "delete", "[--force] <container-id>") < 0)
		return 1;
	if (berth_container_delete(&g->ctx, argv[first], force, &err) < 0) {
		/* As runc: deleting a container that is gone is not an error with --force. */
		if (force && berth_error_code(err) == BERTH_ERROR_NOT_FOUND) {
			berth_error_free(&err);
			return 0;
		}
		return cli_fail(g, &err);
	}
	return 0;
}

int cmd_kill(struct cli_global *g, int argc, char **argv)
{
	bool all = false;
	const struct cli_flag flags[] = {{"all", 'a', CLI_BOOL, &all}, {NULL, 0, CLI_BOOL, NULL}};
	berth_error_t err = NULL;
	int first = cli_parse(argc, argv, flags, "kill");
	int sig = 15;

	if (first < 0)
		return 1;
	if (argc - first != 1 && argc - first != 2)
		return cli_usage_error(g, "kill: expected 1 or 2 arguments; usage: berth kill [--all] "
		                          "<container-id> [signal]");
	if (argc - first == 2 && berth_signal_parse(argv[first + 1], &sig, &err) < 0)
		return cli_fail(g, &err);
	if (berth_container_kill(&g->ctx, argv[first], sig, all, &err) < 0)
		return cli_fail(g, &err);
	return 0;
}
