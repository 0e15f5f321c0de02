#!/usr/bin/env python3
"""An endpoint for test_node.py: answers each line on TCP PORT and each
datagram on UDP PORT with NAME."""
import socket
import socketserver
import sys
import threading

name, port = sys.argv[1], int(sys.argv[2])


class TCP(socketserver.StreamRequestHandler):
    def handle(self):
        for _ in self.rfile:
            self.wfile.write(name.encode() + b"\n")
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        _, src = s.recvfrom(100)
        s.sendto(name.encode() + b"\n", src)


threading.Thread(target=udp, daemon=True).start()
srv = Server(("0.0.0.0", port), TCP)
print("ready", flush=True)
srv.serve_forever()
