#!/usr/bin/env bats
# The OCI runtime-tools validation suite (opencontainers/runtime-tools,
# validation/*) run against berth, one bats test per validation program.
#
# The suite is not part of this repository and nothing here builds it: build
# it as docs/conformance.md describes and point BERTH_RUNTIME_TOOLS at its
# work tree (the directory holding runtimetest, rootfs-amd64.tar.gz and
# validation/; its validation/ directory is accepted too). Without it every
# test skips with "runtime-tools not built (set BERTH_RUNTIME_TOOLS)".
#
# A program passes when it exits 0, prints no "not ok" line and no "error"
# diagnostic ahead of its first test line (the hook tests report that way).
# KNOWN_FAILURES (read from tests/conformance/known-failures) lists the
# programs that do not pass here, each with its reason; docs/conformance.md explains each one. The list must only shrink:
# a listed program that passes fails its test so that the entry is removed,
# except for "machine:" entries, which may pass on another kernel.

load helpers

declare -gA KNOWN_FAILURES=()
while IFS=$'\t' read -r name why; do
	[ -n "$name" ] && [ "${name:0:1}" != "#" ] && KNOWN_FAILURES[$name]=$why
done <"$BERTH_SRCDIR/tests/conformance/known-failures"

# Programs that race with the container they start, for any runtime: they
# are run a second time if the first run fails.
declare -gA FLAKY=(
	[killsig]="sends the signal as soon as the container is running, maybe before sh (pid 1, which ignores unhandled signals) has set its trap"
	[poststart]="wants the process's write to the output file before the hook's, but the hook runs once the process has started, racing it (about 1 run in 4 for berth)"
)

# runtime_tools_dir: the runtime-tools work tree in $RT_DIR, or skip.
runtime_tools_dir() {
	RT_DIR=${BERTH_RUNTIME_TOOLS:-}
	[ "${RT_DIR##*/}" = validation ] && RT_DIR=${RT_DIR%/validation}
	if [ -z "$RT_DIR" ] || [ ! -x "$RT_DIR/runtimetest" ] || [ ! -d "$RT_DIR/validation" ]; then
		skip "runtime-tools not built (set BERTH_RUNTIME_TOOLS)"
	fi
}

# The state, bundles and leak checks of helpers.bash, without its busybox
# template: the validation programs make their own bundles (under $TMPDIR).
setup() {
	runtime_tools_dir
	requires root
	[ -x "$BERTH_BIN" ] || fail "$BERTH_BIN is missing: build berth (or set BERTH_BIN)"
	TEST_DIR=$(mktemp -d /tmp/berth-test.XXXXXX)
	chmod 0755 "$TEST_DIR"
	BERTH_ROOT=$TEST_DIR/state
	BERTH_TEST_TAG=$TEST_DIR
	BERTH_CLEANUPS=()
	DEV_NULL_BEFORE=$(stat -c '%F %U:%G %a %t:%T' /dev/null)
	mkdir -p "$TEST_DIR/tmp" "$BERTH_ROOT"
	# The suite runs $RUNTIME with no global option: a wrapper adds --root.
	cat >"$TEST_DIR/runtime" <<-EOF
		#!/bin/sh
		BERTH_TEST_TAG='$BERTH_TEST_TAG' exec '$BERTH_BIN' --root '$BERTH_ROOT' "\$@"
	EOF
	chmod 0755 "$TEST_DIR/runtime"
}

# The cgroup tests use /cgrouptest and, relative to the runtime's own
# cgroup, testdir/cgrouptest/container; the runtime removes only the leaf.
remove_test_cgroups() {
	local d
	for d in /sys/fs/cgroup/cgrouptest /sys/fs/cgroup/*/cgrouptest; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	while read -r d; do
		rmdir "$d/cgrouptest/container" "$d/cgrouptest" "$d" 2>/dev/null
	done < <(find /sys/fs/cgroup -maxdepth 8 -type d -name testdir 2>/dev/null)
	return 0
}

teardown() {
	[ -n "${TEST_DIR:-}" ] || return 0
	remove_test_cgroups
	berth_teardown
}

# run_program NAME: run validation/NAME/NAME.t against berth (TAP in
# $TEST_DIR/out.tap, stderr in err.txt); print why it failed, or nothing.
run_program() {
	local name=$1 rc=0
	(cd "$RT_DIR" && TMPDIR=$TEST_DIR/tmp RUNTIME=$TEST_DIR/runtime \
		timeout -k 5 300 "./validation/$name/$name.t" </dev/null >"$TEST_DIR/out.tap" 2>"$TEST_DIR/err.txt") || rc=$?
	if [ "$rc" != 0 ]; then
		echo "exit status $rc"
	elif grep -q '^not ok' "$TEST_DIR/out.tap"; then
		echo "$(grep -c '^not ok' "$TEST_DIR/out.tap") assertion(s) failed"
	elif awk '/^(not )?ok /{exit} /^ *"error": "[^"]/{found=1; exit} END{exit !found}' "$TEST_DIR/out.tap"; then
		echo "an error diagnostic before any test line"
	fi
	return 0
}

# validate NAME: run validation/NAME/NAME.t against berth and judge it.
validate() {
	local name=$1 known=${KNOWN_FAILURES[$1]:-} why
	[ -x "$RT_DIR/validation/$name/$name.t" ] ||
		fail "$RT_DIR/validation/$name/$name.t is missing: build the validation programs (docs/conformance.md)"
	why=$(run_program "$name")
	local tries=1
	while [ -n "$why" ] && [ -n "${FLAKY[$name]:-}" ] && [ "$tries" -lt 3 ]; do
		echo "# $name: $why; running it again (flaky: ${FLAKY[$name]})"
		why=$(run_program "$name")
		tries=$((tries + 1))
	done

	if [ -z "$why" ]; then
		case $known in
		"" | machine:* | racy:*) return 0 ;;
		*) fail "$name passes now: remove it from tests/conformance/known-failures and docs/conformance.md ($known)" ;;
		esac
	fi
	if [ -n "$known" ]; then
		skip "known failure: $known"
	fi
	echo "# $name: $why"
	grep -A12 '^not ok' "$TEST_DIR/out.tap" | head -60 | sed 's/^/# /'
	head -c 4000 "$TEST_DIR/err.txt" | sed 's/^/# stderr: /'
	fail "$name failed: $why"
}

@test "runtime-tools: every validation program has a test here" {
	runtime_tools_dir
	local have want
	have=$(grep -o '{ validate [a-z_0-9]*;' "$BATS_TEST_FILENAME" | awk '{print $3}' | tr -d ';' | sort)
	want=$(cd "$RT_DIR" && ls validation/*/*.t | sed 's|.*/||; s|\.t$||' | sort)
	[ "$have" = "$want" ] || fail "validation programs without a test here: $(comm -13 <(echo "$have") <(echo "$want") | tr '\n' ' ')"
}

@test "runtime-tools: config_updates_without_affect" { validate config_updates_without_affect; }
@test "runtime-tools: create" { validate create; }
@test "runtime-tools: default" { validate default; }
@test "runtime-tools: delete" { validate delete; }
@test "runtime-tools: delete_only_create_resources" { validate delete_only_create_resources; }
@test "runtime-tools: delete_resources" { validate delete_resources; }
@test "runtime-tools: hooks" { validate hooks; }
@test "runtime-tools: hooks_stdin" { validate hooks_stdin; }
@test "runtime-tools: hostname" { validate hostname; }
@test "runtime-tools: kill" { validate kill; }
@test "runtime-tools: kill_no_effect" { validate kill_no_effect; }
@test "runtime-tools: killsig" { validate killsig; }
@test "runtime-tools: linux_cgroups_blkio" { validate linux_cgroups_blkio; }
@test "runtime-tools: linux_cgroups_cpus" { validate linux_cgroups_cpus; }
@test "runtime-tools: linux_cgroups_devices" { validate linux_cgroups_devices; }
@test "runtime-tools: linux_cgroups_hugetlb" { validate linux_cgroups_hugetlb; }
@test "runtime-tools: linux_cgroups_memory" { validate linux_cgroups_memory; }
@test "runtime-tools: linux_cgroups_network" { validate linux_cgroups_network; }
@test "runtime-tools: linux_cgroups_pids" { validate linux_cgroups_pids; }
@test "runtime-tools: linux_cgroups_relative_blkio" { validate linux_cgroups_relative_blkio; }
@test "runtime-tools: linux_cgroups_relative_cpus" { validate linux_cgroups_relative_cpus; }
@test "runtime-tools: linux_cgroups_relative_devices" { validate linux_cgroups_relative_devices; }
@test "runtime-tools: linux_cgroups_relative_hugetlb" { validate linux_cgroups_relative_hugetlb; }
@test "runtime-tools: linux_cgroups_relative_memory" { validate linux_cgroups_relative_memory; }
@test "runtime-tools: linux_cgroups_relative_network" { validate linux_cgroups_relative_network; }
@test "runtime-tools: linux_cgroups_relative_pids" { validate linux_cgroups_relative_pids; }
@test "runtime-tools: linux_devices" { validate linux_devices; }
@test "runtime-tools: linux_masked_paths" { validate linux_masked_paths; }
@test "runtime-tools: linux_mount_label" { validate linux_mount_label; }
@test "runtime-tools: linux_ns_itype" { validate linux_ns_itype; }
@test "runtime-tools: linux_ns_nopath" { validate linux_ns_nopath; }
@test "runtime-tools: linux_ns_path" { validate linux_ns_path; }
@test "runtime-tools: linux_ns_path_type" { validate linux_ns_path_type; }
@test "runtime-tools: linux_process_apparmor_profile" { validate linux_process_apparmor_profile; }
@test "runtime-tools: linux_readonly_paths" { validate linux_readonly_paths; }
@test "runtime-tools: linux_rootfs_propagation" { validate linux_rootfs_propagation; }
@test "runtime-tools: linux_seccomp" { validate linux_seccomp; }
@test "runtime-tools: linux_sysctl" { validate linux_sysctl; }
@test "runtime-tools: linux_uid_mappings" { validate linux_uid_mappings; }
@test "runtime-tools: misc_props" { validate misc_props; }
@test "runtime-tools: mounts" { validate mounts; }
@test "runtime-tools: pidfile" { validate pidfile; }
@test "runtime-tools: poststart" { validate poststart; }
@test "runtime-tools: poststart_fail" { validate poststart_fail; }
@test "runtime-tools: poststop" { validate poststop; }
@test "runtime-tools: poststop_fail" { validate poststop_fail; }
@test "runtime-tools: prestart" { validate prestart; }
@test "runtime-tools: prestart_fail" { validate prestart_fail; }
@test "runtime-tools: process" { validate process; }
@test "runtime-tools: process_capabilities" { validate process_capabilities; }
@test "runtime-tools: process_capabilities_fail" { validate process_capabilities_fail; }
@test "runtime-tools: process_oom_score_adj" { validate process_oom_score_adj; }
@test "runtime-tools: process_rlimits" { validate process_rlimits; }
@test "runtime-tools: process_rlimits_fail" { validate process_rlimits_fail; }
@test "runtime-tools: process_user" { validate process_user; }
@test "runtime-tools: root_readonly_true" { validate root_readonly_true; }
@test "runtime-tools: start" { validate start; }
@test "runtime-tools: state" { validate state; }
