#!/usr/bin/env python3
"""Direct server return end to end (issue: the backend companion).

Real TCP and UDP from the client through lbd on the LB host to backends
running lbd in the backend role, and straight back: IPIP and Geneve (with
port translation), IPv4 and IPv6. Replies never cross the LB; the LB to
backend link carries well-formed IPIP/Geneve as tshark decodes it; spoofed
encapsulated packets from an untrusted source never reach the servers.
"""
import os
import signal
import socket
import struct
import subprocess

from labtest import (BE4, BE6, Lab, Lbd, bpf_counter, check, run, snmp,
                     svc, wait_until)

VIP4, VIP4G = "203.0.113.10", "203.0.113.11"
VIP6, VIP6G = "2001:db8:f::10", "2001:db8:f::11"
N = 1000
# a UDP port no dissector claims, so tshark judges only our headers
UDP_PORT = 30053


def services():
    b4 = BE4[:2]
    b6 = BE6[:2]
    return ",\n".join([
        svc("web4", VIP4, 80, [(a, 80) for a in b4]),
        svc("gnv4", VIP4G, 80, [(a, 8080) for a in b4], fwd="geneve"),
        svc("web6", VIP6, 80, [(a, 80) for a in b6]),
        svc("gnv6", VIP6G, 80, [(a, 8080) for a in b6], fwd="geneve"),
        svc("echo4", VIP4, UDP_PORT, [(a, UDP_PORT) for a in b4],
            proto="udp"),
        svc("echo4g", VIP4G, UDP_PORT, [(a, UDP_PORT + 1) for a in b4],
            proto="udp", fwd="geneve"),
        svc("echo6", VIP6, UDP_PORT, [(a, UDP_PORT) for a in b6],
            proto="udp"),
        svc("echo6g", VIP6G, UDP_PORT, [(a, UDP_PORT + 1) for a in b6],
            proto="udp", fwd="geneve"),
    ])


class Capture:
    """tcpdump in a lab host, to a file, until stopped."""

    def __init__(self, lab, host, iface, bpf_filter, name):
        self.file = os.path.join(lab.path, name + ".pcap")
        self.err = os.path.join(lab.path, name + ".tcpdump")
        self.p = lab.spawn(host, ["tcpdump", "-i", iface, "-U", "-n",
                                  "-w", self.file, bpf_filter],
                           log=self.err)
        wait_until(lambda: "listening on" in open(self.err).read(), 10,
                   f"tcpdump on {host} {iface}")

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        self.p.wait(timeout=10)

    def count(self):
        r = subprocess.run(["tcpdump", "-n", "-r", self.file],
                           capture_output=True, text=True)
        return len(r.stdout.splitlines())


def check_spread(name, r, n):
    check(r["ok"] == n and r["fail"] == 0,
          f"{name}: {r['ok']} of {n} answered, errors {r.get('errors')}")
    counts = list(r["by_backend"].values())
    check(len(counts) == 2, f"{name}: backends used {r['by_backend']}")
    for c in counts:
        check(abs(c - n / 2) <= 0.2 * n / 2,
              f"{name}: spread {r['by_backend']} not within 20% of even")


def tcp_cases(lab):
    for name, vip, local_is_vip in [("web4", VIP4, True),
                                    ("gnv4", VIP4G, False),
                                    ("web6", VIP6, True),
                                    ("gnv6", VIP6G, False)]:
        host = f"[{vip}]" if ":" in vip else vip
        r = lab.client("http", f"http://{host}/", "-n", str(N), "-c", "16")
        check_spread(name, r, N)
        # the client always talks to the VIP: Geneve replies get their
        # source restored on the backend
        check(list(r["peers"]) == [vip], f"{name}: peers {r['peers']}")
        locals_ = set(r["locals"])
        if local_is_vip:
            check(locals_ == {vip}, f"{name}: IPIP inner packet is "
                                    f"addressed to the VIP: {locals_}")
        else:
            check(vip not in locals_ and len(locals_) == 2,
                  f"{name}: Geneve translated to backends: {locals_}")
        print(f"{name}: {r['ok']} answered in {r['seconds']} s, "
              f"spread {dict(r['by_backend'])}")


def udp_cases(lab):
    for name, vip in [("echo4", VIP4), ("echo4g", VIP4G), ("echo6", VIP6),
                      ("echo6g", VIP6G)]:
        r = lab.client("udp", vip, str(UDP_PORT), "-n", str(N))
        check_spread(name, r, N)
        check(list(r["peers"]) == [vip], f"{name}: replies from "
                                         f"{r['peers']}")
        print(f"{name}: {r['ok']} answered, spread {dict(r['by_backend'])}")


def tshark_fields(pcap, fields, display_filter=None):
    cmd = ["tshark", "-r", pcap, "-n",
           "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
           "-o", "ip.check_checksum:TRUE", "-T", "fields",
           "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    if display_filter:
        cmd += ["-Y", display_filter]
    r = subprocess.run(cmd, capture_output=True, text=True)
    check(r.returncode == 0, f"tshark: {r.stderr}")
    return [line.split("|") for line in r.stdout.splitlines()]


# RFC 8926 section 3.3 with RFC 6935/6936: Geneve over IPv6 may send a
# zero UDP checksum, as Cilium's format asks; tshark reports every zero
# IPv6 UDP checksum as an error, so that one message is not held against
# the outer header.
ZERO_CSUM = "Illegal checksum value (0)"
# Wireshark's checksum status: 0 bad, 1 good, 2 unverified
GOOD = "1"


def tcp_sum_ok(status, value, calculated):
    """Good, or 0xffff where 0x0000 is computed: the same sum in one's
    complement (RFC 1624), which senders' stacks write about once in 65536
    packets and Wireshark calls bad."""
    return status == GOOD or (value == "0xffff" and calculated == "0x0000")

# the layers lbd writes or translates; a dissector above them judging the
# test's payload (a random client port may look like some protocol's) is
# not judging lbd
OUR_LAYERS = {"eth", "ethertype", "ip", "ipv6", "udp", "tcp", "geneve",
              "data", "http", "icmp", "icmpv6"}


def tshark_errors(file):
    """The frames of a capture in which tshark finds malformed or
    erroneous layers of lbd's (OUR_LAYERS), as (number, protocols,
    messages); a zero outer UDP checksum is not held against them."""
    bad = []
    for num, msgs, sevs, outer_udp_csum, protos in tshark_fields(
            file, ["frame.number", "_ws.expert.message",
                   "_ws.expert.severity", "udp.checksum",
                   "frame.protocols"],
            "_ws.malformed || _ws.expert.severity >= \"error\""):
        errors = [m for m, s in zip(msgs.split(","), sevs.split(","))
                  if int(s, 0) >= 0x00800000]
        zero_outer = outer_udp_csum.split(",")[0] == "0x0000"
        errors = [m for m in errors if not (m == ZERO_CSUM and zero_outer)]
        if errors and protos.split(":")[-1] in OUR_LAYERS:
            bad.append((num, protos, errors))
    return bad


def check_encap_capture(cap):
    """The LB to backend link, as tshark (an independent decoder) sees it."""
    bad = tshark_errors(cap.file)
    check(not bad, f"tshark finds malformed or erroneous frames: {bad[:5]}")
    sums = ["tcp.checksum.status", "tcp.checksum", "tcp.checksum_calculated"]
    gnv = tshark_fields(cap.file, ["frame.number", "geneve.vni",
                                   "geneve.option.class",
                                   "geneve.option.type"] + sums,
                        "geneve && tcp")
    check(len(gnv) > 100, f"Geneve TCP frames captured: {len(gnv)}")
    for num, vni, cls, typ, *csum in gnv:
        check(int(vni, 0) == 2, f"VNI {vni}")
        check(int(cls, 0) == 0x014B and int(typ, 0) == 0x81,
              f"Geneve option class {cls} type {typ}")
        check(tcp_sum_ok(*(c.split(",")[-1] for c in csum)),
              f"frame {num}: inner TCP checksum {csum}")
    ipip = tshark_fields(cap.file, ["frame.number", "frame.protocols",
                                    "frame.len", "tcp.flags.str"] + sums,
                         "(ip.proto == 4 || ipv6.nxt == 41) && tcp")
    check(len(ipip) > 100, f"IPIP/IP6IP6 TCP frames captured: {len(ipip)}")
    for num, protos, length, flags, *csum in ipip:
        check(tcp_sum_ok(*csum), f"frame {num} ({protos}, {length} bytes, "
                                 f"{flags}): inner TCP checksum {csum}")
    udp = tshark_fields(cap.file, ["udp.checksum.status"],
                        f"geneve && udp.port == {UDP_PORT + 1}")
    check(udp and all(c[0].split(",")[-1] == GOOD for c in udp),
          f"inner UDP checksums good: {udp[:3]}")
    print(f"tshark: {len(gnv)} Geneve and {len(ipip)} IPIP TCP frames, "
          "none malformed")


def ipv4_header(src, dst, proto, payload_len):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0x4000,
                      64, proto, 0, socket.inet_aton(src),
                      socket.inet_aton(dst))
    s = sum(struct.unpack("!10H", hdr))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return hdr[:10] + struct.pack("!H", ~s & 0xffff) + hdr[12:]


def spoof_from_client(lab):
    """IPIP and Geneve to backend1 from the client, which no LB trusts."""
    syn = (ipv4_header("192.0.2.2", VIP4, 6, 20) +
           struct.pack("!HHIIBBHHH", 41000, 80, 1, 0, 5 << 4, 2, 64240, 0, 0))
    script = f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IPIP)
for _ in range(20):
    s.sendto(bytes.fromhex("{syn.hex()}"), ("{BE4[0]}", 0))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
opt = bytes.fromhex("014b8102") + socket.inet_aton("{VIP4G}") + bytes([0, 80, 0, 0])
gnv = bytes([3, 0x40, 0x65, 0x58, 0, 0, 2, 0]) + opt + bytes(14)
for _ in range(20):
    u.sendto(gnv + bytes.fromhex("{syn.hex()}"), ("{BE4[0]}", 6081))
"""
    lab.exec("client", ["python3", "-c", script])


def test():
    with Lab("dsr") as lab:
        lab.start_backends()
        Lbd(lab, "lb1", lab.lb_conf(services())).start()

        to_client = "dst host 192.0.2.2 or dst host 2001:db8:c::2"
        at_lb = Capture(lab, "lb1", "eth0", to_client, "lb-to-client")
        at_router = Capture(lab, "router", "client", to_client,
                            "router-to-client")
        encap = Capture(lab, "router", "lb1",
                        "ip proto 4 or ip6 proto 41 or ip6 proto 4 or "
                        "udp port 6081", "lb-to-backends")
        tcp_cases(lab)
        udp_cases(lab)
        for c in (at_lb, at_router, encap):
            c.stop()
        check(at_router.count() > 4 * N,
              f"replies reached the client: {at_router.count()}")
        check(at_lb.count() == 0,
              f"{at_lb.count()} packets to the client crossed the LB")
        print(f"{at_router.count()} packets to the client, none through the LB")
        check_encap_capture(encap)

        # spoofed encapsulation: dropped by the companion, never seen by
        # the backend's stack (let alone its servers)
        stats = lab.pin_path("backend1") + "/lbd_be_stats"
        drops = bpf_counter(lab, "backend1", stats, "untrusted_encap")
        before = snmp(lab, "backend1")
        spoof_from_client(lab)
        after = snmp(lab, "backend1")
        check(bpf_counter(lab, "backend1", stats, "untrusted_encap") ==
              drops + 40, "40 spoofed packets dropped as untrusted_encap")
        for k in ("TcpInSegs", "UdpInDatagrams", "UdpNoPorts"):
            check(after[k] == before[k],
                  f"spoofed packets reached the stack: {k} "
                  f"{before[k]} -> {after[k]}")
        r = lab.client("http", f"http://{VIP4}/", "-n", "10")
        check(r["ok"] == 10, "traffic from the LB still flows")
        print("40 spoofed encapsulated packets dropped on backend1")

if __name__ == "__main__":
    run(test)
