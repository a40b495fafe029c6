#!/usr/bin/env bats
# podman (Debian's 4.3, with conmon) running containers through berth.
#
# podman's storage, run root, tmpdir and berth's state root all live under a
# temporary directory of the suite, with storage.conf and containers.conf of
# its own (CONTAINERS_STORAGE_CONF, CONTAINERS_CONF). berth is given as
# --runtime through a wrapper script that logs each invocation and puts
# berth's state under that directory (podman's exit command, `podman container
# cleanup`, does not pass --runtime-flag on, so the root is set in the
# wrapper). The busybox image is built on the spot and loaded with
# `podman load`. Containers get a cgroup parent of the suite's own, removed
# afterwards.
#
# This machine lacks CAP_SYS_RESOURCE: podman's default nofile/nproc limits
# cannot be set by any runtime here, so every container gets explicit
# --ulimit values (the only allowance).

load ../helpers
load compat_helpers

IMAGE=docker.io/berth/busybox:test

setup_file() {
	[ "$(id -u)" = 0 ] || return 0 # every test skips with "requires root"
	command -v podman >/dev/null && command -v conmon >/dev/null || return 0 # tests skip, naming it
	PD_DIR=$(mktemp -d /tmp/berth-podman.XXXXXX)
	chmod 0755 "$PD_DIR"
	PD_CGROUP=berth-podman-$$
	export PD_DIR PD_CGROUP
	cat >"$PD_DIR/storage.conf" <<-EOF
		[storage]
		driver = "overlay"
		runroot = "$PD_DIR/runroot"
		graphroot = "$PD_DIR/root"
	EOF
	# runtime_supports_json: conmon passes --log-format=json --log FILE to
	# the runtime and reads its errors from there, as it does for runc
	cat >"$PD_DIR/containers.conf" <<-EOF
		[containers]
		netns = "none"
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "none"
		runtime_supports_json = ["berth", "berth-runtime"]
		[engine.runtimes]
		berth-runtime = ["$PD_DIR/berth-runtime"]
	EOF
	cat >"$PD_DIR/berth-runtime" <<-EOF
		#!/bin/sh
		echo "\$*" >>'$PD_DIR/berth.log'
		exec '$BERTH_BIN' --root '$PD_DIR/berth-root' "\$@"
	EOF
	chmod 0755 "$PD_DIR/berth-runtime"
	export CONTAINERS_CONF=$PD_DIR/containers.conf CONTAINERS_STORAGE_CONF=$PD_DIR/storage.conf
	make_busybox_oci_archive "$PD_DIR/busybox.tar" "${IMAGE%:*}" "${IMAGE##*:}"
	pm load -i "$PD_DIR/busybox.tar" >"$PD_DIR/load.log" 2>&1 || {
		echo "# podman load failed: $(cat "$PD_DIR/load.log")" >&3
		return 1
	}
}

teardown_file() {
	[ -n "${PD_DIR:-}" ] && [ -d "$PD_DIR" ] || return 0
	pm rm --all --force --time 0 >/dev/null 2>&1 || true
	pm rmi --all --force >/dev/null 2>&1 || true
	umount_under "$PD_DIR"
	remove_cgroup "$PD_CGROUP"
	rm -rf "$PD_DIR"
}

setup() {
	requires root
	requires_cmd podman conmon
	[ -n "${PD_DIR:-}" ] || fail "setup_file did not prepare podman"
	DEV_NULL_BEFORE=$(stat -c '%F %U:%G %a %t:%T' /dev/null)
	: >"$PD_DIR/berth.log"
}

teardown() {
	[ -n "${PD_DIR:-}" ] || return 0
	local errors=() left i pids
	pm rm --all --force --time 0 >"$PD_DIR/rm.log" 2>&1 || errors+=("podman rm --all --force: $(cat "$PD_DIR/rm.log")")
	# conmon and the exit command (`podman container cleanup`) finish on their own
	for ((i = 0; i < 100; i++)); do
		pids=$(suite_pids)
		[ -z "$pids" ] && break
		sleep 0.1
	done
	if [ -n "$pids" ]; then
		errors+=("processes left: $(ps -o pid=,args= -p "${pids//$'\n'/,}" | tr '\n' ';')")
		kill -KILL $pids 2>/dev/null || true
	fi
	left=$(find "$PD_DIR/berth-root" -mindepth 1 -maxdepth 1 2>/dev/null)
	[ -z "$left" ] || errors+=("berth state left: $left")
	left=$(find /sys/fs/cgroup/*/"$PD_CGROUP" -mindepth 1 -maxdepth 1 -type d -name 'libpod-*' 2>/dev/null)
	[ -z "$left" ] || errors+=("container cgroups left: $left")
	left=$(mounts_under "$PD_DIR" | grep -E '/merged$|/userdata/shm$' || true)
	[ -z "$left" ] || errors+=("container mounts left: $left")
	remove_cgroup "$PD_CGROUP"
	local now
	now=$(stat -c '%F %U:%G %a %t:%T' /dev/null)
	[ "$now" = "$DEV_NULL_BEFORE" ] || errors+=("/dev/null changed: was '$DEV_NULL_BEFORE', now '$now'")
	if [ ${#errors[@]} -gt 0 ]; then
		printf '# teardown: %s\n' "${errors[@]}"
		echo "# berth.log: $(cat "$PD_DIR/berth.log")"
		return 1
	fi
}

# pm ARGS...: podman with the suite's storage and berth as the runtime.
pm() {
	timeout -k 5 60 podman --root "$PD_DIR/root" --runroot "$PD_DIR/runroot" --tmpdir "$PD_DIR/tmp" \
		--runtime "$PD_DIR/berth-runtime" --cgroup-manager cgroupfs --events-backend none "$@" 3>&-
}

# pm_run ARGS...: podman run with the suite's cgroup parent, no network and
# the ulimits this machine allows.
pm_run() {
	pm run --cgroup-parent "/$PD_CGROUP" --network none \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$@"
}

# suite_pids: live processes whose command line names the suite's directory
# (conmon, podman's exit command, containers' processes never do).
suite_pids() {
	local f pid
	for f in $(grep -lsF -- "$PD_DIR" /proc/[0-9]*/cmdline 2>/dev/null); do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
		pid_alive "$pid" && echo "$pid"
	done
	return 0
}

# pm_state NAME FIELD: a field of podman inspect's .State.
pm_state() {
	pm inspect --format "{{.State.$2}}" "$1"
}

# berth_state ID: `berth state` on the suite's state root.
berth_state() {
	"$BERTH_BIN" --root "$PD_DIR/berth-root" state "$1"
}

# start_sleeper NAME [podman run flags...]: a detached container whose shell
# prints "started", and "bye" and exits 0 on SIGTERM.
start_sleeper() {
	local name=$1
	shift
	run pm_run -d --name "$name" "$@" "$IMAGE" \
		sh -c 'trap "echo bye; exit 0" TERM; echo started; while :; do sleep 0.1; done'
	assert_success
	CID=$output
	[ "$(pm_state "$name" Status)" = running ] || fail "$name is not running: $(pm inspect "$name")"
}

@test "podman: run prints the container's output and exits with its status, through berth" {
	run pm_run --rm "$IMAGE" sh -c 'echo hello from berth; id -u; exit 3'
	assert_equal "$status" 3
	assert_output "hello from berth
0"
	# conmon ran our berth, with a JSON log as it does for runc
	run grep -E "^--log-format=json --log [^ ]+/oci-log create --bundle $PD_DIR/root/overlay-containers/[0-9a-f]{64}/userdata --pid-file [^ ]+ [0-9a-f]{64}$" "$PD_DIR/berth.log"
	assert_success
	run grep -cE "^start [0-9a-f]{64}$" "$PD_DIR/berth.log"
	assert_output 1
	run grep -cE "^delete --force [0-9a-f]{64}$" "$PD_DIR/berth.log"
	assert_output 1
	run pm ps -aq
	assert_output ""
}

@test "podman: a program that does not exist fails with berth's error and 127" {
	run -127 pm_run --rm "$IMAGE" /bin/no-such-program
	assert_equal "$status" 127
	# the error text comes from berth's --log (JSON) through conmon
	assert_output --partial 'exec `/bin/no-such-program`: No such file or directory'
	run pm ps -aq
	assert_output ""
}

@test "podman: run -d, logs, stop and rm" {
	start_sleeper d1
	run pm logs d1
	assert_success
	assert_output "started"
	# berth holds the container as running, with podman's pid
	run berth_state "$CID"
	assert_success
	assert_equal "$(jq -r .status <<<"$output")" running
	assert_equal "$(jq -r .pid <<<"$output")" "$(pm_state d1 Pid)"

	run pm stop --time 10 d1
	assert_success
	assert_equal "$(pm_state d1 Status)" exited
	assert_equal "$(pm_state d1 ExitCode)" 0
	run pm logs d1
	assert_output "started
bye"
	run grep -cE "^kill $CID 15$" "$PD_DIR/berth.log"
	assert_output 1

	run pm rm d1
	assert_success
	run pm ps -aq
	assert_output ""
	[ ! -e "$PD_DIR/berth-root/$CID" ] || fail "berth's state of $CID is left after podman rm"
}

@test "podman: exec runs in the container with its exit status; exec -t gets a pty" {
	start_sleeper x1
	run pm exec x1 sh -c 'echo in exec; cat /proc/1/cmdline | tr "\0" " "; exit 6'
	assert_equal "$status" 6
	assert_output "in exec
sh -c trap \"echo bye; exit 0\" TERM; echo started; while :; do sleep 0.1; done "
	run grep -cE "^--log-format=json --log [^ ]+ exec --pid-file [^ ]+ --process [^ ]+ --detach $CID$" "$PD_DIR/berth.log"
	assert_output 1

	run in_tty timeout -k 5 60 podman --root "$PD_DIR/root" --runroot "$PD_DIR/runroot" --tmpdir "$PD_DIR/tmp" \
		--runtime "$PD_DIR/berth-runtime" --cgroup-manager cgroupfs --events-backend none \
		exec -t x1 sh -c 'tty; berth-probe tty; exit 2'
	assert_equal "$status" 2
	assert_line --regexp '^/dev/pts/[0-9]+$'
	assert_line "isatty 1 1 1"
	run grep -cE "^--log-format=json --log [^ ]+ exec --pid-file [^ ]+ --process [^ ]+ --detach --tty --console-socket [^ ]+ $CID$" "$PD_DIR/berth.log"
	assert_output 1
	assert_equal "$(pm_state x1 Status)" running
}

@test "podman: run -t gives the container a pty through --console-socket" {
	run in_tty timeout -k 5 60 podman --root "$PD_DIR/root" --runroot "$PD_DIR/runroot" --tmpdir "$PD_DIR/tmp" \
		--runtime "$PD_DIR/berth-runtime" --cgroup-manager cgroupfs --events-backend none \
		run --rm -t --cgroup-parent "/$PD_CGROUP" --network none \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$IMAGE" sh -c 'tty; berth-probe tty; exit 4'
	assert_equal "$status" 4
	assert_line "/dev/pts/0"
	assert_line "isatty 1 1 1"
	assert_line "ttyname /dev/pts/0"
	run grep -cE " create --bundle [^ ]+ --pid-file [^ ]+ --console-socket [^ ]+ [0-9a-f]{64}$" "$PD_DIR/berth.log"
	assert_output 1
}

@test "podman: pause and unpause freeze and thaw the container" {
	start_sleeper p1
	run pm pause p1
	assert_success
	assert_equal "$(pm_state p1 Status)" paused
	assert_equal "$(cat "/sys/fs/cgroup/freezer/$PD_CGROUP/libpod-$CID/freezer.state")" FROZEN
	assert_equal "$(jq -r .status <<<"$(berth_state "$CID")")" paused
	run pm unpause p1
	assert_success
	assert_equal "$(pm_state p1 Status)" running
	assert_equal "$(cat "/sys/fs/cgroup/freezer/$PD_CGROUP/libpod-$CID/freezer.state")" THAWED
	run grep -cE "^(pause|resume) $CID$" "$PD_DIR/berth.log"
	assert_output 2
}

@test "podman: --memory is written to the container's memory cgroup" {
	start_sleeper m1 --memory 64m
	local cg
	cg=$(pm_state m1 CgroupPath)
	assert_equal "$cg" "/$PD_CGROUP/libpod-$CID"
	assert_equal "$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")" 67108864
	grep -qx "$(pm_state m1 Pid)" "/sys/fs/cgroup/memory$cg/cgroup.procs" ||
		fail "the container's init is not in /sys/fs/cgroup/memory$cg"
	# and the container sees it in its own cgroup namespace
	run pm exec m1 cat /sys/fs/cgroup/memory/memory.limit_in_bytes
	assert_success
	assert_output 67108864
}

@test "podman: --read-only makes the root filesystem read-only, with a writable /tmp" {
	# podman mounts tmpfs with the `tmpcopyup` option (runc's extension:
	# the directory's contents are copied into the new tmpfs) on /run, /tmp
	# and /var/tmp
	run pm_run --rm --read-only "$IMAGE" sh -c 'touch /x 2>&1; echo rc=$?; touch /tmp/y && echo tmp ok
		grep -E "^tmpfs /(run|tmp|var/tmp) tmpfs " /proc/mounts | cut -d" " -f2; grep " / " /proc/mounts | cut -d" " -f4'
	assert_success
	assert_line --partial "touch: /x: Read-only file system"
	assert_line "rc=1"
	assert_line "tmp ok"
	assert_line "/run"
	assert_line "/tmp"
	assert_line "/var/tmp"
	assert_line --regexp '^ro,'
}

@test "podman: --user sets the uid and gid; /dev/null stays root:root 0666" {
	run pm_run --rm --user 1000:1000 "$IMAGE" sh -c 'id -u; id -g; echo x >/dev/null && echo devnull ok'
	assert_success
	assert_output "1000
1000
devnull ok"
	run pm_run --rm --user user "$IMAGE" id -un
	assert_success
	assert_output user
	# podman -d: the container's stdio is /dev/null for stdin
	start_sleeper u1 --user 1000:1000
	run pm exec --user 1000 u1 sh -c 'id -u; ls -l /proc/self/fd/0'
	assert_success
	assert_line 1000
	dev_null_ok
}

@test "podman: inspect reports the state that berth reports" {
	start_sleeper i1
	assert_equal "$(pm_state i1 Status)" running
	assert_equal "$(pm_state i1 Running)" true
	local pid
	pid=$(pm_state i1 Pid)
	assert_equal "$(jq -r .pid <<<"$(berth_state "$CID")")" "$pid"
	pid_alive "$pid" || fail "pid $pid of inspect is not alive"
	# after it exits: exited, with its status
	run pm_run --name i2 "$IMAGE" sh -c 'exit 42'
	assert_equal "$status" 42
	assert_equal "$(pm_state i2 Status)" exited
	assert_equal "$(pm_state i2 ExitCode)" 42
	# killed by a signal
	run pm kill --signal KILL i1
	assert_success
	run pm wait i1
	assert_output 137
	assert_equal "$(pm_state i1 Status)" exited
	assert_equal "$(pm_state i1 ExitCode)" 137
}
