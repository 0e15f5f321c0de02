#!/bin/sh
# Runs every test of lbd: installs what is needed (Debian 12, as root),
# builds, and runs ctest (labels unit, datapath, integration). Fails if a
# test fails or none ran. Extra arguments go to ctest, e.g. -L unit.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root" >&2; exit 1; }

./tools/deps.sh
./tools/build.sh

# a run killed before its clean-up left labs behind: remove them
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
	case "$ns" in
	it-*-client) LAB_PREFIX=${ns%-client} tests/lab/lab.sh down ;;
	esac
done

cd build
ctest --output-on-failure --no-tests=error --timeout 900 "$@"
