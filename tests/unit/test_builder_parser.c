/* The Dockerfile lexer and parser: JSON-form detection, heredoc words,
 * directives, line:column of instructions, flags and arguments, and the
 * stage graph.  The golden files of tests/builder/ cover the dump. */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "../../builder/stages.h"
#include "util/cleanup.h"

static void test_json(void)
{
	static const struct {
		const char *s;
		int want;
		const char *first;
	} cases[] = {
	    {"[\"a\", \"b\"]", 1, "a"},
	    {"  [ \"\\u00e9\\n\" ]  ", 1, "é\n"},
	    {"[]", 1, NULL},
	    {"[\"a\",]", 0, NULL},
	    {"['a']", 0, NULL},
	    {"[\"a\"] trailing", 0, NULL},
	    {"echo [\"a\"]", 0, NULL},
	    {"[\"a\", 1]", -1, NULL},
	    {"[\"a\", {\"k\": [true, null]}]", -1, NULL},
	    {"[\"unterminated]", 0, NULL},
	    {"[\"\\ud83d\\ude00\"]", 1, "😀"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char **v = NULL;
		berth_error_t err = NULL;
		int r = df_json_strings(cases[i].s, &v, NULL, &err);
		ok(r == cases[i].want, "JSON form of [%s]: %d (got %d)", cases[i].s, cases[i].want, r);
		if (r == 1)
			is_str(v[0], cases[i].first, "its first element");
		strv_free(v);
		berth_error_free(&err);
	}
}

static void test_heredoc_words(void)
{
	struct df_heredoc h = {0};
	ok(df_heredoc_word("<<EOF", &h) && strcmp(h.name, "EOF") == 0 && h.expand && !h.chomp && h.fd == 0,
	   "<<EOF");
	free(h.name);
	ok(df_heredoc_word("2<<-'END'", &h) && strcmp(h.name, "END") == 0 && !h.expand && h.chomp &&
	       h.fd == 2,
	   "2<<-'END': quoted, chomped, fd 2");
	free(h.name);
	ok(df_heredoc_word("<<\"a\"b", &h) && strcmp(h.name, "ab") == 0 && !h.expand, "partly quoted");
	free(h.name);
	ok(!df_heredoc_word("<<", NULL) && !df_heredoc_word("<<<EOF", NULL) &&
	       !df_heredoc_word("x<<EOF", NULL),
	   "not heredoc words");
}

static void test_positions(void)
{
	const char *src = "# syntax=x/y\n"
	                  "# escape=\\\n"
	                  "\n"
	                  "FROM alpine AS a\n"
	                  "  COPY --from=a \\\n"
	                  "     --chmod=755 src \\\n"
	                  "  # comment\n"
	                  "     dst\n";
	struct df_ast ast;
	berth_error_t err = NULL;

	ok(df_parse_ast("Dockerfile", src, strlen(src), &ast, &err) == 0, "parses");
	if (err != NULL) {
		printf("# %s\n", err->msg);
		berth_error_free(&err);
		return;
	}
	is_str(df_lexed_directive(&ast.lexed, "syntax"), "x/y", "syntax directive");
	ok(ast.lexed.n_directives == 2, "two directives");
	ok(ast.n_nodes == 2, "two instructions");
	struct df_node *n = &ast.nodes[1];
	ok(n->pos.line == 5 && n->pos.col == 3, "COPY at 5:3 (got %d:%d)", n->pos.line, n->pos.col);
	ok(n->n_flags == 2 && n->flags[1].pos.line == 6 && n->flags[1].pos.col == 6, "--chmod at 6:6");
	ok(n->n_args == 2 && n->args[0].pos.line == 6 && n->args[0].pos.col == 18, "src at 6:18 (got %d:%d)",
	   n->args[0].pos.line, n->args[0].pos.col);
	ok(n->n_args == 2 && n->args[1].pos.line == 8 && n->args[1].pos.col == 6, "dst at 8:6 (got %d:%d)",
	   n->args[1].pos.line, n->args[1].pos.col);
	df_ast_free(&ast);

	ok(df_parse_ast("sub/Dockerfile.dev", "FROM a\nRUN --frob x\n", 20, &ast, &err) == 0, "parses");
	struct df_instr *in = NULL;
	ok(df_instr_from_node(&ast, &ast.nodes[1], &in, &err) < 0, "an unknown flag fails");
	is_str(err ? err->msg : NULL, "sub/Dockerfile.dev:2:5: unknown flag: --frob",
	       "with the file as given");
	berth_error_free(&err);
	df_ast_free(&ast);

	ok(df_parse_ast("Dockerfile", "# escape=`\n# escape=`\nFROM a\n", 29, &ast, &err) < 0,
	   "repeated directive");
	is_str(err ? err->msg : NULL, "Dockerfile:2:1: only one escape parser directive can be used",
	       "says so");
	berth_error_free(&err);
	ok(df_parse_ast("Dockerfile", "FROM a\n# escape=`\nRUN a \\\n b\n", 29, &ast, &err) == 0 &&
	       ast.lexed.escape == '\\' && ast.n_nodes == 2 && strcmp(ast.nodes[1].rest, "a  b") == 0,
	   "a directive after an instruction is a comment");
	df_ast_free(&ast);
}

static void test_stages(void)
{
	const char *src = "ARG V=1\n"
	                  "FROM alpine:$V AS one\n"
	                  "FROM one AS two\n"
	                  "FROM busybox AS three\n"
	                  "COPY --from=two /x /x\n"
	                  "FROM scratch\n"
	                  "COPY --from=one /y /y\n";
	const char *ba[] = {"V=2", NULL};
	struct df_build_opts o = {
	    .size = sizeof(o), .build_args = ba, .target = "three", .build_platform = "linux/amd64"};
	struct df_dockerfile df;
	berth_error_t err = NULL;

	ok(df_dockerfile_parse("Dockerfile", src, strlen(src), &o, &df, &err) == 0, "stages parse");
	if (err != NULL) {
		printf("# %s\n", err->msg);
		berth_error_free(&err);
		return;
	}
	ok(df.n_stages == 4, "four stages");
	is_str(df.stages[0].base, "alpine:2", "a build arg overrides a global ARG in FROM");
	ok(df.stages[1].base_stage == 0, "FROM one is stage 0");
	ok(df.target == 2, "--target three");
	ok(df.stages[0].needed && df.stages[1].needed && df.stages[2].needed && !df.stages[3].needed,
	   "the target needs 0, 1 and 2, not 3");
	ok(df.stages[0].level == 0 && df.stages[1].level == 1 && df.stages[2].level == 2 &&
	       df.stages[3].level == 1,
	   "levels 0 1 2 1");
	ok(df_stage_lookup(&df, "1", 2) == 1 && df_stage_lookup(&df, "3", 2) == -1 &&
	       df_stage_lookup(&df, "alpine", 3) == -1,
	   "lookup by index, only earlier stages, images are not stages");
	df_dockerfile_free(&df);

	o.target = "nope";
	ok(df_dockerfile_parse("Dockerfile", src, strlen(src), &o, &df, &err) < 0, "unknown target");
	is_str(err ? err->msg : NULL, "target stage \"nope\" could not be found", "says so");
	berth_error_free(&err);
}

int main(void)
{
	test_json();
	test_heredoc_words();
	test_positions();
	test_stages();
	return tap_done();
}
