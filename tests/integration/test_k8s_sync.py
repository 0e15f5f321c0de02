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
"""
from k8stest import (FakeAPI, backends, endpoints, k8s_conf, lbctl, metric,
                     service, services, wait_backends)
from labtest import (BE4, Holder, Lab, Lbd, TestFailure, check, run, svc,
                     wait_until)

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
