#!/usr/bin/env python3
"""The lab's backend server: HTTP that names its backend, and UDP echo.

usage: server.py NAME [--http PORT]... [--udp PORT]... [--echo PORT]...
Listens on every address (IPv4 and IPv6) of the namespace it runs in, so
it answers on the backend's own address (Geneve) and on VIPs bound to lo
(IPIP). Each HTTP reply is "NAME <local address> <peer address>\n"; each
UDP datagram comes back prefixed with "NAME "; each line sent to an echo
port comes back as "NAME line" on the same long-lived connection.
"""
import argparse
import http.server
import os
import socket
import socketserver
import sys
import threading


class DualStackHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops SYNs under a concurrent
    # client: a 1 s retransmit that would look like the LB's latency
    request_queue_size = 1024

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def handler_for(name):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self):
            local = self.connection.getsockname()[0].removeprefix("::ffff:")
            peer = self.client_address[0].removeprefix("::ffff:")
            body = f"{name} {local} {peer}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            pass

    return Handler


def udp_echo(name, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    # answer from the address the request was sent to (a VIP on lo)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    s.setsockopt(socket.SOL_IP, 8, 1)  # IP_PKTINFO
    s.bind(("::", port))
    while True:
        data, anc, _, peer = s.recvmsg(65535, 1024)
        s.sendmsg([name.encode() + b" " + data], anc, 0, peer)


class EchoHandler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(self.server.name.encode() + b" " + line)
            self.wfile.flush()


class EchoServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops SYNs under a concurrent
    # client: a 1 s retransmit that would look like the LB's latency
    request_queue_size = 1024

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--http", type=int, action="append", default=[])
    ap.add_argument("--udp", type=int, action="append", default=[])
    ap.add_argument("--echo", type=int, action="append", default=[])
    # readiness apart from the log: a handler's traceback (a prober's
    # reset) shares the log with the line that says so
    ap.add_argument("--ready-file")
    a = ap.parse_args()
    threads = []
    for port in a.http:
        srv = DualStackHTTPServer(("::", port), handler_for(a.name))
        threads.append(threading.Thread(target=srv.serve_forever, daemon=True))
    for port in a.udp:
        threads.append(threading.Thread(target=udp_echo, args=(a.name, port),
                                        daemon=True))
    for port in a.echo:
        srv = EchoServer(("::", port), EchoHandler)
        srv.name = a.name
        threads.append(threading.Thread(target=srv.serve_forever, daemon=True))
    for t in threads:
        t.start()
    print("ready", flush=True)
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write("ready\n")
        os.rename(a.ready_file + ".tmp", a.ready_file)
    for t in threads:
        t.join()


if __name__ == "__main__":
    sys.exit(main())
