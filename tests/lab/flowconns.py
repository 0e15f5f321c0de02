#!/usr/bin/env python3
"""Many long-lived TCP connections that keep exchanging data, for the
flow state tests (tests/integration/test_flow_state.py); run in the
client namespace against server.py's echo ports.

usage: flowconns.py [--interval S] TARGET...
  TARGET is ADDR,PORT,COUNT: COUNT connections to ADDR:PORT.

Each connection sends "SEQ\\n" every S seconds (spread over the
interval) and waits for its answer, "BACKEND SEQ\\n", before it sends the
next; every answer is checked (the sequence number, and the backend, which
must stay the first one that answered). One thread, selectors.

Driven on stdin, one JSON line out per command:
  open             opens every connection (each answered once before it
                   is counted as open); {"opened": N, "errors": [...]}
  mark             later answers count only for messages sent from now on
  settle K T       waits until every live connection (not failed, not
                   closed) has answered K messages sent after the mark,
                   at most T seconds; then the status
  status           per connection: target, local port, backend, answers
                   since the mark, error (reset, wrong answer, another
                   backend) or null, closed
  close I...       closes connections I (indices) gracefully: FIN, then
                   the server's FIN; an error if anything else comes
  quit
"""
import argparse
import errno
import heapq
import json
import os
import selectors
import socket
import sys
import time


class Conn:
    def __init__(self, idx, addr, port):
        self.idx = idx
        self.addr = addr
        self.port = port
        self.sock = None
        self.local_port = None
        self.backend = None
        self.buf = b""
        self.seq = 0
        self.sent_at = None     # time the outstanding message was sent
        self.answers = 0
        self.after_mark = 0
        self.error = None
        self.closing = False
        self.closed = False

    def live(self):
        return self.error is None and not self.closing and not self.closed

    def state(self):
        return {"target": f"{self.addr},{self.port}",
                "port": self.local_port, "backend": self.backend,
                "answers": self.answers, "after_mark": self.after_mark,
                "error": self.error, "closed": self.closed,
                "outstanding_s": (round(time.monotonic() - self.sent_at, 3)
                                  if self.sent_at else None)}


class Driver:
    def __init__(self, targets, interval):
        self.conns = []
        for addr, port, count in targets:
            for _ in range(count):
                self.conns.append(Conn(len(self.conns), addr, port))
        self.interval = interval
        self.sel = selectors.DefaultSelector()
        self.timers = []        # (when, idx)
        self.mark = 0.0
        self.settle = None      # (K, deadline) while a settle waits

    # -- a connection's life -------------------------------------------

    def fail(self, c, why):
        if c.error is None and not c.closed:
            c.error = why
        self.drop(c)

    def drop(self, c):
        if c.sock is not None:
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
            c.sock = None
        c.sent_at = None

    def send(self, c):
        if not c.live() or c.sock is None or c.sent_at is not None:
            return
        c.seq += 1
        try:
            # a few bytes into an idle socket's buffer: never blocks
            c.sock.send(b"%d\n" % c.seq)
        except OSError as e:
            self.fail(c, f"send: {errno.errorcode.get(e.errno, e)}")
            return
        c.sent_at = time.monotonic()

    def readable(self, c):
        try:
            data = c.sock.recv(4096)
        except OSError as e:
            self.fail(c, f"recv: {errno.errorcode.get(e.errno, e)}")
            return
        if not data:
            if c.closing:
                c.closed = True
                c.closing = False
                self.drop(c)
            else:
                self.fail(c, "eof")
            return
        if c.closing:
            self.fail(c, f"data after close: {data[:40]!r}")
            return
        c.buf += data
        while b"\n" in c.buf:
            line, c.buf = c.buf.split(b"\n", 1)
            words = line.decode(errors="replace").split()
            if len(words) != 2 or words[1] != str(c.seq) or \
                    c.sent_at is None:
                self.fail(c, f"wrong answer {line[:40]!r} to {c.seq}")
                return
            if c.backend is None:
                c.backend = words[0]
            elif words[0] != c.backend:
                self.fail(c, f"moved from {c.backend} to {words[0]}")
                return
            if c.sent_at >= self.mark:
                c.after_mark += 1
            c.answers += 1
            c.sent_at = None
            heapq.heappush(self.timers,
                           (time.monotonic() + self.interval, c.idx))

    # -- commands ---------------------------------------------------------

    def open(self):
        errors = []
        for c in self.conns:
            fam = socket.AF_INET6 if ":" in c.addr else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(5)
            try:
                s.connect((c.addr, c.port))
            except OSError as e:
                s.close()
                c.error = f"connect: {e}"
                errors.append(c.idx)
                continue
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.sock = s
            c.local_port = s.getsockname()[1]
            self.sel.register(s, selectors.EVENT_READ, c)
            # the first message at once, the next ones spread over the
            # interval so the load is even
            self.send(c)
        # every connection answers once before it counts as open
        deadline = time.monotonic() + 30
        while any(c.live() and c.answers == 0 for c in self.conns) and \
                time.monotonic() < deadline:
            self.step(deadline)
        for c in self.conns:
            if c.live() and c.answers == 0:
                self.fail(c, "no first answer")
            if c.error and c.idx not in errors:
                errors.append(c.idx)
        return {"opened": sum(1 for c in self.conns if c.live()),
                "errors": [self.conns[i].error for i in errors[:10]]}

    def close(self, idxs):
        for i in idxs:
            c = self.conns[i]
            if not c.live():
                continue
            c.closing = True
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                c.closing = False
                self.fail(c, f"shutdown: {e}")
        deadline = time.monotonic() + 15
        while any(self.conns[i].closing for i in idxs) and \
                time.monotonic() < deadline:
            self.step(deadline)
        for i in idxs:
            if self.conns[i].closing:
                self.conns[i].closing = False
                self.fail(self.conns[i], "no FIN from the server")
        return {"closed": sum(1 for i in idxs if self.conns[i].closed)}

    def status(self):
        return {"conns": [c.state() for c in self.conns],
                "since_mark_s": round(time.monotonic() - self.mark, 3)}

    def command(self, line):
        w = line.split()
        if not w:
            return None
        if w[0] == "open":
            return self.open()
        if w[0] == "mark":
            self.mark = time.monotonic()
            for c in self.conns:
                c.after_mark = 0
            return {"mark": True}
        if w[0] == "settle":
            self.settle = (int(w[1]), time.monotonic() + float(w[2]))
            return None
        if w[0] == "status":
            return self.status()
        if w[0] == "close":
            return self.close([int(x) for x in w[1:]])
        if w[0] == "quit":
            sys.exit(0)
        return {"error": f"unknown command {w[0]}"}

    def settled(self):
        k, deadline = self.settle
        return time.monotonic() > deadline or all(
            c.after_mark >= k for c in self.conns if c.live())

    # -- the loop ---------------------------------------------------------

    def step(self, until):
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, i = heapq.heappop(self.timers)
            self.send(self.conns[i])
        wake = min(until, self.timers[0][0] if self.timers else until)
        for key, _ in self.sel.select(max(0.0, min(0.2, wake - now))):
            if key.data == "stdin":
                self.stdin_ready = True
            else:
                self.readable(key.data)

    def run(self):
        # raw reads of stdin: a buffered reader could hold a second
        # command where select() no longer sees it
        fd = sys.stdin.fileno()
        self.sel.register(fd, selectors.EVENT_READ, "stdin")
        pending = b""
        while True:
            self.stdin_ready = False
            self.step(time.monotonic() + 0.2)
            if self.settle and self.settled():
                self.settle = None
                print(json.dumps(self.status()), flush=True)
            if self.stdin_ready:
                data = os.read(fd, 4096)
                if not data:
                    return
                pending += data
            while b"\n" in pending and not self.settle:
                line, pending = pending.split(b"\n", 1)
                out = self.command(line.decode())
                if out is not None:
                    print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    targets = []
    for t in a.targets:
        addr, port, count = t.split(",")
        targets.append((addr, int(port), int(count)))
    Driver(targets, a.interval).run()


if __name__ == "__main__":
    main()
