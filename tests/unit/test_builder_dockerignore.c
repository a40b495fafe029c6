/* .dockerignore matching with Docker's rules: table-driven.  The cases follow
 * the behaviour moby/patternmatcher's tests pin down, written out for Berth. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "../../builder/dockerignore.h"

struct mcase {
	const char *ignore; /* the file's content */
	const char *path;
	int want; /* 1 excluded, 0 included, -1 a parse error */
};

static const struct mcase cases[] = {
    /* exact names, cleaning, leading slash */
    {"foo", "foo", 1},
    {"foo", "foobar", 0},
    {"foo", "foo/bar", 1}, /* a directory excludes what is under it */
    {"foo", "a/foo", 0},
    {"/foo", "foo", 1},
    {"./foo/", "foo/x", 1},
    {"foo//bar/.", "foo/bar", 1},
    {"a/../b", "b", 1},
    {"  foo  ", "foo", 1},
    {"foo", "./foo", 1},
    {"foo", ".", 0},
    {"*", ".", 0},
    /* comments and blank lines */
    {"# foo\n\nbar", "foo", 0},
    {"# foo\n\nbar", "bar", 1},
    {" # not a comment", " # not a comment", 0},
    {"\xef\xbb\xbf"
     "foo",
     "foo", 1},
    /* * and ? stay inside one component */
    {"*.go", "main.go", 1},
    {"*.go", "cmd/main.go", 0},
    {"*/*.go", "cmd/main.go", 1},
    {"*", "a/b/c", 1},
    {"fo?", "foo", 1},
    {"fo?", "fo/", 0},
    {"a?c", "a/c", 0},
    {"[abc].txt", "b.txt", 1},
    {"[a-c].txt", "d.txt", 0},
    {"[^a].txt", "b.txt", 1},
    {"\\*.txt", "*.txt", 1},
    {"\\*.txt", "a.txt", 0},
    {".*", ".git", 1},
    {".*", "a/.git", 0},
    /* ** */
    {"**", "a/b/c", 1},
    {"**/*.go", "main.go", 1},
    {"**/*.go", "a/b/main.go", 1},
    {"**/foo", "foo", 1},
    {"**/foo", "x/y/foo", 1},
    {"**/foo", "x/yfoo", 0},
    {"**foo", "xfoo", 1},
    {"a/**", "a/b/c", 1},
    {"a/**", "ab", 0},
    {"a**", "ab", 1},
    {"a/**/b", "a/b", 1},
    {"a/**/b", "a/x/y/b", 1},
    {"a/**/b", "a/x/yb", 0},
    {"a/**/*.md", "a/docs/x.md", 1},
    {"dir/**/", "dir/x", 1},
    /* exceptions: the last matching rule wins */
    {"*.md\n!README.md", "README.md", 0},
    {"*.md\n!README.md", "CHANGES.md", 1},
    {"!README.md\n*.md", "README.md", 1},
    {"docs\n!docs/keep.txt", "docs/keep.txt", 0},
    {"docs\n!docs/keep.txt", "docs/other.txt", 1},
    {"docs\n!docs/keep", "docs/keep/inner.txt", 0},
    {"**\n!src\n src/**/*.tmp", "src/a/b.tmp", 1},
    {"**\n!src\nsrc/**/*.tmp", "src/a/b.c", 0},
    {"**\n!src", "other", 1},
    {"a\n!a/b\na/b/c", "a/b/c/d", 1},
    {"a\n!a/b\na/b/c", "a/b/x", 0},
    {"! foo", "foo", 0},
    /* bad patterns */
    {"!", "foo", -1},
    {"[abc", "a", -1},
    {"foo\\", "foo", -1},
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mcase *c = &cases[i];
		struct dockerignore di;
		berth_error_t err = NULL;
		int r = dockerignore_parse(&di, c->ignore, strlen(c->ignore), &err);
		char shown[128];
		if (r == 0)
			r = dockerignore_matches(&di, c->path, &err);
		snprintf(shown, sizeof(shown), "%s", c->ignore);
		for (char *p = shown; *p; p++)
			if (*p == '\n')
				*p = '|';
		ok(r == c->want, "[%s] on %s: %d (got %d%s%s)", shown, c->path, c->want, r, err ? ": " : "",
		   err ? err->msg : "");
		if (r >= 0)
			dockerignore_free(&di);
		berth_error_free(&err);
	}
}

static void test_parse_and_clean(void)
{
	struct dockerignore di;
	const char *f = "# c\n/abs/path/\n!./keep//x\n\n*.log  \n";
	ok(dockerignore_parse(&di, f, strlen(f), NULL) == 0, "parses");
	ok(di.n == 3, "three rules (got %zu)", di.n);
	is_str(di.n > 0 ? di.rules[0].pattern : NULL, "abs/path", "leading slash and trailing slash dropped");
	ok(di.n > 1 && di.rules[1].exclusion && di.rules[1].line == 3, "an exception, line 3");
	is_str(di.n > 1 ? di.rules[1].pattern : NULL, "keep/x", "./ and // cleaned");
	ok(di.has_exceptions, "has exceptions");
	dockerignore_free(&di);

	static const char *const clean[][2] = {{"", "."},       {"a/./b", "a/b"}, {"../a", "../a"},
	                                       {"/../a", "/a"}, {"a/b/..", "a"},  {"a//b//", "a/b"}};
	for (size_t i = 0; i < 6; i++) {
		char *c = dockerignore_clean(clean[i][0]);
		is_str(c, clean[i][1], "clean [%s]", clean[i][0]);
		free(c);
	}
}

static void test_pick(void)
{
	char dir[] = "/tmp/berth-di-XXXXXX", p[128];
	berth_error_t err = NULL;
	char *got;
	FILE *f;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(p, sizeof(p), "%s/Dockerfile", dir);
	got = dockerignore_pick(p, dir, &err);
	ok(got == NULL && err == NULL, "no ignore file: none");
	snprintf(p, sizeof(p), "%s/.dockerignore", dir);
	f = fopen(p, "w");
	fclose(f);
	snprintf(p, sizeof(p), "%s/Dockerfile", dir);
	got = dockerignore_pick(p, dir, &err);
	ok(got != NULL && strstr(got, "/.dockerignore") != NULL, "the context's .dockerignore");
	free(got);
	snprintf(p, sizeof(p), "%s/Dockerfile.dockerignore", dir);
	f = fopen(p, "w");
	fclose(f);
	snprintf(p, sizeof(p), "%s/Dockerfile", dir);
	got = dockerignore_pick(p, dir, &err);
	ok(got != NULL && strstr(got, "Dockerfile.dockerignore") != NULL, "<Dockerfile>.dockerignore wins");
	free(got);
	snprintf(p, sizeof(p), "%s/Dockerfile.dockerignore", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/.dockerignore", dir);
	unlink(p);
	rmdir(dir);
}

int main(void)
{
	test_table();
	test_parse_and_clean();
	test_pick();
	return tap_done();
}
