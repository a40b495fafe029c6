#!/usr/bin/env bats
# Layer apply (oci-spec/layer_apply.c) against umoci: an image made by umoci
# (Debian's package) in several layers -- files with modes, owners, xattrs and
# file capabilities, hard and symbolic links, devices, deletions (whiteouts)
# and an opaque directory -- is unpacked by `umoci unpack` and by our
# tests/helpers/layer-apply (the layer blobs, gzip'd, in order), and the two
# trees are compared entry by entry: type, mode, owner, size, content
# (sha256), link target, device numbers, xattrs.  Then hostile tars made
# with python3's tarfile module.

load helpers

LAYER_APPLY=${LAYER_APPLY:-$BERTH_BUILDDIR/tests/helpers/layer-apply}

setup() {
	requires root
	command -v umoci >/dev/null || skip "requires umoci"
	command -v python3 >/dev/null || skip "requires python3"
	[ -x "$LAYER_APPLY" ] || fail "$LAYER_APPLY is missing: make check builds it"
	TEST_DIR=$(mktemp -d /tmp/berth-layers.XXXXXX)
	IMG=$TEST_DIR/img
}

teardown() {
	[ -n "${TEST_DIR:-}" ] && rm -rf "$TEST_DIR"
}

# listing DIR: one line per entry, sorted, with what apply must restore.
listing() {
	python3 - "$1" <<'EOF'
import hashlib, os, stat, sys
root = sys.argv[1]
out = []
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        st = os.lstat(p)
        line = [os.path.relpath(p, root), oct(st.st_mode), '%d:%d' % (st.st_uid, st.st_gid)]
        if stat.S_ISREG(st.st_mode):
            line += [str(st.st_size), hashlib.sha256(open(p, 'rb').read()).hexdigest(),
                     'nlink=%d' % st.st_nlink, 'mtime=%d' % st.st_mtime]
        elif stat.S_ISLNK(st.st_mode):
            line += ['->', os.readlink(p)]
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            line += ['dev=%d:%d' % (os.major(st.st_rdev), os.minor(st.st_rdev))]
        for x in sorted(os.listxattr(p, follow_symlinks=False)):
            line.append('%s=%s' % (x, os.getxattr(p, x, follow_symlinks=False).hex()))
        out.append(' '.join(line))
print('\n'.join(sorted(out)))
EOF
}

# layers IMAGE:TAG: the layer blob paths of the manifest, in order.
layers() {
	python3 - "$IMG" "$1" <<'EOF'
import json, sys
img, tag = sys.argv[1], sys.argv[2]
index = json.load(open(img + '/index.json'))
m = [m for m in index['manifests'] if m.get('annotations', {}).get('org.opencontainers.image.ref.name') == tag][0]
manifest = json.load(open(img + '/blobs/sha256/' + m['digest'].split(':')[1]))
for l in manifest['layers']:
    print(img + '/blobs/sha256/' + l['digest'].split(':')[1])
EOF
}

# A three-layer image (plus the layer made by `umoci raw add-layer`).
make_image() {
	local b=$TEST_DIR/bundle r
	umoci init --layout "$IMG"
	umoci new --image "$IMG:t"

	# layer 1: every kind of entry
	umoci unpack --image "$IMG:t" "$b" >/dev/null
	r=$b/rootfs
	mkdir -p "$r/etc" "$r/usr/bin" "$r/var/cache/apt" "$r/opt/app/lib" "$r/tmp" "$r/dev"
	echo "127.0.0.1 localhost" >"$r/etc/hosts"
	chown 1000:2000 "$r/etc/hosts"
	chmod 0640 "$r/etc/hosts"
	head -c 1000000 /dev/urandom >"$r/usr/bin/tool"
	chmod 4755 "$r/usr/bin/tool"
	ln "$r/usr/bin/tool" "$r/usr/bin/tool-alias"
	ln -s ../usr/bin/tool "$r/etc/tool-link"
	ln -s /nonexistent/abs "$r/etc/dangling"
	chmod 1777 "$r/tmp"
	mknod "$r/dev/null" c 1 3
	mknod "$r/dev/loop0" b 7 0
	mkfifo "$r/etc/fifo"
	echo data >"$r/var/cache/apt/pkgcache.bin"
	echo lib >"$r/opt/app/lib/a.so"
	echo lib >"$r/opt/app/lib/b.so"
	echo conf >"$r/opt/app/app.conf"
	chown -h 33:33 "$r/etc/dangling"
	python3 -c "
import os, sys
r = sys.argv[1]
os.setxattr(r + '/etc/hosts', 'user.comment', b'hosts file')
os.setxattr(r + '/usr/bin/tool', 'security.capability', bytes.fromhex('0100000200200000000000000000000000000000'))
os.setxattr(r + '/opt/app', 'trusted.berth', b'dir xattr')
" "$r"
	umoci repack --image "$IMG:t" "$b"
	rm -rf "$b"

	# layer 2: deletions (whiteouts) and changes
	umoci unpack --image "$IMG:t" "$b" >/dev/null
	r=$b/rootfs
	rm -rf "$r/var/cache/apt" "$r/etc/fifo"
	rm "$r/usr/bin/tool-alias"
	echo "changed" >"$r/opt/app/app.conf"
	chmod 0600 "$r/opt/app/app.conf"
	rm "$r/etc/tool-link"
	mkdir "$r/etc/tool-link"
	echo inside >"$r/etc/tool-link/file"
	umoci repack --image "$IMG:t" "$b"
	rm -rf "$b"

	# layer 3: an opaque directory (umoci's own diff writes whiteouts per
	# entry, so this layer is built by hand and added raw)
	python3 - "$TEST_DIR/opaque.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    def add(name, data=None, type=tarfile.REGTYPE, mode=0o644):
        i = tarfile.TarInfo(name)
        i.type, i.mode, i.mtime = type, mode, 1600000000
        if data is not None:
            i.size = len(data)
        t.addfile(i, io.BytesIO(data) if data is not None else None)
    add('opt/app/lib/new.so', b'new lib\n')
    add('opt/app/lib/.wh..wh..opq', b'')
    add('opt/app/.wh.app.conf', b'')
    add('etc/added', b'added\n', mode=0o600)
EOF
	umoci raw add-layer --image "$IMG:t" "$TEST_DIR/opaque.tar"
}

@test "layers: umoci's image applied by berth is umoci's unpack, file by file" {
	make_image
	umoci unpack --image "$IMG:t" "$TEST_DIR/umoci" >/dev/null
	mapfile -t blobs < <(layers t)
	[ "${#blobs[@]}" -eq 3 ] || fail "expected 3 layers, got ${#blobs[@]}"
	mkdir "$TEST_DIR/berth"
	run "$LAYER_APPLY" --stats "$TEST_DIR/berth" "${blobs[@]}"
	assert_success
	assert_output --partial "1 opaque"

	listing "$TEST_DIR/umoci/rootfs" >"$TEST_DIR/umoci.txt"
	listing "$TEST_DIR/berth" >"$TEST_DIR/berth.txt"
	run diff -u "$TEST_DIR/umoci.txt" "$TEST_DIR/berth.txt"
	assert_success

	# and what the layers meant
	run cat "$TEST_DIR/berth.txt"
	assert_line --regexp '^usr/bin/tool 0o104755 0:0 1000000 [0-9a-f]{64} nlink=1 .* security.capability=0100000200200000000000000000000000000000$'
	assert_line --regexp '^etc/hosts 0o100640 1000:2000 20 .* user.comment=686f7374732066696c65$'
	assert_line 'etc/dangling 0o120777 33:33 -> /nonexistent/abs'
	assert_line 'dev/null 0o20644 0:0 dev=1:3'
	assert_line 'opt/app 0o40755 0:0 trusted.berth=646972207861747472'
	assert_line --regexp '^opt/app/lib/new.so '
	refute_line --regexp '^opt/app/lib/a.so'
	refute_line --regexp '^opt/app/app.conf'
	refute_line --regexp '^var/cache/apt'
	refute_line --regexp '^etc/fifo'
	assert_line --regexp '^etc/tool-link 0o40755'
}

@test "layers: gzip, zstd and plain tar of one layer give the same tree" {
	make_image
	mapfile -t blobs < <(layers t)
	gzip -dc "${blobs[0]}" >"$TEST_DIR/l0.tar"
	zstd -q "$TEST_DIR/l0.tar" -o "$TEST_DIR/l0.tar.zst"
	for f in "${blobs[0]}" "$TEST_DIR/l0.tar" "$TEST_DIR/l0.tar.zst"; do
		rm -rf "$TEST_DIR/t" && mkdir "$TEST_DIR/t"
		"$LAYER_APPLY" "$TEST_DIR/t" "$f"
		listing "$TEST_DIR/t" >"$TEST_DIR/$(basename "$f").txt"
	done
	run diff "$TEST_DIR/l0.tar.txt" "$TEST_DIR/l0.tar.zst.txt"
	assert_success
	run diff "$TEST_DIR/l0.tar.txt" "$TEST_DIR/$(basename "${blobs[0]}").txt"
	assert_success
}

@test "layers: berth's diff of umoci's trees applies back to the same tree" {
	make_image
	mapfile -t blobs < <(layers t)
	mkdir "$TEST_DIR/lower" "$TEST_DIR/upper" "$TEST_DIR/check"
	"$LAYER_APPLY" "$TEST_DIR/lower" "${blobs[0]}"
	"$LAYER_APPLY" "$TEST_DIR/upper" "${blobs[@]}"
	"$LAYER_APPLY" "$TEST_DIR/check" "${blobs[0]}"
	run "$LAYER_APPLY" --diff --gzip "$TEST_DIR/lower" "$TEST_DIR/upper" "$TEST_DIR/diff.tar.gz"
	assert_success
	assert_output --regexp '^sha256:[0-9a-f]{64} sha256:[0-9a-f]{64} [0-9]+$'
	"$LAYER_APPLY" "$TEST_DIR/check" "$TEST_DIR/diff.tar.gz"
	# directory mtimes aside (listing skips them), check == upper
	run diff <(listing "$TEST_DIR/upper") <(listing "$TEST_DIR/check")
	assert_success
	# and umoci reads the layer too
	umoci raw add-layer --image "$IMG:t" <(gzip -dc "$TEST_DIR/diff.tar.gz")
	run gzip -t "$TEST_DIR/diff.tar.gz"
	assert_success
}

# hostile_tar FILE ENTRY...: a tar from python's tarfile; ENTRY is
# "reg:NAME", "sym:NAME:TARGET" or "lnk:NAME:TARGET".
hostile_tar() {
	python3 - "$@" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.GNU_FORMAT) as t:
    for spec in sys.argv[2:]:
        kind, name, *rest = spec.split(':', 2)
        i = tarfile.TarInfo(name)
        if kind == 'reg':
            i.size = 6
            t.addfile(i, io.BytesIO(b'pwned\n'))
            continue
        i.type = tarfile.SYMTYPE if kind == 'sym' else tarfile.LNKTYPE
        i.linkname = rest[0]
        t.addfile(i)
EOF
}

@test "layers: hostile tars are refused by name or stay inside the target" {
	local canary=$TEST_DIR/canary
	mkdir "$canary" "$TEST_DIR/t"
	echo secret >"$canary/secret"
	local before
	before=$(find "$canary" -printf '%p %M %n %s %T@\n')

	hostile_tar "$TEST_DIR/dotdot.tar" "reg:../../canary/pwned"
	run "$LAYER_APPLY" "$TEST_DIR/t" "$TEST_DIR/dotdot.tar"
	assert_failure
	assert_output "layer-apply: apply layer: layer entry \`../../canary/pwned\`: path escapes the root"

	hostile_tar "$TEST_DIR/hardlink.tar" "lnk:h:../canary/secret"
	run "$LAYER_APPLY" "$TEST_DIR/t" "$TEST_DIR/hardlink.tar"
	assert_failure
	assert_output "layer-apply: apply layer: layer entry \`h\`: hardlink target \`../canary/secret\`: path escapes the root"

	# a symlink planted, then written through; a directory swapped for a
	# symlink; an absolute name: all land inside the target
	hostile_tar "$TEST_DIR/symlink.tar" "sym:evil:$canary" "reg:evil/pwned" \
		"reg:swap/a" "sym:swap:$canary" "reg:swap/b" "reg:$canary/abs" \
		"sym:up:../../../../../../../.." "reg:up$canary/up"
	run "$LAYER_APPLY" "$TEST_DIR/t" "$TEST_DIR/symlink.tar"
	assert_success
	[ -f "$TEST_DIR/t$canary/pwned" ] && [ -f "$TEST_DIR/t$canary/b" ] && [ -f "$TEST_DIR/t$canary/abs" ] &&
		[ -f "$TEST_DIR/t$canary/up" ] || fail "the writes did not land inside the target"

	hostile_tar "$TEST_DIR/through.tar" "lnk:h2:evil/secret"
	run "$LAYER_APPLY" "$TEST_DIR/t" "$TEST_DIR/through.tar"
	assert_failure
	assert_output "layer-apply: apply layer: layer entry \`h2\`: hardlink target \`evil/secret\`: No such file or directory"

	[ "$(find "$canary" -printf '%p %M %n %s %T@\n')" = "$before" ] || fail "the canary changed"
	[ "$(stat -c %h "$canary/secret")" = 1 ] || fail "the canary got a hard link"
}
