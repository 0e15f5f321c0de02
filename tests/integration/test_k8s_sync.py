#!/usr/bin/env python3
"""lbd follows a cluster's LoadBalancer Services and EndpointSlices (issue:
Kubernetes EndpointSlice sync), with real traffic after each change.

A Service of lbd's class is served on its status VIP with Geneve to its
endpoints' target ports; scaling up and down moves new flows; a rolling
update's terminating endpoint keeps its connections while draining and
gets no new ones; a Service changing class leaves lbd; a Service that
clashes with a configured one is refused with a log line and a metric
while the configured one keeps serving; lbctl services names each
service's source; kubernetes.health checks the cluster's backends
through the datapath, and one whose port is closed gets no new flows.

The client runs in its own child (issue 15, item 3): "lbd --child k8s",
lbd's child, as processes.user with no capability; the connections to the
API server are the child's sockets, none is lbd's. Killed with SIGKILL, it
is respawned; the cluster's services keep serving meanwhile, and once the
new child has synced the services are as they were. A kubeconfig whose
YAML does not parse is the child's problem, not the reload's: the reload
is taken, the error shows in lbctl status and the log, the cluster's
services keep serving, and once the file is fixed the client syncs again
(lbd --check, one-shot, still parses it and rejects it).
"""
import os
import pwd
import signal

from k8stest import (APISERVER, FakeAPI, backends, endpoints, k8s_conf,
                     lbctl, metric, service, services, wait_backends)
from labtest import (BE4, LBD, Holder, Lab, Lbd, TestFailure, check, run,
                     svc, wait_until)
from test_privsep import RESPAWN_BOUND, USER, children, cmdline, status

VIP = "203.0.113.40"  # the cluster's web Service
VIP_FILE = "203.0.113.10"  # a configured service
WEB = "default/web:http"
ECHO = "default/web:echo"
B1, B2, B3 = BE4[:3]


def spread(lab, vip, n=90):
    r = lab.client("http", f"http://{vip}/", "-n", str(n))
    check(r["ok"] == n, f"{n} requests to {vip}: {r}")
    return dict(r["by_backend"])


def test():
    with Lab("k8sync", backends=3) as lab:
        lab.start_backends()
        api = FakeAPI(lab)
        api.put(service("web", VIP, ports=(("http", 80), ("echo", 7))))
        api.put(endpoints("web", "web-a", [B1]))
        file_svc = lab.lb_conf(svc("file-web", VIP_FILE, 80, [(B1, 80)]))
        lb = Lbd(lab, "lb1",
                 file_svc + k8s_conf(lab, api.kubeconfig)).start()
        try:
            scenarios(lab, api, lb)
            k8s_child(lab, lb)
            kubeconfig_error(lab, api, lb)
            health(lab, api, lb, file_svc)
        except TestFailure:
            print(f"the lbd log:\n{lb.read_log()}")
            raise


def scenarios(lab, api, lb):
    if True:

        # synced: the Service is there with its source, next to the file's
        wait_backends(lab, WEB, {f"{B1}:8080": "active"})
        s = services(lab)
        check(s[WEB]["source"] == "kubernetes default/web" and
              s[WEB]["vip"] == VIP and s[WEB]["port"] == 80 and
              s[WEB]["forwarding"] == "geneve", f"the Service: {s[WEB]}")
        check(s["file-web"]["source"].startswith(lb.conf + ":"),
              f"the configured service's source: {s['file-web']}")
        check(spread(lab, VIP, 30) == {"backend1": 30}, "one endpoint")
        # the metrics are a snapshot at most a second old
        wait_until(lambda: metric(lab, "lbd_kubernetes_synced") == 1, 10,
                   "synced metric")

        # scale up: three endpoints share new flows
        api.put(endpoints("web", "web-a", [B1, B2]))
        api.put(endpoints("web", "web-b", [B3]))
        wait_backends(lab, WEB, {f"{B1}:8080": "active",
                                 f"{B2}:8080": "active",
                                 f"{B3}:8080": "active"})
        by = spread(lab, VIP)
        check(set(by) == {"backend1", "backend2", "backend3"},
              f"scaled up to three: {by}")

        # a rolling update: backend1's pod terminates; its connections
        # stay, new ones go to the others
        hold = Holder(lab, VIP, 7)
        check(hold.open(30)["opened"] == 30, "30 echo connections")
        before = hold.ping()
        check("backend1" in before, f"some on backend1: {before}")
        api.put(endpoints("web", "web-a", [B1, B2], terminating=[B1]))
        wait_backends(lab, ECHO, {f"{B1}:7007": "draining",
                                  f"{B2}:7007": "active",
                                  f"{B3}:7007": "active"})
        check(hold.ping() == before,
              "connections kept their backends while backend1 drains")
        by = spread(lab, VIP)
        check("backend1" not in by and sum(by.values()) == 90,
              f"no new flows to the draining endpoint: {by}")
        # the pod is gone: the others serve everything
        api.put(endpoints("web", "web-a", [B2]))
        wait_backends(lab, WEB, {f"{B2}:8080": "active",
                                 f"{B3}:8080": "active"})

        # scale down to one
        api.delete("EndpointSlice", "default", "web-b")
        wait_backends(lab, WEB, {f"{B2}:8080": "active"})
        check(spread(lab, VIP, 30) == {"backend2": 30}, "scaled down")

        # a Service that clashes with the configured one is refused; the
        # configured one keeps serving
        api.put(service("clash", VIP_FILE))
        api.put(endpoints("clash", "clash-a", [B3]))
        want = ("Kubernetes Service default/clash: 203.0.113.10:80/tcp is "
                "served by file-web")
        wait_until(lambda: want in lb.read_log(), 10, "the clash logged")
        wait_until(lambda: metric(
            lab, "lbd_service_clashes_refused_total") == 1, 10,
            "the refusal counted")
        check("default/clash:http" not in services(lab), "clash not served")
        check(spread(lab, VIP_FILE, 30) == {"backend1": 30},
              "the configured service keeps its VIP")

        # changing class: the Service leaves lbd, its VIP goes
        api.put(service("web", VIP, ports=(("http", 80), ("echo", 7)),
                        cls="example.com/other"))
        wait_until(lambda: WEB not in services(lab), 10, "web removed")
        r = lab.client("http", f"http://{VIP}/", "-n", "3", "--timeout",
                       "1")
        check(r["ok"] == 0, f"nothing answers on the VIP any more: {r}")
        # and back, on spec.loadBalancerIP this time
        api.put(service("web", VIP, ports=(("http", 80), ("echo", 7)),
                        via_status=False))
        wait_backends(lab, WEB, {f"{B2}:8080": "active"})
        check(spread(lab, VIP, 30) == {"backend2": 30}, "served again")
        check(lbctl(lab, "status")["kubernetes"]["synced"], "status")


def socket_inodes(pid):
    """The inodes of pid's sockets."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if link.startswith("socket:["):
            out.add(int(link[8:-1]))
    return out


def api_connections(pid):
    """The inodes of the established TCP connections to the API server in
    pid's network namespace (/proc/PID/net/tcp: addresses as hex in host
    order, little-endian here)."""
    host, port = APISERVER.split(":")
    want = "".join(f"{int(b):02X}" for b in reversed(host.split("."))) + \
        f":{int(port):04X}"
    out = set()
    with open(f"/proc/{pid}/net/tcp") as f:
        next(f)
        for line in f:
            x = line.split()
            if x[2] == want and x[3] == "01":  # rem_address, ESTABLISHED
                out.add(int(x[9]))
    return out


def served_state(lab):
    """The services and their backends, without traffic counters."""
    out = {}
    for name, s in services(lab).items():
        s = dict(s)
        s.pop("traffic", None)
        s["backend_states"] = backends(lab, name)
        out[name] = s
    return out


def k8s_child_of(lb):
    """The pid of lbd's Kubernetes child, None while there is none."""
    return children(lb.proc.pid).get("lbd-k8s")


def check_k8s_child(lb, pid):
    """pid is lbd's child "lbd --child k8s", as processes.user with no
    capability, and it, not lbd, holds the connections to the API
    server."""
    argv = cmdline(pid)
    check(argv[1:3] == ["--child", "k8s"], f"its command line: {argv}")
    st = status(pid)
    check(int(st["PPid"]) == lb.proc.pid, f"its parent: {st['PPid']}")
    uid = str(pwd.getpwnam(USER).pw_uid)
    check(st["Uid"].split() == [uid] * 4, f"its uids: {st['Uid']}")
    for k in ("CapEff", "CapPrm", "CapAmb"):
        check(st[k] == "0000000000000000", f"its {k}: {st[k]}")
    conns = wait_until(lambda: api_connections(pid), 10,
                       "a connection to the API server")
    mine = conns & socket_inodes(pid)
    check(mine, f"the connections to the API server {conns} are not the "
          f"child's (pid {pid}: {socket_inodes(pid)})")
    theirs = conns & socket_inodes(lb.proc.pid)
    check(not theirs, f"lbd itself holds connections to the API server: "
          f"{theirs}")


def k8s_child(lab, lb):
    pid = wait_until(lambda: k8s_child_of(lb), 10, "the Kubernetes child")
    check_k8s_child(lb, pid)
    before = served_state(lab)
    served = spread(lab, VIP, 30)

    # killed: the services it gave keep serving while it is down and
    # while its successor lists the cluster again
    os.kill(pid, signal.SIGKILL)
    check(spread(lab, VIP, 30) == served,
          "the cluster's services serve while the child is gone")
    new = wait_until(lambda: (lambda p: p if p and p != pid else None)(
        k8s_child_of(lb)), RESPAWN_BOUND, "a new Kubernetes child",
        strict=True)
    # synced is the new child's: it turns true with its first set
    wait_until(lambda: lbctl(lab, "status")["kubernetes"]["synced"], 10,
               "the new child's first sync")
    check(spread(lab, VIP, 30) == served, "served after the resync")
    after = served_state(lab)
    check(after == before,
          f"the services after the resync: {after}, were {before}")
    check(k8s_child_of(lb) == new, "one respawn")
    check_k8s_child(lb, new)
    check(f"the k8s process (pid {pid}) was killed by signal 9"
          in lb.read_log(), "the child's death logged")


def kubeconfig_error(lab, api, lb):
    with open(api.kubeconfig) as f:
        good = f.read()
    before = served_state(lab)
    served = spread(lab, VIP, 30)
    try:
        with open(api.kubeconfig, "w") as f:
            f.write(good + "\nusers: [unclosed\n")
        lb.reload()
        st = lbctl(lab, "status")
        check(st["config"]["last_reload"]["ok"],
              f"the reload taken: {st['config']['last_reload']}")
        err = wait_until(lambda: lbctl(lab, "status")["kubernetes"]["error"],
                         10, "the kubeconfig's error in lbctl status")
        check(api.kubeconfig in err, f"the error names the file: {err}")
        check(err in lb.read_log(), f"the error logged: {err}")
        check(spread(lab, VIP, 30) == served,
              "the cluster's services serve while the kubeconfig is broken")
        r = lab.exec("lb1", [LBD, "--check", "-c", lb.conf], check=False)
        check(r.returncode != 0 and api.kubeconfig in r.stderr,
              f"lbd --check rejects it: {r.returncode} {r.stderr!r}")
    finally:
        with open(api.kubeconfig, "w") as f:
            f.write(good)
    lb.reload()
    wait_until(lambda: (lambda k: k["synced"] and not k["error"])(
        lbctl(lab, "status")["kubernetes"]), 10, "synced again")
    after = served_state(lab)
    check(after == before,
          f"the services once it is fixed: {after}, were {before}")


def health(lab, api, lb, file_svc):
    # an endpoint on a port where nothing listens: active until checked
    api.put(endpoints("web", "web-c", [B3],
                      ports=(("http", 9999), ("echo", 9998))))
    wait_backends(lab, WEB, {f"{B2}:8080": "active", f"{B3}:9999": "active"})
    lb.write_conf(file_svc + k8s_conf(
        lab, api.kubeconfig,
        extra='health = { interval = 0.3; timeout = 0.2; rise = 1; '
              'fall = 1; };'))
    lb.reload()
    checked = {f"{B2}:8080": "up", f"{B3}:9999": "down"}
    wait_until(lambda: {b["backend"]: b["health"]
                        for b in lbctl(lab, "backends", WEB)["backends"]}
               == checked, 10, f"{WEB} health {checked}")
    b3 = [b for b in lbctl(lab, "backends", WEB)["backends"]
          if b["backend"] == f"{B3}:9999"][0]
    check(b3["health_check"]["via"] == "datapath", f"checked how: {b3}")
    check(spread(lab, VIP, 30) == {"backend2": 30},
          "no new flows to the endpoint that is down")


if __name__ == "__main__":
    run(test)
