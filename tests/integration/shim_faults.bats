#!/usr/bin/env bats
# containerd-shim-berth-v2 under faults, with a containerd of the suite's own
# (Debian's 1.6; config, root, state and sockets under a temporary
# directory), the shim under test first on its PATH:
#
#  - the shim killed with SIGKILL while its task runs: containerd notices
#    the connection gone and runs the shim's `delete` subcommand; afterwards
#    no container process, berth state, cgroup, rootfs mount or shim is left,
#    and the id can run again;
#  - containerd killed with SIGKILL (not stopped) while tasks run, one of
#    them exiting while it is away: the restarted containerd finds the
#    running task again (same pid, same shim) and learns the other's exit.
#    (shim.bats restarts a containerd stopped with SIGTERM.)

load helpers
load compat/compat_helpers

IMAGE=docker.io/berth/busybox:test
RUNTIME=io.containerd.berth.v2

setup_file() {
	[ "$(id -u)" = 0 ] || return 0 # every test skips with "requires root"
	command -v containerd >/dev/null && command -v ctr >/dev/null || return 0
	[ -x "$BERTH_BUILDDIR/containerd-shim-berth-v2" ] || return 0
	make_shim_suite_dir shim-faults
	CTD_NS=berth-shim-faults-$$
	export CTD_NS
	mkdir -p "$CTD_DIR/fifo"
	write_containerd_config
	start_containerd || return 1
	import_busybox_image busybox "$IMAGE"
}

teardown_file() {
	[ -n "${CTD_DIR:-}" ] && [ -d "$CTD_DIR" ] || return 0
	rmdir "/run/containerd/berth/$CTD_NS" 2>/dev/null || true
	finish_containerd_suite "$CTD_NS"
}

setup() {
	requires root
	requires_cmd containerd ctr
	[ -x "$BERTH_BUILDDIR/containerd-shim-berth-v2" ] || fail "no containerd-shim-berth-v2 in $BERTH_BUILDDIR"
	[ -n "${CTD_DIR:-}" ] || fail "containerd was not started by setup_file"
}

teardown() {
	[ -n "${CTD_DIR:-}" ] || return 0
	local id errors
	for id in $(ctrc task ls -q 2>/dev/null); do
		ctrc task kill -s SIGKILL "$id" >/dev/null 2>&1 || true
		ctrc task delete -f "$id" >/dev/null 2>&1 || true
	done
	for id in $(ctrc containers ls -q 2>/dev/null); do
		ctrc containers delete "$id" >/dev/null 2>&1 || true
	done
	errors=$(leftovers)
	[ -z "$errors" ] || fail "teardown: $errors"
}

# wait_for WHAT CMD...: up to 15 s for CMD to succeed.
wait_for() {
	local what=$1 i
	shift
	for ((i = 0; i < 150; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	fail "after 15 s: $what"
}

status_is() {
	[ "$(task_status "$1")" = "$2" ]
}

# start_sleeper ID: a detached task running `sleep 1000`.
start_sleeper() {
	run ctrc run -d --runtime "$RUNTIME" --fifo-dir "$CTD_DIR/fifo" "$IMAGE" "$1" sleep 1000
	assert_success
	wait_for "task $1 running" status_is "$1" RUNNING
}

# leftovers: berth state, cgroups, rootfs mounts and shims of this suite (one
# phrase each; empty: none).
leftovers() {
	local out= left
	left=$(find "/run/containerd/berth/$CTD_NS" -mindepth 1 -maxdepth 1 2>/dev/null)
	[ -z "$left" ] || out+="berth state: $left; "
	left=$(find /sys/fs/cgroup/*/"$CTD_NS" /sys/fs/cgroup/"$CTD_NS" -mindepth 1 -maxdepth 1 -type d 2>/dev/null)
	[ -z "$left" ] || out+="cgroups: $left; "
	left=$(mounts_under "$CTD_DIR/state")
	[ -z "$left" ] || out+="mounts: $left; "
	left=$(berth_shim_pids)
	[ -z "$left" ] || out+="shims: $left; "
	echo "$out"
}

pid_gone() {
	! kill -0 "$1" 2>/dev/null
}

nothing_left() {
	[ -z "$(leftovers)" ]
}

@test "shim faults: the shim killed while its task runs: containerd's cleanup (shim delete) leaves nothing, the id runs again" {
	start_sleeper k1
	local init shim i
	init=$(task_pid k1)
	shim=$(berth_shim_pids k1)
	[ -n "$shim" ] && kill -0 "$init" || fail "no shim ($shim) or init ($init)"
	kill -KILL "$shim"
	# containerd sees the shim's connection close and runs `shim delete`:
	# the container's process dies, its state, cgroups and rootfs mount go
	wait_for "the container's init $init gone" pid_gone "$init"
	wait_for "the task k1 gone from containerd" eval '[ -z "$(task_status k1)" ]'
	for ((i = 0; i < 150; i++)); do
		nothing_left && break
		sleep 0.1
	done
	[ -z "$(leftovers)" ] || fail "left after the shim's delete: $(leftovers)"
	grep -q "cleaning up dead shim" "$CTD_DIR/containerd.log" ||
		fail "containerd did not clean up after the shim: $(tail -n 20 "$CTD_DIR/containerd.log")"
	# the same id runs again
	run ctrc containers delete k1
	assert_success
	run ctrc run --rm --runtime "$RUNTIME" --fifo-dir "$CTD_DIR/fifo" "$IMAGE" k1 echo again
	assert_success
	assert_output again
}

@test "shim faults: containerd killed (SIGKILL) while tasks run, one exiting meanwhile: the restarted containerd finds both" {
	start_sleeper r1
	start_sleeper r2
	local init1 init2 shim1 old
	init1=$(task_pid r1)
	init2=$(task_pid r2)
	shim1=$(berth_shim_pids r1)
	old=$(cat "$CTD_DIR/containerd.pid")
	kill -KILL "$old"
	wait_for "containerd $old gone" pid_gone "$old"
	# while containerd is away: r1 runs on, r2's process is killed
	kill -0 "$init1" || fail "r1's init died with containerd"
	kill -KILL "$init2"
	wait_for "r2's init $init2 gone" pid_gone "$init2"
	start_containerd
	assert_equal "$(task_status r1)" RUNNING
	assert_equal "$(task_pid r1)" "$init1"
	assert_equal "$(berth_shim_pids r1)" "$shim1"
	wait_for "r2 STOPPED after the restart" status_is r2 STOPPED
	run ctrc task exec --exec-id e1 r1 echo after the kill
	assert_success
	assert_output "after the kill"
	run ctrc task kill -s SIGKILL r1
	assert_success
	wait_for "r1 STOPPED" status_is r1 STOPPED
}
