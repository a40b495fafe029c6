/* berth pause / resume / ps / update / events / features: the commands
 * backed by the container's cgroup, with runc 1.1's flags and outputs. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int one_id(struct cli_global *g, int argc, char **argv, const char *command,
                  int (*fn)(const struct berth_context *, const char *, berth_error_t *))
{
	const struct cli_flag flags[] = {{NULL, 0, CLI_BOOL, NULL}};
	berth_error_t err = NULL;
	int first = cli_parse(argc, argv, flags, command);

	if (cli_expect_args(g, argc, first, 1, command, "<container-id>") < 0)
		return 1;
	if (fn(&g->ctx, argv[first], &err) < 0)
		return cli_fail(g, &err);
	return 0;
}

int cmd_pause(struct cli_global *g, int argc, char **argv)
{
	return one_id(g, argc, argv, "pause", berth_container_pause);
}

int cmd_resume(struct cli_global *g, int argc, char **argv)
{
	return one_id(g, argc, argv, "resume", berth_container_resume);
}

/* ---- ps ---- */

/* Runs `ps args...` and returns its stdout and stderr together (as runc's
 * CombinedOutput); -1 when it could not run or failed (output kept). */
static int run_ps(char **args, char **out)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2], status = 0, rc;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	pid_t pid;

	*out = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	rc = posix_spawnp(&pid, "ps", &fa, NULL, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		errno = rc;
		return -1;
	}
	for (;;) {
		ssize_t n;
		if (len + 4096 + 1 > cap) {
			char *more = realloc(buf, cap = cap * 2 + 8192);
			if (more == NULL)
				abort(); /* the CLI aborts on OOM */
			buf = more;
		}
		n = read(pipefd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pipefd[0]);
	buf = buf != NULL ? buf : calloc(1, 1);
	if (buf == NULL)
		abort();
	buf[len] = '\0';
	*out = buf;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = 0;
		return -1;
	}
	return 0;
}

/* The index of the "PID" column in ps's header, or -1. */
static int pid_column(const char *header)
{
	int col = 0;
	const char *p = header;

	while (*p != '\0') {
		size_t n;
		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n == 0)
			break;
		if (n == 3 && strncmp(p, "PID", 3) == 0)
			return col;
		col++;
		p += n;
	}
	return -1;
}

/* Field `col` of a ps line as a pid, or -1. */
static long field_pid(const char *line, int col)
{
	const char *p = line;
	char *end;
	long v;

	for (int i = 0;; i++) {
		p += strspn(p, " \t");
		if (*p == '\0')
			return -1;
		if (i == col)
			break;
		p += strcspn(p, " \t");
	}
	v = strtol(p, &end, 10);
	if (end == p || (*end != '\0' && *end != ' ' && *end != '\t'))
		return -1;
	return v;
}

static int ps_table(struct cli_global *g, const pid_t *pids, size_t n, char **ps_args, int n_args)
{
	static char ps_name[] = "ps", ef[] = "-ef";
	char *default_args[] = {ps_name, ef, NULL};
	char **args = default_args, *out = NULL, *line, *next;
	int col, rc;

	if (n_args > 0) {
		args = calloc((size_t)n_args + 2, sizeof(char *));
		if (args == NULL)
			abort();
		args[0] = ps_name;
		memcpy(args + 1, ps_args, (size_t)n_args * sizeof(char *));
	}
	rc = run_ps(args, &out);
	if (args != default_args)
		free(args);
	if (rc < 0) {
		int saved = errno;
		cli_usage_error(g, "ps: %s%s%s", saved != 0 ? strerror(saved) : "exit status not 0",
		                out != NULL && *out != '\0' ? ": " : "", out != NULL ? out : "");
		free(out);
		return 1;
	}
	next = strchr(out, '\n');
	if (next != NULL)
		*next++ = '\0';
	col = pid_column(out);
	if (col < 0) {
		free(out);
		return cli_usage_error(g, "couldn't find PID field in ps output");
	}
	printf("%s\n", out);
	for (line = next; line != NULL && *line != '\0'; line = next) {
		long pid;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (*line == '\0')
			continue;
		pid = field_pid(line, col);
		if (pid < 0) {
			free(out);
			return cli_usage_error(g, "unable to parse pid: `%s`", line);
		}
		for (size_t i = 0; i < n; i++) {
			if (pids[i] == (pid_t)pid) {
				printf("%s\n", line);
				break;
			}
		}
	}
	free(out);
	return 0;
}

int cmd_ps(struct cli_global *g, int argc, char **argv)
{
	const char *format = "table";
	const struct cli_flag flags[] = {{"format", 'f', CLI_STRING, &format}, {NULL, 0, CLI_BOOL, NULL}};
	berth_error_t err = NULL;
	pid_t *pids = NULL;
	size_t n = 0;
	int first = cli_parse(argc, argv, flags, "ps"), rc = 0, n_args;

	if (first < 0)
		return 1;
	if (argc - first < 1)
		return cli_usage_error(g,
		                       "ps: expected at least 1 argument, got 0; usage: berth ps [--format "
		                       "table|json] <container-id> [ps options]");
	if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
		return cli_usage_error(g, "invalid format option");
	if (berth_container_pids(&g->ctx, argv[first], &pids, &n, &err) < 0)
		return cli_fail(g, &err);
	if (strcmp(format, "json") == 0) {
		/* runc encodes a Go nil slice: an empty cgroup prints null */
		if (n == 0)
			printf("null\n");
		for (size_t i = 0; i < n; i++)
			printf("%s%d%s", i == 0 ? "[" : ",", (int)pids[i], i + 1 == n ? "]\n" : "");
	} else {
		/* "berth ps ID -- -o pid": the "--" only ends berth's arguments */
		n_args = argc - first - 1;
		if (n_args > 0 && strcmp(argv[first + 1], "--") == 0)
			rc = ps_table(g, pids, n, argv + first + 2, n_args - 1);
		else
			rc = ps_table(g, pids, n, argv + first + 1, n_args);
	}
	free(pids);
	return rc;
}

/* ---- update ---- */

static char *read_stream(FILE *f)
{
	size_t len = 0, cap = 0, r;
	char *buf = NULL;

	do {
		if (len + 4096 + 1 > cap) {
			char *more = realloc(buf, cap = cap * 2 + 8192);
			if (more == NULL)
				abort();
			buf = more;
		}
		r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
	} while (r > 0);
	if (ferror(f)) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* Sets obj.section.key (making the section) to v. */
static void set_member(json_object *obj, const char *section, const char *key, json_object *v)
{
	json_object *sec = NULL;

	if (section != NULL) {
		if (!json_object_object_get_ex(obj, section, &sec) ||
		    !json_object_is_type(sec, json_type_object)) {
			sec = json_object_new_object();
			json_object_object_add(obj, section, sec);
		}
		obj = sec;
	}
	json_object_object_add(obj, key, v);
}

enum value_kind { V_SIZE, V_INT, V_UINT, V_STR };

/* runc's update flags and where each lands in linux.resources. */
static const struct update_flag {
	const char *flag;
	const char *section; /* NULL: top level */
	const char *key;
	enum value_kind kind;
} update_flags[] = {
    {"blkio-weight", "blockIO", "weight", V_UINT},
    {"cpu-period", "cpu", "period", V_UINT},
    {"cpu-quota", "cpu", "quota", V_INT},
    {"cpu-rt-period", "cpu", "realtimePeriod", V_UINT},
    {"cpu-rt-runtime", "cpu", "realtimeRuntime", V_INT},
    {"cpu-share", "cpu", "shares", V_UINT},
    {"cpuset-cpus", "cpu", "cpus", V_STR},
    {"cpuset-mems", "cpu", "mems", V_STR},
    {"kernel-memory", "memory", "kernel", V_SIZE},
    {"kernel-memory-tcp", "memory", "kernelTCP", V_SIZE},
    {"memory", "memory", "limit", V_SIZE},
    {"memory-reservation", "memory", "reservation", V_SIZE},
    {"memory-swap", "memory", "swap", V_SIZE},
    {"pids-limit", "pids", "limit", V_INT},
};
#define N_UPDATE_FLAGS (sizeof(update_flags) / sizeof(update_flags[0]))

static int flag_value(struct cli_global *g, const struct update_flag *f, const char *text, json_object **out)
{
	berth_error_t err = NULL;
	long long v;
	char *end;

	switch (f->kind) {
	case V_STR:
		*out = json_object_new_string(text);
		return 0;
	case V_SIZE:
		if (berth_size_parse(text, &v, &err) < 0) {
			cli_usage_error(g, "invalid value for %s: %s", f->flag, berth_error_message(err));
			berth_error_free(&err);
			return -1;
		}
		*out = json_object_new_int64(v);
		return 0;
	case V_INT:
	case V_UINT:
		errno = 0;
		v = strtoll(text, &end, 10);
		if (errno != 0 || end == text || *end != '\0' || (f->kind == V_UINT && v < 0)) {
			cli_usage_error(g, "invalid value for %s: `%s`", f->flag, text);
			return -1;
		}
		*out = json_object_new_int64(v);
		return 0;
	}
	return -1;
}

int cmd_update(struct cli_global *g, int argc, char **argv)
{
	const char *values[N_UPDATE_FLAGS] = {NULL}, *resources = NULL;
	struct berth_update_options o = {.size = sizeof(o)};
	struct cli_flag flags[N_UPDATE_FLAGS + 5];
	json_object *doc = NULL;
	berth_error_t err = NULL;
	char *text = NULL;
	size_t i;
	int first, rc = 0;

	/* 1. flags: runc's, each one a member of linux.resources */
	for (i = 0; i < N_UPDATE_FLAGS; i++)
		flags[i] = (struct cli_flag){update_flags[i].flag, 0, CLI_STRING, &values[i]};
	flags[i++] = (struct cli_flag){"resources", 'r', CLI_STRING, &resources};
	flags[i++] = (struct cli_flag){"l3-cache-schema", 0, CLI_STRING, &o.l3_cache_schema};
	flags[i++] = (struct cli_flag){"mem-bw-schema", 0, CLI_STRING, &o.mem_bw_schema};
	flags[i] = (struct cli_flag){NULL, 0, CLI_BOOL, NULL};
	first = cli_parse(argc, argv, flags, "update");
	if (cli_expect_args(g, argc, first, 1, "update", "[--resources FILE|-] [flags] <container-id>") < 0)
		return 1;
	o.id = argv[first];
	/* 2. --resources: a file or "-" for stdin, as the base document */
	if (resources != NULL) {
		FILE *f = strcmp(resources, "-") == 0 ? stdin : fopen(resources, "re");
		if (f == NULL)
			return cli_usage_error(g, "open %s: %s", resources, strerror(errno));
		text = read_stream(f);
		if (f != stdin)
			fclose(f);
		if (text == NULL)
			return cli_usage_error(g, "read %s: %s", resources, strerror(errno));
		o.resources_origin = strcmp(resources, "-") == 0 ? "stdin" : resources;
	}
	/* 3. the flags on top of it */
	for (i = 0; i < N_UPDATE_FLAGS; i++) {
		json_object *v;
		if (values[i] == NULL)
			continue;
		if (doc == NULL) {
			enum json_tokener_error jerr = json_tokener_success;
			doc =
			    text != NULL ? json_tokener_parse_verbose(text, &jerr) : json_object_new_object();
			if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
				/* let the library name what is wrong with it */
				json_object_put(doc);
				doc = NULL;
				break;
			}
		}
		if (flag_value(g, &update_flags[i], values[i], &v) < 0) {
			rc = 1;
			goto out;
		}
		set_member(doc, update_flags[i].section, update_flags[i].key, v);
	}
	o.resources_json = doc != NULL ? json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN) : text;
	/* 4. applied and recorded */
	if (berth_container_update(&g->ctx, &o, &err) < 0)
		rc = cli_fail(g, &err);
out:
	json_object_put(doc);
	free(text);
	return rc;
}

/* ---- events ---- */

static void print_event(const char *type, const char *id, const char *data)
{
	json_object *ev = json_object_new_object();

	json_object_object_add(ev, "type", json_object_new_string(type));
	json_object_object_add(ev, "id", json_object_new_string(id));
	if (data != NULL)
		json_object_object_add(ev, "data", json_tokener_parse(data));
	printf("%s\n",
	       json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(ev);
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cmd_events(struct cli_global *g, int argc, char **argv)
{
	bool stats = false;
	const char *interval = "5s";
	const struct cli_flag flags[] = {
	    {"stats", 0, CLI_BOOL, &stats},
	    {"interval", 0, CLI_STRING, &interval},
	    {NULL, 0, CLI_BOOL, NULL},
	};
	struct berth_events *ev = NULL;
	berth_error_t err = NULL;
	long long ns, next;
	char *json = NULL;
	const char *id;
	int first = cli_parse(argc, argv, flags, "events");

	if (cli_expect_args(g, argc, first, 1, "events", "[--stats] [--interval DURATION] <container-id>") <
	    0)
		return 1;
	id = argv[first];
	if (berth_duration_parse(interval, &ns, &err) < 0)
		return cli_fail(g, &err);
	if (ns <= 0)
		return cli_usage_error(g, "duration interval must be greater than 0");
	/* --stats: one line and done */
	if (stats) {
		if (berth_container_stats(&g->ctx, id, &json, &err) < 0)
			return cli_fail(g, &err);
		print_event("stats", id, json);
		free(json);
		return 0;
	}
	/* otherwise a stats line every interval and each OOM kill, until init exits */
	if (berth_events_open(&g->ctx, id, &ev, &err) < 0)
		return cli_fail(g, &err);
	signal(SIGPIPE, SIG_DFL);
	next = mono_ms() + ns / 1000000;
	for (;;) {
		enum berth_event_type type;
		long long left = next - mono_ms();

		if (berth_events_wait(ev, left < 0 ? 0 : (int)(left > 1 << 30 ? 1 << 30 : left), &type,
		                      &err) < 0)
			break;
		if (type == BERTH_EVENT_EXIT)
			break;
		if (type == BERTH_EVENT_OOM) {
			print_event("oom", id, NULL);
			continue;
		}
		if (mono_ms() < next)
			continue;
		next += ns / 1000000 > 0 ? ns / 1000000 : 1;
		if (berth_events_stats(ev, &json, &err) < 0) {
			/* the container may have stopped in between */
			berth_error_free(&err);
			continue;
		}
		print_event("stats", id, json);
		free(json);
	}
	berth_events_close(ev);
	return err != NULL ? cli_fail(g, &err) : 0;
}

/* ---- features ---- */

int cmd_features(struct cli_global *g, int argc, char **argv)
{
	const struct cli_flag flags[] = {{NULL, 0, CLI_BOOL, NULL}};
	berth_error_t err = NULL;
	char *json = NULL;
	int first = cli_parse(argc, argv, flags, "features");

	if (cli_expect_args(g, argc, first, 0, "features", "") < 0)
		return 1;
	if (berth_features_json(&json, &err) < 0)
		return cli_fail(g, &err);
	printf("%s\n", json);
	free(json);
	return 0;
}
