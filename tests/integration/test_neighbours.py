#!/usr/bin/env python3
"""lbd leaves an operator's neighbour entries alone (issue 14, item 14).

Before, lbd replaced every backend next hop's neighbour entry with a
managed one of its own (NLM_F_REPLACE): a static (PERMANENT) ARP or NDP
entry, which some L2 DSR set-ups rely on, was lost; where nothing answers
ARP for that next hop it stayed INCOMPLETE and the VIP's traffic passed
to the kernel (pass_no_neigh) and went nowhere.

Here backend1 is routed, on the LB host, through a next hop nothing
answers for (198.18.0.77, 2001:db8::77) whose static entries carry the
router's MAC. After lbd starts and after a reload: the static entries are
unchanged, the VIP serves over IPv4 and IPv6, and the entry of a next hop
nobody had made (the router, for a backend left on the default route) is
lbd's (managed, protocol 0xdb).
"""
import json

from labtest import BE4, BE6, Lab, Lbd, check, run, svc, wait_until

VIP, VIP6 = "203.0.113.10", "2001:db8:f::10"
GW, GW6 = "198.18.0.77", "2001:db8::77"  # nothing answers for them
ROUTER, ROUTER6 = "198.18.0.1", "2001:db8::1"
LBD_PROTO = str(0xdb)


def neigh(lab, addr):
    six = ["-6"] if ":" in addr else []
    r = lab.exec("lb1", ["ip", *six, "-j", "-d", "neigh", "show", addr,
                         "dev", "eth0"])
    entries = json.loads(r.stdout or "[]")
    return entries[0] if entries else None


def check_static(lab, mac, when):
    for gw in (GW, GW6):
        n = neigh(lab, gw)
        check(n and n.get("state") == ["PERMANENT"]
              and n.get("lladdr") == mac and "managed" not in n
              and "protocol" not in n,
              f"{when}: the static entry of {gw} is now {n}")


def check_serves(lab, when):
    for url in (f"http://{VIP}/", f"http://[{VIP6}]/"):
        r = lab.client("http", url, "-n", "10", "-c", "2")
        check(r["ok"] == 10 and set(r["by_backend"]) == {"backend1"},
              f"{when}: {url}: {r}")


def test():
    with Lab("neigh", backends=1) as lab:
        lab.start_backends(vips=(VIP, VIP6), http=(80,), udp=(), echo=())
        mac = json.loads(lab.exec("router", ["ip", "-j", "link", "show",
                                             "br-lb"]).stdout)[0]["address"]
        for cmd in (
                ["ip", "neigh", "replace", GW, "lladdr", mac, "dev", "eth0",
                 "nud", "permanent"],
                ["ip", "-6", "neigh", "replace", GW6, "lladdr", mac, "dev",
                 "eth0", "nud", "permanent"],
                ["ip", "route", "add", f"{BE4[0]}/32", "via", GW],
                ["ip", "-6", "route", "add", f"{BE6[0]}/128", "via", GW6]):
            lab.exec("lb1", cmd)
        # web: backend1 behind the static next hops; other: a backend
        # (never asked) behind the router, whose entries nobody made
        services = ",\n".join([
            svc("web", VIP, 80, [(BE4[0], 80)]),
            svc("web6", VIP6, 80, [(BE6[0], 80)]),
            svc("other", VIP, 81, [(BE4[1], 81)]),
            svc("other6", VIP6, 81, [(BE6[1], 81)]),
        ])
        lb = Lbd(lab, "lb1", lab.lb_conf(services)).start()
        check_static(lab, mac, "lbd started")
        for r in (ROUTER, ROUTER6):
            n = wait_until(lambda: neigh(lab, r), 10, f"an entry for {r}")
            check("managed" in n and n.get("protocol") == LBD_PROTO,
                  f"the entry lbd made for {r}: {n}")
        check_serves(lab, "lbd started")
        lb.reload()
        check_static(lab, mac, "reloaded")
        check_serves(lab, "reloaded")
        lb.stop()
        check_static(lab, mac, "lbd stopped")
        print(f"static entries of {GW} and {GW6} kept ({mac}); the "
              f"router's made lbd's; the VIP served through them")


if __name__ == "__main__":
    run(test)
