#!/usr/bin/env python3
"""Processes for test_node_more.py, answering on stdout in JSON.

  nodemore.py serve NAME PORT          a dual-stack endpoint: answers each
                                       line on TCP PORT and each datagram
                                       on UDP PORT with NAME
  nodemore.py pod CGROUP OP ...        a pod's process, moved into the
                                       cgroup lbd's programs are on first:
    tcp ADDR PORT N                    N connections: who answered (or the
                                       errno) and getpeername() of each
    udp ADDR PORT                      one datagram: who answered, from
    netns                              the namespace's SO_NETNS_COOKIE
    cookie ADDR PORT                   a TCP socket's SO_COOKIE, then on a
                                       line of stdin its connect: who
                                       answered
"""
import json
import os
import socket
import sys

SO_COOKIE = 57
SO_NETNS_COOKIE = 71


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def ask_tcp(s):
    s.sendall(b"who\n")
    data = b""
    while not data.endswith(b"\n"):
        c = s.recv(100)
        if not c:
            break
        data += c
    return data.decode().strip()


def serve(name, port):
    import socketserver
    import threading

    class TCP(socketserver.StreamRequestHandler):
        def handle(self):
            for _ in self.rfile:
                self.wfile.write(name.encode() + b"\n")
                self.wfile.flush()

    class Server(socketserver.ThreadingTCPServer):
        address_family = socket.AF_INET6
        allow_reuse_address = True
        daemon_threads = True

        def server_bind(self):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                                   0)
            super().server_bind()

    def udp():
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", port))
        while True:
            _, src = s.recvfrom(100)
            s.sendto(name.encode() + b"\n", src)

    threading.Thread(target=udp, daemon=True).start()
    srv = Server(("::", port), TCP)
    print("ready", flush=True)
    srv.serve_forever()


def one_tcp(addr, port):
    with socket.socket(family(addr), socket.SOCK_STREAM) as s:
        s.settimeout(10)
        try:
            s.connect((addr, port))
        except OSError as e:
            return {"error": e.errno}
        return {"name": ask_tcp(s), "peer": list(s.getpeername()[:2])}


def pod(cg, op, args):
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    if op == "tcp":
        print(json.dumps([one_tcp(args[0], int(args[1]))
                          for _ in range(int(args[2]))]))
    elif op == "udp":
        with socket.socket(family(args[0]), socket.SOCK_DGRAM) as s:
            s.settimeout(10)
            s.sendto(b"who\n", (args[0], int(args[1])))
            data, src = s.recvfrom(100)
            print(json.dumps({"name": data.decode().strip(),
                              "from": list(src[:2])}))
    elif op == "netns":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            c = s.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8)
        print(json.dumps({"netns": str(int.from_bytes(c, "little"))}))
    elif op == "cookie":
        addr, port = args[0], int(args[1])
        with socket.socket(family(addr), socket.SOCK_STREAM) as s:
            c = s.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8)
            print(json.dumps({"cookie": str(int.from_bytes(c, "little"))}),
                  flush=True)
            sys.stdin.readline()
            s.settimeout(10)
            s.connect((addr, port))
            print(json.dumps({"name": ask_tcp(s)}), flush=True)


if sys.argv[1] == "serve":
    serve(sys.argv[2], int(sys.argv[3]))
else:
    pod(sys.argv[2], sys.argv[3], sys.argv[4:])
