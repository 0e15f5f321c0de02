#!/usr/bin/env python3
"""lbd in role node (issue 17): operational leftovers.

lbd runs in lb1 (the node), its socket programs on a cgroup made for
this test; the fake API server runs in the router namespace; the client,
outside the node, GETs the health check port.

Checked:
- serviceProxyHealthy follows the Kubernetes client as kube-proxy's
  healthTimeout does (node_role.health_timeout, 2 s here): with the API
  server gone, the health check port keeps answering 200 until the
  client has been behind for the timeout (never sooner), then 503 with
  serviceProxyHealthy false and the local endpoints still counted, and
  lbctl status says so; with the API server back and the client
  streaming again, 200 and true.
- the node role's metrics carry the Kubernetes client's series, as the
  LB role's: synced, each resource's watch (0 while the API server is
  gone), objects, lists, the Services applied, syncs as applies,
  refusals now and by reason (an address conflict also as a clash), and
  the node's own lbd_node_service_proxy_healthy and
  lbd_node_last_sync_timestamp_seconds.
- kube-proxy's /healthz server (node_role.healthz_address, its default
  0.0.0.0:10256): /healthz 200 with lastUpdated = currentTime (RFC 3339)
  and nodeEligible true, /livez 200 without nodeEligible, another path
  404; with the API server gone past the timeout both 503, lastUpdated
  the last sync's time; lbctl status and the metrics say where it
  listens; a reload moves it to another port (the old one refuses), and
  healthz_address = "" turns it off.
- lbctl explain --netns takes a namespace's path: the cookie it sends is
  the one a socket made in the pod's namespace reads, and the choice of
  a ClientIP Service is then exact; a bad path is refused (exit 2);
  without --netns for a pod's address the answer says what to pass.
"""
import datetime
import errno
import json
import os
import subprocess
import sys
import time

from k8stest import FakeAPI
from labtest import LBCTL, Lab, Lbd, TestFailure, check, run, wait_until
from nodelab import cgroup_mount

NODE4 = "198.18.0.10"
NODE_PORT = 30081
HEALTH_TIMEOUT = 2

# One GET from the client (of argv[3], else /): {"status", "body",
# "type"} or {"errno"}.
GET = r"""
import http.client, json, sys
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=5)
try:
    c.request("GET", sys.argv[3] if len(sys.argv) > 3 else "/")
    r = c.getresponse()
    print(json.dumps({"status": r.status, "body": r.read().decode(),
                      "type": r.getheader("Content-Type")}))
except OSError as e:
    print(json.dumps({"errno": e.errno, "error": str(e)}))
"""


def service(name):
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.20",
                     "clusterIPs": ["10.96.0.20"],
                     "externalTrafficPolicy": "Local",
                     "ports": [{"name": "http", "port": 80,
                                "protocol": "TCP", "targetPort": 8080,
                                "nodePort": NODE_PORT}]},
            "status": {"loadBalancer": {"ingress": [{"ip":
                                                     "203.0.113.20"}]}}}


def endpoints(service):
    """Two ready endpoints on this node (lb1)."""
    eps = [{"addresses": [a], "nodeName": "lb1",
            "conditions": {"ready": True, "serving": True,
                           "terminating": False}}
           for a in ("198.18.1.11", "198.18.1.12")]
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": f"{service}-1", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": eps}


def body_of(n, healthy):
    """kube-proxy's answer, written out from its template."""
    return ('{\n\t"service": {\n\t\t"namespace": "shop",\n'
            f'\t\t"name": "web"\n\t}},\n\t"localEndpoints": {n},\n'
            f'\t"serviceProxyHealthy": {"true" if healthy else "false"}\n}}')


def evil():
    """A Service naming web's ClusterIP as its externalIP: refused
    (address_conflict)."""
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": "evil", "namespace": "other"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.66",
                     "clusterIPs": ["10.96.0.66"],
                     "externalIPs": ["10.96.0.20"],
                     "ports": [{"port": 80, "protocol": "TCP",
                                "targetPort": 8080}]}}


def sticky():
    """A ClusterIP Service with ClientIP affinity (the netns decides),
    its endpoints, and the EndpointSlice."""
    svc = {"kind": "Service", "apiVersion": "v1",
           "metadata": {"name": "sticky", "namespace": "shop"},
           "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.50",
                    "clusterIPs": ["10.96.0.50"],
                    "sessionAffinity": "ClientIP",
                    "ports": [{"name": "http", "port": 80,
                               "protocol": "TCP", "targetPort": 8080}]}}
    sl = endpoints("sticky")
    return svc, sl


NETNS_COOKIE = r"""
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
print(int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 71, 8), "little"))
"""


def node_conf(lab, api, cg, healthz=None):
    hz = "" if healthz is None else f'healthz_address = "{healthz}";'
    return f"""
role = "node";
node_role = {{ cgroup = "{cg}"; node_name = "lb1";
  addresses = ( "{NODE4}" ); max_services = 64;
  max_addresses = 256; max_endpoints = 256; reverse_entries = 4096;
  affinity_entries = 4096; pin_path = "{lab.pin_path('lb1')}/node";
  health_timeout = {HEALTH_TIMEOUT}; {hz} }};
kubernetes = {{ kubeconfig = "{api.kubeconfig}"; }};
control = {{ socket = "{lab.path}/lb1.sock";
  metrics_listen = "127.0.0.1:9470"; }};
"""


def test():
    with Lab("nodesm", backends=1) as lab:
        mnt = cgroup_mount(lab)
        cg = os.path.join(mnt, f"lbd-test-{lab.prefix}")
        try:
            os.makedirs(cg, exist_ok=True)
            body(lab, cg)
        finally:
            if os.path.isdir(cg):
                try:
                    os.rmdir(cg)
                except OSError as e:
                    print(f"removing {cg}: {e}", file=sys.stderr)
            subprocess.run(["umount", mnt])


def body(lab, cg):
    ctl = os.path.join(lab.path, "lb1.sock")

    def get(port, path="/"):
        r = lab.exec("client", [sys.executable, "-c", GET, NODE4,
                                str(port), path], timeout=30)
        return json.loads(r.stdout)

    def rfc3339(t):
        return datetime.datetime.fromisoformat(t).timestamp()

    def healthz(port, status, last_sync=None):
        """/healthz and /livez answer status (the first within a bound:
        lbd tells the io process at once), another path 404; with
        last_sync (503), lastUpdated is that time, else currentTime."""
        last = {}

        def ok():
            last["r"] = get(port, "/healthz")
            return last["r"].get("status") == status
        try:
            wait_until(ok, 30, f"/healthz {status}", interval=0.2)
        except TestFailure:
            raise TestFailure(f"/healthz on {port}: {last.get('r')}, "
                              f"want {status}")
        for path in ("/healthz", "/livez"):
            r = get(port, path) if path != "/healthz" else last["r"]
            check(r["status"] == status and
                  r["type"] == "application/json", f"{path}: {r}")
            b = json.loads(r["body"])
            keys = {"lastUpdated", "currentTime"}
            if path == "/healthz":
                keys.add("nodeEligible")
                check(b["nodeEligible"] is True, b)
            check(set(b) == keys, f"{path}: {b}")
            now = rfc3339(b["currentTime"])
            check(abs(now - time.time()) < 5, b)
            want = now if last_sync is None else last_sync
            check(abs(rfc3339(b["lastUpdated"]) - want) < 0.002,
                  f"{path}: {b}, want lastUpdated {want}")
        r = get(port, "/metrics")
        check(r["status"] == 404, r)

    def answers(port, status, n, healthy, bound=30):
        want = body_of(n, healthy)
        last = {}

        def ok():
            last["r"] = get(port)
            return (last["r"].get("status") == status and
                    last["r"].get("body") == want)
        try:
            wait_until(ok, bound, f"port {port}: {status}", interval=0.2)
        except TestFailure:
            raise TestFailure(f"port {port}: {last.get('r')}, want "
                              f"{status} {want!r}")

    def status():
        return json.loads(lab.exec("lb1", [LBCTL, "-s", ctl, "--json",
                                           "status"]).stdout)

    def metrics():
        """{'name{labels}': value} of lbd's Prometheus endpoint."""
        r = lab.exec("lb1", ["curl", "-sf", "http://127.0.0.1:9470/metrics"])
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in r.stdout.splitlines()
                if line and not line.startswith("#")}

    def metrics_are(want, what):
        last = {}

        def ok():
            last["m"] = metrics()
            return all(last["m"].get(k) == v for k, v in want.items())
        try:
            wait_until(ok, 30, what, interval=0.2)
        except TestFailure:
            raise TestFailure(f"{what}: " + str(
                {k: last["m"].get(k) for k in want}) + f", want {want}")
        return last["m"]

    api = FakeAPI(lab)
    port = api.put(service("web"))["object"]["spec"]["healthCheckNodePort"]
    api.put(endpoints("web"))
    api.put(evil())
    for o in sticky():
        api.put(o)
    before = time.time()
    lbd = Lbd(lab, "lb1", node_conf(lab, api, cg)).start()
    answers(port, 200, 2, True)
    check(status()["node"]["service_proxy_healthy"] is True, status())
    healthz(10256, 200)
    st = status()["node"]
    check(st["healthz_address"] == "0.0.0.0:10256" and
          st["healthz_status"] == 200, st)

    m = metrics_are({
        "lbd_kubernetes_synced": 1,
        'lbd_kubernetes_watching{resource="services"}': 1,
        'lbd_kubernetes_watching{resource="endpointslices"}': 1,
        'lbd_kubernetes_objects{resource="services"}': 3,
        'lbd_kubernetes_objects{resource="endpointslices"}': 2,
        'lbd_kubernetes_lists_total{resource="services"}': 1,
        "lbd_kubernetes_services": 2,
        "lbd_kubernetes_refused": 1,
        'lbd_kubernetes_refusals_total{reason="address_conflict"}': 1,
        'lbd_kubernetes_refusals_total{reason="protocol"}': 0,
        "lbd_service_clashes_refused_total": 1,
        "lbd_services_refused": 1,
        "lbd_kubernetes_apply_failures_total": 0,
        "lbd_node_service_proxy_healthy": 1,
        "lbd_node_healthz_listening": 1,
    }, "the node role's Kubernetes series")
    check(m.get("lbd_kubernetes_applies_total", 0) >= 1, m)
    check(before <= m.get("lbd_node_last_sync_timestamp_seconds", 0)
          <= time.time(), m)

    # lbctl explain for a pod's address: the namespace by its path
    pod_ns = f"/run/netns/{lab.ns('client')}"
    want = lab.exec("client", [sys.executable, "-c", NETNS_COOKIE]).stdout
    explain = [LBCTL, "-s", ctl, "--json", "explain", "192.0.2.2",
               "10.96.0.50:80/tcp"]
    ex = json.loads(lab.exec("lb1", explain + ["--netns", pod_ns]).stdout)
    ch = ex["choice"]
    check(ch["netns"] == want.strip() and ch["netns_from"] == "given" and
          ch["exact"] and ch["endpoint"] in ("198.18.1.11:8080",
                                             "198.18.1.12:8080"),
          f"explain --netns {pod_ns}: {ex}")
    by_cookie = json.loads(lab.exec("lb1", explain + [
        "--netns", want.strip()]).stdout)["choice"]
    check(by_cookie["endpoint"] == ch["endpoint"], f"{by_cookie} {ch}")
    ex = json.loads(lab.exec("lb1", explain).stdout)["choice"]
    check(ex["endpoint"] is None and "--netns" in ex["why"] and
          "/proc/PID/ns/net" in ex["why"], ex)
    r = lab.exec("lb1", explain + ["--netns", "/nonexistent"], check=False)
    check(r.returncode == 2 and "--netns /nonexistent" in r.stderr,
          f"{r.returncode} {r.stderr}")
    r = lab.exec("lb1", explain + ["--netns", "pod-a"], check=False)
    check(r.returncode == 2 and "its path" in r.stderr,
          f"{r.returncode} {r.stderr}")

    # the API server goes away: the client loses its watches and cannot
    # list again; 503 once it has been behind for the timeout, not before
    gone = time.monotonic()
    api.cmd(op="stop")
    answers(port, 503, 2, False)
    took = time.monotonic() - gone
    check(took >= HEALTH_TIMEOUT, f"unhealthy after {took:.2f} s, before "
          f"the timeout ({HEALTH_TIMEOUT} s)")
    st = status()["node"]
    check(st["service_proxy_healthy"] is False and
          st["kubernetes_behind_s"] >= HEALTH_TIMEOUT, st)
    check("behind the cluster for 2 s or more" in lbd.read_log(),
          lbd.read_log()[-2000:])
    text = lab.exec("lb1", [LBCTL, "-s", ctl, "status"]).stdout
    check("health checks answer 503 (serviceProxyHealthy false)" in text,
          text)
    m = metrics_are({"lbd_node_service_proxy_healthy": 0,
                     'lbd_kubernetes_watching{resource="services"}': 0},
                    "the lost watch in the metrics")
    healthz(10256, 503, m["lbd_node_last_sync_timestamp_seconds"])
    check(status()["node"]["healthz_status"] == 503, status())

    # back: the client lists and watches again
    api.cmd(op="start")
    answers(port, 200, 2, True)
    check(status()["node"]["kubernetes_behind_s"] == 0, status())
    metrics_are({"lbd_node_service_proxy_healthy": 1,
                 'lbd_kubernetes_watching{resource="services"}': 1},
                "the watch back in the metrics")
    healthz(10256, 200)

    # a reload moves /healthz to another port, then turns it off
    lbd.write_conf(node_conf(lab, api, cg, f"{NODE4}:10257"))
    lbd.reload()
    healthz(10257, 200)
    r = get(10256, "/healthz")
    check(r.get("errno") == errno.ECONNREFUSED, f"the old port: {r}")
    check(status()["node"]["healthz_address"] == f"{NODE4}:10257",
          status())
    lbd.write_conf(node_conf(lab, api, cg, ""))
    lbd.reload()
    wait_until(lambda: get(10257, "/healthz").get("errno") ==
               errno.ECONNREFUSED, 30, "/healthz off", interval=0.2)
    st = status()["node"]
    check(st["healthz_address"] == "off" and st["healthz_status"] == 0, st)
    text = lab.exec("lb1", [LBCTL, "-s", ctl, "status"]).stdout
    check("healthz       off" in text, text)
    metrics_are({"lbd_node_healthz_listening": 0}, "/healthz off")
    lbd.stop()


run(test)
