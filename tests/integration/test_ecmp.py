#!/usr/bin/env python3
"""Two LB hosts announce the same VIP and the router installs an ECMP
route. Stopping lbd on one withdraws its path (graceful shutdown first),
and TCP connections that went through it continue through the other
host to the same backend (the same Maglev table and seed), with no
reset, also once the first host is gone from the network."""
import signal

from labtest import (BE4, Holder, Lab, Lbd, TestFailure, check, run, svc,
                     wait_until)

HEALTH = ('health = { type = "tcp"; interval = 0.5; timeout = 0.4; '
          'rise = 1; fall = 2; };')
VIP = "203.0.113.10/32"
BOTH = ["198.18.0.10", "198.18.0.20"]
CONNS = 40


def test():
    with Lab("ecmp", lbs=2, bgp=True) as lab:
        lab.start_backends()
        services = svc("echo", "203.0.113.10", 7, [(BE4[0], 7), (BE4[1], 7)],
                       extra=HEALTH)
        lbs = [Lbd(lab, f"lb{k}", lab.lb_conf(
            services, lb=k, top=lab.control_conf(k) +
            lab.bgp_conf(k, attrs="shutdown_delay = 1;"))).start()
            for k in (1, 2)]
        wait_until(lambda: lab.route(VIP) == BOTH, 15,
                   "an ECMP route through both LB hosts")

        h = Holder(lab, "203.0.113.10", 7)
        check(h.open(CONNS)["opened"] == CONNS, "connections open")
        before = h.ping()
        check(all(a in ("backend1", "backend2") for a in before),
              f"every connection answers: {before}")
        carried = [lab.lbctl(k, "conntrack", "--vip",
                             "203.0.113.10:7")["matched"] for k in (1, 2)]
        check(all(carried) and sum(carried) >= CONNS,
              f"both LB hosts carry connections: {carried}")

        # lbd on lb1 stops: its path goes (graceful shutdown, withdraw)
        lbs[0].proc.send_signal(signal.SIGTERM)
        wait_until(lambda: lab.route(VIP) == ["198.18.0.20"], 10,
                   "lb1's path withdrawn")
        try:
            lbs[0].proc.wait(timeout=10)
        except Exception as e:
            raise TestFailure(f"lbd on lb1 did not exit: {e}")
        # and the host is gone: nothing can cross it any more
        lab.exec("lb1", ["ip", "link", "set", "eth0", "down"])

        after = h.ping()
        check(after == before,
              f"each connection continues on its backend, none reset:\n"
              f"before {before}\nafter  {after}")
        moved = lab.lbctl(2, "conntrack", "--vip", "203.0.113.10:7")
        check(moved["matched"] >= CONNS,
              f"lb2 carries all {CONNS} connections: {moved['matched']}")


if __name__ == "__main__":
    run(test)
