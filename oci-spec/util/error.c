#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Used when even the error cannot be allocated. */
static struct berth_error_s oom_error = {BERTH_ERR_NOMEM, ENOMEM, (char *)"out of memory"};

static int set_v(berth_error_t *err, int code, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static int set_v(berth_error_t *err, int code, int errnum, const char *fmt, va_list ap)
{
	char *msg = NULL;
	struct berth_error_s *e;

	if (err == NULL)
		return -1;
	if (*err != NULL)
		return -1; /* the first error wins: it is the cause */
	if (vasprintf(&msg, fmt, ap) < 0)
		goto oom;
	if (errnum != 0) {
		char *full = NULL;
		if (asprintf(&full, "%s: %s", msg, strerror(errnum)) < 0) {
			free(msg);
			goto oom;
		}
		free(msg);
		msg = full;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		free(msg);
		goto oom;
	}
	e->code = code;
	e->errnum = errnum;
	e->msg = msg;
	*err = e;
	return -1;
oom:
	*err = &oom_error;
	return -1;
}

int berth_error_set(berth_error_t *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_v(err, code, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int berth_error_sys(berth_error_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_v(err, errnum == ENOENT ? BERTH_ERR_NOT_FOUND : BERTH_ERR_SYSTEM, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int berth_error_invalid(berth_error_t *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_v(err, BERTH_ERR_INVALID, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int berth_error_prefix(berth_error_t *err, const char *fmt, ...)
{
	char *prefix = NULL, *msg = NULL;
	va_list ap;

	if (err == NULL || *err == NULL || *err == &oom_error)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&prefix, fmt, ap) < 0)
		prefix = NULL;
	va_end(ap);
	if (prefix == NULL)
		return -1;
	if (asprintf(&msg, "%s: %s", prefix, (*err)->msg) >= 0) {
		free((*err)->msg);
		(*err)->msg = msg;
	}
	free(prefix);
	return -1;
}

void berth_error_free(berth_error_t *err)
{
	if (err == NULL || *err == NULL)
		return;
	if (*err != &oom_error) {
		free((*err)->msg);
		free(*err);
	}
	*err = NULL;
}

void berth_error_move(berth_error_t *to, berth_error_t *from)
{
	if (to != NULL && *to == NULL) {
		*to = *from;
		*from = NULL;
		return;
	}
	berth_error_free(from);
}
