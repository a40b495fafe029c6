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

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

/* How much of the binary the loader needs: up to the end of its last
 * program segment.  Debug sections after it are left out of the copy (with
 * the section headers that describe them), which keeps the copy, paid on
 * every container start, small.  0: copy everything. */
static off_t loadable_size(int fd, Elf64_Ehdr *ehdr)
{
	off_t end = 0;

	if (pread(fd, ehdr, sizeof(*ehdr), 0) != (ssize_t)sizeof(*ehdr) ||
	    memcmp(ehdr->e_ident, ELFMAG, SELFMAG) != 0 || ehdr->e_ident[EI_CLASS] != ELFCLASS64 ||
	    ehdr->e_phentsize != sizeof(Elf64_Phdr) || ehdr->e_phnum > 64)
		return 0;
	for (int i = 0; i < ehdr->e_phnum; i++) {
		Elf64_Phdr ph;
		off_t ph_end;
		if (pread(fd, &ph, sizeof(ph), (off_t)(ehdr->e_phoff + (Elf64_Off)i * sizeof(ph))) !=
		    (ssize_t)sizeof(ph))
			return 0;
		ph_end = (off_t)(ph.p_offset + ph.p_filesz);
		if (ph_end > end)
			end = ph_end;
	}
	if ((off_t)(ehdr->e_phoff + (Elf64_Off)ehdr->e_phnum * sizeof(Elf64_Phdr)) > end)
		return 0;
	return end;
}

int berth_reexec_sealed(char **argv, berth_error_t *err)
{
	cleanup_close int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	cleanup_close int copy = -1;
	struct stat st;
	Elf64_Ehdr ehdr;
	off_t offset = 0, size;
	int seals;

	if (exe < 0)
		return berth_error_sys(err, errno, "open /proc/self/exe");
	seals = fcntl(exe, F_GET_SEALS);
	if (seals >= 0 && (seals & SEALS) == SEALS)
		return 0; /* already the sealed copy */
	if (fstat(exe, &st) < 0)
		return berth_error_sys(err, errno, "stat /proc/self/exe");
	size = loadable_size(exe, &ehdr);
	if (size <= 0 || size > st.st_size)
		size = st.st_size;
	copy = memfd_create("berth", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (copy < 0)
		return berth_error_sys(err, errno, "memfd_create");
	while (offset < size) {
		ssize_t n = sendfile(copy, exe, &offset, (size_t)(size - offset));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return berth_error_sys(err, n < 0 ? errno : EIO, "copy /proc/self/exe");
	}
	if (size < st.st_size) {
		/* The section headers were left behind: say there are none. */
		ehdr.e_shoff = 0;
		ehdr.e_shnum = 0;
		ehdr.e_shstrndx = SHN_UNDEF;
		if (pwrite(copy, &ehdr, sizeof(ehdr), 0) != (ssize_t)sizeof(ehdr))
			return berth_error_sys(err, errno, "copy /proc/self/exe");
	}
	if (fcntl(copy, F_ADD_SEALS, SEALS) < 0)
		return berth_error_sys(err, errno, "seal the copy of /proc/self/exe");
	fexecve(copy, argv, environ);
	return berth_error_sys(err, errno, "execute the sealed copy of /proc/self/exe");
}
