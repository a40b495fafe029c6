# Unit and integration tests.

# Integration tests: bats suites run as root against ./berth, and the static
# helper programs that run inside the test containers.
check_PROGRAMS += tests/helpers/berth-probe tests/helpers/console-receiver tests/helpers/in-pty
tests_helpers_berth_probe_SOURCES = tests/helpers/berth_probe.c
tests_helpers_berth_probe_CFLAGS = $(BERTH_WARN_CFLAGS) -O2
tests_helpers_berth_probe_LDFLAGS = -static
tests_helpers_console_receiver_SOURCES = tests/helpers/console_receiver.c
tests_helpers_console_receiver_CFLAGS = $(BERTH_WARN_CFLAGS) -O2
tests_helpers_console_receiver_LDFLAGS = -static
tests_helpers_in_pty_SOURCES = tests/helpers/in_pty.c
tests_helpers_in_pty_CFLAGS = $(BERTH_WARN_CFLAGS) -O2

BERTH_INTEGRATION_TESTS = \
	tests/integration/lifecycle.bats \
	tests/integration/namespaces.bats \
	tests/integration/mounts.bats \
	tests/integration/devices.bats \
	tests/integration/process.bats \
	tests/integration/hooks.bats \
	tests/integration/errors.bats \
	tests/integration/manage.bats \
	tests/integration/process_attrs.bats \
	tests/integration/security.bats \
	tests/integration/escapes.bats \
	tests/integration/rootless.bats \
	tests/integration/exec.bats \
	tests/integration/cgroups.bats \
	tests/integration/unpack.bats \
	tests/integration/build.bats \
	tests/integration/build_faults.bats
TESTS += $(BERTH_INTEGRATION_TESTS)
EXTRA_DIST += $(BERTH_INTEGRATION_TESTS) tests/integration/helpers.bash tests/demo.sh \
	.ci/install-deps .ci/run
# The OCI runtime-tools suite needs a built copy of runtime-tools, which is
# not part of this repository (docs/conformance.md), so it has a target of its
# own instead of 59 skips in `make check`:
#   make check-conformance BERTH_RUNTIME_TOOLS=/path/to/runtime-tools
EXTRA_DIST += tests/integration/conformance.bats docs/conformance.md
check-conformance: berth
	@test -n '$(BERTH_RUNTIME_TOOLS)' || { echo 'check-conformance: set BERTH_RUNTIME_TOOLS to a built runtime-tools tree (docs/conformance.md)' >&2; exit 1; }
	BERTH_BUILDDIR='$(abs_top_builddir)' BERTH_SRCDIR='$(abs_top_srcdir)' \
	BERTH_RUNTIME_TOOLS='$(BERTH_RUNTIME_TOOLS)' $(BATS) $(top_srcdir)/tests/integration/conformance.bats
.PHONY: check-conformance

# Unit tests: oci-spec/runtime_spec.c (config.json, process.json, state, features).
check_PROGRAMS += tests/unit/test-runtime-spec
TESTS += tests/unit/test-runtime-spec
tests_unit_test_runtime_spec_SOURCES = tests/unit/test_runtime_spec.c
tests_unit_test_runtime_spec_LDADD = liboci.a $(JSONC_LIBS)
EXTRA_DIST += tests/unit/data/config-full.json

# Unit tests: safe_path (hostile symlinks, openat2 and the fallback walk) and
# mount option parsing.
check_PROGRAMS += tests/unit/test-safe-path tests/unit/test-mount-options tests/unit/test-timefmt
TESTS += tests/unit/test-safe-path tests/unit/test-mount-options tests/unit/test-timefmt
tests_unit_test_safe_path_SOURCES = tests/unit/test_safe_path.c
tests_unit_test_safe_path_LDADD = libberth.a liboci.a $(JSONC_LIBS) $(CAP_LIBS) $(SECCOMP_LIBS) $(SELINUX_LIBS)
tests_unit_test_timefmt_SOURCES = tests/unit/test_timefmt.c
tests_unit_test_timefmt_LDADD = liboci.a
tests_unit_test_mount_options_SOURCES = tests/unit/test_mount_options.c
tests_unit_test_mount_options_LDADD = libberth.a liboci.a $(JSONC_LIBS) $(CAP_LIBS) $(SECCOMP_LIBS) $(SELINUX_LIBS)

# Unit tests: the cgroup module (value conversions and paths; v2 writes
# against a scratch directory; and, as root, the machine's real cgroups).
check_PROGRAMS += tests/unit/test-cgroup-values tests/unit/test-cgroup-v2-scratch tests/unit/test-cgroup-live
TESTS += tests/unit/test-cgroup-values tests/unit/test-cgroup-v2-scratch tests/unit/test-cgroup-live
tests_unit_test_cgroup_values_SOURCES = tests/unit/test_cgroup_values.c
tests_unit_test_cgroup_values_LDADD = libberth.a liboci.a $(JSONC_LIBS) $(CAP_LIBS) $(SECCOMP_LIBS) $(SELINUX_LIBS)
tests_unit_test_cgroup_v2_scratch_SOURCES = tests/unit/test_cgroup_v2_scratch.c
tests_unit_test_cgroup_v2_scratch_LDADD = libberth.a liboci.a $(JSONC_LIBS) $(CAP_LIBS) $(SECCOMP_LIBS) $(SELINUX_LIBS)
tests_unit_test_cgroup_live_SOURCES = tests/unit/test_cgroup_live.c
tests_unit_test_cgroup_live_LDADD = libberth.a liboci.a $(JSONC_LIBS) $(CAP_LIBS) $(SECCOMP_LIBS) $(SELINUX_LIBS)

# Unit tests: seccomp (filters built from config.json, loaded in forked
# children; the NOTIFY agent path), and the seccomp agent helper of the
# integration tests (runs on the host: not static).
check_PROGRAMS += tests/unit/test-seccomp tests/helpers/seccomp-agent
TESTS += tests/unit/test-seccomp
tests_unit_test_seccomp_SOURCES = tests/unit/test_seccomp.c
tests_unit_test_seccomp_LDADD = libberth.a liboci.a $(JSONC_LIBS) $(SECCOMP_LIBS) $(CAP_LIBS) $(SELINUX_LIBS)
tests_helpers_seccomp_agent_SOURCES = tests/helpers/seccomp_agent.c
tests_helpers_seccomp_agent_LDADD = $(SECCOMP_LIBS)
# enosys: a command with some system calls failing with ENOSYS (fallbacks).
check_PROGRAMS += tests/helpers/enosys
tests_helpers_enosys_SOURCES = tests/helpers/enosys.c
tests_helpers_enosys_LDADD = $(SECCOMP_LIBS)

# Unit tests: security.c (cpu lists, personality values, the SELinux mount
# option, LSM labels on a host without them; affinity and scheduling applied
# in forked children).
check_PROGRAMS += tests/unit/test-security
TESTS += tests/unit/test-security
tests_unit_test_security_SOURCES = tests/unit/test_security.c
tests_unit_test_security_LDADD = libberth.a liboci.a $(JSONC_LIBS) $(CAP_LIBS) $(SECCOMP_LIBS) $(SELINUX_LIBS)

# Real engines running berth (containerd with its runc shim, podman with
# conmon; .ci/install-deps installs them) and the runc command-line details
# they rely on.
BERTH_COMPAT_TESTS = \
	tests/integration/compat/compat.bats \
	tests/integration/compat/containerd.bats \
	tests/integration/shim.bats \
	tests/integration/compat/cri.bats \
	tests/integration/compat/podman.bats
TESTS += $(BERTH_COMPAT_TESTS)
EXTRA_DIST += $(BERTH_COMPAT_TESTS) tests/integration/compat/compat_helpers.bash \
	tests/integration/compat/cri_client.py tests/integration/compat/pbwire.py
# The shim killed, containerd killed (tests/integration/shim_faults.bats).
TESTS += tests/integration/shim_faults.bats
EXTRA_DIST += tests/integration/shim_faults.bats

# Layers: apply and diff (oci-spec/layer*.c); the layer-apply driver of
# tests/integration/layers.bats (compared with umoci unpack).
check_PROGRAMS += tests/unit/test-layer tests/helpers/layer-apply
TESTS += tests/unit/test-layer
tests_unit_test_layer_SOURCES = tests/unit/test_layer.c
tests_unit_test_layer_LDADD = liboci.a $(ARCHIVE_LIBS) $(CRYPTO_LIBS) $(ZLIB_LIBS) $(ZSTD_LIBS) $(JSONC_LIBS)
tests_helpers_layer_apply_SOURCES = tests/helpers/layer_apply.c
tests_helpers_layer_apply_LDADD = liboci.a $(ARCHIVE_LIBS) $(CRYPTO_LIBS) $(ZLIB_LIBS) $(ZSTD_LIBS) $(JSONC_LIBS)
TESTS += tests/integration/layers.bats
EXTRA_DIST += tests/integration/layers.bats

# Image-spec: types, JSON and digests (oci-spec/image_spec.c, digest.c); the
# layout store and archive import (oci-spec/layout.c, archive_read.c).
check_PROGRAMS += tests/unit/test-image-spec tests/unit/test-layout
TESTS += tests/unit/test-image-spec tests/unit/test-layout
tests_unit_test_image_spec_SOURCES = tests/unit/test_image_spec.c
tests_unit_test_image_spec_LDADD = liboci.a $(ARCHIVE_LIBS) $(CRYPTO_LIBS) $(ZLIB_LIBS) $(ZSTD_LIBS) $(JSONC_LIBS)
tests_unit_test_layout_SOURCES = tests/unit/test_layout.c
tests_unit_test_layout_LDADD = liboci.a $(ARCHIVE_LIBS) $(CRYPTO_LIBS) $(ZLIB_LIBS) $(ZSTD_LIBS) $(JSONC_LIBS)
# Unit test: several processes writing one layout at once (oci-spec/layout.c's index lock).
check_PROGRAMS += tests/unit/test-layout-concurrent
TESTS += tests/unit/test-layout-concurrent
tests_unit_test_layout_concurrent_SOURCES = tests/unit/test_layout_concurrent.c
tests_unit_test_layout_concurrent_LDADD = liboci.a $(ARCHIVE_LIBS) $(CRYPTO_LIBS) $(ZLIB_LIBS) $(ZSTD_LIBS) $(JSONC_LIBS)

# Unit tests: the shim's ttrpc framing and protobuf messages (shim/ttrpc.c,
# shim/proto).
check_PROGRAMS += tests/unit/test-ttrpc
TESTS += tests/unit/test-ttrpc
tests_unit_test_ttrpc_SOURCES = tests/unit/test_ttrpc.c
tests_unit_test_ttrpc_CPPFLAGS = $(SHIM_CPPFLAGS)
tests_unit_test_ttrpc_LDADD = libshimttrpc.a libshimpb.a $(PROTOBUFC_LIBS)
# The shim's runtime options (shim/options.c): the Any and the TOML form.
check_PROGRAMS += tests/unit/test-shim-options
TESTS += tests/unit/test-shim-options
tests_unit_test_shim_options_SOURCES = tests/unit/test_shim_options.c
tests_unit_test_shim_options_CPPFLAGS = $(SHIM_CPPFLAGS)
tests_unit_test_shim_options_LDADD = libshimttrpc.a libshimpb.a libberth.a liboci.a $(PROTOBUFC_LIBS) $(JSONC_LIBS) \
	$(CAP_LIBS) $(SECCOMP_LIBS) $(SELINUX_LIBS)

# Fuzz targets and their corpus replays (tests/fuzz/README.md).
include tests/fuzz/local.mk

# The Dockerfile front end (builder/): word expansion (table), the lexer,
# parser and stages, .dockerignore matching (table); golden dumps of
# tests/builder/golden/*.Dockerfile by berth-build-dump.
check_PROGRAMS += tests/unit/test-builder-expand tests/unit/test-builder-parser \
	tests/unit/test-builder-dockerignore
TESTS += tests/unit/test-builder-expand tests/unit/test-builder-parser \
	tests/unit/test-builder-dockerignore tests/builder/golden.sh
tests_unit_test_builder_expand_SOURCES = tests/unit/test_builder_expand.c
tests_unit_test_builder_expand_LDADD = libbuilder.a liboci.a
tests_unit_test_builder_parser_SOURCES = tests/unit/test_builder_parser.c
tests_unit_test_builder_parser_LDADD = libbuilder.a liboci.a
tests_unit_test_builder_dockerignore_SOURCES = tests/unit/test_builder_dockerignore.c
tests_unit_test_builder_dockerignore_LDADD = libbuilder.a liboci.a
EXTRA_DIST += tests/builder/golden.sh tests/builder/golden
include tests/long.mk
