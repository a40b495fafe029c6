# Fuzz targets (tests/fuzz/README.md).
#
# Every build: tests/fuzz/replay-<target>, TAP tests that run each target
# once on its seed corpus (tests/fuzz/corpus/<target>/) and its regression
# inputs (tests/fuzz/regressions/<target>/), so a crash once found stays
# fixed under gcc and --enable-sanitizers too.
#
# --enable-fuzzing (clang): tests/fuzz/fuzz-<target>, linked with libFuzzer,
# everything built with coverage and ASan + UBSan; `make fuzz` runs each for
# FUZZ_SECONDS and fails when one finds a crash (FUZZ_JOBS=2 runs two at
# once; FUZZ_TARGETS="config seccomp" picks some).

FUZZ_TARGETS = \
	config \
	process \
	state \
	features \
	resources \
	image-index \
	image-manifest \
	image-config \
	descriptor \
	archive \
	layer-apply \
	seccomp \
	mount-options \
	dockerfile \
	expand \
	dockerignore \
	ttrpc
FUZZ_SECONDS = 60
FUZZ_JOBS = 1
FUZZ_IMAGE_LIBS = liboci.a $(ARCHIVE_LIBS) $(CRYPTO_LIBS) $(ZLIB_LIBS) $(ZSTD_LIBS) $(JSONC_LIBS)
FUZZ_RUNTIME_LIBS = libberth.a liboci.a $(JSONC_LIBS) $(CAP_LIBS) $(SECCOMP_LIBS) $(SELINUX_LIBS)
FUZZ_BUILDER_LIBS = libbuilder.a liboci.a
FUZZ_SHIM_CPPFLAGS = $(SHIM_CPPFLAGS)
FUZZ_SHIM_LIBS = libshimttrpc.a libshimpb.a liboci.a $(PROTOBUFC_LIBS)
FUZZ_COMMON = tests/fuzz/fuzz.h tests/fuzz/fuzz_util.c
FUZZERS = \
	tests/fuzz/fuzz-config \
	tests/fuzz/fuzz-process \
	tests/fuzz/fuzz-state \
	tests/fuzz/fuzz-features \
	tests/fuzz/fuzz-resources \
	tests/fuzz/fuzz-image-index \
	tests/fuzz/fuzz-image-manifest \
	tests/fuzz/fuzz-image-config \
	tests/fuzz/fuzz-descriptor \
	tests/fuzz/fuzz-archive \
	tests/fuzz/fuzz-layer-apply \
	tests/fuzz/fuzz-seccomp \
	tests/fuzz/fuzz-mount-options \
	tests/fuzz/fuzz-dockerfile \
	tests/fuzz/fuzz-expand \
	tests/fuzz/fuzz-dockerignore \
	tests/fuzz/fuzz-ttrpc
EXTRA_DIST += tests/fuzz/README.md tests/fuzz/run-fuzzer tests/fuzz/corpus tests/fuzz/regressions tests/fuzz/json.dict \
	tests/fuzz/dockerfile.dict tests/fuzz/make-seeds

check_PROGRAMS += \
	tests/fuzz/replay-config \
	tests/fuzz/replay-process \
	tests/fuzz/replay-state \
	tests/fuzz/replay-features \
	tests/fuzz/replay-resources \
	tests/fuzz/replay-image-index \
	tests/fuzz/replay-image-manifest \
	tests/fuzz/replay-image-config \
	tests/fuzz/replay-descriptor \
	tests/fuzz/replay-archive \
	tests/fuzz/replay-layer-apply \
	tests/fuzz/replay-seccomp \
	tests/fuzz/replay-mount-options \
	tests/fuzz/replay-dockerfile \
	tests/fuzz/replay-expand \
	tests/fuzz/replay-dockerignore \
	tests/fuzz/replay-ttrpc
TESTS += \
	tests/fuzz/replay-config \
	tests/fuzz/replay-process \
	tests/fuzz/replay-state \
	tests/fuzz/replay-features \
	tests/fuzz/replay-resources \
	tests/fuzz/replay-image-index \
	tests/fuzz/replay-image-manifest \
	tests/fuzz/replay-image-config \
	tests/fuzz/replay-descriptor \
	tests/fuzz/replay-archive \
	tests/fuzz/replay-layer-apply \
	tests/fuzz/replay-seccomp \
	tests/fuzz/replay-mount-options \
	tests/fuzz/replay-dockerfile \
	tests/fuzz/replay-expand \
	tests/fuzz/replay-dockerignore \
	tests/fuzz/replay-ttrpc

tests_fuzz_replay_config_SOURCES = tests/fuzz/fuzz_config.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_config_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"config"'
tests_fuzz_replay_config_LDADD = liboci.a $(JSONC_LIBS)
tests_fuzz_replay_process_SOURCES = tests/fuzz/fuzz_process.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_process_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"process"'
tests_fuzz_replay_process_LDADD = liboci.a $(JSONC_LIBS)
tests_fuzz_replay_state_SOURCES = tests/fuzz/fuzz_state.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_state_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"state"'
tests_fuzz_replay_state_LDADD = liboci.a $(JSONC_LIBS)
tests_fuzz_replay_features_SOURCES = tests/fuzz/fuzz_features.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_features_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"features"'
tests_fuzz_replay_features_LDADD = liboci.a $(JSONC_LIBS)
tests_fuzz_replay_resources_SOURCES = tests/fuzz/fuzz_resources.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_resources_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"resources"'
tests_fuzz_replay_resources_LDADD = liboci.a $(JSONC_LIBS)
tests_fuzz_replay_image_index_SOURCES = tests/fuzz/fuzz_image_index.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_image_index_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"image-index"'
tests_fuzz_replay_image_index_LDADD = $(FUZZ_IMAGE_LIBS)
tests_fuzz_replay_image_manifest_SOURCES = tests/fuzz/fuzz_image_manifest.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_image_manifest_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"image-manifest"'
tests_fuzz_replay_image_manifest_LDADD = $(FUZZ_IMAGE_LIBS)
tests_fuzz_replay_image_config_SOURCES = tests/fuzz/fuzz_image_config.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_image_config_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"image-config"'
tests_fuzz_replay_image_config_LDADD = $(FUZZ_IMAGE_LIBS)
tests_fuzz_replay_descriptor_SOURCES = tests/fuzz/fuzz_descriptor.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_descriptor_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"descriptor"'
tests_fuzz_replay_descriptor_LDADD = $(FUZZ_IMAGE_LIBS)
tests_fuzz_replay_archive_SOURCES = tests/fuzz/fuzz_archive.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_archive_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"archive"'
tests_fuzz_replay_archive_LDADD = $(FUZZ_IMAGE_LIBS)
tests_fuzz_replay_layer_apply_SOURCES = tests/fuzz/fuzz_layer_apply.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_layer_apply_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"layer-apply"'
tests_fuzz_replay_layer_apply_LDADD = $(FUZZ_IMAGE_LIBS)
tests_fuzz_replay_seccomp_SOURCES = tests/fuzz/fuzz_seccomp.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_seccomp_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"seccomp"'
tests_fuzz_replay_seccomp_LDADD = $(FUZZ_RUNTIME_LIBS)
tests_fuzz_replay_mount_options_SOURCES = tests/fuzz/fuzz_mount_options.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_mount_options_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"mount-options"'
tests_fuzz_replay_mount_options_LDADD = $(FUZZ_RUNTIME_LIBS)
tests_fuzz_replay_dockerfile_SOURCES = tests/fuzz/fuzz_dockerfile.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_dockerfile_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"dockerfile"'
tests_fuzz_replay_dockerfile_LDADD = $(FUZZ_BUILDER_LIBS)
tests_fuzz_replay_expand_SOURCES = tests/fuzz/fuzz_expand.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_expand_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"expand"'
tests_fuzz_replay_expand_LDADD = $(FUZZ_BUILDER_LIBS)
tests_fuzz_replay_dockerignore_SOURCES = tests/fuzz/fuzz_dockerignore.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_dockerignore_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"dockerignore"'
tests_fuzz_replay_dockerignore_LDADD = $(FUZZ_BUILDER_LIBS)
tests_fuzz_replay_ttrpc_SOURCES = tests/fuzz/fuzz_ttrpc.c tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_replay_ttrpc_CPPFLAGS = $(FUZZ_SHIM_CPPFLAGS) -DFUZZ_NAME='"ttrpc"'
tests_fuzz_replay_ttrpc_LDADD = $(FUZZ_SHIM_LIBS)

if FUZZING
AM_CFLAGS += $(BERTH_FUZZ_CFLAGS)
AM_LDFLAGS += $(BERTH_FUZZ_LDFLAGS)

noinst_PROGRAMS += $(FUZZERS)

tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c $(FUZZ_COMMON)
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_config_LDADD = liboci.a $(JSONC_LIBS)
tests_fuzz_fuzz_process_SOURCES = tests/fuzz/fuzz_process.c $(FUZZ_COMMON)
tests_fuzz_fuzz_process_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_process_LDADD = liboci.a $(JSONC_LIBS)
tests_fuzz_fuzz_state_SOURCES = tests/fuzz/fuzz_state.c $(FUZZ_COMMON)
tests_fuzz_fuzz_state_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_state_LDADD = liboci.a $(JSONC_LIBS)
tests_fuzz_fuzz_features_SOURCES = tests/fuzz/fuzz_features.c $(FUZZ_COMMON)
tests_fuzz_fuzz_features_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_features_LDADD = liboci.a $(JSONC_LIBS)
tests_fuzz_fuzz_resources_SOURCES = tests/fuzz/fuzz_resources.c $(FUZZ_COMMON)
tests_fuzz_fuzz_resources_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_resources_LDADD = liboci.a $(JSONC_LIBS)
tests_fuzz_fuzz_image_index_SOURCES = tests/fuzz/fuzz_image_index.c $(FUZZ_COMMON)
tests_fuzz_fuzz_image_index_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_image_index_LDADD = $(FUZZ_IMAGE_LIBS)
tests_fuzz_fuzz_image_manifest_SOURCES = tests/fuzz/fuzz_image_manifest.c $(FUZZ_COMMON)
tests_fuzz_fuzz_image_manifest_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_image_manifest_LDADD = $(FUZZ_IMAGE_LIBS)
tests_fuzz_fuzz_image_config_SOURCES = tests/fuzz/fuzz_image_config.c $(FUZZ_COMMON)
tests_fuzz_fuzz_image_config_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_image_config_LDADD = $(FUZZ_IMAGE_LIBS)
tests_fuzz_fuzz_descriptor_SOURCES = tests/fuzz/fuzz_descriptor.c $(FUZZ_COMMON)
tests_fuzz_fuzz_descriptor_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_descriptor_LDADD = $(FUZZ_IMAGE_LIBS)
tests_fuzz_fuzz_archive_SOURCES = tests/fuzz/fuzz_archive.c $(FUZZ_COMMON)
tests_fuzz_fuzz_archive_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_archive_LDADD = $(FUZZ_IMAGE_LIBS)
tests_fuzz_fuzz_layer_apply_SOURCES = tests/fuzz/fuzz_layer_apply.c $(FUZZ_COMMON)
tests_fuzz_fuzz_layer_apply_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_layer_apply_LDADD = $(FUZZ_IMAGE_LIBS)
tests_fuzz_fuzz_seccomp_SOURCES = tests/fuzz/fuzz_seccomp.c $(FUZZ_COMMON)
tests_fuzz_fuzz_seccomp_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_seccomp_LDADD = $(FUZZ_RUNTIME_LIBS)
tests_fuzz_fuzz_mount_options_SOURCES = tests/fuzz/fuzz_mount_options.c $(FUZZ_COMMON)
tests_fuzz_fuzz_mount_options_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_mount_options_LDADD = $(FUZZ_RUNTIME_LIBS)
tests_fuzz_fuzz_dockerfile_SOURCES = tests/fuzz/fuzz_dockerfile.c $(FUZZ_COMMON)
tests_fuzz_fuzz_dockerfile_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_dockerfile_LDADD = $(FUZZ_BUILDER_LIBS)
tests_fuzz_fuzz_expand_SOURCES = tests/fuzz/fuzz_expand.c $(FUZZ_COMMON)
tests_fuzz_fuzz_expand_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_expand_LDADD = $(FUZZ_BUILDER_LIBS)
tests_fuzz_fuzz_dockerignore_SOURCES = tests/fuzz/fuzz_dockerignore.c $(FUZZ_COMMON)
tests_fuzz_fuzz_dockerignore_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_dockerignore_LDADD = $(FUZZ_BUILDER_LIBS)
tests_fuzz_fuzz_ttrpc_SOURCES = tests/fuzz/fuzz_ttrpc.c $(FUZZ_COMMON)
tests_fuzz_fuzz_ttrpc_CPPFLAGS = $(FUZZ_SHIM_CPPFLAGS)
tests_fuzz_fuzz_ttrpc_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_ttrpc_LDADD = $(FUZZ_SHIM_LIBS)
# The shim's generated protobuf headers: `make fuzz` in a fresh build
# directory does not make BUILT_SOURCES first (only all and check do).
tests/fuzz/fuzz_ttrpc-fuzz_ttrpc.$(OBJEXT) tests/fuzz/replay_ttrpc-fuzz_ttrpc.$(OBJEXT): $(SHIM_PB_H)

fuzz: $(FUZZERS)
	FUZZ_SECONDS='$(FUZZ_SECONDS)' FUZZ_JOBS='$(FUZZ_JOBS)' $(SHELL) $(srcdir)/tests/fuzz/run-fuzzer $(srcdir) $(FUZZ_TARGETS)
else
fuzz:
	@echo "make fuzz: configure a separate build with --enable-fuzzing CC=clang (tests/fuzz/README.md)" >&2; exit 1
endif
.PHONY: fuzz
