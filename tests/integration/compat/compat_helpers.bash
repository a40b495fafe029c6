# shellcheck shell=bash
# Helpers for the suites that drive berth through real engines (containerd,
# podman) and check the runc command-line details they depend on.
#
# Loaded after helpers.bash:
#
#   load helpers
#   load compat_helpers (from tests/integration/compat/)
#
# What is here:
# - make_busybox_oci_archive OUT NAME TAG [CMD_JSON]: an OCI image archive (an
#   image layout in a tar) with one uncompressed layer, the busybox root
#   filesystem of build_rootfs (helpers.bash), built on the spot: no registry
#   needed.
# - make_logging_runtime OUT LOG: a script that appends its argv to LOG and
#   execs berth, given to the engines as their runtime so a test can prove that
#   the engine ran berth, and with what arguments.
# - requires_cmd CMD...: skip, naming the missing program.
# - cgroup helpers: remove a cgroup parent in every v1/v2 hierarchy.
# - umount_under DIR: unmount everything below DIR (deepest first).

# requires_cmd CMD...: skip the test if a program is not installed.
requires_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "requires $c (installed by .ci/install-deps)"
	done
}

# sha256_of FILE: the hex digest.
sha256_of() {
	sha256sum "$1" | cut -d' ' -f1
}

# oci_blob LAYOUT FILE: move FILE into LAYOUT/blobs/sha256/ under its digest;
# prints the digest (hex) and the size, separated by a space.
oci_blob() {
	local layout=$1 file=$2 digest size
	digest=$(sha256_of "$file")
	size=$(stat -c %s "$file")
	mkdir -p "$layout/blobs/sha256"
	mv "$file" "$layout/blobs/sha256/$digest"
	echo "$digest $size"
}

# make_busybox_oci_archive OUT NAME TAG [CMD_JSON]: write an OCI archive to OUT
# holding one image, NAME:TAG (NAME a full reference such as
# docker.io/berth/busybox). The image's config runs CMD_JSON (a JSON array,
# default ["/bin/sh"]) with PATH set; its rootfs is build_rootfs's (busybox
# applets, berth-probe, /etc/passwd with root and user 1000).
make_busybox_oci_archive() {
	local out=$1 name=$2 tag=$3 cmd=${4:-'["/bin/sh"]'} work layout layer config manifest
	local layer_digest layer_size diff_id config_digest config_size manifest_digest manifest_size
	work=$(mktemp -d /tmp/berth-oci.XXXXXX)
	layout=$work/layout
	mkdir -p "$layout"
	build_rootfs "$work/rootfs"

	# 1. the layer: an uncompressed tar of the rootfs (diff_id = digest)
	layer=$work/layer.tar
	tar -C "$work/rootfs" --numeric-owner --sort=name --mtime=@0 -cf "$layer" . ||
		fail "make_busybox_oci_archive: tar of the rootfs failed"
	read -r layer_digest layer_size < <(oci_blob "$layout" "$layer")
	diff_id=$layer_digest

	# 2. the image config
	config=$work/config.json
	jq -cn --arg diff "sha256:$diff_id" --argjson cmd "$cmd" '{
		architecture: "amd64", os: "linux",
		created: "1970-01-01T00:00:00Z",
		config: {
			Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
			Cmd: $cmd, WorkingDir: "/"
		},
		rootfs: {type: "layers", diff_ids: [$diff]},
		history: [{created: "1970-01-01T00:00:00Z", created_by: "berth tests: busybox-static"}]
	}' >"$config" || fail "make_busybox_oci_archive: jq (config) failed"
	read -r config_digest config_size < <(oci_blob "$layout" "$config")

	# 3. the manifest
	manifest=$work/manifest.json
	jq -cn --arg cd "sha256:$config_digest" --argjson cs "$config_size" \
		--arg ld "sha256:$layer_digest" --argjson ls "$layer_size" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
		layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $ld, size: $ls}]
	}' >"$manifest" || fail "make_busybox_oci_archive: jq (manifest) failed"
	read -r manifest_digest manifest_size < <(oci_blob "$layout" "$manifest")

	# 4. index.json and oci-layout; the image is named both ways engines read
	# (containerd: io.containerd.image.name; podman/skopeo: ref.name)
	jq -cn --arg md "sha256:$manifest_digest" --argjson ms "$manifest_size" \
		--arg name "$name:$tag" --arg tag "$tag" '{
		schemaVersion: 2,
		manifests: [{
			mediaType: "application/vnd.oci.image.manifest.v1+json",
			digest: $md, size: $ms,
			platform: {architecture: "amd64", os: "linux"},
			annotations: {"io.containerd.image.name": $name, "org.opencontainers.image.ref.name": $tag}
		}]
	}' >"$layout/index.json" || fail "make_busybox_oci_archive: jq (index) failed"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

	# 5. the archive
	tar -C "$layout" -cf "$out" oci-layout index.json blobs ||
		fail "make_busybox_oci_archive: tar of the layout failed"
	rm -rf "$work"
}

# make_logging_runtime OUT LOG: OUT is an executable script that appends one
# line (its arguments, space-separated) to LOG and execs berth with them.
make_logging_runtime() {
	local out=$1 log=$2
	cat >"$out" <<-EOF
		#!/bin/sh
		echo "\$*" >>'$log'
		exec '$BERTH_BIN' "\$@"
	EOF
	chmod 0755 "$out"
}

# remove_cgroup NAME: rmdir /sys/fs/cgroup/*/NAME (and the v2 root's), deepest
# directories first; kills what is left in them first.
remove_cgroup() {
	local name=$1 d
	for d in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
		[ -d "$d" ] && echo "# remove_cgroup: $d is left: $(find "$d" -name cgroup.procs -exec cat {} \; | tr '\n' ' ')"
	done
	return 0
}

# umount_under DIR: unmount every mount point at or below DIR, deepest first.
umount_under() {
	local dir=$1 m
	awk -v dir="$dir" 'index($5, dir) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m" || true
		done
}

# mounts_under DIR: mount points of the host's mount namespace at or below DIR.
mounts_under() {
	awk -v dir="$1" 'index($5, dir) == 1 {print $5}' /proc/self/mountinfo
}

# dev_null_ok: /dev/null is still root:root 0666 1:3.
dev_null_ok() {
	local now
	now=$(stat -c '%F %U:%G %a %t:%T' /dev/null)
	[ "$now" = "character special file root:root 666 1:3" ] || fail "/dev/null is now '$now'"
}

# write_containerd_config [LEVEL]: $CTD_DIR/config.toml for a containerd of
# the suite's own (root, state and sockets under $CTD_DIR; CRI and the
# snapshotters this machine lacks disabled); LEVEL is the log level.
write_containerd_config() {
	cat >"$CTD_DIR/config.toml" <<-EOF
		version = 2
		root = "$CTD_DIR/root"
		state = "$CTD_DIR/state"
		disabled_plugins = [
		  "io.containerd.grpc.v1.cri",
		  "io.containerd.snapshotter.v1.aufs",
		  "io.containerd.snapshotter.v1.btrfs",
		  "io.containerd.snapshotter.v1.devmapper",
		  "io.containerd.snapshotter.v1.zfs",
		  "io.containerd.internal.v1.tracing",
		  "io.containerd.tracing.processor.v1.otlp",
		]
		[grpc]
		  address = "$CTD_SOCK"
		[ttrpc]
		  address = "$CTD_SOCK.ttrpc"
		[debug]
		  address = "$CTD_DIR/debug.sock"
		  level = "${1:-info}"
		[metrics]
		  address = ""
		[plugins."io.containerd.monitor.v1.cgroups"]
		  no_prometheus = true
	EOF
}

# start_containerd: containerd on the suite's config, our bin dir first on
# its PATH; its pid in $CTD_DIR/containerd.pid (a test restarts it).
start_containerd() {
	local i pid
	PATH="$CTD_DIR/bin:$PATH" containerd --config "$CTD_DIR/config.toml" </dev/null >>"$CTD_DIR/containerd.log" 2>&1 3>&- &
	pid=$!
	echo "$pid" >"$CTD_DIR/containerd.pid"
	for ((i = 0; i < 100; i++)); do
		ctr -a "$CTD_SOCK" version >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "# containerd did not start: $(tail -n 20 "$CTD_DIR/containerd.log")" >&3
	return 1
}

# stop_containerd: removes the image first (so that no snapshot stays
# mounted), then SIGTERM to $CTD_PID and up to 10 s for it; 1 when it took a
# SIGKILL.
stop_containerd() {
	local i rc=0
	ctr -a "$CTD_SOCK" -n "$CTD_NS" images rm "$IMAGE" >/dev/null 2>&1 || true
	kill -TERM "$CTD_PID" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$CTD_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$CTD_PID" 2>/dev/null; then
		rc=1
		kill -KILL "$CTD_PID" 2>/dev/null || true
	fi
	wait "$CTD_PID" 2>/dev/null || true
	return $rc
}

# make_exec_traps DIR LOG: DIR/runc and DIR/berth, scripts that append a
# line "NAME ARGS" to LOG and exec /usr/sbin/runc. First on containerd's
# PATH, they prove that containerd-shim-berth-v2 executes neither (it links
# libberth): LOG stays empty.
make_exec_traps() {
	local dir=$1 log=$2 i
	for i in runc berth; do
		cat >"$dir/$i" <<-EOF
			#!/bin/sh
			echo "$i \$*" >>'$log'
			exec /usr/sbin/runc "\$@"
		EOF
		chmod 0755 "$dir/$i"
	done
	: >"$log"
}

# berth_shim_pids [ID]: pids of the containerd-shim-berth-v2 servers (named
# berth-shim) of the containerd on $CTD_SOCK (serving container ID).
berth_shim_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = berth-shim ] || continue
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "-id ${1:-[^ ]*} -address $CTD_SOCK " || continue
		echo "${p#/proc/}"
	done
}

# finish_containerd_suite CGROUP: the end of a suite with a containerd of
# its own: containerd stopped (stop_containerd, its pid from
# $CTD_DIR/containerd.pid), nothing left mounted under $CTD_DIR, the cgroup
# CGROUP removed, $CTD_DIR removed. Returns 1, saying why on fd 3, when
# something had to be cleaned up by force.
finish_containerd_suite() {
	local errors=()
	[ -f "$CTD_DIR/containerd.pid" ] && CTD_PID=$(cat "$CTD_DIR/containerd.pid")
	if [ -n "${CTD_PID:-}" ]; then
		stop_containerd || errors+=("containerd $CTD_PID did not exit on SIGTERM")
	fi
	if [ -n "$(mounts_under "$CTD_DIR")" ]; then
		errors+=("mounts left under $CTD_DIR: $(mounts_under "$CTD_DIR" | tr '\n' ' ')")
		umount_under "$CTD_DIR"
	fi
	remove_cgroup "$1"
	rm -rf "$CTD_DIR"
	if [ ${#errors[@]} -gt 0 ]; then
		printf '# teardown_file: %s\n' "${errors[@]}" >&3
		return 1
	fi
}

# make_shim_suite_dir NAME: the start of a suite's setup_file that runs
# containerd with our shim: CTD_DIR (a new /tmp/berth-NAME.XXXXXX) and
# CTD_SOCK exported, and $CTD_DIR/bin holding the shim under test (put first
# on containerd's PATH by write_containerd_config).
make_shim_suite_dir() {
	CTD_DIR=$(mktemp -d "/tmp/berth-$1.XXXXXX")
	chmod 0755 "$CTD_DIR"
	CTD_SOCK=$CTD_DIR/containerd.sock
	export CTD_DIR CTD_SOCK
	mkdir -p "$CTD_DIR/bin"
	ln -s "$BERTH_BUILDDIR/containerd-shim-berth-v2" "$CTD_DIR/bin/containerd-shim-berth-v2"
}

# import_busybox_image NAME REF [CMD_JSON]: a busybox image REF built into
# $CTD_DIR/NAME.tar (make_busybox_oci_archive) and imported into the
# containerd on $CTD_SOCK, namespace $CTD_NS; says why on fd 3 if it fails.
import_busybox_image() {
	make_busybox_oci_archive "$CTD_DIR/$1.tar" "${2%:*}" "${2##*:}" ${3:+"$3"}
	ctr -a "$CTD_SOCK" -n "$CTD_NS" images import "$CTD_DIR/$1.tar" >"$CTD_DIR/import.log" 2>&1 || {
		echo "# ctr images import $1 failed: $(cat "$CTD_DIR/import.log")" >&3
		return 1
	}
}

# ctrc ARGS...: ctr on this suite's containerd and namespace, with a timeout.
ctrc() {
	timeout -k 5 60 ctr -a "$CTD_SOCK" -n "$CTD_NS" "$@" 3>&-
}

# task_status ID: RUNNING, PAUSED, STOPPED... from ctr task ls.
task_status() {
	ctrc task ls 2>/dev/null | awk -v id="$1" '$1 == id {print $3}'
}

# task_pid ID: the task's init pid on the host.
task_pid() {
	ctrc task ls | awk -v id="$1" '$1 == id {print $2}'
}

# wait_task_status ID STATUS: up to 10 s.
wait_task_status() {
	local i got=
	for ((i = 0; i < 100; i++)); do
		got=$(task_status "$1")
		[ "$got" = "$2" ] && return 0
		sleep 0.1
	done
	fail "task $1: status '$got' after 10 s, expected '$2'"
}
