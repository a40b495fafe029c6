#!/usr/bin/env bats
# Isolation features of a container as a user would check them from inside:
# the five capability sets, unknown capability names, noNewPrivileges against
# a setuid-root binary and file capabilities, seccomp (defaultAction and
# defaultErrnoRet, errnoRet, KILL_PROCESS, argument conditions, the notify
# agent), and the masked and read-only paths of the default `berth spec`.

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
# A cgroup of the test's own: without cgroupsPath the container's cgroup is
# its id ("ctr") below berth's cgroup, shared with every other suite running
# at the same time, whose `delete --force ctr` kills this test's container.
setup() {
	berth_setup
	update_config '.linux.cgroupsPath = $p' --arg p "berth-test-${TEST_DIR##*.}"
}
teardown() { berth_teardown; }

SECCOMP_AGENT=${SECCOMP_AGENT:-$BERTH_BUILDDIR/tests/helpers/seccomp-agent}

# caps_json BOUNDING EFFECTIVE PERMITTED INHERITABLE AMBIENT: each a
# space-separated list of names (or "").
caps_json() {
	local set names=()
	for set in "$@"; do
		names+=("$(jq -cn --arg s "$set" '$s | split(" ") | map(select(. != ""))')")
	done
	jq -cn --argjson b "${names[0]}" --argjson e "${names[1]}" --argjson p "${names[2]}" \
		--argjson i "${names[3]}" --argjson a "${names[4]}" \
		'{bounding: $b, effective: $e, permitted: $p, inheritable: $i, ambient: $a}'
}

set_caps() {
	update_config '.process.capabilities = $c' --argjson c "$(caps_json "$@")"
}

# CAP_CHOWN 0 = 0x1, CAP_KILL 5 = 0x20, CAP_NET_BIND_SERVICE 10 = 0x400,
# CAP_NET_RAW 13 = 0x2000.

@test "capabilities: only CAP_NET_BIND_SERVICE and CAP_KILL in all five sets, with and without no_new_privs" {
	local two="CAP_NET_BIND_SERVICE CAP_KILL" nnp
	set_caps "$two" "$two" "$two" "$two" "$two"
	for nnp in true false; do
		update_config '.process.noNewPrivileges = $n' --argjson n "$nnp"
		probe caps
		assert_success
		assert_output "CapInh:	0000000000000420
CapPrm:	0000000000000420
CapEff:	0000000000000420
CapBnd:	0000000000000420
CapAmb:	0000000000000420"
	done
}

@test "capabilities: five different sets for root read back as the kernel applies them at exec" {
	# With no_new_privs, execve as root does not raise permitted to the
	# bounding set, so each configured set shows: effective follows permitted
	# for root (the kernel's legacy root semantics), ambient is the subset of
	# permitted and inheritable asked for.
	set_caps "CAP_NET_BIND_SERVICE CAP_KILL CAP_NET_RAW CAP_CHOWN" "CAP_KILL CAP_CHOWN" \
		"CAP_NET_BIND_SERVICE CAP_KILL CAP_CHOWN" "CAP_NET_BIND_SERVICE CAP_KILL" "CAP_KILL"
	update_config '.process.noNewPrivileges = true'
	probe caps
	assert_success
	assert_output "CapInh:	0000000000000420
CapPrm:	0000000000000421
CapEff:	0000000000000421
CapBnd:	0000000000002421
CapAmb:	0000000000000020"
}

@test "capabilities: a non-root user gets its ambient capabilities, and none without them" {
	local two="CAP_NET_BIND_SERVICE CAP_KILL"
	update_config '.process.user = {"uid": 1000, "gid": 1000} | .process.noNewPrivileges = false'
	set_caps "$two" "$two" "$two" "$two" "$two"
	set_args /bin/sh -c '/bin/berth-probe ids && /bin/berth-probe caps'
	run_container
	assert_success
	assert_output "uid=1000 gid=1000 euid=1000 egid=1000 groups=
CapInh:	0000000000000420
CapPrm:	0000000000000420
CapEff:	0000000000000420
CapBnd:	0000000000000420
CapAmb:	0000000000000420"
	# the same without ambient: a non-root exec keeps nothing
	set_caps "$two" "$two" "$two" "$two" ""
	probe caps
	assert_success
	assert_output "CapInh:	0000000000000420
CapPrm:	0000000000000000
CapEff:	0000000000000000
CapBnd:	0000000000000420
CapAmb:	0000000000000000"
}

@test "capabilities: an unknown name is rejected with the name, in every set, and nothing is left" {
	local set
	for set in bounding effective permitted inheritable ambient; do
		update_config '.process.capabilities[$s] += ["CAP_NOT_A_CAP"]' --arg s "$set"
		probe caps
		assert_failure
		assert_output ""
		[[ "$stderr" == *CAP_NOT_A_CAP* ]] || fail "$set: the error does not name CAP_NOT_A_CAP: $stderr"
		assert_nothing_left
		update_config '.process.capabilities[$s] -= ["CAP_NOT_A_CAP"]' --arg s "$set"
	done
}

# setuid_probe PATH: a root-owned setuid copy of the probe in the rootfs.
setuid_probe() {
	cp "$BERTH_PROBE" "$ROOTFS$1"
	chown 0:0 "$ROOTFS$1"
	chmod 4755 "$ROOTFS$1"
}

@test "noNewPrivileges: a setuid-root binary gives euid 0 without it and not with it" {
	setuid_probe /bin/suid-probe
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	set_args /bin/suid-probe ids

	# without no_new_privs the setuid bit works (the test can see the
	# difference)
	update_config '.process.noNewPrivileges = false'
	run_container
	assert_success
	assert_output "uid=1000 gid=1000 euid=0 egid=1000 groups="

	update_config '.process.noNewPrivileges = true'
	set_args /bin/sh -c '/bin/berth-probe nnp && /bin/suid-probe ids && /bin/suid-probe caps'
	run_container
	assert_success
	assert_output "1
uid=1000 gid=1000 euid=1000 egid=1000 groups=
CapInh:	0000000000000000
CapPrm:	0000000000000000
CapEff:	0000000000000000
CapBnd:	0000000020000420
CapAmb:	0000000000000000"
}

@test "file capabilities do not raise CapEff above the bounding set, nor at all under no_new_privs" {
	command -v setcap >/dev/null || skip "requires setcap (libcap2-bin)"
	cp "$BERTH_PROBE" "$ROOTFS/bin/fcap-probe"
	setcap cap_net_raw,cap_kill+ep "$ROOTFS/bin/fcap-probe" || fail "setcap failed"
	cp "$BERTH_PROBE" "$ROOTFS/bin/fcap-p-probe"
	setcap cap_net_raw,cap_kill+p "$ROOTFS/bin/fcap-p-probe" || fail "setcap failed"
	update_config '.process.user = {"uid": 1000, "gid": 1000} | .process.noNewPrivileges = false'

	# sensitivity: with both in the bounding set the file caps are granted
	set_caps "CAP_KILL CAP_NET_RAW" "" "" "" ""
	set_args /bin/fcap-probe caps
	run_container
	assert_success
	assert_line "CapEff:	0000000000002020"

	# CAP_NET_RAW not in the bounding set: the +ep binary must not run with
	# it (the kernel refuses the exec of an effective-bit binary it cannot
	# fully grant), and +p gets only the bounded part
	set_caps "CAP_KILL" "" "" "" ""
	set_args /bin/fcap-probe caps
	run_container
	if [ "$status" -eq 0 ]; then
		assert_line "CapBnd:	0000000000000020"
		refute_line --regexp '^CapEff:	0*2020$'
	else
		[[ "$stderr" == *fcap-probe*"Operation not permitted"* ]] || fail "exec failed otherwise: $stderr"
	fi
	set_args /bin/fcap-p-probe caps
	run_container
	assert_success
	assert_output "CapInh:	0000000000000000
CapPrm:	0000000000000020
CapEff:	0000000000000000
CapBnd:	0000000000000020
CapAmb:	0000000000000000"

	# no_new_privs: file caps give nothing
	set_caps "CAP_KILL CAP_NET_RAW" "" "" "" ""
	update_config '.process.noNewPrivileges = true'
	set_args /bin/fcap-probe caps
	run_container
	assert_success
	assert_line "CapPrm:	0000000000000000"
	assert_line "CapEff:	0000000000000000"
}

# Syscalls a static program, busybox and berth's init after the filter is
# loaded need; the seccomp allow-list tests deny everything else.
ALLOWED_SYSCALLS=(
	access arch_prctl brk capget capset chdir close close_range dup dup2 dup3 execve execveat exit
	exit_group faccessat faccessat2 fchdir fcntl fstat fstatfs futex getcwd getdents64 getegid
	geteuid getgid getgroups getpgid getpgrp getpid getppid getrandom getresgid getresuid getrlimit
	gettid getuid ioctl lseek madvise mmap mprotect munmap nanosleep newfstatat open openat openat2
	pipe pipe2 poll ppoll prctl pread64 prlimit64 read readlink readlinkat recvfrom recvmsg rseq
	rt_sigaction rt_sigprocmask rt_sigreturn sched_getaffinity sendmsg sendto set_robust_list
	set_tid_address setgid setgroups setresgid setresuid setsid setuid sigaltstack stat statfs statx
	sysinfo tgkill umask uname wait4 write writev clock_gettime clock_nanosleep
)

@test "seccomp: defaultAction SCMP_ACT_ERRNO with defaultErrnoRet: a denied syscall fails with that errno" {
	local names
	names=$(printf '%s\n' "${ALLOWED_SYSCALLS[@]}" | jq -R . | jq -s .)
	# EXFULL (54) is an errno nothing else would return for mkdir
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 54,
		"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
		"syscalls": [{"names": $n, "action": "SCMP_ACT_ALLOW"}]}' --argjson n "$names"
	probe try mkdir /tmp/denied
	assert_success
	assert_output "errno 54 EXFULL"
	[ ! -e "$ROOTFS/tmp/denied" ] || fail "mkdir was not denied"
	probe try getppid
	assert_success
	assert_output ok
	# without the filter, the same mkdir works (the probe is not at fault)
	update_config 'del(.linux.seccomp)'
	probe try mkdir /tmp/denied
	assert_success
	assert_output ok
}

@test "seccomp: a rule's errnoRet, and Seccomp: 2 in /proc/self/status" {
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33}]}'
	set_args /bin/sh -c '/bin/berth-probe try mkdir /tmp/x; grep "^Seccomp:" /proc/self/status'
	run_container
	assert_success
	assert_output "errno 33 EDOM
Seccomp:	2"
	update_config 'del(.linux.seccomp)'
	run_container
	assert_success
	assert_output "ok
Seccomp:	0"
}

@test "seccomp: SCMP_ACT_KILL_PROCESS kills the process with SIGSYS (run exits 159)" {
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}'
	probe try getppid
	assert_equal "$status" 159
	assert_output ""
	update_config '.linux.seccomp.syscalls[0].names = ["getpgid"]'
	probe try getppid
	assert_success
	assert_output ok
}

@test "seccomp: argument conditions deny socket(AF_INET) and allow AF_UNIX and AF_INET6" {
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
			"args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]}'
	set_args /bin/sh -c '/bin/berth-probe try socket inet; /bin/berth-probe try socket unix; /bin/berth-probe try socket inet6'
	run_container
	assert_success
	assert_output "errno 13 EACCES
ok
ok"
}

@test "seccomp: SCMP_ACT_NOTIFY sends the listener fd and the state to the agent, which answers mkdir" {
	[ -x "$SECCOMP_AGENT" ] || fail "$SECCOMP_AGENT is missing: build with 'make check'"
	local sock=$TEST_DIR/agent.sock state=$TEST_DIR/agent.state pid
	"$SECCOMP_AGENT" "$sock" "$state" 71 </dev/null >"$TEST_DIR/agent.out" 2>"$TEST_DIR/agent.err" 3>&- &
	local agent=$!
	defer "kill $agent 2>/dev/null || true"
	wait_for_file "$sock"
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": $s,
		"listenerMetadata": "berth-test-metadata",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}' --arg s "$sock"
	set_args /bin/sh -c '/bin/berth-probe try mkdir /tmp/x; /bin/berth-probe try mkdir /tmp/x; exec /bin/berth-probe sleep 1000'
	run_detached ctr
	[ "$status" -eq 0 ] || fail "run -d failed: $output"
	wait_for_file "$TEST_DIR/ctr.out" "errno"
	sleep 0.2
	run cat "$TEST_DIR/ctr.out"
	assert_output "errno 71 EPROTO
errno 71 EPROTO"
	[ ! -e "$ROOTFS/tmp/x" ] || fail "mkdir went through"
	pid=$(state_field ctr pid)
	wait_for_file "$state"
	run jq -c '[.ociVersion != null, .fds, .pid, .metadata, .state.id, .state.pid, .state.status]' "$state"
	assert_output "[true,[\"seccompFd\"],$pid,\"berth-test-metadata\",\"ctr\",$pid,\"creating\"]"
	grep -q "mkdir.*: errno 71" "$TEST_DIR/agent.err" || fail "agent log: $(cat "$TEST_DIR/agent.err")"
	run berth delete --force ctr
	assert_success
	# the agent exits once no process uses the filter
	local i
	for ((i = 0; i < 50; i++)); do pid_alive "$agent" || break; sleep 0.1; done
	pid_alive "$agent" && fail "the agent still runs after the container is gone"
	wait "$agent" || fail "the agent failed: $(cat "$TEST_DIR/agent.err")"
}

@test "masked paths of the default config: /proc/kcore, /proc/keys, /proc/timer_list are empty /dev/null, /sys/firmware is empty" {
	local f present=() expected=""
	# the host must have them, or there is nothing to mask (this kernel may
	# lack CONFIG_PROC_KCORE)
	for f in /proc/kcore /proc/keys /proc/timer_list; do
		if [ -e "$f" ]; then
			present+=("$f")
			expected+="char 0666 0 0 1:3"$'\n'"[]"$'\n'
		else
			echo "# the host has no $f: not checked"
		fi
	done
	[ ${#present[@]} -gt 0 ] || skip "requires /proc/kcore, /proc/keys or /proc/timer_list on the host"
	[ -n "$(ls -A /sys/firmware)" ] || skip "requires a non-empty /sys/firmware on the host"
	set_args /bin/sh -c 'for f in "$@"; do /bin/berth-probe stat $f; echo "[$(cat $f)]"; done
		echo "[$(ls -A /sys/firmware)]"; /bin/berth-probe try mkdir /sys/firmware/x' sh "${present[@]}"
	run_container
	assert_success
	assert_output "${expected}[]
errno 30 EROFS"
	# sensitivity: without maskedPaths the same files have content
	update_config '.linux.maskedPaths = []'
	run_container
	assert_success
	refute_line --index 1 "[]"
	refute_line "[]"
}

@test "read-only paths of the default config: /proc/sys and /proc/sysrq-trigger refuse writes" {
	local host_hostname sysrq=/proc/sysrq-trigger
	host_hostname=$(cat /proc/sys/kernel/hostname)
	if [ ! -e "$sysrq" ]; then
		echo "# the host has no $sysrq (CONFIG_MAGIC_SYSRQ): only /proc/sys checked"
		sysrq=
	fi
	# kernel.hostname is per UTS namespace (harmless should it go through);
	# sysrq 'h' only prints help to the kernel log
	set_args /bin/sh -c '/bin/berth-probe try write-existing /proc/sys/kernel/hostname escaped
		/bin/berth-probe try write-existing /proc/sys/vm/drop_caches 1
		[ -z "$0" ] || /bin/berth-probe try write-existing "$0" h
		cat /proc/sys/kernel/hostname' "$sysrq"
	run_container
	assert_success
	assert_line --index 0 "errno 30 EROFS"
	assert_line --index 1 --regexp '^errno (30 EROFS|13 EACCES)$'
	if [ -n "$sysrq" ]; then
		assert_line --index 2 --regexp '^errno (30 EROFS|13 EACCES)$'
		assert_line --index 3 berth
	else
		assert_line --index 2 berth
	fi
	assert_equal "$(cat /proc/sys/kernel/hostname)" "$host_hostname"
	# sensitivity: without readonlyPaths the same write reaches the (own) UTS namespace
	update_config '.linux.readonlyPaths = []'
	set_args /bin/sh -c '/bin/berth-probe try write-existing /proc/sys/kernel/hostname escaped
		cat /proc/sys/kernel/hostname'
	run_container
	assert_success
	assert_output "ok
escaped"
	assert_equal "$(cat /proc/sys/kernel/hostname)" "$host_hostname"
}
