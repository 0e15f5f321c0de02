#!/usr/bin/env python3
"""lbd-bench-health: how fast health checks act, and what they cost.

Prints, in the lab (tests/lab/lab.sh, as root):
  1. the time from a backend's failure to its removal from the datapath
     (its entry in lbd_backends turning "down"), for a server that stops
     (connections refused) and for a host that goes away (checks time
     out);
  2. the time from the failure of a VIP's last backend to the VIP's
     route leaving the router's kernel table (BIRD on both sides);
  3. the CPU that checking 10,000 backends every second takes: lbd's
     privileged process and its prober, with checks started, failed and
     started late (the checker falling behind).

usage: lbd-bench-health [--trials N] [--backends N] [--seconds S]
                        [--only removal|route|cpu]
Set LAB_PREFIX_BASE to keep its labs apart from others (default: bench).
"""
import argparse
import functools
import os
import random
import statistics
import sys
import time

SOURCE = os.environ.get("LBD_SOURCE", "@LBD_SOURCE@")
os.environ.setdefault("LBD_SOURCE", SOURCE)
os.environ.setdefault("LBD_BUILD", "@LBD_BUILD@")
os.environ.setdefault("LAB_PREFIX_BASE", "bench")
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))

from labtest import (BE4, LBCTL, Lab, Lbd, check, svc,  # noqa: E402
                     wait_until)

INTERVAL, TIMEOUT, RISE, FALL = 1.0, 0.5, 2, 2
HEALTH = (f'health = {{ type = "tcp"; interval = {INTERVAL}; '
          f'timeout = {TIMEOUT}; rise = {RISE}; fall = {FALL}; }};')
POLL = 0.005


print = functools.partial(print, flush=True)


def poll(cond, timeout):
    """Seconds until cond() holds, polled every POLL s."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise RuntimeError("timed out")
        time.sleep(POLL)
    return time.monotonic() - t0


def summary(xs):
    return (f"median {statistics.median(xs) * 1000:6.0f} ms, "
            f"min {min(xs) * 1000:6.0f} ms, max {max(xs) * 1000:6.0f} ms "
            f"({len(xs)} trials)")


def at_random_phase():
    """A failure comes at any point of a check's interval, not right
    after the check that just reported."""
    time.sleep(random.uniform(0, INTERVAL))


def dp_state(lab, backend):
    for b in lab.lbctl(1, "backends", "web")["backends"]:
        if b["backend"] == backend:
            return b["state"]
    return None


def bench_removal(lab, trials):
    """A backend's failure to its removal from the datapath."""
    b2 = f"{BE4[1]}:80"
    refused, timedout = [], []
    for _ in range(trials):
        wait_until(lambda: lab.backends_health()[("web", b2)] == "up", 15,
                   "backend2 up")
        at_random_phase()
        lab.stop_server(2)
        refused.append(poll(lambda: dp_state(lab, b2) == "down", 15))
        lab.restart_server(2)
    for _ in range(trials):
        wait_until(lambda: lab.backends_health()[("web", b2)] == "up", 15,
                   "backend2 up")
        at_random_phase()
        # the host drops off the network: its switch port goes down
        lab.exec("router", ["ip", "link", "set", "be2", "down"])
        timedout.append(poll(lambda: dp_state(lab, b2) == "down", 15))
        lab.exec("router", ["ip", "link", "set", "be2", "up"])
    print(f"1. failure -> removal from the datapath (interval "
          f"{INTERVAL:g} s, timeout {TIMEOUT:g} s, fall {FALL}):")
    print(f"   server stopped (refused):  {summary(refused)}")
    print(f"   host gone (timeouts):      {summary(timedout)}")
    print(f"   (expected: the {FALL} failed checks take "
          f"{(FALL - 1) * INTERVAL:g}-{FALL * INTERVAL:g} s after the "
          f"failure, plus the timeout when nothing answers)")


def bench_route(lab, trials):
    """The last backend's failure to the route's withdrawal."""
    took = []
    for _ in range(trials):
        wait_until(lambda: lab.route("203.0.113.10/32"), 15, "the route")
        wait_until(lambda: set(lab.backends_health().values()) == {"up"},
                   15, "every backend up")
        at_random_phase()
        lab.stop_server(1)
        lab.stop_server(2)
        took.append(poll(lambda: not lab.route("203.0.113.10/32"), 15))
        lab.restart_server(1)
        lab.restart_server(2)
    print(f"2. last backend's failure -> route withdrawn at the router:")
    print(f"   server stopped (refused):  {summary(took)}")


def removal_and_route(trials, only):
    with Lab("health-removal", backends=2, bgp=True) as lab:
        lab.start_backends()
        conf = lab.lb_conf(
            svc("web", "203.0.113.10", 80, [(BE4[0], 80), (BE4[1], 80)],
                extra=HEALTH),
            top=lab.control_conf() + lab.bgp_conf())
        Lbd(lab, "lb1", conf).start()
        if only in (None, "removal"):
            bench_removal(lab, trials)
        if only in (None, "route"):
            bench_route(lab, trials)


# 10,000 backends: NADDR addresses on backend1, each with NPORT ports; one
# listener per port on every address, which accepts and closes.
LISTENER = r"""
import selectors, socket, sys
ports = range(int(sys.argv[1]), int(sys.argv[1]) + int(sys.argv[2]))
sel = selectors.DefaultSelector()
for p in ports:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", p))
    s.listen(4096)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        while True:
            try:
                c, _ = key.fileobj.accept()
            except BlockingIOError:
                break
            c.close()
"""


def cpu_ticks(pid):
    """(user, system) clock ticks of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def bench_cpu(n, seconds):
    naddr = 100
    nport = (n + naddr - 1) // naddr
    addrs = [f"198.18.1.{100 + i}" for i in range(naddr)]
    with Lab("health-cpu", backends=1) as lab:
        for a in addrs:
            lab.exec("backend1", ["ip", "addr", "add", f"{a}/32",
                                  "dev", "eth0"])
        log = os.path.join(lab.path, "listener.log")
        lab.spawn("backend1", [sys.executable, "-c", LISTENER, "20000",
                               str(nport)], log=log)
        wait_until(lambda: open(log).read().startswith("ready"), 30,
                   "the listeners")
        services = []
        left = n
        for p in range(nport):
            be = [(a, 20000 + p) for a in addrs[:min(naddr, left)]]
            left -= len(be)
            if not be:
                break
            h = ('health = { type = "tcp"; via = "address"; interval = 1; '
                 'timeout = 0.5; rise = 2; fall = 3; };')
            services.append(svc(f"s{p}", "203.0.113.10", 20000 + p, be,
                                extra=h))
        conf = lab.lb_conf(",\n".join(services), top=lab.control_conf())
        conf = conf.replace("max_backends = 8192;", "max_backends = 16384;")
        lb = Lbd(lab, "lb1", conf).start(timeout=120)
        try:
            wait_until(lambda: lab.lbctl(1, "status")["health"]["up"] == n,
                       60, f"{n} backends up")
        except Exception:
            print(lab.lbctl(1, "status")["health"], file=sys.stderr)
            print(lb.read_log()[-3000:], file=sys.stderr)
            raise
        lbd_pid = lb.proc.pid
        prober = [p for p in children(lbd_pid) if comm(p) == "lbd-prober"]
        check(len(prober) == 1, f"one prober: {prober}")
        prober = prober[0]
        # the max lag is reported per prober period: one period settles
        time.sleep(3)
        st0 = lab.lbctl(1, "status")["health"]
        c0 = (cpu_ticks(lbd_pid), cpu_ticks(prober))
        t0 = time.monotonic()
        lag = 0.0
        end = t0 + seconds
        while time.monotonic() < end:
            time.sleep(2)
            lag = max(lag, lab.lbctl(1, "status")["health"]["max_lag_ms"])
        t = time.monotonic() - t0
        c1 = (cpu_ticks(lbd_pid), cpu_ticks(prober))
        st1 = lab.lbctl(1, "status")["health"]
        hz = os.sysconf("SC_CLK_TCK")
        runs = st1["runs"] - st0["runs"]
        print(f"3. health checks of {n} backends (tcp, via address), every "
              f"1 s, over {t:.0f} s:")
        print(f"   checks started: {runs / t:8.0f} per second "
              f"(failed {st1['failed'] - st0['failed']}, started an "
              f"interval late {st1['late'] - st0['late']}, latest start "
              f"{lag:.0f} ms after its time)")
        for name, i in (("prober process", 1), ("privileged process", 0)):
            u = 100 * (c1[i][0] - c0[i][0]) / hz / t
            k = 100 * (c1[i][1] - c0[i][1]) / hz / t
            print(f"   CPU, {name + ':':20s} {u + k:5.1f} % of one core "
                  f"({u:.1f} % user, {k:.1f} % system)")
        print(f"   ({os.cpu_count()} cores. The system time holds the "
              f"kernel's work for every handshake at both ends and the "
              f"router's forwarding: veth runs the receiver's side in the "
              f"sender's context. The listeners' own CPU is not counted.)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--backends", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--only", choices=("removal", "route", "cpu"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("lbd-bench-health: run as root")
    if a.only in (None, "removal", "route"):
        removal_and_route(a.trials, a.only)
    if a.only in (None, "cpu"):
        bench_cpu(a.backends, a.seconds)


if __name__ == "__main__":
    main()
