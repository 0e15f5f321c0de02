#!/usr/bin/env python3
"""lbd in role node (issue 17), what test_node.py leaves out: IPv6
ClusterIPs, a dual-stack socket to an IPv4 ClusterIP (::ffff:), ClientIP
affinity, internalTrafficPolicy Local, and lbctl explain and list in the
node role. (test_node.py has the rolling update: a terminating endpoint
keeps its open connection, new ones go to the ready one.)

lbd runs in lb1 (the node; its own network namespace is the host's),
its programs on a cgroup made for this test; "pods" are processes moved
into that cgroup, in lb1 and in the client namespace (a pod's network
namespace). Endpoints are dual-stack servers on backend1 and backend2.

Checked:
- IPv6 ClusterIP, TCP and UDP, from the host and from a pod: both
  endpoints reached, getpeername() and the UDP reply's source are the
  Service's IPv6 address;
- an AF_INET6 socket to ::ffff:<IPv4 ClusterIP> reaches the IPv4
  endpoints, getpeername() says ::ffff:<ClusterIP>;
- lbctl explain --cookie names the endpoint a socket's connect() then
  reaches, every time; without a cookie it names none;
- ClientIP affinity (timeoutSeconds 5): every connect of a pod goes to
  its entry's endpoint while it is fresh, also after a second endpoint
  came; each pod's choice is what explain --netns (or the host's own
  netns) predicts; idle past the timeout, explain says the entry is not
  followed and connects go to the table's choice for the pod;
- internalTrafficPolicy Local: only the endpoint whose nodeName is this
  node; with none, connect() fails with ECONNREFUSED;
- lbctl list: a line per Service address with its endpoints, local ones
  marked; --rate refused.
"""
import errno
import json
import os
import subprocess
import sys

from k8stest import FakeAPI
from labtest import LBCTL
from labtest import Lab, Lbd, TestFailure, check, run, wait_until
from nodelab import cgroup_mount, cgroup_remove

HERE = os.path.dirname(os.path.abspath(__file__))
HELPER = os.path.join(HERE, "nodemore.py")
PORT = 8053
BE4 = {"backend1": "198.18.1.11", "backend2": "198.18.1.12"}
BE6 = {"backend1": "2001:db8:1::11", "backend2": "2001:db8:1::12"}
NODE = "198.18.0.10"  # lb1's address: its sockets are the host's
POD = "192.0.2.2"  # the client namespace's
V6_IP = "2001:db8:96::10"
WEB_IP = "10.96.0.40"
STICKY_IP = "10.96.0.20"
LOCAL_IP = "10.96.0.30"
AFFINITY_S = 5


def service(name, ips, ports, **spec):
    fam = "IPv6" if ":" in ips[0] else "IPv4"
    s = {"type": "ClusterIP", "clusterIP": ips[0], "clusterIPs": ips,
         "ipFamilies": [fam],
         "ports": [{"name": n, "port": p, "protocol": proto,
                    "targetPort": PORT} for n, p, proto in ports]}
    s.update(spec)
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "default"},
            "spec": s}


def slice_(svc, hosts, v6=False, ports=(("http", "TCP"),),
           node_of=lambda h: h, n=1, weight=None):
    addrs = BE6 if v6 else BE4
    meta = {"name": f"{svc}-{n}", "namespace": "default",
            "labels": {"kubernetes.io/service-name": svc}}
    if weight:
        meta["annotations"] = {"lbd.io/weight": str(weight)}
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": meta,
            "addressType": "IPv6" if v6 else "IPv4",
            "ports": [{"name": n, "port": PORT, "protocol": p}
                      for n, p in ports],
            "endpoints": [{"addresses": [addrs[h]], "nodeName": node_of(h),
                           "conditions": {"ready": True, "serving": True,
                                          "terminating": False}}
                          for h in hosts]}


def node_conf(lab, api, cg):
    return f"""
role = "node";
node_role = {{ cgroup = "{cg}"; node_name = "lb1";
  addresses = ( "{NODE}" ); max_services = 64; max_addresses = 256;
  max_endpoints = 256; reverse_entries = 4096; affinity_entries = 4096;
  pin_path = "{lab.pin_path('lb1')}/node"; }};
kubernetes = {{ kubeconfig = "{api.kubeconfig}"; }};
control = {{ socket = "{lab.path}/lb1.sock"; metrics_listen = "off"; }};
"""


class T:
    def __init__(self, lab, cg):
        self.lab, self.cg = lab, cg
        self.ctl = os.path.join(lab.path, "lb1.sock")

    def pod(self, host, *args):
        r = self.lab.exec(host, [sys.executable, HELPER, "pod", self.cg,
                                 *args], timeout=60)
        return json.loads(r.stdout)

    def names(self, host, addr, n=16):
        return [c.get("name", c.get("error"))
                for c in self.pod(host, "tcp", addr, "80", str(n))]

    def lbctl(self, *args, ok=True):
        r = self.lab.exec("lb1", [LBCTL, "-s", self.ctl, *args],
                          check=False)
        check((r.returncode == 0) == ok,
              f"lbctl {args}: {r.returncode} {r.stdout} {r.stderr}")
        return r

    def explain(self, client, svc, *opts):
        return json.loads(self.lbctl("--json", "explain", client, svc,
                                     *opts).stdout)

    def endpoints(self, svc):
        return sorted(e["endpoint"] for e in
                      self.explain(NODE, svc)["endpoints"])


def ep_host(ep):
    """backendN of an explain endpoint "addr:port" or "[addr6]:port"."""
    addr = ep.rsplit(":", 1)[0].strip("[]")
    for h in BE4:
        if addr in (BE4[h], BE6[h]):
            return h
    raise TestFailure(f"endpoint {ep} is no backend's")


def test():
    with Lab("nodemore", backends=2) as lab:
        at = cgroup_mount(lab)
        cg = os.path.join(at, f"lbd-test-{lab.prefix}")
        try:
            os.makedirs(cg, exist_ok=True)
            body(lab, cg)
        finally:
            cleanup(cg, at)


def cleanup(cg, mnt):
    cgroup_remove(cg)
    subprocess.run(["umount", mnt])


def body(lab, cg):
    for h in BE4:
        log = os.path.join(lab.path, f"{h}-server.log")
        lab.spawn(h, [sys.executable, "-u", HELPER, "serve", h, str(PORT)],
                  log=log)
        wait_until(lambda: open(log).read().startswith("ready"), 30,
                   f"server on {h}")
    api = FakeAPI(lab)
    api.put(service("v6web", [V6_IP], [("http", 80, "TCP"),
                                       ("dns", 53, "UDP")]))
    api.put(slice_("v6web", ["backend1", "backend2"], v6=True,
                   ports=(("http", "TCP"), ("dns", "UDP"))))
    api.put(service("web", [WEB_IP], [("http", 80, "TCP")]))
    api.put(slice_("web", ["backend1", "backend2"]))
    api.put(service("sticky", [STICKY_IP], [("http", 80, "TCP")],
                    sessionAffinity="ClientIP",
                    sessionAffinityConfig={
                        "clientIP": {"timeoutSeconds": AFFINITY_S}}))
    api.put(slice_("sticky", ["backend1"]))
    api.put(service("local", [LOCAL_IP], [("http", 80, "TCP")],
                    internalTrafficPolicy="Local"))
    # backend1 is on this node (lb1), backend2 on another
    on = {"backend1": "lb1", "backend2": "node-2"}
    api.put(slice_("local", ["backend1", "backend2"],
                   node_of=lambda h: on[h]))
    lbd = Lbd(lab, "lb1", node_conf(lab, api, cg)).start()
    t = T(lab, cg)
    wait_until(lambda: "kubernetes: synced" in lbd.read_log(), 30,
               "the first sync")

    ipv6(t)
    mapped_and_cookie(t)
    affinity(t, api)
    local_policy(t, api)
    lbctl_list(t)
    lbd.stop()


def ipv6(t):
    both = set(BE4)
    for host in ("lb1", "client"):
        wait_until(lambda: set(t.names(host, V6_IP)) == both, 30,
                   f"TCP to [{V6_IP}]:80 from {host} on both endpoints")
        for c in t.pod(host, "tcp", V6_IP, "80", "4"):
            check(c.get("peer") == [V6_IP, 80],
                  f"getpeername() from {host} names the Service: {c}")
        r = t.pod(host, "udp", V6_IP, "53")
        check(r["name"] in BE4 and r["from"] == [V6_IP, 53],
              f"UDP from {host}: the reply from the Service: {r}")


def mapped_and_cookie(t):
    mapped = f"::ffff:{WEB_IP}"
    wait_until(lambda: set(t.names("client", mapped)) == set(BE4), 30,
               f"TCP to [{mapped}]:80 on both endpoints")
    for c in t.pod("client", "tcp", mapped, "80", "4"):
        check(c.get("peer") == [mapped, 80],
              f"getpeername() of a mapped connect: {c}")
    # without a cookie no endpoint is named: each socket's decides
    e = t.explain(POD, f"{WEB_IP}:80/tcp")
    check(e["translated"] and e["choice"]["endpoint"] is None and
          not e["choice"]["exact"] and
          e["service"]["service"] == "default/web" and
          len(e["endpoints"]) == 2,
          f"explain without a cookie: {e}")
    got = set()
    for _ in range(8):
        p = subprocess.Popen(
            ["ip", "netns", "exec", t.lab.ns("client"), sys.executable,
             HELPER, "pod", t.cg, "cookie", WEB_IP, "80"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        t.lab.procs.append(p)
        cookie = json.loads(p.stdout.readline())["cookie"]
        e = t.explain(POD, f"{WEB_IP}:80/tcp", "--cookie", cookie)
        check(e["choice"]["exact"] and e["choice"]["why"] == "maglev" and
              e["choice"]["endpoint"] == e["choice"]["slot_endpoint"],
              f"explain --cookie: {e}")
        p.stdin.write("go\n")
        p.stdin.flush()
        name = json.loads(p.stdout.readline())["name"]
        p.wait(timeout=10)
        want = ep_host(e["choice"]["endpoint"])
        check(name == want, f"cookie {cookie}: explain said {want}, the "
              f"connect reached {name}")
        got.add(name)
    print(f"explain --cookie: 8 of 8 right, endpoints {sorted(got)}",
          file=sys.stderr)


def affinity(t, api):
    svc = f"{STICKY_IP}:80/tcp"
    wait_until(lambda: t.endpoints(svc) == [f"{BE4['backend1']}:{PORT}"],
               30, "sticky's one endpoint")
    # the pod's entry: backend1, the only endpoint
    check(set(t.names("client", STICKY_IP, 3)) == {"backend1"},
          "the first connects of the pod")
    # backend2 comes, weighted 50 to 1 (a slice of its own): the table
    # gives the pod backend2 but for 1 chance in 51, which the entry
    # overrides while it is fresh
    api.put(slice_("sticky", ["backend2"], n=2, weight=50))
    wait_until(lambda: len(t.endpoints(svc)) == 2, 30,
               "sticky's second endpoint")
    netns = t.pod("client", "netns")["netns"]
    e = t.explain(POD, svc, "--netns", netns)
    a = e["choice"]["affinity"]
    check(e["choice"]["by"] == "netns" and e["choice"]["exact"] and
          a["timeout_s"] == AFFINITY_S,
          f"explain of the pod: {e}")
    table_choice = ep_host(e["choice"]["slot_endpoint"])
    # seconds after the first connects: the entry is fresh and
    # followed; every connect refreshes it and follows it
    check(a["entry"] and a["fresh"] and a["followed"] and
          e["choice"]["why"] == "affinity" and
          ep_host(e["choice"]["endpoint"]) == "backend1",
          f"explain follows the pod's entry: {e}")
    names = t.names("client", STICKY_IP, 12)
    check(set(names) == {"backend1"},
          f"a pod's connects follow its entry: {names}")
    # the host (lb1) is another client: its own choice, all alike, as
    # explain predicts for the host's namespace (found by the address)
    h = t.explain(NODE, svc)
    check(h["choice"]["netns_from"] == "host" and h["choice"]["exact"],
          f"explain of the host: {h}")
    names = t.names("lb1", STICKY_IP, 12)
    want = ep_host(h["choice"]["endpoint"])
    check(set(names) == {want},
          f"the host's connects all to {want} as explain said: {names}")
    # idle past the timeout: the entry is not followed any more
    wait_until(lambda: not t.explain(POD, svc, "--netns", netns)[
        "choice"]["affinity"]["followed"], AFFINITY_S + 10,
        "the pod's entry to age past the timeout", interval=0.5)
    e = t.explain(POD, svc, "--netns", netns)
    check(e["choice"]["why"] == "maglev" and
          ep_host(e["choice"]["endpoint"]) == table_choice,
          f"explain past the timeout: {e}")
    names = t.names("client", STICKY_IP, 6)
    check(set(names) == {table_choice},
          f"after the timeout the table's choice {table_choice}: {names}")
    print(f"affinity: pod's entry backend1, after the timeout the "
          f"table's {table_choice}; host {want}", file=sys.stderr)


def local_policy(t, api):
    svc = f"{LOCAL_IP}:80/tcp"
    e = t.explain(NODE, svc)
    check(e["service"]["traffic_policy"] == "Local" and
          [(ep["endpoint"], ep["local"]) for ep in e["endpoints"]] ==
          [(f"{BE4['backend1']}:{PORT}", True)],
          f"explain of the Local Service: only the local endpoint: {e}")
    for host in ("lb1", "client"):
        names = t.names(host, LOCAL_IP, 12)
        check(set(names) == {"backend1"},
              f"Local from {host}: only this node's endpoint: {names}")
    lines = {s["address"]: s for s in
             json.loads(t.lbctl("--json", "list").stdout)["services"]}
    eps = lines[f"{LOCAL_IP}:80"]["endpoints"]
    check([(e["endpoint"], e["local"]) for e in eps] ==
          [(f"{BE4['backend1']}:{PORT}", True)],
          f"lbctl list marks the local endpoint: {eps}")
    check(" local" in t.lbctl("list").stdout, "lbctl list: no local mark")
    # the local endpoint goes: refused, though another node has one
    on = {"backend2": "node-2"}
    api.put(slice_("local", ["backend2"], node_of=lambda h: on[h]))
    wait_until(lambda: set(t.names("lb1", LOCAL_IP, 2)) ==
               {errno.ECONNREFUSED}, 30,
               "connects to the Local Service to be refused")
    e = t.explain(NODE, svc)
    check(e["endpoints"] == [] and e["choice"]["endpoint"] is None,
          f"explain with no local endpoint: {e}")


def lbctl_list(t):
    d = json.loads(t.lbctl("--json", "list").stdout)
    lines = {(s["address"], s["protocol"]): s for s in d["services"]}
    v6 = lines.get((f"[{V6_IP}]:80", "tcp"))
    check(v6 and v6["kind"] == "ClusterIP" and
          sorted(e["endpoint"] for e in v6["endpoints"]) ==
          sorted(f"[{a}]:{PORT}" for a in BE6.values()),
          f"lbctl list, the IPv6 ClusterIP: {v6}")
    web = lines.get((f"{WEB_IP}:80", "tcp"))
    check(web and all(e["weight"] == 1 and not e["local"]
                      for e in web["endpoints"]) and
          len(web["endpoints"]) == 2, f"lbctl list, web: {web}")
    sticky = lines.get((f"{STICKY_IP}:80", "tcp"))
    check(sticky and sticky["affinity"] == "ClientIP",
          f"lbctl list, sticky: {sticky}")
    out = t.lbctl("list").stdout
    check(f"{STICKY_IP}:80/tcp" in out and "Cluster,ClientIP" in out and
          f"[{V6_IP}]:53/udp" in out, f"lbctl list:\n{out}")
    r = t.lbctl("list", "--rate", ok=False)
    check(r.returncode == 2 and "node role" in r.stderr,
          f"lbctl list --rate: {r.returncode} {r.stderr}")
    print(f"lbctl list:\n{out}", file=sys.stderr)


run(test)
