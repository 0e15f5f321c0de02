#!/usr/bin/env python3
"""lbd and an API server that goes away (issue: Kubernetes EndpointSlice
sync), with a kubeconfig of a token file and a CA file.

While the API server is down the synced services keep serving; when it
comes back the watch resumes from its resourceVersion (no new list) and
what changed meanwhile is applied. When the history is gone by then (410
Gone), lbd lists again and applies only the difference. A restarted lbd
keeps the cluster's services (adopted from the maps) until it has synced,
and the sync writes nothing that is already there.
"""
import re

from k8stest import (FakeAPI, endpoints, k8s_conf, metric, service,
                     services, wait_backends)
from labtest import BE4, Lab, Lbd, TestFailure, check, run, wait_until

VIP, VIP2 = "203.0.113.50", "203.0.113.51"
WEB, NEW = "default/web:http", "default/new:http"
B1, B2 = BE4[:2]


def spread(lab, vip, n=30):
    r = lab.client("http", f"http://{vip}/", "-n", str(n))
    check(r["ok"] == n, f"{n} requests to {vip}: {r}")
    return dict(r["by_backend"])


def log_since(lb, mark):
    return lb.read_log()[mark:]


def scenarios(lab, api, lb):
    wait_backends(lab, WEB, {f"{B1}:8080": "active"})
    check(spread(lab, VIP) == {"backend1": 30}, "served")
    lists = api.stats()["lists"]

    # the API server goes away: the services keep serving, lbd retries
    api.cmd(op="stop")
    wait_until(lambda: metric(lab, "lbd_kubernetes_watching",
                              {"resource": "services"}) == 0, 10,
               "lbd sees the watch gone")
    check(spread(lab, VIP) == {"backend1": 30}, "served while it is down")
    # meanwhile the cluster scales up; the API server comes back
    api.put(endpoints("web", "web-a", [B1, B2]))
    api.cmd(op="start")
    wait_backends(lab, WEB, {f"{B1}:8080": "active", f"{B2}:8080": "active"},
                  timeout=40)
    check(api.stats()["lists"] == lists,
          "the watch resumed from its resourceVersion, without a list")
    check(set(spread(lab, VIP, 60)) == {"backend1", "backend2"},
          "the new endpoint serves")
    # the metrics are a snapshot at most a second old
    wait_until(lambda: (metric(lab, "lbd_kubernetes_watch_restarts_total",
                               {"resource": "endpointslices"}) or 0) >= 1,
               10, "restart counted")

    # down again, for longer than the history: 410 Gone, a new list,
    # and only the difference applied
    mark = len(lb.read_log())
    api.cmd(op="stop")
    api.put(endpoints("web", "web-a", [B2]))
    api.put(service("new", VIP2))
    api.put(endpoints("new", "new-a", [B1]))
    api.cmd(op="compact")
    api.cmd(op="start")
    wait_backends(lab, NEW, {f"{B1}:8080": "active"}, timeout=40)
    wait_backends(lab, WEB, {f"{B2}:8080": "active"})
    log = log_since(lb, mark)
    check("is gone (410): listing again" in log, f"410 handled:\n{log}")
    wait_until(lambda: (metric(lab, "lbd_kubernetes_gone_total",
                               {"resource": "services"}) or 0) >= 1,
               10, "410 counted")
    # the two resources' watches find their history gone each in its own
    # time: the new Service may come in one apply with its endpoints, or
    # first with none and then its backend
    changes = [re.sub(r", [01] backends$", "", l)
               for l in log.splitlines()
               if re.match(r"lbd: [-+~] (service|backend|vip) ", l)]
    want = {f"lbd: - backend {WEB} {B1}:8080",
            f"lbd: - backend default/web:echo {B1}:7007",
            f"lbd: + service {NEW} {VIP2}:80/tcp geneve",
            f"lbd: + backend {NEW} {B1}:8080 weight 1 active",
            f"lbd: + vip {VIP2} icmp_echo on"}
    check(set(changes) == want,
          "the relist applied exactly the difference:\n" +
          "\n".join(changes))
    check(spread(lab, VIP) == {"backend2": 30}, "web follows")
    check(spread(lab, VIP2) == {"backend1": 30}, "new is served")

    # lbd restarts: it keeps the cluster's services until the sync,
    # which then finds nothing to change
    lb.kill9()
    check(spread(lab, VIP2) == {"backend1": 30}, "served without lbd")
    lb.start()
    wait_until(lambda: "kubernetes: synced in" in lb.read_log(), 20,
               "the sync after the restart")
    log = lb.read_log()
    start = log[log.index("adopted the datapath"):]
    check(not re.search(r"lbd: [-+~] (service|backend|vip) ", start),
          f"the restart changed the datapath:\n{start}")
    s = services(lab)
    check(s[NEW]["source"] == "kubernetes default/new",
          f"named by the sync again: {s[NEW]}")
    check(spread(lab, VIP2) == {"backend1": 30}, "served after")


def test():
    with Lab("k8res", backends=2) as lab:
        lab.start_backends()
        api = FakeAPI(lab, auth="token")
        api.put(service("web", VIP, ports=(("http", 80), ("echo", 7))))
        api.put(endpoints("web", "web-a", [B1]))
        lb = Lbd(lab, "lb1", lab.lb_conf("") + k8s_conf(
            lab, api.kubeconfig)).start()
        try:
            scenarios(lab, api, lb)
        except TestFailure:
            print(f"the lbd log:\n{lb.read_log()}")
            raise


if __name__ == "__main__":
    run(test)
