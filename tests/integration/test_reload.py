#!/usr/bin/env python3
"""The daemon under edits and restarts (issue: lbd and its config file).

Long-lived TCP connections through the VIP keep their backend across
kill -9 and restart of lbd, an unrelated reload, and a rejected invalid
edit; adding a backend moves only new flows; lbd --check prints the plan
against the running datapath; lbd --cleanup removes everything.
"""
import json
import os
import subprocess
import time

from labtest import (BE4, LBCTL, LBD, Holder, Lab, Lbd, check, run, svc,
                     wait_until)

VIP, VIP_G = "203.0.113.10", "203.0.113.11"


def services(backends=2, extra=""):
    b = BE4[:backends]
    out = [
        svc("echo", VIP, 7, [(a, 7) for a in b]),
        svc("echo-gnv", VIP_G, 7, [(a, 7007) for a in b], fwd="geneve"),
        svc("web", VIP, 80, [(a, 80) for a in b]),
    ]
    if extra:
        out.append(extra)
    return ",\n".join(out)


def same_backends(holder, before, what):
    now = holder.ping()
    check(now == before, f"{what}: connections moved or broke:\n"
                         f"before {before}\nafter  {now}")


def test():
    with Lab("reload", backends=3) as lab:
        lab.start_backends()
        lb = Lbd(lab, "lb1", lab.lb_conf(services())).start()

        ipip = Holder(lab, VIP, 7)
        gnv = Holder(lab, VIP_G, 7)
        check(ipip.open(40)["opened"] == 40, "40 IPIP connections")
        check(gnv.open(40)["opened"] == 40, "40 Geneve connections")
        b_ipip, b_gnv = ipip.ping(), gnv.ping()
        check(all(a.startswith("backend") for a in b_ipip + b_gnv),
              f"all answered: {b_ipip} {b_gnv}")
        check(set(b_ipip) == {"backend1", "backend2"},
              f"spread over both backends: {set(b_ipip)}")

        # kill -9 under traffic: the datapath keeps serving without lbd
        lb.kill9()
        same_backends(ipip, b_ipip, "lbd killed")
        same_backends(gnv, b_gnv, "lbd killed")
        r = lab.client("http", f"http://{VIP}/", "-n", "50")
        check(r["ok"] == 50, f"new connections without lbd: {r}")
        # restarted: adopts the pinned maps, writes nothing
        lb.start()
        log = lb.read_log()
        check("adopted the datapath pinned under" in log, log)
        check("0 map writes" in log.split("adopted")[-1],
              f"restart with the same config rewrote maps:\n{log}")
        same_backends(ipip, b_ipip, "lbd restarted")
        same_backends(gnv, b_gnv, "lbd restarted")

        # an unrelated reload: another VIP's service comes and goes
        other = svc("other", "203.0.113.20", 80, [(BE4[2], 8080)],
                    fwd="geneve")
        lb.write_conf(lab.lb_conf(services(extra=other)))
        lb.reload()
        r = lab.client("http", "http://203.0.113.20/", "-n", "10")
        check(r["ok"] == 10 and list(r["by_backend"]) == ["backend3"],
              f"the new service answers: {r}")
        same_backends(ipip, b_ipip, "unrelated reload")
        same_backends(gnv, b_gnv, "unrelated reload")
        check("loading a new program" not in lb.read_log(),
              "a reload with the same datapath settings keeps the program")

        # an invalid edit: rejected with file:line: setting: message,
        # and the running datapath keeps serving the last good config
        conf = lab.lb_conf(services()).replace(
            f'{{ address = "{BE4[1]}"; port = 80; }}',
            f'{{ address = "{BE4[1]}"; port = 80; weight = 70000; }}')
        line = next(i for i, l in enumerate(conf.splitlines(), 1)
                    if "70000" in l)
        lb.write_conf(conf)
        lb.reload()
        want = (f"{lb.conf}:{line}: services[web].backends[1].weight: "
                "70000 out of range 0-65535")
        wait_until(lambda: want in lb.read_log(), 5, "the rejection logged")
        check("still serving config generation" in lb.read_log(),
              "the log says what keeps running")
        same_backends(ipip, b_ipip, "rejected reload")
        r = lab.client("http", f"http://{VIP}/", "-n", "20")
        check(r["ok"] == 20, f"new connections after the rejection: {r}")
        # --check says the same, with exit status 1
        c = lab.exec("lb1", [LBD, "--check", "-c", lb.conf], check=False)
        check(c.returncode == 1 and want in c.stderr,
              f"lbd --check: {c.returncode} {c.stderr}")
        # lbctl reload (systemctl reload's ExecReload): the refusal is
        # answered, every problem on stderr and exit status 1
        ctl = [LBCTL, "-s", os.path.join(lab.path, f"{lb.name}.sock")]
        c = lab.exec("lb1", [*ctl, "reload"], check=False)
        check(c.returncode == 1 and want in c.stderr.splitlines() and
              "reload rejected (1 problem)" in c.stderr,
              f"lbctl reload of a bad config: {c.returncode} "
              f"{c.stdout}{c.stderr}")
        same_backends(ipip, b_ipip, "rejected lbctl reload")
        # and a good one is applied before lbctl returns: exit 0, and the
        # new service is there when it does
        late = svc("late", "203.0.113.21", 80, [(BE4[2], 80)])
        lb.write_conf(lab.lb_conf(services(extra=late)))
        c = lab.exec("lb1", [*ctl, "reload"], check=False)
        check(c.returncode == 0 and "applied in" in c.stdout,
              f"lbctl reload of a good config: {c.returncode} "
              f"{c.stdout}{c.stderr}")
        names = [x["name"] for x in json.loads(lab.exec(
            "lb1", [*ctl, "--json", "services"]).stdout)["services"]]
        check("late" in names, f"lbctl reload applied: {names}")
        same_backends(ipip, b_ipip, "lbctl reload")

        # an edit saved to disk changes nothing until a reload: applying
        # on save is opt-in (reload_on_change). Nothing may happen, so the
        # test gives it ten times the debounce (300 ms) to go wrong.
        n = len(lb.notify.poll())
        lb.write_conf(lab.lb_conf(services(backends=3)))
        time.sleep(3)
        check(not any("RELOADING=1" in m for m in lb.notify.poll()[n:]),
              "a saved edit was applied without reload_on_change")
        same_backends(ipip, b_ipip, "edit saved, not applied")
        # with reload_on_change, an edit saved to disk is picked up
        # without a signal; adding a backend moves only new flows
        watch = "reload_on_change = true;"
        lb.write_conf(lab.lb_conf(services(), top=watch))
        lb.reload()
        n = len(lb.notify.poll())
        lb.write_conf(lab.lb_conf(services(backends=3), top=watch))
        lb.notify.wait("READY=1", 10, after=n)
        check(any("RELOADING=1" in m for m in lb.notify.poll()[n:]),
              "reloaded on the file change")
        same_backends(ipip, b_ipip, "backend added")
        same_backends(gnv, b_gnv, "backend added")
        r = lab.client("http", f"http://{VIP}/", "-n", "300")
        by = r["by_backend"]
        check(r["ok"] == 300 and set(by) == {"backend1", "backend2",
                                             "backend3"},
              f"new flows use the new backend: {r}")
        check(abs(by["backend3"] - 100) <= 40,
              f"about a third of new flows on backend3: {by}")
        print(f"new flows after adding backend3: {dict(by)}")

        # --check against the running datapath: nothing to do, then a
        # pending edit's plan
        c = lab.exec("lb1", [LBD, "--check", "-c", lb.conf])
        check("plan against the running datapath" in c.stdout and
              "services +0 -0 ~0, backends +0 -0 ~0" in c.stdout,
              f"lbd --check on the applied config: {c.stdout}")
        pending = lab.write("pending.conf", lab.lb_conf(services(backends=2)))
        c = lab.exec("lb1", [LBD, "--check", "-c", pending])
        check(f"- backend web {BE4[2]}:80" in c.stdout,
              f"lbd --check shows the removal: {c.stdout}")

        # --cleanup: detached and unpinned
        lb.stop()
        lab.exec("lb1", [LBD, "--cleanup", "-c", lb.conf])
        link = lab.exec("lb1", ["ip", "-d", "link", "show", "eth0"]).stdout
        check("prog/xdp" not in link, f"XDP still attached: {link}")
        left = [f for f in os.listdir(lab.pin_path("lb1"))
                if f.startswith("lbd_")]
        check(not left, f"pins left: {left}")


if __name__ == "__main__":
    run(test)
