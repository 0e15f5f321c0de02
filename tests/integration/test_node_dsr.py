#!/usr/bin/env python3
"""lbd in role node (issue 17): DSR from the NIC path. A LoadBalancer
Service's flows from outside reach endpoints on other nodes in Geneve
(Cilium's format), with the client's address kept; the other nodes
answer the client directly.

lbd runs in lb1 (the node), its NIC path on eth0 (towards the router and
the client) and on eth1, a link the test adds into the lab's server
segment: there backend1 and backend2 stand for two other nodes. backend2's
endpoint is its node address (directly connected: the outer destination
is the endpoint); backend1's is a pod address on it (on lo, the source
of its traffic to the client), in a pod CIDR that lb1 routes via
backend1's address (native routing: the outer destination is that
gateway). backend1 and backend2 run lbd in role backend, whose
companion decapsulates Cilium's Geneve from lb1's address on eth1 and
gives the replies the Service address from the option. Their route to
the client is the router's, not lb1.

Checked: with node_role.forwarding = "geneve", TCP and UDP to the
LoadBalancer IP and to the node's address with the NodePort reach both
endpoints, each seeing the client's address, and the client's replies
come from the address and port it asked for; lb1's NIC path counts the
flows as new_flow_dsr and translates no reply; lbctl services says
geneve. A reload to "snat" makes new flows SNATed (the endpoints see
lb1's address on eth1) while a Service annotated lbd.io/forwarding:
geneve stays DSR.
"""
import json
import os
import subprocess
import sys

from k8stest import FakeAPI
from labtest import LBCTL, Lab, Lbd, check, run, wait_until
from nodelab import cgroup_mount, cleanup, sh
from test_node_ns import CLIENT, SERVER, endpoints, service

NODE4 = "198.18.0.10"
NODE4_SRV = "198.18.1.10"  # lb1's eth1, in the server segment
CLIENT4 = "192.0.2.2"
LB_IP, LB_IP_ANN = "203.0.113.31", "203.0.113.32"
EP_PORT = 8080
POD_NET, POD_IP = "198.18.7.0/24", "198.18.7.11"  # on backend1
BE1, BE2 = "198.18.1.11", "198.18.1.12"
NP_TCP, NP_UDP, NP_A_TCP, NP_A_UDP = 30090, 30093, 30100, 30103


def node_conf(lab, api, cg, forwarding):
    return f"""
role = "node";
node_role = {{ cgroup = "{cg}"; node_name = "lb1";
  addresses = ( "{NODE4}" ); max_services = 64; max_addresses = 256;
  max_endpoints = 256; reverse_entries = 4096; affinity_entries = 4096;
  nat_entries = 4096; pod_interfaces = ( );
  interfaces = ( "eth0", "eth1" ); forwarding = "{forwarding}";
  pin_path = "{lab.pin_path('lb1')}/node"; }};
kubernetes = {{ kubeconfig = "{api.kubeconfig}"; }};
control = {{ socket = "{lab.path}/lb1.sock"; metrics_listen = "off"; }};
"""


def backend_conf(lab, i):
    return f"""
role = "backend";
backend_node = {{ interface = "eth0"; lb_sources = ( "{NODE4_SRV}" );
  vips = ( "{LB_IP}" ); }};
datapath = {{ pin_path = "{lab.pin_path(f'backend{i}')}"; }};
"""


def srv_link(lab):
    """lb1's eth1 in the server segment (the router's bridge br-srv), and
    backend1's pod CIDR routed via backend1. Goes with the namespaces."""
    lb1, r = lab.ns("lb1"), lab.ns("router")
    sh("ip", "-n", r, "link", "add", "lb1srv", "type", "veth", "peer",
       "name", "eth1", "netns", lb1)
    sh("ip", "-n", r, "link", "set", "lb1srv", "master", "br-srv", "up")
    sh("ip", "-n", lb1, "addr", "add", f"{NODE4_SRV}/24", "dev", "eth1")
    sh("ip", "-n", lb1, "link", "set", "eth1", "up")
    sh("ip", "-n", lb1, "route", "add", POD_NET, "via", BE1, "dev", "eth1")
    be1 = lab.ns("backend1")
    sh("ip", "-n", be1, "addr", "add", f"{POD_IP}/32", "dev", "lo")
    # a pod has one address, its replies' source: so the endpoint's
    # (unbound) UDP socket answers the client from it, not from the
    # node's eth0 address
    sh("ip", "-n", be1, "route", "replace", "default", "via", "198.18.1.1",
       "dev", "eth0", "src", POD_IP)


def test():
    with Lab("nodedsr", backends=2) as lab:
        mnt = cgroup_mount(lab)
        cg = os.path.join(mnt, f"lbd-test-{lab.prefix}")
        try:
            os.makedirs(cg, exist_ok=True)
            body(lab, cg)
        finally:
            # no pod namespace here: its removal finds none
            cleanup(cg, mnt, f"{lab.prefix}-pod")


def body(lab, cg):
    srv_link(lab)
    for i, h in ((1, "backend1"), (2, "backend2")):
        log = os.path.join(lab.path, f"{h}-server.log")
        lab.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", lab.ns(h), sys.executable, "-u", SERVER,
             h, str(EP_PORT), "--peer"],
            stdout=open(log, "w"), stderr=subprocess.STDOUT))
        wait_until(lambda: open(log).read().startswith("ready"), 30,
                   f"server on {h}")
        Lbd(lab, h, backend_conf(lab, i)).start()
    api = FakeAPI(lab)
    eps = [(POD_IP, "node-2"), (BE2, "node-3")]
    api.put(service("cluster", "Cluster", LB_IP, NP_TCP, NP_UDP))
    api.put(endpoints("cluster", eps))
    ann = service("annotated", "Cluster", LB_IP_ANN, NP_A_TCP, NP_A_UDP)
    ann["metadata"]["annotations"] = {"lbd.io/forwarding": "geneve"}
    ann["spec"]["clusterIP"] = "10.96.0.32"
    ann["spec"]["clusterIPs"] = ["10.96.0.32"]
    api.put(ann)
    api.put(endpoints("annotated", eps))
    lbd = Lbd(lab, "lb1", node_conf(lab, api, cg, "geneve")).start()
    wait_until(lambda: "kubernetes: synced" in lbd.read_log(), 30,
               "the first sync")
    ctl = os.path.join(lab.path, "lb1.sock")

    def lbctl(*args):
        return json.loads(lab.exec("lb1", [LBCTL, "-s", ctl, "--json",
                                           *args]).stdout)

    def nic_counters():
        return {c["reason"]: c["count"]
                for c in lbctl("stats").get("nic_counters", [])}

    def client(proto, addr, port, n):
        r = lab.exec("client", [sys.executable, "-c", CLIENT, proto, addr,
                                str(port), str(n)], timeout=60)
        return json.loads(r.stdout)

    def forwarding_of(name):
        return {s.get("forwarding") for s in lbctl("services")["services"]
                if s["service"] == f"shop/{name}" and
                s["scope"] == "external"}

    def served(targets, seen_as):
        """The targets answered; the flows they were (a new UDP socket may
        get the source port of an earlier one to the same target, its
        datagram that flow's again)."""
        flows = set()
        for proto, addr, port in targets:
            out = client(proto, addr, port, 16)
            names = {r.get("name") for r in out}
            check(all(r.get("peer") == [addr, port] for r in out) and
                  names == {f"backend{i} {seen_as}" for i in (1, 2)},
                  f"{proto} {addr}:{port}: both endpoints, seeing "
                  f"{seen_as}, the replies from {addr}:{port}: {out}")
            flows |= {(proto, addr, port, r["local"]) for r in out}
        return len(flows)

    st = lbctl("status")["node"]
    check(st["nic_interfaces"] == 2 and st["forwarding"] == "geneve",
          f"the NIC path on eth0 and eth1, by Geneve: {st}")
    check(forwarding_of("cluster") == {"geneve"},
          f"lbctl services: {forwarding_of('cluster')}")
    c0 = nic_counters()
    n = served((("tcp", LB_IP, 80), ("udp", LB_IP, 53),
                ("tcp", NODE4, NP_TCP), ("udp", NODE4, NP_UDP)), CLIENT4)
    c1 = nic_counters()
    check(c1["new_flow_dsr"] - c0.get("new_flow_dsr", 0) == n and
          c1["new_flow_snat"] == c0.get("new_flow_snat", 0) and
          c1["reply_xlated"] == c0.get("reply_xlated", 0),
          f"lbctl stats: {n} DSR flows, no reply through lb1: {c1}")
    check(not any(c1.get(k) for k in ("dsr_too_big", "dsr_gateway_family",
                                      "encap_failed", "no_route",
                                      "rewrite_failed")),
          f"no drops: {c1}")

    # node_role.forwarding back to snat: new flows are SNATed to lb1's
    # address on eth1; the annotated Service keeps Geneve
    lbd.write_conf(node_conf(lab, api, cg, "snat"))
    lbd.reload()
    check(lbctl("status")["node"]["forwarding"] == "snat" and
          forwarding_of("cluster") == {"snat"} and
          forwarding_of("annotated") == {"geneve"},
          f"after the reload: {forwarding_of('cluster')}, "
          f"{forwarding_of('annotated')}")
    # (TCP: backend1's UDP answers lb1, on its segment, from eth0's
    # address, not the pod's; test_node_ns.py has SNAT's UDP)
    n_snat = served((("tcp", LB_IP, 80), ("tcp", NODE4, NP_TCP)), NODE4_SRV)
    n_dsr = served((("tcp", LB_IP_ANN, 80), ("udp", NODE4, NP_A_UDP)),
                   CLIENT4)
    c2 = nic_counters()
    check(c2["new_flow_snat"] - c1["new_flow_snat"] == n_snat and
          c2["new_flow_dsr"] - c1["new_flow_dsr"] == n_dsr,
          f"lbctl stats after the reload ({n_snat} SNATed, {n_dsr} DSR): "
          f"{c2}")
    lbd.stop()


if __name__ == "__main__":
    run(test)
