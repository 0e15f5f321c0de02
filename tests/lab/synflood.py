#!/usr/bin/env python3
"""Spoofed TCP SYNs, a new source address per packet, for the SYN flood
test (tests/integration/test_flow_state.py); run in the client namespace.

usage: synflood.py VIP PORT [-n COUNT] [--seconds S] [--sources PREFIX16]
Sends COUNT SYNs (at most 65534; valid checksums, so that the backends'
stacks take them) to VIP:PORT spread over S seconds (as fast as one raw
socket goes if that is slower; never longer than 2 S), source i the i-th
address of PREFIX16 (a /16 of the lab's 198.18.0.0/15 that nothing in the
lab routes back: default 198.19.0.0, so the SYN-ACKs die at the router).
Prints {"sent": N, "seconds": T} at the end.
"""
import argparse
import ipaddress
import json
import socket
import struct
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def syn(src, dst, sport, dport, seq):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02,
                      64240, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6,
                     0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vip")
    ap.add_argument("port", type=int)
    ap.add_argument("-n", type=int, default=50000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--sources", default="198.19.0.0")
    a = ap.parse_args()
    base = int(ipaddress.IPv4Address(a.sources))
    check = ipaddress.IPv4Network(f"{a.sources}/16")
    dst = socket.inet_aton(a.vip)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    n = min(a.n, 65534)
    t0 = time.monotonic()
    deadline = t0 + 2 * a.seconds
    sent = 0
    for i in range(n):
        addr = ipaddress.IPv4Address(base + 1 + i)
        assert addr in check
        pkt = syn(addr.packed, dst, 1024 + i % 60000, a.port, i * 7919)
        try:
            s.sendto(pkt, (a.vip, 0))
        except (BlockingIOError, OSError):
            # the socket's buffer is full: a flood may lose some
            continue
        sent += 1
        if i % 256 == 0:
            now = time.monotonic()
            if now > deadline:
                break
            # paced: the flood lasts S seconds, however fast the machine
            due = t0 + a.seconds * i / n
            if due > now:
                time.sleep(due - now)
    print(json.dumps({"sent": sent,
                      "seconds": round(time.monotonic() - t0, 3)}))


if __name__ == "__main__":
    main()
