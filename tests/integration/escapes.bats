#!/usr/bin/env bats
# The classic escapes of this field, tried against berth. Each test does what
# an attacker (a hostile image or a hostile process in the container) would
# do, and checks from the host that nothing got out:
#   CVE-2024-21626  leaked fds and a cwd outside the container
#   CVE-2019-5736   overwriting the runtime binary through /proc/<pid>/exe
#   CVE-2021-30465  symlinks that redirect mount targets, mkdirs and device
#                   nodes, also swapped in during setup
#   CVE-2025-31133  /dev/null or a masked path replaced by a symlink
#   /proc and /sys writes, and capabilities the process was not given

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
# A cgroup of the test's own (see security.bats): the default path is the
# container id below berth's cgroup, shared with concurrently running suites.
setup() {
	berth_setup
	update_config '.linux.cgroupsPath = $p' --arg p "berth-test-${TEST_DIR##*.}"
	ROOT_MARKER=.berth-root-${TEST_DIR##*.}
	touch "$ROOTFS/$ROOT_MARKER"
}
teardown() { berth_teardown; }

# fd_numbers: the fd numbers of `berth-probe fds` output in $output.
fd_numbers() {
	cut -d' ' -f1 <<<"$output" | tr '\n' ' '
}

# ---- CVE-2024-21626: fds and cwd ----

@test "21626: run: the process has only fds 0-2 and its cwd is inside the container" {
	set_args /bin/sh -c 'exec /bin/berth-probe fds'
	run --separate-stderr berth_keep_fds run --bundle "$BUNDLE" ctr </dev/null 5<"$TEST_DIR" 7</sys/fs/cgroup
	assert_success
	assert_equal "$(fd_numbers)" "0 1 2 "
	probe updir-has "$ROOT_MARKER"
	assert_success
	assert_output found
	probe cwd
	assert_success
	assert_output /
}

@test "21626: exec and create+start: only fds 0-2, cwd inside the container" {
	set_args /bin/berth-probe sleep 1000
	create_container ctr
	[ "$status" -eq 0 ] || fail "create failed: $output"
	run berth start ctr
	assert_success
	run --separate-stderr berth_keep_fds exec ctr /bin/berth-probe fds </dev/null 5<"$TEST_DIR" 7</sys/fs/cgroup
	assert_success
	assert_equal "$(fd_numbers)" "0 1 2 "
	run --separate-stderr berth exec --cwd /tmp ctr /bin/berth-probe updir-has "$ROOT_MARKER"
	assert_success
	assert_output found
	# init (started by create + start): its fds seen from the host
	local pid fds
	pid=$(state_field ctr pid)
	fds=$(ls "/proc/$pid/fd" | sort -n | tr '\n' ' ')
	assert_equal "$fds" "0 1 2 "
	[ "/proc/$pid/cwd" -ef "$ROOTFS" ] || fail "init's cwd is not the rootfs: $(ls -la "/proc/$pid/cwd/")"
}

@test "21626: process.cwd /proc/self/fd/N fails or stays inside the container, for run and exec" {
	local n
	for n in 3 4 5 6 7 8 9; do
		update_config '.process.cwd = $c' --arg c "/proc/self/fd/$n"
		set_args /bin/berth-probe updir-has "$ROOT_MARKER"
		run_container "c$n"
		if [ "$status" -eq 0 ]; then
			assert_output found
		else
			assert_output ""
			[[ "$stderr" == *"/proc/self/fd/$n"* ]] || fail "fd $n: the error does not name the cwd: $stderr"
		fi
		assert_nothing_left
	done
	update_config '.process.cwd = "/"'
	set_args /bin/berth-probe sleep 1000
	run_detached ctr
	[ "$status" -eq 0 ] || fail "run -d failed: $output"
	for n in 3 4 5 6 7 8 9; do
		run --separate-stderr berth exec --cwd "/proc/self/fd/$n" ctr /bin/berth-probe updir-has "$ROOT_MARKER"
		if [ "$status" -eq 0 ]; then
			[ "$output" = found ] || fail "exec --cwd /proc/self/fd/$n: the process is outside the container: $(
				berth exec --cwd "/proc/self/fd/$n" ctr /bin/sh -c 'echo "cwd $(readlink /proc/self/cwd) [$(ls /proc/self/cwd | tr "\n" " ")]"; cd ../../../../../../../..; echo "up there: $(ls | tr "\n" " ")"' </dev/null 2>&1)"
		else
			assert_output ""
		fi
	done
}

# ---- CVE-2019-5736: the runtime binary through /proc/<pid>/exe ----

# use_berth_copy: the runtime under test is a copy in $TEST_DIR, so that a
# successful attack corrupts the copy and not the build (which others may
# rebuild meanwhile); its checksum and
# device:inode are in BERTH_SUM and BERTH_DEVINO.
use_berth_copy() {
	cp "$BERTH_BIN" "$TEST_DIR/berth"
	BERTH_BIN=$TEST_DIR/berth
	BERTH_SUM=$(sha256sum <"$BERTH_BIN")
	BERTH_DEVINO=$(stat -c '%d %i' "$BERTH_BIN")
}

# assert_runtime_untouched HUNT_OUTPUT_FILE
assert_runtime_untouched() {
	local out sum
	out=$(cat "$1")
	echo "# exe-hunt: $out"
	sum=$(sha256sum <"$BERTH_BIN")
	# put the copy back, so that teardown can delete the container
	cp --remove-destination "$BERTH_BUILDDIR/berth" "$BERTH_BIN"
	[[ "$out" == *done* ]] || fail "the hunter did not finish: $out"
	[ "$sum" = "$BERTH_SUM" ] || fail "the runtime binary ($BERTH_BIN, a copy of the build's) was overwritten from inside the container: $out"
	if grep -q "^wrote [0-9]* $BERTH_DEVINO " "$1"; then
		fail "the container wrote to the runtime binary through /proc/PID/exe: $out"
	fi
	if grep -q '^wrote ' "$1"; then
		fail "the container wrote to a binary outside it through /proc/PID/exe: $out"
	fi
}

@test "5736: /proc/self/exe and /proc/1/exe cannot be opened for writing from exec" {
	use_berth_copy
	set_args /bin/berth-probe sleep 1000
	run_detached ctr
	[ "$status" -eq 0 ] || fail "run -d failed: $output"
	local f
	for f in /proc/self/exe /proc/1/exe; do
		run --separate-stderr berth exec ctr /bin/berth-probe try write-existing "$f" BERTH-PWNED
		assert_success
		assert_output --regexp '^errno [0-9]+ (ETXTBSY|EACCES|EPERM)$'
	done
	assert_equal "$(sha256sum <"$BERTH_BIN")" "$BERTH_SUM"
}

@test "5736: a process exec'd into a created container cannot reach the runtime binary through /proc/1/exe after start" {
	use_berth_copy
	set_args /bin/berth-probe sleep 1000
	create_container ctr
	[ "$status" -eq 0 ] || fail "create failed: $output"
	# the hunter holds /proc/1/exe (init, not yet exec'd) and tries to
	# reopen it for writing once init has exec'd the container's program
	berth exec -d ctr /bin/berth-probe exe-hunt 4 </dev/null >"$TEST_DIR/hunt.out" 2>"$TEST_DIR/hunt.err" &&
		status=0 || status=$?
	if [ "$status" -ne 0 ]; then
		# refusing exec into a created container closes the hole too
		echo "# exec into a created container refused: $(cat "$TEST_DIR/hunt.err")"
		run berth start ctr
		assert_success
		return 0
	fi
	wait_for_file "$TEST_DIR/hunt.out" "^exe "
	run berth start ctr
	assert_success
	wait_for_file "$TEST_DIR/hunt.out" "^done"
	assert_runtime_untouched "$TEST_DIR/hunt.out"
}

@test "5736: a privileged process in the container hunting /proc/*/exe during berth exec cannot write the runtime" {
	use_berth_copy
	local all
	all=$(capsh --decode="$(awk '/^CapBnd:/ {print $2}' /proc/self/status)" | sed 's/.*=//' |
		tr ',' '\n' | tr a-z A-Z | jq -R . | jq -sc .)
	update_config '.process.capabilities = {"bounding": $a, "effective": $a, "permitted": $a}' --argjson a "$all"
	set_args /bin/berth-probe exe-hunt 8
	run_detached ctr
	[ "$status" -eq 0 ] || fail "run -d failed: $output"
	local i
	for ((i = 0; i < 30; i++)); do
		berth exec ctr /bin/berth-probe exit 0 </dev/null >/dev/null 2>&1 || true
	done
	wait_for_file "$TEST_DIR/ctr.out" "^done"
	assert_runtime_untouched "$TEST_DIR/ctr.out"
}

# assert_init_sealed ID: the container's init (not yet started) runs from the
# sealed copy: its executable and every mapping of it are the memfd, none is
# the runtime's binary, and the executable cannot be opened for writing.
assert_init_sealed() {
	local pid
	pid=$(state_field "$1" pid) || fail "no state for $1"
	assert_equal "$(readlink "/proc/$pid/exe")" "/memfd:berth (deleted)"
	if grep -F " $BERTH_BIN" "/proc/$pid/maps"; then
		fail "init still maps $BERTH_BIN"
	fi
	if (echo PWNED >"/proc/$pid/exe") 2>/dev/null; then
		fail "/proc/$pid/exe of init could be opened for writing"
	fi
}

@test "5736: init runs from the sealed copy, swapped in place, or re-executed where prctl(PR_SET_MM) fails" {
	local enosys=$BERTH_BUILDDIR/tests/helpers/enosys pid
	[ -x "$enosys" ] || fail "$enosys is missing: build with 'make check'"
	use_berth_copy
	set_args /bin/true
	# in place: the pages the loader wrote were moved to anonymous memory,
	# so the image's writable part is no longer a mapping of the copy
	create_container ctr
	[ "$status" -eq 0 ] || fail "create failed: $output"
	assert_init_sealed ctr
	pid=$(state_field ctr pid)
	if grep -E '^[0-9a-f-]+ rw-p .*/memfd:berth' "/proc/$pid/maps"; then
		fail "the sealed copy was re-executed although the process could swap it in place"
	fi
	run berth delete --force ctr
	assert_success
	# re-executed: every segment of the image maps the copy
	BERTH_TEST_TAG=$BERTH_TEST_TAG timeout -k 5 "$BERTH_CMD_TIMEOUT" "$enosys" prctl=35 \
		"$BERTH_BIN" --root "$BERTH_ROOT" create --bundle "$BUNDLE" ctr2 \
		</dev/null >"$TEST_DIR/ctr2.out" 2>"$TEST_DIR/ctr2.err" ||
		fail "create with prctl(PR_SET_MM) failing: $(cat "$TEST_DIR/ctr2.err")"
	assert_init_sealed ctr2
	pid=$(state_field ctr2 pid)
	grep -qE '^[0-9a-f-]+ rw-p .*/memfd:berth' "/proc/$pid/maps" ||
		fail "not re-executed from the copy: $(cat "/proc/$pid/maps")"
	run berth delete --force ctr2
	assert_success
	assert_equal "$(sha256sum <"$BERTH_BIN")" "$BERTH_SUM"
}

# ---- CVE-2021-30465 and kin: symlinks in the rootfs ----

@test "30465: a missing mount target below a symlink to the host is made inside the rootfs" {
	mkdir "$TEST_DIR/host" "$TEST_DIR/src"
	echo bound >"$TEST_DIR/src/file"
	ln -s "$TEST_DIR/host" "$ROOTFS/abs"
	ln -s "../../../../../../../../..$TEST_DIR/host" "$ROOTFS/rel"
	update_config '.mounts += [
		{"destination": "/abs/a/b/c", "type": "bind", "source": $s, "options": ["bind"]},
		{"destination": "/rel/d/e", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}]' \
		--arg s "$TEST_DIR/src"
	set_args /bin/sh -c 'cat /abs/a/b/c/file && touch /rel/d/e/x && echo ok'
	run_container
	assert_success
	assert_output "bound
ok"
	assert_equal "$(ls -A "$TEST_DIR/host")" ""
	assert_equal "$(cat "$TEST_DIR/src/file")" bound
	[ -d "$ROOTFS$TEST_DIR/host/a/b/c" ] || fail "the target was not made inside the rootfs"
}

@test "30465: a device node through a symlinked directory lands inside the rootfs" {
	mkdir "$TEST_DIR/hostdev"
	# no /dev tmpfs: the rootfs' own /dev, with a symlink to the host
	update_config '.mounts |= map(select(.destination | startswith("/dev") | not))
		| .linux.devices = [
			{"path": "/dev/evil/null", "type": "c", "major": 1, "minor": 3, "fileMode": 438},
			{"path": "/dev/rel/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 438}]'
	ln -s "$TEST_DIR/hostdev" "$ROOTFS/dev/evil"
	ln -s "../../../../../../../..$TEST_DIR/hostdev" "$ROOTFS/dev/rel"
	set_args /bin/sh -c '/bin/berth-probe stat /dev/evil/null; /bin/berth-probe stat /dev/rel/zero'
	run_container
	if [ "$status" -eq 0 ]; then
		assert_output "char 0666 0 0 1:3
char 0666 0 0 1:5"
		[ -c "$ROOTFS$TEST_DIR/hostdev/null" ] || fail "the node is not inside the rootfs"
	else
		echo "# refused: $stderr"
	fi
	assert_equal "$(ls -A "$TEST_DIR/hostdev")" ""
}

@test "30465: a mount target swapped between a directory and a symlink to the host during setup never lands on the host" {
	local i ok=0 failed=0 swapper
	mkdir "$TEST_DIR/host" "$TEST_DIR/src"
	echo bound >"$TEST_DIR/src/file"
	update_config '.mounts += [
		{"destination": "/dir", "type": "bind", "source": $s, "options": ["bind"]},
		{"destination": "/dir/sub/deeper", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}]' \
		--arg s "$TEST_DIR/src"
	set_args /bin/berth-probe exit 0
	# the attacker: rootfs/dir flips between a directory and a symlink to
	# the host directory as fast as it can
	mkdir "$ROOTFS/dir"
	(
		set +e
		while :; do
			rm -rf "$ROOTFS/dir.tmp"
			ln -s "$TEST_DIR/host" "$ROOTFS/dir.tmp" && mv -T "$ROOTFS/dir.tmp" "$ROOTFS/dir"
			mkdir -p "$ROOTFS/dir.tmp2" && mv -T "$ROOTFS/dir.tmp2" "$ROOTFS/dir" 2>/dev/null ||
				{ rm -f "$ROOTFS/dir" && mv -T "$ROOTFS/dir.tmp2" "$ROOTFS/dir"; }
		done
	) </dev/null >/dev/null 2>&1 3>&- &
	swapper=$!
	defer "kill $swapper 2>/dev/null; wait $swapper 2>/dev/null || true"
	for ((i = 0; i < 60; i++)); do
		if berth run --bundle "$BUNDLE" "race$i" </dev/null >/dev/null 2>>"$TEST_DIR/race.err"; then
			ok=$((ok + 1))
		else
			failed=$((failed + 1))
		fi
		# nothing of berth's on the host, ever, and no host mount there
		[ -z "$(ls -A "$TEST_DIR/host")" ] || fail "after run $i: berth created on the host: $(ls -lA "$TEST_DIR/host")"
		! grep -q " $TEST_DIR/host " /proc/self/mountinfo || fail "after run $i: a mount on the host at $TEST_DIR/host"
	done
	kill "$swapper" || fail "the swapping loop died early"
	wait "$swapper" 2>/dev/null || true
	echo "# $ok runs succeeded, $failed failed; errors: $(sort "$TEST_DIR/race.err" | uniq -c | head -5)"
	assert_equal "$(cat "$TEST_DIR/src/file")" bound
	assert_nothing_left
}

# ---- CVE-2025-31133: /dev/null and masked paths replaced by symlinks ----

# no_dev_tmpfs: the rootfs' own /dev is used (no tmpfs over it).
no_dev_tmpfs() {
	update_config '.mounts |= map(select(.destination | startswith("/dev") | not))'
}

@test "31133: /dev/null of the rootfs a symlink to a host-global /proc file: masked paths do not expose it" {
	local f masked=()
	for f in /proc/keys /proc/timer_list /proc/kcore /proc/sched_debug; do
		[ -e "$f" ] && masked+=("$f")
	done
	[ ${#masked[@]} -gt 0 ] || skip "requires one of the masked /proc files on the host"
	no_dev_tmpfs
	rm -f "$ROOTFS/dev/null"
	ln -s /proc/sys/kernel/random/boot_id "$ROOTFS/dev/null"
	set_args /bin/sh -c 'for f in "$@"; do echo "$f [$(cat $f 2>&1)]"; done' sh "${masked[@]}"
	run_container
	if [ "$status" -ne 0 ]; then
		# refusing a /dev/null that is not the null device is the fix runc made
		echo "# refused: $stderr"
		assert_output ""
		assert_nothing_left
		return 0
	fi
	for f in "${masked[@]}"; do
		assert_line "$f []"
	done
	refute_output --partial "$(cat /proc/sys/kernel/random/boot_id)"
}

@test "31133: /dev/null of the rootfs a symlink to a host file: the host file is untouched and no mount target" {
	no_dev_tmpfs
	echo original >"$TEST_DIR/hostfile"
	chmod 0600 "$TEST_DIR/hostfile"
	rm -f "$ROOTFS/dev/null"
	ln -s "$TEST_DIR/hostfile" "$ROOTFS/dev/null"
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	set_args /bin/sh -c 'echo from-container >/dev/null; cat /proc/keys 2>&1 | head -1'
	run_container
	echo "# status $status: $output"
	assert_equal "$(cat "$TEST_DIR/hostfile")" original
	assert_equal "$(stat -c '%u %g %a' "$TEST_DIR/hostfile")" "0 0 600"
	! grep -q " $TEST_DIR/hostfile " /proc/self/mountinfo || fail "the host file is a mount point"
	refute_output --partial original
	assert_nothing_left
}

@test "31133: a maskedPaths entry that is a symlink to a host file leaves the host file alone" {
	echo original >"$TEST_DIR/hostfile"
	mkdir "$TEST_DIR/hostdir"
	echo original >"$TEST_DIR/hostdir/f"
	ln -s "$TEST_DIR/hostfile" "$ROOTFS/etc/mask-abs"
	ln -s "../../../../../../../..$TEST_DIR/hostfile" "$ROOTFS/etc/mask-rel"
	ln -s "$TEST_DIR/hostdir" "$ROOTFS/etc/mask-dir"
	update_config '.linux.maskedPaths += ["/etc/mask-abs", "/etc/mask-rel", "/etc/mask-dir"]
		| .linux.readonlyPaths += ["/etc/mask-dir"]'
	set_args /bin/sh -c 'echo x >/etc/mask-abs; echo x >/etc/mask-rel; echo x >/etc/mask-dir/f; echo done'
	run_container
	echo "# status $status: $output $stderr"
	assert_equal "$(cat "$TEST_DIR/hostfile")" original
	assert_equal "$(cat "$TEST_DIR/hostdir/f")" original
	assert_equal "$(ls -A "$TEST_DIR/hostdir")" f
	! grep -qE " $TEST_DIR/host(file|dir) " /proc/self/mountinfo || fail "a host path became a mount point"
	assert_nothing_left
}

# ---- /proc and /sys writes of the default config ----

@test "proc and sys: writes to /proc/sys, sysrq-trigger and /sys fail with the default config" {
	# every write puts back the value that is there (harmless should it go
	# through); kernel.printk and vm.* are host-global
	set_args /bin/sh -c '
		for f in /proc/sys/kernel/printk /proc/sys/vm/swappiness /proc/sys/kernel/hostname; do
			echo "$f $(/bin/berth-probe try write-existing $f "$(cat $f)")"
		done
		[ ! -e /proc/sysrq-trigger ] || echo "/proc/sysrq-trigger $(/bin/berth-probe try write-existing /proc/sysrq-trigger h)"
		echo "/sys/class/net/lo/mtu $(/bin/berth-probe try write-existing /sys/class/net/lo/mtu "$(cat /sys/class/net/lo/mtu)")"
		echo "/sys/kernel/x $(/bin/berth-probe try mkdir /sys/kernel/x)"
		echo "/sys/fs/cgroup/x $(/bin/berth-probe try mkdir /sys/fs/cgroup/x)"'
	run_container
	assert_success
	local line
	for line in "${lines[@]}"; do
		[[ "$line" =~ \ errno\ [0-9]+\ (EROFS|EACCES|EPERM)$ ]] || fail "a write went through or failed otherwise: $line"
	done
	assert_line --regexp '^/proc/sys/kernel/printk errno 30 EROFS$'
	assert_line --regexp '^/sys/class/net/lo/mtu errno 30 EROFS$'
}

# ---- capabilities the process was not given ----

@test "capabilities: without CAP_SYS_ADMIN no mount or sethostname, without CAP_NET_ADMIN no link change, without CAP_CHOWN no chown" {
	local script='/bin/berth-probe try mount-tmpfs /mnt; /bin/berth-probe try sethostname evil
		/bin/berth-probe try link lo up; touch /tmp/f; /bin/berth-probe try chown /tmp/f 1000 1000'
	set_args /bin/sh -c "$script"
	# the default config: CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE
	run_container
	assert_success
	assert_output "errno 1 EPERM
errno 1 EPERM
errno 1 EPERM
errno 1 EPERM"
	# sensitivity: with those capabilities, each works (in the container's
	# own namespaces)
	update_config '.process.capabilities.bounding += ["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_CHOWN"]
		| .process.capabilities.effective = .process.capabilities.bounding
		| .process.capabilities.permitted = .process.capabilities.bounding'
	run_container
	assert_success
	assert_output "ok
ok
ok
ok"
}
