#!/usr/bin/env bats
# The runc 1.1 command-line details that containerd's runc shim (go-runc) and
# podman's conmon depend on, tested on berth directly, invoked as they invoke
# it: global --log/--log-format json, create --console-socket, exec --process
# --detach --pid-file, ps --format json, state JSON, delete --force, kill
# --all, features, error text and exit codes, and a /dev/null that stays the
# host's.

load ../helpers
load compat_helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
setup() {
	berth_setup
	CG_PARENT=berth-compat-$$-$BATS_TEST_NUMBER
	update_config '.linux.cgroupsPath = $p' --arg p "/$CG_PARENT/ctr"
	defer "remove_cgroup $CG_PARENT"
}
teardown() { berth_teardown; }

# start_sleeper [ID]: a running container (default id ctr) whose init is a
# shell with one child, `sleep 1000`; $INIT and $CHILD are their host pids.
start_sleeper() {
	local id=${1:-ctr} i
	set_args /bin/sh -c 'sleep 1000 & echo $! >/tmp/child; wait'
	run_detached "$id"
	[ "$status" -eq 0 ] || fail "run -d $id failed: $output"
	INIT=$(state_field "$id" pid)
	wait_for_file "$ROOTFS/tmp/child"
	for ((i = 0; i < 50; i++)); do
		CHILD=$(cat "/proc/$INIT/task/$INIT/children" 2>/dev/null | tr -d ' ')
		[ -n "$CHILD" ] && return 0
		sleep 0.1
	done
	fail "init $INIT has no child"
}

# write_process_json FILE ARGS...: the bundle's .process with other args, as
# go-runc and conmon write it for `exec --process`.
write_process_json() {
	local file=$1 args
	shift
	args=$(for a in "$@"; do jq -n --arg a "$a" '$a'; done | jq -s .)
	jq --argjson args "$args" '.process | .args = $args' "$BUNDLE/config.json" >"$file" ||
		fail "write_process_json: jq failed"
}

# berth_to_files ARGS...: berth with its stdio on files, for commands that
# leave a process behind holding them (exec --detach): a pipe would keep bats'
# `run` waiting. Sets $status, $output (stdout) and $stderr like `run
# --separate-stderr`.
berth_to_files() {
	berth "$@" </dev/null >"$TEST_DIR/berth.out" 2>"$TEST_DIR/berth.err" && status=0 || status=$?
	output=$(cat "$TEST_DIR/berth.out")
	stderr=$(cat "$TEST_DIR/berth.err")
	echo "# berth $*: exit $status, stderr: $stderr"
}

# assert_json_log FILE: every line of FILE is a JSON object with a string
# level, msg and RFC 3339 time, as logrus writes them for runc.
assert_json_log() {
	local file=$1 n
	[ -s "$file" ] || fail "$file is empty"
	n=$(wc -l <"$file")
	run jq -e -s --arg n "$n" 'length == ($n | tonumber) and all(.[];
		(.level | type) == "string" and (.msg | type) == "string" and
		(.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$")))' "$file"
	[ "$status" -eq 0 ] || fail "$file is not one JSON object per line with level, msg and time: $(cat "$file")"
}

@test "compat: --log FILE --log-format json: an error is a JSON line with level, msg and time" {
	# go-runc and conmon put these global flags first and read the last
	# error line of FILE when the command fails
	run --separate-stderr berth --log "$TEST_DIR/log.json" --log-format json start nope
	assert_failure 1
	assert_output ""
	[ -n "$stderr" ] || fail "no error text on stderr"
	[[ "$stderr" == *nope* ]] || fail "stderr does not name the container: $stderr"
	assert_json_log "$TEST_DIR/log.json"
	run jq -r 'select(.level == "error") | .msg' "$TEST_DIR/log.json"
	assert_output --partial nope

	# conmon's spelling: --log-format=json --log FILE; a create that fails in init
	set_args /bin/no-such-program
	run --separate-stderr berth --log-format=json --log "$TEST_DIR/log2.json" create --bundle "$BUNDLE" ctr </dev/null
	assert_failure 1
	assert_json_log "$TEST_DIR/log2.json"
	run jq -r 'select(.level == "error") | .msg' "$TEST_DIR/log2.json"
	assert_output --partial '/bin/no-such-program'
	assert_nothing_left

	# the log is appended to, never truncated (the shim keeps one per container)
	run berth --log "$TEST_DIR/log.json" --log-format json state nope
	assert_failure 1
	[ "$(jq -s 'map(select(.level == "error")) | length' "$TEST_DIR/log.json")" -ge 2 ] ||
		fail "the second error did not append to the log: $(cat "$TEST_DIR/log.json")"
	assert_json_log "$TEST_DIR/log.json"
}

@test "compat: --log-format text writes text lines; an unknown format is refused" {
	run --separate-stderr berth --log "$TEST_DIR/log.txt" --log-format text state nope
	assert_failure 1
	run grep -c nope "$TEST_DIR/log.txt"
	assert_output 1
	run jq -e . "$TEST_DIR/log.txt"
	assert_failure
	run --separate-stderr berth --log-format yaml state nope
	assert_failure
	[ -n "$stderr" ] || fail "no error for --log-format yaml"
}

@test "compat: a failed command prints its error on stderr, nothing on stdout, and exits 1 (exec: 255, as runc)" {
	local cmd want
	for cmd in "start nope" "state nope" "kill nope KILL" "delete nope" "pause nope" "resume nope" \
		"exec nope true" "ps nope"; do
		want=1
		[ "${cmd%% *}" = exec ] && want=255
		# shellcheck disable=SC2086
		run --separate-stderr berth $cmd
		[ "$status" -eq "$want" ] || fail "berth $cmd: exit status $status, expected $want (stderr: $stderr)"
		[ -z "$output" ] || fail "berth $cmd wrote to stdout: $output"
		[[ "$stderr" == *nope* ]] || fail "berth $cmd: stderr does not name the container: '$stderr'"
	done
	# a usage error too
	run --separate-stderr berth create
	assert_failure
	[ -n "$stderr" ] || fail "berth create without an id printed nothing on stderr"
}

@test "compat: create --console-socket sends the pty master; the container's stdio is the pty" {
	update_config '.process.terminal = true'
	set_args /bin/sh -c 'tty; /bin/berth-probe tty'
	CONSOLE_RECEIVER_TIMEOUT=30 "$CONSOLE_RECEIVER" "$TEST_DIR/console.sock" </dev/null >"$TEST_DIR/console.out" 2>&1 3>&- &
	local receiver=$! rc
	defer "kill $receiver 2>/dev/null || true"
	wait_for_file "$TEST_DIR/console.sock"
	# as go-runc calls it
	berth create --bundle "$BUNDLE" --pid-file "$TEST_DIR/init.pid" --console-socket "$TEST_DIR/console.sock" ctr \
		</dev/null >"$TEST_DIR/create.out" 2>&1 && rc=0 || rc=$?
	assert_equal "$rc" 0
	wait_for_file "$TEST_DIR/console.out" "received pty"
	assert_equal "$(cat "$TEST_DIR/init.pid")" "$(state_field ctr pid)"
	run berth start ctr
	assert_success
	wait_for_status ctr stopped
	wait "$receiver" && rc=0 || rc=$?
	assert_equal "$rc" 0
	run tr -d '\r' <"$TEST_DIR/console.out"
	assert_line "received pty"
	assert_line "/dev/pts/0"
	assert_line "isatty 1 1 1"
	assert_line "ttyname /dev/pts/0"
}

@test "compat: create with terminal true and no --console-socket fails with a message" {
	update_config '.process.terminal = true'
	create_container ctr
	[ "$status" -eq 1 ] || fail "create with a terminal and no console socket: exit $status"
	[ -n "$output" ] || fail "no error text"
	assert_nothing_left
}

@test "compat: exec --process FILE --detach --pid-file runs the process in the container" {
	start_sleeper
	write_process_json "$TEST_DIR/process.json" /bin/sh -c 'echo exec >/tmp/exec.out; exec sleep 999'
	# as go-runc calls it (containerd's shim); conmon puts --pid-file first
	berth_to_files exec --process "$TEST_DIR/process.json" --detach --pid-file "$TEST_DIR/exec.pid" ctr
	assert_success
	assert_output ""
	[ -s "$TEST_DIR/exec.pid" ] || fail "no pid file"
	local pid
	pid=$(cat "$TEST_DIR/exec.pid")
	[[ "$pid" =~ ^[0-9]+$ ]] || fail "pid file holds '$pid'"
	wait_for_file "$ROOTFS/tmp/exec.out" exec
	pid_alive "$pid" || fail "exec'd process $pid is not running"
	# it is the container's: same namespaces, same cgroup
	local ns
	for ns in pid mnt net ipc uts; do
		assert_equal "$(readlink "/proc/$pid/ns/$ns")" "$(readlink "/proc/$INIT/ns/$ns")"
	done
	assert_equal "$(grep memory "/proc/$pid/cgroup")" "$(grep memory "/proc/$INIT/cgroup")"
	assert_equal "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "sleep 999 "
	# it shows in ps --format json, and kill --all reaches it
	run --separate-stderr berth ps --format json ctr
	assert_success
	jq -e --argjson p "$pid" 'index($p) != null' <<<"$output" >/dev/null || fail "ps does not list $pid: $output"
	run berth kill --all ctr KILL
	assert_success
	wait_pid_gone "$pid"
	wait_pid_gone "$INIT"
}

@test "compat: exec --pid-file FILE --process FILE --detach, in conmon's order, and a failing exec" {
	start_sleeper
	write_process_json "$TEST_DIR/process.json" /bin/sh -c 'sleep 999'
	berth_to_files exec --pid-file "$TEST_DIR/exec.pid" --process "$TEST_DIR/process.json" --detach ctr
	assert_success
	pid_alive "$(cat "$TEST_DIR/exec.pid")" || fail "exec'd process is not running"

	# a program that does not exist: a failure (runc exits 255) and a message
	write_process_json "$TEST_DIR/bad.json" /bin/no-such-program
	berth_to_files --log "$TEST_DIR/log.json" --log-format json exec --process "$TEST_DIR/bad.json" \
		--detach --pid-file "$TEST_DIR/bad.pid" ctr
	assert_failure
	[[ "$stderr" == *no-such-program* ]] || fail "stderr: $stderr"
	run jq -r 'select(.level == "error") | .msg' "$TEST_DIR/log.json"
	assert_output --partial no-such-program
	# a process.json that is not valid names the problem
	echo '{"args": "sh"}' >"$TEST_DIR/invalid.json"
	berth_to_files exec --process "$TEST_DIR/invalid.json" --detach ctr
	assert_failure
	[[ "$stderr" == *args* ]] || fail "stderr does not name .args: $stderr"
}

@test "compat: exec --process with terminal true and --console-socket, detached" {
	start_sleeper
	write_process_json "$TEST_DIR/process.json" /bin/sh -c 'tty; /bin/berth-probe tty'
	jq '.terminal = true' "$TEST_DIR/process.json" >"$TEST_DIR/p.json" && mv "$TEST_DIR/p.json" "$TEST_DIR/process.json"
	CONSOLE_RECEIVER_TIMEOUT=30 "$CONSOLE_RECEIVER" "$TEST_DIR/console.sock" </dev/null >"$TEST_DIR/console.out" 2>&1 3>&- &
	local receiver=$! rc
	defer "kill $receiver 2>/dev/null || true"
	wait_for_file "$TEST_DIR/console.sock"
	berth_to_files exec --process "$TEST_DIR/process.json" --console-socket "$TEST_DIR/console.sock" \
		--detach --pid-file "$TEST_DIR/exec.pid" ctr
	assert_success
	wait "$receiver" && rc=0 || rc=$?
	assert_equal "$rc" 0
	run tr -d '\r' <"$TEST_DIR/console.out"
	assert_line "received pty"
	assert_line --regexp '^/dev/pts/[0-9]+$'
	assert_line "isatty 1 1 1"
}

@test "compat: ps --format json lists the container's pids as a JSON array of numbers" {
	start_sleeper
	run --separate-stderr berth ps --format json ctr
	assert_success
	run jq -e 'type == "array" and all(.[]; type == "number")' <<<"$output"
	assert_success
	run --separate-stderr berth ps --format json ctr
	assert_equal "$(jq -c 'sort' <<<"$output")" "$(printf '%s\n' "$INIT" "$CHILD" | sort -n | jq -sc .)"
	# a created container (in a cgroup of its own): its waiting init
	set_args /bin/true
	update_config '.linux.cgroupsPath = $p' --arg p "/$CG_PARENT/c2"
	create_container c2
	[ "$status" -eq 0 ]
	run --separate-stderr berth ps --format json c2
	assert_success
	assert_equal "$(jq -c . <<<"$output")" "[$(state_field c2 pid)]"
}

@test "compat: state prints runc's JSON fields for created, running and stopped" {
	update_config '.annotations = {"io.berth.test": "yes"}'
	set_args /bin/sleep 1000
	create_container ctr
	[ "$status" -eq 0 ]
	run --separate-stderr berth state ctr
	assert_success
	local json=$output
	# exactly runc 1.1's fields (ociVersion, id, pid, status, bundle, rootfs,
	# created, owner, annotations)
	assert_equal "$(jq -c 'keys' <<<"$json")" '["annotations","bundle","created","id","ociVersion","owner","pid","rootfs","status"]'
	assert_equal "$(jq -r .id <<<"$json")" ctr
	assert_equal "$(jq -r .status <<<"$json")" created
	assert_equal "$(jq -r .bundle <<<"$json")" "$BUNDLE"
	assert_equal "$(jq -r .rootfs <<<"$json")" "$ROOTFS"
	assert_equal "$(jq -r '.annotations["io.berth.test"]' <<<"$json")" yes
	assert_equal "$(jq -r .owner <<<"$json")" ""
	run jq -e '(.ociVersion | test("^1\\.[0-9]+\\.[0-9]+")) and (.pid | type) == "number" and .pid > 0' <<<"$json"
	assert_success
	# created: RFC 3339 with nanoseconds, UTC, as Go's time.Time marshals it
	run jq -r .created <<<"$json"
	assert_output --regexp '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'
	local created=$output

	run berth start ctr
	assert_success
	assert_equal "$(state_field ctr status)" running
	assert_equal "$(state_field ctr created)" "$created"

	run berth kill ctr KILL
	assert_success
	wait_for_status ctr stopped
	# stopped: runc reports pid 0
	assert_equal "$(state_field ctr pid)" 0
}

@test "compat: delete --force of a running container kills every process and removes state and cgroup" {
	start_sleeper
	run --separate-stderr berth delete --force ctr
	assert_success
	assert_output ""
	wait_pid_gone "$INIT"
	wait_pid_gone "$CHILD"
	[ ! -e "$BERTH_ROOT/ctr" ] || fail "state directory left"
	local d
	for d in /sys/fs/cgroup/*/"$CG_PARENT"/ctr; do
		[ ! -d "$d" ] || fail "cgroup $d left"
	done
	run berth state ctr
	assert_failure 1
	# again: containerd's shim runs delete --force after delete. runc 1.1
	# succeeds for an id that does not exist with --force, and fails without
	run --separate-stderr berth delete --force ctr
	assert_success
	run --separate-stderr berth delete ctr
	assert_failure 1
	[[ "$stderr" == *"ctr"* ]] || fail "stderr does not name the container: $stderr"
}

@test "compat: delete --force of a created container kills its waiting init" {
	set_args /bin/true
	create_container ctr
	[ "$status" -eq 0 ]
	local pid
	pid=$(state_field ctr pid)
	pid_alive "$pid" || fail "init $pid is not waiting"
	run berth delete --force ctr
	assert_success
	wait_pid_gone "$pid"
	[ ! -e "$BERTH_ROOT/ctr" ] || fail "state directory left"
	assert_nothing_left
}

@test "compat: delete without --force of a stopped container; of a running one fails" {
	start_sleeper
	run --separate-stderr berth delete ctr
	assert_failure 1
	[ -n "$stderr" ] || fail "no error text"
	pid_alive "$INIT" || fail "delete without --force killed init"
	run berth kill ctr KILL
	assert_success
	wait_for_status ctr stopped
	run berth delete ctr
	assert_success
	[ ! -e "$BERTH_ROOT/ctr" ] || fail "state directory left"
}

@test "compat: kill --all sends the signal to every process of the container" {
	# every process traps TERM and records it, so each one's delivery is
	# seen; init waits for its child so that its exit (which kills the pid
	# namespace) does not race the child's trap
	set_args /bin/sh -c 'trap "echo init >>/tmp/got; wait \$child; exit 0" TERM
		sh -c "trap \"echo child >>/tmp/got; exit 0\" TERM; echo \$\$ >/tmp/child; while :; do sleep 0.1; done" &
		child=$!
		while :; do sleep 0.1; done'
	run_detached ctr
	[ "$status" -eq 0 ]
	wait_for_file "$ROOTFS/tmp/child"
	sleep 0.3
	run berth kill --all ctr TERM
	assert_success
	wait_for_status ctr stopped
	wait_for_file "$ROOTFS/tmp/got" child
	run sort "$ROOTFS/tmp/got"
	assert_output "child
init"
	# go-runc's spelling of the signal: a number
	start_sleeper c2
	run berth kill --all c2 9
	assert_success
	wait_pid_gone "$CHILD"
	wait_for_status c2 stopped
}

@test "compat: features prints a runtime-spec features document" {
	run --separate-stderr berth features
	assert_success
	run jq -e '(.ociVersionMin | test("^1\\.0\\.")) and (.ociVersionMax | test("^1\\.[0-9]+\\."))
		and (.hooks | index("prestart") != null and index("poststop") != null)
		and (.mountOptions | index("bind") != null and index("ro") != null)
		and (.linux.namespaces | sort == ["cgroup","ipc","mount","network","pid","time","user","uts"])
		and (.linux.capabilities | index("CAP_SYS_ADMIN") != null)
		and (.linux.cgroup.v1 == true)' <<<"$output"
	[ "$status" -eq 0 ] || fail "the features document lacks versions, hooks, mount options, namespaces, capabilities or cgroup v1: $output"
}

@test "compat: a tmpfs mount with tmpcopyup gets the directory's contents (podman --read-only)" {
	# runc's extension that podman uses for /run, /tmp and /var/tmp; berth's
	# features lists it
	run bash -c "'$BERTH_BIN' features | jq -e '.mountOptions | index(\"tmpcopyup\") != null'"
	assert_success
	mkdir -p "$ROOTFS/data"
	echo kept >"$ROOTFS/data/file"
	chmod 0750 "$ROOTFS/data"
	update_config '.mounts += [{"destination": "/data", "type": "tmpfs", "source": "tmpfs",
		"options": ["rw", "nosuid", "nodev", "tmpcopyup"]}]'
	set_args /bin/sh -c 'grep " /data " /proc/mounts | cut -d" " -f1,3; cat /data/file; stat -c %a /data; echo new >/data/new && cat /data/new'
	run_container
	assert_success
	assert_output "tmpfs tmpfs
kept
750
new"
	# the bundle's directory is untouched
	[ ! -e "$ROOTFS/data/new" ] || fail "the write went to the rootfs, not the tmpfs"
}

@test "compat: /dev/null stays root:root 0666 after exec --user 1000 with stdio on /dev/null" {
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	set_args /bin/sleep 1000
	berth run --detach --bundle "$BUNDLE" ctr </dev/null >/dev/null 2>/dev/null || fail "run -d failed"
	dev_null_ok
	run berth exec --user 1000:1000 ctr sh -c 'id -u; echo x >/dev/null && echo ok' </dev/null 2>/dev/null
	assert_success
	assert_output "1000
ok"
	berth exec --user 1000 --detach ctr sleep 5 </dev/null >/dev/null 2>/dev/null || fail "exec -d failed"
	write_process_json "$TEST_DIR/process.json" /bin/sh -c 'cat /dev/null; exit 0'
	jq '.user = {"uid": 1000, "gid": 1000}' "$TEST_DIR/process.json" >"$TEST_DIR/p.json"
	berth exec --process "$TEST_DIR/p.json" ctr </dev/null >/dev/null 2>/dev/null || fail "exec --process failed"
	dev_null_ok
	# and in the container, /dev/null is a device node the user can write
	run berth exec --user 1000 ctr sh -c 'stat -c "%a %t:%T" /dev/null'
	assert_success
	assert_output "666 1:3"
	dev_null_ok
}
