/* rusage: times a sequence of commands and reports the peak memory of the
 * processes it ran. Built by bench/run into its temporary directory.
 *
 * usage: rusage [-n COUNT | -p COUNT] -- STEP [--- STEP ...]
 *        rusage --reap -- COMMAND [ARG ...]
 *
 * A STEP is a command and its arguments, or one of the built-in steps:
 *   @wait PIDFILE   wait until the process whose pid is in PIDFILE has exited
 * Every `%i` in an argument is replaced by the iteration index (0..COUNT-1).
 *
 *   (default)  run the steps once
 *   -n COUNT   run the steps COUNT times, one iteration after the other
 *   -p COUNT   run COUNT iterations of the steps at the same time
 *
 * Prints one line, "<wall time in ns> <max RSS in KiB>", where the wall time
 * covers all iterations and the max RSS is getrusage(RUSAGE_CHILDREN)'s: the
 * largest resident set of any process that ran below this one (the runtime,
 * its helpers, the container's processes). Exits 1 without that line when a
 * step fails. The commands' stdin and stdout are /dev/null; stderr is kept.
 *
 * Every process of rusage is a child subreaper, so a container's init that
 * its runtime left behind (after `create`, or `run -d`) is reparented here:
 * `@wait` can wait for it, its resources are counted, and it is reaped.
 *
 * --reap runs COMMAND as a child subreaper that reaps every orphan below it
 * (this machine's pid 1 does not), and exits with COMMAND's status. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_STEPS 16

struct step {
	char **argv;
	int argc;
};

static struct step steps[MAX_STEPS];
static int nsteps;

static char *subst(const char *arg, int index)
{
	const char *p = strstr(arg, "%i");
	char *out;
	size_t len;

	if (p == NULL)
		return strdup(arg);
	len = strlen(arg) + 16;
	out = malloc(len);
	if (out == NULL)
		return NULL;
	snprintf(out, len, "%.*s%d%s", (int)(p - arg), arg, index, p + 2);
	return out;
}

static int wait_for(pid_t pid, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, 0);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int run_command(char **argv, int argc, int index)
{
	char *args[argc + 1];
	int status;
	pid_t pid;

	for (int i = 0; i < argc; i++) {
		args[i] = subst(argv[i], index);
		if (args[i] == NULL)
			return -1;
	}
	args[argc] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
			_exit(126);
		execvp(args[0], args);
		fprintf(stderr, "rusage: exec `%s`: %s\n", args[0], strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < argc; i++)
		free(args[i]);
	if (wait_for(pid, &status) < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "rusage: `%s` (iteration %d) failed with status %#x\n", argv[0], index,
		        status);
		return -1;
	}
	return 0;
}

/* @wait PIDFILE: the pid is a container's init, reparented to us. */
static int wait_pidfile(const char *file, int index)
{
	char *path = subst(file, index);
	char buf[32] = "";
	int status;
	ssize_t n;
	int fd;

	if (path == NULL)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	if (wait_for((pid_t)atoi(buf), &status) < 0) {
		fprintf(stderr, "rusage: @wait %s: %s\n", file, strerror(errno));
		return -1;
	}
	return 0;
}

static int run_steps(int index)
{
	for (int s = 0; s < nsteps; s++) {
		struct step *st = &steps[s];
		int r;

		if (strcmp(st->argv[0], "@wait") == 0 && st->argc == 2)
			r = wait_pidfile(st->argv[1], index);
		else
			r = run_command(st->argv, st->argc, index);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Reap the children that have exited, reparented orphans included; a
 * container that still runs (`run -d`) is left to our parent's reaper. */
static void reap_exited(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static int run_parallel(int count)
{
	pid_t pids[count];
	int failed = 0;

	for (int i = 0; i < count; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return -1;
		if (pids[i] == 0) {
			prctl(PR_SET_CHILD_SUBREAPER, 1);
			_exit(run_steps(i) < 0 ? 1 : 0);
		}
	}
	for (int i = 0; i < count; i++) {
		int status;
		if (wait_for(pids[i], &status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	return failed ? -1 : 0;
}

static int reap_mode(char **argv)
{
	int status = 0;
	pid_t pid;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		/* a background job's SIGINT is ignored: give the command the default */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "rusage: exec `%s`: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	/* SIGINT and SIGTERM reach the whole process group; the command decides */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	for (;;) {
		int st;
		pid_t r = wait(&st);
		if (r == pid)
			status = st;
		if (r < 0 && errno != EINTR)
			break;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static int usage(void)
{
	fprintf(stderr, "usage: rusage [-n COUNT | -p COUNT] -- STEP [--- STEP ...]\n"
	                "       rusage --reap -- COMMAND [ARG ...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int count = 1, parallel = 0, i = 1, r;
	struct timespec t0, t1;
	struct rusage ru;

	if (argc > 3 && strcmp(argv[1], "--reap") == 0 && strcmp(argv[2], "--") == 0)
		return reap_mode(argv + 3);
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (i + 1 < argc && (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "-p") == 0)) {
			parallel = argv[i][1] == 'p';
			count = atoi(argv[++i]);
		} else {
			return usage();
		}
	}
	if (i >= argc - 1 || count < 1)
		return usage();
	for (i++; i < argc;) {
		int start = i;
		while (i < argc && strcmp(argv[i], "---") != 0)
			i++;
		if (i == start || nsteps == MAX_STEPS)
			return usage();
		steps[nsteps].argv = argv + start;
		steps[nsteps].argc = i - start;
		nsteps++;
		if (i < argc)
			i++;
	}

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (parallel) {
		r = run_parallel(count);
	} else {
		r = 0;
		for (int n = 0; n < count && r == 0; n++)
			r = run_steps(n);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	reap_exited();
	if (r < 0)
		return 1;
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("%lld %ld\n", (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec),
	       ru.ru_maxrss);
	return 0;
}
