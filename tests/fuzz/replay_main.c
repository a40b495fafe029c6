/* Runs a fuzz target's LLVMFuzzerTestOneInput once on each input, without
 * libFuzzer: every build (gcc too) replays the seed corpus and the
 * regression inputs of tests/fuzz/ as a TAP test.
 *
 *   replay-<name>              the files of tests/fuzz/corpus/<name>/ and
 *                              tests/fuzz/regressions/<name>/ under
 *                              $BERTH_SRCDIR (make check sets it)
 *   replay-<name> FILE|DIR...  those inputs
 *
 * An input that breaks a property aborts the program (the test fails, and
 * the last "# input" line names it); under --enable-sanitizers a memory
 * error does too.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tap.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME must name the target"
#endif

/* Targets without an initializer get this one. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int read_all(const char *path, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	/* exactly the input's size, so that ASan sees a read past its end */
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL) {
		close(fd);
		return -1;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = done;
	return 0;
}

static void run_file(const char *path)
{
	uint8_t *data = NULL;
	size_t len = 0;

	if (read_all(path, &data, &len) < 0) {
		ok(0, "read %s: %s", path, strerror(errno));
		return;
	}
	printf("# input %s (%zu bytes)\n", path, len);
	fflush(stdout);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	ok(1, "%s", path);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void run_path(const char *path, bool must_exist)
{
	struct dirent **names;
	struct stat st;
	int n;

	if (stat(path, &st) < 0) {
		if (must_exist || errno != ENOENT)
			ok(0, "%s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		run_file(path);
		return;
	}
	n = scandir(path, &names, NULL, by_name);
	if (n < 0) {
		ok(0, "%s: %s", path, strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		char child[PATH_MAX];
		if (names[i]->d_name[0] != '.' &&
		    snprintf(child, sizeof(child), "%s/%s", path, names[i]->d_name) < (int)sizeof(child))
			run_file(child);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			run_path(argv[i], true);
	} else {
		const char *srcdir = getenv("BERTH_SRCDIR");
		char path[PATH_MAX];

		if (srcdir == NULL)
			srcdir = ".";
		snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s", srcdir, FUZZ_NAME);
		run_path(path, true);
		snprintf(path, sizeof(path), "%s/tests/fuzz/regressions/%s", srcdir, FUZZ_NAME);
		run_path(path, false);
	}
	return tap_done();
}
