#!/usr/bin/env python3
"""Where flow state lives (issue 16, docs/flow-state.md), end to end.

1,000 long-lived TCP connections (tests/lab/flowconns.py: 250 to each of
an IPIP and a Geneve service, IPv4 and IPv6; every one sends a line every
half second and checks every answer and the backend that gives it)
through one LB host, while:

  (a) a backend is added (slots move);
  (b) a backend is drained, its connections close, and it is removed;
  (c) the traffic moves to a second LB host that has no state for it
      (the router's route to lb1 replaced by one to lb2);
  (d) (a) on both LB hosts, then (c).

flow_state = "backends": no connection breaks in any case (the new owner
of a moved slot passes its segments on to the previous owner). "lb":
(a), (b), (c) break nothing either (conntrack on lb1; in (c) no slot
moved, so lb2's Maglev agrees), and in (d) exactly the connections
whose slot moved break (lb2 has no conntrack entry for them), as the
live program's own answer (lbctl explain on lb2) predicts.

Then a flood of spoofed SYNs (a new source address per packet) in each
mode: the connections keep working and keep their backends, during and
after it, and in "lb" mode lb1's conntrack does not grow by it.

The capture on the added backend's link in (a), "backends" mode, checks
that tshark decodes both Geneve forms (lbd's untranslated one with
protocol 0x0800 or 0x86DD, Cilium's with lbd's option after Cilium's),
IPv4 and IPv6, from the LB and passed on, inner IP and TCP included.

One lab (3 backends, 2 LB hosts) for every case; between cases the LB
hosts' lbd stop and their datapath is cleaned up, so each case starts
with no state on either LB host. FLOW_STATE_MODES="lb" (or "backends")
runs one mode's cases only.
"""
import json
import os
import subprocess
import sys
import time

from labtest import (BE4, BE6, BUILD, LBD, SOURCE, ClientDriver, Lab, Lbd,
                     TestFailure, bpf_counter, check, run, wait_until)
from test_dsr import Capture, tcp_sum_ok, tshark_errors, tshark_fields

FLOWCONNS = os.path.join(SOURCE, "tests", "lab", "flowconns.py")
SYNFLOOD = os.path.join(SOURCE, "tests", "lab", "synflood.py")

# (name, VIP, forwarding): IPIP services travel in lbd's untranslated
# Geneve form in "backends" mode, Geneve services in Cilium's
SERVICES = [("e4", "203.0.113.10", "ipip"), ("g4", "203.0.113.11", "geneve"),
            ("e6", "2001:db8:f::10", "ipip"),
            ("g6", "2001:db8:f::11", "geneve")]
VIP4 = SERVICES[0][1]
CLIENT4, CLIENT6 = "192.0.2.2", "2001:db8:c::2"
PER_SERVICE = 250
N = PER_SERVICE * len(SERVICES)
# every connection answers this many messages sent after an event
AFTER = 2
# how long the connections have to do so: generous for a busy machine (a
# connection answers twice a second when all is well)
SETTLE_S = 25
PEERS = 'peers = ("198.18.1.0/24", "2001:db8:1::/64");'
FLOOD_N = 60000
FLOOD_S = 5
# both by default; one of them to look at a single mode
MODES = os.environ.get("FLOW_STATE_MODES", "backends lb").split()


def services(mode, backends, draining=()):
    """The two services with backends (numbers 1..3), some draining."""
    def bl(addrs, port):
        return ", ".join(
            f'{{ address = "{addrs[i - 1]}"; port = {port}; '
            f'state = "{"draining" if i in draining else "active"}"; }}'
            for i in backends)
    return ",\n".join(
        f'  {{ name = "{name}"; vip = "{vip}"; port = 7; protocol = "tcp"; '
        f'forwarding = "{fwd}"; flow_state = "{mode}"; backends = ( '
        f'{bl(BE6 if ":" in vip else BE4, 7 if fwd == "ipip" else 7007)}'
        ' ); }' for name, vip, fwd in SERVICES)


def be_name(addr):
    """backendN of a backend address."""
    for i, (a4, a6) in enumerate(zip(BE4, BE6), 1):
        if addr in (a4, a6):
            return f"backend{i}"
    raise TestFailure(f"not a backend: {addr}")


class Flows(ClientDriver):
    """flowconns.py in the client namespace, driven line by line."""

    def __init__(self, lab):
        super().__init__(lab, FLOWCONNS,
                         [f"{vip},7,{PER_SERVICE}" for _, vip, _ in SERVICES],
                         "flowconns")

    def settle(self):
        """Marks now, and waits for AFTER answers on every connection;
        the connections that broke: {index: why}."""
        self.cmd("mark")
        st = self.cmd(f"settle {AFTER} {SETTLE_S}")["conns"]
        self.last = st
        return {i: c["error"] or f"stalled ({c['after_mark']} answers, "
                f"one outstanding for {c['outstanding_s']} s)"
                for i, c in enumerate(st)
                if not c["closed"] and (c["error"] or
                                        c["after_mark"] < AFTER)}

    def quit(self):
        if self.p.poll() is None:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(timeout=15)


class Case:
    """The LB hosts of one case, started afresh, and its connections."""

    def __init__(self, lab, mode, backends, name):
        self.lab = lab
        self.mode = mode
        self.name = f"{mode} ({name})"
        self.lbs = [Lbd(lab, f"lb{k}", lab.lb_conf(
            services(mode, backends), lb=k, top=lab.control_conf(k)))
            for k in (1, 2)]
        for lb in self.lbs:
            lb.start()
        self.flows = Flows(lab)
        r = self.flows.cmd("open")
        check(r["opened"] == N,
              f"{self.name}: {r['opened']} connections open: {r['errors']}")
        broken = self.flows.settle()
        check(not broken, f"{self.name}: connections broken before the "
                          f"event: {summary(broken)}")
        self.before = [c["backend"] for c in self.flows.last]
        self.t0 = time.monotonic()

    def reload(self, k, backends, draining=()):
        lb = self.lbs[k - 1]
        lb.write_conf(self.lab.lb_conf(services(self.mode, backends,
                                                draining),
                                       lb=k, top=self.lab.control_conf(k)))
        lb.reload()

    def broken(self):
        """After an event: the connections that broke, and a check that
        the others kept their backends (flowconns fails a connection
        that an answer moved)."""
        broken = self.flows.settle()
        after = [c["backend"] for c in self.flows.last]
        check(after == self.before, f"{self.name}: backends changed")
        return broken

    def close(self):
        """Ends the connections while the LB still carries them, then
        every LB host's datapath: the next case starts without state."""
        self.flows.quit()
        for k, lb in enumerate(self.lbs, 1):
            if lb.proc.poll() is None:
                lb.stop()
            self.lab.exec(f"lb{k}", [LBD, "--cleanup", "-c", lb.conf])
        route_to(self.lab, 1)


def summary(broken):
    items = list(broken.items())
    return f"{len(items)}: {items[:5]}"


def route_to(lab, k):
    """The router sends the VIPs to lbK (the other LB host sees none)."""
    lab.exec("router", ["ip", "route", "replace", "203.0.113.0/24", "via",
                        f"198.18.0.{k * 10}"])
    lab.exec("router", ["ip", "-6", "route", "replace", "2001:db8:f::/64",
                        "via", f"2001:db8::{k * 10}"])


def slot_owners(lab, k, conns):
    """The current owner of each connection's Maglev slot on lbK, as
    lbctl explain reads lbK's table."""
    lines = []
    for c in conns:
        addr, port = c["target"].split(",")
        if ":" in addr:
            lines.append(f"[{CLIENT6}]:{c['port']} [{addr}]:{port}/tcp")
        else:
            lines.append(f"{CLIENT4}:{c['port']} {addr}:{port}/tcp")
    sock = lab.ctl_sock(k)
    script = ("while read c v; do "
              f"{BUILD}/bin/lbctl -s {sock} --json explain $c $v "
              "| tr -d '\\n'; echo; done")
    r = lab.exec(f"lb{k}", ["sh", "-c", script], input="\n".join(lines) +
                 "\n", timeout=300)
    owners = []
    for line in r.stdout.splitlines():
        e = json.loads(line)
        check(e.get("maglev", {}).get("backend"),
              f"explain on lb{k}: no Maglev answer: {line[:200]}")
        label = e["maglev"]["backend"]      # address:port, [v6]:port
        owners.append(be_name(label.rsplit(":", 1)[0].strip("[]")))
    check(len(owners) == len(conns), f"explain answered {len(owners)}")
    return owners


def counter(lab, i, label):
    return bpf_counter(lab, f"backend{i}",
                       lab.pin_path(f"backend{i}") + "/lbd_be_stats", label)


def passed_on(lab, backends):
    """Segments the backends passed on to a previous owner."""
    return sum(counter(lab, i, "second_chance_fwd") for i in backends)


def result(lab, results, mode, case, broken, extra=""):
    if broken and mode == "backends":
        # the companion's own account of what it could not pass on
        extra += "; second_chance_no_route " + ", ".join(
            str(counter(lab, i, "second_chance_no_route"))
            for i in (1, 2, 3))
    results.append(f"{mode:8} {case:40} broken {len(broken):4} of "
                   f"{N}{extra}")
    print(results[-1], flush=True)


# -- the cases ------------------------------------------------------------

def case_a(lab, mode, results):
    c = Case(lab, mode, (1, 2), "a: backend added")
    cap = None
    if mode == "backends":
        cap = Capture(lab, "router", "be3", "udp port 6081", "be3-geneve")
    fwd0 = counter(lab, 3, "second_chance_fwd") if mode == "backends" \
        else 0
    c.reload(1, (1, 2, 3))
    broken = c.broken()
    moved = sum(1 for o, b in zip(slot_owners(lab, 1, c.flows.last),
                                  c.before) if o != b)
    extra = f"; {moved} on moved slots"
    fwd = 0
    if mode == "backends":
        fwd = counter(lab, 3, "second_chance_fwd") - fwd0
        extra += f", {fwd} segments passed on by backend3"
    result(lab, results, mode, "(a) backend added", broken, extra)
    check(not broken, f"{c.name}: connections broken: {summary(broken)}")
    check(moved > 100, f"{c.name}: slots moved: {moved}")
    if mode == "backends":
        check(fwd >= moved, f"{c.name}: backend3 passed on {fwd} "
                            f"segments for {moved} moved connections")
        cap.stop()
        check_capture(cap)
    c.close()


def case_b(lab, mode, results):
    c = Case(lab, mode, (1, 2, 3), "b: backend drained, then removed")
    fwd0 = passed_on(lab, (1, 2))
    c.reload(1, (1, 2, 3), draining=(3,))
    broken = c.broken()
    fwd = passed_on(lab, (1, 2)) - fwd0
    on3 = [i for i, b in enumerate(c.before) if b == "backend3"]
    check(on3, f"{c.name}: no connection on backend3")
    # the drained backend's flows end (FIN both ways, through the LB)
    r = c.flows.cmd("close " + " ".join(map(str, on3)))
    closed = r["closed"]
    c.reload(1, (1, 2))
    broken.update(c.broken())
    result(lab, results, mode, "(b) backend drained, removed", broken,
           f"; {len(on3)} on the drained backend, {closed} closed "
           "cleanly before its removal" +
           (f", {fwd} segments passed on to it" if mode == "backends"
            else ""))
    check(closed == len(on3), f"{c.name}: {closed} of {len(on3)} "
                              "connections on the drained backend closed")
    check(not broken, f"{c.name}: connections broken: {summary(broken)}")
    if mode == "backends":
        check(fwd >= len(on3), f"{c.name}: {fwd} segments passed on to "
                               f"the drained backend ({len(on3)} flows)")
    c.close()


def case_c(lab, mode, results):
    c = Case(lab, mode, (1, 2), "c: LB host replaced")
    route_to(lab, 2)
    broken = c.broken()
    result(lab, results, mode, "(c) LB host replaced", broken)
    check(not broken, f"{c.name}: connections broken: {summary(broken)}")
    c.close()


def case_d(lab, mode, results):
    c = Case(lab, mode, (1, 2), "d: backend added, LB host replaced")
    c.reload(1, (1, 2, 3))
    c.reload(2, (1, 2, 3))
    broken = c.broken()
    check(not broken, f"{c.name}: broken before the move: {summary(broken)}")
    # lb2 has no state: its program answers from the new table
    owners = slot_owners(lab, 2, c.flows.last)
    moved = {i for i, (o, b) in enumerate(zip(owners, c.before)) if o != b}
    to3 = sum(1 for i in moved if owners[i] == "backend3")
    check(len(moved) > 100 and to3 > len(moved) * 0.9,
          f"{c.name}: slots moved: {len(moved)}, to backend3 {to3}")
    fwd0 = passed_on(lab, (1, 2, 3))
    route_to(lab, 2)
    broken = c.broken()
    fwd = passed_on(lab, (1, 2, 3)) - fwd0
    resets = sum(1 for why in broken.values() if "ECONNRESET" in why)
    result(lab, results, mode, "(d) backend added + LB host replaced",
           broken, f"; {len(moved)} on moved slots; {resets} reset, "
           f"{len(broken) - resets} otherwise" +
           (f"; {fwd} segments passed on" if mode == "backends" else ""))
    if mode == "backends":
        check(not broken, f"{c.name}: connections broken: "
                          f"{summary(broken)}")
        check(fwd >= len(moved), f"{c.name}: {fwd} segments passed on for "
                                 f"{len(moved)} flows on moved slots")
    else:
        # a stateful LB host without the flows' state: those on moved
        # slots go to the new owner, which has no socket and resets them
        check(set(broken) == moved,
              f"{c.name}: broken {len(broken)}, on moved slots "
              f"{len(moved)}; broken on unmoved slots: "
              f"{sorted(set(broken) - moved)[:5]}, unbroken on moved: "
              f"{sorted(moved - set(broken))[:5]}")
    c.close()


def ct_entries(lab):
    return lab.lbctl(1, "conntrack", "--all", "--limit", "1")["matched"]


def case_flood(lab, mode, results):
    c = Case(lab, mode, (1, 2), "SYN flood")
    ct0 = ct_entries(lab)
    log = os.path.join(lab.path, f"synflood-{mode}.log")
    flood = lab.spawn("client", [sys.executable, SYNFLOOD, VIP4, "7",
                                 "-n", str(FLOOD_N), "--seconds",
                                 str(FLOOD_S)], log=log)
    during = c.broken()
    still = flood.poll() is None
    try:
        flood.wait(timeout=2 * FLOOD_S + 30)
    except subprocess.TimeoutExpired:
        raise TestFailure("the SYN flood did not end")
    sent = json.loads(open(log).read())
    after = c.broken()
    ct1 = ct_entries(lab)
    result(lab, results, mode, "SYN flood", {**during, **after},
           f"; {sent['sent']} SYNs in {sent['seconds']} s, the "
           f"connections answered {'during' if still else 'after'} it; "
           f"conntrack entries {ct0} -> {ct1}")
    check(still, f"{c.name}: the flood ({sent}) ended before the "
                 "connections had answered twice: not a test of 'during'")
    check(sent["sent"] > FLOOD_N / 4, f"{c.name}: flood sent {sent}")
    check(not during and not after,
          f"{c.name}: connections broken during {summary(during)}, "
          f"after {summary(after)}")
    if mode == "lb":
        check(ct1 <= ct0, f"{c.name}: conntrack grew by the flood: "
                          f"{ct0} -> {ct1}")
    c.close()


def check_capture(cap):
    """backend3's link in (a), "backends" mode, as tshark decodes it: both
    Geneve forms with lbd's option, from lb1 and passed on by backend3."""
    bad = tshark_errors(cap.file)
    check(not bad, f"tshark finds malformed or erroneous frames: {bad[:5]}")
    frames = tshark_fields(
        cap.file, ["frame.number", "frame.protocols", "ip.src", "ipv6.src",
                   "geneve.proto_type", "geneve.option.class",
                   "geneve.option.type", "geneve.option.unknown.data",
                   "ip.dst", "ipv6.dst", "tcp.checksum.status",
                   "tcp.checksum", "tcp.checksum_calculated"],
        "geneve && tcp")
    seen = {}
    for (num, protos, src4, src6, ptype, cls, typ, data, dst4, dst6,
         *csum) in frames:
        classes = [int(x, 0) for x in cls.split(",")]
        types = [int(x, 0) for x in typ.split(",")]
        where = f"frame {num} ({protos})"
        check(classes[-1] == 0xFFDB and types[-1] == 0x01,
              f"{where}: lbd's option last: {cls} {typ}")
        flags = int(data.split(",")[-1][:2], 16)
        outer = (src4 or src6).split(",")[0]
        passed = bool(flags & 0x02)
        check(passed == (outer in (BE4[2], BE6[2])),
              f"{where}: flags {flags:#x} from {outer}")
        fam = "ipv6" if src6 else "ip"
        inner_dst = (dst6 or dst4).split(",")[-1]
        if int(ptype, 0) in (0x0800, 0x86DD):
            # lbd's untranslated form: the client's packet, to the VIP
            check(protos.startswith(f"eth:ethertype:{fam}:udp:geneve:"
                                    f"{fam}:tcp"),
                  f"{where}: IP in Geneve decoded")
            check(classes == [0xFFDB], f"{where}: only lbd's option: {cls}")
            check(inner_dst in [v for _, v, f in SERVICES if f == "ipip"],
                  f"{where}: inner destination {inner_dst}")
            form = "untranslated"
        else:
            check(int(ptype, 0) == 0x6558, f"{where}: protocol {ptype}")
            check(protos.startswith(f"eth:ethertype:{fam}:udp:geneve:eth:"
                                    f"ethertype:{fam}:tcp"),
                  f"{where}: Ethernet and IP in Geneve decoded")
            check(classes == [0x014B, 0xFFDB] and types[0] == 0x81,
                  f"{where}: Cilium's option, then lbd's: {cls} {typ}")
            check(inner_dst in BE4[:3] + BE6[:3],
                  f"{where}: inner destination {inner_dst}")
            form = "Cilium's"
        check(tcp_sum_ok(*(x.split(",")[-1] for x in csum)),
              f"{where}: inner TCP checksum {csum}")
        key = f"{form} {fam} {'passed on' if passed else 'from the LB'}"
        seen[key] = seen.get(key, 0) + 1
    for form in ("untranslated", "Cilium's"):
        for fam in ("ip", "ipv6"):
            for how in ("from the LB", "passed on"):
                check(seen.get(f"{form} {fam} {how}", 0) > 10,
                      f"tshark: {form} {fam} Geneve {how}: {seen}")
    print(f"tshark on backend3's link: {seen}, none malformed")


def test():
    t0 = time.monotonic()
    results = []
    with Lab("flow", backends=3, lbs=2) as lab:
        # second chance leaves by bpf_fib_lookup, which needs forwarding
        for i in (1, 2, 3):
            lab.exec(f"backend{i}", ["sysctl", "-qw",
                                     "net.ipv4.conf.all.forwarding=1",
                                     "net.ipv6.conf.all.forwarding=1"])
        # The backends have not talked to each other before: no
        # neighbour entries for their peers, as on a segment where
        # backends only ever answer clients. The second chance resolves
        # them itself, or the first segment it passes on is delivered
        # locally instead (second_chance_no_route) and reset.
        lab.start_backends(http=(), udp=(), node_extra=PEERS)
        for mode in MODES:
            for case in (case_a, case_b, case_c, case_d, case_flood):
                t = time.monotonic()
                case(lab, mode, results)
                print(f"  {time.monotonic() - t:.1f} s", flush=True)
    print("\n".join(results))
    print(f"test_flow_state: {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    run(test)
