/* enosys: runs a command on which some system calls fail with ENOSYS, as
 * they do on a kernel that predates them, so that the integration tests
 * reach the runtime's fallbacks (runs on the host: not static).
 *
 *   enosys SYSCALL[,SYSCALL...] COMMAND [ARG...]
 *
 * SYSCALL=N fails the call only when its first argument is N (prctl=35:
 * prctl(PR_SET_MM, ...), the other prctl options still work).
 * The filter is inherited by every child (the runtime's init among them).
 * It is loaded without no_new_privs, which needs CAP_SYS_ADMIN: run as root.
 * Exit status 125: a setup error, with a message on stderr; otherwise that
 * of COMMAND (127 when it cannot be executed).
 */
#include "config.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	char *names, *save = NULL;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: enosys SYSCALL[,SYSCALL...] COMMAND [ARG...]\n");
		return 125;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	names = strdup(argv[1]);
	if (ctx == NULL || names == NULL) {
		fprintf(stderr, "enosys: out of memory\n");
		return 125;
	}
	/* The filter stays with the processes of COMMAND, not ours to keep. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (char *n = strtok_r(names, ",", &save); n != NULL; n = strtok_r(NULL, ",", &save)) {
		char *arg = strchr(n, '=');
		int nr;
		if (arg != NULL)
			*arg++ = '\0';
		nr = seccomp_syscall_resolve_name(n);
		if (nr == __NR_SCMP_ERROR) {
			fprintf(stderr, "enosys: unknown system call `%s`\n", n);
			return 125;
		}
		if (arg != NULL)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 1,
			                      SCMP_A0(SCMP_CMP_EQ, strtoull(arg, NULL, 0)));
		else
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		if (rc < 0) {
			fprintf(stderr, "enosys: rule for `%s`: %s\n", n, strerror(-rc));
			return 125;
		}
	}
	rc = seccomp_load(ctx);
	if (rc < 0) {
		fprintf(stderr, "enosys: load the filter: %s\n", strerror(-rc));
		return 125;
	}
	seccomp_release(ctx);
	free(names);
	execvp(argv[2], argv + 2);
	fprintf(stderr, "enosys: exec `%s`: %s\n", argv[2], strerror(errno));
	return 127;
}
