#!/bin/sh
# lbd and lbctl build with CMAKE_BUILD_TYPE=Release (-O3, whose inlining
# finds truncations and overreads -O2 does not) without a warning: the
# build has -Werror. The package build (test_package.sh) covers
# dpkg-buildflags' -O2 and hardening flags.
#
#   build_release.sh SOURCE_DIR
set -eu
src=$1
tmp=$(mktemp -d /tmp/lbd-release.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake -S "$src" -B "$tmp" -DCMAKE_BUILD_TYPE=Release >"$tmp/log" 2>&1 ||
	{ cat "$tmp/log"; exit 1; }
if ! cmake --build "$tmp" -j "$(nproc)" --target lbd lbctl >"$tmp/log" 2>&1; then
	grep -E -A6 'error|warning' "$tmp/log" | head -60
	echo "FAIL: the Release build" >&2
	exit 1
fi
if grep -E 'warning' "$tmp/log"; then
	echo "FAIL: warnings in the Release build" >&2
	exit 1
fi
echo "Release build of lbd and lbctl: clean"
