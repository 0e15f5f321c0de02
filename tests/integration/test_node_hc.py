#!/usr/bin/env python3
"""lbd in role node (issue 17): the healthCheckNodePort of a
LoadBalancer Service with externalTrafficPolicy Local, answered by the
io process as kube-proxy answers it.

lbd runs in lb1 (the node), started inside the cgroup its socket
programs are attached to (so its io process is under the NodePort bind
guard); the fake API server allocates the health check port; the
client, outside the node, GETs it on the node's IPv4 and IPv6 addresses.

Checked: 200 with kube-proxy's headers and body (localEndpoints: the
endpoints on this node that are ready) while local endpoints are ready,
503 with 0 when they are terminating, 200 again when they come back; a
new io process (the old one killed) serves the port again; a port taken
by another process is logged once and the others are served; a Service
lbd refuses answers 503 with 0 and one without an external address yet
its local endpoints (kube-proxy serves both); a Service changed to
externalTrafficPolicy Cluster closes its port.
"""
import json
import os
import subprocess
import sys

from k8stest import FakeAPI
from labtest import LBCTL, Lab, Lbd, check, run, wait_until
from nodelab import cgroup_mount, cgroup_remove

NODE4, NODE6 = "198.18.0.10", "2001:db8::10"
NODE_PORT = 30081
BUSY_PORT = 31999  # a port another process of the node holds

# One GET from the client: {"status", "headers", "body"} or {"errno"}.
GET = r"""
import http.client, json, sys
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=5)
try:
    c.request("GET", "/any/path")
    r = c.getresponse()
    print(json.dumps({"status": r.status, "headers": dict(r.getheaders()),
                      "body": r.read().decode()}))
except OSError as e:
    print(json.dumps({"errno": e.errno, "error": str(e)}))
"""

HOLD = r"""
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen()
print("ready", flush=True)
time.sleep(3600)
"""


def service(name, policy="Local", hc_port=None, node_port=NODE_PORT):
    spec = {"type": "LoadBalancer", "clusterIP": "10.96.0.20",
            "clusterIPs": ["10.96.0.20"], "externalTrafficPolicy": policy,
            "ports": [{"name": "http", "port": 80, "protocol": "TCP",
                       "targetPort": 8080, "nodePort": node_port}]}
    if hc_port:
        spec["healthCheckNodePort"] = hc_port
    if name != "web":
        spec["clusterIP"] = spec["clusterIPs"][0] = "10.96.0.21"
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": spec,
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.20"
                                                     if name == "web" else
                                                     "203.0.113.21"}]}}}


def endpoints(service, ready):
    """Two endpoints on this node (lb1), one on another; the local ones
    ready, or serving and terminating (a rolling update's old pods)."""
    eps = [{"addresses": [a], "nodeName": node,
            "conditions": {"ready": ready or node != "lb1",
                           "serving": True,
                           "terminating": not ready and node == "lb1"}}
           for a, node in (("198.18.1.11", "lb1"), ("198.18.1.12", "lb1"),
                           ("198.18.1.13", "node-2"))]
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": f"{service}-1", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": eps}


def kube_proxy_body(name, n, healthy=True):
    """kube-proxy's answer, written out from its template."""
    return ('{\n\t"service": {\n\t\t"namespace": "shop",\n'
            f'\t\t"name": "{name}"\n\t}},\n\t"localEndpoints": {n},\n'
            f'\t"serviceProxyHealthy": {"true" if healthy else "false"}\n}}')


def node_conf(lab, api, cg):
    return f"""
role = "node";
node_role = {{ cgroup = "{cg}"; node_name = "lb1";
  addresses = ( "{NODE4}", "{NODE6}" ); max_services = 64;
  max_addresses = 256; max_endpoints = 256; reverse_entries = 4096;
  affinity_entries = 4096; pin_path = "{lab.pin_path('lb1')}/node"; }};
kubernetes = {{ kubeconfig = "{api.kubeconfig}"; }};
control = {{ socket = "{lab.path}/lb1.sock"; metrics_listen = "off"; }};
"""


def cleanup(cg, mnt):
    """Kills what is left in the cgroup (lbd too), removes it and the
    mount."""
    cgroup_remove(cg)
    subprocess.run(["umount", mnt])


def test():
    with Lab("nodehc", backends=1) as lab:
        mnt = cgroup_mount(lab)
        cg = os.path.join(mnt, f"lbd-test-{lab.prefix}")
        try:
            os.makedirs(cg, exist_ok=True)
            body(lab, cg)
        finally:
            cleanup(cg, mnt)


def body(lab, cg):
    def get(addr, port):
        r = lab.exec("client", [sys.executable, "-c", GET, addr, str(port)],
                     timeout=30)
        return json.loads(r.stdout)

    def answers(port, status, name, n, addrs=(NODE4, NODE6)):
        """Every address answers status with kube-proxy's body."""
        want = kube_proxy_body(name, n)

        def ok():
            return all(r.get("status") == status and r["body"] == want
                       for r in (get(a, port) for a in addrs))
        wait_until(ok, 30, f"port {port}: {status} with {n} local "
                   "endpoints", interval=0.2)

    holder = lab.spawn("lb1", [sys.executable, "-u", "-c", HOLD,
                               str(BUSY_PORT)],
                       log=os.path.join(lab.path, "holder.log"))
    wait_until(lambda: open(os.path.join(lab.path, "holder.log")).read()
               .startswith("ready"), 30, "the process holding a port")
    api = FakeAPI(lab)
    web = api.put(service("web"))["object"]
    port = web["spec"]["healthCheckNodePort"]
    check(30000 <= port <= 32767, f"allocated from the NodePort range: "
          f"{web['spec']}")
    api.put(endpoints("web", ready=True))
    api.put(service("busy", hc_port=BUSY_PORT, node_port=NODE_PORT + 1))
    api.put(endpoints("busy", ready=True))

    # lbd, and so its io process, inside the cgroup the bind guard is
    # attached to
    lbd = Lbd(lab, "lb1", node_conf(lab, api, cg))
    lbd.argv = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg,
                *lbd.argv]
    lbd.start()
    check(str(lbd.io_pid()) in open(os.path.join(cg, "cgroup.procs"))
          .read().split(), "the io process runs in the attached cgroup")

    answers(port, 200, "web", 2)
    r = get(NODE4, port)
    check(r["headers"].get("Content-Type") == "application/json" and
          r["headers"].get("X-Content-Type-Options") == "nosniff",
          f"kube-proxy's headers: {r['headers']}")
    # the NodePort is guarded in that cgroup all the while
    ctl = os.path.join(lab.path, "lb1.sock")
    svcs = json.loads(lab.exec("lb1", [LBCTL, "-s", ctl, "--json",
                                       "services"]).stdout)["services"]
    ext = [s for s in svcs if s["service"].startswith("shop/web") and
           s["scope"] == "external"]
    check(ext and all(s["health_check_node_port"] == port for s in ext),
          f"lbctl services shows the health check port: {ext}")
    text = lab.exec("lb1", [LBCTL, "-s", ctl, "services"]).stdout
    check(f"health check port {port}" in text, text)

    # the local endpoints terminate: 503, none counted; back: 200
    api.put(endpoints("web", ready=False))
    answers(port, 503, "web", 0)
    api.put(endpoints("web", ready=True))
    answers(port, 200, "web", 2)

    # a port another process holds: said once, the others served
    log = lbd.read_log()
    check(log.count(f"health check port {BUSY_PORT} of shop/busy") == 1,
          f"the taken port logged once:\n{log}")

    # a new io process gets the table again
    old = lbd.io_pid()
    os.kill(old, 9)
    wait_until(lambda: lbd.io_pid() not in (None, old), 30,
               "a new io process")
    answers(port, 200, "web", 2)

    # Services without an external record have their port too, as with
    # kube-proxy: one lbd refuses (its externalIP is the node's own
    # address) answers 503 with 0 whatever its endpoints; a LoadBalancer
    # Service its load balancer has not given an address yet, without
    # node ports, answers with its local endpoints
    refused = service("refused", node_port=NODE_PORT + 2)
    refused["spec"]["clusterIP"] = "10.96.0.22"
    refused["spec"]["clusterIPs"] = ["10.96.0.22"]
    refused["spec"]["externalIPs"] = [NODE4]
    refused_port = api.put(refused)["object"]["spec"]["healthCheckNodePort"]
    api.put(endpoints("refused", ready=True))
    pending = service("pending")
    pending["spec"]["clusterIP"] = "10.96.0.23"
    pending["spec"]["clusterIPs"] = ["10.96.0.23"]
    del pending["spec"]["ports"][0]["nodePort"]
    pending["status"] = {"loadBalancer": {}}
    pending_port = api.put(pending)["object"]["spec"]["healthCheckNodePort"]
    api.put(endpoints("pending", ready=True))
    answers(refused_port, 503, "refused", 0)
    answers(pending_port, 200, "pending", 2)
    check("Service shop/refused: spec.externalIPs 198.18.0.10 is an "
          "address of this node" in lbd.read_log(), lbd.read_log())

    # Cluster: no health check port; its listener closes
    api.put(service("web", policy="Cluster"))
    wait_until(lambda: all(get(a, port).get("errno") is not None
                           for a in (NODE4, NODE6)), 30,
               f"port {port} to close", interval=0.2)
    check(f"health check port {port} of shop/web: closed" in
          lbd.read_log(), lbd.read_log())
    lbd.stop()
    holder.kill()


run(test)
