/* berth unpack, as berth runs it: the image code lives in a helper program,
 * berth-unpack, so that berth itself does not load libarchive, libcrypto
 * and the compressors (and their own dependencies) on every container
 * start.  The helper takes the same command line. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef BERTH_LIBEXECDIR
#define BERTH_LIBEXECDIR "/usr/local/libexec/berth"
#endif

int cmd_unpack(struct cli_global *g, int argc, char **argv)
{
	char self[PATH_MAX], helper[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char **full_argv = argv - g->argv_offset;

	(void)argc;
	/* Beside berth (a build tree), else where `make install` put it. */
	if (n > 0) {
		char *slash;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(helper, sizeof(helper), "%s/berth-unpack", self);
			if (access(helper, X_OK) == 0)
				execv(helper, full_argv);
		}
	}
	snprintf(helper, sizeof(helper), "%s/berth-unpack", BERTH_LIBEXECDIR);
	execv(helper, full_argv);
	return cli_usage_error(g, "unpack: cannot run `%s`: %s", helper, strerror(errno));
}
