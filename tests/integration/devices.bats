#!/usr/bin/env bats
# Devices: the default device nodes, linux.devices, the /dev symlinks,
# /dev/pts, /dev/shm and /dev/mqueue, and the host's /dev/null left alone.

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
setup() { berth_setup; }
teardown() { berth_teardown; }

@test "default devices exist with their major:minor and mode 0666" {
	set_args /bin/sh -c 'for d in null zero full random urandom tty; do /bin/berth-probe stat /dev/$d || exit 1; done'
	run_container
	assert_success
	assert_output "char 0666 0 0 1:3
char 0666 0 0 1:5
char 0666 0 0 1:7
char 0666 0 0 1:8
char 0666 0 0 1:9
char 0666 0 0 5:0"
}

@test "default devices work: /dev/null swallows, /dev/zero gives zeros, /dev/full is full" {
	set_args /bin/sh -c 'echo x >/dev/null && head -c 4 /dev/zero | od -An -tx1 && { echo x >/dev/full; echo "full: $?"; }'
	run_container
	assert_success
	assert_equal "${lines[0]}" " 00 00 00 00"
	assert_equal "${lines[1]}" "full: 1"
}

@test "/dev/fd, /dev/stdin, /dev/stdout, /dev/stderr and /dev/ptmx symlinks" {
	set_args /bin/sh -c 'for d in fd stdin stdout stderr ptmx; do /bin/berth-probe stat /dev/$d || exit 1; done'
	run_container
	assert_success
	assert_output "symlink 0777 0 0 -> /proc/self/fd
symlink 0777 0 0 -> /proc/self/fd/0
symlink 0777 0 0 -> /proc/self/fd/1
symlink 0777 0 0 -> /proc/self/fd/2
symlink 0777 0 0 -> pts/ptmx"
}

@test "/dev is a tmpfs with /dev/pts (a new devpts instance), /dev/shm and /dev/mqueue" {
	probe mounts
	assert_success
	assert_equal "$(mount_entry /dev | cut -d' ' -f2)" tmpfs
	assert_mount_opts /dev 3 nosuid
	assert_equal "$(mount_entry /dev/pts | cut -d' ' -f2)" devpts
	assert_mount_opts /dev/pts 3 nosuid noexec
	assert_mount_opts /dev/pts 4 gid=5 mode=620 ptmxmode=666
	assert_equal "$(mount_entry /dev/shm | cut -d' ' -f2)" tmpfs
	assert_equal "$(mount_entry /dev/mqueue | cut -d' ' -f2)" mqueue
	probe stat /dev/pts/ptmx
	assert_success
	assert_output "char 0666 0 0 5:2"
}

@test "linux.devices: nodes with fileMode, uid and gid" {
	update_config '.linux.devices = [
		{"path": "/dev/berth-null", "type": "c", "major": 1, "minor": 3, "fileMode": 416, "uid": 1000, "gid": 1000},
		{"path": "/dev/berth-block", "type": "b", "major": 7, "minor": 200, "fileMode": 384, "uid": 0, "gid": 6},
		{"path": "/dev/sub/berth-fifo", "type": "p", "fileMode": 420}]'
	set_args /bin/sh -c 'for d in berth-null berth-block sub/berth-fifo; do /bin/berth-probe stat /dev/$d || exit 1; done'
	run_container
	assert_success
	assert_output "char 0640 1000 1000 1:3
block 0600 0 6 7:200
fifo 0644 0 0"
	# the nodes are made in the container's /dev, not the host's
	[ ! -e /dev/berth-null ] || fail "/dev/berth-null was created on the host"
	[ ! -e /dev/sub/berth-fifo ] || fail "/dev/sub/berth-fifo was created on the host"
}

@test "a non-root process with /dev/null as stdio leaves the host's /dev/null alone" {
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	set_args /bin/sh -c 'echo out; echo err >&2'
	berth run --bundle "$BUNDLE" ctr </dev/null >/dev/null 2>/dev/null
	assert_equal "$(stat -c '%F %U:%G %a %t:%T' /dev/null)" "character special file root:root 666 1:3"
}
