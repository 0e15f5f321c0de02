#!/usr/bin/env python3
"""lbd in role node on two nodes (issue 17): DSR end to end. Node A's NIC
path sends a Service's flows from outside to pods behind node B in
Geneve; node B's lbd (role node too, node A in its dsr_sources)
decapsulates them and gives the pods' replies the Service address; the
client talks to node A and hears back from node B, as from node A.

Node A is lb1 (198.18.0.10 on eth0, towards the router and the client;
198.18.1.10 on eth1, a link the test adds into the server segment) with
node_role.forwarding = "geneve"; it routes the pod CIDR 198.18.7.0/24
(2001:db8:7::/48) via node B. Node B is backend1 (198.18.1.11,
2001:db8:1::11), with two pods behind it (namespaces on veths podveth1
and podveth2: 198.18.7.2 and .6, 2001:db8:7:1::2 and 2001:db8:7:2::2)
whose MTU is the nodes' less what Geneve adds (62 bytes over IPv4; the
IPv6 routes' 94); its route to the client is the router's. Both lbds
follow the same fake API server (node_name lb1 and node-2), each with
its own cgroup, pin path and control socket. The pods answer each line
and datagram with their name, the address they see and its length.
lb1 keeps the lab's net.ipv6.conf.all.forwarding = 0: lbd sets its NICs'
force_forwarding.

Checked: TCP and UDP, IPv4 and IPv6, to a dual-stack LoadBalancer
Service's IPs (externalTrafficPolicy Cluster, the router sends them to
node A) and to node A's addresses with the NodePort reach both pods,
each seeing the client's address, and the client's replies come from
the address and port it asked for; a 64 KiB line in full-sized
segments arrives whole (the pods' MSS leaves room for Geneve); node A
counts the flows new_flow_dsr and translates no reply; node B counts
the Geneve decap_geneve and the replies reply_restored, none untrusted.
Alongside, a Service with externalTrafficPolicy Local reached by node B's
own addresses and its NodePort (node B's NIC path, XDP on the NIC that
carries the companion's tc programs) reaches its pod with the client's
address, and node B counts it new_flow_local.
"""
import json
import os
import subprocess
import sys

from k8stest import FakeAPI
from labtest import LBCTL, Lab, Lbd, check, run, wait_until
from nodelab import cgroup_mount, cgroup_remove, sh
from test_node_ns import service

NODE_A, NODE_A_SRV, NODE_B = "198.18.0.10", "198.18.1.10", "198.18.1.11"
NODE_A6, NODE_A_SRV6, NODE_B6 = ("2001:db8::10", "2001:db8:1::10",
                                 "2001:db8:1::11")
CLIENT4, CLIENT6 = "192.0.2.2", "2001:db8:c::2"
LB_IP, LB_IP6 = "203.0.113.33", "2001:db8:f::33"
EP_PORT = 8080
POD_NET, POD_NET6 = "198.18.7.0/24", "2001:db8:7::/48"
# pod name: its addresses, node B's side of its veth pair
PODS = {"pod1": ("198.18.7.2", "198.18.7.1", "2001:db8:7:1::2",
                 "2001:db8:7:1::1"),
        "pod2": ("198.18.7.6", "198.18.7.5", "2001:db8:7:2::2",
                 "2001:db8:7:2::1")}
# The pods' MTU: what Geneve adds from node A to node B less than the
# nodes' 1500 (docs/node.md: 62 bytes over IPv4, 94 over IPv6, the IPv6
# routes' MTU). The MSS a pod gives in its SYN-ACK then keeps the
# client's segments small enough to be encapsulated.
POD_MTU, POD_MTU6 = 1500 - 62, 1500 - 94
UPLOAD = 65536  # bytes in one line: many full-sized segments
NP_TCP, NP_UDP, NP_L_TCP, NP_L_UDP = 30110, 30113, 30120, 30123
N = 16  # connections (datagrams) a target: both pods, but for 2^-15

# An endpoint in a pod: answers each TCP line and each datagram with its
# name, the address it came from and its length (without the newline).
# argv: name, port.
SERVE = r"""
import socket, socketserver, sys, threading
name, port = sys.argv[1], int(sys.argv[2])

def answer(data, addr):
    if addr.startswith("::ffff:"):
        addr = addr[7:]
    return f"{name} {addr} {len(data)}\n".encode()

class TCP(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(answer(line.rstrip(b"\n"),
                                    self.client_address[0]))
            self.wfile.flush()

class Server(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = True
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

def udp():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    while True:
        data, src = s.recvfrom(100)
        s.sendto(answer(data, src[0]), src)

threading.Thread(target=udp, daemon=True).start()
srv = Server(("::", port), TCP)
print("ready", flush=True)
srv.serve_forever()
"""

# From the client: N connections, one line of SIZE bytes each (or N
# datagrams); each answer and the address and port it came from.
# argv: proto, addr, port, n, size.
CLIENT = r"""
import json, socket, sys
proto, addr, port, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
out = []
for i in range(n):
    try:
        if proto == "tcp":
            s = socket.create_connection((addr, port), timeout=2)
            s.sendall(b"x" * size + b"\n")
            line = s.makefile().readline()
            peer = s.getpeername()
        else:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.settimeout(2)
            s.sendto(b"x" * size, (addr, port))
            data, peer = s.recvfrom(100)
            line = data.decode()
        out.append({"answer": line.strip(), "peer": list(peer[:2]),
                    "local": s.getsockname()[1]})
        s.close()
    except OSError as e:
        out.append({"error": str(e)})
print(json.dumps(out))
"""


def node_a_conf(lab, api, cg):
    return f"""
role = "node";
node_role = {{ cgroup = "{cg}"; node_name = "lb1";
  addresses = ( "{NODE_A}", "{NODE_A6}" ); max_services = 64;
  max_addresses = 256;
  max_endpoints = 256; reverse_entries = 4096; affinity_entries = 4096;
  nat_entries = 4096; pod_interfaces = ( );
  interfaces = ( "eth0", "eth1" ); forwarding = "geneve";
  pin_path = "{lab.pin_path('lb1')}/node"; }};
kubernetes = {{ kubeconfig = "{api.kubeconfig}"; }};
control = {{ socket = "{lab.path}/lb1.sock"; metrics_listen = "off"; }};
"""


def node_b_conf(lab, api, cg):
    return f"""
role = "node";
node_role = {{ cgroup = "{cg}"; node_name = "node-2";
  addresses = ( "{NODE_B}", "{NODE_B6}" ); max_services = 64;
  max_addresses = 256;
  max_endpoints = 256; reverse_entries = 4096; affinity_entries = 4096;
  nat_entries = 4096; pod_interfaces = ( "podveth*" );
  interfaces = ( "eth0" );
  dsr_sources = ( "{NODE_A_SRV}", "{NODE_A_SRV6}" );
  pin_path = "{lab.pin_path('backend1')}/node"; }};
kubernetes = {{ kubeconfig = "{api.kubeconfig}"; }};
control = {{ socket = "{lab.path}/backend1.sock"; metrics_listen = "off"; }};
"""


def links(lab, pod_ns):
    """lb1's eth1 in the server segment with the pod CIDR routed via node
    B; the pods behind node B. What is made in the lab's namespaces goes
    with them; the pods' namespaces are removed by cleanup()."""
    lb1, r, b = lab.ns("lb1"), lab.ns("router"), lab.ns("backend1")
    sh("ip", "-n", r, "link", "add", "lb1srv", "type", "veth", "peer",
       "name", "eth1", "netns", lb1)
    sh("ip", "-n", r, "link", "set", "lb1srv", "master", "br-srv", "up")
    sh("ip", "-n", lb1, "addr", "add", f"{NODE_A_SRV}/24", "dev", "eth1")
    sh("ip", "-n", lb1, "addr", "add", f"{NODE_A_SRV6}/64", "dev", "eth1",
       "nodad")
    sh("ip", "-n", lb1, "link", "set", "eth1", "up")
    sh("ip", "-n", lb1, "route", "add", POD_NET, "via", NODE_B, "dev",
       "eth1")
    sh("ip", "-n", lb1, "route", "add", POD_NET6, "via", NODE_B6, "dev",
       "eth1")
    for i, (name, (ip, gw, ip6, gw6)) in enumerate(PODS.items(), 1):
        ns, dev = pod_ns[name], f"podveth{i}"
        sh("ip", "netns", "add", ns)
        sh("ip", "netns", "exec", ns, "sysctl", "-qw",
           "net.ipv6.conf.all.accept_dad=0")
        sh("ip", "netns", "exec", ns, "sysctl", "-qw",
           "net.ipv6.conf.default.accept_dad=0")
        sh("ip", "-n", b, "link", "add", dev, "mtu", str(POD_MTU), "type",
           "veth", "peer", "name", "eth0", "netns", ns, "mtu", str(POD_MTU))
        sh("ip", "-n", b, "addr", "add", f"{gw}/30", "dev", dev)
        sh("ip", "-n", b, "addr", "add", f"{gw6}/64", "dev", dev, "nodad")
        sh("ip", "-n", b, "link", "set", dev, "up")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", "eth0")
        sh("ip", "-n", ns, "addr", "add", f"{ip6}/64", "dev", "eth0",
           "nodad")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", gw)
        sh("ip", "-n", ns, "-6", "route", "add", "default", "via", gw6,
           "mtu", str(POD_MTU6))
    # a Kubernetes node forwards between its pods and its NIC
    sh("ip", "netns", "exec", b, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    sh("ip", "netns", "exec", b, "sysctl", "-qw",
       "net.ipv6.conf.all.forwarding=1")


def endpoints(name, addrs):
    """An EndpointSlice of the Service: pods on node B."""
    v6 = ":" in addrs[0]
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": f"{name}-{6 if v6 else 4}",
                         "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv6" if v6 else "IPv4",
            "ports": [{"name": "http", "port": EP_PORT, "protocol": "TCP"},
                      {"name": "dns", "port": EP_PORT, "protocol": "UDP"}],
            "endpoints": [{"addresses": [a], "nodeName": "node-2",
                           "conditions": {"ready": True}} for a in addrs]}


def test():
    with Lab("nodee2e", backends=1) as lab:
        mnt = cgroup_mount(lab)
        cgs = [os.path.join(mnt, f"lbd-test-{lab.prefix}-{n}")
               for n in ("a", "b")]
        pod_ns = {name: f"{lab.prefix}-{name}" for name in PODS}
        lbds = []
        try:
            for cg in cgs:
                os.makedirs(cg, exist_ok=True)
            body(lab, cgs, pod_ns, lbds)
        finally:
            # both lbds stopped first (the lab's own end kills them too,
            # but after this): their pins are under the lab's bpffs
            # mounts, which the lab removes
            for lbd in lbds:
                if lbd.proc and lbd.proc.poll() is None:
                    lbd.proc.kill()
                    lbd.proc.wait(timeout=10)
            for cg in cgs:
                cgroup_remove(cg)
            subprocess.run(["umount", mnt])
            for ns in pod_ns.values():
                subprocess.run(["ip", "netns", "del", ns],
                               stderr=subprocess.DEVNULL)


def body(lab, cgs, pod_ns, lbds):
    links(lab, pod_ns)
    for name, ns in pod_ns.items():
        log = os.path.join(lab.path, f"{name}-server.log")
        lab.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-u", "-c", SERVE,
             name, str(EP_PORT)],
            stdout=open(log, "w"), stderr=subprocess.STDOUT))
        wait_until(lambda: open(log).read().startswith("ready"), 30,
                   f"the server of {name}")
    api = FakeAPI(lab)
    cluster = service("cluster", "Cluster", LB_IP, NP_TCP, NP_UDP)
    cluster["spec"].update(clusterIPs=["10.96.0.33", "2001:db8:96::33"],
                           clusterIP="10.96.0.33",
                           ipFamilies=["IPv4", "IPv6"],
                           ipFamilyPolicy="RequireDualStack")
    cluster["status"]["loadBalancer"]["ingress"].append({"ip": LB_IP6})
    api.put(cluster)
    api.put(endpoints("cluster", [p[0] for p in PODS.values()]))
    api.put(endpoints("cluster", [p[2] for p in PODS.values()]))
    local = service("local", "Local", "203.0.113.34", NP_L_TCP, NP_L_UDP)
    local["spec"].update(clusterIPs=["10.96.0.34", "2001:db8:96::34"],
                         clusterIP="10.96.0.34",
                         ipFamilies=["IPv4", "IPv6"],
                         ipFamilyPolicy="RequireDualStack")
    api.put(local)
    api.put(endpoints("local", [PODS["pod1"][0]]))
    api.put(endpoints("local", [PODS["pod1"][2]]))
    for host, conf in (("lb1", node_a_conf(lab, api, cgs[0])),
                       ("backend1", node_b_conf(lab, api, cgs[1]))):
        lbd = Lbd(lab, host, conf)
        lbds.append(lbd)
        lbd.start()
    for lbd in lbds:
        wait_until(lambda: "kubernetes: synced" in lbd.read_log(), 30,
                   f"the first sync on {lbd.host}")

    def lbctl(host, *args):
        ctl = os.path.join(lab.path, f"{host}.sock")
        return json.loads(lab.exec(host, [LBCTL, "-s", ctl, "--json",
                                          *args]).stdout)

    def nic(host):
        return {c["reason"]: c["count"]
                for c in lbctl(host, "stats").get("nic_counters", [])}

    def dsr(host):
        return {c["reason"]: c["packets"]
                for c in lbctl(host, "stats").get("dsr_counters", [])}

    def client(proto, addr, port, n, size):
        r = lab.exec("client", [sys.executable, "-c", CLIENT, proto, addr,
                                str(port), str(n), str(size)], timeout=60)
        return json.loads(r.stdout)

    def served(targets, pods, n=N, size=5):
        """n connections (datagrams) of size bytes to each target: all
        answered by the pods, from the address and port asked for, and
        together by every one of them. The flows they were: a new UDP
        socket may get the source port of an earlier one to the same
        target, and its datagram is then that flow's again."""
        flows = set()
        for proto, addr, port in targets:
            out = client(proto, addr, port, n, size)
            cl = CLIENT6 if ":" in addr else CLIENT4
            answers = {r.get("answer") for r in out}
            want = {f"{p} {cl} {size}" for p in pods}
            check(all(r.get("peer") == [addr, port] for r in out) and
                  (answers == want if n > 1 else answers <= want),
                  f"{proto} {addr} {port}: {sorted(want)}, the replies "
                  f"from {addr} {port}: {out}\nnode A: {nic('lb1')}"
                  f"\nnode B: {dsr('backend1')} {nic('backend1')}")
            flows |= {(proto, addr, port, r["local"]) for r in out}
        return len(flows)

    st_a = lbctl("lb1", "status")["node"]
    st_b = lbctl("backend1", "status")["node"]
    check(st_a["forwarding"] == "geneve" and st_a["nic_interfaces"] == 2,
          f"node A: the NIC path on eth0 and eth1, by Geneve: {st_a}")
    check(st_b["dsr_interfaces"] == 1 and st_b["nic_interfaces"] == 1,
          f"node B: the companion and the NIC path on eth0: {st_b}")

    a0, b0, bn0 = nic("lb1"), dsr("backend1"), nic("backend1")
    flows = served((("tcp", LB_IP, 80), ("udp", LB_IP, 53),
                    ("tcp", NODE_A, NP_TCP), ("udp", NODE_A, NP_UDP),
                    ("tcp", LB_IP6, 80), ("udp", LB_IP6, 53),
                    ("tcp", NODE_A6, NP_TCP), ("udp", NODE_A6, NP_UDP)),
                   ("pod1", "pod2"))
    # full-sized segments: the pods' MSS leaves room for the Geneve
    flows += served((("tcp", LB_IP, 80), ("tcp", LB_IP6, 80)),
                    ("pod1", "pod2"), n=1, size=UPLOAD)
    a1, b1 = nic("lb1"), dsr("backend1")

    def grew(c1, c0, k):
        return c1.get(k, 0) - c0.get(k, 0)

    check(grew(a1, a0, "new_flow_dsr") == flows and
          not grew(a1, a0, "new_flow_snat") and
          not grew(a1, a0, "reply_xlated"),
          f"node A: {flows} DSR flows, no reply through it: {a1}")
    check(not any(a1.get(k) for k in ("dsr_too_big", "dsr_gateway_family",
                                      "encap_failed", "no_route",
                                      "rewrite_failed")),
          f"node A: no drops: {a1}")
    # each UDP flow one datagram and its answer; each TCP flow at least
    # its SYN, its line and its FIN, and the SYN-ACK and the answer
    check(grew(b1, b0, "decap_geneve") >= 4 * N + 4 * 3 * N and
          grew(b1, b0, "reply_restored") >= 4 * N + 4 * 2 * N and
          not b1.get("untrusted_encap"),
          f"node B: the Geneve decapsulated, the replies restored: {b1}")

    # node B's own NIC path, beside the companion on the same NIC
    flows = served((("tcp", NODE_B, NP_L_TCP), ("udp", NODE_B, NP_L_UDP),
                    ("tcp", NODE_B6, NP_L_TCP), ("udp", NODE_B6, NP_L_UDP)),
                   ("pod1",))
    bn1, b2 = nic("backend1"), dsr("backend1")
    check(grew(bn1, bn0, "new_flow_local") == flows and
          not grew(bn1, bn0, "new_flow_dsr") and
          not grew(bn1, bn0, "new_flow_snat"),
          f"node B: {flows} local flows on its NIC path: {bn1}")
    check(grew(b2, b1, "decap_geneve") == 0,
          f"node B: nothing of its own flows decapsulated: {b2}")
    a2 = nic("lb1")
    check(a2.get("new_flow_dsr") == a1.get("new_flow_dsr"),
          f"node A: nothing of node B's own flows: {a2}")
    for lbd in lbds:
        lbd.stop()


if __name__ == "__main__":
    run(test)
