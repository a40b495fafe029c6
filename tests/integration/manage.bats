#!/usr/bin/env bats
# The cgroup-backed commands: pause, resume, ps, update, events, features.
# Every container gets a cgroup under a parent of the test's own (v1
# hierarchies here), which is removed after the test.

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
setup() {
	berth_setup
	CG_PARENT=berth-test-$$-$BATS_TEST_NUMBER
	update_config '.linux.cgroupsPath = $p' --arg p "/$CG_PARENT/ctr"
	defer remove_cgroup_parent
}
teardown() { berth_teardown; }

# cg_file CONTROLLER FILE: FILE of the container's v1 cgroup.
cg_file() {
	echo "/sys/fs/cgroup/$1/$CG_PARENT/ctr/$2"
}

# assert_cgroup_gone: no hierarchy holds the container's cgroup any more.
assert_cgroup_gone() {
	local d
	for d in /sys/fs/cgroup/*/"$CG_PARENT"/ctr; do
		[ -d "$d" ] && fail "cgroup $d is left after delete"
	done
	return 0
}

# start_sleepers: a running container whose init (sleep 1001) has a child
# (sleep 1000); $INIT and $CHILD are their pids.
start_sleepers() {
	local i
	set_args /bin/sh -c 'sleep 1000 & exec sleep 1001'
	run_detached ctr
	[ "$status" -eq 0 ] || fail "run -d failed: $output"
	INIT=$(state_field ctr pid)
	for ((i = 0; i < 100; i++)); do
		CHILD=$(cat "/proc/$INIT/task/$INIT/children" 2>/dev/null | tr -d ' ')
		[ -n "$CHILD" ] && [ "$(tr '\0' ' ' <"/proc/$INIT/cmdline")" = "sleep 1001 " ] && return 0
		sleep 0.1
	done
	fail "init $INIT has no child: $(cat "/proc/$INIT/task/$INIT/children" 2>/dev/null)"
}

@test "pause freezes the cgroup and resume thaws it; state and list say paused" {
	start_sleepers
	assert_equal "$(cat "$(cg_file freezer freezer.state)")" THAWED

	run berth pause ctr
	assert_success
	assert_output ""
	assert_equal "$(cat "$(cg_file freezer freezer.state)")" FROZEN
	assert_equal "$(state_field ctr status)" paused
	assert_equal "$(state_field ctr pid)" "$INIT"
	run berth list --format json
	assert_success
	assert_equal "$(jq -r '.[] | select(.id == "ctr") | .status' <<<"$output")" paused
	# frozen: the v1 freezer keeps them in uninterruptible sleep
	assert_equal "$(awk '/^State:/ {print $2}' "/proc/$CHILD/status")" D

	run berth pause ctr
	assert_failure 1
	assert_output "container \`ctr\` is not running"

	run berth resume ctr
	assert_success
	assert_output ""
	assert_equal "$(cat "$(cg_file freezer freezer.state)")" THAWED
	assert_equal "$(state_field ctr status)" running
	# thawed, the sleeper runs for a moment (R) before it sleeps again (S)
	local i st
	for ((i = 0; i < 50; i++)); do
		st=$(awk '/^State:/ {print $2}' "/proc/$CHILD/status")
		[ "$st" = S ] && break
		sleep 0.05
	done
	assert_equal "$st" S

	run berth resume ctr
	assert_failure 1
	assert_output "container \`ctr\` is not paused"

	run berth delete --force ctr
	assert_success
	wait_pid_gone "$INIT"
	wait_pid_gone "$CHILD"
	assert_cgroup_gone
}

@test "pause refuses a created container and a stopped one; delete --force kills a paused one" {
	set_args /bin/sleep 1000
	create_container ctr
	[ "$status" -eq 0 ]
	run berth pause ctr
	assert_failure 1
	assert_output "container \`ctr\` is not running"
	run berth resume ctr
	assert_failure 1
	assert_output "container \`ctr\` is not paused"

	run berth start ctr
	assert_success
	local pid
	pid=$(state_field ctr pid)
	run berth pause ctr
	assert_success
	run berth delete --force ctr
	assert_success
	wait_pid_gone "$pid"
	assert_cgroup_gone

	run berth pause nosuch
	assert_failure 1
	assert_output --partial "does not exist"
}

@test "ps --format json prints the pids of the container's processes" {
	start_sleepers
	run --separate-stderr berth ps --format json ctr
	assert_success
	# sorted, compact, as runc prints them
	local want
	want=$(printf '%s\n' "$INIT" "$CHILD" | sort -n | paste -sd, -)
	assert_output "[$want]"
	assert_equal "$(jq -c 'sort' <<<"$output")" "[$want]"

	run berth ps --format yaml ctr
	assert_failure 1
	assert_output --partial "invalid format"
}

@test "ps runs ps and keeps the header and the container's lines" {
	start_sleepers
	run --separate-stderr berth ps ctr
	assert_success
	assert_equal "${#lines[@]}" 3
	assert_regex "${lines[0]}" '^UID +PID +PPID'
	local line pid pids=()
	for line in "${lines[@]:1}"; do
		pid=$(awk '{print $2}' <<<"$line")
		pids+=("$pid")
		[ "$pid" = "$INIT" ] || [ "$pid" = "$CHILD" ] || fail "ps listed a process not in the container: $line"
	done
	assert_equal "$(printf '%s\n' "${pids[@]}" | sort -n | paste -sd' ')" \
		"$(printf '%s\n' "$INIT" "$CHILD" | sort -n | paste -sd' ')"

	# ps options after the id (and after "--"); the PID column is found from the header
	run --separate-stderr berth ps ctr -- -o comm,pid
	assert_success
	assert_equal "${#lines[@]}" 3
	assert_regex "${lines[0]}" '^COMMAND +PID$'
	assert_regex "${lines[1]}" '^sleep +[0-9]+$'
	assert_regex "${lines[2]}" '^sleep +[0-9]+$'

	run berth ps ctr -o comm
	assert_failure 1
	assert_output --partial "couldn't find PID field in ps output"
}

@test "update with runc's flags writes the cgroup and the stored config" {
	start_sleepers
	run berth update --memory 100m --memory-swap 200m --cpu-quota 20000 --cpu-period 100000 \
		--cpu-share 512 --pids-limit 42 ctr
	assert_success
	assert_output ""
	assert_equal "$(cat "$(cg_file memory memory.limit_in_bytes)")" $((100 * 1024 * 1024))
	assert_equal "$(cat "$(cg_file memory memory.memsw.limit_in_bytes)")" $((200 * 1024 * 1024))
	assert_equal "$(cat "$(cg_file cpu cpu.cfs_quota_us)")" 20000
	assert_equal "$(cat "$(cg_file cpu cpu.cfs_period_us)")" 100000
	assert_equal "$(cat "$(cg_file cpu cpu.shares)")" 512
	assert_equal "$(cat "$(cg_file pids pids.max)")" 42

	# later reads see the new values
	local config=$BERTH_ROOT/ctr/config.json
	assert_equal "$(jq -c '.linux.resources | {memory: .memory.limit, quota: .cpu.quota, pids: .pids.limit}' "$config")" \
		'{"memory":104857600,"quota":20000,"pids":42}'

	# an update changes only what it names
	run berth update --memory 1g --memory-swap 2g ctr
	assert_success
	assert_equal "$(cat "$(cg_file memory memory.limit_in_bytes)")" $((1024 * 1024 * 1024))
	assert_equal "$(cat "$(cg_file pids pids.max)")" 42
	assert_equal "$(jq '.linux.resources.cpu.quota' "$config")" 20000

	# -1: unlimited
	run berth update --pids-limit -1 --cpu-quota -1 ctr
	assert_success
	assert_equal "$(cat "$(cg_file pids pids.max)")" max
	assert_equal "$(cat "$(cg_file cpu cpu.cfs_quota_us)")" -1

	run berth update --memory 12x ctr
	assert_failure 1
	assert_output --partial "invalid size: '12x'"
	assert_equal "$(cat "$(cg_file memory memory.limit_in_bytes)")" $((1024 * 1024 * 1024))

	run berth update --l3-cache-schema L3:0=f ctr
	assert_failure 1
	assert_output --partial "Intel RDT is not supported"
}

@test "update --resources - reads linux.resources from stdin, and names a bad member" {
	start_sleepers
	run berth update --resources - ctr <<-'EOF'
		{"memory": {"limit": 52428800}, "cpu": {"shares": 256, "quota": 30000}, "pids": {"limit": 10}}
	EOF
	assert_success
	assert_equal "$(cat "$(cg_file memory memory.limit_in_bytes)")" 52428800
	assert_equal "$(cat "$(cg_file cpu cpu.shares)")" 256
	assert_equal "$(cat "$(cg_file cpu cpu.cfs_quota_us)")" 30000
	assert_equal "$(cat "$(cg_file pids pids.max)")" 10
	assert_equal "$(jq -c '.linux.resources.pids' "$BERTH_ROOT/ctr/config.json")" '{"limit":10}'

	# flags go on top of the document
	run berth update --resources - --pids-limit 11 ctr <<<'{"pids": {"limit": 99}}'
	assert_success
	assert_equal "$(cat "$(cg_file pids pids.max)")" 11

	# a file works as well
	echo '{"cpu": {"shares": 300}}' >"$TEST_DIR/resources.json"
	run berth update --resources "$TEST_DIR/resources.json" ctr
	assert_success
	assert_equal "$(cat "$(cg_file cpu cpu.shares)")" 300

	run berth update --resources - ctr <<<'{"memory": {"limit": "lots"}}'
	assert_failure 1
	assert_output "stdin: .memory.limit: expected an integer"
	assert_equal "$(cat "$(cg_file memory memory.limit_in_bytes)")" 52428800

	run berth update --resources - ctr <<<'{"memory": '
	assert_failure 1
	assert_output --partial "stdin: invalid JSON"
}

@test "update and events refuse a stopped container" {
	set_args /bin/true
	run_detached ctr
	[ "$status" -eq 0 ]
	wait_for_status ctr stopped
	run berth update --pids-limit 5 ctr
	assert_failure 1
	assert_output "container \`ctr\` is not running"
	run berth events --stats ctr
	assert_failure 1
	assert_output "container \`ctr\` is not running"
	run berth events ctr
	assert_failure 1
	assert_output "container \`ctr\` is not running"
}

@test "events --stats prints one stats event with the cgroup's numbers" {
	start_sleepers
	run berth update --memory 64m --pids-limit 50 ctr
	assert_success
	run --separate-stderr berth events --stats ctr
	assert_success
	assert_equal "${#lines[@]}" 1
	local ev=$output
	assert_equal "$(jq -r .type <<<"$ev")" stats
	assert_equal "$(jq -r .id <<<"$ev")" ctr
	assert_equal "$(jq '.data.pids.current' <<<"$ev")" 2
	assert_equal "$(jq '.data.pids.limit' <<<"$ev")" 50
	assert_equal "$(jq '.data.memory.usage.limit' <<<"$ev")" $((64 * 1024 * 1024))
	jq -e '.data.memory.usage.usage > 0 and .data.memory.usage.usage <= .data.memory.usage.limit' <<<"$ev" >/dev/null ||
		fail "memory usage is not sane: $(jq -c .data.memory.usage <<<"$ev")"
	jq -e '.data.cpu.usage.total > 0 and (.data.cpu.usage.percpu | length) >= 1' <<<"$ev" >/dev/null ||
		fail "cpu usage is not sane: $(jq -c .data.cpu.usage <<<"$ev")"
}

@test "events reports stats every interval and an OOM kill, and ends when the container stops" {
	# init waits for /tmp/go, then a child shell fills 64 MiB against a 32 MiB
	# limit (the OOM killer takes it, the biggest process; init lives on)
	# (the hog makes itself the OOM killer's first choice: init must live on)
	printf '#!/bin/sh\necho 1000 >/proc/self/oom_score_adj\nx=$(head -c 64m /dev/zero | tr "\\0" a)\n' >"$ROOTFS/bin/hog"
	chmod 755 "$ROOTFS/bin/hog"
	update_config '.linux.resources.memory = {"limit": 33554432, "swap": 33554432}'
	set_args /bin/sh -c 'while [ ! -e /tmp/go ]; do sleep 0.1; done; /bin/hog; exec sleep 1000'
	run_detached ctr
	[ "$status" -eq 0 ]

	berth events --interval 200ms ctr >"$TEST_DIR/events.out" 2>"$TEST_DIR/events.err" &
	local events_pid=$!
	defer "kill $events_pid 2>/dev/null || true"
	wait_for_file "$TEST_DIR/events.out" '"type":"stats"'
	touch "$ROOTFS/tmp/go"
	wait_for_file "$TEST_DIR/events.out" '"type":"oom"'
	assert_equal "$(grep -m1 '"type":"oom"' "$TEST_DIR/events.out")" '{"type":"oom","id":"ctr"}'
	# every line is an event of this container
	run jq -r '.id' "$TEST_DIR/events.out"
	assert_success
	[ "$(sort -u <<<"$output")" = ctr ] || fail "events of another id: $output"
	assert_equal "$(jq -sc '[.[] | select(.type == "stats") | .data.memory.usage.limit] | unique' "$TEST_DIR/events.out")" \
		'[33554432]'
	[ "$(grep -c '"type":"stats"' "$TEST_DIR/events.out")" -ge 2 ] || sleep 0.5
	[ "$(grep -c '"type":"stats"' "$TEST_DIR/events.out")" -ge 2 ] ||
		fail "one stats event after more than one interval: $(cat "$TEST_DIR/events.out")"

	# init outlived the OOM kill; when it goes, events ends
	assert_equal "$(state_field ctr status)" running
	run berth kill ctr KILL
	assert_success
	local rc=0 i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$events_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$events_pid" 2>/dev/null && fail "events still runs after the container stopped"
	wait "$events_pid" || rc=$?
	assert_equal "$rc" 0
	assert_equal "$(cat "$TEST_DIR/events.err")" ""
}

@test "events rejects a bad interval" {
	start_sleepers
	run berth events --interval 5x ctr
	assert_failure 1
	assert_output --partial 'unknown unit in duration "5x"'
	run berth events --interval 0s ctr
	assert_failure 1
	assert_output --partial "must be greater than 0"
}

@test "features prints the runtime-spec features document" {
	run --separate-stderr berth features
	assert_success
	local f=$output
	jq -e . <<<"$f" >/dev/null || fail "not JSON: $f"
	assert_equal "$(jq -r .ociVersionMin <<<"$f")" 1.0.0
	assert_equal "$(jq -r .ociVersionMax <<<"$f")" 1.2.0
	assert_equal "$(jq -c .hooks <<<"$f")" \
		'["prestart","createRuntime","createContainer","startContainer","poststart","poststop"]'
	assert_equal "$(jq -c .linux.namespaces <<<"$f")" \
		'["pid","network","mount","ipc","uts","user","cgroup","time"]'
	jq -e '.mountOptions | index("rbind") and index("rro") and index("nosymfollow") and index("idmap")' \
		<<<"$f" >/dev/null || fail "mount options: $(jq -c .mountOptions <<<"$f")"
	jq -e '.linux.capabilities | index("CAP_SYS_ADMIN") and index("CAP_CHOWN") and index("CAP_BPF")' \
		<<<"$f" >/dev/null || fail "capabilities: $(jq -c .linux.capabilities <<<"$f")"
	# every capability the kernel knows (cap_last_cap counts from 0)
	assert_equal "$(jq '.linux.capabilities | length' <<<"$f")" $(($(cat /proc/sys/kernel/cap_last_cap) + 1))
	assert_equal "$(jq -c .linux.cgroup <<<"$f")" \
		'{"v1":true,"v2":true,"systemd":false,"systemdUser":false,"rdma":true}'
	assert_equal "$(jq -r .linux.seccomp.enabled <<<"$f")" true
	jq -e '.linux.seccomp | (.actions | index("SCMP_ACT_ERRNO")) and (.operators | index("SCMP_CMP_MASKED_EQ"))
		and (.archs | index("SCMP_ARCH_X86_64")) and (.knownFlags | index("SECCOMP_FILTER_FLAG_TSYNC"))' \
		<<<"$f" >/dev/null || fail "seccomp: $(jq -c .linux.seccomp <<<"$f")"
	assert_equal "$(jq -r .linux.intelRdt.enabled <<<"$f")" false
	assert_equal "$(jq -r .linux.mountExtensions.idmap.enabled <<<"$f")" true
	assert_equal "$(jq -r '.annotations["io.github.berth.version"]' <<<"$f")" \
		"$("$BERTH_BIN" --version | awk 'NR == 1 {print $3}')"
}
