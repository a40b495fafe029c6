/* Protection of the runtime's own binary (the class of CVE-2019-5736).
 *
 * Until it executes the user's program, a container's init (and an exec'd
 * process) runs the runtime's binary, and a process in the container could
 * open it through /proc/<pid>/exe and write to it.  So programs that start
 * container processes first re-execute themselves from a sealed memfd copy:
 * /proc/<pid>/exe then names a file that no one can write.
 */
#include "berth/berth.h"
#include "util/cleanup.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

int berth_reexec_sealed(char **argv, berth_error_t *err)
{
	cleanup_close int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	cleanup_close int copy = -1;
	struct stat st;
	off_t offset = 0;
	int seals;

	if (exe < 0)
		return berth_error_sys(err, errno, "open /proc/self/exe");
	seals = fcntl(exe, F_GET_SEALS);
	if (seals >= 0 && (seals & SEALS) == SEALS)
		return 0; /* already the sealed copy */
	if (fstat(exe, &st) < 0)
		return berth_error_sys(err, errno, "stat /proc/self/exe");
	copy = memfd_create("berth", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (copy < 0)
		return berth_error_sys(err, errno, "memfd_create");
	while (offset < st.st_size) {
		ssize_t n = sendfile(copy, exe, &offset, (size_t)(st.st_size - offset));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return berth_error_sys(err, n < 0 ? errno : EIO, "copy /proc/self/exe");
	}
	if (fcntl(copy, F_ADD_SEALS, SEALS) < 0)
		return berth_error_sys(err, errno, "seal the copy of /proc/self/exe");
	fexecve(copy, argv, environ);
	return berth_error_sys(err, errno, "execute the sealed copy of /proc/self/exe");
}
