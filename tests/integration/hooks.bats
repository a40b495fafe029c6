#!/usr/bin/env bats
# OCI hooks: all six kinds in order with the state on stdin, their args and
# env, a failing prestart, a failing poststart, and a timeout.

load helpers

setup_file() { berth_setup_file; }
teardown_file() { berth_teardown_file; }
teardown() { berth_teardown; }

# The hook directory is bind-mounted into the container at the same path, so
# that one path names the script and the log both in the runtime's mount
# namespace and in the container's (startContainer runs in the latter).
setup() {
	berth_setup
	HOOKS=$TEST_DIR/hooks
	mkdir "$HOOKS"
	# the script runs under the host's /bin/sh and the container's busybox sh
	cat >"$HOOKS/hook.sh" <<-'EOF'
		#!/bin/sh
		# hook.sh NAME LOG: append "NAME STATUS ID" from the state on stdin
		state=$(cat)
		status=$(echo "$state" | sed -n 's/.*"status" *: *"\([a-z]*\)".*/\1/p')
		id=$(echo "$state" | sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p')
		echo "$1 $status $id" >>"$2"
	EOF
	chmod 0755 "$HOOKS/hook.sh"
	update_config '.mounts += [{"destination": $h, "type": "bind", "source": $h, "options": ["bind"]}]' \
		--arg h "$HOOKS"
}

# add_hook KIND [PATH [ARGS_JSON [EXTRA_JSON]]]: append a hook to .hooks.KIND;
# by default hook.sh logging KIND to $HOOKS/log.
add_hook() {
	local kind=$1 path=${2:-$HOOKS/hook.sh} args=${3:-} extra=${4:-'{}'}
	[ -n "$args" ] || args=$(jq -n --arg p "$path" --arg k "$kind" --arg l "$HOOKS/log" '[$p, $k, $l]')
	update_config '.hooks[$k] += [{"path": $p, "args": $a} + $x]' \
		--arg k "$kind" --arg p "$path" --argjson a "$args" --argjson x "$extra"
}

# The create hooks run after the environment is made (the spec's lifecycle
# steps 3 to 5, after step 2), so they see "created", as with crun; runc
# passes "creating".
@test "all six hooks run in order, each with the state on stdin" {
	local kind
	for kind in prestart createRuntime createContainer startContainer poststart poststop; do
		add_hook "$kind"
	done
	create_container ctr
	[ "$status" -eq 0 ]
	assert_equal "$(cat "$HOOKS/log")" "prestart created ctr
createRuntime created ctr
createContainer created ctr"
	run berth start ctr
	assert_success
	wait_for_status ctr stopped
	run berth delete ctr
	assert_success
	assert_equal "$(cat "$HOOKS/log")" "prestart created ctr
createRuntime created ctr
createContainer created ctr
startContainer created ctr
poststart running ctr
poststop stopped ctr"
}

@test "a hook gets exactly its args and env" {
	cat >"$HOOKS/env.sh" <<-'EOF'
		#!/bin/sh
		cat >/dev/null
		{ echo "argv0=$0"; echo "args=$*"; echo "HOOK_VAR=$HOOK_VAR"; echo "HOST=${BERTH_HOST_ONLY:-unset}"; } >"$1"
	EOF
	chmod 0755 "$HOOKS/env.sh"
	add_hook prestart "$HOOKS/env.sh" "$(jq -n --arg p "$HOOKS/env.sh" --arg o "$HOOKS/out" '[$p, $o, "x y", "z"]')" \
		'{"env": ["HOOK_VAR=hook value"]}'
	export BERTH_HOST_ONLY=leak
	run_container
	assert_success
	assert_equal "$(cat "$HOOKS/out")" "argv0=$HOOKS/env.sh
args=$HOOKS/out x y z
HOOK_VAR=hook value
HOST=unset"
}

@test "a failing prestart hook fails create, names the hook and its exit status, and leaves nothing" {
	printf '#!/bin/sh\ncat >/dev/null\necho hook says no >&2\nexit 7\n' >"$HOOKS/fail.sh"
	chmod 0755 "$HOOKS/fail.sh"
	add_hook prestart "$HOOKS/fail.sh" "[\"$HOOKS/fail.sh\"]"
	set_args /bin/berth-probe write /tmp/ran yes
	create_container ctr
	[ "$status" -eq 1 ]
	[[ "$output" == *"$HOOKS/fail.sh"* ]] || fail "the error does not name the hook: $output"
	[[ "$output" == *"exit status 7"* ]] || fail "the error does not give the exit status: $output"
	[ ! -e "$ROOTFS/tmp/ran" ] || fail "the container process ran"
	assert_nothing_left
}

@test "a failing poststart hook only warns" {
	printf '#!/bin/sh\ncat >/dev/null\nexit 3\n' >"$HOOKS/fail.sh"
	chmod 0755 "$HOOKS/fail.sh"
	add_hook poststart "$HOOKS/fail.sh" "[\"$HOOKS/fail.sh\"]"
	add_hook poststart
	set_args /bin/berth-probe write /tmp/ran yes
	create_container ctr
	[ "$status" -eq 0 ]
	run berth start ctr
	assert_success
	[[ "$output" == *"$HOOKS/fail.sh"* ]] || fail "no warning naming the hook: $output"
	wait_for_status ctr stopped
	assert_equal "$(cat "$ROOTFS/tmp/ran")" yes
	# the hooks after the failed one still ran
	assert_equal "$(cat "$HOOKS/log")" "poststart running ctr"
}

@test "a hook that outlives its timeout is killed and fails create" {
	printf '#!/bin/sh\ncat >/dev/null\nexec sleep 30\n' >"$HOOKS/slow.sh"
	chmod 0755 "$HOOKS/slow.sh"
	add_hook prestart "$HOOKS/slow.sh" "[\"$HOOKS/slow.sh\"]" '{"timeout": 1}'
	local start=$SECONDS
	create_container ctr
	[ "$status" -eq 1 ]
	[ $((SECONDS - start)) -lt 10 ] || fail "create took $((SECONDS - start)) s with a 1 s hook timeout"
	[[ "$output" == *"$HOOKS/slow.sh"* ]] || fail "the error does not name the hook: $output"
	[[ "$output" =~ timed\ out|timeout ]] || fail "the error does not say it timed out: $output"
	assert_nothing_left
	# the hook itself was killed
	local p
	for p in $(pgrep -x sleep); do
		[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" != "sleep 30 " ] ||
			! grep -qF "$HOOKS" "/proc/$p/environ" 2>/dev/null || fail "the hook's sleep $p is still running"
	done
}
