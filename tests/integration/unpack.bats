#!/usr/bin/env bats
# berth unpack (runtime/lib/unpack.c, run through the berth-unpack helper):
# images made by independent tools -- umoci builds a layout in several layers
# (files with modes, owners, xattrs and file capabilities, hard and symbolic
# links, devices, fifos, deletions and an opaque directory), skopeo turns it
# into a docker archive and an OCI archive -- are unpacked by berth and
# compared file by file with `umoci unpack` of the same image; the config.json
# is checked against the image-spec's conversion rules and run with `berth
# run`. Then what must fail: another platform, corrupt, missing and
# mis-sized blobs, hostile layers (made with python3's tarfile and added to
# the manifest by hand), an existing bundle, an unknown reference; none of
# them leaves a bundle or anything outside it.

load helpers

# The layout is built once per file (umoci takes a few seconds); tests that
# tamper with it work on a copy.
setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	local tool
	for tool in umoci skopeo python3 setcap getfattr setfattr jq; do
		command -v "$tool" >/dev/null || return 0 # each test skips naming it
	done
	[ -x "$BERTH_BIN" ] || {
		echo "# $BERTH_BIN is missing: build with 'make'" >&3
		return 1
	}
	UNPACK_IMAGE_DIR=$(mktemp -d /tmp/berth-unpack-image.XXXXXX)
	make_base_image "$UNPACK_IMAGE_DIR/layout"
	export UNPACK_IMAGE_DIR
}

teardown_file() {
	[ -n "${UNPACK_IMAGE_DIR:-}" ] && rm -rf "$UNPACK_IMAGE_DIR"
	return 0
}

setup() {
	requires root
	local tool
	for tool in umoci skopeo python3 setcap getfattr setfattr jq; do
		command -v "$tool" >/dev/null || skip "requires $tool (umoci, skopeo, libcap2-bin, attr, jq)"
	done
	[ -x "${BERTH_BIN%/*}/berth-unpack" ] || fail "${BERTH_BIN%/*}/berth-unpack is missing: make berth-unpack"
	TEST_DIR=$(mktemp -d /tmp/berth-unpack-test.XXXXXX)
	chmod 0755 "$TEST_DIR"
	BERTH_ROOT=$TEST_DIR/state
	BERTH_TEST_TAG=$TEST_DIR
	IMG=$UNPACK_IMAGE_DIR/layout
	B=$TEST_DIR/bundle
	TMP_LAYOUTS_BEFORE=$(tmp_layouts)
}

teardown() {
	[ -n "${TEST_DIR:-}" ] && [ -d "$TEST_DIR" ] || return 0
	local id errors=
	for id in $(berth list -q 2>/dev/null); do
		berth delete --force "$id" >/dev/null 2>&1 || errors+="delete --force $id failed; "
	done
	# an archive's temporary layout is removed, whatever happened
	[ "$(tmp_layouts)" = "$TMP_LAYOUTS_BEFORE" ] || errors+="temporary layouts left: $(tmp_layouts); "
	rm -rf "$TEST_DIR"
	[ -z "$errors" ] || fail "teardown: $errors"
}

tmp_layouts() {
	find /tmp -maxdepth 1 -name 'berth-unpack.*' | sort
}

# make_base_image LAYOUT: tag `base`, three layers and a config.
make_base_image() {
	local img=$1 b=$1.work r a
	umoci init --layout "$img"
	umoci new --image "$img:base"

	# layer 1: a runnable busybox system and every kind of entry
	umoci unpack --image "$img:base" "$b" >/dev/null
	r=$b/rootfs
	mkdir -p "$r"/{bin,etc,usr/bin,var/cache/apt,opt/app/lib,opt/keep,tmp,dev,home/app}
	cp "$BUSYBOX" "$r/bin/busybox"
	for a in sh echo id pwd cat ls; do ln -s busybox "$r/bin/$a"; done
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'app:x:1000:1000:app:/home/app:/bin/sh' \
		'svc:x:2001:2002::/:/bin/sh' >"$r/etc/passwd"
	printf '%s\n' 'root:x:0:' 'staff:x:50:app' 'app:x:1000:' 'audio:x:29:root,app,svc' \
		'svcgrp:x:2002:' 'other:x:3000:svc' >"$r/etc/group"
	chown 1000:1000 "$r/home/app"
	echo "127.0.0.1 localhost" >"$r/etc/hosts"
	chown 1000:2000 "$r/etc/hosts"
	chmod 0640 "$r/etc/hosts"
	setfattr -n user.comment -v "hosts file" "$r/etc/hosts"
	head -c 1000000 /dev/urandom >"$r/usr/bin/tool"
	setcap cap_net_raw,cap_net_bind_service+ep "$r/usr/bin/tool"
	chmod 4755 "$r/usr/bin/tool"
	ln "$r/usr/bin/tool" "$r/usr/bin/tool-alias"
	echo shared >"$r/opt/keep/one"
	ln "$r/opt/keep/one" "$r/opt/keep/two"
	ln -s ../usr/bin/tool "$r/etc/tool-link"
	ln -s /nonexistent/abs "$r/etc/dangling"
	chown -h 33:33 "$r/etc/dangling"
	chmod 1777 "$r/tmp"
	mknod -m 0666 "$r/dev/null" c 1 3
	mknod -m 0660 "$r/dev/loop0" b 7 0
	mkfifo -m 0620 "$r/etc/fifo"
	mkfifo -m 0600 "$r/opt/keep/pipe"
	echo data >"$r/var/cache/apt/pkgcache.bin"
	echo lib >"$r/opt/app/lib/a.so"
	echo lib >"$r/opt/app/lib/b.so"
	echo conf >"$r/opt/app/app.conf"
	setfattr -n user.dir -v "dir xattr" "$r/opt/app"
	touch -h -d '2001-02-03 04:05:06' "$r/etc/hosts" "$r/etc/dangling" "$r/opt/keep/one"
	umoci repack --image "$img:base" "$b"
	rm -rf "$b"

	# layer 2: deletions (whiteouts) and changes
	umoci unpack --image "$img:base" "$b" >/dev/null
	r=$b/rootfs
	rm -rf "$r/var/cache/apt" "$r/etc/fifo" "$r/usr/bin/tool-alias"
	echo changed >"$r/opt/app/app.conf"
	chmod 0600 "$r/opt/app/app.conf"
	rm "$r/etc/tool-link"
	mkdir "$r/etc/tool-link"
	echo inside >"$r/etc/tool-link/file"
	umoci repack --image "$img:base" "$b"
	rm -rf "$b"

	# layer 3: an opaque directory (umoci's own diff writes a whiteout per
	# entry, so this layer is made by python and added raw)
	python3 - "$img.opaque.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    def add(name, data, mode=0o644):
        i = tarfile.TarInfo(name)
        i.mode, i.mtime, i.size = mode, 1600000000, len(data)
        t.addfile(i, io.BytesIO(data))
    add('opt/app/lib/new.so', b'new lib\n')
    add('opt/app/lib/.wh..wh..opq', b'')
    add('opt/app/.wh.app.conf', b'')
    add('etc/added', b'added\n', mode=0o600)
EOF
	umoci raw add-layer --image "$img:base" "$img.opaque.tar"
	rm -f "$img.opaque.tar"

	umoci config --image "$img:base" \
		--config.entrypoint /bin/sh --config.entrypoint -c \
		--config.cmd 'echo "$GREETING from $(pwd) as $(id -u):$(id -g) groups $(id -G)"' \
		--config.env GREETING=hello --config.env PATH=/bin \
		--config.workingdir /srv/work --config.user app \
		--config.label org.example.team=berth --config.label version=1.2 \
		--config.exposedports 8080/tcp --config.exposedports 53/udp \
		--config.stopsignal SIGUSR1
}

# tree_listing DIR: one line per entry under DIR, sorted: path, type, mode,
# owner, mtime (not for directories: entries landing in them change it), and
# by type the content's sha256 and link count, the link target or the device
# numbers; then every xattr (getfattr, hex values).
tree_listing() {
	local root=$1 path type mode owner mtime nlink rest
	(cd "$root" && find . -mindepth 1 -printf '%P\t%y\t%#m\t%U:%G\t%T@\t%n\n' | LC_ALL=C sort) |
		while IFS=$'\t' read -r path type mode owner mtime nlink; do
			rest=
			case $type in
			f) rest="$(sha256sum <"$root/$path" | cut -c1-64) nlink=$nlink" ;;
			l) rest="-> $(readlink "$root/$path")" ;;
			c | b) rest="dev=$(stat -c '%t:%T' "$root/$path")" ;;
			d) mtime=- ;;
			esac
			printf '%s %s %s %s %s %s' "$path" "$type" "$mode" "$owner" "$mtime" "$rest"
			getfattr -h -d -m - -e hex --absolute-names "$root/$path" 2>/dev/null |
				sed -n 's/^\([^#].*\)$/ \1/p' | tr -d '\n'
			printf '\n'
		done
}

# assert_same_tree A B: tree_listing of both, diffed.
assert_same_tree() {
	tree_listing "$1" >"$TEST_DIR/a.txt"
	tree_listing "$2" >"$TEST_DIR/b.txt"
	[ -s "$TEST_DIR/a.txt" ] || fail "$1 is empty"
	run diff -u "$TEST_DIR/a.txt" "$TEST_DIR/b.txt"
	assert_success
}

# unpack ARGS...: berth unpack, like bats' run (status, output = stderr+stdout).
unpack() {
	run berth unpack "$@"
	echo "# berth unpack $*: exit $status: $output"
}

# assert_failed_cleanly PATTERN...: the unpack failed naming every PATTERN
# (fixed strings) and left no bundle.
assert_failed_cleanly() {
	local p
	assert_failure
	for p in "$@"; do
		assert_output --partial "$p"
	done
	[ ! -e "$B" ] || fail "bundle $B left behind: $(ls -la "$B")"
}

# run_bundle DIR: `berth run` of the unpacked bundle in the foreground.
run_bundle() {
	run --separate-stderr berth run --bundle "$1" "unpack-${TEST_DIR##*.}" </dev/null
	[ -z "$stderr" ] || echo "# stderr of berth run: $stderr"
}

# ---- hand edits of a layout: blobs, manifest, config, index.json ----

blob_path() { # LAYOUT DIGEST
	echo "$1/blobs/${2%%:*}/${2#*:}"
}

put_blob() { # LAYOUT FILE: prints the digest
	local d
	d=sha256:$(sha256sum <"$2" | cut -c1-64)
	cp "$2" "$(blob_path "$1" "$d")"
	echo "$d"
}

manifest_digest() { # LAYOUT TAG
	jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
		"$1/index.json"
}

manifest_path() { # LAYOUT TAG
	blob_path "$1" "$(manifest_digest "$1" "$2")"
}

# edit_manifest LAYOUT TAG FILTER [JQ ARGS]: the manifest rewritten with jq,
# stored as a new blob and index.json's entry of TAG pointed at it.
edit_manifest() {
	local l=$1 tag=$2 filter=$3 d
	shift 3
	jq -c "$filter" "$@" "$(manifest_path "$l" "$tag")" >"$TEST_DIR/manifest.json" || fail "jq: $filter"
	d=$(put_blob "$l" "$TEST_DIR/manifest.json")
	jq --arg t "$tag" --arg d "$d" --argjson s "$(stat -c %s "$TEST_DIR/manifest.json")" \
		'(.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t)) |= (.digest = $d | .size = $s)' \
		"$l/index.json" >"$TEST_DIR/index.json"
	mv "$TEST_DIR/index.json" "$l/index.json"
}

# edit_config LAYOUT TAG FILTER [JQ ARGS]: the image config likewise.
edit_config() {
	local l=$1 tag=$2 filter=$3 d
	shift 3
	jq -c "$filter" "$@" "$(blob_path "$l" "$(jq -r .config.digest "$(manifest_path "$l" "$tag")")")" \
		>"$TEST_DIR/config.json" || fail "jq: $filter"
	d=$(put_blob "$l" "$TEST_DIR/config.json")
	edit_manifest "$l" "$tag" '.config.digest = $d | .config.size = $s' --arg d "$d" \
		--argjson s "$(stat -c %s "$TEST_DIR/config.json")"
}

# add_raw_layer LAYOUT TAG TAR: TAR appended as an uncompressed layer.
add_raw_layer() {
	local l=$1 tag=$2 d
	d=$(put_blob "$l" "$3")
	edit_config "$l" "$tag" '.rootfs.diff_ids += [$d]' --arg d "$d"
	edit_manifest "$l" "$tag" '.layers += [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $d, size: $s}]' \
		--arg d "$d" --argjson s "$(stat -c %s "$3")"
}

copy_layout() { # -> $TEST_DIR/layout
	cp -a "$IMG" "$TEST_DIR/layout"
	L=$TEST_DIR/layout
}

layer_digest() { # LAYOUT TAG N
	jq -r ".layers[$3].digest" "$(manifest_path "$1" "$2")"
}

# ---- the image itself ----

@test "unpack: umoci's image unpacked by berth is umoci's unpack, file by file" {
	umoci unpack --image "$IMG:base" "$TEST_DIR/umoci" >/dev/null
	unpack --image "$IMG:base" "$B"
	assert_success
	assert_output ""
	[ -f "$B/config.json" ] || fail "no config.json"
	# WorkingDir is made by berth (umoci leaves it to the runtime)
	[ -d "$B/rootfs/srv/work" ] || fail "WorkingDir /srv/work not made"
	rmdir "$B/rootfs/srv/work" "$B/rootfs/srv"
	assert_same_tree "$TEST_DIR/umoci/rootfs" "$B/rootfs"

	# and what the layers meant
	run cat "$TEST_DIR/b.txt"
	assert_line --regexp '^usr/bin/tool f 04755 0:0 [0-9.]+ [0-9a-f]{64} nlink=1 security\.capability=0x0100000200240000000000000000000000000000$'
	assert_line --regexp '^etc/hosts f 0640 1000:2000 981173106\.0+ [0-9a-f]{64} nlink=1 user\.comment=0x686f7374732066696c65$'
	assert_line --regexp '^etc/dangling l 0777 33:33 981173106\.0+ -> /nonexistent/abs$'
	assert_line --regexp '^opt/keep/one f 0644 0:0 981173106\.0+ [0-9a-f]{64} nlink=2$'
	assert_line --regexp '^dev/null c 0666 0:0 [0-9.]+ dev=1:3$'
	assert_line --regexp '^dev/loop0 b 0660 0:0 [0-9.]+ dev=7:0$'
	assert_line --regexp '^opt/keep/pipe p 0600 0:0 '
	assert_line 'opt/app d 0755 0:0 -  user.dir=0x646972207861747472'
	assert_line --regexp '^opt/app/lib/new\.so f 0644 0:0 1600000000\.0+ '
	assert_line --regexp '^etc/tool-link d 0755 '
	assert_line --regexp '^etc/tool-link/file f '
	refute_line --regexp '^opt/app/lib/(a|b)\.so'
	refute_line --regexp '^opt/app/app\.conf'
	refute_line --regexp '^var/cache/apt'
	refute_line --regexp '^etc/fifo'
	refute_line --regexp '^usr/bin/tool-alias'
	refute_line --regexp '\.wh\.'
	# the bundle as `berth run` needs it
	run stat -c '%a %U' "$B/rootfs"
	assert_output "755 root"
}

@test "unpack: config.json from the image config, as umoci converts it, and it runs" {
	umoci unpack --image "$IMG:base" "$TEST_DIR/umoci" >/dev/null
	unpack --image "$IMG:base" "$B"
	assert_success
	local f
	for f in .process.args .process.cwd .process.user; do
		run diff <(jq -S "$f" "$TEST_DIR/umoci/config.json") <(jq -S "$f" "$B/config.json")
		assert_success
	done
	run jq -c '.process.args' "$B/config.json"
	assert_output '["/bin/sh","-c","echo \"$GREETING from $(pwd) as $(id -u):$(id -g) groups $(id -G)\""]'
	# Env as the image gives it (umoci adds HOME and TERM; berth run adds HOME)
	run jq -c '.process.env' "$B/config.json"
	assert_output '["GREETING=hello","PATH=/bin"]'
	run jq -c '[.process.cwd, .process.user, .process.terminal, .root]' "$B/config.json"
	assert_output '["/srv/work",{"uid":1000,"gid":1000,"additionalGids":[50,29]},false,{"path":"rootfs","readonly":false}]'
	run jq -cS '.annotations | del(.["org.opencontainers.image.created"])' "$B/config.json"
	assert_output '{"org.example.team":"berth","org.opencontainers.image.architecture":"amd64","org.opencontainers.image.exposedPorts":"53/udp,8080/tcp","org.opencontainers.image.os":"linux","org.opencontainers.image.stopSignal":"SIGUSR1","version":"1.2"}'
	run jq -r '.annotations["org.opencontainers.image.created"]' "$B/config.json"
	assert_output --regexp '^[0-9]{4}-[0-9]{2}-[0-9]{2}T'
	# berth spec's defaults under it
	run jq -r '.linux.namespaces | map(.type) | sort | join(",")' "$B/config.json"
	assert_output "cgroup,ipc,mount,network,pid,uts"

	run_bundle "$B"
	assert_success
	assert_output "hello from /srv/work as 1000:1000 groups 1000 29 50"
}

@test "unpack: ARGS replace Cmd, --entrypoint replaces Entrypoint and drops Cmd, --tty" {
	unpack --image "$IMG:base" "$B" 'echo args $GREETING'
	assert_success
	run jq -c .process.args "$B/config.json"
	assert_output '["/bin/sh","-c","echo args $GREETING"]'
	run_bundle "$B"
	assert_success
	assert_output "args hello"
	rm -rf "$B"

	unpack --image "$IMG:base" --entrypoint /bin/id "$B"
	assert_success
	run jq -c .process.args "$B/config.json"
	assert_output '["/bin/id"]'
	run_bundle "$B"
	assert_success
	# the groups listing the user, not its primary group (as runc sets them)
	assert_output "uid=1000(app) gid=1000(app) groups=29(audio),50(staff)"
	rm -rf "$B"

	unpack --image "$IMG:base" --entrypoint /bin/echo "$B" one two
	assert_success
	run jq -c .process.args "$B/config.json"
	assert_output '["/bin/echo","one","two"]'
	rm -rf "$B"

	# an empty entrypoint: the arguments alone
	unpack --image "$IMG:base" --entrypoint "" "$B" /bin/pwd
	assert_success
	run jq -c .process.args "$B/config.json"
	assert_output '["/bin/pwd"]'
	run_bundle "$B"
	assert_success
	assert_output "/srv/work"
	rm -rf "$B"

	unpack --image "$IMG:base" --tty "$B"
	assert_success
	run jq -c .process.terminal "$B/config.json"
	assert_output true
	rm -rf "$B"

	# nothing to run at all
	unpack --image "$IMG:base" --entrypoint "" "$B"
	assert_failed_cleanly "no Entrypoint or Cmd"
}

@test "unpack: User by name, by uid, by uid:gid and name:group, through the image's passwd and group" {
	copy_layout
	local user want
	while IFS='|' read -r user want; do
		umoci config --image "$L:base" --tag u --config.user "$user"
		unpack --image "$L:u" "$B"
		assert_success
		run jq -c .process.user "$B/config.json"
		assert_output "$want"
		rm -rf "$B"
	done <<-'EOF'
		svc|{"uid":2001,"gid":2002,"additionalGids":[29,3000]}
		2001|{"uid":2001,"gid":2002,"additionalGids":[29,3000]}
		app:staff|{"uid":1000,"gid":50}
		1000:3000|{"uid":1000,"gid":3000}
		svc:0|{"uid":2001,"gid":0}
		4242|{"uid":4242,"gid":0}
		4242:4343|{"uid":4242,"gid":4343}
		root|{"uid":0,"gid":0,"additionalGids":[29]}
	EOF

	# and as berth run applies it
	umoci config --image "$L:base" --tag u --config.user svc --clear config.entrypoint \
		--config.cmd /bin/id
	unpack --image "$L:u" "$B"
	assert_success
	run_bundle "$B"
	assert_success
	assert_output "uid=2001(svc) gid=2002(svcgrp) groups=29(audio),3000(other)"
	rm -rf "$B"

	umoci config --image "$L:base" --tag u --config.user nosuch
	unpack --image "$L:u" "$B"
	assert_failed_cleanly "User \`nosuch\`" "no such user"
	umoci config --image "$L:base" --tag u --config.user app:nosuch
	unpack --image "$L:u" "$B"
	assert_failed_cleanly "User \`app:nosuch\`" "no such group"
}

# ---- archives ----

@test "unpack: a docker archive and an OCI archive made by skopeo" {
	unpack --image "$IMG:base" "$TEST_DIR/ref"
	assert_success

	skopeo copy -q "oci:$IMG:base" "docker-archive:$TEST_DIR/docker.tar:example/app:v1"
	unpack --archive "$TEST_DIR/docker.tar" "$B"
	assert_success
	assert_same_tree "$TEST_DIR/ref/rootfs" "$B/rootfs"
	run diff <(jq -S 'del(.annotations)' "$TEST_DIR/ref/config.json") <(jq -S 'del(.annotations)' "$B/config.json")
	assert_success
	run_bundle "$B"
	assert_success
	assert_output "hello from /srv/work as 1000:1000 groups 1000 29 50"
	rm -rf "$B"
	# by the name skopeo wrote in RepoTags (normalized as docker does)
	unpack --archive "$TEST_DIR/docker.tar" --ref docker.io/example/app:v1 "$B"
	assert_success
	rm -rf "$B"
	unpack --archive "$TEST_DIR/docker.tar" --ref docker.io/example/app:v2 "$B"
	assert_failed_cleanly "docker.io/example/app:v2" "not found"

	skopeo copy -q "oci:$IMG:base" "oci-archive:$TEST_DIR/oci.tar:v1"
	unpack --archive "$TEST_DIR/oci.tar" --ref v1 "$B"
	assert_success
	assert_same_tree "$TEST_DIR/ref/rootfs" "$B/rootfs"
	run diff "$TEST_DIR/ref/config.json" "$B/config.json"
	assert_success
	rm -rf "$B"
	unpack --archive "$TEST_DIR/oci.tar" --ref v2 "$B"
	assert_failed_cleanly "\`v2\`" "not found"

	# not an archive at all
	echo "not a tar" >"$TEST_DIR/junk.tar"
	unpack --archive "$TEST_DIR/junk.tar" "$B"
	assert_failed_cleanly "junk.tar"
}

# ---- platforms ----

@test "unpack: --platform picks a manifest from a multi-platform index; none matching lists them" {
	copy_layout
	local host d
	mkdir -p "$TEST_DIR/p/amd64" "$TEST_DIR/p/arm64"
	echo amd64 >"$TEST_DIR/p/amd64/platform"
	echo arm64 >"$TEST_DIR/p/arm64/platform"
	tar -C "$TEST_DIR/p/amd64" -cf "$TEST_DIR/amd64.tar" platform
	tar -C "$TEST_DIR/p/arm64" -cf "$TEST_DIR/arm64.tar" platform
	umoci config --image "$L:base" --tag amd --clear config.entrypoint --config.cmd /bin/cat \
		--config.cmd /platform
	umoci config --image "$L:amd" --tag arm --architecture arm64
	edit_config "$L" arm '.variant = "v8"'
	add_raw_layer "$L" amd "$TEST_DIR/amd64.tar"
	add_raw_layer "$L" arm "$TEST_DIR/arm64.tar"
	# an image index of both, tagged `multi`
	jq -n --arg a "$(manifest_digest "$L" amd)" --argjson asize "$(stat -c %s "$(manifest_path "$L" amd)")" \
		--arg b "$(manifest_digest "$L" arm)" --argjson bsize "$(stat -c %s "$(manifest_path "$L" arm)")" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
		  {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $b, size: $bsize,
		   platform: {os: "linux", architecture: "arm64", variant: "v8"}},
		  {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $asize,
		   platform: {os: "linux", architecture: "amd64"}}]}' >"$TEST_DIR/index-blob.json"
	d=$(put_blob "$L" "$TEST_DIR/index-blob.json")
	jq --arg d "$d" --argjson s "$(stat -c %s "$TEST_DIR/index-blob.json")" \
		'.manifests += [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
		  annotations: {"org.opencontainers.image.ref.name": "multi"}}]' "$L/index.json" >"$TEST_DIR/i.json"
	mv "$TEST_DIR/i.json" "$L/index.json"

	unpack --image "$L:multi" --platform linux/arm64 "$B"
	assert_success
	run cat "$B/rootfs/platform"
	assert_output arm64
	run jq -r '.annotations["org.opencontainers.image.architecture"] + " " + .annotations["org.opencontainers.image.variant"]' \
		"$B/config.json"
	assert_output "arm64 v8"
	rm -rf "$B"

	unpack --image "$L:multi" --platform linux/arm64/v8 "$B"
	assert_success
	run cat "$B/rootfs/platform"
	assert_output arm64
	rm -rf "$B"

	unpack --image "$L:multi" --platform linux/amd64 "$B"
	assert_success
	run cat "$B/rootfs/platform"
	assert_output amd64
	rm -rf "$B"

	# no --platform: this host's
	case $(uname -m) in
	x86_64) host=amd64 ;;
	aarch64) host=arm64 ;;
	*) host= ;;
	esac
	if [ -n "$host" ]; then
		unpack --image "$L:multi" "$B"
		assert_success
		run cat "$B/rootfs/platform"
		assert_output "$host"
		rm -rf "$B"
	fi

	unpack --image "$L:multi" --platform linux/s390x "$B"
	assert_failed_cleanly "linux/s390x" "linux/arm64/v8" "linux/amd64"
	unpack --image "$L:multi" --platform linux/arm64/v7 "$B"
	assert_failed_cleanly "linux/arm64/v7" "available"
	unpack --image "$L:multi" --platform arm64 "$B"
	assert_failed_cleanly "--platform \`arm64\`"

	# a single image whose config is for another platform than the one asked
	unpack --image "$L:arm" --platform linux/amd64 "$B"
	assert_failed_cleanly "linux/amd64" "arm64"
}

# ---- what must fail, leaving nothing ----

@test "unpack: a corrupt layer blob fails naming its digest and leaves no bundle" {
	copy_layout
	local d f
	# the last layer: the first ones are applied by then, and removed again
	d=$(layer_digest "$L" base 2)
	f=$(blob_path "$L" "$d")
	chmod u+w "$f"
	printf '%02x' $((0x$(xxd -s 100 -l 1 -p "$f") ^ 0x01)) | xxd -r -p | dd of="$f" bs=1 seek=100 conv=notrunc status=none
	unpack --image "$L:base" "$B"
	assert_failed_cleanly "$d" "digest mismatch"

	# the first layer, a byte in the middle
	d=$(layer_digest "$L" base 0)
	f=$(blob_path "$L" "$d")
	chmod u+w "$f"
	printf '\x00\x01\x02\x03' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") / 2)) conv=notrunc status=none
	unpack --image "$L:base" "$B"
	assert_failed_cleanly "$d"
}

@test "unpack: a missing layer blob fails naming its digest" {
	copy_layout
	local d
	d=$(layer_digest "$L" base 1)
	rm "$(blob_path "$L" "$d")"
	unpack --image "$L:base" "$B"
	assert_failed_cleanly "$d"
}

@test "unpack: a layer whose size is not the manifest's fails naming its digest" {
	copy_layout
	local d
	d=$(layer_digest "$L" base 1)
	edit_manifest "$L" base '.layers[1].size += 7'
	unpack --image "$L:base" "$B"
	assert_failed_cleanly "$d" "size"
	edit_manifest "$L" base '.layers[1].size -= 8'
	unpack --image "$L:base" "$B"
	assert_failed_cleanly "$d" "size"
	# and a missing config blob
	d=$(jq -r .config.digest "$(manifest_path "$L" base)")
	rm "$(blob_path "$L" "$d")"
	unpack --image "$L:base" "$B"
	assert_failed_cleanly "$d"
}

# hostile_tar FILE ENTRY...: a tar made by python's tarfile; ENTRY is
# `f:NAME` (a file), `l:NAME:TARGET` (a symlink) or `h:NAME:TARGET` (a hard link).
hostile_tar() {
	python3 - "$@" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    for e in sys.argv[2:]:
        kind, name, *rest = e.split(':', 2)
        i = tarfile.TarInfo(name)
        i.mtime = 1600000000
        data = None
        if kind == 'f':
            data = b'pwned\n'
            i.size, i.mode = len(data), 0o644
        elif kind == 'l':
            i.type, i.linkname, i.mode = tarfile.SYMTYPE, rest[0], 0o777
        elif kind == 'h':
            i.type, i.linkname = tarfile.LNKTYPE, rest[0]
        t.addfile(i, io.BytesIO(data) if data is not None else None)
EOF
}

# outside_snapshot: what exists around the bundle (in $TEST_DIR, minus the
# layout and bundle) and at the host paths a hostile layer aims at.
outside_snapshot() {
	(cd "$TEST_DIR" && find . -path ./layout -prune -o -path ./bundle -prune -o -print | sort)
	ls -la /tmp/berth-unpack-pwned* /etc/berth-unpack-pwned 2>&1 || true
}

@test "unpack: a hostile layer (../ after a symlink to an absolute path) fails naming the entry, nothing lands outside" {
	local before
	copy_layout
	mkdir "$TEST_DIR/outside"
	hostile_tar "$TEST_DIR/evil.tar" "l:escape:$TEST_DIR/outside" "f:escape/pwned" \
		"f:../../outside/dotdot" "f:after"
	add_raw_layer "$L" base "$TEST_DIR/evil.tar"
	before=$(outside_snapshot)
	unpack --image "$L:base" "$B"
	assert_failed_cleanly "../../outside/dotdot" "escapes"
	run diff <(echo "$before") <(outside_snapshot)
	assert_success
	run ls -A "$TEST_DIR/outside"
	assert_output ""

	# a ../ deep enough to reach the host's /, alone
	copy_layout_again() { rm -rf "$TEST_DIR/layout" && copy_layout; }
	copy_layout_again
	hostile_tar "$TEST_DIR/evil2.tar" "f:../../../../../../../../tmp/berth-unpack-pwned-${TEST_DIR##*.}"
	add_raw_layer "$L" base "$TEST_DIR/evil2.tar"
	unpack --image "$L:base" "$B"
	assert_failed_cleanly "tmp/berth-unpack-pwned-${TEST_DIR##*.}" "escapes"
	[ ! -e "/tmp/berth-unpack-pwned-${TEST_DIR##*.}" ] || fail "a file was written to the host's /tmp"

	# a hard link to a host file through ../
	copy_layout_again
	hostile_tar "$TEST_DIR/evil3.tar" "h:passwd-link:../../../../../../etc/passwd"
	add_raw_layer "$L" base "$TEST_DIR/evil3.tar"
	unpack --image "$L:base" "$B"
	assert_failed_cleanly "passwd-link"
}

@test "unpack: a symlink to an absolute path then a write through it stays inside the rootfs, as with umoci" {
	local before
	copy_layout
	mkdir "$TEST_DIR/outside"
	hostile_tar "$TEST_DIR/evil.tar" "l:escape:$TEST_DIR/outside" "f:escape/pwned" \
		"l:etc-link:/etc" "f:etc-link/berth-unpack-pwned"
	add_raw_layer "$L" base "$TEST_DIR/evil.tar"
	before=$(outside_snapshot)
	unpack --image "$L:base" "$B"
	assert_success
	run diff <(echo "$before") <(outside_snapshot)
	assert_success
	run ls -A "$TEST_DIR/outside"
	assert_output ""
	# the writes landed where the symlinks point inside the rootfs
	run cat "$B/rootfs$TEST_DIR/outside/pwned" "$B/rootfs/etc/berth-unpack-pwned"
	assert_output $'pwned\npwned'
	umoci unpack --image "$L:base" "$TEST_DIR/umoci" >/dev/null
	rmdir "$B/rootfs/srv/work" "$B/rootfs/srv"
	assert_same_tree "$TEST_DIR/umoci/rootfs" "$B/rootfs"
}

@test "unpack: an existing bundle is an error and is left as it was" {
	mkdir "$B"
	echo mine >"$B/keep"
	run berth unpack --image "$IMG:base" "$B"
	assert_failure
	assert_output --partial "bundle \`$B\` already exists"
	run cat "$B/keep"
	assert_output mine
	run ls -A "$B"
	assert_output keep
	# an empty directory too
	rm "$B/keep"
	run berth unpack --image "$IMG:base" "$B"
	assert_failure
	assert_output --partial "already exists"
	# a file
	rmdir "$B" && touch "$B"
	run berth unpack --image "$IMG:base" "$B"
	assert_failure
	assert_output --partial "already exists"
	[ -f "$B" ] && [ ! -s "$B" ] || fail "$B changed"
}

@test "unpack: an unknown reference, layout or usage is an error naming it" {
	unpack --image "$IMG:nosuchtag" "$B"
	assert_failed_cleanly "nosuchtag" "not found"
	unpack --image "$IMG" --ref nosuchtag "$B"
	assert_failed_cleanly "nosuchtag" "not found"
	unpack --image "$IMG:sha256:$(printf '0%.0s' {1..64})" "$B"
	assert_failed_cleanly "sha256:0000"
	unpack --image "$TEST_DIR/nolayout:base" "$B"
	assert_failed_cleanly "$TEST_DIR/nolayout"
	unpack --image "$IMG:base"
	assert_failure
	assert_output --partial "usage"
	unpack "$B"
	assert_failed_cleanly "layout"
	unpack --image "$IMG:base" --archive "$TEST_DIR/x.tar" "$B"
	assert_failed_cleanly
	# by digest works
	unpack --image "$IMG:$(manifest_digest "$IMG" base)" "$B"
	assert_success
}
