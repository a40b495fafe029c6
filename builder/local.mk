# berth-build's front end (no execution): word expansion, the lexer and
# parser of Dockerfiles, typed instructions, stages, .dockerignore.
noinst_LIBRARIES += libbuilder.a
libbuilder_a_SOURCES = \
	builder/expand.c builder/expand.h \
	builder/lexer.c builder/lexer.h \
	builder/parser.c builder/parser.h \
	builder/instructions.c \
	builder/stages.c builder/stages.h \
	builder/dockerignore.c builder/dockerignore.h

# A debug dump of a parsed Dockerfile (the golden tests use it); not installed.
noinst_PROGRAMS += berth-build-dump
berth_build_dump_SOURCES = builder/dump.c
berth_build_dump_LDADD = libbuilder.a liboci.a

# berth-build: the executor (stages built on overlayfs, RUN through
# libberth, COPY/ADD, the layer cache, the output layout) and its CLI.
bin_PROGRAMS += berth-build
berth_build_SOURCES = builder/main.c \
	builder/build.c builder/build.h builder/build_int.h \
	builder/steps.c builder/layer_make.c builder/add_url.c builder/add_url.h \
	builder/run_step.c builder/run_step.h \
	builder/run_mounts.c builder/run_mounts.h \
	builder/fsops.c builder/fsops.h \
	builder/reaper.c builder/reaper.h \
	builder/statcache.c builder/statcache.h \
	builder/copy_reuse.c builder/copy_reuse.h \
	builder/fetch.c builder/fetch.h \
	builder/output.c builder/output.h \
	builder/gzchunks.c builder/gzchunks.h \
	builder/progress.c builder/progress.h \
	builder/prune.c builder/prune.h
berth_build_CFLAGS = $(AM_CFLAGS) -pthread $(CURL_CFLAGS) $(DEFLATE_CFLAGS)
berth_build_LDFLAGS = -pthread
berth_build_LDADD = libbuilder.a libberth.a liboci.a $(BERTH_RUNTIME_LIBS) $(ARCHIVE_LIBS) $(CRYPTO_LIBS) \
	$(ZSTD_LIBS) $(ZLIB_LIBS) $(CURL_LIBS) $(DEFLATE_LIBS)
