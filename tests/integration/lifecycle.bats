#!/usr/bin/env bats
# The container lifecycle: create, start, state, kill, delete, run, list.

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
setup() { berth_setup; }
teardown() { berth_teardown; }

RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$'

@test "create, start, kill and delete go through created, running and stopped" {
	set_args /bin/berth-probe sleep 1000
	create_container ctr
	[ "$status" -eq 0 ]

	run --separate-stderr berth state ctr
	assert_success
	local json=$output pid
	assert_equal "$(jq -r .id <<<"$json")" ctr
	assert_equal "$(jq -r .status <<<"$json")" created
	assert_equal "$(jq -r .bundle <<<"$json")" "$BUNDLE"
	assert_equal "$(jq -r .rootfs <<<"$json")" "$ROOTFS"
	assert_equal "$(jq -r 'has("owner")' <<<"$json")" true
	assert_equal "$(jq -r .ociVersion <<<"$json")" "$(jq -r .ociVersion "$BUNDLE/config.json")"
	assert_regex "$(jq -r .created <<<"$json")" "$RFC3339"
	pid=$(jq -r .pid <<<"$json")
	assert_regex "$pid" '^[1-9][0-9]*$'
	pid_alive "$pid" || fail "init $pid of the created container is not alive"
	# the user process has not been started yet
	[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" != "/bin/berth-probe sleep 1000 " ] ||
		fail "the user process runs before start"

	run berth start ctr
	assert_success
	assert_output ""
	assert_equal "$(state_field ctr status)" running
	assert_equal "$(state_field ctr pid)" "$pid"
	assert_equal "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "/bin/berth-probe sleep 1000 "

	# starting it a second time is an error
	run berth start ctr
	assert_failure 1

	run berth kill ctr KILL
	assert_success
	wait_for_status ctr stopped
	assert_equal "$(state_field ctr pid)" 0

	run berth delete ctr
	assert_success
	wait_pid_gone "$pid"
	run berth state ctr
	assert_failure 1
	assert_output --partial "ctr"
	assert_output --partial "does not exist"
	assert_equal "$(state_dirs)" ""
}

@test "state of an unknown container fails and names it" {
	run --separate-stderr berth state no-such-ctr
	assert_failure 1
	assert_output ""
	[[ "$stderr" == *no-such-ctr*"does not exist"* ]] || fail "stderr: $stderr"
}

@test "run in the foreground exits with the container's exit status" {
	probe exit 3
	assert_failure 3
	probe exit 0
	assert_success
	# killed by a signal: 128 + the signal number, as a shell reports it
	set_args /bin/berth-probe sleep 1000
	berth run --bundle "$BUNDLE" ctr </dev/null >/dev/null 2>&1 &
	local bg=$! rc
	wait_for_status ctr running
	run berth kill ctr KILL
	assert_success
	wait "$bg" && rc=0 || rc=$?
	assert_equal "$rc" 137
	# run removes the container once it has exited
	run berth list -q
	assert_success
	assert_output ""
	assert_equal "$(state_dirs)" ""
}

@test "run --detach returns while the container runs" {
	set_args /bin/berth-probe signal-wait
	run_detached ctr
	[ "$status" -eq 0 ]
	assert_equal "$(state_field ctr status)" running
	wait_for_file "$TEST_DIR/ctr.out" ready
	local pid
	pid=$(state_field ctr pid)
	pid_alive "$pid" || fail "pid $pid is not alive"
	run berth kill ctr TERM
	assert_success
	wait_for_status ctr stopped
	assert_equal "$(cat "$TEST_DIR/ctr.out")" "ready
signal SIGTERM"
	run berth delete ctr
	assert_success
	wait_pid_gone "$pid"
}

@test "delete of a running container fails without --force and kills it with --force" {
	set_args /bin/berth-probe sleep 1000
	run_detached ctr
	[ "$status" -eq 0 ]
	local pid
	pid=$(state_field ctr pid)

	run berth delete ctr
	assert_failure 1
	assert_output --partial ctr
	assert_equal "$(state_field ctr status)" running
	pid_alive "$pid" || fail "delete without --force killed the container"

	run berth delete --force ctr
	assert_success
	wait_pid_gone "$pid"
	run berth state ctr
	assert_failure 1
	assert_equal "$(state_dirs)" ""
}

@test "delete of a created container fails and leaves it as it was; delete --force kills its waiting init" {
	set_args /bin/berth-probe write /tmp/ran yes
	create_container ctr
	[ "$status" -eq 0 ]
	local pid
	pid=$(state_field ctr pid)
	pid_alive "$pid" || fail "init $pid is not alive"

	# the spec: deleting a container that is not stopped is an error with no effect
	run berth delete ctr
	assert_failure 1
	assert_output "cannot delete container \`ctr\` that is not stopped: created"
	pid_alive "$pid" || fail "init $pid died"
	assert_equal "$(state_field ctr status)" created

	run berth delete --force ctr
	assert_success
	wait_pid_gone "$pid"
	[ ! -e "$ROOTFS/tmp/ran" ] || fail "the user process ran although the container was never started"
	assert_equal "$(state_dirs)" ""
	run berth list -q
	assert_output ""
}

@test "list shows every container as a table, ids only, or JSON" {
	set_args /bin/berth-probe sleep 1000
	create_container a
	[ "$status" -eq 0 ]
	run_detached b
	[ "$status" -eq 0 ]
	local pida pidb
	pida=$(state_field a pid)
	pidb=$(state_field b pid)

	run --separate-stderr berth list -q
	assert_success
	assert_equal "$(sort <<<"$output")" "a
b"

	run --separate-stderr berth list
	assert_success
	assert_equal "${#lines[@]}" 3
	assert_regex "${lines[0]}" '^ID +PID +STATUS +BUNDLE +CREATED +OWNER$'
	assert_line --regexp "^a +$pida +created +$BUNDLE +[0-9T:.Z+-]+ +root$"
	assert_line --regexp "^b +$pidb +running +$BUNDLE +[0-9T:.Z+-]+ +root$"

	run --separate-stderr berth list --format json
	assert_success
	assert_equal "$(jq -r 'map(.id) | sort | join(" ")' <<<"$output")" "a b"
	assert_equal "$(jq -r '.[] | select(.id == "a") | "\(.pid) \(.status) \(.bundle) \(.owner)"' <<<"$output")" \
		"$pida created $BUNDLE root"
	assert_equal "$(jq -r '.[] | select(.id == "b") | "\(.pid) \(.status) \(.bundle) \(.owner)"' <<<"$output")" \
		"$pidb running $BUNDLE root"
	assert_regex "$(jq -r '.[] | select(.id == "a") | .created' <<<"$output")" "$RFC3339"

	run berth delete --force a
	assert_success
	run berth delete --force b
	assert_success
	run --separate-stderr berth list -q
	assert_success
	assert_output ""
	run --separate-stderr berth list
	assert_success
	assert_regex "$output" '^ID +PID +STATUS +BUNDLE +CREATED +OWNER$'
}

@test "--pid-file holds the init pid of create and of run --detach" {
	set_args /bin/berth-probe sleep 1000
	create_container a --pid-file "$TEST_DIR/a.pid"
	[ "$status" -eq 0 ]
	assert_equal "$(cat "$TEST_DIR/a.pid")" "$(state_field a pid)"
	assert_regex "$(cat "$TEST_DIR/a.pid")" '^[1-9][0-9]*$'

	run_detached b --pid-file "$TEST_DIR/b.pid"
	[ "$status" -eq 0 ]
	assert_equal "$(cat "$TEST_DIR/b.pid")" "$(state_field b pid)"
}

@test "two concurrent creates with one id: exactly one wins, the other fails cleanly" {
	set_args /bin/berth-probe sleep 1000
	local round p1 p2 s1 s2 pids loser
	for round in 1 2 3; do
		berth create --bundle "$BUNDLE" "same$round" </dev/null >/dev/null 2>"$TEST_DIR/c1.err" &
		p1=$!
		berth create --bundle "$BUNDLE" "same$round" </dev/null >/dev/null 2>"$TEST_DIR/c2.err" &
		p2=$!
		wait "$p1" && s1=0 || s1=$?
		wait "$p2" && s2=0 || s2=$?
		echo "# round $round: exit statuses $s1 and $s2"
		if [ "$s1" -eq 0 ] && [ "$s2" -eq 1 ]; then
			loser=$TEST_DIR/c2.err
		elif [ "$s1" -eq 1 ] && [ "$s2" -eq 0 ]; then
			loser=$TEST_DIR/c1.err
		else
			fail "round $round: exit statuses $s1 and $s2 ($(cat "$TEST_DIR/c1.err" "$TEST_DIR/c2.err"))"
		fi
		run cat "$loser"
		assert_output --partial "same$round"
		assert_output --partial "exists"
		assert_equal "$(state_field "same$round" status)" created
		pid_alive "$(state_field "same$round" pid)" || fail "the winner's init is not alive"
	done
	# one waiting init per container, nothing of the losers
	sleep 0.5
	pids=$(tagged_pids | wc -l)
	assert_equal "$pids" 3
	run berth list -q
	assert_equal "$(sort <<<"$output")" "same1
same2
same3"
}

@test "kill takes signal names with and without SIG, numbers, and defaults to SIGTERM" {
	set_args /bin/berth-probe signal-wait
	local spec sig want i=0
	for spec in USR1:SIGUSR1 SIGUSR2:SIGUSR2 10:SIGUSR1 HUP:SIGHUP 15:SIGTERM -:SIGTERM; do
		i=$((i + 1))
		sig=${spec%%:*}
		want=${spec#*:}
		run_detached "k$i"
		[ "$status" -eq 0 ]
		wait_for_file "$TEST_DIR/k$i.out" ready
		if [ "$sig" = - ]; then
			run berth kill "k$i"
		else
			run berth kill "k$i" "$sig"
		fi
		assert_success
		wait_for_status "k$i" stopped
		assert_equal "$(cat "$TEST_DIR/k$i.out")" "ready
signal $want"
		run berth delete "k$i"
		assert_success
	done
}

@test "kill of a stopped container and kill with an unknown signal fail" {
	set_args /bin/berth-probe sleep 1000
	run_detached ctr
	[ "$status" -eq 0 ]
	run berth kill ctr NOPE
	assert_failure 1
	assert_output --partial NOPE
	assert_equal "$(state_field ctr status)" running

	run berth kill ctr KILL
	assert_success
	wait_for_status ctr stopped
	run berth kill ctr KILL
	assert_failure 1
	assert_output --partial "not running"
}

@test "kill --all signals every process of the container" {
	# without a pid namespace, killing init would not take the others with it
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	set_args /bin/sh -c '/bin/berth-probe sleep 1000 & echo $! >/tmp/child1
		/bin/berth-probe sleep 1000 & echo $! >/tmp/child2
		wait'
	run_detached ctr
	[ "$status" -eq 0 ]
	wait_for_file "$ROOTFS/tmp/child2"
	local init c1 c2
	init=$(state_field ctr pid)
	c1=$(cat "$ROOTFS/tmp/child1")
	c2=$(cat "$ROOTFS/tmp/child2")
	pid_alive "$c1" || fail "child $c1 is not running"
	pid_alive "$c2" || fail "child $c2 is not running"

	run berth kill --all ctr KILL
	assert_success
	wait_pid_gone "$init"
	wait_pid_gone "$c1"
	wait_pid_gone "$c2"
	wait_for_status ctr stopped
}
