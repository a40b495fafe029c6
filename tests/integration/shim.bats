#!/usr/bin/env bats
# containerd (Debian's 1.6) running containers through containerd-shim-berth-v2:
# `ctr run --runtime io.containerd.berth.v2`.
#
# The suite starts its own containerd (config, root, state and sockets under a
# temporary directory) with a bin directory first on its PATH holding a
# symlink to the shim under test, and two traps: `runc` and `berth` scripts
# that log any execution, to prove the shim links libberth and executes
# neither. It imports a busybox image built on the spot, and stops containerd
# by its pid at the end. The shim keeps berth's state under
# /run/containerd/berth/<namespace>, removed at the end.

load helpers
load compat/compat_helpers

IMAGE=docker.io/berth/busybox:test
RUNTIME=io.containerd.berth.v2

setup_file() {
	[ "$(id -u)" = 0 ] || return 0 # every test skips with "requires root"
	command -v containerd >/dev/null && command -v ctr >/dev/null || return 0
	[ -x "$BERTH_BUILDDIR/containerd-shim-berth-v2" ] || return 0
	make_shim_suite_dir shim
	CTD_NS=berth-shim-$$
	export CTD_NS
	make_exec_traps "$CTD_DIR/bin" "$CTD_DIR/exec.log"
	write_containerd_config debug
	start_containerd || return 1
	CTD_PID=$(cat "$CTD_DIR/containerd.pid")
	export CTD_PID
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
	[ -n "${CTD_PID:-}" ] || fail "containerd was not started by setup_file"
	DEV_NULL_BEFORE=$(stat -c '%F %U:%G %a %t:%T' /dev/null)
	mkdir -p "$CTD_DIR/fifo"
}

teardown() {
	[ -n "${CTD_DIR:-}" ] && [ -n "${CTD_PID:-}" ] || return 0
	local errors=() id i st left now
	# 0. what a test started around containerd
	if [ -f "$CTD_DIR/cleanup.sh" ]; then
		bash "$CTD_DIR/cleanup.sh" || errors+=("the test's cleanup.sh failed")
		rm -f "$CTD_DIR/cleanup.sh"
	fi
	# 1. every task killed and deleted, every container deleted
	for id in $(ctrc task ls -q 2>/dev/null); do
		ctrc task kill -s SIGKILL "$id" >/dev/null 2>&1 || true
		for ((i = 0; i < 50; i++)); do
			st=$(task_status "$id")
			[ "$st" = STOPPED ] || [ -z "$st" ] && break
			sleep 0.1
		done
		ctrc task delete "$id" >/dev/null 2>&1 || errors+=("ctr task delete $id failed")
	done
	for id in $(ctrc containers ls -q 2>/dev/null); do
		ctrc containers delete "$id" >/dev/null 2>&1 || errors+=("ctr containers delete $id failed")
	done
	# 2. no berth state, no cgroup, no rootfs mount, no shim left
	left=$(find "/run/containerd/berth/$CTD_NS" -mindepth 1 -maxdepth 1 2>/dev/null)
	[ -z "$left" ] || errors+=("berth state left: $left")
	left=$(find /sys/fs/cgroup/*/"$CTD_NS" -mindepth 1 -maxdepth 1 -type d 2>/dev/null)
	[ -z "$left" ] || errors+=("cgroups left: $left")
	left=$(mounts_under "$CTD_DIR/state")
	[ -z "$left" ] || errors+=("mounts left: $left")
	for ((i = 0; i < 30; i++)); do
		left=$(berth_shim_pids)
		[ -z "$left" ] && break
		sleep 0.1
	done
	[ -z "$left" ] || errors+=("shims left: $left")
	now=$(stat -c '%F %U:%G %a %t:%T' /dev/null)
	[ "$now" = "$DEV_NULL_BEFORE" ] || errors+=("/dev/null changed: was '$DEV_NULL_BEFORE', now '$now'")
	if [ ${#errors[@]} -gt 0 ]; then
		printf '# teardown: %s\n' "${errors[@]}"
		return 1
	fi
}

# ctr_run ARGS...: ctr run through our shim.
ctr_run() {
	ctrc run --runtime "$RUNTIME" --fifo-dir "$CTD_DIR/fifo" "$@"
}

# start_sleeper ID [ctr run flags...]: a detached task running `sleep 1000`
# as a child of a shell that exits 7 on SIGTERM.
start_sleeper() {
	local id=$1
	shift
	run ctr_run -d "$@" "$IMAGE" "$id" sh -c 'trap "exit 7" TERM; echo started; sleep 1000 & wait'
	assert_success
	wait_task_status "$id" RUNNING
}

vmrss_kb() {
	awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# start_events OUT: `ctr events` into OUT in the background (its pid in
# $EVENTS_PID); returns once it is subscribed, which a change of the image's
# labels (/images/update) shows, so no event of the test can come too early.
start_events() {
	local i
	timeout -k 5 120 ctr -a "$CTD_SOCK" -n "$CTD_NS" events >"$1" 2>&1 3>&- &
	EVENTS_PID=$!
	for ((i = 0; i < 100; i++)); do
		ctrc images label "$IMAGE" "berth-test.probe=$i" >/dev/null
		grep -q '/images/update' "$1" && return 0
		sleep 0.1
	done
	fail "ctr events showed no /images/update in 10 s"
}

# wait_events OUT REGEX N: up to 10 s for N lines of OUT matching REGEX
# (the shims forward exits on their own schedule, after ctr has returned).
wait_events() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -Eac -- "$2" "$1")" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 0 # the test's assertions say what is missing
}

# stop_events: 0.3 s more (a duplicate would show), then ctr events ends.
stop_events() {
	sleep 0.3
	kill "$EVENTS_PID"
	wait "$EVENTS_PID" 2>/dev/null || true
}

# write_ttrpc_client: $CTD_DIR/ttrpc_client.py, a minimal ttrpc client of
# the task service for the tests that go around ctr (call(sock, method,
# payload) -> the response's fields; field(n, value) encodes one field; the
# wire format from compat/pbwire.py, copied beside it).
write_ttrpc_client() {
	cp "$BATS_TEST_DIRNAME/compat/pbwire.py" "$CTD_DIR/pbwire.py"
	cat >"$CTD_DIR/ttrpc_client.py" <<-'EOF'
		import json, os, socket, struct, sys, time
		from pbwire import *

		def recv_all(sock, n):
		    data = b""
		    while len(data) < n:
		        chunk = sock.recv(n - len(data))
		        if not chunk:
		            sys.exit("connection closed")
		        data += chunk
		    return data

		stream = 1

		def call(sock, method, payload):
		    global stream
		    req = field(1, "containerd.task.v2.Task") + field(2, method) + field(3, payload)
		    sock.sendall(struct.pack(">IIBB", len(req), stream, 1, 0) + req)
		    stream += 2
		    length, _, _, _ = struct.unpack(">IIBB", recv_all(sock, 10))
		    resp = fields(recv_all(sock, length))
		    if 1 in resp:
		        sys.exit("%s: %s" % (method, fields(resp[1]).get(2, b"").decode()))
		    return fields(resp.get(2, b""))
	EOF
}

@test "shim: ctr run prints the output and exits with the container's status" {
	run ctr_run --rm "$IMAGE" r1 echo hi
	assert_success
	assert_output "hi"
	run ctr_run --rm "$IMAGE" r2 sh -c 'echo out; echo err >&2; exit 3'
	assert_equal "$status" 3
	assert_line out
	assert_line err
	# killed from outside: 128 + SIGKILL
	local pid rc
	ctr_run --rm "$IMAGE" r3 sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
	pid=$!
	wait_task_status r3 RUNNING
	ctrc task kill -s SIGKILL r3
	wait "$pid" && rc=0 || rc=$?
	assert_equal "$rc" 137
	run ctrc containers ls -q
	assert_output ""
	# the bundle's address file and the shim's own log in containerd's log
	run grep -c 'msg="created container r1' "$CTD_DIR/containerd.log"
	assert_output 1
}

@test "shim: the server is ours, from a sealed copy; no runc or berth was executed" {
	start_sleeper s1
	local pid bundle=$CTD_DIR/state/io.containerd.runtime.v2.task/$CTD_NS/s1
	pid=$(berth_shim_pids s1)
	[ -n "$pid" ] || fail "no berth-shim process for s1: $(ps -ef | grep -i shim)"
	# the container's init is the shim's child (it is a subreaper)
	assert_equal "$(awk '{print $4}' "/proc/$(task_pid s1)/stat")" "$pid"
	run readlink "/proc/$pid/exe"
	assert_output --regexp '^/memfd:'
	run cat "$bundle/address"
	assert_output --regexp '^unix:///run/containerd/s/[0-9a-f]{32}$'
	[ -S "${output#unix://}" ]
	run ctrc task exec --exec-id e1 s1 true
	assert_success
	run cat "$CTD_DIR/exec.log"
	assert_output ""
}

@test "shim: exec with output, status and stdin; kill of an exited process is NOT_FOUND" {
	start_sleeper x1
	run ctrc task exec --exec-id e1 x1 sh -c 'echo exec out; cat /proc/1/cmdline | tr "\0" " "; exit 5'
	assert_equal "$status" 5
	assert_output "exec out
sh -c trap \"exit 7\" TERM; echo started; sleep 1000 & wait "
	run sh -c "echo piped in | timeout 30 ctr -a '$CTD_SOCK' -n '$CTD_NS' task exec --exec-id e2 x1 cat"
	assert_success
	assert_output "piped in"
	# a duplicate exec id while it runs
	ctrc task exec --exec-id e3 x1 sleep 1000 >/dev/null 2>&1 &
	local i
	for ((i = 0; i < 50; i++)); do
		ctrc task ps x1 | grep -q e3 && break
		sleep 0.1
	done
	run ctrc task ps x1
	assert_line --regexp '^[0-9]+ +.*ExecID:e3\b'
	run ctrc task exec --exec-id e3 x1 true
	assert_failure
	assert_output --partial "already exists"
	run ctrc task kill -s SIGKILL x1
	assert_success
	wait_task_status x1 STOPPED
	run ctrc task kill -s SIGKILL x1
	assert_failure
	assert_output --partial "process already finished: not found"
	wait
}

@test "shim: kill, pause/resume, ps, metrics and delete of a detached task" {
	start_sleeper k1 --memory-limit 67108864
	run ctrc task ps k1
	assert_success
	assert_line --regexp "^$(task_pid k1) +-$"
	run ctrc task pause k1
	assert_success
	assert_equal "$(task_status k1)" PAUSED
	run ctrc task resume k1
	assert_success
	assert_equal "$(task_status k1)" RUNNING
	run ctrc task metrics k1
	assert_success
	assert_line --regexp '^memory.limit_in_bytes +67108864 *$'
	assert_line --regexp '^pids.current +2 *$'
	assert_line --regexp '^cpuacct.usage +[1-9][0-9]* *$'
	# a running task is not deleted
	run ctrc task delete k1
	assert_failure
	run ctrc task kill k1
	assert_success
	wait_task_status k1 STOPPED
	run ctrc task delete k1
	assert_success
	run ctrc containers delete k1
	assert_success
	[ ! -e "/run/containerd/berth/$CTD_NS/k1" ] || fail "berth state of k1 left"
}

@test "shim: events come in order, with the exit status" {
	local ev=$CTD_DIR/events.out
	start_events "$ev"
	run ctr_run --rm "$IMAGE" v1 sh -c 'exit 9'
	assert_equal "$status" 9
	wait_events "$ev" '/tasks/(exit|delete) ' 2
	stop_events
	run grep -o '/tasks/[a-z-]*' "$ev"
	assert_output "/tasks/create
/tasks/start
/tasks/exit
/tasks/delete"
	run grep '/tasks/exit' "$ev"
	assert_output --partial '"exit_status":9'
}

@test "shim: a tty through the console socket, with exec --tty" {
	run in_tty timeout -k 5 60 ctr -a "$CTD_SOCK" -n "$CTD_NS" run --runtime "$RUNTIME" --rm --tty \
		"$IMAGE" t1 sh -c 'tty; exit 4'
	assert_equal "$status" 4
	assert_line "/dev/pts/0"
	start_sleeper t2
	run in_tty timeout -k 5 60 ctr -a "$CTD_SOCK" -n "$CTD_NS" task exec --tty --exec-id e1 t2 \
		sh -c 'tty; echo in exec'
	assert_success
	assert_line --regexp '^/dev/pts/[0-9]+$'
	assert_line "in exec"
}

@test "shim: tasks survive a containerd restart (reconnect through <bundle>/address)" {
	start_sleeper c1
	local init shim old
	init=$(task_pid c1)
	shim=$(berth_shim_pids c1)
	old=$(cat "$CTD_DIR/containerd.pid")
	kill -TERM "$old"
	while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
	start_containerd
	assert_equal "$(task_status c1)" RUNNING
	assert_equal "$(task_pid c1)" "$init"
	assert_equal "$(berth_shim_pids c1)" "$shim"
	run ctrc task exec --exec-id e1 c1 echo after restart
	assert_success
	assert_output "after restart"
	# the exit still reaches containerd (events reconnect)
	run ctrc task kill c1
	assert_success
	wait_task_status c1 STOPPED
}

@test "shim: resident memory of the shim with one container, against the runc shim" {
	requires_cmd containerd-shim-runc-v2 runc
	start_sleeper m1
	local ours runcs pid
	pid=$(berth_shim_pids m1)
	ours=$(vmrss_kb "$pid")
	run ctrc run --runtime io.containerd.runc.v2 -d "$IMAGE" m2 sleep 1000
	assert_success
	wait_task_status m2 RUNNING
	sleep 1 # the Go runtime settles
	pid=$(pgrep -f -- "containerd-shim-runc-v2 -namespace $CTD_NS -id m2 ")
	[ -n "$pid" ] || fail "no runc shim for m2"
	runcs=$(vmrss_kb "$pid")
	echo "# VmRSS with one container: containerd-shim-berth-v2 ${ours} kB, containerd-shim-runc-v2 ${runcs} kB" >&3
	[ "$ours" -lt "$runcs" ] || fail "our shim (${ours} kB) is not smaller than the runc shim (${runcs} kB)"
	: >"$CTD_DIR/exec.log" # the runc shim executed runc: that was expected here
}

@test "shim: a container killed by the OOM killer yields /tasks/oom once, before its exit" {
	local ev=$CTD_DIR/events.out
	start_events "$ev"
	# 64 MiB into the container's tmpfs against a 20 MiB limit
	run ctr_run --rm --memory-limit 20971520 "$IMAGE" o1 sh -c 'dd if=/dev/zero of=/dev/shm/x bs=1M count=64'
	assert_equal "$status" 137
	wait_events "$ev" '/tasks/(exit|delete) ' 2
	stop_events
	run grep -o '/tasks/[a-z-]*' "$ev"
	assert_output "/tasks/create
/tasks/start
/tasks/oom
/tasks/exit
/tasks/delete"
	run grep '/tasks/oom' "$ev"
	assert_output --partial '"container_id":"o1"'
	run grep '/tasks/exit' "$ev"
	assert_output --partial '"exit_status":137'
}

@test "shim: containers with one sandbox id share one shim, which outlives all but the last" {
	local id pid shim
	for id in g1 g2 g3; do
		start_sleeper "$id" --annotation io.kubernetes.cri.sandbox-id=pod-$$
	done
	start_sleeper g4 # another pod (none): a shim of its own
	shim=$(berth_shim_pids g1)
	[ -n "$shim" ] || fail "no berth-shim process for g1: $(ps -ef | grep -i shim)"
	# one server for the pod, one for g4
	run berth_shim_pids
	assert_equal "${#lines[@]}" 2
	for id in g1 g2 g3; do
		pid=$(task_pid "$id")
		assert_equal "$(awk '{print $4}' "/proc/$pid/stat")" "$shim"
		run cat "$CTD_DIR/state/io.containerd.runtime.v2.task/$CTD_NS/$id/address"
		assert_equal "$output" "$(cat "$CTD_DIR/state/io.containerd.runtime.v2.task/$CTD_NS/g1/address")"
	done
	pid=$(task_pid g4)
	[ "$(awk '{print $4}' "/proc/$pid/stat")" != "$shim" ] || fail "g4 is served by the pod's shim"
	# the first container goes: the shim stays for the other two
	run ctrc task kill g1
	assert_success
	wait_task_status g1 STOPPED
	run ctrc task delete g1
	assert_success
	run ctrc containers delete g1
	assert_success
	kill -0 "$shim" || fail "the pod's shim exited with two containers left"
	run ctrc task exec --exec-id e1 g2 echo still served
	assert_success
	assert_output "still served"
	assert_equal "$(task_status g3)" RUNNING
	# a new container of the pod joins the running shim, whose log still
	# reaches containerd (g1's log fifo is gone: g2's or g3's took over)
	start_sleeper g5 --annotation io.kubernetes.cri.sandbox-id=pod-$$
	assert_equal "$(awk '{print $4}' "/proc/$(task_pid g5)/stat")" "$shim"
	run grep -c 'msg="created container g5, init pid' "$CTD_DIR/containerd.log"
	assert_output 1
}

@test "shim: State of one container is answered while the same shim creates others" {
	local pod=io.kubernetes.cri.sandbox-id=resp-$$ i t0 t1 worst=0 bg
	start_sleeper q1 --annotation "$pod"
	# five more containers of the pod, created and started one after another
	(
		for i in 2 3 4 5 6; do
			ctr_run -d --annotation "$pod" "$IMAGE" "q$i" sleep 1000 >/dev/null 2>&1 || exit 1
		done
	) &
	bg=$!
	# meanwhile, State of q1 (ctr task ls asks each task's shim) keeps coming
	# back: the single-threaded loop answers it as soon as the Create or Start
	# in progress returns
	while kill -0 "$bg" 2>/dev/null; do
		t0=$(date +%s%N)
		[ "$(task_status q1)" = RUNNING ] || fail "q1 is not RUNNING during the creates"
		t1=$(date +%s%N)
		((t1 - t0 > worst)) && worst=$((t1 - t0))
	done
	wait "$bg" || fail "creating q2..q6 failed"
	echo "# slowest ctr task ls during the creates: $((worst / 1000000)) ms" >&3
	((worst < 2000000000)) || fail "State took $((worst / 1000000)) ms during the creates"
	for i in 2 3 4 5 6; do
		assert_equal "$(awk '{print $4}' "/proc/$(task_pid "q$i")/stat")" "$(berth_shim_pids q1)"
	done
}

@test "shim: ctr run --log-uri file:// writes stdout and stderr into the file" {
	local log=$CTD_DIR/logs/sub/f1.log
	run ctr_run --rm --log-uri "file://$log" "$IMAGE" f1 sh -c 'echo to out; echo to err >&2; exit 2'
	assert_equal "$status" 2
	refute_output --partial "to out"
	run cat "$log"
	assert_line "to out"
	assert_line "to err"
}

@test "shim: execs die with init, in a pid namespace of their own or the host's; one exit each" {
	local ev=$CTD_DIR/events-p.out id left pids
	start_events "$ev"
	start_sleeper p1
	start_sleeper p2 --with-ns "pid:/proc/$$/ns/pid"
	for id in p1 p2; do
		ctrc task exec --exec-id "e-$id" "$id" sleep 1000 >"$CTD_DIR/exec-$id.out" 2>&1 &
		echo $! >"$CTD_DIR/exec-$id.pid"
	done
	for id in p1 p2; do
		for ((i = 0; i < 50; i++)); do
			ctrc task ps "$id" | grep -q "ExecID:e-$id" && break
			sleep 0.1
		done
	done
	# host pids of everything in p2: init, its sleep, the exec
	pids=$(ctrc task ps p2 | awk 'NR > 1 {print $1}')
	assert_equal "$(echo "$pids" | wc -l)" 3
	# only init is signalled
	for id in p1 p2; do
		run ctrc task kill -s SIGKILL "$id"
		assert_success
		wait_task_status "$id" STOPPED
	done
	for id in p1 p2; do
		run wait "$(cat "$CTD_DIR/exec-$id.pid")"
		assert_equal "$status" 137
	done
	for ((i = 0; i < 50; i++)); do
		left=$(for p in $pids; do
			if [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then echo "$p"; fi
		done)
		[ -z "$left" ] && break
		sleep 0.1
	done
	[ -z "$left" ] || fail "processes of p2 left after its init exited: $left"
	wait_events "$ev" '/tasks/exit ' 4
	stop_events
	for id in p1 p2; do
		run grep -c "/tasks/exit .*\"id\":\"e-$id\"" "$ev"
		assert_output 1
		run grep -c "/tasks/exit .*\"id\":\"$id\"" "$ev"
		assert_output 1
	done
	run grep "/tasks/exit .*\"id\":\"e-p2\"" "$ev"
	assert_output --partial '"exit_status":137'
}

@test "shim: CloseIO on a tty exec: the end of stdin reaches the process as end-of-file" {
	local bundle=$CTD_DIR/state/io.containerd.runtime.v2.task/$CTD_NS/c1
	requires_cmd python3
	start_sleeper c1
	# ctr feeds a tty exec from its console, which never ends: a ttrpc
	# client of the shim's socket does what `crictl exec -it` does
	write_ttrpc_client
	cat >"$CTD_DIR/exec_closeio.py" <<-'EOF'
		from ttrpc_client import *

		# exec_closeio.py BUNDLE ID STDIN STDOUT: an exec of `cat` on a terminal,
		# fed through the stdin fifo, which is then closed, followed by CloseIO
		bundle, cid, stdin_path, stdout_path = sys.argv[1:5]
		address = open(bundle + "/address").read().strip()
		sock = socket.socket(socket.AF_UNIX)
		sock.settimeout(20)
		sock.connect(address[len("unix://"):])
		proc = json.load(open(bundle + "/config.json"))["process"]
		proc["args"] = ["sh", "-c", "cat; echo; echo cat ended"]
		proc["terminal"] = True
		spec = field(1, "types.containerd.io/opencontainers/runtime-spec/1/Process") + field(2, json.dumps(proc))
		out = os.open(stdout_path, os.O_RDONLY | os.O_NONBLOCK)
		ids = field(1, cid) + field(2, "t1")
		call(sock, "Exec", ids + field(3, True) + field(4, stdin_path) + field(5, stdout_path) + field(7, spec))
		call(sock, "Start", ids)
		w = os.open(stdin_path, os.O_WRONLY)
		os.write(w, b"one\ntwo")
		os.close(w)
		call(sock, "CloseIO", ids + field(3, True))
		status = call(sock, "Wait", ids).get(1, 0)
		output, deadline = b"", time.time() + 5
		while time.time() < deadline:
		    try:
		        chunk = os.read(out, 4096)
		    except BlockingIOError:
		        time.sleep(0.05)
		        continue
		    if not chunk:
		        break
		    output += chunk
		call(sock, "Delete", ids)
		sys.stdout.write(output.decode(errors="replace").replace("\r", ""))
		print("exit status %d" % status)
	EOF
	mkfifo "$CTD_DIR/fifo/t1-stdin" "$CTD_DIR/fifo/t1-stdout"
	run timeout -k 5 30 python3 "$CTD_DIR/exec_closeio.py" "$bundle" c1 "$CTD_DIR/fifo/t1-stdin" \
		"$CTD_DIR/fifo/t1-stdout"
	assert_success
	# the EOF character twice: the first ends the partial line `two`
	assert_line "exit status 0"
	assert_line "cat ended"
	assert_line --regexp "two"
}

@test "shim: ctr run --log-uri binary:// hands stdout and stderr to the logging binary" {
	local log=$CTD_DIR/binary.log i
	# containerd's logging binary protocol: stdout on fd 3, stderr on fd 4,
	# fd 5 closed when ready; the query as arguments; only CONTAINER_ID and
	# CONTAINER_NAMESPACE in the environment (not the shim's TTRPC_ADDRESS)
	cat >"$CTD_DIR/logger" <<-'EOF'
		#!/bin/sh
		[ "$1" = file ] || exit 1
		exec >>"$2" 5>&-
		echo "args: $*"
		echo "env: $CONTAINER_ID $CONTAINER_NAMESPACE TTRPC_ADDRESS=${TTRPC_ADDRESS-unset}"
		while IFS= read -r l; do echo "out: $l"; done <&3 &
		while IFS= read -r l; do echo "err: $l"; done <&4
		wait
		echo "logger done"
	EOF
	chmod 0755 "$CTD_DIR/logger"
	run ctr_run --rm --log-uri "binary://$CTD_DIR/logger?file=$log" "$IMAGE" b1 \
		sh -c 'echo to out; echo to err >&2; exit 3'
	assert_equal "$status" 3
	refute_output --partial "to out"
	for ((i = 0; i < 50; i++)); do
		grep -q "logger done" "$log" 2>/dev/null && break
		sleep 0.1
	done
	run cat "$log"
	assert_line "args: file $log"
	assert_line "env: b1 $CTD_NS TTRPC_ADDRESS=unset"
	assert_line "out: to out"
	assert_line "err: to err"
	assert_line "logger done"
	# a binary that is not there: Create fails and says why
	run ctr_run --rm --log-uri "binary://$CTD_DIR/no-logger" "$IMAGE" b2 true
	assert_failure
	assert_output --partial "no-logger"
	ctrc containers delete b2 >/dev/null 2>&1 || true
}

@test "shim: -info prints containerd 2's RuntimeInfo; start reads containerd 2.3's BootstrapParams" {
	local shim=$BERTH_BUILDDIR/containerd-shim-berth-v2 bundle=$CTD_DIR/bs1 out pid
	requires_cmd python3
	write_ttrpc_client
	# -info: name, version, the options Any given on stdin, the features
	cat >"$CTD_DIR/info.py" <<-'EOF'
		from ttrpc_client import *
		info = fields(sys.stdin.buffer.read())
		print("name", info[1].decode())
		print("version", fields(info[2])[1].decode())
		options = fields(info.get(3, b""))
		print("options", options.get(1, b"").decode(), options.get(2, b"").decode())
		features = fields(info[4])
		print("features", features[1].decode(), json.loads(features[2])["ociVersionMin"])
	EOF
	cd "$CTD_DIR"
	run sh -c "python3 -c 'from ttrpc_client import *; sys.stdout.buffer.write(field(1, \"runtimeoptions.v1.Options\") + field(2, field(2, \"/etc/b.toml\")))' |
		'$shim' -info | python3 info.py"
	assert_success
	assert_line "name io.containerd.berth.v2"
	assert_line --regexp "^version [0-9]"
	assert_line --regexp "^options runtimeoptions.v1.Options .*/etc/b.toml$"
	assert_line "features types.containerd.io/opencontainers/runtime-spec/1/features/Features 1.0.0"
	run sh -c "'$shim' -info </dev/null | python3 info.py"
	assert_success
	assert_line "options  "
	# start with BootstrapParams on stdin (and no flags but the action):
	# the socket goes to its socket_dir; the server answers there
	mkdir -p "$bundle" "$CTD_DIR/sockets"
	echo '{}' >"$bundle/config.json"
	python3 -c "from ttrpc_client import *; sys.stdout.buffer.write(
		field(1, 'bs1') + field(2, '$CTD_NS') + varint(3 << 3) + varint(-4) + field(4, '2.3.0') +
		field(5, '$CTD_SOCK.ttrpc') + field(6, '$CTD_SOCK') + field(7, '/usr/bin/containerd') +
		field(8, field(1, field(1, 'runtimeoptions.v1.Options'))) + field(9, '$CTD_DIR/sockets'))" \
		>"$CTD_DIR/bootstrap.bin"
	cd "$bundle"
	run "$shim" start <"$CTD_DIR/bootstrap.bin"
	cd "$CTD_DIR"
	assert_success
	assert_output --regexp "^unix://$CTD_DIR/sockets/[0-9a-f]{32}$"
	out=$output
	assert_equal "$(cat "$bundle/address")" "$out"
	pid=$(berth_shim_pids bs1)
	[ -n "$pid" ] || fail "no server for bs1"
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- " -debug serve" || fail "DEBUG level not passed on"
	run python3 -c "from ttrpc_client import *
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect('${out#unix://}')
print('task_pid', call(s, 'Connect', field(1, 'bs1')).get(2, 0))
call(s, 'Shutdown', field(1, 'bs1'))"
	assert_success
	assert_output "task_pid 0"
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$pid" 2>/dev/null || fail "the server did not exit after Shutdown"
	# an options Any alone is no BootstrapParams: the usual socket directory
	cd "$bundle"
	run sh -c "python3 -c 'import sys; sys.path.insert(0, \"$CTD_DIR\"); from ttrpc_client import *; sys.stdout.buffer.write(field(1, \"containerd.runc.v1.Options\") + field(2, field(7, \"/run/x\")))' |
		'$shim' -namespace '$CTD_NS' -address '$CTD_SOCK' -id bs1 start"
	cd "$CTD_DIR"
	assert_success
	assert_output --regexp "^unix:///run/containerd/s/[0-9a-f]{32}$"
	pid=$(berth_shim_pids bs1)
	run python3 -c "from ttrpc_client import *
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect('${output#unix://}')
call(s, 'Shutdown', field(1, 'bs1'))"
	assert_success
}

@test "shim: ten containers at once, five of them in one pod's shim; every exit reported once" {
	local ev=$CTD_DIR/events-m.out i st pids=() ann
	start_events "$ev"
	for ((i = 1; i <= 10; i++)); do
		ann=()
		((i % 2)) && ann=(--annotation "io.kubernetes.cri.sandbox-id=many-$$")
		ctr_run --rm "${ann[@]}" "$IMAGE" "m$i" sh -c "sleep 0.$i; echo out $i; exit $((i + 10))" \
			>"$CTD_DIR/m$i.out" 2>&1 &
		pids+=($!)
	done
	for ((i = 1; i <= 10; i++)); do
		st=0
		wait "${pids[i - 1]}" || st=$?
		assert_equal "$st" $((i + 10))
		assert_equal "$(cat "$CTD_DIR/m$i.out")" "out $i"
	done
	# each shim forwards its exits on its own; containerd publishes the
	# deletes as ctr removes the tasks
	wait_events "$ev" '/tasks/exit .*"container_id":"m[0-9]+"' 10
	wait_events "$ev" '/tasks/delete .*"container_id":"m[0-9]+"' 10
	stop_events
	for ((i = 1; i <= 10; i++)); do
		run grep -ac "/tasks/exit .*\"container_id\":\"m$i\"" "$ev"
		assert_output 1
		run grep -a "/tasks/exit .*\"container_id\":\"m$i\"" "$ev"
		assert_output --partial "\"id\":\"m$i\""
		assert_output --partial "\"exit_status\":$((i + 10)),"
		run grep -ac "/tasks/delete .*\"container_id\":\"m$i\"" "$ev"
		assert_output 1
	done
}

@test "shim: a failed Create is reported at once and leaves no shim behind" {
	local t0 t1 i
	t0=$(date +%s%N)
	run ctr_run -d --with-ns pid:/nonexistent/ns/pid "$IMAGE" fc1 sleep 100
	t1=$(date +%s%N)
	assert_failure
	assert_output --partial "/nonexistent/ns/pid"
	# containerd's Delete after the failure is answered at once (it waited
	# 5 s for it while the shim read a pipe nobody would close)
	((t1 - t0 < 4000000000)) || fail "ctr run took $(((t1 - t0) / 1000000)) ms to fail"
	for ((i = 0; i < 30; i++)); do
		[ -z "$(berth_shim_pids fc1)" ] && break
		sleep 0.1
	done
	[ -z "$(berth_shim_pids fc1)" ] || fail "the shim of fc1 is still running"
	run ctrc containers delete fc1
	assert_success
}

@test "shim: runc Options on the task API: Root, NoPivotRoot, NoNewKeyring, IoUid/IoGid, ShimCgroup" {
	local shim cg=berth-shimcg-$$ d out pid1 pid2 st strace_pid i
	requires_cmd python3 strace
	write_ttrpc_client
	# two bundles of our own (no containerd task): ob1 with options, ob2 without
	for d in ob1 ob2; do
		mkdir -p "$CTD_DIR/$d"
		build_rootfs "$CTD_DIR/$d/rootfs"
		(cd "$CTD_DIR/$d" && "$BERTH_BIN" spec)
		jq --arg cg "/$CTD_NS/$d" '.process.terminal = false | .process.args = ["sleep", "1000"] |
			.root.readonly = false | .linux.cgroupsPath = $cg' "$CTD_DIR/$d/config.json" >"$CTD_DIR/$d/c.json"
		mv "$CTD_DIR/$d/c.json" "$CTD_DIR/$d/config.json"
		mkfifo "$CTD_DIR/fifo/$d-out" "$CTD_DIR/fifo/$d-err"
	done
	# ShimCgroup: the cgroup must exist (the runc shim does not create it either)
	for d in /sys/fs/cgroup/memory /sys/fs/cgroup/unified; do
		[ -d "$d" ] && mkdir "$d/$cg"
	done
	cat >"$CTD_DIR/cleanup.sh" <<-EOF
		for id in ob1 ob2; do
			'$BERTH_BIN' --root '$CTD_DIR/ob-root/$CTD_NS' delete --force \$id 2>/dev/null
			'$BERTH_BIN' --root '/run/containerd/berth/$CTD_NS' delete --force \$id 2>/dev/null
		done
		for p in \$(ps -eo pid=,comm= | awk '\$2 == "berth-shim" {print \$1}'); do
			tr '\0' ' ' </proc/\$p/cmdline | grep -q -- '-id ob1 -address $CTD_SOCK ' && kill -KILL \$p
		done
		sleep 0.2
		rmdir /sys/fs/cgroup/memory/$cg /sys/fs/cgroup/unified/$cg 2>/dev/null
		true
	EOF
	cat >"$CTD_DIR/options.py" <<-'EOF'
		from ttrpc_client import *

		# options.py shim_cgroup PATH: a runc Options Any with ShimCgroup
		# options.py create ADDRESS ID BUNDLE [ROOT]: Create (with every other
		#   runc option when ROOT is given) and Start; prints the init's pid
		# options.py stop ADDRESS ID: Kill, Wait, Delete (Shutdown for ob1)
		def runc_options(opts):
		    return field(1, "containerd.runc.v1.Options") + field(2, opts)

		cmd = sys.argv[1]
		if cmd == "shim_cgroup":
		    sys.stdout.buffer.write(runc_options(field(3, sys.argv[2])))
		    sys.exit(0)
		sock = socket.socket(socket.AF_UNIX)
		sock.settimeout(30)
		sock.connect(sys.argv[2][len("unix://"):])
		cid = sys.argv[3]
		if cmd == "create":
		    req = field(1, cid) + field(2, sys.argv[4]) + field(6, "%s/fifo/%s-out" % (os.path.dirname(sys.argv[4]), cid))
		    req += field(7, "%s/fifo/%s-err" % (os.path.dirname(sys.argv[4]), cid))
		    if len(sys.argv) > 5:
		        opts = field(1, True) + field(2, True) + field(4, 1000) + field(5, 1001) + field(7, sys.argv[5])
		        req += field(10, runc_options(opts))
		    call(sock, "Create", req)
		    print(call(sock, "Start", field(1, cid)).get(1, 0))
		else:
		    call(sock, "Kill", field(1, cid) + field(3, 9))
		    print("exit status", call(sock, "Wait", field(1, cid)).get(1, 0))
		    call(sock, "Delete", field(1, cid))
		    if cid == "ob1":
		        call(sock, "Shutdown", field(1, cid))
	EOF

	# 1. start: a ShimCgroup that does not exist is refused, with its name
	cd "$CTD_DIR/ob1"
	run sh -c "python3 '$CTD_DIR/options.py' shim_cgroup /nonexistent-$$ |
		TTRPC_ADDRESS='$CTD_SOCK.ttrpc' '$BERTH_BUILDDIR/containerd-shim-berth-v2' -namespace '$CTD_NS' -address '$CTD_SOCK' -id ob1 start"
	assert_failure
	assert_output --partial "shim cgroup \`/nonexistent-$$\`: no such cgroup"
	[ -z "$(berth_shim_pids ob1)" ] || fail "a server was left after the failed start"
	[ ! -e "$CTD_DIR/ob1/address" ] || fail "the failed start wrote an address"
	# ... one that exists takes the server in
	run sh -c "python3 '$CTD_DIR/options.py' shim_cgroup /$cg |
		TTRPC_ADDRESS='$CTD_SOCK.ttrpc' '$BERTH_BUILDDIR/containerd-shim-berth-v2' -namespace '$CTD_NS' -address '$CTD_SOCK' -id ob1 start"
	cd "$CTD_DIR"
	assert_success
	out=$output
	shim=$(berth_shim_pids ob1)
	[ -n "$shim" ] || fail "no server for ob1"
	run cat "/proc/$shim/cgroup"
	assert_line --regexp "^[0-9]+:memory:/$cg\$"
	[ ! -d /sys/fs/cgroup/unified ] || assert_line "0::/$cg"

	# 2. Create and Start of ob1 with the options and of ob2 without, under
	# strace: pivot_root for ob2, MS_MOVE and chroot for ob1
	strace -f -qq -e trace=pivot_root,chroot -o "$CTD_DIR/strace.out" -p "$shim" 2>"$CTD_DIR/strace.err" &
	strace_pid=$!
	for ((i = 0; i < 50; i++)); do
		[ "$(awk '/^TracerPid/ {print $2}' "/proc/$shim/status")" = "$strace_pid" ] && break
		sleep 0.1
	done
	run python3 "$CTD_DIR/options.py" create "$out" ob1 "$CTD_DIR/ob1" "$CTD_DIR/ob-root"
	assert_success
	pid1=$output
	run python3 "$CTD_DIR/options.py" create "$out" ob2 "$CTD_DIR/ob2"
	assert_success
	pid2=$output
	kill -INT "$strace_pid"
	wait "$strace_pid" || true
	run grep -c 'chroot(".")' "$CTD_DIR/strace.out"
	assert_output 1
	run grep -c 'pivot_root(".", ".")' "$CTD_DIR/strace.out"
	assert_output 1
	run grep -E 'pivot_root|chroot' "$CTD_DIR/strace.out"
	assert_line --index 0 --partial 'chroot(".")'
	assert_line --index 1 --partial 'pivot_root(".", ".")'

	# 3. Root: berth's state of ob1 under it, of ob2 under the default
	[ -d "$CTD_DIR/ob-root/$CTD_NS/ob1" ] || fail "no state of ob1 under the Root option"
	[ -d "/run/containerd/berth/$CTD_NS/ob2" ] || fail "no state of ob2 under the default root"
	# 4. IoUid/IoGid: the stdout and stderr pipes of ob1 belong to 1000:1001,
	# ob2's to root; stdin (/dev/null) is nobody's to change
	assert_equal "$(stat -L -c %u:%g "/proc/$pid1/fd/1" "/proc/$pid1/fd/2")" "1000:1001
1000:1001"
	assert_equal "$(stat -L -c %F "/proc/$pid1/fd/1")" fifo
	assert_equal "$(stat -L -c %u:%g "/proc/$pid2/fd/1" "/proc/$pid2/fd/2")" "0:0
0:0"
	# 5. NoNewKeyring: ob2 has a session keyring of its own, ob1 none
	run grep -c ' _ses\.ob2: ' /proc/keys
	assert_output 1
	run grep -c ' _ses\.ob1: ' /proc/keys
	assert_output 0

	# 6. both go; the server exits with the last
	for d in ob2 ob1; do
		run python3 "$CTD_DIR/options.py" stop "$out" "$d"
		assert_success
		assert_output "exit status 137"
	done
	for ((i = 0; i < 50; i++)); do
		kill -0 "$shim" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$shim" 2>/dev/null || fail "the server did not exit"
	[ ! -e "$CTD_DIR/ob-root/$CTD_NS/ob1" ] || fail "berth state of ob1 left"
	rmdir "/sys/fs/cgroup/memory/$cg"
	[ ! -d /sys/fs/cgroup/unified ] || rmdir "/sys/fs/cgroup/unified/$cg"
}

@test "shim: ctr run --runtime-config-path: the options file is read; a bad one is refused, naming its line" {
	local cfg=$CTD_DIR/shim-options.toml
	# ctr sends runtimeoptions{config_path} for runtimes other than runc's
	printf '# options of the berth shim\nRoot = "%s"\nNoNewKeyring = true\n' "$CTD_DIR/cfg-root" >"$cfg"
	start_sleeper rc1 --runtime-config-path "$cfg"
	[ -d "$CTD_DIR/cfg-root/$CTD_NS/rc1" ] || fail "no berth state of rc1 under the file's Root"
	run grep -c ' _ses\.rc1: ' /proc/keys
	assert_output 0
	run ctrc task kill -s SIGKILL rc1
	assert_success
	wait_task_status rc1 STOPPED
	run ctrc task delete rc1
	assert_success
	[ ! -e "$CTD_DIR/cfg-root/$CTD_NS/rc1" ] || fail "berth state of rc1 left under the file's Root"
	# a bad file: start refuses it, and containerd says why
	printf 'Root = "/x"\nBogus = 1\n' >"$CTD_DIR/bad.toml"
	run ctr_run --rm --runtime-config-path "$CTD_DIR/bad.toml" "$IMAGE" rc2 true
	assert_failure
	assert_output --partial "\`$CTD_DIR/bad.toml\`:2: unknown key \`Bogus\`"
	[ -z "$(berth_shim_pids rc2)" ] || fail "a server was left for rc2"
}
