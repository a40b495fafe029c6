#!/usr/bin/env bats
# berth run by an unprivileged user: `spec --rootless`, a user namespace that
# maps root in the container to the user, cgroup errors tolerated as runc
# does; and id-mapped bind mounts (as root).
#
# Each test creates a user of its own (useradd, unique name) and removes it
# in teardown.

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }

setup() {
	berth_setup
	requires userns
	command -v useradd >/dev/null && command -v setpriv >/dev/null || skip "requires useradd and setpriv"
	RL_USER=berth-rl-${TEST_DIR##*.}
	RL_USER=${RL_USER,,}
	useradd --no-create-home --shell /usr/sbin/nologin --user-group "$RL_USER" ||
		fail "useradd $RL_USER failed"
	defer "userdel $RL_USER"
	RL_UID=$(id -u "$RL_USER")
	RL_GID=$(id -g "$RL_USER")
	# a bundle, rootfs and state root of the user's
	rm -f "$BUNDLE/config.json"
	chown -R "$RL_UID:$RL_GID" "$BUNDLE"
	mkdir "$BERTH_ROOT"
	chown "$RL_UID:$RL_GID" "$BERTH_ROOT"
	chmod 0700 "$BERTH_ROOT"
	as_user "$BERTH_BIN" spec --rootless --bundle "$BUNDLE" || fail "spec --rootless as $RL_USER failed"
	update_config '.process.terminal = false
		| .root.readonly = false
		| .process.args = ["/bin/berth-probe", "exit", "0"]
		| .process.env += ["BERTH_TEST_TAG=" + $tag]' --arg tag "$BERTH_TEST_TAG"
	chown "$RL_UID:$RL_GID" "$BUNDLE/config.json"
}

teardown() { berth_teardown; }

# as_user CMD...: CMD as the test's user, with this test's tag.
as_user() {
	setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups --reset-env \
		env BERTH_TEST_TAG="$BERTH_TEST_TAG" HOME="$TEST_DIR" XDG_RUNTIME_DIR="$TEST_DIR" \
		timeout -k 5 "$BERTH_CMD_TIMEOUT" "$@" 3>&-
}

# user_berth ARGS...: berth as the test's user, with this test's state root.
user_berth() {
	as_user "$BERTH_BIN" --root "$BERTH_ROOT" "$@"
}

@test "rootless: spec --rootless maps root in the container to the calling user" {
	run jq -c '[.linux.uidMappings, .linux.gidMappings, (.linux.namespaces | map(.type) | index("user") != null)]' \
		"$BUNDLE/config.json"
	assert_output "[[{\"containerID\":0,\"hostID\":$RL_UID,\"size\":1}],[{\"containerID\":0,\"hostID\":$RL_GID,\"size\":1}],true]"
}

@test "rootless: run prints root inside; the process is the user's on the host; cgroup errors are tolerated" {
	set_args /bin/berth-probe ids
	chown "$RL_UID:$RL_GID" "$BUNDLE/config.json"
	run --separate-stderr user_berth run --bundle "$BUNDLE" ctr </dev/null
	echo "# stderr: $stderr"
	assert_success
	# setgroups is denied in a rootless user namespace, so the caller's own
	# supplementary group stays, seen mapped to 0 (as with runc)
	assert_output "uid=0 gid=0 euid=0 egid=0 groups=0"

	set_args /bin/berth-probe sleep 1000
	chown "$RL_UID:$RL_GID" "$BUNDLE/config.json"
	user_berth run -d --bundle "$BUNDLE" ctr </dev/null >"$TEST_DIR/ctr.out" 2>"$TEST_DIR/ctr.err" ||
		fail "run -d as $RL_USER failed: $(cat "$TEST_DIR/ctr.err")"
	local pid
	pid=$(user_berth state ctr | jq -r .pid)
	[ "$pid" -gt 0 ] || fail "no pid: $(user_berth state ctr)"
	assert_equal "$(stat -c '%u %g' "/proc/$pid")" "$RL_UID $RL_GID"
	assert_equal "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")" "$RL_UID $RL_UID $RL_UID $RL_UID"
	assert_equal "$(awk '{print $1, $2, $3}' "/proc/$pid/uid_map")" "0 $RL_UID 1"
	[ "$(readlink "/proc/$pid/ns/user")" != "$(readlink /proc/self/ns/user)" ] || fail "same user namespace as the host"
	# the state is the user's
	assert_equal "$(stat -c %u "$BERTH_ROOT/ctr")" "$RL_UID"
	run user_berth delete --force ctr
	assert_success
	wait_pid_gone "$pid"
}

@test "rootless: the container cannot write host files the user cannot write" {
	echo original >"$TEST_DIR/rootfile"
	chmod 0644 "$TEST_DIR/rootfile"
	update_config '.mounts += [{"destination": "/host", "type": "bind", "source": $d, "options": ["rbind"]}]' \
		--arg d "$TEST_DIR"
	set_args /bin/sh -c '/bin/berth-probe stat /host/rootfile; /bin/berth-probe try write-existing /host/rootfile pwned'
	chown "$RL_UID:$RL_GID" "$BUNDLE/config.json"
	run --separate-stderr user_berth run --bundle "$BUNDLE" ctr </dev/null
	echo "# stderr: $stderr"
	assert_success
	# root's file shows as the overflow uid and stays read-only
	assert_output "file 0644 65534 65534
errno 13 EACCES"
	assert_equal "$(cat "$TEST_DIR/rootfile")" original
}

@test "rootless: a failed run as the user leaves nothing" {
	set_args /bin/nope
	chown "$RL_UID:$RL_GID" "$BUNDLE/config.json"
	run --separate-stderr user_berth run --bundle "$BUNDLE" ctr </dev/null
	assert_failure
	[[ "$stderr" == *nope* ]] || fail "stderr: $stderr"
	assert_nothing_left
}

@test "id-mapped bind mount: supported and mapped, or refused clearly as the features document says" {
	# as root: a user namespace mapping 0 -> 100000, and a bind mount whose
	# files (owned by $RL_UID on the host) are mapped to 0 inside
	rm -rf "$ROOTFS"
	cp -a "$BERTH_TEMPLATE_DIR/rootfs" "$ROOTFS"
	chown -R 100000:100000 "$ROOTFS"
	mkdir "$TEST_DIR/data"
	echo data >"$TEST_DIR/data/file"
	chown -R "$RL_UID:$RL_GID" "$TEST_DIR/data"
	rm -f "$BUNDLE/config.json"
	berth spec --bundle "$BUNDLE" || fail "berth spec failed"
	update_config '.process.terminal = false | .root.readonly = false
		| .process.env += ["BERTH_TEST_TAG=" + $tag]
		| .linux.cgroupsPath = $cg
		| .linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .mounts += [{"destination": "/data", "type": "bind", "source": $d, "options": ["bind", "idmap"],
			"uidMappings": [{"containerID": 0, "hostID": $u, "size": 1}],
			"gidMappings": [{"containerID": 0, "hostID": $g, "size": 1}]}]' \
		--arg tag "$BERTH_TEST_TAG" --arg cg "berth-test-${TEST_DIR##*.}" --arg d "$TEST_DIR/data" \
		--argjson u "$RL_UID" --argjson g "$RL_GID"
	set_args /bin/sh -c '/bin/berth-probe stat /data/file && cat /data/file && echo new >/data/new'
	local enabled
	enabled=$(berth features | jq -r '.linux.mountExtensions.idmap.enabled')
	run_container
	if [ "$enabled" = true ]; then
		assert_success
		assert_output "file 0644 0 0
data"
		assert_equal "$(stat -c '%u %g' "$TEST_DIR/data/new")" "$RL_UID $RL_GID"
	else
		echo "# berth features: idmap not enabled; run: $stderr"
		assert_failure
		[[ "$stderr" == *idmap* ]] || fail "the error does not name idmap: $stderr"
		assert_nothing_left
		assert_equal "$(ls -A "$TEST_DIR/data")" file
	fi
}
