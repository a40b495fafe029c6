# shellcheck shell=bash
# Common setup for Berth's integration tests (bats-core >= 1.5, run as root).
#
# Each .bats file does:
#
#   load helpers
#   setup_file() { berth_setup_file; }
#   teardown_file() { berth_teardown_file; }
#   setup() { berth_setup; }
#   teardown() { berth_teardown; }
#
# Per file, a busybox root filesystem template is built once; per test, it is
# copied into a fresh bundle under $TEST_DIR (a 0755 directory under /tmp, so
# that user-namespaced containers can traverse it) together with a state root
# ($BERTH_ROOT) that is never the host's /run/berth. Teardown deletes every
# container with `delete --force` and fails the test if a process, a mount or
# a state directory was left behind, or if /dev/null changed.
#
# Environment: BERTH_BUILDDIR / BERTH_SRCDIR (exported by `make check`;
# default to the repository), BERTH_BIN (the runtime under test, default
# $BERTH_BUILDDIR/berth), BUSYBOX (default /bin/busybox).

bats_require_minimum_version 1.5.0

load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

BERTH_SRCDIR=${BERTH_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BERTH_BUILDDIR=${BERTH_BUILDDIR:-$BERTH_SRCDIR}
BERTH_BIN=${BERTH_BIN:-$BERTH_BUILDDIR/berth}
BERTH_PROBE=${BERTH_PROBE:-$BERTH_BUILDDIR/tests/helpers/berth-probe}
CONSOLE_RECEIVER=${CONSOLE_RECEIVER:-$BERTH_BUILDDIR/tests/helpers/console-receiver}
BUSYBOX=${BUSYBOX:-/bin/busybox}
# Every berth command is killed after this many seconds, so a hung runtime
# fails a test instead of hanging the suite.
BERTH_CMD_TIMEOUT=${BERTH_CMD_TIMEOUT:-60}

# requires WHAT...: skip the test, naming the reason, if the machine lacks WHAT.
requires() {
	local r
	for r in "$@"; do
		case $r in
		root)
			[ "$(id -u)" = 0 ] || skip "requires root"
			;;
		tty)
			[ -t 0 ] || skip "requires a terminal"
			;;
		timens)
			[ -e /proc/self/ns/time ] || skip "requires time namespaces (Linux >= 5.6)"
			;;
		userns)
			[ -e /proc/self/ns/user ] || skip "requires user namespaces"
			;;
		cgroupns)
			[ -e /proc/self/ns/cgroup ] || skip "requires cgroup namespaces"
			;;
		*)
			fail "requires: unknown requirement '$r'"
			;;
		esac
	done
}

# build_rootfs DIR: a minimal root filesystem with a static busybox (every
# applet as a symlink to /bin/busybox), /etc/passwd and /etc/group with root
# and user (1000), and the probe as /bin/berth-probe.
build_rootfs() {
	local dir=$1 applet
	mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home/user,mnt,run,var}
	cp "$BUSYBOX" "$dir/bin/busybox"
	while read -r applet; do
		case $applet in
		bin/busybox | "") continue ;;
		*/*) mkdir -p "$dir/${applet%/*}" ;;
		esac
		ln -s /bin/busybox "$dir/$applet"
	done < <("$BUSYBOX" --list-full)
	cp "$BERTH_PROBE" "$dir/bin/berth-probe"
	cat >"$dir/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		user:x:1000:1000:user:/home/user:/bin/sh
		nobody:x:65534:65534:nobody:/nonexistent:/bin/false
	EOF
	cat >"$dir/etc/group" <<-'EOF'
		root:x:0:
		tty:x:5:
		user:x:1000:
		nogroup:x:65534:
	EOF
	chmod 1777 "$dir/tmp"
	chmod 0700 "$dir/root"
	chown 1000:1000 "$dir/home/user"
}

berth_setup_file() {
	[ "$(id -u)" = 0 ] || return 0 # every test skips with "requires root"
	local missing
	for missing in "$BERTH_BIN" "$BERTH_PROBE" "$CONSOLE_RECEIVER" "$BUSYBOX"; do
		if [ ! -x "$missing" ]; then
			echo "# $missing is missing: build with 'make' and 'make check' (or set BERTH_BIN)" >&3
			return 1
		fi
	done
	BERTH_TEMPLATE_DIR=$(mktemp -d /tmp/berth-template.XXXXXX)
	chmod 0755 "$BERTH_TEMPLATE_DIR"
	build_rootfs "$BERTH_TEMPLATE_DIR/rootfs"
	export BERTH_TEMPLATE_DIR
}

berth_teardown_file() {
	if [ -n "${BERTH_TEMPLATE_DIR:-}" ] && [ -d "$BERTH_TEMPLATE_DIR" ]; then
		rm -rf "$BERTH_TEMPLATE_DIR"
	fi
}

berth_setup() {
	requires root
	TEST_DIR=$(mktemp -d /tmp/berth-test.XXXXXX)
	chmod 0755 "$TEST_DIR"
	BUNDLE=$TEST_DIR/bundle
	ROOTFS=$BUNDLE/rootfs
	BERTH_ROOT=$TEST_DIR/state
	# Every process a test starts through berth carries this in its
	# environment (the runtime's own processes inherit it, the container's
	# process gets it from config.json): teardown finds leaks by it.
	BERTH_TEST_TAG=$TEST_DIR
	BERTH_CLEANUPS=()
	DEV_NULL_BEFORE=$(stat -c '%F %U:%G %a %t:%T' /dev/null)
	mkdir -p "$BUNDLE"
	cp -a "$BERTH_TEMPLATE_DIR/rootfs" "$ROOTFS"
	berth spec --bundle "$BUNDLE" || fail "berth spec --bundle $BUNDLE failed"
	[ -s "$BUNDLE/config.json" ] || fail "berth spec wrote no $BUNDLE/config.json"
	update_config '.process.terminal = false
		| .root.readonly = false
		| .process.args = ["/bin/berth-probe", "exit", "0"]
		| .process.env += ["BERTH_TEST_TAG=" + $tag]' --arg tag "$BERTH_TEST_TAG"
}

# berth ARGS...: the runtime under test with this test's state root. fd 3
# (bats' own output) is closed so that a leaked fd cannot hang the suite.
berth() {
	BERTH_TEST_TAG=$BERTH_TEST_TAG timeout -k 5 "$BERTH_CMD_TIMEOUT" "$BERTH_BIN" --root "$BERTH_ROOT" "$@" 3>&-
}

# update_config FILTER [JQ ARGS...]: rewrite $BUNDLE/config.json with jq.
update_config() {
	local filter=$1
	shift
	jq "$filter" "$BUNDLE/config.json" "$@" >"$BUNDLE/config.json.new" || fail "update_config: jq failed on: $filter"
	mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"
}

# set_args ARG...: the container's process.args.
set_args() {
	local args
	args=$(for a in "$@"; do jq -n --arg a "$a" '$a'; done | jq -s .) || fail "set_args: jq failed"
	update_config '.process.args = $args' --argjson args "$args"
}

# defer COMMAND: run COMMAND (with eval) in teardown, after the containers are
# deleted and before the leak checks; last deferred runs first.
defer() {
	BERTH_CLEANUPS+=("$1")
}

# run_container [ID]: `berth run` in the foreground, like bats' `run
# --separate-stderr`: $status is the container's exit status, $output its
# stdout, $stderr the container's and the runtime's stderr.
run_container() {
	run --separate-stderr berth run --bundle "$BUNDLE" "${1:-ctr}" </dev/null
	if [ -n "$stderr" ]; then
		echo "# stderr of berth run: $stderr"
	fi
}

# probe ARGS...: run /bin/berth-probe ARGS... as the container's process.
probe() {
	set_args /bin/berth-probe "$@"
	run_container
}

# create_container ID [FLAGS...] / run_detached ID [FLAGS...]: `berth create`
# or `berth run --detach`. The container's stdio is on $TEST_DIR/ID.out and
# ID.err (never a pipe that bats waits on); $status is berth's exit status and
# $output what was written to stderr.
create_container() {
	local id=$1
	shift
	berth create --bundle "$BUNDLE" "$@" "$id" </dev/null >"$TEST_DIR/$id.out" 2>"$TEST_DIR/$id.err" && status=0 || status=$?
	output=$(cat "$TEST_DIR/$id.err")
	echo "# berth create $id: exit $status: $output"
}

run_detached() {
	local id=$1
	shift
	berth run --detach --bundle "$BUNDLE" "$@" "$id" </dev/null >"$TEST_DIR/$id.out" 2>"$TEST_DIR/$id.err" && status=0 || status=$?
	output=$(cat "$TEST_DIR/$id.err")
	echo "# berth run -d $id: exit $status: $output"
}

# state_field ID FIELD: one field of `berth state ID`.
state_field() {
	local json
	json=$(berth state "$1") || return 1
	jq -r ".$2" <<<"$json"
}

# wait_for_status ID STATUS: poll `berth state` for up to 10 s.
wait_for_status() {
	local id=$1 want=$2 i got=
	for ((i = 0; i < 100; i++)); do
		got=$(state_field "$id" status 2>/dev/null) || got=
		[ "$got" = "$want" ] && return 0
		sleep 0.1
	done
	fail "container $id: status is '$got' after 10 s, expected '$want'"
}

# wait_for_file FILE [PATTERN]: until FILE exists (and holds a line matching
# the grep PATTERN), up to 10 s.
wait_for_file() {
	local i
	for ((i = 0; i < 100; i++)); do
		if [ -e "$1" ] && { [ -z "${2:-}" ] || grep -q -- "$2" "$1"; }; then
			return 0
		fi
		sleep 0.1
	done
	fail "$1 did not appear${2:+ with a line matching '$2'} within 10 s: $(cat "$1" 2>/dev/null)"
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
	local st
	st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_pid_gone PID: up to 5 s.
wait_pid_gone() {
	local i
	for ((i = 0; i < 50; i++)); do
		pid_alive "$1" || return 0
		sleep 0.1
	done
	fail "process $1 still exists: $(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)"
}

# tagged_pids: live processes started through this test's berth commands.
tagged_pids() {
	local f pid
	for f in $(grep -lzsxF -- "BERTH_TEST_TAG=$BERTH_TEST_TAG" /proc/[0-9]*/environ 2>/dev/null); do
		pid=${f#/proc/}
		pid=${pid%/environ}
		[ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
		pid_alive "$pid" && echo "$pid"
	done
	return 0
}

# test_mounts: mount points of the host's mount namespace under $TEST_DIR.
test_mounts() {
	awk -v dir="$TEST_DIR" 'index($5, dir) == 1 {print $5}' /proc/self/mountinfo
}

# state_dirs: container directories under the state root.
state_dirs() {
	[ -d "$BERTH_ROOT" ] || return 0
	find "$BERTH_ROOT" -mindepth 1 -maxdepth 1 -type d
}

# assert_nothing_left: no container listed, no state directory, no process,
# no mount: what a failed create/run must leave.
assert_nothing_left() {
	local out i pids=
	out=$(berth list -q) || fail "berth list -q failed: $out"
	[ -z "$out" ] || fail "containers left in berth list -q: $out"
	out=$(state_dirs)
	[ -z "$out" ] || fail "state directories left under $BERTH_ROOT: $out"
	for ((i = 0; i < 30; i++)); do
		pids=$(tagged_pids)
		[ -z "$pids" ] && break
		sleep 0.1
	done
	[ -z "$pids" ] || fail "processes left: $(ps -o pid=,stat=,args= -p "${pids//$'\n'/,}")"
	out=$(test_mounts)
	[ -z "$out" ] || fail "mounts left: $out"
}

berth_teardown() {
	[ -n "${TEST_DIR:-}" ] && [ -d "$TEST_DIR" ] || return 0
	local errors=() id ids pids mnt i cmd now

	# 1. every container of this state root, running or not
	ids=$( (berth list -q 2>/dev/null; state_dirs | xargs -r -n1 basename) | sort -u)
	for id in $ids; do
		berth delete --force "$id" </dev/null >/dev/null 2>"$TEST_DIR/teardown.err" ||
			errors+=("delete --force $id failed: $(cat "$TEST_DIR/teardown.err")")
	done

	# 2. what the test itself set up (mounts, namespaces, helper processes)
	for ((i = ${#BERTH_CLEANUPS[@]} - 1; i >= 0; i--)); do
		cmd=${BERTH_CLEANUPS[i]}
		eval "$cmd" || errors+=("cleanup failed: $cmd")
	done

	# 3. leaks: processes, state directories, mounts
	for ((i = 0; i < 50; i++)); do
		pids=$(tagged_pids)
		[ -z "$pids" ] && break
		sleep 0.1
	done
	if [ -n "$pids" ]; then
		errors+=("processes left behind: $(ps -o pid=,stat=,args= -p "${pids//$'\n'/,}" | tr '\n' ';')")
		kill -KILL $pids 2>/dev/null || true
	fi
	ids=$(state_dirs)
	[ -z "$ids" ] || errors+=("state directories left after delete --force: $ids")
	mnt=$(test_mounts)
	if [ -n "$mnt" ]; then
		errors+=("mounts left under $TEST_DIR: $(echo "$mnt" | tr '\n' ' ')")
		echo "$mnt" | sort -r | while read -r m; do umount -l "$m" || true; done
	fi

	# 4. the host's /dev/null must not have been chowned or chmod'ed
	now=$(stat -c '%F %U:%G %a %t:%T' /dev/null)
	[ "$now" = "$DEV_NULL_BEFORE" ] || errors+=("/dev/null changed: was '$DEV_NULL_BEFORE', now '$now'")
	[ "$now" = "character special file root:root 666 1:3" ] || errors+=("/dev/null is '$now'")

	if [ -z "$(test_mounts)" ]; then
		rm -rf "$TEST_DIR"
	else
		errors+=("$TEST_DIR kept: mounts still under it")
	fi
	if [ ${#errors[@]} -gt 0 ]; then
		printf '# teardown: %s\n' "${errors[@]}"
		return 1
	fi
}

# mount_entry MOUNTPOINT: from the output of `probe mounts` in $output, the
# line of MOUNTPOINT (the topmost when several are stacked):
# "MOUNTPOINT FSTYPE MOUNTOPTS SUPEROPTS PROPAGATION".
mount_entry() {
	awk -v mp="$1" '$1 == mp {line = $0} END {print line}' <<<"$output"
}

# has_opt LIST OPT: OPT is one of the comma-separated LIST.
has_opt() {
	[[ ",$1," == *",$2,"* ]]
}

# assert_mount_opts MOUNTPOINT FIELD OPT...: field 3 (mount options) or 4
# (superblock options) of MOUNTPOINT's entry holds every OPT.
assert_mount_opts() {
	local mp=$1 field=$2 entry opts opt
	shift 2
	entry=$(mount_entry "$mp")
	[ -n "$entry" ] || fail "$mp is not a mount point in the container: $output"
	opts=$(cut -d' ' -f"$field" <<<"$entry")
	for opt in "$@"; do
		has_opt "$opts" "$opt" || fail "$mp: '$opt' not in '$opts' ($entry)"
	done
}

# berth_keep_fds ARGS...: like berth, but the caller's fds (3 and up) are left
# open for the runtime to pass on or to close.
berth_keep_fds() {
	BERTH_TEST_TAG=$BERTH_TEST_TAG timeout -k 5 "$BERTH_CMD_TIMEOUT" "$BERTH_BIN" --root "$BERTH_ROOT" "$@"
}

# cgroup_mounts: the mount point of every cgroup hierarchy.
cgroup_mounts() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) ~ /^cgroup2?$/) print $5; break } }' \
		/proc/self/mountinfo
}

# remove_cgroup_parent: removes $CG_PARENT (a test's own cgroup parent) from
# every hierarchy, with what a failed test left in it once its processes
# are gone.
remove_cgroup_parent() {
	local m
	for m in $(cgroup_mounts); do
		[ ! -d "$m/$CG_PARENT" ] || find "$m/$CG_PARENT" -depth -type d -exec rmdir {} + || return 1
	done
}

# in_tty CMD...: run CMD with a pty as its controlling terminal and stdio
# (tests/helpers/in-pty, which never writes into the pty); output is what the
# pty showed, with CRs and NULs removed, and the ^@ that the pty's echo makes
# of a NUL written to its input (ctr writes one).
in_tty() {
	"$BERTH_BUILDDIR/tests/helpers/in-pty" "$@" </dev/null | tr -d '\r\000' | sed 's/\^@//g'
	return "${PIPESTATUS[0]}"
}

# make_busybox_base_layout DIR: the builder suites' base image, DIR/base:1,
# an OCI layout made with umoci: busybox with its applets in /bin, root and
# user (1000) in /etc/passwd and /etc/group, PATH=/bin and sh as Cmd.
make_busybox_base_layout() {
	local img=$1/base r=$1/b/rootfs applet
	umoci init --layout "$img"
	umoci new --image "$img:1"
	umoci unpack --image "$img:1" "$1/b" >/dev/null
	mkdir -p "$r"/{bin,etc,tmp,root,home/user,proc,sys,dev}
	cp "$BUSYBOX" "$r/bin/busybox"
	for applet in $("$BUSYBOX" --list); do
		[ "$applet" = busybox ] || ln -s busybox "$r/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\nstaff:x:50:\n' >"$r/etc/group"
	chmod 1777 "$r/tmp"
	chown 1000:1000 "$r/home/user"
	umoci repack --image "$img:1" "$1/b" >/dev/null
	umoci config --image "$img:1" --config.env PATH=/bin --config.cmd sh
	rm -rf "$1/b"
}
