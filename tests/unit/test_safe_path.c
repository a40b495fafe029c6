/* Unit tests of safe_path: a temporary "rootfs" full of hostile symlinks
 * next to an "outside" directory that plays the host.  Every case runs
 * twice: with openat2 and with the user-space walk (forced fallback), and
 * once more in a child where a seccomp filter makes openat2 fail with
 * ENOSYS, as on an old kernel. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "safe_path.h"
#include "util/fs.h"
#include "../tap.h"

static char tmp[256], root[256], outside[256];
static int root_fd = -1;

static void must(int rc, const char *what)
{
	if (rc < 0) {
		printf("Bail out! setup: %s: %s\n", what, strerror(errno));
		exit(1);
	}
}

static void at(char *buf, const char *base, const char *rel)
{
	snprintf(buf, PATH_MAX, "%s/%s", base, rel);
}

static void make_dir(const char *base, const char *rel)
{
	char p[PATH_MAX];
	at(p, base, rel);
	must(mkdir(p, 0755), p);
}

static void make_file(const char *base, const char *rel)
{
	char p[PATH_MAX];
	at(p, base, rel);
	int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	must(fd, p);
	close(fd);
}

static void make_link(const char *target, const char *rel)
{
	char p[PATH_MAX];
	at(p, root, rel);
	must(symlink(target, p), p);
}

static void setup(void)
{
	char t[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", "/tmp/berth-safe-path-XXXXXX");
	must(mkdtemp(tmp) != NULL ? 0 : -1, "mkdtemp");
	snprintf(root, sizeof(root), "%.200s/root", tmp);
	snprintf(outside, sizeof(outside), "%.200s/outside", tmp);
	must(mkdir(root, 0755), root);
	must(mkdir(outside, 0755), outside);

	/* The container's files and the "host's" files of the same names. */
	make_dir(root, "etc");
	make_file(root, "etc/passwd");
	make_dir(root, "sub");
	make_dir(outside, "etc");
	make_file(outside, "etc/passwd");

	/* Hostile symlinks. */
	make_link("/", "abs");          /* absolute: the root */
	make_link("../../..", "up");    /* above the root */
	make_link("../etc", "sub/rel"); /* relative, staying inside */
	make_link("chain2", "chain1");  /* a chain ending absolute */
	make_link("/sub/../etc", "chain2");
	make_link("loop2", "loop1"); /* a loop */
	make_link("loop1", "loop2");
	make_link(outside, "escape"); /* the host's path, absolute */
	at(t, outside, "newdir");
	make_link(t, "dangling"); /* dangling, towards the host */
	at(t, outside, "created");
	make_link(t, "dangling_file");
	root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	must(root_fd, root);
}

static int same_file(int fd, const char *base, const char *rel)
{
	struct stat a, b;
	char p[PATH_MAX];

	at(p, base, rel);
	if (fd < 0 || fstat(fd, &a) < 0 || stat(p, &b) < 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int exists(const char *base, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	at(p, base, rel);
	return lstat(p, &st) == 0;
}

static int open_expect(const char *path, const char *want_rel, const char *mode)
{
	berth_error_t err = NULL;
	int fd = safe_path_open(root_fd, path, O_RDONLY, 0, &err);
	int good = same_file(fd, root, want_rel);

	ok(good, "%s: `%s` opens <root>/%s", mode, path, want_rel);
	if (err != NULL)
		printf("#   error: %s\n", err->msg);
	berth_error_free(&err);
	if (fd >= 0)
		close(fd);
	return good;
}

static void test_resolution(const char *mode)
{
	berth_error_t err = NULL;
	char rel[PATH_MAX];
	int fd;

	open_expect("/etc/passwd", "etc/passwd", mode);
	open_expect("etc/passwd", "etc/passwd", mode);
	open_expect("/abs/etc/passwd", "etc/passwd", mode);
	open_expect("/abs/abs/../../etc/passwd", "etc/passwd", mode);
	open_expect("up/etc/passwd", "etc/passwd", mode);
	open_expect("../../../../etc/passwd", "etc/passwd", mode);
	open_expect("sub/rel/passwd", "etc/passwd", mode);
	open_expect("chain1/passwd", "etc/passwd", mode);
	open_expect("", ".", mode);

	/* The host's directory by its host path is not reachable. */
	fd = safe_path_open(root_fd, "escape/etc/passwd", O_RDONLY, 0, &err);
	ok(fd < 0 && err != NULL && err->errnum == ENOENT,
	   "%s: absolute link to the host's path does not leave the root", mode);
	is_str(err != NULL ? err->msg : NULL, "open `escape/etc/passwd`: No such file or directory",
	       "%s: the error names the path", mode);
	berth_error_free(&err);
	if (fd >= 0)
		close(fd);

	/* A loop stops. */
	fd = safe_path_open(root_fd, "loop1/x", O_RDONLY, 0, &err);
	ok(fd < 0 && err != NULL && err->errnum == ELOOP, "%s: a symlink loop fails with ELOOP", mode);
	berth_error_free(&err);

	/* O_NOFOLLOW on a symlink: the kernel's answer, not the target. */
	fd = safe_path_open(root_fd, "abs", O_RDONLY | O_NOFOLLOW, 0, &err);
	ok(fd < 0 && err != NULL && err->errnum == ELOOP, "%s: O_NOFOLLOW does not follow the last symlink",
	   mode);
	berth_error_free(&err);

	/* mkdir_all through a dangling symlink towards the host creates inside. */
	snprintf(rel, sizeof(rel), "dangling/%s", mode);
	fd = safe_path_mkdir_all(root_fd, rel, 0755, &err);
	ok(fd >= 0, "%s: mkdir_all `%s` succeeds", mode, rel);
	if (err != NULL)
		printf("#   error: %s\n", err->msg);
	berth_error_free(&err);
	{
		char inside[PATH_MAX];
		snprintf(inside, sizeof(inside), "%s/newdir/%s", outside + 1, mode);
		ok(same_file(fd, root, inside), "%s: ... and the directory is <root>%s/newdir/%s", mode,
		   outside, mode);
	}
	ok(!exists(outside, "newdir"), "%s: nothing was created on the \"host\"", mode);
	if (fd >= 0)
		close(fd);

	/* mkdir_all through "..", an absolute link and a new chain. */
	snprintf(rel, sizeof(rel), "up/../abs/made-%s/a/b", mode);
	fd = safe_path_mkdir_all(root_fd, rel, 0755, &err);
	snprintf(rel, sizeof(rel), "made-%s/a/b", mode);
	ok(same_file(fd, root, rel), "%s: mkdir_all through up/../abs lands in <root>/%s", mode, rel);
	berth_error_free(&err);
	if (fd >= 0)
		close(fd);

	/* mkdir_all of a path whose component is a file. */
	fd = safe_path_mkdir_all(root_fd, "etc/passwd/x", 0755, &err);
	ok(fd < 0 && err != NULL && err->errnum == ENOTDIR, "%s: mkdir_all under a file fails with ENOTDIR",
	   mode);
	berth_error_free(&err);

	/* create_file through hostile parents. */
	snprintf(rel, sizeof(rel), "up/abs/files-%s/f", mode);
	fd = safe_path_create_file(root_fd, rel, 0644, &err);
	snprintf(rel, sizeof(rel), "files-%s/f", mode);
	ok(same_file(fd, root, rel), "%s: create_file lands in <root>/%s", mode, rel);
	berth_error_free(&err);
	if (fd >= 0)
		close(fd);

	/* O_CREAT through a dangling link towards the host. */
	fd = safe_path_open(root_fd, "dangling_file", O_CREAT | O_WRONLY, 0644, &err);
	ok(!exists(outside, "created"), "%s: O_CREAT through a dangling link creates nothing on the \"host\"",
	   mode);
	berth_error_free(&err);
	if (fd >= 0)
		close(fd);
}

/* A child with openat2 denied (ENOSYS), as on a kernel without it. */
static void test_seccomp_denied(void)
{
	pid_t pid;
	int status = 0;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		berth_error_t err = NULL;
		int fd;

		if (ctx == NULL || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0) < 0 ||
		    seccomp_load(ctx) < 0)
			_exit(2);
		safe_path_force_fallback(0);
		fd = safe_path_open(root_fd, "/abs/up/chain1/passwd", O_RDONLY, 0, &err);
		if (syscall(SYS_openat2, root_fd, ".", NULL, 0) >= 0 || errno != ENOSYS)
			_exit(3); /* the filter is not in place */
		_exit(same_file(fd, root, "etc/passwd") ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "openat2 denied by seccomp (ENOSYS): the walk resolves inside the root (child exit %d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void cleanup(void)
{
	berth_error_t err = NULL;

	/* Our own temporary tree only, without following its symlinks. */
	if (fs_remove_tree_at(AT_FDCWD, tmp, &err) < 0) {
		printf("# cleanup: %s\n", err->msg);
		berth_error_free(&err);
	}
}

int main(void)
{
	int rc;

	setup();
	safe_path_force_fallback(0);
	test_resolution("openat2");
	safe_path_force_fallback(1);
	test_resolution("fallback");
	safe_path_force_fallback(0);
	test_seccomp_denied();
	rc = tap_done();
	close(root_fd);
	cleanup();
	return rc;
}
