/* berth-build-dump: parses a Dockerfile and prints its directives, global
 * args, stages and their evaluated instructions in a stable text form (the
 * golden tests of tests/builder/ compare it).  Not installed.
 *
 *   berth-build-dump [--target NAME] [--build-arg K=V]... [--platform P]
 *                    [--build-platform P] [--ignore FILE PATH...] DOCKERFILE
 *
 * With --ignore, prints for each PATH whether the .dockerignore FILE
 * excludes it instead. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerignore.h"
#include "stages.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* The indentation of the fields of the instruction being printed. */
static int ind = 4;

static void qs(const char *s)
{
	if (s == NULL) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void qv(const char *key, char **v)
{
	if (v == NULL)
		return;
	printf("%*s%s: [", ind, "", key);
	for (size_t i = 0; v[i]; i++) {
		if (i)
			fputs(", ", stdout);
		qs(v[i]);
	}
	fputs("]\n", stdout);
}

static void kv(const char *key, const char *v)
{
	if (v == NULL)
		return;
	printf("%*s%s: ", ind, "", key);
	qs(v);
	putchar('\n');
}

static void dump_instr(const struct df_instr *in, int depth)
{
	printf("%*s%d:%d %s\n", depth, "", in->pos.line, in->pos.col, df_kind_name(in->kind));
	ind = depth + 4;
	if (in->cmd != NULL) {
		printf("%*sform: %s\n", ind, "",
		       in->kind == DF_HEALTHCHECK ? (in->cmd[1] ? in->cmd[0] : "NONE")
		       : in->shell_form           ? "shell"
		                                  : "exec");
		qv("cmd", in->kind == DF_HEALTHCHECK && in->cmd[1] ? in->cmd + 1
		          : in->kind == DF_HEALTHCHECK             ? NULL
		                                                   : in->cmd);
	}
	for (size_t i = 0; i < in->n_files; i++) {
		printf("%*sheredoc %s%s: ", ind, "", in->files[i].name,
		       in->files[i].expand ? "" : " (no expansion)");
		qs(in->files[i].data);
		putchar('\n');
	}
	for (size_t i = 0; i < in->n_mounts; i++) {
		const struct df_mount *m = &in->mounts[i];
		printf("%*smount: type=%s", ind, "", df_mount_type_name(m->type));
		const char *names[] = {"from", "source", "target", "id", "sharing", "env"};
		const char *vals[] = {m->from, m->source, m->target, m->id, m->sharing, m->env};
		for (size_t k = 0; k < 6; k++)
			if (vals[k] != NULL)
				printf(" %s=%s", names[k], vals[k]);
		printf(" %s", m->readonly ? "ro" : "rw");
		if (m->required)
			printf(" required");
		if (m->size)
			printf(" size=%" PRId64, m->size);
		if (m->mode >= 0)
			printf(" mode=0%" PRIo64, m->mode);
		if (m->uid >= 0)
			printf(" uid=%" PRId64, m->uid);
		if (m->gid >= 0)
			printf(" gid=%" PRId64, m->gid);
		putchar('\n');
	}
	kv("network", in->network);
	kv("security", in->security);
	qv("srcs", in->srcs);
	kv("dest", in->dest);
	kv("from", in->from);
	kv("chown", in->chown);
	kv("chmod", in->chmod);
	kv("checksum", in->checksum);
	qv("exclude", in->excludes);
	if (in->link)
		printf("%*slink: true\n", ind, "");
	if (in->parents)
		printf("%*sparents: true\n", ind, "");
	if (in->keep_git_dir)
		printf("%*skeep-git-dir: true\n", ind, "");
	if (in->unpack_set)
		printf("%*sunpack: %s\n", ind, "", in->unpack ? "true" : "false");
	for (size_t i = 0; i < in->n_kvs; i++) {
		printf("%*s%s", ind, "", in->kvs[i].legacy ? "legacy " : "");
		qs(in->kvs[i].key);
		if (in->kvs[i].value != NULL) {
			putchar('=');
			qs(in->kvs[i].value);
		}
		printf(" (%d:%d)\n", in->kvs[i].pos.line, in->kvs[i].pos.col);
	}
	qv(in->kind == DF_EXPOSE ? "ports" : "volumes", in->words);
	kv("value", in->value);
	if (in->kind == DF_HEALTHCHECK && in->cmd != NULL && in->cmd[1] != NULL)
		printf("%*sinterval=%" PRId64 "ns timeout=%" PRId64 "ns start-period=%" PRId64
		       "ns start-interval=%" PRId64 "ns retries=%d\n",
		       ind, "", in->interval, in->timeout, in->start_period, in->start_interval, in->retries);
	if (in->expression != NULL) {
		kv("expression", in->expression);
		dump_instr(in->trigger, depth + 4);
		ind = depth + 4;
	}
}

static int dump_ignore(const char *file, char **paths)
{
	struct dockerignore di;
	berth_error_t err = NULL;
	cleanup_free char *buf = NULL;
	size_t len;

	if (fs_read_file_at(AT_FDCWD, file, &buf, &len, &err) < 0 ||
	    dockerignore_parse(&di, buf, len, &err) < 0) {
		fprintf(stderr, "berth-build-dump: %s\n", err->msg);
		berth_error_free(&err);
		return 1;
	}
	for (size_t i = 0; i < di.n; i++)
		printf("pattern %s%s\n", di.rules[i].exclusion ? "!" : "", di.rules[i].pattern);
	for (; *paths; paths++) {
		int r = dockerignore_matches(&di, *paths, &err);
		if (r < 0) {
			printf("%s: error: %s\n", *paths, err->msg);
			berth_error_free(&err);
			continue;
		}
		printf("%s: %s\n", *paths, r ? "excluded" : "included");
	}
	dockerignore_free(&di);
	return 0;
}

int main(int argc, char **argv)
{
	struct df_build_opts opts = {.size = sizeof(opts), .build_platform = "linux/amd64"};
	const char *build_args[64] = {NULL};
	size_t n_ba = 0;
	struct df_dockerfile df;
	berth_error_t err = NULL;
	cleanup_free char *buf = NULL;
	size_t len;
	int i;

	for (i = 1; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (!strcmp(argv[i], "--target"))
			opts.target = argv[i + 1];
		else if (!strcmp(argv[i], "--build-arg") && n_ba < 63)
			build_args[n_ba++] = argv[i + 1];
		else if (!strcmp(argv[i], "--platform"))
			opts.target_platform = argv[i + 1];
		else if (!strcmp(argv[i], "--build-platform"))
			opts.build_platform = argv[i + 1];
		else if (!strcmp(argv[i], "--ignore"))
			return dump_ignore(argv[i + 1], argv + i + 2);
		else
			break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: berth-build-dump [--target NAME] [--build-arg K=V]... [--platform P] "
		                "[--build-platform P] DOCKERFILE\n"
		                "       berth-build-dump --ignore DOCKERIGNORE PATH...\n");
		return 2;
	}
	opts.build_args = build_args;
	if (fs_read_file_at(AT_FDCWD, argv[i], &buf, &len, &err) < 0 ||
	    df_dockerfile_parse(argv[i], buf, len, &opts, &df, &err) < 0) {
		fprintf(stderr, "berth-build-dump: %s\n", err->msg);
		berth_error_free(&err);
		return 1;
	}
	for (size_t k = 0; k < df.ast.lexed.n_directives; k++)
		printf("directive %s=%s (line %d)\n", df.ast.lexed.directives[k].name,
		       df.ast.lexed.directives[k].value, df.ast.lexed.directives[k].line);
	printf("escape %c\n", df.ast.lexed.escape);
	for (size_t k = 0; k < df.ast.lexed.n_lines; k++)
		if (df.ast.lexed.lines[k].empty_continuation)
			printf("warning: empty continuation line in the instruction at line %d\n",
			       df.ast.lexed.lines[k].line);
	for (size_t k = 0; k < df.n_meta_args; k++)
		dump_instr(df.meta_args[k], 0);
	printf("global args:");
	for (size_t k = 0; k < df.meta.n; k++)
		printf(" %s=%s", df.meta.keys[k], df.meta.values[k]);
	putchar('\n');
	for (size_t s = 0; s < df.n_stages; s++) {
		const struct df_stage *st = &df.stages[s];
		struct df_instr **ev = NULL;
		printf("stage %zu", st->index);
		if (st->name)
			printf(" %s", st->name);
		printf(" (%d:%d) from ", st->from->pos.line, st->from->pos.col);
		qs(st->base);
		if (st->base_stage >= 0)
			printf(" (stage %ld)", st->base_stage);
		if (st->platform)
			printf(" platform %s", st->platform);
		printf("\n  deps: [");
		for (size_t k = 0; k < st->n_deps; k++)
			printf("%s%zu", k ? " " : "", st->deps[k]);
		printf("] level %zu%s\n", st->level, st->needed ? " needed" : " not needed");
		if (df_stage_eval(&df, st, NULL, &ev, &err) < 0) {
			printf("  error: %s\n", err->msg);
			berth_error_free(&err);
			continue;
		}
		for (size_t k = 0; k < st->n_instrs; k++) {
			dump_instr(ev[k], 2);
			df_instr_free(ev[k]);
		}
		free(ev);
	}
	printf("target %zu\n", df.target);
	df_dockerfile_free(&df);
	return 0;
}
