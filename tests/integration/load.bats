#!/usr/bin/env bats
# Load: many containers created, started and deleted concurrently (a bounded
# number at a time) and many `run` lifecycles one after the other: none may
# fail, and afterwards the machine holds what it held before: the same
# state directories (none), cgroups under the test's cgroup parent (none),
# processes of the test (none), mounts under the test directory (none) and
# fds of the test shell; and, machine-wide, no growth of allocated file
# handles (/proc/sys/fs/file-nr), mounts (/proc/self/mountinfo) or processes
# beyond what other jobs on the machine move them by (file handles swing by
# about 200 on a busy development VM): they may grow by less than 300 (mounts:
# 20) plus a quarter of the containers, so the long run (2,000) catches a leak
# of one per container.
#
# Sizes: BERTH_LOAD_CONCURRENT containers (default 50), BERTH_LOAD_PARALLEL
# at a time (default 8), BERTH_LOAD_SEQUENTIAL runs (default 200); `make
# check-long` runs 200 concurrent and 2,000 sequential.

load helpers

setup_file() {
	berth_setup_file
}

teardown_file() {
	berth_teardown_file
}

setup() {
	berth_setup
	CG_PARENT=berth-load-${TEST_DIR##*.}
	update_config '.linux.cgroupsPath = $cg' --arg cg "/$CG_PARENT/ctr"
	defer remove_cgroup_parent
}

teardown() {
	berth_teardown
}

# snapshot: "name value" lines of what the load must not change.
snapshot() {
	local m
	echo "state-directories $(state_dirs | wc -l)"
	echo "cgroups $(for m in $(cgroup_mounts); do
		[ ! -d "$m/$CG_PARENT" ] || find "$m/$CG_PARENT" -mindepth 1 -type d
	done | wc -l)"
	echo "test-processes $(tagged_pids | wc -l)"
	echo "test-mounts $(test_mounts | wc -l)"
	echo "shell-fds $(find "/proc/$$/fd" -mindepth 1 | wc -l)"
	echo "file-handles $(cut -f1 /proc/sys/fs/file-nr)"
	echo "mounts $(wc -l </proc/self/mountinfo)"
	echo "processes $(ps -e -o stat= | grep -vc '^Z')"
}

# assert_same BEFORE AFTER N: the test's own counts are equal; the machine's
# grew by less than N/4 (N: the number of containers).
assert_same() {
	local name before after n=$3 errors=()
	while read -r name before; do
		after=$(awk -v k="$name" '$1 == k { print $2 }' <<<"$2")
		case $name in
		file-handles | processes)
			((after - before < 300 + n / 4)) || errors+=("$name: $before before, $after after $n containers")
			;;
		mounts)
			((after - before < 20 + n / 4)) || errors+=("$name: $before before, $after after $n containers")
			;;
		*) [ "$after" = "$before" ] || errors+=("$name: $before before, $after after") ;;
		esac
	done <<<"$1"
	echo "# before: $(echo $1)"
	echo "# after:  $(echo $2)"
	[ ${#errors[@]} = 0 ] || fail "$(printf '%s\n' "${errors[@]}")"
}

# settle: let exited containers' processes and the kernel's deferred frees
# (network namespaces, files) finish, at most 10 s.
settle() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -z "$(tagged_pids)" ] && break
		sleep 0.1
	done
	sleep 1
}

@test "containers created, started and deleted concurrently: no failure, nothing left" {
	local n=${BERTH_LOAD_CONCURRENT:-50} par=${BERTH_LOAD_PARALLEL:-8} i before after t0 t1
	# a bundle per container (its own cgroup), one shared rootfs
	for ((i = 0; i < n; i++)); do
		mkdir -p "$TEST_DIR/b/c$i"
		jq --arg cg "/$CG_PARENT/c$i" --arg root "$ROOTFS" '.linux.cgroupsPath = $cg | .root.path = $root' \
			"$BUNDLE/config.json" >"$TEST_DIR/b/c$i/config.json"
	done
	# warm-up: the cgroup parents exist before the first snapshot
	create_container warm
	assert_equal "$status" 0
	run berth delete --force warm
	assert_success
	settle
	before=$(snapshot)
	# one container: create, start, wait until its process exited, delete
	# (the container's stdio is never a pipe that a command substitution
	# waits on: init holds it until it exits)
	cycle() {
		local id=c$1 out i BERTH_TEST_TAG=$LOAD_TAG
		berth create --bundle "$TEST_DIR/b/$id" "$id" </dev/null >/dev/null 2>"$TEST_DIR/b/$id/err" || {
			echo "$id: create: $(cat "$TEST_DIR/b/$id/err")"
			return 1
		}
		out=$(berth start "$id" 2>&1) || {
			echo "$id: start: $out"
			return 1
		}
		for ((i = 0; i < 1000; i++)); do
			[ "$(state_field "$id" status)" = stopped ] && break
			sleep 0.01
		done
		out=$(berth delete "$id" 2>&1) || {
			echo "$id: delete: $out"
			return 1
		}
	}
	# (the tag under another name: an exported BERTH_TEST_TAG would mark the
	# test's own subshells as the containers' processes)
	export -f cycle berth state_field
	export BERTH_BIN BERTH_ROOT BERTH_CMD_TIMEOUT TEST_DIR LOAD_TAG=$BERTH_TEST_TAG
	t0=$EPOCHREALTIME
	run bash -c "seq 0 $((n - 1)) | xargs -P $par -I{} bash -c 'cycle {}'"
	t1=$EPOCHREALTIME
	[ "$status" = 0 ] || fail "$(echo "$output" | head -20)"
	echo "# $n containers, $par at a time: $(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.1f s, %.1f containers/s", b - a, n / (b - a) }')"
	settle
	after=$(snapshot)
	assert_same "$before" "$after" "$n"
}

@test "run lifecycles one after the other: no failure, nothing left" {
	local n=${BERTH_LOAD_SEQUENTIAL:-200} i before after t0 t1 out
	run_container warm
	assert_equal "$status" 0
	settle
	before=$(snapshot)
	t0=$EPOCHREALTIME
	for ((i = 0; i < n; i++)); do
		out=$(berth run --bundle "$BUNDLE" "s$i" 2>&1 </dev/null) || fail "run $i of $n failed: $out"
	done
	t1=$EPOCHREALTIME
	echo "# $n runs: $(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.1f s, %.1f containers/s", b - a, n / (b - a) }')"
	settle
	after=$(snapshot)
	assert_same "$before" "$after" "$n"
}
