#!/usr/bin/env bats
# containerd's CRI plugin (Kubernetes' container runtime interface, gRPC on
# containerd's socket) running pods through containerd-shim-berth-v2, as a
# kubelet would: RunPodSandbox, CreateContainer, StartContainer, ExecSync,
# ContainerStatus, StopContainer, RemoveContainer, StopPodSandbox,
# RemovePodSandbox.
#
# crictl is not in Debian, so the calls go through cri_client.py (beside this
# file), a client of the CRI v1 runtime service over Debian's python3-grpcio.
#
# The suite starts its own containerd with the CRI plugin enabled (config,
# root, state and sockets under a temporary directory) and our shim as the
# default runtime (runtime_type io.containerd.berth.v2, found first on
# containerd's PATH). Pods run on the host network, so no CNI plugin is
# needed; the sandbox (pause) image and the busybox image are built on the
# spot and imported into CRI's namespace (k8s.io). `runc` and `berth` on
# containerd's PATH are traps that log any execution: the shim runs neither.
# The shim's state root comes from a runtime options file (ConfigPath), so
# berth's state stays under the temporary directory too.

load ../helpers
load compat_helpers

IMAGE=docker.io/berth/busybox:test
PAUSE_IMAGE=docker.io/berth/pause:test

setup_file() {
	[ "$(id -u)" = 0 ] || return 0 # every test skips with "requires root"
	command -v containerd >/dev/null && command -v ctr >/dev/null || return 0
	[ -x "$BERTH_BUILDDIR/containerd-shim-berth-v2" ] || return 0
	CRI_PYTHON=$(cri_python) || return 0
	make_shim_suite_dir cri
	CTD_NS=k8s.io
	CGROUP_PARENT=berth-cri-$$
	export CTD_NS CRI_PYTHON CGROUP_PARENT
	mkdir -p "$CTD_DIR/cni" "$CTD_DIR/berth-root"
	make_exec_traps "$CTD_DIR/bin" "$CTD_DIR/exec.log"
	# the shim's options file (CRI hands its path over in runtimeoptions)
	cat >"$CTD_DIR/berth-shim.toml" <<-EOF
		# containerd-shim-berth-v2 options for the CRI test
		Root = "$CTD_DIR/berth-root"
	EOF
	write_containerd_config debug
	# the CRI plugin on: our shim as the default runtime, the local pause
	# image, oom_score_adj kept at containerd's own (this machine cannot
	# lower it), the streaming server on a free port of the loopback, CNI
	# looking at an empty directory of ours
	sed -i '/"io.containerd.grpc.v1.cri",/d' "$CTD_DIR/config.toml"
	cat >>"$CTD_DIR/config.toml" <<-EOF
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "$PAUSE_IMAGE"
		  restrict_oom_score_adj = true
		  stream_server_address = "127.0.0.1"
		  stream_server_port = "0"
		  enable_selinux = false
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    snapshotter = "overlayfs"
		    default_runtime_name = "berth"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth]
		      runtime_type = "io.containerd.berth.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth.options]
		        ConfigPath = "$CTD_DIR/berth-shim.toml"
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "$CTD_DIR/cni"
		    conf_dir = "$CTD_DIR/cni"
	EOF
	start_containerd || return 1
	CTD_PID=$(cat "$CTD_DIR/containerd.pid")
	export CTD_PID
	import_busybox_image busybox "$IMAGE" || return 1
	import_busybox_image pause "$PAUSE_IMAGE" '["/bin/sleep", "infinity"]'
}

teardown_file() {
	[ -n "${CTD_DIR:-}" ] && [ -d "$CTD_DIR" ] || return 0
	[ -z "${CTD_PID:-}" ] || ctr -a "$CTD_SOCK" -n "$CTD_NS" images rm "$PAUSE_IMAGE" >/dev/null 2>&1 || true
	finish_containerd_suite "$CGROUP_PARENT"
}

setup() {
	requires root
	requires_cmd containerd ctr
	[ -x "$BERTH_BUILDDIR/containerd-shim-berth-v2" ] || fail "no containerd-shim-berth-v2 in $BERTH_BUILDDIR"
	[ -n "${CRI_PYTHON:-}" ] || skip "requires python3-grpcio (installed by .ci/install-deps)"
	[ -n "${CTD_PID:-}" ] || fail "containerd was not started by setup_file"
	DEV_NULL_BEFORE=$(stat -c '%F %U:%G %a %t:%T' /dev/null)
}

teardown() {
	[ -n "${CTD_DIR:-}" ] && [ -n "${CTD_PID:-}" ] || return 0
	local errors=() id left i now
	# 1. every pod stopped and removed (with its containers)
	for id in $(cri ListPodSandbox '{}' 2>/dev/null | jq -r '.items[]?.id'); do
		cri StopPodSandbox "{\"pod_sandbox_id\": \"$id\"}" >/dev/null || errors+=("StopPodSandbox $id failed")
		cri RemovePodSandbox "{\"pod_sandbox_id\": \"$id\"}" >/dev/null || errors+=("RemovePodSandbox $id failed")
	done
	# 2. nothing left: no shim, no berth state, no cgroup, no mount
	for ((i = 0; i < 30; i++)); do
		left=$(berth_shim_pids)
		[ -z "$left" ] && break
		sleep 0.1
	done
	[ -z "$left" ] || errors+=("shims left: $left")
	left=$(find "$CTD_DIR/berth-root" -mindepth 2 -maxdepth 2 2>/dev/null)
	[ -z "$left" ] || errors+=("berth state left: $left")
	left=$(find /sys/fs/cgroup/*/"$CGROUP_PARENT" -mindepth 1 -type d 2>/dev/null)
	[ -z "$left" ] || errors+=("cgroups left: $left")
	left=$(mounts_under "$CTD_DIR")
	[ -z "$left" ] || errors+=("mounts left: $left")
	now=$(stat -c '%F %U:%G %a %t:%T' /dev/null)
	[ "$now" = "$DEV_NULL_BEFORE" ] || errors+=("/dev/null changed: was '$DEV_NULL_BEFORE', now '$now'")
	if [ ${#errors[@]} -gt 0 ]; then
		printf '# teardown: %s\n' "${errors[@]}"
		return 1
	fi
}

# cri_python: a python3 that has the grpc module (Debian's python3-grpcio
# is installed for /usr/bin/python3).
cri_python() {
	local p
	for p in python3 /usr/bin/python3; do
		command -v "$p" >/dev/null 2>&1 && "$p" -c 'import grpc' 2>/dev/null && {
			command -v "$p"
			return 0
		}
	done
	return 1
}

# cri METHOD JSON: one call of the CRI runtime service; the response as JSON.
cri() {
	timeout -k 5 150 "$CRI_PYTHON" "$BATS_TEST_DIRNAME/cri_client.py" "$CTD_SOCK" "$1" <<<"$2" 3>&-
}

# pod_config NAME: a PodSandboxConfig on the host network (no hostname: it
# shares the host's UTS namespace), logs under $CTD_DIR/logs/NAME.
pod_config() {
	jq -cn --arg name "$1" --arg uid "uid-$1-$$" --arg logs "$CTD_DIR/logs/$1" --arg cg "/$CGROUP_PARENT" '{
		metadata: {name: $name, uid: $uid, namespace: "berth-test", attempt: 0},
		log_directory: $logs,
		labels: {"berth-test": "cri"},
		linux: {cgroup_parent: $cg, security_context: {namespace_options: {network: 2}}}
	}'
}

# run_pod NAME: RunPodSandbox; the pod's id in $POD.
run_pod() {
	run cri RunPodSandbox "$(jq -cn --argjson c "$(pod_config "$1")" '{config: $c}')"
	assert_success
	POD=$(jq -r .pod_sandbox_id <<<"$output")
	[ -n "$POD" ] && [ "$POD" != null ] || fail "RunPodSandbox returned no id: $output"
}

# create_container POD_NAME NAME [CONFIG_JSON]: CreateContainer in $POD from
# $IMAGE, logging to NAME.log; CONFIG_JSON is merged into the config; the
# container's id in $CID.
create_container() {
	local config
	config=$(jq -cn --arg name "$2" --arg image "$IMAGE" --argjson extra "${3:-{\}}" '{
		metadata: {name: $name}, image: {image: $image}, log_path: ($name + ".log")
	} * $extra')
	run cri CreateContainer "$(jq -cn --arg pod "$POD" --argjson c "$config" --argjson s "$(pod_config "$1")" \
		'{pod_sandbox_id: $pod, config: $c, sandbox_config: $s}')"
	assert_success
	CID=$(jq -r .container_id <<<"$output")
	[ -n "$CID" ] && [ "$CID" != null ] || fail "CreateContainer returned no id: $output"
}

container_status() {
	cri ContainerStatus "{\"container_id\": \"$1\", \"verbose\": true}"
}

# wait_container_state ID STATE: ContainerStatus's state (0 created,
# 1 running, 2 exited) becomes STATE within 10 s.
wait_container_state() {
	local i got=
	for ((i = 0; i < 100; i++)); do
		got=$(container_status "$1" | jq -r .status.state)
		[ "$got" = "$2" ] && return 0
		sleep 0.1
	done
	fail "container $1: state '$got' after 10 s, expected '$2'"
}

# parent_of PID
parent_of() {
	awk '{print $4}' "/proc/$1/stat"
}

@test "cri: a pod on the host network through our shim: create, start, exec, status, stop, remove" {
	local shim pid info cgroup log
	run cri Version '{"version": "v1"}'
	assert_success
	assert_equal "$(jq -r .runtime_name <<<"$output")" containerd

	# 1. the sandbox: its pause process is a child of our shim
	run_pod p1
	run cri PodSandboxStatus "{\"pod_sandbox_id\": \"$POD\", \"verbose\": true}"
	assert_success
	assert_equal "$(jq -r .status.state <<<"$output")" 0 # SANDBOX_READY
	info=$(jq -r .info.info <<<"$output")
	assert_equal "$(jq -r .runtimeType <<<"$info")" io.containerd.berth.v2
	pid=$(jq -r .pid <<<"$info")
	shim=$(parent_of "$pid")
	assert_equal "$(cat "/proc/$shim/comm")" berth-shim
	assert_equal "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "/bin/sleep infinity "
	# the host network namespace: no CNI was needed
	assert_equal "$(readlink "/proc/$pid/ns/net")" "$(readlink /proc/self/ns/net)"

	# 2. a container of the pod, served by the pod's shim
	create_container p1 c1 '{"command": ["sh", "-c", "echo hello from c1; trap \"exit 7\" TERM; sleep 1000 & wait"],
		"linux": {"resources": {"memory_limit_in_bytes": 67108864}}}'
	run container_status "$CID"
	assert_success
	assert_equal "$(jq -r .status.state <<<"$output")" 0 # CONTAINER_CREATED
	run cri StartContainer "{\"container_id\": \"$CID\"}"
	assert_success
	run container_status "$CID"
	assert_success
	assert_equal "$(jq -r .status.state <<<"$output")" 1 # CONTAINER_RUNNING
	info=$(jq -r .info.info <<<"$output")
	assert_equal "$(jq -r .runtimeType <<<"$info")" io.containerd.berth.v2
	pid=$(jq -r .pid <<<"$info")
	assert_equal "$(parent_of "$pid")" "$shim"
	run berth_shim_pids
	assert_output "$shim"
	# berth's state of both containers under the options file's Root
	[ -d "$CTD_DIR/berth-root/$CTD_NS/$CID" ] || fail "no berth state for $CID under the configured Root"
	[ -d "$CTD_DIR/berth-root/$CTD_NS/$POD" ] || fail "no berth state for the sandbox under the configured Root"

	# 3. the container's stdout went through the shim into CRI's log file
	log=$CTD_DIR/logs/p1/c1.log
	for ((i = 0; i < 50; i++)); do
		grep -q 'hello from c1' "$log" 2>/dev/null && break
		sleep 0.1
	done
	run cat "$log"
	assert_output --regexp '^[0-9T:.+Z-]+ stdout F hello from c1$'

	# 4. ExecSync: output, errors and exit code
	run cri ExecSync "{\"container_id\": \"$CID\", \"cmd\": [\"sh\", \"-c\", \"echo out; echo err >&2; cat /proc/1/cmdline | tr '\\\\0' ' '; exit 3\"], \"timeout\": 30}"
	assert_success
	assert_equal "$(jq -r .stdout <<<"$output")" "out
/bin/sleep infinity "
	assert_equal "$(jq -r .stderr <<<"$output")" err
	assert_equal "$(jq -r .exit_code <<<"$output")" 3
	run cri ExecSync "{\"container_id\": \"$CID\", \"cmd\": [\"true\"]}"
	assert_success
	assert_equal "$(jq -r .exit_code <<<"$output")" 0

	# 5. stats and a resources update go through the shim to the cgroup
	run cri ContainerStats "{\"container_id\": \"$CID\"}"
	assert_success
	(($(jq -r .stats.memory.working_set_bytes.value <<<"$output") > 0)) || fail "no memory stats: $output"
	(($(jq -r .stats.cpu.usage_core_nano_seconds.value <<<"$output") > 0)) || fail "no cpu stats: $output"
	cgroup=/sys/fs/cgroup/memory/$CGROUP_PARENT/$CID
	assert_equal "$(cat "$cgroup/memory.limit_in_bytes")" 67108864
	run cri UpdateContainerResources "{\"container_id\": \"$CID\", \"linux\": {\"memory_limit_in_bytes\": 134217728}}"
	assert_success
	assert_equal "$(cat "$cgroup/memory.limit_in_bytes")" 134217728

	# 6. StopContainer: SIGTERM, which the container's shell turns into 7
	run cri StopContainer "{\"container_id\": \"$CID\", \"timeout\": 10}"
	assert_success
	run container_status "$CID"
	assert_equal "$(jq -r .status.state <<<"$output")" 2 # CONTAINER_EXITED
	assert_equal "$(jq -r .status.exit_code <<<"$output")" 7
	assert_equal "$(jq -r .status.reason <<<"$output")" Error
	[ ! -d "/proc/$pid" ] || grep -q '^State:.*Z' "/proc/$pid/status" || fail "c1's init $pid still runs"
	run cri RemoveContainer "{\"container_id\": \"$CID\"}"
	assert_success
	[ ! -e "$CTD_DIR/berth-root/$CTD_NS/$CID" ] || fail "berth state of $CID left after RemoveContainer"
	[ ! -d "$cgroup" ] || fail "cgroup $cgroup left after RemoveContainer"
	kill -0 "$shim" || fail "the pod's shim exited with the sandbox still there"

	# 7. the pod goes: the shim with it
	run cri StopPodSandbox "{\"pod_sandbox_id\": \"$POD\"}"
	assert_success
	run cri RemovePodSandbox "{\"pod_sandbox_id\": \"$POD\"}"
	assert_success
	run cri ListPodSandbox '{}'
	assert_success
	assert_output '{"items": []}'
	run cri ListContainers '{}'
	assert_success
	assert_output '{"containers": []}'
	for ((i = 0; i < 50; i++)); do
		kill -0 "$shim" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$shim" 2>/dev/null || fail "the pod's shim $shim is still running"
	run cat "$CTD_DIR/exec.log"
	assert_output ""
}

@test "cri: exit codes, a restart of a container name, and an OOM kill reported as OOMKilled" {
	run_pod p2
	# exits on its own with 5
	create_container p2 e1 '{"command": ["sh", "-c", "exit 5"]}'
	local e1=$CID
	run cri StartContainer "{\"container_id\": \"$e1\"}"
	assert_success
	wait_container_state "$e1" 2
	run container_status "$e1"
	assert_equal "$(jq -r .status.exit_code <<<"$output")" 5
	(($(jq -r .status.finished_at <<<"$output") > 0)) || fail "no finished_at: $output"
	# Kubernetes restarts it as attempt 1, in the same pod
	create_container p2 e1 '{"metadata": {"name": "e1", "attempt": 1}, "command": ["sh", "-c", "exit 0"]}'
	run cri StartContainer "{\"container_id\": \"$CID\"}"
	assert_success
	wait_container_state "$CID" 2
	run container_status "$CID"
	assert_equal "$(jq -r .status.exit_code <<<"$output")" 0
	assert_equal "$(jq -r .status.reason <<<"$output")" Completed
	# 20 MiB of memory, 64 MiB written into its tmpfs
	create_container p2 o1 '{"command": ["sh", "-c", "dd if=/dev/zero of=/dev/shm/x bs=1M count=64"],
		"linux": {"resources": {"memory_limit_in_bytes": 20971520}}}'
	run cri StartContainer "{\"container_id\": \"$CID\"}"
	assert_success
	wait_container_state "$CID" 2
	run container_status "$CID"
	assert_equal "$(jq -r .status.exit_code <<<"$output")" 137
	assert_equal "$(jq -r .status.reason <<<"$output")" OOMKilled
	# RemovePodSandbox alone takes the containers along
	run cri StopPodSandbox "{\"pod_sandbox_id\": \"$POD\"}"
	assert_success
	run cri RemovePodSandbox "{\"pod_sandbox_id\": \"$POD\"}"
	assert_success
	run cri ListContainers '{}'
	assert_output '{"containers": []}'
}
