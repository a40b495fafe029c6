#!/usr/bin/env bats
# Process attributes beyond identity and limits: linux.personality,
# process.ioPriority, process.scheduler, process.execCPUAffinity (berth exec),
# and the LSM labels on this host, which has neither SELinux nor AppArmor:
# an AppArmor profile fails clearly, an SELinux label is accepted and ignored.
# Each value is read back inside the container with berth-probe (or busybox).

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
setup() { berth_setup; }
teardown() { berth_teardown; }

# expect_create_error TEXT: create fails with exit status 1, TEXT in the error,
# and leaves nothing behind.
expect_create_error() {
	create_container ctr
	[ "$status" -eq 1 ] || fail "create exited with $status, expected 1: $output"
	[[ "$output" == *"$1"* ]] || fail "the error does not contain '$1': $output"
	assert_nothing_left
}

# exec_process_json JQ_FILTER ARGS...: the container's process with args set to
# berth-probe ARGS and the filter applied, as $TEST_DIR/process.json.
exec_process_json() {
	local filter=$1 args
	shift
	args=$(for a in "$@"; do jq -n --arg a "$a" '$a'; done | jq -s .) || fail "jq failed"
	jq --argjson args "$args" ".process | .args = \$args | $filter" "$BUNDLE/config.json" \
		>"$TEST_DIR/process.json" || fail "exec_process_json: jq failed on: $filter"
}

# start_sleeper: a running container `ctr` to exec into.
start_sleeper() {
	set_args /bin/berth-probe sleep 600
	run_detached ctr
	[ "$status" -eq 0 ] || fail "run -d failed: $output"
	wait_for_status ctr running
}

# exec_probe: berth exec --process $TEST_DIR/process.json ctr, like run_container.
exec_probe() {
	run --separate-stderr berth exec --process "$TEST_DIR/process.json" ctr </dev/null
	if [ -n "$stderr" ]; then
		echo "# stderr of berth exec: $stderr"
	fi
}

requires_no_apparmor() {
	if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
		skip "AppArmor is enabled on this host"
	fi
}

requires_no_selinux() {
	if [ -e /sys/fs/selinux/enforce ]; then
		skip "SELinux is enabled on this host"
	fi
}

@test "personality LINUX32: uname -m says i686 in the container" {
	[ "$(uname -m)" = x86_64 ] || skip "LINUX32 reads back as i686 on x86_64 only (this is $(uname -m))"
	update_config '.linux.personality = {"domain": "LINUX32"}'
	set_args uname -m
	run_container
	assert_success
	assert_output i686
	probe personality
	assert_success
	assert_output 0x00000008
}

@test "personality LINUX with a flag: the persona reads back with the flag" {
	update_config '.linux.personality = {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}'
	probe personality
	assert_success
	assert_output 0x00040000
}

@test "no personality: the default persona" {
	probe personality
	assert_success
	assert_output 0x00000000
}

@test "an unknown personality flag is rejected with its index" {
	update_config '.linux.personality = {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE", "NOPE"]}'
	expect_create_error '.linux.personality.flags[1]: unknown flag `NOPE`'
}

@test "ioPriority IOPRIO_CLASS_BE 6 reads back" {
	update_config '.process.ioPriority = {"class": "IOPRIO_CLASS_BE", "priority": 6}'
	probe ioprio
	assert_success
	assert_output "BE 6"
}

@test "ioPriority IOPRIO_CLASS_IDLE reads back" {
	update_config '.process.ioPriority = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}'
	probe ioprio
	assert_success
	assert_output "IDLE 0"
}

@test "ioPriority out of range names the field and the value" {
	update_config '.process.ioPriority = {"class": "IOPRIO_CLASS_BE", "priority": 9}'
	expect_create_error '.process.ioPriority.priority: 9 is not in 0-7'
}

@test "scheduler SCHED_BATCH with nice 5 reads back" {
	update_config '.process.scheduler = {"policy": "SCHED_BATCH", "nice": 5}'
	probe sched
	assert_success
	assert_output "policy=BATCH flags=0x0 nice=5 priority=0"
}

@test "scheduler SCHED_RR priority 10 with SCHED_FLAG_RESET_ON_FORK reads back" {
	# A cpu cgroup without realtime runtime refuses SCHED_RR (EPERM).
	update_config '.process.scheduler = {"policy": "SCHED_RR", "priority": 10, "flags": ["SCHED_FLAG_RESET_ON_FORK"]}
		| .linux.resources.cpu.realtimeRuntime = 10000'
	probe sched
	assert_success
	assert_output "policy=RR flags=0x1 nice=0 priority=10"
}

@test "scheduler SCHED_DEADLINE reads back runtime, deadline and period" {
	update_config '.process.scheduler = {"policy": "SCHED_DEADLINE", "runtime": 1000000, "deadline": 10000000, "period": 10000000}'
	probe sched
	if [ "$status" -ne 0 ] && [[ "$stderr" == *"Device or resource busy"* ]]; then
		skip "the kernel has no deadline bandwidth left for this cpuset: $stderr"
	fi
	assert_success
	assert_line --index 0 "policy=DEADLINE flags=0x0 nice=0 priority=0"
	assert_line --index 1 "runtime=1000000 deadline=10000000 period=10000000"
}

@test "a scheduler the kernel refuses names the field and the values" {
	update_config '.process.scheduler = {"policy": "SCHED_FIFO", "priority": 200}'
	expect_create_error 'set .process.scheduler (policy SCHED_FIFO, nice 0, priority 200'
}

@test "ioPriority and scheduler on berth exec" {
	start_sleeper
	exec_process_json '.ioPriority = {"class": "IOPRIO_CLASS_BE", "priority": 3}' berth-probe ioprio
	exec_probe
	assert_success
	assert_output "BE 3"
	exec_process_json '.scheduler = {"policy": "SCHED_IDLE"}' berth-probe sched
	exec_probe
	assert_success
	assert_output "policy=IDLE flags=0x0 nice=0 priority=0"
}

@test "personality LINUX32 applies to berth exec too" {
	[ "$(uname -m)" = x86_64 ] || skip "LINUX32 reads back as i686 on x86_64 only (this is $(uname -m))"
	update_config '.linux.personality = {"domain": "LINUX32"}'
	start_sleeper
	exec_process_json '.' uname -m
	exec_probe
	assert_success
	assert_output i686
}

@test "execCPUAffinity: final is the exec'd process's cpus; init keeps all of them" {
	[ "$(nproc --all)" -ge 2 ] || skip "needs two cpus"
	all=$(awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status)
	update_config '.process.execCPUAffinity = {"initial": "0", "final": "1"}'
	start_sleeper
	pid=$(state_field ctr pid)
	run awk '/^Cpus_allowed_list:/ {print $2}' "/proc/$pid/status"
	assert_output "$all"
	exec_process_json '.execCPUAffinity = {"initial": "0", "final": "1"}' berth-probe affinity
	exec_probe
	assert_success
	assert_output 1
}

@test "execCPUAffinity: initial alone stays for the exec'd process" {
	[ "$(nproc --all)" -ge 2 ] || skip "needs two cpus"
	start_sleeper
	exec_process_json '.execCPUAffinity = {"initial": "1"}' berth-probe affinity
	exec_probe
	assert_success
	assert_output 1
	exec_process_json '.execCPUAffinity = {"final": "0-1"}' berth-probe affinity
	exec_probe
	assert_success
	assert_output 0-1
}

@test "execCPUAffinity: an invalid list on berth exec names the field and the list" {
	start_sleeper
	exec_process_json '.execCPUAffinity = {"final": "0-"}' berth-probe affinity
	exec_probe
	assert_failure
	[[ "$stderr" == *'.process.execCPUAffinity.final: invalid cpu list `0-`'* ]] ||
		fail "unexpected error: $stderr"
	exec_process_json '.execCPUAffinity = {"initial": "1,x"}' berth-probe affinity
	exec_probe
	assert_failure
	[[ "$stderr" == *'.process.execCPUAffinity.initial: invalid cpu list `1,x`'* ]] ||
		fail "unexpected error: $stderr"
	# The container is unharmed.
	[ "$(state_field ctr status)" = running ]
}

@test "an AppArmor profile without AppArmor fails clearly" {
	requires_no_apparmor
	update_config '.process.apparmorProfile = "berth-test"'
	expect_create_error 'apparmor profile `berth-test` requested but AppArmor is not enabled on this host'
}

@test "berth exec --apparmor without AppArmor fails clearly" {
	requires_no_apparmor
	start_sleeper
	run --separate-stderr berth exec --apparmor berth-test ctr /bin/berth-probe exit 0 </dev/null
	assert_failure
	[[ "$stderr" == *'apparmor profile `berth-test` requested but AppArmor is not enabled on this host'* ]] ||
		fail "unexpected error: $stderr"
}

@test "an SELinux label and mount label are accepted and ignored without SELinux" {
	requires_no_selinux
	update_config '.process.selinuxLabel = "system_u:system_r:container_t:s0:c1,c2"
		| .linux.mountLabel = "system_u:object_r:container_file_t:s0:c1,c2"'
	probe ids
	assert_success
	assert_output "uid=0 gid=0 euid=0 egid=0 groups="
	start_sleeper
	run --separate-stderr berth exec --process-label "system_u:system_r:container_t:s0" ctr /bin/berth-probe exit 0 </dev/null
	assert_success
}

@test "libselinux is loaded by the runtime for a labelled container only, never the rootfs's copy" {
	command -v gcc >/dev/null || skip "requires gcc to build the planted library"
	command -v strace >/dev/null || skip "requires strace"
	local d
	# A library of the same name in every default search directory of the
	# rootfs: loaded in init or an exec'd process, it would leave a mark.
	cat >"$TEST_DIR/planted.c" <<-'EOF'
		#include <fcntl.h>
		#include <unistd.h>
		__attribute__((constructor)) static void planted(void)
		{
			int fd = open("/planted-library-ran", O_WRONLY | O_CREAT, 0644);
			if (fd >= 0)
				close(fd);
		}
		int is_selinux_enabled(void) { return 1; }
		int setexeccon(const char *context) { (void)context; return 0; }
	EOF
	for d in lib lib64 usr/lib lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu; do
		mkdir -p "$ROOTFS/$d"
		gcc -shared -fPIC -o "$ROOTFS/$d/libselinux.so.1" "$TEST_DIR/planted.c" || fail "gcc failed"
	done

	# no label: the library is not even opened
	run -0 strace -f -qq -e trace=openat -o "$TEST_DIR/trace" "$BERTH_BIN" --root "$BERTH_ROOT" \
		run --bundle "$BUNDLE" plain </dev/null
	! grep -q libselinux "$TEST_DIR/trace" || fail "libselinux opened without a label: $(grep libselinux "$TEST_DIR/trace")"

	update_config '.process.selinuxLabel = "system_u:system_r:container_t:s0"'
	probe exit 0
	assert_success
	start_sleeper
	run --separate-stderr berth exec --process-label "system_u:system_r:container_t:s0" ctr /bin/berth-probe exit 0 </dev/null
	assert_success
	[ ! -e "$ROOTFS/planted-library-ran" ] || fail "the rootfs's libselinux.so.1 ran in the container's setup"
}
