# containerd-shim-berth-v2: a containerd runtime v2 shim over libberth.

# The protocol's messages: shim/proto/*.proto compiled with protoc-c into the
# build directory (build products, not committed).
SHIM_PROTOS = shim/proto/wellknown.proto shim/proto/ttrpc.proto shim/proto/task.proto \
	shim/proto/events.proto shim/proto/options.proto shim/proto/metrics.proto \
	shim/proto/introspection.proto
SHIM_PB_C = $(SHIM_PROTOS:.proto=.pb-c.c)
SHIM_PB_H = $(SHIM_PROTOS:.proto=.pb-c.h)
BUILT_SOURCES += $(SHIM_PB_C) $(SHIM_PB_H)
CLEANFILES += $(SHIM_PB_C) $(SHIM_PB_H)
EXTRA_DIST += $(SHIM_PROTOS)

# One protoc-c run per file writes its .c and .h; a stamp orders them.
shim/proto/pb.stamp: $(SHIM_PROTOS)
	@$(MKDIR_P) shim/proto
	$(AM_V_GEN)for p in $(SHIM_PROTOS); do \
	  $(PROTOC_C) --proto_path=$(srcdir)/shim/proto --c_out=shim/proto $(srcdir)/$$p || exit 1; \
	done; touch $@
$(SHIM_PB_C) $(SHIM_PB_H): shim/proto/pb.stamp
CLEANFILES += shim/proto/pb.stamp

# Generated code in its own library, so that only it could get relaxed flags.
noinst_LIBRARIES += libshimpb.a
nodist_libshimpb_a_SOURCES = $(SHIM_PB_C) $(SHIM_PB_H)
libshimpb_a_CPPFLAGS = -I$(top_builddir)/shim/proto $(PROTOBUFC_CFLAGS)
libshimpb_a_CFLAGS = $(AM_CFLAGS)

SHIM_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/shim/proto -I$(top_srcdir)/shim $(PROTOBUFC_CFLAGS)

# ttrpc framing, message helpers and the runtime options, shared with the
# unit tests.
noinst_LIBRARIES += libshimttrpc.a
libshimttrpc_a_SOURCES = shim/ttrpc.c shim/ttrpc.h shim/options.c shim/options.h
libshimttrpc_a_CPPFLAGS = $(SHIM_CPPFLAGS)

bin_PROGRAMS += containerd-shim-berth-v2
containerd_shim_berth_v2_SOURCES = shim/main.c shim/shim.h shim/service.c shim/stdio.c shim/events.c \
	shim/server.c
containerd_shim_berth_v2_CPPFLAGS = $(SHIM_CPPFLAGS)
# The runtime's libraries as berth links them (statically where configure
# found the archives): a shim has no private relocated pages of its own for
# them, which is most of what a shared library costs each process (bench/shim).
containerd_shim_berth_v2_LDADD = libshimttrpc.a libshimpb.a libberth.a liboci.a $(PROTOBUFC_LIBS) \
	$(BERTH_RUNTIME_LIBS)
