#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct cli_flag *find_flag(const struct cli_flag *flags, const char *name, size_t len)
{
	for (const struct cli_flag *f = flags; f->name != NULL; f++) {
		if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
			return f;
		if (len == 1 && f->short_name == name[0])
			return f;
	}
	return NULL;
}

static int set_flag(const struct cli_flag *f, const char *value, const char *command)
{
	char *end;
	unsigned long n;

	switch (f->kind) {
	case CLI_BOOL:
		*(bool *)f->target = value == NULL || strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
		return 0;
	case CLI_STRING:
		*(const char **)f->target = value;
		return 0;
	case CLI_MULTI: {
		struct cli_multi *m = f->target;
		char **more = realloc(m->items, (m->len + 1) * sizeof(char *));
		if (more == NULL)
			return -1;
		m->items = more;
		m->items[m->len++] = (char *)value;
		return 0;
	}
	case CLI_UINT:
		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || *end != '\0' || *value == '\0' || n > 1000000) {
			fprintf(stderr, "%s: invalid value `%s` for flag --%s\n", command, value, f->name);
			return -1;
		}
		*(unsigned int *)f->target = (unsigned int)n;
		return 0;
	}
	return -1;
}

int cli_parse(int argc, char **argv, const struct cli_flag *flags, const char *command)
{
	int i = 1;

	while (i < argc) {
		const char *arg = argv[i], *name, *eq, *value = NULL;
		const struct cli_flag *f;
		size_t len;

		if (strcmp(arg, "--") == 0)
			return i + 1;
		if (arg[0] != '-' || arg[1] == '\0')
			return i;
		name = arg + (arg[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		len = eq != NULL ? (size_t)(eq - name) : strlen(name);
		f = find_flag(flags, name, len);
		if (f == NULL) {
			fprintf(stderr, "%s: flag provided but not defined: -%.*s\n", command, (int)len,
			        name);
			return -1;
		}
		if (eq != NULL) {
			value = eq + 1;
		} else if (f->kind != CLI_BOOL) {
			if (i + 1 >= argc) {
				fprintf(stderr, "%s: flag needs an argument: -%s\n", command, name);
				return -1;
			}
			value = argv[++i];
		}
		if (set_flag(f, value, command) < 0)
			return -1;
		i++;
	}
	return i;
}

static void log_line(const struct cli_global *g, const char *level, const char *msg)
{
	char when[64];
	struct timespec now;
	struct tm tm;
	FILE *f;
	int fd;

	if (g == NULL || g->log_path == NULL)
		return;
	fd = open(g->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	f = fdopen(fd, "a");
	if (f == NULL) {
		close(fd);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (g->log_json) {
		fprintf(f, "{\"level\":\"%s\",\"msg\":\"", level);
		for (const char *p = msg; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				fprintf(f, "\\%c", *p);
			else if ((unsigned char)*p < 0x20)
				fprintf(f, "\\u%04x", (unsigned char)*p);
			else
				fputc(*p, f);
		}
		fprintf(f, "\",\"time\":\"%s\"}\n", when);
	} else {
		fprintf(f, "time=\"%s\" level=%s msg=\"%s\"\n", when, level, msg);
	}
	fclose(f);
}

void cli_log(void *data, enum berth_log_level level, const char *msg)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	const struct cli_global *g = data;

	if (level == BERTH_LOG_DEBUG && !g->ctx.debug)
		return;
	log_line(g, names[level], msg);
	if (level <= BERTH_LOG_WARNING || g->ctx.debug)
		fprintf(stderr, "%s: %s\n", names[level], msg);
}

int cli_fail(const struct cli_global *g, berth_error_t *err)
{
	const char *msg = berth_error_message(*err);
	log_line(g, "error", msg);
	fprintf(stderr, "%s\n", msg);
	berth_error_free(err);
	return 1;
}

int cli_usage_error(const struct cli_global *g, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_line(g, "error", msg);
	fprintf(stderr, "%s\n", msg);
	return 1;
}

int cli_expect_args(const struct cli_global *g, int argc, int first, int n, const char *command,
                    const char *usage)
{
	if (first < 0)
		return -1;
	if (argc - first != n) {
		cli_usage_error(g, "%s: expected %d argument%s, got %d; usage: berth %s %s", command, n,
		                n == 1 ? "" : "s", argc - first, command, usage);
		return -1;
	}
	return 0;
}
