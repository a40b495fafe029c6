#!/usr/bin/env bats
# Namespaces: new ones of each type, the host's when not asked for, user
# namespace id mappings, time namespace offsets, joining one by path, and no
# mount namespace at all (the runtime's, with nothing left in it afterwards).

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
setup() { berth_setup; }
teardown() { berth_teardown; }

# add_namespace TYPE: a new namespace of TYPE, unless the config has one.
add_namespace() {
	update_config '.linux.namespaces |= (if any(.[]; .type == $t) then . else . + [{"type": $t}] end)' --arg t "$1"
}

# ns_of_container TYPE: the container's namespace of TYPE as the probe sees it.
ns_of_container() {
	probe ns "$1"
	assert_success
	assert_regex "$output" "^$1:\[[0-9]+\]\$"
}

@test "each namespace in the config is a new one" {
	add_namespace cgroup
	local t host
	for t in pid mnt net ipc uts cgroup; do
		host=$(readlink "/proc/self/ns/$t")
		ns_of_container "$t"
		[ "$output" != "$host" ] || fail "$t namespace is the host's ($host)"
	done
	# not in the config: the host's
	for t in user time; do
		ns_of_container "$t"
		assert_output "$(readlink "/proc/self/ns/$t")"
	done
}

@test "a namespace left out of the config is the host's" {
	local t type
	for t in net:network ipc:ipc uts:uts pid:pid; do
		type=${t#*:}
		# a hostname needs a UTS namespace of its own
		update_config '.linux.namespaces |= map(select(.type != $t)) | del(.hostname)' --arg t "$type"
		ns_of_container "${t%%:*}"
		assert_output "$(readlink "/proc/self/ns/${t%%:*}")"
	done
}

@test "pid namespace: the process is pid 1 inside and has another pid on the host" {
	probe pid
	assert_success
	assert_output 1

	set_args /bin/berth-probe sleep 1000
	run_detached ctr
	[ "$status" -eq 0 ]
	local pid
	pid=$(state_field ctr pid)
	[ "$pid" -gt 1 ]
	assert_equal "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "/bin/berth-probe sleep 1000 "
	[ "$(readlink "/proc/$pid/ns/pid")" != "$(readlink /proc/self/ns/pid)" ] || fail "same pid namespace as the host"
	assert_equal "$(awk '/^NSpid:/ {print $3}' "/proc/$pid/status")" 1
}

@test "uts namespace: hostname and domainname are the config's, the host's are unchanged" {
	local host_name host_domain
	host_name=$(uname -n)
	host_domain=$(cat /proc/sys/kernel/domainname)
	update_config '.hostname = "berth-host" | .domainname = "berth.example"'
	probe hostname
	assert_success
	assert_output berth-host
	probe domainname
	assert_success
	assert_output berth.example
	assert_equal "$(uname -n)" "$host_name"
	assert_equal "$(cat /proc/sys/kernel/domainname)" "$host_domain"
}

@test "ipc namespace: System V objects of the host are not visible" {
	# a host shared memory segment, removed again in teardown
	local id
	id=$(python3 -c 'import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
print(libc.shmget(0, 4096, 0o1600))') || skip "requires python3 to create a System V segment"
	[ "$id" -ge 0 ] || fail "shmget failed on the host"
	defer "ipcrm -m $id"
	grep -qw "$id" /proc/sysvipc/shm || fail "host segment $id not in /proc/sysvipc/shm"
	set_args /bin/sh -c 'tail -n +2 /proc/sysvipc/shm | wc -l'
	run_container
	assert_success
	assert_output 0
}

@test "network namespace: only a loopback interface" {
	set_args /bin/ls /sys/class/net
	run_container
	assert_success
	assert_output lo
}

@test "cgroup namespace: the container's cgroups are its roots" {
	requires cgroupns
	add_namespace cgroup
	set_args /bin/cat /proc/self/cgroup
	run_container
	assert_success
	[ "${#lines[@]}" -gt 0 ] || fail "empty /proc/self/cgroup"
	local line
	for line in "${lines[@]}"; do
		[[ "$line" =~ ^[0-9]+:[^:]*:/$ ]] || fail "not the cgroup namespace root: $line"
	done
}

@test "user namespace: root inside, the mapped ids on the host" {
	requires userns
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 200000, "size": 65536}]'
	probe ids
	assert_success
	assert_output "uid=0 gid=0 euid=0 egid=0 groups="

	set_args /bin/berth-probe sleep 1000
	run_detached ctr
	[ "$status" -eq 0 ]
	local pid
	pid=$(state_field ctr pid)
	assert_equal "$(awk '{print $1, $2, $3}' "/proc/$pid/uid_map")" "0 100000 65536"
	assert_equal "$(awk '{print $1, $2, $3}' "/proc/$pid/gid_map")" "0 200000 65536"
	assert_equal "$(stat -c '%u %g' "/proc/$pid")" "100000 200000"
	[ "$(readlink "/proc/$pid/ns/user")" != "$(readlink /proc/self/ns/user)" ] || fail "same user namespace as the host"
}

@test "time namespace: monotonic and boottime offsets" {
	requires timens
	local mono=864000 boot=1728000 host_mono host_boot
	update_config '.linux.namespaces += [{"type": "time"}]
		| .linux.timeOffsets = {"monotonic": {"secs": 864000, "nanosecs": 0},
					"boottime": {"secs": 1728000, "nanosecs": 0}}'
	host_mono=$("$BERTH_PROBE" clock monotonic)
	host_boot=$("$BERTH_PROBE" uptime)

	probe clock monotonic
	assert_success
	local d=$((output - host_mono))
	[ "$d" -ge "$mono" ] && [ "$d" -le $((mono + 30)) ] || fail "monotonic is $output, host's $host_mono"

	probe uptime
	assert_success
	d=$((output - host_boot))
	[ "$d" -ge "$boot" ] && [ "$d" -le $((boot + 30)) ] || fail "/proc/uptime says $output, host's $host_boot"

	probe clock boottime
	assert_success
	d=$((output - host_boot))
	[ "$d" -ge "$boot" ] && [ "$d" -le $((boot + 30)) ] || fail "boottime is $output, host's $host_boot"
}

@test "joining an existing network namespace by path" {
	local nsfile=$TEST_DIR/netns inode
	touch "$nsfile"
	unshare --net="$nsfile" true
	defer "umount '$nsfile'"
	# something to recognise it by
	nsenter --net="$nsfile" ip link set lo mtu 1234
	inode=$(stat -L -c %i "$nsfile")
	update_config '.linux.namespaces |= map(if .type == "network" then .path = $p else . end)' --arg p "$nsfile"

	probe ns net
	assert_success
	assert_output "net:[$inode]"
	set_args /bin/cat /sys/class/net/lo/mtu
	run_container
	assert_success
	assert_output 1234
}

@test "joining a namespace path that is not a namespace fails" {
	touch "$TEST_DIR/not-a-ns"
	update_config '.linux.namespaces |= map(if .type == "network" then .path = $p else . end)' \
		--arg p "$TEST_DIR/not-a-ns"
	run_container
	assert_failure 1
	[[ "$stderr" == *"$TEST_DIR/not-a-ns"* ]] || fail "the error does not name the path: $stderr"
	assert_nothing_left
}

# ---- no mount namespace: the runtime's, shared ----

# no_mount_ns: the config asks for no mount namespace (the runtime's is shared).
no_mount_ns() {
	update_config '.linux.namespaces |= map(select(.type != "mount"))'
}

@test "without a mount namespace: the runtime's, with the rootfs as / and /proc of the container's pid namespace" {
	no_mount_ns
	echo marker-of-this-rootfs >"$ROOTFS/marker"
	set_args /bin/sh -c 'readlink /proc/self/ns/mnt; cat /marker; cat /proc/1/comm; readlink /proc/self/ns/pid; echo $$'
	run_container
	assert_success
	assert_line --index 0 "$(readlink /proc/self/ns/mnt)"
	assert_line --index 1 marker-of-this-rootfs
	# pid 1 of the container's /proc is its own sh, not the host's init
	assert_line --index 2 sh
	[ "${lines[3]}" != "$(readlink /proc/self/ns/pid)" ] || fail "the host's pid namespace: ${lines[3]}"
	assert_line --index 4 1
	assert_equal "$(test_mounts)" ""
}

@test "without mount and pid namespaces: /proc is the host's pid namespace" {
	update_config '.linux.namespaces |= map(select(.type != "mount" and .type != "pid"))'
	set_args /bin/sh -c 'readlink /proc/self/ns/pid; cat /proc/1/comm'
	run_container
	assert_success
	assert_line --index 0 "$(readlink /proc/self/ns/pid)"
	assert_line --index 1 "$(cat /proc/1/comm)"
}

@test "without a mount namespace: the mounts are under the rootfs while it lives, none after delete, delete --force or run" {
	no_mount_ns
	local before
	before=$(grep -F -- "$TEST_DIR" /proc/self/mountinfo || true)
	[ -z "$before" ] || fail "mounts under $TEST_DIR before the test: $before"

	# created, then deleted (--force: it is not stopped)
	create_container ctr
	[ "$status" -eq 0 ]
	test_mounts | grep -qxF -- "$ROOTFS/proc" || fail "no /proc under the rootfs: $(test_mounts)"
	test_mounts | grep -qxF -- "$ROOTFS/dev/pts" || fail "no /dev/pts under the rootfs: $(test_mounts)"
	run berth delete --force ctr
	assert_success
	assert_equal "$(grep -F -- "$TEST_DIR" /proc/self/mountinfo || true)" "$before"

	# stopped, then deleted without --force
	set_args /bin/true
	run_detached ctr1
	[ "$status" -eq 0 ]
	wait_for_status ctr1 stopped
	test_mounts | grep -qxF -- "$ROOTFS/proc" || fail "no /proc under the rootfs once stopped: $(test_mounts)"
	run berth delete ctr1
	assert_success
	assert_equal "$(grep -F -- "$TEST_DIR" /proc/self/mountinfo || true)" "$before"

	# running, then delete --force
	set_args /bin/sleep 1000
	run_detached ctr2
	[ "$status" -eq 0 ]
	# the bind of the rootfs alone, the recursive copy above it
	assert_equal "$(test_mounts | grep -cxF -- "$ROOTFS")" 2
	run berth exec ctr2 /bin/sh -c 'cat /marker-exec 2>&1; readlink /proc/self/ns/mnt; ls /'
	echo "$output"
	assert_success
	assert_line --index 1 "$(readlink /proc/self/ns/mnt)"
	assert_line bin
	run berth delete --force ctr2
	assert_success
	assert_equal "$(grep -F -- "$TEST_DIR" /proc/self/mountinfo || true)" "$before"

	# run in the foreground, which deletes on exit
	set_args /bin/true
	run_container ctr3
	assert_success
	assert_equal "$(grep -F -- "$TEST_DIR" /proc/self/mountinfo || true)" "$before"
}

@test "without a mount namespace: a create that fails at a mount leaves no mount" {
	no_mount_ns
	# proc, /dev, sysfs... are mounted first; the last one fails
	update_config '.mounts += [{"destination": "/late", "type": "bind", "source": $s, "options": ["rbind"]}]' \
		--arg s "$TEST_DIR/no-such-source"
	create_container ctr
	[ "$status" -ne 0 ] || fail "create succeeded"
	[[ "$output" == *"$TEST_DIR/no-such-source"* ]] || fail "the error does not name the source: $output"
	assert_nothing_left
	[ ! -e "$ROOTFS/late" ] || [ -z "$(ls -A "$ROOTFS/late")" ] || fail "$ROOTFS/late is not empty"
}

@test "without a mount namespace: root.readonly makes the container's / read-only, the host's bundle stays writable" {
	no_mount_ns
	update_config '.root.readonly = true'
	local opts_before
	opts_before=$(findmnt -no OPTIONS -T "$ROOTFS")
	probe try mkdir /probe-dir
	assert_success
	assert_output "errno 30 EROFS"
	[ ! -e "$ROOTFS/probe-dir" ] || fail "the container wrote $ROOTFS/probe-dir"

	# While it lives, the rootfs path shows the container's mounts on the
	# host too (its read-only root among them); the bundle is as it was.
	set_args /bin/sleep 1000
	run_detached ctr2
	[ "$status" -eq 0 ]
	touch "$BUNDLE/host-file" || fail "the host cannot write the bundle while the container runs"
	run berth delete --force ctr2
	assert_success
	touch "$ROOTFS/host-file-after" || fail "the host cannot write the rootfs after delete"
	assert_equal "$(findmnt -no OPTIONS -T "$ROOTFS")" "$opts_before"
}

@test "without a mount namespace: the user's mounts on and under the rootfs stay, peers of a shared mount keep nothing" {
	no_mount_ns
	local peer=$TEST_DIR/peer before peer_below
	# the bundle on a shared mount with a peer elsewhere (as the host's / is
	# on most systems), the rootfs a mount of the user's, with one under it
	mount --bind "$BUNDLE" "$BUNDLE"
	defer "umount -R '$BUNDLE'"
	mount --make-shared "$BUNDLE"
	mkdir "$peer"
	mount --bind "$BUNDLE" "$peer"
	defer "umount -R '$peer'"
	mount --bind "$ROOTFS" "$ROOTFS"
	mount -t tmpfs -o size=1m users-tmpfs "$ROOTFS/mnt"
	echo users >"$ROOTFS/mnt/file"
	before=$(awk -v dir="$TEST_DIR" 'index($5, dir) == 1 {print $5, $NF}' /proc/self/mountinfo | sort)
	peer_below=$(test_mounts | grep -F -- "$peer/rootfs/")

	set_args /bin/sh -c 'cat /mnt/file; sleep 1000'
	run_detached ctr
	[ "$status" -eq 0 ]
	wait_for_file "$TEST_DIR/ctr.out" users
	# the peer got copies of the binds of the rootfs, none of the mounts in them
	test_mounts | grep -qxF -- "$peer/rootfs" || fail "nothing propagated to the peer: $(test_mounts)"
	assert_equal "$(test_mounts | grep -F -- "$peer/rootfs/")" "$peer_below"
	run berth delete --force ctr
	assert_success
	assert_equal "$(awk -v dir="$TEST_DIR" 'index($5, dir) == 1 {print $5, $NF}' /proc/self/mountinfo | sort)" "$before"
	assert_equal "$(cat "$ROOTFS/mnt/file")" users
	# the host's mount kept its propagation
	findmnt -no PROPAGATION "$BUNDLE" | grep -q shared || fail "$BUNDLE is no longer shared"
}

@test "without a mount namespace, on a kernel without open_tree: one recursive bind, nothing left after delete" {
	local enosys=$BERTH_BUILDDIR/tests/helpers/enosys
	[ -x "$enosys" ] || fail "$enosys is missing: build with 'make check'"
	no_mount_ns
	set_args /bin/sleep 1000
	BERTH_TEST_TAG=$BERTH_TEST_TAG timeout -k 5 "$BERTH_CMD_TIMEOUT" "$enosys" open_tree \
		"$BERTH_BIN" --root "$BERTH_ROOT" run --detach --bundle "$BUNDLE" ctr \
		</dev/null >"$TEST_DIR/ctr.out" 2>"$TEST_DIR/ctr.err" ||
		fail "run --detach with open_tree failing: $(cat "$TEST_DIR/ctr.err")"
	assert_equal "$(test_mounts | grep -cxF -- "$ROOTFS")" 1
	test_mounts | grep -qxF -- "$ROOTFS/proc" || fail "no /proc under the rootfs: $(test_mounts)"
	run berth delete --force ctr
	assert_success
	assert_equal "$(test_mounts)" ""
}

@test "without a mount namespace, a user namespace is refused, naming linux.namespaces" {
	requires userns
	update_config '.linux.namespaces |= map(select(.type != "mount")) + [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 200000, "size": 65536}]'
	run_container
	assert_failure 1
	[[ "$stderr" == *".linux.namespaces"*"mount namespace"* ]] || fail "unclear error: $stderr"
	assert_nothing_left
}
