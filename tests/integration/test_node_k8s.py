#!/usr/bin/env python3
"""lbd in role node (issue 17): the Kubernetes client in the k8s child,
and topology hints.

lbd runs in lb1 with its socket programs on a cgroup made for this test
(no process in it: what is checked here is what lbd and its child do)
and the fake API server's cluster; node_role.zone is zone-a.

Checked:
- the k8s child ("lbd --child k8s") runs as user lbd with no
  capability, and holds the connections to the API server; the
  privileged process holds none (no socket of lbd's own pid whose peer
  is the API server's port, while the child's are there);
- the records it sends are applied: lbctl services lists the Service
  port with the endpoints the topology hints give zone-a ("zone_hints");
- a child that sends a malformed node set is killed and another started;
  the last set stays applied meanwhile, and the new child's sets are
  applied (a new slice reaches lbctl services);
- a reload that changes the zone reaches the child (START): the hints
  name no endpoint of zone-c, so they are ignored and both endpoints
  serve.
"""
import ctypes
import json
import os
import pwd
import re
import subprocess
import sys

from k8stest import APISERVER, FakeAPI
from labtest import LBCTL, Lab, Lbd, TestFailure, check, run, wait_until
from nodelab import cgroup_mount

USER = "lbd"
CLUSTER_IP = "10.96.0.20"
API_PORT = int(APISERVER.rsplit(":", 1)[1])
EP = {"zone-a": "198.18.1.11", "zone-b": "198.18.1.12"}
SYS_PIDFD_GETFD = 438
LBD_MSG_K8S_NODE_SET = 23
# a respawn is 100 ms after the death (backoff); bounded well above
BOUND = 15


def service():
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": "zoned", "namespace": "default"},
            "spec": {"type": "ClusterIP", "clusterIP": CLUSTER_IP,
                     "clusterIPs": [CLUSTER_IP],
                     "ports": [{"name": "http", "port": 80,
                                "protocol": "TCP", "targetPort": 8080}]}}


def zoned_slice(zones):
    """A slice with an endpoint in each of zones (EP), each hinted for
    its own zone."""
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": "zoned-1", "namespace": "default",
                         "labels": {"kubernetes.io/service-name":
                                    "zoned"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [EP[z]], "nodeName": "lb1",
                           "conditions": {"ready": True},
                           "hints": {"forZones": [{"name": z}]}}
                          for z in zones]}


def node_conf(lab, api, cg, zone):
    return f"""
role = "node";
node_role = {{ cgroup = "{cg}"; node_name = "lb1"; zone = "{zone}";
  addresses = ( "198.18.0.10" ); max_services = 16; max_addresses = 64;
  max_endpoints = 64; reverse_entries = 4096; affinity_entries = 4096;
  pin_path = "{lab.pin_path('lb1')}/node"; }};
kubernetes = {{ kubeconfig = "{api.kubeconfig}"; }};
control = {{ socket = "{lab.path}/lb1.sock"; metrics_listen = "off"; }};
"""


def children(pid):
    """{comm: pid} of pid's children."""
    out = {}
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        for c in f.read().split():
            try:
                with open(f"/proc/{c}/comm") as g:
                    out[g.read().strip()] = int(c)
            except FileNotFoundError:
                pass
    return out


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f
                    if ":\t" in line)


def socket_inodes(pid):
    """The inodes of pid's sockets."""
    out = set()
    d = f"/proc/{pid}/fd"
    for fd in os.listdir(d):
        try:
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(f"{d}/{fd}"))
        except FileNotFoundError:
            continue
        if m:
            out.add(int(m.group(1)))
    return out


def api_socket_inodes(pid):
    """The inodes of the TCP sockets (any state) in pid's network
    namespace whose peer port is the API server's."""
    out = set()
    for name in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{name}") as f:
            next(f)
            for line in f:
                fields = line.split()
                if int(fields[2].split(":")[1], 16) == API_PORT:
                    out.add(int(fields[9]))
    return out


def inject(pid, data):
    """Writes data into fd 3 of pid (its channel to lbd) as the child
    would: the fd is taken with pidfd_getfd(2)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, 3, 0)
        if fd < 0:
            raise TestFailure("pidfd_getfd: "
                              + os.strerror(ctypes.get_errno()))
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    finally:
        os.close(pidfd)


def test():
    with Lab("nodek8s", backends=1) as lab:
        mnt = cgroup_mount(lab)
        cg = os.path.join(mnt, f"lbd-test-{lab.prefix}")
        try:
            os.makedirs(cg, exist_ok=True)
            body(lab, cg)
        finally:
            # lbd is stopped by the lab; the cgroup has no process
            try:
                if os.path.isdir(cg):
                    os.rmdir(cg)
            except OSError as e:
                print(f"removing {cg}: {e}", file=sys.stderr)
            subprocess.run(["umount", mnt])


def body(lab, cg):
    api = FakeAPI(lab)
    api.put(service())
    api.put(zoned_slice(["zone-a", "zone-b"]))
    lbd = Lbd(lab, "lb1", node_conf(lab, api, cg, "zone-a")).start()
    ctl = os.path.join(lab.path, "lb1.sock")

    def lbctl(*args):
        r = lab.exec("lb1", [LBCTL, "-s", ctl, "--json", *args])
        return json.loads(r.stdout)

    def record():
        """The Service port's internal record, as lbctl services says
        it (None before it is there)."""
        for e in lbctl("services")["services"]:
            if e["service"] == "default/zoned" and e["scope"] == "internal":
                return e
        return None

    def endpoints_are(want, hints):
        def ok():
            r = record()
            return (r is not None and r["applied"] and
                    r["zone_hints"] == hints and
                    sorted(e["endpoint"] for e in r["endpoints"]) ==
                    sorted(f"{EP[z]}:8080" for z in want))
        wait_until(ok, BOUND, f"endpoints {want}, zone hints {hints}: "
                   f"{record()}")

    # the hints give zone-a its own endpoint
    endpoints_are(["zone-a"], True)
    st = lbctl("status")["kubernetes"]
    check(st["synced"] and st["server"] == f"https://{APISERVER}",
          f"lbctl status: the child's state: {st}")

    # the child: lbd itself as user lbd, no capability
    kids = children(lbd.proc.pid)
    check("lbd-k8s" in kids, f"lbd's children: {kids}")
    k8s = kids["lbd-k8s"]
    pw = pwd.getpwnam(USER)
    s = status(k8s)
    check(s["Uid"].split() == [str(pw.pw_uid)] * 4 and
          s["Gid"].split() == [str(pw.pw_gid)] * 4,
          f"the k8s child's uids {s['Uid']} and gids {s['Gid']}")
    for k in ("CapEff", "CapPrm", "CapAmb", "CapInh"):
        check(int(s[k], 16) == 0, f"the k8s child's {k}: {s[k]}")
    check(s["NoNewPrivs"].strip() == "1", "the k8s child: no_new_privs")
    with open(f"/proc/{k8s}/cmdline", "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    check(argv[:3] == ["lbd", "--child", "k8s"], f"its argv {argv}")

    # the connections to the API server are the child's, none lbd's
    api_socks = api_socket_inodes(lbd.proc.pid)
    mine = socket_inodes(lbd.proc.pid) & api_socks
    theirs = socket_inodes(k8s) & api_socks
    check(not mine, f"lbd's own sockets to the API server: {mine}")
    check(theirs, f"the child's sockets to the API server: none of "
          f"{api_socks}")

    # a malformed node set: a header and 4 bytes its counts do not
    # name; lbd kills the child and starts another
    bad = (LBD_MSG_K8S_NODE_SET.to_bytes(2, "little")
           + (3).to_bytes(2, "little") + (32).to_bytes(4, "little")
           + bytes(32))
    inject(k8s, bad)

    def new_child():
        pid = children(lbd.proc.pid).get("lbd-k8s")
        return pid if pid and pid != k8s else None
    wait_until(new_child, BOUND, "a new k8s child", strict=True)
    log = lbd.read_log()
    check(f"the client (pid {k8s}) sent node set: 32 bytes for 28: "
          "restarting it" in log, f"the cause logged:\n{log[-2000:]}")
    check(lbd.proc.poll() is None, "lbd still runs")
    # the last set stays applied while the new child syncs
    r = record()
    check(r is not None and r["applied"] and
          [e["endpoint"] for e in r["endpoints"]] == [f"{EP['zone-a']}:8080"],
          f"the last set kept: {r}")
    # and the new child's sets are applied
    slice2 = zoned_slice(["zone-a", "zone-b"])
    slice2["endpoints"].append({"addresses": ["198.18.1.13"],
                                "nodeName": "lb1",
                                "conditions": {"ready": True},
                                "hints": {"forZones": [{"name": "zone-a"}]}})
    api.put(slice2)
    EP["zone-a2"] = "198.18.1.13"
    endpoints_are(["zone-a", "zone-a2"], True)

    # a reload to zone-c: no endpoint is hinted for it, hints ignored
    lbd.write_conf(node_conf(lab, api, cg, "zone-c"))
    lbd.reload()
    endpoints_are(["zone-a", "zone-b", "zone-a2"], False)


if __name__ == "__main__":
    run(test)
