/* Protection of the runtime's own binary (the class of CVE-2019-5736).
 *
 * Until it executes the user's program, a container's init (and an exec'd
 * process) runs the runtime's binary, and a process in the container could
 * open it through /proc/<pid>/exe and write to it.  So programs that start
 * container processes first switch to a sealed memfd copy of their binary:
 * /proc/<pid>/exe then names a file that no one can write, in the program
 * and in every process it forks (init, exec'd processes).
 *
 * Two ways to switch, the first where the kernel allows it:
 *   in place   map the copy over the program's code, move the pages the
 *              loader wrote (relocations, data) to anonymous memory, so that
 *              nothing maps the binary any more, then make the copy the
 *              process's executable with prctl(PR_SET_MM_MAP).  Needs
 *              CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE and a kernel built
 *              with CONFIG_CHECKPOINT_RESTORE.  About 0.15 ms.
 *   re-exec    execute the copy (fexecve): a whole second program start,
 *              1-1.5 ms on the development VMs, where glibc's start-up probes
 *              the CPU with CPUID, which traps to the hypervisor.
 * berth_seal_exe tries the first; a failure at any step leaves a consistent
 * process (every page it replaced had the same content) and falls back to
 * the second.  berth_reexec_sealed always takes the second: its callers want
 * the new argv executed (the shim's child becoming its server).
 */
#include "berth/berth.h"
#include "util/cleanup.h"
#include "util/error.h"

#include <elf.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/prctl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

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

/* The sealed copy of the binary open as `exe` (with its stat). */
static int make_copy(int exe, const struct stat *st, berth_error_t *err)
{
	cleanup_close int copy = -1;
	Elf64_Ehdr ehdr;
	off_t offset = 0, size = loadable_size(exe, &ehdr);

	if (size <= 0 || size > st->st_size)
		size = st->st_size;
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
	if (size < st->st_size) {
		/* The section headers were left behind: say there are none. */
		ehdr.e_shoff = 0;
		ehdr.e_shnum = 0;
		ehdr.e_shstrndx = SHN_UNDEF;
		if (pwrite(copy, &ehdr, sizeof(ehdr), 0) != (ssize_t)sizeof(ehdr))
			return berth_error_sys(err, errno, "copy /proc/self/exe");
	}
	if (fcntl(copy, F_ADD_SEALS, SEALS) < 0)
		return berth_error_sys(err, errno, "seal the copy of /proc/self/exe");
	return steal_fd(&copy);
}

/* ---- in place ---- */

/* Whether prctl(PR_SET_MM_MAP) can change our executable: the kernel has it
 * and we hold one of the capabilities it asks for. */
static bool can_set_exe(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};
	unsigned int size = 0;

	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0) < 0 || size != sizeof(struct prctl_mm_map))
		return false;
	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return (data[0].effective & (1U << CAP_SYS_ADMIN)) != 0 ||
	       (data[CAP_CHECKPOINT_RESTORE / 32].effective & (1U << (CAP_CHECKPOINT_RESTORE % 32))) != 0;
}

struct exe_vma {
	uintptr_t start, end;
	off_t offset;
	int prot;
};

#define MAX_EXE_VMAS 16

/* A hexadecimal or decimal field of a /proc/self/maps line, then the
 * expected separator; NULL if the line does not have it. */
static const char *maps_field(const char *p, int base, char sep, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(p, &end, base);
	if (end == p || errno != 0 || *end != sep)
		return NULL;
	return end + 1;
}

/* "start-end perms offset major:minor inode ...": parsed by hand, as this
 * runs on every container start and sscanf costs ten times as much. */
static bool parse_maps_line(const char *p, struct exe_vma *v, dev_t *dev, unsigned long long *inode)
{
	unsigned long long start, end, offset, major, minor;
	char perms[4];

	if ((p = maps_field(p, 16, '-', &start)) == NULL || (p = maps_field(p, 16, ' ', &end)) == NULL ||
	    strlen(p) < 5 || p[4] != ' ')
		return false;
	memcpy(perms, p, 4);
	p += 5;
	if ((p = maps_field(p, 16, ' ', &offset)) == NULL || (p = maps_field(p, 16, ':', &major)) == NULL ||
	    (p = maps_field(p, 16, ' ', &minor)) == NULL)
		return false;
	errno = 0;
	*inode = strtoull(p, NULL, 10);
	if (errno != 0)
		return false;
	*dev = makedev((unsigned int)major, (unsigned int)minor);
	v->start = (uintptr_t)start;
	v->end = (uintptr_t)end;
	v->offset = (off_t)offset;
	v->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
	          (perms[2] == 'x' ? PROT_EXEC : 0);
	return true;
}

/* The mappings of the file dev:ino, from /proc/self/maps; -1 if unreadable
 * or more than MAX_EXE_VMAS. */
static int exe_vmas(dev_t dev, ino_t ino, struct exe_vma *vmas)
{
	cleanup_fclose FILE *maps = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

	if (maps == NULL)
		return -1;
	while (fgets(line, sizeof(line), maps) != NULL) {
		struct exe_vma v;
		unsigned long long inode;
		dev_t d;

		if (!parse_maps_line(line, &v, &d, &inode) || inode != (unsigned long long)ino || d != dev)
			continue;
		if (n == MAX_EXE_VMAS)
			return -1;
		vmas[n++] = v;
	}
	return n;
}

/* The load bias and program headers of the program itself: the first object
 * dl_iterate_phdr reports, in a dynamic and in a static-pie binary alike
 * (the latter has no PT_PHDR to derive the bias from). */
struct program_headers {
	const Elf64_Phdr *ph;
	size_t n;
	uintptr_t bias;
};

static int first_object(struct dl_phdr_info *info, size_t size, void *data)
{
	struct program_headers *p = data;

	p->ph = info->dlpi_phdr;
	p->n = info->dlpi_phnum;
	p->bias = info->dlpi_addr;
	return 1;
}

/* Whether the address lies in a writable segment of the program: pages the
 * loader wrote (relocations, RELRO before its mprotect, data), which differ
 * from the file even where they are read-only now. */
static bool in_writable_segment(const struct program_headers *p, uintptr_t addr)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);

	if (p->ph == NULL)
		return true;
	for (size_t i = 0; i < p->n; i++) {
		uintptr_t start = (p->bias + p->ph[i].p_vaddr) & ~(page - 1);
		uintptr_t end = p->bias + p->ph[i].p_vaddr + p->ph[i].p_memsz;
		if (p->ph[i].p_type == PT_LOAD && (p->ph[i].p_flags & PF_W) && addr >= start && addr < end)
			return true;
	}
	return false;
}

/* Word by word, not through memcpy: the region holds the program's globals
 * and, in a sanitizer build, the poisoned red zones between them, which an
 * instrumented memcpy refuses to read. */
__attribute__((no_sanitize_address)) static void copy_words(uintptr_t *to, const volatile uintptr_t *from,
                                                            size_t len)
{
	for (size_t i = 0; i < len / sizeof(uintptr_t); i++)
		to[i] = from[i];
}

/* Replaces one mapping of the binary by the same bytes from elsewhere: the
 * copy's pages where they are the file's, an anonymous copy where the
 * process wrote them.  The new mapping takes the old one's place in one
 * call (MAP_FIXED, mremap), so that the code running now stays mapped. */
static int replace_vma(const struct program_headers *p, const struct exe_vma *v, int copy)
{
	size_t len = v->end - v->start;
	void *anon;

	if (!in_writable_segment(p, v->start) && !(v->prot & PROT_WRITE))
		return mmap((void *)v->start, len, v->prot, MAP_PRIVATE | MAP_FIXED, copy, v->offset) ==
		               MAP_FAILED
		           ? -1
		           : 0;
	anon = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		return -1;
	copy_words(anon, (const volatile uintptr_t *)v->start, len);
	if (mprotect(anon, len, v->prot) < 0 ||
	    mremap(anon, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)v->start) == MAP_FAILED) {
		munmap(anon, len);
		return -1;
	}
	return 0;
}

/* prctl(PR_SET_MM_MAP) sets every field of the memory layout at once: ours,
 * from /proc/self/stat, with the copy as the executable. */
static int set_exe(int copy)
{
	char buf[2048], *p, *save = NULL;
	unsigned long long field[52] = {0};
	cleanup_close int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	struct prctl_mm_map map;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* after the command name, which may hold anything */
	if (p == NULL)
		return -1;
	/* field 3 (state) onwards; fields 26-28 and 45-51 are the layout */
	p = strtok_r(p + 1, " ", &save);
	for (int i = 3; p != NULL && i < 52; i++, p = strtok_r(NULL, " ", &save))
		field[i] = strtoull(p, NULL, 10);
	map = (struct prctl_mm_map){
	    .start_code = field[26],
	    .end_code = field[27],
	    .start_stack = field[28],
	    .start_data = field[45],
	    .end_data = field[46],
	    .start_brk = field[47],
	    .brk = (uint64_t)syscall(SYS_brk, 0),
	    .arg_start = field[48],
	    .arg_end = field[49],
	    .env_start = field[50],
	    .env_end = field[51],
	    .exe_fd = (uint32_t)copy,
	};
	if (map.env_end == 0)
		return -1; /* a kernel without these fields */
	return prctl(PR_SET_MM, PR_SET_MM_MAP, &map, sizeof(map), 0);
}

static int swap_in_place(int copy, const struct stat *st)
{
	struct exe_vma vmas[MAX_EXE_VMAS];
	struct program_headers program = {0};
	int n = exe_vmas(st->st_dev, st->st_ino, vmas);

	if (n <= 0)
		return -1;
	dl_iterate_phdr(first_object, &program);
	for (int i = 0; i < n; i++) {
		if (replace_vma(&program, &vmas[i], copy) < 0)
			return -1;
	}
	return set_exe(copy);
}

static int seal(char **argv, bool in_place, berth_error_t *err)
{
	cleanup_close int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	cleanup_close int copy = -1;
	struct stat st;
	int seals;

	if (exe < 0)
		return berth_error_sys(err, errno, "open /proc/self/exe");
	seals = fcntl(exe, F_GET_SEALS);
	if (seals >= 0 && (seals & SEALS) == SEALS)
		return 0; /* already the sealed copy */
	if (fstat(exe, &st) < 0)
		return berth_error_sys(err, errno, "stat /proc/self/exe");
	copy = make_copy(exe, &st, err);
	if (copy < 0)
		return -1;
	if (in_place && can_set_exe() && swap_in_place(copy, &st) == 0)
		return 0;
	fexecve(copy, argv, environ);
	return berth_error_sys(err, errno, "execute the sealed copy of /proc/self/exe");
}

int berth_reexec_sealed(char **argv, berth_error_t *err)
{
	return seal(argv, false, err);
}

int berth_seal_exe(char **argv, berth_error_t *err)
{
	return seal(argv, true, err);
}
