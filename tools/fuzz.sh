#!/bin/sh
# Runs lbd's fuzz targets (docs/fuzzing.md), as root:
#
#   tools/fuzz.sh [TARGET] [SECONDS]
#
# TARGET is config, k8s, control, datapath or all (the default); SECONDS
# is each target's run time (default 60). Builds build-san/ first
# (tools/build-san.sh). libFuzzer targets keep what they learn in
# build-san/tests/fuzz/corpus-TARGET and write reproducers there; the
# seeds in tests/fuzz/corpus stay untouched. Environment: FUZZ_SEED (a
# number: reproducible runs), FUZZ_JOBS (parallel libFuzzer workers).
# Exits non-zero if any target found something.
set -eu
cd "$(dirname "$0")/.."
target=${1:-all}
secs=${2:-60}
case "$target" in
config | k8s | control | datapath) targets=$target ;;
all) targets="config k8s control datapath" ;;
*)
	echo "usage: tools/fuzz.sh [config|k8s|control|datapath|all] [SECONDS]" >&2
	exit 2
	;;
esac
[ "$(id -u)" = 0 ] || { echo "fuzz.sh: run as root (BPF_PROG_TEST_RUN)" >&2; exit 1; }

./tools/deps.sh
./tools/build-san.sh

src=$(pwd)/tests/fuzz
out=$(pwd)/build-san/tests/fuzz
export LSAN_OPTIONS="suppressions=$src/lsan.supp"
failed=""
for t in $targets; do
	echo "== fuzz $t for $secs s"
	if [ "$t" = datapath ]; then
		set -- -t "$secs"
		[ -n "${FUZZ_SEED:-}" ] && set -- "$@" -s "$FUZZ_SEED"
		build-san/bin/fuzz_datapath "$@" || failed="$failed $t"
		continue
	fi
	mkdir -p "$out/corpus-$t"
	set -- -max_total_time="$secs" -max_len=8192 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$out/corpus-$t/"
	[ -n "${FUZZ_SEED:-}" ] && set -- "$@" -seed="$FUZZ_SEED"
	[ -n "${FUZZ_JOBS:-}" ] && set -- "$@" -fork="$FUZZ_JOBS"
	"build-san/bin/fuzz_$t" "$@" "$out/corpus-$t" "$src/corpus/$t" ||
		failed="$failed $t"
done
if [ -n "$failed" ]; then
	echo "fuzz.sh: findings in:$failed" >&2
	exit 1
fi
