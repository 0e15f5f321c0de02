#!/usr/bin/env python3
"""What a control socket client may cost the io process (issue 14,
items 9, 10 and 11).

- A request whose "v" is "1", "1abc", true, 1.0 or 1.9 is refused as
  another protocol version; the JSON integer 1 is served.
- A client that pipelines requests and never reads is disconnected, and
  the io process's VmRSS stays under a bound meanwhile (before: 17 MB to
  226 MB in 6 s).
- A member of the read-only group opening connection after connection,
  with the io process's open-file limit lowered to 64: it gets at most
  control.max_clients of them, root's `lbctl status` and a metrics scrape
  still answer, and the io process stays far from 100% CPU (before: the
  accept loop spun at EMFILE and lbctl timed out).
- The io process out of descriptors (its limit lowered under what it
  holds): accepting backs off instead of spinning, and once descriptors
  are free again lbctl answers.
"""
import json
import os
import socket
import subprocess
import sys
import time

from labtest import (BE4, LBCTL, Lab, Lbd, TestFailure, check, run, svc,
                     wait_until)

GROUP = "nogroup"
METRICS = "127.0.0.1:9471"
MAX_CLIENTS = 8
IO_NOFILE = 64
TICK = os.sysconf("SC_CLK_TCK")
# what the pipelining client may add to io's VmRSS: the 4 MiB backlog
# bound, a socket buffer and the allocator's slack, well under it
RSS_BOUND_KB = 48 << 10
# io's share of a CPU while clients besiege it: a backoff costs ~0; the
# spin at EMFILE measured 22-40% here, on a busy 2-core machine
CPU_BOUND = 0.1

# Opens connections to the socket as fast as it can, keeps the ones lbd
# keeps, and reports; then holds them until stdin closes.
GREEDY = r"""
import socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
held, refused = [], 0
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(path)
    except (BlockingIOError, ConnectionRefusedError, OSError):
        s.close()
        continue
    held.append(s)
print(len(held), flush=True)
sys.stdin.read()
"""


def io_pid(lab, lb):
    """The pid of lbd's io process, once it has one."""
    return wait_until(lb.io_pid, 10, "lbd's io process")


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise TestFailure(f"no VmRSS for {pid}")


def cpu_s(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def cpu_share(pid, seconds):
    """The share of one CPU pid used over the next `seconds` (a
    measurement over a window, not a wait for a condition)."""
    t0, c0 = time.monotonic(), cpu_s(pid)
    time.sleep(seconds)
    return (cpu_s(pid) - c0) / (time.monotonic() - t0)


def io_nofile(io, soft, hard):
    """Sets the io process's open-file limit, as its own user,
    processes.user (nothing here may have CAP_SYS_RESOURCE: a hard limit
    only goes down)."""
    subprocess.run(["setpriv", "--reuid=lbd", "--regid=lbd",
                    "--clear-groups", "prlimit", f"--pid={io}",
                    f"--nofile={soft}:{hard}"], check=True)


def request(sock_path, line, timeout=10):
    """One raw request line; the answer, parsed."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall(line.encode() + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    return json.loads(data)


def lbctl_status(lab, sock, user=False, timeout=10):
    cmd = [LBCTL, "-s", sock, "--json", "status"]
    if user:
        cmd = ["setpriv", "--reuid=nobody", f"--regid={GROUP}",
               "--clear-groups", *cmd]
    t0 = time.monotonic()
    try:
        r = lab.exec("lb1", cmd, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"lbctl status{' (group member)' if user else ''}"
                          f" did not answer within {timeout} s")
    return r, time.monotonic() - t0


def scrape(lab):
    r = lab.exec("lb1", ["curl", "-sS", "-m", "10", "-o", "/dev/null",
                         "-w", "%{http_code}", f"http://{METRICS}/metrics"],
                 check=False, timeout=15)
    return r.stdout.strip()


def check_version(sock):
    for v in ['"1"', '"1abc"', "true", "1.9", "1.0", "1e0"]:
        a = request(sock, f'{{"v":{v},"cmd":"status"}}')
        check(a.get("ok") is False and "protocol version" in a.get("error", ""),
              f"v = {v} was served: {a}")
    a = request(sock, '{"v":1,"cmd":"status"}')
    check(a.get("ok") is True, f"v = 1 refused: {a}")
    print("version: only the JSON integer 1 is served")


def check_pipelining(sock, io):
    """Requests without reading: disconnected, VmRSS bounded."""
    base = vm_rss_kb(io)
    peak = base
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.setblocking(False)
    req = b'{"v":1,"cmd":"status"}\n' * 2048
    sent, cut = 0, None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sent < (512 << 20):
        try:
            # whole lines only: a line cut short is a protocol error,
            # which disconnects for another reason
            sent += s.send(req[sent % len(req):])
        except BlockingIOError:
            time.sleep(0.001)
        except (BrokenPipeError, ConnectionResetError) as e:
            cut = e
            break
        peak = max(peak, vm_rss_kb(io))
        if peak - base >= RSS_BOUND_KB:
            break  # failed: no need to see how far it goes
    s.close()
    peak = max(peak, vm_rss_kb(io))
    print(f"pipelining: {sent >> 10} KiB of requests sent, io VmRSS "
          f"{base} kB -> peak {peak} kB, {'cut off' if cut else 'not cut'}")
    check(peak - base < RSS_BOUND_KB,
          f"io grew from {base} kB to {peak} kB under a pipelining client")
    check(cut is not None, f"a client that never reads was not cut off "
                           f"after {sent >> 20} MiB of requests")


def check_greedy(lab, sock, io):
    """A group member holding every connection it can get."""
    io_nofile(io, IO_NOFILE, IO_NOFILE)
    g = subprocess.Popen(["setpriv", "--reuid=nobody", f"--regid={GROUP}",
                          "--clear-groups", sys.executable, "-c", GREEDY,
                          sock, str(4 * IO_NOFILE)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    lab.procs.append(g)
    try:
        held = g.stdout.readline().strip()
        check(held, "the greedy client died")
        share = cpu_share(io, 2)
        check(share < CPU_BOUND, f"io used {share:.0%} of a CPU with the "
                           f"clients taken")
        r, took = lbctl_status(lab, sock)
        check(r.returncode == 0, f"root's lbctl status failed with the "
                                 f"clients taken: {r.stdout}{r.stderr}")
        wait_until(lambda: len(os.listdir(f"/proc/{io}/fd")) < IO_NOFILE - 8,
                   10, "the io process to let the refused clients go")
        code = scrape(lab)
        check(code == "200", f"metrics scrape: {code}")
        r2, _ = lbctl_status(lab, sock, user=True)
        check(r2.returncode != 0 and "too many clients" in r2.stderr,
              f"a group member past the bound: {r2.returncode} "
              f"{r2.stdout}{r2.stderr}")
        fds = len(os.listdir(f"/proc/{io}/fd"))
        print(f"greedy: {held} connections opened, io holds {fds} fds "
              f"(limit {IO_NOFILE}); io CPU {share:.0%}; root's lbctl "
              f"status in {took:.2f} s; metrics {code}")
    finally:
        g.stdin.close()
        g.wait(timeout=10)


def check_emfile(lab, sock, io):
    """The io process out of descriptors: it backs off, and recovers."""
    fds = len(os.listdir(f"/proc/{io}/fd"))
    io_nofile(io, fds, IO_NOFILE)
    g = subprocess.Popen([sys.executable, "-c", GREEDY, sock, "16"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    lab.procs.append(g)
    try:
        check(g.stdout.readline().strip(), "the client died")
        share = cpu_share(io, 2)
        print(f"EMFILE: io at {fds} fds of {fds}, CPU {share:.0%}")
        check(share < CPU_BOUND, f"io used {share:.0%} of a CPU at EMFILE")
    finally:
        g.stdin.close()
        g.wait(timeout=10)
    io_nofile(io, IO_NOFILE, IO_NOFILE)
    r, took = lbctl_status(lab, sock)
    check(r.returncode == 0, f"lbctl status after EMFILE: {r.stderr}")
    print(f"EMFILE: descriptors free again, lbctl status in {took:.2f} s")


def test():
    with Lab("ctllimits", backends=1) as lab:
        sock = os.path.join(lab.path, "lb1.sock")
        conf = lab.lb_conf(svc("web", "203.0.113.10", 80, [(BE4[0], 80)])) + (
            f'control = {{ socket = "{sock}"; metrics_listen = "{METRICS}";'
            f' group = "{GROUP}"; max_clients = {MAX_CLIENTS}; }};\n')
        lb = Lbd(lab, "lb1", conf).start()
        io = io_pid(lab, lb)
        check_version(sock)
        check_pipelining(sock, io)
        r, _ = lbctl_status(lab, sock)
        check(r.returncode == 0, f"lbctl status after the pipelining "
                                 f"client: {r.stderr}")
        check(io_pid(lab, lb) == io, "the io process was restarted")
        check_greedy(lab, sock, io)
        check_emfile(lab, sock, io)
        check(io_pid(lab, lb) == io, "the io process was restarted")


if __name__ == "__main__":
    run(test)
