#!/usr/bin/env python3
"""The cluster cannot take the LB host's addresses, and the API server
cannot take its memory (issue 14, items 1 and 2).

A Service with spec.loadBalancerIP set to the LB host's own address and
port 22 (a field any namespace's user writes) is refused, logged once,
counted and shown in lbctl status, while another Service keeps serving
and the LB host's own address stays reachable (a TCP service of the
host's own on it answers the client). Services on an unusable address
or outside kubernetes.vip_ranges are refused too.

An API server that answers a watch with an event that never ends, or a
list with a page that never ends, gets its request aborted at
kubernetes.max_watch_line_bytes / max_list_page_bytes: lbd's processes
stay far below what reading on would take (VmRSS from /proc, while the
server streams tens of megabytes a second), the services keep
forwarding, and lbctl status says why the sync fails.
"""
import os
import sys
import time

from k8stest import (VIP_RANGES, FakeAPI, endpoints, k8s_conf, lbctl,
                     metric, service, services, sock, wait_backends)
from labtest import (BE4, LBCTL, Lab, Lbd, TestFailure, check, run,
                     wait_until)

VIP = "203.0.113.60"
WEB = "default/web:http"
HOST = "198.18.0.10"  # lb1's own address (lab.sh)
HOST_PORT = 8022  # a TCP service of the LB host's own, on that address
B1 = BE4[0]
# the bounds of this test's lbd, small so that the flood crosses them
# within a second
MAX_OBJECT, MAX_LINE, MAX_PAGE = 256 << 10, 1 << 20, 4 << 20
# lbd's root process holds a few MB; reading on would grow it by what the
# server sends, tens of MB a second
RSS_LIMIT_KB = 80 << 10


def spread(lab, vip, n=30):
    r = lab.client("http", f"http://{vip}/", "-n", str(n))
    check(r["ok"] == n, f"{n} requests to {vip}: {r}")
    return dict(r["by_backend"])


def host_reachable(lab):
    """The client reaches the LB host's own TCP service on its address."""
    r = lab.exec("client", ["curl", "-sf", "--max-time", "2",
                            f"http://{HOST}:{HOST_PORT}/"], check=False)
    return r.returncode == 0


def rss_kb(pid):
    """VmRSS of pid and its descendants (lbd's children), in kB."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    total, todo = {}, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total[p] = int(line.split()[1])
        except OSError:
            continue
        todo.extend(children.get(p, []))
    return total


def refusals(lab):
    return lbctl(lab, "status")["kubernetes"]["refusals"]


def host_address(lab, api, lb):
    check(host_reachable(lab), "the LB host's service answers before")
    api.put(service("web", VIP))
    api.put(endpoints("web", "web-a", [B1]))
    wait_backends(lab, WEB, {f"{B1}:8080": "active"})

    # a Service on the LB host's own address, port 22
    api.put(service("ssh", HOST, ports=(("ssh", 22),), via_status=False))
    api.put(endpoints("ssh", "ssh-a", [B1], ports=(("ssh", 22),)))
    want = (f"Kubernetes Service default/ssh: {HOST}:22/tcp is an address "
            f"of the LB host: default/ssh:ssh refused")
    wait_until(lambda: want in lb.read_log(), 10, "the refusal logged")
    wait_until(lambda: metric(lab, "lbd_kubernetes_refusals_total",
                              {"reason": "host_address"}) == 1, 10,
               "the refusal counted")
    r = refusals(lab)
    check(r["refused"] == 1 and want in r["last"], f"status: {r}")
    check("default/ssh:ssh" not in services(lab), "ssh not served")
    check(host_reachable(lab), "the LB host's own address still answers")
    check(spread(lab, VIP) == {"backend1": 30}, "web keeps serving")

    # what no Service may have, and what is outside vip_ranges
    api.put(service("zero", "0.0.0.0"))
    api.put(service("mapped", "::ffff:203.0.113.61"))
    api.put(service("outside", "192.0.2.200"))
    for w in ("Service default/zero: VIP 0.0.0.0 is an unspecified "
              "address: not served",
              "Service default/mapped: VIP ::ffff:203.0.113.61 is an "
              "IPv4-mapped IPv6 address: not served",
              "Service default/outside: VIP 192.0.2.200 is outside "
              "kubernetes.vip_ranges: not served"):
        wait_until(lambda: w in lb.read_log(), 10, f"logged: {w}")
    # once each, however often the cluster changes
    api.put(endpoints("web", "web-a", [B1], ports=(("http", 8080),)))
    api.put(service("web", VIP))
    wait_until(lambda: metric(lab, "lbd_kubernetes_refused") == 4, 10,
               "four refusals in force")
    log = lb.read_log()
    check(log.count("Service default/zero: VIP 0.0.0.0") == 1 and
          log.count(want) == 1, "each refusal logged once")
    check(metric(lab, "lbd_kubernetes_refusals_total",
                 {"reason": "vip_address"}) == 2 and
          metric(lab, "lbd_kubernetes_refusals_total",
                 {"reason": "vip_range"}) == 1, "counted by reason")
    check(spread(lab, VIP) == {"backend1": 30}, "web still serves")
    for name in ("ssh", "zero", "mapped", "outside"):
        api.delete("Service", "default", name)
    wait_until(lambda: refusals(lab)["refused"] == 0, 10, "none in force")


def flood(lab, api, lb, what, resource, bound, start):
    """The API server floods (what); lbd aborts at bound, stays small,
    keeps serving; lbctl says why. start makes lbd send the request."""
    res_of = {r["resource"]: r
              for r in lbctl(lab, "status")["kubernetes"]["resources"]}
    too_large = res_of[resource]["too_large"]
    sent = api.stats()["flooded_bytes"]
    api.cmd(op="flood", resource=resource, what=what)
    start()

    def aborted():
        r = {x["resource"]: x for x in
             lbctl(lab, "status")["kubernetes"]["resources"]}[resource]
        return r["too_large"] > too_large and r
    r = wait_until(aborted, 20, f"{what} refused")
    check(f"(kubernetes.{bound})" in r["last_error"],
          f"the status says which bound: {r['last_error']}")
    # the server keeps flooding every retry; lbd stays small meanwhile
    peak, t_end = {}, time.monotonic() + 6
    while time.monotonic() < t_end:
        for pid, kb in rss_kb(lb.proc.pid).items():
            peak[pid] = max(peak.get(pid, 0), kb)
        check(spread(lab, VIP, 10) == {"backend1": 10},
              "web serves while the API server floods")
    flooded = api.stats()["flooded_bytes"] - sent
    print(f"{what}: {flooded >> 20} MB flooded, peak VmRSS "
          f"{ {p: f'{kb >> 10} MB' for p, kb in peak.items()} }")
    check(max(peak.values()) < RSS_LIMIT_KB,
          f"VmRSS stays under {RSS_LIMIT_KB >> 10} MB: {peak}")
    status = lbctl(lab, "status")["kubernetes"]
    check(status["synced"], "the sync state stays (the caches serve)")
    # the table says it too, while the resource fails
    text = lab.exec("lb1", [LBCTL, "-s", sock(lab), "status"]).stdout
    check(f"{resource}: " in text and f"(kubernetes.{bound})" in text,
          f"lbctl status:\n{text}")
    check(f"(kubernetes.{bound})" in lb.read_log(), "logged")
    api.cmd(op="flood", resource=resource, what=None)


def memory(lab, api, lb):
    def cut_watches():
        api.cmd(op="drop")

    def relist():
        # the API server restarts without the history lbd's watch
        # resumes from: 410 Gone, and lbd lists
        api.cmd(op="stop")
        api.put(service("elsewhere", "203.0.113.99", cls="example.com/x"))
        api.cmd(op="compact")
        api.cmd(op="start")

    flood(lab, api, lb, "list_page", "services", "max_list_page_bytes",
          relist)
    flood(lab, api, lb, "watch_line", "services", "max_watch_line_bytes",
          cut_watches)
    flood(lab, api, lb, "watch_object", "endpointslices", "max_object_bytes",
          cut_watches)
    # the server is sane again: lbd follows changes of both resources
    # (and so no longer fails)
    api.put(service("web", VIP, ports=(("http", 80), ("echo", 7))))
    api.put(endpoints("web", "web-a", [B1, BE4[1]]))
    wait_backends(lab, WEB, {f"{B1}:8080": "active",
                             f"{BE4[1]}:8080": "active"}, timeout=40)
    wait_until(lambda: "default/web:echo" in services(lab), 40,
               "the Service's change")
    text = lab.exec("lb1", [LBCTL, "-s", sock(lab), "status"]).stdout
    check("max_" not in text, f"no error once it syncs:\n{text}")


def test():
    with Lab("k8shostile", backends=2) as lab:
        lab.start_backends()
        # the LB host's own TCP service, on its edge address
        lab.spawn("lb1", [sys.executable, "-m", "http.server", "--bind",
                          HOST, str(HOST_PORT)],
                  log=os.path.join(lab.path, "host-http.log"))
        wait_until(lambda: host_reachable(lab), 10, "the host's service")
        api = FakeAPI(lab)
        ranges = VIP_RANGES + ("198.18.0.0/24",)  # the host's own too
        conf = lab.lb_conf("") + k8s_conf(
            lab, api.kubeconfig, vip_ranges=ranges,
            extra=f"max_object_bytes = {MAX_OBJECT}; "
                  f"max_watch_line_bytes = {MAX_LINE}; "
                  f"max_list_page_bytes = {MAX_PAGE};")
        lb = Lbd(lab, "lb1", conf).start()
        try:
            host_address(lab, api, lb)
            memory(lab, api, lb)
        except TestFailure:
            print(f"the lbd log:\n{lb.read_log()[-20000:]}")
            raise


if __name__ == "__main__":
    run(test)
