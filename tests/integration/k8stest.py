"""What the Kubernetes integration tests share: the fake API server
(tests/k8s/fakeapi.py) in the lab's router namespace, objects to give it,
and lbd's view through lbctl and the metrics."""
import json
import os
import subprocess
import sys

from labtest import LBCTL, SOURCE, TestFailure, check, wait_until

FAKEAPI = os.path.join(SOURCE, "tests", "k8s", "fakeapi.py")
sys.path.insert(0, os.path.dirname(FAKEAPI))
from fakeapi import slice_of  # noqa: E402

APISERVER = "198.18.0.1:6443"  # the router, on the LB segment
CLASS = "lbd.io/lb"


class FakeAPI:
    """The API server, driven on its stdin; stopped with the lab."""

    def __init__(self, lab, auth="cert"):
        self.dir = os.path.join(lab.path, "k8s")
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", lab.ns("router"), sys.executable,
             FAKEAPI, "--dir", self.dir, "--listen", APISERVER,
             "--make-certs"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        lab.procs.append(self.p)
        line = self.p.stdout.readline()
        if not line:
            raise TestFailure("the fake API server did not start")
        self.kubeconfig = os.path.join(self.dir, f"kubeconfig-{auth}")

    def cmd(self, **c):
        self.p.stdin.write(json.dumps(c) + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out:
            raise TestFailure(f"the fake API server died on {c['op']}")
        r = json.loads(out)
        check(r.get("ok"), f"fake API server: {c['op']}: {r}")
        return r

    def put(self, obj):
        return self.cmd(op="put", object=obj)

    def delete(self, kind, ns, name):
        return self.cmd(op="delete", kind=kind, namespace=ns, name=name)

    def stats(self):
        return self.cmd(op="stats")


def service(name, vip, ports=(("http", 80),), ns="default", cls=CLASS,
            via_status=True):
    """A LoadBalancer Service; its VIP in the status (as a controller
    writes it) or in spec.loadBalancerIP."""
    s = {"kind": "Service", "apiVersion": "v1",
         "metadata": {"name": name, "namespace": ns},
         "spec": {"type": "LoadBalancer", "loadBalancerClass": cls,
                  "ports": [{"name": n, "port": p, "protocol": "TCP"}
                            for n, p in ports]},
         "status": {"loadBalancer": {}}}
    if via_status:
        s["status"]["loadBalancer"]["ingress"] = [{"ip": vip}]
    else:
        s["spec"]["loadBalancerIP"] = vip
    return s


def endpoints(service_name, name, addrs, terminating=(), ns="default",
              ports=(("http", 8080), ("echo", 7007))):
    """An EndpointSlice of the Service with the lab's backend ports."""
    s = slice_of(ns, service_name, name, list(addrs),
                 terminating=terminating)
    s["ports"] = [{"name": n, "port": p, "protocol": "TCP"}
                  for n, p in ports]
    return s


# where the tests' Services have their VIPs: the lab's VIP prefixes and
# the range of generated Services (fakeapi.py generate)
VIP_RANGES = ("203.0.113.0/24", "2001:db8:f::/64", "198.18.128.0/17")


def k8s_conf(lab, kubeconfig, fwd="geneve", extra="", vip_ranges=VIP_RANGES):
    """The kubernetes group (extra: more of its settings), and a control
    socket of the lab's own."""
    ranges = ", ".join(f'"{r}"' for r in vip_ranges)
    return f"""
control = {{ socket = "{sock(lab)}"; }};
kubernetes = {{
  kubeconfig = "{kubeconfig}";
  load_balancer_class = "{CLASS}";
  forwarding = "{fwd}";
  vip_ranges = ( {ranges} );
  {extra}
}};
"""


def sock(lab):
    return os.path.join(lab.path, "lb1.sock")


def lbctl(lab, *args):
    r = lab.exec("lb1", [LBCTL, "-s", sock(lab), "--json", *args])
    return json.loads(r.stdout)


def services(lab):
    """lbctl services, by name."""
    return {s["name"]: s for s in lbctl(lab, "services")["services"]}


def backends(lab, service_name):
    """The backends of a service, {address:port: state}."""
    out = lbctl(lab, "backends", service_name)["backends"]
    return {b["backend"]: b["state"] for b in out}


def wait_backends(lab, service_name, want, timeout=10):
    """Waits until the service's backends are want ({addr:port:
    state})."""
    def same():
        try:
            return backends(lab, service_name) == want
        except TestFailure:
            return False
    try:
        wait_until(same, timeout, f"{service_name} backends {want}")
    except TestFailure:
        raise TestFailure(f"{service_name}: backends "
                          f"{backends(lab, service_name)}, want {want}")


def metric(lab, name, labels=None):
    """A sample of lbd's Prometheus metrics, read through the io
    process's endpoint."""
    r = lab.exec("lb1", ["curl", "-sf", "http://127.0.0.1:9470/metrics"])
    want = name
    if labels:
        want += "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in r.stdout.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return None
