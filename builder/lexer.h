/* The Dockerfile lexer: physical lines -> logical instruction lines, as
 * BuildKit's parser reads them (frontend/dockerfile/parser):
 *
 *  - parser directives (`# syntax=`, `# escape=`, `# check=`) only at the top,
 *    before any instruction, comment or blank line; each at most once;
 *  - line continuations with the escape character (backslash or backtick),
 *    comment lines and empty lines inside a continuation are dropped (the
 *    empty ones are counted: BuildKit warns about them);
 *  - heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`, several per line) after
 *    RUN, COPY and ADD (also under ONBUILD) in shell form;
 *  - a byte-order mark on the first line is ignored.
 *
 * Every logical line keeps a map from its text back to file line:column, so
 * each argument can be located.  Also here: the JSON (exec) form test. */
#ifndef BERTH_BUILDER_LEXER_H
#define BERTH_BUILDER_LEXER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

struct df_pos {
	int line, col; /* 1-based */
};

struct df_heredoc {
	char *name;    /* the delimiter, quotes removed */
	int fd;        /* the digits before <<, or 0 */
	bool expand;   /* the delimiter was unquoted: the content expands */
	bool chomp;    /* <<-: leading tabs are stripped from the content */
	char *content; /* the lines up to the delimiter, newlines kept, as read */
	int line;      /* the first line of the content */
};

struct df_seg {
	size_t off;    /* offset in the logical text */
	int line, col; /* where that offset sits in the file */
};

struct df_line {
	char *text;         /* the instruction with its continuations joined */
	int line, end_line; /* first and last physical line, heredocs included */
	struct df_seg *segs;
	size_t n_segs;
	struct df_heredoc *heredocs;
	size_t n_heredocs;
	bool empty_continuation; /* an empty line inside the continuation */
};

struct df_directive {
	char *name; /* lowercase: syntax, escape, check */
	char *value;
	int line;
};

struct df_lexed {
	char *filename; /* as given (e.g. the -f path), for messages */
	char escape;    /* '\\' or '`' */
	struct df_directive *directives;
	size_t n_directives;
	struct df_line *lines;
	size_t n_lines;
};

/* Splits src into logical lines.  Errors carry "FILE:LINE:COL: ". */
int df_lex(const char *filename, const char *src, size_t len, struct df_lexed *out, berth_error_t *err);
void df_lexed_free(struct df_lexed *l);
/* The value of a directive, or NULL. */
const char *df_lexed_directive(const struct df_lexed *l, const char *name);
/* Where offset off of a logical line sits in the file. */
struct df_pos df_line_pos(const struct df_line *l, size_t off);

/* BuildKit's exec-form rule: s (after leading blanks) is a JSON array.
 * Returns 1 with the strings (NULL-terminated, *offs: where each element
 * starts in s; may be NULL) when it is a valid array of strings; 0 when s is
 * not valid JSON or not an array (shell form); -1 with *err set when it is a
 * valid array with an element that is not a string. */
int df_json_strings(const char *s, char ***out, size_t **offs, berth_error_t *err);

/* Whether word is a heredoc word (`<<EOF`, `2<<-"EOF"`); when h is not
 * NULL fills its name, fd, expand and chomp. */
bool df_heredoc_word(const char *word, struct df_heredoc *h);

#endif
