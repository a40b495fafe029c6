/* Fuzz target: a Dockerfile through the builder's front end: the lexer
 * (builder/lexer.c: directives, continuations, heredocs), the parser and
 * the typed instructions (builder/parser.c, instructions.c), the stages
 * (builder/stages.c), and each stage evaluated with word expansion
 * (builder/expand.c) from a base image's environment.
 *
 * Any input: no crash, no leak, no undefined behaviour.  A rejected
 * Dockerfile sets an error whose message starts with the file name and,
 * from the parser on, a line ("Dockerfile:3:1: ..."): a user must be told
 * where.  An accepted one has a target stage that it needs, and every stage
 * evaluates or fails with an error naming the file. */
#include "fuzz.h"

#include "../../builder/stages.h"

#define NAME "Dockerfile"

/* Errors of the parser name the file first; the lexer's may carry no
 * column but still the file. */
static void check_located(berth_error_t *err, const char *what)
{
	const char *msg = fuzz_msg(*err);
	fuzz_require(strncmp(msg, NAME, strlen(NAME)) == 0, "%s: an error without the file name: %s", what,
	             msg);
	fuzz_check_error(err, what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy without a terminator, so that a read past the end is seen */
	char *src = malloc(size > 0 ? size : 1);
	static const char *const build_args[] = {"A=1", "HTTP_PROXY=http://proxy", "EMPTY=", NULL};
	static const char *const image_env[] = {"PATH=/usr/bin:/bin", "HOME=/root", "A=image", NULL};
	struct df_build_opts opts = {.size = sizeof(opts), .build_args = build_args};
	struct df_dockerfile df;
	struct df_lexed lexed;
	berth_error_t err = NULL;

	if (src == NULL)
		return 0;
	memcpy(src, data, size);

	/* 1. the lexer alone */
	memset(&lexed, 0, sizeof(lexed));
	if (df_lex(NAME, src, size, &lexed, &err) < 0) {
		check_located(&err, "df_lex");
	} else {
		for (size_t i = 0; i < lexed.n_lines; i++) {
			const struct df_line *l = &lexed.lines[i];
			size_t len = strlen(l->text);
			struct df_pos p = df_line_pos(l, len);
			fuzz_require(l->line >= 1 && l->end_line >= l->line, "line %zu: lines %d..%d", i,
			             l->line, l->end_line);
			fuzz_require(p.line >= 1 && p.col >= 1, "line %zu: position %d:%d", i, p.line, p.col);
		}
		df_lexed_free(&lexed);
	}

	/* 2. everything up to the stages */
	memset(&df, 0, sizeof(df));
	if (df_dockerfile_parse(NAME, src, size, &opts, &df, &err) < 0) {
		check_located(&err, "df_dockerfile_parse");
		df_dockerfile_free(&df);
		free(src);
		return 0;
	}
	fuzz_require(df.n_stages > 0 && df.target < df.n_stages, "target %zu of %zu stages", df.target,
	             df.n_stages);
	fuzz_require(df.stages[df.target].needed, "the target stage is not needed");

	/* 3. each stage expanded, as the executor does it */
	for (size_t i = 0; i < df.n_stages; i++) {
		const struct df_stage *st = &df.stages[i];
		struct df_instr **out = NULL;
		for (size_t d = 0; d < st->n_deps; d++)
			fuzz_require(st->deps[d] < df.n_stages, "stage %zu depends on stage %zu of %zu", i,
			             st->deps[d], df.n_stages);
		if (df_stage_eval(&df, st, image_env, &out, &err) < 0) {
			fuzz_require(out == NULL, "df_stage_eval failed but returned instructions");
			check_located(&err, "df_stage_eval");
			continue;
		}
		for (size_t k = 0; k < st->n_instrs; k++)
			df_instr_free(out[k]);
		free(out);
	}
	df_dockerfile_free(&df);
	free(src);
	return 0;
}
