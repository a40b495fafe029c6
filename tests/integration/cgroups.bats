#!/usr/bin/env bats
# Cgroups of containers on this machine's hybrid layout: linux.resources read
# back from the v1 controllers' files (and hugetlb from the unified
# hierarchy), cgroupsPath placement, the systemd driver refused, kill --all
# and delete through the cgroup. Every container's cgroup is
# /berth-test-<pid>-<test>/ctr, under the hierarchy roots, so nothing touches
# the machine's own cgroups; the parent is removed after each test.

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
setup() {
	berth_setup
	CG_PARENT=berth-test-$$-$BATS_TEST_NUMBER
	update_config '.linux.cgroupsPath = $p' --arg p "/$CG_PARENT/ctr"
	set_args /bin/berth-probe sleep 1000
	defer remove_cgroup_parent
}
teardown() { berth_teardown; }

# cg CONTROLLER FILE: FILE of the container's cgroup ("unified": the v2 one).
cg() {
	echo "/sys/fs/cgroup/$1/$CG_PARENT/ctr/$2"
}

# assert_cg CONTROLLER FILE VALUE: the file's content.
assert_cg() {
	local f
	f=$(cg "$1" "$2")
	[ -e "$f" ] || fail "$f does not exist"
	assert_equal "$(cat "$f")" "$3"
}

# assert_cgroup_gone [PATH]: no hierarchy holds /$CG_PARENT/PATH (default ctr).
assert_cgroup_gone() {
	local d
	for d in /sys/fs/cgroup/*/"$CG_PARENT"/"${1:-ctr}"; do
		[ -d "$d" ] && fail "cgroup $d is left after delete: $(find "$d" -type d | tr '\n' ' ')"
	done
	return 0
}

# start_ctr: run -d; $INIT is init's pid.
start_ctr() {
	run_detached ctr
	[ "$status" -eq 0 ] || fail "run -d failed: $output"
	INIT=$(state_field ctr pid)
}

# delete_ctr: delete --force, then no cgroup is left.
delete_ctr() {
	run berth delete --force ctr
	assert_success
	wait_pid_gone "$INIT"
	assert_cgroup_gone
}

# root_disk: "MAJOR:MINOR" of the whole disk under /, or skip.
root_disk() {
	local dev
	dev=$(stat -c '%Hd:%Ld' /)
	[ -e "/sys/dev/block/$dev" ] || skip "/ is not on a block device ($dev)"
	if [ -e "/sys/dev/block/$dev/partition" ]; then
		dev=$(cat "/sys/dev/block/$dev/../dev")
	fi
	echo "$dev"
}

@test "memory: limit, reservation, swap, swappiness and disableOOMKiller" {
	update_config '.linux.resources.memory = {"limit": 67108864, "reservation": 33554432,
		"swap": 134217728, "swappiness": 10, "disableOOMKiller": true}'
	start_ctr
	assert_cg memory memory.limit_in_bytes 67108864
	assert_cg memory memory.soft_limit_in_bytes 33554432
	assert_cg memory memory.memsw.limit_in_bytes 134217728
	assert_cg memory memory.swappiness 10
	assert_equal "$(grep oom_kill_disable "$(cg memory memory.oom_control)")" "oom_kill_disable 1"
	grep -qx "$INIT" "$(cg memory cgroup.procs)" || fail "init is not in the memory cgroup"
	delete_ctr
}

@test "cpu: shares, quota, period, burst, cpus and mems" {
	update_config '.linux.resources.cpu = {"shares": 512, "quota": 20000, "period": 50000,
		"burst": 10000, "cpus": "0", "mems": "0"}'
	start_ctr
	assert_cg cpu cpu.shares 512
	assert_cg cpu cpu.cfs_quota_us 20000
	assert_cg cpu cpu.cfs_period_us 50000
	[ -e "$(cg cpu cpu.cfs_burst_us)" ] && assert_cg cpu cpu.cfs_burst_us 10000
	assert_cg cpuset cpuset.cpus 0
	assert_cg cpuset cpuset.mems 0
	grep -qx "$INIT" "$(cg cpuset cgroup.procs)" || fail "init is not in the cpuset cgroup"
	delete_ctr
}

@test "cpu: idle" {
	[ -e /sys/fs/cgroup/cpu/cpu.idle ] || skip "the kernel has no cpu.idle"
	update_config '.linux.resources.cpu = {"idle": 1}'
	start_ctr
	assert_cg cpu cpu.idle 1
	# an idle group has the lowest weight
	assert_cg cpu cpu.shares 3
	delete_ctr
}

@test "cpu: realtime runtime and period" {
	[ -e /sys/fs/cgroup/cpu/cpu.rt_runtime_us ] || skip "the kernel has no RT group scheduling (cpu.rt_runtime_us)"
	# a child's RT budget comes out of its parent's, which is 0 for a new
	# cgroup: the test's parent gets some by hand (as runc's tests do)
	mkdir /sys/fs/cgroup/cpu/"$CG_PARENT"
	echo 20000 >/sys/fs/cgroup/cpu/"$CG_PARENT"/cpu.rt_runtime_us
	update_config '.linux.resources.cpu = {"realtimeRuntime": 5000, "realtimePeriod": 500000}'
	start_ctr
	assert_cg cpu cpu.rt_period_us 500000
	assert_cg cpu cpu.rt_runtime_us 5000
	delete_ctr
}

@test "pids: limit" {
	update_config '.linux.resources.pids = {"limit": 42}'
	start_ctr
	assert_cg pids pids.max 42
	assert_equal "$(cat "$(cg pids pids.current)")" 1
	delete_ctr
}

@test "blockIO: weight and the four throttles of the disk under /" {
	local dev
	dev=$(root_disk)
	update_config '.linux.resources.blockIO = {"weight": 300,
		"throttleReadBpsDevice": [{"major": $ma, "minor": $mi, "rate": 1048576}],
		"throttleWriteBpsDevice": [{"major": $ma, "minor": $mi, "rate": 2097152}],
		"throttleReadIOPSDevice": [{"major": $ma, "minor": $mi, "rate": 50}],
		"throttleWriteIOPSDevice": [{"major": $ma, "minor": $mi, "rate": 100}]}' \
		--argjson ma "${dev%:*}" --argjson mi "${dev#*:}"
	# which weight file a cgroup of this kernel has (CFQ's, BFQ's or none):
	# find out on a scratch cgroup made by hand
	local scratch=/sys/fs/cgroup/blkio/$CG_PARENT/scratch weight=
	mkdir -p "$scratch"
	if [ -e "$scratch/blkio.weight" ]; then
		weight=blkio.weight
	elif [ -e "$scratch/blkio.bfq.weight" ]; then
		weight=blkio.bfq.weight
	fi
	rmdir "$scratch"

	run_detached ctr
	if [ -z "$weight" ]; then
		# runc fails the same way: the weight cannot be set
		[ "$status" -ne 0 ] || fail "blockIO.weight accepted without a weight file"
		[[ "$output" == *weight* ]] || fail "error does not name the weight file: $output"
		assert_nothing_left
		skip "no blkio.weight or blkio.bfq.weight here: the clear error was checked"
	fi
	[ "$status" -eq 0 ] || fail "run -d failed: $output"
	INIT=$(state_field ctr pid)
	assert_cg blkio "$weight" 300
	assert_cg blkio blkio.throttle.read_bps_device "$dev 1048576"
	assert_cg blkio blkio.throttle.write_bps_device "$dev 2097152"
	assert_cg blkio blkio.throttle.read_iops_device "$dev 50"
	assert_cg blkio blkio.throttle.write_iops_device "$dev 100"
	delete_ctr
}

@test "blockIO: a per-device weight is set, or refused clearly when the disk's scheduler has no weights" {
	local dev sched
	dev=$(root_disk)
	sched=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "/sys/dev/block/$dev/queue/scheduler" 2>/dev/null) || sched=
	update_config '.linux.resources.blockIO = {"weightDevice": [{"major": $ma, "minor": $mi, "weight": 200}]}' \
		--argjson ma "${dev%:*}" --argjson mi "${dev#*:}"
	run_detached ctr
	if [ "$sched" = bfq ]; then
		[ "$status" -eq 0 ] || fail "run -d failed: $output"
		INIT=$(state_field ctr pid)
		grep -qx "$dev 200" "$(cg blkio blkio.bfq.weight_device)" ||
			fail "blkio.bfq.weight_device: $(cat "$(cg blkio blkio.bfq.weight_device)")"
		delete_ctr
	else
		# runc: write /sys/fs/cgroup/blkio/.../blkio.bfq.weight_device: operation not supported
		[ "$status" -ne 0 ] || fail "a weight for $dev (scheduler '$sched') was accepted"
		[[ "$output" == *weight_device* ]] || fail "error does not name the file: $output"
		[[ "$output" == *"$dev 200"* ]] || fail "error does not name the value: $output"
		assert_nothing_left
		assert_cgroup_gone
	fi
}

@test "blockIO: leafWeight without blkio.leaf_weight is an error naming the file, as in runc" {
	[ ! -e /sys/fs/cgroup/blkio/blkio.leaf_weight ] || skip "this kernel has blkio.leaf_weight"
	update_config '.linux.resources.blockIO = {"leafWeight": 300}'
	run_detached ctr
	# runc 1.1: openat2 /sys/fs/cgroup/blkio/.../blkio.leaf_weight: no such file or directory
	[ "$status" -ne 0 ] || fail "leafWeight was accepted silently though the kernel cannot apply it"
	[[ "$output" == *blkio.leaf_weight* ]] || fail "error does not name blkio.leaf_weight: $output"
	assert_nothing_left
	assert_cgroup_gone
}

@test "hugepageLimits on the unified hierarchy" {
	grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null ||
		skip "no hugetlb controller on /sys/fs/cgroup/unified"
	[ -d /sys/kernel/mm/hugepages/hugepages-2048kB ] || skip "no 2MB huge pages"
	update_config '.linux.resources.hugepageLimits = [{"pageSize": "2MB", "limit": 4194304}]'
	start_ctr
	assert_cg unified hugetlb.2MB.max 4194304
	grep -qx "$INIT" "$(cg unified cgroup.procs)" || fail "init is not in the v2 cgroup"
	delete_ctr
}

@test "devices: devices.list shows the rules; a denied access fails with EPERM" {
	[ -c /dev/fuse ] || skip "no /dev/fuse (10:229) on this machine"
	# /fuse: readable by the rules (a rw allow, then a w deny); /mem (1:1): not allowed at all
	mknod "$ROOTFS/fuse" c 10 229
	mknod "$ROOTFS/mem" c 1 1
	update_config '.linux.resources.devices = [{"allow": false, "access": "rwm"},
		{"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
		{"allow": false, "type": "c", "major": 10, "minor": 229, "access": "w"}]'
	start_ctr
	run cat "$(cg devices devices.list)"
	assert_success
	assert_line "c 10:229 r"
	refute_line --partial "c 1:1 "
	refute_line "a *:* rwm"

	run --separate-stderr berth exec ctr /bin/sh -c 'exec 3</fuse && echo read-ok'
	assert_success
	assert_output read-ok
	run --separate-stderr berth exec ctr /bin/sh -c 'exec 3>/fuse && echo write-ok'
	assert_failure
	[[ "$stderr" == *"Operation not permitted"* ]] || fail "opening /fuse for writing: $stderr"
	run --separate-stderr berth exec ctr head -c1 /mem
	assert_failure
	[[ "$stderr" == *"Operation not permitted"* ]] || fail "opening /mem: $stderr"
	delete_ctr
}

@test "devices: a deny of everything after an allow revokes it, a deny of everything before it is the default" {
	update_config '.linux.resources.devices = [{"allow": false, "access": "rwm"},
		{"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rw"},
		{"allow": false, "access": "rwm"},
		{"allow": true, "type": "c", "major": 1, "minor": 12, "access": "r"}]'
	start_ctr
	run cat "$(cg devices devices.list)"
	assert_success
	refute_line --partial "c 1:11 "
	assert_line "c 1:12 r"
	assert_line "c 1:3 rwm"
	refute_line "a *:* rwm"
	delete_ctr
}

@test "unified: a key of a controller the v2 hierarchy lacks is refused; one it has is written" {
	update_config '.linux.resources.unified = {"memory.max": "1G"}'
	run_detached ctr
	[ "$status" -ne 0 ] || fail "unified memory.max accepted without a v2 memory controller"
	[[ "$output" == *memory.max* ]] || fail "error does not name the key: $output"
	[[ "$output" == *memory*"not available"* ]] || fail "error does not say the controller is missing: $output"
	assert_nothing_left
	assert_cgroup_gone

	grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null ||
		skip "no hugetlb controller on /sys/fs/cgroup/unified"
	update_config '.linux.resources.unified = {"hugetlb.2MB.max": "2097152"}'
	start_ctr
	assert_cg unified hugetlb.2MB.max 2097152
	delete_ctr
}

# berth_own_cgroup ARGS...: berth, run from the cgroup /$CG_PARENT of every
# hierarchy (made here; the process is moved there before it execs berth), so
# that "the runtime's own cgroup" is the test's and not the machine's.
berth_own_cgroup() {
	local h files=()
	for h in /sys/fs/cgroup/*/; do
		mkdir -p "$h$CG_PARENT"
		if [ -e "$h$CG_PARENT/cpuset.cpus" ]; then
			cat "${h}cpuset.cpus" >"$h$CG_PARENT/cpuset.cpus"
			cat "${h}cpuset.mems" >"$h$CG_PARENT/cpuset.mems"
		fi
		files+=("$h$CG_PARENT/cgroup.procs")
	done
	BERTH_TEST_TAG=$BERTH_TEST_TAG timeout -k 5 "$BERTH_CMD_TIMEOUT" sh -c \
		'b=$1 r=$2; shift 2; for f in $CG_FILES; do echo $$ >"$f" || exit 125; done; exec "$b" --root "$r" "$@"' \
		sh "$BERTH_BIN" "$BERTH_ROOT" "$@" 3>&-
}

# assert_placed PATH: init is in the cgroup PATH of every hierarchy.
assert_placed() {
	local line
	while read -r line; do
		[[ "$line" == *":$1" ]] || fail "init's cgroup is not $1: $line ($(cat "/proc/$INIT/cgroup" | tr '\n' ' '))"
	done <"/proc/$INIT/cgroup"
	grep -qx "$INIT" "/sys/fs/cgroup/memory$1/cgroup.procs" || fail "init not in /sys/fs/cgroup/memory$1"
	grep -qx "$INIT" "/sys/fs/cgroup/pids$1/cgroup.procs" || fail "init not in /sys/fs/cgroup/pids$1"
}

@test "a relative cgroupsPath is below the runtime's own cgroup" {
	update_config '.linux.cgroupsPath = "sub/ctr"'
	CG_FILES=$(for h in /sys/fs/cgroup/*/; do printf '%s ' "$h$CG_PARENT/cgroup.procs"; done)
	export CG_FILES
	berth_own_cgroup run --detach --bundle "$BUNDLE" ctr </dev/null >"$TEST_DIR/ctr.out" 2>"$TEST_DIR/ctr.err" ||
		fail "run -d from /$CG_PARENT failed: $(cat "$TEST_DIR/ctr.err")"
	INIT=$(state_field ctr pid)
	assert_placed "/$CG_PARENT/sub/ctr"
	run berth delete --force ctr
	assert_success
	wait_pid_gone "$INIT"
	assert_cgroup_gone sub/ctr
}

@test "without cgroupsPath the cgroup is <runtime's own cgroup>/<id>" {
	update_config 'del(.linux.cgroupsPath)'
	CG_FILES=$(for h in /sys/fs/cgroup/*/; do printf '%s ' "$h$CG_PARENT/cgroup.procs"; done)
	export CG_FILES
	berth_own_cgroup run --detach --bundle "$BUNDLE" ctr </dev/null >"$TEST_DIR/ctr.out" 2>"$TEST_DIR/ctr.err" ||
		fail "run -d from /$CG_PARENT failed: $(cat "$TEST_DIR/ctr.err")"
	INIT=$(state_field ctr pid)
	assert_placed "/$CG_PARENT/ctr"
	delete_ctr
}

@test "the systemd cgroup driver is refused clearly: --systemd-cgroup and slice:prefix:name" {
	run --separate-stderr berth --systemd-cgroup run --bundle "$BUNDLE" ctr </dev/null
	assert_failure
	[[ "$stderr" == *systemd* ]] || fail "error does not name the systemd driver: $stderr"
	assert_nothing_left

	update_config '.linux.cgroupsPath = "system.slice:berth:ctr"'
	run --separate-stderr berth run --bundle "$BUNDLE" ctr </dev/null
	assert_failure
	[[ "$stderr" == *systemd* ]] || fail "error does not name the systemd driver: $stderr"
	[[ "$stderr" == *system.slice:berth:ctr* ]] || fail "error does not name the path: $stderr"
	assert_nothing_left
	local d
	for d in /sys/fs/cgroup/*/system.slice:berth:ctr; do
		[ -e "$d" ] && fail "$d was created"
	done
	return 0
}

# start_sleepers: init (sleep 1003) with two children in the background;
# $PIDS: all three.
start_sleepers() {
	local i
	set_args /bin/sh -c 'sleep 1001 & sleep 1002 & exec sleep 1003'
	start_ctr
	for ((i = 0; i < 100; i++)); do
		PIDS=$(cat "$(cg pids cgroup.procs)")
		[ "$(wc -l <<<"$PIDS")" -eq 3 ] && [ "$(tr '\0' ' ' <"/proc/$INIT/cmdline")" = "sleep 1003 " ] && return 0
		sleep 0.1
	done
	fail "not three processes in the cgroup: $PIDS"
}

@test "v2: the unified hierarchy's cgroup.procs lists init and its children" {
	[ -e /sys/fs/cgroup/unified/cgroup.procs ] || skip "no cgroup2 hierarchy at /sys/fs/cgroup/unified"
	start_sleepers
	assert_equal "$(sort -n "$(cg unified cgroup.procs)")" "$(sort -n <<<"$PIDS")"
	grep -qx "$INIT" "$(cg unified cgroup.procs)" || fail "init is not in the v2 cgroup"
	delete_ctr
}

@test "kill --all signals every process through the cgroup" {
	start_sleepers
	run berth kill --all ctr KILL
	assert_success
	local p
	for p in $PIDS; do
		wait_pid_gone "$p"
	done
	wait_for_status ctr stopped
	run berth delete ctr
	assert_success
	assert_cgroup_gone
}

@test "delete removes the cgroup in every hierarchy, with sub-cgroups made inside and from the host" {
	# the container's cgroup mount is writable; a process inside makes
	# sub-cgroups and moves itself into them
	update_config '.mounts |= map(if .type == "cgroup" then .options -= ["ro"] else . end)
		| if any(.linux.namespaces[]; .type == "cgroup") then . else .linux.namespaces += [{"type": "cgroup"}] end'
	set_args /bin/sh -c 'for c in memory pids unified; do mkdir -p /sys/fs/cgroup/$c/sub/deeper; done
		sh -c "echo \$\$ >/sys/fs/cgroup/memory/sub/deeper/cgroup.procs &&
			echo \$\$ >/sys/fs/cgroup/pids/sub/cgroup.procs &&
			echo \$\$ >/sys/fs/cgroup/unified/sub/deeper/cgroup.procs && touch /tmp/moved && exec sleep 1004" &
		exec sleep 1005'
	start_ctr
	wait_for_file "$ROOTFS/tmp/moved"
	local child
	child=$(cat "$(cg memory sub/deeper/cgroup.procs)")
	[ -n "$child" ] || fail "no process in the sub-cgroup"
	# and one from the host, in another hierarchy
	mkdir -p "$(cg cpu from-host/deeper)"
	echo "$child" >"$(cg cpu from-host/deeper/cgroup.procs)"

	delete_ctr
	wait_pid_gone "$child"
}

@test "without a cgroup namespace /sys/fs/cgroup binds every hierarchy at the container's cgroup, read-only" {
	local h entry root opts
	update_config 'del(.linux.namespaces[] | select(.type == "cgroup"))'
	set_args /bin/sh -c 'cat /proc/self/mountinfo; echo 5 >/sys/fs/cgroup/pids/pids.max && echo WROTE'
	run_container
	[[ "$output" != *WROTE* ]] || fail "the container wrote its pids.max: $output"
	[[ "$stderr" == *"Read-only file system"* ]] || fail "no EROFS: $stderr"
	entry=$(awk '$5 == "/sys/fs/cgroup"' <<<"$output")
	[[ "$entry" == *" - tmpfs "* ]] || fail "/sys/fs/cgroup is not a tmpfs: $entry"
	opts=$(cut -d' ' -f6 <<<"$entry")
	for o in ro nosuid nodev noexec; do has_opt "$opts" "$o" || fail "/sys/fs/cgroup: no $o in $opts"; done
	for h in $(cgroup_mounts); do
		[[ "$h" == /sys/fs/cgroup/* ]] || continue
		entry=$(awk -v mp="$h" '$5 == mp' <<<"$output")
		[ -n "$entry" ] || fail "$h is not mounted in the container: $output"
		root=$(cut -d' ' -f4 <<<"$entry")
		[[ "$root" == */"$CG_PARENT"/ctr ]] || fail "$h shows $root, not the container's cgroup"
		opts=$(cut -d' ' -f6 <<<"$entry")
		for o in ro nosuid nodev noexec; do has_opt "$opts" "$o" || fail "$h: no $o in $opts"; done
	done
}
