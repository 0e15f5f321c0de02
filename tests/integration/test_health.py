#!/usr/bin/env python3
"""Health checks: a backend whose server stops stops getting new
connections within the fall window and comes back after rise checks; a
backend whose decapsulation is broken fails the check through the
datapath while a plain check to its address passes; health state
survives a reload and a restart of lbd."""
import time

from labtest import (BE4, Lab, Lbd, bpf_counter, check, run, svc,
                     wait_until)

INTERVAL, TIMEOUT, RISE, FALL = 0.5, 0.4, 2, 2
HEALTH = (f'health = {{ type = "http"; interval = {INTERVAL}; '
          f'timeout = {TIMEOUT}; rise = {RISE}; fall = {FALL};{{via}} }};')


def services(weight1=1):
    dp = HEALTH.replace("{via}", "")
    addr = HEALTH.replace("{via}", ' via = "address";')
    web = svc("web", "203.0.113.10", 80, [(b, 80) for b in BE4[:3]],
              extra=dp)
    # backend1's weight, to change something in a reload
    web = web.replace(f'address = "{BE4[0]}"; port = 80;',
                      f'address = "{BE4[0]}"; port = 80; weight = {weight1};')
    plain = svc("plain", "203.0.113.10", 8080,
                [(b, 8080) for b in BE4[:3]], extra=addr)
    return web + ",\n" + plain


def checks(lab):
    """{(service, backend): (since, changes)} of every health check."""
    return {(b["service"], b["backend"]): (b["health_check"]["since"],
                                           b["health_check"]["changes"])
            for b in lab.lbctl(1, "backends")["backends"]
            if "health_check" in b}


def test():
    with Lab("health", backends=3) as lab:
        lab.start_backends(companion=False)
        for i in (1, 2):
            Lbd(lab, f"backend{i}", lab.backend_conf(i)).start()
        # backend3 trusts another LB only: lb1's encapsulated packets
        # are dropped there, but its server is fine
        broken = lab.backend_conf(3).replace(
            '"198.18.0.10", "2001:db8::10"', '"198.18.0.99"')
        check(broken != lab.backend_conf(3), "backend3's sources replaced")
        Lbd(lab, "backend3", broken).start()

        conf = lab.lb_conf(services(), top=lab.control_conf())
        lb = Lbd(lab, "lb1", conf).start()
        want = {("web", f"{BE4[0]}:80"): "up", ("web", f"{BE4[1]}:80"): "up",
                ("web", f"{BE4[2]}:80"): "down",
                ("plain", f"{BE4[0]}:8080"): "up",
                ("plain", f"{BE4[1]}:8080"): "up",
                ("plain", f"{BE4[2]}:8080"): "up"}
        wait_until(lambda: lab.backends_health() == want, 10,
                   f"health {want}")
        b3 = [b for b in lab.lbctl(1, "backends", "web")["backends"]
              if b["backend"] == f"{BE4[2]}:80"][0]
        check(b3["health_check"]["via"] == "datapath" and
              b3["health_check"]["reason"] == "timeout" and
              b3["state"] == "down", f"backend3 through the datapath: {b3}")
        # the datapath check went encapsulated and backend3's companion
        # refused it, as it would a client's packet
        stats = {c["reason"]: c["packets"]
                 for c in lab.lbctl(1, "stats")["counters"]}
        check(stats.get("hc_encap", 0) > 0, f"checks encapsulated: {stats}")
        check(bpf_counter(lab, "backend3",
                          f"{lab.pin_path('backend3')}/lbd_be_stats",
                          "untrusted_encap") > 0,
              "backend3 dropped lb1's encapsulated checks")

        r = lab.client("http", "http://203.0.113.10/", "-n", "60")
        check(r["ok"] == 60 and set(r["by_backend"]) <= {"backend1",
                                                         "backend2"},
              f"the web service avoids backend3: {r}")

        # backend2's server stops: down within fall * interval (+ the
        # time its last check may take), then no new connection goes
        # there
        t0 = time.monotonic()
        lab.stop_server(2)
        # (+ 5 s: the checks and lbctl share a loaded 2-core machine)
        wait_until(lambda: lab.backends_health()[("web", f"{BE4[1]}:80")]
                   == "down", FALL * INTERVAL + 5, "backend2 down",
                   strict=True)
        took = time.monotonic() - t0
        print(f"backend2 down {took:.2f} s after its server stopped")
        r = lab.client("http", "http://203.0.113.10/", "-n", "60")
        check(r["ok"] == 60 and set(r["by_backend"]) == {"backend1"},
              f"only backend1 gets new connections: {r}")

        # a reload keeps what health found for backends that stay: every
        # check keeps its state and history (a check started afresh
        # would have a new "since" and fewer "changes"). A check may
        # still change meanwhile for a reason of its own (a timeout on
        # a loaded machine): then its changes grew.
        before = checks(lab)
        n = len(lb.read_log().splitlines())
        lb.write_conf(lab.lb_conf(services(weight1=2),
                                  top=lab.control_conf()))
        lb.reload()
        h = lab.backends_health()
        check(h[("web", f"{BE4[1]}:80")] == "down" and
              h[("web", f"{BE4[2]}:80")] == "down",
              f"still down right after the reload: {h}")
        after = "\n".join(lb.read_log().splitlines()[n:])
        check("weight 1 -> 2" in after, f"the reload applied:\n{after}")
        now = checks(lab)
        check(set(now) == set(before), f"the same checks: {now} {before}")
        for k, (since, changes) in before.items():
            check(now[k] == (since, changes) or now[k][1] > changes,
                  f"{k}: health kept through the reload: before "
                  f"(since, changes) {before[k]}, after {now[k]}\n{after}")

        # a restart of lbd keeps the datapath's verdicts: the backends it
        # had down stay out until their checks say otherwise
        lb.kill9()
        lb.start()
        st = {b["backend"]: b["state"]
              for b in lab.lbctl(1, "backends", "web")["backends"]}
        check(st[f"{BE4[1]}:80"] == "down" and st[f"{BE4[2]}:80"] == "down"
              and st[f"{BE4[0]}:80"] == "active",
              f"right after the restart: {st}")

        # back: after rise successes it takes connections again
        lab.restart_server(2)
        wait_until(lambda: lab.backends_health()[("web", f"{BE4[1]}:80")]
                   == "up", RISE * INTERVAL + 6, "backend2 up again",
                   strict=True)
        r = lab.client("http", "http://203.0.113.10/", "-n", "60")
        check(r["ok"] == 60 and set(r["by_backend"]) == {"backend1",
                                                         "backend2"},
              f"backend2 takes connections again: {r}")


if __name__ == "__main__":
    run(test)
