/* Word expansion as BuildKit's Dockerfile shell lexer does it: table-driven.
 * The cases follow the behaviour BuildKit's own tables pin down (envVarTest,
 * wordsTest, TestProcessWithMatches), written out here for Berth. */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "../../builder/expand.h"
#include "util/cleanup.h"

#define ERR NULL /* the case must fail */

struct wcase {
	const char *in;
	const char *want; /* ERR: an error */
};

/* Variables: PWD=/home SHELL=bash KOREAN=한국어 NULL= (set, empty). */
static const struct wcase words_cases[] = {
    /* plain text, quotes, escapes */
    {"hello", "hello"},
    {"he'll'o", "hello"},
    {"he'llo", ERR},
    {"he\\'llo", "he'llo"},
    {"he\\\\'llo", ERR},
    {"abc\\tdef", "abctdef"},
    {"\"abc\\tdef\"", "abc\\tdef"},
    {"\"abc\\\\tdef\"", "abc\\tdef"},
    {"'abc\\tdef'", "abc\\tdef"},
    {"hello\\", "hello"},
    {"hello\\\\", "hello\\"},
    {"\"hello", ERR},
    {"\"hello\\\"", ERR},
    {"\"hel'lo\"", "hel'lo"},
    {"'hello", ERR},
    {"'hello\\'", "hello\\"},
    {"'hello\\\\there'", "hello\\\\there"},
    {"\"''\"", "''"},
    {"'\"hi\"'", "\"hi\""},
    {"a b  c", "a b  c"},
    /* $ without a name */
    {"$.", "$."},
    {"he$.x", "he$.x"},
    {"x$", "x$"},
    {"$ x", "$ x"},
    /* $VAR and ${VAR} */
    {"he$PWD", "he/home"},
    {"he$pwd.", "he."},
    {"he$PWD.x", "he/home.x"},
    {"he$PWDx", "he"},
    {"he\\$PWD", "he$PWD"},
    {"he\\\\$PWD", "he\\/home"},
    {"\"he\\$PWD\"", "he$PWD"},
    {"\"he\\\\$PWD\"", "he\\/home"},
    {"'he$PWD'", "he$PWD"},
    {"'he\\$PWD'", "he\\$PWD"},
    {"\"he'$PWD'\"", "he'/home'"},
    {"\"$PWD\"", "/home"},
    {"he${PWD}", "he/home"},
    {"he${PWD}x", "he/homex"},
    {"he${hi}xx", "hexx"},
    {"$KOREAN", "한국어"},
    {"안녕$KOREAN", "안녕한국어"},
    {"안'녕'하세요", "안녕하세요"},
    {"\\${}", "${}"},
    {"he\\${}xx", "he${}xx"},
    {"${}", ERR},
    {"he${}xx", ERR},
    {"he${.}", ERR},
    {"${{aaa}", ERR},
    {"${:}", ERR},
    {"${:-bbb}", ERR},
    {"${aaa}}", "}"},
    {"${aaa", ERR},
    {"${PWD", ERR},
    /* positional and special parameters are never set */
    {"he$1x", "hex"},
    {"$999aaa", "aaa"},
    {"${001:-bbb}aaa", "bbbaaa"},
    {"$@@@", "@@"},
    {"${@:+bbb}aaa", "aaa"},
    {"${#:-bbb}", "bbb"},
    {"$$", ""},
    {"${?}", ""},
    {"$0", ""},
    /* defaults and alternatives */
    {"he${XXX:-000}xx", "he000xx"},
    {"he${PWD:-000}xx", "he/homexx"},
    {"he${XXX:-$PWD}xx", "he/homexx"},
    {"he${XXX:-${PWD:-yyy}}xx", "he/homexx"},
    {"he${XXX:-${YYY:-yyy}}xx", "heyyyxx"},
    {"${NULL:-x}", "x"},
    {"${NULL-x}", ""},
    {"${XXX-x}", "x"},
    {"${PWD-x}", "/home"},
    {"he${XXX:+${PWD}}xx", "hexx"},
    {"he${PWD:+${XXX}}xx", "hexx"},
    {"he${PWD:+${SHELL}}xx", "hebashxx"},
    {"he${PWD:+000}xx", "he000xx"},
    {"${NULL:+x}", ""},
    {"${NULL+x}", "x"},
    {"${XXX+x}", ""},
    {"he${PWD:+${PWD}:}xx", "he/home:xx"},
    {"he${XXX:-\\$PWD:}xx", "he$PWD:xx"},
    {"he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"},
    {"${aaa:-bbb}}", "bbb}"},
    {"${aaa:-bbb", ERR},
    {"${aaa:-bbb ${foo}", ERR},
    {"${aaa:-bbb {foo}", "bbb {foo"},
    {"${aaa:-\"a  b\"}", "a  b"},
    {"${aaa:-'$PWD'}", "$PWD"},
    /* required */
    {"he${PWD?}", "he/home"},
    {"he${PWD:?}", "he/home"},
    {"he${NULL?}", "he"},
    {"he${NULL:?}", ERR},
    {"he${XXX?}", ERR},
    {"he${XXX:?}", ERR},
    {"${XXX:?must be set}", ERR},
    /* unsupported modifiers */
    {"he${XXX:YYY}", ERR},
    {"he${PWD:=000}xx", ERR},
    {"${PWD=x}", ERR},
    {"${PWD:#x}", ERR},
    {"${PWD:%x}", ERR},
    /* prefix and suffix removal */
    {"${PATHS#*/}", "usr/local/bin:/usr/bin"},
    {"${PATHS##*/}", "bin"},
    {"${PATHS%:*}", "/usr/local/bin"},
    {"${PATHS%%/*}", ""},
    {"${PATHS%/*}", "/usr/local/bin:/usr"},
    {"${PATHS#/usr}", "/local/bin:/usr/bin"},
    {"${PATHS#nomatch}", "/usr/local/bin:/usr/bin"},
    {"${FILE%.*}", "archive.tar"},
    {"${FILE%%.*}", "archive"},
    {"${FILE#*.}", "tar.gz"},
    {"${FILE##*.}", "gz"},
    {"${FILE#?r}", "chive.tar.gz"},
    {"${FILE#[a-c]}", "rchive.tar.gz"},
    {"${FILE#[!a]}", "archive.tar.gz"},
    {"${FILE%[xyz]}", "archive.tar.g"},
    {"${FILE#}", "archive.tar.gz"},
    {"${FILE##}", "archive.tar.gz"},
    {"${FILE%}", "archive.tar.gz"},
    {"${XXX#a}", ""},
    {"${STARS%%\\**}", "xx"},
    {"${STARS#*x*}", "x**"},
    {"${STARS##*x}", "**"},
    {"${STARS#\\x}", ERR},
    {"${QS#?\\?}", "?y"},
    {"${SPECIAL#()[]{\\}^$.\\*\\?|\\\\}", "x"},
    {"${FILE#${SHELL}}", "archive.tar.gz"},
    {"${FILE#$NULL}", "archive.tar.gz"},
    {"${VERSION#v}", "1.2.3"},
    {"${VERSION%.*}", "v1.2"},
    /* replacement */
    {"${PATHS/usr/opt}", "/opt/local/bin:/usr/bin"},
    {"${PATHS//usr/opt}", "/opt/local/bin:/opt/bin"},
    {"${PATHS//\\//_}", "_usr_local_bin:_usr_bin"},
    {"${PATHS//:/ }", "/usr/local/bin /usr/bin"},
    {"${PATHS/\\/usr*/X}", "X"},
    {"${PATHS/l?cal/LOCAL}", "/usr/LOCAL/bin:/usr/bin"},
    {"${PATHS//[lb]/-}", "/usr/-oca-/-in:/usr/-in"},
    {"${URL/http:\\/\\//https://}", "https://example.com"},
    {"${URL//\\//\\/}", "http:\\/\\/example.com"},
    {"${FILE/$NULL/ww}", "wwarchive.tar.gz"},
    {"${FILE///}", "archive.tar.gz"},
    {"${XXX///}", ""},
    {"${XXX/a/b}", ""},
    {"${FILE//ww}", ERR},
    {"${FILE//}", ERR},
    {"${FILE/a", ERR},
    {"${VERSION//./-}", "v1-2-3"},
    {"${VERSION/./}", "v12.3"},
    /* the platform args, as BuildKit's release names use them */
    {"tool-${VERSION}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tar.gz", "tool-v1.2.3.linux-arm-v7.tar.gz"},
    {"tool-${OS}-${ARCH}${NOVARIANT:+-${NOVARIANT}}", "tool-linux-arm"},
};

struct scase {
	const char *in;
	const char *want[6]; /* the words; {"error"} for a failure */
};

/* Variables: hi=hi space="abc  def" leading="  ab c" trailing="ab c   " */
static const struct scase split_cases[] = {
    {"hello", {"hello"}},
    {"hello${hi}bye", {"hellohibye"}},
    {"hello${nope}bye", {"hellobye"}},
    {"hello${space}bye", {"helloabc", "defbye"}},
    {"hello\"${space}\"bye", {"helloabc  defbye"}},
    {"hello \"${space}\"bye", {"hello", "abc  defbye"}},
    {"hello${leading}def", {"hello", "ab", "cdef"}},
    {"hello\"${leading}\" def", {"hello  ab c", "def"}},
    {"hello${leading}", {"hello", "ab", "c"}},
    {"hello${trailing}", {"helloab", "c"}},
    {"hello${trailing}d", {"helloab", "c", "d"}},
    {"hello\"${trailing}\"d", {"helloab c   d"}},
    {"hello\" there  \"", {"hello there  "}},
    {"hello there     ", {"hello", "there"}},
    {"  hello   there", {"hello", "there"}},
    {"hello\\ there", {"hello there"}},
    {"hello\" there", {"error"}},
    {"hello\\\" there", {"hello\"", "there"}},
    {"hello\"\\\\there\"", {"hello\\there"}},
    {"hello'\\\\there'", {"hello\\\\there"}},
    {"hello'$there'", {"hello$there"}},
    {"\"\"", {NULL}},
    {"a \"\" b", {"a", "b"}},
    {"", {NULL}},
    {"${space:-x} y", {"abc", "def", "y"}},
    {"'a b' \"c d\" e\\ f", {"a b", "c d", "e f"}},
};

struct gcase {
	const char *pattern, *s;
	int want; /* 1 match, 0 no match, -1 bad pattern */
};

static const struct gcase glob_cases[] = {
    {"*", "", 1},      {"*", "abc", 1},     {"?", "", 0},        {"?", "a", 1},         {"?", "é", 1},
    {"??", "é", 0},    {"a*c", "abbbc", 1}, {"a*c", "abbb", 0},  {"*.go", "x.go", 1},   {"*.go", "x.goo", 0},
    {"[abc]", "b", 1}, {"[abc]", "d", 0},   {"[a-c]x", "cx", 1}, {"[!a-c]x", "cx", 0},  {"[^a-c]x", "dx", 1},
    {"[]]", "]", 1},   {"[a", "[a", 1},     {"\\*", "*", 1},     {"\\*", "a", 0},       {"\\?", "?", 1},
    {"\\\\", "\\", 1}, {"\\q", "q", -1},    {"a\\", "a", -1},    {"*a*b*", "xaybz", 1}, {"*a*b*", "xbyaz", 0},
    {"a**b", "ab", 1}, {"(.)", "(.)", 1},   {"a.c", "abc", 0},
};

static void set_all(struct expand_vars *v, const char *const *kv)
{
	for (; kv[0] != NULL; kv += 2)
		expand_vars_set(v, kv[0], kv[1], NULL);
}

static void test_words(void)
{
	struct expand_vars v;
	static const char *const kv[] = {"PWD",     "/home",
	                                 "SHELL",   "bash",
	                                 "KOREAN",  "한국어",
	                                 "NULL",    "",
	                                 "PATHS",   "/usr/local/bin:/usr/bin",
	                                 "FILE",    "archive.tar.gz",
	                                 "STARS",   "xx**",
	                                 "QS",      "???y",
	                                 "SPECIAL", "()[]{}^$.*?|\\x",
	                                 "URL",     "http://example.com",
	                                 "VERSION", "v1.2.3",
	                                 "OS",      "linux",
	                                 "ARCH",    "arm",
	                                 "VARIANT", "v7",
	                                 NULL,      NULL};

	expand_vars_init(&v);
	set_all(&v, kv);
	for (size_t i = 0; i < sizeof(words_cases) / sizeof(words_cases[0]); i++) {
		const struct wcase *c = &words_cases[i];
		berth_error_t err = NULL;
		char *out = NULL;
		int r = expand_word(c->in, &v, NULL, &out, &err);
		if (c->want == ERR) {
			ok(r < 0 && err != NULL && strstr(err->msg, "failed to process") != NULL,
			   "%s: an error (%s)", c->in, err ? err->msg : "none");
		} else {
			if (r < 0)
				printf("# error: %s\n", err->msg);
			is_str(out, c->want, "%s", c->in);
		}
		free(out);
		berth_error_free(&err);
	}
	expand_vars_free(&v);
}

static void test_split(void)
{
	struct expand_vars v;
	static const char *const kv[] = {"hi",     "hi",       "space",   "abc  def", "leading",
	                                 "  ab c", "trailing", "ab c   ", NULL,       NULL};

	expand_vars_init(&v);
	set_all(&v, kv);
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		const struct scase *c = &split_cases[i];
		berth_error_t err = NULL;
		char **out = NULL;
		char got[256] = "", want[256] = "";
		if (expand_words(c->in, &v, NULL, &out, &err) < 0) {
			snprintf(got, sizeof(got), "error");
		} else {
			for (char **w = out; *w; w++) {
				strncat(got, *w, sizeof(got) - strlen(got) - 2);
				strcat(got, "|");
			}
		}
		for (size_t k = 0; k < 6 && c->want[k] != NULL; k++) {
			strncat(want, c->want[k], sizeof(want) - strlen(want) - 2);
			if (strcmp(c->want[k], "error") != 0 || k > 0)
				strcat(want, "|");
		}
		is_str(got, want, "words of [%s]", c->in);
		strv_free(out);
		berth_error_free(&err);
	}
	expand_vars_free(&v);
}

static void test_glob(void)
{
	for (size_t i = 0; i < sizeof(glob_cases) / sizeof(glob_cases[0]); i++) {
		const struct gcase *c = &glob_cases[i];
		berth_error_t err = NULL;
		int r = expand_glob_match(c->pattern, c->s, strlen(c->s), &err);
		ok(r == c->want, "glob [%s] on [%s] gives %d (got %d)", c->pattern, c->s, c->want, r);
		berth_error_free(&err);
	}
}

static void test_messages_and_modes(void)
{
	struct expand_vars v;
	berth_error_t err = NULL;
	char *out = NULL;
	struct expand_opts raw = {.raw_quotes = true, .skip_unset = true};
	struct expand_opts tick = {.escape = '`'};

	expand_vars_init(&v);
	expand_vars_set(&v, "ARG", "x", NULL);
	expand_vars_set(&v, "EMPTY", "", NULL);

	ok(expand_word("${VAR:?message here$ARG}", &v, NULL, &out, &err) < 0, ":? fails when unset");
	is_str(err ? err->msg : NULL, "failed to process \"${VAR:?message here$ARG}\": VAR: message herex",
	       "its message expands the word");
	berth_error_free(&err);
	ok(expand_word("${EMPTY:?}", &v, NULL, &out, &err) < 0, ":? fails when empty");
	is_str(err ? err->msg : NULL, "failed to process \"${EMPTY:?}\": EMPTY: is not allowed to be empty",
	       "the default message for an empty value");
	berth_error_free(&err);
	ok(expand_word("${NOPE?}", &v, NULL, &out, &err) < 0, "? fails when unset");
	is_str(err ? err->msg : NULL, "failed to process \"${NOPE?}\": NOPE: is not allowed to be unset",
	       "the default message for an unset value");
	berth_error_free(&err);
	ok(expand_word("${ARG", &v, NULL, &out, &err) < 0, "a missing brace fails");
	is_str(err ? err->msg : NULL, "failed to process \"${ARG\": syntax error: missing '}'",
	       "and says so");
	berth_error_free(&err);
	ok(expand_word("${ARG:=y}", &v, NULL, &out, &err) < 0, ":= is not supported");
	is_str(err ? err->msg : NULL,
	       "failed to process \"${ARG:=y}\": unsupported modifier (:=) in substitution",
	       "and says which modifier");
	berth_error_free(&err);

	ok(expand_word("'$ARG' \"$NOPE\" ${NOPE:-d} $ARG", &v, &raw, &out, &err) == 0,
	   "raw quotes, unset kept");
	is_str(out, "'$ARG' \"$NOPE\" ${NOPE:-d} x", "quotes stay and unset references stay as written");
	free(out);

	ok(expand_word("a`$ARG b`\\c `\"q`\"", &v, &tick, &out, &err) == 0, "backtick escape");
	is_str(out, "a$ARG b\\c \"q\"", "backtick escapes, backslash is plain");
	free(out);

	expand_vars_set(&v, "ARG", "y", NULL);
	is_str(expand_vars_get(&v, "ARG"), "y", "a variable set twice has its last value");
	expand_vars_unset(&v, "ARG");
	ok(expand_vars_get(&v, "ARG") == NULL, "unset removes it");
	is_str(expand_vars_get(&v, "EMPTY"), "", "others stay");
	expand_vars_free(&v);
}

int main(void)
{
	test_words();
	test_split();
	test_glob();
	test_messages_and_modes();
	return tap_done();
}
