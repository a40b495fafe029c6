/* Scratch directories and in-memory files for the fuzz targets that touch a
 * file system (archive import, layer apply). */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[PATH_MAX];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D || flag == FTW_DNR) {
		/* a directory the layer left without permissions */
		if (rmdir(path) < 0 && errno == ENOTEMPTY)
			return -1;
		return 0;
	}
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Gives every directory under path rwx for the owner, so that nftw can
 * descend into what a layer made mode 000. */
static int open_up(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		if ((st->st_mode & 0700) != 0700)
			chmod(path, (st->st_mode & 07777) | 0700);
	return 0;
}

int fuzz_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	nftw(path, open_up, 32, FTW_PHYS);
	return nftw(path, remove_entry, 32, FTW_PHYS | FTW_DEPTH);
}

static void remove_scratch(void)
{
	if (scratch[0] != '\0')
		fuzz_remove_tree(scratch);
}

const char *fuzz_scratch_dir(void)
{
	const char *tmp;

	if (scratch[0] != '\0')
		return scratch;
	tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (snprintf(scratch, sizeof(scratch), "%s/berth-fuzz.XXXXXX", tmp) >= (int)sizeof(scratch))
		fuzz_fail("TMPDIR too long");
	if (mkdtemp(scratch) == NULL)
		fuzz_fail("mkdtemp %s: %s", scratch, strerror(errno));
	atexit(remove_scratch);
	return scratch;
}

int fuzz_memfd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}
