/* Typed instructions -> build stages, as BuildKit's dockerfile2llb sees them:
 *
 *  - ARGs before the first FROM are global: usable in FROM lines, and inside
 *    a stage only after `ARG name` redeclares them there;
 *  - the automatic platform args (TARGETPLATFORM, TARGETOS, TARGETARCH,
 *    TARGETVARIANT, BUILDPLATFORM, BUILDOS, BUILDARCH, BUILDVARIANT) are
 *    global too;
 *  - --build-arg values override ARG defaults (global and per stage);
 *  - a stage depends on the stage its FROM names, and on the stages named
 *    (or numbered) by COPY --from and RUN --mount from=;
 *  - the target (--target, or the last stage) needs its dependencies and
 *    nothing else; stages of the same level have no path between them and
 *    can be built in parallel.
 *
 * Instructions inside a stage expand in order (an ENV or ARG changes the
 * words after it; ENV beats ARG): df_stage_eval gives expanded copies, so the
 * executor can evaluate again with the base image's environment. */
#ifndef BERTH_BUILDER_STAGES_H
#define BERTH_BUILDER_STAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "expand.h"
#include "parser.h"
#include "util/error.h"

struct df_stage {
	size_t index;
	char *name;            /* lowercase, or NULL */
	struct df_instr *from; /* as written */
	char *base;            /* FROM's image or stage, expanded */
	char *platform;        /* --platform, expanded, or NULL */
	long base_stage;       /* the stage FROM names, or -1 (an image, scratch) */
	struct df_instr **instrs;
	size_t n_instrs;
	size_t *deps; /* the stages this one needs, sorted, unique */
	size_t n_deps;
	bool needed;  /* the target needs it */
	size_t level; /* 0 for stages without dependencies; stages of the same
	                 level are independent of each other */
};

struct df_build_opts {
	size_t size;                   /* sizeof(struct df_build_opts) */
	const char *target;            /* NULL: the last stage */
	const char *const *build_args; /* "NAME=value", NULL-terminated; may be NULL */
	const char *target_platform;   /* "os/arch[/variant]"; NULL: the build platform */
	const char *build_platform;    /* NULL: this machine's */
};

struct df_dockerfile {
	struct df_ast ast;
	struct df_instr **meta_args; /* ARGs before the first FROM */
	size_t n_meta_args;
	struct expand_vars meta; /* global args with their values, platform args included */
	struct expand_vars build_args;
	struct df_stage *stages;
	size_t n_stages;
	size_t target;
};

int df_dockerfile_parse(const char *filename, const char *src, size_t len, const struct df_build_opts *opts,
                        struct df_dockerfile *df, berth_error_t *err);
void df_dockerfile_free(struct df_dockerfile *df);

/* The stage's instructions expanded in order, starting from image_env (the
 * base image's Env as "K=V" strings, NULL-terminated; may be NULL).  *out
 * gets n_instrs new instructions (free each with df_instr_free, then out). */
int df_stage_eval(const struct df_dockerfile *df, const struct df_stage *st, const char *const *image_env,
                  struct df_instr ***out, berth_error_t *err);

/* The ONBUILD triggers of a base image (instructions as text) parsed into
 * ast (free it with df_ast_free) and expanded in order from image_env; a
 * trigger that ONBUILD refuses (ONBUILD, FROM, MAINTAINER) is an error. */
int df_triggers_eval(const struct df_dockerfile *df, char *const *triggers, size_t n,
                     const char *const *image_env, struct df_ast *ast, struct df_instr ***out, size_t *n_out,
                     berth_error_t *err);

/* The stage a COPY --from / --mount from= value names (a name or an index
 * below `before`), or -1 when it names an image. */
long df_stage_lookup(const struct df_dockerfile *df, const char *ref, size_t before);

/* "linux/amd64" for this machine. */
const char *df_host_platform(void);

#endif
