#!/usr/bin/env python3
"""lbctl and the metrics against a running lbd (issue: lbctl and
observability).

Every command's table and JSON, checked against what real traffic did:
per-backend counters add up to the connections made; explain names the
backend 200 real connections reached (from conntrack, and again from the
Maglev table once conntrack is flushed); conntrack lists the flows a
client holds; drain keeps established flows, moves new ones, survives a
reload and a restart, and drain --wait returns once the flows are gone;
monitor shows a drop caused on purpose, filtered by kind and service;
the read-only group can read and not change; the Prometheus endpoint,
parsed with the Prometheus text-format parser, agrees with lbctl.

lbctl like ipvsadm: list's nested table, field by field, for the known
config, its active flows and drains, its rates (0 with no traffic,
not 0 under traffic), --watch stopped by SIGINT; options after the
command; --version; an unknown command named without a daemon;
permission denied naming the socket's group; drain --wait's progress
(a line a second, one line redrawn on a terminal) and --timeout.
"""
import grp
import json
import os
import pty
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import time

from labtest import (BE4, BE6, LBCTL, LBD, SOURCE, Holder, Lab, Lbd,
                     TestFailure, check, run, svc, wait_until)

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's python3-prometheus-client, when python3 is not Debian's
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

VIP, VIP_G, VIP6 = "203.0.113.10", "203.0.113.11", "2001:db8:f::10"
VIP_S, VIP_A = "203.0.113.12", "203.0.113.13"  # SNAT, session affinity
CLIENT = "192.0.2.2"
NAME = {BE4[0]: "backend1", BE4[1]: "backend2",
        BE6[0]: "backend1", BE6[1]: "backend2"}
METRICS = "127.0.0.1:9470"
GROUP = "nogroup"

# Connections with known client ports, each reporting the backend that
# answered: [[client_port, backend], ...]
FLOWS = r"""
import json, socket, sys
vip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = []
for _ in range(n):
    s = socket.create_connection((vip, port), timeout=5)
    cport = s.getsockname()[1]
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
    s.close()
    out.append([cport, data.split(b"\r\n\r\n", 1)[1].decode().split()[0]])
print(json.dumps(out))
"""

# Datagrams to a VIP port without a service: dropped as no_service.
NO_SERVICE = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[3])):
    s.sendto(b"x", (sys.argv[1], int(sys.argv[2])))
"""


def services():
    b4, b6 = BE4[:2], BE6[:2]
    return ",\n".join([
        svc("web", VIP, 80, [(a, 80) for a in b4]),
        svc("web6", VIP6, 80, [(a, 80) for a in b6]),
        svc("gnv", VIP_G, 80, [(a, 8080) for a in b4], fwd="geneve"),
        svc("echo", VIP, 7, [(a, 7) for a in b4]),
        svc("dns", VIP, 30053, [(a, 30053) for a in b4], proto="udp"),
        svc("snat", VIP_S, 80, [(a, 8080) for a in b4], fwd="snat"),
        svc("aff", VIP_A, 80, [(a, 80) for a in b4],
            extra='session_affinity = "client_ip"; '),
    ])


class Ctl:
    """lbctl in the LB host's namespace."""

    def __init__(self, lab, sock):
        self.lab, self.sock = lab, sock

    def cmd(self, *args, user=None, group=GROUP):
        # the C locale: the tree of list in ASCII
        cmd = ["env", "LC_ALL=C", LBCTL, "-s", self.sock, *args]
        if user:
            cmd = ["setpriv", "--reuid=nobody", f"--regid={group}",
                   "--clear-groups", *cmd]
        return self.lab.exec("lb1", cmd, check=False)

    def json(self, *args, user=None):
        r = self.cmd("--json", *args, user=user)
        if r.returncode != 0:
            raise TestFailure(f"lbctl {' '.join(args)}: {r.returncode}:\n"
                              f"{r.stdout}{r.stderr}")
        return json.loads(r.stdout)

    def table(self, *args):
        r = self.cmd(*args)
        if r.returncode != 0:
            raise TestFailure(f"lbctl {' '.join(args)}: {r.stderr}")
        return r.stdout

    def fails(self, *args, user=None, group=GROUP):
        r = self.cmd(*args, user=user, group=group)
        check(r.returncode == 1, f"lbctl {' '.join(args)} should fail: "
                                 f"{r.returncode} {r.stdout}")
        return r.stderr

    def popen(self, *args, stderr_file, stdout=subprocess.PIPE):
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.lab.ns("lb1"), "env", "LC_ALL=C",
             LBCTL, "-s", self.sock, *args],
            stdout=stdout, stderr=open(stderr_file, "w"), text=True)
        self.lab.procs.append(p)
        return p


def close(holder):
    """Ends a Holder: its connections close (FIN from the client)."""
    holder.p.stdin.close()
    holder.p.wait(timeout=10)


def backends_by_addr(ctl, service):
    return {b["address"]: b for b in ctl.json("backends", service)["backends"]}


def table_rows(text, first_col):
    """Rows of an lbctl table whose first column is first_col, split."""
    return [l.split() for l in text.splitlines() if l.split()[:1] == [first_col]]


# -- lbctl like ipvsadm -------------------------------------------------

HEAD = ["ADDRESS", "NAME", "FWD", "TABLE", "WEIGHT", "STATE", "HEALTH",
        "ACTIVE"]
RATE_HEAD = ["PKT/S", "BYTES/S", "NEW/S"]


def list_rows(text):
    """list's table: its header's words, and per service its words and
    its backends' (tree mark, words)."""
    lines = text.splitlines()
    rows = []
    for line in lines[1:]:
        m = re.match(r"([|`]-)(\S.*)$", line)
        if m:
            check(rows, f"a backend line before any service:\n{text}")
            rows[-1][1].append((m.group(1), m.group(2).split()))
        else:
            check(line and not line[0].isspace(), f"list line {line!r}")
            rows.append((line.split(), []))
    return lines[0].split(), rows


def config_rows():
    """The services of services() as list must show them, in order:
    ADDRESS, NAME, FWD and the backends' addresses."""
    v4 = lambda port: [f"{a}:{port}" for a in BE4[:2]]
    return [(f"{VIP}:80/tcp", "web", "ipip", v4(80)),
            (f"[{VIP6}]:80/tcp", "web6", "ipip",
             [f"[{a}]:80" for a in BE6[:2]]),
            (f"{VIP_G}:80/tcp", "gnv", "geneve", v4(8080)),
            (f"{VIP}:7/tcp", "echo", "ipip", v4(7)),
            (f"{VIP}:30053/udp", "dns", "ipip", v4(30053)),
            (f"{VIP_S}:80/tcp", "snat", "snat", v4(8080)),
            (f"{VIP_A}:80/tcp", "aff", "ipip", v4(80))]


def check_list(ctl):
    """list, with no traffic yet: every field of the known config."""
    text = ctl.table("list")
    head, rows = list_rows(text)
    check(head == HEAD, f"list header {head}")
    svcs = {s["name"]: s for s in ctl.json("services")["services"]}
    bes = backends_by_label(ctl)
    # in lbd's order of services (the services command's)
    check([r[0][1] for r in rows] == list(svcs), f"list:\n{text}")
    want = {r[1]: r for r in config_rows()}
    check(set(want) == set(svcs), f"services {list(svcs)}")
    for srow, brows in rows:
        addr, name, fwd, baddrs = want[srow[1]]
        check(srow == [addr, name, fwd, str(svcs[name]["table_size"]), "0"],
              f"service line {srow}, want {addr} {name} {fwd}")
        check([m for m, _ in brows] == ["|-", "`-"], f"tree {brows}")
        shares = 0
        for ba, (_, brow) in zip(baddrs, brows):
            share = bes[(name, ba)]["share"]
            shares += share
            check(brow == [ba, f"{100 * share:.1f}%", "1", "active",
                           "none", "0"], f"{name}: backend line {brow}")
        check(abs(shares - 1) < 1e-9, f"{name}: shares {shares}")
    check(max(len(l) for l in text.splitlines()) <= 100,
          f"list wider than 100 columns:\n{text}")
    # no command is list; --rate before the command's name
    check(ctl.table() == text, f"lbctl alone:\n{ctl.table()}")
    head, rows = list_rows(ctl.table("--rate", "--interval", "0.2", "list"))
    check(head == HEAD + RATE_HEAD, f"list --rate header {head}")
    # nothing sent: every rate is 0
    for srow, brows in rows:
        check(srow[-3:] == ["0"] * 3 and
              all(b[-3:] == ["0"] * 3 for _, b in brows),
              f"rates without traffic: {srow} {brows}")
    # --json: the same services, each with its backends inside
    d = ctl.json("list", "--rate", "--interval", "0.2")
    check(0.2 <= d["interval_s"] < 30, f"interval {d['interval_s']}")
    check([s["name"] for s in d["services"]] == list(svcs) and
          all([b["backend"] for b in s["backends"]] == want[s["name"]][3]
              and s["rate"]["packets_per_s"] == 0 and
              all(b["rate"]["new_flows_per_s"] == 0 for b in s["backends"])
              for s in d["services"]),
          f"list --json: {d}")
    print(f"list: {len(rows)} services, fields as configured; "
          f"rates 0 without traffic")
    return text


def backends_by_label(ctl):
    return {(b["service"], b["backend"]): b
            for b in ctl.json("backends")["backends"]}


def check_list_rate(ctl, lab):
    """list --rate while the client sends to web for the whole interval:
    web's rates and its backends' are not 0, the other services' are."""
    out = os.path.join(lab.path, "rate.out")
    p = ctl.popen("list", "--rate", "--interval", "2",
                  stderr_file=out + ".err", stdout=open(out, "w"))
    deadline = time.monotonic() + 120
    sent = 0
    while p.poll() is None and time.monotonic() < deadline:
        sent += lab.client("http", f"http://{VIP}/", "-n", "20", "-c",
                           "4")["ok"]
    check(p.wait(timeout=30) == 0 and sent,
          f"list --rate: {p.returncode}, {sent} requests sent "
          f"{open(out + '.err').read()}")
    text = open(out).read()
    head, rows = list_rows(text)
    check(head == HEAD + RATE_HEAD, f"header {head}")
    for srow, brows in rows:
        rates = [int(x) for x in srow[-3:]]
        if srow[1] == "web":
            check(all(r > 0 for r in rates) and
                  all(int(x) > 0 for _, b in brows for x in b[-3:]),
                  f"web under traffic:\n{text}")
            check(rates[1] > rates[0] > rates[2], f"web's rates {rates}")
        else:
            check(rates == [0, 0, 0] and
                  all(b[-3:] == ["0"] * 3 for _, b in brows),
                  f"{srow[1]} had no traffic:\n{text}")
    check(max(len(l) for l in text.splitlines()) <= 100,
          f"list --rate wider than 100 columns:\n{text}")
    print(f"list --rate under traffic ({sent} requests):\n{text}")


def check_watch(ctl, lab):
    """--watch redraws until SIGINT, which ends it cleanly after a
    whole frame."""
    out = os.path.join(lab.path, "watch.out")
    p = ctl.popen("list", "--watch", "0.2", stderr_file=out + ".err",
                  stdout=open(out, "w"))
    wait_until(lambda: open(out).read().count("Every 0.2s: lbctl list") >= 3,
               10, "three frames of list --watch")
    p.send_signal(signal.SIGINT)
    check(p.wait(timeout=30) == 0,
          f"list --watch after SIGINT: {p.returncode} "
          f"{open(out + '.err').read()}")
    frames = open(out).read().split("Every 0.2s: lbctl list")[1:]
    for f in frames:
        head, rows = list_rows(f.split("\n\n", 1)[1].rstrip("\n"))
        check(head == HEAD and len(rows) == 7 and
              all(len(b) == 2 for _, b in rows) and f.endswith("\n\n"),
              f"a frame of list --watch: {f!r}")
    print(f"list --watch: {len(frames)} frames, SIGINT ended it with 0")


def check_options_anywhere(ctl, lab):
    """Global options after the command, as before it."""
    def run_(*args):
        r = lab.exec("lb1", [LBCTL, *args], check=False)
        check(r.returncode == 0, f"lbctl {' '.join(args)}: {r.returncode} "
                                 f"{r.stderr}")
        return json.loads(r.stdout)

    want = [s["name"] for s in ctl.json("services")["services"]]
    got = run_("services", "--json", "-s", ctl.sock)
    check([s["name"] for s in got["services"]] == want, f"services {got}")
    got = run_("backends", "web", f"--socket={ctl.sock}", "-j")
    check({b["service"] for b in got["backends"]} == {"web"} and
          len(got["backends"]) == 2, f"backends web: {got}")
    got = run_("conntrack", "--limit", "1", "--json", "--all", "-s",
               ctl.sock)
    check("matched" in got and len(got["entries"]) <= 1, f"conntrack {got}")
    print("options after the command: services, backends, conntrack")


def check_without_daemon(lab):
    """--version, and an unknown command named, with no lbd to ask."""
    nosock = os.path.join(lab.path, "none.sock")
    for args in (["-s", nosock, "frobnicate", "--json"], ["frobnicate"]):
        r = subprocess.run([LBCTL, *args], capture_output=True, text=True)
        check(r.returncode == 2 and r.stdout == "" and
              "lbctl: unknown command 'frobnicate'" in r.stderr and
              "lbd running" not in r.stderr,
              f"lbctl {' '.join(args)}: {r.returncode} {r.stderr!r}")
    ver = subprocess.run([LBD, "--version"], capture_output=True,
                         text=True).stdout.split()[1]
    for args in (["--version"], ["status", "--version", "-s", nosock]):
        r = subprocess.run([LBCTL, *args], capture_output=True, text=True)
        check(r.returncode == 0 and r.stdout == f"lbctl {ver}\n",
              f"lbctl {' '.join(args)}: {r.returncode} {r.stdout!r}")
    # -s after the command is the socket tried
    r = subprocess.run([LBCTL, "services", "-s", nosock],
                       capture_output=True, text=True)
    check(r.returncode == 1 and f"{nosock}: No such file" in r.stderr,
          f"services -s after: {r.returncode} {r.stderr!r}")
    print(f"without lbd: lbctl {ver}, unknown command named, exit 2")


def check_denied(ctl, lab):
    """Permission denied says who may use the socket."""
    err = ctl.fails("status", user=True, group="daemon")
    check(f"lbctl: permission denied: {ctl.sock} is readable by group "
          f"'{GROUP}' (or root)" in err, f"denied: {err!r}")
    path = os.path.join(lab.path, "root-only.sock")
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(path)
        os.chmod(path, 0o600)
        s.listen()
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                            "--clear-groups", LBCTL, "-s", path, "status"],
                           capture_output=True, text=True)
        check(r.returncode == 1 and
              f"lbctl: permission denied: {path} is root's only" in r.stderr,
              f"a socket of root's: {r.returncode} {r.stderr!r}")
    finally:
        s.close()
        if os.path.exists(path):
            os.unlink(path)
    print(f"permission denied names group {GROUP}, or root alone")


def on_tty(lab, cmd, err_file, timeout=60):
    """Runs cmd in lb1 with stdout on a terminal: what it wrote there,
    and its exit status."""
    master, slave = pty.openpty()
    p = subprocess.Popen(["ip", "netns", "exec", lab.ns("lb1"), *cmd],
                         stdout=slave, stderr=open(err_file, "w"))
    lab.procs.append(p)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1)[0]:
                continue
            try:
                d = os.read(master, 4096)
            except OSError:  # EIO: the last writer is gone
                break
            if not d:
                break
            out += d
    finally:
        os.close(master)
    return out.decode(), p.wait(timeout=30)


def check_drain_progress(ctl, lab, on1):
    """drain --wait --timeout while on1 flows are held on BE4[0]: a line a
    second, exit 1 and why at the timeout; on a terminal, one line."""
    drained = f"drained echo {BE4[0]}:7"
    r = ctl.cmd("drain", BE4[0], "--service", "echo", "--wait",
                "--timeout", "2")
    lines = r.stdout.splitlines()
    secs = [int(m.group(1)) for m in
            (re.fullmatch(rf"{on1} flows left on the backend after (\d+) s "
                          r"\(timeout 2 s\)", l) for l in lines[1:]) if m]
    check(r.returncode == 1 and
          f"lbctl: drain: timed out: {on1} flows still on the backend "
          f"after 2 s" in r.stderr and lines[0] == drained and
          len(secs) == len(lines) - 1 >= 2 and secs == sorted(set(secs)),
          f"drain --wait --timeout 2: {r.returncode}\n{r.stdout}{r.stderr}")
    err = os.path.join(lab.path, "tty.err")
    out, rc = on_tty(lab, [LBCTL, "-s", ctl.sock, "drain", BE4[0],
                           "--service", "echo", "--wait", "--timeout", "2"],
                     err)
    # the terminal turns \n into \r\n; \r ESC[K redraws the line
    redraws = out.split("\r\x1b[K")
    check(rc == 1 and redraws[0] == drained + "\r\n" and
          len(redraws) >= 3 and out.count("\n") == 2 and
          all(re.fullmatch(rf"{on1} flows left on the backend after \d+ s "
                           r"\(timeout 2 s\)", x) for x in redraws[1:-1]) and
          redraws[-1].endswith("\r\n") and
          "timed out" in open(err).read(),
          f"drain --wait on a terminal: {rc} {out!r} {open(err).read()!r}")
    print(f"drain --wait progress: {len(secs)} lines in 2 s, "
          f"{len(redraws) - 1} redraws of one line on a terminal; "
          "--timeout exit 1")


def check_status(ctl, lb, lab):
    st = ctl.json("status")
    check(st["role"] == "lb" and st["datapath"]["interface"] == "eth0" and
          st["datapath"]["attached"], f"status: {st['datapath']}")
    link = json.loads(lab.exec("lb1", ["ip", "-j", "-d", "link", "show",
                                       "eth0"]).stdout)[0]
    prog = link.get("xdp", {}).get("prog", {}).get("id")
    check(st["datapath"]["program_id"] == prog,
          f"program id {st['datapath']['program_id']}, the kernel says {prog}")
    check(st["config"]["file"] == lb.conf and
          st["config"]["generation"] == 1 and st["config"]["last_reload"]["ok"],
          f"status config: {st['config']}")
    check(st["bird"]["state"] == "not configured", f"bird: {st['bird']}")
    check(st["services"] == 7 and st["backends"] == 14,
          f"status counts: {st['services']} {st['backends']}")
    t = ctl.table("status")
    check(f"attached on eth0, {st['datapath']['mode']}, program {prog}" in t,
          f"status table:\n{t}")
    check(f"{lb.conf}, generation 1" in t and "not configured" in t,
          f"status table:\n{t}")
    print(f"status: program {prog} on eth0 ({st['datapath']['mode']})")


def check_counters(ctl, lab):
    """100 connections: the per-backend counters add up to them."""
    svc0 = {s["name"]: s for s in ctl.json("services")["services"]}["web"]
    be0 = backends_by_addr(ctl, "web")
    r = lab.client("http", f"http://{VIP}/", "-n", "100", "-c", "8")
    check(r["ok"] == 100, f"100 requests: {r}")
    svc1 = {s["name"]: s for s in ctl.json("services")["services"]}["web"]
    be1 = backends_by_addr(ctl, "web")
    flows = svc1["traffic"]["new_flows"] - svc0["traffic"]["new_flows"]
    check(flows == 100, f"service web: {flows} new flows, want 100")
    pkts = svc1["traffic"]["packets"] - svc0["traffic"]["packets"]
    be_pkts = sum(be1[a]["traffic"]["packets"] - be0[a]["traffic"]["packets"]
                  for a in BE4[:2])
    check(pkts == be_pkts and pkts >= 400,
          f"packets: service {pkts}, backends {be_pkts}")
    for a in BE4[:2]:
        got = be1[a]["traffic"]["new_flows"] - be0[a]["traffic"]["new_flows"]
        want = r["by_backend"].get(NAME[a], 0)
        check(got == want, f"{a}: {got} new flows, the servers answered "
                           f"{want} ({r['by_backend']})")
    shares = [be1[a]["share"] for a in BE4[:2]]
    check(abs(sum(shares) - 1) < 1e-9 and all(0.3 < s < 0.7 for s in shares),
          f"Maglev shares {shares}")
    # the tables say what the JSON says
    rows = table_rows(ctl.table("backends", "web"), "web")
    check(len(rows) == 2, f"backends table: {rows}")
    for row in rows:
        b = be1[row[1].rsplit(":", 1)[0]]
        check(int(row[9]) == b["traffic"]["new_flows"] and
              int(row[7]) == b["traffic"]["packets"] and row[5] == "active",
              f"backends table row {row} against {b}")
    rows = table_rows(ctl.table("services"), "web")
    check(int(rows[0][8]) == svc1["traffic"]["new_flows"] and
          rows[0][4] == "lb", f"services table {rows}")
    check(svc1["flow_state"] == "lb" and svc1["udp_flow_state"] == "lb",
          f"services JSON: {svc1}")
    print(f"100 connections: {dict(r['by_backend'])}, counters agree")
    return svc1


def explain(ctl, cport, vip=VIP, port=80):
    return ctl.json("explain", f"{CLIENT}:{cport}", f"{vip}:{port}/tcp")


def check_explain(ctl, lab):
    """explain names the backend that real connections reached."""
    out = lab.exec("client", [sys.executable, "-c", FLOWS, VIP, "80", "200"])
    flows = json.loads(out.stdout)
    check(len(flows) == 200, f"200 connections: {len(flows)}")
    whys = {}
    for cport, backend in flows:
        e = explain(ctl, cport)
        check(e["verdict"] == "tx" and e["backend"] and
              NAME[e["backend"]["address"]] == backend,
              f"flow from port {cport} reached {backend}; explain: {e}")
        whys[e["why"]] = whys.get(e["why"], 0) + 1
    check(set(whys) <= {"conntrack", "maglev"}, f"why: {whys}")
    # without conntrack entries, the Maglev table alone decides, and the
    # same way
    r = ctl.json("conntrack", "flush", "--vip", f"{VIP}:80")
    check(r["flushed"] >= 1, f"flush: {r}")
    left = ctl.json("conntrack", "--vip", f"{VIP}:80", "--all")
    check(left["matched"] == 0, f"entries left after the flush: {left}")
    for cport, backend in flows:
        e = explain(ctl, cport)
        check(e["why"] == "maglev" and not e["conntrack"]["exists"] and
              NAME[e["backend"]["address"]] == backend and
              e["maglev"]["backend"] == e["backend"]["backend"],
              f"flow from port {cport} ({backend}) by Maglev: {e}")
    # a TCP probe leaves no entry behind
    left = ctl.json("conntrack", "--vip", f"{VIP}:80", "--all")
    check(left["matched"] == 0, f"explain left entries: {left}")
    t = ctl.table("explain", f"{CLIENT}:{flows[0][0]}", f"{VIP}:80/tcp")
    check("why       maglev" in t and "verdict   tx: ipip to" in t and
          "mode      flow_state lb, udp_flow_state lb\n" in t and
          "previous owner none" in t, f"explain table:\n{t}")
    # flow_state = "lb": conntrack is consulted, the fresh table names no
    # previous owner, and no lbd option is written
    e = explain(ctl, flows[0][0])
    check(e["flow_state"] == "lb" and not e["stateless"] and
          e["conntrack"]["consulted"] and
          e["maglev"]["previous_owner"] is None and "option" not in e and
          e["maglev"]["table_size"] == 1021, f"explain modes: {e}")
    # Geneve and IPv6 are read off the output packet as well
    e = explain(ctl, 40000, VIP_G)
    check(e["encap"] == "geneve" and e["backend"]["port"] == 8080 and
          e["why"] == "maglev", f"explain gnv: {e}")
    e = ctl.json("explain", f"[2001:db8:c::2]:40000", f"[{VIP6}]:80/tcp")
    check(e["encap"] == "ipip" and e["backend"]["address"] in BE6[:2],
          f"explain web6: {e}")
    # a UDP probe's conntrack entry is taken back
    e = ctl.json("explain", f"{CLIENT}:40000", f"{VIP}:30053/udp")
    check(e["why"] == "maglev" and e["backend"]["port"] == 30053,
          f"explain dns: {e}")
    left = ctl.json("conntrack", "--vip", f"{VIP}:30053", "--all")
    check(left["matched"] == 0, f"the UDP probe left an entry: {left}")
    # SNAT: the backend is read off the translated packet, and the
    # probe's port is given back (no reverse entry left). (Real SNAT
    # traffic is test_snat's: it needs backends without the companion.)
    nat = value(samples(scrape(lab)[1]), "lbd_nat_entries", family="ipv4")
    for cport in range(40000, 40010):
        e = explain(ctl, cport, VIP_S)
        check(e["encap"] == "translated" and e["backend"]["port"] == 8080
              and e["why"] == "maglev" and
              e["backend"]["backend"] == e["maglev"]["backend"],
              f"explain snat: {e}")
    check(value(samples(scrape(lab)[1]), "lbd_nat_entries",
                family="ipv4") == nat, "the SNAT probes kept ports")
    # session affinity: every port of a client goes alike, the first
    # connection's choice is kept, and explain says so
    flows = json.loads(lab.exec("client", [sys.executable, "-c", FLOWS,
                                           VIP_A, "80", "10"]).stdout)
    check(len({b for _, b in flows}) == 1, f"affinity: {flows}")
    ctl.json("conntrack", "flush", "--vip", f"{VIP_A}:80")
    for cport in (40000, 40001, flows[0][0]):
        e = explain(ctl, cport, VIP_A)
        check(e["why"] == "affinity" and e["affinity"]["usable"] and
              NAME[e["backend"]["address"]] == flows[0][1] and
              not e["maglev"]["client_port_hashed"],
              f"explain with affinity: {e}")
    e = ctl.json("explain", "192.0.2.99:40000", f"{VIP_A}:80/tcp")
    check(e["why"] == "maglev" and not e["affinity"]["exists"],
          f"explain for a client without affinity: {e}")
    check(not ctl.json("explain", "192.0.2.99:40000",
                       f"{VIP_A}:80/tcp")["affinity"]["exists"],
          "the probe left an affinity entry behind")
    e = explain(ctl, 40000, VIP, 81)
    check(e["verdict"] == "drop" and e["backend"] is None and
          "no_service" in e["counted"], f"explain of no service: {e}")
    print(f"explain agrees with 200 real connections ({whys}), and by "
          "Maglev alone after a flush")


def check_conntrack(ctl, holder, answers):
    ct = ctl.json("conntrack", "--vip", f"{VIP}:7")
    check(ct["matched"] == len(answers) and not ct["truncated"],
          f"conntrack of the held connections: {ct['matched']}")
    by = {}
    for e in ct["entries"]:
        check(e["client"] == CLIENT and e["service"] == "echo" and
              e["live"] and not e["closing"], f"entry {e}")
        by[NAME[e["backend"].rsplit(":", 1)[0]]] = \
            by.get(NAME[e["backend"].rsplit(":", 1)[0]], 0) + 1
    want = {b: answers.count(b) for b in set(answers)}
    check(by == want, f"conntrack by backend {by}, the servers {want}")
    one = ctl.json("conntrack", "--vip", f"{VIP}:7", "--backend", BE4[0])
    check(one["matched"] == want.get("backend1", 0), f"--backend: {one}")
    lim = ctl.json("conntrack", "--service", "echo", "--limit", "3")
    check(len(lim["entries"]) == 3 and lim["truncated"], f"--limit: {lim}")
    t = ctl.table("conntrack", "--vip", f"{VIP}:7")
    rows = table_rows(t, "tcp")
    check(len(rows) == len(answers) and
          f"{len(answers)} entries matched" in t, f"conntrack table:\n{t}")
    # explain on a held connection: conntrack, and the probe's RST does
    # not mark the real flow closing
    cport = ct["entries"][0]["client_port"]
    e = explain(ctl, cport, VIP, 7)
    check(e["why"] == "conntrack" and
          e["backend"]["backend"] == ct["entries"][0]["backend"],
          f"explain of a held connection: {e}")
    again = ctl.json("conntrack", "--client", f"{CLIENT}:{cport}")
    check(again["matched"] == 1 and not again["entries"][0]["closing"],
          f"the probe marked the flow closing: {again}")
    check(holder.ping() == answers, "held connections still answer")
    # list counts them too, per backend
    _, rows = list_rows(ctl.table("list"))
    echo = [r for r in rows if r[0][1] == "echo"][0]
    check(echo[0][-1] == str(len(answers)) and
          [b[0] for _, b in echo[1]] == [f"{a}:7" for a in BE4[:2]] and
          [b[-1] for _, b in echo[1]] ==
          [str(answers.count(NAME[a])) for a in BE4[:2]],
          f"list's active flows of echo: {echo}, the servers {answers}")
    print(f"conntrack: {ct['matched']} held connections, {by}")


def check_drain(ctl, lab, lb):
    holder = Holder(lab, VIP, 7)
    check(holder.open(20)["opened"] == 20, "20 held connections")
    answers = holder.ping()
    check(set(answers) == {"backend1", "backend2"}, f"spread: {answers}")
    check_conntrack(ctl, holder, answers)
    on1 = answers.count("backend1")

    # read-only group: reads, cannot change
    mode = os.stat(ctl.sock)
    check(stat.S_IMODE(mode.st_mode) == 0o660 and
          mode.st_gid == grp.getgrnam(GROUP).gr_gid,
          f"socket mode {oct(mode.st_mode)} gid {mode.st_gid}")
    check(ctl.json("services", user=True)["services"], "group member reads")
    err = ctl.fails("drain", BE4[0], user=True)
    check("permission denied" in err, f"group member drains: {err}")

    d = ctl.json("drain", BE4[0], "--service", "echo")
    check(d["matched"] == 1 and d["backends"] == [f"echo {BE4[0]}:7"],
          f"drain: {d}")
    b = backends_by_addr(ctl, "echo")[BE4[0]]
    check(b["state"] == "draining" and b["drained"], f"drained: {b}")
    check(backends_by_addr(ctl, "web")[BE4[0]]["state"] == "active",
          "only the echo service's backend drained")
    check(holder.ping() == answers, "established flows stay on a drained "
                                    "backend")
    fresh = Holder(lab, VIP, 7)
    fresh.open(10)
    check(set(fresh.ping()) == {"backend2"}, "new flows avoid it")
    close(fresh)
    t = ctl.table("backends", "echo")
    check([r[5] for r in table_rows(t, "echo")] == ["draining*", "active"],
          f"backends table after drain:\n{t}")
    _, rows = list_rows(ctl.table("list"))
    echo = [r for r in rows if r[0][1] == "echo"][0]
    check([b[3] for _, b in echo[1]] == ["draining*", "active"],
          f"list after drain: {echo}")

    # survives a reload and a restart
    lb.reload()
    check(backends_by_addr(ctl, "echo")[BE4[0]]["drained"], "after reload")
    lb.stop()
    lb.start()
    check("runtime drains restored" in lb.read_log(), lb.read_log())
    b = backends_by_addr(ctl, "echo")[BE4[0]]
    check(b["drained"] and b["state"] == "draining", f"after restart: {b}")
    check(holder.ping() == answers, "held connections across the restart")
    check(ctl.json("status")["drains"] == 1, "status counts the drain")

    # --wait --timeout while the flows stay: progress, then failure
    check_drain_progress(ctl, lab, on1)
    # --wait returns once the backend's flows are gone, saying how many
    # are left each second until then
    wait_out = os.path.join(lab.path, "wait.out")
    waiter = ctl.popen("drain", BE4[0], "--service", "echo", "--wait",
                       "--timeout", "60", stderr_file=wait_out + ".err",
                       stdout=open(wait_out, "w"))
    left = f"{on1} flows left on the backend after "
    wait_until(lambda: open(wait_out).read().count(left) >= 2, 10,
               "drain --wait saying twice how many flows are left")
    check(waiter.poll() is None and holder.ping() == answers,
          "drain --wait returned while flows were held")
    close(holder)
    wait_until(lambda: waiter.poll() is not None, 40, "drain --wait")
    lines = open(wait_out).read().splitlines()
    check(waiter.returncode == 0 and
          re.fullmatch(r"no flows left on the backend \([0-9.]+ s\)",
                       lines[-1]) and
          all(re.fullmatch(r"\d+ flows left on the backend after \d+ s "
                           r"\(timeout 60 s\)", l) for l in lines[1:-1]),
          f"drain --wait: {waiter.returncode} {lines} "
          f"{open(wait_out + '.err').read()}")
    check(ctl.json("conntrack", "--backend", BE4[0], "--service",
                   "echo")["matched"] == 0, "no live flows left")
    print(f"drain: {on1} held flows stayed on {BE4[0]}, new ones moved; "
          "kept over reload and restart; --wait returned when they closed")

    err = ctl.fails("undrain", f"{BE4[0]}:7", "--service", "web")
    check("not drained" in err, f"undrain of another service: {err}")
    ctl.json("undrain", BE4[0], "--service", "echo")
    check(not backends_by_addr(ctl, "echo")[BE4[0]]["drained"], "undrained")
    check(not os.path.exists(ctl.sock + ".drains"), "drains file removed")
    err = ctl.fails("undrain", BE4[0])
    check("not drained" in err, f"second undrain: {err}")
    again = Holder(lab, VIP, 7)
    again.open(20)
    check(set(again.ping()) == {"backend1", "backend2"}, "undrained: spread")
    close(again)


def check_monitor(ctl, lab):
    err_file = os.path.join(lab.path, "monitor.err")

    def started():
        return "monitoring" in open(err_file).read()

    mon = ctl.popen("--json", "monitor", "--drops", "--count", "1",
                    stderr_file=err_file)
    wait_until(started, 10, "monitor subscribed")
    check(ctl.json("status")["monitor"]["drops"], "the program asked for "
                                                  "drops")
    lab.exec("client", [sys.executable, "-c", NO_SERVICE, VIP, "9999", "1"])
    out, _ = mon.communicate(timeout=10)
    ev = json.loads(out.splitlines()[0])
    check(ev["type"] == "drop" and ev["reason"] == "no_service" and
          ev["client"] == CLIENT and ev["vip"] == VIP and ev["port"] == 9999
          and ev["proto"] == "udp", f"drop event {ev}")
    # the last client gone, the program is told to stop
    wait_until(lambda: not ctl.json("status")["monitor"]["active"], 10,
               "the monitor turned off")

    # by service: a new flow of another service does not show
    mon = ctl.popen("--json", "monitor", "--flows", "--service", "gnv",
                    "--count", "1", stderr_file=err_file)
    wait_until(started, 10, "monitor subscribed")
    check(lab.client("http", f"http://{VIP}/", "-n", "3")["ok"] == 3, "web")
    check(lab.client("http", f"http://{VIP_G}/", "-n", "1")["ok"] == 1, "gnv")
    out, _ = mon.communicate(timeout=10)
    ev = json.loads(out.splitlines()[0])
    check(ev["type"] == "new_flow" and ev["service"] == "gnv" and
          ev["backend"].endswith(":8080"), f"new flow event {ev}")

    # backend changes, as a table
    mon = ctl.popen("monitor", "--health", "--count", "2",
                    stderr_file=err_file)
    wait_until(started, 10, "monitor subscribed")
    ctl.json("drain", BE4[1], "--service", "web")
    ctl.json("undrain", BE4[1], "--service", "web")
    out, _ = mon.communicate(timeout=10)
    lines = out.splitlines()
    check(len(lines) == 2 and
          re.search(rf"backend +drain +web {BE4[1]}:80: draining", lines[0])
          and re.search(rf"backend +undrain +web {BE4[1]}:80: active",
                        lines[1]), f"backend events: {lines}")
    print("monitor: the drop, a new flow of one service, backend changes")


def scrape(lab, path="/metrics"):
    r = lab.exec("lb1", ["curl", "-s", "-w", "\n%{http_code}",
                         f"http://{METRICS}{path}"])
    body, code = r.stdout.rsplit("\n", 1)
    return int(code), body


def samples(text):
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    if key not in m:
        raise TestFailure(f"metric {name}{labels} missing")
    return m[key]


def check_metrics(ctl, lab, lb, drops):
    code, text = scrape(lab)
    check(code == 200, f"/metrics: {code}")
    m = samples(text)
    svcs = {s["name"]: s for s in ctl.json("services")["services"]}
    for name, s in svcs.items():
        for k in ("packets", "bytes", "new_flows"):
            check(value(m, f"lbd_service_{k}_total", service=name) ==
                  s["traffic"][k], f"{name} {k}: metric against lbctl")
        bes = ctl.json("backends", name)["backends"]
        check(sum(value(m, "lbd_backend_new_flows_total", service=name,
                        backend=b["backend"]) for b in bes) ==
              s["traffic"]["new_flows"], f"{name}: backends add up")
        for b in bes:
            check(value(m, "lbd_backend_state", service=name,
                        backend=b["backend"], state=b["state"]) == 1,
                  f"state of {b['backend']}")
            check(value(m, "lbd_backend_healthy", service=name,
                        backend=b["backend"]) == 1, "healthy")
    check(value(m, "lbd_service_info", service="gnv", vip=VIP_G, port="80",
                protocol="tcp", forwarding="geneve",
                source=svcs["gnv"]["source"]) == 1 and
          svcs["gnv"]["source"].startswith(lb.conf + ":"), "service info")
    check(value(m, "lbd_datapath_packets_total", reason="no_service",
                kind="drop") >= drops, "no_service drops counted")
    check(value(m, "lbd_reloads_total") == 1 and
          value(m, "lbd_reload_failures_total") == 0 and
          value(m, "lbd_config_generation") == 2,
          "reloads: one since the restart")
    check(value(m, "lbd_conntrack_capacity", family="ipv4") == 65536,
          "conntrack capacity")
    check(value(m, "lbd_conntrack_entries", family="ipv4") >= 1,
          "conntrack entries")
    check(value(m, "lbd_datapath_attached", interface="eth0",
                mode=ctl.json("status")["datapath"]["mode"]) == 1,
          "attached")
    check(value(m, "lbd_backend_drained", service="echo",
                backend=f"{BE4[0]}:7") == 0, "not drained")
    # a drain shows at the next scrape (snapshots are at most 1 s old)
    ctl.json("drain", BE4[0], "--service", "echo")
    wait_until(lambda: value(samples(scrape(lab)[1]), "lbd_backend_drained",
                             service="echo", backend=f"{BE4[0]}:7") == 1,
               10, "the drain in the metrics")
    ctl.json("undrain", BE4[0], "--service", "echo")
    code, _ = scrape(lab, "/other")
    check(code == 404, f"/other: {code}")
    # the Grafana dashboard asks for nothing lbd does not export: a
    # sample, or a family this lab has none of (no backend is checked
    # here; the parser names a counter's family without _total). Its
    # BGP, Kubernetes and node-role panels are for sections this lab has
    # none of (rendered only when configured): tests/lint/dashboard.py
    # checks those against what lbd renders.
    with open(os.path.join(SOURCE, "packaging", "grafana-lbd.json")) as f:
        used = {n for n in re.findall(r"\blbd_[a-z_]+", f.read())
                if n != "lbd_overview" and not
                n.startswith(("lbd_bird_", "lbd_vip_", "lbd_kubernetes_",
                              "lbd_node_"))}
    fams = {fam.name for fam in text_string_to_metric_families(text)}
    names = {name for name, _ in m} | fams | {f + "_total" for f in fams}
    check(used <= names, f"dashboard metrics not exported: {used - names}")
    print(f"metrics: {len(m)} samples parsed, agreeing with lbctl")


def check_stats(ctl, drops):
    st = {c["reason"]: c for c in ctl.json("stats")["counters"]}
    check(st["no_service"]["packets"] >= drops and
          st["no_service"]["kind"] == "drop", f"stats: {st['no_service']}")
    check(st["new_flow"]["packets"] >= 300, f"new flows {st['new_flow']}")
    rows = {r[0]: r for r in
            (l.split() for l in ctl.table("stats").splitlines()[1:])}
    check(int(rows["no_service"][2]) == st["no_service"]["packets"] and
          rows["no_service"][1] == "drop", f"stats table {rows}")


def check_errors(ctl):
    for args, want in [
            (("explain", "192.0.2.2", f"{VIP}:80/tcp"), "needs a port"),
            (("explain", "192.0.2.2:1", f"{VIP}:80/sctp"), "VIP:PORT/tcp"),
            (("explain", "192.0.2.2:1", f"[{VIP6}]:80/tcp"), "families"),
            (("backends", "nosuch"), "no service named nosuch"),
            (("drain", "198.18.9.9"), "no backend 198.18.9.9"),
            (("conntrack", "--client", "bogus"), "not an IP address")]:
        err = ctl.fails(*args)
        check(want in err, f"lbctl {' '.join(args)}: {err!r}, want {want!r}")


def test():
    with Lab("lbctl") as lab:
        lab.start_backends(vips=(VIP, VIP6, VIP_A))
        sock = os.path.join(lab.path, "lb1.sock")
        conf = lab.lb_conf(services()) + (
            f'control = {{ socket = "{sock}"; metrics_listen = "{METRICS}";'
            f' group = "{GROUP}"; }};\n')
        check_without_daemon(lab)
        lb = Lbd(lab, "lb1", conf).start()
        ctl = Ctl(lab, sock)
        check_status(ctl, lb, lab)
        check_list(ctl)
        check_options_anywhere(ctl, lab)
        check_denied(ctl, lab)
        check_list_rate(ctl, lab)
        check_watch(ctl, lab)
        check_counters(ctl, lab)
        check_explain(ctl, lab)
        check_errors(ctl)
        check_drain(ctl, lab, lb)
        check_monitor(ctl, lab)
        drops = 5
        lab.exec("client", [sys.executable, "-c", NO_SERVICE, VIP, "9998",
                            str(drops)])
        check_stats(ctl, drops)
        lb.reload()
        check_metrics(ctl, lab, lb, drops)


if __name__ == "__main__":
    run(test)
