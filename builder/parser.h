/* The Dockerfile parser: logical lines (lexer.h) -> an AST of instructions
 * with file:line:col for the instruction, each flag and each argument ->
 * typed instructions, validated (flags known, counts, mounts, modes, ...).
 *
 * Arguments keep their quotes and `$` references here: expansion happens
 * per stage (stages.h), in order, as BuildKit's dispatcher does, because an
 * ENV or ARG earlier in the stage changes what a later word means.
 *
 * Every error reads "FILE:LINE:COL: message" with BuildKit's message. */
#ifndef BERTH_BUILDER_PARSER_H
#define BERTH_BUILDER_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lexer.h"
#include "util/error.h"

struct df_word {
	char *s;
	struct df_pos pos;
};

/* One instruction as written: BuildKit's parser.Node. */
struct df_node {
	char *cmd; /* as written: "RUN", "copy" */
	struct df_pos pos;
	size_t off;            /* of cmd in line->text */
	struct df_word *flags; /* "--from=x" */
	size_t n_flags;
	struct df_word *args; /* split by the instruction's rule; for ENV and
	                         LABEL: key, value, "=" or "" triples */
	size_t n_args;
	bool json;            /* the exec (JSON array) form */
	struct df_node *sub;  /* ONBUILD: the trigger */
	char *rest;           /* the text after the command and flags */
	struct df_line *line; /* the logical line (heredocs); not owned */
};

enum df_kind {
	DF_FROM,
	DF_RUN,
	DF_COPY,
	DF_ADD,
	DF_ENV,
	DF_ARG,
	DF_LABEL,
	DF_EXPOSE,
	DF_USER,
	DF_WORKDIR,
	DF_VOLUME,
	DF_SHELL,
	DF_ENTRYPOINT,
	DF_CMD,
	DF_HEALTHCHECK,
	DF_ONBUILD,
	DF_STOPSIGNAL,
	DF_MAINTAINER,
};

enum df_mount_type { DF_MOUNT_BIND, DF_MOUNT_CACHE, DF_MOUNT_TMPFS, DF_MOUNT_SECRET, DF_MOUNT_SSH };

struct df_mount {
	enum df_mount_type type;
	char *from, *source, *target, *id, *sharing, *env;
	bool readonly, required;
	int64_t size;           /* tmpfs; 0: no limit */
	int64_t mode, uid, gid; /* -1: not set */
};

struct df_kv {
	char *key;
	char *value; /* NULL: ARG without a default */
	bool legacy; /* ENV/LABEL `key value` form */
	struct df_pos pos;
};

/* A heredoc used as a COPY/ADD source or a RUN file. */
struct df_inline {
	char *name;
	char *data; /* <<- already applied */
	bool expand;
};

struct df_instr {
	enum df_kind kind;
	struct df_pos pos;
	char *text;           /* the instruction as written, continuations joined */
	struct df_node *node; /* not owned */

	/* FROM */
	char *base, *stage_name, *platform;
	/* RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK CMD: argv (exec form) or the
	 * command line as one string (shell form) */
	char **cmd;
	bool shell_form;
	struct df_inline *files; /* RUN heredocs; COPY/ADD heredoc sources */
	size_t n_files;
	/* RUN */
	char **mount_specs; /* --mount as written */
	struct df_mount *mounts;
	size_t n_mounts;
	char *network, *security;
	/* COPY, ADD */
	char **srcs;
	char *dest, *from, *chown, *chmod, *checksum;
	bool link, parents, keep_git_dir, unpack, unpack_set;
	char **excludes;
	/* ENV, ARG, LABEL */
	struct df_kv *kvs;
	size_t n_kvs;
	/* EXPOSE, VOLUME */
	char **words;
	/* USER, WORKDIR, STOPSIGNAL, MAINTAINER */
	char *value;
	/* HEALTHCHECK: test is cmd with "NONE", "CMD" or "CMD-SHELL" first */
	int64_t interval, timeout, start_period, start_interval; /* ns */
	int retries;
	/* ONBUILD: the trigger as written, and parsed */
	char *expression;
	struct df_instr *trigger;
};

struct df_ast {
	struct df_lexed lexed;
	struct df_node *nodes;
	size_t n_nodes;
};

/* Lexes and parses a Dockerfile into nodes. */
int df_parse_ast(const char *filename, const char *src, size_t len, struct df_ast *ast, berth_error_t *err);
void df_ast_free(struct df_ast *ast);
void df_node_free(struct df_node *n);

/* A typed instruction from a node; errors name the file and location. */
int df_instr_from_node(const struct df_ast *ast, struct df_node *node, struct df_instr **out,
                       berth_error_t *err);
void df_instr_free(struct df_instr *in);
const char *df_kind_name(enum df_kind k);

/* Sets *err to "FILE:LINE:COL: message"; returns -1. */
int df_fail(const struct df_ast *ast, struct df_pos pos, berth_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Value checks shared with the stage evaluation (after expansion). */
int df_mount_parse(const char *spec, struct df_mount *m, char **msg);
void df_mount_clear(struct df_mount *m);
/* An octal mode (0755) or a symbolic one (u+x,g=r); NULL msg when valid. */
bool df_chmod_valid(const char *s);
/* A Go duration ("1m30s", "0.5s") in nanoseconds. */
int df_parse_duration(const char *s, int64_t *ns);
/* EXPOSE's port[/proto] and port ranges. */
bool df_port_valid(const char *s);
const char *df_mount_type_name(enum df_mount_type t);

#endif
