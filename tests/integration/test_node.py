#!/usr/bin/env python3
"""lbd in role node (issue 17): every Service of the cluster served by
the cgroup socket programs, with real sockets.

lbd runs in lb1 (the node) with its programs attached to a cgroup made
for this test (never the root: other processes of the machine stay
untouched); "pods" are processes moved into that cgroup, in lb1 (the
host) and in the client namespace (a pod's network namespace). The
endpoints are servers on backend1 and backend2; the Services live in
the fake API server.

Checked: TCP and UDP through a ClusterIP from the host and from a pod,
getpeername() and a UDP reply's source are the Service address; scaling
the EndpointSlice down and up moves new connections; a terminating
endpoint keeps its open connection while new ones go to the ready one;
a process of the cgroup cannot bind a NodePort.
"""
import errno
import json
import os
import subprocess
import sys

from k8stest import FakeAPI
from labtest import LBCTL
from labtest import LBD as LBD_BIN
from labtest import Lab, Lbd, check, run, wait_until
from nodelab import cgroup_mount, cgroup_remove

HERE = os.path.dirname(os.path.abspath(__file__))
POD = os.path.join(HERE, "nodepod.py")
SERVER = os.path.join(HERE, "nodeserver.py")
CLUSTER_IP = "10.96.0.10"
NODE_PORT = 30080
BE = {"backend1": "198.18.1.11", "backend2": "198.18.1.12"}


def web_service():
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "NodePort", "clusterIP": CLUSTER_IP,
                     "clusterIPs": [CLUSTER_IP],
                     "ports": [{"name": "http", "port": 80,
                                "protocol": "TCP", "targetPort": "http",
                                "nodePort": NODE_PORT},
                               {"name": "dns", "port": 53,
                                "protocol": "UDP", "targetPort": 8053}]}}


def web_slice(ready, terminating=()):
    eps = [{"addresses": [BE[h]], "nodeName": h,
            "conditions": {"ready": h not in terminating, "serving": True,
                           "terminating": h in terminating}}
           for h in ready + list(terminating)]
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": "web-1", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8053, "protocol": "TCP"},
                      {"name": "dns", "port": 8053, "protocol": "UDP"}],
            "endpoints": eps}


def node_conf(lab, api, cg):
    return f"""
role = "node";
node_role = {{ cgroup = "{cg}"; node_name = "lb1";
  addresses = ( "198.18.0.10" ); max_services = 64; max_addresses = 256;
  max_endpoints = 256; reverse_entries = 4096; affinity_entries = 4096;
  pin_path = "{lab.pin_path('lb1')}/node"; }};
kubernetes = {{ kubeconfig = "{api.kubeconfig}"; }};
control = {{ socket = "{lab.path}/lb1.sock"; metrics_listen = "off"; }};
"""


class Test:
    def __init__(self, lab, cg):
        self.lab, self.cg = lab, cg

    def pod(self, host, *args):
        r = self.lab.exec(host, [sys.executable, POD, self.cg, *args],
                          timeout=60)
        return json.loads(r.stdout)

    def names(self, host, n=24):
        out = self.pod(host, "tcp", CLUSTER_IP, "80", str(n))
        return [c.get("name") for c in out]

    def only(self, want, host="lb1"):
        """New connections all reach the endpoints named in want (and
        each of them): the maps hold what the slice says."""
        def ok():
            got = set(self.names(host))
            return got == set(want)
        wait_until(ok, 30, f"new connections to exactly {sorted(want)}")


def test():
    with Lab("node", backends=2) as lab:
        mnt = cgroup_mount(lab)
        cg = os.path.join(mnt, f"lbd-test-{lab.prefix}")
        try:
            os.makedirs(cg, exist_ok=True)
            body(lab, cg)
        finally:
            cleanup(cg, mnt)


def cleanup(cg, mnt):
    """Kills what is left in the cgroup, removes it and the mount."""
    cgroup_remove(cg)
    subprocess.run(["umount", mnt])


def body(lab, cg):
    for h in BE:
        log = os.path.join(lab.path, f"{h}-server.log")
        lab.spawn(h, [sys.executable, "-u", SERVER, h, "8053"], log=log)
        wait_until(lambda: open(log).read().startswith("ready"), 30,
                   f"server on {h}")
    api = FakeAPI(lab)
    api.put(web_service())
    api.put(web_slice(["backend1", "backend2"]))
    lbd = Lbd(lab, "lb1", node_conf(lab, api, cg)).start()
    t = Test(lab, cg)

    # TCP from the host and from a pod: both endpoints, and the peer
    # the socket names is the Service
    t.only({"backend1", "backend2"}, "lb1")
    t.only({"backend1", "backend2"}, "client")
    for c in t.pod("client", "tcp", CLUSTER_IP, "80", "4"):
        check(c.get("peer") == [CLUSTER_IP, 80],
              f"getpeername() names the Service: {c}")
    # UDP from a pod: the reply comes from the Service address
    for host in ("client", "lb1"):
        r = t.pod(host, "udp", CLUSTER_IP, "53")
        check(r["name"] in BE and r["from"] == [CLUSTER_IP, 53],
              f"UDP from {host}: the reply from the Service: {r}")

    # lbctl in the node role: the Service ports with their addresses
    # and endpoints, the socket programs' counters, the LB-only
    # commands refused by name
    ctl = os.path.join(lab.path, "lb1.sock")

    def lbctl(*args, ok=True):
        r = lab.exec("lb1", [LBCTL, "-s", ctl, "--json", *args],
                     check=False)
        check((r.returncode == 0) == ok, f"lbctl {args}: {r.returncode} "
              f"{r.stdout} {r.stderr}")
        return json.loads(r.stdout) if ok else r.stderr

    svcs = {(e["port_name"], e["scope"]): e
            for e in lbctl("services")["services"]}
    http = svcs[("http", "internal")]
    check(http["service"].startswith("default/web") and
          http["protocol"] == "tcp" and http["type"] == "NodePort" and
          http["applied"] and
          [a["address"] for a in http["addresses"]] ==
          [f"{CLUSTER_IP}:80"] and
          http["addresses"][0]["kind"] == "ClusterIP" and
          sorted(e["endpoint"].split(":")[0] for e in http["endpoints"]) ==
          sorted(BE.values()) and http["ready_endpoints"] == 2,
          f"lbctl services, the ClusterIP port: {http}")
    nodeport = svcs[("http", "external")]
    check(any(a["kind"] == "NodePort" and
              a["address"] == f"198.18.0.10:{NODE_PORT}"
              for a in nodeport["addresses"]),
          f"lbctl services, the NodePort: {nodeport}")
    counters = {c["reason"]: c["count"] for c in lbctl("stats")["counters"]}
    check(counters.get("connect_xlated", 0) >= 4 and
          counters.get("sendmsg_xlated", 0) >= 2 and
          counters.get("recvmsg_rev_hit", 0) >= 2,
          f"lbctl stats: the socket programs counted: {counters}")
    st = lbctl("status")
    check(st["role"] == "node", f"lbctl status: {st}")
    err = lbctl("backends", ok=False)
    check("not in the node role" in err, f"lbctl backends: {err}")

    lbd = restart(lab, cg, lbd)

    # scaling down and up reaches the maps
    api.put(web_slice(["backend2"]))
    t.only({"backend2"})
    api.put(web_slice(["backend1", "backend2"]))
    t.only({"backend1", "backend2"})

    # a terminating endpoint keeps its connection, takes no new ones
    holder = None
    for _ in range(40):
        p = subprocess.Popen(
            ["ip", "netns", "exec", lab.ns("lb1"), sys.executable, POD, cg,
             "hold", CLUSTER_IP, "80"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        lab.procs.append(p)
        first = json.loads(p.stdout.readline())
        if first["name"] == "backend2":
            holder = p
            break
        p.kill()
        p.wait()
    check(holder, "a held connection to backend2")
    api.put(web_slice(["backend1"], terminating=["backend2"]))
    t.only({"backend1"})
    holder.stdin.write("again\n")
    holder.stdin.flush()
    again = json.loads(holder.stdout.readline())
    check(again["name"] == "backend2",
          f"the open connection to the terminating endpoint works: {again}")
    # only terminating endpoints left: they take new connections
    api.put(web_slice([], terminating=["backend2"]))
    t.only({"backend2"})

    # the NodePort is guarded from the cgroup's processes
    r = t.pod("lb1", "bind", str(NODE_PORT))
    check(r["errno"] == errno.EPERM, f"bind() to the NodePort: {r}")
    r = t.pod("lb1", "bind", str(NODE_PORT + 1))
    check(r["errno"] == 0, f"bind() to another port: {r}")
    # and it reaches the endpoints on the node's address
    out = t.pod("lb1", "tcp", "198.18.0.10", str(NODE_PORT), "2")
    check(all(c.get("name") == "backend2" for c in out),
          f"the NodePort on the node's address: {out}")

    # the Service goes: connections to its address are not translated
    api.delete("Service", "default", "web")
    wait_until(lambda: all("error" in c for c in t.pod(
        "lb1", "tcp", CLUSTER_IP, "80", "1")), 30,
        "the ClusterIP to stop answering")
    r = t.pod("lb1", "bind", str(NODE_PORT))
    check(r["errno"] == 0, f"the NodePort freed with its Service: {r}")
    lbd.stop()
    check("refused" not in lbd.read_log(), lbd.read_log())

    # --cleanup: the links' pins go, and with them the attachments
    lab.exec("lb1", [LBD_BIN, "--cleanup", "-c", lbd.conf])
    pins = os.path.join(lab.pin_path("lb1"), "node")
    check(not os.path.exists(pins) or not os.listdir(pins),
          f"pins left: {os.listdir(pins) if os.path.exists(pins) else ''}")
    r = lab.exec("lb1", ["bpftool", "cgroup", "show", cg])
    check(not any(w in r.stdout for w in ("connect", "sendmsg", "recvmsg",
                                          "getpeername", "bind")),
          f"programs still attached to {cg}: {r.stdout}")


def restart(lab, cg, lbd):
    """kill -9 of lbd while a pod connects in a loop to the ClusterIP:
    the pinned links and maps keep translating, the new lbd adopts them
    and syncs; no connect fails."""
    p = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("client"), sys.executable, POD, cg,
         "loop", CLUSTER_IP, "80"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lab.procs.append(p)
    check(json.loads(p.stdout.readline()).get("started"), "the loop")
    lbd.kill9()
    lbd = Lbd(lab, "lb1", open(lbd.conf).read(), name="lb1-again").start()
    wait_until(lambda: "kubernetes: synced" in lbd.read_log(), 30,
               "the restarted lbd's first sync")
    # what the first lbd synced: 3 Service ports (TCP, UDP, NodePort)
    check("adopted 3 Service ports" in lbd.read_log(), lbd.read_log())
    p.stdin.write("stop\n")
    p.stdin.flush()
    r = json.loads(p.stdout.readline())
    p.wait(timeout=10)
    check(r["n_errors"] == 0 and r["n"] > 0,
          f"connects across the restart: {r}")
    print(f"restart: {r['n']} connects, longest gap {r['max_ms']:.1f} ms",
          file=sys.stderr)
    return lbd


run(test)
