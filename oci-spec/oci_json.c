/* The generic parser, serialiser and freer behind the spec tables
 * (see oci_json.h). */
#include "config.h"
#include "oci_json.h"
#include "runtime_spec.h"
#include "util/cleanup.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object_iterator.h>

/* A member of type `type` at byte offset `off` of `base`. */
#define MEMBER(type, base, off)  ((type *)(void *)((char *)(base) + (off)))
#define CMEMBER(type, base, off) ((const type *)(const void *)((const char *)(base) + (off)))

struct oci_json_ctx {
	const char *origin;
	berth_error_t *err;
	size_t len;
	char path[1024]; /* the JSON path of the value being parsed, "" at the root */
};

/* ---- integers ---- */

struct int_kind {
	size_t width; /* bytes of the C value; 0: not an integer kind */
	bool is_signed;
	bool opt;         /* an oci_opt_* struct: `set` first, then the value */
	size_t value_off; /* of the value inside the oci_opt_* struct */
	int64_t min;
	uint64_t max;
	const char *expect;
};

static const struct int_kind int_kinds[OCI_JSON_FLAT + 1] = {
    [OCI_JSON_I64] = {8, true, false, 0, INT64_MIN, INT64_MAX, "expected an integer"},
    [OCI_JSON_U64] = {8, false, false, 0, 0, UINT64_MAX, "expected a non-negative integer"},
    [OCI_JSON_I32] = {4, true, false, 0, INT32_MIN, INT32_MAX, "expected a 32-bit integer"},
    [OCI_JSON_U32] = {4, false, false, 0, 0, UINT32_MAX, "expected an unsigned 32-bit integer"},
    [OCI_JSON_OPT_I64] = {8, true, true, offsetof(struct oci_opt_i64, value), INT64_MIN, INT64_MAX,
                          "expected an integer"},
    [OCI_JSON_OPT_U64] = {8, false, true, offsetof(struct oci_opt_u64, value), 0, UINT64_MAX,
                          "expected a non-negative integer"},
    [OCI_JSON_OPT_I32] = {4, true, true, offsetof(struct oci_opt_i32, value), INT32_MIN, INT32_MAX,
                          "expected a 32-bit integer"},
    [OCI_JSON_OPT_U32] = {4, false, true, offsetof(struct oci_opt_u32, value), 0, UINT32_MAX,
                          "expected an unsigned 32-bit integer"},
    [OCI_JSON_OPT_U16] = {2, false, true, offsetof(struct oci_opt_u16, value), 0, UINT16_MAX,
                          "expected an unsigned 16-bit integer"},
};

_Static_assert(sizeof(int) == 4, "OCI_JSON_I32 also serves int members");

/* Reads a JSON integer as sign and magnitude, so that both int64 and
 * uint64 values (json-c keeps those above INT64_MAX as uint64) stay exact. */
static int read_int(json_object *v, bool *neg, uint64_t *mag)
{
	int64_t s;

	if (!json_object_is_type(v, json_type_int))
		return -1;
	s = json_object_get_int64(v);
	*neg = s < 0;
	*mag = s < 0 ? (uint64_t)(-(s + 1)) + 1 : json_object_get_uint64(v);
	return 0;
}

static void store_int(const struct int_kind *ik, bool neg, uint64_t mag, void *dst)
{
	if (ik->is_signed) {
		int64_t s = neg ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
		int32_t s32 = (int32_t)s;
		memcpy(dst, ik->width == 8 ? (const void *)&s : (const void *)&s32, ik->width);
		return;
	}
	uint64_t u = mag;
	uint32_t u32 = (uint32_t)mag;
	uint16_t u16 = (uint16_t)mag;
	memcpy(dst,
	       ik->width == 8   ? (const void *)&u
	       : ik->width == 4 ? (const void *)&u32
	                        : (const void *)&u16,
	       ik->width);
}

static int64_t load_signed(const struct int_kind *ik, const void *src)
{
	int64_t s = 0;
	int32_t s32 = 0;

	if (ik->width == 8) {
		memcpy(&s, src, sizeof(s));
		return s;
	}
	memcpy(&s32, src, sizeof(s32));
	return s32;
}

static uint64_t load_unsigned(const struct int_kind *ik, const void *src)
{
	uint64_t u = 0;
	uint32_t u32 = 0;
	uint16_t u16 = 0;

	switch (ik->width) {
	case 8:
		memcpy(&u, src, sizeof(u));
		return u;
	case 4:
		memcpy(&u32, src, sizeof(u32));
		return u32;
	default:
		memcpy(&u16, src, sizeof(u16));
		return u16;
	}
}

/* ---- paths and errors ---- */

static int failv(struct oci_json_ctx *c, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static int failv(struct oci_json_ctx *c, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (c->len == 0)
		return berth_error_invalid(c->err, "%s: %s", c->origin, msg);
	return berth_error_invalid(c->err, "%s: %s: %s", c->origin, c->path, msg);
}

static int fail(struct oci_json_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct oci_json_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	failv(c, fmt, ap);
	va_end(ap);
	return -1;
}

static int oom(struct oci_json_ctx *c)
{
	return berth_error_sys(c->err, ENOMEM, "%s", c->origin);
}

static size_t push(struct oci_json_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends to the path; returns the length to pop back to. */
static size_t push(struct oci_json_ctx *c, const char *fmt, ...)
{
	size_t mark = c->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->path + c->len, sizeof(c->path) - c->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->len = c->len + (size_t)n < sizeof(c->path) ? c->len + (size_t)n : sizeof(c->path) - 1;
	return mark;
}

static void pop(struct oci_json_ctx *c, size_t mark)
{
	c->len = mark;
	c->path[mark] = '\0';
}

static bool is_identifier(const char *key)
{
	if (key[0] == '\0' || (key[0] >= '0' && key[0] <= '9'))
		return false;
	for (const char *p = key; *p != '\0'; p++) {
		bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
		if (!alnum && *p != '_')
			return false;
	}
	return true;
}

/* `.key`, or jq's `["key"]` for keys such as "org.opencontainers.foo". */
static size_t push_key(struct oci_json_ctx *c, const char *key)
{
	return is_identifier(key) ? push(c, ".%s", key) : push(c, "[\"%s\"]", key);
}

int oci_json_fail(struct oci_json_ctx *ctx, const char *key, const char *fmt, ...)
{
	size_t mark = ctx->len;
	va_list ap;

	if (key != NULL)
		push_key(ctx, key);
	va_start(ap, fmt);
	failv(ctx, fmt, ap);
	va_end(ap);
	pop(ctx, mark);
	return -1;
}

int oci_json_choice_find(const struct oci_json_choices *choices, const char *name)
{
	for (size_t i = 0; i < choices->count; i++)
		if (strcmp(choices->names[i], name) == 0)
			return (int)i;
	return -1;
}

static const char *choice_name(const struct oci_json_choices *choices, int value)
{
	if (value < 0 || (size_t)value >= choices->count)
		return NULL;
	return choices->names[value];
}

/* ---- parsing ---- */

static int parse_fields(struct oci_json_ctx *c, const struct oci_json_type *t, json_object *j, void *base);

/* Validates and copies a string; choices and flags may add constraints. */
static int dup_string(struct oci_json_ctx *c, unsigned flags, const struct oci_json_choices *choices,
                      json_object *v, char **out)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return fail(c, "expected a string");
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return fail(c, "expected a string without NUL bytes");
	if (choices != NULL && oci_json_choice_find(choices, s) < 0)
		return fail(c, "unknown %s \"%s\"", choices->what, s);
	if ((flags & OCI_JSON_ABSPATH) && s[0] != '/')
		return fail(c, "expected an absolute path");
	*out = strdup(s);
	return *out == NULL ? oom(c) : 0;
}

static int parse_int(struct oci_json_ctx *c, const struct int_kind *ik, unsigned flags, json_object *v,
                     void *dst)
{
	bool neg;
	uint64_t mag;

	if (read_int(v, &neg, &mag) < 0)
		return fail(c, "%s", ik->expect);
	if (neg ? !ik->is_signed || mag > (uint64_t)(-(ik->min + 1)) + 1 : mag > ik->max)
		return fail(c, "%s", ik->expect);
	if ((flags & OCI_JSON_POSITIVE) && (neg || mag == 0))
		return fail(c, "expected a positive integer");
	if (ik->opt) {
		*(bool *)dst = true;
		dst = (char *)dst + ik->value_off;
	}
	store_int(ik, neg, mag, dst);
	return 0;
}

static size_t elem_size(const struct oci_json_field *f)
{
	switch (f->kind) {
	case OCI_JSON_STRV:
		return sizeof(char *);
	case OCI_JSON_U32V:
		return sizeof(uint32_t);
	case OCI_JSON_KV:
		return sizeof(struct oci_kv);
	default:
		return f->type->size;
	}
}

/* Allocates n elements (plus a zeroed one: string arrays end with NULL)
 * and hangs them on the struct at once, so that an error half-way through
 * frees what was parsed. */
static char *new_array(struct oci_json_ctx *c, const struct oci_json_field *f, void *base, size_t n)
{
	char *arr = calloc(n + 1, elem_size(f));

	if (arr == NULL) {
		oom(c);
		return NULL;
	}
	*MEMBER(void *, base, f->off) = arr;
	*MEMBER(size_t, base, f->len_off) = n;
	return arr;
}

/* Parses one element of an array (key NULL) or one member of a map. */
typedef int (*elem_fn)(struct oci_json_ctx *c, const struct oci_json_field *f, const char *key,
                       json_object *v, void *elem);

static int strv_elem(struct oci_json_ctx *c, const struct oci_json_field *f, const char *key, json_object *v,
                     void *elem)
{
	return dup_string(c, f->flags, f->choices, v, elem);
}

static int u32v_elem(struct oci_json_ctx *c, const struct oci_json_field *f, const char *key, json_object *v,
                     void *elem)
{
	return parse_int(c, &int_kinds[OCI_JSON_U32], 0, v, elem);
}

static int obj_elem(struct oci_json_ctx *c, const struct oci_json_field *f, const char *key, json_object *v,
                    void *elem)
{
	return parse_fields(c, f->type, v, elem);
}

static int kv_elem(struct oci_json_ctx *c, const struct oci_json_field *f, const char *key, json_object *v,
                   void *elem)
{
	struct oci_kv *kv = elem;

	kv->key = strdup(key);
	if (kv->key == NULL)
		return oom(c);
	return dup_string(c, 0, NULL, v, &kv->value);
}

static int map_elem(struct oci_json_ctx *c, const struct oci_json_field *f, const char *key, json_object *v,
                    void *elem)
{
	const struct oci_json_choices *choices = f->type->key_choices;

	if (choices != NULL && oci_json_choice_find(choices, key) < 0)
		return fail(c, "unknown %s \"%s\"", choices->what, key);
	*MEMBER(char *, elem, f->type->key_off) = strdup(key);
	if (*MEMBER(char *, elem, f->type->key_off) == NULL)
		return oom(c);
	return parse_fields(c, f->type, v, elem);
}

/* The name an element carries in an OCI_JSON_UNIQUE member, or NULL. */
static const char *unique_name(const struct oci_json_field *f, const void *elem)
{
	if (f->kind == OCI_JSON_ENUM)
		return choice_name(f->choices, *CMEMBER(int, elem, f->off));
	return *CMEMBER(char *, elem, f->off);
}

static int check_unique(struct oci_json_ctx *c, const struct oci_json_field *af, const char *arr, size_t n)
{
	size_t size = af->type->size;

	for (const struct oci_json_field *f = af->type->fields; f->key != NULL; f++) {
		if (!(f->flags & OCI_JSON_UNIQUE))
			continue;
		for (size_t i = 1; i < n; i++) {
			const char *name = unique_name(f, arr + i * size);
			for (size_t j = 0; name != NULL && j < i; j++) {
				const char *other = unique_name(f, arr + j * size);
				if (other == NULL || strcmp(name, other) != 0)
					continue;
				push(c, "[%zu]", i);
				return oci_json_fail(c, f->key, "duplicate %s \"%s\"", f->choices->what,
				                     name);
			}
		}
	}
	return 0;
}

static int parse_array(struct oci_json_ctx *c, const struct oci_json_field *f, json_object *v, void *base,
                       elem_fn fn)
{
	bool strings = f->kind == OCI_JSON_STRV;
	size_t n, size = elem_size(f);
	char *arr;

	if (!json_object_is_type(v, json_type_array))
		return fail(c, "%s", strings ? "expected an array of strings" : "expected an array");
	n = json_object_array_length(v);
	for (size_t i = 0; strings && i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
			return fail(c, "expected an array of strings");
	if (n == 0 && (f->flags & OCI_JSON_NONEMPTY))
		return fail(c, "%s",
		            strings ? "expected a non-empty array of strings" : "expected a non-empty array");
	arr = new_array(c, f, base, n);
	if (arr == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t mark = push(c, "[%zu]", i);
		if (fn(c, f, NULL, json_object_array_get_idx(v, i), arr + i * size) < 0)
			return -1;
		pop(c, mark);
	}
	return f->kind == OCI_JSON_OBJ_ARRAY ? check_unique(c, f, arr, n) : 0;
}

/* Maps keep document order. */
static int parse_map(struct oci_json_ctx *c, const struct oci_json_field *f, json_object *v, void *base,
                     elem_fn fn)
{
	struct json_object_iterator it, end;
	size_t i = 0, size = elem_size(f);
	char *arr;

	if (!json_object_is_type(v, json_type_object))
		return fail(c, "expected an object");
	arr = new_array(c, f, base, (size_t)json_object_object_length(v));
	if (arr == NULL)
		return -1;
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it), i++) {
		const char *key = json_object_iter_peek_name(&it);
		size_t mark = push_key(c, key);
		if (fn(c, f, key, json_object_iter_peek_value(&it), arr + i * size) < 0)
			return -1;
		pop(c, mark);
	}
	return 0;
}

static int parse_value(struct oci_json_ctx *c, const struct oci_json_field *f, json_object *v, void *base)
{
	void *dst = (char *)base + f->off;

	switch (f->kind) {
	case OCI_JSON_STR:
		return dup_string(c, f->flags, f->choices, v, dst);
	case OCI_JSON_BOOL:
	case OCI_JSON_OPT_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return fail(c, "expected a boolean");
		if (f->kind == OCI_JSON_OPT_BOOL) {
			MEMBER(struct oci_opt_bool, dst, 0)->set = true;
			MEMBER(struct oci_opt_bool, dst, 0)->value = json_object_get_boolean(v);
		} else {
			*MEMBER(bool, dst, 0) = json_object_get_boolean(v);
		}
		return 0;
	case OCI_JSON_ENUM: {
		int idx;
		if (!json_object_is_type(v, json_type_string))
			return fail(c, "expected a string");
		idx = oci_json_choice_find(f->choices, json_object_get_string(v));
		if (idx < 0)
			return fail(c, "unknown %s \"%s\"", f->choices->what, json_object_get_string(v));
		*MEMBER(int, dst, 0) = idx;
		return 0;
	}
	case OCI_JSON_STRV:
		return parse_array(c, f, v, base, strv_elem);
	case OCI_JSON_U32V:
		return parse_array(c, f, v, base, u32v_elem);
	case OCI_JSON_OBJ_ARRAY:
		return parse_array(c, f, v, base, obj_elem);
	case OCI_JSON_KV:
		return parse_map(c, f, v, base, kv_elem);
	case OCI_JSON_OBJ_MAP:
		return parse_map(c, f, v, base, map_elem);
	case OCI_JSON_OBJ:
		return parse_fields(c, f->type, v, dst);
	case OCI_JSON_FLAT:
		return parse_fields(c, f->type, v, base);
	case OCI_JSON_OBJ_PTR: {
		void *p = calloc(1, f->type->size);
		if (p == NULL)
			return oom(c);
		*MEMBER(void *, dst, 0) = p;
		return parse_fields(c, f->type, v, p);
	}
	default:
		return parse_int(c, &int_kinds[f->kind], f->flags, v, dst);
	}
}

static int parse_fields(struct oci_json_ctx *c, const struct oci_json_type *t, json_object *j, void *base)
{
	if (!json_object_is_type(j, json_type_object))
		return fail(c, "expected an object");
	for (const struct oci_json_field *f = t->fields; f->key != NULL; f++) {
		json_object *v = NULL;
		size_t mark;

		/* JSON null counts as absent. */
		if (!json_object_object_get_ex(j, f->key, &v) || v == NULL) {
			if (f->flags & OCI_JSON_REQUIRED)
				return oci_json_fail(c, f->key, "required");
			continue;
		}
		mark = push_key(c, f->key);
		if (parse_value(c, f, v, base) < 0)
			return -1;
		pop(c, mark);
		if (f->has_off != 0)
			*MEMBER(bool, base, f->has_off - 1) = true;
	}
	if (t->check != NULL && t->check(base, j, c) < 0)
		return -1;
	return 0;
}

static void position(const char *text, size_t off, size_t *line, size_t *col)
{
	size_t line_start = 0;

	*line = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			line_start = i + 1;
		}
	}
	*col = off - line_start + 1;
}

static int syntax_error(const char *text, size_t off, const char *origin, const char *why, berth_error_t *err)
{
	size_t line, col;

	position(text, off, &line, &col);
	return berth_error_invalid(err, "%s: invalid JSON: %s at line %zu, column %zu", origin, why, line,
	                           col);
}

/* Whether the integer literal of `n` digits at p (after any '-') is beyond
 * int64 (negative) or uint64 (positive). */
static bool integer_overflows(const char *p, size_t n, bool negative)
{
	const char *max = negative ? "9223372036854775808" : "18446744073709551615";
	size_t max_len = strlen(max);

	while (n > 1 && *p == '0') {
		p++;
		n--;
	}
	return n > max_len || (n == max_len && strncmp(p, max, n) > 0);
}

/* Finds the next integer literal from *pos that overflows; returns the
 * offset just after it, or 0 when there is none. */
static size_t next_overflow(const char *text, size_t len, size_t *pos)
{
	size_t i = *pos;

	while (i < len) {
		bool negative = text[i] == '-';
		size_t start = i + (negative ? 1 : 0), j = start;
		bool overflows;

		if (text[i] == '"') {
			for (i++; i < len && text[i] != '"'; i++)
				if (text[i] == '\\')
					i++;
			i++;
			continue;
		}
		if (j >= len || text[j] < '0' || text[j] > '9') {
			i++;
			continue;
		}
		while (j < len && text[j] >= '0' && text[j] <= '9')
			j++;
		overflows = (j >= len || (text[j] != '.' && text[j] != 'e' && text[j] != 'E')) &&
		            integer_overflows(text + start, j - start, negative);
		i = j;
		while (i < len && strchr("0123456789.eE+-", text[i]) != NULL)
			i++;
		if (overflows) {
			*pos = i;
			return j;
		}
	}
	*pos = len;
	return 0;
}

/* json-c saturates integer literals beyond int64/uint64 (to INT64_MIN or
 * UINT64_MAX) instead of failing.  Such literals get a ".0" so that json-c
 * reads them as doubles, which the integer kinds reject with the JSON path.
 * Returns NULL when no literal overflows (or, with *no_mem set, on ENOMEM). */
static char *widen_overflowing_integers(const char *text, size_t len, size_t *out_len, bool *no_mem)
{
	size_t count = 0, pos = 0, from = 0, end;
	char *res, *w;

	while (next_overflow(text, len, &pos) != 0)
		count++;
	if (count == 0)
		return NULL;
	res = malloc(len + 2 * count + 1);
	if (res == NULL) {
		*no_mem = true;
		return NULL;
	}
	w = res;
	pos = 0;
	while ((end = next_overflow(text, len, &pos)) != 0) {
		memcpy(w, text + from, end - from);
		w += end - from;
		memcpy(w, ".0", 2);
		w += 2;
		from = end;
	}
	memcpy(w, text + from, len - from);
	w += len - from;
	*w = '\0';
	*out_len = (size_t)(w - res);
	return res;
}

int oci_json_parse_text(const char *text, size_t len, const char *origin, json_object **out,
                        berth_error_t *err)
{
	struct json_tokener *tok;
	json_object *obj;
	enum json_tokener_error jerr;
	size_t end;
	bool no_mem = false;
	cleanup_free char *widened = widen_overflowing_integers(text, len, &len, &no_mem);

	if (no_mem)
		return berth_error_sys(err, ENOMEM, "%s", origin);
	if (widened != NULL)
		text = widened;
	if (len > INT_MAX)
		return berth_error_invalid(err, "%s: document too large", origin);
	tok = json_tokener_new();
	if (tok == NULL)
		return berth_error_sys(err, ENOMEM, "%s", origin);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (obj == NULL && jerr == json_tokener_continue)
		return syntax_error(text, len, origin, "unexpected end of input", err);
	if (obj == NULL)
		return syntax_error(text, end, origin, json_tokener_error_desc(jerr), err);
	while (end < len && (text[end] == ' ' || text[end] == '\t' || text[end] == '\n' || text[end] == '\r'))
		end++;
	if (end < len) {
		json_object_put(obj);
		return syntax_error(text, end, origin, "trailing data after the JSON value", err);
	}
	*out = obj;
	return 0;
}

int oci_json_parse_object(const struct oci_json_type *type, json_object *json, const char *origin, void *obj,
                          berth_error_t *err)
{
	struct oci_json_ctx c = {.origin = origin, .err = err};

	if (!json_object_is_type(json, json_type_object))
		return berth_error_invalid(err, "%s: expected a JSON object", origin);
	return parse_fields(&c, type, json, obj);
}

void *oci_json_parse(const struct oci_json_type *type, const char *text, size_t len, const char *origin,
                     berth_error_t *err)
{
	cleanup_json json_object *json = NULL;
	void *obj;

	if (oci_json_parse_text(text, len, origin, &json, err) < 0)
		return NULL;
	obj = calloc(1, type->size);
	if (obj == NULL) {
		berth_error_sys(err, ENOMEM, "%s", origin);
		return NULL;
	}
	if (oci_json_parse_object(type, json, origin, obj, err) < 0) {
		oci_json_free(type, obj);
		return NULL;
	}
	return obj;
}

/* ---- serialising ---- */

static int serial_oom(berth_error_t *err)
{
	return berth_error_sys(err, ENOMEM, "serialise JSON");
}

static int null_member(const struct oci_json_field *f, berth_error_t *err)
{
	return berth_error_invalid(err, "serialise JSON: %s: NULL string in an array or map", f->key);
}

static int fields_to_json(const struct oci_json_type *t, const void *base, json_object *out,
                          berth_error_t *err);

/* An object for a struct; with keep_empty false an empty object is dropped. */
static int obj_to_json(const struct oci_json_type *t, const void *base, bool keep_empty, json_object **out,
                       berth_error_t *err)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return serial_oom(err);
	if (fields_to_json(t, base, o, err) < 0) {
		json_object_put(o);
		return -1;
	}
	if (!keep_empty && json_object_object_length(o) == 0) {
		json_object_put(o);
		return 0;
	}
	*out = o;
	return 0;
}

/* One element of an array or map: sets *key for maps. */
static int elem_to_json(const struct oci_json_field *f, const char *elem, const char **key, json_object **out,
                        berth_error_t *err)
{
	const char *s = NULL;

	switch (f->kind) {
	case OCI_JSON_STRV:
		s = *CMEMBER(char *, elem, 0);
		break;
	case OCI_JSON_U32V:
		*out = json_object_new_int64(*CMEMBER(uint32_t, elem, 0));
		return *out == NULL ? serial_oom(err) : 0;
	case OCI_JSON_KV:
		*key = CMEMBER(struct oci_kv, elem, 0)->key;
		s = CMEMBER(struct oci_kv, elem, 0)->value;
		break;
	case OCI_JSON_OBJ_MAP:
		*key = *CMEMBER(char *, elem, f->type->key_off);
		if (*key == NULL)
			return null_member(f, err);
		return obj_to_json(f->type, elem, true, out, err);
	default:
		return obj_to_json(f->type, elem, true, out, err);
	}
	if (s == NULL || (f->kind == OCI_JSON_KV && *key == NULL))
		return null_member(f, err);
	*out = json_object_new_string(s);
	return *out == NULL ? serial_oom(err) : 0;
}

static int array_to_json(const struct oci_json_field *f, const void *base, json_object **out,
                         berth_error_t *err)
{
	const char *arr = *CMEMBER(char *, base, f->off);
	size_t n = *CMEMBER(size_t, base, f->len_off), size = elem_size(f);
	bool is_map = f->kind == OCI_JSON_KV || f->kind == OCI_JSON_OBJ_MAP;
	json_object *res = is_map ? json_object_new_object() : json_object_new_array();

	if (res == NULL)
		return serial_oom(err);
	for (size_t i = 0; i < n; i++) {
		const char *key = NULL;
		json_object *v = NULL;
		int r;

		if (elem_to_json(f, arr + i * size, &key, &v, err) < 0) {
			json_object_put(res);
			return -1;
		}
		r = is_map ? json_object_object_add(res, key, v) : json_object_array_add(res, v);
		if (r < 0) {
			json_object_put(v);
			json_object_put(res);
			return serial_oom(err);
		}
	}
	*out = res;
	return 0;
}

static int int_to_json(const struct int_kind *ik, unsigned flags, const void *src, json_object **out,
                       berth_error_t *err)
{
	if (ik->opt) {
		if (!*CMEMBER(bool, src, 0))
			return 0;
		src = (const char *)src + ik->value_off;
	}
	if (ik->is_signed) {
		int64_t s = load_signed(ik, src);
		if (s == 0 && (flags & OCI_JSON_OMITZERO))
			return 0;
		*out = json_object_new_int64(s);
	} else {
		uint64_t u = load_unsigned(ik, src);
		if (u == 0 && (flags & OCI_JSON_OMITZERO))
			return 0;
		*out = json_object_new_uint64(u);
	}
	return *out == NULL ? serial_oom(err) : 0;
}

/* Sets *out to the member's JSON value, or leaves it NULL to omit the key. */
static int value_to_json(const struct oci_json_field *f, const void *base, json_object **out,
                         berth_error_t *err)
{
	const void *src = (const char *)base + f->off;

	if (f->has_off != 0 && !*CMEMBER(bool, base, f->has_off - 1))
		return 0;
	switch (f->kind) {
	case OCI_JSON_STR:
		if (*CMEMBER(char *, src, 0) == NULL)
			return 0;
		*out = json_object_new_string(*CMEMBER(char *, src, 0));
		break;
	case OCI_JSON_BOOL:
		if (!*CMEMBER(bool, src, 0) && !(f->flags & OCI_JSON_REQUIRED))
			return 0;
		*out = json_object_new_boolean(*CMEMBER(bool, src, 0));
		break;
	case OCI_JSON_OPT_BOOL:
		if (!CMEMBER(struct oci_opt_bool, src, 0)->set)
			return 0;
		*out = json_object_new_boolean(CMEMBER(struct oci_opt_bool, src, 0)->value);
		break;
	case OCI_JSON_ENUM: {
		const char *name = choice_name(f->choices, *CMEMBER(int, src, 0));
		if (name == NULL)
			return berth_error_invalid(err, "serialise JSON: %s: invalid %s %d", f->key,
			                           f->choices->what, *CMEMBER(int, src, 0));
		*out = json_object_new_string(name);
		break;
	}
	case OCI_JSON_STRV:
	case OCI_JSON_U32V:
	case OCI_JSON_KV:
	case OCI_JSON_OBJ_ARRAY:
	case OCI_JSON_OBJ_MAP:
		if (*CMEMBER(void *, src, 0) == NULL)
			return 0;
		return array_to_json(f, base, out, err);
	case OCI_JSON_OBJ:
		return obj_to_json(f->type, src, true, out, err);
	case OCI_JSON_FLAT:
		return obj_to_json(f->type, base, f->has_off != 0, out, err);
	case OCI_JSON_OBJ_PTR:
		if (*CMEMBER(void *, src, 0) == NULL)
			return 0;
		return obj_to_json(f->type, *CMEMBER(void *, src, 0), true, out, err);
	default:
		return int_to_json(&int_kinds[f->kind], f->flags, src, out, err);
	}
	return *out == NULL ? serial_oom(err) : 0;
}

static int fields_to_json(const struct oci_json_type *t, const void *base, json_object *out,
                          berth_error_t *err)
{
	for (const struct oci_json_field *f = t->fields; f->key != NULL; f++) {
		json_object *v = NULL;

		if (value_to_json(f, base, &v, err) < 0)
			return -1;
		if (v != NULL && json_object_object_add(out, f->key, v) < 0) {
			json_object_put(v);
			return serial_oom(err);
		}
	}
	return 0;
}

json_object *oci_json_to_object(const struct oci_json_type *type, const void *obj, berth_error_t *err)
{
	json_object *out = NULL;

	if (obj_to_json(type, obj, true, &out, err) < 0)
		return NULL;
	return out;
}

char *oci_json_to_string(const struct oci_json_type *type, const void *obj, bool pretty, berth_error_t *err)
{
	cleanup_json json_object *json = oci_json_to_object(type, obj, err);
	/* Pretty output is laid out as runc lays out `runc spec`: tabs, a space after colons. */
	int flags = (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB | JSON_C_TO_STRING_SPACED
	                    : JSON_C_TO_STRING_PLAIN) |
	            JSON_C_TO_STRING_NOSLASHESCAPE;
	const char *text;
	char *copy;

	if (json == NULL)
		return NULL;
	text = json_object_to_json_string_ext(json, flags);
	copy = text != NULL ? strdup(text) : NULL;
	if (copy == NULL)
		serial_oom(err);
	return copy;
}

/* ---- freeing ---- */

static void free_array(const struct oci_json_field *f, void *base)
{
	char *arr = *MEMBER(char *, base, f->off);
	size_t n = *MEMBER(size_t, base, f->len_off), size = elem_size(f);

	for (size_t i = 0; arr != NULL && i < n; i++) {
		void *elem = arr + i * size;
		switch (f->kind) {
		case OCI_JSON_STRV:
			free(*MEMBER(char *, elem, 0));
			break;
		case OCI_JSON_KV:
			free(MEMBER(struct oci_kv, elem, 0)->key);
			free(MEMBER(struct oci_kv, elem, 0)->value);
			break;
		case OCI_JSON_OBJ_ARRAY:
		case OCI_JSON_OBJ_MAP:
			oci_json_free_members(f->type, elem);
			break;
		default:
			break;
		}
	}
	free(arr);
}

void oci_json_free_members(const struct oci_json_type *type, void *obj)
{
	if (obj == NULL)
		return;
	if (type->has_key)
		free(*MEMBER(char *, obj, type->key_off));
	for (const struct oci_json_field *f = type->fields; f->key != NULL; f++) {
		void *p = (char *)obj + f->off;
		switch (f->kind) {
		case OCI_JSON_STR:
			free(*MEMBER(char *, p, 0));
			break;
		case OCI_JSON_STRV:
		case OCI_JSON_U32V:
		case OCI_JSON_KV:
		case OCI_JSON_OBJ_ARRAY:
		case OCI_JSON_OBJ_MAP:
			free_array(f, obj);
			break;
		case OCI_JSON_OBJ:
			oci_json_free_members(f->type, p);
			break;
		case OCI_JSON_FLAT:
			oci_json_free_members(f->type, obj);
			break;
		case OCI_JSON_OBJ_PTR:
			oci_json_free(f->type, *MEMBER(void *, p, 0));
			break;
		default:
			break;
		}
	}
}

void oci_json_free(const struct oci_json_type *type, void *obj)
{
	oci_json_free_members(type, obj);
	free(obj);
}
