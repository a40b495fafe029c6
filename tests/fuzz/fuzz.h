/* Shared by the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Each target defines LLVMFuzzerTestOneInput (and maybe
 * LLVMFuzzerInitialize).  It is linked either with libFuzzer (configure
 * --enable-fuzzing CC=clang: tests/fuzz/fuzz-<name>) or with replay_main.c
 * (every build: tests/fuzz/replay-<name>, a TAP test that runs the seed
 * corpus and the regression inputs once each).
 *
 * A property that does not hold is reported with fuzz_fail(), which prints
 * what broke and aborts: libFuzzer saves the input as a crash.
 */
#ifndef BERTH_TESTS_FUZZ_H
#define BERTH_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define fuzz_fail(...)                                                                                       \
	do {                                                                                                 \
		fprintf(stderr, "fuzz: property failed at %s:%d: ", __FILE__, __LINE__);                     \
		fprintf(stderr, __VA_ARGS__);                                                                \
		fprintf(stderr, "\n");                                                                       \
		abort();                                                                                     \
	} while (0)

#define fuzz_require(cond, ...)                                                                              \
	do {                                                                                                 \
		if (!(cond))                                                                                 \
			fuzz_fail(__VA_ARGS__);                                                              \
	} while (0)

static inline const char *fuzz_msg(berth_error_t err)
{
	return err != NULL && err->msg != NULL ? err->msg : "(no error set)";
}

/* A failed call must have set the error, with a message, exactly once.
 * FUZZ_VERBOSE=1 in the environment prints it (why a seed is rejected). */
static inline void fuzz_check_error(berth_error_t *err, const char *what)
{
	fuzz_require(*err != NULL, "%s failed without setting an error", what);
	fuzz_require((*err)->msg != NULL && (*err)->msg[0] != '\0', "%s failed with an empty message", what);
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "fuzz: %s: %s\n", what, (*err)->msg);
	berth_error_free(err);
}

/* Defines `static void name(const uint8_t *data, size_t size)`, which parses
 * data as a JSON document of `type` and, when that succeeds, checks the round
 * trip: the document serialises (compact and pretty), both serialisations
 * parse again, and the re-parsed documents serialise to the same text.  On
 * failure it checks that *out is NULL and the error is set. */
#define FUZZ_JSON_ROUND_TRIP(name, type, parse, to_json, free_fn)                                            \
	static void name(const uint8_t *data, size_t size)                                                   \
	{                                                                                                    \
		type *a = NULL, *b = NULL, *c = NULL;                                                        \
		berth_error_t err = NULL;                                                                    \
		char *j1, *jp, *j2, *j3;                                                                     \
                                                                                                             \
		if (parse((const char *)data, size, "fuzz", &a, &err) < 0) {                                 \
			fuzz_require(a == NULL, #parse " failed but returned a document");                   \
			fuzz_check_error(&err, #parse);                                                      \
			return;                                                                              \
		}                                                                                            \
		fuzz_require(a != NULL && err == NULL, #parse " succeeded with no document or an error");    \
		j1 = to_json(a, false, &err);                                                                \
		fuzz_require(j1 != NULL, #to_json " of a parsed document: %s", fuzz_msg(err));               \
		jp = to_json(a, true, &err);                                                                 \
		fuzz_require(jp != NULL, #to_json " (pretty) of a parsed document: %s", fuzz_msg(err));      \
		if (parse(j1, strlen(j1), "round trip", &b, &err) < 0)                                       \
			fuzz_fail(#parse " rejects what " #to_json " wrote: %s\n%s", fuzz_msg(err), j1);     \
		if (parse(jp, strlen(jp), "round trip", &c, &err) < 0)                                       \
			fuzz_fail(#parse " rejects the pretty output: %s\n%s", fuzz_msg(err), jp);           \
		j2 = to_json(b, false, &err);                                                                \
		fuzz_require(j2 != NULL, #to_json " after a round trip: %s", fuzz_msg(err));                 \
		j3 = to_json(c, false, &err);                                                                \
		fuzz_require(j3 != NULL, #to_json " after a pretty round trip: %s", fuzz_msg(err));          \
		if (strcmp(j1, j2) != 0)                                                                     \
			fuzz_fail("round trip changed the document:\n%s\n%s", j1, j2);                       \
		if (strcmp(j1, j3) != 0)                                                                     \
			fuzz_fail("pretty round trip changed the document:\n%s\n%s", j1, j3);                \
		free(j1);                                                                                    \
		free(jp);                                                                                    \
		free(j2);                                                                                    \
		free(j3);                                                                                    \
		free_fn(a);                                                                                  \
		free_fn(b);                                                                                  \
		free_fn(c);                                                                                  \
	}

/* ---- scratch directories (archive and layer targets) ---- */

/* snprintf into a char array, failing when it does not fit. */
#define fuzz_path(buf, ...)                                                                                  \
	do {                                                                                                 \
		int n_ = snprintf(buf, sizeof(buf), __VA_ARGS__);                                            \
		fuzz_require(n_ >= 0 && (size_t)n_ < sizeof(buf), "path too long: %s", buf);                 \
	} while (0)

/* Makes a private directory under $TMPDIR (or /tmp) once per process and
 * removes it at exit; returns its path. */
const char *fuzz_scratch_dir(void);
/* Removes path and everything under it (not following symlinks, opening
 * up directories a layer left without permissions); 0 or -1. */
int fuzz_remove_tree(const char *path);
/* An anonymous in-memory file holding data, positioned at 0; -1 on error. */
int fuzz_memfd(const uint8_t *data, size_t size);

#endif
