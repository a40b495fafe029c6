# Issue 10's load and fault suites: `make check` runs them at a size CI has
# time for; `make check-long` runs them at full size: 200 containers created,
# started and deleted 8 at a time, 2,000 sequential run lifecycles, create
# killed at every syscall and at 1/200 steps of its time.
BERTH_LONG_TESTS = tests/integration/faults.bats tests/integration/load.bats
TESTS += $(BERTH_LONG_TESTS)
EXTRA_DIST += $(BERTH_LONG_TESTS)

check-long: berth tests/helpers/berth-probe tests/helpers/console-receiver
	BERTH_BUILDDIR='$(abs_top_builddir)' BERTH_SRCDIR='$(abs_top_srcdir)' BERTH_FAULTS_LONG=1 \
	BERTH_LOAD_CONCURRENT=200 BERTH_LOAD_PARALLEL=8 BERTH_LOAD_SEQUENTIAL=2000 \
	$(BATS) --timing $(top_srcdir)/tests/integration/faults.bats $(top_srcdir)/tests/integration/load.bats
.PHONY: check-long
