# Unit and integration tests.

# Unit tests: oci-spec/runtime_spec.c (config.json, process.json, state, features).
check_PROGRAMS += tests/unit/test-runtime-spec
TESTS += tests/unit/test-runtime-spec
tests_unit_test_runtime_spec_SOURCES = tests/unit/test_runtime_spec.c
tests_unit_test_runtime_spec_LDADD = liboci.a $(JSONC_LIBS)
EXTRA_DIST += tests/unit/data/config-full.json
