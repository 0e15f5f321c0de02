#!/usr/bin/env python3
"""A process of a "pod" for test_node.py: run inside a network namespace,
moved into the cgroup lbd's socket programs are attached to before it
does anything, and answering on stdout in JSON.

  nodepod.py CGROUP tcp ADDR PORT N    N connections: who answered, and
                                       getpeername() of each
  nodepod.py CGROUP udp ADDR PORT      one datagram: who answered, from
  nodepod.py CGROUP bind PORT          bind() a TCP socket: the errno
  nodepod.py CGROUP hold ADDR PORT     one connection held open; a line
                                       on stdin asks it again
  nodepod.py CGROUP loop ADDR PORT     connects (each asked who answers)
                                       until a line on stdin: how many,
                                       the failures, the longest time
                                       between two that worked
"""
import json
import os
import socket
import sys


def ask_tcp(s):
    s.sendall(b"who\n")
    data = b""
    while not data.endswith(b"\n"):
        c = s.recv(100)
        if not c:
            break
        data += c
    return data.decode().strip()


def loop(fam, addr, port):
    import select
    import time
    print(json.dumps({"started": True}), flush=True)
    n, errors, last, gap = 0, [], time.monotonic(), 0.0
    while not select.select([sys.stdin], [], [], 0)[0]:
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            try:
                s.connect((addr, port))
                name = ask_tcp(s)
            except OSError as e:
                errors.append(e.errno)
                continue
        now = time.monotonic()
        if name:
            gap = max(gap, now - last)
            last = now
            n += 1
        else:
            errors.append("no answer")
    print(json.dumps({"n": n, "errors": errors[:10],
                      "n_errors": len(errors), "max_ms": gap * 1e3}))


def main():
    cg, op = sys.argv[1], sys.argv[2]
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    fam = socket.AF_INET6 if ":" in (sys.argv[3] if len(sys.argv) > 3
                                     else "") else socket.AF_INET
    if op == "loop":
        loop(fam, sys.argv[3], int(sys.argv[4]))
    elif op == "tcp":
        addr, port, n = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        out = []
        for _ in range(n):
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                try:
                    s.connect((addr, port))
                except OSError as e:
                    out.append({"error": e.errno})
                    continue
                out.append({"name": ask_tcp(s),
                            "peer": list(s.getpeername()[:2])})
        print(json.dumps(out))
    elif op == "udp":
        addr, port = sys.argv[3], int(sys.argv[4])
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.settimeout(10)
            s.sendto(b"who\n", (addr, port))
            data, src = s.recvfrom(100)
            print(json.dumps({"name": data.decode().strip(),
                              "from": list(src[:2])}))
    elif op == "bind":
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("0.0.0.0", int(sys.argv[3])))
                print(json.dumps({"errno": 0}))
            except OSError as e:
                print(json.dumps({"errno": e.errno}))
    elif op == "hold":
        addr, port = sys.argv[3], int(sys.argv[4])
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect((addr, port))
        print(json.dumps({"name": ask_tcp(s)}), flush=True)
        for _ in sys.stdin:
            print(json.dumps({"name": ask_tcp(s)}), flush=True)


main()
