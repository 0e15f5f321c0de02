#!/usr/bin/env python3
"""VIP announcement through BIRD: the lab's router (its own BIRD, peered
with the LB host's) learns a VIP while its backends are up, with the
VIP's BGP attributes; loses it within fall * interval + 5 s (a loaded
machine's slack) after every backend stops; gets it back after they
return and after BIRD on the LB host restarts (announcing what lbd
says now, not what it said before); on a planned stop of lbd sees the
graceful shutdown community before the withdraw. Nothing is announced
while the XDP program is detached."""
import signal
import time

from labtest import (BE4, BE6, Lab, Lbd, TestFailure, check, run, svc,
                     wait_until)

INTERVAL, FALL = 0.5, 2
HEALTH = (f'health = {{ type = "tcp"; interval = {INTERVAL}; '
          f'timeout = 0.4; rise = 1; fall = {FALL}; }};')
VIP4, VIP6 = "203.0.113.10/32", "2001:db8:f::10/128"
LB1 = ["198.18.0.10"]
# shutdown_delay: long enough to see the community at the router before
# the withdraw on a loaded machine
BGP = ('asn = 65001; shutdown_delay = 6; communities = [ "65001:100" ]; '
       'vips = ( { address = "203.0.113.10"; med = 10; '
       'large_communities = [ "65001:1:10" ]; as_path_prepend = 1; } );')


def test():
    with Lab("bgp", bgp=True) as lab:
        lab.start_backends()
        services = (svc("web", "203.0.113.10", 80,
                        [(BE4[0], 80), (BE4[1], 80)], extra=HEALTH) + ",\n" +
                    svc("web6", "2001:db8:f::10", 80,
                        [(BE6[0], 80), (BE6[1], 80)], extra=HEALTH))
        conf = lab.lb_conf(services, top=lab.control_conf() +
                           lab.bgp_conf(attrs=BGP))
        lb = Lbd(lab, "lb1", conf).start()

        # learnt, with the VIP's attributes
        wait_until(lambda: lab.route(VIP4) == LB1, 15, "the VIP's route")
        wait_until(lambda: lab.route(VIP6) == ["2001:db8::10"], 15,
                   "the IPv6 VIP's route")
        attrs = lab.birdc("router", "show", "route", "all", VIP4)
        for want in ("BGP.community: (65001,100)",
                     "BGP.large_community: (65001, 1, 10)",
                     "BGP.med: 10", "BGP.as_path: 65001 65001"):
            check(want in attrs, f"{want} at the router:\n{attrs}")
        r = lab.client("http", "http://203.0.113.10/", "-n", "20")
        check(r["ok"] == 20, f"the VIP serves: {r}")

        # every backend of the VIP stops: withdrawn
        t0 = time.monotonic()
        lab.stop_server(1)
        lab.stop_server(2)
        wait_until(lambda: not lab.route(VIP4), FALL * INTERVAL + 5,
                   "the VIP withdrawn", strict=True)
        print(f"withdrawn {time.monotonic() - t0:.2f} s after the last "
              f"backend stopped")
        lab.restart_server(1)
        lab.restart_server(2)
        wait_until(lambda: lab.route(VIP4) == LB1, 10, "the VIP back")

        # BIRD on the LB host restarts: the route comes back
        lab.bird("stop", "lb1")
        wait_until(lambda: not lab.route(VIP4), 10, "gone with BIRD")
        lab.bird("start", "lb1")
        wait_until(lambda: lab.route(VIP4) == LB1, 15,
                   "back after BIRD's restart")

        # ... announcing what lbd says now: the backends stop while BIRD
        # is down, and the restarted BIRD does not bring the VIP back
        lab.bird("stop", "lb1")
        lab.stop_server(1)
        lab.stop_server(2)
        wait_until(lambda: not [v for v in
                                lab.lbctl(1, "status")["bird"]["vips"]
                                if v["announced"]], 10,
                   "lbd withdraws while BIRD is down")
        lab.bird("start", "lb1")
        mine = lab.birdc("lb1", "show", "route", "protocol", "lbd4")
        check("203.0.113.10" not in mine,
              f"the restarted BIRD announces no stale VIP:\n{mine}")
        lab.restart_server(1)
        lab.restart_server(2)
        wait_until(lambda: lab.route(VIP4) == LB1, 15,
                   "the VIP back once its backends are")

        # the XDP program detached behind lbd's back: nothing is served,
        # nothing is announced; a restarted lbd attaches and announces
        lab.exec("lb1", ["ip", "link", "set", "dev", "eth0", "xdp", "off"])
        wait_until(lambda: not lab.route(VIP4), 5,
                   "withdrawn once the datapath is detached")
        lb.kill9()
        lb.start()
        wait_until(lambda: lab.route(VIP4) == LB1, 15,
                   "announced again once attached")

        # a planned stop: graceful shutdown first, then the withdraw
        lb.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: "(65535,0)" in lab.birdc(
            "router", "show", "route", "all", VIP4), 5,
            "the graceful shutdown community at the router")
        check(lab.route(VIP4) == LB1, "still routed during the delay")
        wait_until(lambda: not lab.route(VIP4), 10, "withdrawn on stop")
        try:
            lb.proc.wait(timeout=30)
        except Exception as e:
            raise TestFailure(f"lbd did not exit after the withdraw: {e}")
        check(lb.proc.returncode == 0, f"lbd exit {lb.proc.returncode}")
        log = lb.read_log()
        check("graceful shutdown community" in log and
              "VIPs withdrawn from BIRD" in log, f"the stop logged:\n{log}")


if __name__ == "__main__":
    run(test)
