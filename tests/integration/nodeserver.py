#!/usr/bin/env python3
"""An endpoint for the node role's tests: answers each line on TCP PORT
and each datagram on UDP PORT with NAME, and with --peer also the address
it came from ("NAME 192.0.2.2"), which tells whether a path kept the
client's address.

usage: nodeserver.py NAME PORT [--peer]"""
import socket
import socketserver
import sys
import threading

name, port = sys.argv[1], int(sys.argv[2])
peer = "--peer" in sys.argv[3:]


def answer(addr):
    return (f"{name} {addr}" if peer else name).encode() + b"\n"


class TCP(socketserver.StreamRequestHandler):
    def handle(self):
        for _ in self.rfile:
            self.wfile.write(answer(self.client_address[0]))
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        _, src = s.recvfrom(100)
        s.sendto(answer(src[0]), src)


threading.Thread(target=udp, daemon=True).start()
srv = Server(("0.0.0.0", port), TCP)
print("ready", flush=True)
srv.serve_forever()
