#!/usr/bin/env python3
"""lbd in role node receives direct server return (issue 17): another
node's NIC path sends a client's packets for a Service on to a pod behind
this node in Geneve (Cilium's form: UDP 6081, VNI 2, the DSR option with
the Service address and port, inner Ethernet, the inner packet already
translated to the pod); this node's backend companion decapsulates them
and gives the pod's replies the Service address back.

lbd runs in lb1 (this node, 198.18.0.10) with node_role.dsr_sources =
198.18.1.8/30: backend1 (198.18.1.11) stands for a trusted node,
backend2 (198.18.1.12) for an untrusted host. Their Geneve datagrams are
crafted here (an ordinary UDP socket to lb1:6081; the inner headers and
checksums built by this test), inner source the lab's client, inner
destination the pod (a namespace behind lb1) and port 8080, where
nodeserver.py answers with its name and the address it sees. The Service
is backend1's address with NodePort 30080.

Checked: lbd --check names the trusted prefixes; the client receives the pod's UDP reply and TCP SYN-ACK from
198.18.1.11:30080, not from the pod; the pod sees the client's address;
lbctl stats counts them (dsr_counters: decap_geneve, reply_restored),
and so do the metrics (lbd_datapath_packets_total);
Geneve from backend2 is dropped and counted (untrusted_encap) and the pod
receives nothing; a reload that leaves backend1 out of dsr_sources makes
it untrusted, one with no sources takes the companion off (its pins go)
and one with them again puts it back, as it follows the NIC path's
interfaces (none, then eth0 again); kill -9 keeps the companion working, a new lbd replaces its
programs in place and adopts its pinned maps (its counters go on); lbd
--cleanup removes the filters and the pins.
"""
import json
import os
import subprocess
import sys

from k8stest import FakeAPI
from labtest import LBCTL
from labtest import LBD as LBD_BIN
from labtest import Lab, Lbd, check, run, wait_until
from nodelab import POD_IP, cgroup_mount, cleanup, pod_up

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "nodeserver.py")
NODE4 = "198.18.0.10"
CLIENT4 = "192.0.2.2"
NODE_A, UNTRUSTED = "198.18.1.11", "198.18.1.12"
SVC_PORT = 30080
EP_PORT = 8080

# On the sending node: one Geneve datagram to NODE:6081 as a node's NIC
# path sends it. argv: node, svc, svc_port, client, client_port, pod,
# pod_port, "udp" or "syn".
SEND = r"""
import socket, struct, sys
node, svc, sport_svc, client, cport, pod, pport, kind = sys.argv[1:9]
sport_svc, cport, pport = int(sport_svc), int(cport), int(pport)

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

src, dst = socket.inet_aton(client), socket.inet_aton(pod)
if kind == "udp":
    data = b"hello\n"
    l4 = struct.pack("!HHHH", cport, pport, 8 + len(data), 0) + data
    proto, at = 17, 6
else:
    # a SYN with an MSS option
    l4 = struct.pack("!HHIIBBHHH", cport, pport, 1000, 0, 6 << 4, 0x02,
                     64240, 0, 0) + struct.pack("!BBH", 2, 4, 1400)
    proto, at = 6, 16
pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
c = csum(pseudo + l4)
if proto == 17 and c == 0:
    c = 0xffff
l4 = l4[:at] + struct.pack("!H", c) + l4[at + 2:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0x4000, 64,
                 proto, 0, src, dst)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + struct.pack("!H", 0x0800)
# Cilium's DSR option: class 0x014B, type 0x81 (critical), 2 words
opt = struct.pack("!HBB4sHH", 0x014B, 0x81, 2, socket.inet_aton(svc),
                  sport_svc, 0)
# version 0, 3 words of options; C (a critical option); Ethernet; VNI 2
gnv = struct.pack("!BBHI", len(opt) // 4, 0x40, 0x6558, 2 << 8)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(gnv + opt + eth + ip + l4, (node, 6081))
"""

# On the client: waits for one reply to PORT (UDP: on a socket bound to
# it; "syn": a SYN-ACK seen by a raw socket) and prints where it came
# from; "ready" once listening.
LISTEN = r"""
import json, socket, struct, sys
kind, port = sys.argv[1], int(sys.argv[2])
if kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.settimeout(10)
print("ready", flush=True)
try:
    while True:
        data, src = s.recvfrom(2000)
        if kind == "udp":
            print(json.dumps({"from": [src[0], src[1]],
                              "data": data.decode().strip()}), flush=True)
            break
        ihl = (data[0] & 15) * 4
        sp, dp = struct.unpack("!HH", data[ihl:ihl + 4])
        flags = data[ihl + 13]
        if dp == port and flags & 0x12 == 0x12:
            print(json.dumps({"from": [src[0], sp], "flags": flags}),
                  flush=True)
            break
except socket.timeout:
    print(json.dumps({"error": "timeout"}), flush=True)
"""


def node_conf(lab, api, cg, sources='"198.18.1.8/30", "2001:db8:1::/64"'):
    return f"""
role = "node";
node_role = {{ cgroup = "{cg}"; node_name = "lb1";
  addresses = ( "{NODE4}" ); max_services = 64; max_addresses = 256;
  max_endpoints = 256; reverse_entries = 4096; affinity_entries = 4096;
  nat_entries = 4096; pod_interfaces = ( "podveth*" );
  dsr_sources = ( {sources} );
  pin_path = "{lab.pin_path('lb1')}/node"; }};
kubernetes = {{ kubeconfig = "{api.kubeconfig}"; }};
control = {{ socket = "{lab.path}/lb1.sock"; }};
"""


def test():
    with Lab("nodedsr", backends=2) as lab:
        mnt = cgroup_mount(lab)
        cg = os.path.join(mnt, f"lbd-test-{lab.prefix}")
        pod_ns = f"{lab.prefix}-pod"
        try:
            os.makedirs(cg, exist_ok=True)
            body(lab, cg, pod_ns)
        finally:
            cleanup(cg, mnt, pod_ns)


class Test:
    def __init__(self, lab, pod_ns):
        self.lab = lab
        self.pod_ns = pod_ns
        self.ctl = os.path.join(lab.path, "lb1.sock")
        self.n = 0

    def lbctl(self, *args):
        return json.loads(self.lab.exec(
            "lb1", [LBCTL, "-s", self.ctl, "--json", *args]).stdout)

    def dsr(self):
        return {c["reason"]: c["packets"]
                for c in self.lbctl("stats").get("dsr_counters", [])}

    def send(self, frm, kind, cport):
        self.lab.exec(frm, [sys.executable, "-c", SEND, NODE4, NODE_A,
                            str(SVC_PORT), CLIENT4, str(cport), POD_IP,
                            str(EP_PORT), kind])

    def listen(self, kind, cport):
        self.n += 1
        log = os.path.join(self.lab.path, f"client-{self.n}.log")
        p = self.lab.spawn("client", [sys.executable, "-u", "-c", LISTEN,
                                      kind, str(cport)], log=log)
        wait_until(lambda: open(log).read().startswith("ready"), 10,
                   "the client listening")
        return p, log

    def exchange(self, kind, cport, frm="backend1"):
        """Sends one Geneve datagram from frm; what the client got."""
        p, log = self.listen(kind, cport)
        self.send(frm, kind, cport)
        p.wait(timeout=15)
        return json.loads(open(log).read().splitlines()[1])

    def pod_udp_in(self):
        """The pod's UDP InDatagrams (/proc/net/snmp)."""
        r = subprocess.run(["ip", "netns", "exec", self.pod_ns, "cat",
                            "/proc/net/snmp"], check=True,
                           capture_output=True, text=True)
        rows = [ln.split() for ln in r.stdout.splitlines()
                if ln.startswith("Udp:")]
        return int(rows[1][rows[0].index("InDatagrams")])

    def metric(self, reason):
        """lbd_datapath_packets_total of a companion's reason, from the
        metrics endpoint (the default, 127.0.0.1:9470)."""
        r = self.lab.exec("lb1", ["curl", "-sf",
                                  "http://127.0.0.1:9470/metrics"])
        want = f'lbd_datapath_packets_total{{reason="{reason}",'
        for line in r.stdout.splitlines():
            if line.startswith(want):
                return float(line.split()[-1])
        return None

    def filters(self):
        """The names of the programs in eth0's tc filters on lb1."""
        out = []
        for d in ("ingress", "egress"):
            r = self.lab.exec("lb1", ["tc", "filter", "show", "dev", "eth0",
                                      d], check=False)
            out.append(r.stdout)
        return out

    def companion_on_eth0(self):
        f = self.filters()
        return "lbd_tc_ingress" in f[0] and "lbd_tc_egress" in f[1]


def body(lab, cg, pod_ns):
    pod_up(lab, pod_ns, routed=False)
    log = os.path.join(lab.path, "pod-server.log")
    p = subprocess.Popen(["ip", "netns", "exec", pod_ns, sys.executable,
                          "-u", SERVER, "pod", str(EP_PORT), "--peer"],
                         stdout=open(log, "w"), stderr=subprocess.STDOUT)
    lab.procs.append(p)
    wait_until(lambda: open(log).read().startswith("ready"), 30,
               "the pod's server")
    api = FakeAPI(lab)
    lbd = Lbd(lab, "lb1", node_conf(lab, api, cg))
    # lbd --check shows the plan
    out = lab.exec("lb1", [LBD_BIN, "--check", "-c", lbd.conf]).stdout
    check("decapsulate Geneve from 198.18.1.8/30" in out and
          "decapsulate Geneve from 2001:db8:1::/64" in out,
          f"lbd --check: {out}")
    lbd.start()
    wait_until(lambda: "kubernetes: synced" in lbd.read_log(), 30,
               "the first sync")
    t = Test(lab, pod_ns)
    check(t.companion_on_eth0(), f"the companion on eth0: {t.filters()}")
    # lb1's IPv6 all.forwarding is 0 (a new namespace's): the pods'
    # IPv6 replies would not be forwarded, which lbd says
    check("net.ipv6.conf.all.forwarding is not 1: the pods' IPv6 replies"
          in lbd.read_log(), "no warning about IPv6 forwarding")
    check(t.lbctl("status")["node"]["dsr_interfaces"] == 1,
          f"lbctl status: {t.lbctl('status')['node']}")

    # UDP: the pod sees the client, the client the Service address
    r = t.exchange("udp", 40000)
    check(r == {"from": [NODE_A, SVC_PORT], "data": f"pod {CLIENT4}"},
          f"UDP through DSR: the reply from {NODE_A}:{SVC_PORT}: {r}; "
          f"lbctl stats: {t.dsr()}; the pod's UDP in: {t.pod_udp_in()}")
    # TCP: the SYN-ACK from the Service address
    r = t.exchange("syn", 41000)
    check(r.get("from") == [NODE_A, SVC_PORT],
          f"TCP through DSR: the SYN-ACK from {NODE_A}:{SVC_PORT}: {r}")
    c = t.dsr()
    check(c["decap_geneve"] == 2 and c["reply_restored"] >= 2 and
          not c["untrusted_encap"], f"lbctl stats: {c}")
    check(t.metric("decap_geneve") == 2 and
          t.metric("reply_restored") == c["reply_restored"],
          f"the metrics: decap_geneve {t.metric('decap_geneve')}, "
          f"reply_restored {t.metric('reply_restored')}")
    # the node paths' own families, one sample a reason each
    text = lab.exec("lb1", ["curl", "-sf",
                            "http://127.0.0.1:9470/metrics"]).stdout
    for fam in ("lbd_node_socket_total", "lbd_node_tc_total",
                "lbd_node_nic_total"):
        check(sum(1 for ln in text.splitlines()
                  if ln.startswith(fam + "{")) > 5,
              f"{fam} missing from the metrics")

    # untrusted: dropped, counted, the pod receives nothing
    pod0 = t.pod_udp_in()
    t.send("backend2", "udp", 40001)
    wait_until(lambda: t.dsr()["untrusted_encap"] == 1, 10,
               "the untrusted datagram counted")
    check(t.pod_udp_in() == pod0 and t.dsr()["decap_geneve"] == 2,
          f"the pod received the untrusted datagram: {t.dsr()}")

    # a reload leaving backend1 out: it is untrusted from then on
    conf = open(lbd.conf).read()
    lbd.write_conf(conf.replace('"198.18.1.8/30", ', ""))
    lbd.reload()
    t.send("backend1", "udp", 40002)
    wait_until(lambda: t.dsr()["untrusted_encap"] == 2, 10,
               "backend1's datagram counted untrusted after the reload")
    check(t.pod_udp_in() == pod0, "the pod received it")
    # no sources: the companion leaves eth0 (and its pins go); given
    # again, it is back
    lbd.write_conf(conf.replace(
        'dsr_sources = ( "198.18.1.8/30", "2001:db8:1::/64" );',
        "dsr_sources = ( );"))
    lbd.reload()
    pins = os.path.join(lab.pin_path("lb1"), "node", "companion")
    check(not any("lbd_tc_" in f for f in t.filters()) and
          not os.path.exists(pins) and
          t.lbctl("status")["node"]["dsr_interfaces"] == 0,
          f"dsr_sources = ( ): the companion left eth0: {t.filters()}")
    # it follows the NIC path's interfaces: none, then eth0 again
    lbd.write_conf(conf.replace("nat_entries = 4096;",
                                "nat_entries = 4096; interfaces = ( );"))
    lbd.reload()
    check(not any("lbd_tc_" in f for f in t.filters()) and
          t.lbctl("status")["node"]["dsr_interfaces"] == 0,
          f"interfaces = ( ): the companion left eth0: {t.filters()}")
    lbd.write_conf(conf)
    lbd.reload()
    check(t.companion_on_eth0(), f"back on eth0: {t.filters()}")
    r = t.exchange("udp", 40003)
    check(r.get("from") == [NODE_A, SVC_PORT], f"trusted again: {r}")

    # kill -9: the companion keeps working; the next lbd replaces its
    # programs in place and adopts its maps (the counters go on)
    before = t.filters()
    lbd.kill9()
    r = t.exchange("udp", 40000)
    check(r.get("from") == [NODE_A, SVC_PORT], f"with lbd gone: {r}")
    lbd = Lbd(lab, "lb1", conf, name="lb1-again").start()
    wait_until(lambda: t.filters() != before, 10,
               "the new lbd's programs in the filters")
    check(t.companion_on_eth0(), f"after the restart: {t.filters()}")
    r = t.exchange("udp", 40000)
    check(r.get("from") == [NODE_A, SVC_PORT], f"after the restart: {r}")
    # counted since the companion came back: two datagrams before the
    # restart (in the pinned map), one after
    c = t.dsr()
    check(c["decap_geneve"] == 3 and c["untrusted_encap"] == 0,
          f"the pinned counters adopted: {c}")
    # datapath.icmp_rate is a load-time constant of the NIC program: a
    # reload that changes it is refused, saying so, and nothing changes
    lbd.write_conf(conf + "datapath = { icmp_rate = 5; };\n")
    c = lab.exec("lb1", [LBCTL, "-s", t.ctl, "reload"], check=False)
    check(c.returncode == 1 and "datapath.icmp_rate: a constant of the "
          "node role's NIC program" in c.stderr,
          f"lbctl reload changing icmp_rate: {c.returncode} {c.stderr}")
    r = t.exchange("udp", 40004)
    check(r.get("from") == [NODE_A, SVC_PORT], f"after the refusal: {r}")
    lbd.write_conf(conf)
    lbd.stop()

    # --cleanup: the filters and the pins go
    lab.exec("lb1", [LBD_BIN, "--cleanup", "-c", lbd.conf])
    check(not any("lbd_tc_" in f for f in t.filters()),
          f"filters left: {t.filters()}")
    pins = os.path.join(lab.pin_path("lb1"), "node", "companion")
    check(not os.path.exists(pins), f"pins left: {pins}")


if __name__ == "__main__":
    run(test)
