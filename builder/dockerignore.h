/* .dockerignore: Docker's rules (moby/patternmatcher and its ignorefile):
 *
 *  - one pattern a line; lines starting with `#` are comments; blanks around
 *    a pattern are dropped; a UTF-8 byte-order mark on line 1 is ignored;
 *  - patterns are cleaned as paths (`./a//b/` -> `a/b`, `..` resolved) and a
 *    leading `/` is dropped: every pattern is relative to the context;
 *  - `*` matches within one path component, `?` one character but `/`,
 *    `[...]` a class (`^` negates), `\` escapes, `**` any number of
 *    components (zero included);
 *  - `!pattern` re-includes what an earlier pattern excluded; the last
 *    pattern that matches wins;
 *  - a pattern that matches a directory excludes everything below it, but a
 *    later `!` exception can still re-include a path inside it (so a walker
 *    must not prune an excluded directory while exceptions exist). */
#ifndef BERTH_BUILDER_DOCKERIGNORE_H
#define BERTH_BUILDER_DOCKERIGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

struct dockerignore_rule {
	char *pattern;  /* cleaned, without the `!` */
	bool exclusion; /* a `!` exception */
	int line;
};

struct dockerignore {
	struct dockerignore_rule *rules;
	size_t n;
	bool has_exceptions;
};

/* Parses the content of a .dockerignore file. */
int dockerignore_parse(struct dockerignore *di, const char *src, size_t len, berth_error_t *err);
void dockerignore_free(struct dockerignore *di);
/* Whether path (slash-separated, relative to the context) is excluded: 1 or
 * 0, or -1 with *err set for a bad pattern.  The context root itself never is. */
int dockerignore_matches(const struct dockerignore *di, const char *path, berth_error_t *err);
/* The ignore file for a build: `<dockerfile>.dockerignore` beside the
 * Dockerfile when it exists, else `<context>/.dockerignore` when it exists;
 * NULL (with *err not set) when there is none. */
char *dockerignore_pick(const char *dockerfile, const char *context_dir, berth_error_t *err);
/* Path cleaning as Go's filepath.Clean; returns a new string. */
char *dockerignore_clean(const char *path);

#endif
