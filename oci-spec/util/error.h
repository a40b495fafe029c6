/* The one error type of Berth's libraries.
 *
 * A fallible function takes `berth_error_t *err` last, returns < 0 (or NULL)
 * on failure and sets *err exactly once.  Callers crossing a module boundary
 * add context with berth_error_prefix(), so the user reads a chain such as
 * "create container `abc`: mount `/proc`: Operation not permitted".
 */
#ifndef BERTH_UTIL_ERROR_H
#define BERTH_UTIL_ERROR_H

#include <stdarg.h>

enum berth_error_code {
	BERTH_ERR_SYSTEM = 1,  /* a syscall failed; errnum says which way */
	BERTH_ERR_INVALID,     /* bad input: config.json, arguments, ... */
	BERTH_ERR_NOT_FOUND,   /* no such container, file, ... */
	BERTH_ERR_EXISTS,      /* the container id is taken, ... */
	BERTH_ERR_STATE,       /* the container is in the wrong state */
	BERTH_ERR_NOMEM,       /* out of memory */
	BERTH_ERR_UNSUPPORTED, /* the machine or the build lacks a feature */
};

struct berth_error_s {
	int code;
	int errnum; /* errno, or 0 */
	char *msg;
};
typedef struct berth_error_s *berth_error_t;

/* Sets *err (if err is not NULL) and returns -1.  When errnum is not 0,
 * ": strerror(errnum)" is appended to the message. */
int berth_error_set(berth_error_t *err, int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Shorthands: a failed syscall (code SYSTEM with errno) and bad input. */
int berth_error_sys(berth_error_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int berth_error_invalid(berth_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Puts "<prefix>: " in front of the message of an error already set; returns -1. */
int berth_error_prefix(berth_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void berth_error_free(berth_error_t *err);
/* Moves *from into *to when *to is not yet set; frees it otherwise. */
void berth_error_move(berth_error_t *to, berth_error_t *from);

#endif
