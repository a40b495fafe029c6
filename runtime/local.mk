# libberth (the runtime library) and the `berth` command line.
noinst_LIBRARIES += libberth.a
libberth_a_SOURCES = \
	runtime/include/berth/berth.h \
	runtime/lib/rootfs.c runtime/lib/rootfs.h \
	runtime/lib/mounts.c runtime/lib/mounts.h \
	runtime/lib/devices.c runtime/lib/devices.h \
	runtime/lib/safe_path.c runtime/lib/safe_path.h \
	runtime/lib/process.c runtime/lib/process.h

bin_PROGRAMS += berth
berth_SOURCES = runtime/cli/main.c
berth_LDADD = libberth.a liboci.a $(JSONC_LIBS) $(SECCOMP_LIBS) $(CAP_LIBS) $(SELINUX_LIBS)
