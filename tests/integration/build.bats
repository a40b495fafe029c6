#!/usr/bin/env bats
# berth-build: Dockerfiles built into OCI layouts, checked with the tools
# that consume them (umoci unpack, skopeo inspect) and run with berth.
#
# The base image is made here: a busybox root filesystem (every applet a
# symlink, /etc/passwd with root and user) tarred into one layer by umoci,
# tagged `1` in $BASE. Each test gets its own context, cache directory and
# output layout under $TEST_DIR; teardown checks that no overlay mount,
# container, cgroup or temporary directory of berth-build was left.

load helpers

BUILD_BIN=${BUILD_BIN:-$BERTH_BUILDDIR/berth-build}

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	command -v umoci >/dev/null && command -v skopeo >/dev/null && command -v jq >/dev/null || return 0
	BUILD_IMAGE_DIR=$(mktemp -d /tmp/berth-build-image.XXXXXX)
	make_busybox_base_layout "$BUILD_IMAGE_DIR"
	export BUILD_IMAGE_DIR
}

teardown_file() {
	[ -n "${BUILD_IMAGE_DIR:-}" ] && rm -rf "$BUILD_IMAGE_DIR"
	return 0
}

setup() {
	requires root
	local tool
	for tool in umoci skopeo jq; do
		command -v "$tool" >/dev/null || skip "requires $tool"
	done
	[ -x "$BUILD_BIN" ] || fail "$BUILD_BIN is missing: make berth-build"
	[ -x "${BERTH_BIN%/*}/berth-unpack" ] || fail "${BERTH_BIN%/*}/berth-unpack is missing: make berth-unpack"
	TEST_DIR=$(mktemp -d /tmp/berth-build-test.XXXXXX)
	chmod 0755 "$TEST_DIR"
	CTX=$TEST_DIR/ctx
	OUT=$TEST_DIR/out
	CACHE=$TEST_DIR/cache
	BERTH_ROOT=$TEST_DIR/state
	mkdir -p "$CTX"
	BASE=$BUILD_IMAGE_DIR/base
	# --no-cache builds make their temporary cache in $TMPDIR: the test's own
	export TMPDIR=$TEST_DIR/tmpdir
	mkdir -p "$TMPDIR"
	VARTMP_BEFORE=$(vartmp_dirs)
}

teardown() {
	[ -n "${HTTP_PID:-}" ] && kill "$HTTP_PID" 2>/dev/null && wait "$HTTP_PID" 2>/dev/null
	[ -n "${AGENT_PID:-}" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	[ -n "${TEST_DIR:-}" ] && [ -d "$TEST_DIR" ] || return 0
	local errors=
	# the builder's mounts lived in its own mount namespace: none here
	grep -q "$TEST_DIR" /proc/self/mountinfo && errors+="mounts left: $(grep "$TEST_DIR" /proc/self/mountinfo); "
	# its containers: state under the build's temporary directory, gone
	if [ -d "$CACHE/tmp" ] && [ -n "$(ls -A "$CACHE/tmp")" ]; then
		errors+="temporary build directories left: $(ls "$CACHE/tmp"); "
	fi
	[ "$(vartmp_dirs)" = "$VARTMP_BEFORE" ] || errors+="--no-cache directories left: $(vartmp_dirs); "
	if [ -d /sys/fs/cgroup/berth-build ] && find /sys/fs/cgroup/berth-build -mindepth 1 -type d | grep -q .; then
		errors+="cgroups left: $(find /sys/fs/cgroup/berth-build -mindepth 1 -type d); "
	fi
	for id in $(berth list -q 2>/dev/null); do
		berth delete --force "$id" >/dev/null 2>&1
	done
	rm -rf "$TEST_DIR"
	[ -z "$errors" ] || fail "teardown: $errors"
}

vartmp_dirs() {
	find "$TMPDIR" -maxdepth 1 -name 'berth-build.*' | sort
}

berth() {
	timeout "$BERTH_CMD_TIMEOUT" "$BERTH_BIN" --root "$BERTH_ROOT" "$@"
}

# build [ARGS...]: berth-build with the base image as `busybox`, the test's
# cache and output; the manifest digest is on stdout.
build() {
	timeout 300 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" --cache-dir "$CACHE" \
		--output "type=oci,dest=$OUT" "$@"
}

# run_image_cmd LAYOUT TAG CMD...: berth unpack of LAYOUT:TAG, berth run of CMD in it.
run_image_cmd() {
	local layout=$1 tag=$2
	shift 2
	rm -rf "$TEST_DIR/bundle"
	berth unpack --image "$layout:$tag" "$TEST_DIR/bundle" >/dev/null
	jq --argjson a "$(printf '%s\n' "$@" | jq -R . | jq -s -c .)" '.process.args = $a' \
		"$TEST_DIR/bundle/config.json" >"$TEST_DIR/config.json"
	mv "$TEST_DIR/config.json" "$TEST_DIR/bundle/config.json"
	berth run --bundle "$TEST_DIR/bundle" "build-test-$$"
}

# run_image [LAYOUT]: berth unpack + berth run of the only image of LAYOUT.
run_image() {
	local layout=${1:-$OUT}
	rm -rf "$TEST_DIR/bundle"
	berth unpack --image "$layout" "$TEST_DIR/bundle"
	berth run --bundle "$TEST_DIR/bundle" "build-test-$$"
}

@test "build: FROM an OCI layout, RUN, COPY, ENV, WORKDIR, CMD: umoci, skopeo and berth accept the image" {
	echo "copied content" >"$CTX/hello.txt"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		ARG WHO=world
		RUN echo "written by RUN for $WHO" > /run.txt
		WORKDIR /app
		COPY hello.txt ./
		ENV GREETING=hi PATH=/bin:/usr/bin
		LABEL org.example.test=yes
		EXPOSE 8080
		CMD ["sh", "-c", "cat /run.txt hello.txt; echo $GREETING; pwd"]
	EOF
	run -0 build -t app:1 "$CTX"
	digest=${lines[-1]}
	[[ $digest == sha256:* ]] || fail "no manifest digest printed: $output"
	[[ $output == *"Dockerfile:3: RUN echo"* ]]

	# the layout: tagged, and skopeo reads the manifest and the config
	run -0 jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$OUT/index.json"
	assert_output "app:1"
	run -0 skopeo inspect "oci:$OUT:app:1"
	assert_equal "$(jq -r .Digest <<<"$output")" "$digest"
	assert_equal "$(jq -r '.Layers | length' <<<"$output")" 4 # base, RUN, WORKDIR, COPY
	run -0 skopeo inspect --config "oci:$OUT:app:1"
	cfg=$output
	assert_equal "$(jq -c .config.Env <<<"$cfg")" '["PATH=/bin:/usr/bin","GREETING=hi"]'
	assert_equal "$(jq -r .config.WorkingDir <<<"$cfg")" /app
	assert_equal "$(jq -c .config.Cmd <<<"$cfg")" '["sh","-c","cat /run.txt hello.txt; echo $GREETING; pwd"]'
	assert_equal "$(jq -r '.config.Labels["org.example.test"]' <<<"$cfg")" yes
	assert_equal "$(jq -c .config.ExposedPorts <<<"$cfg")" '{"8080/tcp":{}}'
	assert_equal "$(jq -r '.history[-1].created_by' <<<"$cfg")" 'CMD ["sh","-c","cat /run.txt hello.txt; echo $GREETING; pwd"]'
	assert_equal "$(jq -r '.history[-1].empty_layer' <<<"$cfg")" true
	assert_equal "$(jq -r '[.history[] | select(.empty_layer != true)] | length' <<<"$cfg")" 4
	assert_equal "$(jq -r '.rootfs.diff_ids | length' <<<"$cfg")" 4

	# umoci unpacks it; the RUN's file and the copied file are there
	run -0 umoci unpack --image "$OUT:app:1" "$TEST_DIR/umoci"
	assert_equal "$(cat "$TEST_DIR/umoci/rootfs/run.txt")" "written by RUN for world"
	assert_equal "$(cat "$TEST_DIR/umoci/rootfs/app/hello.txt")" "copied content"
	assert_equal "$(stat -c %u:%g:%a "$TEST_DIR/umoci/rootfs/app/hello.txt")" 0:0:644
	# the runtime's mount points are not in the RUN's layer
	run -0 bash -c "tar -tzf '$OUT/blobs/sha256/$(jq -r '.layers[1].digest' "$OUT/blobs/sha256/${digest#sha256:}" | cut -d: -f2)'"
	assert_output "run.txt"

	# berth runs it
	run -0 run_image
	assert_output "written by RUN for world
copied content
hi
/app"
}

@test "build: multi-stage: COPY --from a stage and an image, --target builds only what it needs" {
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox AS compile
		RUN mkdir /out && echo artifact > /out/a && echo other > /out/b
		FROM busybox AS never
		RUN echo never built; exit 7
		FROM scratch AS final
		COPY --from=compile /out/a /srv/
		COPY --from=busybox /bin/busybox /bin/sh
		CMD ["/bin/sh", "-c", "cat /srv/a"]
		FROM final AS last
		RUN exit 9
	EOF
	run -0 build --target final -t final:1 "$CTX"
	refute_output --partial "never built"
	refute_output --partial "exit 9"
	run -0 skopeo inspect "oci:$OUT:final:1"
	assert_equal "$(jq -r '.Layers | length' <<<"$output")" 2
	run -0 umoci unpack --image "$OUT:final:1" "$TEST_DIR/umoci"
	run -0 find "$TEST_DIR/umoci/rootfs" -mindepth 1 -printf '%P\n'
	assert_equal "$(sort <<<"$output" | tr '\n' ' ')" "bin bin/sh srv srv/a "
	run -0 run_image
	assert_output artifact

	# without --target: the last stage, which fails
	rm -rf "$OUT"
	run -1 build "$CTX"
	assert_output --partial 'Dockerfile:10: RUN `exit 9`: exit status 9'
	[ ! -e "$OUT" ] || fail "a failed build wrote its output"
}

@test "build: a failing RUN names the Dockerfile line and the exit status, with the command's stderr" {
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		RUN true
		RUN echo "to stderr" >&2 && \
		    exit 3
	EOF
	run -1 build "$CTX"
	assert_output --partial "to stderr"
	assert_output --partial 'Dockerfile:3: RUN `echo "to stderr" >&2 &&     exit 3`: exit status 3'
	[ ! -e "$OUT" ] || fail "a failed build wrote its output"
}

@test "build: a relative --cache-dir and --output serve RUN steps" {
	printf 'FROM busybox\nRUN echo ran > /r\n' >"$CTX/Dockerfile"
	cd "$TEST_DIR"
	run -0 timeout 300 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" --cache-dir cache \
		--output out -t rel:1 ctx
	run -0 umoci unpack --image "$OUT:rel:1" "$TEST_DIR/u"
	assert_equal "$(cat "$TEST_DIR/u/rootfs/r")" ran
}

@test "build: .dockerignore excludes files from the context; COPY ../x is refused" {
	echo keep >"$CTX/keep.txt"
	echo secret >"$CTX/secret.txt"
	mkdir -p "$CTX/logs" "$CTX/sub"
	echo log >"$CTX/logs/a.log"
	echo sub >"$CTX/sub/x.log"
	printf 'secret.txt\nlogs\n**/*.log\n' >"$CTX/.dockerignore"
	echo outside >"$TEST_DIR/x"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		COPY . /ctx/
	EOF
	run -0 build -t ign:1 "$CTX"
	run -0 umoci unpack --image "$OUT:ign:1" "$TEST_DIR/umoci"
	run -0 find "$TEST_DIR/umoci/rootfs/ctx" -mindepth 1 -printf '%P\n'
	assert_equal "$(sort <<<"$output" | tr '\n' ' ')" ".dockerignore Dockerfile keep.txt sub "

	printf 'FROM busybox\nCOPY secret.txt /\n' >"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_output --partial "Dockerfile:2: COPY secret.txt: not found (excluded by .dockerignore)"

	printf 'FROM busybox\nCOPY ../x /x\n' >"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_output --partial "Dockerfile:2: COPY ../x: the path is outside the build context"
	printf 'FROM busybox\nCOPY sub/../../x /x\n' >"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_output --partial "the path is outside the build context"
	# a symlink in the context that points out of it is resolved inside it
	ln -s ../x "$CTX/link"
	printf 'FROM busybox\nCOPY link /x\n' >"$CTX/Dockerfile"
	run -1 build "$CTX"
	refute_output --partial "outside"
}

@test "build: COPY --chown (names from the image's passwd) and --chmod, ADD extracts a local tar" {
	mkdir -p "$CTX/dir/sub"
	echo f >"$CTX/dir/sub/f"
	echo g >"$CTX/g"
	mkdir "$TEST_DIR/t" && echo in-tar >"$TEST_DIR/t/t.txt"
	tar -czf "$CTX/a.tar.gz" -C "$TEST_DIR/t" t.txt
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		COPY --chown=user:staff dir /d
		COPY --chown=1234 --chmod=0600 g /g
		COPY g* /multi/
		ADD a.tar.gz /x/
		USER user
		RUN id -u > /tmp/uid
	EOF
	run -0 build -t own:1 "$CTX"
	run -0 umoci unpack --image "$OUT:own:1" "$TEST_DIR/umoci"
	r=$TEST_DIR/umoci/rootfs
	assert_equal "$(stat -c %u:%g "$r/d" "$r/d/sub" "$r/d/sub/f" | tr '\n' ' ')" "1000:50 1000:50 1000:50 "
	assert_equal "$(stat -c %u:%g:%a "$r/g")" 1234:1234:600
	assert_equal "$(cat "$r/multi/g")" g
	assert_equal "$(cat "$r/x/t.txt")" in-tar
	[ ! -e "$r/x/a.tar.gz" ]
	assert_equal "$(cat "$r/tmp/uid")" 1000
}

@test "build: SOURCE_DATE_EPOCH makes two builds give the same manifest digest" {
	echo data >"$CTX/data"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		RUN echo one > /one && mkdir -p /var/x && touch /var/x/y
		COPY data /data
	EOF
	run -0 env SOURCE_DATE_EPOCH=1700000000 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" \
		--no-cache --output "$TEST_DIR/o1" "$CTX"
	d1=${lines[-1]}
	touch "$CTX/data" # a new mtime: clamped
	sleep 1
	run -0 env SOURCE_DATE_EPOCH=1700000000 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" \
		--no-cache --output "$TEST_DIR/o2" "$CTX"
	d2=${lines[-1]}
	assert_equal "$d1" "$d2"
	run -0 skopeo inspect --config "oci:$TEST_DIR/o1"
	assert_equal "$(jq -r .created <<<"$output")" 2023-11-14T22:13:20Z
	# without it, the created times differ
	run -0 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" --no-cache --output "$TEST_DIR/o3" "$CTX"
	[ "${lines[-1]}" != "$d1" ]
	# with a cache filled by a build without it, a build with it makes its
	# own layers (the cached ones have other times): the same digest again
	run -0 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" --cache-dir "$TEST_DIR/cache" \
		--output "$TEST_DIR/o4" "$CTX"
	run -0 env SOURCE_DATE_EPOCH=1700000000 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" \
		--cache-dir "$TEST_DIR/cache" --output "$TEST_DIR/o5" "$CTX"
	refute_output --partial "(cached)"
	assert_equal "${lines[-1]}" "$d1"
	# and its own layers are cached under it
	run -0 env SOURCE_DATE_EPOCH=1700000000 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" \
		--cache-dir "$TEST_DIR/cache" --output "$TEST_DIR/o6" "$CTX"
	assert_output --partial "(cached)"
	assert_equal "${lines[-1]}" "$d1"
}

@test "build: the layer cache: a second build reuses the RUN's layer; --no-cache runs it again" {
	echo v1 >"$CTX/f"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		RUN date +%s%N > /stamp
		COPY f /f
	EOF
	run -0 build -t c:1 "$CTX"
	l1=$(skopeo inspect "oci:$OUT:c:1" | jq -r '.Layers[1]')
	run -0 build -t c:1 "$CTX"
	assert_output --partial "RUN date +%s%N > /stamp (cached)"
	assert_output --partial "COPY f /f (cached)"
	assert_equal "$(skopeo inspect "oci:$OUT:c:1" | jq -r '.Layers[1]')" "$l1"
	# a changed file misses the COPY's cache, not the RUN's
	echo v2 >"$CTX/f"
	run -0 build -t c:1 "$CTX"
	assert_output --partial "RUN date +%s%N > /stamp (cached)"
	refute_output --partial "COPY f /f (cached)"
	run -0 umoci unpack --image "$OUT:c:1" "$TEST_DIR/umoci"
	assert_equal "$(cat "$TEST_DIR/umoci/rootfs/f")" v2
	# what an interrupted build left in the cache is removed by the next one
	mkdir -p "$CACHE/tmp/b.stale/s1/w/work" && chmod 000 "$CACHE/tmp/b.stale/s1/w/work"
	run -0 build -t c:1 "$CTX"
	[ ! -e "$CACHE/tmp/b.stale" ] || fail "a stale build directory was left"
	# --no-cache runs everything again
	run -0 build --no-cache -t c:1 "$CTX"
	refute_output --partial "(cached)"
	[ "$(skopeo inspect "oci:$OUT:c:1" | jq -r '.Layers[1]')" != "$l1" ]
}

@test "build: a cached COPY reads no unchanged file again; a change behind the old size and mtime still misses" {
	command -v strace >/dev/null || skip "requires strace"
	mkdir -p "$CTX/d"
	for i in $(seq 1 40); do echo "content $i" >"$CTX/d/probe-$i"; done
	head -c 3000000 /dev/urandom >"$CTX/d/probe-big"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		COPY d /d
	EOF
	# files changed in the last second are not trusted by their stat
	sleep 2
	run -0 strace -f -qq -e trace=openat -o "$TEST_DIR/trace1" "$BUILD_BIN" \
		--build-context "busybox=oci-layout://$BASE:1" --cache-dir "$CACHE" --output "$OUT" -t s:1 "$CTX"
	[ -s "$CACHE/statcache" ] || fail "no stat cache was written"
	grep -q 'openat(.*"probe-big", O_RDONLY' "$TEST_DIR/trace1" || fail "the first build did not read the files"
	run -0 strace -f -qq -e trace=openat -o "$TEST_DIR/trace2" "$BUILD_BIN" \
		--build-context "busybox=oci-layout://$BASE:1" --cache-dir "$CACHE" --output "$OUT" -t s:1 "$CTX"
	assert_output --partial "COPY d /d (cached)"
	run grep 'openat(.*"probe-[a-z0-9]*", O_RDONLY' "$TEST_DIR/trace2"
	[ "$status" = 1 ] || fail "the cached build read context files again: $output"

	# new content of the same size, the old mtime put back: ctime tells
	cp -p "$CTX/d/probe-7" "$TEST_DIR/ref"
	echo "CONTENT 7" >"$CTX/d/probe-7"
	touch -r "$TEST_DIR/ref" "$CTX/d/probe-7"
	assert_equal "$(stat -c %s:%Y "$CTX/d/probe-7")" "$(stat -c %s:%Y "$TEST_DIR/ref")"
	run -0 build -t s:1 "$CTX"
	refute_output --partial "(cached)"
	run -0 umoci unpack --image "$OUT:s:1" "$TEST_DIR/umoci"
	assert_equal "$(cat "$TEST_DIR/umoci/rootfs/d/probe-7")" "CONTENT 7"
	# a malformed stat cache is only a cache: ignored and rewritten
	echo garbage >"$CACHE/statcache"
	echo more >"$CTX/d/probe-8"
	run -0 build -t s:1 "$CTX"
	run -0 head -c 23 "$CACHE/statcache"
	assert_output "berth-build statcache 1"
}

@test "build: a COPY that misses links the unchanged files of its previous build: the image --no-cache makes, the old image unchanged" {
	mkdir -p "$CTX/d/sub"
	for i in $(seq 1 30); do echo "file $i" >"$CTX/d/f$i"; done
	head -c 300000 /dev/urandom >"$CTX/d/sub/big"
	echo old >"$CTX/d/changed"
	echo doomed >"$CTX/d/deleted"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		COPY d/ /d/
		RUN cat /d/changed > /seen
	EOF
	# times before SOURCE_DATE_EPOCH are kept in the layer as they are: the
	# directories' too, which links into them must not change
	find "$CTX/d" -exec touch -h -d @1600000000 {} +
	# files changed in the last second are not trusted by their stat
	sleep 2
	export SOURCE_DATE_EPOCH=1700000000
	run -0 build -t r:1 "$CTX"
	refute_output --partial "unchanged files linked"
	# one file changed, one added, one deleted
	echo new >"$CTX/d/changed"
	echo added >"$CTX/d/sub/added"
	rm "$CTX/d/deleted"
	touch -d @1600000100 "$CTX/d" "$CTX/d/sub" "$CTX/d/changed" "$CTX/d/sub/added"
	run -0 build -t r:2 "$CTX"
	refute_output --partial "COPY d/ /d/ (cached)"
	assert_output --partial "31 unchanged files linked from the previous build of the step"
	d2=${lines[-1]}
	# the unchanged files are the previous snapshot's inodes, linked
	big=$(find "$CACHE/steps" -path '*/u/d/sub/big' | head -n 1)
	[ -n "$big" ] && [ "$(stat -c %h "$big")" = 2 ] || fail "no unchanged file was linked: $big"
	# the same image as a build without the cache: the same layers and
	# diff_ids, config and manifest
	run -0 timeout 300 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" --no-cache \
		--output "type=oci,dest=$TEST_DIR/nc" -t r:2 "$CTX"
	assert_equal "${lines[-1]}" "$d2"
	assert_equal "$(skopeo inspect --raw "oci:$OUT:r:2")" "$(skopeo inspect --raw "oci:$TEST_DIR/nc:r:2")"
	assert_equal "$(skopeo inspect --config "oci:$OUT:r:2" | jq -c .rootfs)" \
		"$(skopeo inspect --config "oci:$TEST_DIR/nc:r:2" | jq -c .rootfs)"
	# in the layer the linked file is a regular file with its content,
	# not a hard link to a file of another layer
	layer=$(skopeo inspect "oci:$OUT:r:2" | jq -r '.Layers[1]' | cut -d: -f2)
	run -0 tar -tvzf "$OUT/blobs/sha256/$layer"
	assert_output --regexp '(^|'$'\n'')-[rwx-]{9} 0/0 +300000 [^'$'\n'']* d/sub/big('$'\n''|$)'
	refute_output --partial " link to "
	# the new image has the new content, unpacked and run
	run -0 umoci unpack --image "$OUT:r:2" "$TEST_DIR/u2"
	assert_equal "$(cat "$TEST_DIR/u2/rootfs/d/changed")" new
	assert_equal "$(cat "$TEST_DIR/u2/rootfs/d/sub/added")" added
	[ ! -e "$TEST_DIR/u2/rootfs/d/deleted" ] || fail "the deleted file is in the new image"
	cmp "$CTX/d/sub/big" "$TEST_DIR/u2/rootfs/d/sub/big"
	run -0 run_image_cmd "$OUT" r:2 cat /seen /d/f7
	assert_output "new
file 7"
	# the old one still has the old content: no shared inode was written
	run -0 umoci unpack --image "$OUT:r:1" "$TEST_DIR/u1"
	assert_equal "$(cat "$TEST_DIR/u1/rootfs/d/changed")" old
	assert_equal "$(cat "$TEST_DIR/u1/rootfs/d/deleted")" doomed
	assert_equal "$(cat "$TEST_DIR/u1/rootfs/seen")" old
	[ ! -e "$TEST_DIR/u1/rootfs/d/sub/added" ] || fail "the added file is in the old image"
	# a cache hit on the new step still sees its content
	run -0 build -t r:2 "$CTX"
	assert_output --partial "COPY d/ /d/ (cached)"
	assert_equal "${lines[-1]}" "$d2"
	# the cache pruned: the new image intact, and built again from nothing
	run -0 "$BUILD_BIN" prune --cache-dir "$CACHE" --all
	rm -rf "$TEST_DIR/u2"
	run -0 umoci unpack --image "$OUT:r:2" "$TEST_DIR/u2"
	assert_equal "$(cat "$TEST_DIR/u2/rootfs/d/changed")" new
	cmp "$CTX/d/sub/big" "$TEST_DIR/u2/rootfs/d/sub/big"
	run -0 build -t r:3 "$CTX"
	refute_output --partial "unchanged files linked"
	assert_equal "${lines[-1]}" "$d2"
}

@test "build: a COPY's previous build with a tampered file or record is copied again, not linked" {
	mkdir -p "$CTX/d"
	for i in 1 2 3 4; do echo "file $i" >"$CTX/d/f$i"; done
	printf 'FROM busybox\nCOPY d /d\n' >"$CTX/Dockerfile"
	sleep 2
	run -0 build -t t:1 "$CTX"
	# the previous snapshot's f1 replaced by another inode (content
	# changed behind the cache's back), f2's record pointing elsewhere
	u=$(dirname "$(find "$CACHE/steps" -path '*/u/d/f1')")
	cp "$u/f1" "$u/f1.new" && echo tampered >"$u/f1.new" && touch -r "$u/f1" "$u/f1.new" && mv "$u/f1.new" "$u/f1"
	files=$(dirname "$(dirname "$u")")/files
	sed -i 's|^[0-9]* \(.* d/f2\)$|1 \1|' "$files"
	echo changed >"$CTX/d/f3"
	run -0 build -t t:2 "$CTX"
	# only f4 is linked
	assert_output --partial "1 unchanged files linked from the previous build of the step"
	run -0 umoci unpack --image "$OUT:t:2" "$TEST_DIR/u"
	assert_equal "$(cat "$TEST_DIR/u/rootfs/d/f1")" "file 1"
	assert_equal "$(cat "$TEST_DIR/u/rootfs/d/f2")" "file 2"
	assert_equal "$(cat "$TEST_DIR/u/rootfs/d/f3")" changed
	assert_equal "$(cat "$TEST_DIR/u/rootfs/d/f4")" "file 4"
}

# start_http DIR: a web server of DIR on 127.0.0.1 at a free port ($HTTP_PORT),
# stopped by pid in teardown
start_http() {
	command -v python3 >/dev/null || skip "requires python3 (a local web server)"
	(cd "$1" && exec python3 -u -m http.server --bind 127.0.0.1 0) >"$TEST_DIR/http.log" 2>&1 &
	HTTP_PID=$!
	local i
	for i in $(seq 50); do
		HTTP_PORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$TEST_DIR/http.log")
		[ -n "$HTTP_PORT" ] && return 0
		sleep 0.1
	done
	fail "the web server did not start: $(cat "$TEST_DIR/http.log")"
}

@test "build: ADD of an http URL: mode 0600, mtime from Last-Modified, name from the URL, no extraction, --checksum" {
	mkdir -p "$TEST_DIR/www/sub"
	echo "served over http" >"$TEST_DIR/www/sub/file.txt"
	touch -d '2021-03-04 05:06:07 UTC' "$TEST_DIR/www/sub/file.txt"
	mkdir "$TEST_DIR/t" && echo in-tar >"$TEST_DIR/t/t.txt"
	tar -czf "$TEST_DIR/www/a.tar.gz" -C "$TEST_DIR/t" t.txt
	start_http "$TEST_DIR/www"
	url=http://127.0.0.1:$HTTP_PORT
	sum=$(sha256sum "$TEST_DIR/www/sub/file.txt" | cut -d' ' -f1)
	cat >"$CTX/Dockerfile" <<-EOF
		FROM busybox
		ADD --checksum=sha256:$sum $url/sub/file.txt /dl/
		ADD --chown=user --chmod=0640 $url/sub/file.txt?query=1#frag /named
		ADD $url/a.tar.gz /tars/
		RUN stat -c '%a %u %Y' /dl/file.txt /named /tars/a.tar.gz > /stat
	EOF
	run -0 build -t url:1 "$CTX"
	run -0 umoci unpack --image "$OUT:url:1" "$TEST_DIR/umoci"
	r=$TEST_DIR/umoci/rootfs
	assert_equal "$(cat "$r/dl/file.txt")" "served over http"
	assert_equal "$(cat "$r/named")" "served over http"
	cmp "$r/tars/a.tar.gz" "$TEST_DIR/www/a.tar.gz" || fail "a URL's archive was not kept as it is"
	[ ! -e "$r/tars/t.txt" ] || fail "a URL's archive was extracted"
	mtime=$(date -d '2021-03-04 05:06:07 UTC' +%s)
	tar_mtime=$(stat -c %Y "$TEST_DIR/www/a.tar.gz")
	assert_equal "$(cat "$r/stat" | tr '\n' ' ')" "600 0 $mtime 640 1000 $mtime 600 0 $tar_mtime "

	# unchanged content: a cache hit; changed content: a miss. With
	# --checksum, the hit needs no download (the others are downloaded to
	# know their content)
	gets() { grep -c "\"GET $1 HTTP" "$TEST_DIR/http.log"; }
	assert_equal "$(gets /sub/file.txt)" 1
	run -0 build -t url:1 "$CTX"
	assert_output --partial "ADD $url/sub/file.txt /dl/ (cached)"
	assert_output --partial "ADD $url/a.tar.gz /tars/ (cached)"
	assert_equal "$(gets /sub/file.txt)" 1
	assert_equal "$(gets /a.tar.gz)" 2
	refute_output --partial "ADD: downloading $url/sub/file.txt"$'\n'
	# the same URL and checksum to another place: a miss, downloaded then
	echo "ADD --checksum=sha256:$sum $url/sub/file.txt /dl2/" >>"$CTX/Dockerfile"
	run -0 build -t url:1 "$CTX"
	refute_output --partial "/dl2/ (cached)"
	assert_equal "$(gets /sub/file.txt)" 2
	run -0 umoci unpack --image "$OUT:url:1" "$TEST_DIR/umoci2"
	assert_equal "$(cat "$TEST_DIR/umoci2/rootfs/dl2/file.txt")" "served over http"
	assert_equal "$(stat -c %Y "$TEST_DIR/umoci2/rootfs/dl2/file.txt")" "$mtime"
	echo "new" >"$TEST_DIR/www/a.tar.gz"
	run -0 build -t url:1 "$CTX"
	refute_output --partial "ADD $url/a.tar.gz /tars/ (cached)"

	# a wrong checksum: the URL and both digests; no image (--no-cache: a
	# cached step with that checksum would download nothing, as in BuildKit)
	echo "changed on the server" >"$TEST_DIR/www/sub/file.txt"
	new=$(sha256sum "$TEST_DIR/www/sub/file.txt" | cut -d' ' -f1)
	run -1 build --no-cache -t url:2 "$CTX"
	assert_output --partial "Dockerfile:2: ADD: $url/sub/file.txt: checksum mismatch: expected sha256:$sum, got sha256:$new"
	run -0 jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$OUT/index.json"
	refute_output --partial "url:2"
	# a missing file: the URL and the HTTP status
	printf 'FROM busybox\nADD %s/nothing.txt /x\n' "$url" >"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_output --partial "Dockerfile:2: ADD: $url/nothing.txt: HTTP status 404"
	# into a directory: named as BuildKit names it (the last element of
	# the decoded path, trailing slashes ignored; __unnamed__ without one)
	mkdir "$TEST_DIR/www/a b"
	echo spaced >"$TEST_DIR/www/a b/c d.txt"
	printf 'FROM busybox\nADD %s/ /dir/\nADD %s/sub/ /dir2/\nADD %s/a%%20b/c%%20d.txt?x=1 /dir3/\n' \
		"$url" "$url" "$url" >"$CTX/Dockerfile"
	run -0 build -t url:3 "$CTX"
	run -0 umoci unpack --image "$OUT:url:3" "$TEST_DIR/u3"
	[ -s "$TEST_DIR/u3/rootfs/dir/__unnamed__" ] || fail "no /dir/__unnamed__: $(ls -la "$TEST_DIR/u3/rootfs/dir")"
	[ -s "$TEST_DIR/u3/rootfs/dir2/sub" ] || fail "no /dir2/sub: $(ls -la "$TEST_DIR/u3/rootfs/dir2")"
	assert_equal "$(cat "$TEST_DIR/u3/rootfs/dir3/c d.txt")" spaced
	# COPY takes no URL; --checksum only URLs
	printf 'FROM busybox\nCOPY %s/sub/file.txt /x\n' "$url" >"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_output --partial "Dockerfile:2: source can't be a URL for COPY: $url/sub/file.txt"
	echo local >"$CTX/local.txt"
	printf 'FROM busybox\nADD --checksum=sha256:%s local.txt /x\n' "$sum" >"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_output --partial "Dockerfile:2: checksum can't be specified for non-HTTP(S) sources: local.txt"
	# nothing listens there
	kill "$HTTP_PID" && wait "$HTTP_PID" 2>/dev/null || true
	HTTP_PID=
	printf 'FROM busybox\nADD %s/sub/file.txt /x\n' "$url" >"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_output --partial "Dockerfile:2: ADD: $url/sub/file.txt: "
	refute_output --partial "HTTP status"
}

@test "build: the config instructions land in the image config as Docker writes them" {
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		MAINTAINER someone@example.com
		SHELL ["/bin/sh", "-ec"]
		RUN echo "$0 $-" > /shell
		ENTRYPOINT echo entry
		VOLUME /data /logs
		STOPSIGNAL SIGINT
		HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost || exit 1
		ONBUILD RUN echo child
		EXPOSE 80/udp 443
		USER user
	EOF
	run -0 build -t c:1 "$CTX"
	digest=${lines[-1]}
	cfg=$(jq -r .config.digest "$OUT/blobs/sha256/${digest#sha256:}")
	run -0 jq -c '[.author, .config]' "$OUT/blobs/sha256/${cfg#sha256:}"
	assert_output '["someone@example.com",{"User":"user","ExposedPorts":{"80/udp":{},"443/tcp":{}},"Env":["PATH=/bin"],"Entrypoint":["/bin/sh","-ec","echo entry"],"Volumes":{"/data":{},"/logs":{}},"StopSignal":"SIGINT","Healthcheck":{"Test":["CMD-SHELL","wget -q localhost || exit 1"],"Interval":5000000000,"Retries":2},"OnBuild":["RUN echo child"],"Shell":["/bin/sh","-ec"]}]'
	run -0 jq -r '.history[] | select(.created_by | startswith("RUN")) | .created_by' "$OUT/blobs/sha256/${cfg#sha256:}"
	assert_output 'RUN /bin/sh -ec echo "$0 $-" > /shell # buildkit'
	run -0 umoci unpack --image "$OUT:c:1" "$TEST_DIR/umoci"
	[[ $(cat "$TEST_DIR/umoci/rootfs/shell") == "/bin/sh "*e* ]] || fail "SHELL not used: $(cat "$TEST_DIR/umoci/rootfs/shell")"
}

# config_blob TAG: the config of the image TAG of $OUT, as stored
config_blob() {
	local m
	m=$(jq -r --arg t "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$OUT/index.json")
	cat "$OUT/blobs/sha256/$(jq -r .config.digest "$OUT/blobs/sha256/${m#sha256:}" | cut -d: -f2)"
}

# set_onbuild LAYOUT TAG NEWTAG JSON: the image TAG of LAYOUT again as
# NEWTAG, with its config's OnBuild set to JSON (what another builder may write)
set_onbuild() {
	local l=$1 m c d s
	m=$(jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$l/index.json")
	c=$(jq -r .config.digest "$l/blobs/sha256/${m#sha256:}")
	jq -c --argjson o "$4" '.config.OnBuild = $o' "$l/blobs/sha256/${c#sha256:}" >"$TEST_DIR/blob"
	d=$(sha256sum "$TEST_DIR/blob" | cut -d' ' -f1) s=$(stat -c %s "$TEST_DIR/blob")
	mv "$TEST_DIR/blob" "$l/blobs/sha256/$d"
	jq -c --arg d "sha256:$d" --argjson s "$s" '.config.digest = $d | .config.size = $s' \
		"$l/blobs/sha256/${m#sha256:}" >"$TEST_DIR/blob"
	d=$(sha256sum "$TEST_DIR/blob" | cut -d' ' -f1) s=$(stat -c %s "$TEST_DIR/blob")
	mv "$TEST_DIR/blob" "$l/blobs/sha256/$d"
	jq --arg d "sha256:$d" --argjson s "$s" --arg t "$3" '.manifests |=
		map(select(.annotations["org.opencontainers.image.ref.name"] != $t)) | .manifests += [{"mediaType":
		"application/vnd.oci.image.manifest.v1+json", "digest": $d, "size": $s,
		"annotations": {"org.opencontainers.image.ref.name": $t}}]' "$l/index.json" >"$TEST_DIR/blob"
	mv "$TEST_DIR/blob" "$l/index.json"
}

@test "build: ONBUILD triggers are recorded, then run right after FROM in a build on the image, in order" {
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		ENV WHO=parent
		ONBUILD RUN echo "first trigger, $WHO" > /t1
		ONBUILD COPY child.txt /from-child-context
		ONBUILD ENV SET_BY_TRIGGER=yes
		ONBUILD RUN cat /t1 > /t2 && echo "$SET_BY_TRIGGER" >> /t2
		RUN echo parent > /p
	EOF
	run -0 build -t parent:1 "$CTX"
	# (skopeo's view of a config drops OnBuild, which the OCI spec lacks)
	run -0 config_blob parent:1
	assert_equal "$(jq -c .config.OnBuild <<<"$output")" \
		'["RUN echo \"first trigger, $WHO\" > /t1","COPY child.txt /from-child-context","ENV SET_BY_TRIGGER=yes","RUN cat /t1 > /t2 && echo \"$SET_BY_TRIGGER\" >> /t2"]'
	run -0 umoci unpack --image "$OUT:parent:1" "$TEST_DIR/p"
	[ ! -e "$TEST_DIR/p/rootfs/t1" ] || fail "a trigger ran in the image that declares it"

	# the child: FROM the store's parent:1, with a context of its own
	mkdir "$TEST_DIR/child"
	echo "child's file" >"$TEST_DIR/child/child.txt"
	cat >"$TEST_DIR/child/Dockerfile" <<-'EOF'
		FROM parent:1
		RUN test -f /t2 && cp /t2 /seen-by-child
		ONBUILD RUN echo grandchild
	EOF
	run -0 build -t child:1 "$TEST_DIR/child"
	assert_output --partial 'Dockerfile:1: ONBUILD RUN echo "first trigger, $WHO" > /t1'
	run -0 umoci unpack --image "$OUT:child:1" "$TEST_DIR/c"
	r=$TEST_DIR/c/rootfs
	assert_equal "$(cat "$r/t1")" "first trigger, parent"
	assert_equal "$(cat "$r/from-child-context")" "child's file"
	assert_equal "$(cat "$r/seen-by-child" | tr '\n' ' ')" "first trigger, parent yes "
	run -0 config_blob child:1
	assert_equal "$(jq -c .config.OnBuild <<<"$output")" '["RUN echo grandchild"]'
	assert_equal "$(jq -r '.config.Env[]' <<<"$output" | grep SET_BY_TRIGGER)" SET_BY_TRIGGER=yes
	# a second child build: the triggers' steps come from the cache
	run -0 build -t child:1 "$TEST_DIR/child"
	assert_output --partial 'RUN echo "first trigger, $WHO" > /t1 (cached)'

	# a failing trigger names the FROM line; no image
	printf 'FROM busybox\nONBUILD RUN exit 4\n' >"$CTX/Dockerfile"
	run -0 build -t failing:1 "$CTX"
	printf '# a comment\nFROM failing:1\n' >"$TEST_DIR/child/Dockerfile"
	run -1 build -t broken:1 "$TEST_DIR/child"
	assert_output --partial 'Dockerfile:2: RUN `exit 4`: exit status 4'
	# triggers that ONBUILD refuses, in an image another builder wrote
	for bad in '["FROM busybox"]' '["MAINTAINER x"]' '["ONBUILD RUN true"]'; do
		set_onbuild "$OUT" parent:1 bad:1 "$bad"
		printf 'FROM bad:1\n' >"$TEST_DIR/child/Dockerfile"
		run -1 build -t broken:1 "$TEST_DIR/child"
		assert_output --partial "Dockerfile:1: FROM bad:1: its ONBUILD triggers: ONBUILD:1:1: "
		assert_output --regexp "isn't allowed as an ONBUILD trigger|Chaining ONBUILD via .ONBUILD ONBUILD. isn't allowed"
	done
	run -0 jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$OUT/index.json"
	refute_output --partial broken
}

@test "build: ONBUILD triggers of a stage run in every stage built FROM it, not in grandchildren" {
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox AS base
		ONBUILD RUN echo "trigger ran" >> /t
		RUN echo base > /b
		FROM base AS one
		RUN cat /t > /one
		FROM base AS two
		RUN cat /t > /two
		FROM one AS grandchild
		RUN cat /t > /g
		FROM busybox
		COPY --from=one /one /one
		COPY --from=two /two /two
		COPY --from=grandchild /g /g
		COPY --from=base /b /b
	EOF
	run -0 build -t stages:1 "$CTX"
	run -0 umoci unpack --image "$OUT:stages:1" "$TEST_DIR/u"
	r=$TEST_DIR/u/rootfs
	assert_equal "$(cat "$r/one")" "trigger ran"
	assert_equal "$(cat "$r/two")" "trigger ran"
	# once in `one`, not again in the stage built on it
	assert_equal "$(cat "$r/g")" "trigger ran"
	assert_equal "$(cat "$r/b")" base
	# the stage that declares it keeps it for a child image, its children do not
	printf 'FROM busybox AS base\nONBUILD RUN true\nFROM base\nRUN true\n' >"$CTX/Dockerfile"
	run -0 build -t child:1 --target base "$CTX"
	run -0 config_blob child:1
	assert_equal "$(jq -c .config.OnBuild <<<"$output")" '["RUN true"]'
	run -0 build -t child:2 "$CTX"
	run -0 config_blob child:2
	assert_equal "$(jq -c '.config.OnBuild // []' <<<"$output")" '[]'
}

# blobs_grep LAYOUT TEXT: the blobs of LAYOUT (gunzipped when gzip) that contain TEXT.
blobs_grep() {
	local b
	for b in "$1"/blobs/sha256/*; do
		if gzip -t "$b" 2>/dev/null; then
			gunzip -c "$b" | grep -qa "$2" && echo "$b"
		else
			grep -qa "$2" "$b" && echo "$b"
		fi
	done
	return 0
}

@test "build: RUN --mount: bind, cache, tmpfs and secret mounts, none of them in a layer" {
	mkdir -p "$CTX/src"
	echo from-context >"$CTX/src/f"
	echo s3cr3t-value-42 >"$TEST_DIR/token"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox AS other
		RUN mkdir /o && echo from-stage > /o/g
		FROM busybox
		RUN --mount=type=bind,source=src,target=/mnt/src cat /mnt/src/f > /bound
		RUN --mount=type=bind,from=other,source=/o,target=/o cat /o/g > /stage
		RUN --mount=type=bind,source=src,target=/rw,rw echo scribble > /rw/f && cat /rw/f
		RUN --mount=type=secret,id=tok echo "secret is $(cat /run/secrets/tok)" && stat -c %a /run/secrets/tok > /mode
		RUN --mount=type=secret,id=tok,target=/etc/tok,mode=0440 wc -c < /etc/tok > /len
		RUN --mount=type=cache,target=/var/cache/c,sharing=locked echo run >> /var/cache/c/log && echo "runs: $(wc -l < /var/cache/c/log)"
		RUN --mount=type=tmpfs,target=/scratch,size=1m echo x > /scratch/x && df /scratch | tail -1
	EOF
	run -0 build --secret "id=tok,src=$TEST_DIR/token" -t m:1 "$CTX"
	digest=${lines[-1]}
	assert_output --partial "secret is s3cr3t-value-42"
	assert_output --partial "scribble"
	assert_output --partial "runs: 1"
	[[ $output == *"tmpfs "*" 1024 "*"/scratch"* ]] || fail "no 1m tmpfs: $output"
	# the secret's content is in no blob (gunzipped), not in the cache layout either
	run -0 blobs_grep "$OUT" s3cr3t-value-42
	assert_output ""
	run -0 blobs_grep "$CACHE/layout" s3cr3t-value-42
	assert_output ""
	run -0 umoci unpack --image "$OUT:m:1" "$TEST_DIR/umoci"
	r=$TEST_DIR/umoci/rootfs
	assert_equal "$(cat "$r/bound")" from-context
	assert_equal "$(cat "$r/stage")" from-stage
	assert_equal "$(cat "$r/mode")" 400
	assert_equal "$(cat "$r/len")" 16
	# the mount points made for the run are not in the layers; rw writes vanished
	for p in mnt o rw run etc/tok var/cache scratch; do
		[ ! -e "$r/$p" ] || fail "/$p was left in the image"
	done
	assert_equal "$(cat "$CTX/src/f")" from-context
	for l in $(jq -r '.layers[1:][].digest' "$OUT/blobs/sha256/${digest#sha256:}" | cut -d: -f2); do
		tar -tzf "$OUT/blobs/sha256/$l"
	done >"$TEST_DIR/entries"
	assert_equal "$(sort "$TEST_DIR/entries" | tr '\n' ' ')" "bound len mode stage "

	# a second build: all cached; a changed bind source runs its step again
	run -0 build --secret "id=tok,src=$TEST_DIR/token" -t m:1 "$CTX"
	refute_output --partial "secret is s3cr3t"
	assert_output --partial "(cached)"
	echo changed >"$CTX/src/f"
	run -0 build --secret "id=tok,src=$TEST_DIR/token" -t m:1 "$CTX"
	assert_output --partial "RUN cat /mnt/src/f > /bound"$'\n'
	refute_output --partial "RUN cat /mnt/src/f > /bound (cached)"
	# the cache mount persists between builds (and the steps after a miss run)
	assert_output --partial "runs: 2"
	run -0 build --no-cache --secret "id=tok,src=$TEST_DIR/token" -t m:1 "$CTX"
	assert_output --partial "runs: 3"

	# a required secret that is not given
	printf 'FROM busybox\nRUN --mount=type=secret,id=nope,required cat /run/secrets/nope\n' >"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_output --partial "Dockerfile:2: RUN"
	assert_output --partial "secret \`nope\`: required"
}

@test "build: RUN --mount=type=cache,from=: a new cache starts as a copy of a stage's or an image's directory" {
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox AS seed
		RUN mkdir -p /s/sub && echo seeded > /s/sub/file
		FROM busybox
		RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/s cat /c/sub/file > /got && echo more >> /c/sub/file
		RUN --mount=type=cache,id=seeded,target=/c cat /c/sub/file > /got2
		RUN --mount=type=cache,id=img,target=/i,from=busybox,source=/etc,readonly head -n 1 /i/passwd > /got3
	EOF
	run -0 build -t cm:1 "$CTX"
	run -0 umoci unpack --image "$OUT:cm:1" "$TEST_DIR/u"
	r=$TEST_DIR/u/rootfs
	assert_equal "$(cat "$r/got")" seeded
	assert_equal "$(cat "$r/got2" | tr '\n' ' ')" "seeded more "
	assert_equal "$(cat "$r/got3")" "root:x:0:0:root:/root:/bin/sh"
	[ ! -e "$r/c" ] && [ ! -e "$r/i" ] || fail "a cache mount's target is in the image"
	# the cache outlives the build and is seeded only when it is made
	run -0 build --no-cache -t cm:2 "$CTX"
	run -0 umoci unpack --image "$OUT:cm:2" "$TEST_DIR/u2"
	assert_equal "$(cat "$TEST_DIR/u2/rootfs/got" | tr '\n' ' ')" "seeded more "
	# from= names nothing
	printf 'FROM busybox\nRUN --mount=type=cache,target=/c,from=nosuch true\n' >"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_output --partial "Dockerfile:2: "
	assert_output --partial "from=nosuch: no such stage, and no build context names that image"
	printf 'FROM busybox\nRUN --mount=type=cache,id=x2,target=/c,from=busybox,source=/nonexistent true\n' >"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_output --partial "from=busybox"
	assert_output --partial "/nonexistent"
	[ -z "$(ls "$CACHE/mounts" | grep new-)" ] || fail "a half-made cache was left: $(ls "$CACHE/mounts")"
}

@test "build: RUN --mount=type=ssh binds the agent's socket of --ssh, with SSH_AUTH_SOCK; none of it in the image" {
	command -v ssh-agent >/dev/null || skip "requires ssh-agent (openssh-client)"
	ssh-agent -D -a "$TEST_DIR/agent.sock" >/dev/null 2>&1 &
	AGENT_PID=$!
	for i in $(seq 50); do [ -S "$TEST_DIR/agent.sock" ] && break; sleep 0.1; done
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		RUN --mount=type=ssh echo "$SSH_AUTH_SOCK $(stat -c %i "$SSH_AUTH_SOCK") $(stat -c %F "$SSH_AUTH_SOCK")" > /default
		RUN --mount=type=ssh,id=other,target=/agent,required=true stat -c %i /agent > /other
		RUN --mount=type=ssh,id=absent test ! -e /run/buildkit/ssh_agent.0 && echo none > /absent
	EOF
	run -0 env SSH_AUTH_SOCK="$TEST_DIR/agent.sock" "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" \
		--cache-dir "$CACHE" --output "$OUT" --ssh default --ssh "other=$TEST_DIR/agent.sock" -t ssh:1 "$CTX"
	run -0 umoci unpack --image "$OUT:ssh:1" "$TEST_DIR/u"
	r=$TEST_DIR/u/rootfs
	ino=$(stat -c %i "$TEST_DIR/agent.sock")
	assert_equal "$(cat "$r/default")" "/run/buildkit/ssh_agent.0 $ino socket"
	assert_equal "$(cat "$r/other")" "$ino"
	assert_equal "$(cat "$r/absent")" none
	[ ! -e "$r/run/buildkit" ] && [ ! -e "$r/agent" ] || fail "an ssh mount point is in the image"

	# required and not given; not a socket; uid= cannot apply to a bound socket
	printf 'FROM busybox\nRUN --mount=type=ssh,required=true true\n' >"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_output --partial "Dockerfile:2: "
	assert_output --partial "ssh \`default\`: required, and not given with --ssh default"
	run -1 build --ssh "default=$CTX/Dockerfile" "$CTX"
	assert_output --partial "--ssh default=$CTX/Dockerfile: not a socket"
	printf 'FROM busybox\nRUN --mount=type=ssh,uid=1000 true\n' >"$CTX/Dockerfile"
	run -1 build --ssh "default=$TEST_DIR/agent.sock" "$CTX"
	assert_output --partial "uid, gid and mode are not supported"
	run -2 env -u SSH_AUTH_SOCK "$BUILD_BIN" --ssh default "$CTX"
	assert_output --partial "--ssh default: SSH_AUTH_SOCK is not set"
}

@test "build: COPY --exclude, --parents, --link, symbolic --chmod, heredoc sources" {
	mkdir -p "$CTX/app/sub" "$CTX/a/b"
	echo 1 >"$CTX/app/keep.go"
	echo 2 >"$CTX/app/skip.md"
	echo 3 >"$CTX/app/sub/x.md"
	echo 4 >"$CTX/app/sub/y.go"
	echo 5 >"$CTX/a/b/c.txt"
	echo 6 >"$CTX/top.md"
	echo 7 >"$CTX/top.go"
	chmod 640 "$CTX/app/keep.go"
	chmod 750 "$CTX/app/sub"
	cat >"$CTX/Dockerfile" <<-'DF'
		FROM busybox
		ARG WHO=world
		COPY --exclude=**/*.md --exclude=sub/y.go app /app/
		COPY --exclude=*.md top.* /top/
		COPY --parents a/b/c.txt app/sub /p/
		COPY --chmod=u+x,g=r,o-r app/keep.go /m1
		COPY --chmod=a=rX,u+w app/ /m2/
		COPY --chmod=go-rwx,+t app/sub/y.go /m3
		COPY --link top.go /linked
		COPY <<EOF /etc/hello.txt
		hello $WHO
		EOF
		COPY --chmod=0755 <<one.sh <<'two.sh' /scripts/
		echo one
		one.sh
		echo "two $WHO"
		two.sh
	DF
	run -0 build -t c:1 "$CTX"
	run -0 umoci unpack --image "$OUT:c:1" "$TEST_DIR/umoci"
	r=$TEST_DIR/umoci/rootfs
	assert_equal "$(find "$r/app" -mindepth 1 -printf '%P\n' | sort | tr '\n' ' ')" "keep.go sub "
	assert_equal "$(find "$r/top" -mindepth 1 -printf '%P\n' | sort | tr '\n' ' ')" "top.go "
	assert_equal "$(find "$r/p" -mindepth 1 -printf '%P\n' | sort | tr '\n' ' ')" \
		"a a/b a/b/c.txt app app/sub app/sub/x.md app/sub/y.go "
	# symbolic modes: per file, from the source's bits
	assert_equal "$(stat -c %a "$r/m1")" 740
	assert_equal "$(stat -c %a "$r/m2/keep.go" "$r/m2/sub" "$r/m2/sub/y.go" | tr '\n' ' ')" "644 755 644 "
	assert_equal "$(stat -c %a "$r/m3")" 1600
	assert_equal "$(cat "$r/linked")" 7
	# heredocs: expanded unless the delimiter is quoted; mode 0644 unless --chmod
	assert_equal "$(cat "$r/etc/hello.txt")" "hello world"
	assert_equal "$(stat -c %a:%u "$r/etc/hello.txt")" 644:0
	assert_equal "$(cat "$r/scripts/one.sh" "$r/scripts/two.sh")" 'echo one
echo "two $WHO"'
	assert_equal "$(stat -c %a "$r/scripts/one.sh" "$r/scripts/two.sh" | tr '\n' ' ')" "755 755 "
	cfg=$(skopeo inspect --config "oci:$OUT:c:1")
	[[ $(jq -r '.history[].created_by' <<<"$cfg") == *"COPY <<EOF /etc/hello.txt # buildkit"* ]] ||
		fail "no heredoc history entry"

	# a changed excluded file does not miss the cache; a kept one does
	echo 22 >"$CTX/app/skip.md"
	run -0 build -t c:1 "$CTX"
	assert_output --partial "COPY app /app/ (cached)"
	echo 11 >"$CTX/app/keep.go"
	run -0 build -t c:1 "$CTX"
	refute_output --partial "COPY app /app/ (cached)"
	# a bad symbolic mode
	printf 'FROM busybox\nCOPY --chmod=u+q top.go /x\n' >"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_output --partial "invalid chmod parameter: u+q"
}

# layer_entries TAG N: "mode uid/gid name" of each entry of layer N of $OUT:TAG
layer_entries() {
	local l
	l=$(skopeo inspect "oci:$OUT:$1" | jq -r ".Layers[$2]" | cut -d: -f2)
	tar --numeric-owner -tvzf "$OUT/blobs/sha256/$l" | awk '{print $1, $2, $6}'
}

@test "build: COPY --link makes a layer of the copied files and their parents only (0755 root); later steps see it on the stage" {
	echo conf >"$CTX/conf"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		RUN mkdir -m 0750 /srv && chown 1000 /srv && echo other > /srv/other && mkdir /srv/app && echo old > /srv/app/conf
		COPY --link conf /srv/app/conf
		RUN cat /srv/other /srv/app/conf > /seen && cat /etc/passwd > /dev/null
	EOF
	run -0 build -t l:1 "$CTX"
	# the parent's /srv (0750, uid 1000) and its other files are not in
	# the layer, nor a whiteout of the replaced file: only what was copied
	run -0 layer_entries l:1 2
	assert_equal "$output" "drwxr-xr-x 0/0 srv/
drwxr-xr-x 0/0 srv/app/
-rw-r--r-- 0/0 srv/app/conf"
	# the RUN after it ran on the base with the linked layer on top
	run -0 run_image_cmd "$OUT" l:1 cat /seen /srv/other /srv/app/conf /etc/passwd
	assert_line --index 0 other
	assert_line --index 1 conf
	assert_line --index 2 other
	assert_line --index 3 conf
	assert_line --index 4 "root:x:0:0:root:/root:/bin/sh"
	# as in BuildKit, the linked layer's directories take over the
	# parent's: /srv is 0755 root in the image, as the layer has it
	run -0 run_image_cmd "$OUT" l:1 stat -c %a:%u /srv
	assert_equal "$output" 755:0
	cfg=$(skopeo inspect --config "oci:$OUT:l:1")
	assert_equal "$(jq '.rootfs.diff_ids | length' <<<"$cfg")" 4
	[[ $(jq -r '.history[].created_by' <<<"$cfg") == *"COPY conf /srv/app/conf # buildkit"* ]] ||
		fail "no history entry for the COPY --link"
}

@test "build: a changed parent keeps COPY --link cached with the same layer; a plain COPY and the steps after are built again" {
	echo conf >"$CTX/conf"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		ARG V=1
		RUN echo "$V" > /v
		COPY --link conf /etc/app/conf
		COPY conf /after
	EOF
	sed 's/COPY --link conf/COPY conf/' "$CTX/Dockerfile" >"$CTX/Dockerfile.plain"
	run -0 build --progress plain -t k:1 "$CTX"
	link1=$(skopeo inspect "oci:$OUT:k:1" | jq -r '.Layers[2]')
	run -0 build --progress plain -f "$CTX/Dockerfile.plain" -t p:1 "$CTX"

	run -0 build --progress plain --build-arg V=2 -t k:2 "$CTX"
	assert_output --partial "Dockerfile:3: DONE"
	assert_output --partial "Dockerfile:4: COPY conf /etc/app/conf (cached)"
	refute_output --partial "COPY conf /after (cached)"
	assert_output --partial "Dockerfile:5: DONE"
	assert_equal "$(skopeo inspect "oci:$OUT:k:2" | jq -r '.Layers[2]')" "$link1"
	[ "$(skopeo inspect "oci:$OUT:k:2" | jq -r '.Layers[1]')" != "$(skopeo inspect "oci:$OUT:k:1" | jq -r '.Layers[1]')" ]
	run -0 run_image_cmd "$OUT" k:2 cat /v /etc/app/conf /after
	assert_equal "$output" "2
conf
conf"

	run -0 build --progress plain --build-arg V=2 -f "$CTX/Dockerfile.plain" -t p:2 "$CTX"
	refute_output --partial "COPY conf /etc/app/conf (cached)"
	assert_output --partial "Dockerfile.plain:4: DONE"
}

@test "build: COPY --link with --chown/--chmod, --from a stage, ADD --link of a local tar" {
	echo secret >"$CTX/conf"
	mkdir "$TEST_DIR/t" && echo in-tar >"$TEST_DIR/t/t.txt"
	tar -czf "$CTX/a.tar.gz" -C "$TEST_DIR/t" t.txt
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox AS src
		RUN mkdir -p /out/sub && echo s > /out/sub/s.txt && echo t > /out/t.txt && chmod 0700 /out/sub
		FROM busybox
		COPY --link --chown=user:staff --chmod=0640 conf /home/user/cfg/conf
		COPY --link --from=src /out /opt/out
		ADD --link a.tar.gz /x/
	EOF
	run -0 build -t o:1 "$CTX"
	# --chown names from the parent's passwd and group; created parents
	# are 0755 and owned as the files are
	run -0 layer_entries o:1 1
	assert_equal "$output" "drwxr-xr-x 1000/50 home/
drwxr-xr-x 1000/50 home/user/
drwxr-xr-x 1000/50 home/user/cfg/
-rw-r----- 1000/50 home/user/cfg/conf"
	run -0 layer_entries o:1 2
	assert_equal "$output" "drwxr-xr-x 0/0 opt/
drwxr-xr-x 0/0 opt/out/
drwx------ 0/0 opt/out/sub/
-rw-r--r-- 0/0 opt/out/sub/s.txt
-rw-r--r-- 0/0 opt/out/t.txt"
	run -0 layer_entries o:1 3
	assert_equal "$output" "drwxr-xr-x 0/0 x/
-rw-r--r-- 0/0 x/t.txt"
	l=$(skopeo inspect "oci:$OUT:o:1" | jq -r '.Layers[1]' | cut -d: -f2)
	assert_equal "$(tar -xzOf "$OUT/blobs/sha256/$l" home/user/cfg/conf)" secret
	# (the container's root has no CAP_DAC_OVERRIDE: the 0640 file of
	# uid 1000 is only stat'ed)
	run -0 run_image_cmd "$OUT" o:1 sh -c \
		'stat -c "%u:%g %a" /home/user/cfg/conf; cat /opt/out/sub/s.txt /x/t.txt; ls /bin/sh'
	assert_equal "$output" "1000:50 640
s
in-tar
/bin/sh"
	# another parent (a stage before them changed): all three cached, the
	# same layers
	sed -i 's|^FROM busybox$|FROM busybox\nRUN touch /new|' "$CTX/Dockerfile"
	run -0 build --progress plain -t o:2 "$CTX"
	assert_output --partial "COPY conf /home/user/cfg/conf (cached)"
	assert_output --partial "COPY /out /opt/out (cached)"
	assert_output --partial "ADD a.tar.gz /x/ (cached)"
	for i in 1 2 3; do
		assert_equal "$(skopeo inspect "oci:$OUT:o:2" | jq -r ".Layers[$((i + 1))]")" \
			"$(skopeo inspect "oci:$OUT:o:1" | jq -r ".Layers[$i]")"
	done
	# a --chown name that resolves to other ids in the new parent misses
	sed -i 's|^RUN touch /new$|RUN sed -i s/staff:x:50/staff:x:51/ /etc/group|' "$CTX/Dockerfile"
	run -0 build --progress plain -t o:3 "$CTX"
	refute_output --partial "COPY conf /home/user/cfg/conf (cached)"
	assert_output --partial "ADD a.tar.gz /x/ (cached)"
	run -0 layer_entries o:3 2
	assert_line --index 3 "-rw-r----- 1000/51 home/user/cfg/conf"
}

@test "build: ADD --link of a URL: a layer of the file and its directories, reused under a changed parent" {
	mkdir -p "$TEST_DIR/www"
	echo "served over http" >"$TEST_DIR/www/file.txt"
	start_http "$TEST_DIR/www"
	url=http://127.0.0.1:$HTTP_PORT
	sum=$(sha256sum "$TEST_DIR/www/file.txt" | cut -d' ' -f1)
	cat >"$CTX/Dockerfile" <<-EOF
		FROM busybox
		RUN echo 1 > /v
		ADD --link --checksum=sha256:$sum $url/file.txt /srv/dl/
	EOF
	run -0 build -t u:1 "$CTX"
	run -0 layer_entries u:1 2
	assert_equal "$output" "drwxr-xr-x 0/0 srv/
drwxr-xr-x 0/0 srv/dl/
-rw------- 0/0 srv/dl/file.txt"
	sed -i 's|echo 1|echo 2|' "$CTX/Dockerfile"
	run -0 build --progress plain -t u:2 "$CTX"
	assert_output --partial "Dockerfile:2: DONE"
	assert_output --partial "ADD $url/file.txt /srv/dl/ (cached)"
	assert_equal "$(skopeo inspect "oci:$OUT:u:2" | jq -r '.Layers[2]')" \
		"$(skopeo inspect "oci:$OUT:u:1" | jq -r '.Layers[2]')"
	# found by its checksum: not downloaded again
	assert_equal "$(grep -c '"GET /file.txt HTTP' "$TEST_DIR/http.log")" 1
}

# layer_types LAYOUT TAG: the media types of the image's layers, one a line
layer_types() {
	local m
	m=$(jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$1/index.json")
	jq -r '.layers[].mediaType' "$1/blobs/sha256/${m#sha256:}"
}

@test "build: --output type=oci,dest=FILE.tar writes a tar of the layout; zstd layers with --compression or compression=zstd" {
	echo zdata >"$CTX/z.txt"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		COPY z.txt /z.txt
		CMD ["cat", "/z.txt"]
	EOF
	bb() { timeout 300 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" --cache-dir "$CACHE" "$@"; }
	run -0 bb --output "type=oci,dest=$TEST_DIR/img.tar,compression=zstd" -t z:1 "$CTX"
	digest=${lines[-1]}
	run -0 tar -tf "$TEST_DIR/img.tar"
	assert_equal "$(head -n 4 <<<"$output" | tr '\n' ' ')" "oci-layout index.json blobs/ blobs/sha256/ "
	assert_line "blobs/sha256/${digest#sha256:}"
	[ -z "$(ls "$TEST_DIR" | grep 'img.tar.tmp')" ] || fail "a temporary file was left beside the tar"
	run -0 skopeo inspect "oci-archive:$TEST_DIR/img.tar:z:1"
	assert_equal "$(jq -r .Digest <<<"$output")" "$digest"
	# the base's layer as it was (gzip), the new one zstd
	mkdir "$TEST_DIR/x" && tar -xf "$TEST_DIR/img.tar" -C "$TEST_DIR/x"
	run -0 layer_types "$TEST_DIR/x" z:1
	assert_output "$(printf '%s\n' application/vnd.oci.image.layer.v1.tar+gzip application/vnd.oci.image.layer.v1.tar+zstd)"
	if command -v zstd >/dev/null; then
		l=$(jq -r '.layers[1].digest' "$TEST_DIR/x/blobs/sha256/${digest#sha256:}" | cut -d: -f2)
		assert_equal "$(zstd -dc "$TEST_DIR/x/blobs/sha256/$l" | tar -t)" z.txt
	fi
	# other tools take it, and berth runs it
	run -0 skopeo copy -q "oci-archive:$TEST_DIR/img.tar:z:1" "oci:$TEST_DIR/copied:z"
	run -0 run_image "$TEST_DIR/copied"
	assert_output zdata

	# --compression zstd into the layout; then gzip again: the steps come
	# from the cache, their layers compressed again from the cached trees
	run -0 bb --output "$OUT" --compression zstd -t z:2 "$CTX"
	assert_equal "$(layer_types "$OUT" z:2 | tail -n 1)" application/vnd.oci.image.layer.v1.tar+zstd
	run -0 bb --output "$OUT" -t z:3 "$CTX"
	assert_output --partial "COPY z.txt /z.txt (cached)"
	assert_equal "$(layer_types "$OUT" z:3 | tail -n 1)" application/vnd.oci.image.layer.v1.tar+gzip
	run -0 umoci unpack --image "$OUT:z:3" "$TEST_DIR/umoci"
	assert_equal "$(cat "$TEST_DIR/umoci/rootfs/z.txt")" zdata
	# tar=false: a directory whatever its name
	run -0 bb --output "type=oci,dest=$TEST_DIR/dir.tar,tar=false" -t z:4 "$CTX"
	[ -f "$TEST_DIR/dir.tar/index.json" ] || fail "tar=false did not write a layout directory"

	# bad options: exit 2, nothing written
	run -2 bb --output "type=oci,dest=$TEST_DIR/bad.tar,compression=lz4" "$CTX"
	assert_output --partial "--output compression=lz4: expected gzip, zstd or uncompressed"
	run -2 bb --compression brotli --output "$TEST_DIR/bad" "$CTX"
	assert_output --partial "--compression \`brotli\`: expected gzip, zstd or uncompressed"
	run -2 bb --output "type=docker,dest=$TEST_DIR/bad.tar" "$CTX"
	assert_output --partial "only type=oci is supported"
	run -2 bb --output "type=oci,dest=$TEST_DIR/bad.tar,push=true" "$CTX"
	assert_output --partial "unknown option \`push=true\`"
	# a failed build: no tar, no temporary file
	printf 'FROM busybox\nRUN exit 5\n' >"$CTX/Dockerfile"
	run -1 bb --output "type=oci,dest=$TEST_DIR/bad.tar" "$CTX"
	[ -z "$(ls "$TEST_DIR" | grep bad)" ] || fail "a failed build left $(ls "$TEST_DIR" | grep bad)"
}

@test "build: gzip layers in chunks: a changed file compresses its chunk again, not the layer; every reader takes them" {
	mkdir "$CTX/big"
	# incompressible but the same in every run: the chunk boundaries, and
	# so the counts below, do not vary (from /dev/urandom, 3 runs in 100
	# cut fewer than 8 chunks)
	for i in 1 2 3 4 5 6; do
		python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(int(sys.argv[1])).randbytes(2000000))' \
			"$i" >"$CTX/big/r$i"
	done
	seq 1 300000 >"$CTX/big/text"
	echo small >"$CTX/big/small"
	printf 'FROM busybox\nCOPY big /big\n' >"$CTX/Dockerfile"
	run -0 build -t g:1 "$CTX"
	members=$(find "$CACHE/gz" -type f | wc -l)
	[ "$members" -ge 8 ] || fail "expected about a chunk per MiB, got $members"
	layer=$(skopeo inspect "oci:$OUT:g:1" | jq -r '.Layers[1]' | cut -d: -f2)
	blob=$OUT/blobs/sha256/$layer
	gzip -t "$blob"
	# the cache keeps no copy of a member: where it is in the layer's blob
	for f in $(find "$CACHE/gz" -type f); do
		read -r word hex off len <"$f"
		assert_equal "$word $hex" "blob $layer"
		tail -c +$((off + 1)) "$blob" | head -c "$len" | gzip -t || fail "$f: no gzip member at $off"
	done
	# one gzip member per chunk
	[ "$(python3 -c 'import sys, zlib
data = open(sys.argv[1], "rb").read(); n = 0
while data:
    d = zlib.decompressobj(31); d.decompress(data); data = d.unused_data; n += 1
print(n)' "$blob")" = "$members" ] || fail "the blob is not one member per chunk"
	run -0 umoci unpack --image "$OUT:g:1" "$TEST_DIR/u1"
	diff -r "$CTX/big" "$TEST_DIR/u1/rootfs/big"

	# one changed file: the chunks of its tar header and of the change
	# (and the next cut, where they differ) compressed again
	echo changed >>"$CTX/big/text"
	run -0 build -t g:2 "$CTX"
	added=$(($(find "$CACHE/gz" -type f | wc -l) - members))
	[ "$added" -ge 1 ] && [ "$added" -le 3 ] || fail "$added new chunks of $members for one changed file"
	run -0 run_image_cmd "$OUT" g:2 tail -n 1 /big/text
	assert_output changed
	# a damaged entry in the cache is not used (the member it leads to has
	# the wrong CRC-32 and length, or there is no member): every other one
	# points a byte further, the rest are zeroed
	k=0
	for f in $(find "$CACHE/gz" -type f); do
		k=$((k + 1))
		read -r word hex off len <"$f"
		if ((k % 2)); then
			echo "blob $hex $((off + 1)) $len" >"$f"
		else
			head -c "$(stat -c %s "$f")" /dev/zero >"$f"
		fi
	done
	echo again >>"$CTX/big/small"
	run -0 env SOURCE_DATE_EPOCH=1700000000 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" \
		--cache-dir "$CACHE" --output "$OUT" -t g:3 "$CTX"
	run -0 umoci unpack --image "$OUT:g:3" "$TEST_DIR/u3"
	diff -r "$CTX/big" "$TEST_DIR/u3/rootfs/big"
	# without the member cache: the same layer bytes
	run -0 env SOURCE_DATE_EPOCH=1700000000 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" \
		--cache-dir "$CACHE" --output "$OUT" --no-cache -t g:4 "$CTX"
	assert_equal "$(skopeo inspect "oci:$OUT:g:4" | jq -r '.Layers[1]')" \
		"$(skopeo inspect "oci:$OUT:g:3" | jq -r '.Layers[1]')"
}

@test "build: a layer's blob is written once: renamed into the cache's layout, linked into the output, copied across file systems" {
	mkdir "$CTX/d"
	for i in 1 2 3; do head -c 300000 /dev/urandom >"$CTX/d/r$i"; done
	printf 'FROM busybox\nCOPY d /d\n' >"$CTX/Dockerfile"
	run -0 build -t l:1 "$CTX"
	base=$(skopeo inspect "oci:$OUT:l:1" | jq -r '.Layers[0]' | cut -d: -f2)
	layer=$(skopeo inspect "oci:$OUT:l:1" | jq -r '.Layers[1]' | cut -d: -f2)
	out_blob=$OUT/blobs/sha256/$layer
	cache_blob=$CACHE/layout/blobs/sha256/$layer
	assert_equal "$(sha256sum <"$out_blob" | cut -d' ' -f1)" "$layer"
	# one file, two names
	assert_equal "$(stat -c '%i %h' "$out_blob")" "$(stat -c '%i 2' "$cache_blob")"
	assert_equal "$(stat -c %a "$out_blob")" 644
	# the base image's blob is the user's layout's: copied (and checked), not linked
	[ "$(stat -c %i "$OUT/blobs/sha256/$base")" != "$(stat -c %i "$BASE/blobs/sha256/$base")" ] ||
		fail "the output shares an inode with the base image's layout"
	assert_equal "$(stat -c %h "$OUT/blobs/sha256/$base")" 1
	# nothing else was left in the cache's layout
	assert_equal "$(find "$CACHE/layout" -type f -newer "$CTX/Dockerfile" ! -path '*/blobs/sha256/*' ! -name index.json ! -name oci-layout)" ""
	run -0 umoci unpack --image "$OUT:l:1" "$TEST_DIR/u"
	diff -r "$CTX/d" "$TEST_DIR/u/rootfs/d"

	# an output on another file system (tmpfs): a copy, the same bytes
	[ "$(stat -f -c %T /dev/shm)" = tmpfs ] || skip "requires a tmpfs at /dev/shm"
	SHM_OUT=$(mktemp -d /dev/shm/berth-build-out.XXXXXX)
	run -0 "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" --cache-dir "$CACHE" \
		--output "type=oci,dest=$SHM_OUT" -t l:1 "$CTX"
	assert_output --partial "COPY d /d (cached)"
	status=0
	sum=$(sha256sum <"$SHM_OUT/blobs/sha256/$layer" | cut -d' ' -f1) && links=$(stat -c %h "$SHM_OUT/blobs/sha256/$layer") || status=$?
	rm -rf "$SHM_OUT"
	[ "$status" = 0 ] || fail "no layer blob in the output on tmpfs"
	assert_equal "$sum" "$layer"
	assert_equal "$links" 1
}

@test "build: prune removes what no cached step needs; --keep-storage the steps used longest ago; --all everything" {
	mkdir "$CTX/a" "$CTX/b"
	head -c 3000000 /dev/urandom >"$CTX/a/r"
	head -c 3000000 /dev/urandom >"$CTX/b/r"
	printf 'FROM busybox\nCOPY a /a\n' >"$CTX/Dockerfile.a"
	printf 'FROM busybox\nCOPY b /b\n' >"$CTX/Dockerfile.b"
	run -0 build -f "$CTX/Dockerfile.a" -t a:1 "$CTX"
	layer_a=$(skopeo inspect "oci:$OUT:a:1" | jq -r '.Layers[1]' | cut -d: -f2)
	run -0 build -f "$CTX/Dockerfile.b" -t b:1 "$CTX"
	layer_b=$(skopeo inspect "oci:$OUT:b:1" | jq -r '.Layers[1]' | cut -d: -f2)
	# what nothing references: a blob, a member copy of an older build,
	# a member whose blob is gone, a step a killed build left half-made
	head -c 1000 /dev/urandom >"$CACHE/layout/blobs/sha256/$(printf '%064d' 0)"
	mkdir -p "$CACHE/gz/00" "$CACHE/steps/0123456789abcdef0123456789abcdef/u"
	head -c 5000 /dev/urandom >"$CACHE/gz/00/copy"
	echo "blob $(printf '%064d' 1) 0 100" >"$CACHE/gz/00/dangling"
	members=$(find "$CACHE/gz" -type f | wc -l)
	run -0 "$BUILD_BIN" prune --cache-dir "$CACHE"
	assert_output --regexp '^removed 1 steps, 0 bases, 1 blobs, 2 gzip members: [0-9.]+ MiB -> [0-9.]+ MiB$'
	[ ! -e "$CACHE/layout/blobs/sha256/$(printf '%064d' 0)" ] || fail "an unreferenced blob was kept"
	[ ! -e "$CACHE/steps/0123456789abcdef0123456789abcdef" ] || fail "a half-made step was kept"
	assert_equal "$(find "$CACHE/gz" -type f | wc -l)" $((members - 2))
	[ -e "$CACHE/layout/blobs/sha256/$layer_a" ] && [ -e "$CACHE/layout/blobs/sha256/$layer_b" ] ||
		fail "a cached step's blob was removed"
	run -0 build -f "$CTX/Dockerfile.a" -t a:1 "$CTX"
	assert_output --partial "COPY a /a (cached)"
	# a is used again now: b goes first, then (the limit lower) a
	size=$(du -sB1 "$CACHE" | cut -f1)
	run -0 "$BUILD_BIN" prune --cache-dir "$CACHE" --keep-storage $((size - 1000000))
	assert_output --regexp '^removed 1 steps, '
	[ -e "$CACHE/layout/blobs/sha256/$layer_a" ] || fail "the step used last was removed"
	[ ! -e "$CACHE/layout/blobs/sha256/$layer_b" ] || fail "the step used longest ago was kept"
	[ "$(du -sB1 "$CACHE" | cut -f1)" -le $((size - 1000000)) ] || fail "the cache is larger than --keep-storage"
	# a member that led into b's blob is gone with it
	grep -rl "$layer_b" "$CACHE/gz" && fail "members of a removed blob were kept"
	run -0 build -f "$CTX/Dockerfile.b" -t b:1 "$CTX"
	refute_output --partial "COPY b /b (cached)"
	run -0 build -f "$CTX/Dockerfile.a" -t a:1 "$CTX"
	assert_output --partial "COPY a /a (cached)"
	# the output layout is the user's: untouched, valid
	run -0 umoci unpack --image "$OUT:a:1" "$TEST_DIR/u"
	cmp "$CTX/a/r" "$TEST_DIR/u/rootfs/a/r"
	# --all: nothing but the lock; the next build starts over
	run -0 "$BUILD_BIN" prune --cache-dir "$CACHE" --all
	assert_equal "$(ls -A "$CACHE")" lock
	run -0 build -f "$CTX/Dockerfile.a" -t a:1 "$CTX"
	refute_output --partial "(cached)"
	# bad input
	run -2 "$BUILD_BIN" prune --cache-dir "$CACHE" --keep-storage 12x
	assert_output --partial "--keep-storage \`12x\`: expected a size"
	run -1 "$BUILD_BIN" prune --cache-dir "$TEST_DIR/none"
	assert_output "berth-build prune: cache \`$TEST_DIR/none\`: No such file or directory"
}

@test "build: bases from an OCI archive, a docker-save archive, and the local store (-t names of earlier builds)" {
	skopeo copy -q "oci:$BASE:1" "oci-archive:$TEST_DIR/base-oci.tar"
	skopeo copy -q "oci:$BASE:1" "docker-archive:$TEST_DIR/base-docker.tar:example/base:1"
	printf 'FROM arch\nRUN echo built-on-archive > /kind\n' >"$CTX/Dockerfile"
	run -0 timeout 300 "$BUILD_BIN" --cache-dir "$CACHE" --output "$OUT" \
		--build-context "arch=oci-archive://$TEST_DIR/base-oci.tar" -t from-oci:1 "$CTX"
	run -0 timeout 300 "$BUILD_BIN" --cache-dir "$CACHE" --output "$OUT" \
		--build-context "arch=docker-archive://$TEST_DIR/base-docker.tar" -t from-docker "$CTX"
	for t in from-oci:1 from-docker; do
		run -0 skopeo inspect "oci:$OUT:$t"
		assert_equal "$(jq -r '.Layers | length' <<<"$output")" 2
	done
	run -0 umoci unpack --image "$OUT:from-oci:1" "$TEST_DIR/u1"
	assert_equal "$(cat "$TEST_DIR/u1/rootfs/kind")" built-on-archive
	# the archives' base layers are the layout's: the same diff_ids
	assert_equal "$(skopeo inspect --config "oci:$OUT:from-oci:1" | jq -c '.rootfs.diff_ids[0]')" \
		"$(skopeo inspect --config "oci:$BASE:1" | jq -c '.rootfs.diff_ids[0]')"

	# the local store: FROM and COPY --from name images of earlier builds in the output layout
	cat >"$CTX/Dockerfile" <<-'DF'
		FROM from-docker
		COPY --from=from-oci:1 /kind /kind-oci
		RUN cat /kind-oci /kind
	DF
	run -0 timeout 300 "$BUILD_BIN" --cache-dir "$CACHE" --output "$OUT" -t third "$CTX"
	assert_output --partial "FROM from-docker (sha256:"
	run -0 skopeo inspect "oci:$OUT:third"
	assert_equal "$(jq -r '.Layers | length' <<<"$output")" 3
	run -0 jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | join(" ")' "$OUT/index.json"
	assert_output "from-oci:1 from-docker third"
	# an unknown name: the message says where it looked
	printf 'FROM nowhere:1\n' >"$CTX/Dockerfile"
	run -1 timeout 300 "$BUILD_BIN" --cache-dir "$CACHE" --output "$OUT" "$CTX"
	assert_output --partial "base image \`nowhere:1\` not found: not a -t name in \`$OUT\`"
	# a broken archive
	echo junk >"$TEST_DIR/junk.tar"
	printf 'FROM arch\n' >"$CTX/Dockerfile"
	run -1 timeout 300 "$BUILD_BIN" --cache-dir "$CACHE" --output "$OUT" \
		--build-context "arch=oci-archive://$TEST_DIR/junk.tar" "$CTX"
	assert_output --partial "--build-context \`arch\`: import \`$TEST_DIR/junk.tar\`"
}

@test "build: independent stages build in parallel; a failing one stops the build" {
	[ "$(nproc)" -ge 2 ] || skip "requires 2 cores"
	# each stage waits for the other one to have started: built one
	# after the other, the first would time out
	cat >"$CTX/Dockerfile" <<-'DF'
		FROM busybox AS a
		RUN --mount=type=cache,id=meet,target=/meet touch /meet/a && \
		    for i in $(seq 100); do [ -e /meet/b ] && break; sleep 0.1; done && [ -e /meet/b ] && echo a > /a
		FROM busybox AS b
		RUN --mount=type=cache,id=meet,target=/meet touch /meet/b && \
		    for i in $(seq 100); do [ -e /meet/a ] && break; sleep 0.1; done && [ -e /meet/a ] && echo b > /b
		FROM scratch
		COPY --from=a /a /
		COPY --from=b /b /
	DF
	run -0 build -t p:1 "$CTX"
	run -0 umoci unpack --image "$OUT:p:1" "$TEST_DIR/umoci"
	assert_equal "$(cat "$TEST_DIR/umoci/rootfs/a" "$TEST_DIR/umoci/rootfs/b")" "a
b"
	# a second build takes both from the cache
	run -0 build -t p:1 "$CTX"
	assert_equal "$(grep -c '(cached)' <<<"$output")" 4

	# one stage of a level fails: its error, and no output
	rm -rf "$OUT"
	cat >"$CTX/Dockerfile" <<-'DF'
		FROM busybox AS a
		RUN echo fine > /a
		FROM busybox AS b
		RUN sleep 0.5; exit 5
		FROM scratch
		COPY --from=a /a /
		COPY --from=b /etc/passwd /
	DF
	run -1 build "$CTX"
	assert_output --partial 'Dockerfile:4: RUN `sleep 0.5; exit 5`: exit status 5'
	[ ! -e "$OUT" ] || fail "a failed build wrote its output"
}

@test "build: --progress plain: each step's duration, (cached) for a hit, a summary with the counts" {
	echo v1 >"$CTX/f"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		RUN sleep 0.3; echo ran
		COPY f /f
	EOF
	run -0 build --progress plain "$CTX"
	assert_line "Dockerfile:2: RUN sleep 0.3; echo ran"
	assert_line "ran"
	assert_line --regexp '^Dockerfile:2: DONE 0\.[3-9]s$|^Dockerfile:2: DONE [1-9][0-9]*\.[0-9]s$'
	assert_line "Dockerfile:3: COPY f /f"
	assert_line --regexp '^Dockerfile:3: DONE [0-9]+\.[0-9]s$'
	assert_line --regexp '^built in [0-9]+\.[0-9]s: 2 steps, 0 cached$'
	# the order: a step's line, its output, its end
	assert_equal "$(grep -n -e '^Dockerfile:2: RUN' -e '^ran$' -e '^Dockerfile:2: DONE' <<<"$output" | cut -d: -f1 | tr '\n' ' ')" \
		"$(grep -n -e '^Dockerfile:2: RUN' -e '^ran$' -e '^Dockerfile:2: DONE' <<<"$output" | cut -d: -f1 | sort -n | tr '\n' ' ')"
	# a rebuild: hits, without durations
	run -0 build "$CTX"
	assert_line "Dockerfile:2: RUN sleep 0.3; echo ran (cached)"
	assert_line "Dockerfile:3: COPY f /f (cached)"
	refute_output --partial "DONE"
	assert_line --regexp '^built in [0-9]+\.[0-9]s: 2 steps, 2 cached$'
	# a failing step ends with ERROR and the summary says so
	echo 'RUN exit 4' >>"$CTX/Dockerfile"
	run -1 build "$CTX"
	assert_line "Dockerfile:4: RUN exit 4"
	assert_line --regexp '^Dockerfile:4: ERROR [0-9]+\.[0-9]s$'
	assert_line --regexp '^failed after [0-9]+\.[0-9]s$'
	# quiet: no step lines; a bad mode: a clear error
	sed -i '$d' "$CTX/Dockerfile"
	run -0 build --progress quiet "$CTX"
	refute_output --partial "Dockerfile:"
	refute_output --partial "built in"
	run -2 build --progress fancy "$CTX"
	assert_output --partial "--progress \`fancy\`: expected auto, plain, tty or quiet"
}

# tty_build ARGS...: berth-build as `build` does, with a pty as its terminal
tty_build() {
	in_tty "$BUILD_BIN" --build-context "busybox=oci-layout://$BASE:1" --cache-dir "$CACHE" \
		--output "type=oci,dest=$OUT" "$@"
}

@test "build: on a terminal, a live view redraws the running steps with their output, then a summary" {
	[ -x "$BERTH_BUILDDIR/tests/helpers/in-pty" ] || fail "tests/helpers/in-pty is missing: make check builds it"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		WORKDIR /w
		RUN for i in 1 2 3 4; do echo "out $i"; sleep 0.3; done
	EOF
	run -0 tty_build "$CTX"
	esc=$'\e'
	# the live view: the status line, the running step with its output,
	# redrawn (cursor up, clear to the end of the screen)
	assert_output --partial "[+] Building ("
	assert_output --regexp " => Dockerfile:3: RUN for i in 1 2 3 4; do echo \"out \\\$i\"; sleep 0.3; done +[0-9]+\.[0-9]s"
	assert_output --partial "    | out 2"
	[[ $output == *"$esc["[0-9]*"A$esc[J"* ]] || fail "no redraw sequence in: $output"
	# each step's last line stays; the summary replaces the live view
	# (a line after the live view starts with the sequences that clear it)
	redraw="($esc\[[0-9]+A$esc\[J)?"
	assert_line --regexp "^$redraw => Dockerfile:2: WORKDIR /w  [0-9]+\.[0-9]s$"
	assert_line --regexp "^$redraw => Dockerfile:3: RUN for i in .*  [0-9]+\.[0-9]s$"
	assert_line --regexp "^$esc\[[0-9]+A$esc\[J\[\+\] Built in [0-9]+\.[0-9]s: 2 steps, 0 cached$"
	assert_line --regexp '^sha256:[0-9a-f]{64}$'
	# the end of the screen is the summary and the digest: no live view left
	assert_equal "$(tail -n 2 <<<"$output" | head -n 1 | sed "s/^$esc\[[0-9]*A$esc\[J//")" \
		"$(grep -o '\[+\] Built in .*' <<<"$output")"
	# a rebuild: the hits
	run -0 tty_build "$CTX"
	assert_output --partial " => CACHED Dockerfile:2: WORKDIR /w"
	assert_output --partial " => CACHED Dockerfile:3: RUN for i in 1 2 3 4"
	assert_output --partial "Built in"
	assert_output --partial ": 2 steps, 2 cached"

	# a failure: the step's last output lines stay on the screen
	rm -rf "$OUT"
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		RUN echo "to stdout"; echo "to stderr" >&2; exit 3
	EOF
	run -1 tty_build "$CTX"
	assert_line --regexp "^$redraw => ERROR Dockerfile:2: RUN echo \"to stdout\"; .*  [0-9]+\.[0-9]s$"
	assert_line "    > to stdout"
	assert_line "    > to stderr"
	assert_output --regexp "\[\+\] Build failed after [0-9]+\.[0-9]s"
	assert_line --partial 'berth-build: Dockerfile:2: RUN `echo "to stdout"; echo "to stderr" >&2; exit 3`: exit status 3'
	[ ! -e "$OUT" ] || fail "a failed build wrote its output"

	# --progress plain on a terminal stays plain
	cat >"$CTX/Dockerfile" <<-'EOF'
		FROM busybox
		RUN echo plain
	EOF
	run -0 tty_build --progress plain "$CTX"
	[[ $output != *"$esc["* ]] || fail "escape sequences in plain output: $output"
	assert_line "Dockerfile:2: RUN echo plain"
	assert_line "plain"
	assert_line --regexp '^Dockerfile:2: DONE [0-9]+\.[0-9]s$'
	# and --progress tty without a terminal draws the view anyway
	run -0 build --progress tty "$CTX"
	assert_output --partial " => CACHED Dockerfile:2: RUN echo plain"
	assert_output --partial "$esc[J"
}
