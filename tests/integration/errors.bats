#!/usr/bin/env bats
# Errors: a bad config.json (with the JSON path of the bad value), a missing
# rootfs, a missing or non-executable binary. Each fails with exit status 1
# and a message on stderr, and leaves no state directory, process or mount.

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
setup() { berth_setup; }
teardown() { berth_teardown; }

# expect_create_error TEXT: create fails with exit status 1, TEXT in the error.
expect_create_error() {
	create_container ctr
	[ "$status" -eq 1 ] || fail "create exited with $status, expected 1: $output"
	[[ "$output" == *"$1"* ]] || fail "the error does not contain '$1': $output"
	assert_nothing_left
}

@test "config.json that is not JSON" {
	echo '{ "ociVersion": "1.0.2", "process": ' >"$BUNDLE/config.json"
	expect_create_error "config.json"
}

@test "missing config.json" {
	rm "$BUNDLE/config.json"
	expect_create_error "config.json"
}

@test "process.args of the wrong type names the JSON path" {
	update_config '.process.args = "/bin/sh"'
	expect_create_error 'config.json: .process.args: expected an array of strings'
}

@test "process.args with a non-string element names the JSON path" {
	update_config '.process.args = ["/bin/sh", 1]'
	expect_create_error 'config.json: .process.args'
}

@test "process.user.uid of the wrong type names the JSON path" {
	update_config '.process.user.uid = "root"'
	expect_create_error 'config.json: .process.user.uid: expected'
}

@test "a mount destination of the wrong type names the JSON path with its index" {
	update_config '.mounts[1].destination = 42'
	expect_create_error 'config.json: .mounts[1].destination: expected'
}

@test "linux.namespaces with an unknown type is rejected" {
	update_config '.linux.namespaces += [{"type": "bogus"}]'
	expect_create_error 'bogus'
}

@test "missing rootfs" {
	update_config '.root.path = "no-such-rootfs"'
	expect_create_error "no-such-rootfs"
}

@test "missing binary: exec names the path and the error" {
	set_args /bin/nope
	run_container
	assert_failure 1
	assert_output ""
	[[ "$stderr" == *'exec `/bin/nope`: No such file or directory'* ]] || fail "stderr: $stderr"
	assert_nothing_left
}

@test "binary that is not executable: exec names the path and the error" {
	set_args /etc/passwd
	run_container
	assert_failure 1
	[[ "$stderr" == *'exec `/etc/passwd`: Permission denied'* ]] || fail "stderr: $stderr"
	assert_nothing_left
}

@test "errors also go to --log, as JSON with --log-format json" {
	update_config '.process.args = "/bin/sh"'
	run --separate-stderr berth --log "$TEST_DIR/log.json" --log-format json create --bundle "$BUNDLE" ctr </dev/null
	assert_failure 1
	[[ "$stderr" == *'.process.args: expected an array of strings'* ]] || fail "stderr: $stderr"
	run jq -r 'select(.level == "error") | .msg' "$TEST_DIR/log.json"
	assert_success
	assert_output --partial '.process.args: expected an array of strings'
	assert_nothing_left
}

@test "create with an id that exists fails and keeps the first container" {
	set_args /bin/berth-probe sleep 1000
	create_container ctr
	[ "$status" -eq 0 ]
	local pid
	pid=$(state_field ctr pid)
	create_container ctr
	[ "$status" -eq 1 ]
	[[ "$output" == *ctr*exists* ]] || fail "error: $output"
	assert_equal "$(state_field ctr status)" created
	assert_equal "$(state_field ctr pid)" "$pid"
	pid_alive "$pid" || fail "the first container's init died"
}

@test "a cgroup that already holds another container's processes is refused and left alone" {
	local cg="/berth-test-shared-$$-$BATS_TEST_NUMBER"
	update_config '.linux.cgroupsPath = $cg' --arg cg "$cg"
	set_args /bin/sleep 100
	run_detached first
	[ "$status" -eq 0 ]
	local first_pid
	first_pid=$(state_field first pid)
	run --separate-stderr berth create --bundle "$BUNDLE" second
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"cgroup \`$cg\` is not empty"* ]] || fail "unexpected error: $stderr"
	# the first container and its cgroup are untouched
	assert_equal "$(state_field first status)" running
	grep -qx "$first_pid" "/sys/fs/cgroup/pids$cg/cgroup.procs"
	[ ! -d "$BERTH_ROOT/second" ]
	berth delete --force first
	[ ! -d "/sys/fs/cgroup/pids$cg" ]
}
