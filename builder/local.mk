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
