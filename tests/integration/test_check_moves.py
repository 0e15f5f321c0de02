#!/usr/bin/env python3
"""lbd --check prints what an edit costs the flows (issue 16 item 5):
per service whose Maglev table changes, the slots that move and the
established flows in conntrack that sit on them.

Two backends and 50 held connections in flow_state = "lb"; a pending
config adds a third backend. --check against the running datapath's
pinned maps (read-only: nothing changes in them) prints a share of about
a third, at least the slots the new backend then owns, and exactly the
held flows whose slot changed owner, counted independently after the
edit is applied: each flow's conntrack entry (its backend before the
edit) against the slot's new owner as lbctl explain reads it from the
applied table. A service in flow_state = "backends" is said to keep its
flows through the previous owner; without pinned maps --check says it
cannot tell.
"""
import json
import os
import re
import time

from labtest import (BE4, LBD, LBCTL, Holder, Lab, Lbd, check, run, svc)

VIP = "203.0.113.10"
M = 1021


def services(n):
    return ",\n".join([
        svc("echo", VIP, 7, [(a, 7) for a in BE4[:n]]),
        svc("gnv", VIP, 8, [(a, 7007) for a in BE4[:n]], fwd="geneve",
            extra='flow_state = "backends"; '),
    ])


def lbctl(lab, *args):
    r = lab.exec("lb1", [LBCTL, "-s", lab.ctl_sock(), "--json", *args])
    return json.loads(r.stdout)


def ahead(lab, sec):
    """Stamps one of lb1's IPv4 conntrack entries sec seconds ahead of
    the coarse monotonic clock lbd and the program read."""
    ct = os.path.join(lab.pin_path("lb1"), "lbd_ct4")
    entry = json.loads(lab.exec("lb1", ["bpftool", "-j", "map", "dump",
                                        "pinned", ct]).stdout)[0]
    key = [int(b, 16) for b in entry["key"]]
    value = [int(b, 16) for b in entry["value"]]
    now = int(time.clock_gettime(getattr(time, "CLOCK_MONOTONIC_COARSE",
                                         6)))
    # struct lbd_ct: backend_id, backend_gen, last_seen (host order)
    value[8:12] = list((now + sec).to_bytes(4, "little"))
    lab.exec("lb1", ["bpftool", "map", "update", "pinned", ct, "key", "hex",
                     *(f"{b:02x}" for b in key), "value", "hex",
                     *(f"{b:02x}" for b in value)])


def test():
    with Lab("checkmv", backends=3) as lab:
        lab.start_backends()
        lb = Lbd(lab, "lb1", lab.lb_conf(services(2)) + lab.control_conf())
        lb.start()
        holder = Holder(lab, VIP, 7)
        check(holder.open(50)["opened"] == 50, "50 held connections")
        answers = holder.ping()
        check(all(a in ("backend1", "backend2") for a in answers),
              f"answers: {answers}")
        entries = lbctl(lab, "conntrack", "--vip", f"{VIP}:7")["entries"]
        check(len(entries) == 50, f"{len(entries)} conntrack entries")

        # an entry stamped a little ahead of lbd's clock (another CPU's
        # second, as the program's per-CPU clock may be) is live, for
        # lbctl and for --check alike: idle times compare signed
        ahead(lab, 30)
        live = lbctl(lab, "conntrack", "--vip", f"{VIP}:7")["matched"]
        check(live == 50, f"{live} live entries, one of them ahead: want 50")

        pending = lab.write("pending.conf",
                            lab.lb_conf(services(3)) + lab.control_conf())
        c = lab.exec("lb1", [LBD, "--check", "-c", pending])
        m = re.search(r"^~ slots echo: (\d+) of (\d+) Maglev slots move "
                      r"\(([\d.]+)%\); (\d+) of (\d+) established flows in "
                      r"conntrack sit on them", c.stdout, re.M)
        check(m, f"lbd --check:\n{c.stdout}")
        moved, m_size, _, on_moved, flows = map(float, m.groups())
        check(m_size == M and flows == 50, f"lbd --check:\n{c.stdout}")
        check(re.search(r'^~ slots gnv: \d+ of 1021 Maglev slots move '
                        r'\([\d.]+%\); flow_state = "backends": flows on '
                        r'moved slots are kept by the previous owner',
                        c.stdout, re.M), f"lbd --check:\n{c.stdout}")
        # read-only: the running tables are what they were
        check(lbctl(lab, "backends", "echo")["backends"][0]["share"] > 0.4,
              "--check changed the running table")

        # the edit, applied: the independent count
        lb.write_conf(lab.lb_conf(services(3)) + lab.control_conf())
        lb.reload()
        want = 0
        for e in entries:
            x = lbctl(lab, "explain", f"{e['client']}:{e['client_port']}",
                      f"{VIP}:7/tcp")
            check(x["why"] == "conntrack" and
                  x["backend"]["backend"] == e["backend"],
                  f"held flow {e['client_port']}: {x}")
            want += x["maglev"]["backend"] != e["backend"]
        check(on_moved == want, f"--check: {on_moved:.0f} flows on moved "
                                f"slots, the applied table moves {want}")
        share3 = {b["address"]: b["share"]
                  for b in lbctl(lab, "backends", "echo")["backends"]}[BE4[2]]
        owned = round(share3 * M)
        check(owned <= moved <= owned + 0.05 * M and
              0.25 * M < moved < 0.42 * M,
              f"{moved:.0f} slots move; the new backend owns {owned}")
        print(f"lbd --check: {moved:.0f} of {M} slots move (the new backend "
              f"owns {owned}), {on_moved:.0f} of 50 held flows on them, as "
              f"counted after the edit")

        # without the running datapath's maps: it cannot tell
        other = lab.write("nomaps.conf", lab.lb_conf(services(3)).replace(
            lab.pin_path("lb1"), lab.pin_path("lb1") + "-none"))
        c = lab.exec("lb1", [LBD, "--check", "-c", other])
        check("cannot be told without a running datapath" in c.stdout,
              f"lbd --check without maps:\n{c.stdout}")
        holder.p.stdin.close()
        holder.p.wait(timeout=10)


if __name__ == "__main__":
    run(test)
