#!/usr/bin/env bats
# berth exec: a new process in a running container, with runc 1.1's flags.
# It joins every namespace of the container's init, its cgroup and its
# security settings (rlimits, seccomp), and berth exits with its status.
# Every container gets a cgroup under a parent of the test's own, removed
# after the test. The suite runs against runc too (BERTH_BIN=runc), which is
# how the expectations below were checked.

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
setup() {
	berth_setup
	CG_PARENT=berth-test-$$-$BATS_TEST_NUMBER
	# berth's default spec has a cgroup namespace, runc's does not
	update_config '.linux.cgroupsPath = $p
		| if any(.linux.namespaces[]; .type == "cgroup") then . else .linux.namespaces += [{"type": "cgroup"}] end' \
		--arg p "/$CG_PARENT/ctr"
	defer remove_cgroup_parent
}
teardown() { berth_teardown; }

# start_ctr: a running container whose init is `berth-probe sleep 1000`;
# $INIT is its host pid.
start_ctr() {
	set_args /bin/berth-probe sleep 1000
	run_detached ctr
	[ "$status" -eq 0 ] || fail "run -d failed: $output"
	INIT=$(state_field ctr pid)
	[ -n "$INIT" ] && [ "$INIT" -gt 0 ] || fail "no pid in berth state: $INIT"
}

# assert_same_ns TYPE...: an exec'd process is in init's namespace of each
# TYPE, which is not the host's.
assert_same_ns() {
	local t want
	for t in "$@"; do
		want=$(readlink "/proc/$INIT/ns/$t")
		run --separate-stderr berth exec ctr /bin/berth-probe ns "$t"
		[ "$status" -eq 0 ] || fail "exec berth-probe ns $t: exit $status: $stderr"
		[ "$output" = "$want" ] || fail "$t namespace of the exec'd process is '$output', init's is '$want'"
		[ "$want" != "$(readlink "/proc/self/ns/$t")" ] || fail "init shares the host's $t namespace"
	done
}

# exec_detached ARGS...: `berth exec --detach ARGS...` with stdio on files
# (the process keeps them open, so never a pipe that bats waits on); $status
# is berth's exit status and $output what was written to stderr.
exec_detached() {
	berth exec --detach "$@" </dev/null >"$TEST_DIR/exec.out" 2>"$TEST_DIR/exec.err" && status=0 || status=$?
	output=$(cat "$TEST_DIR/exec.err")
}

# exec_pid: after `exec -d --pid-file $TEST_DIR/exec.pid`, the pid.
exec_pid() {
	wait_for_file "$TEST_DIR/exec.pid"
	cat "$TEST_DIR/exec.pid"
}

@test "exec joins the pid, mnt, uts, ipc, net and cgroup namespaces of init" {
	start_ctr
	assert_same_ns pid mnt uts ipc net cgroup
	# the user namespace is the host's, as init's
	run berth exec ctr /bin/berth-probe ns user
	assert_success
	assert_output "$(readlink "/proc/$INIT/ns/user")"
}

@test "exec into a user-namespaced container: every namespace of init, root inside, mapped ids outside" {
	requires userns
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 200000, "size": 65536}]'
	start_ctr
	assert_same_ns user pid mnt uts ipc net cgroup

	run --separate-stderr berth exec ctr /bin/berth-probe ids
	assert_success
	assert_output "uid=0 gid=0 euid=0 egid=0 groups="
	run --separate-stderr berth exec ctr id
	assert_success
	assert_output --partial "uid=0(root) gid=0(root)"

	# on the host, the exec'd process has the mapped ids
	exec_detached --pid-file "$TEST_DIR/exec.pid" --user 1000:1000 ctr /bin/berth-probe sleep 1000
	[ "$status" -eq 0 ] || fail "exec -d failed: $output"
	local pid
	pid=$(exec_pid)
	assert_equal "$(stat -c '%u %g' "/proc/$pid")" "101000 201000"
	assert_equal "$(readlink "/proc/$pid/ns/user")" "$(readlink "/proc/$INIT/ns/user")"
}

@test "exec joins a new time namespace and sees its offsets" {
	requires timens
	update_config '.linux.namespaces += [{"type": "time"}]
		| .linux.timeOffsets = {"monotonic": {"secs": 864000, "nanosecs": 0}}'
	start_ctr
	assert_same_ns time
	local host d
	host=$("$BERTH_PROBE" clock monotonic)
	run --separate-stderr berth exec ctr /bin/berth-probe clock monotonic
	assert_success
	d=$((output - host))
	[ "$d" -ge 864000 ] && [ "$d" -le 864030 ] || fail "monotonic in exec is $output, the host's $host"
}

@test "exec in the pid namespace: not pid 1, and ps shows init as 1" {
	start_ctr
	run --separate-stderr berth exec ctr /bin/berth-probe pid
	assert_success
	[ "$output" -gt 1 ] || fail "exec'd process has pid '$output'"

	run --separate-stderr berth exec ctr /bin/ps -o pid,args
	assert_success
	assert_regex "$(awk '$1 == 1' <<<"$output")" '^ *1 +/bin/berth-probe sleep 1000$'
	# only the container's processes: init and ps itself
	assert_equal "${#lines[@]}" 3
}

@test "exec exits with the process's status, and 128+N when it is killed by signal N" {
	start_ctr
	run berth exec ctr /bin/sh -c 'exit 7'
	assert_failure 7
	run berth exec ctr /bin/sh -c 'kill -TERM $$'
	assert_failure $((128 + 15))
	run berth exec ctr /bin/sh -c 'kill -KILL $$'
	assert_failure $((128 + 9))
	run berth exec ctr /bin/true
	assert_success
	assert_output ""
}

@test "exec of a missing program names it and exits 255, as runc" {
	start_ctr
	run --separate-stderr berth exec ctr /bin/nope
	[ "$status" -ne 0 ] || fail "exec of /bin/nope succeeded"
	assert_output ""
	[[ "$stderr" == */bin/nope* ]] || fail "error does not name /bin/nope: $stderr"
	[[ "$stderr" == *"no such file or directory"* || "$stderr" == *"No such file or directory"* ]] ||
		fail "error does not say why: $stderr"
	local rc_abs=$status

	# looked up in the container's PATH
	run --separate-stderr berth exec ctr nope-not-here
	[ "$status" -ne 0 ] || fail "exec of nope-not-here succeeded"
	[[ "$stderr" == *nope-not-here* ]] || fail "error does not name nope-not-here: $stderr"
	local rc_path=$status

	# the container is unharmed
	assert_equal "$(state_field ctr status)" running
	# runc 1.1's exec exits 255 whenever the process could not be started
	assert_equal "$rc_abs" 255
	assert_equal "$rc_path" 255
}

@test "exec --env adds and replaces variables of the container's environment; --cwd" {
	update_config '.process.env += ["KEEP=kept", "REPLACE=old"]'
	start_ctr
	run --separate-stderr berth exec --env NEW=added --env REPLACE=new --cwd /tmp ctr \
		/bin/sh -c 'echo "$KEEP $NEW $REPLACE"; pwd; env | grep -c "^REPLACE="'
	assert_success
	assert_output "kept added new
/tmp
1"
	# without flags: the container's cwd (/)
	run --separate-stderr berth exec ctr /bin/berth-probe cwd
	assert_success
	assert_output /
}

@test "exec --user uid:gid and --additional-gids" {
	start_ctr
	run --separate-stderr berth exec --user 1000:1000 --additional-gids 5 --additional-gids 65534 ctr \
		/bin/berth-probe ids
	assert_success
	assert_output "uid=1000 gid=1000 euid=1000 egid=1000 groups=5,65534"

	run --separate-stderr berth exec -u 1000 ctr /bin/berth-probe ids
	assert_success
	assert_output "uid=1000 gid=0 euid=1000 egid=0 groups="
}

@test "exec --cap adds the capability to the effective set" {
	start_ctr
	local eff
	run --separate-stderr berth exec ctr /bin/berth-probe caps
	assert_success
	eff=$(awk '$1 == "CapEff:" {print $2}' <<<"$output")
	if (((16#$eff >> 21) & 1)); then fail "CAP_SYS_ADMIN is effective without --cap: $eff"; fi

	run --separate-stderr berth exec --cap CAP_SYS_ADMIN ctr /bin/berth-probe caps
	assert_success
	eff=$(awk '$1 == "CapEff:" {print $2}' <<<"$output")
	(((16#$eff >> 21) & 1)) || fail "CAP_SYS_ADMIN (bit 21) not in CapEff: $output"
	# the container's own capabilities stay (CAP_KILL, bit 5)
	(((16#$eff >> 5) & 1)) || fail "CAP_KILL lost: $output"
}

@test "exec --no-new-privs sets NoNewPrivs" {
	update_config '.process.noNewPrivileges = false'
	start_ctr
	run --separate-stderr berth exec ctr /bin/berth-probe nnp
	assert_success
	assert_output 0
	run --separate-stderr berth exec --no-new-privs ctr /bin/berth-probe nnp
	assert_success
	assert_output 1
}

@test "exec --process runs a process.json with its args, env, cwd and user" {
	start_ctr
	jq -n --arg tag "$BERTH_TEST_TAG" '{
		"terminal": false,
		"user": {"uid": 1000, "gid": 1000, "additionalGids": [5]},
		"args": ["/bin/sh", "-c", "echo \"$FOO ${TERM-unset}\"; pwd; /bin/berth-probe ids"],
		"env": ["PATH=/bin:/usr/bin", "FOO=from-json", ("BERTH_TEST_TAG=" + $tag)],
		"cwd": "/home/user"
	}' >"$TEST_DIR/process.json"
	run --separate-stderr berth exec --process "$TEST_DIR/process.json" ctr
	assert_success
	# the process replaces the container's: its TERM is not inherited
	assert_output "from-json unset
/home/user
uid=1000 gid=1000 euid=1000 egid=1000 groups=5"
}

@test "exec --detach --pid-file: the process runs in the container's cgroups and namespaces" {
	start_ctr
	exec_detached --pid-file "$TEST_DIR/exec.pid" ctr /bin/berth-probe sleep 1000
	[ "$status" -eq 0 ] || fail "exec -d failed: $output"
	assert_output ""
	local pid
	pid=$(exec_pid)
	[[ "$pid" =~ ^[0-9]+$ ]] || fail "pid file holds '$pid'"
	pid_alive "$pid" || fail "process $pid of the pid file is not running: $(cat /proc/$pid/status 2>&1 | head -8)"
	assert_equal "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "/bin/berth-probe sleep 1000 "
	assert_equal "$(cat "/proc/$pid/cgroup")" "$(cat "/proc/$INIT/cgroup")"
	grep -qx "$pid" "/sys/fs/cgroup/memory/$CG_PARENT/ctr/cgroup.procs" ||
		fail "$pid not in the memory cgroup: $(cat "/sys/fs/cgroup/memory/$CG_PARENT/ctr/cgroup.procs")"
	assert_equal "$(readlink "/proc/$pid/ns/pid")" "$(readlink "/proc/$INIT/ns/pid")"
	assert_equal "$(readlink "/proc/$pid/ns/mnt")" "$(readlink "/proc/$INIT/ns/mnt")"
}

@test "a foreground exec'd process is in the container's memory and pids cgroups" {
	start_ctr
	# the container's /sys/fs/cgroup (cgroup namespace) is the container's cgroup
	run --separate-stderr berth exec ctr /bin/sh -c \
		'for c in memory pids; do grep -qx $$ /sys/fs/cgroup/$c/cgroup.procs && echo "$c yes"; done'
	assert_success
	assert_output "memory yes
pids yes"
	# and from the host: init plus the exec'd sh while it runs
	berth exec ctr /bin/sh -c 'touch /tmp/started; exec sleep 1000' </dev/null >/dev/null 2>&1 &
	local bg=$!
	defer "kill $bg 2>/dev/null || true"
	wait_for_file "$ROOTFS/tmp/started"
	local c
	for c in memory pids; do
		assert_equal "$(wc -l <"/sys/fs/cgroup/$c/$CG_PARENT/ctr/cgroup.procs")" 2
	done
	run berth kill --all ctr KILL
	assert_success
	wait "$bg" || true
}

@test "exec --tty --detach sends the pty master to --console-socket" {
	start_ctr
	CONSOLE_RECEIVER_TIMEOUT=30 "$CONSOLE_RECEIVER" "$TEST_DIR/console.sock" \
		</dev/null >"$TEST_DIR/console.out" 2>&1 3>&- &
	local receiver=$!
	defer "kill $receiver 2>/dev/null || true"
	wait_for_file "$TEST_DIR/console.sock"
	run berth exec --tty --detach --console-socket "$TEST_DIR/console.sock" ctr \
		/bin/sh -c '/bin/berth-probe tty; echo done'
	assert_success
	assert_output ""
	local rc=0
	wait "$receiver" || rc=$?
	assert_equal "$rc" 0
	run tr -d '\r' <"$TEST_DIR/console.out"
	assert_line --index 0 "received pty"
	assert_line "isatty 1 1 1"
	assert_line --regexp '^ttyname /dev/pts/[0-9]+$'
	assert_line "done"
}

@test "exec --tty in the foreground: the caller's terminal size, output and exit status" {
	start_ctr
	# the runtime copies the caller's size onto the pty after the process
	# started (runc too, racily): the process waits up to 2 s for it
	cat >"$TEST_DIR/tty.sh" <<-EOF
		stty rows 30 cols 100
		exec "$BERTH_BIN" --root "$BERTH_ROOT" exec -t ctr /bin/sh -c \
			'for i in 1 2 3 4 5 6 7 8 9 10; do [ "\$(stty size)" != "0 0" ] && break; sleep 0.2; done; exec /bin/berth-probe tty'
	EOF
	run env BERTH_TEST_TAG="$BERTH_TEST_TAG" timeout -k 5 "$BERTH_CMD_TIMEOUT" \
		"$BERTH_BUILDDIR/tests/helpers/in-pty" sh "$TEST_DIR/tty.sh" </dev/null 3>&-
	assert_success
	# CRs of the pty's output mapping, and the ^@ its echo makes of a NUL
	run sed -e 's/\r//g' -e 's/\^@//g' <<<"$output"
	assert_line "isatty 1 1 1"
	assert_line --regexp '^ttyname /dev/pts/[0-9]+$'
	assert_line "winsize 30 100"

	run env BERTH_TEST_TAG="$BERTH_TEST_TAG" timeout -k 5 "$BERTH_CMD_TIMEOUT" \
		"$BERTH_BUILDDIR/tests/helpers/in-pty" "$BERTH_BIN" --root "$BERTH_ROOT" exec -t ctr /bin/sh -c 'echo hi; exit 3' </dev/null 3>&-
	assert_failure 3
	assert_output --partial hi
}

@test "exec --preserve-fds 1 passes fd 3 on, and no more" {
	start_ctr
	echo one >"$TEST_DIR/one"
	echo two >"$TEST_DIR/two"
	run --separate-stderr berth_keep_fds exec --preserve-fds 1 ctr /bin/berth-probe fds \
		</dev/null 3<"$TEST_DIR/one" 4<"$TEST_DIR/two"
	assert_success
	assert_equal "$(cut -d' ' -f1 <<<"$output" | tr '\n' ' ')" "0 1 2 3 "
	assert_line "3 $TEST_DIR/one"
	run --separate-stderr berth_keep_fds exec --preserve-fds 1 ctr /bin/cat /proc/self/fd/3 \
		</dev/null 3<"$TEST_DIR/one"
	assert_success
	assert_output one
}

@test "no fd of the runtime or its caller leaks into the exec'd process" {
	start_ctr
	echo secret >"$TEST_DIR/secret"
	run --separate-stderr berth_keep_fds exec ctr /bin/berth-probe fds \
		</dev/null 3<"$TEST_DIR/secret" 5<"$TEST_DIR/secret" 7>"$TEST_DIR/other"
	assert_success
	assert_equal "$(cut -d' ' -f1 <<<"$output" | tr '\n' ' ')" "0 1 2 "
}

@test "exec into a paused container is refused; --ignore-paused runs it once resumed" {
	start_ctr
	run berth pause ctr
	assert_success
	run --separate-stderr berth exec ctr /bin/true
	[ "$status" -ne 0 ] || fail "exec into a paused container succeeded"
	local rc=$status
	[[ "$stderr" == *paused* ]] || fail "error does not say the container is paused: $stderr"
	assert_equal "$(state_field ctr status)" paused

	# with --ignore-paused the process joins the frozen cgroup: it runs once
	# the container is resumed (runc blocks until then too)
	berth exec --ignore-paused ctr /bin/berth-probe write /tmp/ran yes \
		</dev/null >"$TEST_DIR/ip.out" 2>"$TEST_DIR/ip.err" &
	local bg=$!
	defer "kill $bg 2>/dev/null || true"
	sleep 0.5
	run berth resume ctr
	assert_success
	local bg_rc=0
	wait "$bg" || bg_rc=$?
	[ "$bg_rc" -eq 0 ] || fail "exec --ignore-paused: exit $bg_rc: $(cat "$TEST_DIR/ip.err")"
	assert_equal "$(cat "$ROOTFS/tmp/ran")" yes
	assert_equal "$(state_field ctr status)" running
	# runc 1.1's exec exits 255 when it cannot start the process
	assert_equal "$rc" 255
}

@test "exec into a stopped container is refused; into a created one it runs" {
	set_args /bin/berth-probe sleep 1000
	create_container ctr
	[ "$status" -eq 0 ] || fail "create failed: $output"
	run --separate-stderr berth exec ctr /bin/berth-probe ns pid
	assert_success
	assert_output "$(readlink "/proc/$(state_field ctr pid)/ns/pid")"
	run berth delete --force ctr
	assert_success

	set_args /bin/true
	run_detached ctr
	[ "$status" -eq 0 ]
	wait_for_status ctr stopped
	run --separate-stderr berth exec ctr /bin/true
	[ "$status" -ne 0 ] || fail "exec into a stopped container succeeded"
	[[ "$stderr" == *stopped* ]] || fail "error does not say the container is stopped: $stderr"
	assert_equal "$status" 255

	run --separate-stderr berth exec nosuch /bin/true
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"does not exist"* ]] || fail "error for an unknown id: $stderr"
}

@test "the exec'd process gets the container's rlimits" {
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
		{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]'
	start_ctr
	run --separate-stderr berth exec ctr /bin/berth-probe rlimit NOFILE
	assert_success
	assert_output "512 1024"
	run --separate-stderr berth exec ctr /bin/berth-probe rlimit CORE
	assert_success
	assert_output "0 0"
}

@test "the exec'd process gets the container's seccomp filter" {
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}'
	start_ctr
	run --separate-stderr berth exec ctr /bin/mkdir /tmp/denied
	assert_failure 1
	[[ "$stderr" == *"Permission denied"* ]] || fail "mkdir did not fail with EACCES: $stderr"
	[ ! -e "$ROOTFS/tmp/denied" ] || fail "/tmp/denied was created"
	# everything else is allowed
	run --separate-stderr berth exec ctr /bin/touch /tmp/allowed
	assert_success
	[ -e "$ROOTFS/tmp/allowed" ] || fail "/tmp/allowed was not created"
	# the same with --process
	jq '.process | .args = ["/bin/mkdir", "/tmp/denied2"]' "$BUNDLE/config.json" >"$TEST_DIR/process.json"
	run --separate-stderr berth exec --process "$TEST_DIR/process.json" ctr
	assert_failure 1
	[[ "$stderr" == *"Permission denied"* ]] || fail "mkdir did not fail with EACCES: $stderr"
}
