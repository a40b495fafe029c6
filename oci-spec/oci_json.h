/* Table-driven mapping between JSON documents and C structs.
 *
 * A struct is described once, by a `struct oci_json_type`: its size and a
 * table of fields, each with its JSON key, its kind, the offsets of its
 * members and, for nested values, the type of what it holds.  One generic
 * parser, serialiser and freer walk these tables, so a new spec struct costs
 * a table, not three functions.
 *
 * Parsing validates types, integer ranges, required keys and enumerations
 * and names the JSON path of a bad value:
 *
 *   config.json: .linux.namespaces[2].type: unknown namespace type "foo"
 *
 * Unknown keys are ignored and JSON null counts as absent.  Validation the
 * flags cannot express goes into a type's `check` hook, which runs after the
 * type's fields were parsed.
 */
#ifndef BERTH_OCI_JSON_H
#define BERTH_OCI_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "util/error.h"

enum oci_json_kind {
	OCI_JSON_STR,       /* char *, NULL when absent */
	OCI_JSON_BOOL,      /* bool; written when true (or OCI_JSON_REQUIRED) */
	OCI_JSON_OPT_BOOL,  /* struct oci_opt_bool */
	OCI_JSON_I64,       /* int64_t */
	OCI_JSON_U64,       /* uint64_t */
	OCI_JSON_I32,       /* int32_t (or int) */
	OCI_JSON_U32,       /* uint32_t */
	OCI_JSON_OPT_I64,   /* struct oci_opt_i64 */
	OCI_JSON_OPT_U64,   /* struct oci_opt_u64 */
	OCI_JSON_OPT_I32,   /* struct oci_opt_i32 */
	OCI_JSON_OPT_U32,   /* struct oci_opt_u32 */
	OCI_JSON_OPT_U16,   /* struct oci_opt_u16 */
	OCI_JSON_ENUM,      /* an int-sized enum named by .choices (names indexed by value) */
	OCI_JSON_STRV,      /* char ** (NULL-terminated) + size_t at len_off */
	OCI_JSON_U32V,      /* uint32_t * + size_t at len_off */
	OCI_JSON_KV,        /* struct oci_kv * + size_t at len_off: an object of strings */
	OCI_JSON_OBJ,       /* an embedded struct of .type */
	OCI_JSON_OBJ_PTR,   /* a pointer to a struct of .type, NULL when absent */
	OCI_JSON_OBJ_ARRAY, /* an array of structs of .type + size_t at len_off */
	OCI_JSON_OBJ_MAP,   /* an object of .type values, stored like OBJ_ARRAY; keys go to .type->key_off */
	OCI_JSON_FLAT,      /* a nested object whose members live in the enclosing struct */
};

enum {
	OCI_JSON_REQUIRED = 1 << 0, /* absent or null is an error */
	OCI_JSON_NONEMPTY = 1 << 1, /* STRV: at least one element */
	OCI_JSON_ABSPATH = 1 << 2,  /* STR: must be an absolute path */
	OCI_JSON_POSITIVE = 1 << 3, /* integers: > 0 */
	OCI_JSON_UNIQUE = 1 << 4,   /* STR or ENUM in an array element: no two elements share it */
	OCI_JSON_OMITZERO = 1 << 5, /* plain integers: not written when 0 */
};

/* An enumeration of strings; `what` names it in errors ("unknown <what> \"x\""). */
struct oci_json_choices {
	const char *what;
	const char *const *names;
	size_t count;
};

struct oci_json_ctx;
struct oci_json_type;

struct oci_json_field {
	const char *key; /* NULL ends a table */
	enum oci_json_kind kind;
	unsigned flags;
	size_t off;     /* of the member */
	size_t len_off; /* of the element count, for arrays and maps */
	size_t has_off; /* 1 + offset of a bool set when the key is present; 0: none */
	const struct oci_json_type *type;
	const struct oci_json_choices *choices; /* STR, STRV elements, ENUM */
};

struct oci_json_type {
	size_t size; /* 0 for FLAT tables */
	const struct oci_json_field *fields;
	/* OBJ_MAP values: the char * member that receives the key, and the keys allowed (NULL: any). */
	bool has_key;
	size_t key_off;
	const struct oci_json_choices *key_choices;
	/* Extra validation after the fields of one object were parsed. */
	int (*check)(const void *obj, json_object *json, struct oci_json_ctx *ctx);
};

/* Parses JSON text; errors read "<origin>: invalid JSON: <why> at line L, column C". */
int oci_json_parse_text(const char *text, size_t len, const char *origin, json_object **out,
                        berth_error_t *err);
/* Parses and validates a document into a new struct of `type`; NULL on error. */
void *oci_json_parse(const struct oci_json_type *type, const char *text, size_t len, const char *origin,
                     berth_error_t *err);
/* Parses an already parsed object into *obj (zeroed by the caller); on error *obj may be half filled
 * and must be freed with oci_json_free_members(). */
int oci_json_parse_object(const struct oci_json_type *type, json_object *json, const char *origin, void *obj,
                          berth_error_t *err);
/* Serialises; only set optional members are written. */
json_object *oci_json_to_object(const struct oci_json_type *type, const void *obj, berth_error_t *err);
char *oci_json_to_string(const struct oci_json_type *type, const void *obj, bool pretty, berth_error_t *err);
/* Frees what the members own, then (oci_json_free) the struct itself.  Both accept NULL. */
void oci_json_free_members(const struct oci_json_type *type, void *obj);
void oci_json_free(const struct oci_json_type *type, void *obj);

/* For check hooks: fails with "<origin>: <path>[.key]: <message>". */
int oci_json_fail(struct oci_json_ctx *ctx, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The index of `name` in `choices`, or -1. */
int oci_json_choice_find(const struct oci_json_choices *choices, const char *name);

static inline void oci_json_putp(json_object **j)
{
	if (*j != NULL)
		json_object_put(*j);
}
#define cleanup_json __attribute__((cleanup(oci_json_putp)))

#endif
