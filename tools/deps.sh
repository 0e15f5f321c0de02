#!/bin/sh
# Installs what lbd's build, tests and demo need on Debian 12. Idempotent:
# packages already present are left alone, and apt-get update runs only when
# something is missing.
set -eu

PKGS="
cmake make gcc pkg-config clang llvm bpftool libclang-rt-14-dev
libbpf-dev libxdp-dev xdp-tools libelf-dev zlib1g-dev
libconfig-dev libcriterion-dev libsystemd-dev libjson-c-dev libmnl-dev
libmicrohttpd-dev libcurl4-openssl-dev libyaml-dev libssl-dev libcap-dev
libsmartcols-dev
bird2 iproute2 iputils-ping ethtool tcpdump tshark curl python3 procps
python3-prometheus-client openssl
debhelper dpkg-dev fakeroot lintian mandoc man-db
iptables nftables gnuplot-nox
"

# kubectl checks the tests' Kubernetes API server from the client side;
# Debian's kubernetes-client unless another package brought a kubectl
command -v kubectl >/dev/null 2>&1 || PKGS="$PKGS kubernetes-client"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# tshark asks whether non-root users may capture; the answer is no.
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
		debconf-set-selections
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi


# lbd's children run as this system user (processes.user, lbd.conf(5));
# the Debian package makes it, a build tree's tests need it too
if ! getent passwd lbd >/dev/null; then
	echo "deps: adding the system user lbd"
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin lbd
fi
