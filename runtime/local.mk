# libberth (the runtime library) and the `berth` command line.
noinst_LIBRARIES += libberth.a
libberth_a_SOURCES = \
	runtime/include/berth/berth.h \
	runtime/lib/rootfs.c runtime/lib/rootfs.h \
	runtime/lib/mounts.c runtime/lib/mounts.h \
	runtime/lib/copyup.c runtime/lib/copyup.h \
	runtime/lib/devices.c runtime/lib/devices.h \
	runtime/lib/safe_path.c runtime/lib/safe_path.h \
	runtime/lib/process.c runtime/lib/process.h \
	runtime/lib/api.c \
	runtime/lib/unpack.c \
	runtime/lib/sealed_exe.c \
	runtime/lib/sync.c runtime/lib/sync.h \
	runtime/lib/state.c runtime/lib/state.h \
	runtime/lib/namespaces.c runtime/lib/namespaces.h \
	runtime/lib/hooks.c runtime/lib/hooks.h \
	runtime/lib/terminal.c runtime/lib/terminal.h \
	runtime/lib/create.c runtime/lib/create.h \
	runtime/lib/init.c \
	runtime/lib/run.c \
	runtime/lib/supervise.c runtime/lib/supervise.h \
	runtime/lib/exec.c \
	runtime/lib/lifecycle.c \
	runtime/lib/cgroup.c runtime/lib/cgroup.h runtime/lib/cgroup_internal.h \
	runtime/lib/cgroup_v1.c runtime/lib/cgroup_v2.c runtime/lib/cgroup_bpf.c \
	runtime/lib/manage.c runtime/lib/features.c
libberth_a_SOURCES += runtime/lib/seccomp.c runtime/lib/seccomp.h

bin_PROGRAMS += berth
berth_SOURCES = runtime/cli/main.c runtime/cli/cli.c runtime/cli/cli.h runtime/cli/cmd_create.c \
	runtime/cli/cmd_simple.c runtime/cli/cmd_list.c runtime/cli/cmd_exec.c runtime/cli/cmd_unpack_exec.c
berth_SOURCES += runtime/cli/cmd_manage.c
berth_CPPFLAGS = $(AM_CPPFLAGS) -DBERTH_LIBEXECDIR='"$(pkglibexecdir)"'
berth_LDADD = libberth.a liboci.a $(BERTH_RUNTIME_LIBS)

# The image code and its libraries (libarchive, libcrypto, zstd, zlib and
# what they pull in) live in a helper that `berth unpack` executes, so that
# berth does not load them on every container start.
pkglibexec_PROGRAMS = berth-unpack
berth_unpack_SOURCES = runtime/cli/main.c runtime/cli/cli.c runtime/cli/cli.h runtime/cli/cmd_unpack.c
berth_unpack_CPPFLAGS = $(AM_CPPFLAGS) -DBERTH_UNPACK_ONLY
berth_unpack_LDADD = libberth.a liboci.a $(BERTH_RUNTIME_LIBS) $(ARCHIVE_LIBS) $(CRYPTO_LIBS) $(ZSTD_LIBS) \
	$(ZLIB_LIBS)
libberth_a_SOURCES += runtime/lib/security.c runtime/lib/security.h
