/* Logical lines -> AST nodes (see parser.h).  Each instruction splits its
 * arguments by the rule BuildKit's dispatch table gives it:
 *
 *   ADD COPY VOLUME            JSON array, or words split on blanks
 *   CMD ENTRYPOINT RUN SHELL   JSON array, or the rest as one string
 *   ARG                        words, quotes kept (parseWords)
 *   ENV LABEL                  key=value words, or the legacy `key value`
 *   EXPOSE FROM                words split on blanks
 *   HEALTHCHECK                a type word, then as CMD
 *   MAINTAINER STOPSIGNAL USER WORKDIR   the rest as one string
 *   ONBUILD                    another instruction
 *
 * Flags (`--name=value` words right after the command) come first for all. */
#include "parser.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

int df_fail(const struct df_ast *ast, struct df_pos pos, berth_error_t *err, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	berth_error_invalid(err, "%s:%d:%d: %s", ast->lexed.filename, pos.line, pos.col,
	                    msg ? msg : "out of memory");
	free(msg);
	return -1;
}

struct wlist {
	struct df_word *v;
	size_t n;
	bool oom;
};

static void wl_add(struct wlist *w, const struct df_line *l, const char *s, size_t len, size_t off)
{
	struct df_word *p;
	char *c;

	if (w->oom)
		return;
	p = realloc(w->v, (w->n + 1) * sizeof(*p));
	c = strndup(s, len);
	if (p == NULL || c == NULL) {
		if (p != NULL)
			w->v = p;
		free(c);
		w->oom = true;
		return;
	}
	w->v = p;
	p[w->n].s = c;
	p[w->n++].pos = df_line_pos(l, off);
}

static void wl_free(struct wlist *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].s);
	free(w->v);
	memset(w, 0, sizeof(*w));
}

static bool blank(char c)
{
	return isspace((unsigned char)c);
}

/* BuildKit's extractBuilderFlags: the leading `--` words (quotes and
 * escapes processed); returns where the arguments start. */
static size_t extract_flags(const struct df_line *l, size_t pos, size_t end, char esc, struct wlist *flags)
{
	const char *t = l->text;
	for (;;) {
		while (pos < end && blank(t[pos]))
			pos++;
		if (pos + 1 >= end || t[pos] != '-' || t[pos + 1] != '-')
			return pos;
		size_t start = pos;
		char quote = 0;
		cleanup_free char *w = malloc(end - pos + 1);
		size_t k = 0;
		if (w == NULL) {
			flags->oom = true;
			return end;
		}
		for (; pos < end; pos++) {
			char c = t[pos];
			if (quote == 0 && blank(c))
				break;
			if (quote == 0 && (c == '\'' || c == '"')) {
				quote = c;
				continue;
			}
			if (quote != 0 && c == quote) {
				quote = 0;
				continue;
			}
			if (c == esc) {
				if (pos + 1 == end)
					continue;
				c = t[++pos];
			}
			w[k++] = c;
		}
		if (k == 2 && memcmp(w, "--", 2) == 0)
			return pos;
		wl_add(flags, l, w, k, start);
	}
}

/* BuildKit's parseWords: blank-separated words; quotes and escapes kept. */
static void parse_words(const struct df_line *l, size_t pos, size_t end, char esc, struct wlist *out)
{
	const char *t = l->text;
	while (pos < end) {
		while (pos < end && blank(t[pos]))
			pos++;
		if (pos >= end)
			break;
		size_t start = pos;
		char quote = 0;
		while (pos < end) {
			char c = t[pos];
			if (quote == 0) {
				if (blank(c))
					break;
				if (c == '\'' || c == '"')
					quote = c;
				else if (c == esc && pos + 1 < end)
					pos++;
			} else if (c == quote) {
				quote = 0;
			} else if (c == esc && quote != '\'' && pos + 1 < end) {
				pos++;
			}
			pos++;
		}
		wl_add(out, l, t + start, pos - start, start);
	}
}

static void split_blanks(const struct df_line *l, size_t pos, size_t end, struct wlist *out)
{
	const char *t = l->text;
	while (pos < end) {
		while (pos < end && blank(t[pos]))
			pos++;
		size_t start = pos;
		while (pos < end && !blank(t[pos]))
			pos++;
		if (pos > start)
			wl_add(out, l, t + start, pos - start, start);
	}
}

/* JSON array or fallback; returns -1 for a JSON array of non-strings. */
static int maybe_json(const struct df_ast *ast, const struct df_line *l, size_t pos, size_t end, bool to_list,
                      struct df_node *n, struct wlist *out, berth_error_t *err)
{
	cleanup_free char *s = strndup(l->text + pos, end - pos);
	cleanup_strv char **v = NULL;
	cleanup_free size_t *offs = NULL;
	berth_error_t e = NULL;

	if (s == NULL) {
		out->oom = true;
		return 0;
	}
	int r = df_json_strings(s, &v, &offs, &e);
	if (r < 0) {
		df_fail(ast, df_line_pos(l, pos), err, "%s", e->msg);
		berth_error_free(&e);
		return -1;
	}
	if (r == 1) {
		n->json = true;
		for (size_t i = 0; v[i] != NULL; i++)
			wl_add(out, l, v[i], strlen(v[i]), pos + offs[i]);
		return 0;
	}
	if (to_list)
		split_blanks(l, pos, end, out);
	else if (end > pos)
		wl_add(out, l, l->text + pos, end - pos, pos);
	return 0;
}

/* ENV and LABEL: key=value words, or the legacy `key value`. */
static int name_val(const struct df_ast *ast, const struct df_line *l, size_t pos, size_t end,
                    const char *what, struct df_pos at, struct wlist *out, berth_error_t *err)
{
	struct wlist words = {0};
	const char *t = l->text;

	parse_words(l, pos, end, ast->lexed.escape, &words);
	if (words.n == 0 || words.oom) {
		out->oom = words.oom;
		wl_free(&words);
		return 0;
	}
	if (strchr(words.v[0].s, '=') == NULL) {
		size_t k = pos;
		while (k < end && !blank(t[k]))
			k++;
		size_t v = k;
		while (v < end && blank(t[v]))
			v++;
		wl_free(&words);
		if (v >= end)
			return df_fail(ast, at, err, "%s must have two arguments", what);
		wl_add(out, l, t + pos, k - pos, pos);
		wl_add(out, l, t + v, end - v, v);
		wl_add(out, l, "", 0, v);
		return 0;
	}
	for (size_t i = 0; i < words.n; i++) {
		const char *w = words.v[i].s, *eq = strchr(w, '=');
		if (eq == NULL) {
			df_fail(ast, words.v[i].pos, err,
			        "Syntax error - can't find = in \"%s\". Must be of the form: name=value", w);
			wl_free(&words);
			return -1;
		}
		size_t off = pos, klen = (size_t)(eq - w);
		/* find the word's offset again: words are in order */
		while (off < end && strncmp(t + off, w, strlen(w)) != 0)
			off++;
		wl_add(out, l, w, klen, off);
		wl_add(out, l, eq + 1, strlen(eq + 1), off + klen + 1);
		wl_add(out, l, "=", 1, off + klen);
		pos = off + strlen(w);
	}
	wl_free(&words);
	return 0;
}

static int build_node(const struct df_ast *ast, struct df_line *l, size_t pos, struct df_node *n,
                      berth_error_t *err);

static int dispatch(const struct df_ast *ast, struct df_line *l, size_t pos, size_t end, struct df_node *n,
                    struct wlist *args, berth_error_t *err)
{
	cleanup_free char *lc = strdup(n->cmd);
	if (lc == NULL) {
		args->oom = true;
		return 0;
	}
	for (char *c = lc; *c; c++)
		*c = (char)tolower((unsigned char)*c);

	if (!strcmp(lc, "add") || !strcmp(lc, "copy") || !strcmp(lc, "volume"))
		return maybe_json(ast, l, pos, end, true, n, args, err);
	if (!strcmp(lc, "cmd") || !strcmp(lc, "entrypoint") || !strcmp(lc, "run") || !strcmp(lc, "shell"))
		return maybe_json(ast, l, pos, end, false, n, args, err);
	if (!strcmp(lc, "arg")) {
		parse_words(l, pos, end, ast->lexed.escape, args);
		return 0;
	}
	if (!strcmp(lc, "env") || !strcmp(lc, "label"))
		return name_val(ast, l, pos, end, !strcmp(lc, "env") ? "ENV" : "LABEL", n->pos, args, err);
	if (!strcmp(lc, "expose") || !strcmp(lc, "from")) {
		split_blanks(l, pos, end, args);
		return 0;
	}
	if (!strcmp(lc, "healthcheck")) {
		size_t k = pos;
		while (k < end && !blank(l->text[k]))
			k++;
		if (k == pos)
			return 0;
		wl_add(args, l, l->text + pos, k - pos, pos);
		while (k < end && blank(l->text[k]))
			k++;
		return maybe_json(ast, l, k, end, false, n, args, err);
	}
	if (!strcmp(lc, "maintainer") || !strcmp(lc, "stopsignal") || !strcmp(lc, "user") ||
	    !strcmp(lc, "workdir")) {
		if (end > pos)
			wl_add(args, l, l->text + pos, end - pos, pos);
		return 0;
	}
	if (!strcmp(lc, "onbuild")) {
		if (end == pos)
			return 0;
		n->sub = calloc(1, sizeof(*n->sub));
		if (n->sub == NULL) {
			args->oom = true;
			return 0;
		}
		if (build_node(ast, l, pos, n->sub, err) < 0)
			return -1;
		wl_add(args, l, n->sub->cmd, strlen(n->sub->cmd), pos);
		return 0;
	}
	return 0; /* unknown: reported by the typed step, with its location */
}

/* BuildKit's newNodeFromLine on l->text from pos on. */
static int build_node(const struct df_ast *ast, struct df_line *l, size_t pos, struct df_node *n,
                      berth_error_t *err)
{
	const char *t = l->text;
	size_t end = strlen(t), cs;
	struct wlist flags = {0}, args = {0};

	while (end > pos && blank(t[end - 1]))
		end--;
	while (pos < end && blank(t[pos]))
		pos++;
	n->line = l;
	n->pos = df_line_pos(l, pos);
	n->off = pos;
	cs = pos;
	while (pos < end && !blank(t[pos]))
		pos++;
	n->cmd = strndup(t + cs, pos - cs);
	if (n->cmd == NULL)
		goto oom;
	pos = extract_flags(l, pos, end, ast->lexed.escape, &flags);
	n->rest = strndup(t + pos, end - pos);
	if (n->rest == NULL || flags.oom)
		goto oom;
	n->flags = flags.v;
	n->n_flags = flags.n;
	flags.v = NULL;
	if (dispatch(ast, l, pos, end, n, &args, err) < 0) {
		wl_free(&args);
		return -1;
	}
	if (args.oom)
		goto oom;
	n->args = args.v;
	n->n_args = args.n;
	return 0;
oom:
	wl_free(&flags);
	wl_free(&args);
	return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "parse %s", ast->lexed.filename);
}

void df_node_free(struct df_node *n)
{
	if (n == NULL)
		return;
	free(n->cmd);
	free(n->rest);
	for (size_t i = 0; i < n->n_flags; i++)
		free(n->flags[i].s);
	free(n->flags);
	for (size_t i = 0; i < n->n_args; i++)
		free(n->args[i].s);
	free(n->args);
	if (n->sub != NULL) {
		df_node_free(n->sub);
		free(n->sub);
	}
	memset(n, 0, sizeof(*n));
}

int df_parse_ast(const char *filename, const char *src, size_t len, struct df_ast *ast, berth_error_t *err)
{
	memset(ast, 0, sizeof(*ast));
	if (df_lex(filename, src, len, &ast->lexed, err) < 0)
		return -1;
	ast->nodes = calloc(ast->lexed.n_lines, sizeof(*ast->nodes));
	if (ast->nodes == NULL) {
		df_ast_free(ast);
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "parse %s", filename);
	}
	for (size_t i = 0; i < ast->lexed.n_lines; i++) {
		ast->n_nodes = i + 1;
		if (build_node(ast, &ast->lexed.lines[i], 0, &ast->nodes[i], err) < 0) {
			df_ast_free(ast);
			return -1;
		}
	}
	return 0;
}

void df_ast_free(struct df_ast *ast)
{
	if (ast == NULL)
		return;
	for (size_t i = 0; i < ast->n_nodes; i++)
		df_node_free(&ast->nodes[i]);
	free(ast->nodes);
	df_lexed_free(&ast->lexed);
	memset(ast, 0, sizeof(*ast));
}
