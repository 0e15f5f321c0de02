#!/usr/bin/env python3
"""The lab's traffic client, run in the client namespace; prints JSON.

  client.py http URL [-n N] [-c CONCURRENCY] [--human]
      N GET requests, each on a new connection (so each a new flow).
  client.py udp ADDR PORT [-n N]
      N datagrams from N source ports, each waiting for its echo.
  client.py hold ADDR PORT
      Long-lived echo connections, driven on stdin, one JSON line out per
      command: "open K" opens K connections; "ping" sends a line on each
      and reports which backend answered (or the error); "quit".
"""
import argparse
import collections
import concurrent.futures
import http.client
import json
import socket
import sys
import time
import urllib.parse


def one_get(url, timeout):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        c.request("GET", u.path or "/")
        peer = c.sock.getpeername()[0]
        r = c.getresponse()
        body = r.read().decode().split()
        return {"status": r.status, "backend": body[0], "local": body[1],
                "seen_as": body[2], "peer": peer}
    except OSError as e:
        return {"error": str(e)}
    finally:
        c.close()


def report(r, n):
    """The human form of an http run's result."""
    print(f"  answered {r['ok']} of {n} in {r['seconds']} s "
          f"({n / r['seconds']:.0f} requests/s)")
    for b, c in sorted(r["by_backend"].items()):
        print(f"  {b}: {c:5d}  {'#' * (c * 50 // max(1, r['ok']))}")
    print("  the client talked to:", ", ".join(r["peers"]))
    print("  the servers saw requests addressed to:", ", ".join(r["locals"]))
    for e in r["errors"]:
        print("  error:", e)


def cmd_http(a):
    by = collections.Counter()
    fails, peers, locals_ = [], collections.Counter(), collections.Counter()
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(a.c) as ex:
        for r in ex.map(lambda _: one_get(a.url, a.timeout), range(a.n)):
            if "error" in r or r["status"] != 200:
                fails.append(r.get("error", r.get("status")))
                continue
            by[r["backend"]] += 1
            peers[r["peer"]] += 1
            locals_[r["local"]] += 1
    r = {"ok": sum(by.values()), "fail": len(fails), "errors": fails[:5],
         "by_backend": by, "peers": peers, "locals": locals_,
         "seconds": round(time.monotonic() - t0, 3)}
    if a.human:
        report(r, a.n)
    else:
        print(json.dumps(r))


def cmd_udp(a):
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    by, fails, peers = collections.Counter(), 0, collections.Counter()
    for i in range(a.n):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(a.timeout)
        try:
            s.sendto(b"ping %d\n" % i, (a.addr, a.port))
            data, peer = s.recvfrom(1024)
            by[data.split()[0].decode()] += 1
            peers[peer[0]] += 1
        except OSError:
            fails += 1
        finally:
            s.close()
    print(json.dumps({"ok": sum(by.values()), "fail": fails,
                      "by_backend": by, "peers": peers}))


def cmd_hold(a):
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    conns = []
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "open":
            opened = 0
            for _ in range(int(words[1])):
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.settimeout(a.timeout)
                try:
                    s.connect((a.addr, a.port))
                    conns.append([s, s.makefile("rb")])
                    opened += 1
                except OSError as e:
                    conns.append([None, str(e)])
            out = {"opened": opened, "total": len(conns)}
        elif words[0] == "ping":
            out = {"answers": []}
            for c in conns:
                if c[0] is None:
                    out["answers"].append("error: " + c[1])
                    continue
                try:
                    c[0].sendall(b"ping\n")
                    reply = c[1].readline().decode().split()
                    out["answers"].append(reply[0] if reply else "error: eof")
                except OSError as e:
                    out["answers"].append("error: " + str(e))
        elif words[0] == "quit":
            break
        else:
            out = {"error": "unknown command"}
        print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("http")
    h.add_argument("url")
    h.add_argument("-n", type=int, default=100)
    h.add_argument("-c", type=int, default=16)
    h.add_argument("--timeout", type=float, default=5)
    h.add_argument("--human", action="store_true",
                   help="a report for people instead of JSON")
    u = sub.add_parser("udp")
    u.add_argument("addr")
    u.add_argument("port", type=int)
    u.add_argument("-n", type=int, default=100)
    u.add_argument("--timeout", type=float, default=2)
    k = sub.add_parser("hold")
    k.add_argument("addr")
    k.add_argument("port", type=int)
    k.add_argument("--timeout", type=float, default=5)
    a = ap.parse_args()
    {"http": cmd_http, "udp": cmd_udp, "hold": cmd_hold}[a.cmd](a)


if __name__ == "__main__":
    main()
