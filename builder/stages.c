/* Stages, scoping of ARGs, expansion in order, and the stage graph (see
 * stages.h).  df_dockerfile_parse, step by step:
 *   1. parse the AST and type every instruction;
 *   2. the global ARGs (before the first FROM) and the platform args;
 *   3. split into stages at each FROM, expanding its image and --platform
 *      with the global args;
 *   4. evaluate each stage once to find what its COPY --from and RUN
 *      --mount from= name, and record the dependencies;
 *   5. find the target and mark what it needs; give each stage its level. */
#include "stages.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "util/cleanup.h"

const char *df_host_platform(void)
{
	static char buf[96];
	struct utsname u;
	const char *arch = "amd64";

	if (uname(&u) == 0) {
		if (!strcmp(u.machine, "aarch64") || !strcmp(u.machine, "arm64"))
			arch = "arm64";
		else if (!strncmp(u.machine, "armv7", 5))
			arch = "arm/v7";
		else if (!strncmp(u.machine, "armv6", 5))
			arch = "arm/v6";
		else if (!strcmp(u.machine, "i686") || !strcmp(u.machine, "i386"))
			arch = "386";
		else if (!strcmp(u.machine, "ppc64le") || !strcmp(u.machine, "s390x") ||
		         !strcmp(u.machine, "riscv64"))
			arch = u.machine;
	}
	snprintf(buf, sizeof(buf), "linux/%s", arch);
	return buf;
}

/* PREFIXPLATFORM, PREFIXOS, PREFIXARCH, PREFIXVARIANT */
static int set_platform(struct expand_vars *v, const char *prefix, const char *platform, berth_error_t *err)
{
	char os[64] = "", arch[64] = "", variant[64] = "", key[32];
	const char *a = strchr(platform, '/'), *b = a ? strchr(a + 1, '/') : NULL;

	if (a == NULL || a == platform || a[1] == '\0' || (b != NULL && (b[1] == '\0' || strchr(b + 1, '/'))))
		return berth_error_invalid(err, "invalid platform `%s`: expected os/arch[/variant]",
		                           platform);
	snprintf(os, sizeof(os), "%.*s", (int)(a - platform), platform);
	snprintf(arch, sizeof(arch), "%.*s", (int)(b ? b - a - 1 : (long)strlen(a + 1)), a + 1);
	if (b != NULL)
		snprintf(variant, sizeof(variant), "%s", b + 1);
	const char *vals[] = {platform, os, arch, variant};
	static const char *const sfx[] = {"PLATFORM", "OS", "ARCH", "VARIANT"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "%s%s", prefix, sfx[i]);
		if (expand_vars_set(v, key, vals[i], err) < 0)
			return -1;
	}
	return 0;
}

static int expand_in_place(const struct df_dockerfile *df, char **s, const struct expand_vars *vars,
                           struct df_pos pos, berth_error_t *err)
{
	struct expand_opts o = {.escape = df->ast.lexed.escape};
	berth_error_t e = NULL;
	char *out = NULL;

	if (*s == NULL)
		return 0;
	if (expand_word(*s, vars, &o, &out, &e) < 0) {
		df_fail(&df->ast, pos, err, "%s", e->msg);
		berth_error_free(&e);
		return -1;
	}
	free(*s);
	*s = out;
	return 0;
}

static int expand_strv(const struct df_dockerfile *df, char **v, const struct expand_vars *vars,
                       struct df_pos pos, berth_error_t *err)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		if (expand_in_place(df, &v[i], vars, pos, err) < 0)
			return -1;
	return 0;
}

long df_stage_lookup(const struct df_dockerfile *df, const char *ref, size_t before)
{
	char *end;
	if (ref == NULL || *ref == '\0')
		return -1;
	for (size_t i = 0; i < before && i < df->n_stages; i++)
		if (df->stages[i].name != NULL && strcasecmp(df->stages[i].name, ref) == 0)
			return (long)i;
	errno = 0;
	long idx = strtol(ref, &end, 10);
	if (*end == '\0' && errno == 0 && idx >= 0 && (size_t)idx < before)
		return idx;
	return -1;
}

/* ARG inside a stage: a --build-arg wins, then the default (expanded), then
 * the global value of a redeclared global ARG. */
static int stage_arg(const struct df_dockerfile *df, struct df_instr *in, struct expand_vars *args,
                     const struct expand_vars *scope, berth_error_t *err)
{
	for (size_t i = 0; i < in->n_kvs; i++) {
		struct df_kv *kv = &in->kvs[i];
		const char *ba = expand_vars_get(&df->build_args, kv->key);
		const char *global = expand_vars_get(&df->meta, kv->key);
		if (kv->value != NULL && expand_in_place(df, &kv->value, scope, kv->pos, err) < 0)
			return -1;
		const char *v = ba != NULL ? ba : kv->value != NULL ? kv->value : global;
		if (v == NULL)
			continue;
		if (ba != NULL || (kv->value == NULL && global != NULL)) {
			free(kv->value);
			if ((kv->value = strdup(v)) == NULL)
				return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "evaluate ARG");
		}
		if (expand_vars_set(args, kv->key, kv->value, err) < 0)
			return -1;
	}
	return 0;
}

static int eval_instr(const struct df_dockerfile *df, struct df_instr *in, struct expand_vars *env,
                      struct expand_vars *args, berth_error_t *err)
{
	struct expand_vars scope;
	int r = -1;

	/* what the words of this instruction see: the ARGs, then ENV on top */
	expand_vars_init(&scope);
	if (expand_vars_copy(&scope, args, err) < 0 || expand_vars_copy(&scope, env, err) < 0)
		goto out;
	switch (in->kind) {
	case DF_ARG:
		r = stage_arg(df, in, args, &scope, err);
		goto out;
	case DF_ENV:
	case DF_LABEL:
		for (size_t i = 0; i < in->n_kvs; i++)
			if (expand_in_place(df, &in->kvs[i].key, &scope, in->kvs[i].pos, err) < 0 ||
			    expand_in_place(df, &in->kvs[i].value, &scope, in->kvs[i].pos, err) < 0)
				goto out;
		for (size_t i = 0; in->kind == DF_ENV && i < in->n_kvs; i++)
			if (expand_vars_set(env, in->kvs[i].key, in->kvs[i].value, err) < 0)
				goto out;
		break;
	case DF_COPY:
	case DF_ADD: {
		struct expand_opts heredoc = {.escape = df->ast.lexed.escape, .skip_quotes = true};
		if (expand_strv(df, in->srcs, &scope, in->pos, err) < 0 ||
		    expand_in_place(df, &in->dest, &scope, in->pos, err) < 0 ||
		    expand_in_place(df, &in->chown, &scope, in->pos, err) < 0 ||
		    expand_in_place(df, &in->chmod, &scope, in->pos, err) < 0 ||
		    expand_in_place(df, &in->from, &scope, in->pos, err) < 0 ||
		    expand_in_place(df, &in->checksum, &scope, in->pos, err) < 0 ||
		    expand_strv(df, in->excludes, &scope, in->pos, err) < 0)
			goto out;
		if (in->chmod != NULL && !df_chmod_valid(in->chmod)) {
			df_fail(&df->ast, in->pos, err, "invalid chmod parameter: %s", in->chmod);
			goto out;
		}
		for (size_t i = 0; i < in->n_files; i++) {
			char *o = NULL;
			berth_error_t e = NULL;
			if (!in->files[i].expand)
				continue;
			if (expand_word(in->files[i].data, &scope, &heredoc, &o, &e) < 0) {
				df_fail(&df->ast, in->pos, err, "%s", e->msg);
				berth_error_free(&e);
				goto out;
			}
			free(in->files[i].data);
			in->files[i].data = o;
		}
		break;
	}
	case DF_RUN:
		if (expand_strv(df, in->mount_specs, &scope, in->pos, err) < 0)
			goto out;
		for (size_t i = 0; i < in->n_mounts; i++)
			df_mount_clear(&in->mounts[i]);
		in->n_mounts = 0;
		for (size_t i = 0; in->mount_specs != NULL && in->mount_specs[i] != NULL; i++) {
			struct df_mount *ms = realloc(in->mounts, (i + 1) * sizeof(*ms));
			char *msg = NULL;
			if (ms == NULL) {
				berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "evaluate RUN");
				goto out;
			}
			in->mounts = ms;
			if (df_mount_parse(in->mount_specs[i], &ms[i], &msg) < 0) {
				df_mount_clear(&ms[i]);
				df_fail(&df->ast, in->pos, err, "%s", msg ? msg : "out of memory");
				free(msg);
				goto out;
			}
			in->n_mounts = i + 1;
		}
		break;
	case DF_EXPOSE: {
		if (expand_strv(df, in->words, &scope, in->pos, err) < 0)
			goto out;
		/* an expanded word may hold several ports */
		size_t n = 0;
		for (size_t i = 0; in->words[i]; i++)
			for (const char *p = in->words[i]; *p; p++)
				n += *p == ' ';
		for (size_t i = 0; in->words[i]; i++)
			n++;
		char **v = calloc(n + 1, sizeof(*v));
		size_t k = 0;
		if (v == NULL) {
			berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "evaluate EXPOSE");
			goto out;
		}
		for (size_t i = 0; in->words[i]; i++) {
			char *save = NULL;
			for (char *t = strtok_r(in->words[i], " \t", &save); t;
			     t = strtok_r(NULL, " \t", &save))
				v[k++] = strdup(t);
		}
		strv_free(in->words);
		in->words = v;
		for (size_t i = 0; i < k; i++) {
			if (v[i] == NULL) {
				berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "evaluate EXPOSE");
				goto out;
			}
			if (!df_port_valid(v[i])) {
				df_fail(&df->ast, in->pos, err, "invalid containerPort: %s", v[i]);
				goto out;
			}
		}
		break;
	}
	case DF_VOLUME:
		if (expand_strv(df, in->words, &scope, in->pos, err) < 0)
			goto out;
		break;
	case DF_USER:
	case DF_WORKDIR:
	case DF_STOPSIGNAL:
		if (expand_in_place(df, &in->value, &scope, in->pos, err) < 0)
			goto out;
		break;
	default: /* RUN/CMD/ENTRYPOINT bodies, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER: as written */
		break;
	}
	r = 0;
out:
	expand_vars_free(&scope);
	return r;
}

/* The nodes (of ast) as instructions expanded in order from image_env. */
static int eval_nodes(const struct df_dockerfile *df, const struct df_ast *ast, struct df_node *const *nodes,
                      size_t n, const char *const *image_env, struct df_instr ***out, berth_error_t *err)
{
	struct expand_vars env, args;
	struct df_instr **v = calloc(n + 1, sizeof(*v));
	int r = -1;

	expand_vars_init(&env);
	expand_vars_init(&args);
	if (v == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "evaluate stage");
	for (size_t i = 0; image_env != NULL && image_env[i] != NULL; i++) {
		const char *eq = strchr(image_env[i], '=');
		cleanup_free char *k =
		    eq ? strndup(image_env[i], (size_t)(eq - image_env[i])) : strdup(image_env[i]);
		if (k == NULL || expand_vars_set(&env, k, eq ? eq + 1 : "", err) < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (df_instr_from_node(ast, nodes[i], &v[i], err) < 0 ||
		    eval_instr(df, v[i], &env, &args, err) < 0)
			goto out;
	}
	*out = v;
	v = NULL;
	r = 0;
out:
	for (size_t i = 0; v != NULL && i < n; i++)
		df_instr_free(v[i]);
	free(v);
	expand_vars_free(&env);
	expand_vars_free(&args);
	return r;
}

int df_stage_eval(const struct df_dockerfile *df, const struct df_stage *st, const char *const *image_env,
                  struct df_instr ***out, berth_error_t *err)
{
	cleanup_free struct df_node **nodes = calloc(st->n_instrs + 1, sizeof(*nodes));
	if (nodes == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "evaluate stage");
	for (size_t i = 0; i < st->n_instrs; i++)
		nodes[i] = st->instrs[i]->node;
	return eval_nodes(df, &df->ast, nodes, st->n_instrs, image_env, out, err);
}

int df_triggers_eval(const struct df_dockerfile *df, char *const *triggers, size_t n,
                     const char *const *image_env, struct df_ast *ast, struct df_instr ***out, size_t *n_out,
                     berth_error_t *err)
{
	size_t len = 1;
	memset(ast, 0, sizeof(*ast));
	for (size_t i = 0; i < n; i++)
		len += strlen(triggers[i]) + 1;
	cleanup_free char *text = calloc(1, len);
	if (text == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "ONBUILD triggers");
	size_t off = 0;
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(text + off, len - off, "%s\n", triggers[i]);
	if (df_parse_ast("ONBUILD", text, off, ast, err) < 0)
		return -1;
	cleanup_free struct df_node **nodes = calloc(ast->n_nodes + 1, sizeof(*nodes));
	if (nodes == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "ONBUILD triggers");
	for (size_t i = 0; i < ast->n_nodes; i++) {
		const char *c = ast->nodes[i].cmd;
		/* what the ONBUILD instruction refuses, again: the image may
		 * come from a builder that did not */
		if (!strcasecmp(c, "ONBUILD"))
			return df_fail(ast, ast->nodes[i].pos, err,
			               "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
		if (!strcasecmp(c, "FROM") || !strcasecmp(c, "MAINTAINER"))
			return df_fail(ast, ast->nodes[i].pos, err, "%s isn't allowed as an ONBUILD trigger",
			               c);
		nodes[i] = &ast->nodes[i];
	}
	*n_out = ast->n_nodes;
	return eval_nodes(df, ast, nodes, ast->n_nodes, image_env, out, err);
}

static int add_dep(struct df_stage *st, size_t d, berth_error_t *err)
{
	size_t i = 0;
	while (i < st->n_deps && st->deps[i] < d)
		i++;
	if (i < st->n_deps && st->deps[i] == d)
		return 0;
	size_t *p = realloc(st->deps, (st->n_deps + 1) * sizeof(*p));
	if (p == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "stage graph");
	memmove(p + i + 1, p + i, (st->n_deps - i) * sizeof(*p));
	p[i] = d;
	st->deps = p;
	st->n_deps++;
	return 0;
}

/* A --from naming this stage or a later one cannot be built. */
static int check_ref(const struct df_dockerfile *df, size_t si, const char *ref, struct df_pos pos,
                     berth_error_t *err)
{
	for (size_t k = si; k < df->n_stages; k++)
		if ((df->stages[k].name && !strcasecmp(df->stages[k].name, ref)))
			return df_fail(&df->ast, pos, err,
			               "stage `%s` refers to stage `%s`, which is not before it",
			               df->stages[si].name ? df->stages[si].name : "", ref);
	return 0;
}

static int stage_deps(struct df_dockerfile *df, size_t si, berth_error_t *err)
{
	struct df_stage *st = &df->stages[si];
	struct df_instr **ev = NULL;

	if (st->base_stage >= 0 && add_dep(st, (size_t)st->base_stage, err) < 0)
		return -1;
	if (df_stage_eval(df, st, NULL, &ev, err) < 0)
		return -1;
	int r = 0;
	for (size_t i = 0; i < st->n_instrs && r == 0; i++) {
		struct df_instr *in = ev[i];
		const char *refs[64];
		size_t n = 0;
		if ((in->kind == DF_COPY || in->kind == DF_ADD) && in->from != NULL)
			refs[n++] = in->from;
		for (size_t m = 0; in->kind == DF_RUN && m < in->n_mounts && n < 64; m++)
			if (in->mounts[m].from != NULL)
				refs[n++] = in->mounts[m].from;
		for (size_t k = 0; k < n && r == 0; k++) {
			long d = df_stage_lookup(df, refs[k], si);
			if (d >= 0)
				r = add_dep(st, (size_t)d, err);
			else
				r = check_ref(df, si, refs[k], in->pos, err);
		}
	}
	for (size_t i = 0; i < st->n_instrs; i++)
		df_instr_free(ev[i]);
	free(ev);
	return r;
}

static void mark_needed(struct df_dockerfile *df, size_t i)
{
	if (df->stages[i].needed)
		return;
	df->stages[i].needed = true;
	for (size_t k = 0; k < df->stages[i].n_deps; k++)
		mark_needed(df, df->stages[i].deps[k]);
}

/* Starts a stage at its FROM, which it takes over (freed on failure too). */
static int start_stage(struct df_dockerfile *df, struct df_instr *from, berth_error_t *err)
{
	struct expand_opts o = {.escape = df->ast.lexed.escape};
	berth_error_t e = NULL;
	struct df_stage *s = realloc(df->stages, (df->n_stages + 1) * sizeof(*s));

	if (s == NULL) {
		df_instr_free(from);
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "split stages");
	}
	df->stages = s;
	s = &s[df->n_stages];
	memset(s, 0, sizeof(*s));
	s->index = df->n_stages++;
	s->from = from;
	s->base_stage = -1;
	if (from->stage_name != NULL) {
		for (size_t i = 0; i + 1 < df->n_stages; i++)
			if (df->stages[i].name && !strcmp(df->stages[i].name, from->stage_name))
				return df_fail(&df->ast, from->pos, err, "duplicate stage name \"%s\"",
				               from->stage_name);
		if ((s->name = strdup(from->stage_name)) == NULL)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "split stages");
	}
	if (expand_word(from->base, &df->meta, &o, &s->base, &e) < 0 ||
	    (from->platform != NULL && expand_word(from->platform, &df->meta, &o, &s->platform, &e) < 0)) {
		df_fail(&df->ast, from->pos, err, "%s", e->msg);
		berth_error_free(&e);
		return -1;
	}
	if (s->base[0] == '\0')
		return df_fail(&df->ast, from->pos, err, "base name (%s) should not be blank", from->base);
	for (size_t i = 0; i + 1 < df->n_stages; i++)
		if (df->stages[i].name && !strcasecmp(df->stages[i].name, s->base))
			s->base_stage = (long)i;
	return 0;
}

static int meta_args(struct df_dockerfile *df, const struct df_build_opts *opts, berth_error_t *err)
{
	const char *bp = opts && opts->build_platform ? opts->build_platform : df_host_platform();
	const char *tp = opts && opts->target_platform ? opts->target_platform : bp;
	struct expand_opts o = {.escape = df->ast.lexed.escape};

	for (size_t i = 0; opts && opts->build_args && opts->build_args[i]; i++) {
		const char *a = opts->build_args[i], *eq = strchr(a, '=');
		cleanup_free char *k = eq ? strndup(a, (size_t)(eq - a)) : strdup(a);
		if (k == NULL || expand_vars_set(&df->build_args, k, eq ? eq + 1 : "", err) < 0)
			return -1;
	}
	if (set_platform(&df->meta, "TARGET", tp, err) < 0 || set_platform(&df->meta, "BUILD", bp, err) < 0)
		return -1;
	for (size_t i = 0; i < df->n_meta_args; i++) {
		struct df_instr *in = df->meta_args[i];
		for (size_t k = 0; k < in->n_kvs; k++) {
			struct df_kv *kv = &in->kvs[k];
			const char *ba = expand_vars_get(&df->build_args, kv->key);
			cleanup_free char *v = NULL;
			berth_error_t e = NULL;
			if (kv->value != NULL && expand_word(kv->value, &df->meta, &o, &v, &e) < 0) {
				df_fail(&df->ast, kv->pos, err, "%s", e->msg);
				berth_error_free(&e);
				return -1;
			}
			if (ba != NULL || v != NULL) {
				if (expand_vars_set(&df->meta, kv->key, ba != NULL ? ba : v, err) < 0)
					return -1;
			} else {
				expand_vars_unset(&df->meta, kv->key);
			}
		}
	}
	return 0;
}

int df_dockerfile_parse(const char *filename, const char *src, size_t len, const struct df_build_opts *opts,
                        struct df_dockerfile *df, berth_error_t *err)
{
	memset(df, 0, sizeof(*df));
	expand_vars_init(&df->meta);
	expand_vars_init(&df->build_args);
	/* 1. AST and typed instructions */
	if (df_parse_ast(filename, src, len, &df->ast, err) < 0)
		return -1;
	struct df_instr **all = calloc(df->ast.n_nodes, sizeof(*all));
	size_t first_from = df->ast.n_nodes;
	if (all == NULL) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "parse %s", filename);
		goto fail;
	}
	df->meta_args = all; /* owns every instruction until it moves into a stage */
	for (size_t i = 0; i < df->ast.n_nodes; i++) {
		if (df_instr_from_node(&df->ast, &df->ast.nodes[i], &all[i], err) < 0)
			goto fail;
		if (all[i]->kind == DF_FROM && first_from == df->ast.n_nodes)
			first_from = i;
		if (first_from == df->ast.n_nodes && all[i]->kind != DF_ARG) {
			df_fail(&df->ast, all[i]->pos, err, "no build stage in current context");
			goto fail;
		}
	}
	if (first_from == df->ast.n_nodes) {
		df_fail(&df->ast, df->ast.nodes[df->ast.n_nodes - 1].pos, err,
		        "no build stage in current context");
		goto fail;
	}
	/* 2. global args */
	df->n_meta_args = first_from;
	if (meta_args(df, opts, err) < 0)
		goto fail;
	/* 3. stages */
	for (size_t i = first_from; i < df->ast.n_nodes; i++) {
		if (all[i]->kind == DF_FROM) {
			/* start_stage owns the FROM, even when it fails */
			struct df_instr *from = steal_ptr(&all[i]);
			if (start_stage(df, from, err) < 0)
				goto fail;
			continue;
		}
		struct df_stage *st = &df->stages[df->n_stages - 1];
		struct df_instr **p = realloc(st->instrs, (st->n_instrs + 1) * sizeof(*p));
		if (p == NULL) {
			berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "split stages");
			goto fail;
		}
		st->instrs = p;
		p[st->n_instrs++] = all[i];
		all[i] = NULL;
	}
	/* 4. dependencies */
	for (size_t i = 0; i < df->n_stages; i++)
		if (stage_deps(df, i, err) < 0)
			goto fail;
	/* 5. the target and what it needs */
	df->target = df->n_stages - 1;
	if (opts != NULL && opts->target != NULL) {
		long t = -1;
		for (size_t i = 0; i < df->n_stages; i++)
			if (df->stages[i].name && !strcasecmp(df->stages[i].name, opts->target))
				t = (long)i;
		if (t < 0) {
			berth_error_invalid(err, "target stage \"%s\" could not be found", opts->target);
			goto fail;
		}
		df->target = (size_t)t;
	}
	mark_needed(df, df->target);
	for (size_t i = 0; i < df->n_stages; i++)
		for (size_t k = 0; k < df->stages[i].n_deps; k++)
			if (df->stages[df->stages[i].deps[k]].level + 1 > df->stages[i].level)
				df->stages[i].level = df->stages[df->stages[i].deps[k]].level + 1;
	return 0;
fail:
	df_dockerfile_free(df);
	return -1;
}

void df_dockerfile_free(struct df_dockerfile *df)
{
	if (df == NULL)
		return;
	for (size_t i = 0; df->meta_args != NULL && i < df->ast.n_nodes; i++)
		df_instr_free(df->meta_args[i]); /* the array held every instruction once */
	free(df->meta_args);
	for (size_t i = 0; i < df->n_stages; i++) {
		struct df_stage *s = &df->stages[i];
		df_instr_free(s->from);
		for (size_t k = 0; k < s->n_instrs; k++)
			df_instr_free(s->instrs[k]);
		free(s->instrs);
		free(s->name);
		free(s->base);
		free(s->platform);
		free(s->deps);
	}
	free(df->stages);
	expand_vars_free(&df->meta);
	expand_vars_free(&df->build_args);
	df_ast_free(&df->ast);
	memset(df, 0, sizeof(*df));
}
