#!/bin/bash
# The lbd lab: a small network in namespaces on one machine.
#
#   client ---- router ---- lb1 [lb2]        (LB segment, one L2 bridge)
#                  |
#                  +------- backend1..N      (server segment, one L2 bridge)
#
#   client   eth0 192.0.2.2/24        2001:db8:c::2/64     via router
#   router   192.0.2.1 (client side), 198.18.0.1 (LB segment),
#            198.18.1.1 (server segment); routes the VIP prefixes
#            203.0.113.0/24 and 2001:db8:f::/64 to lb1 (static routes),
#            or with LAB_BGP=1 to whichever LB hosts announce them
#   lbK      eth0 198.18.0.(K*10)/24  2001:db8::(K*10 hex digits)/64
#   backendN eth0 198.18.1.(10+N)/24  2001:db8:1::(10+N)/64
#
# With LAB_BGP=1 the router runs BIRD (bgp/templates/bird-router.conf:
# AS 65000, every LB host of the segment a dynamic neighbour, ECMP into
# its kernel table) and so does every LB host (bird-lb.conf: AS 65001,
# including the file lbd writes, $(lab.sh path)/lbK/bird/vips.conf; its
# control socket $(lab.sh path)/lbK/bird.ctl). The router hashes ECMP
# flows by their ports too (fib_multipath_hash_policy 1).
#
# Usage: lab.sh up | down | exec HOST CMD... | status | ns HOST | path
#        lab.sh bird start|stop HOST   (BIRD of an LB host, LAB_BGP=1)
# Environment:
#   LAB_PREFIX    name prefix of every namespace and file (default: lbd);
#                 two runs with different prefixes never collide
#   LAB_BACKENDS  number of backends (default: 2)
#   LAB_LBS       number of LB hosts (default: 1)
#   LAB_BGP       1: BIRD on the router and the LB hosts (default: 0)
#   LBD_BUILD     the build directory (default: build/ beside this tree)
#
# Every LB host gets its own bpffs mounted at $(lab.sh path)/bpf/lbK before
# lbd runs: `ip netns exec` gives each command a private mount namespace, so
# a bpffs that lbd mounted itself there would vanish with the process, and
# with it the pinned maps a restarted lbd adopts.
set -euo pipefail

PREFIX=${LAB_PREFIX:-lbd}
NBACKENDS=${LAB_BACKENDS:-2}
NLBS=${LAB_LBS:-1}
BGP=${LAB_BGP:-0}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEMPLATES=$HERE/../../bgp/templates
BUILD=${LBD_BUILD:-$HERE/../../build}
STATE=/run/lbd-lab/$PREFIX

die() {
	echo "lab: $*" >&2
	exit 1
}

ns() { echo "$PREFIX-$1"; }
nsx() {
	local n=$1
	shift
	ip netns exec "$(ns "$n")" "$@"
}

hosts() {
	echo client router
	for ((i = 1; i <= NLBS; i++)); do echo "lb$i"; done
	for ((i = 1; i <= NBACKENDS; i++)); do echo "backend$i"; done
}

# sysctl inside a namespace; quiet, fails loudly only if the knob is absent.
nsysctl() {
	nsx "$1" sysctl -qw "$2" >/dev/null
}

# link HOST IFNAME ROUTER_SIDE_NAME [BRIDGE]: a veth from the router to HOST.
link() {
	local host=$1 ifname=$2 rname=$3 bridge=${4:-}
	ip -n "$(ns router)" link add "$rname" type veth peer name tmp0 \
		netns "$(ns "$host")"
	ip -n "$(ns "$host")" link set tmp0 name "$ifname"
	if [ -n "$bridge" ]; then
		ip -n "$(ns router)" link set "$rname" master "$bridge"
	fi
	ip -n "$(ns router)" link set "$rname" up
	ip -n "$(ns "$host")" link set "$ifname" up
	ip -n "$(ns "$host")" link set lo up
}

lb_v4() { echo "198.18.0.$(($1 * 10))"; }
lb_v6() { echo "2001:db8::$(($1 * 10))"; }
be_v4() { echo "198.18.1.$((10 + $1))"; }
be_v6() { echo "2001:db8:1::$((10 + $1))"; }

# XDP_TX and redirected frames reach a veth only while its peer runs an XDP
# program; the router side of every LB link gets the pass program.
attach_peer_xdp() {
	local dev=$1 obj=$BUILD/gen/xdp_pass.bpf.o
	[ -f "$obj" ] || die "$obj missing: build first (tools/build.sh)"
	ip -n "$(ns router)" link set dev "$dev" xdpdrv obj "$obj" sec xdp
}

# BIRD of a host from the templates in bgp/, with the lab's paths: a log
# file instead of syslog, lbd's file under the lab's state directory, and
# one router (the template has two).
bird_conf() {
	local h=$1 conf=$STATE/$1/bird.conf
	mkdir -p "$STATE/$h"
	if [ "$h" = router ]; then
		sed -e "s|^log syslog all;|log \"$STATE/$h/bird.log\" all;|" \
			"$TEMPLATES/bird-router.conf" >"$conf"
	else
		local k=${h#lb}
		sed -e "s|^log syslog all;|log \"$STATE/$h/bird.log\" all;|" \
			-e "s|^router id .*;|router id $(lb_v4 "$k");|" \
			-e "s|/run/lbd/bir\[d\]/vips.conf|$STATE/$h/bir[d]/vips.conf|" \
			-e '/^# router2 begin/,/^# router2 end/d' \
			"$TEMPLATES/bird-lb.conf" >"$conf"
	fi
	echo "$conf"
}

bird_start() {
	local h=$1 conf
	conf=$(bird_conf "$h")
	nsx "$h" bird -c "$conf" -s "$STATE/$h/bird.ctl" -P "$STATE/$h/bird.pid"
}

bird_stop() {
	local h=$1
	[ -S "$STATE/$h/bird.ctl" ] || return 0
	nsx "$h" birdc -s "$STATE/$h/bird.ctl" down >/dev/null || true
	# down returns before BIRD has gone: wait (bounded) for it
	local i
	for i in $(seq 50); do
		[ -e "$STATE/$h/bird.pid" ] &&
			kill -0 "$(cat "$STATE/$h/bird.pid")" 2>/dev/null ||
			return 0
		sleep 0.1
	done
	die "BIRD on $h did not stop"
}

up_once() {
	mkdir -p "$STATE/bpf"
	for h in $(hosts); do
		ip netns add "$(ns "$h")"
		ip -n "$(ns "$h")" link set lo up
		# No duplicate address detection in a lab with no duplicates:
		# tentative link-local addresses would hold up the first
		# neighbour discovery for a second.
		nsysctl "$h" net.ipv6.conf.all.accept_dad=0
		nsysctl "$h" net.ipv6.conf.default.accept_dad=0
	done

	local r
	r=$(ns router)
	nsysctl router net.ipv4.ip_forward=1
	nsysctl router net.ipv6.conf.all.forwarding=1
	# Replies from the backends carry a VIP source that the router does not
	# route towards them: DSR is asymmetric by design.
	nsysctl router net.ipv4.conf.all.rp_filter=0
	nsysctl router net.ipv4.conf.default.rp_filter=0
	# ECMP across LB hosts by ports too: one client's connections spread
	nsysctl router net.ipv4.fib_multipath_hash_policy=1
	nsysctl router net.ipv6.fib_multipath_hash_policy=1

	# client segment
	link client eth0 client
	ip -n "$r" addr add 192.0.2.1/24 dev client
	ip -n "$r" addr add 2001:db8:c::1/64 dev client nodad
	nsx client ip addr add 192.0.2.2/24 dev eth0
	nsx client ip addr add 2001:db8:c::2/64 dev eth0 nodad
	nsx client ip route add default via 192.0.2.1
	nsx client ip -6 route add default via 2001:db8:c::1
	# A real NIC puts full checksums on the wire; a veth with TX offload
	# leaves partial ones that only its peer's stack understands, and the
	# LB forwards them to another host. The client computes its own.
	nsx client ethtool -K eth0 tx off >/dev/null

	# LB segment
	ip -n "$r" link add br-lb type bridge forward_delay 0
	ip -n "$r" link set br-lb up
	ip -n "$r" addr add 198.18.0.1/24 dev br-lb
	ip -n "$r" addr add 2001:db8::1/64 dev br-lb nodad
	for ((i = 1; i <= NLBS; i++)); do
		link "lb$i" eth0 "lb$i" br-lb
		nsx "lb$i" ip addr add "$(lb_v4 "$i")/24" dev eth0
		nsx "lb$i" ip addr add "$(lb_v6 "$i")/64" dev eth0 nodad
		nsx "lb$i" ip route add default via 198.18.0.1
		nsx "lb$i" ip -6 route add default via 2001:db8::1
		nsysctl "lb$i" net.ipv4.conf.all.rp_filter=0
		attach_peer_xdp "lb$i"
		# With an XDP program a veth runs NAPI, and GRO would merge the
		# LB's frames into super-packets before captures and the router
		# see them: keep the router's side of the link frame-exact.
		ip netns exec "$r" ethtool -K "lb$i" gro off >/dev/null
		mkdir -p "$STATE/bpf/lb$i"
		mount -t bpf bpf "$STATE/bpf/lb$i"
	done

	# server segment
	ip -n "$r" link add br-srv type bridge forward_delay 0
	ip -n "$r" link set br-srv up
	ip -n "$r" addr add 198.18.1.1/24 dev br-srv
	ip -n "$r" addr add 2001:db8:1::1/64 dev br-srv nodad
	for ((i = 1; i <= NBACKENDS; i++)); do
		link "backend$i" eth0 "be$i" br-srv
		nsx "backend$i" ip addr add "$(be_v4 "$i")/24" dev eth0
		nsx "backend$i" ip addr add "$(be_v6 "$i")/64" dev eth0 nodad
		nsx "backend$i" ip route add default via 198.18.1.1
		nsx "backend$i" ip -6 route add default via 2001:db8:1::1
		nsysctl "backend$i" net.ipv4.conf.all.rp_filter=0
		nsysctl "backend$i" net.ipv4.conf.default.rp_filter=0
		# full checksums on the wire, as the client's (see there):
		# SNAT replies cross the LB's XDP program
		nsx "backend$i" ethtool -K eth0 tx off >/dev/null
		mkdir -p "$STATE/bpf/backend$i"
		mount -t bpf bpf "$STATE/bpf/backend$i"
	done

	if [ "$BGP" = 1 ]; then
		# the VIPs go where BIRD learns them
		bird_start router
		for ((i = 1; i <= NLBS; i++)); do bird_start "lb$i"; done
	else
		ip -n "$r" route add 203.0.113.0/24 via "$(lb_v4 1)"
		ip -n "$r" -6 route add 2001:db8:f::/64 via "$(lb_v6 1)"
	fi

	echo "$NBACKENDS $NLBS $BGP" >"$STATE/up"
}

is_up() {
	[ -f "$STATE/up" ] || return 1
	[ "$(cat "$STATE/up")" = "$NBACKENDS $NLBS $BGP" ] || return 1
	for h in $(hosts); do
		[ -e "/run/netns/$(ns "$h")" ] || return 1
	done
}

cmd_up() {
	[ "$(id -u)" = 0 ] || die "must run as root"
	if is_up; then
		return 0
	fi
	cmd_down
	if ! up_once; then
		cmd_down
		die "up failed; everything it made is removed"
	fi
}

# Removes everything the lab (and anything run inside it) made under this
# prefix, whether or not the last up completed or its state file survived.
cmd_down() {
	local n pid
	for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case "$n" in
		"$PREFIX"-client | "$PREFIX"-router | "$PREFIX"-lb[0-9]* | \
			"$PREFIX"-backend[0-9]*) ;;
		*) continue ;;
		esac
		for pid in $(ip netns pids "$n" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null || true
		done
		ip netns del "$n" 2>/dev/null || true
	done
	if [ -d "$STATE" ]; then
		local m
		for m in "$STATE"/bpf/*; do
			[ -d "$m" ] || continue
			# lazily if a process of the lab still ends: the
			# mount must go whatever holds it
			if mountpoint -q "$m"; then
				umount "$m" 2>/dev/null || umount -l "$m"
			fi
		done
		rm -rf "$STATE"
	fi
}

cmd_status() {
	if is_up; then
		echo "lab $PREFIX: up ($NBACKENDS backends, $NLBS LB hosts)"
		for h in $(hosts); do echo "  $(ns "$h")"; done
	else
		echo "lab $PREFIX: down"
		return 1
	fi
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
exec)
	[ $# -ge 3 ] || die "usage: lab.sh exec HOST CMD..."
	shift
	host=$1
	shift
	exec ip netns exec "$(ns "$host")" "$@"
	;;
ns)
	[ $# -eq 2 ] || die "usage: lab.sh ns HOST"
	ns "$2"
	;;
path) echo "$STATE" ;;
bird)
	[ $# -eq 3 ] || die "usage: lab.sh bird start|stop HOST"
	is_up || die "lab $PREFIX is not up"
	case "$2" in
	start) bird_start "$3" ;;
	stop) bird_stop "$3" ;;
	*) die "usage: lab.sh bird start|stop HOST" ;;
	esac
	;;
*)
	echo "usage: lab.sh up|down|status|exec HOST CMD...|ns HOST|path|bird" >&2
	exit 2
	;;
esac
