/* Shell words and variable expansion (see expand.h).  The scanner follows
 * BuildKit's shell.Lex step by step, so that a Dockerfile expands here as it
 * does under `docker build`; messages are BuildKit's. */
#include "expand.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

/* ---- variables ---------------------------------------------------------- */

void expand_vars_init(struct expand_vars *v)
{
	memset(v, 0, sizeof(*v));
}

void expand_vars_free(struct expand_vars *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		free(v->keys[i]);
		free(v->values[i]);
	}
	free(v->keys);
	free(v->values);
	memset(v, 0, sizeof(*v));
}

static ssize_t vars_find(const struct expand_vars *v, const char *key)
{
	if (v == NULL)
		return -1;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->keys[i], key) == 0)
			return (ssize_t)i;
	return -1;
}

const char *expand_vars_get(const struct expand_vars *v, const char *key)
{
	ssize_t i = vars_find(v, key);
	return i < 0 ? NULL : v->values[i];
}

int expand_vars_set(struct expand_vars *v, const char *key, const char *value, berth_error_t *err)
{
	ssize_t i = vars_find(v, key);
	char *val = strdup(value != NULL ? value : "");

	if (val == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "set variable `%s`", key);
	if (i >= 0) {
		free(v->values[i]);
		v->values[i] = val;
		return 0;
	}
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		char **k = realloc(v->keys, cap * sizeof(*k));
		if (k != NULL)
			v->keys = k;
		char **vv = k != NULL ? realloc(v->values, cap * sizeof(*vv)) : NULL;
		if (vv == NULL) {
			free(val);
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "set variable `%s`", key);
		}
		v->values = vv;
		v->cap = cap;
	}
	v->keys[v->n] = strdup(key);
	if (v->keys[v->n] == NULL) {
		free(val);
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "set variable `%s`", key);
	}
	v->values[v->n++] = val;
	return 0;
}

void expand_vars_unset(struct expand_vars *v, const char *key)
{
	ssize_t i = vars_find(v, key);
	if (i < 0)
		return;
	free(v->keys[i]);
	free(v->values[i]);
	memmove(&v->keys[i], &v->keys[i + 1], (v->n - (size_t)i - 1) * sizeof(char *));
	memmove(&v->values[i], &v->values[i + 1], (v->n - (size_t)i - 1) * sizeof(char *));
	v->n--;
}

int expand_vars_copy(struct expand_vars *dst, const struct expand_vars *src, berth_error_t *err)
{
	if (src == NULL)
		return 0;
	for (size_t i = 0; i < src->n; i++)
		if (expand_vars_set(dst, src->keys[i], src->values[i], err) < 0)
			return -1;
	return 0;
}

/* ---- growable strings and word lists ------------------------------------ */

/* The longest result of ${VAR/p/r}: half the longest argument the kernel
 * passes to exec (128 KiB); more only makes the matching, which is
 * quadratic or worse in the value's length, take minutes. */
#define EXPAND_RESULT_MAX (1 << 16)

struct buf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void buf_addn(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void buf_addc(struct buf *b, char c)
{
	buf_addn(b, &c, 1);
}

static void buf_adds(struct buf *b, const char *s)
{
	buf_addn(b, s, strlen(s));
}

/* The result as a string ("" when nothing was added). */
static char *buf_take(struct buf *b)
{
	if (b->s == NULL && !b->oom)
		buf_addn(b, "", 0);
	if (b->oom) {
		free(b->s);
		b->s = NULL;
		return NULL;
	}
	char *s = b->s;
	memset(b, 0, sizeof(*b));
	return s;
}

struct words {
	struct buf word;
	bool in_word;
	char **v;
	size_t n, cap;
	bool oom;
};

static void words_push(struct words *w)
{
	char *s = buf_take(&w->word);
	if (s == NULL || (w->n + 2 > w->cap && w->oom)) {
		free(s);
		w->oom = true;
		return;
	}
	if (w->n + 2 > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;
		char **p = realloc(w->v, cap * sizeof(*p));
		if (p == NULL) {
			free(s);
			w->oom = true;
			return;
		}
		w->v = p;
		w->cap = cap;
	}
	w->v[w->n++] = s;
	w->v[w->n] = NULL;
}

static void words_raw_char(struct words *w, char c)
{
	buf_addc(&w->word, c);
	w->in_word = true;
}

/* An unquoted character: blanks end a word. */
static void words_char(struct words *w, char c)
{
	if (isspace((unsigned char)c)) {
		if (w->in_word && w->word.len > 0) {
			words_push(w);
			w->in_word = false;
		}
		return;
	}
	words_raw_char(w, c);
}

static void words_string(struct words *w, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		words_char(w, s[i]);
}

static void words_raw_string(struct words *w, const char *s, size_t n)
{
	buf_addn(&w->word, s, n);
	w->in_word = true;
}

static void words_finish(struct words *w)
{
	if (w->word.len > 0)
		words_push(w);
	w->in_word = false;
}

static void words_free(struct words *w)
{
	free(w->word.s);
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
}

/* ---- the scanner ------------------------------------------------------- */

#define END (-1)

struct sw {
	const char *s;
	size_t pos, n;
	const struct expand_vars *vars;
	char escape;
	bool raw_quotes, raw_escapes, skip_unset, skip_quotes;
	char *msg; /* the error, when a step fails */
	bool oom;
};

static int peek(const struct sw *sw)
{
	return sw->pos < sw->n ? (unsigned char)sw->s[sw->pos] : END;
}

static int next(struct sw *sw)
{
	return sw->pos < sw->n ? (unsigned char)sw->s[sw->pos++] : END;
}

static int fail(struct sw *sw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct sw *sw, const char *fmt, ...)
{
	va_list ap;
	if (sw->msg != NULL)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&sw->msg, fmt, ap) < 0) {
		sw->msg = NULL;
		sw->oom = true;
	}
	va_end(ap);
	return -1;
}

static int process_dollar(struct sw *sw, struct buf *out);

/* Reads up to stop (END: to the end), expanding; the characters go to out
 * and, when words is not NULL, into words. */
static int process_stop_on(struct sw *sw, int stop, bool raw_escapes, struct buf *out, struct words *words)
{
	bool saved = sw->raw_escapes;
	int r = -1;

	sw->raw_escapes = raw_escapes;
	while (peek(sw) != END) {
		int ch = peek(sw);
		if (stop != END && ch == stop) {
			next(sw);
			r = 0;
			goto done;
		}
		if (ch == '$' || (!sw->skip_quotes && (ch == '\'' || ch == '"'))) {
			struct buf tmp = {0};
			int rc;
			if (ch == '$') {
				rc = process_dollar(sw, &tmp);
			} else {
				bool dq = ch == '"';
				next(sw);
				if (sw->raw_quotes)
					buf_addc(&tmp, (char)ch);
				rc = 0;
				for (;;) {
					int c = peek(sw);
					if (c == END) {
						rc = fail(sw,
						          "unexpected end of statement while looking for "
						          "matching %s",
						          dq ? "double-quote" : "single-quote");
						break;
					}
					if (c == ch) {
						next(sw);
						if (sw->raw_quotes)
							buf_addc(&tmp, (char)c);
						break;
					}
					if (dq && c == '$') {
						if (process_dollar(sw, &tmp) < 0) {
							rc = -1;
							break;
						}
						continue;
					}
					next(sw);
					if (dq && c == sw->escape) {
						if (sw->raw_escapes)
							buf_addc(&tmp, (char)c);
						int p = peek(sw);
						if (p == END)
							continue; /* ignore an escape at the end of the word
							           */
						if (p == '"' || p == '$' || p == sw->escape)
							c = next(sw);
					}
					buf_addc(&tmp, (char)c);
				}
			}
			if (rc < 0) {
				free(tmp.s);
				goto done;
			}
			if (tmp.len > 0)
				buf_addn(out, tmp.s, tmp.len);
			if (words != NULL) {
				if (ch == '$')
					words_string(words, tmp.s, tmp.len);
				else
					words_raw_string(words, tmp.s != NULL ? tmp.s : "", tmp.len);
			}
			free(tmp.s);
			continue;
		}
		ch = next(sw);
		if (ch == sw->escape) {
			if (sw->raw_escapes) {
				if (words != NULL)
					words_raw_char(words, (char)ch);
				buf_addc(out, (char)ch);
			}
			ch = next(sw);
			if (ch == END)
				break;
			if (words != NULL)
				words_raw_char(words, (char)ch);
		} else if (words != NULL) {
			words_char(words, (char)ch);
		}
		buf_addc(out, (char)ch);
	}
	if (stop != END) {
		fail(sw, "unexpected end of statement while looking for matching %c", stop);
		goto done;
	}
	r = 0;
done:
	sw->raw_escapes = saved;
	if (out->oom || (words != NULL && (words->oom || words->word.oom)))
		sw->oom = true;
	return sw->oom ? -1 : r;
}

static bool is_special_param(int c)
{
	return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' || c == '0';
}

static bool is_name_char(int c)
{
	return c != END && (isalnum(c) || c == '_' || c >= 0x80);
}

static char *process_name(struct sw *sw)
{
	struct buf name = {0};
	int c = peek(sw);

	if (c != END && isdigit(c)) {
		while (peek(sw) != END && isdigit(peek(sw)))
			buf_addc(&name, (char)next(sw));
	} else if (c != END && is_special_param(c)) {
		buf_addc(&name, (char)next(sw));
	} else {
		while (is_name_char(peek(sw)))
			buf_addc(&name, (char)next(sw));
	}
	char *s = buf_take(&name);
	if (s == NULL)
		sw->oom = true;
	return s;
}

/* ---- glob patterns ----------------------------------------------------- */

enum { TOK_LIT, TOK_ANY, TOK_STAR, TOK_CLASS };

struct ptok {
	int kind;
	char c;            /* TOK_LIT */
	const char *class; /* TOK_CLASS: the text after '[' */
	size_t class_len;  /* up to, not including, the closing ']' */
};

struct pattern {
	struct ptok *t;
	size_t n;
};

/* The length of the bracket expression at p (after '['), or 0 when the
 * bracket is not closed (then '[' is literal). */
static size_t class_len(const char *p, size_t n)
{
	size_t i = 0;
	if (i < n && (p[i] == '!' || p[i] == '^'))
		i++;
	if (i < n && p[i] == ']')
		i++;
	for (; i < n; i++)
		if (p[i] == ']')
			return i;
	return 0;
}

static int pattern_compile(const char *p, struct pattern *out, char **msg)
{
	size_t n = strlen(p);
	struct ptok *t = calloc(n + 1, sizeof(*t));
	size_t k = 0;

	if (t == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '*') {
			t[k++].kind = TOK_STAR;
		} else if (c == '?') {
			t[k++].kind = TOK_ANY;
		} else if (c == '\\') {
			char e = i + 1 < n ? p[i + 1] : '\0';
			if (e == '}' || e == '/')
				continue; /* escaped delimiter: the escape is not part of the pattern */
			if (e != '*' && e != '?' && e != '\\' && e != '[' && e != ']') {
				free(t);
				if (asprintf(msg, "invalid escape '\\%c'", e) < 0)
					*msg = NULL;
				return -1;
			}
			t[k].kind = TOK_LIT;
			t[k++].c = e;
			i++;
		} else if (c == '[' && class_len(p + i + 1, n - i - 1) > 0) {
			size_t len = class_len(p + i + 1, n - i - 1);
			t[k].kind = TOK_CLASS;
			t[k].class = p + i + 1;
			t[k++].class_len = len;
			i += len + 1;
		} else {
			t[k].kind = TOK_LIT;
			t[k++].c = c;
		}
	}
	out->t = t;
	out->n = k;
	return 0;
}

/* The length of the UTF-8 sequence starting at s (1 for stray bytes). */
static size_t rune_len(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (len > n)
		return 1;
	for (size_t i = 1; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 1;
	return len;
}

static bool class_match(const struct ptok *t, unsigned char c)
{
	const char *p = t->class;
	size_t n = t->class_len, i = 0;
	bool neg = false, hit = false;

	if (n > 0 && (p[0] == '!' || p[0] == '^')) {
		neg = true;
		i++;
	}
	for (bool first = true; i < n; i++, first = false) {
		unsigned char lo = (unsigned char)p[i];
		if (lo == '\\' && i + 1 < n)
			lo = (unsigned char)p[++i];
		else if (lo == ']' && !first)
			break;
		if (i + 2 < n && p[i + 1] == '-') {
			unsigned char hi = (unsigned char)p[i + 2];
			i += 2;
			if (c >= lo && c <= hi)
				hit = true;
		} else if (c == lo) {
			hit = true;
		}
	}
	return hit != neg;
}

/* Whether the tokens match one rune of s: its length, or 0. */
static size_t tok_match(const struct ptok *t, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	switch (t->kind) {
	case TOK_LIT:
		return s[0] == t->c ? 1 : 0;
	case TOK_ANY:
		return rune_len(s, n);
	case TOK_CLASS:
		return class_match(t, (unsigned char)s[0]) ? rune_len(s, n) : 0;
	}
	return 0;
}

/* Whether the whole of s[0..n) matches the pattern: the classic wildcard
 * walk that backtracks to the last star. */
static bool pattern_match(const struct pattern *p, const char *s, size_t n)
{
	size_t ti = 0, si = 0, star_t = (size_t)-1, star_s = 0;

	while (si < n) {
		size_t m;
		if (ti < p->n && p->t[ti].kind == TOK_STAR) {
			star_t = ti++;
			star_s = si;
		} else if (ti < p->n && (m = tok_match(&p->t[ti], s + si, n - si)) > 0) {
			ti++;
			si += m;
		} else if (star_t != (size_t)-1) {
			ti = star_t + 1;
			star_s += rune_len(s + star_s, n - star_s);
			si = star_s;
		} else {
			return false;
		}
	}
	while (ti < p->n && p->t[ti].kind == TOK_STAR)
		ti++;
	return ti == p->n;
}

int expand_glob_match(const char *pattern, const char *s, size_t len, berth_error_t *err)
{
	struct pattern p;
	char *msg = NULL;

	if (pattern_compile(pattern, &p, &msg) < 0) {
		int r = berth_error_invalid(err, "invalid pattern (%s): %s", pattern,
		                            msg ? msg : "out of memory");
		free(msg);
		return r;
	}
	bool m = pattern_match(&p, s, len);
	free(p.t);
	return m ? 1 : 0;
}

static bool at_rune_start(const char *s, size_t i)
{
	return ((unsigned char)s[i] & 0xc0) != 0x80;
}

/* ${VAR#p} ${VAR##p} ${VAR%p} ${VAR%%p} */
static int trim(struct sw *sw, const char *value, const char *pat, bool suffix, bool longest, struct buf *out)
{
	struct pattern p;
	char *msg = NULL;
	size_t n = strlen(value);

	if (pattern_compile(pat, &p, &msg) < 0) {
		fail(sw, "invalid pattern (%s) in substitution: %s", pat, msg ? msg : "out of memory");
		free(msg);
		return -1;
	}
	size_t cut = (size_t)-1;
	for (size_t k = 0; k <= n; k++) {
		/* candidate lengths of the stripped part, shortest first */
		size_t len = longest ? n - k : k;
		size_t start = suffix ? n - len : 0;
		if (start < n && !at_rune_start(value, start))
			continue;
		if (!suffix && len < n && !at_rune_start(value, len))
			continue;
		if (pattern_match(&p, value + start, len)) {
			cut = len;
			break;
		}
	}
	free(p.t);
	if (cut == (size_t)-1)
		buf_adds(out, value);
	else if (suffix)
		buf_addn(out, value, n - cut);
	else
		buf_adds(out, value + cut);
	return 0;
}

/* The leftmost match at or after pos, as long as it can be: 1 with [*s, *e). */
static bool find_match(const struct pattern *p, const char *value, size_t n, size_t pos, size_t *s, size_t *e)
{
	for (size_t i = pos; i <= n; i++) {
		if (i < n && !at_rune_start(value, i))
			continue;
		for (size_t len = n - i + 1; len-- > 0;) {
			if (i + len < n && !at_rune_start(value, i + len))
				continue;
			if (pattern_match(p, value + i, len)) {
				*s = i;
				*e = i + len;
				return true;
			}
		}
	}
	return false;
}

/* ${VAR/p/r} ${VAR//p/r}: the walk of Go's Regexp.ReplaceAllString (an empty
 * match right after a match is not replaced; the search always advances). */
static int replace(struct sw *sw, const char *value, const char *pat, const char *repl, bool all,
                   struct buf *out)
{
	struct pattern p;
	char *msg = NULL;
	size_t n = strlen(value), search = 0, last_end = 0, s, e;

	if (pattern_compile(pat, &p, &msg) < 0) {
		fail(sw, "invalid pattern (%s) in substitution: %s", pat, msg ? msg : "out of memory");
		free(msg);
		return -1;
	}
	while (search <= n && find_match(&p, value, n, search, &s, &e)) {
		buf_addn(out, value + last_end, s - last_end);
		if (e > last_end || s == 0)
			buf_adds(out, repl);
		/* each match adds repl: nested substitutions grow the result
		 * exponentially (found by fuzz-expand) */
		if (out->len > EXPAND_RESULT_MAX) {
			fail(sw, "substitution result longer than %d bytes", EXPAND_RESULT_MAX);
			free(p.t);
			return -1;
		}
		last_end = e;
		size_t width = search < n ? rune_len(value + search, n - search) : 0;
		if (search + width > e)
			search += width;
		else if (search + 1 > e)
			search++;
		else
			search = e;
		if (!all)
			break;
	}
	buf_adds(out, value + last_end);
	free(p.t);
	return 0;
}

/* ---- $ ------------------------------------------------------------------ */

static int process_dollar(struct sw *sw, struct buf *out)
{
	cleanup_free char *name = NULL;
	cleanup_free char *word = NULL;
	struct buf w = {0};
	const char *value;

	next(sw); /* $ */
	if (peek(sw) != '{') {
		name = process_name(sw);
		if (name == NULL)
			return -1;
		if (name[0] == '\0') {
			buf_addc(out, '$');
			return 0;
		}
		value = expand_vars_get(sw->vars, name);
		if (value == NULL && sw->skip_unset) {
			buf_addc(out, '$');
			buf_adds(out, name);
		} else if (value != NULL) {
			buf_adds(out, value);
		}
		return 0;
	}
	next(sw); /* { */
	switch (peek(sw)) {
	case END:
		return fail(sw, "syntax error: missing '}'");
	case '{':
	case '}':
	case ':':
		return fail(sw, "syntax error: bad substitution");
	}
	name = process_name(sw);
	if (name == NULL)
		return -1;
	int ch = next(sw);
	char mod[3] = {(char)ch, 0, 0};
	bool null_is_unset = false;

	if (ch == END)
		return fail(sw, "syntax error: missing '}'");
	if (ch == '}') {
		value = expand_vars_get(sw->vars, name);
		if (value == NULL && sw->skip_unset) {
			buf_adds(out, "${");
			buf_adds(out, name);
			buf_addc(out, '}');
		} else if (value != NULL) {
			buf_adds(out, value);
		}
		return 0;
	}
	if (ch == '/') {
		bool all = peek(sw) == '/';
		struct buf pat = {0}, repl = {0};
		if (all)
			next(sw);
		if (process_stop_on(sw, '/', true, &pat, NULL) < 0) {
			free(pat.s);
			if (peek(sw) == END && !sw->oom) {
				free(sw->msg);
				sw->msg = NULL;
				return fail(sw, "syntax error: missing '/' in ${}");
			}
			return -1;
		}
		if (process_stop_on(sw, '}', true, &repl, NULL) < 0) {
			free(pat.s);
			free(repl.s);
			if (peek(sw) == END && !sw->oom) {
				free(sw->msg);
				sw->msg = NULL;
				return fail(sw, "syntax error: missing '}'");
			}
			return -1;
		}
		cleanup_free char *ps = buf_take(&pat);
		cleanup_free char *rs = buf_take(&repl);
		if (ps == NULL || rs == NULL) {
			sw->oom = true;
			return -1;
		}
		value = expand_vars_get(sw->vars, name);
		if (value == NULL && sw->skip_unset) {
			buf_adds(out, "${");
			buf_adds(out, name);
			buf_adds(out, all ? "//" : "/");
			buf_adds(out, ps);
			buf_addc(out, '/');
			buf_adds(out, rs);
			buf_addc(out, '}');
			return 0;
		}
		return replace(sw, value != NULL ? value : "", ps, rs, all, out);
	}
	if (ch == ':') {
		null_is_unset = true;
		ch = next(sw);
		mod[1] = (char)(ch == END ? 0 : ch);
	}
	if (ch != '+' && ch != '-' && ch != '?' && ch != '#' && ch != '%' && ch != END && !null_is_unset)
		return fail(sw, "unsupported modifier (%s) in substitution", mod);
	bool raw = ch == '#' || ch == '%';
	if (null_is_unset && raw)
		return fail(sw, "unsupported modifier (%s) in substitution", mod);
	if (process_stop_on(sw, '}', raw, &w, NULL) < 0) {
		free(w.s);
		if (peek(sw) == END && !sw->oom) {
			free(sw->msg);
			sw->msg = NULL;
			return fail(sw, "syntax error: missing '}'");
		}
		return -1;
	}
	word = buf_take(&w);
	if (word == NULL) {
		sw->oom = true;
		return -1;
	}
	value = expand_vars_get(sw->vars, name);
	if (value == NULL && sw->skip_unset) {
		buf_adds(out, "${");
		buf_adds(out, name);
		buf_adds(out, mod);
		buf_adds(out, word);
		buf_addc(out, '}');
		return 0;
	}
	bool unset = value == NULL || (null_is_unset && value[0] == '\0');
	switch (ch) {
	case '-':
		buf_adds(out, unset ? word : value);
		return 0;
	case '+':
		if (!unset)
			buf_adds(out, word);
		return 0;
	case '?':
		if (value == NULL)
			return fail(sw, "%s: %s", name, word[0] ? word : "is not allowed to be unset");
		if (unset)
			return fail(sw, "%s: %s", name, word[0] ? word : "is not allowed to be empty");
		buf_adds(out, value);
		return 0;
	case '#':
	case '%': {
		const char *pat = word;
		bool longest = false;
		if (pat[0] == ch) {
			longest = true;
			pat++;
		}
		return trim(sw, value != NULL ? value : "", pat, ch == '%', longest, out);
	}
	}
	return fail(sw, "unsupported modifier (%s) in substitution", mod);
}

/* ---- entry points ------------------------------------------------------- */

static int process(const char *word, const struct expand_vars *vars, const struct expand_opts *opts,
                   struct buf *out, struct words *words, berth_error_t *err)
{
	struct sw sw = {
	    .s = word,
	    .n = strlen(word),
	    .vars = vars,
	    .escape = opts != NULL && opts->escape ? opts->escape : '\\',
	    .raw_quotes = opts != NULL && opts->raw_quotes,
	    .raw_escapes = opts != NULL && opts->raw_escapes,
	    .skip_unset = opts != NULL && opts->skip_unset,
	    .skip_quotes = opts != NULL && opts->skip_quotes,
	};
	int r = process_stop_on(&sw, END, sw.raw_escapes, out, words);

	if (r == 0 && words != NULL)
		words_finish(words);
	if (r == 0 && !out->oom && (words == NULL || !words->oom)) {
		free(sw.msg);
		return 0;
	}
	if (sw.msg != NULL && !sw.oom)
		berth_error_invalid(err, "failed to process \"%s\": %s", word, sw.msg);
	else
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "expand `%s`", word);
	free(sw.msg);
	return -1;
}

int expand_word(const char *word, const struct expand_vars *vars, const struct expand_opts *opts, char **out,
                berth_error_t *err)
{
	struct buf b = {0};

	if (process(word, vars, opts, &b, NULL, err) < 0) {
		free(b.s);
		return -1;
	}
	*out = buf_take(&b);
	if (*out == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "expand `%s`", word);
	return 0;
}

int expand_words(const char *word, const struct expand_vars *vars, const struct expand_opts *opts,
                 char ***out, berth_error_t *err)
{
	struct buf b = {0};
	struct words w = {0};

	if (process(word, vars, opts, &b, &w, err) < 0) {
		free(b.s);
		words_free(&w);
		return -1;
	}
	free(b.s);
	if (w.v == NULL) {
		w.v = calloc(1, sizeof(char *));
		if (w.v == NULL)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "expand `%s`", word);
	}
	*out = w.v;
	free(w.word.s);
	return 0;
}
