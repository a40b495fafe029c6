/* berth: an OCI runtime with runc's command line. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*run)(struct cli_global *g, int argc, char **argv);
	const char *help;
} commands[] = {
#ifdef BERTH_UNPACK_ONLY
    {"unpack", cmd_unpack, "unpack an OCI image (layout or archive) into a bundle"},
#else
    {"create", cmd_create, "create a container"},
    {"start", cmd_start, "execute the user-defined process in a created container"},
    {"run", cmd_run, "create and run a container"},
    {"state", cmd_state, "output the state of a container"},
    {"kill", cmd_kill, "send a signal to the container's init process"},
    {"delete", cmd_delete, "delete any resources held by the container"},
    {"list", cmd_list, "list containers started by berth with the given root"},
    {"exec", cmd_exec, "execute a new process inside the container"},
    {"spec", cmd_spec, "create a new specification file"},
    {"unpack", cmd_unpack, "unpack an OCI image (layout or archive) into a bundle"},
    {"pause", cmd_pause, "pause all processes inside the container"},
    {"resume", cmd_resume, "resumes all processes that have been previously paused"},
    {"ps", cmd_ps, "ps displays the processes running inside a container"},
    {"update", cmd_update, "update container resource constraints"},
    {"events", cmd_events, "display container events: OOM kills, cpu, memory and IO statistics"},
    {"features", cmd_features, "show the enabled features"},
#endif
};

/* The commands whose processes end up in containers run from a sealed copy
 * of the binary (see berth_seal_exe). */
static bool starts_container_processes(const char *command)
{
	return strcmp(command, "create") == 0 || strcmp(command, "run") == 0 || strcmp(command, "exec") == 0;
}

static int usage(FILE *out)
{
	fprintf(out, "usage: berth [global options] command [command options] [arguments...]\n\n"
	             "global options:\n"
	             "  --root DIR          state directory (default /run/berth)\n"
	             "  --log FILE          also log to FILE\n"
	             "  --log-format FMT    text or json\n"
	             "  --debug             verbose logging\n"
	             "  --systemd-cgroup    use the systemd cgroup driver (not supported yet)\n"
	             "  -v, --version       print the version\n\n"
	             "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	return out == stderr ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct cli_global g = {.ctx = {.size = sizeof(struct berth_context)}};
	const char *log_format = "text", *criu = NULL, *rootless = NULL;
	bool version = false, help = false;
	const struct cli_flag flags[] = {
	    {"root", 0, CLI_STRING, &g.ctx.state_root},
	    {"log", 0, CLI_STRING, &g.log_path},
	    {"log-format", 0, CLI_STRING, &log_format},
	    {"debug", 0, CLI_BOOL, &g.ctx.debug},
	    {"systemd-cgroup", 0, CLI_BOOL, &g.ctx.systemd_cgroup},
	    {"criu", 0, CLI_STRING, &criu},
	    {"rootless", 0, CLI_STRING, &rootless},
	    {"version", 'v', CLI_BOOL, &version},
	    {"help", 'h', CLI_BOOL, &help},
	    {NULL, 0, CLI_BOOL, NULL},
	};
	int first = cli_parse(argc, argv, flags, "berth");

	if (first < 0)
		return 1;
	g.ctx.log = cli_log;
	g.ctx.log_data = &g;
	if (strcmp(log_format, "json") == 0)
		g.log_json = true;
	else if (strcmp(log_format, "text") != 0)
		return cli_usage_error(&g, "invalid log format `%s`", log_format);
	if (version) {
		printf("berth version %s\nspec: 1.2.0\n", PACKAGE_VERSION);
		return 0;
	}
	if (help || first >= argc)
		return usage(help ? stdout : stderr);
	if (g.ctx.systemd_cgroup)
		return cli_usage_error(&g,
		                       "--systemd-cgroup: the systemd cgroup driver is not supported yet");
	if (starts_container_processes(argv[first])) {
		berth_error_t err = NULL;
		if (berth_seal_exe(argv, &err) < 0)
			return cli_fail(&g, &err);
	}
	g.argv_offset = first;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[first], commands[i].name) == 0)
			return commands[i].run(&g, argc - first, argv + first);
	}
	fprintf(stderr, "berth: no such command `%s`\n", argv[first]);
	return usage(stderr);
}
