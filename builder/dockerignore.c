/* .dockerignore parsing and matching (see dockerignore.h).  A pattern is
 * classified as patternmatcher does (exact; prefix: ending in two stars; suffix:
 * starting with them; else a glob) so the corner cases agree: `**foo` matches `xfoo`. */
#include "dockerignore.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

char *dockerignore_clean(const char *path)
{
	size_t n = strlen(path);
	bool rooted = n > 0 && path[0] == '/';
	char *out = malloc(n + 2);
	size_t w = 0, r = 0, dotdot;

	if (out == NULL)
		return NULL;
	if (n == 0) {
		memcpy(out, ".", 2);
		return out;
	}
	if (rooted) {
		out[w++] = '/';
		r = 1;
	}
	dotdot = w;
	while (r < n) {
		if (path[r] == '/') {
			r++;
		} else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
			r++;
		} else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && path[r] != '/'; r++)
				out[w++] = path[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	return out;
}

/* ---- matching ------------------------------------------------------------- */

enum { EXACT, PREFIX, SUFFIX, GLOB };

/* The states (pattern offset, path offset) known not to match: each `*`
 * and `**` tries many, and without this a pattern of many stars takes
 * exponential time (found by fuzz-dockerignore). */
struct glob_memo {
	const char *p0, *s0;
	size_t ls;
	uint8_t *failed; /* bits; NULL: no memo */
};

static bool glob_step(struct glob_memo *m, const char *p, const char *s);

/* Whether the glob p (patternmatcher's regexp, read directly) matches all of s. */
static bool glob(struct glob_memo *m, const char *p, const char *s)
{
	size_t k = (size_t)(p - m->p0) * (m->ls + 1) + (size_t)(s - m->s0);

	if (m->failed != NULL && (m->failed[k / 8] >> (k % 8) & 1))
		return false;
	if (glob_step(m, p, s))
		return true;
	if (m->failed != NULL)
		m->failed[k / 8] |= (uint8_t)(1u << (k % 8));
	return false;
}

static bool glob_step(struct glob_memo *m, const char *p, const char *s)
{
	for (;;) {
		switch (*p) {
		case '\0':
			return *s == '\0';
		case '*':
			if (p[1] == '*') {
				p += 2;
				/* (.*\/)? twice is (.*\/)? once: a long run of
				 * stars costs one (found by fuzz-dockerignore) */
				while (p[0] == '*' && p[1] == '*')
					p += 2;
				if (*p == '/') {
					p++;
					/* (.*\/)?: nothing, or anything that ends with a slash */
					if (glob(m, p, s))
						return true;
					for (const char *t = s; *t; t++)
						if (*t == '/' && glob(m, p, t + 1))
							return true;
					return false;
				}
				if (*p == '\0')
					return true; /* ** at the end: .* */
				/* ** in the middle of a name: (.*\/)? as well */
				if (glob(m, p, s))
					return true;
				for (const char *t = s; *t; t++)
					if (*t == '/' && glob(m, p, t + 1))
						return true;
				return false;
			}
			p++;
			for (const char *t = s;; t++) {
				if (glob(m, p, t))
					return true;
				if (*t == '\0' || *t == '/')
					return false;
			}
		case '?':
			if (*s == '\0' || *s == '/')
				return false;
			p++;
			s++;
			continue;
		case '[': {
			const char *q = p + 1;
			bool neg = *q == '^', hit = false;
			if (neg)
				q++;
			if (*s == '\0')
				return false;
			for (bool first = true; *q && (first || *q != ']'); first = false) {
				unsigned char lo = (unsigned char)*q++, hi;
				if (lo == '\\' && *q)
					lo = (unsigned char)*q++;
				hi = lo;
				if (*q == '-' && q[1] && q[1] != ']') {
					hi = (unsigned char)q[1];
					q += 2;
					if (hi == '\\' && *q)
						hi = (unsigned char)*q++;
				}
				if ((unsigned char)*s >= lo && (unsigned char)*s <= hi)
					hit = true;
			}
			if (*q != ']' || hit == neg)
				return false;
			p = q + 1;
			s++;
			continue;
		}
		case '\\':
			if (p[1] != '\0')
				p++;
			__attribute__((fallthrough));
		default:
			if (*p != *s)
				return false;
			p++;
			s++;
		}
	}
}

static int classify(const char *p)
{
	int type = EXACT;
	size_t n = strlen(p);

	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '*' && p[i + 1] == '*') {
			size_t j = i + 2;
			if (p[j] == '/')
				j++;
			if (p[j] == '\0')
				type = type == EXACT ? PREFIX : GLOB;
			else
				type = GLOB;
			if (i == 0)
				type = SUFFIX;
			i = j - 1;
		} else if (c == '*' || c == '?' || c == '[' || c == ']') {
			type = GLOB;
		} else if (c == '\\' && i + 1 < n) {
			type = GLOB;
			i++;
		}
	}
	return type;
}

static bool pattern_match(const char *p, const char *path)
{
	size_t n = strlen(p);
	switch (classify(p)) {
	case EXACT:
		return strcmp(p, path) == 0;
	case PREFIX:
		return strncmp(path, p, n - 2) == 0;
	case SUFFIX: {
		const char *suffix = p + 2;
		size_t sl = strlen(suffix), pl = strlen(path);
		if (pl >= sl && strcmp(path + pl - sl, suffix) == 0)
			return true;
		return suffix[0] == '/' && strcmp(path, suffix + 1) == 0;
	}
	}
	size_t ls = strlen(path);
	struct glob_memo m = {.p0 = p, .s0 = path, .ls = ls, .failed = calloc((n + 1) * (ls + 1) / 8 + 1, 1)};
	bool r = glob(&m, p, path);
	free(m.failed);
	return r;
}

/* filepath.Match's syntax check: closed classes, no trailing backslash. */
static bool pattern_valid(const char *p)
{
	for (; *p; p++) {
		if (*p == '\\') {
			if (*++p == '\0')
				return false;
		} else if (*p == '[') {
			p++;
			if (*p == '^')
				p++;
			bool first = true;
			for (; *p && (first || *p != ']'); p++, first = false)
				if (*p == '\\' && *++p == '\0')
					return false;
			if (*p != ']' || first)
				return false;
		}
	}
	return true;
}

int dockerignore_matches(const struct dockerignore *di, const char *path, berth_error_t *err)
{
	cleanup_free char *file = dockerignore_clean(path);
	bool matched = false;

	if (file == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "match `%s`", path);
	if (strcmp(file, ".") == 0)
		return 0; /* the context itself is never excluded */
	char *slash = strrchr(file, '/');
	for (size_t i = 0; i < di->n; i++) {
		const struct dockerignore_rule *r = &di->rules[i];
		/* an inclusion after a match, or an exception before one, changes nothing */
		if (r->exclusion != matched)
			continue;
		bool m = pattern_match(r->pattern, file);
		/* or a parent directory matches */
		for (char *p = file; !m && slash != NULL && (p = strchr(p, '/')) != NULL && p <= slash; p++) {
			*p = '\0';
			m = pattern_match(r->pattern, file);
			*p = '/';
		}
		if (m)
			matched = !r->exclusion;
	}
	return matched ? 1 : 0;
}

int dockerignore_parse(struct dockerignore *di, const char *src, size_t len, berth_error_t *err)
{
	const char *end = src + len;
	int line = 0;

	memset(di, 0, sizeof(*di));
	while (src < end) {
		const char *nl = memchr(src, '\n', (size_t)(end - src));
		size_t n = nl ? (size_t)(nl - src) : (size_t)(end - src);
		const char *s = src;
		src += n + (nl != NULL);
		if (++line == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			n -= 3;
		}
		if (n > 0 && s[0] == '#')
			continue;
		while (n > 0 && isspace((unsigned char)*s))
			s++, n--;
		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
		if (n == 0)
			continue;
		bool invert = s[0] == '!';
		if (invert) {
			s++, n--;
			while (n > 0 && isspace((unsigned char)*s))
				s++, n--;
		}
		cleanup_free char *raw = strndup(s, n);
		char *p = NULL;
		if (raw == NULL)
			goto oom;
		if (n > 0) {
			p = dockerignore_clean(raw);
			if (p != NULL && p[0] == '/' && p[1] != '\0')
				memmove(p, p + 1, strlen(p));
		} else {
			p = strdup("");
		}
		if (p == NULL)
			goto oom;
		if (invert && p[0] == '\0') {
			free(p);
			dockerignore_free(di);
			return berth_error_invalid(err, ".dockerignore:%d: illegal exclusion pattern: \"!\"",
			                           line);
		}
		if (!pattern_valid(p)) {
			berth_error_invalid(err, ".dockerignore:%d: syntax error in pattern `%s`", line, p);
			free(p);
			dockerignore_free(di);
			return -1;
		}
		struct dockerignore_rule *rs = realloc(di->rules, (di->n + 1) * sizeof(*rs));
		if (rs == NULL) {
			free(p);
			goto oom;
		}
		di->rules = rs;
		rs[di->n++] = (struct dockerignore_rule){p, invert, line};
		di->has_exceptions |= invert;
	}
	return 0;
oom:
	dockerignore_free(di);
	return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "read .dockerignore");
}

void dockerignore_free(struct dockerignore *di)
{
	if (di == NULL)
		return;
	for (size_t i = 0; i < di->n; i++)
		free(di->rules[i].pattern);
	free(di->rules);
	memset(di, 0, sizeof(*di));
}

char *dockerignore_pick(const char *dockerfile, const char *context_dir, berth_error_t *err)
{
	char *p = NULL;

	if (dockerfile != NULL) {
		if (asprintf(&p, "%s.dockerignore", dockerfile) < 0) {
			berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "find .dockerignore");
			return NULL;
		}
		if (access(p, F_OK) == 0)
			return p;
		free(p);
	}
	if (asprintf(&p, "%s/.dockerignore", context_dir) < 0) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "find .dockerignore");
		return NULL;
	}
	if (access(p, F_OK) == 0)
		return p;
	free(p);
	return NULL;
}
