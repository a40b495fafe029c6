#!/usr/bin/env bats
# containerd (Debian's 1.6, with its runc shim) running containers through
# berth: `ctr run --runc-binary <berth>`.
#
# The suite starts its own containerd with a config, root, state and sockets
# under a temporary directory (never the system's), imports a busybox image
# built on the spot into a namespace of its own, and stops containerd by its
# pid at the end. berth is given to the shim through a wrapper script that
# logs each invocation (to prove it was berth, and with which arguments), and
# its state root is --runc-root under the temporary directory.

load ../helpers
load compat_helpers

IMAGE=docker.io/berth/busybox:test

setup_file() {
	[ "$(id -u)" = 0 ] || return 0 # every test skips with "requires root"
	command -v containerd >/dev/null && command -v ctr >/dev/null &&
		command -v containerd-shim-runc-v2 >/dev/null || return 0 # tests skip, naming it
	local i
	CTD_DIR=$(mktemp -d /tmp/berth-containerd.XXXXXX)
	chmod 0755 "$CTD_DIR"
	CTD_SOCK=$CTD_DIR/containerd.sock
	CTD_NS=berth-ctd-$$
	export CTD_DIR CTD_SOCK CTD_NS
	write_containerd_config info
	start_containerd || return 1
	CTD_PID=$(cat "$CTD_DIR/containerd.pid")
	export CTD_PID
	make_busybox_oci_archive "$CTD_DIR/busybox.tar" "${IMAGE%:*}" "${IMAGE##*:}"
	ctr -a "$CTD_SOCK" -n "$CTD_NS" images import "$CTD_DIR/busybox.tar" >"$CTD_DIR/import.log" 2>&1 || {
		echo "# ctr images import failed: $(cat "$CTD_DIR/import.log")" >&3
		return 1
	}
	make_logging_runtime "$CTD_DIR/berth-runtime" "$CTD_DIR/berth.log"
}

teardown_file() {
	[ -n "${CTD_DIR:-}" ] && [ -d "$CTD_DIR" ] || return 0
	# the shim's sockets live in /run/containerd/s, named by a hash of our
	# socket path: they go when the shims exit
	finish_containerd_suite "$CTD_NS"
}

setup() {
	requires root
	requires_cmd containerd ctr containerd-shim-runc-v2
	[ -n "${CTD_PID:-}" ] || fail "containerd was not started by setup_file"
	DEV_NULL_BEFORE=$(stat -c '%F %U:%G %a %t:%T' /dev/null)
	: >"$CTD_DIR/berth.log"
	mkdir -p "$CTD_DIR/fifo"
}

teardown() {
	[ -n "${CTD_DIR:-}" ] && [ -n "${CTD_PID:-}" ] || return 0
	local errors=() id i st left
	# 1. every task killed and deleted, every container deleted
	for id in $(ctrc task ls -q 2>/dev/null); do
		ctrc task kill -s SIGKILL "$id" >/dev/null 2>&1 || true
		for ((i = 0; i < 50; i++)); do
			st=$(ctrc task ls 2>/dev/null | awk -v id="$id" '$1 == id {print $3}')
			[ "$st" = STOPPED ] || [ -z "$st" ] && break
			sleep 0.1
		done
		ctrc task delete "$id" >/dev/null 2>&1 || errors+=("ctr task delete $id failed")
	done
	for id in $(ctrc containers ls -q 2>/dev/null); do
		ctrc containers delete "$id" >/dev/null 2>&1 || errors+=("ctr containers delete $id failed")
	done
	# 2. berth left no state directory, the runtime no cgroup of a container
	left=$(find "$CTD_DIR/runc/$CTD_NS" -mindepth 1 -maxdepth 1 2>/dev/null)
	[ -z "$left" ] || errors+=("berth state left: $left")
	left=$(find /sys/fs/cgroup/*/"$CTD_NS" -mindepth 1 -maxdepth 1 -type d 2>/dev/null)
	[ -z "$left" ] || errors+=("cgroups left: $left")
	# 3. no container rootfs still mounted
	left=$(mounts_under "$CTD_DIR/state")
	[ -z "$left" ] || errors+=("mounts left: $left")
	local now
	now=$(stat -c '%F %U:%G %a %t:%T' /dev/null)
	[ "$now" = "$DEV_NULL_BEFORE" ] || errors+=("/dev/null changed: was '$DEV_NULL_BEFORE', now '$now'")
	if [ ${#errors[@]} -gt 0 ]; then
		printf '# teardown: %s\n' "${errors[@]}"
		echo "# berth.log: $(cat "$CTD_DIR/berth.log")"
		return 1
	fi
}

# ctr_run ARGS...: ctr run with berth as the runc shim's binary.
ctr_run() {
	ctrc run --runc-binary "$CTD_DIR/berth-runtime" --runc-root "$CTD_DIR/runc" \
		--fifo-dir "$CTD_DIR/fifo" "$@"
}

# start_sleeper ID [ctr run flags...]: a detached task running `sleep 1000`
# as a child of a shell that exits 7 on SIGTERM.
start_sleeper() {
	local id=$1
	shift
	run ctr_run -d "$@" "$IMAGE" "$id" sh -c 'trap "exit 7" TERM; sleep 1000 & wait'
	assert_success
	wait_task_status "$id" RUNNING
}

# berth_calls: the commands (first word after the global flags) berth ran.
berth_calls() {
	sed -E 's/^--root [^ ]+ --log [^ ]+ --log-format json //; s/ .*//' "$CTD_DIR/berth.log"
}

@test "containerd: ctr run prints the container's output and exits with its status, through berth" {
	run ctr_run --rm "$IMAGE" c1 sh -c 'echo hello from berth; id -u; exit 3'
	assert_equal "$status" 3
	assert_output "hello from berth
0"
	# the shim ran our berth with its own state root and a JSON log
	run grep -c " create --bundle $CTD_DIR/state/io.containerd.runtime.v2.task/$CTD_NS/c1 " "$CTD_DIR/berth.log"
	assert_output 1
	run grep -c "^--root $CTD_DIR/runc/$CTD_NS --log $CTD_DIR/state/io.containerd.runtime.v2.task/$CTD_NS/c1/log.json --log-format json " "$CTD_DIR/berth.log"
	assert_equal "$output" "$(wc -l <"$CTD_DIR/berth.log")"
	run berth_calls
	assert_line --index 0 create
	assert_line --index 1 start
	assert_line delete
	# --rm: the task and the container are gone, and so is berth's state
	run ctrc containers ls -q
	assert_output ""
	[ ! -e "$CTD_DIR/runc/$CTD_NS/c1" ]
}

@test "containerd: a running task has berth's state directory under the shim's --root" {
	start_sleeper c2
	local state=$CTD_DIR/runc/$CTD_NS/c2/state.json
	[ -f "$state" ] || fail "no berth state at $state: $(ls -R "$CTD_DIR/runc")"
	# berth's own format: the pid, and the start time that guards against pid reuse
	assert_equal "$(jq -r .pid "$state")" "$(task_pid c2)"
	run jq -e '.start_time > 0' "$state"
	assert_success
	run berth_bin_state c2
	assert_success
	assert_equal "$(jq -r .status <<<"$output")" running
	assert_equal "$(jq -r .id <<<"$output")" c2
	assert_equal "$(jq -r .bundle <<<"$output")" "$CTD_DIR/state/io.containerd.runtime.v2.task/$CTD_NS/c2"
}

# berth_bin_state ID: `berth state` on the shim's state root.
berth_bin_state() {
	"$BERTH_BIN" --root "$CTD_DIR/runc/$CTD_NS" state "$1"
}

@test "containerd: exit statuses of 0, 1 and 255 and a missing program" {
	run ctr_run --rm "$IMAGE" e0 true
	assert_success
	run ctr_run --rm "$IMAGE" e1 false
	assert_equal "$status" 1
	run ctr_run --rm "$IMAGE" e255 sh -c 'exit 255'
	assert_equal "$status" 255
	# berth's create fails: ctr reports berth's error text from its JSON log
	run ctr_run --rm "$IMAGE" enoent /bin/no-such-program
	assert_failure
	assert_output --partial "/bin/no-such-program"
	run ctrc containers ls -q
	assert_output ""
}

@test "containerd: ctr run --tty gives the container a pty through --console-socket" {
	run in_tty timeout -k 5 60 ctr -a "$CTD_SOCK" -n "$CTD_NS" run --runc-binary "$CTD_DIR/berth-runtime" \
		--runc-root "$CTD_DIR/runc" --fifo-dir "$CTD_DIR/fifo" --rm --tty "$IMAGE" t1 \
		sh -c 'tty; berth-probe tty; exit 4'
	assert_equal "$status" 4
	assert_line "/dev/pts/0"
	assert_line "isatty 1 1 1"
	assert_line "ttyname /dev/pts/0"
	run grep -c -- " create .* --console-socket [^ ]*/pty.sock t1$" "$CTD_DIR/berth.log"
	assert_output 1
}

@test "containerd: ctr task exec runs in the container, with its exit status, and with --tty" {
	start_sleeper x1
	run ctrc task exec --fifo-dir "$CTD_DIR/fifo" --exec-id e1 x1 sh -c 'echo exec out; cat /proc/1/cmdline | tr "\0" " "; exit 5'
	assert_equal "$status" 5
	assert_output "exec out
sh -c trap \"exit 7\" TERM; sleep 1000 & wait "
	# the shim used berth's exec with a process.json, detached, with a pid file
	run grep -c -- " exec --process [^ ]* --detach --pid-file [^ ]* x1$" "$CTD_DIR/berth.log"
	assert_output 1

	run in_tty timeout -k 5 60 ctr -a "$CTD_SOCK" -n "$CTD_NS" task exec --fifo-dir "$CTD_DIR/fifo" \
		--tty --exec-id e2 x1 sh -c 'tty; berth-probe tty'
	assert_success
	assert_line --regexp '^/dev/pts/[0-9]+$'
	assert_line "isatty 1 1 1"
	run grep -- " exec .*--console-socket " "$CTD_DIR/berth.log"
	assert_output --regexp "^--root [^ ]+ --log [^ ]+ --log-format json exec --process [^ ]+ --console-socket [^ ]+ --detach --pid-file [^ ]+ x1$"
	# the task still runs
	assert_equal "$(task_status x1)" RUNNING
}

@test "containerd: ctr task kill delivers the signal; ctr run returns the container's status" {
	local out=$CTD_DIR/k1.out pid rc
	ctr_run --rm "$IMAGE" k1 sh -c 'trap "echo got TERM; exit 7" TERM; echo ready; sleep 1000 & wait' \
		</dev/null >"$out" 2>&1 3>&- &
	pid=$!
	wait_for_file "$out" ready
	wait_task_status k1 RUNNING
	run ctrc task kill -s SIGTERM k1
	assert_success
	wait "$pid" && rc=0 || rc=$?
	assert_equal "$rc" 7
	run cat "$out"
	assert_line "got TERM"
	run grep -c " kill k1 15$" "$CTD_DIR/berth.log"
	assert_output 1

	# SIGKILL of a task that ignores SIGTERM
	start_sleeper k2
	run ctrc task kill -s SIGKILL k2
	assert_success
	wait_task_status k2 STOPPED
	run ctrc task delete k2
	assert_success
	[ ! -e "$CTD_DIR/runc/$CTD_NS/k2" ] || fail "berth's state of k2 is left after ctr task delete"
}

@test "containerd: ctr task kill --all signals every process of the task" {
	start_sleeper k3
	run ctrc task kill --all -s SIGKILL k3
	assert_success
	wait_task_status k3 STOPPED
	run grep -c " kill --all k3 9$" "$CTD_DIR/berth.log"
	assert_output 1
}

@test "containerd: pause and resume freeze and thaw the task's cgroup" {
	start_sleeper p1
	run ctrc task pause p1
	assert_success
	wait_task_status p1 PAUSED
	assert_equal "$(cat "/sys/fs/cgroup/freezer/$CTD_NS/p1/freezer.state")" FROZEN
	assert_equal "$(jq -r .status <<<"$(berth_bin_state p1)")" paused
	run ctrc task resume p1
	assert_success
	wait_task_status p1 RUNNING
	assert_equal "$(cat "/sys/fs/cgroup/freezer/$CTD_NS/p1/freezer.state")" THAWED
	run berth_calls
	assert_line pause
	assert_line resume
}

@test "containerd: ctr task ps lists the task's processes" {
	start_sleeper ps1
	local init i procs
	init=$(task_pid ps1)
	for ((i = 0; i < 50; i++)); do
		procs=$(sort -n "/sys/fs/cgroup/pids/$CTD_NS/ps1/cgroup.procs")
		[ "$(wc -l <<<"$procs")" -ge 2 ] && break
		sleep 0.1
	done
	run ctrc task ps ps1
	assert_success
	assert_line --index 0 --regexp '^PID +INFO'
	# every process of the cgroup (the shell and its sleep), and only them
	assert_equal "$(tail -n +2 <<<"$output" | awk '{print $1}' | sort -n)" "$procs"
	assert_line --regexp "^$init "
	run grep -c " ps --format json ps1$" "$CTD_DIR/berth.log"
	assert_output 1
}

@test "containerd: --memory-limit is written to the cgroup and ctr task metrics reads it back" {
	start_sleeper m1 --memory-limit 67108864
	assert_equal "$(cat "/sys/fs/cgroup/memory/$CTD_NS/m1/memory.limit_in_bytes")" 67108864
	# the task's init is in that cgroup
	grep -qx "$(task_pid m1)" "/sys/fs/cgroup/memory/$CTD_NS/m1/cgroup.procs" ||
		fail "init $(task_pid m1) is not in the memory cgroup $CTD_NS/m1"
	run ctrc task metrics m1
	assert_success
	assert_line --regexp '^memory.limit_in_bytes +67108864 *$'
	assert_line --regexp '^pids.current +2 *$'
}

@test "containerd: ctr task delete and containers delete remove berth's state and the cgroup" {
	start_sleeper d1
	[ -d "$CTD_DIR/runc/$CTD_NS/d1" ]
	[ -d "/sys/fs/cgroup/memory/$CTD_NS/d1" ]
	# a running task is refused
	run ctrc task delete d1
	assert_failure
	# --force kills and deletes it
	run ctrc task delete --force d1
	assert_success
	run ctrc containers delete d1
	assert_success
	[ ! -e "$CTD_DIR/runc/$CTD_NS/d1" ] || fail "berth's state of d1 is left: $(ls "$CTD_DIR/runc/$CTD_NS/d1")"
	local d
	for d in /sys/fs/cgroup/*/"$CTD_NS"/d1; do
		[ ! -d "$d" ] || fail "cgroup $d is left"
	done
	[ -z "$(mounts_under "$CTD_DIR/state/io.containerd.runtime.v2.task/$CTD_NS/d1")" ] || fail "rootfs of d1 still mounted"
}
