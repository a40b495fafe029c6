/* berth exec */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_gids(struct cli_multi *gids, unsigned int **out)
{
	*out = calloc(gids->len + 1, sizeof(unsigned int));
	if (*out == NULL)
		return -1;
	for (size_t i = 0; i < gids->len; i++) {
		char *end;
		unsigned long g;
		errno = 0;
		g = strtoul(gids->items[i], &end, 10);
		if (errno != 0 || *end != '\0' || end == gids->items[i] || g > 0xffffffffUL) {
			fprintf(stderr, "exec: invalid --additional-gids `%s`\n", gids->items[i]);
			return -1;
		}
		(*out)[i] = (unsigned int)g;
	}
	return 0;
}

int cmd_exec(struct cli_global *g, int argc, char **argv)
{
	struct berth_exec_options o = {.size = sizeof(o)};
	struct cli_multi env = {0}, caps = {0}, gids = {0};
	unsigned int *gid_values = NULL;
	berth_error_t err = NULL;
	int status = 0, first, ret = 1;
	const struct cli_flag flags[] = {
	    {"process", 'p', CLI_STRING, &o.process_file},
	    {"tty", 't', CLI_BOOL, &o.tty},
	    {"console-socket", 0, CLI_STRING, &o.console_socket},
	    {"detach", 'd', CLI_BOOL, &o.detach},
	    {"pid-file", 0, CLI_STRING, &o.pid_file},
	    {"cwd", 0, CLI_STRING, &o.cwd},
	    {"user", 'u', CLI_STRING, &o.user},
	    {"no-new-privs", 0, CLI_BOOL, &o.no_new_privs},
	    {"apparmor", 0, CLI_STRING, &o.apparmor},
	    {"process-label", 0, CLI_STRING, &o.process_label},
	    {"preserve-fds", 0, CLI_UINT, &o.preserve_fds},
	    {"cgroup", 0, CLI_STRING, &o.cgroup},
	    {"ignore-paused", 0, CLI_BOOL, &o.ignore_paused},
	    {"env", 'e', CLI_MULTI, &env},
	    {"cap", 'c', CLI_MULTI, &caps},
	    {"additional-gids", 'g', CLI_MULTI, &gids},
	    {NULL, 0, CLI_BOOL, NULL},
	};

	first = cli_parse(argc, argv, flags, "exec");
	if (first < 0 || parse_gids(&gids, &gid_values) < 0)
		goto out;
	if (first >= argc) {
		cli_usage_error(g,
		                "exec: expected a container id; usage: berth exec [options] <container-id> "
		                "<command> [args...]");
		goto out;
	}
	o.id = argv[first];
	if (o.process_file == NULL && first + 1 >= argc) {
		cli_usage_error(g, "exec: expected a command or --process");
		goto out;
	}
	o.args = argv + first + 1;
	o.args_len = (size_t)(argc - first - 1);
	o.env = env.items;
	o.env_len = env.len;
	o.caps = caps.items;
	o.caps_len = caps.len;
	o.additional_gids = gid_values;
	o.additional_gids_len = gids.len;
	if (berth_container_exec(&g->ctx, &o, &status, &err) < 0) {
		/* As runc: a failed exec exits 255, apart from any status of the
		 * process's own. */
		cli_fail(g, &err);
		ret = status != 0 ? status : 255;
		goto out;
	}
	ret = status;
out:
	free(env.items);
	free(caps.items);
	free(gids.items);
	free(gid_values);
	return ret;
}
