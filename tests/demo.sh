#!/bin/bash
# Runs one container with berth: a busybox root filesystem in a temporary
# directory, a config.json from `berth spec`, and `berth run` of a process that
# says hello and prints `uname -a` and `id`. Everything is removed afterwards.
#
# usage: tests/demo.sh   (as root, after ./configure && make)
set -euo pipefail

srcdir=$(cd "$(dirname "$0")/.." && pwd)
BERTH=${BERTH:-${BERTH_BUILDDIR:-$srcdir}/berth}
BUSYBOX=${BUSYBOX:-/bin/busybox}

[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root" >&2; exit 1; }
[ -x "$BERTH" ] || { echo "demo.sh: $BERTH not found: run ./configure && make first" >&2; exit 1; }
[ -x "$BUSYBOX" ] || { echo "demo.sh: $BUSYBOX not found: apt-get install busybox-static" >&2; exit 1; }
command -v jq >/dev/null || { echo "demo.sh: jq not found: apt-get install jq" >&2; exit 1; }

tmp=$(mktemp -d /tmp/berth-demo.XXXXXX)
id=demo-$$
cleanup() {
	"$BERTH" --root "$tmp/state" delete --force "$id" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# a root filesystem: static busybox with its applets as symlinks
rootfs=$tmp/bundle/rootfs
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root}
cp "$BUSYBOX" "$rootfs/bin/busybox"
"$BUSYBOX" --list-full | while read -r applet; do
	[ "$applet" = bin/busybox ] && continue
	mkdir -p "$rootfs/$(dirname "$applet")"
	ln -s /bin/busybox "$rootfs/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"

# the bundle's config.json: berth's default, with our process and no terminal
"$BERTH" spec --bundle "$tmp/bundle"
jq '.process.terminal = false
    | .process.args = ["/bin/sh", "-c", "echo hello from berth; uname -a; id"]' \
	"$tmp/bundle/config.json" >"$tmp/config.json"
mv "$tmp/config.json" "$tmp/bundle/config.json"

echo "+ berth run $id"
"$BERTH" --root "$tmp/state" run --bundle "$tmp/bundle" "$id" </dev/null
