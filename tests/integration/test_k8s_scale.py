#!/usr/bin/env python3
"""A cluster of 5,000 LoadBalancer Services (issue: Kubernetes
EndpointSlice sync): listed in pages, synced in applies of at most 500
new services (the loop and the watchdog run in between), and a relist
that finds nothing new changes nothing in the datapath.

200 of the Services have endpoints (4 each), the others wait for theirs
(served with no_backend = reject): every Maglev table costs the kernel an
RCU grace period when it is put into the map-in-map (tens of ms on this
machine), which the benchmark (lbd-bench-k8s) measures for 5,000 x 20.
Checked through lbctl and the metrics; the traffic tests are
test_k8s_sync.py and test_k8s_resilience.py.
"""
import re

from k8stest import CLASS, FakeAPI, k8s_conf, lbctl, metric, service
from labtest import Lab, Lbd, TestFailure, check, run, wait_until

N, M, E = 5000, 4, 200  # Services, endpoints each, with endpoints


def scenarios(lab, api, lb):
    wait_until(lambda: "kubernetes: synced in" in lb.read_log(), 60,
               "the sync of 5,000 Services")
    log = lb.read_log()
    # the metrics are a snapshot at most a second old
    wait_until(lambda: metric(lab, "lbd_kubernetes_services") == N, 10,
               "every Service is in the datapath")
    st = lbctl(lab, "status")
    check(st["services"] == N and st["backends"] == E * M,
          f"lbctl status: {st['services']} services, {st['backends']} "
          "backends")
    applies = [int(a) for a in re.findall(r"applied: services \+(\d+)",
                                          log)]
    check(sum(applies) == N and max(applies) <= 500,
          f"synced in applies of at most 500 new services: {applies}")
    check(api.stats()["lists"]["services"] == N // 500,
          "listed in pages of 500")
    print(re.search(r"kubernetes: synced in .*", log).group(0))

    # a relist that finds what lbd has: nothing is written. The API
    # server is away while the history moves past lbd's resourceVersion
    # (a Service of another class is all that changes)
    mark = len(lb.read_log())
    api.cmd(op="stop")
    api.put(service("elsewhere", "203.0.113.99", cls="example.com/other"))
    api.cmd(op="compact")
    api.cmd(op="start")
    wait_until(lambda: lb.read_log().count("listed again", mark) >= 2,
               60, "both resources listed again")
    wait_until(lambda: metric(lab, "lbd_kubernetes_watching",
                              {"resource": "endpointslices"}) == 1 and
               metric(lab, "lbd_kubernetes_watching",
                      {"resource": "services"}) == 1, 30,
               "watching again")
    after = lb.read_log()[mark:]
    check(not re.search(r"lbd: [-+~] (service|backend|vip) ", after) and
          "applied:" not in after,
          f"the relist changed the datapath:\n{after[:2000]}")


def test():
    with Lab("k8scale", backends=1) as lab:
        api = FakeAPI(lab)
        api.cmd(op="generate", services=N, endpoints=M, with_endpoints=E,
                **{"class": CLASS})
        conf = lab.lb_conf("", extra="max_services = 8192; max_vips = 8192; "
                                      "max_backends = 32768; "
                                      "maglev_table_size = 251;")
        conf = conf.replace("maglev_table_size = 1021;", "")
        conf = conf.replace("max_services = 1024;", "")
        conf = conf.replace("max_backends = 8192;", "")
        lb = Lbd(lab, "lb1", conf + k8s_conf(lab, api.kubeconfig)).start()
        try:
            scenarios(lab, api, lb)
        except TestFailure:
            print(f"the lbd log (end):\n{lb.read_log()[-5000:]}")
            raise


if __name__ == "__main__":
    run(test)
