/* Fuzz target: layer apply (layer_apply).  The input is a layer's bytes
 * (tar, tar+gzip or tar+zstd, detected), applied onto an empty directory
 * `root`, beside which sits a directory `canary` holding one file.
 *
 * Any input: no crash, no leak, no undefined behaviour; a rejected layer
 * sets an error.  Whatever happens, nothing lands outside root: the
 * directory holding root and canary gains nothing, and canary and its file
 * keep their entries, content, mode, owner and link count (a hard link or a
 * write through a symlink or `..` would change one of them).
 *
 * The target drops CAP_MKNOD first (device entries are skipped), so that a
 * device node made from fuzz bytes can never be written through. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "layer.h"

static const char canary_text[] = "canary\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct caps[2];

	(void)argc;
	(void)argv;
	if (syscall(SYS_capget, &hdr, caps) < 0)
		fuzz_fail("capget: %s", strerror(errno));
	caps[CAP_MKNOD / 32].effective &= ~(1u << (CAP_MKNOD % 32));
	caps[CAP_MKNOD / 32].permitted &= ~(1u << (CAP_MKNOD % 32));
	caps[CAP_MKNOD / 32].inheritable &= ~(1u << (CAP_MKNOD % 32));
	if (syscall(SYS_capset, &hdr, caps) < 0)
		fuzz_fail("capset: %s", strerror(errno));
	return 0;
}

static size_t count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;

	fuzz_require(d != NULL, "open %s: %s", path, strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void check_canary(const char *run)
{
	char dir[PATH_MAX], file[PATH_MAX], buf[64];
	struct stat st;
	ssize_t n;
	int fd;

	fuzz_path(dir, "%s/canary", run);
	fuzz_path(file, "%s/canary/file", run);
	fuzz_require(count_entries(run) == 2, "an entry landed beside root in %s", run);
	fuzz_require(lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700 &&
	                 st.st_uid == getuid(),
	             "the canary directory changed");
	fuzz_require(count_entries(dir) == 1, "an entry landed in the canary directory");
	fuzz_require(lstat(file, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600 &&
	                 st.st_nlink == 1 && st.st_uid == getuid() && st.st_size == sizeof(canary_text) - 1,
	             "the canary file changed (mode, owner, links or size)");
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	fuzz_require(fd >= 0, "open the canary: %s", strerror(errno));
	n = read(fd, buf, sizeof(buf));
	close(fd);
	fuzz_require(n == sizeof(canary_text) - 1 && memcmp(buf, canary_text, (size_t)n) == 0,
	             "the canary file's content changed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct layer_apply_options opts = {.size = sizeof(opts),
	                                   .flags = LAYER_APPLY_SKIP_DEVICES | LAYER_APPLY_SKIP_XATTR_ERRORS};
	struct layer_apply_stats stats;
	berth_error_t err = NULL;
	char run[PATH_MAX], path[PATH_MAX];
	int fd, rootfd;

	/* 1. run/root (empty) and run/canary/file */
	fuzz_path(run, "%s/run", fuzz_scratch_dir());
	fuzz_remove_tree(run);
	fuzz_require(mkdir(run, 0700) == 0, "mkdir %s: %s", run, strerror(errno));
	fuzz_path(path, "%s/root", run);
	fuzz_require(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
	rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fuzz_require(rootfd >= 0, "open %s: %s", path, strerror(errno));
	fuzz_path(path, "%s/canary", run);
	fuzz_require(mkdir(path, 0700) == 0, "mkdir %s: %s", path, strerror(errno));
	fuzz_path(path, "%s/canary/file", run);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	fuzz_require(fd >= 0 && write(fd, canary_text, sizeof(canary_text) - 1) == sizeof(canary_text) - 1,
	             "write %s: %s", path, strerror(errno));
	close(fd);

	/* 2. apply */
	fd = fuzz_memfd(data, size);
	fuzz_require(fd >= 0, "memfd: %s", strerror(errno));
	if (layer_apply(fd, rootfd, &opts, &stats, &err) < 0)
		fuzz_check_error(&err, "layer_apply");
	else
		fuzz_require(err == NULL, "layer_apply succeeded with an error set");
	close(fd);
	close(rootfd);

	/* 3. nothing outside root */
	check_canary(run);
	return 0;
}
