#!/usr/bin/env python3
"""SNAT with plain backends (issue: SNAT and the rest of NodePort).

The backends run no companion and hold no VIP: lbd translates both
directions in XDP. 1,000 TCP connections and UDP exchanges are answered,
IPv4 and IPv6; a flow survives an lbd restart; port exhaustion is
counted, not silent. A NodePort-style service (vip = "*") answers on the
LB host's address, and follows an address added to the edge interface
and removed again, without a reload.
"""
from labtest import (BE4, BE6, Holder, Lab, Lbd, bpf_counter, check, run,
                     svc, wait_until)

VIP4, VIP6 = "203.0.113.30", "2001:db8:f::30"
N = 1000
LB_ADDR, NEW_ADDR = "198.18.0.10", "198.18.0.99"


def services():
    b4, b6 = BE4[:2], BE6[:2]
    return ",\n".join([
        svc("web4", VIP4, 80, [(a, 8080) for a in b4], fwd="snat"),
        svc("web6", VIP6, 80, [(a, 8080) for a in b6], fwd="snat"),
        svc("echo4", VIP4, 30053, [(a, 30054) for a in b4], proto="udp",
            fwd="snat"),
        svc("echo6", VIP6, 30053, [(a, 30054) for a in b6], proto="udp",
            fwd="snat"),
        svc("tcpecho", VIP4, 7, [(a, 7007) for a in b4], fwd="snat"),
    ])


def check_all(name, r, n, vip, backends_see):
    check(r["ok"] == n and r["fail"] == 0,
          f"{name}: {r['ok']} of {n} answered: {r.get('errors')}")
    check(len(r["by_backend"]) == 2, f"{name}: {r['by_backend']}")
    check(list(r["peers"]) == [vip], f"{name}: answered by {r['peers']}")
    print(f"{name}: {r['ok']} answered, spread {dict(r['by_backend'])}")


def test():
    with Lab("snat") as lab:
        lab.start_backends(companion=False)
        lb = Lbd(lab, "lb1", lab.lb_conf(services())).start()

        r = lab.client("http", f"http://{VIP4}/", "-n", str(N), "-c", "16")
        check_all("web4", r, N, VIP4, None)
        # the servers saw the LB's address, not the client's: SNAT
        check(list(r["locals"]) != [VIP4], "backends answered on their own "
                                          "address")
        r = lab.client("http", f"http://[{VIP6}]/", "-n", str(N), "-c", "16")
        check_all("web6", r, N, VIP6, None)
        for name, vip in (("echo4", VIP4), ("echo6", VIP6)):
            r = lab.client("udp", vip, "30053", "-n", str(N))
            check_all(name, r, N, vip, None)

        # long-lived connections survive kill -9 and a restart
        h = Holder(lab, VIP4, 7)
        check(h.open(20)["opened"] == 20, "20 connections")
        before = h.ping()
        check(all(a.startswith("backend") for a in before), f"{before}")
        lb.kill9()
        check(h.ping() == before, "connections kept their backend "
                                  "while lbd was dead")
        lb.start()
        check(h.ping() == before, "connections kept their backend "
                                  "after the restart")
        print("20 SNAT connections survived kill -9 and restart")

        # exhaustion: 4 source ports towards the only backend; a
        # destination no flow above used, whose closing entries would
        # hold some of the 4 for their timeout
        lb.write_conf(lab.lb_conf(
            svc("tiny", VIP4, 81, [(BE4[0], 80)], fwd="snat"),
            extra='snat_ports = "61000-61003";'))
        lb.reload()
        stats = lab.pin_path("lb1") + "/lbd_stats"
        before = bpf_counter(lab, "lb1", stats, "snat_exhausted")
        tiny = Holder(lab, VIP4, 81)
        opened = tiny.open(6)["opened"]
        check(opened == 4, f"4 ports, {opened} connections")
        after = bpf_counter(lab, "lb1", stats, "snat_exhausted")
        check(after > before, "exhaustion counted as snat_exhausted")
        print(f"4 ports: 4 connections, {after - before} SYNs counted as "
              "snat_exhausted")

        # NodePort: every address of the edge interface, as it changes
        lb.write_conf(lab.lb_conf(
            svc("np", "*", 30080, [(a, 8080) for a in BE4[:2]],
                fwd="snat")))
        lb.reload()
        r = lab.client("http", f"http://{LB_ADDR}:30080/", "-n", "20")
        check(r["ok"] == 20, f"NodePort on {LB_ADDR}: {r}")

        def served(addr):
            return f"np@{addr}" in {s["name"] for s in
                                    lab.lbctl(1, "services")["services"]}

        lab.exec("lb1", ["ip", "addr", "add", f"{NEW_ADDR}/24", "dev",
                         "eth0"])
        wait_until(lambda: served(NEW_ADDR), 5,
                   f"a NodePort service on the new address {NEW_ADDR}")
        r = lab.client("http", f"http://{NEW_ADDR}:30080/", "-n", "20")
        check(r["ok"] == 20, f"NodePort on {NEW_ADDR}: {r}")
        lab.exec("lb1", ["ip", "addr", "del", f"{NEW_ADDR}/24", "dev",
                         "eth0"])
        wait_until(lambda: not served(NEW_ADDR), 5,
                   f"the NodePort service on {NEW_ADDR} gone with it")
        check(served(LB_ADDR), f"still served on {LB_ADDR}")
        print(f"NodePort followed {NEW_ADDR} added and removed")


if __name__ == "__main__":
    run(test)
