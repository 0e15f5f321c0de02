#!/bin/bash
# The lbd demo, for a fresh Debian 12 machine, as root: installs what it
# needs, builds, brings up the lab (tests/lab/lab.sh: a client, a router
# running BIRD, an LB host running BIRD, two backends, in network
# namespaces), runs lbd on the LB host with config/examples/demo.conf and
# in the backend role on the backends, shows the router learning the VIPs
# once the health checks pass, sends HTTP requests from the client to the
# VIPs, prints how they spread over the backends and that the replies
# came straight from the backends, stops lbd (the router sees the VIPs
# go), and removes everything again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root" >&2; exit 1; }
REQUESTS=${DEMO_REQUESTS:-300}

say() { printf '\n== %s\n' "$*"; }

say "installing what the demo needs and building lbd"
./tools/deps.sh
./tools/build.sh >/dev/null

export LAB_PREFIX=demo LAB_BACKENDS=2 LAB_LBS=1 LAB_BGP=1
LAB=tests/lab/lab.sh
cleanup() {
	say "cleaning up"
	"$LAB" down
	echo "lab removed"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "bringing up the lab"
"$LAB" up
P=$("$LAB" path)
"$LAB" status

# Waits (bounded) until a command succeeds.
wait_cmd() {
	local what=$1 i
	shift
	for i in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "timed out waiting for $what" >&2
	return 1
}

# Waits (bounded) until a file contains a string.
wait_for() {
	local file=$1 what=$2 i
	for i in $(seq 100); do
		grep -q "$what" "$file" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timed out waiting for '$what' in $file:" >&2
	cat "$file" >&2
	return 1
}

say "starting the backends: lbd in the backend role, an HTTP server"
for i in 1 2; do
	sed -e "s|/sys/fs/bpf/lbd-backend|$P/bpf/backend$i|" \
		-e "s|/run/lbd/lbd-backend.sock|$P/backend$i.sock|" \
		-e 's|vips = ("203.0.113.10");|vips = ("203.0.113.10", "2001:db8:f::10");|' \
		config/examples/backend.conf >"$P/backend$i.conf"
	# (in subshells: lab.sh down ends them without job-control noise)
	("$LAB" exec "backend$i" build/bin/lbd -c "$P/backend$i.conf" \
		>"$P/backend$i.log" 2>&1 &)
	("$LAB" exec "backend$i" python3 tests/lab/server.py "backend$i" \
		--http 80 --http 8080 >"$P/server$i.log" 2>&1 &)
	wait_for "$P/backend$i.log" "lbd ready"
	wait_for "$P/server$i.log" "ready"
	echo "backend$i: $(grep -h 'tc companion' "$P/backend$i.log")"
done

say "the router and the LB host run BIRD (bgp/templates/); no VIP routes yet"
"$LAB" exec router birdc -s "$P/router/bird.ctl" show protocols | sed 's/^/  /'
echo "  the router's routes to the VIPs:" \
	"$("$LAB" exec router ip route show root 203.0.113.0/24 | wc -l)"

say "starting lbd on the LB host with config/examples/demo.conf"
sed -e "s|/sys/fs/bpf/lbd\"|$P/bpf/lb1\"|" \
	-e "s|/run/lbd/demo.sock|$P/lb1.sock|" \
	-e "s|/run/bird/bird.ctl|$P/lb1/bird.ctl|" \
	-e "s|/run/lbd/bird/vips.conf|$P/lb1/bird/vips.conf|" \
	config/examples/demo.conf >"$P/lb1.conf"
# (ip netns exec becomes lbd: the pid is lbd's)
("$LAB" exec lb1 build/bin/lbd -c "$P/lb1.conf" >"$P/lb1.log" 2>&1 &
	echo $! >"$P/lb1.pid")
wait_for "$P/lb1.log" "lbd ready"
has_routes() {
	"$LAB" exec router ip route show 203.0.113.10 | grep -q via &&
		"$LAB" exec router ip route show 203.0.113.11 | grep -q via &&
		"$LAB" exec router ip -6 route show 2001:db8:f::10 | grep -q via
}
wait_cmd "the router to learn the VIPs" has_routes
all_up() {
	"$LAB" exec lb1 build/bin/lbctl -s "$P/lb1.sock" status |
		grep -q '6 checks: 6 up'
}
wait_cmd "every backend's health check to pass" all_up
sed 's/^/  /' "$P/lb1.log"

say "health checks (through the datapath) and the VIPs BIRD announces"
"$LAB" exec lb1 build/bin/lbctl -s "$P/lb1.sock" backends |
	cut -c1-96 | sed 's/^/  /'
"$LAB" exec lb1 build/bin/lbctl -s "$P/lb1.sock" status |
	sed -n '/^health/,$p' | sed 's/^/  /'
say "the router's kernel table: the VIPs via the LB host, learnt by BGP"
"$LAB" exec router ip route show root 203.0.113.0/24 | sed 's/^/  /'
"$LAB" exec router ip -6 route show root 2001:db8:f::/64 | sed 's/^/  /' 

# What reaches the client, seen on the LB host's link and on the router's
# link to the client: DSR replies must not cross the LB.
("$LAB" exec lb1 tcpdump -i eth0 -n -U -w "$P/lb.pcap" \
	"dst host 192.0.2.2 or dst host 2001:db8:c::2" >"$P/lb.tcpdump" 2>&1 &
	echo $! >"$P/lbcap.pid")
("$LAB" exec router tcpdump -i client -n -U -w "$P/router.pcap" \
	"dst host 192.0.2.2 or dst host 2001:db8:c::2" \
	>"$P/router.tcpdump" 2>&1 &
	echo $! >"$P/rcap.pid")
wait_for "$P/lb.tcpdump" "listening on"
wait_for "$P/router.tcpdump" "listening on"

for url in http://203.0.113.10/ http://203.0.113.11/ 'http://[2001:db8:f::10]/'; do
	say "$REQUESTS HTTP requests from the client to $url"
	"$LAB" exec client python3 tests/lab/client.py http "$url" \
		-n "$REQUESTS" -c 16 --human
done

for pid in "$P/lbcap.pid" "$P/rcap.pid"; do
	# ip netns exec became tcpdump: its pid is tcpdump's
	kill -INT "$(cat "$pid")"
done
for pid in "$P/lbcap.pid" "$P/rcap.pid"; do
	while kill -0 "$(cat "$pid")" 2>/dev/null; do sleep 0.1; done
done
to_client=$(tcpdump -n -r "$P/router.pcap" 2>/dev/null | wc -l)
via_lb=$(tcpdump -n -r "$P/lb.pcap" 2>/dev/null | wc -l)
say "direct server return"
echo "  packets to the client on the router's client link: $to_client"
echo "  of those, seen on the LB host's link:              $via_lb"
if [ "$via_lb" = 0 ]; then
	echo "  replies went straight from the backends to the client"
else
	echo "  replies crossed the LB host: DSR is not working" >&2
	exit 1
fi

say "stopping lbd: graceful shutdown community, then the withdraw"
kill -TERM "$(cat "$P/lb1.pid")"
no_routes() {
	! "$LAB" exec router ip route show root 203.0.113.0/24 | grep -q via
}
wait_cmd "the router to drop the VIPs" no_routes
wait_for "$P/lb1.log" "VIPs withdrawn from BIRD"
grep -E 'stopping|withdrawn' "$P/lb1.log" | sed 's/^/  /'
echo "  the router's routes to the VIPs now:" \
	"$("$LAB" exec router ip route show root 203.0.113.0/24 | wc -l)"

say "the LB host's datapath counters"
bpftool -j map dump pinned "$P/bpf/lb1/lbd_stats" | python3 -c '
import json, re, sys
names = re.findall(r"X\(LBD_\w+,\s*\"(\w+)\"", open("include/lbd/shared.h").read())
for e in json.load(sys.stdin):
    n = sum(v["value"]["packets"] if isinstance(v["value"], dict)
            else int.from_bytes(bytes(int(b, 16) for b in v["value"][:8]), "little")
            for v in e["values"])
    k = e["key"] if isinstance(e["key"], int) else int(e["key"][0], 16)
    if n:
        print(f"  {names[k]:20s} {n}")
'
