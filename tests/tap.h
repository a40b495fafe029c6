/* A minimal TAP producer for the unit tests (automake's tap-driver reads it). */
#ifndef BERTH_TESTS_TAP_H
#define BERTH_TESTS_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

#define ok(cond, ...)                                                                                        \
	do {                                                                                                 \
		int ok_ = (cond) ? 1 : 0;                                                                    \
		printf("%sok %d - ", ok_ ? "" : "not ", ++tap_count);                                        \
		printf(__VA_ARGS__);                                                                         \
		printf("\n");                                                                                \
		if (!ok_) {                                                                                  \
			tap_failed++;                                                                        \
			printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);                      \
		}                                                                                            \
	} while (0)

#define is_str(got, want, ...)                                                                               \
	do {                                                                                                 \
		const char *g_ = (got), *w_ = (want);                                                        \
		int same_ = (g_ == NULL && w_ == NULL) || (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0); \
		ok(same_, __VA_ARGS__);                                                                      \
		if (!same_)                                                                                  \
			printf("#   got:  '%s'\n#   want: '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)");  \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed == 0 ? 0 : 1;
}

#endif
