/* Fuzz target: .dockerignore patterns (builder/dockerignore.c): compile
 * and match.
 *
 * Input: the file's content, then (after the first NUL byte) the paths to
 * match, one a line.
 *
 * Any input: no crash, no leak, no undefined behaviour, no runaway time; a
 * rejected file or pattern sets an error.  Every rule has a pattern and a line,
 * path cleaning is idempotent, the context root is never excluded,
 * and a path matches as its cleaned form does. */
#include "fuzz.h"

#include "../../builder/dockerignore.h"

#define MAX_PATHS 16

static void check_path(const struct dockerignore *di, const char *path)
{
	berth_error_t err = NULL;
	char *clean = dockerignore_clean(path), *again;
	int m, mc;

	fuzz_require(clean != NULL, "dockerignore_clean returned NULL");
	again = dockerignore_clean(clean);
	fuzz_require(again != NULL && strcmp(clean, again) == 0, "cleaning `%s` twice: `%s` then `%s`", path,
	             clean, again);
	free(again);
	m = dockerignore_matches(di, path, &err);
	if (m < 0) {
		fuzz_check_error(&err, "dockerignore_matches");
	} else {
		fuzz_require(m == 0 || m == 1, "dockerignore_matches returned %d", m);
		if (strcmp(clean, ".") == 0)
			fuzz_require(m == 0, "the context root `%s` is excluded", path);
		mc = dockerignore_matches(di, clean, &err);
		fuzz_require(mc == m, "`%s` matches %d but its clean form `%s` %d", path, m, clean, mc);
	}
	free(clean);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t flen = nul != NULL ? (size_t)(nul - data) : size;
	char *src = malloc(flen > 0 ? flen : 1); /* unterminated: reads past it are seen */
	struct dockerignore di;
	berth_error_t err = NULL;

	if (src == NULL)
		return 0;
	memcpy(src, data, flen);
	memset(&di, 0, sizeof(di));
	if (dockerignore_parse(&di, src, flen, &err) < 0) {
		fuzz_check_error(&err, "dockerignore_parse");
		dockerignore_free(&di);
		free(src);
		return 0;
	}
	for (size_t i = 0; i < di.n; i++) {
		const char *pat = di.rules[i].pattern;
		fuzz_require(pat != NULL, "rule %zu without a pattern", i);
		fuzz_require(di.rules[i].line >= 1, "rule %zu: line %d", i, di.rules[i].line);
		if (di.rules[i].exclusion)
			fuzz_require(di.has_exceptions, "an exception but has_exceptions is false");
	}
	if (nul != NULL) {
		const char *p = (const char *)nul + 1, *end = (const char *)data + size;
		for (int n = 0; n < MAX_PATHS && p < end; n++) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
			char *path = strndup(p, len);
			if (path == NULL)
				break;
			check_path(&di, path);
			free(path);
			p += len + 1;
		}
	}
	dockerignore_free(&di);
	free(src);
	return 0;
}
