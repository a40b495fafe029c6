/* Runtime options: the Any containerd sends, and the TOML file or body that
 * CRI's runtimeoptions point at (options.h has the table). */
#include "options.h"
#include "options.pb-c.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the keys of the TOML form ---- */

enum key_kind { KEY_STRING, KEY_BOOL, KEY_UINT32, KEY_IGNORED };

static const struct {
	const char *name;
	enum key_kind kind;
	size_t off;
} keys[] = {
    {"Root", KEY_STRING, offsetof(struct shim_options, root)},
    {"ShimCgroup", KEY_STRING, offsetof(struct shim_options, shim_cgroup)},
    {"SystemdCgroup", KEY_BOOL, offsetof(struct shim_options, systemd_cgroup)},
    {"NoPivotRoot", KEY_BOOL, offsetof(struct shim_options, no_pivot_root)},
    {"NoNewKeyring", KEY_BOOL, offsetof(struct shim_options, no_new_keyring)},
    {"IoUid", KEY_UINT32, offsetof(struct shim_options, io_uid)},
    {"IoGid", KEY_UINT32, offsetof(struct shim_options, io_gid)},
    /* runc's, or the runtimeoptions table's own: nothing to do here */
    {"BinaryName", KEY_IGNORED, 0},
    {"CriuPath", KEY_IGNORED, 0},
    {"CriuImagePath", KEY_IGNORED, 0},
    {"CriuWorkPath", KEY_IGNORED, 0},
    {"TypeUrl", KEY_IGNORED, 0},
    {"ConfigPath", KEY_IGNORED, 0},
};

void options_free(struct shim_options *o)
{
	free(o->root);
	free(o->shim_cgroup);
	*o = (struct shim_options){0};
}

/* ---- a TOML subset: top-level `key = value` lines ---- */

struct value {
	enum { V_STRING, V_BOOL, V_INT } type;
	char *s; /* V_STRING, owned */
	bool b;
	long long i;
};

static void skip_blank(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* Appends the UTF-8 form of code point cp. */
static size_t put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static unsigned long hex_value(char c)
{
	return isdigit((unsigned char)c) ? (unsigned long)(c - '0') : (unsigned long)(tolower(c) - 'a' + 10);
}

/* A "basic" or 'literal' string starting at *p (on the quote); the result
 * is malloc'd.  Returns an error text, or NULL. */
static const char *parse_string(const char **p, const char *end, char **out)
{
	char quote = **p;
	const char *s = *p + 1;
	cleanup_free char *buf = NULL;
	size_t n = 0;

	if (end - *p >= 3 && s[0] == quote && s[1] == quote)
		return "multi-line strings are not supported";
	/* an escape never makes the text longer than its source */
	buf = malloc((size_t)(end - s) + 1);
	if (buf == NULL)
		return "out of memory";
	for (; s < end && *s != quote; s++) {
		if (*s == '\n' || *s == '\r')
			return "unterminated string";
		if (*s != '\\' || quote == '\'') {
			buf[n++] = *s;
			continue;
		}
		if (++s == end)
			break;
		switch (*s) {
		case '"':
		case '\\':
			buf[n++] = *s;
			break;
		case 'n':
			buf[n++] = '\n';
			break;
		case 't':
			buf[n++] = '\t';
			break;
		case 'r':
			buf[n++] = '\r';
			break;
		case 'b':
			buf[n++] = '\b';
			break;
		case 'f':
			buf[n++] = '\f';
			break;
		case 'u':
		case 'U': {
			int digits = *s == 'u' ? 4 : 8;
			unsigned long cp = 0;
			if (end - s <= digits)
				return "a \\u escape needs its hex digits";
			for (int i = 1; i <= digits; i++) {
				if (!isxdigit((unsigned char)s[i]))
					return "a \\u escape needs its hex digits";
				cp = cp * 16 + hex_value(s[i]);
			}
			if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
				return "a \\u escape names no valid character";
			s += digits;
			n += put_utf8(buf + n, cp);
			break;
		}
		default:
			return "unknown escape in a string";
		}
	}
	if (s >= end)
		return "unterminated string";
	buf[n] = '\0';
	*p = s + 1;
	*out = steal_ptr(&buf);
	return NULL;
}

static const char *parse_value(const char **p, const char *end, struct value *v)
{
	const char *s = *p;
	size_t n = 0;

	if (*s == '"' || *s == '\'') {
		v->type = V_STRING;
		return parse_string(p, end, &v->s);
	}
	while (s + n < end && (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '+' || s[n] == '-'))
		n++;
	if ((n == 4 && strncmp(s, "true", 4) == 0) || (n == 5 && strncmp(s, "false", 5) == 0)) {
		v->type = V_BOOL;
		v->b = n == 4;
		*p = s + n;
		return NULL;
	}
	if (n > 0 && (isdigit((unsigned char)s[0]) || ((s[0] == '+' || s[0] == '-') && n > 1))) {
		char digits[32];
		size_t k = 0;
		char *stop;
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '_')
				continue;
			if (k + 1 >= sizeof(digits) || (i > 0 && !isdigit((unsigned char)s[i])))
				return "not a decimal integer";
			digits[k++] = s[i];
		}
		digits[k] = '\0';
		errno = 0;
		v->i = strtoll(digits, &stop, 10);
		if (errno != 0 || *stop != '\0')
			return "not a decimal integer";
		v->type = V_INT;
		*p = s + n;
		return NULL;
	}
	if (*s == '[' || *s == '{')
		return "arrays and inline tables are not supported";
	return "expected a string, true, false or an integer";
}

static int set_key(const char *origin, unsigned line, const char *key, struct value *v, unsigned *seen,
                   struct shim_options *o, berth_error_t *err)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcasecmp(keys[i].name, key) == 0)
			break;
	if (i == sizeof(keys) / sizeof(keys[0]))
		return berth_error_invalid(err, "`%s`:%u: unknown key `%s`", origin, line, key);
	if (*seen & (1u << i))
		return berth_error_invalid(err, "`%s`:%u: `%s` is set twice", origin, line, key);
	*seen |= 1u << i;
	switch (keys[i].kind) {
	case KEY_STRING:
		if (v->type != V_STRING)
			return berth_error_invalid(err, "`%s`:%u: %s: expected a string", origin, line,
			                           keys[i].name);
		if (*v->s != '\0') {
			char *str = steal_ptr(&v->s);
			/* memcpy: the field's address comes from offsetof */
			memcpy((char *)o + keys[i].off, &str, sizeof(str));
		}
		break;
	case KEY_BOOL:
		if (v->type != V_BOOL)
			return berth_error_invalid(err, "`%s`:%u: %s: expected true or false", origin, line,
			                           keys[i].name);
		memcpy((char *)o + keys[i].off, &v->b, sizeof(v->b));
		break;
	case KEY_UINT32:
		if (v->type != V_INT || v->i < 0 || v->i > UINT32_MAX)
			return berth_error_invalid(err, "`%s`:%u: %s: expected an integer from 0 to %u",
			                           origin, line, keys[i].name, UINT32_MAX);
		{
			uint32_t u = (uint32_t)v->i;
			memcpy((char *)o + keys[i].off, &u, sizeof(u));
		}
		break;
	case KEY_IGNORED:
		break;
	}
	return 0;
}

/* One line (without its newline): blank, a comment, or key = value. */
static int parse_line(const char *origin, unsigned line, const char *p, const char *end, unsigned *seen,
                      struct shim_options *o, berth_error_t *err)
{
	struct value v = {0};
	cleanup_free char *key = NULL;
	const char *what;
	int ret;

	skip_blank(&p);
	if (p == end || *p == '#' || (*p == '\r' && p + 1 == end))
		return 0;
	if (*p == '[')
		return berth_error_invalid(
		    err, "`%s`:%u: tables are not supported: the options are top-level keys", origin, line);
	/* 1. the key, bare or quoted */
	if (*p == '"' || *p == '\'') {
		what = parse_string(&p, end, &key);
		if (what != NULL)
			return berth_error_invalid(err, "`%s`:%u: key: %s", origin, line, what);
	} else {
		const char *k = p;
		while (p < end && (isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
			p++;
		if (p == k || (p < end && *p == '.'))
			return berth_error_invalid(err, "`%s`:%u: expected `key = value`", origin, line);
		key = strndup(k, (size_t)(p - k));
		if (key == NULL)
			return berth_error_sys(err, ENOMEM, "`%s`", origin);
	}
	/* 2. = value */
	skip_blank(&p);
	if (p == end || *p != '=')
		return berth_error_invalid(err, "`%s`:%u: expected `=` after `%s`", origin, line, key);
	p++;
	skip_blank(&p);
	if (p == end)
		return berth_error_invalid(err, "`%s`:%u: `%s` has no value", origin, line, key);
	what = parse_value(&p, end, &v);
	if (what != NULL)
		return berth_error_invalid(err, "`%s`:%u: %s: %s", origin, line, key, what);
	/* 3. nothing else but a comment */
	skip_blank(&p);
	if (p < end && *p != '#' && !(*p == '\r' && p + 1 == end)) {
		free(v.s);
		return berth_error_invalid(err, "`%s`:%u: unexpected text after the value of `%s`", origin,
		                           line, key);
	}
	ret = set_key(origin, line, key, &v, seen, o, err);
	free(v.s);
	return ret;
}

int options_parse_toml(const char *origin, const char *text, size_t len, struct shim_options *o,
                       berth_error_t *err)
{
	const char *p = text, *end = text + len;
	unsigned seen = 0, line = 1;

	if (memchr(text, '\0', len) != NULL)
		return berth_error_invalid(err, "`%s`: not a text file", origin);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;
		if (parse_line(origin, line, p, eol, &seen, o, err) < 0) {
			options_free(o);
			return -1;
		}
		p = nl != NULL ? nl + 1 : end;
		line++;
	}
	return 0;
}

/* ---- the Any ---- */

static bool type_is(const Google__Protobuf__Any *any, const char *name)
{
	const char *slash = strrchr(any->type_url, '/');
	return strcmp(slash != NULL ? slash + 1 : any->type_url, name) == 0;
}

static char *dup_nonempty(const char *s)
{
	return s != NULL && *s != '\0' ? strdup(s) : NULL;
}

static int from_runc(const Google__Protobuf__Any *any, struct shim_options *o, berth_error_t *err)
{
	Containerd__Runc__V1__Options *r =
	    containerd__runc__v1__options__unpack(NULL, any->value.len, any->value.data);

	if (r == NULL)
		return berth_error_invalid(err, "options: containerd.runc.v1.Options does not decode");
	o->root = dup_nonempty(r->root);
	o->shim_cgroup = dup_nonempty(r->shim_cgroup);
	o->systemd_cgroup = r->systemd_cgroup;
	o->no_pivot_root = r->no_pivot_root;
	o->no_new_keyring = r->no_new_keyring;
	o->io_uid = r->io_uid;
	o->io_gid = r->io_gid;
	if ((r->root != NULL && *r->root != '\0' && o->root == NULL) ||
	    (r->shim_cgroup != NULL && *r->shim_cgroup != '\0' && o->shim_cgroup == NULL)) {
		containerd__runc__v1__options__free_unpacked(r, NULL);
		options_free(o);
		return berth_error_sys(err, ENOMEM, "options");
	}
	containerd__runc__v1__options__free_unpacked(r, NULL);
	return 0;
}

static int from_runtimeoptions(const Google__Protobuf__Any *any, struct shim_options *o, berth_error_t *err)
{
	Containerd__Runc__V1__RuntimeOptions *r =
	    containerd__runc__v1__runtime_options__unpack(NULL, any->value.len, any->value.data);
	cleanup_free char *text = NULL;
	size_t len = 0;
	int ret = 0;

	if (r == NULL)
		return berth_error_invalid(err, "options: runtimeoptions.v1.Options does not decode");
	if (r->config_path != NULL && *r->config_path != '\0') {
		if (*r->config_path != '/')
			ret = berth_error_invalid(err, "runtime options file `%s`: not an absolute path",
			                          r->config_path);
		else if (fs_read_file_at(AT_FDCWD, r->config_path, &text, &len, err) < 0)
			ret = berth_error_prefix(err, "runtime options file");
		else
			ret = options_parse_toml(r->config_path, text, len, o, err);
	} else if (r->config_body.len > 0) {
		ret = options_parse_toml("runtime options (config_body)", (const char *)r->config_body.data,
		                         r->config_body.len, o, err);
	}
	containerd__runc__v1__runtime_options__free_unpacked(r, NULL);
	return ret;
}

int options_parse(const Google__Protobuf__Any *any, struct shim_options *o, berth_error_t *err)
{
	*o = (struct shim_options){0};
	if (any == NULL || any->type_url == NULL || *any->type_url == '\0')
		return 0;
	if (type_is(any, "containerd.runc.v1.Options"))
		return from_runc(any, o, err);
	if (type_is(any, "runtimeoptions.v1.Options"))
		return from_runtimeoptions(any, o, err);
	return 0; /* another runtime's: the defaults */
}

int options_parse_bytes(const uint8_t *data, size_t len, struct shim_options *o, berth_error_t *err)
{
	Google__Protobuf__Any *any;
	int ret;

	*o = (struct shim_options){0};
	if (len == 0)
		return 0;
	any = google__protobuf__any__unpack(NULL, len, data);
	if (any == NULL)
		return berth_error_invalid(err, "options: not a protobuf Any");
	ret = options_parse(any, o, err);
	google__protobuf__any__free_unpacked(any, NULL);
	return ret;
}
