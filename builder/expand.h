/* Shell words and variable expansion, as BuildKit's Dockerfile shell lexer
 * does them (frontend/dockerfile/shell): no execution, no globbing of files.
 *
 *   $VAR ${VAR}                   value, or empty when unset
 *   ${VAR:-w} ${VAR-w}            w when unset (":" also: when empty)
 *   ${VAR:+w} ${VAR+w}            w when set (":" also: and not empty)
 *   ${VAR:?msg} ${VAR?msg}        an error "VAR: msg" when unset (or empty)
 *   ${VAR#p} ${VAR##p}            strip the shortest / longest prefix matching p
 *   ${VAR%p} ${VAR%%p}            strip the shortest / longest suffix matching p
 *   ${VAR/p/r} ${VAR//p/r}        replace the first / every match of p by r
 *
 * Patterns are globs: `*`, `?`, `[...]` (with `!` or `^` negation and
 * ranges), and `\*`, `\?`, `\\`, `\[`, `\]` for the literal characters;
 * `\}` and `\/` escape the delimiters.  Single quotes take everything
 * literally; double quotes expand `$` and let the escape character escape
 * `"`, `$` and itself.  The escape character (backslash, or backtick with
 * `# escape=``) escapes any character outside quotes.
 */
#ifndef BERTH_BUILDER_EXPAND_H
#define BERTH_BUILDER_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* An ordered set of variables; setting an existing key replaces its value. */
struct expand_vars {
	char **keys;
	char **values;
	size_t n, cap;
};

void expand_vars_init(struct expand_vars *v);
void expand_vars_free(struct expand_vars *v);
int expand_vars_set(struct expand_vars *v, const char *key, const char *value, berth_error_t *err);
/* The value of key, or NULL when it is not set. */
const char *expand_vars_get(const struct expand_vars *v, const char *key);
int expand_vars_copy(struct expand_vars *dst, const struct expand_vars *src, berth_error_t *err);
void expand_vars_unset(struct expand_vars *v, const char *key);

struct expand_opts {
	char escape;      /* '\\' (when 0) or '`' */
	bool raw_quotes;  /* keep the quote characters in the result */
	bool raw_escapes; /* keep the escape characters in the result */
	bool skip_unset;  /* leave references to unset variables as written */
	bool skip_quotes; /* quotes are plain characters (heredoc bodies) */
};

/* Expands word into one string (spaces kept).  vars and opts may be NULL. */
int expand_word(const char *word, const struct expand_vars *vars, const struct expand_opts *opts, char **out,
                berth_error_t *err);
/* Expands word and splits the result into words on unquoted blanks (blanks
 * that come out of a variable split too); *out is NULL-terminated. */
int expand_words(const char *word, const struct expand_vars *vars, const struct expand_opts *opts,
                 char ***out, berth_error_t *err);

/* Whether the glob pattern (the syntax above) matches all of s[0..len).
 * Returns 1, 0, or -1 with *err set for a bad pattern. */
int expand_glob_match(const char *pattern, const char *s, size_t len, berth_error_t *err);

#endif
