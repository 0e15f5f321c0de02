#!/bin/sh
# Runs every test of lbd: installs what is needed (Debian 12, as root),
# builds, and runs ctest. Fails if a test fails or none ran.
#
#   tools/test.sh                 everything: build/ (labels unit,
#                                 datapath, integration, package: the
#                                 Debian package and the Release
#                                 build), then the
#                                 sanitizer build build-san/ (unit and
#                                 datapath under ASan and UBSan, and the
#                                 fuzz targets briefly: label fuzz)
#   tools/test.sh CTEST-ARGS      build/ only, e.g. -L unit
#   tools/test.sh --sanitize [CTEST-ARGS]
#                                 build-san/ only (default: -L
#                                 'unit|datapath|fuzz')
#
# The two builds run one after the other, as do their test runs: on a
# 2-core machine a parallel build gains nothing, and the integration
# tests' timing should not compete with the sanitizer run. Within a run
# ctest starts two tests at a time, except the integration and package
# tests, which run alone (RUN_SERIAL, their timing bounds assume the
# whole machine): the fuzz targets run for fixed times, and the unit
# tests often wait, while the other core does the rest.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root" >&2; exit 1; }

normal=1
san=1
if [ "${1:-}" = "--sanitize" ]; then
	shift
	normal=0
elif [ $# -gt 0 ]; then
	san=0
fi

./tools/deps.sh
[ $normal = 0 ] || ./tools/build.sh
[ $san = 0 ] || ./tools/build-san.sh

# a run killed before its clean-up left labs behind: remove them
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
	case "$ns" in
	it-*-client) LAB_PREFIX=${ns%-client} tests/lab/lab.sh down ;;
	esac
done

rc=0
if [ $normal = 1 ]; then
	(cd build && ctest -j2 --output-on-failure --no-tests=error \
		--timeout 900 "$@") || rc=1
fi
if [ $san = 1 ]; then
	[ $# -gt 0 ] || set -- -L 'unit|datapath|fuzz'
	# LeakSanitizer too; a UBSan report fails the test (the build has
	# -fno-sanitize-recover), with its stack
	(cd build-san &&
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
			ctest -j2 --output-on-failure --no-tests=error \
			--timeout 900 "$@") || rc=1
fi
exit $rc
