/* Fuzz target: word expansion and glob patterns (builder/expand.c).
 *
 * Input: one byte of options, then NUL-separated fields:
 *
 *   options  bit 0: backtick escape; 1: raw_quotes; 2: raw_escapes;
 *            3: skip_unset; 4: skip_quotes
 *   WORD     expanded (expand_word, expand_words) and used as a glob pattern
 *   SUBJECT  matched against WORD (expand_glob_match)
 *   K=V...   variables (besides a fixed few), each its own field
 *
 * Any input: no crash, no leak, no undefined behaviour, no runaway time
 * (patterns are matched in every ${VAR#...} too); a failure sets an error.
 * A word without `$`, quotes or the escape character expands to itself,
 * and a split result has no empty word unless quotes made it. */
#include "fuzz.h"

#include "../../builder/expand.h"

#define MAX_VARS 32

static const char *const fixed[][2] = {
    {"PWD", "/home"}, {"PATHS", "/usr/local/bin:/usr/bin"}, {"FILE", "archive.tar.gz"}, {"SPACE", "abc  def"},
    {"NULL", ""},
};

/* The next NUL-terminated field of [*p, end) as a new string, or NULL at the end. */
static char *field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *start = *p, *nul;
	char *s;

	if (start > end)
		return NULL;
	nul = memchr(start, '\0', (size_t)(end - start));
	if (nul == NULL)
		nul = end;
	s = malloc((size_t)(nul - start) + 1);
	if (s != NULL) {
		memcpy(s, start, (size_t)(nul - start));
		s[nul - start] = '\0';
	}
	*p = nul + 1;
	return s;
}

static bool plain(const char *s, char escape)
{
	return strpbrk(s, "$'\"") == NULL && strchr(s, escape) == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size;
	struct expand_opts opts = {0};
	struct expand_vars vars;
	berth_error_t err = NULL;
	char *word, *subject, *out = NULL, **words = NULL;

	if (size < 1)
		return 0;
	opts.escape = (data[0] & 1) ? '`' : '\\';
	opts.raw_quotes = data[0] & 2;
	opts.raw_escapes = data[0] & 4;
	opts.skip_unset = data[0] & 8;
	opts.skip_quotes = data[0] & 16;
	word = field(&p, end);
	subject = field(&p, end);
	expand_vars_init(&vars);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (expand_vars_set(&vars, fixed[i][0], fixed[i][1], &err) < 0)
			fuzz_fail("expand_vars_set: %s", fuzz_msg(err));
	for (int i = 0; i < MAX_VARS && p < end; i++) {
		char *kv = field(&p, end), *eq;
		if (kv == NULL)
			break;
		if ((eq = strchr(kv, '=')) != NULL) {
			*eq = '\0';
			if (expand_vars_set(&vars, kv, eq + 1, &err) < 0)
				fuzz_check_error(&err, "expand_vars_set");
			else
				fuzz_require(strcmp(expand_vars_get(&vars, kv), eq + 1) == 0,
				             "variable %s does not read back", kv);
		}
		free(kv);
	}
	if (word == NULL || subject == NULL)
		goto out;

	if (expand_word(word, &vars, &opts, &out, &err) < 0) {
		fuzz_require(out == NULL, "expand_word failed but returned a result");
		fuzz_check_error(&err, "expand_word");
	} else {
		fuzz_require(out != NULL, "expand_word succeeded without a result");
		if (plain(word, opts.escape))
			fuzz_require(strcmp(out, word) == 0, "a plain word changed: `%s` -> `%s`", word, out);
		free(out);
	}
	if (expand_words(word, &vars, &opts, &words, &err) < 0) {
		fuzz_require(words == NULL, "expand_words failed but returned words");
		fuzz_check_error(&err, "expand_words");
	} else {
		fuzz_require(words != NULL, "expand_words succeeded without a result");
		for (size_t i = 0; words[i] != NULL; i++) {
			if (plain(word, opts.escape))
				fuzz_require(words[i][0] != '\0', "an empty word from a plain `%s`", word);
			free(words[i]);
		}
		free(words);
	}
	int m = expand_glob_match(word, subject, strlen(subject), &err);
	if (m < 0)
		fuzz_check_error(&err, "expand_glob_match");
	else
		fuzz_require(m == 0 || m == 1, "expand_glob_match returned %d", m);
	if (m >= 0 && strpbrk(word, "*?[\\") == NULL)
		fuzz_require(m == (strcmp(word, subject) == 0), "a literal pattern `%s` against `%s`: %d",
		             word, subject, m);
out:
	free(word);
	free(subject);
	expand_vars_free(&vars);
	return 0;
}
