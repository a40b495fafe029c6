#!/usr/bin/env bats
# Faults: `berth create` killed with SIGKILL at every stage of its setup, and a
# full state root. After each kill, `delete --force` of the id must leave no
# state directory, mount, cgroup (under the test's own cgroupsPath, in every
# hierarchy) or process, and the next create of the same id must work; a full
# disk must give a clear error and never a state.json that does not parse.
#
# Kill points: every syscall the runtime makes during one create (strace
# --inject=SYSCALL:signal=SIGKILL:when=N: the Nth call of SYSCALL, so each
# point of an strace of a whole create is hit exactly), on the fast path
# (clone with every namespace) and the slow one (stage-1 joins a namespace by
# path), every 2nd and 3rd point; and wall-clock delays from 0 to a little
# over one create, in steps of 1/40 of it. BERTH_FAULTS_LONG=1 (as `make
# check-long` sets): every point, and steps of 1/200.

load helpers

setup_file() {
	berth_setup_file || return
	[ "$(id -u)" = 0 ] || return 0
	FAULTS_HELPERS=$(mktemp -d /tmp/berth-faults.XXXXXX)
	# killafter USEC CMD...: SIGKILL CMD after USEC microseconds (timeout(1)
	# does not go below a millisecond); exits as CMD did, 137 when killed.
	gcc -O2 -Wall -o "$FAULTS_HELPERS/killafter" -x c - <<-'EOF' || return 1
		#include <signal.h>
		#include <stdio.h>
		#include <stdlib.h>
		#include <sys/wait.h>
		#include <time.h>
		#include <unistd.h>
		int main(int argc, char **argv)
		{
			long usec = argc > 2 ? strtol(argv[1], NULL, 10) : -1;
			struct timespec ts = {usec / 1000000, (usec % 1000000) * 1000};
			int st;
			pid_t pid;
			if (usec < 0)
				return fprintf(stderr, "usage: killafter USEC CMD...\n"), 2;
			pid = fork();
			if (pid == 0) {
				execvp(argv[2], argv + 2);
				_exit(127);
			}
			while (nanosleep(&ts, &ts) < 0)
				;
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0)
				;
			return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
		}
	EOF
	export FAULTS_HELPERS
}

teardown_file() {
	[ -z "${FAULTS_HELPERS:-}" ] || rm -rf "$FAULTS_HELPERS"
	berth_teardown_file
}

setup() {
	berth_setup
	CG_PARENT=berth-faults-${TEST_DIR##*.}
	update_config '.linux.cgroupsPath = $cg | .process.args = ["/bin/sleep", "1000"]' --arg cg "/$CG_PARENT/ctr"
	defer remove_cgroup_parent
}

teardown() {
	berth_teardown
}

# other_inits ID: the init pids of the containers other than ID.
other_inits() {
	local id
	for id in $(berth list -q 2>/dev/null); do
		[ "$id" = "$1" ] || state_field "$id" pid 2>/dev/null || true
	done
	echo 0
}

# leftovers ID: what is left of container ID, one item a line: its state
# directory, its cgroup in any hierarchy, processes of this test, mounts of
# the rootfs (or anything under $TEST_DIR).
leftovers() {
	local m pids others
	[ ! -e "$BERTH_ROOT/$1" ] || echo "state directory $BERTH_ROOT/$1: $(ls "$BERTH_ROOT/$1" | tr '\n' ' ')"
	for m in $(cgroup_mounts); do
		[ ! -d "$m/$CG_PARENT/$1" ] || echo "cgroup $m/$CG_PARENT/$1"
	done
	# the inits of the test's other containers are not leftovers
	pids=$(tagged_pids)
	if [ -n "$pids" ]; then
		others=$(other_inits "$1")
		pids=$(grep -vxF "$others" <<<"$pids" || true)
	fi
	[ -z "$pids" ] || echo "processes: $(ps -o pid=,stat=,args= -p "${pids//$'\n'/,}" | tr '\n' ';')"
	grep -F -- "$ROOTFS" /proc/self/mountinfo | sed 's/^/mount: /'
	test_mounts | grep -vxF "$TEST_DIR/small" | sed 's/^/mount: /'
	return 0
}

# after_kill ID WHAT: the checks after create of ID was killed (WHAT says
# where): a state.json left behind parses; delete --force succeeds and leaves
# nothing; the next create of the id works. Counts what the kill left in
# KILL_LEFT (none / dir / creating / created).
after_kill() {
	local id=$1 what=$2 left out
	if [ ! -d "$BERTH_ROOT/$id" ]; then
		left=none
	elif [ ! -e "$BERTH_ROOT/$id/state.json" ]; then
		left=dir
	else
		jq -e . "$BERTH_ROOT/$id/state.json" >/dev/null ||
			fail "$what: state.json does not parse: $(cat "$BERTH_ROOT/$id/state.json")"
		if [ "$(jq -r .pid "$BERTH_ROOT/$id/state.json")" = 0 ]; then left=creating; else left=created; fi
	fi
	KILL_LEFT[$left]=$((${KILL_LEFT[$left]:-0} + 1))
	out=$(berth delete --force "$id" 2>&1 </dev/null) || fail "$what (left: $left): delete --force failed: $out"
	out=$(leftovers "$id")
	[ -z "$out" ] || fail "$what (left: $left): after delete --force: $out"
	# the id can be used again
	if ((++KILL_N % ${RECREATE_EVERY:-1} == 0)); then
		create_container "$id" >/dev/null
		[ "$status" = 0 ] || fail "$what: create after delete --force: $output"
		[ "$(state_field "$id" status)" = created ] || fail "$what: the new container is not created"
		out=$(berth delete --force "$id" 2>&1 </dev/null) || fail "$what: delete --force of the new container: $out"
		out=$(leftovers "$id")
		[ -z "$out" ] || fail "$what: after the second delete --force: $out"
	fi
}

# kill_at_every_syscall STRIDE: an strace of one create lists the runtime's
# syscalls; then for every STRIDEth, a create killed at that syscall and
# after_kill.
kill_at_every_syscall() {
	local -a calls
	local -A nth
	local stride=$1 s k i rc killed=0 points=0 out
	command -v strace >/dev/null || fail "strace is missing (apt-get install strace)"
	# twice: the first create also makes the cgroup's parents
	for i in 1 2; do
		BERTH_TEST_TAG=$BERTH_TEST_TAG strace -qq -e signal=none -o "$TEST_DIR/trace" \
			"$BERTH_BIN" --root "$BERTH_ROOT" create --bundle "$BUNDLE" ctr </dev/null >/dev/null 2>"$TEST_DIR/create.err" ||
			fail "create under strace failed: $(cat "$TEST_DIR/create.err")"
		out=$(berth delete --force ctr 2>&1) || fail "delete --force: $out"
	done
	mapfile -t calls < <(awk '{ s = $1; sub(/\(.*/, "", s); if (s ~ /^[a-z_0-9]+$/ && s != "exit_group") print s }' "$TEST_DIR/trace")
	[ "${#calls[@]}" -ge 100 ] || fail "only ${#calls[@]} syscalls in the trace of create: $(head -c 2000 "$TEST_DIR/trace")"
	for ((i = 0; i < ${#calls[@]}; i++)); do
		s=${calls[i]}
		k=$((${nth[$s]:-0} + 1))
		nth[$s]=$k
		((i % stride == 0)) || continue
		points=$((points + 1))
		# (stderr of the subshell: bash reports each killed command there)
		rc=$(
			exec 2>/dev/null
			BERTH_TEST_TAG=$BERTH_TEST_TAG strace -qq -e signal=none -o /dev/null -e "inject=$s:signal=SIGKILL:when=$k" \
				"$BERTH_BIN" --root "$BERTH_ROOT" create --bundle "$BUNDLE" ctr </dev/null >/dev/null
			echo $?
		)
		[ "$rc" = 137 ] && killed=$((killed + 1))
		after_kill ctr "killed at syscall $i ($s #$k, exit $rc)"
	done
	echo "# ${#calls[@]} syscalls, create killed at $killed of $points (every ${stride}th); left: none ${KILL_LEFT[none]:-0}," \
		"directory ${KILL_LEFT[dir]:-0}, creating ${KILL_LEFT[creating]:-0}, created ${KILL_LEFT[created]:-0}"
	# every point was reached (the syscalls of create do not depend on timing)
	((killed * 10 >= points * 9)) || fail "only $killed of $points kill points were reached"
	# the kills covered each stage: before the state directory, before
	# state.json, with the cgroup recorded, and created
	for s in none dir creating created; do
		[ "${KILL_LEFT[$s]:-0}" -gt 0 ] || fail "no kill left the container at stage '$s'"
	done
}

@test "create killed at each of its syscalls: delete --force leaves nothing, the id is reusable" {
	declare -A KILL_LEFT=()
	KILL_N=0 RECREATE_EVERY=3
	kill_at_every_syscall "$( ((${BERTH_FAULTS_LONG:-0})) && echo 1 || echo 2)"
}

@test "create on the slow path (stage-1 joins a namespace by path) killed at each of its syscalls" {
	declare -A KILL_LEFT=()
	KILL_N=0 RECREATE_EVERY=3
	update_config '(.linux.namespaces[] | select(.type == "network")) |= {type: "network", path: $ns}' --arg ns "/proc/$$/ns/net"
	kill_at_every_syscall "$( ((${BERTH_FAULTS_LONG:-0})) && echo 1 || echo 3)"
}

# kill_after_delays: creates killed after 0 to 1.2 times the time of one
# create, in steps of 1/STEPS of it.
kill_after_delays() {
	local steps=$1 t0 t1 total=0 i d step rc killed=0
	for i in 1 2 3; do
		t0=$EPOCHREALTIME
		create_container ctr >/dev/null
		t1=$EPOCHREALTIME
		[ "$status" = 0 ] || fail "create: $output"
		berth delete --force ctr >/dev/null
		total=$((total + (${t1/./} - ${t0/./})))
	done
	total=$((total / 3))
	step=$((total / steps > 20 ? total / steps : 20))
	for ((d = 0; d <= total * 6 / 5; d += step)); do
		rc=0
		BERTH_TEST_TAG=$BERTH_TEST_TAG "$FAULTS_HELPERS/killafter" "$d" \
			"$BERTH_BIN" --root "$BERTH_ROOT" create --bundle "$BUNDLE" ctr </dev/null >/dev/null 2>&1 || rc=$?
		[ "$rc" = 137 ] && killed=$((killed + 1))
		after_kill ctr "killed after $d us (exit $rc)"
	done
	echo "# one create: $total us; killed $killed times in steps of $step us; left: none ${KILL_LEFT[none]:-0}," \
		"directory ${KILL_LEFT[dir]:-0}, creating ${KILL_LEFT[creating]:-0}, created ${KILL_LEFT[created]:-0}"
	[ "$killed" -gt 0 ] || fail "no create was killed"
}

@test "create killed after increasing delays (fast and slow path): delete --force leaves nothing" {
	local steps=40
	[ "${BERTH_FAULTS_LONG:-0}" = 0 ] || steps=200
	declare -A KILL_LEFT=()
	KILL_N=0 RECREATE_EVERY=3
	kill_after_delays "$steps"
	KILL_LEFT=()
	update_config '(.linux.namespaces[] | select(.type == "network")) |= {type: "network", path: $ns}' --arg ns "/proc/$$/ns/net"
	kill_after_delays "$steps"
}

@test "a state directory without state.json (creating) is deleted by delete --force only" {
	mkdir -p "$BERTH_ROOT/ghost"
	run berth list
	assert_success
	assert_output --regexp 'ghost +0 +creating'
	run berth delete ghost
	assert_failure
	assert_output --partial 'being created'
	[ -d "$BERTH_ROOT/ghost" ]
	run berth delete --force ghost
	assert_success
	[ ! -e "$BERTH_ROOT/ghost" ]
	# with the config copy of a create killed before its cgroup
	mkdir -p "$BERTH_ROOT/ghost"
	cp "$BUNDLE/config.json" "$BERTH_ROOT/ghost/config.json"
	run berth delete --force ghost
	assert_success
	[ ! -e "$BERTH_ROOT/ghost" ]
	run leftovers ghost
	assert_output ''
}

# fill_to DIR PAGES: fill the file system of DIR until PAGES pages are free.
fill_to() {
	rm -f "$1/fill"
	dd if=/dev/zero of="$1/fill" bs=4096 2>/dev/null || true # until ENOSPC
	[ "$2" = 0 ] || truncate -s "-$(($2 * 4096))" "$1/fill"
}

# every_state_parses: each state.json under the state root is JSON.
every_state_parses() {
	local f
	for f in "$BERTH_ROOT"/*/state.json; do
		[ -e "$f" ] || continue
		jq -e . "$f" >/dev/null || fail "$f does not parse: $(cat "$f")"
	done
}

@test "full state root (64k tmpfs): clear errors, no corrupt state.json, creates work again once there is space" {
	local small=$TEST_DIR/small pages failed=0 worked=0
	mkdir "$small"
	mount -t tmpfs -o size=64k tmpfs "$small"
	defer "umount '$small'"
	BERTH_ROOT=$small/state
	mkdir "$BERTH_ROOT"
	# a container made while there was space, then the disk full
	update_config '.linux.cgroupsPath = $cg' --arg cg "/$CG_PARENT/keep"
	create_container keep
	assert_equal "$status" 0
	update_config '.linux.cgroupsPath = $cg' --arg cg "/$CG_PARENT/ctr"
	fill_to "$small" 0
	create_container ctr
	[ "$status" != 0 ] || fail "create on a full disk succeeded"
	assert_output --partial 'No space left on device'
	assert_output --partial 'create container `ctr`'
	run leftovers ctr
	assert_output ''
	every_state_parses
	# the container made before is intact and can still be started and deleted
	assert_equal "$(state_field keep status)" created
	run berth start keep
	assert_success
	assert_equal "$(state_field keep status)" running
	# a little space: each stage of create can be the one that fails
	for pages in 0 1 2 3 4 5 6 8; do
		fill_to "$small" "$pages"
		create_container ctr
		every_state_parses
		if [ "$status" = 0 ]; then
			worked=$((worked + 1))
			assert_equal "$(state_field ctr status)" created
			run berth delete --force ctr
			assert_success
		else
			failed=$((failed + 1))
			assert_output --partial 'No space left on device'
		fi
		run leftovers ctr
		assert_output ''
	done
	echo "# with 0-8 free pages: $failed creates failed, $worked worked"
	[ "$failed" -gt 0 ]
	# space again: the next create works, and so does everything after it
	rm -f "$small/fill"
	create_container ctr
	assert_equal "$status" 0
	run berth start ctr
	assert_success
	run berth delete --force ctr
	assert_success
	run berth delete --force keep
	assert_success
	run leftovers ctr
	assert_output ''
	run leftovers keep
	assert_output ''
}
