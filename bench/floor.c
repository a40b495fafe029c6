/* floor: the bare kernel work under a container start, for bench/run.
 *
 * usage: floor ROOTFS PROGRAM [ARG ...]
 *
 * One clone() with the namespaces of the benchmark's config.json (pid, net,
 * ipc, uts, mount), and in the child chroot(ROOTFS) + execve(PROGRAM); the
 * parent waits and exits with the child's status. No mounts, no cgroups, no
 * config, no state: what any runtime pays at least for the same container. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const unsigned long flags = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS;
	int status;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: floor ROOTFS PROGRAM [ARG ...]\n");
		return 2;
	}
	/* the raw syscall: a fork-like clone with new namespaces, no stack to set up */
	pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		fprintf(stderr, "floor: clone: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		if (chroot(argv[1]) < 0 || chdir("/") < 0) {
			fprintf(stderr, "floor: chroot `%s`: %s\n", argv[1], strerror(errno));
			_exit(126);
		}
		execv(argv[2], argv + 2);
		fprintf(stderr, "floor: exec `%s`: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
