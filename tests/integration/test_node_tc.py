#!/usr/bin/env python3
"""lbd in role node with socket_lb = "host-only" (issue 17): a pod's
traffic to a ClusterIP goes through the tc path on the host side of its
interface, the host's through the socket programs.

lbd runs in lb1 (the node), its socket programs on a cgroup made for
this test. A "pod" is a network namespace of the test's own, linked to
lb1 by a veth pair whose lb1 side (podveth0) matches pod_interfaces; it
appears after lbd started, so lbd finds it by its link notification. Its
processes join the cgroup, yet host-only leaves their sockets alone.
The endpoints, on backend1 and backend2, answer with their name and the
address they see.

Checked: TCP and UDP from the pod reach an endpoint through the tc path
(the endpoint sees the pod's address, the socket counters do not move,
the tc ones do; the UDP reply comes from the ClusterIP); from the host
the socket path still serves; the filters and the pinned maps keep
translating while lbd is killed, a new lbd replaces the programs in
place; lbd --cleanup removes filters and pins.
"""
import json
import os
import subprocess
import sys

from k8stest import FakeAPI
from labtest import LBCTL
from labtest import LBD as LBD_BIN
from labtest import Lab, Lbd, TestFailure, check, run, wait_until
from nodelab import POD_IF, POD_IP, cgroup_mount, cleanup, pod_up

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "nodeserver.py")
POD = os.path.join(HERE, "nodepod.py")
CLUSTER_IP = "198.19.96.10"
BE = {"backend1": "198.18.1.11", "backend2": "198.18.1.12"}
EP_PORT = 8053


def web_service():
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "ClusterIP", "clusterIP": CLUSTER_IP,
                     "clusterIPs": [CLUSTER_IP],
                     "ports": [{"name": "http", "port": 80,
                                "protocol": "TCP", "targetPort": EP_PORT},
                               {"name": "dns", "port": 53,
                                "protocol": "UDP",
                                "targetPort": EP_PORT}]}}


def web_slice():
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": "web-1", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": EP_PORT, "protocol": "TCP"},
                      {"name": "dns", "port": EP_PORT, "protocol": "UDP"}],
            "endpoints": [{"addresses": [ip], "nodeName": h,
                           "conditions": {"ready": True}}
                          for h, ip in BE.items()]}


def node_conf(lab, api, cg):
    return f"""
role = "node";
node_role = {{ cgroup = "{cg}"; node_name = "lb1";
  addresses = ( "198.18.0.10" ); max_services = 64; max_addresses = 256;
  max_endpoints = 256; reverse_entries = 4096; affinity_entries = 4096;
  nat_entries = 4096; socket_lb = "host-only";
  pod_interfaces = ( "podveth*" );
  pin_path = "{lab.pin_path('lb1')}/node"; }};
kubernetes = {{ kubeconfig = "{api.kubeconfig}"; }};
control = {{ socket = "{lab.path}/lb1.sock"; metrics_listen = "off"; }};
"""


class Test:
    def __init__(self, lab, cg, pod_ns):
        self.lab, self.cg, self.pod_ns = lab, cg, pod_ns

    def pod(self, *args, host=None):
        """nodepod.py in the pod's namespace (or in host's), its process
        in the cgroup."""
        ns = self.pod_ns if host is None else self.lab.ns(host)
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, POD,
                            self.cg, *args], capture_output=True,
                           text=True, timeout=60)
        if r.returncode:
            raise TestFailure(f"nodepod {args}: {r.stdout}{r.stderr}")
        return json.loads(r.stdout)

    def lbctl(self, *args):
        r = self.lab.exec("lb1", [LBCTL, "-s",
                                  os.path.join(self.lab.path, "lb1.sock"),
                                  "--json", *args])
        return json.loads(r.stdout)

    def counters(self):
        st = self.lbctl("stats")
        return ({c["reason"]: c["count"] for c in st["counters"]},
                {c["reason"]: c["count"] for c in st.get("tc_counters", [])})

    def filters(self):
        """The programs of the tc filters on the pod interface."""
        out = []
        for d in ("ingress", "egress"):
            r = self.lab.exec("lb1", ["tc", "filter", "show", "dev",
                                      POD_IF, d], check=False)
            out.append(r.stdout)
        return out


def test():
    with Lab("nodetc", backends=2) as lab:
        mnt = cgroup_mount(lab)
        cg = os.path.join(mnt, f"lbd-test-{lab.prefix}")
        pod_ns = f"{lab.prefix}-pod"
        try:
            os.makedirs(cg, exist_ok=True)
            body(lab, cg, pod_ns)
        finally:
            cleanup(cg, mnt, pod_ns)


def body(lab, cg, pod_ns):
    for h in BE:
        log = os.path.join(lab.path, f"{h}-server.log")
        lab.spawn(h, [sys.executable, "-u", SERVER, h, str(EP_PORT),
                      "--peer"], log=log)
        wait_until(lambda: open(log).read().startswith("ready"), 30,
                   f"server on {h}")
    api = FakeAPI(lab)
    api.put(web_service())
    api.put(web_slice())
    lbd = Lbd(lab, "lb1", node_conf(lab, api, cg)).start()
    wait_until(lambda: "kubernetes: synced" in lbd.read_log(), 30,
               "the first sync")
    t = Test(lab, cg, pod_ns)

    # the pod appears after lbd: its interface gets the programs
    pod_up(lab, pod_ns, routed=True)
    wait_until(lambda: all("lbd_node_tc" in f for f in t.filters()), 10,
               f"the tc path on {POD_IF}")

    sock0, tc0 = t.counters()
    # TCP from the pod: both endpoints, each seeing the pod's address
    out = t.pod("tcp", CLUSTER_IP, "80", "24")
    seen = {c.get("name", "") for c in out}
    check(seen == {f"{h} {POD_IP}" for h in BE},
          f"TCP from the pod through the tc path: {out}")
    # UDP from the pod: the reply comes from the ClusterIP
    r = t.pod("udp", CLUSTER_IP, "53")
    name, peer = r["name"].split()
    check(name in BE and peer == POD_IP and r["from"] == [CLUSTER_IP, 53],
          f"UDP from the pod: the reply from the Service: {r}")
    sock1, tc1 = t.counters()
    check(sock1["connect_xlated"] == sock0["connect_xlated"] and
          sock1["sendmsg_xlated"] == sock0["sendmsg_xlated"],
          f"host-only: the socket programs left the pod alone: {sock0} "
          f"{sock1}")
    check(tc1["new_flow"] - tc0["new_flow"] >= 25 and
          tc1["reply_xlated"] > tc0["reply_xlated"] and
          tc1["forward_xlated"] > tc1["new_flow"],
          f"the tc path counted the pod's flows: {tc0} {tc1}")
    check(not any(tc1[k] for k in ("malformed", "no_endpoint",
                                   "nat_update_failed", "rewrite_failed")),
          f"no drops: {tc1}")

    # from the host the socket path serves (the endpoint sees lb1)
    out = t.pod("tcp", CLUSTER_IP, "80", "4", host="lb1")
    check(all(c.get("name", "").split()[0] in BE for c in out),
          f"TCP from the host: {out}")
    sock2, _ = t.counters()
    check(sock2["connect_xlated"] - sock1["connect_xlated"] == 4,
          f"the host's connects through the socket programs: {sock2}")

    # kill -9: the filters and the pinned maps keep translating
    before = t.filters()
    lbd.kill9()
    r = t.pod("udp", CLUSTER_IP, "53")
    check(r["from"] == [CLUSTER_IP, 53], f"UDP with lbd gone: {r}")
    out = t.pod("tcp", CLUSTER_IP, "80", "2")
    check(all(c.get("name", "").endswith(POD_IP) for c in out),
          f"TCP with lbd gone: {out}")
    lbd = Lbd(lab, "lb1", open(lbd.conf).read(), name="lb1-again").start()
    wait_until(lambda: t.filters() != before, 10,
               "the new lbd's programs in the filters")
    check(all("lbd_node_tc" in f for f in t.filters()), t.filters())
    out = t.pod("tcp", CLUSTER_IP, "80", "2")
    check(all(c.get("name", "").endswith(POD_IP) for c in out),
          f"TCP through the new lbd's programs: {out}")
    lbd.stop()

    # --cleanup: the filters and the pins go
    lab.exec("lb1", [LBD_BIN, "--cleanup", "-c", lbd.conf])
    check(not any("lbd_node_tc" in f for f in t.filters()),
          f"filters left: {t.filters()}")
    pins = os.path.join(lab.pin_path("lb1"), "node")
    check(not os.path.exists(pins) or not os.listdir(pins),
          f"pins left: {os.listdir(pins) if os.path.exists(pins) else ''}")


if __name__ == "__main__":
    run(test)
