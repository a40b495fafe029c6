#!/bin/sh
# Golden tests of the Dockerfile front end: each tests/builder/golden/NAME.Dockerfile
# is dumped by berth-build-dump (with the flags in NAME.args, if any) and the
# output, errors included, must equal NAME.expected.  TAP output.
# BERTH_UPDATE_GOLDEN=1 rewrites the expected files instead.
srcdir=${BERTH_SRCDIR:-$(dirname "$0")/../..}
builddir=${BERTH_BUILDDIR:-$srcdir}
dump=$builddir/berth-build-dump
cd "$srcdir/tests/builder/golden" || exit 1
n=0
fail=0
for df in *.Dockerfile; do
	name=${df%.Dockerfile}
	n=$((n + 1))
	args=
	[ -f "$name.args" ] && args=$(cat "$name.args")
	# shellcheck disable=SC2086 # the args are words
	out=$("$dump" $args "$df" 2>&1)
	if [ -n "$BERTH_UPDATE_GOLDEN" ]; then
		printf '%s\n' "$out" >"$name.expected"
	fi
	if printf '%s\n' "$out" | cmp -s - "$name.expected"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		printf '%s\n' "$out" | diff -u "$name.expected" - | sed 's/^/# /'
		fail=1
	fi
done
echo "1..$n"
exit $fail
