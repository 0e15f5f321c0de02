#!/usr/bin/env python3
"""lbd in role node (issue 17): NodePort and LoadBalancer from a client
outside the node, through the NIC path (XDP on the node's NIC).

lbd runs in lb1 (the node); its NIC path goes on eth0 by default (the
interface holding node_role.addresses). A "pod" is a network namespace
linked to lb1 by a veth pair whose lb1 side matches pod_interfaces;
backend1 and backend2 stand for other nodes' pods. Every endpoint answers
each TCP line and datagram with its name and the address it sees. The
client is the lab's, behind the router; the router sends the
LoadBalancer prefix (203.0.113.0/24) to lb1.

Checked: with externalTrafficPolicy Local, TCP and UDP to the node's
address with the NodePort and to the LoadBalancer IP reach the pod, which
sees the client's address, and the client's replies come from the
address it asked for; with Cluster and endpoints on other nodes, TCP and
UDP reach both, each seeing the node's address; lbctl stats counts the
flows; a restart (kill -9) keeps serving and the new lbd's program
replaces the old in place; a reload that names no NIC takes it off, one
that names eth0 puts it back; lbd --cleanup takes it off the NIC.
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

NODE4 = "198.18.0.10"
CLIENT4 = "192.0.2.2"
LB_LOCAL, LB_CLUSTER = "203.0.113.30", "203.0.113.31"
SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "nodeserver.py")
BE = {"backend1": "198.18.1.11", "backend2": "198.18.1.12"}
EP_PORT = 8080
# NodePorts: Local's TCP and UDP, Cluster's TCP and UDP
NP_L_TCP, NP_L_UDP, NP_C_TCP, NP_C_UDP = 30080, 30053, 30090, 30093

# From the client: TCP (one line each on n connections) or one UDP
# datagram; what came back, and from where.
CLIENT = r"""
import json, socket, sys
proto, addr, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4])
out = []
for i in range(n):
    try:
        if proto == "tcp":
            s = socket.create_connection((addr, port), timeout=2)
            s.sendall(b"hello\n")
            line = s.makefile().readline().strip()
            out.append({"name": line, "peer": list(s.getpeername()),
                        "local": s.getsockname()[1]})
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            s.sendto(b"hello", (addr, port))
            data, src = s.recvfrom(100)
            out.append({"name": data.decode().strip(), "peer": list(src),
                        "local": s.getsockname()[1]})
        s.close()
    except OSError as e:
        out.append({"error": str(e)})
print(json.dumps(out))
"""


def service(name, policy, lb_ip, np_tcp, np_udp):
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"type": "LoadBalancer",
                     "clusterIP": "10.96.0.30" if policy == "Local" else
                     "10.96.0.31",
                     "clusterIPs": ["10.96.0.30" if policy == "Local" else
                                    "10.96.0.31"],
                     "externalTrafficPolicy": policy,
                     "ports": [{"name": "http", "port": 80,
                                "protocol": "TCP", "targetPort": EP_PORT,
                                "nodePort": np_tcp},
                               {"name": "dns", "port": 53,
                                "protocol": "UDP", "targetPort": EP_PORT,
                                "nodePort": np_udp}]},
            "status": {"loadBalancer": {"ingress": [{"ip": lb_ip}]}}}


def endpoints(name, eps):
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": f"{name}-1", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": EP_PORT, "protocol": "TCP"},
                      {"name": "dns", "port": EP_PORT, "protocol": "UDP"}],
            "endpoints": [{"addresses": [ip], "nodeName": node,
                           "conditions": {"ready": True}}
                          for ip, node in eps]}


def node_conf(lab, api, cg):
    return f"""
role = "node";
node_role = {{ cgroup = "{cg}"; node_name = "lb1";
  addresses = ( "{NODE4}" ); max_services = 64; max_addresses = 256;
  max_endpoints = 256; reverse_entries = 4096; affinity_entries = 4096;
  nat_entries = 4096; pod_interfaces = ( "podveth*" );
  pin_path = "{lab.pin_path('lb1')}/node"; }};
kubernetes = {{ kubeconfig = "{api.kubeconfig}"; }};
control = {{ socket = "{lab.path}/lb1.sock"; metrics_listen = "off"; }};
"""


def test():
    with Lab("nodens", backends=2) as lab:
        mnt = cgroup_mount(lab)
        cg = os.path.join(mnt, f"lbd-test-{lab.prefix}")
        pod_ns = f"{lab.prefix}-pod"
        try:
            os.makedirs(cg, exist_ok=True)
            body(lab, cg, pod_ns)
        finally:
            cleanup(cg, mnt, pod_ns)


def body(lab, cg, pod_ns):
    pod_up(lab, pod_ns, routed=False)
    servers = [(h, ["ip", "netns", "exec", lab.ns(h)]) for h in BE]
    servers.append(("pod", ["ip", "netns", "exec", pod_ns]))
    for h, prefix in servers:
        log = os.path.join(lab.path, f"{h}-server.log")
        p = subprocess.Popen(prefix + [sys.executable, "-u", SERVER, h,
                                       str(EP_PORT), "--peer"],
                             stdout=open(log, "w"),
                             stderr=subprocess.STDOUT)
        lab.procs.append(p)
        wait_until(lambda: open(log).read().startswith("ready"), 30,
                   f"server on {h}")
    api = FakeAPI(lab)
    api.put(service("local", "Local", LB_LOCAL, NP_L_TCP, NP_L_UDP))
    api.put(endpoints("local", [(POD_IP, "lb1"), (BE["backend1"],
                                                  "node-2")]))
    api.put(service("cluster", "Cluster", LB_CLUSTER, NP_C_TCP, NP_C_UDP))
    api.put(endpoints("cluster", [(BE["backend1"], "node-2"),
                                  (BE["backend2"], "node-3")]))
    lbd = Lbd(lab, "lb1", node_conf(lab, api, cg)).start()
    wait_until(lambda: "kubernetes: synced" in lbd.read_log(), 30,
               "the first sync")
    ctl = os.path.join(lab.path, "lb1.sock")

    def lbctl(*args):
        return json.loads(lab.exec("lb1", [LBCTL, "-s", ctl, "--json",
                                           *args]).stdout)

    def nic_counters():
        return {c["reason"]: c["count"]
                for c in lbctl("stats").get("nic_counters", [])}

    def client(proto, addr, port, n=1):
        r = lab.exec("client", [sys.executable, "-c", CLIENT, proto, addr,
                                str(port), str(n)], timeout=60)
        return json.loads(r.stdout)

    def xdp_prog():
        r = lab.exec("lb1", ["ip", "-j", "link", "show", "eth0"])
        return json.loads(r.stdout)[0].get("xdp", {}).get("prog", {})

    check(lbctl("status")["node"]["nic_interfaces"] == 1,
          f"the NIC path on eth0: {lbctl('status')['node']}")
    check(xdp_prog().get("name") == "lbd_xdp", f"on eth0: {xdp_prog()}")
    c0 = nic_counters()
    # the flows sent, by kind: a new UDP socket may get the source port of
    # an earlier one to the same target, its datagram that flow's again
    flows = {"local": set(), "snat": set()}

    # Local: the pod, seeing the client; replies from the address asked
    for proto, addr, port in (("tcp", NODE4, NP_L_TCP),
                              ("tcp", LB_LOCAL, 80),
                              ("udp", NODE4, NP_L_UDP),
                              ("udp", LB_LOCAL, 53)):
        out = client(proto, addr, port, 3)
        check(all(r.get("name") == f"pod {CLIENT4}" and
                  r.get("peer") == [addr, port] for r in out),
              f"{proto} {addr}:{port} (Local): the pod sees the client, "
              f"the reply from {addr}:{port}: {out}")
        flows["local"] |= {(proto, addr, port, r["local"]) for r in out}
    # Cluster: the other nodes' endpoints, seeing this node's address
    for proto, addr, port in (("tcp", NODE4, NP_C_TCP),
                              ("tcp", LB_CLUSTER, 80),
                              ("udp", NODE4, NP_C_UDP),
                              ("udp", LB_CLUSTER, 53)):
        out = client(proto, addr, port, 12)
        seen = {r.get("name") for r in out}
        check(all(r.get("peer") == [addr, port] for r in out) and
              seen == {f"{h} {NODE4}" for h in BE},
              f"{proto} {addr}:{port} (Cluster): both endpoints, SNATed "
              f"to {NODE4}: {out}")
        flows["snat"] |= {(proto, addr, port, r["local"]) for r in out}
    c1 = nic_counters()
    n_local, n_snat = len(flows["local"]), len(flows["snat"])
    check(c1["new_flow_local"] - c0.get("new_flow_local", 0) == n_local and
          c1["new_flow_snat"] - c0.get("new_flow_snat", 0) == n_snat and
          c1["reply_xlated"] > n_snat,
          f"lbctl stats: the NIC path's flows ({n_local} local, {n_snat} "
          f"SNATed): {c1}")
    check(not any(c1[k] for k in ("malformed", "no_endpoint", "no_route",
                                  "no_snat_address", "snat_exhausted",
                                  "nat_update_failed", "rewrite_failed")),
          f"no drops: {c1}")

    # kill -9: the program and the pinned maps keep serving; the next
    # lbd replaces the program in place
    before = xdp_prog().get("id")
    lbd.kill9()
    out = client("tcp", NODE4, NP_C_TCP, 2) + client("tcp", LB_LOCAL, 80, 2)
    check(all("error" not in r for r in out), f"with lbd gone: {out}")
    lbd = Lbd(lab, "lb1", open(lbd.conf).read(), name="lb1-again").start()
    wait_until(lambda: xdp_prog().get("id") not in (None, before), 10,
               "the new lbd's program on eth0")
    out = client("tcp", NODE4, NP_L_TCP, 2) + client("udp", LB_CLUSTER, 53,
                                                      2)
    check(all("error" not in r for r in out), f"after the restart: {out}")

    # a reload naming no NIC takes the program off eth0; naming it again
    # puts it back
    conf = open(lbd.conf).read()
    lbd.write_conf(conf.replace("nat_entries = 4096;",
                                "nat_entries = 4096; interfaces = ( );"))
    lbd.reload()
    check(not xdp_prog() and lbctl("status")["node"]["nic_interfaces"] == 0,
          f"interfaces = ( ): the program left eth0: {xdp_prog()}")
    lbd.write_conf(conf.replace(
        "nat_entries = 4096;", 'nat_entries = 4096; interfaces = ( "eth0" );'))
    lbd.reload()
    check(xdp_prog().get("name") == "lbd_xdp",
          f"interfaces = ( \"eth0\" ): the program on eth0: {xdp_prog()}")
    out = client("tcp", NODE4, NP_C_TCP, 2)
    check(all(r.get("name", "").endswith(NODE4) for r in out),
          f"after the reload: {out}")
    lbd.stop()

    # --cleanup: the program goes from eth0
    lab.exec("lb1", [LBD_BIN, "--cleanup", "-c", lbd.conf])
    check(not xdp_prog(), f"XDP left on eth0: {xdp_prog()}")


if __name__ == "__main__":
    run(test)
