#!/usr/bin/env bats
# Mounts: tmpfs, bind and rbind, read-only and nosuid/nodev/noexec,
# propagation, a read-only root, rootfsPropagation, and mount targets through
# hostile symlinks in the rootfs.

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
setup() { berth_setup; }
teardown() { berth_teardown; }

# add_mount DESTINATION TYPE SOURCE [OPTION...]
add_mount() {
	local dest=$1 type=$2 src=$3 opts
	shift 3
	opts=$(for o in "$@"; do jq -n --arg o "$o" '$o'; done | jq -s .)
	update_config '.mounts += [{"destination": $d, "type": $t, "source": $s, "options": $o}]' \
		--arg d "$dest" --arg t "$type" --arg s "$src" --argjson o "$opts"
}

@test "tmpfs with size, mode and flags" {
	add_mount /scratch tmpfs tmpfs nosuid nodev noexec size=1m mode=1770
	set_args /bin/sh -c '/bin/berth-probe stat /scratch && /bin/berth-probe mounts'
	run_container
	assert_success
	assert_equal "${lines[0]}" "dir 1770 0 0"
	assert_equal "$(mount_entry /scratch | cut -d' ' -f2)" tmpfs
	assert_mount_opts /scratch 3 rw nosuid nodev noexec
	assert_mount_opts /scratch 4 size=1024k mode=1770
}

@test "bind mount of a host directory: reads and writes go through" {
	mkdir "$TEST_DIR/host"
	echo hello >"$TEST_DIR/host/file"
	add_mount /data bind "$TEST_DIR/host" bind
	set_args /bin/sh -c 'cat /data/file && echo from-container >/data/new'
	run_container
	assert_success
	assert_output hello
	assert_equal "$(cat "$TEST_DIR/host/new")" from-container
}

@test "read-only bind mount: writes fail with EROFS" {
	mkdir "$TEST_DIR/host"
	add_mount /data bind "$TEST_DIR/host" bind ro
	probe write /data/x y
	assert_failure 1
	assert_equal "$stderr" "berth-probe: write: /data/x: Read-only file system"
	[ ! -e "$TEST_DIR/host/x" ] || fail "the write reached the host"
	probe mounts
	assert_mount_opts /data 3 ro
}

@test "nosuid, nodev and noexec show in mountinfo and noexec stops exec" {
	mkdir "$TEST_DIR/host"
	cp "$BERTH_PROBE" "$TEST_DIR/host/probe"
	add_mount /data bind "$TEST_DIR/host" bind nosuid nodev noexec
	probe mounts
	assert_success
	assert_mount_opts /data 3 nosuid nodev noexec

	set_args /data/probe exit 0
	run_container
	assert_failure 1
	[[ "$stderr" == *'exec `/data/probe`: Permission denied'* ]] || fail "stderr: $stderr"
}

@test "rbind takes submounts along, bind does not" {
	mkdir -p "$TEST_DIR/host/sub"
	mount -t tmpfs -o size=1m berth-sub "$TEST_DIR/host/sub"
	defer "umount '$TEST_DIR/host/sub'"
	add_mount /r rbind "$TEST_DIR/host" rbind
	add_mount /b bind "$TEST_DIR/host" bind
	probe mounts
	assert_success
	assert_equal "$(mount_entry /r/sub | cut -d' ' -f2)" tmpfs
	assert_equal "$(mount_entry /b/sub)" ""
}

# shared_host_dir DIR: DIR as a shared mount point of the host.
shared_host_dir() {
	mkdir -p "$1"
	mount --bind "$1" "$1"
	mount --make-shared "$1"
	defer "umount -R '$1'"
}

WATCH='echo waiting; i=0; while [ $i -lt 30 ]; do
	grep -q " /data/later " /proc/self/mountinfo && { echo propagated; exit 0; }
	sleep 0.1; i=$((i + 1)); done; echo not propagated'

@test "rslave: a host mount made later appears in the container" {
	shared_host_dir "$TEST_DIR/host"
	mkdir "$TEST_DIR/host/later"
	add_mount /data bind "$TEST_DIR/host" rbind rslave
	set_args /bin/sh -c "$WATCH"
	run_detached ctr
	[ "$status" -eq 0 ]
	wait_for_file "$TEST_DIR/ctr.out" waiting
	mount -t tmpfs berth-later "$TEST_DIR/host/later"
	wait_for_status ctr stopped
	assert_equal "$(cat "$TEST_DIR/ctr.out")" "waiting
propagated"
}

@test "rprivate: a host mount made later does not appear in the container" {
	shared_host_dir "$TEST_DIR/host"
	mkdir "$TEST_DIR/host/later"
	add_mount /data bind "$TEST_DIR/host" rbind rprivate
	set_args /bin/sh -c "$WATCH"
	run_detached ctr
	[ "$status" -eq 0 ]
	wait_for_file "$TEST_DIR/ctr.out" waiting
	mount -t tmpfs berth-later "$TEST_DIR/host/later"
	wait_for_status ctr stopped
	assert_equal "$(cat "$TEST_DIR/ctr.out")" "waiting
not propagated"
}

@test "mount propagation flags show in mountinfo" {
	mkdir "$TEST_DIR/host"
	add_mount /shared bind "$TEST_DIR/host" rbind rshared
	add_mount /private bind "$TEST_DIR/host" rbind rprivate
	probe mounts
	assert_success
	[[ "$(mount_entry /shared | cut -d' ' -f5)" == *shared:* ]] || fail "/shared: $(mount_entry /shared)"
	assert_equal "$(mount_entry /private | cut -d' ' -f5)" private
}

@test "readonly root: writing to / fails" {
	update_config '.root.readonly = true'
	probe write /newfile x
	assert_failure 1
	assert_equal "$stderr" "berth-probe: write: /newfile: Read-only file system"
	[ ! -e "$ROOTFS/newfile" ] || fail "the write reached the rootfs"
	probe mounts
	assert_success
	assert_mount_opts / 3 ro
}

@test "rootfsPropagation private and shared" {
	update_config '.linux.rootfsPropagation = "private"'
	probe mounts
	assert_success
	assert_equal "$(mount_entry / | cut -d' ' -f5)" private

	update_config '.linux.rootfsPropagation = "shared"'
	probe mounts
	assert_success
	[[ "$(mount_entry / | cut -d' ' -f5)" == *shared:* ]] || fail "/ is not shared: $(mount_entry /)"
}

@test "a mount target through an absolute symlink lands inside the rootfs" {
	# rootfs/mnt-link -> $TEST_DIR/victim/new: on the host that is a real
	# path, inside the rootfs it is not
	mkdir "$TEST_DIR/victim"
	ln -s "$TEST_DIR/victim/new" "$ROOTFS/mnt-link"
	add_mount /mnt-link tmpfs tmpfs size=1m
	set_args /bin/sh -c 'echo inside >/mnt-link/file && cat /proc/self/mountinfo'
	run_container
	assert_success
	[ ! -e "$TEST_DIR/victim/new" ] || fail "the mount target was created on the host: $TEST_DIR/victim/new"
	assert_equal "$(ls -A "$TEST_DIR/victim")" ""
	[ -d "$ROOTFS/$TEST_DIR/victim/new" ] || fail "the target was not created inside the rootfs"
	[ ! -e "$ROOTFS/$TEST_DIR/victim/new/file" ] || fail "the file was written to the rootfs, not to the tmpfs"
	assert_line --regexp "^[0-9]+ [0-9]+ [0-9]+:[0-9]+ / $TEST_DIR/victim/new .* - tmpfs "
}

@test "a mount target through a relative ../../.. symlink lands inside the rootfs" {
	mkdir "$TEST_DIR/victim"
	ln -s "../../../../../../../../../../..$TEST_DIR/victim/new" "$ROOTFS/escape"
	mkdir "$TEST_DIR/host"
	echo bound >"$TEST_DIR/host/file"
	add_mount /escape/sub bind "$TEST_DIR/host" bind
	set_args /bin/cat /escape/sub/file
	run_container
	assert_success
	assert_output bound
	[ ! -e "$TEST_DIR/victim/new" ] || fail "the mount target was created on the host: $TEST_DIR/victim/new"
	[ -d "$ROOTFS/$TEST_DIR/victim/new/sub" ] || fail "the target was not created inside the rootfs"
}

@test "a bind-mounted file whose target is a symlink out of the rootfs lands inside the rootfs" {
	echo secret >"$TEST_DIR/host-file"
	echo content >"$TEST_DIR/source-file"
	ln -s "$TEST_DIR/host-file" "$ROOTFS/etc/target"
	add_mount /etc/target bind "$TEST_DIR/source-file" bind
	set_args /bin/cat /etc/target
	run_container
	assert_success
	assert_output content
	assert_equal "$(cat "$TEST_DIR/host-file")" secret
}

@test "--no-pivot: the rootfs becomes / by MS_MOVE and chroot, with the config's mounts in it" {
	echo inside >"$ROOTFS/marker"
	set_args /bin/sh -c 'cat /marker && test ! -e "$0" && echo no-host-path && /bin/berth-probe stat /proc/self' "$TEST_DIR"
	run --separate-stderr berth run --no-pivot --bundle "$BUNDLE" ctr </dev/null
	assert_success
	assert_equal "${lines[0]}" inside
	assert_equal "${lines[1]}" no-host-path
	assert_equal "${lines[2]%% *}" symlink
}

@test "id-mapped bind mount without a user namespace: files of host uid 1234 show as root" {
	mkdir "$TEST_DIR/idm"
	echo data >"$TEST_DIR/idm/file"
	chown -R 1234:1235 "$TEST_DIR/idm"
	update_config '.mounts += [{"destination": "/data", "type": "bind", "source": $d, "options": ["bind", "idmap"],
		"uidMappings": [{"containerID": 0, "hostID": 1234, "size": 1}],
		"gidMappings": [{"containerID": 0, "hostID": 1235, "size": 1}]}]' --arg d "$TEST_DIR/idm"
	set_args /bin/sh -c '/bin/berth-probe stat /data/file && echo more >>/data/file && cat /data/file'
	run_container
	assert_success
	assert_equal "${lines[0]}" "file 0644 0 0"
	assert_equal "${lines[2]}" more
	# on the host the file is still 1234:1235, and it was written through the mapping
	assert_equal "$(stat -c '%u %g' "$TEST_DIR/idm/file")" "1234 1235"
	assert_equal "$(tail -1 "$TEST_DIR/idm/file")" more
}

@test "an id-mapped mount without mappings is refused clearly" {
	mkdir "$TEST_DIR/idm"
	add_mount /data bind "$TEST_DIR/idm" bind idmap
	set_args /bin/true
	run_container
	assert_failure
	[[ "$stderr" == *"an idmapped mount needs uidMappings and gidMappings"* ]] || fail "unexpected error: $stderr"
	assert_nothing_left
}
