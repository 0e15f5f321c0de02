#!/bin/sh
# The layering of the daemon's folders (docs/architecture.md), checked:
#  - only lbd/dp/ includes libbpf, libxdp or a BPF skeleton;
#  - config/ includes no header of lbd/ (lbd depends on config, never the
#    reverse).
# Prints each offending line; fails when there is one.
set -u
cd "$(dirname "$0")/../.."
bad=0

hits=$(grep -rnE '#include[[:space:]]*[<"](bpf/|xdp/libxdp|[a-z_]+\.skel\.h)' \
	lbd --include='*.c' --include='*.h' | grep -v '^lbd/dp/')
if [ -n "$hits" ]; then
	echo "libbpf, libxdp or a skeleton outside lbd/dp/:"
	echo "$hits"
	bad=1
fi

for h in $(find lbd -name '*.h' -exec basename {} \; | sort -u); do
	hits=$(grep -nE "#include[[:space:]]*\"$h\"" config/*.c config/*.h)
	if [ -n "$hits" ]; then
		echo "config/ includes lbd/'s $h:"
		echo "$hits"
		bad=1
	fi
done
exit $bad
