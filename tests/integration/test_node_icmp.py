#!/usr/bin/env python3
"""lbd in role node with socket_lb = "host-only" (issue 17): ICMP errors
about the tc path's flows are translated as the flows are, and a pod
reaches itself through a Service (hairpin).

lbd runs in lb1 (the node), its socket programs on a cgroup made for
this test. A "pod" is a network namespace of the test's own, linked to
lb1 by a veth pair whose lb1 side matches pod_interfaces; its processes
join the cgroup, which host-only leaves alone: their packets take the
tc path.

Checked:
- a connected UDP socket of the pod sends to a ClusterIP whose only
  endpoint (on backend1) has no listener: backend1's port unreachable,
  about the endpoint's address, comes back about the ClusterIP, and the
  socket's recv() fails with ECONNREFUSED (untranslated, the kernel
  finds no socket for it and the recv() times out);
- the pod connects (TCP) to a Service whose only endpoint is the pod
  itself: it gets its own server's answer, which saw 169.254.42.1 (the
  hairpin address), and getpeername() says the ClusterIP.
"""
import errno
import json
import os
import subprocess
import sys

from k8stest import FakeAPI
from labtest import LBCTL
from labtest import Lab, Lbd, TestFailure, check, run, wait_until
from nodelab import POD_IF, POD_IP, cgroup_mount, cleanup, pod_up

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "nodeserver.py")
POD = os.path.join(HERE, "nodepod.py")
CLUSTER_IP = "198.19.96.20"
SELF_IP = "198.19.96.21"
BE1 = "198.18.1.11"
NO_LISTENER = 9999
POD_PORT = 8053
HAIRPIN = "169.254.42.1"

# The pod's connected UDP socket: the errno of its recv(), 0 for an
# answer, -1 for none within the time.
UDP_REFUSED = r"""
import json, os, socket, sys
with open(os.path.join(sys.argv[1], "cgroup.procs"), "w") as f:
    f.write(str(os.getpid()))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect((sys.argv[2], int(sys.argv[3])))
s.send(b"who\n")
try:
    s.recv(100)
    r = 0
except socket.timeout:
    r = -1
except OSError as e:
    r = e.errno
print(json.dumps({"errno": r}))
"""


def service(name, ip, port, proto):
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "ClusterIP", "clusterIP": ip,
                     "clusterIPs": [ip],
                     "ports": [{"name": "p", "port": port, "protocol": proto,
                                "targetPort": port}]}}


def endpoints(name, ip, port, proto):
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": f"{name}-1", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": "p", "port": port, "protocol": proto}],
            "endpoints": [{"addresses": [ip], "nodeName": "lb1",
                           "conditions": {"ready": True}}]}


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


def in_pod(pod_ns, *cmd):
    try:
        r = subprocess.run(["ip", "netns", "exec", pod_ns, *cmd],
                           capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"in the pod {cmd}: no answer within 20 s")
    if r.returncode:
        raise TestFailure(f"in the pod {cmd}: {r.stdout}{r.stderr}")
    return json.loads(r.stdout)


def tc_counters(lab):
    r = lab.exec("lb1", [LBCTL, "-s", os.path.join(lab.path, "lb1.sock"),
                         "--json", "stats"])
    st = json.loads(r.stdout)
    return {c["reason"]: c["count"] for c in st.get("tc_counters", [])}


def test():
    with Lab("nodeicmp", backends=1) as lab:
        mnt = cgroup_mount(lab)
        cg = os.path.join(mnt, f"lbd-test-{lab.prefix}")
        pod_ns = lab.ns("pod")
        try:
            os.makedirs(cg, exist_ok=True)
            body(lab, cg, pod_ns)
        finally:
            cleanup(cg, mnt, pod_ns)


def body(lab, cg, pod_ns):
    api = FakeAPI(lab)
    api.put(service("refused", CLUSTER_IP, NO_LISTENER, "UDP"))
    api.put(endpoints("refused", BE1, NO_LISTENER, "UDP"))
    api.put(service("self", SELF_IP, POD_PORT, "TCP"))
    api.put(endpoints("self", POD_IP, POD_PORT, "TCP"))
    pod_up(lab, pod_ns, routed=True)
    lbd = Lbd(lab, "lb1", node_conf(lab, api, cg)).start()
    wait_until(lambda: "kubernetes: synced" in lbd.read_log(), 30,
               "the first sync")
    r = lab.exec("lb1", ["tc", "filter", "show", "dev", POD_IF, "egress"])
    check("lbd_node_tc" in r.stdout, f"the tc path on {POD_IF}: {r.stdout}")

    # UDP to a Service whose endpoint has no listener: ECONNREFUSED
    r = in_pod(pod_ns, sys.executable, "-c", UDP_REFUSED, cg, CLUSTER_IP,
               str(NO_LISTENER))
    check(r["errno"] == errno.ECONNREFUSED,
          f"the pod's connected UDP socket: errno {r['errno']}, expected "
          f"ECONNREFUSED ({errno.ECONNREFUSED})")
    tc = tc_counters(lab)
    check(tc.get("icmp_error_xlated", 0) >= 1,
          f"the tc path counted the error it translated: {tc}")

    # hairpin: the pod's own server through its Service
    log = os.path.join(lab.path, "pod-server.log")
    lab.spawn("pod", [sys.executable, "-u", SERVER, "pod", str(POD_PORT),
                      "--peer"], log=log)
    wait_until(lambda: open(log).read().startswith("ready"), 30,
               "the server in the pod")
    out = in_pod(pod_ns, sys.executable, POD, cg, "tcp", SELF_IP,
                 str(POD_PORT), "1")
    check(all(c.get("name") == f"pod {HAIRPIN}" and
              c.get("peer") == [SELF_IP, POD_PORT] for c in out),
          f"the pod through its own Service: {out}")
    tc = tc_counters(lab)
    check(tc.get("hairpin", 0) >= 1 and not tc.get("rewrite_failed"),
          f"the tc path counted the hairpin flows: {tc}")
    lbd.stop()


if __name__ == "__main__":
    run(test)
