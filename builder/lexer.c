/* The Dockerfile lexer (see lexer.h).  The steps of df_lex follow BuildKit's
 * parser.Parse loop:
 *   1. read a physical line; on line 1 drop a byte-order mark;
 *   2. while still at the top, try it as a parser directive;
 *   3. drop comment and empty lines; strip the continuation character and
 *      join the following lines (dropping comments and empty lines there);
 *   4. for RUN/COPY/ADD in shell form, read the body of each heredoc word. */
#include "lexer.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expand.h"
#include "util/cleanup.h"

/* ---- JSON arrays ------------------------------------------------------- */

struct js {
	const char *s;
	size_t i;
};

static void js_ws(struct js *j)
{
	while (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r')
		j->i++;
}

static void put_utf8(char **o, unsigned cp)
{
	char *p = *o;
	if (cp < 0x80) {
		*p++ = (char)cp;
	} else if (cp < 0x800) {
		*p++ = (char)(0xc0 | (cp >> 6));
		*p++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*p++ = (char)(0xe0 | (cp >> 12));
		*p++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*p++ = (char)(0xf0 | (cp >> 18));
		*p++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*p++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (char)(0x80 | (cp & 0x3f));
	}
	*o = p;
}

static int hex4(const char *s, unsigned *v)
{
	*v = 0;
	for (int k = 0; k < 4; k++) {
		int c = (unsigned char)s[k];
		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/* A JSON string at j->i ('"'); *out (if out) receives it decoded. */
static int js_string(struct js *j, char **out)
{
	size_t start = ++j->i, n = 0;
	char *o;

	while (j->s[j->i] != '"') {
		unsigned char c = (unsigned char)j->s[j->i];
		if (c == '\0' || c < 0x20)
			return -1;
		if (c == '\\')
			j->i++;
		if (j->s[j->i] == '\0')
			return -1;
		j->i++;
		n++;
	}
	j->i++;
	if (out == NULL)
		return 0;
	*out = malloc(n * 4 + 1);
	if (*out == NULL)
		return -2;
	o = *out;
	for (size_t k = start; k < j->i - 1; k++) {
		char c = j->s[k];
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		c = j->s[++k];
		switch (c) {
		case '"':
		case '\\':
		case '/':
			*o++ = c;
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u': {
			unsigned cp, lo;
			if (hex4(j->s + k + 1, &cp) < 0)
				goto bad;
			k += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && j->s[k + 1] == '\\' && j->s[k + 2] == 'u' &&
			    hex4(j->s + k + 3, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				k += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			put_utf8(&o, cp);
			break;
		}
		default:
			goto bad;
		}
	}
	*o = '\0';
	return 0;
bad:
	free(*out);
	*out = NULL;
	return -1;
}

static int js_value(struct js *j, int depth);

static int js_number(struct js *j)
{
	const char *s = j->s;
	if (s[j->i] == '-')
		j->i++;
	if (s[j->i] == '0')
		j->i++;
	else if (isdigit((unsigned char)s[j->i]))
		while (isdigit((unsigned char)s[j->i]))
			j->i++;
	else
		return -1;
	if (s[j->i] == '.') {
		j->i++;
		if (!isdigit((unsigned char)s[j->i]))
			return -1;
		while (isdigit((unsigned char)s[j->i]))
			j->i++;
	}
	if (s[j->i] == 'e' || s[j->i] == 'E') {
		j->i++;
		if (s[j->i] == '+' || s[j->i] == '-')
			j->i++;
		if (!isdigit((unsigned char)s[j->i]))
			return -1;
		while (isdigit((unsigned char)s[j->i]))
			j->i++;
	}
	return 0;
}

static int js_list(struct js *j, char open, char close, int depth)
{
	j->i++;
	js_ws(j);
	if (j->s[j->i] == close) {
		j->i++;
		return 0;
	}
	for (;;) {
		js_ws(j);
		if (open == '{') {
			if (j->s[j->i] != '"' || js_string(j, NULL) < 0)
				return -1;
			js_ws(j);
			if (j->s[j->i++] != ':')
				return -1;
			js_ws(j);
		}
		if (js_value(j, depth + 1) < 0)
			return -1;
		js_ws(j);
		if (j->s[j->i] == close) {
			j->i++;
			return 0;
		}
		if (j->s[j->i++] != ',')
			return -1;
	}
}

static int js_value(struct js *j, int depth)
{
	const char *s = j->s + j->i;
	if (depth > 100)
		return -1;
	switch (*s) {
	case '"':
		return js_string(j, NULL);
	case '[':
		return js_list(j, '[', ']', depth);
	case '{':
		return js_list(j, '{', '}', depth);
	case 't':
		j->i += 4;
		return strncmp(s, "true", 4) == 0 ? 0 : -1;
	case 'f':
		j->i += 5;
		return strncmp(s, "false", 5) == 0 ? 0 : -1;
	case 'n':
		j->i += 4;
		return strncmp(s, "null", 4) == 0 ? 0 : -1;
	}
	return js_number(j);
}

int df_json_strings(const char *s, char ***out, size_t **offs, berth_error_t *err)
{
	struct js j = {s, 0};
	size_t n = 0, lead;
	bool all_strings = true;

	while (isspace((unsigned char)s[j.i]))
		j.i++;
	lead = j.i;
	if (s[j.i] != '[')
		return 0;
	/* 1. validate, counting the elements */
	if (js_value(&j, 0) < 0)
		return 0;
	js_ws(&j);
	if (s[j.i] != '\0')
		return 0;
	j.i = lead + 1;
	js_ws(&j);
	while (s[j.i] != ']') {
		size_t at = j.i;
		if (s[at] != '"')
			all_strings = false;
		js_value(&j, 1);
		js_ws(&j);
		if (s[j.i] == ',')
			j.i++;
		js_ws(&j);
		n++;
	}
	if (!all_strings)
		return berth_error_invalid(
		    err, "when using JSON array syntax, arrays must be comprised of strings only");
	/* 2. decode */
	char **v = calloc(n + 1, sizeof(*v));
	size_t *o = calloc(n + 1, sizeof(*o));
	if (v == NULL || o == NULL)
		goto oom;
	j.i = lead + 1;
	for (size_t k = 0; k < n; k++) {
		js_ws(&j);
		o[k] = j.i;
		if (js_string(&j, &v[k]) < 0)
			goto oom;
		js_ws(&j);
		if (s[j.i] == ',')
			j.i++;
	}
	*out = v;
	if (offs != NULL)
		*offs = o;
	else
		free(o);
	return 1;
oom:
	strv_free(v);
	free(o);
	return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "parse JSON array");
}

/* ---- heredoc words ----------------------------------------------------- */

static size_t count_quotes(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\'' || *s == '"';
	return n;
}

/* BuildKit's ^(\d*)<<(-?)\s*([^<]*)$ and its two lexings of the name. */
bool df_heredoc_word(const char *word, struct df_heredoc *h)
{
	const char *p = word;
	int fd = 0;
	bool chomp = false;
	struct expand_opts plain = {.skip_unset = true}, raw = {.skip_unset = true, .raw_quotes = true};
	cleanup_strv char **w = NULL;
	cleanup_strv char **wr = NULL;

	while (isdigit((unsigned char)*p)) {
		/* many digits saturate rather than overflow (found by fuzz-dockerfile) */
		int d = *p++ - '0';
		fd = fd > (INT_MAX - d) / 10 ? INT_MAX : fd * 10 + d;
	}
	if (p[0] != '<' || p[1] != '<')
		return false;
	p += 2;
	if (*p == '-') {
		chomp = true;
		p++;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || strchr(p, '<') != NULL)
		return false;
	if (expand_words(p, NULL, &plain, &w, NULL) < 0 || w[0] == NULL || w[1] != NULL)
		return false;
	if (expand_words(p, NULL, &raw, &wr, NULL) < 0 || wr[0] == NULL || wr[1] != NULL)
		return false;
	if (h != NULL) {
		h->name = steal_ptr(&w[0]);
		h->fd = fd;
		h->chomp = chomp;
		h->expand = count_quotes(h->name) == count_quotes(wr[0]);
	}
	return true;
}

/* ---- lines ---------------------------------------------------------------- */

struct reader {
	const char *src;
	size_t len, pos;
	int line; /* lines read so far */
};

/* The next physical line, without its line ending; NULL at the end.  *raw
 * and *raw_len give the line with its ending (for heredoc bodies). */
static const char *read_line(struct reader *r, size_t *n, const char **raw, size_t *raw_len)
{
	if (r->pos >= r->len)
		return NULL;
	const char *s = r->src + r->pos;
	const char *nl = memchr(s, '\n', r->len - r->pos);
	size_t l = nl ? (size_t)(nl - s) + 1 : r->len - r->pos;
	r->pos += l;
	r->line++;
	*raw = s;
	*raw_len = l;
	while (l > 0 && (s[l - 1] == '\n' || s[l - 1] == '\r'))
		l--;
	*n = l;
	return s;
}

static bool is_comment(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	return i < n && s[i] == '#';
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

/* Strips a trailing continuation character (and the blanks after it);
 * returns true when the line continues.  As BuildKit's regexp: the escape
 * character must start the line or follow another character. */
static bool trim_continuation(const char *s, size_t *n, char esc)
{
	size_t l = *n;
	while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'))
		l--;
	if (l == 0 || s[l - 1] != esc)
		return false;
	if (l >= 2 && s[l - 2] == esc)
		return false;
	*n = l - 1;
	return true;
}

struct dir_state {
	bool done;
	bool seen_escape, seen_syntax, seen_check;
};

static int lex_fail(const char *file, int line, int col, berth_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int lex_fail(const char *file, int line, int col, berth_error_t *err, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	berth_error_invalid(err, "%s:%d:%d: %s", file, line, col, msg ? msg : "out of memory");
	free(msg);
	return -1;
}

/* A parser directive: `#` then `name = value` (name [a-zA-Z][a-zA-Z0-9]*). */
static int try_directive(struct df_lexed *out, struct dir_state *st, const char *s, size_t n, int line,
                         berth_error_t *err)
{
	size_t i = 1, ks, ke, vs, ve;

	if (st->done)
		return 0;
	if (n == 0 || s[0] != '#') {
		st->done = true;
		return 0;
	}
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	ks = i;
	if (i >= n || !isalpha((unsigned char)s[i])) {
		st->done = true;
		return 0;
	}
	while (i < n && isalnum((unsigned char)s[i]))
		i++;
	ke = i;
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	if (i >= n || s[i] != '=') {
		st->done = true;
		return 0;
	}
	i++;
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	vs = i;
	ve = n;
	while (ve > vs && isspace((unsigned char)s[ve - 1]))
		ve--;
	if (ve == vs) {
		st->done = true;
		return 0;
	}
	cleanup_free char *key = strndup(s + ks, ke - ks);
	cleanup_free char *value = strndup(s + vs, ve - vs);
	if (key == NULL || value == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "read directive");
	for (char *k = key; *k; k++)
		*k = (char)tolower((unsigned char)*k);
	bool *seen = strcmp(key, "escape") == 0   ? &st->seen_escape
	             : strcmp(key, "syntax") == 0 ? &st->seen_syntax
	             : strcmp(key, "check") == 0  ? &st->seen_check
	                                          : NULL;
	if (seen == NULL) {
		st->done = true;
		return 0;
	}
	if (*seen)
		return lex_fail(out->filename, line, 1, err, "only one %s parser directive can be used", key);
	*seen = true;
	if (strcmp(key, "escape") == 0) {
		if (strcmp(value, "`") != 0 && strcmp(value, "\\") != 0)
			return lex_fail(out->filename, line, 1, err,
			                "invalid escape token '%s' does not match ` or \\", value);
		out->escape = value[0];
	}
	struct df_directive *d = realloc(out->directives, (out->n_directives + 1) * sizeof(*d));
	if (d == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "read directive");
	out->directives = d;
	d[out->n_directives].name = steal_ptr(&key);
	d[out->n_directives].value = steal_ptr(&value);
	d[out->n_directives++].line = line;
	return 1;
}

struct text {
	char *s;
	size_t len, cap;
	struct df_seg *segs;
	size_t n_segs;
};

static int text_add(struct text *t, const char *s, size_t n, int line, int col)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 128;
		while (cap < t->len + n + 1)
			cap *= 2;
		char *p = realloc(t->s, cap);
		if (p == NULL)
			return -1;
		t->s = p;
		t->cap = cap;
	}
	struct df_seg *g = realloc(t->segs, (t->n_segs + 1) * sizeof(*g));
	if (g == NULL)
		return -1;
	t->segs = g;
	g[t->n_segs++] = (struct df_seg){t->len, line, col};
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
	return 0;
}

struct df_pos df_line_pos(const struct df_line *l, size_t off)
{
	struct df_pos p = {l->line, 1};
	for (size_t i = 0; i < l->n_segs; i++) {
		if (l->segs[i].off > off)
			break;
		p.line = l->segs[i].line;
		p.col = l->segs[i].col + (int)(off - l->segs[i].off);
	}
	return p;
}

/* Whether the instruction takes heredocs: RUN, COPY, ADD (or ONBUILD of
 * one) whose arguments are not a JSON array. */
static bool wants_heredocs(const char *text)
{
	const char *p = text;
	char cmd[16];

	for (int round = 0; round < 2; round++) {
		size_t k = 0;
		while (isspace((unsigned char)*p))
			p++;
		while (*p && !isspace((unsigned char)*p) && k < sizeof(cmd) - 1)
			cmd[k++] = (char)tolower((unsigned char)*p++);
		cmd[k] = '\0';
		if (strcmp(cmd, "onbuild") != 0)
			break;
	}
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "copy") != 0 && strcmp(cmd, "add") != 0)
		return false;
	for (;;) { /* skip the --flags */
		while (isspace((unsigned char)*p))
			p++;
		if (p[0] != '-' || p[1] != '-')
			break;
		while (*p && !isspace((unsigned char)*p))
			p++;
	}
	char **v = NULL;
	berth_error_t e = NULL;
	int r = df_json_strings(p, &v, NULL, &e);
	strv_free(v);
	berth_error_free(&e);
	return r == 0;
}

static int read_heredocs(struct df_lexed *out, struct reader *r, struct df_line *l, berth_error_t *err)
{
	struct expand_opts raw = {.raw_quotes = true, .raw_escapes = true, .skip_unset = true};
	cleanup_strv char **words = NULL;

	if (strstr(l->text, "<<") == NULL || !wants_heredocs(l->text))
		return 0;
	if (expand_words(l->text, NULL, &raw, &words, NULL) < 0)
		return 0; /* as BuildKit: a line that does not lex has no heredocs */
	for (char **w = words; *w; w++) {
		struct df_heredoc h = {0};
		const char *s, *rawl;
		size_t n, rawn;
		bool done = false;
		struct text body = {0};

		if (!df_heredoc_word(*w, &h))
			continue;
		h.line = r->line + 1;
		while ((s = read_line(r, &n, &rawl, &rawn)) != NULL) {
			size_t k = 0;
			if (h.chomp)
				while (k < n && s[k] == '\t')
					k++;
			if (n - k == strlen(h.name) && memcmp(s + k, h.name, n - k) == 0) {
				done = true;
				break;
			}
			if (text_add(&body, rawl, rawn, r->line, 1) < 0) {
				free(h.name);
				free(body.s);
				free(body.segs);
				return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "read heredoc");
			}
		}
		free(body.segs);
		if (!done) {
			free(h.name);
			free(body.s);
			return lex_fail(out->filename, l->line, df_line_pos(l, 0).col, err,
			                "unterminated heredoc");
		}
		h.content = body.s != NULL ? body.s : strdup("");
		struct df_heredoc *hs = realloc(l->heredocs, (l->n_heredocs + 1) * sizeof(*hs));
		if (h.content == NULL || hs == NULL) {
			free(h.name);
			free(h.content);
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "read heredoc");
		}
		l->heredocs = hs;
		hs[l->n_heredocs++] = h;
	}
	l->end_line = r->line;
	return 0;
}

int df_lex(const char *filename, const char *src, size_t len, struct df_lexed *out, berth_error_t *err)
{
	struct reader r = {src, len, 0, 0};
	struct dir_state st = {0};
	const char *s, *raw;
	size_t n, rawn;

	memset(out, 0, sizeof(*out));
	out->escape = '\\';
	out->filename = strdup(filename);
	if (out->filename == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "read %s", filename);
	while ((s = read_line(&r, &n, &raw, &rawn)) != NULL) {
		size_t lead = 0;
		struct text t = {0};
		bool cont, empty_cont = false;
		int start = r.line;

		/* 1. the byte-order mark, leading blanks */
		if (r.line == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
			lead = 3;
		while (lead < n && isspace((unsigned char)s[lead]))
			lead++;
		/* 2. directives */
		if (try_directive(out, &st, s + lead, n - lead, r.line, err) < 0)
			goto fail;
		/* 3. comments, blank lines, continuations */
		if (is_comment(s + lead, n - lead))
			continue;
		size_t l = n - lead;
		cont = trim_continuation(s + lead, &l, out->escape);
		if (!cont && l == 0)
			continue;
		if (text_add(&t, s + lead, l, r.line, (int)lead + 1) < 0)
			goto oom;
		while (cont && (s = read_line(&r, &n, &raw, &rawn)) != NULL) {
			if (is_comment(s, n))
				continue;
			if (is_blank(s, n)) {
				empty_cont = true;
				continue;
			}
			l = n;
			cont = trim_continuation(s, &l, out->escape);
			if (text_add(&t, s, l, r.line, 1) < 0)
				goto oom;
		}
		struct df_line *lines = realloc(out->lines, (out->n_lines + 1) * sizeof(*lines));
		if (lines == NULL) {
			free(t.s);
			free(t.segs);
			goto oom;
		}
		out->lines = lines;
		struct df_line *dl = &lines[out->n_lines++];
		*dl = (struct df_line){.text = t.s,
		                       .line = start,
		                       .end_line = r.line,
		                       .segs = t.segs,
		                       .n_segs = t.n_segs,
		                       .empty_continuation = empty_cont};
		/* 4. heredocs */
		if (read_heredocs(out, &r, dl, err) < 0)
			goto fail;
	}
	if (out->n_lines == 0) {
		lex_fail(filename, r.line, 1, err, "file with no instructions");
		goto fail;
	}
	return 0;
oom:
	berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "read %s", filename);
fail:
	df_lexed_free(out);
	return -1;
}

const char *df_lexed_directive(const struct df_lexed *l, const char *name)
{
	for (size_t i = 0; i < l->n_directives; i++)
		if (strcmp(l->directives[i].name, name) == 0)
			return l->directives[i].value;
	return NULL;
}

void df_lexed_free(struct df_lexed *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n_lines; i++) {
		struct df_line *dl = &l->lines[i];
		for (size_t k = 0; k < dl->n_heredocs; k++) {
			free(dl->heredocs[k].name);
			free(dl->heredocs[k].content);
		}
		free(dl->heredocs);
		free(dl->text);
		free(dl->segs);
	}
	free(l->lines);
	for (size_t i = 0; i < l->n_directives; i++) {
		free(l->directives[i].name);
		free(l->directives[i].value);
	}
	free(l->directives);
	free(l->filename);
	memset(l, 0, sizeof(*l));
}
