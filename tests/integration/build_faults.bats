#!/usr/bin/env bats
# berth-build under faults: builds running at once on one cache and one
# output layout, and builds interrupted (SIGINT, SIGKILL) at increasing
# delays. Afterwards, what a user would check:
#
#  - every blob of the output layout and of the cache's layout has the
#    content its name says, index.json parses and names only blobs that are
#    there, no temporary file is left; skopeo reads every image;
#  - no RUN container is left: no process of the build, no cgroup under
#    berth-build/ in any hierarchy, no mount under the test's directory, no
#    build directory in the cache;
#  - the next build succeeds, reusing (cache hits in its output) the steps
#    that had completed, and its image runs.
#
# The base image is a busybox root filesystem in one layer, made with umoci.

load helpers

BUILD_BIN=${BUILD_BIN:-$BERTH_BUILDDIR/berth-build}

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	command -v umoci >/dev/null && command -v skopeo >/dev/null && command -v jq >/dev/null || return 0
	FAULTS_IMAGE_DIR=$(mktemp -d /tmp/berth-build-faults-image.XXXXXX)
	make_busybox_base_layout "$FAULTS_IMAGE_DIR"
	export FAULTS_IMAGE_DIR
}

teardown_file() {
	[ -n "${FAULTS_IMAGE_DIR:-}" ] && rm -rf "$FAULTS_IMAGE_DIR"
	return 0
}

setup() {
	requires root
	local tool
	for tool in umoci skopeo jq sha256sum flock; do
		command -v "$tool" >/dev/null || skip "requires $tool"
	done
	[ -x "$BUILD_BIN" ] || fail "$BUILD_BIN is missing: make berth-build"
	TEST_DIR=$(mktemp -d /tmp/berth-build-faults.XXXXXX)
	chmod 0755 "$TEST_DIR"
	CTX=$TEST_DIR/ctx
	OUT=$TEST_DIR/out
	CACHE=$TEST_DIR/cache
	BERTH_ROOT=$TEST_DIR/state
	mkdir -p "$CTX"
	BASE=$FAULTS_IMAGE_DIR/base
	# a word in every RUN's command line: its processes can be found
	TOKEN=bfault${TEST_DIR##*.}
}

teardown() {
	[ -n "${TEST_DIR:-}" ] && [ -d "$TEST_DIR" ] || return 0
	local errors
	# a build that a failed test left running: ours, by pid
	if [ -n "${BUILD_PID:-}" ] && kill -KILL "$BUILD_PID" 2>/dev/null; then
		wait "$BUILD_PID" 2>/dev/null
		wait_cleanup "$CACHE"
	fi
	errors=$(leftovers)
	for id in $(berth list -q 2>/dev/null); do
		berth delete --force "$id" >/dev/null 2>&1
	done
	rm -rf "$TEST_DIR"
	[ -z "$errors" ] || fail "teardown: $errors"
}

berth() {
	timeout "$BERTH_CMD_TIMEOUT" "$BERTH_BIN" --root "$BERTH_ROOT" "$@"
}

# build [ARGS...]: berth-build with the base image as `busybox`.
build() {
	timeout 300 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" "$@"
}

# start_build LOG ARGS...: berth-build in the background, its own pid in
# BUILD_PID (env execs it: the signals of the test reach it), with SIGINT
# not ignored (as a shell without job control would leave it), as a ^C
# from a terminal finds it.
start_build() {
	local log=$1
	shift
	env --default-signal=INT "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" "$@" >"$log" 2>&1 &
	BUILD_PID=$!
}

# wait_cleanup CACHE: the reaper of a killed build holds the cache's lock
# until it has cleaned up; take the lock once to wait for it.
wait_cleanup() {
	[ -e "$1/lock" ] || return 0
	timeout 60 flock "$1/lock" true || fail "the cache lock of $1 is still held after 60 s"
}

# leftovers: what a build may not leave behind, one phrase each (empty: nothing).
leftovers() {
	local out=
	pgrep -f "$TOKEN" >/dev/null && out+="processes: $(pgrep -af "$TOKEN" | tr '\n' ';'); "
	grep -q " $TEST_DIR" /proc/self/mountinfo && out+="mounts: $(grep " $TEST_DIR" /proc/self/mountinfo); "
	local cg
	cg=$(find /sys/fs/cgroup/*/berth-build /sys/fs/cgroup/berth-build -mindepth 1 -maxdepth 1 -type d 2>/dev/null)
	[ -z "$cg" ] || out+="cgroups: $(echo "$cg" | tr '\n' ' '); "
	local c
	for c in "$CACHE"*; do
		[ -d "$c/tmp" ] && [ -n "$(ls -A "$c/tmp")" ] && out+="build directories: $(ls "$c/tmp"); "
	done
	echo "$out"
}

# check_layout DIR: every blob's content matches its name, index.json parses
# and every descriptor it lists (and each manifest's config and layers) is
# there, and no temporary file is left.
check_layout() {
	local dir=$1 f name d
	[ -f "$dir/oci-layout" ] || fail "$dir: no oci-layout"
	jq -e '.schemaVersion == 2 and (.manifests | type == "array")' "$dir/index.json" >/dev/null ||
		fail "$dir/index.json: not a valid index: $(head -c 300 "$dir/index.json")"
	for f in "$dir"/blobs/sha256/* "$dir"/blobs/sha256/.[!.]*; do
		[ -e "$f" ] || continue
		name=${f##*/}
		[[ $name =~ ^[0-9a-f]{64}$ ]] || fail "$dir: a stray file in blobs/sha256: $name"
		[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$name" ] || fail "$dir: blob $name does not match its digest"
	done
	for f in "$dir"/.[!.]* "$dir"/*.tmp*; do
		[ -e "$f" ] && fail "$dir: a temporary file left: ${f##*/}"
	done
	for d in $(jq -r '.manifests[].digest' "$dir/index.json"); do
		[ -f "$dir/blobs/sha256/${d#sha256:}" ] || fail "$dir/index.json names $d, which is missing"
		for d in $(jq -r '.config.digest, .layers[]?.digest' "$dir/blobs/sha256/${d#sha256:}"); do
			[ -f "$dir/blobs/sha256/${d#sha256:}" ] || fail "$dir: a manifest names $d, which is missing"
		done
	done
}

# runs_image LAYOUT:TAG WANT: the image unpacks and its command prints WANT.
runs_image() {
	local b=$TEST_DIR/bundle-$RANDOM
	berth unpack --image "$1" "$b" sh -c 'cat /shared /own' >/dev/null || fail "berth unpack $1 failed"
	run -0 berth run --bundle "$b" "bf-$RANDOM"
	assert_output "$2"
	rm -rf "$b"
}

@test "build faults: three builds at once on one cache and one layout, two more with caches of their own" {
	local k pids=() rc
	for k in 1 2 3 4 5; do
		mkdir -p "$CTX$k"
		echo "own $k" >"$CTX$k/own"
		# the first RUN is the same in all: one layer, shared
		cat >"$CTX$k/Dockerfile" <<-EOF
			FROM busybox
			RUN echo shared > /shared # $TOKEN
			RUN sleep 0.$k # $TOKEN
			COPY own /own
		EOF
	done
	for k in 1 2 3; do
		build --cache-dir "$CACHE" --output "type=oci,dest=$OUT" -t "img$k:1" "$CTX$k" >"$TEST_DIR/log$k" 2>&1 &
		pids+=($!)
	done
	for k in 4 5; do
		build --cache-dir "$CACHE$k" --output "type=oci,dest=$OUT" -t "img$k:1" "$CTX$k" >"$TEST_DIR/log$k" 2>&1 &
		pids+=($!)
	done
	for k in 1 2 3 4 5; do
		rc=0
		wait "${pids[$((k - 1))]}" || rc=$?
		[ "$rc" = 0 ] || fail "build $k failed ($rc): $(cat "$TEST_DIR/log$k")"
	done
	# the builds on one cache took turns; whichever came later reused the shared step
	grep -h "waiting for another build" "$TEST_DIR"/log{1,2,3} >/dev/null ||
		echo "# (no build of the shared cache had to wait)" >&3
	[ "$(grep -l "RUN echo shared > /shared # $TOKEN (cached)" "$TEST_DIR"/log{1,2,3} | wc -l)" = 2 ] ||
		fail "the shared step was not reused by two of the builds on one cache: $(cat "$TEST_DIR"/log{1,2,3})"
	check_layout "$OUT"
	check_layout "$CACHE/layout"
	check_layout "${CACHE}4/layout"
	[ "$(jq '.manifests | length' "$OUT/index.json")" = 5 ] || fail "index.json lost an entry: $(cat "$OUT/index.json")"
	for k in 1 2 3 4 5; do
		run -0 jq -r --arg t "img$k:1" '.manifests[] | select(.annotations."org.opencontainers.image.ref.name" == $t) | .digest' "$OUT/index.json"
		[ "$output" = "$(tail -n1 "$TEST_DIR/log$k")" ] ||
			fail "img$k:1 is $output in index.json, but build $k printed: $(cat "$TEST_DIR/log$k"); index: $(cat "$OUT/index.json")"
		run -0 skopeo inspect "oci:$OUT:img$k:1"
		runs_image "$OUT:img$k:1" "shared
own $k"
	done
	# on one cache, the shared RUN is one blob: the same second layer in the three images
	local shared
	shared=$(for k in 1 2 3; do skopeo inspect "oci:$OUT:img$k:1" | jq -r '.Layers[1]'; done | sort -u | wc -l)
	assert_equal "$shared" 1
	[ -z "$(leftovers)" ] || fail "$(leftovers)"
	rm -rf "$CTX"[1-5]
}

# interrupted SIG DELAYS...: a four-step build killed with SIG after each
# delay (seconds); after each kill the layouts are valid and nothing is left,
# and the next build reuses each step that had completed (the log of the
# killed build shows the next step begun).
interrupted() {
	local sig=$1 d n step rc completed j s
	shift
	echo "$sig" >"$CTX/f"
	cat >"$CTX/Dockerfile" <<-EOF
		FROM busybox
		RUN sleep 0.5; echo shared > /shared # $TOKEN
		RUN sleep 0.5; echo one > /one # $TOKEN
		COPY f /own
		RUN sleep 0.5; echo two > /two # $TOKEN
	EOF
	n=0
	for d in "$@"; do
		n=$((n + 1))
		start_build "$TEST_DIR/killed.log" --cache-dir "$CACHE" --output "type=oci,dest=$OUT" -t "app:$n" "$CTX"
		sleep "$d"
		kill -s "$sig" "$BUILD_PID" 2>/dev/null || true
		rc=0
		wait "$BUILD_PID" || rc=$?
		BUILD_PID=
		wait_cleanup "$CACHE"
		local left
		left=$(leftovers)
		[ -z "$left" ] || fail "SIG$sig after ${d}s (exit $rc): $left"
		[ ! -d "$OUT" ] || check_layout "$OUT"
		[ ! -d "$CACHE/layout" ] || check_layout "$CACHE/layout"
		# the steps whose successor had begun are complete: the next build reuses them
		completed=()
		# (the instruction lines, not the lines that end a step: `Dockerfile:N: DONE 0.5s`)
		mapfile -t step < <(grep -o '^Dockerfile:[0-9]*: [A-Z]* .*' "$TEST_DIR/killed.log" |
			grep -Ev '^Dockerfile:[0-9]+: (DONE|ERROR) [0-9.]+s$' | sed 's/ (cached)$//')
		for ((j = 0; j + 1 < ${#step[@]}; j++)); do completed+=("${step[$j]}"); done
		[ "$rc" = 0 ] && completed=("${step[@]}")
		run -0 build --cache-dir "$CACHE" --output "type=oci,dest=$OUT" -t "app:$n" "$CTX"
		for s in "${completed[@]}"; do
			assert_output --partial "$s (cached)"
		done
		echo "# SIG$sig after ${d}s: exit $rc, ${#completed[@]} steps complete and reused" >&3
		check_layout "$OUT"
		runs_image "$OUT:app:$n" "shared
$sig"
		[ -z "$(leftovers)" ] || fail "after the next build: $(leftovers)"
		# start over: an empty cache, so that the next kill lands in a step again
		rm -rf "$CACHE" "$OUT"
	done
}

@test "build faults: SIGKILL at increasing delays: layouts valid, no process, cgroup or mount left, completed steps reused" {
	interrupted KILL 0.05 0.3 0.7 1.1 1.6 2.2
}

@test "build faults: SIGINT at increasing delays: layouts valid, no process, cgroup or mount left, completed steps reused" {
	interrupted INT 0.05 0.3 0.7 1.1 1.6 2.2
}

@test "build faults: SIGINT during a RUN whose shell ignores it cancels the step and fails the build at once" {
	cat >"$CTX/Dockerfile" <<-EOF
		FROM busybox
		RUN trap '' INT TERM HUP; sleep 30; echo finished # $TOKEN
	EOF
	start_build "$TEST_DIR/int.log" --cache-dir "$CACHE" --output "type=oci,dest=$OUT" -t app:1 "$CTX"
	local pid=$BUILD_PID w rc=0 start
	for ((w = 0; w < 100; w++)); do
		pgrep -f "sleep 30; echo finished # $TOKEN" >/dev/null && break
		sleep 0.1
	done
	pgrep -f "sleep 30; echo finished # $TOKEN" >/dev/null || fail "the RUN did not start: $(cat "$TEST_DIR/int.log")"
	start=$SECONDS
	kill -INT "$pid"
	wait "$pid" || rc=$?
	BUILD_PID=
	# the step was killed, not waited for: well under its 30 s
	[ $((SECONDS - start)) -lt 10 ] || fail "the build took $((SECONDS - start)) s to stop after SIGINT"
	[ "$rc" != 0 ] || fail "the build succeeded although it was interrupted: $(cat "$TEST_DIR/int.log")"
	run cat "$TEST_DIR/int.log"
	assert_output --partial "interrupted by SIGINT"
	refute_line finished
	wait_cleanup "$CACHE"
	[ -z "$(leftovers)" ] || fail "$(leftovers)"
	[ ! -d "$OUT" ] || check_layout "$OUT"
	# no image was written for the interrupted build
	[ ! -f "$OUT/index.json" ] || [ "$(jq '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "app:1")] | length' "$OUT/index.json")" = 0 ] ||
		fail "an image app:1 was written"
}

@test "build faults: SIGKILL of a build with parallel stages: the stages' containers go too" {
	cat >"$CTX/Dockerfile" <<-EOF
		FROM busybox AS a
		RUN sleep 30; true # $TOKEN a
		FROM busybox AS b
		RUN sleep 30; true # $TOKEN b
		FROM busybox
		COPY --from=a /bin/sh /a
		COPY --from=b /bin/sh /b
	EOF
	start_build "$TEST_DIR/killed.log" --cache-dir "$CACHE" --output "type=oci,dest=$OUT" "$CTX"
	local pid=$BUILD_PID w
	for ((w = 0; w < 100; w++)); do
		[ "$(pgrep -f "sleep 30; true # $TOKEN" | wc -l)" -ge 2 ] && break
		sleep 0.1
	done
	[ "$(pgrep -f "sleep 30; true # $TOKEN" | wc -l)" -ge 2 ] || fail "the two stages' RUNs did not start: $(cat "$TEST_DIR/killed.log")"
	kill -KILL "$pid"
	wait "$pid" || true
	BUILD_PID=
	wait_cleanup "$CACHE"
	[ -z "$(leftovers)" ] || fail "$(leftovers)"
	check_layout "$CACHE/layout"
}

@test "build faults: a build on a terminal killed (SIGKILL) or interrupted (SIGINT): the live view ends, its renderer too" {
	[ -x "$BERTH_BUILDDIR/tests/helpers/in-pty" ] || fail "tests/helpers/in-pty is missing: make check builds it"
	local sig pty builder renderer w state
	for sig in KILL INT; do
		cat >"$CTX/Dockerfile" <<-EOF
			FROM busybox
			RUN echo started; sleep 30 # $TOKEN $sig
		EOF
		# under a shell, as on a terminal (the session leader's death
		# would hang the terminal up)
		"$BERTH_BUILDDIR/tests/helpers/in-pty" sh -c 'env --default-signal=INT "$@"; echo "exit $?"' sh \
			"$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" --cache-dir "$CACHE" \
			--output "type=oci,dest=$OUT" "$CTX" </dev/null >"$TEST_DIR/tty.log" 2>&1 &
		pty=$!
		for ((w = 0; w < 100; w++)); do
			pgrep -f "sleep 30 # $TOKEN $sig" >/dev/null && grep -q "| started" "$TEST_DIR/tty.log" && break
			sleep 0.1
		done
		builder=$(pgrep -P "$(pgrep -P "$pty")")
		renderer=$(ps -o pid=,comm= --ppid "$builder" | awk '$2 == "berth:[progress" { print $1 }')
		[ -n "$renderer" ] || fail "no renderer under the build $builder: $(ps -o pid=,comm= --ppid "$builder")"
		grep -q "| started" "$TEST_DIR/tty.log" || fail "the RUN's output is not on the screen: $(cat "$TEST_DIR/tty.log")"
		kill -s "$sig" "$builder"
		wait "$pty"
		run -0 tr -d '\r' <"$TEST_DIR/tty.log"
		refute_line "exit 0"
		if [ "$sig" = KILL ]; then
			assert_output --partial " => INTERRUPTED Dockerfile:2: RUN echo started; sleep 30"
			assert_output --regexp "\[\+\] Build interrupted after [0-9]+\.[0-9]s"
		else
			assert_output --partial " => ERROR Dockerfile:2: RUN echo started; sleep 30"
			assert_output --regexp "\[\+\] Build failed after [0-9]+\.[0-9]s"
			assert_output --partial "interrupted by SIGINT"
		fi
		# gone (or a zombie: an orphan that this machine's pid 1 may not reap)
		for ((w = 0; w < 50; w++)); do
			state=$(awk '{ print $3 }' "/proc/$renderer/stat" 2>/dev/null || true)
			[ -z "$state" ] || [ "$state" = Z ] && break
			sleep 0.1
		done
		[ -z "$state" ] || [ "$state" = Z ] || fail "SIG$sig: the renderer $renderer is still there ($state)"
		wait_cleanup "$CACHE"
		[ -z "$(leftovers)" ] || fail "SIG$sig: $(leftovers)"
	done
}
