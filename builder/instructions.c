/* AST nodes -> typed instructions (see parser.h), with BuildKit's checks and
 * messages: the flags each instruction takes, argument counts, RUN --mount
 * options, --network, --chmod, HEALTHCHECK durations, stage names. */
#include "parser.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

static const char *const kind_names[] = {
    [DF_FROM] = "FROM",
    [DF_RUN] = "RUN",
    [DF_COPY] = "COPY",
    [DF_ADD] = "ADD",
    [DF_ENV] = "ENV",
    [DF_ARG] = "ARG",
    [DF_LABEL] = "LABEL",
    [DF_EXPOSE] = "EXPOSE",
    [DF_USER] = "USER",
    [DF_WORKDIR] = "WORKDIR",
    [DF_VOLUME] = "VOLUME",
    [DF_SHELL] = "SHELL",
    [DF_ENTRYPOINT] = "ENTRYPOINT",
    [DF_CMD] = "CMD",
    [DF_HEALTHCHECK] = "HEALTHCHECK",
    [DF_ONBUILD] = "ONBUILD",
    [DF_STOPSIGNAL] = "STOPSIGNAL",
    [DF_MAINTAINER] = "MAINTAINER",
};

const char *df_kind_name(enum df_kind k)
{
	return kind_names[k];
}

/* ---- value checks --------------------------------------------------------- */

static const char *const mount_types[] = {"bind", "cache", "tmpfs", "secret", "ssh"};

const char *df_mount_type_name(enum df_mount_type t)
{
	return mount_types[t];
}

void df_mount_clear(struct df_mount *m)
{
	free(m->from);
	free(m->source);
	free(m->target);
	free(m->id);
	free(m->sharing);
	free(m->env);
	memset(m, 0, sizeof(*m));
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, t[i]) == 0)
			return *out = true, 0;
		if (strcmp(s, f[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

static int parse_uint(const char *s, int base, int64_t max, int64_t *out)
{
	char *end;
	if (*s == '\0' || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0' || v > (unsigned long long)max)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* docker/go-units RAMInBytes: a number with an optional b, k, m, g, t, p
 * (and "b" after it) suffix, in powers of 1024. */
static int ram_in_bytes(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno != 0 || v < 0)
		return -1;
	char u[3] = "";
	size_t k = 0;
	for (; *end && k < 2; end++)
		u[k++] = (char)tolower((unsigned char)*end);
	if (*end)
		return -1;
	double mul = 1;
	const char *units = "bkmgtp";
	if (k > 0) {
		const char *p = strchr(units, u[0]);
		if (p == NULL || (k == 2 && (u[1] != 'b' || u[0] == 'b')))
			return -1;
		for (long i = 0; i < p - units; i++)
			mul *= 1024;
	}
	*out = (int64_t)(v * mul);
	return 0;
}

/* The fields of a --mount value: comma-separated, double quotes group. */
static char **csv_fields(const char *s)
{
	size_t n = 1;
	for (const char *p = s; *p; p++)
		n += *p == ',';
	char **v = calloc(n + 1, sizeof(*v));
	if (v == NULL)
		return NULL;
	size_t k = 0;
	while (*s || k == 0) {
		char *f = malloc(strlen(s) + 1), *o = f;
		bool q = false;
		if (f == NULL) {
			strv_free(v);
			return NULL;
		}
		for (; *s && (q || *s != ','); s++) {
			if (*s == '"') {
				if (q && s[1] == '"') {
					*o++ = *s++;
					continue;
				}
				q = !q;
				continue;
			}
			*o++ = *s;
		}
		*o = '\0';
		v[k++] = f;
		if (*s == ',')
			s++;
		else
			break;
	}
	return v;
}

static int setstr(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
	return *dst == NULL ? -1 : 0;
}

#define MFAIL(...) (asprintf(msg, __VA_ARGS__) < 0 ? (*msg = NULL, -1) : -1)

int df_mount_parse(const char *spec, struct df_mount *m, char **msg)
{
	cleanup_strv char **fields = csv_fields(spec);
	bool ro_auto = true;

	memset(m, 0, sizeof(*m));
	m->mode = m->uid = m->gid = -1;
	*msg = NULL;
	if (fields == NULL)
		return MFAIL("out of memory");
	for (char **f = fields; *f; f++) {
		char *key = *f, *eq = strchr(key, '='), *value = eq ? eq + 1 : NULL;
		if (eq)
			*eq = '\0';
		for (char *c = key; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (value == NULL) {
			if (!strcmp(key, "readonly") || !strcmp(key, "ro")) {
				m->readonly = true;
				ro_auto = false;
			} else if (!strcmp(key, "readwrite") || !strcmp(key, "rw")) {
				m->readonly = false;
				ro_auto = false;
			} else if (!strcmp(key, "required") &&
			           (m->type == DF_MOUNT_SECRET || m->type == DF_MOUNT_SSH)) {
				m->required = true;
			} else if (!strcmp(key, "required")) {
				return MFAIL("unexpected key '%s' for mount type '%s'", key,
				             mount_types[m->type]);
			} else {
				return MFAIL("invalid field '%s' must be a key=value pair", key);
			}
			continue;
		}
		int r = 0;
		bool b;
		if (!strcmp(key, "type")) {
			size_t t;
			for (t = 0; t < 5; t++)
				if (strcasecmp(value, mount_types[t]) == 0)
					break;
			if (t == 5)
				return MFAIL("unsupported mount type \"%s\"", value);
			m->type = (enum df_mount_type)t;
		} else if (!strcmp(key, "from")) {
			r = setstr(&m->from, value);
		} else if (!strcmp(key, "source") || !strcmp(key, "src")) {
			r = setstr(&m->source, value);
		} else if (!strcmp(key, "target") || !strcmp(key, "dst") || !strcmp(key, "destination")) {
			r = setstr(&m->target, value);
		} else if (!strcmp(key, "readonly") || !strcmp(key, "ro") || !strcmp(key, "readwrite") ||
		           !strcmp(key, "rw")) {
			if (parse_bool(value, &b) < 0)
				return MFAIL("invalid value for %s: %s", key, value);
			m->readonly = key[0] == 'r' && (key[1] == 'o' || key[4] == 'o') ? b : !b;
			ro_auto = false;
		} else if (!strcmp(key, "required")) {
			if (m->type != DF_MOUNT_SECRET && m->type != DF_MOUNT_SSH)
				return MFAIL("unexpected key '%s' for mount type '%s'", key,
				             mount_types[m->type]);
			if (parse_bool(value, &m->required) < 0)
				return MFAIL("invalid value for %s: %s", key, value);
		} else if (!strcmp(key, "size")) {
			if (m->type != DF_MOUNT_TMPFS)
				return MFAIL("unexpected key '%s' for mount type '%s'", key,
				             mount_types[m->type]);
			if (ram_in_bytes(value, &m->size) < 0)
				return MFAIL("invalid value for %s: %s", key, value);
		} else if (!strcmp(key, "id")) {
			r = setstr(&m->id, value);
		} else if (!strcmp(key, "sharing")) {
			if (strcasecmp(value, "shared") && strcasecmp(value, "private") &&
			    strcasecmp(value, "locked"))
				return MFAIL("unsupported sharing value \"%s\"", value);
			r = setstr(&m->sharing, value);
			for (char *c = m->sharing; c && *c; c++)
				*c = (char)tolower((unsigned char)*c);
		} else if (!strcmp(key, "mode")) {
			if (parse_uint(value, 8, 0xffffffff, &m->mode) < 0)
				return MFAIL("invalid value %s for mode", value);
		} else if (!strcmp(key, "uid")) {
			if (parse_uint(value, 10, 0xffffffff, &m->uid) < 0)
				return MFAIL("invalid value %s for uid", value);
		} else if (!strcmp(key, "gid")) {
			if (parse_uint(value, 10, 0xffffffff, &m->gid) < 0)
				return MFAIL("invalid value %s for gid", value);
		} else if (!strcmp(key, "env")) {
			r = setstr(&m->env, value);
		} else {
			return MFAIL("unexpected key '%s' in '%s=%s'", key, key, value);
		}
		if (r < 0)
			return MFAIL("out of memory");
	}
	bool file_info = m->type == DF_MOUNT_SECRET || m->type == DF_MOUNT_SSH || m->type == DF_MOUNT_CACHE;
	if (!file_info && m->mode >= 0)
		return MFAIL("mode not allowed for \"%s\" type mounts", mount_types[m->type]);
	if (!file_info && m->uid >= 0)
		return MFAIL("uid not allowed for \"%s\" type mounts", mount_types[m->type]);
	if (!file_info && m->gid >= 0)
		return MFAIL("gid not allowed for \"%s\" type mounts", mount_types[m->type]);
	if (ro_auto)
		m->readonly = !(m->type == DF_MOUNT_CACHE || m->type == DF_MOUNT_TMPFS);
	if (m->type == DF_MOUNT_SECRET) {
		if (m->from)
			return MFAIL("secret mount should not have a from");
		if (m->sharing)
			return MFAIL("secret mount should not define sharing");
		if (!m->source && !m->target && !m->id)
			return MFAIL("invalid secret mount. one of source, target required");
		if (m->source && m->id)
			return MFAIL("both source and id can't be set");
	}
	if (m->sharing && m->type != DF_MOUNT_CACHE)
		return MFAIL("invalid cache sharing set for %s mount", mount_types[m->type]);
	if (m->type != DF_MOUNT_SECRET && m->type != DF_MOUNT_SSH && m->target == NULL)
		return MFAIL("mount type %s requires a target", mount_types[m->type]);
	return 0;
}

bool df_chmod_valid(const char *s)
{
	int64_t v;
	if (*s >= '0' && *s <= '9')
		return parse_uint(s, 8, 07777, &v) == 0;
	/* symbolic: [ugoa]*([-+=]([rwxXst]*|[ugo]))+ , ... */
	for (;;) {
		while (*s && strchr("ugoa", *s))
			s++;
		if (!*s || !strchr("+-=", *s))
			return false;
		while (*s && strchr("+-=", *s)) {
			s++;
			if (*s && strchr("ugo", *s) && (s[1] == '\0' || strchr(",+-=", s[1])))
				s++;
			else
				while (*s && strchr("rwxXst", *s))
					s++;
		}
		if (*s == '\0')
			return true;
		if (*s++ != ',')
			return false;
	}
}

int df_parse_duration(const char *s, int64_t *ns)
{
	static const struct {
		const char *u;
		double mul;
	} units[] = {{"ns", 1},   {"us", 1e3}, {"µs", 1e3}, {"μs", 1e3},
	             {"ms", 1e6}, {"s", 1e9},  {"m", 60e9}, {"h", 3600e9}};
	double total = 0;
	bool neg = false;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0)
		return *ns = 0, 0;
	if (*s == '\0')
		return -1;
	while (*s) {
		char *end;
		if (!isdigit((unsigned char)*s) && *s != '.')
			return -1;
		double v = strtod(s, &end);
		if (end == s)
			return -1;
		s = end;
		size_t best = 0, bi = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].u);
			if (strncmp(s, units[i].u, l) == 0 && l > best) {
				best = l;
				bi = i;
			}
		}
		if (best == 0)
			return -1;
		total += v * units[bi].mul;
		s += best;
	}
	*ns = (int64_t)(neg ? -total : total);
	return 0;
}

bool df_port_valid(const char *s)
{
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	char port[32];
	int64_t lo, hi;

	if (slash && strcasecmp(slash + 1, "tcp") && strcasecmp(slash + 1, "udp") &&
	    strcasecmp(slash + 1, "sctp"))
		return false;
	if (n == 0 || n >= sizeof(port))
		return false;
	memcpy(port, s, n);
	port[n] = '\0';
	char *dash = strchr(port, '-');
	if (dash)
		*dash = '\0';
	if (parse_uint(port, 10, 65535, &lo) < 0)
		return false;
	hi = lo;
	if (dash && parse_uint(dash + 1, 10, 65535, &hi) < 0)
		return false;
	return hi >= lo;
}

/* ---- flags ----------------------------------------------------------------- */

enum { FL_BOOL, FL_STRING, FL_STRINGS };

struct flag_spec {
	const char *name;
	int type;
};

struct flag_val {
	bool used;
	char *value;   /* FL_BOOL: "true"/"false" */
	char **values; /* FL_STRINGS */
	size_t n;
	struct df_pos pos;
};

static int parse_flags(const struct df_ast *ast, const struct df_node *n, const struct flag_spec *spec,
                       size_t n_spec, struct flag_val *vals, berth_error_t *err)
{
	for (size_t i = 0; i < n->n_flags; i++) {
		const char *a = n->flags[i].s;
		struct df_pos at = n->flags[i].pos;
		const char *eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		const char *value = eq ? eq + 1 : NULL;
		size_t k;

		if (strcmp(a, "--") == 0)
			return 0;
		for (k = 0; k < n_spec; k++)
			if (strlen(spec[k].name) == nl - 2 && strncmp(spec[k].name, a + 2, nl - 2) == 0)
				break;
		if (k == n_spec)
			return df_fail(ast, at, err, "unknown flag: %.*s", (int)nl, a);
		struct flag_val *v = &vals[k];
		if (v->used && spec[k].type != FL_STRINGS)
			return df_fail(ast, at, err, "duplicate flag specified: %.*s", (int)nl, a);
		v->used = true;
		v->pos = at;
		if (spec[k].type == FL_BOOL) {
			if (value != NULL && *value == '\0')
				return df_fail(ast, at, err, "missing a value on flag: %.*s", (int)nl, a);
			if (value == NULL || !strcasecmp(value, "true"))
				value = "true";
			else if (!strcasecmp(value, "false"))
				value = "false";
			else
				return df_fail(ast, at, err, "expecting boolean value for flag %.*s, not: %s",
				               (int)nl, a, value);
		} else if (value == NULL) {
			return df_fail(ast, at, err, "missing a value on flag: %.*s", (int)nl, a);
		}
		if (spec[k].type == FL_STRINGS) {
			char **p = realloc(v->values, (v->n + 2) * sizeof(*p));
			if (p == NULL)
				return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "parse flags");
			v->values = p;
			p[v->n] = strdup(value);
			p[++v->n] = NULL;
			if (p[v->n - 1] == NULL)
				return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "parse flags");
		} else if (setstr(&v->value, value) < 0) {
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "parse flags");
		}
	}
	return 0;
}

static void flag_vals_free(struct flag_val *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].value);
		strv_free(v[i].values);
	}
}

/* ---- instructions ----------------------------------------------------------- */

static char **args_strv(const struct df_node *n, size_t from, size_t to)
{
	char **v = calloc(to - from + 1, sizeof(*v));
	if (v == NULL)
		return NULL;
	for (size_t i = from; i < to; i++)
		if ((v[i - from] = strdup(n->args[i].s)) == NULL) {
			strv_free(v);
			return NULL;
		}
	return v;
}

static char *chomp_tabs(const char *s)
{
	char *o = malloc(strlen(s) + 1), *p = o;
	bool bol = true;
	if (o == NULL)
		return NULL;
	for (; *s; s++) {
		if (bol && *s == '\t')
			continue;
		bol = *s == '\n';
		*p++ = *s;
	}
	*p = '\0';
	return o;
}

static int add_inline(struct df_instr *in, const struct df_heredoc *h)
{
	struct df_inline *f = realloc(in->files, (in->n_files + 1) * sizeof(*f));
	if (f == NULL)
		return -1;
	in->files = f;
	f[in->n_files].name = strdup(h->name);
	f[in->n_files].data = h->chomp ? chomp_tabs(h->content) : strdup(h->content);
	f[in->n_files].expand = h->expand;
	in->n_files++;
	return f[in->n_files - 1].name && f[in->n_files - 1].data ? 0 : -1;
}

static const struct df_heredoc *find_heredoc(const struct df_node *n, const char *name)
{
	for (size_t i = 0; i < n->line->n_heredocs; i++)
		if (strcmp(n->line->heredocs[i].name, name) == 0)
			return &n->line->heredocs[i];
	return NULL;
}

/* The command of RUN, CMD, ENTRYPOINT (and HEALTHCHECK CMD from `from`). */
static int shell_dependent(struct df_instr *in, const struct df_node *n, size_t from)
{
	in->shell_form = !n->json;
	in->cmd = args_strv(n, from, n->n_args);
	return in->cmd == NULL ? -1 : 0;
}

static bool valid_stage_name(const char *s)
{
	if (!islower((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	return true;
}

static int parse_from(const struct df_ast *ast, const struct df_node *n, struct df_instr *in,
                      struct flag_val *fv, berth_error_t *err)
{
	if (n->n_args == 3 && strcasecmp(n->args[1].s, "as") == 0) {
		in->stage_name = strdup(n->args[2].s);
		if (in->stage_name == NULL)
			return -2;
		for (char *c = in->stage_name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (!valid_stage_name(in->stage_name))
			return df_fail(ast, n->args[2].pos, err,
			               "invalid name for build stage: \"%s\", name can't start with a number "
			               "or contain symbols",
			               n->args[2].s);
	} else if (n->n_args != 1) {
		return df_fail(ast, n->pos, err, "FROM requires either one or three arguments");
	}
	in->base = strdup(n->args[0].s);
	in->platform = steal_ptr(&fv[0].value);
	return in->base == NULL ? -2 : 0;
}

static int parse_copy_add(const struct df_ast *ast, const struct df_node *n, struct df_instr *in,
                          struct flag_val *fv, berth_error_t *err)
{
	const char *what = in->kind == DF_ADD ? "ADD" : "COPY";
	if (n->n_args < 2)
		return df_fail(ast, n->pos, err,
		               "%s requires at least two arguments, but only one was provided. Destination "
		               "could not be determined",
		               what);
	const struct df_word *dest = &n->args[n->n_args - 1];
	if (df_heredoc_word(dest->s, NULL))
		return df_fail(ast, dest->pos, err, "%s cannot accept a heredoc as a destination", what);
	in->dest = strdup(dest->s);
	in->srcs = calloc(n->n_args, sizeof(char *));
	if (in->dest == NULL || in->srcs == NULL)
		return -2;
	for (size_t i = 0, k = 0; i + 1 < n->n_args; i++) {
		struct df_heredoc h = {0};
		if (!n->json && df_heredoc_word(n->args[i].s, &h)) {
			const struct df_heredoc *doc = find_heredoc(n, h.name);
			free(h.name);
			if (doc != NULL && add_inline(in, doc) < 0)
				return -2;
			continue;
		}
		if ((in->srcs[k++] = strdup(n->args[i].s)) == NULL)
			return -2;
	}
	/* COPY: chown from chmod link exclude parents; ADD: chown chmod link
	 * keep-git-dir checksum unpack exclude */
	in->chown = steal_ptr(&fv[0].value);
	in->chmod = steal_ptr(&fv[1].value);
	in->link = fv[2].value != NULL && !strcmp(fv[2].value, "true");
	in->excludes = steal_ptr(&fv[3].values);
	if (in->kind == DF_COPY) {
		in->from = steal_ptr(&fv[4].value);
		in->parents = fv[5].value != NULL && !strcmp(fv[5].value, "true");
	} else {
		in->keep_git_dir = fv[4].value != NULL && !strcmp(fv[4].value, "true");
		in->checksum = steal_ptr(&fv[5].value);
		in->unpack_set = fv[6].used;
		in->unpack = fv[6].value != NULL && !strcmp(fv[6].value, "true");
	}
	if (in->chmod != NULL && strchr(in->chmod, '$') == NULL && !df_chmod_valid(in->chmod))
		return df_fail(ast, fv[1].pos, err, "invalid chmod parameter: %s", in->chmod);
	if (in->from != NULL && *in->from == '\0')
		return df_fail(ast, fv[4].pos, err, "--from requires a value");
	if (in->checksum != NULL && strchr(in->checksum, '$') == NULL) {
		const char *c = strchr(in->checksum, ':');
		size_t want = 0;
		if (c != NULL && !strncmp(in->checksum, "sha256:", 7))
			want = 64;
		else if (c != NULL && !strncmp(in->checksum, "sha384:", 7))
			want = 96;
		else if (c != NULL && !strncmp(in->checksum, "sha512:", 7))
			want = 128;
		bool okhex = want != 0 && strlen(c + 1) == want;
		for (const char *p = c ? c + 1 : ""; okhex && *p; p++)
			okhex = isxdigit((unsigned char)*p) && !isupper((unsigned char)*p);
		if (!okhex)
			return df_fail(ast, fv[5].pos, err, "invalid checksum digest format: %s",
			               in->checksum);
	}
	return 0;
}

static int parse_run(const struct df_ast *ast, const struct df_node *n, struct df_instr *in,
                     struct flag_val *fv, berth_error_t *err)
{
	in->mount_specs = steal_ptr(&fv[0].values);
	in->network = steal_ptr(&fv[1].value);
	in->security = steal_ptr(&fv[2].value);
	if (in->network && strcmp(in->network, "default") && strcmp(in->network, "none") &&
	    strcmp(in->network, "host"))
		return df_fail(ast, fv[1].pos, err, "unsupported network mode \"%s\"", in->network);
	if (in->security && strcmp(in->security, "sandbox") && strcmp(in->security, "insecure"))
		return df_fail(ast, fv[2].pos, err, "unsupported security mode \"%s\"", in->security);
	for (size_t i = 0; in->mount_specs && in->mount_specs[i]; i++) {
		const char *spec = in->mount_specs[i], *from = strstr(spec, "from=");
		struct df_mount m;
		char *msg = NULL;
		if (strchr(spec, '$') != NULL) {
			/* evaluated with the stage's variables; from= cannot be */
			const char *d = from ? strchr(from, '$') : NULL;
			const char *fe = from ? strchr(from, ',') : NULL;
			if (d != NULL && (fe == NULL || d < fe) && d[1] != '\0' && d[1] != ',')
				return df_fail(
				    ast, fv[0].pos, err,
				    "'from' doesn't support variable expansion, define alias stage instead");
			continue;
		}
		if (df_mount_parse(spec, &m, &msg) < 0) {
			df_mount_clear(&m);
			df_fail(ast, fv[0].pos, err, "%s", msg ? msg : "out of memory");
			free(msg);
			return -1;
		}
		struct df_mount *ms = realloc(in->mounts, (in->n_mounts + 1) * sizeof(*ms));
		if (ms == NULL) {
			df_mount_clear(&m);
			return -2;
		}
		in->mounts = ms;
		ms[in->n_mounts++] = m;
	}
	for (size_t i = 0; i < n->line->n_heredocs; i++)
		if (add_inline(in, &n->line->heredocs[i]) < 0)
			return -2;
	return shell_dependent(in, n, 0) < 0 ? -2 : 0;
}

static int parse_kvs(const struct df_ast *ast, const struct df_node *n, struct df_instr *in,
                     berth_error_t *err)
{
	const char *what = df_kind_name(in->kind);
	size_t step = in->kind == DF_ARG ? 1 : 3;

	if (n->n_args == 0)
		return df_fail(ast, n->pos, err, "%s requires at least one argument", what);
	in->kvs = calloc(n->n_args / step, sizeof(*in->kvs));
	if (in->kvs == NULL)
		return -2;
	for (size_t i = 0; i + step <= n->n_args; i += step) {
		struct df_kv *kv = &in->kvs[in->n_kvs++];
		const char *w = n->args[i].s;
		kv->pos = n->args[i].pos;
		if (step == 3) {
			kv->key = strdup(w);
			kv->value = strdup(n->args[i + 1].s);
			kv->legacy = n->args[i + 2].s[0] == '\0';
			if (kv->key == NULL || kv->value == NULL)
				return -2;
		} else {
			const char *eq = strchr(w, '=');
			kv->key = eq ? strndup(w, (size_t)(eq - w)) : strdup(w);
			if (kv->key == NULL || (eq && (kv->value = strdup(eq + 1)) == NULL))
				return -2;
		}
		if (kv->key[0] == '\0')
			return df_fail(ast, kv->pos, err, "%s names can not be blank", what);
	}
	return 0;
}

static int parse_healthcheck(const struct df_ast *ast, const struct df_node *n, struct df_instr *in,
                             struct flag_val *fv, berth_error_t *err)
{
	if (n->n_args == 0)
		return df_fail(ast, n->pos, err, "HEALTHCHECK requires at least one argument");
	char typ[16];
	snprintf(typ, sizeof(typ), "%s", n->args[0].s);
	for (char *c = typ; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	if (strcmp(typ, "NONE") == 0) {
		if (n->n_args > 1)
			return df_fail(ast, n->pos, err, "HEALTHCHECK NONE takes no arguments");
		in->cmd = calloc(2, sizeof(char *));
		if (in->cmd == NULL || (in->cmd[0] = strdup("NONE")) == NULL)
			return -2;
		return 0;
	}
	if (strcmp(typ, "CMD") != 0)
		return df_fail(ast, n->args[0].pos, err, "Unknown type \"%s\" in HEALTHCHECK (try CMD)", typ);
	if (n->n_args < 2)
		return df_fail(ast, n->pos, err, "Missing command after HEALTHCHECK CMD");
	in->cmd = calloc(n->n_args + 1, sizeof(char *));
	if (in->cmd == NULL || (in->cmd[0] = strdup(n->json ? "CMD" : "CMD-SHELL")) == NULL)
		return -2;
	for (size_t i = 1; i < n->n_args; i++)
		if ((in->cmd[i] = strdup(n->args[i].s)) == NULL)
			return -2;
	in->shell_form = !n->json;
	int64_t *dst[] = {&in->interval, &in->timeout, &in->start_period, &in->start_interval};
	static const char *const names[] = {"interval", "timeout", "start-period", "start-interval"};
	for (size_t i = 0; i < 4; i++) {
		if (fv[i].value == NULL || fv[i].value[0] == '\0')
			continue;
		if (df_parse_duration(fv[i].value, dst[i]) < 0)
			return df_fail(ast, fv[i].pos, err, "time: invalid duration \"%s\"", fv[i].value);
		if (*dst[i] != 0 && *dst[i] < 1000000)
			return df_fail(ast, fv[i].pos, err, "Interval \"%s\" cannot be less than 1ms",
			               names[i]);
	}
	if (fv[4].value != NULL && fv[4].value[0] != '\0') {
		char *end;
		errno = 0;
		long r = strtol(fv[4].value, &end, 10);
		if (*end != '\0' || errno != 0 || r > 2147483647L || r < -2147483647L - 1)
			return df_fail(ast, fv[4].pos, err,
			               "strconv.ParseInt: parsing \"%s\": invalid syntax", fv[4].value);
		if (r < 0)
			return df_fail(ast, fv[4].pos, err, "--retries cannot be negative (%ld)", r);
		in->retries = (int)r;
	}
	return 0;
}

static int exactly_one(const struct df_ast *ast, const struct df_node *n, struct df_instr *in,
                       berth_error_t *err)
{
	if (n->n_args != 1)
		return df_fail(ast, n->pos, err, "%s requires exactly one argument", df_kind_name(in->kind));
	in->value = strdup(n->args[0].s);
	return in->value == NULL ? -2 : 0;
}

static int parse_onbuild(const struct df_ast *ast, struct df_node *n, struct df_instr *in, berth_error_t *err)
{
	if (n->n_args == 0 || n->sub == NULL)
		return df_fail(ast, n->pos, err, "ONBUILD requires at least one argument");
	if (!strcasecmp(n->sub->cmd, "ONBUILD"))
		return df_fail(ast, n->sub->pos, err, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
	if (!strcasecmp(n->sub->cmd, "MAINTAINER") || !strcasecmp(n->sub->cmd, "FROM")) {
		char up[16];
		snprintf(up, sizeof(up), "%s", n->sub->cmd);
		for (char *c = up; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		return df_fail(ast, n->sub->pos, err, "%s isn't allowed as an ONBUILD trigger", up);
	}
	if (df_instr_from_node(ast, n->sub, &in->trigger, err) < 0)
		return -1;
	/* the trigger as written, with its heredocs after it */
	char *e = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&e, &len);
	if (f == NULL)
		return -2;
	fputs(in->trigger->text, f);
	for (size_t i = 0; i < n->line->n_heredocs; i++)
		fprintf(f, "\n%s%s", n->line->heredocs[i].content, n->line->heredocs[i].name);
	if (fclose(f) != 0) {
		free(e);
		return -2;
	}
	in->expression = e;
	return 0;
}

static const struct {
	const char *name;
	enum df_kind kind;
	struct flag_spec flags[8];
	size_t n_flags;
} table[] = {
    {"from", DF_FROM, {{"platform", FL_STRING}}, 1},
    {"run", DF_RUN, {{"mount", FL_STRINGS}, {"network", FL_STRING}, {"security", FL_STRING}}, 3},
    {"copy",
     DF_COPY,
     {{"chown", FL_STRING},
      {"chmod", FL_STRING},
      {"link", FL_BOOL},
      {"exclude", FL_STRINGS},
      {"from", FL_STRING},
      {"parents", FL_BOOL}},
     6},
    {"add",
     DF_ADD,
     {{"chown", FL_STRING},
      {"chmod", FL_STRING},
      {"link", FL_BOOL},
      {"exclude", FL_STRINGS},
      {"keep-git-dir", FL_BOOL},
      {"checksum", FL_STRING},
      {"unpack", FL_BOOL}},
     7},
    {"env", DF_ENV, {{NULL, 0}}, 0},
    {"arg", DF_ARG, {{NULL, 0}}, 0},
    {"label", DF_LABEL, {{NULL, 0}}, 0},
    {"expose", DF_EXPOSE, {{NULL, 0}}, 0},
    {"user", DF_USER, {{NULL, 0}}, 0},
    {"workdir", DF_WORKDIR, {{NULL, 0}}, 0},
    {"volume", DF_VOLUME, {{NULL, 0}}, 0},
    {"shell", DF_SHELL, {{NULL, 0}}, 0},
    {"entrypoint", DF_ENTRYPOINT, {{NULL, 0}}, 0},
    {"cmd", DF_CMD, {{NULL, 0}}, 0},
    {"healthcheck",
     DF_HEALTHCHECK,
     {{"interval", FL_STRING},
      {"timeout", FL_STRING},
      {"start-period", FL_STRING},
      {"start-interval", FL_STRING},
      {"retries", FL_STRING}},
     5},
    {"onbuild", DF_ONBUILD, {{NULL, 0}}, 0},
    {"stopsignal", DF_STOPSIGNAL, {{NULL, 0}}, 0},
    {"maintainer", DF_MAINTAINER, {{NULL, 0}}, 0},
};

static int dispatch(const struct df_ast *ast, struct df_node *n, struct df_instr *in, struct flag_val *fv,
                    berth_error_t *err)
{
	switch (in->kind) {
	case DF_FROM:
		return parse_from(ast, n, in, fv, err);
	case DF_RUN:
		return parse_run(ast, n, in, fv, err);
	case DF_COPY:
	case DF_ADD:
		return parse_copy_add(ast, n, in, fv, err);
	case DF_ENV:
	case DF_ARG:
	case DF_LABEL:
		return parse_kvs(ast, n, in, err);
	case DF_EXPOSE:
	case DF_VOLUME:
		if (n->n_args == 0)
			return df_fail(ast, n->pos, err, "%s requires at least one argument",
			               df_kind_name(in->kind));
		for (size_t i = 0; i < n->n_args; i++) {
			const char *w = n->args[i].s;
			if (in->kind == DF_VOLUME && strspn(w, " \t\r\n") == strlen(w))
				return df_fail(ast, n->args[i].pos, err,
				               "VOLUME specified can not be an empty string");
			if (in->kind == DF_EXPOSE && !strchr(w, '$') && !df_port_valid(w))
				return df_fail(ast, n->args[i].pos, err, "invalid containerPort: %s", w);
		}
		in->words = args_strv(n, 0, n->n_args);
		return in->words == NULL ? -2 : 0;
	case DF_USER:
	case DF_WORKDIR:
	case DF_STOPSIGNAL:
	case DF_MAINTAINER:
		return exactly_one(ast, n, in, err);
	case DF_SHELL:
		if (n->n_args == 0)
			return df_fail(ast, n->pos, err, "SHELL requires at least one argument");
		if (!n->json)
			return df_fail(ast, n->pos, err, "SHELL requires the arguments to be in JSON form");
		return shell_dependent(in, n, 0) < 0 ? -2 : 0;
	case DF_CMD:
	case DF_ENTRYPOINT:
		return shell_dependent(in, n, 0) < 0 ? -2 : 0;
	case DF_HEALTHCHECK:
		return parse_healthcheck(ast, n, in, fv, err);
	case DF_ONBUILD:
		return parse_onbuild(ast, n, in, err);
	}
	return 0;
}

int df_instr_from_node(const struct df_ast *ast, struct df_node *n, struct df_instr **out, berth_error_t *err)
{
	struct flag_val fv[8] = {0};
	size_t t;
	int r;

	for (t = 0; t < sizeof(table) / sizeof(table[0]); t++)
		if (strcasecmp(n->cmd, table[t].name) == 0)
			break;
	if (t == sizeof(table) / sizeof(table[0]))
		return df_fail(ast, n->pos, err, "unknown instruction: %s", n->cmd);
	struct df_instr *in = calloc(1, sizeof(*in));
	if (in == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "parse %s", ast->lexed.filename);
	in->kind = table[t].kind;
	in->pos = n->pos;
	in->node = n;
	in->text = strdup(n->line->text + n->off); /* ONBUILD triggers start mid-line */
	r = in->text == NULL ? -2 : 0;
	if (r == 0)
		r = parse_flags(ast, n, table[t].flags, table[t].n_flags, fv, err);
	if (r == 0)
		r = dispatch(ast, n, in, fv, err);
	flag_vals_free(fv, 8);
	if (r == -2)
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "parse %s", ast->lexed.filename);
	if (r < 0) {
		df_instr_free(in);
		return -1;
	}
	*out = in;
	return 0;
}

void df_instr_free(struct df_instr *in)
{
	if (in == NULL)
		return;
	free(in->text);
	free(in->base);
	free(in->stage_name);
	free(in->platform);
	strv_free(in->cmd);
	for (size_t i = 0; i < in->n_files; i++) {
		free(in->files[i].name);
		free(in->files[i].data);
	}
	free(in->files);
	strv_free(in->mount_specs);
	for (size_t i = 0; i < in->n_mounts; i++)
		df_mount_clear(&in->mounts[i]);
	free(in->mounts);
	free(in->network);
	free(in->security);
	strv_free(in->srcs);
	free(in->dest);
	free(in->from);
	free(in->chown);
	free(in->chmod);
	free(in->checksum);
	strv_free(in->excludes);
	for (size_t i = 0; i < in->n_kvs; i++) {
		free(in->kvs[i].key);
		free(in->kvs[i].value);
	}
	free(in->kvs);
	strv_free(in->words);
	free(in->value);
	free(in->expression);
	df_instr_free(in->trigger);
	free(in);
}
