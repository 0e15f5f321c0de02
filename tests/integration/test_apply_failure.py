#!/usr/bin/env python3
"""A reload whose map write fails part way (issue 14, item 13).

The VIP map is filled to its size from outside (bpftool), so that the
reload's last write, the new VIP, fails with E2BIG after the new
service's backends, table and entry are in. The reload fails, every
write it made is rolled back: the maps hold exactly what they held
before, the old service keeps answering, and lbctl status and the
metrics say the last apply failed and the datapath serves the state
before it. Once there is room, the same reload applies whole.
"""
import json
import os
import sys

from labtest import (BE4, LBCTL, Lab, Lbd, TestFailure, check, run, svc,
                     wait_until)

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

VIP, VIP_NEW = "203.0.113.10", "203.0.113.11"
METRICS = "127.0.0.1:9471"
MAX_VIPS = 4
# not addresses of the lab: keys that fill the VIP map
FILLERS = ["203.0.113.201", "203.0.113.202", "203.0.113.203"]


def services(new=False):
    out = [svc("web", VIP, 80, [(a, 80) for a in BE4[:2]])]
    if new:
        out.append(svc("new", VIP_NEW, 80, [(BE4[0], 8080)],
                       fwd="geneve"))
    return ",\n".join(out)


def conf(lab, sock, new=False):
    return lab.lb_conf(services(new), extra=f"max_vips = {MAX_VIPS};") + (
        f'control = {{ socket = "{sock}"; metrics_listen = "{METRICS}"; }};\n')


def status(lab, sock):
    r = lab.exec("lb1", [LBCTL, "-s", sock, "--json", "status"])
    return json.loads(r.stdout)


def metrics(lab):
    r = lab.exec("lb1", ["curl", "-sf", f"http://{METRICS}/metrics"])
    out = {}
    for fam in text_string_to_metric_families(r.stdout):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def bpftool(lab, *args):
    r = lab.exec("lb1", ["bpftool", "-j", *args])
    return json.loads(r.stdout) if r.stdout.strip() else None


def addr_hex(a):
    return [f"{int(x):02x}" for x in a.split(".")]


def maps(lab):
    """The service, VIP and backend entries, as the program reads them."""
    pin = lab.pin_path("lb1")
    out = {}
    for m in ("lbd_vip4", "lbd_svc4", "lbd_backends"):
        out[m] = sorted(json.dumps(e, sort_keys=True)
                        for e in bpftool(lab, "map", "dump", "pinned",
                                         os.path.join(pin, m)))
    return out


def answers(lab, vip, n=20):
    r = lab.client("http", f"http://{vip}/", "-n", str(n))
    return r["ok"]


def test():
    with Lab("applyfail") as lab:
        lab.start_backends(vips=(VIP, VIP_NEW))
        sock = os.path.join(lab.path, "lb1.sock")
        lb = Lbd(lab, "lb1", conf(lab, sock)).start()
        check(answers(lab, VIP) == 20, "the service answers")
        st = status(lab, sock)
        check(st["apply"]["ok"] == 1 and
              st["apply"]["serving"] == "applied",
              f"after the start: {st['apply']}")

        # the VIP map full: one VIP of lbd's, the rest fillers
        vip4 = os.path.join(lab.pin_path("lb1"), "lbd_vip4")
        for a in FILLERS:
            lab.exec("lb1", ["bpftool", "map", "update", "pinned", vip4,
                             "key", "hex", *addr_hex(a), "value", "hex",
                             *["00"] * 8])
        before = maps(lab)

        # the edit, reloaded
        lb.write_conf(conf(lab, sock, new=True))
        lb.reload()
        after = maps(lab)
        check(after == before,
              "the maps after the failed reload differ from before:\n"
              f"{before}\n{after}")
        check("its writes were rolled back" in lb.read_log(),
              "the rollback logged")
        check(answers(lab, VIP) == 20, "the old service answers")
        check(answers(lab, VIP_NEW, 3) == 0, "the new one does not")
        st = status(lab, sock)
        a = st["apply"]
        check(a["ok"] == 0 and a["serving"] == "previous" and
              a["failures"] == 1 and a["rollback_failures"] == 0 and
              a["error"] == os.strerror(7),  # E2BIG: the map is full
              f"lbctl status after the failure: {a}")
        text = lab.exec("lb1", [LBCTL, "-s", sock, "status"]).stdout
        check("last apply    FAILED (Argument list too long), the "
              "datapath serves the state before the apply that failed"
              in text, f"lbctl status:\n{text}")
        wait_until(lambda: metrics(lab)[("lbd_apply_failures_total", ())]
                   == 1, 10, "the failure in the metrics")
        m = metrics(lab)
        check(m[("lbd_last_apply_success", ())] == 0 and
              m[("lbd_apply_failures_total", ())] == 1 and
              m[("lbd_datapath_serving", (("state", "previous"),))] == 1 and
              m[("lbd_datapath_serving", (("state", "applied"),))] == 0,
              f"metrics after the failure: "
              f"{ {k: v for k, v in m.items() if 'apply' in k[0] or 'serving' in k[0]} }")

        # room again: the same config applies whole
        for a in FILLERS:
            lab.exec("lb1", ["bpftool", "map", "delete", "pinned", vip4,
                             "key", "hex", *addr_hex(a)])
        lb.reload()
        wait_until(lambda: status(lab, sock)["apply"]["serving"] ==
                   "applied", 10, "the reload applied")
        check(answers(lab, VIP_NEW) == 20, "the new service answers")
        check(answers(lab, VIP) == 20, "the old one too")
        a = status(lab, sock)["apply"]
        check(a["ok"] == 1 and a["failures"] == 1, f"{a}")
        # the io process renders a snapshot that may be a scrape behind
        wait_until(lambda: metrics(lab)[
            ("lbd_datapath_serving", (("state", "applied"),))] == 1,
            10, "the metrics after the second reload")


if __name__ == "__main__":
    run(test)
