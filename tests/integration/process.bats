#!/usr/bin/env bats
# The container's process: args, env, cwd, user and groups, umask, rlimits,
# oom_score_adj, sysctl, capabilities, no_new_privs, inherited fds
# (--preserve-fds, LISTEN_FDS) and the terminal through --console-socket.

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
setup() { berth_setup; }
teardown() { berth_teardown; }

@test "args are passed verbatim" {
	probe argv "a b" "" 'c"d' '$HOME' "*"
	assert_success
	assert_output '[a b]
[]
[c"d]
[$HOME]
[*]'
}

@test "env is the config's and nothing of the runtime's environment" {
	update_config '.process.env += ["FOO=bar baz", "EMPTY="]'
	probe env FOO
	assert_success
	assert_output "bar baz"
	probe env EMPTY
	assert_success
	assert_output ""
	export BERTH_HOST_ONLY=leak
	probe env BERTH_HOST_ONLY
	assert_failure 1
	assert_output ""
}

@test "HOME comes from the rootfs /etc/passwd when the config does not set it" {
	probe env HOME
	assert_success
	assert_output /root
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	probe env HOME
	assert_success
	assert_output /home/user
}

@test "cwd" {
	update_config '.process.cwd = "/home/user"'
	probe cwd
	assert_success
	assert_output /home/user
}

@test "root has no supplementary groups unless the config gives some" {
	probe ids
	assert_success
	assert_output "uid=0 gid=0 euid=0 egid=0 groups="
}

@test "user uid, gid and additionalGids" {
	update_config '.process.user = {"uid": 1000, "gid": 1000, "additionalGids": [20, 10]}'
	probe ids
	assert_success
	assert_output "uid=1000 gid=1000 euid=1000 egid=1000 groups=10,20"
}

@test "umask: 0022 by default, the config's when given" {
	probe umask
	assert_success
	assert_output 0022
	update_config '.process.user.umask = 63'
	probe umask
	assert_success
	assert_output 0077
}

@test "rlimits: NOFILE lowered" {
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512}]'
	probe rlimit NOFILE
	assert_success
	assert_output "256 512"
}

@test "rlimits: a hard limit above the runtime's fails clearly" {
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" != unlimited ] || skip "requires a finite hard RLIMIT_NOFILE"
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": ($h + 1)}]' --argjson h "$hard"
	probe rlimit NOFILE
	assert_failure 1
	assert_output ""
	[[ "$stderr" == *RLIMIT_NOFILE*"Operation not permitted"* ]] || fail "stderr: $stderr"
	assert_nothing_left
}

@test "oomScoreAdj: a positive value is set" {
	update_config '.process.oomScoreAdj = 500'
	probe oom
	assert_success
	assert_output 500
}

@test "oomScoreAdj: a negative value fails clearly without CAP_SYS_RESOURCE" {
	if grep -q '^CapBnd:' /proc/self/status &&
		(($(printf '%d' "0x$(awk '/^CapBnd:/ {print $2}' /proc/self/status)") & (1 << 24))); then
		skip "requires a machine without CAP_SYS_RESOURCE (negative oom_score_adj would work here)"
	fi
	update_config '.process.oomScoreAdj = -500'
	probe oom
	assert_failure 1
	assert_output ""
	[[ "$stderr" == *oom_score_adj*"Permission denied"* ]] || fail "stderr: $stderr"
	assert_nothing_left
}

@test "sysctl: net.ipv4.ip_forward in the container's network namespace" {
	local host
	host=$(cat /proc/sys/net/ipv4/ip_forward)
	update_config '.linux.sysctl = {"net.ipv4.ip_forward": $v}' --arg v "$((1 - host))"
	set_args /bin/cat /proc/sys/net/ipv4/ip_forward
	run_container
	assert_success
	assert_output "$((1 - host))"
	assert_equal "$(cat /proc/sys/net/ipv4/ip_forward)" "$host"
}

@test "sysctl: a net.* key without a network namespace is refused and the host is untouched" {
	local host
	host=$(cat /proc/sys/net/ipv4/ip_forward)
	# should the runtime wrongly write the host's value, put it back
	defer "[ \"\$(cat /proc/sys/net/ipv4/ip_forward)\" = $host ] || echo $host >/proc/sys/net/ipv4/ip_forward"
	update_config '.linux.namespaces |= map(select(.type != "network"))
		| .linux.sysctl = {"net.ipv4.ip_forward": $v}' --arg v "$((1 - host))"
	set_args /bin/cat /proc/sys/net/ipv4/ip_forward
	run_container
	assert_failure 1
	[[ "$stderr" == *net.ipv4.ip_forward* ]] || fail "stderr: $stderr"
	assert_equal "$(cat /proc/sys/net/ipv4/ip_forward)" "$host"
	assert_nothing_left
}

@test "capabilities: exactly the configured sets" {
	update_config '.process.capabilities = {
		"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
		"effective": ["CAP_CHOWN", "CAP_KILL"],
		"permitted": ["CAP_CHOWN", "CAP_KILL"],
		"inheritable": ["CAP_KILL"],
		"ambient": ["CAP_KILL"]}'
	probe caps
	assert_success
	# CAP_CHOWN = 0, CAP_KILL = 5, CAP_NET_RAW = 13
	assert_output "CapInh:	0000000000000020
CapPrm:	0000000000000021
CapEff:	0000000000000021
CapBnd:	0000000000002021
CapAmb:	0000000000000020"
}

@test "noNewPrivileges" {
	update_config '.process.noNewPrivileges = true'
	probe nnp
	assert_success
	assert_output 1
	update_config '.process.noNewPrivileges = false'
	probe nnp
	assert_success
	assert_output 0
}

@test "no fd of the runtime or its caller leaks into the container" {
	set_args /bin/berth-probe fds
	echo secret >"$TEST_DIR/secret"
	run --separate-stderr berth_keep_fds run --bundle "$BUNDLE" ctr </dev/null 3<"$TEST_DIR/secret" 5<"$TEST_DIR/secret" 7>"$TEST_DIR/other"
	assert_success
	assert_equal "$(cut -d' ' -f1 <<<"$output" | tr '\n' ' ')" "0 1 2 "
}

@test "--preserve-fds passes fds 3.. on, and no more" {
	set_args /bin/berth-probe listen-fds
	echo one >"$TEST_DIR/one"
	echo two >"$TEST_DIR/two"
	echo three >"$TEST_DIR/three"
	run --separate-stderr berth_keep_fds run --preserve-fds 2 --bundle "$BUNDLE" ctr </dev/null \
		3<"$TEST_DIR/one" 4<"$TEST_DIR/two" 5<"$TEST_DIR/three"
	assert_success
	assert_output "LISTEN_FDS=
LISTEN_PID=
fd 3 $TEST_DIR/one
fd 4 $TEST_DIR/two"
}

@test "socket activation: LISTEN_FDS of the runtime's caller reaches the container" {
	set_args /bin/berth-probe listen-fds
	echo one >"$TEST_DIR/one"
	# LISTEN_PID must be the runtime's own pid, hence the exec
	run --separate-stderr env BERTH_TEST_TAG="$BERTH_TEST_TAG" bash -c \
		'export LISTEN_FDS=1 LISTEN_PID=$$; exec "$0" --root "$1" run --bundle "$2" ctr' \
		"$BERTH_BIN" "$BERTH_ROOT" "$BUNDLE" </dev/null 3<"$TEST_DIR/one"
	assert_success
	assert_output "LISTEN_FDS=1
LISTEN_PID=1
fd 3 $TEST_DIR/one"
}

# start_console_receiver: console-receiver listening on $TEST_DIR/console.sock,
# its output in $TEST_DIR/console.out.
start_console_receiver() {
	CONSOLE_RECEIVER_TIMEOUT=30 "$CONSOLE_RECEIVER" "$TEST_DIR/console.sock" "$@" \
		</dev/null >"$TEST_DIR/console.out" 2>&1 3>&- &
	RECEIVER_PID=$!
	defer "kill $RECEIVER_PID 2>/dev/null || true"
	wait_for_file "$TEST_DIR/console.sock"
}

@test "terminal: the pty master goes to --console-socket and consoleSize is applied" {
	update_config '.process.terminal = true | .process.consoleSize = {"height": 30, "width": 100}'
	set_args /bin/sh -c '/bin/berth-probe tty; /bin/berth-probe stat /dev/console'
	start_console_receiver
	create_container ctr --console-socket "$TEST_DIR/console.sock"
	[ "$status" -eq 0 ]
	wait_for_file "$TEST_DIR/console.out" "received pty"
	run berth start ctr
	assert_success
	wait_for_status ctr stopped
	local rc
	wait "$RECEIVER_PID" && rc=0 || rc=$?
	assert_equal "$rc" 0
	run tr -d '\r' <"$TEST_DIR/console.out"
	assert_output "received pty
isatty 1 1 1
ttyname /dev/pts/0
winsize 30 100
char 0620 0 5 136:0"
}

@test "terminal: input written to the pty master reaches the process" {
	update_config '.process.terminal = true'
	set_args /bin/sh -c 'read line; echo "got: $line"'
	start_console_receiver "hello pty
"
	create_container ctr --console-socket "$TEST_DIR/console.sock"
	[ "$status" -eq 0 ]
	run berth start ctr
	assert_success
	wait_for_status ctr stopped
	wait "$RECEIVER_PID" || true
	run tr -d '\r' <"$TEST_DIR/console.out"
	assert_line "got: hello pty"
}

@test "terminal without --console-socket in create fails clearly" {
	update_config '.process.terminal = true'
	create_container ctr
	[ "$status" -eq 1 ]
	[[ "$output" == *console[-\ ]socket* ]] || fail "error: $output"
	assert_nothing_left
}
